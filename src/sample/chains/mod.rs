//! The parallel chain runner: C chains of any [`Transition`] kernel, warm-up, thinning, draws;
//! marginals with Monte Carlo standard errors, split-R-hat and ESS.
//!
//! Chain `c` draws all its randomness (start-state search included) from
//! [`chain_rng`]`(seed, c)`, and chains run in parallel with rayon, so results are bit-identical
//! for any number of threads (the wall-clock `seconds` excepted).
//!
//! # What is recorded
//!
//! After warm-up, every `thin`-th sweep is a *draw*: the state of every variable is counted
//! (marginals) and, with `diagnostics` on, stored in a compact per-chain trace (one byte per
//! variable and draw when every variable has at most 256 states, else two or four).
//!
//! # Diagnostics
//!
//! For a free variable `i` and state `s`, the scalar statistic per draw is the indicator
//! `[x_i = s]`; its pooled mean is the marginal. Per state: split-R-hat
//! ([`crate::diagnostics::split_rhat`]; on indicators the rank-normalised version gives the same
//! value) and split ESS ([`crate::diagnostics::split_ess`]); the MCSE of the marginal is
//! `sd / sqrt(ESS)` with `sd = sqrt(p (1 - p) N / (N - 1))` over the `N` pooled draws (0 when
//! no chain ever left or entered the state). The per-variable R-hat is the largest over its states
//! and the per-variable ESS the smallest (binary variables have one indicator). Observed and
//! one-state variables have no R-hat or ESS and MCSE 0.
//!
//! ```
//! use pgmkit::model::{ising_grid, Boundary};
//! use pgmkit::sample::chains::{run_chains, ChainConfig};
//! use pgmkit::sample::gibbs::{Gibbs, GibbsOptions};
//! use pgmkit::Evidence;
//!
//! let g = ising_grid(3, 3, Boundary::Free, |_, _| 0.2, |_| 0.1).unwrap();
//! let ev = Evidence::new(9);
//! let kernel = Gibbs::new(&g, &ev, &GibbsOptions::default()).unwrap();
//! let cfg = ChainConfig { chains: 2, warmup: 100, draws: 2000, seed: 1, ..ChainConfig::default() };
//! let s = run_chains(&kernel, &g, &ev, &cfg).unwrap();
//! let d = s.diagnostics.as_ref().unwrap();
//! assert!(d.max_rhat.unwrap() < 1.05);
//! assert!((s.marginals[0][0] + s.marginals[0][1] - 1.0).abs() < 1e-12);
//! ```

mod diagnose;
pub mod shard;

use std::sync::OnceLock;
use std::time::Instant;

use rayon::prelude::*;

use super::kernel::{Kernel, KernelOptions};
use super::site::pick_index;
use super::start::StartSearch;
use super::{StateTally, Tempering, Transition};
use crate::error::{Error, Result};
use crate::model::FactorGraph;
use crate::num;
use crate::rng::chain_rng;
use crate::var::{Evidence, VarId};
pub(crate) use diagnose::*;

/// How chains start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Start {
    /// Each chain draws a uniform random state (observed variables at their evidence) from its
    /// own RNG stream, so chains start dispersed; if that state has probability zero, it
    /// searches one of positive probability ([`StartSearch`]).
    #[default]
    Search,
    /// Every chain starts from this state (one state index per model variable; it must agree
    /// with the evidence and have positive probability).
    Given(Vec<usize>),
    /// Chain `c` starts from the `c`-th state (exactly one per chain).
    PerChain(Vec<Vec<usize>>),
}

