//! The policies over the methods: `auto` and `all`.

use super::runs::*;
use super::*;
use crate::infer::BoundKind;
use crate::model::Model;

/// Exact inference unless it cannot fit: `Ok(Err(reason))` when it does not (a quick plan says
/// it is hopeless, or it ran out of memory budget), any other error as is.
pub(super) fn exact_if_it_fits(c: &Ctx) -> Result<std::result::Result<MethodRun, String>> {
    if let Some(reason) = hopeless_for_exact(c.model, c.fg(), c.ev, &c.opts.exact) {
        return Ok(Err(reason));
    }
    match exact_run(c) {
        Ok(r) => Ok(Ok(r)),
        Err(e @ Error::TooLarge { .. }) => Ok(Err(too_large_text(&e))),
        Err(e) => Err(e),
    }
}

/// `auto`: exact when it fits, else AIS (70% of the budget) with the mean-field lower bound and
/// the TRW upper bound.
pub(super) fn auto(c: &Ctx, report: &mut LogZReport) -> Result<()> {
    let too_large = match exact_if_it_fits(c)? {
        Ok(r) => {
            report.estimate = r.estimate.clone();
            report.sources = ["log_z", "lower", "upper"]
                .map(|field| Source {
                    field,
                    method: LogZMethod::Exact,
                })
                .to_vec();
            report
                .notes
                .push("exact inference fits in the memory limit, so auto used it".to_string());
            report.runs.push(r);
            return Ok(());
        }
        Err(reason) => reason,
    };
    let ais = ais_run(c, 0.7)?;
    let mut est = ais.estimate.clone();
    report.notes.push(format!(
        "exact inference does not fit ({too_large}), so auto ran ais (estimate), mf (lower \
         bound) and trw (upper bound)"
    ));
    let mut sources: Vec<Source> = ["log_z", "std_err", "ess"]
        .map(|field| Source {
            field,
            method: LogZMethod::Ais,
        })
        .to_vec();
    report.runs.push(ais);
    // the bounds: (method, share of the remaining budget, field, note when it fails)
    for (method, share, field, failed) in [
        (LogZMethod::Mf, 0.5, "lower", "mf (lower bound) failed"),
        (LogZMethod::Trw, 1.0, "upper", "no upper bound"),
    ] {
        match variational_run(c, method, share) {
            Ok(run) => {
                if field == "lower" {
                    est.lower = run.estimate.lower;
                } else {
                    est.upper = run.estimate.upper;
                }
                sources.push(Source { field, method });
                report.runs.push(run);
            }
            Err(e) => {
                report.notes.push(format!("{failed}: {e}"));
                skip(report, method, skip_reason(&e));
            }
        }
    }
    est.bound_kind =
        (est.lower.is_some() || est.upper.is_some()).then_some(BoundKind::Deterministic);
    let se = est.std_err.unwrap_or(0.0);
    if let Some(l) = est.lower.filter(|&l| est.log_z + 3.0 * se < l) {
        report.notes.push(format!(
            "warning: the AIS estimate is below the mean-field lower bound {l:.6} by more than 3 \
             standard errors: AIS has not equilibrated; raise --steps or --sweeps"
        ));
    }
    if let Some(u) = est.upper.filter(|&u| est.log_z - 3.0 * se > u) {
        report.notes.push(format!(
            "warning: the AIS estimate is above the TRW upper bound {u:.6} by more than 3 standard \
             errors; raise --particles or --steps"
        ));
    }
    report.estimate = est;
    report.sources = sources;
    Ok(())
}

/// Record that `method` did not run, and why.
fn skip(report: &mut LogZReport, method: LogZMethod, reason: String) {
    report.skipped.push(Skipped { method, reason })
}

/// The reason a failed method gives in `all`.
pub(super) fn skip_reason(e: &Error) -> String {
    match e {
        Error::NotPairwise { factor, arity, .. } => format!(
            "upper bound needs a pairwise model after evidence (factor {factor} has {arity} \
             unobserved variables)"
        ),
        e => format!("failed: {e}"),
    }
}

/// `all`: every method that applies, in the order exact, ais, rais, bdmc, mf, bp, trw, lw.
pub(super) fn all(c: &Ctx, report: &mut LogZReport) -> Result<()> {
    let exact = match exact_if_it_fits(c)? {
        Ok(r) => Some(r),
        Err(reason) => {
            skip(
                report,
                LogZMethod::Exact,
                format!("does not fit in the memory limit ({reason})"),
            );
            None
        }
    };
    let exact_ran = exact.is_some();
    report.runs.extend(exact);
    // the AIS family: 60% of what is left after exact
    if exact_ran {
        match bdmc_run(c, 0.6) {
            Ok(b) => {
                // the forward and reverse halves as runs of their own, then bdmc
                if let RunDetail::Bdmc {
                    bdmc,
                    sample_seconds,
                } = &b.detail
                {
                    for (method, r, extra) in [
                        (LogZMethod::Ais, &bdmc.forward, 0.0),
                        (LogZMethod::Rais, &bdmc.reverse, *sample_seconds),
                    ] {
                        report.runs.push(MethodRun {
                            method,
                            estimate: r.estimate(),
                            seconds: r.seconds + extra,
                            detail: RunDetail::Ais(Box::new(r.clone())),
                        });
                    }
                }
                report.runs.push(b);
            }
            Err(e) => {
                match ais_run(c, 0.6) {
                    Ok(r) => report.runs.push(r),
                    Err(e2) => skip(report, LogZMethod::Ais, format!("failed: {e2}")),
                }
                skip(report, LogZMethod::Rais, format!("failed: {e}"));
                skip(report, LogZMethod::Bdmc, format!("failed: {e}"));
            }
        }
    } else {
        match ais_run(c, 0.6) {
            Ok(r) => report.runs.push(r),
            Err(e) => skip(report, LogZMethod::Ais, format!("failed: {e}")),
        }
        let why = "needs exact samples of the model, and exact inference does not fit";
        skip(report, LogZMethod::Rais, why.to_string());
        skip(report, LogZMethod::Bdmc, why.to_string());
    }
    for (m, share) in [
        (LogZMethod::Mf, 1.0 / 3.0),
        (LogZMethod::Bp, 0.5),
        (LogZMethod::Trw, 1.0),
    ] {
        match variational_run(c, m, share) {
            Ok(r) => report.runs.push(r),
            Err(e) => skip(report, m, skip_reason(&e)),
        }
    }
    match c.model {
        Model::Markov(_) => skip(
            report,
            LogZMethod::Lw,
            "needs a Bayesian network".to_string(),
        ),
        Model::Bayes(_) if c.ev.is_empty() => skip(
            report,
            LogZMethod::Lw,
            "no evidence: log P(evidence) = 0 exactly, nothing to estimate".to_string(),
        ),
        Model::Bayes(_) => match lw_run(c) {
            Ok(r) => report.runs.push(r),
            Err(e) => skip(report, LogZMethod::Lw, format!("failed: {e}")),
        },
    }
    match report.runs.first() {
        Some(first) => report.estimate = first.estimate.clone(),
        None => {
            return Err(Error::InvalidArgument(
                "no log Z method could run on this model".into(),
            ))
        }
    }
    Ok(())
}
