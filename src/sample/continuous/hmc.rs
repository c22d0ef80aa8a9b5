//! Hamiltonian Monte Carlo with a leapfrog integrator, an identity or diagonal mass matrix, a
//! step size jittered by ±`jitter` per transition, and step-size adaptation during warm-up by
//! dual averaging ([`super::DualAveraging`]) after Stan's initial step-size search.
//!
//! One transition costs `leapfrog_steps` gradient evaluations (the gradient at the current point
//! is cached between transitions of a chain). A trajectory whose energy error exceeds 1000 nats
//! (or is not finite) is rejected and counted as divergent.

use rand::Rng;
use rand_distr::StandardNormal;

use super::{
    check_step_size, check_target_accept, metropolis, ContinuousTransition, DualAveraging, Energy,
    PointCache, PointMut, StepStats, TemperedMove,
};
use crate::error::{Error, Result};

/// Energy error (nats) beyond which a trajectory counts as divergent.
pub const DIVERGENCE_NATS: f64 = 1000.0;

/// Options of [`Hmc`].
#[derive(Debug, Clone, PartialEq)]
pub struct HmcOptions {
    /// Initial step size (default 0.1); tuned during warm-up when `adapt` is on.
    pub step_size: f64,
    /// Leapfrog steps per transition (default 16).
    pub leapfrog_steps: usize,
    /// Tune the step size during warm-up (default true).
    pub adapt: bool,
    /// Mean acceptance probability the adaptation aims at (default 0.8).
    pub target_accept: f64,
    /// Diagonal of the inverse mass matrix (about the posterior variances); `None` = identity.
    pub inv_mass: Option<Vec<f64>>,
    /// Relative jitter of the step size per transition, in [0, 1) (default 0.1): avoids
    /// periodic trajectories.
    pub jitter: f64,
    /// Estimate a diagonal inverse mass during warm-up (default true, with `adapt`), as Stan
    /// does: warm-up transitions `mass_window.0 .. mass_window.1` are cut into windows doubling
    /// from 25 (75..100, 100..150, 150..250, 250..450 by default; a last window shorter than
    /// twice the one before is merged into it); at the end of each window the variances of its
    /// draws (regularised towards 1e-3) become the inverse mass and the step size is searched
    /// and dual-averaged afresh. A window that the warm-up does not complete is ignored, so a
    /// warm-up of at least `mass_window.1 + 50` transitions (500 by default) is best.
    pub adapt_mass: bool,
    /// Warm-up transitions used for the mass (default 75 .. 450).
    pub mass_window: (usize, usize),
}

impl Default for HmcOptions {
    fn default() -> Self {
        HmcOptions {
            step_size: 0.1,
            leapfrog_steps: 16,
            adapt: true,
            target_accept: 0.8,
            inv_mass: None,
            jitter: 0.1,
            adapt_mass: true,
            mass_window: (75, 450),
        }
    }
}

/// The HMC kernel over an [`Energy`] (see the module docs).
#[derive(Debug, Clone)]
pub struct Hmc<E> {
    energy: E,
    opts: HmcOptions,
}

/// Per-chain state of [`Hmc`].
#[derive(Debug, Clone)]
pub struct HmcChain {
    eps: f64,
    inv_mass: Option<Vec<f64>>,
    adapt_steps: usize,
    /// Welford sums over the mass window: count, means, M2.
    welford: (f64, Vec<f64>, Vec<f64>),
    da: DualAveraging,
    searched: bool,
    cache: PointCache,
    scratch: HmcScratch,
}

/// Buffers of one leapfrog trajectory.
#[derive(Debug, Clone, Default)]
pub struct HmcScratch {
    p: Vec<f64>,
    q: Vec<f64>,
    g: Vec<f64>,
}

impl<E: Energy> Hmc<E> {
    /// Errors: a non-positive step size, zero leapfrog steps, a target acceptance outside
    /// (0, 1), a jitter outside [0, 1), an inverse mass of the wrong length
    /// ([`Error::DimensionMismatch`]) or not positive.
    pub fn new(energy: E, opts: HmcOptions) -> Result<Self> {
        check_step_size(opts.step_size)?;
        check_target_accept(opts.target_accept)?;
        if opts.leapfrog_steps == 0 {
            return Err(Error::InvalidArgument(
                "HMC needs at least one leapfrog step".into(),
            ));
        }
        if opts.mass_window.0 >= opts.mass_window.1 {
            return Err(Error::InvalidArgument(format!(
                "the mass window must be a non-empty range (got {:?})",
                opts.mass_window
            )));
        }
        if !(0.0..1.0).contains(&opts.jitter) {
            return Err(Error::InvalidArgument(format!(
                "the step-size jitter must be in [0, 1) (got {})",
                opts.jitter
            )));
        }
        if let Some(m) = &opts.inv_mass {
            crate::error::check_dim("HMC inverse mass diagonal", energy.dim(), m.len())?;
            if let Some(v) = m.iter().find(|v| !(**v > 0.0 && v.is_finite())) {
                return Err(Error::NonPositiveVariance {
                    var: "HMC inverse mass".into(),
                    value: *v,
                });
            }
        }
        Ok(Hmc { energy, opts })
    }

