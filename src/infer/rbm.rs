//! `ln Z` of a restricted Boltzmann machine by annealed importance sampling from a base-rate
//! model (Salakhutdinov & Murray, "On the quantitative analysis of deep belief networks", ICML
//! 2008).
//!
//! The path `p_β(v) ∝ exp((1-β) b_A·v + β b·v) Π_j (1 + exp(β (c_j + W_j v)))` runs from the
//! base-rate model (visible biases `b_A`, no weights: `Z_A = 2^H Π_i (1 + e^{b_A,i})`) at `β = 0`
//! to the machine at `β = 1`; each step is one block Gibbs sweep (`h | v`, then `v | h`) at the
//! new `β`. The default schedule is the paper's: 500 steps of 1e-3 to 0.5, 4 000 of 1e-4 to
//! 0.9, 10 000 of 1e-5 to 1 (14 500 in all). Particle `p` draws from `chain_rng(seed, p)`, so
//! the estimate does not depend on the number of threads.
//!
//! ```
//! use pgmkit::infer::rbm::{rbm_ais, RbmAisOptions};
//! use pgmkit::model::rbm::Rbm;
//! let w = vec![vec![0.5, -0.3, 0.8, 0.1], vec![-0.6, 0.4, 0.2, -0.9], vec![0.3, 0.3, -0.2, 0.5]];
//! let names = (0..4).map(|i| format!("v{i}")).collect();
//! let rbm = Rbm::new(names, vec![0.1, -0.2, 0.3, 0.0], vec![0.2, -0.1, 0.0], w).unwrap();
//! let exact = rbm.log_z_exact().unwrap();
//! let opts = RbmAisOptions { particles: 200, steps: Some(2000), seed: 1, ..Default::default() };
//! let est = rbm_ais(&rbm, &[0.0; 4], &opts).unwrap();
//! assert!((est.log_z - exact).abs() < 4.0 * est.std_err + 1e-3);
//! ```

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::estimate::LogZEstimate;
use crate::model::rbm::{sigmoid, softplus, Rbm};
use crate::num;
use crate::rng::{chain_rng, EngineRng};
use crate::sample::anneal::weights::weight_stats;

/// Options of [`rbm_ais`].
#[derive(Debug, Clone, PartialEq)]
pub struct RbmAisOptions {
    /// Particles (default 100, as the paper).
    pub particles: usize,
    /// Steps, linearly spaced (default `None`: the paper's 14 500-step schedule).
    pub steps: Option<usize>,
    /// Block Gibbs sweeps per step (default 1, as the paper).
    pub sweeps: usize,
    /// Sweeps of each chain that gives a reverse run its start state when exact draws do not
    /// fit ([`rbm_start_states`]; default 1000).
    pub start_sweeps: usize,
    /// Seed of the particles.
    pub seed: u64,
    /// Deadline (default none): particles run in batches of 16 and a batch starts only when
    /// the time left exceeds the longest batch so far (the first always runs); the result's
    /// `log_weights` say how many ran.
    pub deadline: crate::limits::Deadline,
}

impl Default for RbmAisOptions {
    fn default() -> Self {
        RbmAisOptions {
            particles: 100,
            steps: None,
            sweeps: 1,
            start_sweeps: 1000,
            seed: 0,
            deadline: crate::limits::Deadline::NONE,
        }
    }
}

/// Particles per batch under a deadline.
const BATCH: usize = 16;

/// `f(p)` for `p` in `0..n`, in parallel, in batches of [`BATCH`]; under `deadline` a batch
/// starts only when the time left exceeds the longest batch so far (the first always runs):
/// the values of the particles that ran, in order.
fn particles(
    n: usize,
    deadline: crate::limits::Deadline,
    f: impl Fn(usize) -> f64 + Sync,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    let mut longest = std::time::Duration::ZERO;
    for start in (0..n).step_by(BATCH) {
        if start > 0 && deadline.remaining().is_some_and(|left| left <= longest) {
            break;
        }
        let t = std::time::Instant::now();
        let end = (start + BATCH).min(n);
        out.par_extend((start..end).into_par_iter().map(&f));
        longest = longest.max(t.elapsed());
    }
    out
}

