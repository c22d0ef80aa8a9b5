//! MAP search by simulated annealing on the engine's MCMC kernels.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::factor::TableFactor;
use crate::limits::Deadline;
use crate::model::FactorGraph;
use crate::sample::kernel::{Kernel, KernelOptions};
use crate::sample::start::StartSearch;
use crate::sample::{Tempering, Transition};
use crate::var::{Evidence, VarId};

use super::*;

/// Options of [`map_anneal`].
#[derive(Debug, Clone, PartialEq)]
pub struct AnnealOptions {
    /// Independent chains per round (default 8); they run in parallel, each from its own
    /// stream `(seed, round * chains + chain)`, so the result does not depend on the threads.
    pub chains: usize,
    /// Sweeps of one anneal, from the hottest to the coldest temperature (default 400; each
    /// round after the first doubles it).
    pub sweeps: usize,
    /// Temperature levels of one anneal, geometric in beta (default 40); the kernel is
    /// prepared once per level and shared by the chains.
    pub levels: usize,
    /// First and last inverse temperature, in units of the model's typical local scale (the
    /// median range of a factor's finite log values): default 0.1 and 30.
    pub beta_range: (f64, f64),
    /// Seed of the chains.
    pub seed: u64,
    /// The MCMC kernel ([`Kernel::Auto`]: blocked Gibbs on models with zeros, else Gibbs).
    pub kernel: Kernel,
    /// Rounds of annealing (default 1); with a deadline, rounds go on until it passes.
    pub rounds: usize,
    /// Deadline: checked between temperature levels.
    pub deadline: Deadline,
    /// Largest memory (bytes) for the chains' states (default
    /// [`crate::limits::default_memory_limit`]).
    pub memory_limit: f64,
}

impl Default for AnnealOptions {
    fn default() -> Self {
        AnnealOptions {
            chains: 8,
            sweeps: 400,
            levels: 40,
            beta_range: (0.1, 30.0),
            seed: 0,
            kernel: Kernel::Auto,
            rounds: 1,
            deadline: Deadline::NONE,
            memory_limit: crate::limits::default_memory_limit(),
        }
    }
}