    /// The options.
    pub fn options(&self) -> &HmcOptions {
        &self.opts
    }
}

/// One HMC transition from `x` with current log density `ld` and gradient `grad` (updated in
/// place on acceptance). `O(steps)` gradient evaluations.
#[allow(clippy::too_many_arguments)]
fn hmc_move<E: Energy + ?Sized, R: Rng + ?Sized>(
    e: &E,
    x: &mut [f64],
    ld: &mut f64,
    grad: &mut [f64],
    eps: f64,
    steps: usize,
    inv_mass: Option<&[f64]>,
    s: &mut HmcScratch,
    rng: &mut R,
) -> StepStats {
    let n = x.len();
    s.p.resize(n, 0.0);
    s.q.clear();
    s.q.extend_from_slice(x);
    s.g.clear();
    s.g.extend_from_slice(grad);
    let im = |i: usize| inv_mass.map_or(1.0, |m| m[i]);
    // p ~ N(0, M), M = diag(1 / inv_mass)
    let mut kin0 = 0.0;
    for (i, p) in s.p.iter_mut().enumerate() {
        let z: f64 = rng.sample(StandardNormal);
        *p = z / im(i).sqrt();
        kin0 += 0.5 * z * z;
    }
    let h0 = -*ld + kin0;
    let mut new_ld = *ld;
    let mut evals = 0;
    for _ in 0..steps {
        for (p, g) in s.p.iter_mut().zip(&s.g) {
            *p += 0.5 * eps * g;
        }
        for (i, (q, p)) in s.q.iter_mut().zip(&s.p).enumerate() {
            *q += eps * im(i) * p;
        }
        new_ld = e.grad_log_density(&s.q, &mut s.g);
        evals += 1;
        if !new_ld.is_finite() {
            break;
        }
        for (p, g) in s.p.iter_mut().zip(&s.g) {
            *p += 0.5 * eps * g;
        }
    }
    let kin1: f64 =
        s.p.iter()
            .enumerate()
            .map(|(i, p)| 0.5 * im(i) * p * p)
            .sum();
    let h1 = -new_ld + kin1;
    let log_ratio = if new_ld.is_finite() && h1.is_finite() {
        h0 - h1
    } else {
        f64::NEG_INFINITY
    };
    let divergent = log_ratio.is_nan() || log_ratio <= -DIVERGENCE_NATS;
    let (prob, accepted) = metropolis(log_ratio, rng);
    if accepted {
        x.copy_from_slice(&s.q);
        grad.copy_from_slice(&s.g);
        *ld = new_ld;
    }
    StepStats {
        accept_prob: prob,
        accepted,
        evals,
        divergent,
    }
}

impl<E: Energy> Hmc<E> {
    /// Stan's heuristic: double or halve the step size until the acceptance probability of one
    /// leapfrog step crosses 1/2.
    fn find_step_size<R: Rng + ?Sized>(&self, x: &[f64], cs: &mut HmcChain, rng: &mut R) -> u64 {
        let mut evals = 0;
        let mut eps = cs.eps;
        let one = |eps: f64, cs: &mut HmcChain, rng: &mut R| {
            let mut xx = x.to_vec();
            let mut ld = cs.cache.ld;
            let mut g = cs.cache.grad.clone();
            let st = hmc_move(
                &self.energy,
                &mut xx,
                &mut ld,
                &mut g,
                eps,
                1,
                cs.inv_mass.as_deref(),
                &mut cs.scratch,
                rng,
            );
            st.accept_prob
        };
        let a0 = one(eps, cs, rng);
        evals += 1;
        let up = a0 > 0.5;
        for _ in 0..50 {
            let next = if up { eps * 2.0 } else { eps * 0.5 };
            let a = one(next, cs, rng);
            evals += 1;
            if (up && a < 0.5) || (!up && a > 0.5) {
                if !up {
                    eps = next;
                }
                break;
            }
            eps = next;
        }
        cs.eps = eps;
        cs.da.restart(eps);
        evals
    }
}