/// The result of [`rbm_ais`].
#[derive(Debug, Clone, PartialEq)]
pub struct RbmAisResult {
    /// The estimate of `ln Z` (log-mean-exp of the weights plus `ln Z_A`).
    pub log_z: f64,
    /// Its delta-method standard error.
    pub std_err: f64,
    /// Kish effective sample size of the weights.
    pub ess: f64,
    /// Log weight of every particle (without `ln Z_A`).
    pub log_weights: Vec<f64>,
    /// Steps of the path.
    pub steps: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Whether this is a reverse run ([`rbm_reverse_ais`]).
    pub reverse: bool,
}

impl RbmAisResult {
    /// As a [`LogZEstimate`]: forward, a stochastic estimate (a lower bound in expectation);
    /// reverse, a stochastic upper bound.
    pub fn estimate(&self) -> LogZEstimate {
        LogZEstimate::annealed(self.log_z, self.std_err, self.ess, self.reverse)
    }
}

/// The betas of the 2008 schedule.
fn paper_betas() -> Vec<f64> {
    let mut b = vec![0.0];
    let mut push = |to: f64, step: f64| {
        let from = *b.last().expect("starts at 0");
        let n = ((to - from) / step).round() as usize;
        for k in 1..=n {
            b.push(from + (to - from) * k as f64 / n as f64);
        }
    };
    push(0.5, 1e-3);
    push(0.9, 1e-4);
    push(1.0, 1e-5);
    b
}

/// Validate the base-rate biases and the options; the path's betas.
fn path(rbm: &Rbm, base_bias: &[f64], opts: &RbmAisOptions) -> Result<Vec<f64>> {
    crate::error::check_dim(
        "base-rate biases (one per visible unit)",
        rbm.num_visible(),
        base_bias.len(),
    )?;
    if let Some(x) = base_bias.iter().find(|x| !x.is_finite()) {
        return Err(Error::InvalidNumber {
            what: "a base-rate bias".into(),
            value: *x,
        });
    }
    if opts.particles == 0 || opts.steps == Some(0) || opts.sweeps == 0 {
        return Err(Error::InvalidArgument(
            "AIS needs at least one particle, one step and one sweep per step".into(),
        ));
    }
    Ok(match opts.steps {
        None => paper_betas(),
        Some(k) => (0..=k).map(|i| i as f64 / k as f64).collect(),
    })
}

/// `ln Z_A` of the base-rate model: `H ln 2 + Σ_i softplus(b_A,i)`.
fn log_z_base(rbm: &Rbm, base_bias: &[f64]) -> f64 {
    rbm.num_hidden() as f64 * std::f64::consts::LN_2
        + base_bias.iter().map(|&x| softplus(x)).sum::<f64>()
}

/// One particle from visible state `v` along `betas` (increasing: forward AIS; decreasing:
/// reverse): at each step the log weight gains `ln p*_{β'}(v) - ln p*_β(v)`, then one block
/// Gibbs sweep at `β'`. Returns the log weight.
fn walk(
    rbm: &Rbm,
    base: &[f64],
    betas: &[f64],
    sweeps: usize,
    v: Vec<f64>,
    rng: &mut EngineRng,
) -> f64 {
    let b = rbm.visible_bias();
    // ln p*_β(v) given the hidden inputs x_j = c_j + W_j v and the visible sums
    let log_p = |beta: f64, bv: f64, av: f64, x: &[f64]| -> f64 {
        (1.0 - beta) * av + beta * bv + x.iter().map(|&xj| softplus(beta * xj)).sum::<f64>()
    };
    let sums = |v: &[f64]| -> (f64, f64) {
        (
            b.iter().zip(v).map(|(a, x)| a * x).sum(),
            base.iter().zip(v).map(|(a, x)| a * x).sum(),
        )
    };
    let (mut bv, mut av) = sums(&v);
    let mut ch = rbm.chain(v);
    let mut lw = 0.0;
    for pair in betas.windows(2) {
        let (b0, b1) = (pair[0], pair[1]);
        lw += log_p(b1, bv, av, &ch.x) - log_p(b0, bv, av, &ch.x);
        // block Gibbs at b1: h | v, then v | h (x follows v)
        for _ in 0..sweeps {
            rbm.tempered_sweep(&mut ch, b1, base, rng);
        }
        (bv, av) = sums(&ch.v);
    }
    lw
}