/// MAP search by simulated annealing: chains of the engine's MCMC kernels run on the model
/// raised to a growing inverse temperature, the best state any chain visits (then improved by
/// iterated conditional modes) is kept. No bound: `upper_bound` is `+inf` and `optimal` false,
/// unless `bound` (for instance a [`map_dual`] result's `upper_bound`) is given and the gap to
/// it closes. `start` (a full assignment) is the best known so far, kept if nothing beats it.
///
/// Errors: as the kernel's constructor, [`Error::AllocationTooLarge`] when the chains' states
/// would pass `memory_limit`, [`Error::InvalidArgument`] for zero chains, sweeps or levels or a beta range that is not `0 < first <= last` and finite,
/// [`Error::ZeroProbabilityEvidence`] when no state of positive probability exists.
///
/// Cost: `rounds * chains * sweeps` kernel sweeps plus one evaluation of the factors per
/// chain and level.
///
/// ```
/// use pgmkit::infer::map::{map_anneal, AnnealOptions};
/// use pgmkit::model::{ising_grid, Boundary};
/// use pgmkit::Evidence;
/// // a ferromagnet with a positive field: every spin up is the MAP
/// let g = ising_grid(8, 8, Boundary::Free, |_, _| 0.5, |_| 0.1).unwrap();
/// let r = map_anneal(&g, &Evidence::new(64), None, None, &AnnealOptions::default()).unwrap();
/// assert!(r.assignment.iter().all(|&s| s == 1));
/// ```
pub fn map_anneal(
    fg: &FactorGraph,
    ev: &Evidence,
    start: Option<&[usize]>,
    bound: Option<f64>,
    opts: &AnnealOptions,
) -> Result<MapResult> {
    use rayon::prelude::*;
    let t0 = Instant::now();
    let (b0, b1) = opts.beta_range;
    if opts.chains == 0 || opts.sweeps == 0 || opts.levels == 0 {
        return Err(Error::InvalidArgument(
            "annealing needs at least one chain, one sweep and one level".into(),
        ));
    }
    if !(b0.is_finite() && b1.is_finite() && b0 > 0.0 && b0 <= b1) {
        return Err(Error::InvalidArgument(format!(
            "annealing beta range {b0}..{b1}: need 0 < first <= last, finite"
        )));
    }
    // every chain holds its state and its best state
    crate::limits::check_bytes(
        &format!(
            "annealing states ({} chains x {} variables)",
            opts.chains,
            fg.num_vars()
        ),
        2.0 * opts.chains as f64 * fg.num_vars() as f64 * 8.0,
        opts.memory_limit,
    )?;
    let r = reduce(fg.cards(), fg.factors(), ev)?;
    let n = r.cards.len();
    let free: Vec<bool> = (0..n).map(|i| ev.get(VarId(i as u32)).is_none()).collect();
    // the typical local scale: median range of the finite log values of a factor
    let mut ranges: Vec<f64> = r
        .factors
        .iter()
        .filter_map(|(_, vals, _)| {
            let fin = vals.iter().copied().filter(|v| v.is_finite());
            let (lo, hi) = fin.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
            (hi > lo).then_some(hi - lo)
        })
        .collect();
    ranges.sort_by(f64::total_cmp);
    let scale = ranges.get(ranges.len() / 2).copied().unwrap_or(1.0);
    let (beta_lo, beta_hi) = (b0 / scale, b1 / scale);
    // the kernel runs on the model raised to beta_hi, tempered by beta / beta_hi in (0, 1]
    let hot = FactorGraph::new(
        fg.vars().to_vec(),
        fg.factors()
            .iter()
            .map(|f| {
                TableFactor::new(
                    f.scope().to_vec(),
                    f.cards().to_vec(),
                    f.log_values().iter().map(|&v| v * beta_hi).collect(),
                )
            })
            .collect::<Result<Vec<_>>>()?,
    )?;
    let kernel = opts.kernel.build(&hot, ev, &KernelOptions::default())?;
    let search = StartSearch::new(fg, ev)?;
    let (mut best_x, mut best_v) = match start {
        Some(x) if x.len() == n => (x.to_vec(), value(&r, x)),
        _ => (Vec::new(), f64::NEG_INFINITY),
    };
    let mut time_limited = false;
    let mut sweeps_done = 0usize;
    let mut rounds = 0usize;
    let closed =
        |v: f64| bound.is_some_and(|ub| v.is_finite() && ub - v <= GAP_TOL * v.abs().max(1.0));
    'rounds: while (rounds < opts.rounds || opts.deadline.is_set()) && !closed(best_v) {
        if opts.deadline.passed() {
            time_limited = true;
            break;
        }
        let sweeps = opts.sweeps.saturating_mul(1usize << rounds.min(20));
        let first = (rounds * opts.chains) as u64;
        let mut chains: Vec<(crate::rng::EngineRng, Vec<usize>, Vec<usize>, f64)> = (0
            ..opts.chains as u64)
            .into_par_iter()
            .map(|c| {
                let mut rng = crate::rng::chain_rng(opts.seed, first + c);
                let x = search.find(&mut rng)?;
                let v = value(&r, &x);
                Ok((rng, x.clone(), x, v))
            })
            .collect::<Result<Vec<_>>>()?;
        let per = sweeps.div_ceil(opts.levels);
        for level in 0..opts.levels {
            if opts.deadline.passed() {
                time_limited = true;
                break;
            }
            let frac = if opts.levels == 1 {
                1.0
            } else {
                level as f64 / (opts.levels - 1) as f64
            };
            let beta = beta_lo * (beta_hi / beta_lo).powf(frac);
            let prep = kernel.prepare(&Tempering::uniform((beta / beta_hi).min(1.0)));
            // long levels (late rounds, many chains) check the deadline every few sweeps too
            let cut = std::sync::atomic::AtomicBool::new(false);
            chains.par_iter_mut().for_each(|(rng, x, bx, bv)| {
                for k in 0..per {
                    if k % 4 == 0 && opts.deadline.passed() {
                        cut.store(true, std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                    kernel.sweep(x, &prep, rng);
                }
                let v = value(&r, x);
                if v > *bv {
                    *bv = v;
                    bx.copy_from_slice(x);
                }
            });
            sweeps_done += per;
            if cut.into_inner() {
                time_limited = true;
                break;
            }
        }
        if time_limited {
            // out of time: polish only the chain with the best state so far
            let best =
                (0..chains.len()).fold(0, |a, c| if chains[c].3 > chains[a].3 { c } else { a });
            chains.swap(0, best);
            chains.truncate(1);
        }
        let polished: Vec<(Vec<usize>, f64)> = chains
            .into_par_iter()
            .map(|(_, mut x, mut bx, _)| {
                icm(&r, &free, &mut x);
                icm(&r, &free, &mut bx);
                let (vx, vb) = (value(&r, &x), value(&r, &bx));
                if vx > vb {
                    (x, vx)
                } else {
                    (bx, vb)
                }
            })
            .collect();
        for (x, v) in polished {
            if v > best_v || best_x.is_empty() {
                best_v = v;
                best_x = x;
            }
        }
        rounds += 1;
        if time_limited {
            break 'rounds;
        }
    }
    if best_x.is_empty() || best_v == f64::NEG_INFINITY {
        return Err(Error::ZeroProbabilityEvidence);
    }
    let ub = bound.map_or(f64::INFINITY, |b| b.max(best_v));
    Ok(MapResult {
        assignment: best_x,
        log_value: best_v,
        upper_bound: ub,
        gap: ub - best_v,
        optimal: closed(best_v),
        sweeps: sweeps_done,
        time_limited,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
