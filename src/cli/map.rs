//! `pgmkit map MODEL [--evidence E]`: the most probable explanation, the joint state of every
//! unobserved variable that maximises the model's (unnormalised) probability given the
//! evidence. The work is the library's ([`pgmkit::infer::exact::mpe`]).

use std::io::Write;
use std::time::Instant;

use clap::{Args, ValueEnum};
use pgmkit::infer::exact::{self, Mpe};
use pgmkit::model::Model;

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
    let loaded = args::load(&a.query.model, global)?;
    let vars = loaded.model.vars().to_vec();
    let ev = args::evidence(a.query.evidence.as_deref(), &vars)?;
    let opts = a.query.exact_options();
    let query: Option<Vec<pgmkit::VarId>> = match a.query_vars.as_deref() {
        None => None,
        Some(text) => {
            let fg = loaded.model.to_factor_graph();
            let ids = text
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| fg.var_id(n))
                .collect::<pgmkit::Result<Vec<_>>>()?;
            if ids.is_empty() {
                anyhow::bail!("--query names no variable");
            }
            Some(ids)
        }
    };
    let approx = match a.method {
        MapMethod::Dual => Some(Approx::Dual),
        MapMethod::Anneal => Some(Approx::Anneal),
        MapMethod::Exact => None,
        MapMethod::Auto => (query.is_none()
            && match exact::plan(&loaded.model.to_factor_graph(), &ev, &opts) {
                Ok(s) => 8.0 * s.max_clique_entries > opts.memory_limit,
                Err(e) => matches!(e, pgmkit::Error::TooLarge { .. }),
            })
        .then_some(Approx::Both),
    };
    if let Some(how) = approx {
        if query.is_some() {
            anyhow::bail!("--query (marginal MAP) is exact only: use --method exact");
        }
        return approximate(global, a, how, &loaded.model, &vars, &ev, out);
    }
    let t = Instant::now();
    let (m, log_norm): (Mpe, Option<f64>) = match (&loaded.model, &query) {
        (Model::Bayes(bn), Some(q)) => (
            exact::marginal_map(&bn.to_factor_graph(), &ev, q, &opts)?,
            Some(exact::bn_log_evidence(bn, &ev, &opts)?.log_z),
        ),
        (Model::Markov(fg), Some(q)) => (
            exact::marginal_map(fg, &ev, q, &opts)?,
            if a.probability {
                Some(exact::log_z(fg, &ev, &opts)?.log_z)
            } else {
                None
            },
        ),
        (Model::Bayes(bn), None) => (
            exact::bn_mpe(bn, &ev, &opts)?,
            Some(exact::bn_log_evidence(bn, &ev, &opts)?.log_z),
        ),
        (Model::Markov(fg), None) => (
            exact::mpe(fg, &ev, &opts)?,
            if a.probability {
                Some(exact::log_z(fg, &ev, &opts)?.log_z)
            } else {
                None
            },
        ),
    };
    let seconds = t.elapsed().as_secs_f64();
    let free: Vec<usize> = match &query {
        Some(q) => q.iter().map(|v| v.index()).collect(),
        None => (0..vars.len())
            .filter(|&i| ev.get(pgmkit::VarId(i as u32)).is_none())
            .collect(),
    };
    let log10 = m.log_value / std::f64::consts::LN_10;
    if a.json {
        let mut assignment: OrderedMap<String> = OrderedMap(Vec::new());
        for &i in &free {
            assignment.0.push((
                vars[i].name.clone(),
                vars[i].states[m.assignment[i]].clone(),
            ));
        }
        let mut j: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        let mut push = |k: &str, v: serde_json::Value| j.0.push((k.to_string(), v));
        push("model", a.query.model.display().to_string().into());
        push("method", "exact".into());
        push(
            "kind",
            if query.is_some() {
                "marginal_map"
            } else {
                "mpe"
            }
            .into(),
        );
        push("assignment", serde_json::to_value(&assignment)?);
        push("log_value", super::score::json_f64(m.log_value));
        push("log10_value", super::score::json_f64(log10));
        push(
            "log_probability",
            log_norm.map_or(serde_json::Value::Null, |z| {
                super::score::json_f64(m.log_value - z)
            }),
        );
        push(
            "upper_bound",
            super::score::json_f64(m.log_max.max(m.log_value)),
        );
        push(
            "gap",
            super::score::json_f64((m.log_max - m.log_value).max(0.0)),
        );
        push("optimal", true.into());
        push("proof", serde_json::to_value(m.proof)?);
        push("variables", vars.len().into());
        push("evidence_variables", ev.iter().count().into());
        push("seconds", seconds.into());
        return output::write_json(out, &j);
    }
    if global.quiet {
        return Ok(());
    }
    if query.is_some() {
        writeln!(
            out,
            "marginal MAP of {} query variables, the other unobserved ones summed out (exact, {}):",
            free.len(),
            output::duration(seconds)
        )?;
    } else {
        writeln!(
            out,
            "most probable explanation of {} unobserved variables (exact max-product, {}):",
            free.len(),
            output::duration(seconds)
        )?;
    }
    match log_norm {
        Some(z) => writeln!(
            out,
            "  ln value {:.6} (log10 {:.6}); ln P(assignment | evidence) {:.6}",
            m.log_value,
            log10,
            m.log_value - z
        )?,
        None => writeln!(
            out,
            "  ln value {:.6} (log10 {:.6}) (--probability adds ln P(assignment | evidence))",
            m.log_value, log10
        )?,
    }
    for &i in &free {
        writeln!(
            out,
            "  {} = {}",
            vars[i].name, vars[i].states[m.assignment[i]]
        )?;
    }
    Ok(())
}

