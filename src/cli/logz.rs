//! `pgmkit logz MODEL`: the log partition function (log P(evidence) for a Bayesian network).

use std::io::Write;
use std::time::Instant;

use clap::Args;
use pgmkit::infer::exact;
use pgmkit::infer::{EstimateKind, LogZEstimate};
use pgmkit::model::Model;
use pgmkit::sample::weighting::likelihood_weighting;
use pgmkit::Evidence;
use serde::Serialize;

use super::args::{self, GlobalArgs, Method, ModelQuery};
use super::output::{self, OrderedMap};
use super::progress::Bar;

/// Arguments of `pgmkit logz`.
#[derive(Debug, Args)]
pub struct LogZArgs {
    #[command(flatten)]
    pub query: ModelQuery,

    /// Inference method (exact, or lw: likelihood weighting for a Bayesian network)
    #[arg(long, short, value_enum, default_value_t = Method::Exact)]
    pub method: Method,

    /// lw: number of weighted samples [default: 10000]
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,

    /// Seed of the random streams (lw); the same seed gives the same output for any --threads
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// JSON output of `logz` (fields print in this order). Fields that do not apply to a method are
/// null.
#[derive(Debug, Serialize)]
struct LogZJson {
    method: &'static str,
    /// Natural log of Z (log P(evidence) for a Bayesian network).
    log_z: f64,
    log10_z: f64,
    /// Seconds spent in inference (loading not included).
    seconds: f64,
    std_err: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    ess: Option<f64>,
    kind: EstimateKind,
    /// Samples drawn (stochastic methods).
    samples: Option<usize>,
    /// Seed (stochastic methods).
    seed: Option<u64>,
    model: String,
    model_kind: &'static str,
    evidence: OrderedMap<String>,
    load_seconds: f64,
}

/// Run `method` on a loaded model; returns the estimate and the number of samples drawn (for a
/// stochastic method).
pub fn estimate(
    global: &GlobalArgs,
    a: &LogZArgs,
    loaded: &args::Loaded,
    ev: &Evidence,
) -> anyhow::Result<(LogZEstimate, Option<usize>)> {
    if a.method != Method::Lw && a.samples.is_some() {
        anyhow::bail!(
            "--samples applies to --method lw, not to --method {}",
            a.method.name()
        );
    }
    let opts = a.query.exact_options();
    match (a.method, &loaded.model) {
        (Method::Exact, Model::Bayes(bn)) => Ok((exact::bn_log_evidence(bn, ev, &opts)?, None)),
        (Method::Exact, Model::Markov(fg)) => Ok((exact::log_z(fg, ev, &opts)?, None)),
        (Method::Lw, _) => {
            let bn = args::require_bayes(
                loaded,
                "likelihood weighting (--method lw)",
                "--method exact for log Z of a Markov network",
            )?;
            let n = args::at_least_one("--samples", a.samples.unwrap_or(args::DEFAULT_LW_SAMPLES))?;
            let bar = Bar::spinner(global, &format!("likelihood weighting, {n} samples"));
            let est = likelihood_weighting(bn, ev, n, a.seed)?;
            bar.finish();
            Ok((est.log_z, Some(n)))
        }
        (Method::Gibbs | Method::Mh, _) => anyhow::bail!(
            "--method {} estimates marginals, not log Z; use --method exact, or --method lw for a \
             Bayesian network",
            a.method.name()
        ),
    }
}

/// What the number is, for text output.
pub fn kind_text(kind: EstimateKind) -> &'static str {
    match kind {
        EstimateKind::Exact => "exact",
        EstimateKind::LowerBound => "lower bound",
        EstimateKind::UpperBound => "upper bound",
        EstimateKind::Stochastic => "stochastic estimate",
        EstimateKind::Approximate => "approximation (no guarantee)",
        _ => "estimate",
    }
}

pub fn run(global: &GlobalArgs, a: &LogZArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let loaded = args::load(&a.query.model, global)?;
    let vars = loaded.model.vars();
    let ev = args::evidence(a.query.evidence.as_deref(), vars)?;

    let t = Instant::now();
    let (est, samples) = estimate(global, a, &loaded, &ev)?;
    let seconds = t.elapsed().as_secs_f64();

    if a.json {
        let j = LogZJson {
            method: a.method.name(),
            log_z: est.log_z,
            log10_z: est.log10_z(),
            seconds,
            std_err: est.std_err,
            lower: est.lower,
            upper: est.upper,
            ess: est.ess,
            kind: est.kind,
            samples,
            seed: samples.map(|_| a.seed),
            model: loaded.path.display().to_string(),
            model_kind: args::kind_id(&loaded.model),
            evidence: OrderedMap(args::evidence_pairs(&ev, vars)),
            load_seconds: loaded.load_seconds,
        };
        return output::write_json(out, &j);
    }
    if global.quiet {
        writeln!(out, "{}", est.log_z)?;
        return Ok(());
    }
    let what = match loaded.model {
        Model::Bayes(_) => "log P(e)",
        Model::Markov(_) => "log Z",
    };
    let what10 = match loaded.model {
        Model::Bayes(_) => "log10 P(e)",
        Model::Markov(_) => "log10 Z",
    };
    writeln!(out, "model       {}", loaded.path.display())?;
    writeln!(out, "evidence    {}", args::evidence_text(&ev, vars))?;
    writeln!(
        out,
        "method      {} ({})",
        a.method.name(),
        kind_text(est.kind)
    )?;
    if let Some(n) = samples {
        writeln!(out, "{:<12}{n} (seed {})", "samples", a.seed)?;
    }
    writeln!(out, "{what:<12}{:.10}", est.log_z)?;
    writeln!(out, "{what10:<12}{:.10}", est.log10_z())?;
    if let Some(se) = est.std_err {
        writeln!(out, "{:<12}{se:.3e}", "std err")?;
    }
    if est.kind != EstimateKind::Exact {
        if let Some(l) = est.lower {
            writeln!(out, "{:<12}{l:.10}", "lower")?;
        }
        if let Some(u) = est.upper {
            writeln!(out, "{:<12}{u:.10}", "upper")?;
        }
    }
    if let Some(ess) = est.ess {
        writeln!(out, "{:<12}{ess:.1}", "ESS")?;
    }
    writeln!(
        out,
        "seconds     {seconds:.6} (inference; load {:.6})",
        loaded.load_seconds
    )?;
    Ok(())
}
