//! `pgmkit map MODEL [--evidence E]`: the most probable explanation, the joint state of every
//! unobserved variable that maximises the model's (unnormalised) probability given the
//! evidence. The work is the library's ([`pgmkit::infer::map::map`]).

use clap::{Args, ValueEnum};
use std::io::Write;

use super::args::{self, GlobalArgs, ModelQuery};
use super::output::{self, OrderedMap};

/// `map --method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MapMethod {
    /// Exact max-product on the junction tree (the memory guard of exact inference applies)
    Exact,
    /// Any size: an upper bound from the dual of the LP relaxation (MPLP) and the best
    /// assignment decoded from it plus iterated conditional modes, with the gap between them
    Dual,
    /// Any size: simulated annealing with the MCMC kernels (parallel chains, one stream per
    /// chain and --seed), then iterated conditional modes; no bound
    Anneal,
    /// Exact when the junction tree fits in --memory-limit, else dual for the bound followed by
    /// anneal from the dual's assignment (half the time limit each when one is given)
    Auto,
}

/// Arguments of `pgmkit map`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    pgmkit map tests/data/bif/alarm.bif -e BP=HIGH,HRBP=HIGH --json\n  \
    pgmkit map tests/data/uai/Promedus_26.uai -e tests/data/uai/Promedus_26.uai.evid")]
pub struct MapArgs {
    #[command(flatten)]
    pub query: ModelQuery,

    /// How to find it
    #[arg(long, short, value_enum, default_value_t = MapMethod::Auto)]
    pub method: MapMethod,

    /// Marginal MAP: maximise over these variables only (comma-separated), summing over the
    /// other unobserved ones; exact, one sum-product pass per configuration of the query
    #[arg(long = "query", value_name = "VARS")]
    pub query_vars: Option<String>,

    /// Also compute ln P(x | e) for a Markov network (one more exact pass for its log Z; a
    /// Bayesian network always gets it, from ln P(e))
    #[arg(long)]
    pub probability: bool,

    /// dual: wall-clock budget in seconds for the whole command
    #[arg(long, value_name = "SECONDS", value_parser = super::args::parse_seconds)]
    pub time_limit: Option<f64>,

    /// dual: most sweeps of the dual updates
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_sweeps: usize,

    /// anneal: parallel chains per round
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub chains: u64,

    /// anneal: kernel sweeps of one anneal (later rounds under --time-limit double it)
    #[arg(long, value_name = "N", default_value_t = 400,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub anneal_sweeps: u64,

