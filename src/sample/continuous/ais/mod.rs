//! Annealed importance sampling (Neal 2001) of `ln Z = ln ∫ p~(x) dx` for a continuous
//! [`Energy`], and reverse AIS from exact samples (a stochastic upper bound).
//!
//! The path is geometric, `ln f_beta = (1 - beta) ln p0 + beta ln p~`, from the normalised base
//! `p0 = N(m, s^2 I)` ([`IsotropicGaussian`], exact draws) to the target. A particle starts with
//! an exact draw from `p0`; at step `k` it gains `(beta_k - beta_{k-1}) (ln p~(x) - ln p0(x))`
//! and then makes `moves` HMC (default) or MALA transitions leaving `f_{beta_k}` invariant. The
//! mean of the weights is an unbiased estimate of `Z`; the reported `log_z` is the log-mean-exp
//! of the log weights with its delta-method standard error, and the Kish ESS of the weights.
//!
//! **Step sizes.** A pilot run (`pilot_particles` particles on their own RNG streams) walks the
//! same path and tunes the step size at each temperature towards `target_accept` (a
//! multiplicative Robbins–Monro rule, `ln eps += accept - target`); the resulting schedule is
//! then fixed for the main run, so each main-run kernel leaves its `f_beta` invariant and the
//! estimate stays unbiased.
//!
//! **Reverse AIS** ([`continuous_reverse_ais`]) starts from exact draws of the normalised target
//! (e.g. [`crate::gaussian::Gmrf::sample`]) and walks the path backwards; the mean of its
//! weights estimates `1 / Z`, so `-ln mean(w)` is a stochastic upper bound on `ln Z` in
//! expectation, as the forward estimate is a stochastic lower bound (Jensen).
//!
//! Particles run in parallel (rayon), each from its own stream `chain_rng(seed, i)`, so results
//! are bit-identical for any number of threads. Cost: `O(N K (1 + moves * L))` gradient
//! evaluations for N particles, K steps and L leapfrog steps (1 for MALA), plus the pilot.

use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::{
    Energy, Hmc, HmcOptions, IsotropicGaussian, Mala, MalaOptions, PointMut, RandomWalk,
    RandomWalkOptions, TemperedMove,
};
use crate::error::{Error, Result};
use crate::estimate::LogZEstimate;
use crate::limits::Deadline;
use crate::rng::{chain_rng, EngineRng};
use crate::sample::anneal::weights::weight_stats;
use crate::sample::anneal::Schedule;
use crate::sample::chains::Progress;

mod pilot;
use pilot::{fitted_steps, pilot};

/// Stream offset of the pilot particles.
const PILOT_STREAM: u64 = 1 << 40;
/// Stream offset of reverse-AIS particles.
const REVERSE_STREAM: u64 = 1 << 41;

/// The transition made at each temperature: one of the kernels with a [`TemperedMove`]. A new
/// kernel is a variant here and an arm in `with_kernel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AisMove {
    /// Hamiltonian Monte Carlo ([`Hmc`]) with this many leapfrog steps (the default, 3: on
    /// annealing paths many temperatures with short trajectories beat few with long ones at
    /// equal cost).
    Hmc {
        /// Leapfrog steps per transition.
        leapfrog_steps: usize,
    },
    /// MALA ([`Mala`], one gradient per transition).
    Mala,
    /// Random-walk Metropolis ([`RandomWalk`], one density evaluation per transition; no
    /// gradient is used by the moves).
    RandomWalk,
}

impl Default for AisMove {
    fn default() -> Self {
        AisMove::Hmc { leapfrog_steps: 3 }
    }
}

