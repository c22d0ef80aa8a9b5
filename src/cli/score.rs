//! `pgmkit score MODEL --data D.csv`: log-likelihood of data under a Bayesian network: total and
//! mean (nats), bits per row, per-variable perplexity 2^(bits per row / variables); rows with
//! missing cells are scored by their marginal likelihood; `--outliers K` lists the K least
//! likely rows; `--per-row FILE` writes every row's log-likelihood.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use pgmkit::data::csv::write_atomic_with;
use pgmkit::score::{score, score_markov, Score};

use super::args::{self, GlobalArgs};
use super::data_args::{CsvArgs, EmArgs};
use super::output::{self, OrderedMap};

/// Arguments of `pgmkit score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Model file (.bif or UAI BAYES; or a Gaussian model .json: Gaussian BN or GMRF)
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,

    /// Data: CSV (or .csv.gz), header = variable names, cells = state names (holes allowed)
    #[arg(long, short, value_name = "D.csv")]
    pub data: PathBuf,

    /// Print JSON
    #[arg(long)]
    pub json: bool,

    /// Write every row's log-likelihood (CSV: row,log_likelihood; row is 1-based)
    #[arg(long, value_name = "FILE.csv")]
    pub per_row: Option<PathBuf>,

    /// List the K least likely rows
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub outliers: usize,

    #[command(flatten)]
    pub csv: CsvArgs,

    /// Components of missing cells with at most this many joint states are enumerated
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub enum_limit: usize,

    /// Markov networks: seed of the AIS estimate of log Z when exact inference does not fit
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
}

pub fn run(global: &GlobalArgs, a: &ScoreArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(p) = &a.per_row {
        pgmkit::io::outputs::check_outputs(
            &[
                ("the model", a.model.as_path()),
                ("the data", a.data.as_path()),
            ],
            &[("--per-row", p.as_path())],
        )?;
    }
    if super::rbm::is_rbm(&a.model) {
        return super::rbm::score(global, a, out);
    }
    if super::gaussian::is_gaussian(&a.model) {
        return super::gaussian_data::score(global, a, out);
    }
    let loaded = args::load(&a.model, global)?;
    if let pgmkit::model::Model::Markov(fg) = &loaded.model {
        return score_markov_net(global, a, out, &loaded, fg);
    }
    let bn = args::require_bayes(&loaded, "score", "a .bif model")?;
    let t = Instant::now();
    let table = a.csv.read(&a.data, bn, false)?;
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let row = EmArgs {
        max_iters: 0,
        tol: 0.0,
        time_limit: None,
        restarts: 0,
        prior_count: None,
        bdeu: None,
        enum_limit: a.enum_limit,
        gibbs_sweeps: 0,
    }
    .row_options();
    let s = score(bn, &table.data, &row)?;
    let score_s = t.elapsed().as_secs_f64();
    report(
        global,
        a,
        out,
        &loaded.path,
        &s,
        read_s,
        score_s,
        false,
        Vec::new(),
    )
}

/// `pgmkit score` on a Markov network: complete rows, `ln Z` by the library's `auto` policy
/// (exact where the width fits, else AIS with its standard error).
fn score_markov_net(
    global: &GlobalArgs,
    a: &ScoreArgs,
    out: &mut dyn Write,
    loaded: &args::Loaded,
    fg: &pgmkit::model::FactorGraph,
) -> anyhow::Result<()> {
    use pgmkit::infer::logz::{log_z, LogZMethod, LogZOptions};
    let t = Instant::now();
    let table = pgmkit::data::csv::read_csv_path(&a.data, fg.vars(), &a.csv.options(false))?;
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut opts = LogZOptions {
        seed: a.seed,
        ..LogZOptions::default()
    };
    opts.ais.seed = a.seed;
    let ev = pgmkit::Evidence::new(fg.num_vars());
    let rep = log_z(&loaded.model, &ev, LogZMethod::Auto, &opts, None)?;
    let ms = score_markov(fg, &table.data, &rep.estimate)?;
    let score_s = t.elapsed().as_secs_f64();
    let kind = ms.log_z.kind;
    let extra = vec![
        ("log_z".to_string(), json_f64(ms.log_z.log_z)),
        (
            "log_z_kind".to_string(),
            serde_json::to_value(kind).unwrap_or_default(),
        ),
        (
            "log_z_std_err".to_string(),
            ms.log_z.std_err.map_or(serde_json::Value::Null, json_f64),
        ),
        (
            "mean_log_likelihood_std_err".to_string(),
            json_f64(ms.mean_std_err),
        ),
        (
            "ignored_columns".to_string(),
            table.extra_columns.len().into(),
        ),
    ];
    report(
        global,
        a,
        out,
        &loaded.path,
        &ms.score,
        read_s,
        score_s,
        false,
        extra,
    )?;
    if !a.json {
        writeln!(
            out,
            "log Z:                {:.6} ({}{}); mean log-likelihood ± {:.6} (rows and log Z)",
            ms.log_z.log_z,
            super::approx::kind_text(kind),
            ms.log_z
                .std_err
                .map_or(String::new(), |e| format!(", std err {e:.6}")),
            ms.mean_std_err
        )?;
        if !table.extra_columns.is_empty() && !global.quiet {
            writeln!(
                out,
                "note: {} column(s) of the data are not model variables and were ignored",
                table.extra_columns.len()
            )?;
        }
    }
    Ok(())
}

