//! The runs of the single methods: the context of one [`log_z`](super::log_z) call (model
//! lowered once, the budget, progress) and one function per method.

use std::cell::OnceCell;
use std::time::Instant;

use super::*;
use crate::infer::ais::{self, AisOptions};
use crate::infer::exact;
use crate::infer::variational::{BeliefPropagation, MeanField, Trw, VariationalResult};
use crate::limits::Deadline;
use crate::model::{FactorGraph, Model};
use crate::sample::weighting::likelihood_weighting;
use crate::stop::StopRule;
use crate::var::Evidence;

/// Everything a run needs, with the model lowered to a factor graph once.
pub(super) struct Ctx<'a> {
    pub(super) model: &'a Model,
    pub(super) ev: &'a Evidence,
    pub(super) opts: &'a LogZOptions,
    pub(super) deadline: Deadline,
    pub(super) progress: Option<LogZProgress<'a>>,
    pub(super) fg: OnceCell<FactorGraph>,
}

impl Ctx<'_> {
    pub(super) fn fg(&self) -> &FactorGraph {
        self.fg.get_or_init(|| self.model.to_factor_graph())
    }

    pub(super) fn ais_for(&self, share: f64) -> AisOptions {
        self.opts.ais.with_deadline(self.deadline.share(share))
    }

    pub(super) fn stop_for(&self, share: f64) -> StopRule {
        StopRule {
            max_time: self
                .deadline
                .share(share)
                .remaining()
                .or(self.opts.stop.max_time),
            ..self.opts.stop
        }
    }

    pub(super) fn start(&self, label: &str, units: Option<u64>) {
        if let Some(p) = self.progress {
            p(Phase::Start { label, units });
        }
    }

    pub(super) fn end(&self) {
        if let Some(p) = self.progress {
            p(Phase::End);
        }
    }

    /// Progress units (sweeps over the particles) of one AIS run.
    pub(super) fn ais_units(&self) -> u64 {
        let a = &self.opts.ais;
        (a.particles as u64)
            .saturating_mul(a.steps as u64)
            .saturating_mul(a.sweeps as u64)
    }

    pub(super) fn ais_label(&self, what: &str) -> String {
        format!("{what} {}x{}", self.opts.ais.particles, self.opts.ais.steps)
    }

    /// Run `f` with an AIS progress callback forwarding to ours.
    pub(super) fn with_ais_progress<T>(
        &self,
        f: impl FnOnce(Option<crate::sample::chains::Progress<'_>>) -> T,
    ) -> T {
        match self.progress {
            Some(p) => {
                let q = move |k: u64| p(Phase::Advance(k));
                f(Some(&q))
            }
            None => f(None),
        }
    }
}

pub(super) fn exact_run(c: &Ctx) -> Result<MethodRun> {
    let t = Instant::now();
    let estimate = match c.model {
        Model::Bayes(bn) => exact::bn_log_evidence(bn, c.ev, &c.opts.exact)?,
        Model::Markov(fg) => exact::log_z(fg, c.ev, &c.opts.exact)?,
    };
    Ok(MethodRun {
        method: LogZMethod::Exact,
        estimate,
        seconds: t.elapsed().as_secs_f64(),
        detail: RunDetail::Exact,
    })
}

pub(super) fn lw_run(c: &Ctx) -> Result<MethodRun> {
    let Model::Bayes(bn) = c.model else {
        return Err(Error::InvalidArgument(
            "likelihood weighting needs a Bayesian network".into(),
        ));
    };
    let n = c.opts.lw_samples;
    if n == 0 {
        return Err(Error::InvalidArgument(
            "likelihood weighting needs at least 1 sample (got 0)".into(),
        ));
    }
    let t = Instant::now();
    c.start(&format!("likelihood weighting, {n} samples"), None);
    let est = likelihood_weighting(bn, c.ev, n, c.opts.seed);
    c.end();
    Ok(MethodRun {
        method: LogZMethod::Lw,
        estimate: est?.log_z,
        seconds: t.elapsed().as_secs_f64(),
        detail: RunDetail::Lw { samples: n },
    })
}

pub(super) fn ais_run(c: &Ctx, share: f64) -> Result<MethodRun> {
    let t = Instant::now();
    c.start(&c.ais_label("ais"), Some(c.ais_units()));
    let res = c.with_ais_progress(|p| ais::ais(c.fg(), c.ev, &c.ais_for(share), p));
    c.end();
    let res = res?;
    Ok(MethodRun {
        method: LogZMethod::Ais,
        estimate: res.estimate(),
        seconds: t.elapsed().as_secs_f64(),
        detail: RunDetail::Ais(Box::new(res)),
    })
}

