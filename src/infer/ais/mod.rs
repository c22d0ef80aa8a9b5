//! Annealed importance sampling (AIS) of log Z, reverse AIS and bidirectional Monte Carlo (BDMC).
//!
//! AIS (Neal 2001) moves N independent particles along the geometric path
//!
//! ```text
//! f_beta(x) = p0(x)^(1 - beta) * p~(x)^beta,   0 = beta_0 < beta_1 < ... < beta_K = 1,
//! ```
//!
//! from a normalised, fully factorised base `p0` (uniform, or the mean-field solution) to the
//! unnormalised model `p~` (a Markov network, or a Bayesian network under evidence lowered to a
//! factor graph). A particle starts with an exact draw from `p0`, and at step k it gains the log
//! weight `(beta_k - beta_{k-1}) * (ln p~(x) - ln p0(x))` and then makes `sweeps` MCMC sweeps
//! ([`Transition`](crate::sample::Transition)) that leave `f_{beta_k}` invariant. The mean of the weights is an unbiased
//! estimate of `Z / Z0 = Z`; [`AisResult::log_z`] is its log (log-mean-exp of the log weights),
//! which is a stochastic lower bound on ln Z in expectation (Jensen).
//!
//! On models with zero entries the defaults change (everything else keeps the path above):
//! the kernel is blocked Gibbs ([`Kernel::Auto`], [`crate::sample::block`]), and when the
//! model is a Bayesian network (every factor a CPT, whatever the file format) the base is the
//! network itself with the evidence clamped ([`Base::Network`]), so that only the evidence
//! likelihood is annealed.
//!
//! Reverse AIS starts from exact draws of the model (when they exist: exact sampling for small
//! width, or a forward sample of a Bayesian network on simulated evidence) and runs the path
//! backwards; the mean of its weights estimates `1 / Z`, so `-ln mean(w)` is a stochastic
//! *upper* bound on ln Z in expectation. [`bdmc`] runs both and reports the sandwich.
//!
//! Every particle draws from its own stream `chain_rng(seed, particle)`, so results do not
//! depend on the number of threads. Particles that reach a state of probability zero
//! (possible only when the model has zeros) get weight zero; if all of them do, the run fails
//! with [`Error::InvalidArgument`] explaining what to change, never a NaN.
//!
//! Complexity: O(N K (S * cost of a sweep + cost of evaluating ln p~)), N particles, K steps,
//! S sweeps per step; memory O(N * num_vars).

mod kernels;
mod network_base;
mod path;
mod schedule;
pub mod shard;

pub use crate::sample::anneal::{schedule_betas, Schedule};
pub use crate::sample::kernel::Kernel;
pub use exact_draws::{exact_samples, exact_samples_until};
pub use path::{SOFT_PENALTY_END, SOFT_PENALTY_START};
pub(crate) use weights::weight_stats;
mod exact_draws;

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::infer::LogZEstimate;
use crate::limits::Deadline;
use crate::model::FactorGraph;
use crate::rng::chain_rng;
use crate::sample::anneal::weights::*;
use crate::sample::anneal::*;
use crate::sample::chains::Progress;
use crate::var::Evidence;
use kernels::*;
use path::*;
use schedule::*;

/// Stream offset of the pilot run of the adaptive schedule (particle streams start at 0).
const PILOT_STREAM: u64 = 1 << 40;
/// Stream offset of reverse-AIS particles.
const REVERSE_STREAM: u64 = 1 << 41;
/// Weight of the uniform distribution mixed into the mean-field base, so that the base covers
/// every state the model allows (an importance proposal must not miss mass).
pub const MF_BASE_UNIFORM_MIX: f64 = 1e-3;

