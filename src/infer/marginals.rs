//! One entry point for posterior marginals: [`marginals`] runs exact inference, likelihood
//! weighting, MCMC with any registered kernel, or a variational method, and returns one
//! [`Marginals`] result: the probabilities, what kind of estimate they are, their Monte Carlo
//! standard errors, R-hat and ESS where the method gives them, and log Z where it comes along.
//!
//! ```
//! use pgmkit::infer::marginals::{marginals, MarginalsMethod, MarginalsOptions};
//! use pgmkit::model::{ising_grid, Boundary, Model};
//! use pgmkit::sample::kernel::Kernel;
//! use pgmkit::Evidence;
//!
//! let g = ising_grid(3, 3, Boundary::Free, |_, _| 0.3, |_| 0.1).unwrap();
//! let model = Model::Markov(g);
//! let ev = Evidence::new(9);
//! let opts = MarginalsOptions::default();
//! let exact = marginals(&model, &ev, MarginalsMethod::Exact, &opts, None).unwrap();
//! let mcmc = marginals(&model, &ev, MarginalsMethod::Mcmc(Kernel::Gibbs), &opts, None).unwrap();
//! let se = mcmc.mcse.as_ref().unwrap()[0][1];
//! assert!((mcmc.probs[0][1] - exact.probs[0][1]).abs() < 5.0 * se + 1e-3);
//! ```

use super::exact::{self, ExactOptions};
use super::logz::{self, LogZMethod, LogZProgress, Phase};
use super::{EstimateKind, LogZEstimate};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::sample::chains::{run_mcmc, ChainConfig};
use crate::sample::kernel::{Kernel, KernelOptions};
use crate::sample::weighting::likelihood_weighting;
use crate::stop::{Convergence, StopRule};
use crate::var::{Evidence, VarId};

/// A method of [`marginals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarginalsMethod {
    /// Exact inference.
    Exact,
    /// Likelihood weighting (Bayesian networks).
    Lw,
    /// MCMC chains of this kernel ([`Kernel::Auto`] resolves on the model's zeros).
    Mcmc(Kernel),
    /// Naive mean field.
    Mf,
    /// Loopy belief propagation.
    Bp,
    /// Tree-reweighted BP (pseudo-marginals).
    Trw,
}

impl MarginalsMethod {
    /// The name on the command line and in Python: `exact`, `lw`, `mf`, `bp`, `trw`, or an MCMC
    /// kernel's name ([`Kernel::name`]; `mcmc` for [`Kernel::Auto`]).
    pub fn name(self) -> &'static str {
        match self {
            MarginalsMethod::Exact => "exact",
            MarginalsMethod::Lw => "lw",
            MarginalsMethod::Mcmc(Kernel::Auto) => "mcmc",
            MarginalsMethod::Mcmc(k) => k.name(),
            MarginalsMethod::Mf => "mf",
            MarginalsMethod::Bp => "bp",
            MarginalsMethod::Trw => "trw",
        }
    }

    /// The method of a name of [`MarginalsMethod::name`] (also the aliases `mean-field`,
    /// `loopy-bp`, `likelihood-weighting`, `metropolis`, `block-gibbs`).
    pub fn from_name(name: &str) -> Option<MarginalsMethod> {
        Some(match name {
            "exact" => MarginalsMethod::Exact,
            "lw" | "likelihood-weighting" => MarginalsMethod::Lw,
            "mcmc" => MarginalsMethod::Mcmc(Kernel::Auto),
            "mf" | "mean-field" => MarginalsMethod::Mf,
            "bp" | "loopy-bp" => MarginalsMethod::Bp,
            "trw" => MarginalsMethod::Trw,
            "metropolis" => MarginalsMethod::Mcmc(Kernel::MetropolisHastings),
            "block-gibbs" => MarginalsMethod::Mcmc(Kernel::BlockGibbs),
            k => MarginalsMethod::Mcmc(k.parse::<Kernel>().ok().filter(|k| *k != Kernel::Auto)?),
        })
    }
}

