//! `pgmkit marginals MODEL`: the posterior marginal of every variable.

use std::io::Write;
use std::time::Instant;

use clap::Args;
use pgmkit::infer::logz::Phase;
use pgmkit::infer::marginals::{marginals, MarginalsMethod as Lib, MarginalsOptions};
use pgmkit::model::Model;
use pgmkit::{Evidence, VarId};
use serde::Serialize;

use super::approx::{self, kind_text, IterArgs, Row};
use super::args::{self, GlobalArgs, MarginalsMethod, McmcArgs, Method, ModelQuery, RunArgs};
use super::output::{self, OrderedMap};
use pgmkit::infer::{BoundKind, EstimateKind};

/// Above this split-R-hat the text output warns that the chains have not mixed.
const RHAT_WARN: f64 = 1.01;

/// Arguments of `pgmkit marginals`.
#[derive(Debug, Args)]
pub struct MarginalsArgs {
    #[command(flatten)]
    pub query: ModelQuery,

    /// Inference method (exact; lw for a Bayesian network; gibbs or mh for any model; mf, bp or
    /// trw: variational marginals, with their log Z bound or approximation)
    #[arg(long, short, value_enum, default_value_t = MarginalsMethod::Exact)]
    pub method: MarginalsMethod,

    /// lw: number of weighted samples [default: 10000]; gibbs/mh: draws kept per chain (after
    /// burn-in and thinning) [default: 1000]
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,

    #[command(flatten)]
    pub mcmc: McmcArgs,

    #[command(flatten)]
    pub iter: IterArgs,

    #[command(flatten)]
    pub run: RunArgs,

    /// MCMC methods: draw the run as SVG (every chain's running mean for the four variables of
    /// highest split-R-hat, and the R-hat of every variable), written atomically
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<std::path::PathBuf>,

    /// MCMC methods: run only the chains A..B (0-based, B excluded) of the --chains run, as a
    /// shard for `pgmkit merge` (needs --shard-out; no --time-limit). Chain c draws from its own
    /// stream (seed, c), so the shards of a run merge into exactly the one-process marginals,
    /// MCSE, R-hat and ESS
    #[arg(long, value_name = "A..B", value_parser = args::parse_range)]
    pub chain_range: Option<std::ops::Range<usize>>,

    /// MCMC methods: write the run (or its --chain-range) as a shard file (JSON: every chain's
    /// counts and draws, the options, the model's path and a fingerprint of the model and
    /// evidence) for `pgmkit merge`, atomically
    #[arg(long, value_name = "FILE.json")]
    pub shard_out: Option<std::path::PathBuf>,
}

impl MarginalsArgs {
    /// The method asked for.
    pub fn method(&self) -> Method {
        self.method.into()
    }
}

/// JSON output of `marginals` (fields print in this order; variables in model order). Fields
/// that do not apply to the method are null. Timings are the fields whose names end in
/// `seconds`; everything else is identical for the same seed whatever the number of threads.
#[derive(Debug, Serialize)]
struct MarginalsJson {
    method: &'static str,
    /// ln Z / ln P(e): exact, or the likelihood-weighting estimate; null for MCMC.
    log_z: Option<f64>,
    /// Standard error of a stochastic `log_z` (lw).
    log_z_std_err: Option<f64>,
    /// What `log_z` is: exact, stochastic (lw), lower_bound (mf), approximate (bp),
    /// upper_bound (trw); null for MCMC.
    log_z_kind: Option<EstimateKind>,
    /// Bounds on ln Z: both equal to log_z for exact, lower for mf, upper for trw.
    lower: Option<f64>,
    upper: Option<f64>,
    /// exact, deterministic (mf, trw) or null.
    bound_kind: Option<BoundKind>,
    /// mf/bp/trw: sweeps done, and whether the tolerance was met.
    iterations: Option<usize>,
    converged: Option<bool>,
    /// Seconds spent in inference (loading not included).
    seconds: f64,
    model: String,
    model_kind: &'static str,
    evidence: OrderedMap<String>,
    /// Samples behind the estimates: weighted samples (lw), or draws over all chains (MCMC).
    samples: Option<usize>,
    chains: Option<usize>,
    draws_per_chain: Option<usize>,
    burn_in: Option<usize>,
    thin: Option<usize>,
    seed: Option<u64>,
    /// MCMC: accepted proposals (mh) or state changes (gibbs) per update after burn-in.
    acceptance_rate: Option<f64>,
    /// MCMC: single-site updates over all chains, burn-in included.
    updates: Option<u64>,
    /// MCMC: largest split-R-hat over the variables (an infinite R-hat is written as
    /// 1.7976931348623157e308, see [`json_diag`]).
    max_rhat: Option<f64>,
    /// MCMC: smallest ESS over the variables; lw: Kish's ESS of the weights.
    min_ess: Option<f64>,
    /// MCMC with --time-limit: true when the budget stopped the chains early
    /// (`draws_per_chain` is then what the shortest chain made).
    #[serde(skip_serializing_if = "Option::is_none")]
    time_limited: Option<bool>,
    marginals: OrderedMap<Marginal>,
}

