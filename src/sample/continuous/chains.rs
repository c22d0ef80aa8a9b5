//! The parallel chain runner for continuous states: C chains of any [`ContinuousTransition`],
//! warm-up (with adaptation), thinning, draws; per-coordinate means, standard deviations, MCSE,
//! split-R-hat and ESS computed by [`crate::diagnostics`] (`mcse_mean`, `split_rhat`,
//! `split_ess`).
//!
//! Chain `c` draws all its randomness (its start point included) from
//! [`chain_rng`]`(seed, c)` and chains run in parallel with rayon, so every field but the
//! timings is bit-identical for any number of threads.

use std::time::Instant;

use rand::Rng;
use rayon::prelude::*;

use super::ContinuousTransition;
use crate::diagnostics::{mcse_mean, split_ess, split_rhat};
use crate::error::{Error, Result};
use crate::rng::chain_rng;
use crate::sample::chains::Progress;

/// Tries at a random start point of positive density before giving up.
const START_TRIES: usize = 100;

/// How chains start.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Each coordinate uniform in `[-radius, radius]` from the chain's own stream (Stan's
    /// default with radius 2); redrawn (up to 100 times) while the density is zero there.
    Uniform {
        /// Half-width of the box.
        radius: f64,
    },
    /// Every chain starts here.
    Given(Vec<f64>),
    /// Chain `c` starts at the `c`-th point.
    PerChain(Vec<Vec<f64>>),
}

impl Default for Init {
    fn default() -> Self {
        Init::Uniform { radius: 2.0 }
    }
}

/// What [`run_continuous_chains`] does.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuousChainConfig {
    /// Number of chains (default 4).
    pub chains: usize,
    /// Transitions discarded (and used for adaptation) at the start of each chain (default 1000).
    pub warmup: usize,
    /// Draws kept per chain (default 1000).
    pub draws: usize,
    /// Transitions per kept draw (default 1).
    pub thin: usize,
    /// Seed: chain `c` uses `chain_rng(seed, c)`.
    pub seed: u64,
    /// Start points.
    pub init: Init,
    /// Keep the draws (needed for R-hat, ESS and MCSE; default true).
    pub keep_draws: bool,
}

impl Default for ContinuousChainConfig {
    fn default() -> Self {
        ContinuousChainConfig {
            chains: 4,
            warmup: 1000,
            draws: 1000,
            thin: 1,
            seed: 0,
            init: Init::default(),
            keep_draws: true,
        }
    }
}

/// The kept draws: per chain, draw-major (`draws x dim`).
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuousDraws {
    dim: usize,
    draws: usize,
    data: Vec<Vec<f64>>,
}

impl ContinuousDraws {
    /// Number of chains.
    pub fn num_chains(&self) -> usize {
        self.data.len()
    }
    /// Draws per chain.
    pub fn num_draws(&self) -> usize {
        self.draws
    }
    /// Draw `d` of chain `c`.
    pub fn draw(&self, c: usize, d: usize) -> &[f64] {
        &self.data[c][d * self.dim..(d + 1) * self.dim]
    }
    /// The trace of coordinate `i` in chain `c`.
    pub fn coordinate(&self, c: usize, i: usize) -> Vec<f64> {
        (0..self.draws)
            .map(|d| self.data[c][d * self.dim + i])
            .collect()
    }
}

/// The result of [`run_continuous_chains`].
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuousSummary {
    /// Dimension.
    pub dim: usize,
    /// Number of chains.
    pub chains: usize,
    /// Draws per chain.
    pub draws: usize,
    /// Posterior mean of each coordinate over all kept draws.
    pub mean: Vec<f64>,
    /// Standard deviation of each coordinate over all kept draws.
    pub sd: Vec<f64>,
    /// Monte Carlo standard error of each mean (`sd / sqrt(split ESS)`); `None` without draws
    /// or with fewer than 4 draws per chain.
    pub mcse: Vec<Option<f64>>,
    /// Split-R-hat per coordinate.
    pub rhat: Vec<Option<f64>>,
    /// Split ESS per coordinate.
    pub ess: Vec<Option<f64>>,
    /// Largest R-hat.
    pub max_rhat: Option<f64>,
    /// Smallest ESS.
    pub min_ess: Option<f64>,
    /// Mean acceptance probability after warm-up.
    pub acceptance_rate: f64,
    /// Divergent transitions after warm-up (HMC).
    pub divergences: u64,
    /// Gradient / density evaluations, warm-up included.
    pub evals: u64,
    /// Step size of each chain after warm-up (kernels that have one).
    pub step_sizes: Vec<Option<f64>>,
    /// The last state of each chain.
    pub final_states: Vec<Vec<f64>>,
    /// The kept draws (`None` with `keep_draws` off).
    pub draws_kept: Option<ContinuousDraws>,
    /// Wall-clock seconds (the only field that varies between identical runs).
    pub seconds: f64,
}

