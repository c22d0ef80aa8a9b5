//! Exact inference: elimination orders, junction trees, log Z and all marginals.

mod jtree;
mod kernel;
/// The elimination orders of exact inference (the one implementation is
/// [`crate::factor::elim`]; this path is kept for existing code).
pub use crate::factor::elim as order;
pub use crate::factor::elim::OrderHeuristic;

use crate::error::{Error, Result};
use crate::factor::TableFactor;
use crate::infer::{LogZEstimate, Posterior};
use crate::model::{BayesNet, FactorGraph};
use crate::num;
use crate::var::{Evidence, VarId};
use jtree::{max_product, propagate, Calibration, Pass, Problem, Tree};

/// Options of exact inference.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactOptions {
    /// Largest memory (bytes) exact inference may allocate for its tables. Default 12 GiB, or
    /// less on a machine or under a `ulimit -v` that allows less
    /// ([`crate::limits::default_memory_limit`]).
    pub memory_limit: f64,
    /// Elimination-order heuristic.
    pub heuristic: OrderHeuristic,
    /// Randomised tie-breaking restarts of min-fill tried by [`OrderHeuristic::Best`] (only when the
    /// best deterministic order needs more than [`order::RESTART_MIN_ENTRIES`] table entries).
    pub restarts: usize,
    /// Seed of the tie-breaking restarts.
    pub seed: u64,
}