#[derive(Debug, Serialize)]
struct Marginal {
    states: Vec<String>,
    p: Vec<f64>,
    /// Monte Carlo standard error of every entry of `p` (null for exact).
    mcse: Option<Vec<f64>>,
    /// Split-R-hat (MCMC; null for observed variables and variables that never changed).
    rhat: Option<f64>,
    /// Effective sample size (MCMC: split ESS; lw: Kish's ESS of the weights; null for observed
    /// variables).
    ess: Option<f64>,
}

/// Settings of a sampling run, for the output.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub samples: usize,
    pub chains: Option<usize>,
    pub draws_per_chain: Option<usize>,
    pub burn_in: Option<usize>,
    pub thin: Option<usize>,
    pub seed: u64,
    pub acceptance_rate: Option<f64>,
    pub updates: Option<u64>,
    pub max_rhat: Option<f64>,
    pub min_ess: Option<f64>,
    pub time_limited: Option<bool>,
}

/// Marginals from any method, with what is known of their accuracy.
#[derive(Debug, Clone)]
pub struct Estimate {
    /// `marginals[v][s] = P(X_v = s | evidence)`.
    pub marginals: Vec<Vec<f64>>,
    /// ln Z / ln P(e) when the method gives it.
    pub log_z: Option<f64>,
    /// Standard error of a stochastic `log_z`.
    pub log_z_std_err: Option<f64>,
    /// The log Z row of the method (exact, lw, mf, bp, trw), for its kind and bounds.
    pub log_z_row: Option<Row>,
    /// Monte Carlo standard errors, per variable and state (sampling methods).
    pub mcse: Option<Vec<Vec<f64>>>,
    /// Split-R-hat per variable (MCMC).
    pub rhat: Option<Vec<Option<f64>>>,
    /// Effective sample size per variable (sampling methods).
    pub ess: Option<Vec<Option<f64>>>,
    /// The sampling run (sampling methods).
    pub run: Option<RunInfo>,
}

/// The library's options of the arguments for `method`.
fn options(a: &MarginalsArgs, method: Lib) -> anyhow::Result<MarginalsOptions> {
    let lw_samples = args::DEFAULT_LW_SAMPLES;
    let mut opts = MarginalsOptions {
        exact: a.query.exact_options(),
        lw_samples: args::at_least_one("--samples", a.samples.unwrap_or(lw_samples))?,
        seed: a.run.seed,
        ..MarginalsOptions::default()
    };
    if let Lib::Mcmc(kernel) = method {
        let chains = a.mcmc.num_chains()?;
        let draws = args::at_least_one("--samples", a.samples.unwrap_or(1000))?;
        opts.chains = a.mcmc.config(chains, draws, a.run.seed)?;
        opts.chains.time_limit = super::command_deadline(a.iter.time_limit()).remaining();
        opts.kernel = a.mcmc.kernel_options(kernel)?;
    }
    if variational(method) {
        opts.stop = a.iter.stop_rule()?;
    }
    Ok(opts)
}

/// A diagnostic for JSON: JSON has no infinity, so an infinite value (an R-hat of chains stuck in
/// different states) is written as the largest double, `1.7976931348623157e308`, which compares
/// correctly against any threshold; NaN becomes null.
fn json_diag(x: Option<f64>) -> Option<f64> {
    match x {
        Some(v) if v.is_nan() => None,
        Some(v) if v == f64::INFINITY => Some(f64::MAX),
        other => other,
    }
}

