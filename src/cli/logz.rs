//! `pgmkit logz MODEL`: the log partition function (log P(evidence) for a Bayesian network).

use std::io::Write;

use clap::Args;
use pgmkit::model::Model;
use pgmkit::Evidence;
use serde::Serialize;

use super::approx::{self, bound_text, kind_text, AisArgs, Ctx, IterArgs, Row, Skipped};
use super::args::{self, GlobalArgs, LogZArg, Method, ModelQuery, RunArgs};
use super::output::{self, OrderedMap};
use pgmkit::infer::logz::{LogZMethod, LogZOptions};
use pgmkit::infer::EstimateKind;

/// Arguments of `pgmkit logz`.
#[derive(Debug, Args)]
pub struct LogZArgs {
    #[command(flatten)]
    pub query: ModelQuery,

    /// Inference method: exact; lw (Bayesian networks); ais, rais, bdmc (annealed importance
    /// sampling); mf, bp, trw (variational); auto (exact if it fits, else ais with the mf and
    /// trw bounds); all (every method that applies, side by side)
    #[arg(long, short, value_enum, default_value_t = LogZArg(LogZMethod::Exact))]
    pub method: LogZArg,

    /// lw: number of weighted samples [default: 10000]
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,

    #[command(flatten)]
    pub ais: AisArgs,

    #[command(flatten)]
    pub iter: IterArgs,

    #[command(flatten)]
    pub run: RunArgs,

    /// ais/rais/bdmc: run only the particles A..B (0-based, B excluded) of the --particles run,
    /// as a shard for `pgmkit merge` (needs --shard-out; no --time-limit). Every particle draws
    /// from its own stream (seed, particle), so the shards of a run merge into exactly the
    /// one-process result
    #[arg(long, value_name = "A..B", value_parser = args::parse_range)]
    pub particle_range: Option<std::ops::Range<usize>>,

    /// ais/rais/bdmc: write the run (or its --particle-range) as a shard file (JSON: the log
    /// weights, the options, the path and a fingerprint of the model and evidence) for
    /// `pgmkit merge`, atomically
    #[arg(long, value_name = "FILE.json")]
    pub shard_out: Option<std::path::PathBuf>,

    /// ais/rais/bdmc (and auto when it runs AIS): draw the run as SVG (the log-weight histogram,
    /// both sides for bdmc; the ESS, the log Z increments and the log-weight variance along the
    /// temperatures), written atomically
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<std::path::PathBuf>,
}

impl LogZArgs {
    /// The method asked for.
    pub fn method(&self) -> Method {
        self.method.into()
    }
}

/// JSON output of `logz` for one method: the method's [`Row`] (fields that do not apply are
/// null) followed by the model fields.
#[derive(Debug, Serialize)]
struct LogZJson<'a> {
    #[serde(flatten)]
    row: &'a Row,
    model: String,
    model_kind: &'static str,
    evidence: OrderedMap<String>,
    load_seconds: f64,
}

/// JSON output of `logz --method all`.
#[derive(Debug, Serialize)]
struct AllJson<'a> {
    method: &'static str,
    model: String,
    model_kind: &'static str,
    evidence: OrderedMap<String>,
    /// Exact log Z when exact inference fits (the rows then carry `error_vs_exact`).
    exact_log_z: Option<f64>,
    /// One row per method run, in the order exact, ais, rais, bdmc, mf, bp, trw, lw.
    results: &'a [Row],
    /// Methods not run, with the reason.
    not_applicable: &'a [Skipped],
    seconds: f64,
    load_seconds: f64,
}

/// Check that every option given applies to the method.
fn check_options(a: &LogZArgs) -> anyhow::Result<()> {
    if a.samples.is_some() && !matches!(a.method(), Method::Lw | Method::All) {
        anyhow::bail!(
            "--samples applies to --method lw (and all), not to --method {}",
            a.method().name()
        );
    }
    a.ais.only_for_ais(a.method())?;
    a.iter.check_for(a.method())?;
    Ok(())
}

/// The run context of the arguments.
fn context<'a>(
    global: &'a GlobalArgs,
    a: &LogZArgs,
    loaded: &'a args::Loaded,
    ev: &'a Evidence,
) -> anyhow::Result<Ctx<'a>> {
    let stop = a.iter.stop_rule()?;
    Ok(Ctx {
        global,
        loaded,
        ev,
        opts: LogZOptions {
            exact: a.query.exact_options(),
            ais: a.ais.options(a.run.seed, a.iter.time_limit())?,
            stop,
            seed: a.run.seed,
            lw_samples: a.samples.unwrap_or(args::DEFAULT_LW_SAMPLES),
            // the budget counts from the start of the command (what is left of it now)
            time_limit: stop.max_time,
        },
    })
}