/// Options of [`marginals`].
#[derive(Debug, Clone, PartialEq)]
pub struct MarginalsOptions {
    /// Exact inference.
    pub exact: ExactOptions,
    /// Weighted samples of likelihood weighting (default 10,000).
    pub lw_samples: usize,
    /// The chains of MCMC (chains, warm-up, draws, thinning, seed, time limit).
    pub chains: ChainConfig,
    /// The kernel's options (scan order, blocks).
    pub kernel: KernelOptions,
    /// The variational methods' stop rule.
    pub stop: StopRule,
    /// Seed of likelihood weighting and of TRW's spanning trees (MCMC: `chains.seed`).
    pub seed: u64,
}

impl Default for MarginalsOptions {
    fn default() -> Self {
        MarginalsOptions {
            exact: ExactOptions::default(),
            lw_samples: 10_000,
            chains: ChainConfig::default(),
            kernel: KernelOptions::default(),
            stop: StopRule::new(1000, 1e-9),
            seed: 0,
        }
    }
}

/// What the probabilities of a [`Marginals`] are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarginalsKind {
    /// Exact up to rounding.
    Exact,
    /// Monte Carlo estimates with standard errors (`mcse`).
    Stochastic,
    /// A deterministic approximation (variational; no error bar).
    Approximate,
}

/// What an MCMC run did.
#[derive(Debug, Clone, PartialEq)]
pub struct McmcInfo {
    /// The kernel that ran ([`Kernel::Auto`] resolved).
    pub kernel: Kernel,
    /// Chains run.
    pub chains: usize,
    /// Draws kept per chain (fewer than asked when the time limit cut the run).
    pub draws_per_chain: usize,
    /// Warm-up sweeps per chain.
    pub burn_in: usize,
    /// Sweeps per kept draw.
    pub thin: usize,
    /// Accepted proposals (or state changes) per update.
    pub acceptance_rate: f64,
    /// Single-site updates made.
    pub updates: u64,
    /// The largest split-R-hat over the variables.
    pub max_rhat: Option<f64>,
    /// The smallest ESS over the variables.
    pub min_ess: Option<f64>,
    /// True when the time limit stopped the chains early.
    pub time_limited: bool,
}

/// Posterior marginals from any method, with what is known of their accuracy.
#[derive(Debug, Clone, PartialEq)]
pub struct Marginals {
    /// The method that ran.
    pub method: MarginalsMethod,
    /// `probs[v][s] = P(X_v = s | evidence)`.
    pub probs: Vec<Vec<f64>>,
    /// What the probabilities are.
    pub kind: MarginalsKind,
    /// ln Z (ln P(e)) when the method gives it (exact, lw, mf, bp, trw), with its kind.
    pub log_z: Option<LogZEstimate>,
    /// Monte Carlo standard errors per variable and state (lw, MCMC with diagnostics).
    pub mcse: Option<Vec<Vec<f64>>>,
    /// Split-R-hat per variable (MCMC with diagnostics; `None` for observed variables).
    pub rhat: Option<Vec<Option<f64>>>,
    /// Effective sample size per variable (MCMC: split ESS; lw: Kish's ESS of the weights).
    pub ess: Option<Vec<Option<f64>>>,
    /// Samples the estimate rests on (lw: weighted samples; MCMC: all chains' draws).
    pub samples: Option<usize>,
    /// The MCMC run.
    pub mcmc: Option<McmcInfo>,
    /// How the iterations of a variational method ended.
    pub convergence: Option<Convergence>,
    /// The chains' draws (MCMC with diagnostics), for traces and running means.
    pub traces: Option<crate::sample::chains::Traces>,
}