/// Run the method of `a` on a loaded model.
pub fn compute(
    global: &GlobalArgs,
    a: &MarginalsArgs,
    loaded: &args::Loaded,
    ev: &Evidence,
) -> anyhow::Result<Estimate> {
    if a.method().kernel().is_none() {
        a.mcmc.only_for_mcmc(a.method().name())?;
    }
    if !matches!(
        a.method(),
        Method::Lw | Method::Gibbs | Method::Mh | Method::Block
    ) && a.samples.is_some()
    {
        anyhow::bail!(
            "--samples applies to the sampling methods (lw, gibbs, mh), not to --method {}",
            a.method().name()
        );
    }
    a.iter.check_for(a.method())?;
    if let Some(p) = &a.plot {
        if a.method().kernel().is_none() {
            anyhow::bail!(
                "--plot draws MCMC runs (gibbs, mh, block, ...), not --method {}",
                a.method().name()
            );
        }
        pgmkit::io::outputs::check_outputs(
            &[("the model", a.query.model.as_path())],
            &[("--plot", p.as_path())],
        )?;
    }
    let method = match a.method() {
        Method::Exact => Lib::Exact,
        Method::Lw => {
            args::require_bayes(
                loaded,
                "likelihood weighting (--method lw)",
                "--method gibbs or mh (or exact)",
            )?;
            Lib::Lw
        }
        Method::Mf => Lib::Mf,
        Method::Bp => Lib::Bp,
        Method::Trw => Lib::Trw,
        m => match m.kernel() {
            Some(k) => Lib::Mcmc(k),
            None => unreachable!("not a marginals method"),
        },
    };
    let opts = options(a, method)?;
    let bars = approx::Bars::new(global);
    let progress = |p: Phase<'_>| bars.phase(p);
    let t = std::time::Instant::now();
    let m = marginals(&loaded.model, ev, method, &opts, Some(&progress))?;
    let seconds = t.elapsed().as_secs_f64();
    if let Some(p) = &a.plot {
        let title = format!(
            "{}: {} chains of {}",
            loaded.path.display(),
            m.mcmc.as_ref().map_or(0, |c| c.chains),
            a.method().name()
        );
        super::plot::mcmc(p, &title, loaded.model.vars(), &m)?;
    }
    Ok(estimate(m, method, &opts, a.method(), a.run.seed, seconds))
}

/// The output's view of a [`pgmkit::infer::marginals::Marginals`].
fn estimate(
    m: pgmkit::infer::marginals::Marginals,
    method: Lib,
    opts: &MarginalsOptions,
    cli_method: Method,
    seed: u64,
    seconds: f64,
) -> Estimate {
    let log_z_row = m.log_z.as_ref().map(|est| match (method, m.convergence) {
        (Lib::Exact, _) => approx::exact_row(est.log_z),
        (Lib::Lw, _) => approx::lw_row(est, opts.lw_samples, seed),
        (_, Some(c)) => approx::variational_row(cli_method, est, c, seconds, seed),
        (_, None) => approx::exact_row(est.log_z),
    });
    let run = match (&m.mcmc, m.samples) {
        (Some(c), _) => Some(RunInfo {
            samples: m.samples.unwrap_or(0),
            chains: Some(c.chains),
            draws_per_chain: Some(c.draws_per_chain),
            time_limited: opts.chains.time_limit.map(|_| c.time_limited),
            burn_in: Some(c.burn_in),
            thin: Some(c.thin),
            seed,
            acceptance_rate: Some(c.acceptance_rate),
            updates: Some(c.updates),
            max_rhat: c.max_rhat,
            min_ess: c.min_ess,
        }),
        (None, Some(k)) => Some(RunInfo {
            samples: k,
            seed,
            min_ess: m.log_z.as_ref().and_then(|l| l.ess),
            ..RunInfo::default()
        }),
        (None, None) => None,
    };
    Estimate {
        log_z: m.log_z.as_ref().map(|l| l.log_z),
        log_z_std_err: m.log_z.as_ref().and_then(|l| l.std_err),
        log_z_row,
        mcse: m.mcse,
        rhat: m.rhat,
        ess: m.ess,
        run,
        marginals: m.probs,
    }
}

fn variational(m: Lib) -> bool {
    matches!(m, Lib::Mf | Lib::Bp | Lib::Trw)
}

