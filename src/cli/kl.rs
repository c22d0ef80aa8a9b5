//! `pgmkit kl P Q`: KL(P || Q) between two Bayesian networks over the same variables (matched
//! by name, states by name): exact by variable elimination over P when it fits, else Monte Carlo
//! over forward samples of P with a standard error.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use pgmkit::score::{kl_divergence, KlMethod};

use super::args::{self, GlobalArgs};
use super::output::{self, OrderedMap};
use super::score::json_f64;

/// How KL is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KlMethodArg {
    /// Exact when every elimination table fits in 2^24 entries, else Monte Carlo
    Auto,
    /// Exact only (fails when too large)
    Exact,
    /// Monte Carlo over --samples forward samples of P
    Mc,
}

/// Arguments of `pgmkit kl`.
#[derive(Debug, Args)]
pub struct KlArgs {
    /// The first network, P (the expectation is under P)
    #[arg(value_name = "MODEL_P")]
    pub p: PathBuf,
    /// The second network, Q
    #[arg(value_name = "MODEL_Q")]
    pub q: PathBuf,
    /// Method
    #[arg(long, short, value_enum, default_value = "auto")]
    pub method: KlMethodArg,
    /// Monte Carlo: forward samples of P
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub samples: usize,
    /// Monte Carlo: seed
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &GlobalArgs, a: &KlArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let lp = args::load(&a.p, global)?;
    let lq = args::load(&a.q, global)?;
    let p = args::require_bayes(&lp, "kl", "two .bif models")?;
    let q = args::require_bayes(&lq, "kl", "two .bif models")?;
    let (samples, seed) = (a.samples, a.seed);
    let method = match a.method {
        KlMethodArg::Auto => KlMethod::Auto { samples, seed },
        KlMethodArg::Exact => KlMethod::Exact,
        KlMethodArg::Mc => KlMethod::MonteCarlo { samples, seed },
    };
    let t = Instant::now();
    let k = kl_divergence(p, q, method, 1 << 24).map_err(|e| match e {
        pgmkit::Error::UnknownVariable(v) => anyhow::anyhow!(
            "variable '{v}' of {} is not in {} (KL needs two networks over the same variables \
             and states)",
            a.p.display(),
            a.q.display()
        ),
        e => e.into(),
    })?;
    if k.kl.is_infinite() {
        let why = pgmkit::score::kl_infinite_witness(p, q, 100_000, seed)?
            .unwrap_or_else(|| "Q gives probability zero to a state that P can produce".into());
        anyhow::bail!(
            "KL(P || Q) is infinite: {why}; learn Q with a prior (e.g. --prior-count 1) so that \
             no CPT entry is exactly zero"
        );
    }
    let secs = t.elapsed().as_secs_f64();
    if a.json {
        let mut m: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        m.0.push(("kl".into(), json_f64(k.kl)));
        m.0.push(("kl_bits".into(), json_f64(k.kl / std::f64::consts::LN_2)));
        m.0.push((
            "std_err".into(),
            k.std_err.map_or(serde_json::Value::Null, json_f64),
        ));
        m.0.push((
            "kind".into(),
            if k.exact { "exact" } else { "monte_carlo" }.into(),
        ));
        m.0.push(("samples".into(), k.samples.into()));
        m.0.push(("seconds".into(), secs.into()));
        return output::write_json(out, &m);
    }
    match k.std_err {
        None => writeln!(out, "KL(P || Q) = {:.12} nats (exact)", k.kl)?,
        Some(se) => writeln!(
            out,
            "KL(P || Q) = {:.6} +- {:.6} nats (Monte Carlo, {} samples of P, standard error)",
            k.kl, se, k.samples
        )?,
    }
    if !global.quiet {
        writeln!(out, "time: {}", output::duration(secs))?;
    }
    Ok(())
}