pub fn run(global: &GlobalArgs, a: &LogZArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    check_options(a)?;
    if super::rbm::is_rbm(&a.query.model) {
        return super::rbm::logz(global, a, out);
    }
    if super::gaussian::is_gaussian(&a.query.model) {
        let s = super::gaussian::LogZSettings {
            evidence: a.query.evidence.as_deref(),
            method: a.method(),
            particles: a.ais.particles,
            steps: a.ais.steps,
            seed: a.run.seed,
            json: a.run.json,
            time_limit: a.iter.time_limit(),
        };
        return super::gaussian::logz(global, &a.query.model, &s, out);
    }
    if a.particle_range.is_some() || a.shard_out.is_some() {
        return shard(global, a, out);
    }
    if let Some(p) = &a.plot {
        if !matches!(
            a.method(),
            Method::Ais | Method::Rais | Method::Bdmc | Method::Auto
        ) {
            anyhow::bail!(
                "--plot draws AIS runs (ais, rais, bdmc, auto), not --method {}",
                a.method().name()
            );
        }
        pgmkit::io::outputs::check_outputs(
            &[("the model", a.query.model.as_path())],
            &[("--plot", p.as_path())],
        )?;
    }
    let loaded = args::load(&a.query.model, global)?;
    let vars = loaded.model.vars();
    let ev = args::evidence(a.query.evidence.as_deref(), vars)?;
    let mut ctx = context(global, a, &loaded, &ev)?;
    ctx.opts.ais.diagnostics |= a.plot.is_some();

    if a.method() == Method::All {
        let rep = approx::run(&ctx, Method::All)?;
        let (rows, skipped) = approx::all_rows(&ctx, &rep);
        let seconds = rep.seconds;
        let exact_log_z = rep.exact_log_z();
        if a.run.json {
            let j = AllJson {
                method: "all",
                model: loaded.path.display().to_string(),
                model_kind: args::kind_id(&loaded.model),
                evidence: OrderedMap(args::evidence_pairs(&ev, vars)),
                exact_log_z,
                results: &rows,
                not_applicable: &skipped,
                seconds,
                load_seconds: loaded.load_seconds,
            };
            return output::write_json(out, &j);
        }
        return write_table(out, global, &loaded, &ev, &rows, &skipped, seconds);
    }

    let report = approx::run(&ctx, a.method())?;
    if let Some(p) = &a.plot {
        plot(p, &loaded, &report)?;
    }
    let row = approx::report_row(&ctx, &report);
    if a.run.json {
        let j = LogZJson {
            row: &row,
            model: loaded.path.display().to_string(),
            model_kind: args::kind_id(&loaded.model),
            evidence: OrderedMap(args::evidence_pairs(&ev, vars)),
            load_seconds: loaded.load_seconds,
        };
        return output::write_json(out, &j);
    }
    if global.quiet {
        writeln!(out, "{}", row.log_z)?;
        return Ok(());
    }
    write_text(out, &loaded, &ev, &row)
}

/// `logz --shard-out FILE [--particle-range A..B]`: one shard of an AIS / reverse AIS / BDMC
/// run, written for `pgmkit merge`.
fn shard(global: &GlobalArgs, a: &LogZArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    use pgmkit::infer::ais::shard::{self, ShardMethod};
    let method = match a.method() {
        Method::Ais => ShardMethod::Ais,
        Method::Rais => ShardMethod::Rais,
        Method::Bdmc => ShardMethod::Bdmc,
        m => anyhow::bail!(
            "--particle-range and --shard-out split the AIS methods (ais, rais, bdmc), not \
             --method {}",
            m.name()
        ),
    };
    let Some(dest) = &a.shard_out else {
        anyhow::bail!("--particle-range needs --shard-out FILE (where the shard is written)");
    };
    if a.iter.time_limit().is_some() {
        anyhow::bail!(
            "a shard cannot have --time-limit: a time-limited run depends on the machine's \
             speed, so its shards would not add up to one run; give --particles and --steps"
        );
    }
    pgmkit::io::outputs::check_outputs(
        &[("the model", a.query.model.as_path())],
        &[("the shard", dest.as_path())],
    )?;
    let loaded = args::load(&a.query.model, global)?;
    let vars = loaded.model.vars();
    let ev = args::evidence(a.query.evidence.as_deref(), vars)?;
    let ctx = context(global, a, &loaded, &ev)?;
    let mut opts = ctx.opts.ais.clone();
    opts.particle_range = a.particle_range.clone();
    let fg = loaded.model.to_factor_graph();
    let n = opts
        .particle_range
        .as_ref()
        .map_or(opts.particles, |r| r.len());
    let units = n as u64
        * opts.steps as u64
        * opts.sweeps as u64
        * if method == ShardMethod::Bdmc { 2 } else { 1 };
    let bar =
        super::progress::Bar::new(global, units, &format!("{} shard", method.name()), "sweeps");
    let inc = |k: u64| bar.inc(k);
    let mut s = shard::run(&fg, &ev, method, &opts, &ctx.opts.exact, Some(&inc))?;
    bar.finish();
    s.model = loaded.path.display().to_string();
    s.evidence = args::evidence_pairs(&ev, vars);
    pgmkit::io::write_atomic(dest, s.to_json().as_bytes())?;
    let range = opts.particle_range.clone().unwrap_or(0..opts.particles);
    if a.run.json {
        let mut j: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        j.0.push(("shard".into(), dest.display().to_string().into()));
        j.0.push(("method".into(), method.name().into()));
        j.0.push(("particles".into(), opts.particles.into()));
        j.0.push(("range".into(), serde_json::json!([range.start, range.end])));
        j.0.push(("fingerprint".into(), s.fingerprint.clone().into()));
        return output::write_json(out, &j);
    }
    if !global.quiet {
        writeln!(
            out,
            "wrote {} shard {}: particles {}..{} of {} ({} steps, seed {}); merge the shards with \
             `pgmkit merge`",
            method.name(),
            dest.display(),
            range.start,
            range.end,
            opts.particles,
            opts.steps,
            opts.seed
        )?;
    }
    Ok(())
}

