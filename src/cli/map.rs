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
    /// The best method for the model (today: exact)
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

    /// Print JSON: assignment (variable -> state), log_value (natural log of the unnormalised
    /// probability at it; for a Bayesian network ln P(x, e)), log10_value, log_probability (ln
    /// P(x | e)), upper_bound, gap, optimal, method, seconds
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &GlobalArgs, a: &MapArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let loaded = args::load(&a.query.model, global)?;
    let vars = loaded.model.vars().to_vec();
    let ev = args::evidence(a.query.evidence.as_deref(), &vars)?;
    let opts = a.query.exact_options();
    let t = Instant::now();
    let (m, log_norm): (Mpe, f64) = match &loaded.model {
        Model::Bayes(bn) => (
            exact::bn_mpe(bn, &ev, &opts)?,
            exact::bn_log_evidence(bn, &ev, &opts)?.log_z,
        ),
        Model::Markov(fg) => (
            exact::mpe(fg, &ev, &opts)?,
            exact::log_z(fg, &ev, &opts)?.log_z,
        ),
    };
    let seconds = t.elapsed().as_secs_f64();
    let free: Vec<usize> = (0..vars.len())
        .filter(|&i| ev.get(pgmkit::VarId(i as u32)).is_none())
        .collect();
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
        push("assignment", serde_json::to_value(&assignment)?);
        push("log_value", super::score::json_f64(m.log_value));
        push("log10_value", super::score::json_f64(log10));
        push(
            "log_probability",
            super::score::json_f64(m.log_value - log_norm),
        );
        push("upper_bound", super::score::json_f64(m.log_value));
        push("gap", 0.0.into());
        push("optimal", true.into());
        push("variables", vars.len().into());
        push("evidence_variables", (vars.len() - free.len()).into());
        push("seconds", seconds.into());
        return output::write_json(out, &j);
    }
    if global.quiet {
        return Ok(());
    }
    writeln!(
        out,
        "most probable explanation of {} unobserved variables (exact max-product, {}):",
        free.len(),
        output::duration(seconds)
    )?;
    writeln!(
        out,
        "  ln value {:.6} (log10 {:.6}); ln P(x | evidence) {:.6}",
        m.log_value,
        log10,
        m.log_value - log_norm
    )?;
    for &i in &free {
        writeln!(
            out,
            "  {} = {}",
            vars[i].name, vars[i].states[m.assignment[i]]
        )?;
    }
    Ok(())
}
