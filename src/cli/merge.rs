//! `pgmkit merge SHARD...`: combine the shards of one AIS / reverse AIS / BDMC run (written by
//! `logz --shard-out`) into the result of the whole run, exactly as one process computes it,
//! the shards of one MCMC run (`marginals --chain-range --shard-out`) into its marginals and
//! diagnostics, or the shards of one imputation (`impute --row-range --shard-out`) into its completed CSV,
//! byte for byte. The work is the library's ([`pgmkit::infer::ais::shard::merge`],
//! [`pgmkit::impute::shard::merge`]).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use pgmkit::infer::ais::shard::{self, AisShard, ShardMethod};
use pgmkit::infer::logz::{LogZMethod, LogZOptions, MethodRun, RunDetail};
use serde::Serialize;

use super::approx::{run_row, Row};
use super::args::GlobalArgs;
use super::output::{self, OrderedMap};

/// Arguments of `pgmkit merge`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example (4 shards of a 128-particle run, e.g. the tasks of a Slurm array):\n  \
    for i in 0 1 2 3; do\n    \
      pgmkit logz model.fg --method ais --particles 128 --seed 1 \\\n      \
        --particle-range $((32*i))..$((32*i+32)) --shard-out shard$i.json\n  \
    done\n  \
    pgmkit merge shard*.json --json"
)]
pub struct MergeArgs {
    /// Shard files written by `pgmkit logz`, `marginals` or `impute` with --shard-out (any
    /// order)
    #[arg(value_name = "SHARD", required = true)]
    pub shards: Vec<PathBuf>,

    /// Print JSON: the fields of `logz --json` for the whole run, plus `shards` and
    /// `fingerprint` (MCMC shards: the fields of `marginals --json`)
    #[arg(long)]
    pub json: bool,

    /// Imputation shards: the completed CSV (with --multiple M: OUT_1.csv ... OUT_M.csv)
    #[arg(long, short, value_name = "OUT.csv")]
    pub out: Option<PathBuf>,

    /// Imputation and MCMC shards: the model [default: the path the shards recorded]
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,

    /// Imputation shards: the data [default: the path the shards recorded]
    #[arg(long, short, value_name = "IN.csv")]
    pub data: Option<PathBuf>,

    #[command(flatten)]
    pub csv: super::data_args::CsvArgs,
}

/// JSON output of `merge`.
#[derive(Debug, Serialize)]
struct MergeJson<'a> {
    #[serde(flatten)]
    row: &'a Row,
    model: String,
    evidence: OrderedMap<String>,
    shards: usize,
    fingerprint: String,
}

pub fn run(global: &GlobalArgs, a: &MergeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let first = pgmkit::io::read_text(&a.shards[0])?;
    if first.contains(pgmkit::impute::shard::FORMAT) {
        return impute(global, a, out);
    }
    if first.contains(pgmkit::sample::chains::shard::FORMAT) {
        use pgmkit::sample::chains::shard::McmcShard;
        let mut shards = Vec::with_capacity(a.shards.len());
        for p in &a.shards {
            let text = pgmkit::io::read_text(p)?;
            shards.push(
                McmcShard::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
            );
        }
        return super::marginals::merge(
            global,
            &shards,
            &a.shards,
            a.model.as_deref(),
            a.json,
            out,
        );
    }
    let mut shards = Vec::with_capacity(a.shards.len());
    for p in &a.shards {
        let text = pgmkit::io::read_text(p)?;
        let s = AisShard::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        shards.push(s);
    }
    let m = shard::merge(&shards).map_err(|e| match &e {
        pgmkit::Error::ShardMismatch { shard, .. } => {
            anyhow::anyhow!("{}: {e}", a.shards[*shard].display())
        }
        _ => e.into(),
    })?;
    let (method, estimate, seconds, detail) = match m.method {
        ShardMethod::Ais => {
            let f = m.forward.clone().expect("an ais merge has a forward run");
            (
                LogZMethod::Ais,
                f.estimate(),
                f.seconds,
                RunDetail::Ais(Box::new(f)),
            )
        }
        ShardMethod::Rais => {
            let r = m.reverse.clone().expect("a rais merge has a reverse run");
            (
                LogZMethod::Rais,
                r.estimate(),
                r.seconds,
                RunDetail::Ais(Box::new(r)),
            )
        }
        ShardMethod::Bdmc => {
            let b = m.bdmc().expect("a bdmc merge has both runs");
            (
                LogZMethod::Bdmc,
                b.estimate(),
                b.seconds,
                RunDetail::Bdmc {
                    bdmc: Box::new(b),
                    sample_seconds: 0.0,
                },
            )
        }
    };
    let opts = LogZOptions {
        ais: m.options.clone(),
        seed: m.options.seed,
        ..Default::default()
    };
    let row = run_row(
        &opts,
        &MethodRun {
            method,
            estimate,
            seconds,
            detail,
        },
    );
    let first = &shards[0];
    if a.json {
        let j = MergeJson {
            row: &row,
            model: first.model.clone(),
            evidence: OrderedMap(first.evidence.clone()),
            shards: m.shards,
            fingerprint: first.fingerprint.clone(),
        };
        return output::write_json(out, &j);
    }
    if global.quiet {
        writeln!(out, "{}", row.log_z)?;
        return Ok(());
    }
    writeln!(out, "model       {}", first.model)?;
    writeln!(
        out,
        "method      {} ({} shards, {} particles x {} steps, seed {})",
        method.name(),
        m.shards,
        m.options.particles,
        row.steps.unwrap_or(0),
        m.options.seed
    )?;
    writeln!(out, "{:<12}{:.10}", "log Z", row.log_z)?;
    writeln!(out, "{:<12}{:.10}", "log10 Z", row.log10_z)?;
    if let Some(se) = row.std_err {
        writeln!(out, "{:<12}{se:.3e}", "std err")?;
    }
    if let (Some(l), Some(u)) = (row.lower, row.upper) {
        writeln!(out, "{:<12}{l:.10} .. {u:.10}", "bounds")?;
    }
    if let Some(ess) = row.ess {
        writeln!(out, "{:<12}{ess:.1}", "ESS")?;
    }
    writeln!(
        out,
        "{:<12}{:.3} (sum over the shards)",
        "seconds", row.seconds
    )?;
    for n in &row.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}

