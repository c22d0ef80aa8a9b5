//! `pgmkit impute MODEL --data IN.csv --out OUT.csv`: fill the missing cells of a CSV from a
//! Bayesian network (optionally after learning its parameters from the same data by EM).
//!
//! - `--method mode` (default for one imputation): every missing cell gets its own posterior
//!   mode (per-cell mode, not a joint MAP);
//! - `--method sample`: every row gets one exact joint draw from p(missing | observed);
//! - `--method map`: every row gets its joint MAP completion (the most probable combination of
//!   its missing cells; never an impossible one);
//! - `--multiple M` (implies sample): M completed datasets, written to `OUT_1.csv` ... `OUT_M.csv`
//!   (the number goes before the extension), each a coherent joint draw for every row.
//!
//! Observed cells, extra columns and the header are written back with their original text; rows
//! keep their number and order; every file is written atomically (temporary file + rename).
//! Rows whose observed cells have probability zero under the model are an error listing them,
//! unless `--skip-impossible` (then their holes stay empty and the rows are reported on stderr).
//! Draws use the stream `chain_rng(seed, block)` per block of 64 rows: the output is identical
//! for any `--threads`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use pgmkit::data::csv::write_completed;
use pgmkit::impute::{impute, ImpossibleRows, ImputeMethod, ImputeOptions};
use pgmkit::io::outputs::Staged;
use pgmkit::learn::em;
use pgmkit::learn::structure::{structural_em, SemOptions, StructureOptions};

use super::args::{self, GlobalArgs};
use super::data_args::{numbered, CsvArgs, EmArgs, Learn};
use super::output;
use super::progress::Bar;

/// How missing cells are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Per-cell posterior mode (the most probable state of each cell given the row's observed
    /// cells)
    Mode,
    /// One exact joint draw of the row's missing cells from p(missing | observed)
    Sample,
    /// The joint MAP completion of each row: the most probable combination of its missing
    /// cells (never an impossible one); for a Gaussian model the conditional mean, as mode
    Map,
}

/// Arguments of `pgmkit impute`.
#[derive(Debug, Args)]
pub struct ImputeArgs {
    /// Model file (.bif or UAI BAYES; or a Gaussian model .json): the structure, and the
    /// parameters unless --learn em. Without one, a discrete Bayesian network (structure and
    /// parameters) is learned from IN.csv by structural EM, its states read from the cells
    #[arg(value_name = "MODEL")]
    pub model: Option<PathBuf>,

    /// Data with missing cells: CSV (or .csv.gz), header = variable names, cells = state names
    /// (numbers for a Gaussian model)
    #[arg(long, short, value_name = "IN.csv")]
    pub data: PathBuf,

    /// Completed CSV (with --multiple M: OUT_1.csv ... OUT_M.csv)
    #[arg(
        long,
        short,
        value_name = "OUT.csv",
        required_unless_present = "shard_out"
    )]
    pub out: Option<PathBuf>,

    /// Impute only the rows A..B (0-based data rows, B excluded) as a shard for `pgmkit merge
    /// --out OUT.csv` (needs --shard-out and MODEL). Every block of 64 rows draws from its own
    /// stream (seed, block), so the merged shards are the one-shot output byte for byte
    #[arg(long, value_name = "A..B", value_parser = args::parse_range)]
    pub row_range: Option<std::ops::Range<usize>>,

    /// Write the fills of these rows (or of all rows) as a shard file (JSON, with fingerprints
    /// of the model and of the data file) for `pgmkit merge`, instead of a completed CSV
    #[arg(long, value_name = "FILE.json", conflicts_with = "out")]
    pub shard_out: Option<PathBuf>,

    /// Number of completed datasets (multiple imputation; uses --method sample)
    #[arg(long, value_name = "M", default_value_t = 1)]
    pub multiple: usize,

    /// How to fill a cell [default: mode for one imputation, sample for --multiple]
    #[arg(long, short, value_enum)]
    pub method: Option<MethodArg>,

    /// Learn the model's parameters from IN.csv first
    #[arg(long, value_enum)]
    pub learn: Option<Learn>,

    /// Write the posterior of every imputed cell (CSV: row,variable,state,probability; row is
    /// the 1-based data row)
    #[arg(long, value_name = "FILE.csv")]
    pub posteriors: Option<PathBuf>,

    /// Save the model used (after --learn em, or the one learned without MODEL) as BIF
    #[arg(long, value_name = "FILE.bif")]
    pub save_model: Option<PathBuf>,

    /// Seed of the draws (and of EM's random restarts)
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,

    /// Without MODEL: columns that are not modelled (written back unchanged), comma-separated
    #[arg(long, value_name = "COLS")]
    pub ignore: Option<String>,

    /// Leave the holes of rows with probability zero empty (reported on stderr) instead of failing
    #[arg(long)]
    pub skip_impossible: bool,

    #[command(flatten)]
    pub csv: CsvArgs,

    #[command(flatten)]
    pub em: EmArgs,
}

