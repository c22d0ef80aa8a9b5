//! The pilot of continuous AIS: a few particles on a grid of betas tune the step size per
//! temperature and measure the thermodynamic length; [`Pilot::path`] places any number of
//! steps on it, and [`fitted_steps`] fits the steps to a time budget.

use rayon::prelude::*;

use super::{Particle, Setup, PILOT_STREAM};
use crate::limits::Deadline;
use crate::num;
use crate::rng::chain_rng;
use crate::sample::anneal::{schedule_betas, Schedule};
use crate::sample::continuous::Energy;
use crate::sample::continuous::TemperedMove;

use super::ContinuousAisOptions;
use std::time::Instant;

/// What the pilot measured: step sizes along a grid of betas and, for the adaptive schedule,
/// the thermodynamic length along it; [`Pilot::path`] places any number of steps on it.
pub(super) struct Pilot {
    /// Increasing betas from 0 to 1 (the pilot's grid).
    pub(super) grid: Vec<f64>,
    /// Step size tuned at each grid point.
    pub(super) eps: Vec<f64>,
    /// Thermodynamic length at each grid point (`None`: the fixed `opts.schedule` is used).
    pub(super) len: Option<Vec<f64>>,
    /// Gradient evaluations made.
    pub(super) evals: u64,
    /// Whether the deadline cut the pilot.
    pub(super) cut: bool,
    /// Seconds per particle-step measured by the pilot (all threads busy), if it ran.
    pub(super) per_particle_step: Option<f64>,
}

/// Linear interpolation of `vals` (given at the increasing `grid`) at `x`.
fn interp(grid: &[f64], vals: &[f64], x: f64) -> f64 {
    let j = grid.partition_point(|&g| g <= x).clamp(1, grid.len() - 1);
    let (g0, g1) = (grid[j - 1], grid[j]);
    let t = if g1 > g0 { (x - g0) / (g1 - g0) } else { 0.0 };
    if t <= 0.0 {
        vals[j - 1]
    } else if t >= 1.0 {
        vals[j]
    } else {
        vals[j - 1] + t * (vals[j] - vals[j - 1])
    }
}

impl Pilot {
    /// `k + 1` betas from 0 to 1 and the step size for each: at equal increments of the
    /// thermodynamic length (adaptive), or `schedule`'s spacing.
    pub(super) fn path(&self, k: usize, schedule: Schedule) -> (Vec<f64>, Vec<f64>) {
        let betas = match &self.len {
            None => schedule_betas(schedule, k),
            Some(len) => {
                let total = len[len.len() - 1];
                let mut betas: Vec<f64> = (0..=k)
                    .map(|i| interp(len, &self.grid, total * i as f64 / k as f64))
                    .collect();
                betas[0] = 0.0;
                betas[k] = 1.0;
                betas
            }
        };
        let eps = betas
            .iter()
            .map(|&b| interp(&self.grid, &self.eps, b))
            .collect();
        (betas, eps)
    }
}