impl<E: Energy> Hmc<E> {
    /// Mass adaptation after one warm-up transition: accumulate the window's draws; at its end,
    /// set the inverse mass to their regularised variances and restart the step-size tuning.
    fn adapt_mass<R: Rng + ?Sized>(&self, x: &[f64], cs: &mut HmcChain, rng: &mut R) -> u64 {
        let (start, end) = self.opts.mass_window;
        let t = cs.adapt_steps;
        cs.adapt_steps += 1;
        if t < start || t >= end {
            return 0;
        }
        // the window holding t: sizes 25, 50, 100, ... from `start`, the last one merged
        let mut w0 = start;
        let mut size = 25usize;
        let w_end = loop {
            let mut e = (w0 + size).min(end);
            if end - e < 2 * size {
                e = end;
            }
            if t < e {
                break e;
            }
            w0 = e;
            size *= 2;
        };
        let (n, mean, m2) = &mut cs.welford;
        if mean.is_empty() {
            mean.resize(x.len(), 0.0);
            m2.resize(x.len(), 0.0);
        }
        *n += 1.0;
        for ((m, q), &v) in mean.iter_mut().zip(m2.iter_mut()).zip(x) {
            let d = v - *m;
            *m += d / *n;
            *q += d * (v - *m);
        }
        if t + 1 < w_end {
            return 0;
        }
        let n = *n;
        let var: Vec<f64> = m2
            .iter()
            .map(|q| {
                let v = q / (n - 1.0).max(1.0);
                (n / (n + 5.0)) * v + 1e-3 * (5.0 / (n + 5.0))
            })
            .collect();
        if var.iter().all(|v| v.is_finite() && *v > 0.0) {
            cs.inv_mass = Some(var);
        }
        cs.welford = (0.0, Vec::new(), Vec::new());
        self.find_step_size(x, cs, rng)
    }

    /// The inverse mass diagonal a chain uses (`None` = identity).
    pub fn inv_mass<'a>(&self, cs: &'a HmcChain) -> Option<&'a [f64]> {
        cs.inv_mass.as_deref()
    }
}

impl<E: Energy> ContinuousTransition for Hmc<E> {
    type ChainState = HmcChain;

    fn dim(&self) -> usize {
        self.energy.dim()
    }

    fn log_target(&self, x: &[f64]) -> f64 {
        self.energy.log_density(x)
    }

    fn init_chain(&self) -> HmcChain {
        HmcChain {
            eps: self.opts.step_size,
            inv_mass: self.opts.inv_mass.clone(),
            adapt_steps: 0,
            welford: (0.0, Vec::new(), Vec::new()),
            da: DualAveraging::new(self.opts.step_size, self.opts.target_accept),
            searched: false,
            cache: PointCache::default(),
            scratch: HmcScratch::default(),
        }
    }

    fn step<R: Rng + ?Sized>(
        &self,
        x: &mut [f64],
        cs: &mut HmcChain,
        adapt: bool,
        rng: &mut R,
    ) -> StepStats {
        let mut evals = cs.cache.ensure(&self.energy, x);
        let adapt = adapt && self.opts.adapt;
        if adapt && !cs.searched {
            cs.searched = true;
            evals += self.find_step_size(x, cs, rng);
        }
        let eps = if self.opts.jitter > 0.0 {
            cs.eps * (1.0 + self.opts.jitter * (2.0 * rng.random::<f64>() - 1.0))
        } else {
            cs.eps
        };
        let mut ld = cs.cache.ld;
        let mut grad = std::mem::take(&mut cs.cache.grad);
        let mut st = hmc_move(
            &self.energy,
            x,
            &mut ld,
            &mut grad,
            eps,
            self.opts.leapfrog_steps,
            cs.inv_mass.as_deref(),
            &mut cs.scratch,
            rng,
        );
        cs.cache.store(x, ld, grad);
        st.evals += evals;
        if adapt {
            cs.eps = cs.da.update(st.accept_prob);
            if self.opts.adapt_mass {
                st.evals += self.adapt_mass(x, cs, rng);
            }
        }
        st
    }

    fn end_warmup(&self, cs: &mut HmcChain) {
        if self.opts.adapt && cs.searched {
            cs.eps = cs.da.final_step_size();
        }
    }

    fn step_size(&self, cs: &HmcChain) -> Option<f64> {
        Some(cs.eps)
    }
}

impl<E: Energy> TemperedMove for Hmc<E> {
    type Scratch = HmcScratch;

    /// One HMC transition of `leapfrog_steps` steps of size `eps` with the fixed inverse mass
    /// of the options (identity by default), no jitter.
    fn tempered_step<T: Energy + ?Sized, R: Rng + ?Sized>(
        &self,
        energy: &T,
        at: PointMut<'_>,
        eps: f64,
        scratch: &mut HmcScratch,
        rng: &mut R,
    ) -> StepStats {
        hmc_move(
            energy,
            at.x,
            at.ld,
            at.grad,
            eps,
            self.opts.leapfrog_steps,
            self.opts.inv_mass.as_deref(),
            scratch,
            rng,
        )
    }
}
