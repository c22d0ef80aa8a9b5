//! What `pgmkit` with no arguments runs: a short tour on the ALARM network, which is embedded in
//! the binary. One function per section; later sections (sampling, AIS, ...) slot in `run`.

use std::io::Write;
use std::time::Instant;

use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::infer::Posterior;
use pgmkit::io::LoadOptions;
use pgmkit::{BayesNet, Evidence};

use super::args::{self, GlobalArgs};
use super::output;

/// The ALARM monitoring network (bnlearn repository; see tests/data/bif/SOURCES.md).
const ALARM_BIF: &str = include_str!("../../tests/data/bif/alarm.bif");

/// Evidence of the demo: high blood pressure and high heart rate on two monitors.
const EVIDENCE: &str = "BP=HIGH,HRBP=HIGH,HREKG=HIGH";

/// Posteriors shown: (variable, state).
const SHOWN: &[(&str, &str)] = &[
    ("HYPOVOLEMIA", "TRUE"),
    ("LVFAILURE", "TRUE"),
    ("ANAPHYLAXIS", "TRUE"),
    ("INSUFFANESTH", "TRUE"),
    ("CATECHOL", "HIGH"),
    ("HR", "HIGH"),
    ("CO", "HIGH"),
    ("CVP", "HIGH"),
    ("SHUNT", "HIGH"),
];

/// Wall-clock times of the steps, printed at the end.
#[derive(Default)]
struct Timings(Vec<(&'static str, f64)>);

impl Timings {
    fn time<T>(&mut self, what: &'static str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        self.0.push((what, t.elapsed().as_secs_f64()));
        r
    }
}

pub fn run(global: &GlobalArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut timings = Timings::default();
    intro(out)?;
    let bn = model_section(global, out, &mut timings)?;
    let ev = bn.evidence(EVIDENCE)?;
    exact_section(out, &bn, &ev, &mut timings)?;
    footer(out, &timings)?;
    Ok(())
}

fn heading(out: &mut dyn Write, title: &str) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "== {title} ==")
}

fn intro(out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "pgmkit {}: a probabilistic graphical model engine in Rust (library + this CLI).",
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(
        out,
        "It loads or builds Bayesian networks and Markov networks (BIF, UAI, libDAI .fg) and computes"
    )?;
    writeln!(
        out,
        "log Z / log P(evidence) and posterior marginals. Demo: the ALARM network, embedded in the binary."
    )
}

fn model_section(
    global: &GlobalArgs,
    out: &mut dyn Write,
    timings: &mut Timings,
) -> anyhow::Result<BayesNet> {
    heading(out, "Model")?;
    let opts = LoadOptions {
        renormalize: global.renormalize,
        ..LoadOptions::default()
    };
    let bn = timings.time("parse", || pgmkit::io::bif::parse_bif(ALARM_BIF, &opts))?;
    let cards: Vec<usize> = bn.vars().iter().map(|v| v.card()).collect();
    writeln!(
        out,
        "ALARM (patient monitoring): Bayesian network, {} variables ({}-{} states), {} arcs, {} free parameters",
        bn.num_vars(),
        cards.iter().min().unwrap_or(&0),
        cards.iter().max().unwrap_or(&0),
        bn.num_edges(),
        bn.num_free_parameters()
    )?;
    let fg = bn.to_factor_graph();
    let plan = timings.time("plan", || {
        exact::plan(&fg, &Evidence::new(bn.num_vars()), &ExactOptions::default())
    })?;
    writeln!(
        out,
        "junction tree: width {} ({} cliques, largest table {} entries, {} entries in all)",
        plan.width,
        plan.num_cliques,
        output::count(plan.max_clique_entries),
        output::count(plan.total_entries)
    )?;
    Ok(bn)
}

fn exact_section(
    out: &mut dyn Write,
    bn: &BayesNet,
    ev: &Evidence,
    timings: &mut Timings,
) -> anyhow::Result<()> {
    heading(out, "Exact inference")?;
    let opts = ExactOptions::default();
    writeln!(out, "evidence: {}", args::evidence_text(ev, bn.vars()))?;
    let est = timings.time("log P(e)", || exact::bn_log_evidence(bn, ev, &opts))?;
    writeln!(
        out,
        "log P(e) = {:.7}   (P(e) = {:.5}, exact)",
        est.log_z,
        est.log_z.exp()
    )?;
    let prior = timings.time("prior marginals", || {
        exact::bn_marginals(bn, &Evidence::new(bn.num_vars()), &opts)
    })?;
    let post = timings.time("posterior marginals", || exact::bn_marginals(bn, ev, &opts))?;
    writeln!(out, "posteriors (prior -> given the evidence):")?;
    for &(var, state) in SHOWN {
        let (p0, p1) = (prob(bn, &prior, var, state)?, prob(bn, &post, var, state)?);
        let label = format!("{var}={state}");
        writeln!(out, "  {label:<18} {p0:.4} -> {p1:.4}")?;
    }
    Ok(())
}

/// P(var = state) from a posterior.
fn prob(bn: &BayesNet, post: &Posterior, var: &str, state: &str) -> pgmkit::Result<f64> {
    let id = bn.var_id(var)?;
    let s = bn.var(id).state_index(state)?;
    Ok(post.marginal(id)[s])
}

fn footer(out: &mut dyn Write, timings: &Timings) -> std::io::Result<()> {
    heading(out, "Timings")?;
    let parts: Vec<String> = timings
        .0
        .iter()
        .map(|(what, s)| format!("{what} {}", output::duration(*s)))
        .collect();
    writeln!(
        out,
        "{}  ({} threads)",
        parts.join(", "),
        rayon::current_num_threads()
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Next: `pgmkit --help` (info, logz, marginals, convert on your own .bif / .uai / .fg files)."
    )
}