pub fn run(global: &GlobalArgs, a: &ImputeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let sharded = a.row_range.is_some() || a.shard_out.is_some();
    if a.model.as_deref().is_some_and(super::gaussian::is_gaussian) {
        if sharded {
            anyhow::bail!("--row-range and --shard-out apply to discrete Bayesian networks");
        }
        return super::gaussian_data::impute(global, a, out);
    }
    if sharded {
        return shard(global, a, out);
    }
    if a.ignore.is_some() && a.model.is_some() {
        anyhow::bail!(
            "--ignore applies without MODEL (with one, columns that are not model variables are \
             passed through unchanged)"
        );
    }
    let (multiple, method) = resolve_method(a)?;
    let method = match method {
        MethodArg::Mode => ImputeMethod::Mode,
        MethodArg::Sample => ImputeMethod::Sample,
        MethodArg::Map => ImputeMethod::Map,
    };
    let paths = check_outputs(a, multiple)?;
    if let Some(p) = &a.save_model {
        pgmkit::io::ModelFormat::from_path(p).map_err(|e| args::file_error(p, e))?;
    }
    let mut learned = None;
    let mut em_summary = None;
    let mut sem_summary = None;
    let mut identifiers: Vec<String> = Vec::new();
    let sem_model;
    let loaded;
    let (bn, table, read_s) = match &a.model {
        Some(path) => {
            loaded = args::load(path, global)?;
            let bn = args::require_bayes(&loaded, "impute", "a .bif model")?;
            let t = Instant::now();
            let table = a.csv.read(&a.data, bn, true)?;
            (bn, table, t.elapsed().as_secs_f64())
        }
        None => {
            let t = Instant::now();
            let copts = a.csv.options(true);
            let mut vars = pgmkit::data::csv::discover_variables(&a.data, &copts)
                .map_err(|e| args::file_error(&a.data, e))?;
            let ignore: Vec<&str> = a
                .ignore
                .as_deref()
                .map(|s| s.split(',').map(str::trim).collect())
                .unwrap_or_default();
            if let Some(name) = ignore.iter().find(|n| !vars.iter().any(|v| v.name == **n)) {
                anyhow::bail!("--ignore {name}: the data has no such column");
            }
            vars.retain(|v| !ignore.contains(&v.name.as_str()));
            let mut table = pgmkit::data::csv::read_csv_path(&a.data, &vars, &copts)
                .map_err(|e| args::file_error(&a.data, e))?;
            // a column with a different value in every row is an identifier, not a variable
            let rows = table.data.num_rows();
            let ids: Vec<String> = vars
                .iter()
                .filter(|v| rows >= 20 && v.card() == rows)
                .map(|v| v.name.clone())
                .collect();
            if !ids.is_empty() {
                vars.retain(|v| !ids.contains(&v.name));
                table = pgmkit::data::csv::read_csv_path(&a.data, &vars, &copts)
                    .map_err(|e| args::file_error(&a.data, e))?;
                identifiers = ids;
            }
            let read_s = t.elapsed().as_secs_f64();
            let deadline =
                super::command_deadline(a.em.time_limit.map(std::time::Duration::from_secs_f64));
            let mut em_opts = a.em.options(a.seed)?;
            // the search and EM get 80% of the budget, imputation the rest
            let budget = deadline.share(0.8);
            if let Some(left) = budget.remaining() {
                em_opts.stop = em_opts.stop.with_max_time(left);
            }
            let opts = SemOptions {
                search: StructureOptions {
                    seed: a.seed,
                    deadline: budget,
                    ..Default::default()
                },
                em: em_opts,
                ..Default::default()
            };
            let bar = Bar::spinner(global, "structural EM");
            let fit = structural_em(&vars, &table.data, &opts);
            bar.finish();
            let fit = fit?;
            sem_model = fit.model.clone();
            sem_summary = Some(fit);
            (&sem_model, table, read_s)
        }
    };
    if a.learn == Some(Learn::Em) && a.model.is_some() {
        let opts = a.em.options(a.seed)?;
        let bar = Bar::new(global, opts.stop.max_iters as u64, "EM", "iterations");
        let t = Instant::now();
        let r = em(bn, &table.data, &opts, Some(&|_| bar.inc(1)));
        bar.finish();
        let r = r?;
        em_summary = Some((
            r.convergence,
            r.log_lik,
            t.elapsed().as_secs_f64(),
            r.trace.len(),
        ));
        learned = Some(r.model);
    }
    let model = learned.as_ref().unwrap_or(bn);
    // every output is staged, then all are renamed into place together (none on a failure)
    let mut staged = Staged::new();
    if let Some(p) = &a.save_model {
        let text = pgmkit::io::model_text(&pgmkit::Model::Bayes(model.clone()), p)?;
        staged.write(p, |w| {
            w.write_all(text.as_bytes())
                .map_err(|e| pgmkit::Error::io(p, e))
        })?;
    }
    let opts = ImputeOptions {
        method,
        imputations: multiple,
        seed: a.seed,
        impossible: if a.skip_impossible {
            ImpossibleRows::LeaveMissing
        } else {
            ImpossibleRows::Error
        },
        posteriors: a.posteriors.is_some(),
        row: a.em.row_options(),
        rows: None,
    };
    let bar = Bar::new(global, table.data.num_rows() as u64, "imputing", "rows");
    let t = Instant::now();
    let res = impute(model, &table.data, &opts, Some(&|k| bar.inc(k)));
    bar.finish();
    let res = res?;
    let impute_s = t.elapsed().as_secs_f64();
    let vars = model.vars();
    for (d, p) in res.completed.iter().zip(&paths) {
        staged.write(p, |w| {
            write_completed(&table, vars, |r, v| d.get(r, pgmkit::VarId(v as u32)), w)
        })?;
    }
    if let Some(p) = &a.posteriors {
        staged.write(p, |w| {
            let mut wtr = csv::Writer::from_writer(w);
            let e = |e: csv::Error| pgmkit::Error::InvalidArgument(e.to_string());
            wtr.write_record(["row", "variable", "state", "probability"])
                .map_err(e)?;
            for c in &res.posteriors {
                let v = &vars[c.var.index()];
                for (s, p) in v.states.iter().zip(&c.probs) {
                    let row = (c.row + 1).to_string();
                    let prob = format!("{p}");
                    wtr.write_record([row.as_str(), v.name.as_str(), s.as_str(), prob.as_str()])
                        .map_err(e)?;
                }
            }
            wtr.flush().map_err(|x| pgmkit::Error::io(p, x))?;
            Ok(())
        })?;
    }
    staged.commit()?;
    if !res.impossible_rows.is_empty() {
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "warning: {} row(s) have probability zero under the model; their missing cells were left empty:",
            res.impossible_rows.len()
        )?;
        for (r, why) in res.impossible_rows.iter().take(20) {
            writeln!(err, "  row {}: {why}", r + 1)?;
        }
    }
    if global.quiet {
        return Ok(());
    }
    writeln!(
        out,
        "data: {} rows x {} variables, {} missing cells ({})",
        table.data.num_rows(),
        table.data.num_vars(),
        table.data.num_missing(),
        a.data.display()
    )?;
    if !identifiers.is_empty() {
        writeln!(
            out,
            "column(s) {} hold a different value in every row: kept as identifiers, not modelled",
            identifiers.join(", ")
        )?;
    }
    if let Some(f) = &sem_summary {
        let arcs: usize = f.parents.iter().map(Vec::len).sum();
        writeln!(
            out,
            "structural EM: {arcs} arcs after {} iteration(s) (arcs changed: {}), observed-data \
             log-likelihood {:.6}, {}{}",
            f.iterations,
            f.changes
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            f.log_lik,
            output::duration(f.seconds),
            if f.time_limited {
                " (time limit reached)"
            } else {
                ""
            }
        )?;
    }
    if let Some((conv, ll, s, evals)) = em_summary {
        writeln!(
            out,
            "EM: {} iterations ({}), observed-data log-likelihood {ll:.6} ({} evaluations), {}",
            conv.iters,
            match conv.reason {
                pgmkit::infer::variational::StopReason::Converged => "converged",
                pgmkit::infer::variational::StopReason::MaxIters => "iteration cap reached",
                pgmkit::infer::variational::StopReason::TimeLimit => "time limit reached",
            },
            evals,
            output::duration(s)
        )?;
    }
    summary(
        out,
        res.cells,
        match method {
            ImputeMethod::Mode => "per-cell posterior mode",
            ImputeMethod::Sample => "exact joint draws",
            ImputeMethod::Map => "joint MAP completion",
        },
        &paths,
        read_s,
        impute_s,
    )
}