/// Per coordinate: (sd, MCSE, split-R-hat, split ESS).
type CoordDiag = (f64, Option<f64>, Option<f64>, Option<f64>);

struct ChainOut {
    sum: Vec<f64>,
    sumsq: Vec<f64>,
    trace: Vec<f64>,
    accept: f64,
    divergences: u64,
    evals: u64,
    step_size: Option<f64>,
    last: Vec<f64>,
}

fn check_point(x: &[f64], dim: usize, what: &str) -> Result<()> {
    if x.len() != dim {
        return Err(Error::DimensionMismatch {
            what: what.to_string(),
            expected: dim,
            found: x.len(),
        });
    }
    if let Some(v) = x.iter().find(|v| !v.is_finite()) {
        return Err(Error::InvalidNumber {
            what: what.to_string(),
            value: *v,
        });
    }
    Ok(())
}

/// Run the chains of `cfg` with `kernel`, calling `progress` with the number of transitions
/// completed since its last call.
///
/// Errors: zero chains, draws or thinning; start points of the wrong length, not finite or of
/// zero density; no start point of positive density found in the uniform box.
pub fn run_continuous_chains<K: ContinuousTransition>(
    kernel: &K,
    cfg: &ContinuousChainConfig,
    progress: Option<Progress<'_>>,
) -> Result<ContinuousSummary> {
    let t0 = Instant::now();
    let dim = kernel.dim();
    if cfg.chains == 0 || cfg.draws == 0 || cfg.thin == 0 {
        return Err(Error::InvalidArgument(format!(
            "chains, draws and thin must be at least 1 (got chains = {}, draws = {}, thin = {})",
            cfg.chains, cfg.draws, cfg.thin
        )));
    }
    match &cfg.init {
        Init::Uniform { radius } => {
            if !(*radius >= 0.0 && radius.is_finite()) {
                return Err(Error::InvalidArgument(format!(
                    "the start radius must be finite and non-negative (got {radius})"
                )));
            }
        }
        Init::Given(x) => check_point(x, dim, "start point")?,
        Init::PerChain(xs) => {
            crate::error::check_dim("start points (one per chain)", cfg.chains, xs.len())?;
            for x in xs {
                check_point(x, dim, "start point")?;
            }
        }
    }
    let per_chain = cfg.warmup as u64 + (cfg.draws * cfg.thin) as u64;
    let tick_every = (per_chain / 200).max(1);
    let run_one = |c: usize| -> Result<ChainOut> {
        let mut rng = chain_rng(cfg.seed, c as u64);
        let mut x = match &cfg.init {
            Init::Uniform { radius } => {
                let mut found = None;
                for _ in 0..START_TRIES {
                    let x: Vec<f64> = (0..dim)
                        .map(|_| radius * (2.0 * rng.random::<f64>() - 1.0))
                        .collect();
                    if kernel.log_target(&x).is_finite() {
                        found = Some(x);
                        break;
                    }
                }
                found.ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "no start point of positive density found in {START_TRIES} uniform \
                         draws in [-{radius}, {radius}]^{dim}; give start points"
                    ))
                })?
            }
            Init::Given(x) => x.clone(),
            Init::PerChain(xs) => xs[c].clone(),
        };
        if !kernel.log_target(&x).is_finite() {
            return Err(Error::InvalidArgument(format!(
                "the start point of chain {c} has zero density (or a log density that is not finite)"
            )));
        }
        let mut cs = kernel.init_chain();
        let mut out = ChainOut {
            sum: vec![0.0; dim],
            sumsq: vec![0.0; dim],
            trace: if cfg.keep_draws {
                Vec::with_capacity(cfg.draws * dim)
            } else {
                Vec::new()
            },
            accept: 0.0,
            divergences: 0,
            evals: 0,
            step_size: None,
            last: Vec::new(),
        };
        let mut since = 0u64;
        let tick = |since: &mut u64| {
            *since += 1;
            if *since >= tick_every {
                if let Some(p) = progress {
                    p(*since);
                }
                *since = 0;
            }
        };
        for _ in 0..cfg.warmup {
            let st = kernel.step(&mut x, &mut cs, true, &mut rng);
            out.evals += st.evals;
            tick(&mut since);
        }
        kernel.end_warmup(&mut cs);
        for _ in 0..cfg.draws {
            for _ in 0..cfg.thin {
                let st = kernel.step(&mut x, &mut cs, false, &mut rng);
                out.evals += st.evals;
                out.accept += st.accept_prob;
                out.divergences += st.divergent as u64;
                tick(&mut since);
            }
            for ((s, q), v) in out.sum.iter_mut().zip(&mut out.sumsq).zip(&x) {
                *s += v;
                *q += v * v;
            }
            if cfg.keep_draws {
                out.trace.extend_from_slice(&x);
            }
        }
        if since > 0 {
            if let Some(p) = progress {
                p(since);
            }
        }
        out.step_size = kernel.step_size(&cs);
        out.last = x;
        Ok(out)
    };
    let outs: Vec<ChainOut> = (0..cfg.chains)
        .into_par_iter()
        .map(run_one)
        .collect::<Result<_>>()?;

    let total = (cfg.chains * cfg.draws) as f64;
    let mut mean = vec![0.0; dim];
    for o in &outs {
        for (m, s) in mean.iter_mut().zip(&o.sum) {
            *m += s;
        }
    }
    for m in &mut mean {
        *m /= total;
    }
    let draws_kept = cfg.keep_draws.then(|| ContinuousDraws {
        dim,
        draws: cfg.draws,
        data: outs.iter().map(|o| o.trace.clone()).collect(),
    });
    let per_coord: Vec<CoordDiag> = (0..dim)
        .into_par_iter()
        .map(|i| match &draws_kept {
            Some(d) => {
                let cols: Vec<Vec<f64>> = (0..cfg.chains).map(|c| d.coordinate(c, i)).collect();
                let refs: Vec<&[f64]> = cols.iter().map(|v| v.as_slice()).collect();
                let ss: f64 = cols
                    .iter()
                    .flatten()
                    .map(|v| (v - mean[i]) * (v - mean[i]))
                    .sum();
                let sd = if total > 1.0 {
                    (ss / (total - 1.0)).sqrt()
                } else {
                    0.0
                };
                (sd, mcse_mean(&refs), split_rhat(&refs), split_ess(&refs))
            }
            None => {
                let q: f64 = outs.iter().map(|o| o.sumsq[i]).sum();
                let sd = if total > 1.0 {
                    ((q - total * mean[i] * mean[i]).max(0.0) / (total - 1.0)).sqrt()
                } else {
                    0.0
                };
                (sd, None, None, None)
            }
        })
        .collect();
    let mut s = ContinuousSummary {
        dim,
        chains: cfg.chains,
        draws: cfg.draws,
        mean,
        sd: Vec::with_capacity(dim),
        mcse: Vec::with_capacity(dim),
        rhat: Vec::with_capacity(dim),
        ess: Vec::with_capacity(dim),
        max_rhat: None,
        min_ess: None,
        acceptance_rate: outs.iter().map(|o| o.accept).sum::<f64>() / (total * cfg.thin as f64),
        divergences: outs.iter().map(|o| o.divergences).sum(),
        evals: outs.iter().map(|o| o.evals).sum(),
        step_sizes: outs.iter().map(|o| o.step_size).collect(),
        final_states: outs.into_iter().map(|o| o.last).collect(),
        draws_kept,
        seconds: 0.0,
    };
    for (sd, m, r, e) in per_coord {
        s.sd.push(sd);
        s.mcse.push(m);
        s.rhat.push(r);
        s.ess.push(e);
        if let Some(r) = r {
            s.max_rhat = Some(s.max_rhat.map_or(r, |a: f64| a.max(r)));
        }
        if let Some(e) = e {
            s.min_ess = Some(s.min_ess.map_or(e, |a: f64| a.min(e)));
        }
    }
    s.seconds = t0.elapsed().as_secs_f64();
    Ok(s)
}