/// Options of [`continuous_ais`] and [`continuous_reverse_ais`].
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuousAisOptions {
    /// Particles N (default 128).
    pub particles: usize,
    /// Intermediate distributions K (default 1000).
    pub steps: usize,
    /// Transitions per intermediate distribution (default 1).
    pub moves: usize,
    /// Transition kernel (default HMC with 3 leapfrog steps).
    pub kernel: AisMove,
    /// Initial step size of the pilot (`None`: half the base standard deviation).
    pub step_size: Option<f64>,
    /// Acceptance probability the pilot aims at (`None`: the kernel's default, 0.8 for HMC,
    /// 0.574 for MALA, 0.234 for the random walk).
    pub target_accept: Option<f64>,
    /// Pilot particles (default 16; 0 = no pilot, the initial step size everywhere).
    pub pilot_particles: usize,
    /// Place the betas at equal steps of the thermodynamic length measured by the pilot
    /// (default true; needs `pilot_particles > 0`, else `schedule` is used).
    pub adaptive_schedule: bool,
    /// Spacing of the betas when `adaptive_schedule` is off (default sigmoid with delta 4;
    /// [`Schedule::Adaptive`] is for discrete models and is refused).
    pub schedule: Schedule,
    /// Mean of the base `N(m, s^2 I)` (`None`: zeros).
    pub base_mean: Option<Vec<f64>>,
    /// Standard deviation `s` of the base (default 1).
    pub base_sd: f64,
    /// Seed: particle i draws from `chain_rng(seed, i)`.
    pub seed: u64,
    /// Time budget, a hard deadline for the whole call (pilot included). The pilot may use a
    /// quarter of it (when cut, the fixed `schedule` is used with the step sizes tuned so far);
    /// particles then run in batches of 32, and a batch the deadline interrupts is dropped
    /// whole, so the estimate uses finished particles only and
    /// [`ContinuousAisResult::time_limited`] says so. Fewer than two finished particles is
    /// [`Error::TimeLimit`]. `None` (default): exactly `particles`.
    pub time_limit: Option<Duration>,
}

impl Default for ContinuousAisOptions {
    fn default() -> Self {
        ContinuousAisOptions {
            particles: 128,
            steps: 1000,
            moves: 1,
            kernel: AisMove::default(),
            step_size: None,
            target_accept: None,
            pilot_particles: 16,
            adaptive_schedule: true,
            schedule: Schedule::Sigmoid { delta: 4.0 },
            base_mean: None,
            base_sd: 1.0,
            seed: 0,
            time_limit: None,
        }
    }
}

/// The result of [`continuous_ais`] or [`continuous_reverse_ais`].
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuousAisResult {
    /// Forward: log-mean-exp of the log weights (a stochastic lower bound in expectation).
    /// Reverse: minus the log-mean-exp of the reverse log weights (a stochastic upper bound).
    pub log_z: f64,
    /// Delta-method standard error of `log_z`.
    pub std_err: f64,
    /// Kish effective sample size of the weights.
    pub ess: f64,
    /// Variance of the log weights.
    pub log_weight_var: f64,
    /// Mean of the log weights (forward: a lower bound on `ln Z` in expectation; reverse: minus
    /// an upper bound).
    pub mean_log_weight: f64,
    /// Log weight of every particle, in particle order.
    pub log_weights: Vec<f64>,
    /// The betas (K + 1 values from 0 to 1).
    pub betas: Vec<f64>,
    /// Step size used at each beta (index k for the transitions at `betas[k]`).
    pub step_sizes: Vec<f64>,
    /// Mean acceptance probability of the main run's transitions.
    pub acceptance_rate: f64,
    /// Whether this is a reverse run.
    pub reverse: bool,
    /// Gradient evaluations (pilot included).
    pub evals: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Whether the time limit cut the run (pilot or particles): `log_weights.len()` particles
    /// finished, fewer than asked.
    pub time_limited: bool,
}

impl ContinuousAisResult {
    /// As a [`LogZEstimate`]: forward, a stochastic estimate; reverse, a stochastic upper
    /// bound (`upper` with its standard error).
    pub fn estimate(&self) -> LogZEstimate {
        LogZEstimate::annealed(self.log_z, self.std_err, self.ess, self.reverse)
    }
}

/// `ln f_beta` between the isotropic base and the target, with the gradient computed in place.
struct Bridge<'a, E: ?Sized> {
    base: &'a IsotropicGaussian,
    target: &'a E,
    beta: f64,
}

impl<E: Energy + ?Sized> Energy for Bridge<'_, E> {
    fn dim(&self) -> usize {
        self.target.dim()
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        self.beta * self.target.log_density(x) + (1.0 - self.beta) * self.base.log_density(x)
    }
    fn grad_log_density(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let lt = self.target.grad_log_density(x, grad);
        let s2 = self.base.sd() * self.base.sd();
        for ((g, xi), m) in grad.iter_mut().zip(x).zip(self.base.mean()) {
            *g = self.beta * *g - (1.0 - self.beta) * (xi - m) / s2;
        }
        self.beta * lt + (1.0 - self.beta) * self.base.log_density(x)
    }
}