/// Exact samples for reverse AIS (`share` of the time left), and the seconds they took.
pub(super) fn exact_samples(
    c: &Ctx,
    method: LogZMethod,
    share: f64,
) -> Result<(Vec<Vec<usize>>, f64)> {
    let t = Instant::now();
    c.start(
        &format!("{method}: drawing {} exact samples", c.opts.ais.particles),
        None,
    );
    let res = ais::exact_samples_until(
        c.fg(),
        c.ev,
        c.opts.ais.particles,
        c.opts.seed,
        &c.opts.exact,
        c.deadline.share(share),
    );
    c.end();
    Ok((res?, t.elapsed().as_secs_f64()))
}

pub(super) fn rais_run(c: &Ctx, share: f64) -> Result<MethodRun> {
    let t = Instant::now();
    let (samples, _) = exact_samples(c, LogZMethod::Rais, 0.2 * share)?;
    c.start(&c.ais_label("rais"), Some(c.ais_units()));
    let res =
        c.with_ais_progress(|p| ais::reverse_ais(c.fg(), c.ev, &c.ais_for(share), &samples, p));
    c.end();
    let res = res?;
    Ok(MethodRun {
        method: LogZMethod::Rais,
        estimate: res.estimate(),
        seconds: t.elapsed().as_secs_f64(),
        detail: RunDetail::Ais(Box::new(res)),
    })
}

pub(super) fn bdmc_run(c: &Ctx, share: f64) -> Result<MethodRun> {
    let t = Instant::now();
    let (samples, sample_seconds) = exact_samples(c, LogZMethod::Bdmc, 0.2 * share)?;
    c.start(&c.ais_label("bdmc"), Some(c.ais_units().saturating_mul(2)));
    let b = c.with_ais_progress(|p| ais::bdmc(c.fg(), c.ev, &c.ais_for(share), Some(&samples), p));
    c.end();
    let b = b?;
    Ok(MethodRun {
        method: LogZMethod::Bdmc,
        estimate: b.estimate(),
        seconds: t.elapsed().as_secs_f64(),
        detail: RunDetail::Bdmc {
            bdmc: Box::new(b),
            sample_seconds,
        },
    })
}

/// Mean field, BP or TRW on `fg` under `ev` with the stop rule `stop` (`seed`: TRW's spanning
/// trees).
pub fn variational(
    method: LogZMethod,
    fg: &FactorGraph,
    ev: &Evidence,
    stop: StopRule,
    seed: u64,
) -> Result<VariationalResult> {
    match method {
        LogZMethod::Mf => MeanField {
            stop,
            ..MeanField::default()
        }
        .run(fg, ev),
        LogZMethod::Bp => BeliefPropagation {
            stop,
            ..BeliefPropagation::default()
        }
        .run(fg, ev),
        LogZMethod::Trw => Trw {
            stop,
            seed,
            ..Trw::default()
        }
        .run(fg, ev),
        m => Err(Error::InvalidArgument(format!(
            "{m} is not a variational method (mf, bp, trw)"
        ))),
    }
}

pub(super) fn variational_run(c: &Ctx, method: LogZMethod, share: f64) -> Result<MethodRun> {
    let t = Instant::now();
    let stop = c.stop_for(share);
    c.start(&format!("{method} (up to {} sweeps)", stop.max_iters), None);
    let r = variational(method, c.fg(), c.ev, stop, c.opts.seed);
    c.end();
    let r = r?;
    Ok(MethodRun {
        method,
        estimate: r.log_z.clone(),
        seconds: t.elapsed().as_secs_f64(),
        detail: RunDetail::Variational(Box::new(r)),
    })
}

/// Run one method (not `auto` or `all`) with the whole budget.
pub(super) fn single(c: &Ctx, method: LogZMethod) -> Result<MethodRun> {
    match method {
        LogZMethod::Exact => exact_run(c),
        LogZMethod::Lw => lw_run(c),
        LogZMethod::Ais => ais_run(c, 1.0),
        LogZMethod::Rais => rais_run(c, 1.0),
        LogZMethod::Bdmc => bdmc_run(c, 1.0),
        LogZMethod::Mf | LogZMethod::Bp | LogZMethod::Trw => variational_run(c, method, 1.0),
        LogZMethod::Auto | LogZMethod::All => unreachable!("a policy, not a method"),
    }
}
