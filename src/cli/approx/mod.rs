//! The log Z methods beyond exact inference and likelihood weighting, as the CLI runs them:
//! annealed importance sampling (ais, rais, bdmc) and the variational methods (mf, bp, trw).
//!
//! Every method produces one [`Row`]: the numbers of `pgmkit logz --json` for that method (the
//! same row is one line of the `--method all` table). [`Ctx`] holds what every method needs (the
//! model lowered to a factor graph once, the evidence, the options from the command line).

mod options;
mod row;

use std::cell::OnceCell;
use std::time::Instant;

use pgmkit::infer::ais::{self, AisOptions, AisResult};
use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::infer::variational::{BeliefPropagation, MeanField, StopRule, Trw, VariationalResult};
use pgmkit::infer::{BoundKind, LogZEstimate};
use pgmkit::limits::Deadline;
use pgmkit::model::{FactorGraph, Model};
use pgmkit::sample::weighting::likelihood_weighting;
use pgmkit::Evidence;
use serde::Serialize;

use crate::cli::args::{self, GlobalArgs, Loaded, Method};
use crate::cli::output::OrderedMap;
use crate::cli::progress::Bar;
pub use options::*;
pub use row::*;

// ------------------------------------------------------------------------------- running

/// Everything a method run needs.
pub struct Ctx<'a> {
    pub global: &'a GlobalArgs,
    pub loaded: &'a Loaded,
    pub ev: &'a Evidence,
    pub exact: ExactOptions,
    pub ais: AisOptions,
    pub stop: StopRule,
    pub seed: u64,
    pub lw_samples: usize,
    /// The `--time-limit` budget of the whole command.
    pub deadline: Deadline,
    fg: OnceCell<FactorGraph>,
}

impl<'a> Ctx<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        global: &'a GlobalArgs,
        loaded: &'a Loaded,
        ev: &'a Evidence,
        exact: ExactOptions,
        ais: AisOptions,
        stop: StopRule,
        seed: u64,
        lw_samples: usize,
    ) -> Self {
        Ctx {
            global,
            loaded,
            ev,
            exact,
            ais,
            stop,
            seed,
            lw_samples,
            deadline: Deadline::after(stop.max_time),
            fg: OnceCell::new(),
        }
    }

    /// The AIS options for a run that may use `share` of the time left (all of the options
    /// without a time limit).
    pub fn ais_for(&self, share: f64) -> AisOptions {
        self.ais.with_deadline(self.deadline.share(share))
    }

    /// The stop rule for a run that may use `share` of the time left.
    pub fn stop_for(&self, share: f64) -> StopRule {
        StopRule {
            max_time: self.deadline.share(share).remaining(),
            ..self.stop
        }
    }

    /// The model as a factor graph (a Bayesian network lowered once, one factor per CPD; under
    /// the evidence its Z is P(evidence)).
    pub fn fg(&self) -> &FactorGraph {
        self.fg.get_or_init(|| self.loaded.model.to_factor_graph())
    }

    fn ais_label(&self, what: &str) -> String {
        // short: the bar itself takes about 65 columns
        format!("{what} {}x{}", self.ais.particles, self.ais.steps)
    }

    /// Progress units (sweeps over the particles) of one AIS run.
    fn ais_units(&self) -> u64 {
        (self.ais.particles as u64)
            .saturating_mul(self.ais.steps as u64)
            .saturating_mul(self.ais.sweeps as u64)
    }
}

/// True when `e` says exact inference does not fit in the memory limit.
pub fn is_too_large(e: &pgmkit::Error) -> bool {
    matches!(e, pgmkit::Error::TooLarge { .. })
}

/// Above this many bits (log2 of table entries) beyond twice the bits the memory limit allows,
/// the quick min-degree plan of [`hopeless_for_exact`] declares exact inference hopeless.
const HOPELESS_MARGIN_BITS: f64 = 10.0;

/// A short description of a [`pgmkit::Error::TooLarge`] (numbers for people).
pub fn too_large_text(e: &pgmkit::Error) -> String {
    match e {
        pgmkit::Error::TooLarge {
            width,
            largest_table,
            needed,
            limit,
        } => format!(
            "elimination width {width}, largest table {} entries, {} needed > limit {}",
            super::output::count(*largest_table),
            big_bytes(*needed),
            big_bytes(*limit)
        ),
        e => e.to_string(),
    }
}

