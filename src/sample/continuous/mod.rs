//! Continuous models given as code: an unnormalised log density with its gradient ([`Energy`]),
//! MCMC kernels over `&mut [f64]` states ([`ContinuousTransition`]: random-walk Metropolis,
//! MALA, HMC with dual-averaging step-size adaptation), a parallel chain runner with MCSE,
//! split-R-hat and ESS ([`chains`]), and annealed importance sampling of `ln Z` ([`ais`]).
//!
//! Randomness follows the engine's rule: chain `c` (or AIS particle `i`) draws only from
//! `chain_rng(seed, c)`, so results are bit-identical for any number of threads.
//!
//! ```
//! use pgmkit::sample::continuous::chains::{run_continuous_chains, ContinuousChainConfig};
//! use pgmkit::sample::continuous::{FnEnergy, Hmc, HmcOptions};
//!
//! // a 2-d Gaussian with means (1, -1) and variances (1, 4)
//! let e = FnEnergy::new(
//!     2,
//!     |x: &[f64]| -0.5 * ((x[0] - 1.0).powi(2) + (x[1] + 1.0).powi(2) / 4.0),
//!     |x: &[f64], g: &mut [f64]| {
//!         g[0] = -(x[0] - 1.0);
//!         g[1] = -(x[1] + 1.0) / 4.0;
//!         -0.5 * ((x[0] - 1.0).powi(2) + (x[1] + 1.0).powi(2) / 4.0)
//!     },
//! )
//! .unwrap();
//! let hmc = Hmc::new(&e, HmcOptions::default()).unwrap();
//! let cfg = ContinuousChainConfig { chains: 2, warmup: 300, draws: 500, seed: 7, ..Default::default() };
//! let s = run_continuous_chains(&hmc, &cfg, None).unwrap();
//! assert!((s.mean[0] - 1.0).abs() < 5.0 * s.mcse[0].unwrap());
//! assert!(s.max_rhat.unwrap() < 1.05);
//! ```

pub mod ais;
pub mod chains;
pub mod hmc;
pub mod mala;
pub mod rwm;

pub use ais::{
    continuous_ais, continuous_bdmc, continuous_reverse_ais, AisMove, ContinuousAisOptions,
    ContinuousAisResult,
};
pub use hmc::{Hmc, HmcOptions};
pub use mala::{Mala, MalaOptions};
pub use rwm::{RandomWalk, RandomWalkOptions};

use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::gaussian::LN_2PI;
use crate::num;

/// An unnormalised log density `ln p~(x)` on `R^dim` with its gradient (the negative of an
/// energy). `-inf` marks points outside the support; kernels reject proposals whose log density
/// is not finite.
pub trait Energy: Send + Sync {
    /// Dimension of `x`.
    fn dim(&self) -> usize;
    /// `ln p~(x)`.
    fn log_density(&self, x: &[f64]) -> f64;
    /// Write `∇ ln p~(x)` into `grad` (length `dim`) and return `ln p~(x)`.
    fn grad_log_density(&self, x: &[f64], grad: &mut [f64]) -> f64;
}

impl<E: Energy + ?Sized> Energy for &E {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        (**self).log_density(x)
    }
    fn grad_log_density(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        (**self).grad_log_density(x, grad)
    }
}

/// An [`Energy`] from two closures: `f(x) = ln p~(x)` and `grad(x, g)` writing the gradient into
/// `g` and returning `ln p~(x)`.
pub struct FnEnergy<F, G> {
    dim: usize,
    f: F,
    grad: G,
}

impl<F, G> std::fmt::Debug for FnEnergy<F, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnEnergy").field("dim", &self.dim).finish()
    }
}

impl<F, G> FnEnergy<F, G>
where
    F: Fn(&[f64]) -> f64 + Send + Sync,
    G: Fn(&[f64], &mut [f64]) -> f64 + Send + Sync,
{
    /// Wrap the closures. Errors: `dim == 0`.
    pub fn new(dim: usize, f: F, grad: G) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidArgument(
                "an energy model needs at least one dimension".into(),
            ));
        }
        Ok(FnEnergy { dim, f, grad })
    }
}