/// What the chain runner does.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainConfig {
    /// Number of chains (run in parallel). Default 4.
    pub chains: usize,
    /// Sweeps discarded at the start of each chain. Default 1000.
    pub warmup: usize,
    /// Draws kept per chain. Default 1000.
    pub draws: usize,
    /// Sweeps per kept draw (1 keeps every sweep). Default 1.
    pub thin: usize,
    /// Seed; chain `c` uses `chain_rng(seed, c)`.
    pub seed: u64,
    /// Start states.
    pub start: Start,
    /// Keep traces and compute MCSE, split-R-hat and ESS (default true).
    pub diagnostics: bool,
    /// Largest memory the traces may take, in bytes (default 1 GiB); beyond it the run is refused
    /// with an error suggesting thinning or turning diagnostics off.
    pub max_trace_bytes: usize,
    /// Wall-clock budget (default none). When it passes, every chain stops after its current
    /// batch of sweeps and keeps the draws it has made (the summary says how many and sets
    /// `time_limited`); the result then depends on the machine's speed. Without a limit the run
    /// is exactly `chains x (warmup + draws * thin)` sweeps, the same for any thread count.
    pub time_limit: Option<std::time::Duration>,
    /// Run only the chains `a..b` of the `chains`-chain run: a shard of it ([`shard`]).
    /// Chain `c` keeps its stream `(seed, c)` (and `Start::PerChain`'s `c`-th state), so the
    /// shards' chains side by side are the whole run's. Needs `time_limit: None`. Default
    /// `None`: every chain.
    pub chain_range: Option<std::ops::Range<usize>>,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            chains: 4,
            warmup: 1000,
            draws: 1000,
            thin: 1,
            seed: 0,
            start: Start::Search,
            diagnostics: true,
            max_trace_bytes: 1 << 30,
            time_limit: None,
            chain_range: None,
        }
    }
}

impl ChainConfig {
    /// Sweeps per chain: `warmup + draws * thin`.
    pub fn sweeps_per_chain(&self) -> u64 {
        self.warmup as u64 + self.draws as u64 * self.thin as u64
    }

    /// Sweeps over all chains (what the progress callback counts up to).
    pub fn total_sweeps(&self) -> u64 {
        self.sweeps_per_chain() * self.chains as u64
    }
}

/// MCMC diagnostics per variable (see the module docs for their definitions).
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostics {
    /// Monte Carlo standard error of each marginal probability, per variable and state.
    pub mcse: Vec<Vec<f64>>,
    /// Split-R-hat per variable (largest over its state indicators); `None` for observed
    /// variables and variables that never changed state in any chain.
    pub rhat: Vec<Option<f64>>,
    /// Split effective sample size per variable (smallest over its state indicators); `None` as
    /// for `rhat`.
    pub ess: Vec<Option<f64>>,
    /// Largest R-hat over the variables (`None` if no variable has one).
    pub max_rhat: Option<f64>,
    /// Smallest ESS over the variables (`None` if no variable has one).
    pub min_ess: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
enum TraceData {
    U8(Vec<Vec<u8>>),
    U16(Vec<Vec<u16>>),
    U32(Vec<Vec<u32>>),
}

/// The recorded draws: per chain, per draw, the state of every variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Traces {
    num_vars: usize,
    draws: usize,
    data: TraceData,
}

impl Traces {
    /// Number of chains.
    pub fn num_chains(&self) -> usize {
        match &self.data {
            TraceData::U8(d) => d.len(),
            TraceData::U16(d) => d.len(),
            TraceData::U32(d) => d.len(),
        }
    }

    /// Draws per chain.
    pub fn num_draws(&self) -> usize {
        self.draws
    }

    /// State of `var` at draw `draw` of chain `chain`.
    #[inline]
    pub fn state(&self, chain: usize, draw: usize, var: usize) -> usize {
        let k = draw * self.num_vars + var;
        match &self.data {
            TraceData::U8(d) => d[chain][k] as usize,
            TraceData::U16(d) => d[chain][k] as usize,
            TraceData::U32(d) => d[chain][k] as usize,
        }
    }

    /// The states of `var` over the draws of `chain`.
    pub fn var_trace(&self, chain: usize, var: usize) -> Vec<usize> {
        (0..self.draws).map(|d| self.state(chain, d, var)).collect()
    }

    /// The full state at draw `draw` of `chain`.
    pub fn draw(&self, chain: usize, draw: usize) -> Vec<usize> {
        (0..self.num_vars)
            .map(|v| self.state(chain, draw, v))
            .collect()
    }
}