fn big_bytes(b: f64) -> String {
    if b < 1e18 {
        super::output::bytes(b)
    } else {
        format!("{b:.3e} bytes")
    }
}

/// For `auto` and `all` on a Markov network: a quick min-degree plan (fractions of a second even
/// on 10 000 variables, where the full order search of exact inference takes tens of seconds).
/// Returns the reason when even a much better order could not fit: when the min-degree order
/// needs more than `2 * bits(limit) + 10` bits of table entries (min-degree is rarely worse
/// than the best order by a factor 2 in width). `None`: try exact inference for real.
pub fn hopeless_for_exact(ctx: &Ctx) -> Option<String> {
    if matches!(ctx.loaded.model, Model::Bayes(_)) {
        return None; // barren-node pruning may make a Bayesian network much smaller
    }
    let opts = ExactOptions {
        heuristic: exact::OrderHeuristic::MinDegree,
        ..ctx.exact.clone()
    };
    let plan = exact::plan(ctx.fg(), ctx.ev, &opts).ok()?;
    let limit_entries = (ctx.exact.memory_limit / 8.0).max(2.0);
    let bits = plan.max_clique_entries.log2();
    (bits > 2.0 * limit_entries.log2() + HOPELESS_MARGIN_BITS).then(|| {
        format!(
            "a min-degree elimination order has width {} and a largest table of 2^{bits:.0} \
             entries; the memory limit {} holds 2^{:.0}",
            plan.width,
            big_bytes(ctx.exact.memory_limit),
            limit_entries.log2()
        )
    })
}

/// Exact log Z (pruned log P(e) for a Bayesian network).
pub fn run_exact(ctx: &Ctx) -> pgmkit::Result<Row> {
    let t = Instant::now();
    let est = match &ctx.loaded.model {
        Model::Bayes(bn) => exact::bn_log_evidence(bn, ctx.ev, &ctx.exact)?,
        Model::Markov(fg) => exact::log_z(fg, ctx.ev, &ctx.exact)?,
    };
    Ok(Row::from_estimate("exact", &est, t.elapsed().as_secs_f64()))
}

/// Likelihood weighting (Bayesian networks).
pub fn run_lw(ctx: &Ctx) -> anyhow::Result<Row> {
    let bn = args::require_bayes(
        ctx.loaded,
        "likelihood weighting (--method lw)",
        "--method exact, ais, mf, bp or trw for log Z of a Markov network",
    )?;
    let n = args::at_least_one("--samples", ctx.lw_samples)?;
    let t = Instant::now();
    let bar = Bar::spinner(ctx.global, &format!("likelihood weighting, {n} samples"));
    let est = likelihood_weighting(bn, ctx.ev, n, ctx.seed)?;
    bar.finish();
    let mut r = Row::from_estimate("lw", &est.log_z, t.elapsed().as_secs_f64());
    r.samples = Some(n);
    r.seed = Some(ctx.seed);
    Ok(r)
}

/// Forward AIS.
pub fn run_ais(ctx: &Ctx, share: f64) -> anyhow::Result<Row> {
    let t = Instant::now();
    let bar = Bar::new(ctx.global, ctx.ais_units(), &ctx.ais_label("ais"), "sweeps");
    let progress = |k: u64| bar.inc(k);
    let res = ais::ais(ctx.fg(), ctx.ev, &ctx.ais_for(share), Some(&progress))?;
    bar.finish();
    Ok(ais_row(ctx, &res, t.elapsed().as_secs_f64()))
}

fn ais_row(ctx: &Ctx, res: &AisResult, seconds: f64) -> Row {
    let mut r = Row::from_estimate("ais", &res.estimate(), seconds);
    r.set_ais(&ctx.ais, res);
    r
}