/// The methods beyond exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Approx {
    Dual,
    Anneal,
    /// dual, then anneal from its assignment under its bound
    Both,
}

/// `map --method dual|anneal` (or `auto` on a model too wide for the junction tree).
fn approximate(
    global: &GlobalArgs,
    a: &MapArgs,
    how: Approx,
    model: &Model,
    vars: &[pgmkit::Variable],
    ev: &pgmkit::Evidence,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    use pgmkit::infer::map::{map_anneal, map_dual, AnnealOptions, DualOptions};
    let t0 = Instant::now();
    let deadline = super::command_deadline(a.time_limit.map(std::time::Duration::from_secs_f64));
    let fg = model.to_factor_graph();
    let dual_opts = |deadline| DualOptions {
        max_sweeps: a.max_sweeps,
        deadline,
        ..Default::default()
    };
    let anneal_opts = |deadline| AnnealOptions {
        chains: a.chains as usize,
        sweeps: a.anneal_sweeps as usize,
        seed: a.seed,
        deadline,
        ..Default::default()
    };
    let (mut r, method) = match how {
        Approx::Dual => (map_dual(&fg, ev, &dual_opts(deadline))?, "dual"),
        Approx::Anneal => (
            map_anneal(&fg, ev, None, None, &anneal_opts(deadline))?,
            "anneal",
        ),
        Approx::Both => {
            let d = map_dual(&fg, ev, &dual_opts(deadline.share(0.5)))?;
            if d.optimal {
                (d, "dual")
            } else {
                let s = map_anneal(
                    &fg,
                    ev,
                    Some(&d.assignment),
                    Some(d.upper_bound),
                    &anneal_opts(deadline),
                )?;
                (
                    pgmkit::infer::map::MapResult {
                        sweeps: d.sweeps,
                        time_limited: d.time_limited || s.time_limited,
                        ..s
                    },
                    "dual+anneal",
                )
            }
        }
    };
    r.seconds = t0.elapsed().as_secs_f64();
    let free: Vec<usize> = (0..vars.len())
        .filter(|&i| ev.get(pgmkit::VarId(i as u32)).is_none())
        .collect();
    let ln10 = std::f64::consts::LN_10;
    if a.json {
        let mut assignment: OrderedMap<String> = OrderedMap(Vec::new());
        for &i in &free {
            assignment.0.push((
                vars[i].name.clone(),
                vars[i].states[r.assignment[i]].clone(),
            ));
        }
        let mut j: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        let mut push = |k: &str, v: serde_json::Value| j.0.push((k.to_string(), v));
        push("model", a.query.model.display().to_string().into());
        push("method", method.into());
        push("kind", "mpe".into());
        push("assignment", serde_json::to_value(&assignment)?);
        push("log_value", super::score::json_f64(r.log_value));
        push("log10_value", super::score::json_f64(r.log_value / ln10));
        let finite = |x: f64| {
            if x.is_finite() {
                super::score::json_f64(x)
            } else {
                serde_json::Value::Null
            }
        };
        push("upper_bound", finite(r.upper_bound));
        push("log10_upper_bound", finite(r.upper_bound / ln10));
        push("gap", finite(r.gap));
        push("optimal", r.optimal.into());
        push("sweeps", r.sweeps.into());
        push("time_limited", r.time_limited.into());
        push("variables", vars.len().into());
        push("evidence_variables", ev.iter().count().into());
        push("seconds", r.seconds.into());
        return output::write_json(out, &j);
    }
    if global.quiet {
        return Ok(());
    }
    let what = match method {
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