impl Marginals {
    /// The marginals of an MCMC run of `kernel` (`resolved` on the model) from its summary:
    /// what [`marginals`] gives for [`MarginalsMethod::Mcmc`] (also from merged shards,
    /// [`crate::sample::chains::shard::merge`]). `warmup` and `thin` are the run's.
    pub fn from_chains(
        kernel: Kernel,
        resolved: Kernel,
        warmup: usize,
        thin: usize,
        s: crate::sample::chains::ChainSummary,
    ) -> Marginals {
        let d = s.diagnostics.as_ref();
        Marginals {
            method: MarginalsMethod::Mcmc(kernel),
            kind: MarginalsKind::Stochastic,
            log_z: None,
            mcse: d.map(|d| d.mcse.clone()),
            rhat: d.map(|d| d.rhat.clone()),
            ess: d.map(|d| d.ess.clone()),
            samples: Some(s.chains * s.draws),
            mcmc: Some(McmcInfo {
                kernel: resolved,
                chains: s.chains,
                draws_per_chain: s.draws,
                burn_in: warmup,
                thin,
                acceptance_rate: s.acceptance_rate,
                updates: s.updates,
                max_rhat: d.and_then(|d| d.max_rhat),
                min_ess: d.and_then(|d| d.min_ess),
                time_limited: s.time_limited,
            }),
            convergence: None,
            probs: s.marginals,
            traces: s.traces,
        }
    }

    /// The marginal of `v`.
    pub fn marginal(&self, v: VarId) -> &[f64] {
        &self.probs[v.index()]
    }
}

fn variational_method(m: MarginalsMethod) -> Option<LogZMethod> {
    match m {
        MarginalsMethod::Mf => Some(LogZMethod::Mf),
        MarginalsMethod::Bp => Some(LogZMethod::Bp),
        MarginalsMethod::Trw => Some(LogZMethod::Trw),
        _ => None,
    }
}