/// Exact samples for reverse AIS, with a clear error when exact inference does not fit.
pub fn exact_samples(
    ctx: &Ctx,
    method: &str,
    share: f64,
) -> anyhow::Result<(Vec<Vec<usize>>, f64)> {
    let t = Instant::now();
    let bar = Bar::spinner(
        ctx.global,
        &format!("{method}: drawing {} exact samples", ctx.ais.particles),
    );
    let res = ais::exact_samples_until(
        ctx.fg(),
        ctx.ev,
        ctx.ais.particles,
        ctx.seed,
        &ctx.exact,
        ctx.deadline.share(share),
    );
    bar.finish();
    match res {
        Ok(s) => Ok((s, t.elapsed().as_secs_f64())),
        Err(e) if is_too_large(&e) => Err(anyhow::anyhow!(
            "--method {method} needs exact samples of the model (reverse AIS starts from them), \
             but exact inference does not fit here: {e}; use --method ais (estimate), mf (lower \
             bound) or trw (upper bound)"
        )),
        Err(e) => Err(e.into()),
    }
}

/// Reverse AIS from exact samples: a stochastic upper bound.
pub fn run_rais(ctx: &Ctx, share: f64) -> anyhow::Result<Row> {
    let t = Instant::now();
    let (samples, _) = exact_samples(ctx, "rais", 0.2 * share)?;
    let bar = Bar::new(
        ctx.global,
        ctx.ais_units(),
        &ctx.ais_label("rais"),
        "sweeps",
    );
    let progress = |k: u64| bar.inc(k);
    let res = ais::reverse_ais(
        ctx.fg(),
        ctx.ev,
        &ctx.ais_for(share),
        &samples,
        Some(&progress),
    )?;
    bar.finish();
    Ok(rais_row(ctx, &res, t.elapsed().as_secs_f64()))
}

fn rais_row(ctx: &Ctx, res: &AisResult, seconds: f64) -> Row {
    let mut r = Row::from_estimate("rais", &res.estimate(), seconds);
    r.set_ais(&ctx.ais, res);
    r
}

/// BDMC: forward AIS and reverse AIS from exact samples. Returns the bdmc row and the rows that
/// `ais` and `rais` alone would give with the same options (the same runs).
pub fn run_bdmc(ctx: &Ctx, share: f64) -> anyhow::Result<(Row, Row, Row)> {
    let t = Instant::now();
    let (samples, sample_seconds) = exact_samples(ctx, "bdmc", 0.2 * share)?;
    let bar = Bar::new(
        ctx.global,
        ctx.ais_units().saturating_mul(2),
        &ctx.ais_label("bdmc"),
        "sweeps",
    );
    let progress = |k: u64| bar.inc(k);
    let b = ais::bdmc(
        ctx.fg(),
        ctx.ev,
        &ctx.ais_for(share),
        Some(&samples),
        Some(&progress),
    )?;
    bar.finish();
    let seconds = t.elapsed().as_secs_f64();
    let mut r = Row::from_estimate("bdmc", &b.estimate(), seconds);
    r.set_ais(&ctx.ais, &b.forward);
    r.updates = Some(b.forward.updates + b.reverse.updates);
    r.dead_particles = Some(b.forward.dead + b.reverse.dead);
    r.forward = Some(AisPart::of(&b.forward));
    r.reverse = Some(AisPart::of(&b.reverse));
    r.gap = Some(b.upper - b.lower);
    r.crossed = Some(b.upper < b.lower);
    if b.upper < b.lower {
        let se = (b.forward.std_err.powi(2) + b.reverse.std_err.powi(2)).sqrt();
        let k = (b.lower - b.upper) / se.max(f64::MIN_POSITIVE);
        r.notes.push(if k <= 3.0 {
            format!(
                "the forward (lower) and reverse (upper) estimates crossed by {:.3e}, {k:.1} \
                 combined standard errors: they agree within noise, so this is no interval; \
                 log Z is close to both",
                b.lower - b.upper
            )
        } else {
            format!(
                "warning: the forward (lower) estimate is above the reverse (upper) one by {:.3e}, \
                 {k:.1} combined standard errors: at least one run has not equilibrated (raise \
                 --steps or --particles)",
                b.lower - b.upper
            )
        });
    }
    let fwd = ais_row(ctx, &b.forward, b.forward.seconds);
    let rev = rais_row(ctx, &b.reverse, b.reverse.seconds + sample_seconds);
    Ok((r, fwd, rev))
}