/// Merge imputation shards into the completed CSV(s).
fn impute(global: &GlobalArgs, a: &MergeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    use pgmkit::impute::shard::ImputeShard;
    let mut shards = Vec::with_capacity(a.shards.len());
    for p in &a.shards {
        let text = pgmkit::io::read_text(p)?;
        shards.push(
            ImputeShard::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        );
    }
    let Some(dest) = &a.out else {
        anyhow::bail!("imputation shards merge into a CSV: give --out OUT.csv");
    };
    let s0 = &shards[0];
    let model = a.model.clone().unwrap_or_else(|| PathBuf::from(&s0.model));
    let data = a.data.clone().unwrap_or_else(|| PathBuf::from(&s0.data));
    let paths: Vec<PathBuf> = if s0.imputations == 1 {
        vec![dest.clone()]
    } else {
        (1..=s0.imputations)
            .map(|k| super::data_args::numbered(dest, k))
            .collect()
    };
    let mut inputs = vec![("the model", model.as_path()), ("the data", data.as_path())];
    inputs.extend(a.shards.iter().map(|p| ("a shard", p.as_path())));
    let outs: Vec<(&str, &std::path::Path)> =
        paths.iter().map(|p| ("--out", p.as_path())).collect();
    pgmkit::io::outputs::check_outputs(&inputs, &outs)?;
    let loaded = super::args::load(&model, global)?;
    let bn =
        super::args::require_bayes(&loaded, "merge", "the .bif model the shards imputed from")?;
    let fp = pgmkit::shard::fingerprint(&bn.to_factor_graph(), &pgmkit::Evidence::new(0));
    if fp != s0.fingerprint {
        anyhow::bail!(
            "{} is not the model the shards imputed from (fingerprint {fp}, the shards' {})",
            model.display(),
            s0.fingerprint
        );
    }
    let bytes = std::fs::read(&data).map_err(|e| pgmkit::Error::io(&data, e))?;
    if pgmkit::shard::bytes_fingerprint(&bytes) != s0.data_fingerprint {
        anyhow::bail!(
            "{} is not the data the shards imputed (its bytes differ)",
            data.display()
        );
    }
    let context = format!("{:?}", a.csv.options(true));
    if context != s0.context {
        anyhow::bail!(
            "the shards read the CSV with other options than these (give merge the same \
             --missing, --latent and --reject-extra-columns as impute)"
        );
    }
    let table = a.csv.read(&data, bn, true)?;
    let merged = pgmkit::impute::shard::merge(&table.data, &shards).map_err(|e| match &e {
        pgmkit::Error::ShardMismatch { shard, .. } => {
            anyhow::anyhow!("{}: {e}", a.shards[*shard].display())
        }
        _ => e.into(),
    })?;
    let mut staged = pgmkit::io::outputs::Staged::new();
    let vars = bn.vars();
    for (d, p) in merged.completed.iter().zip(&paths) {
        staged.write(p, |w| {
            pgmkit::data::csv::write_completed(
                &table,
                vars,
                |r, v| d.get(r, pgmkit::VarId(v as u32)),
                w,
            )
        })?;
    }
    staged.commit()?;
    if !merged.impossible_rows.is_empty() {
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "warning: {} row(s) have probability zero under the model; their missing cells were left empty",
            merged.impossible_rows.len()
        )?;
    }
    if !global.quiet {
        writeln!(
            out,
            "merged {} imputation shards ({} rows, {} cells per dataset) into {}",
            shards.len(),
            s0.rows,
            merged.cells,
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    Ok(())
}