/// `ln Z` of `rbm` by AIS from the base-rate model with visible biases `base_bias` (see
/// [`Rbm::base_rate_bias`]; zeros give a uniform base). Errors: `base_bias` of the wrong length
/// or not finite, no particle, zero steps.
pub fn rbm_ais(rbm: &Rbm, base_bias: &[f64], opts: &RbmAisOptions) -> Result<RbmAisResult> {
    let t0 = std::time::Instant::now();
    let betas = path(rbm, base_bias, opts)?;
    let log_weights = particles(opts.particles, opts.deadline, |p| {
        let mut rng = chain_rng(opts.seed, p as u64);
        let v: Vec<f64> = base_bias
            .iter()
            .map(|&a| f64::from(u8::from(num::uniform(&mut rng) < sigmoid(a))))
            .collect();
        walk(rbm, base_bias, &betas, opts.sweeps, v, &mut rng)
    });
    let (lme, se, ess, _, _) = weight_stats(&log_weights);
    Ok(RbmAisResult {
        log_z: lme + log_z_base(rbm, base_bias),
        std_err: se,
        ess,
        log_weights,
        steps: betas.len() - 1,
        seconds: t0.elapsed().as_secs_f64(),
        reverse: false,
    })
}

/// Reverse AIS: one particle from each of `starts` (visible states drawn from the machine)
/// along the path from `β = 1` back to the base-rate model; the mean of the weights estimates
/// `Z_A / Z`, so `ln Z_A - ln mean(w)` is a stochastic *upper* bound on `ln Z` when the starts
/// are exact draws ([`Rbm::exact_samples`]); from approximate draws (long Gibbs chains,
/// [`rbm_start_states`]) it is one as far as those are exact. `opts.particles` is ignored (one
/// particle per start). Errors: as [`rbm_ais`], no start, a start of the wrong length.
pub fn rbm_reverse_ais(
    rbm: &Rbm,
    base_bias: &[f64],
    starts: &[Vec<f64>],
    opts: &RbmAisOptions,
) -> Result<RbmAisResult> {
    let t0 = std::time::Instant::now();
    let mut betas = path(rbm, base_bias, opts)?;
    betas.reverse();
    if starts.is_empty() {
        return Err(Error::InvalidArgument(
            "reverse AIS needs at least one start state".into(),
        ));
    }
    for s in starts {
        crate::error::check_dim("a reverse-AIS start state", rbm.num_visible(), s.len())?;
    }
    let log_weights = particles(starts.len(), opts.deadline, |p| {
        let mut rng = chain_rng(opts.seed, REVERSE_STREAM + p as u64);
        walk(
            rbm,
            base_bias,
            &betas,
            opts.sweeps,
            starts[p].clone(),
            &mut rng,
        )
    });
    let (lme, se, ess, _, _) = weight_stats(&log_weights);
    Ok(RbmAisResult {
        log_z: log_z_base(rbm, base_bias) - lme,
        std_err: se,
        ess,
        log_weights,
        steps: betas.len() - 1,
        seconds: t0.elapsed().as_secs_f64(),
        reverse: true,
    })
}

/// Stream offset of reverse-AIS particles (forward particles use streams from 0).
const REVERSE_STREAM: u64 = 1 << 41;
/// Stream offset of the chains of [`rbm_start_states`].
const START_STREAM: u64 = 1 << 42;

/// Where the start states of a reverse run came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartStates {
    /// Exact draws ([`Rbm::exact_samples`]): the reverse estimate is a stochastic upper bound.
    Exact,
    /// The last states of independent block Gibbs chains after this many sweeps: an upper
    /// bound only as far as the chains have mixed.
    Gibbs {
        /// Sweeps of each chain.
        sweeps: usize,
    },
}