/// Posterior marginals of every variable of `model` under `ev` by `method`. `progress` hears
/// of the run as one phase (MCMC: in sweeps over all chains; the others without a measure).
///
/// Errors: those of the method (exact inference too large, likelihood weighting on a Markov
/// network, the chain runner's and kernels' errors, a variational method's).
pub fn marginals(
    model: &Model,
    ev: &Evidence,
    method: MarginalsMethod,
    opts: &MarginalsOptions,
    progress: Option<LogZProgress<'_>>,
) -> Result<Marginals> {
    let n = model.vars().len();
    let phase = |p: Phase<'_>| {
        if let Some(f) = progress {
            f(p)
        }
    };
    let mut out = Marginals {
        method,
        probs: Vec::new(),
        kind: MarginalsKind::Exact,
        log_z: None,
        mcse: None,
        rhat: None,
        ess: None,
        samples: None,
        mcmc: None,
        convergence: None,
        traces: None,
    };
    match method {
        MarginalsMethod::Exact => {
            let post = match model {
                Model::Bayes(bn) => exact::bn_marginals(bn, ev, &opts.exact)?,
                Model::Markov(fg) => exact::marginals(fg, ev, &opts.exact)?,
            };
            out.probs = (0..n).map(|i| post.marginal(VarId::from(i))).collect();
            out.log_z = Some(LogZEstimate::exact(post.log_z));
        }
        MarginalsMethod::Lw => {
            let Model::Bayes(bn) = model else {
                return Err(Error::InvalidArgument(
                    "likelihood weighting needs a Bayesian network".into(),
                ));
            };
            let k = opts.lw_samples;
            if k == 0 {
                return Err(Error::InvalidArgument(
                    "likelihood weighting needs at least 1 sample (got 0)".into(),
                ));
            }
            phase(Phase::Start {
                label: &format!("likelihood weighting, {k} samples"),
                units: None,
            });
            let est = likelihood_weighting(bn, ev, k, opts.seed);
            phase(Phase::End);
            let est = est?;
            let kish = est.log_z.ess;
            out.kind = MarginalsKind::Stochastic;
            out.probs = (0..n)
                .map(|i| est.posterior.marginal(VarId::from(i)))
                .collect();
            out.ess = Some(
                (0..n)
                    .map(|i| ev.get(VarId::from(i)).is_none().then_some(kish).flatten())
                    .collect(),
            );
            out.mcse = Some(est.mcse);
            out.samples = Some(k);
            out.log_z = Some(est.log_z);
        }
        MarginalsMethod::Mcmc(kernel) => {
            let fg = model.to_factor_graph();
            let cfg = &opts.chains;
            phase(Phase::Start {
                label: &format!("{} ({} chains)", kernel.name(), cfg.chains),
                units: Some(cfg.total_sweeps()),
            });
            let tick = |k: u64| phase(Phase::Advance(k));
            let s = run_mcmc(&fg, ev, kernel, &opts.kernel, cfg, Some(&tick));
            phase(Phase::End);
            return Ok(Marginals::from_chains(
                kernel,
                kernel.resolve_on(&fg),
                cfg.warmup,
                cfg.thin,
                s?,
            ));
        }
        MarginalsMethod::Mf | MarginalsMethod::Bp | MarginalsMethod::Trw => {
            let m = variational_method(method).expect("a variational method");
            let fg = model.to_factor_graph();
            phase(Phase::Start {
                label: &format!("{m} (up to {} sweeps)", opts.stop.max_iters),
                units: None,
            });
            let r = logz::variational(m, &fg, ev, opts.stop, opts.seed);
            phase(Phase::End);
            let r = r?;
            out.kind = MarginalsKind::Approximate;
            out.probs = (0..n)
                .map(|i| r.marginals.marginal(VarId::from(i)))
                .collect();
            out.convergence = Some(r.convergence);
            out.log_z = Some(r.log_z);
        }
    }
    debug_assert!(out.log_z.as_ref().is_none_or(|l| match out.kind {
        MarginalsKind::Exact => l.kind == EstimateKind::Exact,
        _ => true,
    }));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ising_grid, Boundary};

    #[test]
    fn every_method_gives_normalised_marginals_close_to_exact() {
        let g = ising_grid(3, 3, Boundary::Free, |_, _| 0.15, |_| 0.1).unwrap();
        let model = Model::Markov(g);
        let ev = Evidence::new(9);
        let opts = MarginalsOptions {
            chains: ChainConfig {
                draws: 5000,
                seed: 3,
                ..ChainConfig::default()
            },
            ..MarginalsOptions::default()
        };
        let exact = marginals(&model, &ev, MarginalsMethod::Exact, &opts, None).unwrap();
        assert_eq!(exact.kind, MarginalsKind::Exact);
        for m in [
            MarginalsMethod::Mcmc(Kernel::Gibbs),
            MarginalsMethod::Mcmc(Kernel::MetropolisHastings),
            MarginalsMethod::Mcmc(Kernel::BlockGibbs),
            MarginalsMethod::Mf,
            MarginalsMethod::Bp,
            MarginalsMethod::Trw,
        ] {
            let r = marginals(&model, &ev, m, &opts, None).unwrap();
            for (p, q) in r.probs.iter().zip(&exact.probs) {
                assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                // MCMC within 5 MCSE (alpha far below 0.001 over 9 variables); variational
                // within 0.1 on this weakly coupled grid (mean field is the
                // worst: it overstates the field's pull)
                let tol = match &r.mcse {
                    Some(_) => 0.05,
                    None => 0.1,
                };
                assert!((p[1] - q[1]).abs() < tol, "{m:?}: {} vs {}", p[1], q[1]);
            }
            assert_eq!(
                r.mcmc.is_some(),
                r.kind == MarginalsKind::Stochastic,
                "{m:?}"
            );
        }
        let e = marginals(&model, &ev, MarginalsMethod::Lw, &opts, None).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
    }
}