/// What every particle shares: the base, the kernel over the target, the pilot's first step
/// size and the acceptance it aims at.
struct Setup<K> {
    base: IsotropicGaussian,
    kernel: K,
    eps0: f64,
    target_accept: f64,
}

/// What to do with the kernel `opts.kernel` selects ([`with_kernel`] builds it).
trait Job {
    type Out;
    fn run<K: TemperedMove>(self, s: Setup<K>) -> Result<Self::Out>;
}

/// Check the options, build the base and the kernel `opts.kernel` over `target`, and run `job`
/// with them: the one place the AIS kernels are listed.
fn with_kernel<E: Energy + ?Sized, J: Job>(
    target: &E,
    opts: &ContinuousAisOptions,
    job: J,
) -> Result<J::Out> {
    let base = check(target, opts)?;
    let eps0 = opts.step_size.unwrap_or(0.5 * opts.base_sd);
    super::check_step_size(eps0)?;
    let accept = |default: f64| -> Result<f64> {
        let a = opts.target_accept.unwrap_or(default);
        super::check_target_accept(a)?;
        Ok(a)
    };
    fn setup<K>(base: IsotropicGaussian, kernel: K, eps0: f64, target_accept: f64) -> Setup<K> {
        Setup {
            base,
            kernel,
            eps0,
            target_accept,
        }
    }
    match opts.kernel {
        AisMove::Hmc { leapfrog_steps } => {
            let o = HmcOptions {
                leapfrog_steps,
                ..HmcOptions::default()
            };
            let a = accept(o.target_accept)?;
            job.run(setup(base, Hmc::new(target, o)?, eps0, a))
        }
        AisMove::Mala => {
            let o = MalaOptions::default();
            let a = accept(o.target_accept)?;
            job.run(setup(base, Mala::new(target, o)?, eps0, a))
        }
        AisMove::RandomWalk => {
            let o = RandomWalkOptions::default();
            let a = accept(o.target_accept)?;
            job.run(setup(base, RandomWalk::new(target, o)?, eps0, a))
        }
    }
}

/// Check the options against the target; returns the base.
fn check<E: Energy + ?Sized>(target: &E, opts: &ContinuousAisOptions) -> Result<IsotropicGaussian> {
    let n = target.dim();
    if n == 0 {
        return Err(Error::InvalidArgument("the target has dimension 0".into()));
    }
    if opts.particles == 0 || opts.steps == 0 {
        return Err(Error::InvalidArgument(format!(
            "AIS needs at least one particle and one step (got {} and {})",
            opts.particles, opts.steps
        )));
    }
    crate::limits::check_bytes(
        &format!(
            "AIS particles ({} particles x {n} dimensions)",
            opts.particles
        ),
        opts.particles as f64 * (n as f64 * 32.0 + 64.0),
        crate::limits::default_memory_limit(),
    )?;
    crate::limits::check_bytes(
        &format!("the AIS path ({} steps)", opts.steps),
        (opts.steps as f64 + 1.0) * 32.0,
        crate::limits::default_memory_limit(),
    )?;
    let work = opts.particles as f64 * opts.steps as f64 * opts.moves.max(1) as f64 * n as f64;
    if work > 1e15 {
        return Err(Error::InvalidArgument(format!(
            "AIS with {} particles x {} steps in {n} dimensions would take {work:.2e} gradient \
             coordinates (years of computing); ask for less",
            opts.particles, opts.steps
        )));
    }
    if let AisMove::Hmc { leapfrog_steps: 0 } = opts.kernel {
        return Err(Error::InvalidArgument(
            "HMC needs at least one leapfrog step".into(),
        ));
    }
    if let Schedule::Adaptive { .. } = opts.schedule {
        return Err(Error::InvalidArgument(
            "the adaptive schedule is for discrete models; use Linear or Sigmoid".into(),
        ));
    }
    let mean = match &opts.base_mean {
        None => vec![0.0; n],
        Some(m) if m.len() != n => {
            return Err(Error::DimensionMismatch {
                what: "AIS base mean".into(),
                expected: n,
                found: m.len(),
            })
        }
        Some(m) => m.clone(),
    };
    IsotropicGaussian::new(mean, opts.base_sd)
}