pub fn run(global: &GlobalArgs, a: &MarginalsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if super::gaussian::is_gaussian(&a.query.model) {
        let ev = a.query.evidence.as_deref();
        return super::gaussian::marginals(global, &a.query.model, ev, a.method(), a.run.json, out);
    }
    if a.chain_range.is_some() || a.shard_out.is_some() {
        return shard(global, a, out);
    }
    let loaded = args::load(&a.query.model, global)?;
    let vars = loaded.model.vars();
    let ev = args::evidence(a.query.evidence.as_deref(), vars)?;

    let t = Instant::now();
    let est = compute(global, a, &loaded, &ev)?;
    let seconds = t.elapsed().as_secs_f64();
    print(
        global,
        a.run.json,
        a.method().name(),
        &loaded,
        &ev,
        &est,
        seconds,
        out,
    )
}

/// `marginals --shard-out FILE [--chain-range A..B]`: one shard of an MCMC run, written for
/// `pgmkit merge`.
fn shard(global: &GlobalArgs, a: &MarginalsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    use pgmkit::sample::chains::shard;
    let Some(kernel) = a.method().kernel() else {
        anyhow::bail!(
            "--chain-range and --shard-out split the MCMC methods (gibbs, mh, block, ...), not \
             --method {}",
            a.method().name()
        );
    };
    let Some(dest) = &a.shard_out else {
        anyhow::bail!("--chain-range needs --shard-out FILE (where the shard is written)");
    };
    if a.iter.time_limit().is_some() {
        anyhow::bail!(
            "a shard cannot have --time-limit: a time-limited run depends on the machine's \
             speed, so its shards would not add up to one run; give --chains and --samples"
        );
    }
    if a.plot.is_some() {
        anyhow::bail!("--plot draws a whole run: plot the merged run, not a shard");
    }
    a.iter.check_for(a.method())?;
    let mut inputs = vec![("the model", a.query.model.as_path())];
    if let Some(e) = a.query.evidence.as_deref() {
        if std::path::Path::new(e).is_file() {
            inputs.push(("the evidence", std::path::Path::new(e)));
        }
    }
    pgmkit::io::outputs::check_outputs(&inputs, &[("the shard", dest.as_path())])?;
    let loaded = args::load(&a.query.model, global)?;
    let vars = loaded.model.vars();
    let ev = args::evidence(a.query.evidence.as_deref(), vars)?;
    let mut opts = options(a, Lib::Mcmc(kernel))?;
    opts.chains.chain_range = a.chain_range.clone();
    let cfg = &opts.chains;
    let range = cfg.chain_range.clone().unwrap_or(0..cfg.chains);
    if range.start >= range.end || range.end > cfg.chains {
        anyhow::bail!(
            "--chain-range {}..{} is not a non-empty range of the {} chains (0..{})",
            range.start,
            range.end,
            cfg.chains,
            cfg.chains
        );
    }
    let fg = loaded.model.to_factor_graph();
    let per_chain = cfg.total_sweeps() / cfg.chains.max(1) as u64;
    let bar = super::progress::Bar::new(
        global,
        per_chain * range.len() as u64,
        &format!("{} shard", kernel.name()),
        "sweeps",
    );
    let inc = |k: u64| bar.inc(k);
    let mut s = shard::run(&fg, &ev, kernel, &opts.kernel, cfg, Some(&inc))?;
    bar.finish();
    s.model = loaded.path.display().to_string();
    s.evidence = args::evidence_pairs(&ev, vars);
    pgmkit::io::write_atomic(dest, s.to_json().as_bytes())?;
    if a.run.json {
        let mut j: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        j.0.push(("shard".into(), dest.display().to_string().into()));
        j.0.push(("method".into(), a.method().name().into()));
        j.0.push(("chains".into(), cfg.chains.into()));
        j.0.push(("range".into(), serde_json::json!([range.start, range.end])));
        j.0.push(("fingerprint".into(), s.fingerprint.clone().into()));
        return output::write_json(out, &j);
    }
    if !global.quiet {
        writeln!(
            out,
            "wrote {} shard {}: chains {}..{} of {} ({} draws each, seed {}); merge the shards \
             with `pgmkit merge`",
            a.method().name(),
            dest.display(),
            range.start,
            range.end,
            cfg.chains,
            cfg.draws,
            cfg.seed
        )?;
    }
    Ok(())
}