/// `--plot`: the AIS run of the report as SVG (auto without an AIS run: nothing to draw).
fn plot(
    path: &std::path::Path,
    loaded: &args::Loaded,
    report: &pgmkit::infer::logz::LogZReport,
) -> anyhow::Result<()> {
    use pgmkit::infer::logz::RunDetail;
    for run in &report.runs {
        let (f, r) = match &run.detail {
            RunDetail::Ais(res) if res.reverse => (None, Some(res.as_ref())),
            RunDetail::Ais(res) => (Some(res.as_ref()), None),
            RunDetail::Bdmc { bdmc, .. } => (Some(&bdmc.forward), Some(&bdmc.reverse)),
            _ => continue,
        };
        let title = format!("{}: {}", loaded.path.display(), run.method.name());
        return super::plot::ais(path, &title, f, r);
    }
    anyhow::bail!(
        "--plot: no AIS run to draw ({} answered)",
        report
            .runs
            .iter()
            .map(|r| r.method.name())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// "log Z" or "log P(e)", and the log10 form.
fn what(model: &Model) -> (&'static str, &'static str) {
    match model {
        Model::Bayes(_) => ("log P(e)", "log10 P(e)"),
        Model::Markov(_) => ("log Z", "log10 Z"),
    }
}

/// Text output of one method.
fn write_text(
    out: &mut dyn Write,
    loaded: &args::Loaded,
    ev: &Evidence,
    row: &Row,
) -> anyhow::Result<()> {
    let vars = loaded.model.vars();
    let (what, what10) = what(&loaded.model);
    writeln!(out, "model       {}", loaded.path.display())?;
    writeln!(out, "evidence    {}", args::evidence_text(ev, vars))?;
    let kind = match (row.kind, row.bound_kind) {
        (EstimateKind::LowerBound | EstimateKind::UpperBound | EstimateKind::Sandwich, Some(b)) => {
            format!("{}, {}", kind_text(row.kind), bound_text(b))
        }
        (k, _) => kind_text(k).to_string(),
    };
    writeln!(out, "method      {} ({kind})", row.method)?;
    if let Some(n) = row.samples {
        writeln!(out, "{:<12}{n} (seed {})", "samples", row.seed.unwrap_or(0))?;
    }
    if let (Some(p), Some(k), Some(s)) = (row.particles, row.steps, row.sweeps) {
        writeln!(
            out,
            "{:<12}{p} particles x {k} steps x {s} sweeps ({} schedule, {} base, {} kernel, seed {})",
            "AIS",
            row.schedule.unwrap_or("?"),
            row.base.unwrap_or("?"),
            row.kernel.unwrap_or("?"),
            row.seed.unwrap_or(0)
        )?;
    }
    writeln!(out, "{what:<12}{:.10}", row.log_z)?;
    writeln!(out, "{what10:<12}{:.10}", row.log10_z)?;
    if let Some(se) = row.std_err {
        writeln!(out, "{:<12}{se:.3e}", "std err")?;
    }
    if row.kind != EstimateKind::Exact {
        let bk = row.bound_kind.map_or("", bound_text);
        let by = |field: &str| -> String {
            match row
                .sources
                .as_ref()
                .and_then(|s| s.0.iter().find(|(k, _)| k == field))
            {
                Some((_, m)) => format!("{m}, {bk}"),
                None => bk.to_string(),
            }
        };
        let se = |x: Option<f64>| x.map(|s| format!(" ± {s:.3e}")).unwrap_or_default();
        if row.crossed == Some(true) {
            writeln!(
                out,
                "{:<12}not an interval: forward AIS {:.10}{} above reverse AIS {:.10}{} \
                 (see the note)",
                "bounds",
                row.lower.unwrap_or(f64::NAN),
                se(row.lower_std_err),
                row.upper.unwrap_or(f64::NAN),
                se(row.upper_std_err)
            )?;
        } else {
            if let Some(l) = row.lower {
                let s = se(row.lower_std_err);
                writeln!(out, "{:<12}{l:.10}{s} ({})", "lower", by("lower"))?;
            }
            if let Some(u) = row.upper {
                let s = se(row.upper_std_err);
                writeln!(out, "{:<12}{u:.10}{s} ({})", "upper", by("upper"))?;
            }
        }
    }
    if let Some(ess) = row.ess {
        writeln!(out, "{:<12}{ess:.1}", "ESS")?;
    }
    if let Some(d) = row.dead_particles.filter(|&d| d > 0) {
        writeln!(out, "{:<12}{d} (reached a zero-probability state)", "dead")?;
    }
    if let (Some(f), Some(r)) = (&row.forward, &row.reverse) {
        writeln!(
            out,
            "{:<12}forward AIS {:.10} ± {:.3e}, reverse AIS {:.10} ± {:.3e}, gap {:.3e}",
            "BDMC",
            f.log_z,
            f.std_err,
            r.log_z,
            r.std_err,
            r.log_z - f.log_z
        )?;
    }
    if let (Some(i), Some(c)) = (row.iterations, row.converged) {
        writeln!(
            out,
            "{:<12}{i}{}",
            "iterations",
            if c {
                " (converged)"
            } else {
                " (not converged)"
            }
        )?;
    }
    if let Some(parts) = &row.components {
        if parts.len() > 1 {
            let names: Vec<String> = parts
                .iter()
                .map(|p| format!("{} {}", p.method, output::duration(p.seconds)))
                .collect();
            writeln!(out, "{:<12}{}", "components", names.join(", "))?;
        }
    }
    writeln!(
        out,
        "seconds     {:.6} (inference; load {:.6})",
        row.seconds, loaded.load_seconds
    )?;
    for n in &row.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}

/// A number for the table, or `-`.
fn cell(x: Option<f64>, prec: usize) -> String {
    match x {
        Some(v) => format!("{v:.prec$}"),
        None => "-".to_string(),
    }
}

/// Text output of `--method all`: one table.
fn write_table(
    out: &mut dyn Write,
    global: &GlobalArgs,
    loaded: &args::Loaded,
    ev: &Evidence,
    rows: &[Row],
    skipped: &[Skipped],
    seconds: f64,
) -> anyhow::Result<()> {
    let vars = loaded.model.vars();
    let (what, what10) = what(&loaded.model);
    if !global.quiet {
        writeln!(out, "model       {}", loaded.path.display())?;
        writeln!(out, "evidence    {}", args::evidence_text(ev, vars))?;
        writeln!(out)?;
    }
    let with_err = rows.iter().any(|r| r.error_vs_exact.is_some());
    let mut header = format!(
        "{:<7} {:>18} {:>18} {:>10} {:>18} {:>18} {:>9}",
        "method", what, what10, "std err", "lower", "upper", "seconds"
    );
    if with_err {
        header.push_str(&format!(" {:>11}", "vs exact"));
    }
    header.push_str("  kind");
    writeln!(out, "{header}")?;
    for r in rows {
        let mut line = format!(
            "{:<7} {:>18} {:>18} {:>10} {:>18} {:>18} {:>9}",
            r.method,
            format!("{:.10}", r.log_z),
            format!("{:.10}", r.log10_z),
            r.std_err.map_or("-".to_string(), |s| format!("{s:.3e}")),
            cell(r.lower, 10),
            cell(r.upper, 10),
            format!("{:.3}", r.seconds),
        );
        if with_err {
            line.push_str(&format!(
                " {:>11}",
                r.error_vs_exact
                    .map_or("-".to_string(), |e| format!("{e:+.2e}"))
            ));
        }
        let kind = match (r.kind, r.bound_kind) {
            (EstimateKind::Exact, _) => "exact".to_string(),
            (k, Some(b)) => format!("{}, {}", kind_text(k), bound_text(b)),
            (k, None) => kind_text(k).to_string(),
        };
        line.push_str(&format!("  {kind}"));
        writeln!(out, "{line}")?;
    }
    for s in skipped {
        writeln!(out, "{:<7} not run: {}", s.method, s.reason)?;
    }
    if !global.quiet {
        writeln!(out)?;
        writeln!(
            out,
            "seconds     {seconds:.3} in all (load {:.6})",
            loaded.load_seconds
        )?;
        for r in rows {
            for n in &r.notes {
                writeln!(out, "note: {}: {n}", r.method)?;
            }
        }
    }
    Ok(())
}