/// The tractable distribution the path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Base {
    /// The default: [`Base::Network`] when the model has zero entries, every factor is a
    /// conditional probability table (a Bayesian network, whatever the file format) and the
    /// kernel is blocked Gibbs; [`Base::Uniform`] otherwise.
    #[default]
    Auto,
    /// Uniform over the states of every free variable. It lets the early, hot part of the
    /// path visit every mode, which matters on frustrated and strongly coupled models (a
    /// mean-field base sits in one mode and can underestimate badly there).
    Uniform,
    /// The Bayesian network itself with the evidence clamped and the evidence variables' own
    /// tables left out: `p0(x) = prod over free variables i of P(x_i | parents)`, which is
    /// normalised and sampled exactly forwards, and which satisfies every deterministic
    /// relation among the free variables. The path then anneals only the likelihood of the
    /// evidence, `prod over observed j of P(e_j | parents)^beta` (its zeros softened first,
    /// as in the two-phase path), so its length is about ln 1/P(e) instead of the entropy of
    /// a uniform start. Needs every factor to be a table normalised over one of its variables,
    /// each variable the child of exactly one factor, acyclic (checked; an error otherwise),
    /// and the blocked Gibbs kernel (the base is not fully factorised).
    Network,
    /// The naive mean-field solution (mixed with a little of the uniform distribution,
    /// [`MF_BASE_UNIFORM_MIX`]); falls back to uniform when mean field fails. It starts the
    /// path close to the model, which pays on weakly coupled, unimodal models (on the UAI
    /// DBN and ObjectDetection instances it is several times more accurate per step).
    MeanField,
}

/// Options of [`ais`], [`reverse_ais`] and [`bdmc`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AisOptions {
    /// Number of particles N (default 128).
    pub particles: usize,
    /// Number of intermediate distributions K (default 1000).
    pub steps: usize,
    /// MCMC sweeps per intermediate distribution (default 1).
    pub sweeps: usize,
    /// Spacing of the betas (default adaptive).
    pub schedule: Schedule,
    /// Base distribution (default uniform).
    pub base: Base,
    /// Transition kernel (default Gibbs).
    pub kernel: Kernel,
    /// Seed: particle i draws from `chain_rng(seed, i)`.
    pub seed: u64,
    /// Independent replicates: the particles are split into this many groups and each group's
    /// log Z-hat is reported too (default 1 = off).
    pub replicates: usize,
    /// Record per-temperature diagnostics (ESS and log-weight variance at up to 100 betas).
    pub diagnostics: bool,
    /// Time budget, a hard deadline for the whole call (pilot included). With a limit, a timing
    /// probe fits the number of steps: raised to use about 60% of the budget, or lowered (to at
    /// least 10) when the asked particles would not finish in 80% of it; particles run in
    /// batches of 32, and batches keep starting while the next one is expected to finish, so the
    /// rest of the budget buys more particles. A batch the deadline interrupts is dropped whole
    /// (the count never depends on the weights, so the estimate stays unbiased); fewer than two
    /// finished particles is [`Error::TimeLimit`]. [`AisResult::time_limited`] says when the
    /// budget cut the run; the result then depends on the machine's speed. `None` = exactly
    /// `particles` and `steps`, reproducible for any number of threads.
    pub time_limit: Option<Duration>,
    /// Memory limit in bytes for the particle states and the path (checked before anything is
    /// allocated; default [`crate::limits::default_memory_limit`]).
    pub memory_limit: f64,
    /// Run only the particles `a..b` of the `particles`-particle run: a shard of it
    /// ([`shard`]). The path, the pilot and every particle's stream `(seed, i)` are those of
    /// the whole run, so the shards' log weights side by side are the whole run's, bit for bit
    /// ([`shard::merge`]); the result's estimates are the shard's own. Needs `time_limit:
    /// None` (a time-limited run depends on the machine's speed). Default `None`: all.
    pub particle_range: Option<std::ops::Range<usize>>,
}

impl AisOptions {
    /// These options with the time limit set to what is left of `deadline` (unchanged without
    /// one).
    pub fn with_deadline(&self, deadline: Deadline) -> AisOptions {
        match deadline.remaining() {
            None => self.clone(),
            Some(left) => AisOptions {
                time_limit: Some(left),
                ..self.clone()
            },
        }
    }
}

impl Default for AisOptions {
    fn default() -> Self {
        AisOptions {
            particles: 128,
            steps: 1000,
            sweeps: 1,
            schedule: Schedule::default(),
            base: Base::default(),
            kernel: Kernel::default(),
            seed: 0,
            replicates: 1,
            diagnostics: false,
            time_limit: None,
            memory_limit: crate::limits::default_memory_limit(),
            particle_range: None,
        }
    }
}

/// Weight statistics at one inverse temperature.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TemperatureDiag {
    /// Inverse temperature.
    pub beta: f64,
    /// Running log Z estimate at this beta (log-mean-exp of the log weights so far).
    pub log_z: f64,
    /// Kish effective sample size of the weights so far.
    pub ess: f64,
    /// Variance of the log weights so far.
    pub log_weight_var: f64,
}