impl Default for ExactOptions {
    fn default() -> Self {
        ExactOptions {
            memory_limit: crate::limits::default_memory_limit(),
            heuristic: OrderHeuristic::Best,
            restarts: 4,
            seed: 0,
        }
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

fn check_evidence(nvars: usize, ev: &Evidence) -> Result<()> {
    if ev.as_slice().len() > nvars {
        if let Some((v, _)) = ev.iter().find(|(v, _)| v.index() >= nvars) {
            return Err(Error::UnknownVariable(format!("#{}", v.0)));
        }
    }
    Ok(())
}

/// Plan exact inference (choose an order, measure it) without allocating any table.
///
/// Cost: one greedy elimination per heuristic tried, about `O(sum_v d_v^2 log d)` each.
pub fn plan(fg: &FactorGraph, ev: &Evidence, opts: &ExactOptions) -> Result<PlanStats> {
    check_evidence(fg.num_vars(), ev)?;
    let p = Problem::new(&fg.cards(), fg.factors(), ev)?;
    let t = Tree::build(&p, opts)?;
    Ok(stats(&t))
}

fn stats(t: &Tree) -> PlanStats {
    PlanStats {
        width: t.elim.width,
        max_clique_entries: t.elim.max_entries,
        total_entries: t.elim.total_entries,
        num_cliques: t.nodes.len(),
        heuristic: t.elim.heuristic.to_string(),
    }
}

/// Log contribution of variables that appear in no factor: `ln card` each when unobserved.
fn free_log_z(fg: &FactorGraph, p: &Problem, ev: &Evidence) -> f64 {
    let mut in_scope = vec![false; fg.num_vars()];
    for f in fg.factors() {
        for v in f.scope() {
            in_scope[v.index()] = true;
        }
    }
    let _ = p;
    (0..fg.num_vars())
        .filter(|&i| !in_scope[i] && ev.get(VarId(i as u32)).is_none())
        .map(|i| num::ln(fg.vars()[i].card() as f64))
        .sum()
}

/// Exact log Z of a factor graph under evidence (log P(e) for a lowered Bayesian network).
///
/// Runs the collect pass of a junction tree only, freeing each clique table once its message is
/// sent. Returns [`Error::TooLarge`] before allocating anything if the peak memory of the chosen
/// order exceeds `opts.memory_limit`, and [`Error::ZeroProbabilityEvidence`] if Z = 0.
///
/// ```
/// use pgmkit::model::{ising_grid, Boundary};
/// use pgmkit::infer::exact::{log_z, ExactOptions};
/// use pgmkit::Evidence;
/// let g = ising_grid(4, 4, Boundary::Free, |_, _| 0.3, |_| 0.0).unwrap();
/// let z = log_z(&g, &Evidence::new(16), &ExactOptions::default()).unwrap();
/// assert!(z.log_z > 16.0 * 2f64.ln());
/// ```
pub fn log_z(fg: &FactorGraph, ev: &Evidence, opts: &ExactOptions) -> Result<LogZEstimate> {
    check_evidence(fg.num_vars(), ev)?;
    let p = Problem::new(&fg.cards(), fg.factors(), ev)?;
    let t = Tree::build(&p, opts)?;
    t.check_memory(false, opts)?;
    let cal = propagate(&p, &t, Pass::Collect)?;
    Ok(LogZEstimate::exact(cal.log_z + free_log_z(fg, &p, ev)))
}

/// Exact posterior marginals of every variable (one calibration of a junction tree: a collect and
/// a distribute pass, then each variable read off its smallest clique).
///
/// Observed variables get a point mass on their observed state; variables in no factor are uniform.
pub fn marginals(fg: &FactorGraph, ev: &Evidence, opts: &ExactOptions) -> Result<Posterior> {
    check_evidence(fg.num_vars(), ev)?;
    let p = Problem::new(&fg.cards(), fg.factors(), ev)?;
    let t = Tree::build(&p, opts)?;
    t.check_memory(true, opts)?;
    let cal = propagate(&p, &t, Pass::Calibrate)?;
    let lz = cal.log_z + free_log_z(fg, &p, ev);
    Ok(read_marginals(&fg.cards(), &p, &cal, ev, lz))
}

/// Exact marginals of every factor's scope, with `ln Z` ([`factor_marginals`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FactorMarginals {
    /// `ln Z` of the model.
    pub log_z: f64,
    /// Per factor (in the model's order): the normalised log marginal of its scope, in the
    /// factor's table order.
    pub log_marginals: Vec<Vec<f64>>,
}

/// The exact marginal of every factor's scope and `ln Z`, from one calibration of a junction
/// tree (each factor read off the clique it is assigned to): what the gradient of a log-linear
/// model's likelihood needs ([`crate::learn::markov`]). No evidence: condition a model by
/// reducing its factors first. Errors as [`marginals`].
pub fn factor_marginals(fg: &FactorGraph, opts: &ExactOptions) -> Result<FactorMarginals> {
    let ev = Evidence::new(fg.num_vars());
    let p = Problem::new(&fg.cards(), fg.factors(), &ev)?;
    let t = Tree::build(&p, opts)?;
    t.check_memory(true, opts)?;
    let cal = propagate(&p, &t, Pass::CalibrateFactors)?;
    let log_z = cal.log_z + free_log_z(fg, &p, &ev);
    // factors folded into the constant (every variable of a single state) have one entry
    let mut log_marginals: Vec<Vec<f64>> = fg
        .factors()
        .iter()
        .map(|f| vec![0.0; f.log_values().len()])
        .collect();
    for (j, m) in cal.factor_marginals.into_iter().enumerate() {
        // dropping single-state variables keeps the table order
        log_marginals[p.orig[j]] = m;
    }
    Ok(FactorMarginals {
        log_z,
        log_marginals,
    })
}

fn read_marginals(
    cards: &[usize],
    p: &Problem,
    cal: &Calibration,
    ev: &Evidence,
    log_z: f64,
) -> Posterior {
    let log_marginals = (0..cards.len())
        .map(|i| {
            let c = cards[i];
            if let Some(s) = ev.get(VarId(i as u32)) {
                let mut m = vec![f64::NEG_INFINITY; c];
                m[s] = 0.0;
                return m;
            }
            let l = p.local[i];
            if l == u32::MAX {
                if c == 1 {
                    return vec![0.0];
                }
                return vec![-num::ln(c as f64); c];
            }
            cal.marginals[l as usize].clone()
        })
        .collect();
    Posterior {
        log_marginals,
        log_z,
    }
}

/// Exact ln P(evidence) of a Bayesian network. Variables that are not ancestors of an observed
/// variable are barren (they sum out to 1) and are pruned before the junction tree is built.
pub fn bn_log_evidence(bn: &BayesNet, ev: &Evidence, opts: &ExactOptions) -> Result<LogZEstimate> {
    check_evidence(bn.num_vars(), ev)?;
    let keep = bn.evidence_ancestors(ev);
    let factors = bn.factors_of(&keep);
    let cards: Vec<usize> = bn.vars().iter().map(|v| v.card()).collect();
    let p = Problem::new(&cards, &factors, ev)?;
    let t = Tree::build(&p, opts)?;
    t.check_memory(false, opts)?;
    let cal = propagate(&p, &t, Pass::Collect)?;
    Ok(LogZEstimate::exact(cal.log_z))
}

/// Exact posterior marginals of every variable of a Bayesian network under evidence.
///
/// ```
/// use pgmkit::BayesNetBuilder;
/// use pgmkit::infer::exact::{bn_marginals, ExactOptions};
/// let mut b = BayesNetBuilder::new();
/// let rain = b.add_variable("rain", ["no", "yes"]).unwrap();
/// let wet = b.add_variable("wet", ["no", "yes"]).unwrap();
/// b.set_cpd(rain, &[], vec![0.8, 0.2]).unwrap();
/// b.set_cpd(wet, &[rain], vec![0.9, 0.1, 0.2, 0.8]).unwrap();
/// let bn = b.build().unwrap();
/// let ev = bn.evidence("wet=yes").unwrap();
/// let post = bn_marginals(&bn, &ev, &ExactOptions::default()).unwrap();
/// let p_rain = post.marginal(rain)[1];
/// assert!((p_rain - 0.16 / (0.16 + 0.08)).abs() < 1e-12);
/// assert!((post.log_z - (0.24f64).ln()).abs() < 1e-12);
/// ```
pub fn bn_marginals(bn: &BayesNet, ev: &Evidence, opts: &ExactOptions) -> Result<Posterior> {
    check_evidence(bn.num_vars(), ev)?;
    let cards: Vec<usize> = bn.vars().iter().map(|v| v.card()).collect();
    let factors: Vec<TableFactor> = bn.cpds().iter().map(|c| c.to_factor(bn.vars())).collect();
    let p = Problem::new(&cards, &factors, ev)?;
    let t = Tree::build(&p, opts)?;
    t.check_memory(true, opts)?;
    let cal = propagate(&p, &t, Pass::Calibrate)?;
    Ok(read_marginals(&cards, &p, &cal, ev, cal.log_z))
}

/// The most probable explanation: a joint state of every variable that maximises the
/// (unnormalised) product of the factors given the evidence ([`mpe`], [`bn_mpe`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Mpe {
    /// State of every variable (observed ones at their evidence; a variable in no factor at
    /// state 0).
    pub assignment: Vec<usize>,
    /// ln of the product of the factors at `assignment`, recomputed from the tables (for a
    /// Bayesian network: ln P(x, e)).
    pub log_value: f64,
    /// ln of the same maximum as the max-product pass computed it (equal to `log_value` up to
    /// rounding); with [`MpeProof::Dual`], the dual's upper bound.
    pub log_max: f64,
    /// What proves the assignment optimal.
    pub proof: MpeProof,
}

