//! `pgmkit info MODEL`: what a model is and what exact inference on it would cost.

use std::io::Write;
use std::time::Instant;

use clap::Args;
use pgmkit::infer::exact::{self, PlanStats};
use pgmkit::model::Model;
use serde::Serialize;

use super::args::{self, GlobalArgs, ModelQuery};
use super::output::{self, OrderedMap};

/// Variables are listed one by one up to this many.
const LIST_LIMIT: usize = 50;

/// Arguments of `pgmkit info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub query: ModelQuery,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// The facts `info` reports (also its JSON form; fields print in this order).
#[derive(Debug, Serialize)]
struct Summary {
    model: String,
    format: &'static str,
    kind: &'static str,
    num_variables: usize,
    min_states: usize,
    max_states: usize,
    /// log10 of the number of joint states.
    log10_joint_states: f64,
    num_factors: usize,
    /// Arcs of a Bayesian network (null for a Markov network).
    num_arcs: Option<usize>,
    /// Largest number of parents (Bayesian network only).
    max_parents: Option<usize>,
    /// Largest number of variables in one factor.
    max_factor_arity: usize,
    /// Free parameters of a Bayesian network, table entries of a Markov network.
    parameters: usize,
    parameters_kind: &'static str,
    /// Entries of all CPTs / factor tables.
    table_entries: usize,
    evidence: OrderedMap<String>,
    /// Exact-inference plan over the whole model (null if planning failed; see plan_error).
    plan: Option<PlanStats>,
    plan_error: Option<String>,
    plan_seconds: f64,
    load_seconds: f64,
    /// The variables and their states (only for models with at most 50 variables).
    variables: Option<Vec<VarEntry>>,
}

#[derive(Debug, Serialize)]
struct VarEntry {
    name: String,
    states: Vec<String>,
    observed: Option<String>,
}