/// One particle walking `betas` (increasing for forward, decreasing for reverse).
struct Particle<S> {
    x: Vec<f64>,
    lw: f64,
    accept: f64,
    evals: u64,
    grad_t: Vec<f64>,
    grad: Vec<f64>,
    scratch: S,
    rng: EngineRng,
}

impl<S: Default> Particle<S> {
    fn new(x: Vec<f64>, rng: EngineRng) -> Self {
        let n = x.len();
        Particle {
            x,
            lw: 0.0,
            accept: 0.0,
            evals: 0,
            grad_t: vec![0.0; n],
            grad: vec![0.0; n],
            scratch: S::default(),
            rng,
        }
    }

    /// Step `k` of the path: weight increment from `betas[k-1]` to `betas[k]`, then (unless
    /// `k` is the last step) `moves` transitions of the kernel at `betas[k]` with step size
    /// `eps`.
    #[allow(clippy::too_many_arguments)]
    fn advance<E: Energy + ?Sized, K: TemperedMove<Scratch = S>>(
        &mut self,
        target: &E,
        s: &Setup<K>,
        b_prev: f64,
        b: f64,
        last: bool,
        eps: f64,
        moves: usize,
    ) -> f64 {
        let base = &s.base;
        let lt = target.grad_log_density(&self.x, &mut self.grad_t);
        self.evals += 1;
        let lb = base.log_density(&self.x);
        let g = lt - lb;
        if !g.is_finite() {
            self.lw = f64::NEG_INFINITY;
        }
        if self.lw == f64::NEG_INFINITY {
            return g;
        }
        self.lw += (b - b_prev) * g;
        if last {
            return g;
        }
        let bridge = Bridge {
            base,
            target,
            beta: b,
        };
        let s2 = base.sd() * base.sd();
        for ((gr, (gt, xi)), m) in self
            .grad
            .iter_mut()
            .zip(self.grad_t.iter().zip(&self.x))
            .zip(base.mean())
        {
            *gr = b * gt - (1.0 - b) * (xi - m) / s2;
        }
        let mut ld = b * lt + (1.0 - b) * lb;
        for _ in 0..moves {
            let at = PointMut {
                x: &mut self.x,
                ld: &mut ld,
                grad: &mut self.grad,
            };
            let st = s
                .kernel
                .tempered_step(&bridge, at, eps, &mut self.scratch, &mut self.rng);
            self.accept += st.accept_prob;
            self.evals += st.evals;
        }
        g
    }
}

/// Particles per batch when a time limit is set (a batch the deadline cuts is dropped whole).
const TIMED_BATCH: usize = 32;

/// Run the particles along `betas` (with the step sizes `eps[k]` for transitions at
/// `betas[k]`), each starting from `start(rng)`. Under a deadline the particles run in batches
/// of [`TIMED_BATCH`]; the batch the deadline interrupts and every later one are dropped.
/// Returns `(log weight, acceptance sum, evaluations)` of the finished particles and whether
/// the deadline cut the run.
#[allow(clippy::too_many_arguments)]
fn run_particles<E, K, S>(
    target: &E,
    s: &Setup<K>,
    betas: &[f64],
    eps: &[f64],
    opts: &ContinuousAisOptions,
    stream0: u64,
    start: S,
    progress: Option<Progress<'_>>,
    deadline: Deadline,
) -> (Vec<(f64, f64, u64)>, bool)
where
    E: Energy + ?Sized,
    K: TemperedMove,
    S: Fn(&mut EngineRng) -> Vec<f64> + Sync,
{
    let k = betas.len() - 1;
    let one = |i: usize| -> Option<(f64, f64, u64)> {
        let mut rng = chain_rng(opts.seed, stream0 + i as u64);
        let x = start(&mut rng);
        let mut p = Particle::<K::Scratch>::new(x, rng);
        for step in 1..=k {
            if deadline.passed() {
                return None;
            }
            let (b0, b1) = (betas[step - 1], betas[step]);
            p.advance(target, s, b0, b1, step == k, eps[step], opts.moves);
        }
        if let Some(pr) = progress {
            pr(1);
        }
        Some((p.lw, p.accept, p.evals))
    };
    if !deadline.is_set() {
        let out = (0..opts.particles)
            .into_par_iter()
            .map(|i| one(i).expect("no deadline"))
            .collect();
        return (out, false);
    }
    let mut out = Vec::with_capacity(opts.particles);
    let mut begin = 0;
    while begin < opts.particles {
        let end = (begin + TIMED_BATCH).min(opts.particles);
        let batch: Option<Vec<_>> = (begin..end).into_par_iter().map(one).collect();
        match batch {
            Some(b) => out.extend(b),
            None => return (out, true),
        }
        begin = end;
    }
    (out, false)
}