/// The pilot: step-major over a few particles on a linear grid of `steps` betas, tuning the
/// step size per temperature and recording the spread `sd_beta(g)` of `g = ln p~ - ln p0`.
/// With `adaptive_schedule`, the betas of the main run are then placed at equal increments of
/// the thermodynamic length `∫ sd_beta(g) dbeta` (which equalises the log-weight variance
/// `(Δbeta)^2 Var_beta(g)` contributed by each step); otherwise they follow `opts.schedule`.
/// A pilot the deadline cuts keeps the step sizes tuned so far (the last one for the rest of
/// the path) and falls back to `opts.schedule`.
pub(super) fn pilot<E: Energy + ?Sized, K: TemperedMove>(
    target: &E,
    s: &Setup<K>,
    opts: &ContinuousAisOptions,
    deadline: Deadline,
) -> Pilot {
    let k = opts.steps;
    let fixed = schedule_betas(opts.schedule, k);
    if opts.pilot_particles == 0 {
        return Pilot {
            grid: fixed,
            eps: vec![s.eps0; k + 1],
            len: None,
            evals: 0,
            cut: false,
            per_particle_step: None,
        };
    }
    let t0 = Instant::now();
    let grid: Vec<f64> = if opts.adaptive_schedule {
        (0..=k).map(|i| i as f64 / k as f64).collect()
    } else {
        fixed
    };
    let mut eps = vec![s.eps0; k + 1];
    let mut sd = vec![0.0; k + 1];
    let mut ps: Vec<Particle<K::Scratch>> = (0..opts.pilot_particles)
        .map(|i| {
            let mut rng = chain_rng(opts.seed, PILOT_STREAM + i as u64);
            let x = s.base.sample(&mut rng);
            Particle::new(x, rng)
        })
        .collect();
    let mut e = s.eps0;
    let mut done = 0;
    let mut cut = false;
    for step in 1..=k {
        if deadline.passed() {
            cut = true;
            // the step size tuned last for the rest of the path
            for v in &mut eps[step..] {
                *v = e;
            }
            break;
        }
        let before: Vec<f64> = ps.iter().map(|p| p.accept).collect();
        let last = step == k;
        let gs: Vec<f64> = ps
            .par_iter_mut()
            .map(|p| {
                // pilot weights are not used; keep particles moving even if a weight dies
                p.lw = 0.0;
                p.advance(target, s, grid[step - 1], grid[step], last, e, opts.moves)
            })
            .collect();
        done = step;
        // spread of g at grid[step - 1] (the particles were last moved there)
        let fin: Vec<f64> = gs.iter().copied().filter(|g| g.is_finite()).collect();
        if fin.len() > 1 {
            let m = fin.iter().sum::<f64>() / fin.len() as f64;
            let v = fin.iter().map(|g| (g - m) * (g - m)).sum::<f64>() / (fin.len() - 1) as f64;
            sd[step - 1] = v.sqrt();
        }
        if last {
            break;
        }
        let moves = (opts.pilot_particles * opts.moves.max(1)) as f64;
        let a = ps
            .iter()
            .zip(&before)
            .map(|(p, b)| p.accept - b)
            .sum::<f64>()
            / moves;
        e *= num::exp((a - s.target_accept).clamp(-1.0, 1.0));
        // step < k here: the step size for the moves at grid[step] (and the next guess)
        eps[step] = e;
        eps[step + 1] = e;
    }
    sd[k] = sd[k - 1];
    let evals = ps.iter().map(|p| p.evals).sum();
    let per_particle_step =
        (done > 0).then(|| t0.elapsed().as_secs_f64() / (done * opts.pilot_particles) as f64);
    let len = (opts.adaptive_schedule && !cut).then(|| {
        // thermodynamic length along the grid (trapezoid), floored so that no stretch is empty
        let mean_sd = sd.iter().sum::<f64>() / (k + 1) as f64;
        let floor = 0.05 * mean_sd.max(f64::MIN_POSITIVE);
        let mut len = vec![0.0; k + 1];
        for i in 1..=k {
            let a = sd[i - 1].max(floor);
            let b = sd[i].max(floor);
            len[i] = len[i - 1] + 0.5 * (a + b) * (grid[i] - grid[i - 1]);
        }
        len
    });
    Pilot {
        grid,
        eps,
        len,
        evals,
        cut,
        per_particle_step,
    }
}

/// The number of steps under a time limit: raised so that the particles use about 60% of what
/// is left, or lowered (to at least 10) so that they finish in 80% of it; `steps` unchanged
/// without a deadline or a timing.
pub(super) fn fitted_steps(
    steps: usize,
    particles: usize,
    per: Option<f64>,
    deadline: Deadline,
) -> usize {
    use crate::sample::anneal::{FIT_SHARE, LOWER_SHARE, MAX_FITTED_STEPS, MIN_FITTED_STEPS};
    let (Some(left), Some(per)) = (deadline.remaining(), per) else {
        return steps;
    };
    let left = left.as_secs_f64();
    if per.is_nan() || per <= 0.0 || left <= 0.0 {
        return steps.min(MIN_FITTED_STEPS);
    }
    let fit = |share: f64| (share * left / (per * particles as f64)) as usize;
    if fit(FIT_SHARE) >= steps {
        fit(FIT_SHARE).min(MAX_FITTED_STEPS).max(steps)
    } else if fit(LOWER_SHARE) < steps {
        fit(LOWER_SHARE).max(MIN_FITTED_STEPS).min(steps)
    } else {
        steps
    }
}