/// How an [`Mpe`] was proven optimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MpeProof {
    /// Max-product on the junction tree.
    MaxProduct,
    /// The LP dual ([`crate::infer::map::map_dual`]) met the value of an assignment (decoded
    /// from it, or found by [`crate::infer::map::map_anneal`] from there) to
    /// [`crate::infer::map::GAP_TOL`] (relative), within a budget of 15% of the junction
    /// tree's work: the assignment is optimal to that tolerance, without the tree.
    Dual,
}

/// Junction trees of fewer clique entries than this go straight to max-product; above it a
/// bounded run of the LP dual is tried first ([`MpeProof::Dual`]).
pub const MPE_DUAL_FIRST_ENTRIES: f64 = 1e6;

/// Exact MPE of a factor graph under evidence, by max-product on the junction tree of the
/// engine's elimination order (the same plan and memory guard as [`log_z`], whose bound
/// already counts every upward message, kept here for the decode). Ties go to the first state in table
/// order, so the answer is deterministic. On a tree of more than [`MPE_DUAL_FIRST_ENTRIES`]
/// clique entries (or one beyond the memory limit) a bounded run of the LP dual comes first,
/// and when it closes the gap its assignment is returned ([`MpeProof::Dual`]), deterministic as
/// well. Errors: [`Error::TooLarge`] before allocating,
/// [`Error::ZeroProbabilityEvidence`] when every assignment has value 0.
///
/// ```
/// use pgmkit::BayesNetBuilder;
/// use pgmkit::infer::exact::{bn_mpe, ExactOptions};
/// let mut b = BayesNetBuilder::new();
/// let rain = b.add_variable("rain", ["no", "yes"]).unwrap();
/// let wet = b.add_variable("wet", ["no", "yes"]).unwrap();
/// b.set_cpd(rain, &[], vec![0.8, 0.2]).unwrap();
/// b.set_cpd(wet, &[rain], vec![0.9, 0.1, 0.2, 0.8]).unwrap();
/// let bn = b.build().unwrap();
/// // wet = yes: rain (0.2 * 0.8 = 0.16) beats no rain (0.8 * 0.1 = 0.08)
/// let m = bn_mpe(&bn, &bn.evidence("wet=yes").unwrap(), &ExactOptions::default()).unwrap();
/// assert_eq!(m.assignment, vec![1, 1]);
/// assert!((m.log_value - 0.16f64.ln()).abs() < 1e-12);
/// ```
pub fn mpe(fg: &FactorGraph, ev: &Evidence, opts: &ExactOptions) -> Result<Mpe> {
    check_evidence(fg.num_vars(), ev)?;
    mpe_of(&fg.cards(), fg.factors(), ev, opts)
}