/// `impute MODEL --data IN.csv [--row-range A..B] --shard-out FILE`: one shard of an
/// imputation, for `pgmkit merge`.
fn shard(global: &GlobalArgs, a: &ImputeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (Some(model), Some(dest)) = (&a.model, &a.shard_out) else {
        anyhow::bail!(
            "--row-range needs --shard-out FILE and a MODEL (a shard imputes from a given \
             network; learning one per shard would give each shard another model)"
        );
    };
    for (given, flag) in [
        (a.learn.is_some(), "--learn"),
        (a.posteriors.is_some(), "--posteriors"),
        (a.save_model.is_some(), "--save-model"),
    ] {
        if given {
            anyhow::bail!("{flag} does not apply to a shard (--shard-out)");
        }
    }
    let (multiple, method) = resolve_method(a)?;
    pgmkit::io::outputs::check_outputs(
        &[
            ("the data", a.data.as_path()),
            ("the model", model.as_path()),
        ],
        &[("--shard-out", dest.as_path())],
    )?;
    let loaded = args::load(model, global)?;
    let bn = args::require_bayes(&loaded, "impute", "a .bif model")?;
    let table = a.csv.read(&a.data, bn, true)?;
    let bytes = std::fs::read(&a.data).map_err(|e| pgmkit::Error::io(&a.data, e))?;
    let opts = ImputeOptions {
        method: match method {
            MethodArg::Mode => ImputeMethod::Mode,
            MethodArg::Sample => ImputeMethod::Sample,
            MethodArg::Map => ImputeMethod::Map,
        },
        imputations: multiple,
        seed: a.seed,
        impossible: if a.skip_impossible {
            ImpossibleRows::LeaveMissing
        } else {
            ImpossibleRows::Error
        },
        posteriors: false,
        row: a.em.row_options(),
        rows: a.row_range.clone(),
    };
    let rows = opts.rows.clone().unwrap_or(0..table.data.num_rows());
    let bar = Bar::new(global, rows.len() as u64, "imputing", "rows");
    let s = pgmkit::impute::shard::run(
        bn,
        &table.data,
        &opts,
        &pgmkit::shard::bytes_fingerprint(&bytes),
        Some(&|k| bar.inc(k)),
    );
    bar.finish();
    let mut s = s.map_err(|e| args::file_error(&a.data, e))?;
    s.context = format!("{:?}", a.csv.options(true));
    s.model = model.display().to_string();
    s.data = a.data.display().to_string();
    pgmkit::io::write_atomic(dest, s.to_json().as_bytes())?;
    if !global.quiet {
        writeln!(
            out,
            "wrote imputation shard {}: rows {}..{} of {} ({} cells filled); merge the shards \
             with `pgmkit merge SHARDS --out OUT.csv`",
            dest.display(),
            s.start,
            s.end,
            s.rows,
            s.fills.len()
        )?;
    }
    Ok(())
}