/// `n` visible states drawn from `rbm` for reverse AIS: exact draws when the smaller layer
/// has at most [`crate::model::rbm::MAX_EXACT_DRAW_UNITS`] units, else the last states of `n`
/// block Gibbs chains after `sweeps` sweeps, each started from a draw of the base-rate model
/// `base_bias` (chain `k` uses `chain_rng(seed, 2^42 + k)`).
pub fn rbm_start_states(
    rbm: &Rbm,
    base_bias: &[f64],
    n: usize,
    sweeps: usize,
    seed: u64,
) -> Result<(Vec<Vec<f64>>, StartStates)> {
    if n == 0 {
        return Err(Error::InvalidArgument("no start state asked for".into()));
    }
    if rbm.num_visible().min(rbm.num_hidden()) <= crate::model::rbm::MAX_EXACT_DRAW_UNITS {
        return Ok((rbm.exact_samples(n, seed)?, StartStates::Exact));
    }
    crate::error::check_dim(
        "base-rate biases (one per visible unit)",
        rbm.num_visible(),
        base_bias.len(),
    )?;
    let states = (0..n)
        .into_par_iter()
        .map(|k| {
            let mut rng = chain_rng(seed, START_STREAM + k as u64);
            let v: Vec<f64> = base_bias
                .iter()
                .map(|&a| f64::from(u8::from(num::uniform(&mut rng) < sigmoid(a))))
                .collect();
            let mut ch = rbm.chain(v);
            for _ in 0..sweeps {
                rbm.tempered_sweep(&mut ch, 1.0, base_bias, &mut rng);
            }
            ch.v
        })
        .collect();
    Ok((states, StartStates::Gibbs { sweeps }))
}

/// The BDMC sandwich of an RBM: forward AIS and reverse AIS on the same path.
#[derive(Debug, Clone, PartialEq)]
pub struct RbmBdmc {
    /// The forward run (a stochastic lower bound in expectation).
    pub forward: RbmAisResult,
    /// The reverse run (a stochastic upper bound when the starts are exact draws).
    pub reverse: RbmAisResult,
    /// Where the reverse run's start states came from.
    pub starts: StartStates,
}

impl RbmBdmc {
    /// As a [`LogZEstimate`] of kind sandwich.
    pub fn estimate(&self) -> LogZEstimate {
        LogZEstimate::sandwich(
            self.forward.log_z,
            self.forward.std_err,
            self.forward.ess,
            self.reverse.log_z,
            self.reverse.std_err,
        )
    }

    /// Width of the sandwich, `upper - lower`.
    pub fn gap(&self) -> f64 {
        self.reverse.log_z - self.forward.log_z
    }
}

/// BDMC (Grosse, Ghahramani & Adams 2015): forward AIS with `opts.particles` particles and
/// reverse AIS from as many start states ([`rbm_start_states`], chains of `opts.start_sweeps`
/// sweeps when exact draws do not fit), both on the same path from the base-rate model
/// `base_bias`. Under a deadline the forward run gets half of the time left.
pub fn rbm_bdmc(rbm: &Rbm, base_bias: &[f64], opts: &RbmAisOptions) -> Result<RbmBdmc> {
    let half = RbmAisOptions {
        deadline: opts.deadline.share(0.5),
        ..opts.clone()
    };
    let forward = rbm_ais(rbm, base_bias, &half)?;
    let (starts, kind) =
        rbm_start_states(rbm, base_bias, opts.particles, opts.start_sweeps, opts.seed)?;
    let reverse = rbm_reverse_ais(rbm, base_bias, &starts, opts)?;
    Ok(RbmBdmc {
        forward,
        reverse,
        starts: kind,
    })
}

/// `ln Z` of `rbm` by the `auto` policy: the exact sum when the smaller layer has at most
/// [`crate::model::rbm::MAX_EXACT_UNITS`] units, else [`rbm_ais`] from the base-rate model with
/// visible biases `base_bias`.
pub fn rbm_log_z(rbm: &Rbm, base_bias: &[f64], opts: &RbmAisOptions) -> Result<LogZEstimate> {
    if rbm.num_visible().min(rbm.num_hidden()) <= crate::model::rbm::MAX_EXACT_UNITS {
        return Ok(LogZEstimate::exact(rbm.log_z_exact()?));
    }
    Ok(rbm_ais(rbm, base_bias, opts)?.estimate())
}