/// The result of [`run_chains`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSummary {
    /// Estimated marginal probabilities `P(X_v = s)`, per variable and state, pooled over the
    /// draws of all chains (observed variables: a point mass on their state).
    pub marginals: Vec<Vec<f64>>,
    /// MCSE, split-R-hat and ESS (`None` when `diagnostics` was off or there were fewer than 8
    /// draws per chain).
    pub diagnostics: Option<Diagnostics>,
    /// Accepted proposals (Metropolis-Hastings) or state changes (Gibbs) per update, over the
    /// sweeps after warm-up.
    pub acceptance_rate: f64,
    /// Single-site updates made, warm-up included, over all chains.
    pub updates: u64,
    /// Sweeps made, warm-up included, over all chains.
    pub sweeps: u64,
    /// Wall-clock seconds of the sampling (start-state search, sweeps and counting; diagnostics
    /// excluded). This and `diagnostics_seconds` are the only fields that vary between identical
    /// runs.
    pub seconds: f64,
    /// Wall-clock seconds spent computing the diagnostics.
    pub diagnostics_seconds: f64,
    /// Number of chains (with a time limit that cut the run: those that made at least one draw).
    pub chains: usize,
    /// Draws per chain (with a time limit that cut the run: the fewest any chain made; the
    /// marginals pool every draw of every chain).
    pub draws: usize,
    /// True when the time limit stopped the run before every chain made its draws, or left no
    /// time for the diagnostics (then `None`).
    pub time_limited: bool,
    /// The state of each chain after its last sweep (to resume or to seed other runs).
    pub final_states: Vec<Vec<usize>>,
    /// The recorded draws (`None` when `diagnostics` was off).
    pub traces: Option<Traces>,
}

impl ChainSummary {
    /// Estimated marginal of one variable.
    pub fn marginal(&self, v: VarId) -> &[f64] {
        &self.marginals[v.index()]
    }

    /// Single-site updates per second of wall-clock time.
    pub fn updates_per_second(&self) -> f64 {
        self.updates as f64 / self.seconds.max(1e-12)
    }
}

/// A progress callback: called (from any thread) with the number of sweeps completed since its
/// previous call; the calls add up to [`ChainConfig::total_sweeps`].
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// Build the kernel `kernel` (with `opts`) for `fg` under `ev` and run the chains of `cfg`
/// at the model itself (beta = 1).
///
/// Errors: those of [`Kernel::build`] and [`run_chains_with`].
pub fn run_mcmc(
    fg: &FactorGraph,
    ev: &Evidence,
    kernel: Kernel,
    opts: &KernelOptions,
    cfg: &ChainConfig,
    progress: Option<Progress<'_>>,
) -> Result<ChainSummary> {
    let k = kernel.build(fg, ev, opts)?;
    run_chains_with(&k, fg, ev, cfg, &Tempering::TARGET, progress)
}

/// Run the chains of `cfg` with `kernel` (built from `fg` and `ev`) at the model itself.
pub fn run_chains<K: Transition>(
    kernel: &K,
    fg: &FactorGraph,
    ev: &Evidence,
    cfg: &ChainConfig,
) -> Result<ChainSummary> {
    run_chains_with(kernel, fg, ev, cfg, &Tempering::TARGET, None)
}

struct ChainOut {
    counts: Vec<u64>,
    trace: Option<TraceChain>,
    updates: u64,
    sampled_updates: u64,
    accepted: u64,
    sweeps: u64,
    draws: usize,
    final_state: Vec<usize>,
}