/// The result of an AIS (or reverse AIS) run.
#[derive(Debug, Clone, PartialEq)]
pub struct AisResult {
    /// Estimate of ln Z: log-mean-exp of the log weights (forward), or minus the log-mean-exp
    /// of the reverse log weights (reverse AIS).
    pub log_z: f64,
    /// Standard error of `log_z` (delta method: sd(w) / (sqrt(N) mean(w)), in log space).
    pub std_err: f64,
    /// Kish effective sample size of the weights.
    pub ess: f64,
    /// Variance of the log weights.
    pub log_weight_var: f64,
    /// Mean of the log weights (forward: a lower bound on ln Z in expectation that does not
    /// depend on N; reverse: minus an upper bound).
    pub mean_log_weight: f64,
    /// Log weight of every particle, in particle order (`-inf` for particles that reached a
    /// zero-probability state).
    pub log_weights: Vec<f64>,
    /// Particles that reached a state of probability zero.
    pub dead: usize,
    /// log Z-hat of each replicate group, when `replicates > 1`.
    pub replicate_log_z: Vec<f64>,
    /// The betas used (K + 1 values from 0 to 1).
    pub betas: Vec<f64>,
    /// Per-temperature diagnostics (forward runs with `diagnostics` on).
    pub per_temperature: Vec<TemperatureDiag>,
    /// Base actually used ([`Base::Auto`] resolved; mean field falls back to uniform when it
    /// fails).
    pub base: Base,
    /// Kernel actually used ([`Kernel::Auto`] resolved).
    pub kernel: Kernel,
    /// Single-site updates made.
    pub updates: u64,
    /// Wall-clock seconds (including the pilot and the mean-field base).
    pub seconds: f64,
    /// True when the time limit changed the run: fewer particles than asked for, or fewer
    /// steps (the fields above then describe what actually ran: `log_weights.len()` particles
    /// and `betas.len() - 1` steps).
    pub time_limited: bool,
    /// Whether this is a reverse run ([`reverse_ais`]): `log_z` is then a stochastic upper
    /// bound.
    pub reverse: bool,
}

impl AisResult {
    /// As a [`LogZEstimate`]: forward, a stochastic estimate; reverse, a stochastic upper
    /// bound (`upper` with its standard error, [`crate::infer::BoundKind::Stochastic`]).
    pub fn estimate(&self) -> LogZEstimate {
        ais_estimate(self.log_z, self.std_err, self.ess, self.reverse)
    }
}

/// The estimate of one AIS run (discrete or continuous): forward, a stochastic estimate;
/// reverse, a stochastic upper bound.
pub fn ais_estimate(log_z: f64, std_err: f64, ess: f64, reverse: bool) -> LogZEstimate {
    LogZEstimate::annealed(log_z, std_err, ess, reverse)
}

impl Bdmc {
    /// As a [`LogZEstimate`] of kind [`crate::infer::EstimateKind::Sandwich`]: the forward estimate with its
    /// standard error, `lower` and `upper` the two stochastic bounds with theirs.
    pub fn estimate(&self) -> LogZEstimate {
        LogZEstimate::sandwich(
            self.lower,
            self.forward.std_err,
            self.forward.ess,
            self.upper,
            self.reverse.std_err,
        )
    }
}

/// The BDMC sandwich: forward AIS (stochastic lower bound) and reverse AIS from exact samples
/// (stochastic upper bound).
#[derive(Debug, Clone, PartialEq)]
pub struct Bdmc {
    /// Forward run.
    pub forward: AisResult,
    /// Reverse run.
    pub reverse: AisResult,
    /// Stochastic lower bound on ln Z (in expectation): `forward.log_z`.
    pub lower: f64,
    /// Stochastic upper bound on ln Z (in expectation): `reverse.log_z`.
    pub upper: f64,
    /// Seconds for both runs.
    pub seconds: f64,
}