/// Most completed datasets (`OUT_1..M`) one run writes.
const MAX_MULTIPLE: usize = 10_000;

/// The number of completed datasets and how to fill cells (`--method` defaults to mode for one
/// imputation and sample for several; mode with several is an error).
pub fn resolve_method(a: &ImputeArgs) -> anyhow::Result<(usize, MethodArg)> {
    let multiple = args::at_least_one("--multiple", a.multiple)?;
    if multiple > MAX_MULTIPLE {
        anyhow::bail!(
            "--multiple {multiple} asks for more completed datasets than one run writes (at most \
             {MAX_MULTIPLE} files)"
        );
    }
    let method = match (a.method, multiple) {
        (Some(MethodArg::Mode | MethodArg::Map), m) if m > 1 => anyhow::bail!(
            "--multiple {m} needs --method sample (the single-imputation value is the same every time)"
        ),
        (Some(m), _) => m,
        (None, 1) => MethodArg::Mode,
        (None, _) => MethodArg::Sample,
    };
    Ok((multiple, method))
}

/// The completed-data paths, after refusing (before any work) every output that is the same
/// file as the model, the data or another output, or that cannot be created.
pub fn check_outputs(a: &ImputeArgs, multiple: usize) -> anyhow::Result<Vec<PathBuf>> {
    let paths = output_paths(a, multiple);
    let mut outs: Vec<(&str, &std::path::Path)> =
        paths.iter().map(|p| ("--out", p.as_path())).collect();
    if let Some(p) = &a.posteriors {
        outs.push(("--posteriors", p));
    }
    if let Some(p) = &a.save_model {
        outs.push(("--save-model", p));
    }
    let mut inputs = vec![("the data", a.data.as_path())];
    if let Some(m) = &a.model {
        inputs.push(("the model", m.as_path()));
    }
    pgmkit::io::outputs::check_outputs(&inputs, &outs)?;
    Ok(paths)
}

/// `OUT.csv`, or `OUT_1.csv ... OUT_M.csv` for M completed datasets.
pub fn output_paths(a: &ImputeArgs, multiple: usize) -> Vec<PathBuf> {
    let out = a.out.clone().unwrap_or_default();
    if multiple == 1 {
        vec![out]
    } else {
        (1..=multiple).map(|k| numbered(&out, k)).collect()
    }
}

/// The last lines of `impute`'s report.
pub fn summary(
    out: &mut dyn Write,
    cells: usize,
    how: &str,
    paths: &[PathBuf],
    read_s: f64,
    impute_s: f64,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "imputed {cells} cells per dataset by {how} into {}",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(
        out,
        "time: read {}, impute {}",
        output::duration(read_s),
        output::duration(impute_s)
    )?;
    Ok(())
}