#[allow(clippy::too_many_arguments)]
fn finish(
    out: Vec<(f64, f64, u64)>,
    betas: Vec<f64>,
    step_sizes: Vec<f64>,
    opts: &ContinuousAisOptions,
    pilot_evals: u64,
    reverse: bool,
    t0: Instant,
    time_limited: bool,
) -> Result<ContinuousAisResult> {
    if out.len() < 2 && time_limited {
        return Err(Error::TimeLimit {
            what: format!(
                "two AIS particles could finish ({} steps; ask for fewer steps)",
                betas.len() - 1
            ),
            limit_seconds: opts.time_limit.map_or(0.0, |t| t.as_secs_f64()),
        });
    }
    let log_weights: Vec<f64> = out.iter().map(|o| o.0).collect();
    if log_weights.iter().all(|l| *l == f64::NEG_INFINITY) {
        return Err(Error::AllWeightsZero {
            method: "continuous AIS",
            count: log_weights.len(),
            what: "particles",
            hint: "every one reached a point where the target's log density is not finite; \
                   check the energy, or move the base (base_mean, base_sd) onto its support"
                .into(),
        });
    }
    let (lme, std_err, ess, log_weight_var, mean_log_weight) = weight_stats(&log_weights);
    let k = betas.len() - 1;
    let transitions = (out.len() * (k.saturating_sub(1)) * opts.moves) as f64;
    Ok(ContinuousAisResult {
        log_z: if reverse { -lme } else { lme },
        std_err,
        ess,
        log_weight_var,
        mean_log_weight,
        log_weights,
        betas,
        step_sizes,
        acceptance_rate: if transitions > 0.0 {
            out.iter().map(|o| o.1).sum::<f64>() / transitions
        } else {
            0.0
        },
        reverse,
        evals: out.iter().map(|o| o.2).sum::<u64>() + pilot_evals,
        seconds: t0.elapsed().as_secs_f64(),
        time_limited,
    })
}

/// Forward AIS estimate of `ln Z` of `target` (see the module docs). `progress` is called with
/// 1 as each particle finishes.
///
/// Errors: zero particles or steps, an adaptive schedule, a base of the wrong dimension or with
/// `base_sd <= 0`, a bad step size or target acceptance, every particle dying (log density not
/// finite).
///
/// ```
/// use pgmkit::sample::continuous::{continuous_ais, ContinuousAisOptions, FnEnergy};
/// // p~(x) = exp(-|x|^2 / 2) in 3 dimensions: ln Z = 1.5 ln(2π)
/// let e = FnEnergy::new(3, |x: &[f64]| -0.5 * x.iter().map(|v| v * v).sum::<f64>(),
///     |x: &[f64], g: &mut [f64]| {
///         for (g, v) in g.iter_mut().zip(x) { *g = -v; }
///         -0.5 * x.iter().map(|v| v * v).sum::<f64>()
///     }).unwrap();
/// let opts = ContinuousAisOptions { particles: 32, steps: 20, base_sd: 2.0, ..Default::default() };
/// let r = continuous_ais(&e, &opts, None).unwrap();
/// assert!((r.log_z - 1.5 * (2.0 * std::f64::consts::PI).ln()).abs() < 5.0 * r.std_err + 0.05);
/// ```
pub fn continuous_ais<E: Energy + ?Sized>(
    target: &E,
    opts: &ContinuousAisOptions,
    progress: Option<Progress<'_>>,
) -> Result<ContinuousAisResult> {
    let t0 = Instant::now();
    let job = Anneal {
        target,
        opts,
        exact: None::<fn(&mut EngineRng) -> Vec<f64>>,
        progress,
        t0,
    };
    with_kernel(target, opts, job)
}