fn validate(opts: &AisOptions, num_vars: usize) -> Result<()> {
    use crate::limits::check_bytes;
    // particle states (all particles at once without a time limit, batches of 32 with one),
    // their log weights, and the path's points
    let live = batch_size(opts) as f64;
    check_bytes(
        &format!(
            "AIS particle states ({} particles x {num_vars} variables)",
            opts.particles
        ),
        live * (num_vars as f64 * 8.0 + 64.0) + opts.particles as f64 * 8.0,
        opts.memory_limit,
    )?;
    check_bytes(
        &format!("the AIS path ({} steps)", opts.steps),
        (opts.steps as f64 + 1.0) * 48.0,
        opts.memory_limit,
    )?;
    let work = opts.particles as f64 * opts.steps as f64 * opts.sweeps as f64 * num_vars as f64;
    if opts.time_limit.is_none() && work > MAX_UPDATES {
        return Err(Error::InvalidArgument(format!(
            "AIS with {} particles x {} steps x {} sweeps over {num_vars} variables would make \
             {work:.2e} single-site updates (years of computing); ask for less, or give a time \
             limit",
            opts.particles, opts.steps, opts.sweeps
        )));
    }
    if opts.particles < 2 {
        return Err(Error::InvalidArgument(
            "AIS needs at least 2 particles (for a standard error)".into(),
        ));
    }
    if opts.steps == 0 {
        return Err(Error::InvalidArgument("AIS needs at least 1 step".into()));
    }
    if let Some(r) = &opts.particle_range {
        if r.start >= r.end || r.end > opts.particles {
            return Err(Error::InvalidArgument(format!(
                "the particle range {}..{} must be a non-empty part of 0..{} (the particles of \
                 the whole run)",
                r.start, r.end, opts.particles
            )));
        }
        if opts.time_limit.is_some() {
            return Err(Error::InvalidArgument(
                "a shard (a particle range) cannot have a time limit: a time-limited run \
                 depends on the machine's speed, so shards would not add up to one run; give \
                 --particles and --steps instead"
                    .into(),
            ));
        }
    }
    if opts.replicates == 0 || opts.replicates > opts.particles {
        return Err(Error::InvalidArgument(format!(
            "replicates must be between 1 and the number of particles ({}), got {}",
            opts.particles, opts.replicates
        )));
    }
    match opts.schedule {
        Schedule::Sigmoid { delta } if !(delta > 0.0 && delta.is_finite()) => {
            Err(Error::InvalidArgument(format!(
                "the sigmoid schedule needs a positive finite delta, got {delta}"
            )))
        }
        Schedule::Adaptive { target_cess } if !(target_cess > 0.0 && target_cess < 1.0) => {
            Err(Error::InvalidArgument(format!(
                "the adaptive schedule needs a target conditional ESS in (0, 1), got {target_cess}"
            )))
        }
        _ => Ok(()),
    }
}

/// Most particles a time-limited run takes (it stops earlier when the budget is spent).
const MAX_TIMED_PARTICLES: usize = 1 << 20;
/// Most single-site updates an AIS run without a time limit may ask for (about three years at
/// 10^8 updates per second): more is refused as a mistaken option value.
const MAX_UPDATES: f64 = 1e16;
/// Particles per batch of a time-limited run.
const TIMED_BATCH: usize = 32;