pub fn run(global: &GlobalArgs, a: &InfoArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if super::rbm::is_rbm(&a.query.model) {
        return super::rbm::info(&a.query.model, a.json, out);
    }
    if super::gaussian::is_gaussian(&a.query.model) {
        let ev = a.query.evidence.as_deref();
        return super::gaussian::info(global, &a.query.model, ev, a.json, out);
    }
    let loaded = args::load(&a.query.model, global)?;
    let model = &loaded.model;
    let vars = model.vars();
    let ev = args::evidence(a.query.evidence.as_deref(), vars)?;
    let fg = model.to_factor_graph();

    let t = Instant::now();
    let (plan, plan_error) = match exact::plan(&fg, &ev, &a.query.exact_options()) {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let plan_seconds = t.elapsed().as_secs_f64();

    let cards: Vec<usize> = vars.iter().map(|v| v.card()).collect();
    let table_entries: usize = fg.factors().iter().map(|f| f.len()).sum();
    let (num_arcs, max_parents, parameters, parameters_kind) = match model {
        Model::Bayes(bn) => (
            Some(bn.num_edges()),
            Some(bn.cpds().iter().map(|c| c.parents.len()).max().unwrap_or(0)),
            bn.num_free_parameters(),
            "free_parameters",
        ),
        Model::Markov(m) => (None, None, m.num_parameters(), "table_entries"),
    };
    let summary = Summary {
        model: loaded.path.display().to_string(),
        format: args::format_name(loaded.format),
        kind: args::kind_id(model),
        num_variables: vars.len(),
        min_states: cards.iter().copied().min().unwrap_or(0),
        max_states: cards.iter().copied().max().unwrap_or(0),
        log10_joint_states: cards.iter().map(|&c| (c as f64).log10()).sum(),
        num_factors: fg.factors().len(),
        num_arcs,
        max_parents,
        max_factor_arity: fg
            .factors()
            .iter()
            .map(|f| f.scope().len())
            .max()
            .unwrap_or(0),
        parameters,
        parameters_kind,
        table_entries,
        evidence: OrderedMap(args::evidence_pairs(&ev, vars)),
        plan,
        plan_error,
        plan_seconds,
        load_seconds: loaded.load_seconds,
        variables: (vars.len() <= LIST_LIMIT).then(|| {
            vars.iter()
                .enumerate()
                .map(|(i, v)| VarEntry {
                    name: v.name.clone(),
                    states: v.states.clone(),
                    observed: ev.get(i.into()).map(|s| v.states[s].clone()),
                })
                .collect()
        }),
    };

    if a.json {
        return output::write_json(out, &summary);
    }
    write_text(out, &summary, model, global.quiet)
}

fn write_text(out: &mut dyn Write, s: &Summary, model: &Model, quiet: bool) -> anyhow::Result<()> {
    let row = |out: &mut dyn Write, k: &str, v: String| writeln!(out, "{k:<12}{v}");
    row(out, "model", s.model.clone())?;
    row(out, "format", s.format.to_string())?;
    row(out, "kind", args::kind_name(model).to_string())?;
    row(out, "variables", s.num_variables.to_string())?;
    let range = if s.min_states == s.max_states {
        s.max_states.to_string()
    } else {
        format!("{} to {}", s.min_states, s.max_states)
    };
    row(
        out,
        "states",
        format!(
            "{range} per variable (10^{:.2} joint states)",
            s.log10_joint_states
        ),
    )?;
    match (s.num_arcs, s.max_parents) {
        (Some(arcs), Some(mp)) => {
            row(
                out,
                "arcs",
                format!("{arcs} (at most {mp} parents per variable)"),
            )?;
            row(
                out,
                "parameters",
                format!(
                    "{} free ({} CPT entries)",
                    output::count(s.parameters as f64),
                    output::count(s.table_entries as f64)
                ),
            )?;
        }
        _ => {
            let pairwise = if s.max_factor_arity <= 2 {
                ", pairwise"
            } else {
                ""
            };
            row(
                out,
                "factors",
                format!(
                    "{} (up to {} variables each{pairwise})",
                    s.num_factors, s.max_factor_arity
                ),
            )?;
            row(
                out,
                "parameters",
                format!("{} table entries", output::count(s.parameters as f64)),
            )?;
        }
    }
    let ev_text = if s.evidence.0.is_empty() {
        "none".to_string()
    } else {
        s.evidence
            .0
            .iter()
            .map(|(v, st)| format!("{v}={st}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    row(out, "evidence", ev_text)?;
    match (&s.plan, &s.plan_error) {
        (Some(p), _) => {
            row(
                out,
                "exact",
                format!(
                    "elimination width {}, largest clique table {} entries ({}), {} entries in {} cliques (order: {})",
                    p.width,
                    output::count(p.max_clique_entries),
                    output::bytes(p.max_clique_entries * 8.0),
                    output::count(p.total_entries),
                    p.num_cliques,
                    p.heuristic
                ),
            )?;
        }
        (None, Some(e)) => row(out, "exact", format!("not possible: {e}"))?,
        (None, None) => {}
    }
    if !quiet {
        row(
            out,
            "timing",
            format!(
                "load {}, plan {}",
                output::duration(s.load_seconds),
                output::duration(s.plan_seconds)
            ),
        )?;
    }
    match &s.variables {
        Some(list) if !list.is_empty() => {
            writeln!(out, "variables and states:")?;
            let w = super::output::align_width(list.iter().map(|v| v.name.as_str()));
            for v in list {
                let obs = v
                    .observed
                    .as_ref()
                    .map(|o| format!("   [observed: {o}]"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {:<w$}  ({}) {}{obs}",
                    v.name,
                    v.states.len(),
                    v.states.join(", ")
                )?;
            }
        }
        Some(_) => {}
        None if !quiet => writeln!(
            out,
            "({} variables: more than {LIST_LIMIT}, not listed)",
            s.num_variables
        )?,
        None => {}
    }
    Ok(())
}