    /// anneal: seed of the chains (same seed, same answer, whatever the threads)
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Print JSON: assignment (variable -> state), log_value (natural log of the unnormalised
    /// probability at it; for a Bayesian network ln P(x, e)), log10_value, log_probability (ln
    /// P(x | e); null for a Markov network without --probability), upper_bound, gap, optimal,
    /// method, seconds
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &GlobalArgs, a: &MapArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    use pgmkit::infer::map::{self, AnnealOptions, DualOptions, MapKind, MapOptions};
    let loaded = args::load(&a.query.model, global)?;
    let vars = loaded.model.vars().to_vec();
    let ev = args::evidence(a.query.evidence.as_deref(), &vars)?;
    let query: Option<Vec<pgmkit::VarId>> = match a.query_vars.as_deref() {
        None => None,
        Some(text) => {
            let ids = text
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| loaded.model.var_id(n))
                .collect::<pgmkit::Result<Vec<_>>>()?;
            if ids.is_empty() {
                anyhow::bail!("--query names no variable");
            }
            Some(ids)
        }
    };
    let opts = MapOptions {
        exact: a.query.exact_options(),
        dual: DualOptions {
            max_sweeps: a.max_sweeps,
            ..Default::default()
        },
        anneal: AnnealOptions {
            chains: a.chains as usize,
            sweeps: a.anneal_sweeps as usize,
            seed: a.seed,
            ..Default::default()
        },
        query,
        probability: a.probability,
        deadline: super::command_deadline(a.time_limit.map(std::time::Duration::from_secs_f64)),
    };
    let method = match a.method {
        MapMethod::Exact => map::MapMethod::Exact,
        MapMethod::Dual => map::MapMethod::Dual,
        MapMethod::Anneal => map::MapMethod::Anneal,
        MapMethod::Auto => map::MapMethod::Auto,
    };
    let r = map::map(&loaded.model, &ev, method, &opts)?;
    let ln10 = std::f64::consts::LN_10;
    let finite = |x: f64| {
        if x.is_finite() {
            super::score::json_f64(x)
        } else {
            serde_json::Value::Null
        }
    };
    if a.json {
        let mut assignment: OrderedMap<String> = OrderedMap(Vec::new());
        for v in &r.free {
            let i = v.index();
            assignment.0.push((
                vars[i].name.clone(),
                vars[i].states[r.assignment[i]].clone(),
            ));
        }
        let mut j: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        let mut push = |k: &str, v: serde_json::Value| j.0.push((k.to_string(), v));
        push("model", a.query.model.display().to_string().into());
        push("method", r.method.into());
        push("kind", serde_json::to_value(r.kind)?);
        push("assignment", serde_json::to_value(&assignment)?);
        push("log_value", super::score::json_f64(r.log_value));
        push("log10_value", super::score::json_f64(r.log_value / ln10));
        push(
            "log_probability",
            r.log_probability
                .map_or(serde_json::Value::Null, super::score::json_f64),
        );
        push("upper_bound", finite(r.upper_bound));
        push("log10_upper_bound", finite(r.upper_bound / ln10));
        push("gap", finite(r.gap));
        push("optimal", r.optimal.into());
        match r.proof {
            Some(p) => push("proof", serde_json::to_value(p)?),
            None => {
                push("sweeps", r.sweeps.into());
                push("time_limited", r.time_limited.into());
            }
        }
        push("variables", vars.len().into());
        push("evidence_variables", ev.iter().count().into());
        push("seconds", r.seconds.into());
        return output::write_json(out, &j);
    }
    if global.quiet {
        return Ok(());
    }
    let free: Vec<usize> = r.free.iter().map(|v| v.index()).collect();
    if r.method == "exact" {
        if r.kind == MapKind::MarginalMap {
            writeln!(
                out,
                "marginal MAP of {} query variables, the other unobserved ones summed out (exact, {}):",
                free.len(),
                output::duration(r.seconds)
            )?;
        } else {
            writeln!(
                out,
                "most probable explanation of {} unobserved variables (exact max-product, {}):",
                free.len(),
                output::duration(r.seconds)
            )?;
        }
        match r.log_probability {
            Some(lp) => writeln!(
                out,
                "  ln value {:.6} (log10 {:.6}); ln P(assignment | evidence) {:.6}",
                r.log_value,
                r.log_value / ln10,
                lp
            )?,
            None => writeln!(
                out,
                "  ln value {:.6} (log10 {:.6}) (--probability adds ln P(assignment | evidence))",
                r.log_value,
                r.log_value / ln10
            )?,
        }
        for &i in &free {
            writeln!(
                out,
                "  {} = {}",
                vars[i].name, vars[i].states[r.assignment[i]]
            )?;
        }
        return Ok(());
    }
    let what = match r.method {
        "anneal" => format!("simulated annealing ({} chains) + ICM", a.chains),
        "dual" => format!("the LP dual (MPLP, {} sweeps) and decoding + ICM", r.sweeps),
        _ => format!(
            "the LP dual (MPLP, {} sweeps), then simulated annealing ({} chains) + ICM",
            r.sweeps, a.chains
        ),
    };
    writeln!(
        out,
        "MAP by {what}{}, {}:",
        if r.time_limited {
            ", time limit reached"
        } else {
            ""
        },
        output::duration(r.seconds)
    )?;
    if r.upper_bound.is_finite() {
        writeln!(
            out,
            "  ln value {:.6} (log10 {:.6}); upper bound {:.6}; gap {:.6} nats{}",
            r.log_value,
            r.log_value / ln10,
            r.upper_bound,
            r.gap,
            if r.optimal { " (optimal)" } else { "" }
        )?;
    } else {
        writeln!(
            out,
            "  ln value {:.6} (log10 {:.6}); no bound (--method dual or auto gives one)",
            r.log_value,
            r.log_value / ln10
        )?;
    }
    for &i in free.iter().take(50) {
        writeln!(
            out,
            "  {} = {}",
            vars[i].name, vars[i].states[r.assignment[i]]
        )?;
    }
    if free.len() > 50 {
        writeln!(out, "  ... ({} more; --json lists all)", free.len() - 50)?;
    }
    Ok(())
}