/// Common set-up of forward and reverse runs: the path, and the pilot's updates. With a time
/// limit, the number of steps is raised (never lowered) so that all particles should take
/// about [`FIT_SHARE`] of what is left of the limit, judged from a timing probe.
fn prepare(
    fg: &FactorGraph,
    ev: &Evidence,
    opts: &AisOptions,
    setup: &PathSetup,
    deadline: Deadline,
) -> Result<(Vec<Point>, u64)> {
    let mut kernels = Kernels::new(fg, ev, setup, opts.kernel, false);
    // the pilot may take at most a quarter of the budget (then the sigmoid spacing is used)
    let (curve, mut updates) = choose_path(fg, setup, &mut kernels, opts, deadline.share(0.25))?;
    let mut steps = opts.steps;
    if let Some(limit) = deadline.remaining() {
        // probe: a few transitions of a few particles at the middle of the path
        let zeros = setup.fac_min.is_some();
        // a batch of the size the run uses, so that per-step overheads are measured too
        let probe_n = TIMED_BATCH;
        let mut rngs: Vec<_> = (0..probe_n)
            .map(|i| chain_rng(opts.seed, PILOT_STREAM + 1000 + i as u64))
            .collect();
        let xs = rngs.iter_mut().map(|r| setup.draw(r)).collect();
        let mut sw = Swarm {
            xs,
            rngs,
            lw: vec![0.0; probe_n],
            updates: 0,
        };
        let at = point(0.25, zeros);
        sw.transition(&mut kernels, at, opts.sweeps, None)?; // builds the kernel
        let tp = Instant::now();
        let mut rounds = 0usize;
        while (rounds < 4 && !deadline.passed())
            || (tp.elapsed().as_secs_f64() < 0.05 && rounds < 1000)
        {
            let parts = sw.parts(setup, fg);
            sw.reweight(&parts, at, at);
            sw.transition(&mut kernels, at, opts.sweeps, None)?;
            rounds += 1;
        }
        updates += sw.updates;
        // seconds per particle-step with all threads busy
        let per = tp.elapsed().as_secs_f64() / (rounds.max(1) * probe_n) as f64;
        let left = limit.as_secs_f64() - tp.elapsed().as_secs_f64();
        if left > 0.0 && per > 0.0 {
            // raised to use the budget, or lowered (to at least MIN_FITTED_STEPS) so that the
            // requested particles can finish within it
            let fit = |share: f64| (share * left / (per * opts.particles as f64)) as usize;
            if fit(FIT_SHARE) >= steps {
                steps = fit(FIT_SHARE).min(MAX_FITTED_STEPS).max(steps);
            } else if fit(LOWER_SHARE) < steps {
                steps = fit(LOWER_SHARE).max(MIN_FITTED_STEPS).min(steps);
            }
        } else {
            steps = steps.min(MIN_FITTED_STEPS);
        }
    }
    let ts = match curve {
        Some(c) => resample(&c, steps),
        None => {
            let sched = match opts.schedule {
                Schedule::Adaptive { .. } => Schedule::Sigmoid { delta: 4.0 },
                s => s,
            };
            schedule_betas(sched, steps)
        }
    };
    let zeros = setup.fac_min.is_some();
    Ok((ts.iter().map(|&t| point(t, zeros)).collect(), updates))
}

/// Batch size between time-limit checks: all particles without a limit, else 32 (fixed, so
/// the particles that run do not depend on the number of threads).
fn batch_size(opts: &AisOptions) -> usize {
    if opts.time_limit.is_some() {
        TIMED_BATCH
    } else {
        opts.particles
    }
}

