//! `pgmkit merge SHARD...`: combine the shards of one AIS / reverse AIS / BDMC run (written by
//! `logz --shard-out`) into the result of the whole run, exactly as one process computes it.
//! The work is the library's ([`pgmkit::infer::ais::shard::merge`]).

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
    /// Shard files written by `pgmkit logz --shard-out` (any order)
    #[arg(value_name = "SHARD", required = true)]
    pub shards: Vec<PathBuf>,

    /// Print JSON: the fields of `logz --json` for the whole run, plus `shards` and
    /// `fingerprint`
    #[arg(long)]
    pub json: bool,
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