/// A variational method (mf, bp, trw) with the stop rule of the context.
pub fn variational(
    global: &GlobalArgs,
    fg: &FactorGraph,
    ev: &Evidence,
    method: Method,
    stop: StopRule,
    seed: u64,
) -> anyhow::Result<VariationalResult> {
    let bar = Bar::spinner(
        global,
        &format!("{} (up to {} sweeps)", method.name(), stop.max_iters),
    );
    let r = match method {
        Method::Mf => MeanField {
            stop,
            ..MeanField::default()
        }
        .run(fg, ev)?,
        Method::Bp => BeliefPropagation {
            stop,
            ..BeliefPropagation::default()
        }
        .run(fg, ev)?,
        Method::Trw => {
            let trw = Trw {
                stop,
                seed,
                ..Trw::default()
            };
            trw.run(fg, ev)?
        }
        m => anyhow::bail!("{} is not a variational method", m.name()),
    };
    bar.finish();
    Ok(r)
}

/// mf, bp or trw as a log Z row.
pub fn run_variational(ctx: &Ctx, method: Method, share: f64) -> anyhow::Result<Row> {
    let t = Instant::now();
    let r = variational(
        ctx.global,
        ctx.fg(),
        ctx.ev,
        method,
        ctx.stop_for(share),
        ctx.seed,
    )?;
    Ok(variational_row(
        method,
        &r,
        t.elapsed().as_secs_f64(),
        ctx.seed,
    ))
}

/// The row of a variational result.
pub fn variational_row(method: Method, r: &VariationalResult, seconds: f64, seed: u64) -> Row {
    let mut row = Row::from_estimate(method.name(), &r.log_z, seconds);
    row.set_convergence(r);
    if method == Method::Trw {
        row.seed = Some(seed);
    }
    row
}

/// `--method auto`: exact when it fits, else AIS with the MF lower and TRW upper bounds.
pub fn run_auto(ctx: &Ctx) -> anyhow::Result<Row> {
    let t = Instant::now();
    let exact = match hopeless_for_exact(ctx) {
        Some(reason) => Err(reason),
        None => match run_exact(ctx) {
            Ok(r) => Ok(r),
            Err(e) if is_too_large(&e) => Err(too_large_text(&e)),
            Err(e) => return Err(e.into()),
        },
    };
    let too_large = match exact {
        Ok(mut r) => {
            r.method = "auto";
            r.sources = Some(sources(&[
                ("log_z", "exact"),
                ("lower", "exact"),
                ("upper", "exact"),
            ]));
            r.notes
                .push("exact inference fits in the memory limit, so auto used it".to_string());
            r.components = Some(vec![Row {
                notes: Vec::new(),
                sources: None,
                method: "exact",
                ..r.clone()
            }]);
            return Ok(r);
        }
        Err(reason) => reason,
    };
    // the budget: ais 70% of what is left, then mf half the rest, trw the remainder
    let ais = run_ais(ctx, 0.7)?;
    let mut r = ais.clone();
    r.method = "auto";
    r.notes.clear();
    r.notes.push(format!(
        "exact inference does not fit ({too_large}), so auto ran ais (estimate), mf (lower \
         bound) and trw (upper bound)"
    ));
    let mut src: Vec<(&'static str, &'static str)> =
        vec![("log_z", "ais"), ("std_err", "ais"), ("ess", "ais")];
    let mut components = vec![ais];
    match run_variational(ctx, Method::Mf, 0.5) {
        Ok(mf) => {
            r.lower = mf.lower;
            src.push(("lower", "mf"));
            components.push(mf);
        }
        Err(e) => r.notes.push(format!("mf (lower bound) failed: {e}")),
    }
    match run_variational(ctx, Method::Trw, 1.0) {
        Ok(trw) => {
            r.upper = trw.upper;
            src.push(("upper", "trw"));
            components.push(trw);
        }
        Err(e) => r
            .notes
            .push(format!("no upper bound: {}", super::one_line(&e))),
    }
    r.bound_kind = (r.lower.is_some() || r.upper.is_some()).then_some(BoundKind::Deterministic);
    let se = r.std_err.unwrap_or(0.0);
    if let Some(l) = r.lower.filter(|&l| r.log_z + 3.0 * se < l) {
        r.notes.push(format!(
            "warning: the AIS estimate is below the mean-field lower bound {l:.6} by more than 3 \
             standard errors: AIS has not equilibrated; raise --steps or --sweeps"
        ));
    }
    if let Some(u) = r.upper.filter(|&u| r.log_z - 3.0 * se > u) {
        r.notes.push(format!(
            "warning: the AIS estimate is above the TRW upper bound {u:.6} by more than 3 standard \
             errors; raise --particles or --steps"
        ));
    }
    r.sources = Some(sources(&src));
    r.components = Some(components);
    r.seconds = t.elapsed().as_secs_f64();
    Ok(r)
}