/// Annealed importance sampling estimate of ln Z of `fg` under `ev` (for a Bayesian network,
/// ln P(evidence) of its factor graph). See the module docs.
///
/// Models with zero entries are annealed in two phases: first towards the model with every
/// zero softened to a finite penalty, then the penalty is raised, and the last step makes the
/// zeros hard (particles still on a zero then get weight zero). The path stays exact: every
/// intermediate distribution is a proper (unnormalised) density whose normaliser AIS tracks.
///
/// Errors: invalid options; evidence that does not fit the model or makes a factor zero
/// everywhere; every particle ending on a zero-probability state (the error suggests more
/// steps, or exact inference).
pub fn ais(
    fg: &FactorGraph,
    ev: &Evidence,
    opts: &AisOptions,
    progress: Option<Progress<'_>>,
) -> Result<AisResult> {
    validate(opts, fg.num_vars())?;
    let t0 = Instant::now();
    let deadline = Deadline::from(t0, opts.time_limit);
    let setup = PathSetup::new(fg, ev, opts.base, opts.kernel, opts.time_limit)?;
    let (path, pilot_updates) = prepare(fg, ev, opts, &setup, deadline)?;
    let k = path.len() - 1;
    let checkpoints = if opts.diagnostics {
        checkpoint_steps(k)
    } else {
        Vec::new()
    };
    let mut kernels = Kernels::new(fg, ev, &setup, opts.kernel, false);
    let mut log_weights: Vec<f64> = Vec::with_capacity(opts.particles);
    let mut cp_weights: Vec<Vec<f64>> = vec![Vec::new(); checkpoints.len()];
    let mut updates = pilot_updates;
    let range = opts.particle_range.clone().unwrap_or(0..opts.particles);
    let bs = batch_size(opts).min(range.len());
    let mut start = range.start;
    let run_start = Instant::now();
    let mut batches = 0u32;
    let wanted = |start: usize, batches: u32| match opts.time_limit {
        None => start < range.end,
        Some(tl) => {
            let elapsed = t0.elapsed();
            if start < opts.particles {
                // the minimum, unless the budget is already spent
                elapsed < tl
            } else {
                // more particles while the next batch should fit in the budget
                let per_batch = run_start.elapsed() / batches.max(1);
                start < MAX_TIMED_PARTICLES && elapsed + per_batch <= tl
            }
        }
    };
    // a batch still running when the deadline passes is dropped whole (its particles have not
    // reached the model), so the estimate uses finished particles only
    let mut cut = false;
    'batches: while wanted(start, batches) {
        let end = if start < range.end {
            (start + bs).min(range.end)
        } else {
            start + bs
        };
        let mut rngs: Vec<_> = (start..end)
            .map(|i| chain_rng(opts.seed, i as u64))
            .collect();
        let xs = rngs.iter_mut().map(|r| setup.draw(r)).collect();
        let mut sw = Swarm {
            xs,
            rngs,
            lw: vec![0.0; end - start],
            updates: 0,
        };
        let mut next_cp = 0;
        for step in 1..=k {
            if deadline.passed() {
                cut = true;
                break 'batches;
            }
            let parts = sw.parts(&setup, fg);
            sw.reweight(&parts, path[step - 1], path[step]);
            if step < k {
                sw.transition(&mut kernels, path[step], opts.sweeps, progress)?;
            }
            if next_cp < checkpoints.len() && checkpoints[next_cp] == step {
                cp_weights[next_cp].extend_from_slice(&sw.lw);
                next_cp += 1;
            }
        }
        updates += sw.updates;
        log_weights.extend(sw.lw);
        start = end;
        batches += 1;
    }
    cut |= log_weights.len() < range.len() || k < opts.steps;
    if log_weights.len() < 2 && opts.particle_range.is_none() {
        return Err(Error::TimeLimit {
            what: format!(
                "two AIS particles could finish ({k} steps of a batch of {bs} particles did not \
                 fit)"
            ),
            limit_seconds: opts.time_limit.map_or(0.0, |t| t.as_secs_f64()),
        });
    }
    for w in cp_weights.iter_mut() {
        w.truncate(log_weights.len());
    }
    let dead = log_weights
        .iter()
        .filter(|l| **l == f64::NEG_INFINITY)
        .count();
    if dead == log_weights.len() && opts.particle_range.is_none() {
        return Err(Error::AllWeightsZero {
            method: "AIS",
            count: log_weights.len(),
            what: "particles",
            hint: "they ended on states of probability zero (the model's zeros separate \
                   regions the sampler could not reach); try more steps or particles, or exact \
                   inference if the width allows"
                .into(),
        });
    }
    let (log_z, std_err, ess, log_weight_var, mean_log_weight) = weight_stats(&log_weights);
    let replicate_log_z = replicates(&log_weights, opts.replicates);
    let per_temperature = checkpoints
        .iter()
        .zip(&cp_weights)
        .map(|(&step, lw)| {
            let (lz, _, ess, lvar, _) = weight_stats(lw);
            TemperatureDiag {
                beta: path[step].beta,
                log_z: lz,
                ess,
                log_weight_var: lvar,
            }
        })
        .collect();
    Ok(AisResult {
        log_z,
        std_err,
        ess,
        log_weight_var,
        mean_log_weight,
        log_weights,
        dead,
        replicate_log_z,
        betas: path.iter().map(|p| p.beta).collect(),
        per_temperature,
        base: setup.base,
        kernel: setup.kernel(opts.kernel),
        updates,
        seconds: t0.elapsed().as_secs_f64(),
        time_limited: cut,
        reverse: false,
    })
}

