//! Structural EM (Friedman 1998): a Bayesian network's structure and parameters from a table
//! with holes, alternating parameter EM on the current structure with a structure search on
//! the expected data.
//!
//! 1. Start: hill climbing on the observed cells alone (each family scored on the rows where
//!    it is observed), then EM for its parameters.
//! 2. Each iteration completes every row `draws` times by exact joint draws from
//!    `p(missing | observed)` under the current network, scores families on the stacked
//!    completions with weight `1 / draws` per row (a Monte Carlo estimate of the expected
//!    counts: the expected score of Friedman's SEM), climbs from the current structure, and
//!    refits the parameters by EM on the holey data.
//! 3. It stops when a search leaves the structure unchanged, after `iterations`, or at the
//!    deadline; the last structure gets a full EM run.
//!
//! Every draw comes from a stream keyed by (seed, iteration, row block), and every search and
//! EM is thread-invariant: the result depends on the seed only.

use std::time::Instant;

use super::{hill_climb_weighted, shd, skeleton, StructureOptions};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::impute::{impute, ImputeMethod, ImputeOptions};
use crate::learn::em::{em, EmOptions};
use crate::model::BayesNet;
use crate::stop::StopRule;
use crate::Variable;

/// Options of [`structural_em`].
#[derive(Debug, Clone, PartialEq)]
pub struct SemOptions {
    /// The structure search of every iteration (score, constraints, tabu, restarts, seed,
    /// deadline). `start`, if given, replaces the first search.
    pub search: StructureOptions,
    /// Most structure iterations after the first search (default 5).
    pub iterations: usize,
    /// Completions of every row per iteration (default 2): more is a better estimate of the
    /// expected counts, at the cost of a larger table to search on.
    pub draws: usize,
    /// EM of the final structure (its prior is also the iterations'); the EM runs inside the
    /// iterations stop after at most 30 iterations or a relative change of 1e-4.
    pub em: EmOptions,
}

impl Default for SemOptions {
    fn default() -> Self {
        SemOptions {
            search: StructureOptions::default(),
            iterations: 5,
            draws: 2,
            em: EmOptions::default(),
        }
    }
}

/// What [`structural_em`] returns.
#[derive(Debug, Clone)]
pub struct SemFit {
    /// The learned network (structure and EM parameters).
    pub model: BayesNet,
    /// Sorted parents of every variable.
    pub parents: Vec<Vec<usize>>,
    /// Observed-data log-likelihood of `model` (natural log).
    pub log_lik: f64,
    /// The expected score of the last search (on the completed tables).
    pub expected_score: f64,
    /// Structure iterations run after the first search.
    pub iterations: usize,
    /// Arcs changed by every iteration's search (SHD to the previous structure).
    pub changes: Vec<usize>,
    /// Whether the deadline cut the search short.
    pub time_limited: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Learn a network from `data` (over `vars`, with or without holes) by structural EM (see the
/// module docs). Complete data needs no EM: the result is then one search and the maximum
/// likelihood (or prior) parameters. Errors: those of [`super::hill_climb`] and
/// [`em`], `draws` of zero.
///
/// ```
/// use pgmkit::learn::structure::{structural_em, SemOptions};
/// use pgmkit::data::Dataset;
/// use pgmkit::Variable;
/// // b copies a (90%), and a fifth of the cells are missing
/// let vars = vec![Variable::new("a", ["0", "1"]), Variable::new("b", ["0", "1"])];
/// let rows: Vec<Vec<usize>> = (0..2000)
///     .map(|i| { let x = (i * 7 % 10 < 7) as usize; vec![x, if i % 10 == 0 { 1 - x } else { x }] })
///     .collect();
/// let (data, _) = Dataset::from_rows(&vars, &rows).unwrap().mask_mcar(0.2, 1).unwrap();
/// let fit = structural_em(&vars, &data, &SemOptions::default()).unwrap();
/// assert_eq!(fit.parents[0].len() + fit.parents[1].len(), 1);
/// ```
pub fn structural_em(vars: &[Variable], data: &Dataset, opts: &SemOptions) -> Result<SemFit> {
    let t0 = Instant::now();
    crate::error::check_dim("variables (one per column)", data.num_vars(), vars.len())?;
    if opts.draws == 0 {
        return Err(Error::InvalidArgument(
            "structural EM needs at least one completion per row".into(),
        ));
    }
    let deadline = opts.search.deadline;
    // the first search: on the observed cells, from `start` when given
    let first = hill_climb_weighted(data, 1.0, &opts.search)?;
    let mut parents = first.parents;
    let mut expected_score = first.score;
    let mut cut = first.time_limited;
    let inner = EmOptions {
        stop: StopRule::new(opts.em.stop.max_iters.min(30), opts.em.stop.tol.max(1e-4)),
        ..opts.em.clone()
    };
    let em_until = |o: &EmOptions| -> EmOptions {
        let mut o = o.clone();
        if let Some(left) = deadline.remaining() {
            o.stop = o
                .stop
                .with_max_time(left.min(o.stop.max_time.unwrap_or(left)));
        }
        o
    };
    let complete = data.num_missing() == 0;
    let mut changes = Vec::new();
    let mut iterations = 0;
    if !complete {
        let mut bn = em(&skeleton(vars, &parents)?, data, &em_until(&inner), None)?.model;
        for it in 1..=opts.iterations {
            if cut || deadline.passed() {
                cut = true;
                break;
            }
            iterations = it;
            let filled = impute(
                &bn,
                data,
                &ImputeOptions {
                    method: ImputeMethod::Sample,
                    imputations: opts.draws,
                    seed: crate::rng::splitmix64(opts.search.seed ^ (it as u64) << 32),
                    row: opts.em.row,
                    ..ImputeOptions::default()
                },
                None,
            )?;
            let stacked = stack(vars, &filled.completed)?;
            let search = StructureOptions {
                start: parents.clone(),
                seed: crate::rng::splitmix64(opts.search.seed.wrapping_add(it as u64)),
                ..opts.search.clone()
            };
            let fit = hill_climb_weighted(&stacked, 1.0 / opts.draws as f64, &search)?;
            cut |= fit.time_limited;
            let changed = shd(&fit.parents, &parents);
            changes.push(changed);
            expected_score = fit.score;
            if changed == 0 {
                break;
            }
            parents = fit.parents;
            if it < opts.iterations {
                bn = em(&skeleton(vars, &parents)?, data, &em_until(&inner), None)?.model;
            }
        }
    }
    let shape = skeleton(vars, &parents)?;
    let (model, log_lik) = if complete {
        let m = crate::learn::fit_complete(&shape, data, &opts.em.prior)?;
        let ll = crate::score::score(&m, data, &opts.em.row)?.total_log_lik;
        (m, ll)
    } else {
        let r = em(&shape, data, &em_until(&opts.em), None)?;
        (r.model, r.log_lik)
    };
    Ok(SemFit {
        model,
        parents,
        log_lik,
        expected_score,
        iterations,
        changes,
        time_limited: cut,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The rows of several tables over the same variables, one after the other.
fn stack(vars: &[Variable], tables: &[Dataset]) -> Result<Dataset> {
    let cols: Vec<Vec<u16>> = (0..vars.len())
        .map(|v| {
            tables
                .iter()
                .flat_map(|t| t.columns()[v].iter().copied())
                .collect()
        })
        .collect();
    Dataset::from_columns(vars, cols)
}
