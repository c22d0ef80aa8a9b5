//! What `pgmkit` with no arguments runs: a short tour on the ALARM network, which is embedded in
//! the binary, then log Z of a 100x100 Ising spin glass built in code (AIS, mean field, BP, TRW).
//! One function per section; later sections slot in `run`.

mod gaussian;
mod learning;
mod structure;

use std::io::Write;
use std::time::Instant;

use pgmkit::infer::ais::{self, AisOptions};
use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::infer::variational::{BeliefPropagation, Convergence, MeanField, Trw};
use pgmkit::infer::Posterior;
use pgmkit::io::LoadOptions;
use pgmkit::model::{ising_grid, Boundary};
use pgmkit::sample::ancestral::ForwardSampler;
use pgmkit::sample::chains::{run_mcmc, ChainConfig};
use pgmkit::sample::kernel::{Kernel, KernelOptions};
use pgmkit::sample::weighting::likelihood_weighting;
use pgmkit::{BayesNet, Evidence};

use super::args::{self, GlobalArgs};
use super::output;
use super::progress::Bar;
use pgmkit::num;

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

/// Rows drawn by forward sampling in the demo.
const FORWARD_ROWS: usize = 100_000;
/// Weighted samples of the likelihood-weighting estimate.
const LW_SAMPLES: usize = 100_000;
/// Gibbs chains, burn-in sweeps and draws per chain, under the demo's seed.
fn gibbs_config() -> ChainConfig {
    ChainConfig {
        chains: 4,
        warmup: 1_000,
        draws: 10_000,
        seed: SEED,
        ..ChainConfig::default()
    }
}
/// Seed of every sampler in the demo.
const SEED: u64 = 2024;
/// Posteriors compared between Gibbs and exact inference.
const GIBBS_SHOWN: &[(&str, &str)] = &[
    ("HYPOVOLEMIA", "TRUE"),
    ("LVFAILURE", "TRUE"),
    ("CATECHOL", "HIGH"),
    ("CO", "HIGH"),
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
    let (log_pe, prior, post) = exact_section(out, &bn, &ev, &mut timings)?;
    sampling_section(out, &bn, &ev, log_pe, &prior, &post, &mut timings)?;
    imputation_section(out, &bn, &mut timings)?;
    grid_section(global, out, &mut timings)?;
    gaussian::section(out, &mut timings)?;
    learning::section(out, &mut timings)?;
    structure::section(out, &bn, &mut timings)?;
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
        "log Z / log P(evidence) and posterior marginals exactly, by sampling, by annealed importance"
    )?;
    writeln!(
        out,
        "sampling or variationally, and learns models from data. Demo: the ALARM network (embedded in"
    )?;
    writeln!(
        out,
        "the binary), log Z of a 100x100 Ising grid built in code, Gaussian models, and learning an"
    )?;
    writeln!(
        out,
        "Ising grid and an RBM (on embedded handwritten digits)."
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

/// Exact log P(e), prior and posterior marginals.
fn exact_section(
    out: &mut dyn Write,
    bn: &BayesNet,
    ev: &Evidence,
    timings: &mut Timings,
) -> anyhow::Result<(f64, Posterior, Posterior)> {
    heading(out, "Exact inference")?;
    let opts = ExactOptions::default();
    writeln!(out, "evidence: {}", args::evidence_text(ev, bn.vars()))?;
    let est = timings.time("log P(e)", || exact::bn_log_evidence(bn, ev, &opts))?;
    writeln!(
        out,
        "log P(e) = {:.7}   (P(e) = {:.5}, exact)",
        est.log_z,
        num::exp(est.log_z)
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
    // the most probable explanation: one joint state, not the per-variable modes
    let m = timings.time("MPE", || exact::bn_mpe(bn, ev, &opts))?;
    let modes: Vec<usize> = (0..bn.num_vars())
        .map(|i| {
            let p = post.marginal(pgmkit::VarId(i as u32));
            (0..p.len()).fold(0, |b, k| if p[k] > p[b] { k } else { b })
        })
        .collect();
    let differ: Vec<String> = (0..bn.num_vars())
        .filter(|&i| modes[i] != m.assignment[i])
        .map(|i| {
            let v = &bn.vars()[i];
            format!("{}={}", v.name, v.states[m.assignment[i]])
        })
        .collect();
    let shown: Vec<String> = SHOWN
        .iter()
        .filter_map(|&(name, _)| {
            let id = bn.var_id(name).ok()?;
            let v = bn.var(id);
            Some(format!("{name}={}", v.states[m.assignment[id.index()]]))
        })
        .take(5)
        .collect();
    writeln!(
        out,
        "most probable explanation (exact max-product): P(x | e) = {:.4}; {} ...; it differs from the \
         per-variable posterior modes in {} variable(s){}{}",
        num::exp(m.log_value - est.log_z),
        shown.join(", "),
        differ.len(),
        if differ.is_empty() { "" } else { ": " },
        differ.join(", ")
    )?;
    writeln!(
        out,
        "  (CLI: pgmkit map MODEL -e EVIDENCE [--query VARS] [--json]; impute --method map)"
    )?;
    Ok((est.log_z, prior, post))
}

/// Forward sampling, likelihood weighting and Gibbs chains, each checked against the exact
/// numbers.
fn sampling_section(
    out: &mut dyn Write,
    bn: &BayesNet,
    ev: &Evidence,
    log_pe: f64,
    prior: &Posterior,
    post: &Posterior,
    timings: &mut Timings,
) -> anyhow::Result<()> {
    heading(out, "Sampling")?;
    writeln!(
        out,
        "(seed {SEED}; the same seed gives the same numbers for any number of threads)"
    )?;

    // forward sampling
    let sampler = ForwardSampler::new(bn)?;
    let t = Instant::now();
    let rows = timings.time("forward", || sampler.sample_codes(FORWARD_ROWS, SEED))?;
    let secs = t.elapsed().as_secs_f64();
    let draws = (FORWARD_ROWS * bn.num_vars()) as f64;
    writeln!(
        out,
        "forward sampling: {} rows x {} variables in {} ({} variable draws/s)",
        output::count(FORWARD_ROWS as f64),
        bn.num_vars(),
        output::duration(secs),
        output::rate(draws / secs.max(1e-9))
    )?;
    // every state frequency against its exact prior probability, in binomial standard errors
    let counts = rows.counts();
    let nf = FORWARD_ROWS as f64;
    let (mut states, mut worst) = (0usize, (0.0f64, String::new()));
    for (i, var) in bn.vars().iter().enumerate() {
        let p = prior.marginal(pgmkit::VarId::from(i));
        for (s, (&c, &p)) in counts[i].iter().zip(&p).enumerate() {
            if p <= 0.0 || p >= 1.0 {
                continue;
            }
            states += 1;
            let z = (c as f64 / nf - p) / (p * (1.0 - p) / nf).sqrt();
            if z.abs() > worst.0.abs() {
                worst = (z, format!("{}={}", var.name, var.states[s]));
            }
        }
    }
    writeln!(
        out,
        "  the frequencies of all {states} states are within {:.1} std errs of the exact prior \
         (largest: {}, {:+.1}; about 3 is expected for {states} states)",
        worst.0.abs(),
        worst.1,
        worst.0
    )?;

    // likelihood weighting
    let t = Instant::now();
    let lw = timings.time("likelihood weighting", || {
        likelihood_weighting(bn, ev, LW_SAMPLES, SEED)
    })?;
    let secs = t.elapsed().as_secs_f64();
    let est = &lw.log_z;
    let se = est.std_err.unwrap_or(f64::NAN);
    writeln!(
        out,
        "likelihood weighting: {} samples in {}: log P(e) = {:.4} ± {:.4} (exact {:.4}; {:+.1} std errs), ESS {}",
        output::count(LW_SAMPLES as f64),
        output::duration(secs),
        est.log_z,
        se,
        log_pe,
        (est.log_z - log_pe) / se,
        output::count(est.ess.unwrap_or(0.0))
    )?;

    // Gibbs chains under the evidence
    let cfg = gibbs_config();
    let (chains, warmup, draws) = (cfg.chains, cfg.warmup, cfg.draws);
    let fg = bn.to_factor_graph();
    let s = timings.time("Gibbs", || {
        run_mcmc(
            &fg,
            ev,
            Kernel::Gibbs,
            &KernelOptions::default(),
            &cfg,
            None,
        )
    })?;
    writeln!(
        out,
        "Gibbs given the evidence: {chains} chains x {} draws after {} burn-in sweeps: {} updates in {} ({} updates/s;",
        output::count(draws as f64),
        output::count(warmup as f64),
        output::count(s.updates as f64),
        output::duration(s.seconds),
        output::rate(s.updates_per_second())
    )?;
    writeln!(
        out,
        "  MCSE, split-R-hat and ESS of every variable then took {})",
        output::duration(s.diagnostics_seconds)
    )?;
    writeln!(
        out,
        "  {:<18} {:<15}   {:<6}   R-hat",
        "", "Gibbs ± MCSE", "exact"
    )?;
    for &(var, state) in GIBBS_SHOWN {
        let id = bn.var_id(var)?;
        let st = bn.var(id).state_index(state)?;
        let p = s.marginals[id.index()][st];
        let d = s.diagnostics.as_ref();
        let mcse = d.map_or(f64::NAN, |d| d.mcse[id.index()][st]);
        let rhat = d.and_then(|d| d.rhat[id.index()]).unwrap_or(f64::NAN);
        let exact = prob(bn, post, var, state)?;
        let label = format!("{var}={state}");
        writeln!(
            out,
            "  {label:<18} {p:.4} ± {mcse:.4}   {exact:.4}   {rhat:.3}"
        )?;
    }
    Ok(())
}

/// Side of the Ising torus of the log Z section.
const GRID: usize = 100;
/// Couplings J ~ U(-J_MAX, J_MAX) (mixed signs: a spin glass), fields h ~ U(-H_MAX, H_MAX).
const J_MAX: f64 = 0.5;
const H_MAX: f64 = 0.1;
/// AIS settings of the log Z section: particles, steps, sweeps per step (sigmoid schedule:
/// on this grid it gives a smaller standard error per second than the adaptive default, whose
/// pilot run is long on 10 000 spins). About 7 s on 2 cores.
const GRID_AIS: (usize, usize, usize) = (32, 1000, 1);

/// A uniform number in [-1, 1) from a SplitMix64 hash of (stream, index): the couplings and
/// fields of the demo grid, identical on every machine.
fn hash_unit(stream: u64, i: u64) -> f64 {
    let mut z = stream
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(i.wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(0x94D0_49BB_1331_11EB);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// log Z of a 100x100 Ising spin glass on a torus: exact inference is refused (width ~200), and
/// AIS, mean field, BP and TRW give an estimate bracketed by guaranteed bounds.
fn grid_section(
    global: &GlobalArgs,
    out: &mut dyn Write,
    timings: &mut Timings,
) -> anyhow::Result<()> {
    heading(out, "log Z of a grid too large for exact inference")?;
    let n = GRID * GRID;
    let g = ising_grid(
        GRID,
        GRID,
        Boundary::Periodic,
        |i, j| J_MAX * hash_unit(1, (i * n + j) as u64),
        |i| H_MAX * hash_unit(2, i as u64),
    )?;
    let ev = Evidence::new(n);
    writeln!(
        out,
        "Ising spin glass on a {GRID}x{GRID} torus (built in code): {} spins, {} couplings J ~ U(-{J_MAX}, {J_MAX}), fields h ~ U(-{H_MAX}, {H_MAX})",
        output::count(n as f64),
        output::count((g.factors().len() - n) as f64)
    )?;
    // the memory guard refuses exact inference before allocating anything (a min-degree order
    // is planned in a fraction of a second; the full order search would take much longer and
    // still need a table of about 2^200 entries)
    let quick = ExactOptions {
        heuristic: exact::OrderHeuristic::MinDegree,
        ..ExactOptions::default()
    };
    match timings.time("grid: exact refused", || exact::log_z(&g, &ev, &quick)) {
        Err(pgmkit::Error::TooLarge {
            width,
            largest_table,
            limit,
            ..
        }) => writeln!(
            out,
            "exact: refused by the memory guard before allocating anything (min-degree order: width {width}, a table \
             of 2^{:.0} entries;\n  the best orders of an LxL torus have width about 2L = {}, still 2^{} entries; limit {})",
            largest_table.log2(),
            2 * GRID,
            2 * GRID + 1,
            output::bytes(limit)
        )?,
        Err(e) => return Err(e.into()),
        Ok(z) => writeln!(out, "exact: log Z = {:.4}", z.log_z)?,
    }

    let t = Instant::now();
    let mf = timings.time("grid: MF", || MeanField::default().run(&g, &ev))?;
    let mf_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let bp = timings.time("grid: BP", || BeliefPropagation::default().run(&g, &ev))?;
    let bp_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let trw = timings.time("grid: TRW", || Trw::default().run(&g, &ev))?;
    let trw_s = t.elapsed().as_secs_f64();
    let (particles, steps, sweeps) = GRID_AIS;
    let opts = AisOptions {
        particles,
        steps,
        sweeps,
        seed: SEED,
        schedule: pgmkit::infer::ais::Schedule::Sigmoid { delta: 4.0 },
        ..AisOptions::default()
    };
    let bar = Bar::new(
        global,
        (particles * steps * sweeps) as u64,
        &format!("AIS ({particles} particles x {steps} steps)"),
        "sweeps",
    );
    let progress = |k: u64| bar.inc(k);
    let a = timings.time("grid: AIS", || ais::ais(&g, &ev, &opts, Some(&progress)))?;
    bar.finish();
    let sweeps_done = output::count((particles * steps * sweeps) as f64);
    let conv = |c: &Convergence| {
        if c.converged() {
            format!("{} sweeps", c.iters)
        } else {
            format!("{} sweeps, not converged", c.iters)
        }
    };
    let lower = mf.log_z.lower.unwrap_or(f64::NEG_INFINITY);
    let upper = trw.log_z.upper.unwrap_or(f64::INFINITY);
    writeln!(
        out,
        "  {:<42} {:>12}   {:<40} time",
        "method", "log Z", "what it is"
    )?;
    let rows = [
        (
            "mean field".to_string(),
            lower,
            format!("lower bound, guaranteed ({})", conv(&mf.convergence)),
            mf_s,
        ),
        (
            "loopy BP".to_string(),
            bp.log_z.log_z,
            format!("Bethe approximation ({})", conv(&bp.convergence)),
            bp_s,
        ),
        (
            "TRW".to_string(),
            upper,
            format!("upper bound, guaranteed ({})", conv(&trw.convergence)),
            trw_s,
        ),
        (
            format!("AIS ({particles} particles x {steps} sigmoid steps)"),
            a.log_z,
            format!("estimate ± {:.3} std err, ESS {:.1}", a.std_err, a.ess),
            a.seconds,
        ),
    ];
    for (name, v, what, secs) in rows {
        writeln!(
            out,
            "  {name:<42} {v:>12.3}   {what:<40} {}",
            output::duration(secs)
        )?;
    }
    writeln!(
        out,
        "  so {lower:.1} <= log Z <= {upper:.1} for certain, and AIS ({sweeps_done} particle sweeps of {} spins) puts it at {:.2} ± {:.2}{}",
        output::count(n as f64),
        a.log_z,
        a.std_err,
        if a.log_z >= lower && a.log_z <= upper {
            ""
        } else {
            " (outside the bounds: AIS needs more steps)"
        }
    )?;
    writeln!(
        out,
        "  (CLI: pgmkit logz MODEL --method all; --method auto picks exact when it fits, else these)"
    )?;
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
        "Next: `pgmkit --help` (info, logz, marginals, sample, impute, score, kl, eval-impute, learn, convert on your own files)."
    )
}

/// Rows of the imputation demo, and the share of cells hidden.
const IMPUTE_ROWS: usize = 5_000;
const IMPUTE_MASK: f64 = 0.2;

/// Learn ALARM's parameters by EM from forward samples with 20% of the cells hidden, impute the
/// holes, and compare with the true network (all in memory).
fn imputation_section(
    out: &mut dyn Write,
    bn: &BayesNet,
    timings: &mut Timings,
) -> anyhow::Result<()> {
    use pgmkit::data::Dataset;
    use pgmkit::impute::{evaluate, impute, EvalOptions, ImputeMethod, ImputeOptions};
    use pgmkit::learn::{em, EmOptions};
    heading(out, "Learning and imputation with missing data")?;
    let full = Dataset::from_samples(&pgmkit::sample::ancestral::forward_sample(
        bn,
        IMPUTE_ROWS,
        SEED,
    )?);
    let (masked, hidden) = full.mask_mcar(IMPUTE_MASK, SEED)?;
    writeln!(
        out,
        "{IMPUTE_ROWS} forward samples, {} of {} cells hidden at random; EM learns the CPTs from the holey rows",
        hidden.len(),
        IMPUTE_ROWS * bn.num_vars()
    )?;
    let fit = timings.time("EM", || em(bn, &masked, &EmOptions::default(), None))?;
    writeln!(
        out,
        "EM: {} iterations, observed-data log-likelihood {:.2} -> {:.2} (never decreases)",
        fit.convergence.iters, fit.trace[0], fit.log_lik
    )?;
    let draws = timings.time("impute", || {
        impute(
            &fit.model,
            &masked,
            &ImputeOptions {
                method: ImputeMethod::Sample,
                imputations: 5,
                seed: SEED,
                ..ImputeOptions::default()
            },
            None,
        )
    })?;
    let rep = evaluate(
        &fit.model,
        Some(bn),
        &full,
        &masked,
        &EvalOptions::default(),
    )?;
    writeln!(
        out,
        "imputed {} cells x 5 exact joint draws; the per-cell posterior mode is right for {:.1}%",
        draws.cells,
        100.0 * rep.accuracy
    )?;
    writeln!(
        out,
        "of the hidden cells (true network: {:.1}%, column mode: {:.1}%); 90% posterior sets cover {:.1}%",
        100.0 * rep.oracle_accuracy.unwrap_or(f64::NAN),
        100.0 * rep.baseline_accuracy,
        100.0 * rep.exact_set_coverage
    )?;
    Ok(())
}
