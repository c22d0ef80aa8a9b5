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

use rand::Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::estimate::LogZEstimate;
use crate::model::rbm::{sigmoid, softplus, Rbm};
use crate::rng::chain_rng;
use crate::sample::anneal::weights::weight_stats;

/// Options of [`rbm_ais`].
#[derive(Debug, Clone, PartialEq)]
pub struct RbmAisOptions {
    /// Particles (default 100, as the paper).
    pub particles: usize,
    /// Steps, linearly spaced (default `None`: the paper's 14 500-step schedule).
    pub steps: Option<usize>,
    /// Seed of the particles.
    pub seed: u64,
}

impl Default for RbmAisOptions {
    fn default() -> Self {
        RbmAisOptions {
            particles: 100,
            steps: None,
            seed: 0,
        }
    }
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
}

impl RbmAisResult {
    /// As a [`LogZEstimate`] (a stochastic estimate, a lower bound in expectation).
    pub fn estimate(&self) -> LogZEstimate {
        LogZEstimate::annealed(self.log_z, self.std_err, self.ess, false)
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

/// `ln Z` of `rbm` by AIS from the base-rate model with visible biases `base_bias` (see
/// [`Rbm::base_rate_bias`]; zeros give a uniform base). Errors: `base_bias` of the wrong length
/// or not finite, no particle, zero steps.
pub fn rbm_ais(rbm: &Rbm, base_bias: &[f64], opts: &RbmAisOptions) -> Result<RbmAisResult> {
    let t0 = std::time::Instant::now();
    let (nv, nh) = (rbm.num_visible(), rbm.num_hidden());
    crate::error::check_dim(
        "base-rate biases (one per visible unit)",
        nv,
        base_bias.len(),
    )?;
    if let Some(x) = base_bias.iter().find(|x| !x.is_finite()) {
        return Err(Error::InvalidNumber {
            what: "a base-rate bias".into(),
            value: *x,
        });
    }
    if opts.particles == 0 || opts.steps == Some(0) {
        return Err(Error::InvalidArgument(
            "AIS needs at least one particle and one step".into(),
        ));
    }
    let betas = match opts.steps {
        None => paper_betas(),
        Some(k) => (0..=k).map(|i| i as f64 / k as f64).collect(),
    };
    let (b, c, w) = (rbm.visible_bias(), rbm.hidden_bias(), rbm.weights());
    let log_za =
        nh as f64 * std::f64::consts::LN_2 + base_bias.iter().map(|&x| softplus(x)).sum::<f64>();
    // ln p*_β(v) given the hidden inputs x_j = c_j + W_j v and the visible sums
    let log_p = |beta: f64, bv: f64, av: f64, x: &[f64]| -> f64 {
        (1.0 - beta) * av + beta * bv + x.iter().map(|&xj| softplus(beta * xj)).sum::<f64>()
    };
    let log_weights: Vec<f64> = (0..opts.particles)
        .into_par_iter()
        .map(|p| {
            let mut rng = chain_rng(opts.seed, p as u64);
            let mut v: Vec<f64> = base_bias
                .iter()
                .map(|&a| f64::from(u8::from(rng.random::<f64>() < sigmoid(a))))
                .collect();
            let mut h = vec![0.0; nh];
            let mut x = vec![0.0; nh];
            let inputs = |v: &[f64], x: &mut [f64]| {
                for j in 0..nh {
                    let row = &w[j * nv..(j + 1) * nv];
                    x[j] = c[j] + row.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
                }
            };
            let sums = |v: &[f64]| -> (f64, f64) {
                (
                    b.iter().zip(v).map(|(a, x)| a * x).sum(),
                    base_bias.iter().zip(v).map(|(a, x)| a * x).sum(),
                )
            };
            let mut lw = 0.0;
            inputs(&v, &mut x);
            let (mut bv, mut av) = sums(&v);
            for k in 1..betas.len() {
                let (b0, b1) = (betas[k - 1], betas[k]);
                lw += log_p(b1, bv, av, &x) - log_p(b0, bv, av, &x);
                // block Gibbs at b1: h | v, then v | h
                rbm.tempered_sweep(&mut v, &mut h, b1, base_bias, &mut rng);
                inputs(&v, &mut x);
                (bv, av) = sums(&v);
            }
            lw
        })
        .collect();
    let (lme, se, ess, _, _) = weight_stats(&log_weights);
    Ok(RbmAisResult {
        log_z: lme + log_za,
        std_err: se,
        ess,
        log_weights,
        steps: betas.len() - 1,
        seconds: t0.elapsed().as_secs_f64(),
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