impl<F, G> Energy for FnEnergy<F, G>
where
    F: Fn(&[f64]) -> f64 + Send + Sync,
    G: Fn(&[f64], &mut [f64]) -> f64 + Send + Sync,
{
    fn dim(&self) -> usize {
        self.dim
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        (self.f)(x)
    }
    fn grad_log_density(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        (self.grad)(x, grad)
    }
}

/// Largest absolute difference between the gradient of `e` at `x` and central finite
/// differences with step `h` (a check for hand-written gradients). `O(dim)` evaluations.
pub fn gradient_error<E: Energy + ?Sized>(e: &E, x: &[f64], h: f64) -> f64 {
    let mut g = vec![0.0; e.dim()];
    e.grad_log_density(x, &mut g);
    let mut y = x.to_vec();
    let mut worst = 0.0f64;
    for i in 0..x.len() {
        y[i] = x[i] + h;
        let up = e.log_density(&y);
        y[i] = x[i] - h;
        let down = e.log_density(&y);
        y[i] = x[i];
        worst = worst.max(((up - down) / (2.0 * h) - g[i]).abs());
    }
    worst
}

/// The isotropic Gaussian `N(mean, sd^2 I)`: a normalised density with exact samples (the base
/// of continuous AIS).
#[derive(Debug, Clone, PartialEq)]
pub struct IsotropicGaussian {
    mean: Vec<f64>,
    sd: f64,
    log_norm: f64,
}

impl IsotropicGaussian {
    /// `N(mean, sd^2 I)`. Errors: `sd` not positive and finite
    /// ([`Error::NonPositiveVariance`]), a non-finite mean, an empty mean.
    pub fn new(mean: Vec<f64>, sd: f64) -> Result<Self> {
        if mean.is_empty() {
            return Err(Error::InvalidArgument("the base has dimension 0".into()));
        }
        if !(sd > 0.0 && sd.is_finite()) {
            return Err(Error::NonPositiveVariance {
                var: "base standard deviation".into(),
                value: sd,
            });
        }
        if let Some(v) = mean.iter().find(|v| !v.is_finite()) {
            return Err(Error::InvalidNumber {
                what: "base mean".into(),
                value: *v,
            });
        }
        let d = mean.len() as f64;
        let log_norm = -0.5 * d * (LN_2PI + 2.0 * sd.ln());
        Ok(IsotropicGaussian { mean, sd, log_norm })
    }

    /// The mean.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The standard deviation.
    pub fn sd(&self) -> f64 {
        self.sd
    }

    /// An exact draw.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        self.mean
            .iter()
            .map(|m| m + self.sd * rng.sample::<f64, _>(StandardNormal))
            .collect()
    }
}

impl Energy for IsotropicGaussian {
    fn dim(&self) -> usize {
        self.mean.len()
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        let s2 = self.sd * self.sd;
        self.log_norm
            - 0.5
                * x.iter()
                    .zip(&self.mean)
                    .map(|(a, m)| (a - m) * (a - m))
                    .sum::<f64>()
                / s2
    }
    fn grad_log_density(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let s2 = self.sd * self.sd;
        for ((g, a), m) in grad.iter_mut().zip(x).zip(&self.mean) {
            *g = -(a - m) / s2;
        }
        self.log_density(x)
    }
}

/// The geometric bridge `ln f_beta = (1 - beta) ln p0 + beta ln p~` between a base and a target.
#[derive(Debug, Clone, Copy)]
pub struct Tempered<'a, B: ?Sized, T: ?Sized> {
    /// The base `p0`.
    pub base: &'a B,
    /// The target `p~`.
    pub target: &'a T,
    /// Inverse temperature in [0, 1].
    pub beta: f64,
}