/// Reverse AIS: each particle starts from an exact draw `exact(rng)` of the normalised target
/// and walks the path from beta = 1 to 0; `log_z` is minus the log-mean-exp of the reverse
/// weights, a stochastic upper bound on `ln Z` (see the module docs). The step sizes come from
/// the same forward pilot as [`continuous_ais`].
///
/// Errors: as [`continuous_ais`], and an exact draw of the wrong length.
pub fn continuous_reverse_ais<E, S>(
    target: &E,
    exact: S,
    opts: &ContinuousAisOptions,
    progress: Option<Progress<'_>>,
) -> Result<ContinuousAisResult>
where
    E: Energy + ?Sized,
    S: Fn(&mut EngineRng) -> Vec<f64> + Sync,
{
    let t0 = Instant::now();
    let job = Anneal {
        target,
        opts,
        exact: Some(exact),
        progress,
        t0,
    };
    with_kernel(target, opts, job)
}

/// One AIS run: forward from the base, or (with `exact`) reverse from exact draws of the
/// target. The step sizes come from the forward pilot either way.
struct Anneal<'a, E: ?Sized, S> {
    target: &'a E,
    opts: &'a ContinuousAisOptions,
    exact: Option<S>,
    progress: Option<Progress<'a>>,
    t0: Instant,
}

impl<E, S> Job for Anneal<'_, E, S>
where
    E: Energy + ?Sized,
    S: Fn(&mut EngineRng) -> Vec<f64> + Sync,
{
    type Out = ContinuousAisResult;

    fn run<K: TemperedMove>(self, s: Setup<K>) -> Result<ContinuousAisResult> {
        let (target, opts) = (self.target, self.opts);
        let deadline = Deadline::from(self.t0, opts.time_limit);
        if let Some(exact) = &self.exact {
            let mut r = chain_rng(opts.seed, REVERSE_STREAM.wrapping_sub(1));
            crate::error::check_dim(
                "exact draw for reverse AIS",
                target.dim(),
                exact(&mut r).len(),
            )?;
        }
        let pl = pilot(target, &s, opts, deadline.share(0.25));
        let k = fitted_steps(opts.steps, opts.particles, pl.per_particle_step, deadline);
        let (betas, eps) = pl.path(k, opts.schedule);
        let (out, cut) = match &self.exact {
            None => {
                let start = |rng: &mut EngineRng| s.base.sample(rng);
                let run = (&betas, &eps, 0, start);
                run_particles(
                    target,
                    &s,
                    run.0,
                    run.1,
                    opts,
                    run.2,
                    run.3,
                    self.progress,
                    deadline,
                )
            }
            Some(exact) => {
                let rb: Vec<f64> = betas.iter().rev().copied().collect();
                let reps: Vec<f64> = eps.iter().rev().copied().collect();
                let stream = REVERSE_STREAM;
                run_particles(
                    target,
                    &s,
                    &rb,
                    &reps,
                    opts,
                    stream,
                    exact,
                    self.progress,
                    deadline,
                )
            }
        };
        let cut = cut || pl.cut || k < opts.steps;
        let reverse = self.exact.is_some();
        finish(out, betas, eps, opts, pl.evals, reverse, self.t0, cut)
    }
}

/// The bidirectional Monte Carlo sandwich for a continuous target with exact samples: forward
/// AIS (a stochastic lower bound on `ln Z`) and reverse AIS (a stochastic upper bound), with the
/// same options (the reverse particles use their own streams). Returns `(forward, reverse)`;
/// the gap `reverse.log_z - forward.log_z` bounds the error of either in expectation.
pub fn continuous_bdmc<E, S>(
    target: &E,
    exact: S,
    opts: &ContinuousAisOptions,
) -> Result<(ContinuousAisResult, ContinuousAisResult)>
where
    E: Energy + ?Sized,
    S: Fn(&mut EngineRng) -> Vec<f64> + Sync,
{
    let deadline = Deadline::after(opts.time_limit);
    let forward = continuous_ais(
        target,
        &ContinuousAisOptions {
            time_limit: deadline.share(0.5).remaining(),
            ..opts.clone()
        },
        None,
    )?;
    let reverse = continuous_reverse_ais(
        target,
        exact,
        &ContinuousAisOptions {
            time_limit: deadline.remaining(),
            ..opts.clone()
        },
        None,
    )?;
    Ok((forward, reverse))
}
