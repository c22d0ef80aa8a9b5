//! The basics of annealing shared by discrete AIS ([`crate::infer::ais`]), continuous AIS
//! ([`crate::sample::continuous::ais`]) and every method that moves a population along a path
//! of tempered distributions: the spacing of the inverse temperatures ([`Schedule`],
//! [`schedule_betas`]), the fitting of a run to a time limit, and the importance-weight
//! statistics (`weights`).

pub(crate) mod weights;

use crate::num;

/// How the inverse temperatures are spaced.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Schedule {
    /// `beta_k = k / K`.
    Linear,
    /// Sigmoidal spacing (Grosse et al. 2015): `beta_k ∝ sigmoid(delta (2k/K - 1))`, rescaled to
    /// [0, 1]; denser at both ends.
    Sigmoid {
        /// Steepness (4 is a common choice).
        delta: f64,
    },
    /// Adaptive: a pilot run of a few particles (its own RNG streams) chooses each next beta so
    /// that the conditional effective sample size of the incremental weights stays at
    /// `target_cess` (a fraction in (0, 1)); the resulting curve (beta against step fraction) is
    /// resampled to K steps and fixed for the main run, so the final estimate stays unbiased.
    /// The default, with target 0.999.
    Adaptive {
        /// Conditional ESS fraction to hold per pilot step, in (0, 1).
        target_cess: f64,
    },
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::Adaptive { target_cess: 0.999 }
    }
}

/// The path parameters of a fixed schedule: K + 1 values, 0 first, 1 last, increasing.
pub fn schedule_betas(schedule: Schedule, steps: usize) -> Vec<f64> {
    let k = steps.max(1);
    let mut b: Vec<f64> = match schedule {
        Schedule::Sigmoid { delta } => {
            let sig = |t: f64| 1.0 / (1.0 + num::exp(-delta * (2.0 * t - 1.0)));
            let (lo, hi) = (sig(0.0), sig(1.0));
            (0..=k)
                .map(|i| (sig(i as f64 / k as f64) - lo) / (hi - lo))
                .collect()
        }
        _ => (0..=k).map(|i| i as f64 / k as f64).collect(),
    };
    b[0] = 0.0;
    b[k] = 1.0;
    b
}

/// Resample a pilot curve t(j / M) to K steps.
pub(crate) fn resample(ts: &[f64], k: usize) -> Vec<f64> {
    let mcount = ts.len() - 1;
    let mut out: Vec<f64> = (0..=k)
        .map(|j| {
            let u = j as f64 / k as f64 * mcount as f64;
            let i = (u.floor() as usize).min(mcount - 1);
            let f = u - i as f64;
            ts[i] + f * (ts[i + 1] - ts[i])
        })
        .collect();
    out[0] = 0.0;
    out[k] = 1.0;
    out
}

pub(crate) fn checkpoint_steps(k: usize) -> Vec<usize> {
    let c = k.min(100);
    (1..=c).map(|j| (j * k) / c).collect()
}

/// Share of the time left that the requested particles may take before the fitting lowers
/// the number of steps.
pub const LOWER_SHARE: f64 = 0.8;
/// Fewest steps the time-limit fitting lowers a schedule to.
pub const MIN_FITTED_STEPS: usize = 10;
/// Largest number of steps the time-limit fitting chooses.
pub const MAX_FITTED_STEPS: usize = 1_000_000;
/// Share of the time limit the fitted schedule aims to use.
pub const FIT_SHARE: f64 = 0.6;