/// `pgmkit merge` of MCMC shards: the merged run's marginals, printed as `marginals` prints them.
pub fn merge(
    global: &GlobalArgs,
    shards: &[pgmkit::sample::chains::shard::McmcShard],
    paths: &[std::path::PathBuf],
    model: Option<&std::path::Path>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    use pgmkit::infer::marginals::Marginals;
    let s0 = &shards[0];
    let path = model.map_or_else(|| std::path::PathBuf::from(&s0.model), |p| p.to_path_buf());
    let loaded = args::load(&path, global)?;
    let vars = loaded.model.vars();
    let mut ev = Evidence::new(vars.len());
    for (name, state) in &s0.evidence {
        let v = vars.iter().position(|x| &x.name == name).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: the shards' evidence names '{name}', which {} does not have (give the \
                 model the shards ran on with --model)",
                paths[0].display(),
                path.display()
            )
        })?;
        let k = vars[v].state_index(state).map_err(|e| {
            anyhow::anyhow!(
                "{}: the shards' evidence does not fit {}: {e}",
                paths[0].display(),
                path.display()
            )
        })?;
        ev.set(vars, VarId::from(v), k)?;
    }
    let fg = loaded.model.to_factor_graph();
    let t = Instant::now();
    let summary = pgmkit::sample::chains::shard::merge(&fg, &ev, shards).map_err(|e| match &e {
        pgmkit::Error::ShardMismatch { shard, .. } => {
            anyhow::anyhow!("{}: {e}", paths[*shard].display())
        }
        _ => e.into(),
    })?;
    let m = Marginals::from_chains(
        s0.kernel,
        s0.kernel.resolve_on(&fg),
        s0.warmup,
        s0.thin,
        summary,
    );
    let opts = MarginalsOptions::default();
    let method = Method::from_kernel(s0.kernel);
    let est = estimate(m, Lib::Mcmc(s0.kernel), &opts, method, s0.seed, 0.0);
    let seconds = t.elapsed().as_secs_f64();
    print(
        global,
        json,
        method.name(),
        &loaded,
        &ev,
        &est,
        seconds,
        out,
    )
}