/// Exact MPE of a Bayesian network under evidence ([`mpe`] on its CPDs): the most probable
/// joint state of every unobserved variable, with `log_value = ln P(x, e)`.
pub fn bn_mpe(bn: &BayesNet, ev: &Evidence, opts: &ExactOptions) -> Result<Mpe> {
    check_evidence(bn.num_vars(), ev)?;
    let cards: Vec<usize> = bn.vars().iter().map(|v| v.card()).collect();
    let factors: Vec<TableFactor> = bn.cpds().iter().map(|c| c.to_factor(bn.vars())).collect();
    mpe_of(&cards, &factors, ev, opts)
}

/// A MAP certified by the LP dual without the junction tree, within 15% of the tree's work
/// (`tree_entries`), counted in sweeps rather than seconds so that the outcome is
/// deterministic: the dual with its decoding first, then, if a gap remains and the budget allows,
/// simulated annealing from the dual's assignment (it finds feasible assignments of models with
/// many zeros that decoding misses). `None` when the gap stays open.
fn certified_without_tree(
    cards: &[usize],
    factors: &[TableFactor],
    ev: &Evidence,
    tree_entries: f64,
) -> Result<Option<Mpe>> {
    use crate::infer::map::{self, AnnealOptions, DualOptions};
    let budget = 0.15 * tree_entries;
    let pass = map::sweep_work(factors);
    if 5.0 * pass > budget {
        return Ok(None);
    }
    let d = map::dual_of(
        cards.to_vec(),
        factors,
        ev,
        &DualOptions {
            max_sweeps: usize::MAX,
            ..Default::default()
        },
        0.7 * budget,
    )?;
    let found = |r: map::MapResult| Mpe {
        assignment: r.assignment,
        log_value: r.log_value,
        log_max: r.upper_bound,
        proof: MpeProof::Dual,
    };
    if d.optimal {
        return Ok(Some(found(d)));
    }
    // the rest of the budget for annealing, at about half a pass over the factors per sweep
    let anneal = AnnealOptions {
        chains: 2,
        ..Default::default()
    };
    let anneal_work = (anneal.chains * anneal.sweeps) as f64 * 0.5 * pass;
    if !d.upper_bound.is_finite() || anneal_work > 0.3 * budget {
        return Ok(None);
    }
    let vars: Vec<crate::var::Variable> = cards
        .iter()
        .enumerate()
        .map(|(i, &c)| crate::var::Variable::with_cardinality(format!("v{i}"), c))
        .collect();
    let fg = FactorGraph::new(vars, factors.to_vec())?;
    // any failure of the search (e.g. no start state found) leaves the answer to the tree
    Ok(map::map_anneal(
        &fg,
        ev,
        (d.log_value.is_finite()).then_some(d.assignment.as_slice()),
        Some(d.upper_bound),
        &anneal,
    )
    .ok()
    .filter(|a| a.optimal)
    .map(found))
}