/// Print a score (and write `--per-row`), for discrete networks and (with `continuous`: log
/// densities, differential bits, no perplexity) Gaussian models alike.
#[allow(clippy::too_many_arguments)]
pub fn report(
    global: &GlobalArgs,
    a: &ScoreArgs,
    out: &mut dyn Write,
    model: &std::path::Path,
    s: &Score,
    read_s: f64,
    score_s: f64,
    continuous: bool,
    extra: Vec<(String, serde_json::Value)>,
) -> anyhow::Result<()> {
    if let Some(p) = &a.per_row {
        write_atomic_with(p, |w| {
            writeln!(w, "row,log_likelihood").map_err(|e| pgmkit::Error::io(p, e))?;
            for (r, l) in s.per_row.iter().enumerate() {
                writeln!(w, "{},{l}", r + 1).map_err(|e| pgmkit::Error::io(p, e))?;
            }
            Ok(())
        })?;
    }
    let outliers = s.outliers(a.outliers);
    if a.json {
        let mut m: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        let mut push = |k: &str, v: serde_json::Value| m.0.push((k.to_string(), v));
        push("model", model.display().to_string().into());
        push("data", a.data.display().to_string().into());
        if continuous {
            push("kind", "continuous".into());
        }
        push("rows", s.rows.into());
        push("vars", s.vars.into());
        push("missing_cells", s.missing_cells.into());
        push("total_log_likelihood", json_f64(s.total_log_lik));
        push("mean_log_likelihood", json_f64(s.mean_log_lik));
        push("bits_per_row", json_f64(s.bits_per_row));
        push(
            "perplexity_per_variable",
            if continuous {
                serde_json::Value::Null
            } else {
                json_f64(s.perplexity_per_var)
            },
        );
        push("impossible_rows", serde_json::json!(s.impossible_rows));
        push(
            "outliers",
            serde_json::Value::Array(
                outliers
                    .iter()
                    .map(|&(r, l)| serde_json::json!({"row": r + 1, "log_likelihood": json_f64(l)}))
                    .collect(),
            ),
        );
        for (k, v) in extra {
            push(&k, v);
        }
        push("read_seconds", read_s.into());
        push("score_seconds", score_s.into());
        return output::write_json(out, &m);
    }
    if !global.quiet {
        writeln!(
            out,
            "data: {} rows x {} variables, {} missing cells ({})",
            s.rows,
            s.vars,
            s.missing_cells,
            a.data.display()
        )?;
    }
    if continuous {
        writeln!(
            out,
            "total log-likelihood: {:.10} nats (log density: continuous variables)",
            s.total_log_lik
        )?;
        writeln!(out, "mean log-likelihood:  {:.6} nats/row", s.mean_log_lik)?;
        writeln!(
            out,
            "bits per row:         {:.6} (differential)",
            s.bits_per_row
        )?;
    } else {
        writeln!(out, "total log-likelihood: {:.10} nats", s.total_log_lik)?;
        writeln!(out, "mean log-likelihood:  {:.6} nats/row", s.mean_log_lik)?;
        writeln!(out, "bits per row:         {:.6}", s.bits_per_row)?;
        writeln!(out, "perplexity/variable:  {:.6}", s.perplexity_per_var)?;
    }
    if !s.impossible_rows.is_empty() {
        writeln!(
            out,
            "rows of probability zero: {} (first: {:?})",
            s.impossible_rows.len(),
            &s.impossible_rows[..s.impossible_rows.len().min(20)]
        )?;
    }
    if !outliers.is_empty() {
        writeln!(out, "least likely rows (1-based):")?;
        for (r, l) in outliers {
            writeln!(out, "  row {:>8}  log-likelihood {l:.6}", r + 1)?;
        }
    }
    if !global.quiet {
        writeln!(
            out,
            "time: read {}, score {}",
            output::duration(read_s),
            output::duration(score_s)
        )?;
    }
    Ok(())
}

/// A JSON number, or the strings "-inf"/"inf"/"nan" (JSON has no infinities).
pub fn json_f64(x: f64) -> serde_json::Value {
    if x.is_finite() {
        x.into()
    } else {
        x.to_string().into()
    }
}
