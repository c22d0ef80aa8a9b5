//! The log Z methods as the CLI reports them: the library's [`pgmkit::infer::logz`] runs
//! every method and the `auto` / `all` policies; this module turns each run into a [`Row`] (the
//! numbers of `pgmkit logz --json` for that method, and one line of the `--method all` table)
//! and shows the library's progress phases as bars.

mod options;
mod row;

use std::sync::Mutex;

use pgmkit::infer::logz::{self, LogZMethod, LogZOptions, LogZReport, MethodRun, Phase, RunDetail};
use pgmkit::infer::variational::Convergence;
use pgmkit::infer::LogZEstimate;
use pgmkit::Evidence;
use serde::Serialize;

use crate::cli::args::{self, GlobalArgs, Loaded, Method};
use crate::cli::output::OrderedMap;
use crate::cli::progress::Bar;
pub use options::*;
pub use row::*;

// ------------------------------------------------------------------------------- running

/// Everything a log Z run needs: the loaded model, the evidence and the library's options.
pub struct Ctx<'a> {
    pub global: &'a GlobalArgs,
    pub loaded: &'a Loaded,
    pub ev: &'a Evidence,
    pub opts: LogZOptions,
}

/// The library's log Z method of a CLI method (one that estimates log Z).
pub fn logz_method(m: Method) -> LogZMethod {
    m.log_z().expect("a log Z method")
}

/// The library's progress phases as bars (a bar per phase; spinners for phases without a
/// measure).
pub struct Bars<'a> {
    global: &'a GlobalArgs,
    bar: Mutex<Option<Bar>>,
}

impl<'a> Bars<'a> {
    /// No bar yet.
    pub fn new(global: &'a GlobalArgs) -> Self {
        Bars {
            global,
            bar: Mutex::new(None),
        }
    }

    /// Show one phase event.
    pub fn phase(&self, p: Phase<'_>) {
        let mut bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        match p {
            Phase::Start { label, units } => {
                *bar = Some(match units {
                    Some(n) => Bar::new(self.global, n, label, "sweeps"),
                    None => Bar::spinner(self.global, label),
                });
            }
            Phase::Advance(k) => {
                if let Some(b) = bar.as_ref() {
                    b.inc(k);
                }
            }
            Phase::End => {
                if let Some(b) = bar.take() {
                    b.finish();
                }
            }
        }
    }
}

/// Run `method` through the library, with progress bars, and clear errors where the CLI knows
/// more (lw on a Markov network, reverse AIS on a model too wide for exact samples).
pub fn run(ctx: &Ctx, method: Method) -> anyhow::Result<LogZReport> {
    let m = logz_method(method);
    if m == LogZMethod::Lw {
        args::require_bayes(
            ctx.loaded,
            "likelihood weighting (--method lw)",
            "--method exact, ais, mf, bp or trw for log Z of a Markov network",
        )?;
        args::at_least_one("--samples", ctx.opts.lw_samples)?;
    }
    let bars = Bars::new(ctx.global);
    let progress = |p: Phase<'_>| bars.phase(p);
    match logz::log_z(&ctx.loaded.model, ctx.ev, m, &ctx.opts, Some(&progress)) {
        Ok(r) => Ok(r),
        Err(e @ pgmkit::Error::TooLarge { .. })
            if matches!(m, LogZMethod::Rais | LogZMethod::Bdmc) =>
        {
            Err(anyhow::anyhow!(
                "--method {m} needs exact samples of the model (reverse AIS starts from them), \
                 but exact inference does not fit here: {e}; use --method ais (estimate), mf \
                 (lower bound) or trw (upper bound)"
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// The row of one method's run.
pub fn run_row(opts: &LogZOptions, run: &MethodRun) -> Row {
    let name = run.method.name();
    let mut r = Row::from_estimate(name, &run.estimate, run.seconds);
    match &run.detail {
        RunDetail::Exact => {}
        RunDetail::Lw { samples } => {
            r.samples = Some(*samples);
            r.seed = Some(opts.seed);
        }
        RunDetail::Ais(res) => r.set_ais(&opts.ais, res),
        RunDetail::Bdmc { bdmc: b, .. } => {
            r.set_ais(&opts.ais, &b.forward);
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
                        "the forward (lower) and reverse (upper) estimates crossed by {:.3e}, \
                         {k:.1} combined standard errors: they agree within noise, so this is no \
                         interval; log Z is close to both",
                        b.lower - b.upper
                    )
                } else {
                    format!(
                        "warning: the forward (lower) estimate is above the reverse (upper) one \
                         by {:.3e}, {k:.1} combined standard errors: at least one run has not \
                         equilibrated (raise --steps or --particles)",
                        b.lower - b.upper
                    )
                });
            }
        }
        RunDetail::Variational(v) => {
            r.set_convergence(v.convergence);
            if run.method == LogZMethod::Trw {
                r.seed = Some(opts.seed);
            }
        }
    }
    r
}

/// The row of a report for one method or `auto` (not `all`).
pub fn report_row(ctx: &Ctx, rep: &LogZReport) -> Row {
    if rep.method != LogZMethod::Auto {
        return run_row(&ctx.opts, &rep.runs[0]);
    }
    let components: Vec<Row> = rep.runs.iter().map(|x| run_row(&ctx.opts, x)).collect();
    let mut r = components[0].clone();
    r.method = "auto";
    r.notes = rep.notes.clone();
    r.lower = rep.estimate.lower;
    r.upper = rep.estimate.upper;
    r.bound_kind = rep.estimate.bound_kind;
    r.sources = Some(OrderedMap(
        rep.sources
            .iter()
            .map(|s| (s.field.to_string(), s.method.name()))
            .collect(),
    ));
    r.components = Some(components);
    if rep.runs[0].method != LogZMethod::Exact {
        r.seconds = rep.seconds;
    }
    r
}

/// A method `--method all` did not run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub method: &'static str,
    pub reason: String,
}

/// `--method all`: the rows (with the error against exact when exact ran) and the methods not
/// run with the reason.
pub fn all_rows(ctx: &Ctx, rep: &LogZReport) -> (Vec<Row>, Vec<Skipped>) {
    let exact = rep.exact_log_z();
    let rows = rep
        .runs
        .iter()
        .map(|x| {
            let mut r = run_row(&ctx.opts, x);
            r.error_vs_exact = exact.map(|z| r.log_z - z);
            r
        })
        .collect();
    let skipped = rep
        .skipped
        .iter()
        .map(|s| Skipped {
            method: s.method.name(),
            reason: s.reason.clone(),
        })
        .collect();
    (rows, skipped)
}

/// The row of a variational log Z (for `marginals`).
pub fn variational_row(
    method: Method,
    est: &LogZEstimate,
    c: Convergence,
    seconds: f64,
    seed: u64,
) -> Row {
    let mut row = Row::from_estimate(method.name(), est, seconds);
    row.set_convergence(c);
    if method == Method::Trw {
        row.seed = Some(seed);
    }
    row
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