fn mpe_of(
    cards: &[usize],
    factors: &[TableFactor],
    ev: &Evidence,
    opts: &ExactOptions,
) -> Result<Mpe> {
    let p = Problem::new(cards, factors, ev)?;
    let t = match Tree::build(&p, opts) {
        Ok(t) => t,
        Err(e @ Error::TooLarge { largest_table, .. }) => {
            // no order fits: the certificate may still answer, within a budget from the
            // smallest clique known to be too large
            return match certified_without_tree(cards, factors, ev, largest_table)? {
                Some(m) => Ok(m),
                None => Err(e),
            };
        }
        Err(e) => return Err(e),
    };
    let fits = t.check_memory(false, opts);
    if t.elim.total_entries > MPE_DUAL_FIRST_ENTRIES || fits.is_err() {
        if let Some(m) = certified_without_tree(cards, factors, ev, t.elim.total_entries)? {
            return Ok(m);
        }
    }
    // one clique at a time plus every upward message (kept for the decode)
    fits?;
    let (local_state, log_max) = max_product(&p, &t)?;
    let assignment: Vec<usize> = (0..cards.len())
        .map(|g| {
            if let Some(s) = ev.get(VarId(g as u32)) {
                return s;
            }
            match p.local[g] {
                u32::MAX => 0,
                l => local_state[l as usize],
            }
        })
        .collect();
    let log_value = factors.iter().map(|f| f.log_value(&assignment)).sum();
    Ok(Mpe {
        assignment,
        log_value,
        log_max,
        proof: MpeProof::MaxProduct,
    })
}

/// Most query configurations [`marginal_map`] enumerates.
pub const MAX_MARGINAL_MAP_CONFIGS: usize = 1 << 16;