/// Reverse AIS from exact draws of the model: each state in `exact` (one per particle, cycled
/// if there are fewer states than particles) runs the path from the model back to the base
/// with a reversible (random-scan) kernel. `log_z` of the result is `-ln mean(w_rev)`, a
/// stochastic upper bound on ln Z in expectation. The path (schedule, base) is the one [`ais`]
/// uses with the same options.
///
/// Errors: as [`ais`]; a state that does not fit the model or evidence, or has probability
/// zero.
pub fn reverse_ais(
    fg: &FactorGraph,
    ev: &Evidence,
    opts: &AisOptions,
    exact: &[Vec<usize>],
    progress: Option<Progress<'_>>,
) -> Result<AisResult> {
    validate(opts, fg.num_vars())?;
    if exact.is_empty() {
        return Err(Error::InvalidArgument(
            "reverse AIS needs at least one exact sample of the model".into(),
        ));
    }
    let t0 = Instant::now();
    let deadline = Deadline::from(t0, opts.time_limit);
    let setup = PathSetup::new(fg, ev, opts.base, opts.kernel, opts.time_limit)?;
    let cards = fg.cards();
    for (j, x) in exact.iter().enumerate() {
        let ok = x.len() == cards.len()
            && x.iter().zip(&cards).all(|(s, c)| s < c)
            && ev.iter().all(|(v, s)| x[v.index()] == s);
        if !ok || fg.log_potential(x) == f64::NEG_INFINITY {
            return Err(Error::InvalidArgument(format!(
                "exact sample {j} does not fit the model and evidence or has probability zero"
            )));
        }
    }
    let (path, pilot_updates) = prepare(fg, ev, opts, &setup, deadline)?;
    let k = path.len() - 1;
    let mut kernels = Kernels::new(fg, ev, &setup, opts.kernel, true);
    let mut log_weights: Vec<f64> = Vec::with_capacity(opts.particles);
    let mut updates = pilot_updates;
    let range = opts.particle_range.clone().unwrap_or(0..opts.particles);
    let bs = batch_size(opts).min(range.len());
    let mut start = range.start;
    let mut cut = false;
    'batches: while start < range.end {
        let end = (start + bs).min(range.end);
        let rngs: Vec<_> = (start..end)
            .map(|i| chain_rng(opts.seed, REVERSE_STREAM + i as u64))
            .collect();
        let xs = (start..end)
            .map(|i| exact[i % exact.len()].clone())
            .collect();
        let mut sw = Swarm {
            xs,
            rngs,
            lw: vec![0.0; end - start],
            updates: 0,
        };
        for step in (1..=k).rev() {
            if deadline.passed() {
                cut = true;
                break 'batches;
            }
            let parts = sw.parts(&setup, fg);
            sw.reweight(&parts, path[step], path[step - 1]);
            if step > 1 {
                sw.transition(&mut kernels, path[step - 1], opts.sweeps, progress)?;
            }
        }
        updates += sw.updates;
        log_weights.extend(sw.lw);
        start = end;
        if deadline.passed() {
            break;
        }
    }
    cut |= log_weights.len() < range.len() || k < opts.steps;
    if log_weights.len() < 2 && opts.particle_range.is_none() {
        return Err(Error::TimeLimit {
            what: format!(
                "two reverse-AIS particles could finish ({k} steps of a batch of {bs} particles \
                 did not fit)"
            ),
            limit_seconds: opts.time_limit.map_or(0.0, |t| t.as_secs_f64()),
        });
    }
    let (lme, std_err, ess, log_weight_var, mean_log_weight) = weight_stats(&log_weights);
    let replicate_log_z = replicates(&log_weights, opts.replicates)
        .into_iter()
        .map(|l| -l)
        .collect();
    Ok(AisResult {
        log_z: -lme,
        std_err,
        ess,
        log_weight_var,
        mean_log_weight,
        log_weights,
        dead: 0,
        replicate_log_z,
        betas: path.iter().map(|p| p.beta).collect(),
        per_temperature: Vec::new(),
        base: setup.base,
        kernel: setup.kernel(opts.kernel),
        updates,
        seconds: t0.elapsed().as_secs_f64(),
        time_limited: cut,
        reverse: true,
    })
}

/// Bidirectional Monte Carlo: forward AIS and reverse AIS from `exact` draws (or, when
/// `exact` is `None`, from [`exact_samples`] with the same seed, which needs the width to fit).
pub fn bdmc(
    fg: &FactorGraph,
    ev: &Evidence,
    opts: &AisOptions,
    exact: Option<&[Vec<usize>]>,
    progress: Option<Progress<'_>>,
) -> Result<Bdmc> {
    let t0 = Instant::now();
    let deadline = Deadline::from(t0, opts.time_limit);
    let owned;
    let exact = match exact {
        Some(e) => e,
        None => {
            owned = exact_samples_until(
                fg,
                ev,
                opts.particles,
                opts.seed,
                &crate::infer::exact::ExactOptions::default(),
                deadline.share(0.2),
            )?;
            &owned
        }
    };
    // with a time limit, the forward run gets half of what is left and the reverse run the rest
    let forward = ais(fg, ev, &opts.with_deadline(deadline.share(0.5)), progress)?;
    let reverse = reverse_ais(fg, ev, &opts.with_deadline(deadline), exact, progress)?;
    Ok(Bdmc {
        lower: forward.log_z,
        upper: reverse.log_z,
        forward,
        reverse,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