fn sources(pairs: &[(&'static str, &'static str)]) -> OrderedMap<&'static str> {
    OrderedMap(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
}

/// A method `--method all` did not run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub method: &'static str,
    pub reason: String,
}

/// `--method all`: every method that applies. Returns the rows (with the error against exact
/// when exact is feasible) and the methods not run with the reason.
pub fn run_all(ctx: &Ctx) -> anyhow::Result<(Vec<Row>, Vec<Skipped>)> {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let mut skip = |method: &'static str, reason: String| skipped.push(Skipped { method, reason });

    // exact
    let exact = match hopeless_for_exact(ctx) {
        Some(reason) => {
            skip(
                "exact",
                format!("does not fit in the memory limit ({reason})"),
            );
            None
        }
        None => match run_exact(ctx) {
            Ok(r) => Some(r),
            Err(e) if is_too_large(&e) => {
                skip(
                    "exact",
                    format!("does not fit in the memory limit ({})", too_large_text(&e)),
                );
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    let exact_log_z = exact.as_ref().map(|r| r.log_z);
    rows.extend(exact);

    // ais, rais, bdmc
    // the budget: ais/rais/bdmc 60% of what is left after exact, then mf, bp, trw, lw
    if exact_log_z.is_some() {
        match run_bdmc(ctx, 0.6) {
            Ok((bdmc, fwd, rev)) => {
                rows.push(fwd);
                rows.push(rev);
                rows.push(bdmc);
            }
            Err(e) => {
                let msg = super::one_line(&e);
                match run_ais(ctx, 0.6) {
                    Ok(r) => rows.push(r),
                    Err(e2) => skip("ais", format!("failed: {}", super::one_line(&e2))),
                }
                skip("rais", format!("failed: {msg}"));
                skip("bdmc", format!("failed: {msg}"));
            }
        }
    } else {
        match run_ais(ctx, 0.6) {
            Ok(r) => rows.push(r),
            Err(e) => skip("ais", format!("failed: {}", super::one_line(&e))),
        }
        let why = "needs exact samples of the model, and exact inference does not fit".to_string();
        skip("rais", why.clone());
        skip("bdmc", why);
    }

    // variational
    for (m, share) in [
        (Method::Mf, 1.0 / 3.0),
        (Method::Bp, 0.5),
        (Method::Trw, 1.0),
    ] {
        match run_variational(ctx, m, share) {
            Ok(r) => rows.push(r),
            Err(e) => {
                let reason = match e.downcast_ref::<pgmkit::Error>() {
                    Some(pgmkit::Error::NotPairwise { factor, arity, .. }) => format!(
                        "upper bound needs a pairwise model after evidence (factor {factor} has \
                         {arity} unobserved variables)"
                    ),
                    _ => format!("failed: {}", super::one_line(&e)),
                };
                skip(m.name(), reason);
            }
        }
    }

    // likelihood weighting
    match &ctx.loaded.model {
        Model::Markov(_) => skip("lw", "needs a Bayesian network".to_string()),
        Model::Bayes(_) if ctx.ev.is_empty() => skip(
            "lw",
            "no evidence: log P(evidence) = 0 exactly, nothing to estimate".to_string(),
        ),
        Model::Bayes(_) => match run_lw(ctx) {
            Ok(r) => rows.push(r),
            Err(e) => skip("lw", format!("failed: {}", super::one_line(&e))),
        },
    }

    if let Some(x) = exact_log_z {
        for r in rows.iter_mut() {
            r.error_vs_exact = Some(r.log_z - x);
        }
    }
    Ok((rows, skipped))
}

/// The row of an exact log Z (for `marginals`).
pub fn exact_row(log_z: f64) -> Row {
    Row::from_estimate("exact", &LogZEstimate::exact(log_z), 0.0)
}

/// The row of a likelihood-weighting estimate (for `marginals`).
pub fn lw_row(est: &LogZEstimate, samples: usize, seed: u64) -> Row {
    let mut r = Row::from_estimate("lw", est, 0.0);
    r.samples = Some(samples);
    r.seed = Some(seed);
    r
}