enum TraceChain {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

fn check_state(fg: &FactorGraph, ev: &Evidence, x: &[usize], what: &str) -> Result<()> {
    if x.len() != fg.num_vars() {
        return Err(Error::InvalidArgument(format!(
            "{what} has {} entries but the model has {} variables",
            x.len(),
            fg.num_vars()
        )));
    }
    for (i, (&s, var)) in x.iter().zip(fg.vars()).enumerate() {
        if s >= var.card() {
            return Err(Error::InvalidArgument(format!(
                "{what}: variable '{}' has no state {s}",
                var.name
            )));
        }
        if let Some(e) = ev.get(VarId(i as u32)) {
            if e != s {
                return Err(Error::InvalidArgument(format!(
                    "{what}: variable '{}' is observed in state '{}' but starts in '{}'",
                    var.name, var.states[e], var.states[s]
                )));
            }
        }
    }
    Ok(())
}

fn check_temp(fg: &FactorGraph, temp: &Tempering<'_>) -> Result<()> {
    if !(0.0..=1.0).contains(&temp.beta) {
        return Err(Error::InvalidArgument(format!(
            "inverse temperature {} is outside [0, 1]",
            temp.beta
        )));
    }
    if let crate::sample::TemperedBase::Factors(a) = temp.base {
        if a.len() != fg.num_parameters() {
            return Err(Error::InvalidArgument(format!(
                "the tempering base has {} factor entries but the model has {}",
                a.len(),
                fg.num_parameters()
            )));
        }
    }
    if let Some(base) = temp.base.factorised() {
        if base.len() != fg.num_vars() {
            return Err(Error::InvalidArgument(format!(
                "the tempering base has {} variables but the model has {}",
                base.len(),
                fg.num_vars()
            )));
        }
        for (row, var) in base.iter().zip(fg.vars()) {
            if row.len() != var.card() {
                return Err(Error::InvalidArgument(format!(
                    "the tempering base of '{}' has {} states but the variable has {}",
                    var.name,
                    row.len(),
                    var.card()
                )));
            }
            if row.iter().any(|v| v.is_nan() || *v == f64::INFINITY)
                || (num::log_sum_exp(row)).abs() > 1e-6
            {
                return Err(Error::InvalidArgument(format!(
                    "the tempering base of '{}' is not a normalised log distribution",
                    var.name
                )));
            }
        }
    }
    Ok(())
}

/// Run the chains of `cfg` with `kernel` (built from `fg` and `ev`) on the tempered target
/// `temp`, calling `progress` as sweeps complete.
///
/// Errors: a kernel for a different number of variables; zero chains, draws or thinning; an
/// invalid tempering; start states of the wrong shape, disagreeing with the evidence or of
/// probability zero (for `beta > 0`); traces over `max_trace_bytes`; the start search failing
/// ([`Error::ZeroProbabilityEvidence`] when the evidence is impossible).
pub fn run_chains_with<K: Transition>(
    kernel: &K,
    fg: &FactorGraph,
    ev: &Evidence,
    cfg: &ChainConfig,
    temp: &Tempering<'_>,
    progress: Option<Progress<'_>>,
) -> Result<ChainSummary> {
    let t0 = Instant::now();
    let outs = chain_outs(kernel, fg, ev, cfg, temp, progress, t0)?;
    summarize(outs, fg, ev, cfg, t0)
}

/// Bytes per traced state for a model of these cardinalities.
fn trace_width(cards: &[usize]) -> usize {
    let max_card = cards.iter().copied().max().unwrap_or(1);
    if max_card <= 1 << 8 {
        1
    } else if max_card <= 1 << 16 {
        2
    } else {
        4
    }
}

/// Run the chains `cfg.chain_range` (all by default) and return their raw outputs.
fn chain_outs<K: Transition>(
    kernel: &K,
    fg: &FactorGraph,
    ev: &Evidence,
    cfg: &ChainConfig,
    temp: &Tempering<'_>,
    progress: Option<Progress<'_>>,
    t0: Instant,
) -> Result<Vec<ChainOut>> {
    let n = fg.num_vars();
    if kernel.num_vars() != n {
        return Err(Error::InvalidArgument(format!(
            "the kernel has {} variables but the model has {n}",
            kernel.num_vars()
        )));
    }
    if cfg.chains == 0 || cfg.draws == 0 || cfg.thin == 0 {
        return Err(Error::InvalidArgument(format!(
            "chains, draws and thin must be at least 1 (got chains = {}, draws = {}, thin = {})",
            cfg.chains, cfg.draws, cfg.thin
        )));
    }
    check_temp(fg, temp)?;
    ev.check(fg.vars())?;
    if let Some(r) = &cfg.chain_range {
        if r.start >= r.end || r.end > cfg.chains {
            return Err(Error::InvalidArgument(format!(
                "the chain range {}..{} must be a non-empty part of 0..{} (the chains of the \
                 whole run)",
                r.start, r.end, cfg.chains
            )));
        }
        if cfg.time_limit.is_some() {
            return Err(Error::InvalidArgument(
                "a shard (a chain range) cannot have a time limit: a time-limited run depends \
                 on the machine's speed"
                    .into(),
            ));
        }
    }
    let cards = fg.cards();
    let width = trace_width(&cards);
    if cfg.diagnostics {
        let bytes = (cfg.chains as f64) * (cfg.draws as f64) * (n as f64) * width as f64;
        if bytes > cfg.max_trace_bytes as f64 {
            return Err(Error::InvalidArgument(format!(
                "keeping the traces for diagnostics needs {bytes:.3e} bytes ({} chains x {} \
                 draws x {n} variables) but the limit is {} bytes; thin more, keep fewer draws \
                 or turn diagnostics off",
                cfg.chains, cfg.draws, cfg.max_trace_bytes
            )));
        }
    }
    // start states
    // the start search is prepared only if a chain's uniform random draw has probability zero
    let search: OnceLock<Result<StartSearch<'_>>> = OnceLock::new();
    match &cfg.start {
        Start::Search => {}
        Start::Given(x) => check_state(fg, ev, x, "the start state")?,
        Start::PerChain(xs) => {
            if xs.len() != cfg.chains {
                return Err(Error::InvalidArgument(format!(
                    "{} start states given for {} chains",
                    xs.len(),
                    cfg.chains
                )));
            }
            for (c, x) in xs.iter().enumerate() {
                check_state(fg, ev, x, &format!("the start state of chain {c}"))?;
            }
        }
    }
    if temp.beta > 0.0 {
        let given: Vec<&Vec<usize>> = match &cfg.start {
            Start::Search => Vec::new(),
            Start::Given(x) => vec![x],
            Start::PerChain(xs) => xs.iter().collect(),
        };
        for x in given {
            if fg.log_potential(x) == f64::NEG_INFINITY {
                return Err(Error::InvalidArgument(
                    "a start state has probability zero under the model".into(),
                ));
            }
        }
    }
    let all_binary = cards.iter().all(|&c| c == 2);
    let mut off = vec![0usize; n + 1];
    for i in 0..n {
        off[i + 1] = off[i] + cards[i];
    }
    let per_chain = cfg.sweeps_per_chain();
    let tick_every = (per_chain / 200).max(1);
    let deadline = crate::limits::Deadline::from(t0, cfg.time_limit);
    // one preparation of the kernel at this temperature, shared by every chain
    let prep = kernel.prepare(temp);

    let run_one = |c: usize| -> Result<ChainOut> {
        let mut rng = chain_rng(cfg.seed, c as u64);
        let mut x = match &cfg.start {
            Start::Search => {
                let x: Vec<usize> = (0..n)
                    .map(|i| match ev.get(VarId(i as u32)) {
                        Some(s) => s,
                        None => pick_index(&mut rng, cards[i]),
                    })
                    .collect();
                if fg.log_potential(&x) > f64::NEG_INFINITY {
                    x
                } else {
                    match search.get_or_init(|| StartSearch::new(fg, ev)) {
                        Ok(s) => s.find(&mut rng)?,
                        // the same (typed) error again
                        Err(_) => return Err(StartSearch::new(fg, ev).unwrap_err()),
                    }
                }
            }
            Start::Given(x) => x.clone(),
            Start::PerChain(xs) => xs[c].clone(),
        };
        let mut counts = vec![0u64; if all_binary { n } else { off[n] }];
        let mut trace = if cfg.diagnostics {
            let len = cfg.draws * n;
            Some(match width {
                1 => TraceChain::U8(Vec::with_capacity(len)),
                2 => TraceChain::U16(Vec::with_capacity(len)),
                _ => TraceChain::U32(Vec::with_capacity(len)),
            })
        } else {
            None
        };
        let mut since = 0u64;
        let tick = |since: &mut u64, k: u64| {
            *since += k;
            if *since >= tick_every {
                if let Some(p) = progress {
                    p(*since);
                }
                *since = 0;
            }
        };
        let mut out = ChainOut {
            counts: Vec::new(),
            trace: None,
            updates: 0,
            sampled_updates: 0,
            accepted: 0,
            sweeps: 0,
            draws: 0,
            final_state: Vec::new(),
        };
        let mut swept = 0u64;
        // Sweeps run in batches (one progress tick each), so that a kernel can pipeline them.
        let batch = (tick_every as usize).max(32);
        let mut done = 0;
        while done < cfg.warmup && !deadline.passed() {
            let b = batch.min(cfg.warmup - done);
            let s = kernel.sweeps(&mut x, &prep, &mut rng, b, None);
            out.updates += s.updates;
            tick(&mut since, b as u64);
            done += b;
            swept += b as u64;
        }
        let warm = done >= cfg.warmup;
        if cfg.thin == 1 && trace.is_none() {
            // every sweep is a draw: the kernel adds each state it leaves to the counts
            let mut done = 0;
            while warm && done < cfg.draws && !deadline.passed() {
                let b = batch.min(cfg.draws - done);
                let mut tally = if all_binary {
                    StateTally::binary(&mut counts)
                } else {
                    StateTally::offsets(&mut counts, &off)
                };
                let s = kernel.sweeps(&mut x, &prep, &mut rng, b, Some(&mut tally));
                out.sampled_updates += s.updates;
                out.accepted += s.accepted;
                tick(&mut since, b as u64);
                done += b;
                swept += b as u64;
            }
            out.draws = done;
        } else {
            for _ in 0..cfg.draws {
                if !warm || deadline.passed() {
                    break;
                }
                if cfg.thin > 1 {
                    let s = kernel.sweeps(&mut x, &prep, &mut rng, cfg.thin - 1, None);
                    out.sampled_updates += s.updates;
                    out.accepted += s.accepted;
                }
                let mut tally = if all_binary {
                    StateTally::binary(&mut counts)
                } else {
                    StateTally::offsets(&mut counts, &off)
                };
                let s = kernel.sweep_tally(&mut x, &prep, &mut rng, &mut tally);
                out.sampled_updates += s.updates;
                out.accepted += s.accepted;
                tick(&mut since, cfg.thin as u64);
                swept += cfg.thin as u64;
                out.draws += 1;
                match &mut trace {
                    None => {}
                    Some(TraceChain::U8(t)) => t.extend(x.iter().map(|&v| v as u8)),
                    Some(TraceChain::U16(t)) => t.extend(x.iter().map(|&v| v as u16)),
                    Some(TraceChain::U32(t)) => t.extend(x.iter().map(|&v| v as u32)),
                }
            }
        }
        if since > 0 {
            if let Some(p) = progress {
                p(since);
            }
        }
        out.updates += out.sampled_updates;
        out.sweeps = swept;
        out.counts = counts;
        out.trace = trace;
        out.final_state = x;
        Ok(out)
    };
    let range = cfg.chain_range.clone().unwrap_or(0..cfg.chains);
    let outs: Vec<ChainOut> = range.into_par_iter().map(run_one).collect::<Result<_>>()?;
    Ok(outs)
}

/// The summary of the chains' outputs (in chain order), as [`run_chains_with`] gives it; also
/// what [`shard::merge`] computes from the shards' chains. `t0` is when the run started.
fn summarize(
    outs: Vec<ChainOut>,
    fg: &FactorGraph,
    ev: &Evidence,
    cfg: &ChainConfig,
    t0: Instant,
) -> Result<ChainSummary> {
    let n = fg.num_vars();
    let cards = fg.cards();
    let width = trace_width(&cards);
    let all_binary = cards.iter().all(|&c| c == 2);
    let mut off = vec![0usize; n + 1];
    for i in 0..n {
        off[i + 1] = off[i] + cards[i];
    }
    let deadline = crate::limits::Deadline::from(t0, cfg.time_limit);
    // marginals
    let drawn: usize = outs.iter().map(|o| o.draws).sum();
    if drawn == 0 {
        return Err(Error::TimeLimit {
            what: format!(
                "any chain finished its {} warm-up sweeps and made a draw",
                cfg.warmup
            ),
            limit_seconds: cfg.time_limit.map_or(0.0, |t| t.as_secs_f64()),
        });
    }
    let mut time_limited = outs.iter().any(|o| o.draws < cfg.draws);
    // a time-limited run may leave chains that never got past their warm-up (with more chains
    // than threads, the last ones start late): they are left out
    let outs: Vec<ChainOut> = if time_limited {
        outs.into_iter().filter(|o| o.draws > 0).collect()
    } else {
        outs
    };
    let used_chains = outs.len();
    let min_draws = outs.iter().map(|o| o.draws).min().unwrap_or(0);
    let total_draws = drawn as f64;
    let mut counts = vec![0u64; outs[0].counts.len()];
    for o in &outs {
        for (a, b) in counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
    }
    let marginals: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            if all_binary {
                let p1 = counts[i] as f64 / total_draws;
                vec![1.0 - p1, p1]
            } else {
                counts[off[i]..off[i + 1]]
                    .iter()
                    .map(|&k| k as f64 / total_draws)
                    .collect()
            }
        })
        .collect();
    let (updates, sampled, accepted, sweeps) = outs.iter().fold((0, 0, 0, 0), |a, o| {
        (
            a.0 + o.updates,
            a.1 + o.sampled_updates,
            a.2 + o.accepted,
            a.3 + o.sweeps,
        )
    });
    let mut final_states = Vec::with_capacity(outs.len());
    let mut tr8 = Vec::new();
    let mut tr16 = Vec::new();
    let mut tr32 = Vec::new();
    for mut o in outs {
        final_states.push(o.final_state);
        // every chain's trace is cut to the draws all chains made (for the diagnostics)
        match &mut o.trace {
            Some(TraceChain::U8(t)) => t.truncate(min_draws * n),
            Some(TraceChain::U16(t)) => t.truncate(min_draws * n),
            Some(TraceChain::U32(t)) => t.truncate(min_draws * n),
            None => {}
        }
        match o.trace {
            Some(TraceChain::U8(t)) => tr8.push(t),
            Some(TraceChain::U16(t)) => tr16.push(t),
            Some(TraceChain::U32(t)) => tr32.push(t),
            None => {}
        }
    }
    let traces = cfg.diagnostics.then_some(Traces {
        num_vars: n,
        draws: min_draws,
        data: match width {
            1 => TraceData::U8(tr8),
            2 => TraceData::U16(tr16),
            _ => TraceData::U32(tr32),
        },
    });
    let seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let diagnostics = match &traces {
        // with a time limit, diagnostics that do not finish in it are left out
        Some(t) if min_draws >= 8 => diagnose(fg, ev, t, &marginals, deadline),
        _ => None,
    };
    let diagnostics_seconds = t1.elapsed().as_secs_f64();
    time_limited |= traces.is_some() && min_draws >= 8 && diagnostics.is_none();
    Ok(ChainSummary {
        marginals,
        diagnostics,
        acceptance_rate: if sampled > 0 {
            accepted as f64 / sampled as f64
        } else {
            0.0
        },
        updates,
        sweeps,
        seconds,
        diagnostics_seconds,
        chains: used_chains,
        draws: min_draws,
        time_limited,
        final_states,
        traces,
    })
}