impl<B: Energy + ?Sized, T: Energy + ?Sized> Energy for Tempered<'_, B, T> {
    fn dim(&self) -> usize {
        self.target.dim()
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        let t = if self.beta > 0.0 {
            self.beta * self.target.log_density(x)
        } else {
            0.0
        };
        let b = if self.beta < 1.0 {
            (1.0 - self.beta) * self.base.log_density(x)
        } else {
            0.0
        };
        t + b
    }
    fn grad_log_density(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut gb = vec![0.0; x.len()];
        let lt = self.target.grad_log_density(x, grad);
        let lb = self.base.grad_log_density(x, &mut gb);
        for (g, b) in grad.iter_mut().zip(&gb) {
            *g = self.beta * *g + (1.0 - self.beta) * b;
        }
        self.beta * lt + (1.0 - self.beta) * lb
    }
}

/// What one transition did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepStats {
    /// Metropolis acceptance probability of the proposal (1 for Gibbs).
    pub accept_prob: f64,
    /// Whether the proposal was accepted.
    pub accepted: bool,
    /// Gradient (or density) evaluations made.
    pub evals: u64,
    /// HMC: the trajectory diverged (energy error above 1000 nats or not finite).
    pub divergent: bool,
}

/// An MCMC kernel on a continuous state `&mut [f64]`, the continuous analogue of
/// [`crate::sample::Transition`]. The kernel owns its target and is shared read-only by all
/// chains; what a chain must carry between steps (tuned step size, cached gradient, scratch)
/// lives in its [`ContinuousTransition::ChainState`], which belongs to one kernel.
pub trait ContinuousTransition: Send + Sync {
    /// Per-chain state: step size, adaptation, caches.
    type ChainState: Clone + Send;

    /// Dimension of the state.
    fn dim(&self) -> usize;

    /// `ln` of the (unnormalised) density the kernel leaves invariant.
    fn log_target(&self, x: &[f64]) -> f64;

    /// A fresh chain state.
    fn init_chain(&self) -> Self::ChainState;

    /// One transition from `x`; with `adapt`, also tune the chain state (warm-up only: an
    /// adapting chain is not a Markov chain with a fixed invariant law).
    fn step<R: Rng + ?Sized>(
        &self,
        x: &mut [f64],
        cs: &mut Self::ChainState,
        adapt: bool,
        rng: &mut R,
    ) -> StepStats;

    /// End of warm-up: fix the tuned parameters (e.g. the dual-averaged step size).
    fn end_warmup(&self, _cs: &mut Self::ChainState) {}

    /// The step size in force, for kernels that have one.
    fn step_size(&self, _cs: &Self::ChainState) -> Option<f64> {
        None
    }
}

/// A [`ContinuousTransition`] whose move can run, with a fixed step size, on any energy: what
/// annealed importance sampling ([`continuous_ais`]) needs of a kernel at each temperature.
/// HMC, MALA and random-walk Metropolis have it; a kernel tied to its model's structure (the
/// GMRF's exact-conditional Gibbs) does not.
pub trait TemperedMove: ContinuousTransition {
    /// Buffers of [`TemperedMove::tempered_step`], one set per particle.
    type Scratch: Default + Send;

    /// One transition of the kernel's move with the fixed step size `eps` on `energy`: a
    /// tempered target along an annealing path rather than the kernel's own. `at` holds the
    /// point with its log density and gradient under `energy`, all updated on acceptance (a
    /// kernel that never reads the gradient may leave it stale). Nothing is adapted or
    /// jittered, so the move leaves `energy` invariant, as annealed importance sampling needs.
    fn tempered_step<T: Energy + ?Sized, R: Rng + ?Sized>(
        &self,
        energy: &T,
        at: PointMut<'_>,
        eps: f64,
        scratch: &mut Self::Scratch,
        rng: &mut R,
    ) -> StepStats;
}

/// A point with its log density and gradient under some energy, borrowed for one
/// [`TemperedMove::tempered_step`].
#[derive(Debug)]
pub struct PointMut<'a> {
    /// The point.
    pub x: &'a mut [f64],
    /// Its log density.
    pub ld: &'a mut f64,
    /// Its gradient.
    pub grad: &'a mut [f64],
}