/// The output of `marginals` (text, or JSON with `json`).
#[allow(clippy::too_many_arguments)]
pub fn print(
    global: &GlobalArgs,
    json: bool,
    method_name: &'static str,
    loaded: &args::Loaded,
    ev: &Evidence,
    est: &Estimate,
    seconds: f64,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let vars = loaded.model.vars();
    let run = est.run.clone().unwrap_or_default();
    let sampled = est.run.is_some();
    let lz = est.log_z_row.as_ref();

    if json {
        let marginals = vars
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let m = Marginal {
                    states: v.states.clone(),
                    p: est.marginals[i].clone(),
                    mcse: est.mcse.as_ref().map(|m| m[i].clone()),
                    rhat: json_diag(est.rhat.as_ref().and_then(|r| r[i])),
                    ess: json_diag(est.ess.as_ref().and_then(|e| e[i])),
                };
                (v.name.clone(), m)
            })
            .collect();
        let j = MarginalsJson {
            method: method_name,
            log_z: est.log_z,
            log_z_std_err: est.log_z_std_err,
            log_z_kind: lz.map(|r| r.kind),
            lower: lz.and_then(|r| r.lower),
            upper: lz.and_then(|r| r.upper),
            bound_kind: lz.and_then(|r| r.bound_kind),
            iterations: lz.and_then(|r| r.iterations),
            converged: lz.and_then(|r| r.converged),
            seconds,
            model: loaded.path.display().to_string(),
            model_kind: args::kind_id(&loaded.model),
            evidence: OrderedMap(args::evidence_pairs(ev, vars)),
            samples: sampled.then_some(run.samples),
            chains: run.chains,
            draws_per_chain: run.draws_per_chain,
            burn_in: run.burn_in,
            thin: run.thin,
            seed: sampled.then_some(run.seed),
            acceptance_rate: run.acceptance_rate,
            updates: run.updates,
            max_rhat: json_diag(run.max_rhat),
            min_ess: json_diag(run.min_ess),
            time_limited: run.time_limited,
            marginals: OrderedMap(marginals),
        };
        return output::write_json(out, &j);
    }

    if !global.quiet {
        writeln!(out, "model      {}", loaded.path.display())?;
        writeln!(out, "evidence   {}", args::evidence_text(ev, vars))?;
        match (run.chains, run.draws_per_chain) {
            (Some(c), Some(d)) => writeln!(
                out,
                "method     {} ({c} chains x {d} draws after {} burn-in sweeps, thin {}, seed {})",
                method_name,
                run.burn_in.unwrap_or(0),
                run.thin.unwrap_or(1),
                run.seed
            )?,
            _ if sampled => writeln!(
                out,
                "method     {} ({} samples, seed {})",
                method_name, run.samples, run.seed
            )?,
            _ => writeln!(out, "method     {}", method_name)?,
        }
        if let Some(log_z) = est.log_z {
            let what = match loaded.model {
                Model::Bayes(_) => "log P(e)",
                Model::Markov(_) => "log Z",
            };
            let kind = match lz.map(|r| r.kind) {
                Some(EstimateKind::Exact) | None => String::new(),
                Some(k) => format!("   ({})", kind_text(k)),
            };
            match est.log_z_std_err {
                Some(se) => writeln!(out, "{what:<11}{log_z:.10} ± {se:.3e}{kind}")?,
                None => writeln!(out, "{what:<11}{log_z:.10}{kind}")?,
            }
        }
        if let (Some(i), Some(c)) = (lz.and_then(|r| r.iterations), lz.and_then(|r| r.converged)) {
            let how = if c { "converged" } else { "NOT converged" };
            writeln!(out, "iterations {i} ({how})")?;
        }
        if let Some(acc) = run.acceptance_rate {
            writeln!(out, "acceptance {acc:.4}")?;
        }
        if run.time_limited == Some(true) {
            writeln!(
                out,
                "note: the time limit cut the run (the shortest chain made {} draws; the marginals \
                 pool all draws; without R-hat and ESS the diagnostics did not fit in the budget)",
                run.draws_per_chain.unwrap_or(0)
            )?;
        }
        if let Some(r) = run.max_rhat {
            writeln!(out, "max R-hat  {r:.4}")?;
        }
        if let Some(e) = run.min_ess {
            let what = if run.chains.is_some() {
                "min ESS"
            } else {
                "ESS"
            };
            writeln!(out, "{what:<11}{e:.1}")?;
        }
        writeln!(
            out,
            "seconds    {seconds:.6} (inference; load {:.6})",
            loaded.load_seconds
        )?;
        for n in lz.map_or(&[][..], |r| &r.notes[..]) {
            writeln!(out, "note: {n}")?;
        }
        if let Some(r) = run.max_rhat.filter(|&r| r > RHAT_WARN) {
            writeln!(
                out,
                "warning: max R-hat {r:.3} > {RHAT_WARN}: the chains disagree; run longer \
                 (--burn-in, --samples) before trusting these marginals"
            )?;
        }
        writeln!(out)?;
    }
    for (i, v) in vars.iter().enumerate() {
        let id = VarId::from(i);
        match ev.get(id) {
            Some(s) => writeln!(out, "{}   (observed: {})", v.name, v.states[s])?,
            None => {
                let mut line = v.name.clone();
                if let Some(r) = est.rhat.as_ref().and_then(|r| r[i]) {
                    line.push_str(&format!("   R-hat {r:.3}"));
                }
                // (lw: every variable has the same, Kish's, ESS, printed above)
                if let Some(e) = est
                    .ess
                    .as_ref()
                    .filter(|_| est.rhat.is_some())
                    .and_then(|e| e[i])
                {
                    line.push_str(&format!("   ESS {e:.0}"));
                }
                writeln!(out, "{line}")?
            }
        }
        let p = &est.marginals[i];
        let w = super::output::align_width(v.states.iter().map(|s| s.as_str()));
        for (s, (st, pi)) in v.states.iter().zip(p).enumerate() {
            match est.mcse.as_ref().filter(|_| ev.get(id).is_none()) {
                Some(m) => writeln!(out, "  {st:<w$}  {pi:.6} ± {:.6}", m[i][s])?,
                None => writeln!(out, "  {st:<w$}  {pi:.6}")?,
            }
        }
    }
    Ok(())
}