/// Exact marginal MAP: the joint state of the `query` variables that maximises
/// `sum over the others of the product of the factors` given the evidence (for a Bayesian
/// network `P(q, e)`; `model` is its factor graph or a Markov network). Each configuration of
/// the query is scored by one exact sum-product pass with it added to the evidence, in
/// parallel, ties to the first in the query's table order: `O(prod |q_i|)` exact inferences, so
/// at most [`MAX_MARGINAL_MAP_CONFIGS`] configurations. Returns an [`Mpe`] whose assignment
/// holds the evidence and the query's states (every other variable at 0) and whose
/// `log_value` is `ln sum_rest`. Errors: an empty or observed query variable, too many
/// configurations, those of [`log_z`].
///
/// ```
/// use pgmkit::BayesNetBuilder;
/// use pgmkit::infer::exact::{marginal_map, ExactOptions};
/// let mut b = BayesNetBuilder::new();
/// let a = b.add_variable("a", ["0", "1"]).unwrap();
/// let c = b.add_variable("c", ["0", "1"]).unwrap();
/// b.set_cpd(a, &[], vec![0.4, 0.6]).unwrap();
/// b.set_cpd(c, &[a], vec![0.9, 0.1, 0.5, 0.5]).unwrap();
/// let bn = b.build().unwrap();
/// // the joint MPE is (a=0, c=0) (0.36 vs 0.30), but the marginal MAP of a alone is a=1 (0.6)
/// let fg = bn.to_factor_graph();
/// let m = marginal_map(&fg, &pgmkit::Evidence::new(2), &[a], &ExactOptions::default()).unwrap();
/// assert_eq!(m.assignment[0], 1);
/// assert!((m.log_value - 0.6f64.ln()).abs() < 1e-12);
/// ```
pub fn marginal_map(
    model: &FactorGraph,
    ev: &Evidence,
    query: &[VarId],
    opts: &ExactOptions,
) -> Result<Mpe> {
    use rayon::prelude::*;
    check_evidence(model.num_vars(), ev)?;
    if query.is_empty() {
        return Err(Error::InvalidArgument(
            "marginal MAP needs at least one query variable".into(),
        ));
    }
    let cards = model.cards();
    let mut seen = std::collections::HashSet::new();
    for &q in query {
        if q.index() >= cards.len() {
            return Err(Error::UnknownVariable(format!("#{}", q.0)));
        }
        if ev.get(q).is_some() {
            return Err(Error::InvalidArgument(format!(
                "query variable '{}' is observed",
                model.vars()[q.index()].name
            )));
        }
        if !seen.insert(q) {
            return Err(Error::InvalidArgument(format!(
                "query variable '{}' is named twice",
                model.vars()[q.index()].name
            )));
        }
    }
    let qc: Vec<usize> = query.iter().map(|q| cards[q.index()]).collect();
    let configs = qc
        .iter()
        .try_fold(1usize, |a, &c| a.checked_mul(c))
        .filter(|&n| n <= MAX_MARGINAL_MAP_CONFIGS)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "marginal MAP over {} query variables has more than {MAX_MARGINAL_MAP_CONFIGS} \
                 configurations to score",
                query.len()
            ))
        })?;
    // plan once (the memory guard) before the parallel sweep
    plan(model, ev, opts).and_then(|s| {
        let need = 8.0 * s.max_clique_entries;
        if need > opts.memory_limit {
            Err(Error::TooLarge {
                width: s.width,
                largest_table: s.max_clique_entries,
                needed: need,
                limit: opts.memory_limit,
            })
        } else {
            Ok(())
        }
    })?;
    let scores: Vec<Result<f64>> = (0..configs)
        .into_par_iter()
        .map(|k| {
            let mut e = ev.clone();
            let mut r = k;
            for (i, &q) in query.iter().enumerate().rev() {
                e.set(model.vars(), q, r % qc[i])?;
                r /= qc[i];
            }
            match log_z(model, &e, opts) {
                Ok(z) => Ok(z.log_z),
                Err(Error::ZeroProbabilityEvidence) => Ok(f64::NEG_INFINITY),
                Err(x) => Err(x),
            }
        })
        .collect();
    let mut best = (f64::NEG_INFINITY, usize::MAX);
    for (k, s) in scores.into_iter().enumerate() {
        let s = s?;
        if s > best.0 {
            best = (s, k);
        }
    }
    if best.1 == usize::MAX {
        return Err(Error::ZeroProbabilityEvidence);
    }
    let mut assignment: Vec<usize> = (0..cards.len())
        .map(|g| ev.get(VarId(g as u32)).unwrap_or(0))
        .collect();
    let mut r = best.1;
    for (i, &q) in query.iter().enumerate().rev() {
        assignment[q.index()] = r % qc[i];
        r /= qc[i];
    }
    Ok(Mpe {
        assignment,
        log_value: best.0,
        log_max: best.0,
        proof: MpeProof::MaxProduct,
    })
}