/// Nesterov dual averaging of `ln(step size)` (Hoffman and Gelman 2014, algorithm 5), with
/// Stan's constants `gamma = 0.05`, `t0 = 10`, `kappa = 0.75` and `mu = ln(10 eps0)`.
#[derive(Debug, Clone, PartialEq)]
pub struct DualAveraging {
    target: f64,
    mu: f64,
    h_bar: f64,
    log_eps: f64,
    log_eps_bar: f64,
    t: f64,
}

impl DualAveraging {
    /// Start at step size `eps0`, aiming at mean acceptance probability `target`.
    pub fn new(eps0: f64, target: f64) -> Self {
        DualAveraging {
            target,
            mu: (10.0 * eps0).ln(),
            h_bar: 0.0,
            log_eps: eps0.ln(),
            log_eps_bar: 0.0,
            t: 0.0,
        }
    }

    /// Restart around `eps0` (after a step-size search).
    pub fn restart(&mut self, eps0: f64) {
        *self = DualAveraging::new(eps0, self.target);
    }

    /// Record one acceptance probability; returns the next step size to try.
    pub fn update(&mut self, accept_prob: f64) -> f64 {
        const GAMMA: f64 = 0.05;
        const T0: f64 = 10.0;
        const KAPPA: f64 = 0.75;
        let a = if accept_prob.is_finite() {
            accept_prob.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.t += 1.0;
        let w = 1.0 / (self.t + T0);
        self.h_bar = (1.0 - w) * self.h_bar + w * (self.target - a);
        self.log_eps = (self.mu - self.t.sqrt() / GAMMA * self.h_bar).clamp(-30.0, 10.0);
        let eta = self.t.powf(-KAPPA);
        self.log_eps_bar = eta * self.log_eps + (1.0 - eta) * self.log_eps_bar;
        num::exp(self.log_eps)
    }

    /// The averaged step size (to use after warm-up).
    pub fn final_step_size(&self) -> f64 {
        if self.t == 0.0 {
            num::exp(self.log_eps)
        } else {
            num::exp(self.log_eps_bar)
        }
    }
}

/// Log density and gradient at a point, remembered for the next step of the same chain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointCache {
    x: Vec<f64>,
    ld: f64,
    grad: Vec<f64>,
    valid: bool,
}

impl PointCache {
    /// Make the cache hold `x`; returns the evaluations made (0 or 1).
    fn ensure<E: Energy + ?Sized>(&mut self, e: &E, x: &[f64]) -> u64 {
        if self.valid && self.x == x {
            return 0;
        }
        self.x.clear();
        self.x.extend_from_slice(x);
        self.grad.resize(x.len(), 0.0);
        self.ld = e.grad_log_density(x, &mut self.grad);
        self.valid = true;
        1
    }

    fn store(&mut self, x: &[f64], ld: f64, grad: Vec<f64>) {
        self.x.clear();
        self.x.extend_from_slice(x);
        self.grad = grad;
        self.ld = ld;
        self.valid = true;
    }
}

/// Check a step size.
fn check_step_size(eps: f64) -> Result<()> {
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "the step size must be positive and finite (got {eps})"
        )));
    }
    Ok(())
}

/// Check a target acceptance rate.
fn check_target_accept(a: f64) -> Result<()> {
    if !(a > 0.0 && a < 1.0) {
        return Err(Error::InvalidArgument(format!(
            "the target acceptance rate must be in (0, 1) (got {a})"
        )));
    }
    Ok(())
}

/// Metropolis acceptance of a log ratio (NaN counts as -inf); returns (prob, accepted).
#[inline]
fn metropolis<R: Rng + ?Sized>(log_ratio: f64, rng: &mut R) -> (f64, bool) {
    if log_ratio.is_nan() {
        return (0.0, false);
    }
    if log_ratio >= 0.0 {
        return (1.0, true);
    }
    let p = num::exp(log_ratio);
    let u: f64 = rng.random();
    (p, u < p)
}
