//! `pgmkit classify MODEL --data D.csv --target VAR`: the posterior of a target variable for
//! every row of a table under a Bayesian network, and how well it predicts the labels. The
//! work is the library's ([`pgmkit::classify`]).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use pgmkit::classify::classify;
use pgmkit::learn::RowOptions;

use super::args::{self, GlobalArgs};
use super::data_args::CsvArgs;
use super::output::{self, OrderedMap};

/// Arguments of `pgmkit classify`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:\n  \
    pgmkit learn --classifier tan --target label --data train.csv --out tan.bif\n  \
    pgmkit classify tan.bif --data test.csv --target label --json\n  \
    pgmkit classify tan.bif --data test.csv --target label --out predictions.csv")]
pub struct ClassifyArgs {
    /// Bayesian network (.bif or UAI BAYES), e.g. from `learn --classifier`
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,

    /// Data: CSV (or .csv.gz), header = variable names, cells = state names; missing cells are
    /// summed out, a missing target is predicted without a score
    #[arg(long, short, value_name = "D.csv")]
    pub data: PathBuf,

    /// The variable to predict
    #[arg(long, value_name = "VAR")]
    pub target: String,

    /// Write one line per row: row, label, predicted, then p(state) per state
    #[arg(long, short, value_name = "FILE.csv")]
    pub out: Option<PathBuf>,

    /// Print JSON
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub csv: CsvArgs,
}

/// `pgmkit classify`.
pub fn run(global: &GlobalArgs, a: &ClassifyArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let loaded = args::load(&a.model, global)?;
    let bn = args::require_bayes(&loaded, "classify", "a .bif model")?;
    if let Some(o) = &a.out {
        pgmkit::io::outputs::check_outputs(
            &[
                ("the model", a.model.as_path()),
                ("the data", a.data.as_path()),
            ],
            &[("--out", o.as_path())],
        )?;
    }
    let Some(target) = bn.vars().iter().position(|v| v.name == a.target) else {
        anyhow::bail!("--target {}: the model has no such variable", a.target);
    };
    let t = Instant::now();
    let table = a.csv.read(&a.data, bn, false)?;
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let r = classify(
        bn,
        &table.data,
        pgmkit::VarId(target as u32),
        RowOptions::default(),
    )?;
    let secs = t.elapsed().as_secs_f64();
    let states = &bn.vars()[target].states;
    let col = table.data.column(pgmkit::VarId(target as u32));
    if let Some(path) = &a.out {
        pgmkit::data::csv::write_atomic_with(path, |w| {
            let io = |e: std::io::Error| pgmkit::Error::io(path, e);
            let head: Vec<String> = states.iter().map(|s| format!("p_{s}")).collect();
            writeln!(w, "row,label,predicted,{}", head.join(",")).map_err(io)?;
            for (i, (p, &pred)) in r.probs.iter().zip(&r.predicted).enumerate() {
                let label = if col[i] == pgmkit::data::MISSING {
                    ""
                } else {
                    &states[col[i] as usize]
                };
                let ps: Vec<String> = p.iter().map(|x| format!("{x}")).collect();
                writeln!(w, "{},{label},{},{}", i + 1, states[pred], ps.join(",")).map_err(io)?;
            }
            Ok(())
        })?;
    }
    let opt = |x: Option<f64>| x.map_or(serde_json::Value::Null, super::score::json_f64);
    if a.json {
        let mut m: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        let mut push = |k: &str, v: serde_json::Value| m.0.push((k.to_string(), v));
        push("model", loaded.path.display().to_string().into());
        push("data", a.data.display().to_string().into());
        push("target", a.target.clone().into());
        push("states", states.clone().into());
        push("rows", r.probs.len().into());
        push("labelled", r.labelled.into());
        push("accuracy", opt(r.accuracy));
        push("log_loss", opt(r.log_loss));
        push("auc", opt(r.auc));
        push("confusion", serde_json::to_value(&r.confusion)?);
        push("seconds", secs.into());
        push("read_seconds", read_s.into());
        return output::write_json(out, &m);
    }
    writeln!(
        out,
        "classified {} rows ({} labelled) of {} by {} in {}",
        r.probs.len(),
        r.labelled,
        a.data.display(),
        a.target,
        output::duration(secs)
    )?;
    let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
    writeln!(out, "accuracy    {}", f(r.accuracy))?;
    writeln!(out, "log loss    {} nats", f(r.log_loss))?;
    if states.len() == 2 {
        writeln!(out, "ROC AUC     {}", f(r.auc))?;
    }
    writeln!(
        out,
        "confusion (rows: true, columns: predicted; {})",
        states.join(", ")
    )?;
    for (s, row) in states.iter().zip(&r.confusion) {
        let cells: Vec<String> = row.iter().map(|c| format!("{c:>7}")).collect();
        writeln!(out, "  {s:<12}{}", cells.join(""))?;
    }
    if let Some(p) = &a.out {
        writeln!(out, "wrote {}", p.display())?;
    }
    Ok(())
}
