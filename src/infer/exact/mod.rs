//! Exact inference: elimination orders, junction trees, log Z and all marginals. STUB: being written.

use crate::error::Result;
use crate::infer::{LogZEstimate, Posterior};
use crate::model::{BayesNet, FactorGraph};
use crate::var::Evidence;

/// Elimination-order heuristic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderHeuristic {
    /// Try min-fill, weighted min-fill and min-degree (plus randomised restarts) and keep the
    /// order with the smallest total table size.
    #[default]
    Best,
    /// Min-fill.
    MinFill,
    /// Weighted min-fill (fill edges weighted by the product of the cardinalities).
    WeightedMinFill,
    /// Min-degree.
    MinDegree,
}

/// Options of exact inference.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactOptions {
    /// Largest memory (bytes) exact inference may allocate for its tables. Default 12 GiB.
    pub memory_limit: f64,
    /// Elimination-order heuristic.
    pub heuristic: OrderHeuristic,
    /// Randomised tie-breaking restarts of min-fill tried by [`OrderHeuristic::Best`].
    pub restarts: usize,
    /// Seed of the tie-breaking restarts.
    pub seed: u64,
}

impl Default for ExactOptions {
    fn default() -> Self {
        ExactOptions { memory_limit: 12.0 * (1u64 << 30) as f64, heuristic: OrderHeuristic::Best, restarts: 4, seed: 0 }
    }
}

/// Statistics of an elimination plan (what `pgmkit info` prints).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlanStats {
    /// Induced width: largest clique size minus one.
    pub width: usize,
    /// Entries of the largest clique table.
    pub max_clique_entries: f64,
    /// Entries of all clique tables together.
    pub total_entries: f64,
    /// Number of cliques.
    pub num_cliques: usize,
    /// Heuristic that produced the order.
    pub heuristic: String,
}

/// Plan exact inference (choose an order, measure it) without allocating any table.
pub fn plan(_fg: &FactorGraph, _ev: &Evidence, _opts: &ExactOptions) -> Result<PlanStats> {
    todo!()
}

/// Exact log Z of a factor graph under evidence (log P(e) for a lowered Bayesian network).
pub fn log_z(_fg: &FactorGraph, _ev: &Evidence, _opts: &ExactOptions) -> Result<LogZEstimate> {
    todo!()
}

/// Exact posterior marginals of every variable (one calibration of a junction tree).
pub fn marginals(_fg: &FactorGraph, _ev: &Evidence, _opts: &ExactOptions) -> Result<Posterior> {
    todo!()
}

/// Exact ln P(evidence) of a Bayesian network, pruning barren variables first.
pub fn bn_log_evidence(_bn: &BayesNet, _ev: &Evidence, _opts: &ExactOptions) -> Result<LogZEstimate> {
    todo!()
}

/// Exact posterior marginals of every variable of a Bayesian network under evidence.
pub fn bn_marginals(_bn: &BayesNet, _ev: &Evidence, _opts: &ExactOptions) -> Result<Posterior> {
    todo!()
}
