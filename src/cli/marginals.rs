//! `pgmkit marginals MODEL`: the posterior marginal of every variable.

use std::io::Write;
use std::time::Instant;

use clap::Args;
use pgmkit::infer::exact;
use pgmkit::infer::Posterior;
use pgmkit::model::Model;
use pgmkit::{Evidence, VarId};
use serde::Serialize;

use super::args::{self, GlobalArgs, Method, ModelQuery};
use super::output::{self, OrderedMap};

/// Arguments of `pgmkit marginals`.
#[derive(Debug, Args)]
pub struct MarginalsArgs {
    #[command(flatten)]
    pub query: ModelQuery,

    /// Inference method
    #[arg(long, short, value_enum, default_value_t = Method::Exact)]
    pub method: Method,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// JSON output of `marginals` (fields print in this order; variables in model order).
#[derive(Debug, Serialize)]
struct MarginalsJson {
    method: &'static str,
    log_z: f64,
    /// Seconds spent in inference (loading not included).
    seconds: f64,
    model: String,
    model_kind: &'static str,
    evidence: OrderedMap<String>,
    marginals: OrderedMap<Marginal>,
}

#[derive(Debug, Serialize)]
struct Marginal {
    states: Vec<String>,
    p: Vec<f64>,
}

/// Run `method` on a loaded model.
pub fn compute(
    method: Method,
    model: &Model,
    ev: &Evidence,
    query: &ModelQuery,
) -> pgmkit::Result<Posterior> {
    let opts = query.exact_options();
    match (method, model) {
        (Method::Exact, Model::Bayes(bn)) => exact::bn_marginals(bn, ev, &opts),
        (Method::Exact, Model::Markov(fg)) => exact::marginals(fg, ev, &opts),
    }
}

pub fn run(global: &GlobalArgs, a: &MarginalsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let loaded = args::load(&a.query.model, global)?;
    let vars = loaded.model.vars();
    let ev = args::evidence(a.query.evidence.as_deref(), vars)?;

    let t = Instant::now();
    let post = compute(a.method, &loaded.model, &ev, &a.query)?;
    let seconds = t.elapsed().as_secs_f64();

    if a.json {
        let marginals = vars
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let m = Marginal {
                    states: v.states.clone(),
                    p: post.marginal(VarId::from(i)),
                };
                (v.name.clone(), m)
            })
            .collect();
        let j = MarginalsJson {
            method: a.method.name(),
            log_z: post.log_z,
            seconds,
            model: loaded.path.display().to_string(),
            model_kind: args::kind_id(&loaded.model),
            evidence: OrderedMap(args::evidence_pairs(&ev, vars)),
            marginals: OrderedMap(marginals),
        };
        return output::write_json(out, &j);
    }

    if !global.quiet {
        let what = match loaded.model {
            Model::Bayes(_) => "log P(e)",
            Model::Markov(_) => "log Z",
        };
        writeln!(out, "model      {}", loaded.path.display())?;
        writeln!(out, "evidence   {}", args::evidence_text(&ev, vars))?;
        writeln!(out, "method     {}", a.method.name())?;
        writeln!(out, "{what:<11}{:.10}", post.log_z)?;
        writeln!(
            out,
            "seconds    {seconds:.6} (inference; load {:.6})",
            loaded.load_seconds
        )?;
        writeln!(out)?;
    }
    for (i, v) in vars.iter().enumerate() {
        let id = VarId::from(i);
        match ev.get(id) {
            Some(s) => writeln!(out, "{}   (observed: {})", v.name, v.states[s])?,
            None => writeln!(out, "{}", v.name)?,
        }
        let p = post.marginal(id);
        let w = v.states.iter().map(|s| s.len()).max().unwrap_or(0);
        for (s, pi) in v.states.iter().zip(&p) {
            writeln!(out, "  {s:<w$}  {pi:.6}")?;
        }
    }
    Ok(())
}
