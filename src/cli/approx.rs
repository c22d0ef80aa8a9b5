//! The log Z methods beyond exact inference and likelihood weighting, as the CLI runs them:
//! annealed importance sampling (ais, rais, bdmc) and the variational methods (mf, bp, trw).
//!
//! Every method produces one [`Row`]: the numbers of `pgmkit logz --json` for that method (the
//! same row is one line of the `--method all` table). [`Ctx`] holds what every method needs (the
//! model lowered to a factor graph once, the evidence, the options from the command line).

use std::cell::OnceCell;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use pgmkit::infer::ais::{self, AisKernel, AisOptions, AisResult, Base, Schedule};
use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::infer::variational::{
    BeliefPropagation, MeanField, StopReason, StopRule, Trw, VariationalResult,
};
use pgmkit::infer::{EstimateKind, LogZEstimate};
use pgmkit::limits::Deadline;
use pgmkit::model::{FactorGraph, Model};
use pgmkit::sample::weighting::likelihood_weighting;
use pgmkit::Evidence;
use serde::Serialize;

use super::args::{self, GlobalArgs, Loaded, Method};
use super::output::OrderedMap;
use super::progress::Bar;

// ------------------------------------------------------------------------------- arguments

/// Spacing of the AIS inverse temperatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleArg {
    /// beta_k = k / K
    Linear,
    /// Sigmoidal spacing (steepness 4), denser at both ends
    Sigmoid,
    /// A pilot run of 16 particles places the betas so that the conditional ESS of each step
    /// stays at 0.999; the curve is then fixed for the main run (the estimate stays unbiased)
    Adaptive,
}

/// Base distribution of the AIS path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BaseArg {
    /// The network (evidence likelihood annealed in) for Bayesian networks with zeros under
    /// blocked Gibbs, uniform otherwise (default)
    Auto,
    /// Uniform over the states of every free variable
    Uniform,
    /// The Bayesian network with the evidence clamped (needs the block kernel)
    Network,
    /// The naive mean-field solution (mixed with 0.1% of uniform); falls back to uniform when
    /// mean field fails
    #[value(alias = "mean-field")]
    Mf,
}

/// MCMC kernel that moves the AIS particles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KernelArg {
    /// Blocked Gibbs on models with zero entries, single-site Gibbs on the others (default)
    Auto,
    /// Single-site Gibbs, systematic scan
    Gibbs,
    /// Blocked Gibbs: blocks tied by zero entries drawn exactly from their conditional
    Block,
    /// Chromatic Gibbs: the variables of one colour updated in parallel (large grids)
    Chromatic,
    /// Single-site Metropolis-Hastings
    Mh,
}

/// Options of the AIS methods (ais, rais, bdmc; also auto and all). Every value is optional so
/// that giving one to a method that does not run AIS is an error instead of being ignored.
#[derive(Debug, Clone, Default, Args)]
pub struct AisArgs {
    /// ais/rais/bdmc: number of particles (independent annealing runs) [default: 128]
    #[arg(long, value_name = "N")]
    pub particles: Option<usize>,

    /// ais/rais/bdmc: number of intermediate distributions K [default: 1000]
    #[arg(long, value_name = "K")]
    pub steps: Option<usize>,

    /// ais/rais/bdmc: MCMC sweeps per intermediate distribution [default: 1]
    #[arg(long, value_name = "M")]
    pub sweeps: Option<usize>,

    /// ais/rais/bdmc: spacing of the inverse temperatures [default: adaptive]
    #[arg(long, value_enum, value_name = "SPACING")]
    pub schedule: Option<ScheduleArg>,

    /// ais/rais/bdmc: distribution the annealing path starts from [default: auto]
    #[arg(long, value_enum, value_name = "BASE")]
    pub base: Option<BaseArg>,

    /// ais/rais/bdmc: MCMC kernel moving the particles (rais and the reverse half of bdmc
    /// always use a random-scan kernel, which is reversible) [default: auto]
    #[arg(long, value_enum, value_name = "KERNEL")]
    pub kernel: Option<KernelArg>,
}

impl AisArgs {
    /// Error when an AIS setting was given but `method` runs no AIS.
    pub fn only_for_ais(&self, method: Method) -> anyhow::Result<()> {
        if method.uses_ais() {
            return Ok(());
        }
        let given = [
            ("--particles", self.particles.is_some()),
            ("--steps", self.steps.is_some()),
            ("--sweeps", self.sweeps.is_some()),
            ("--schedule", self.schedule.is_some()),
            ("--base", self.base.is_some()),
            ("--kernel", self.kernel.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            anyhow::bail!(
                "{flag} applies to the AIS methods (ais, rais, bdmc, auto, all), not to --method {}",
                method.name()
            );
        }
        Ok(())
    }

    /// The library options (checked), starting from `AisOptions::default()`.
    pub fn options(&self, seed: u64, time_limit: Option<Duration>) -> anyhow::Result<AisOptions> {
        let d = AisOptions::default();
        let particles = at_least("--particles", self.particles.unwrap_or(d.particles), 2)?;
        let steps = at_least("--steps", self.steps.unwrap_or(d.steps), 1)?;
        let sweeps = at_least("--sweeps", self.sweeps.unwrap_or(d.sweeps), 1)?;
        let schedule = match self.schedule {
            None => d.schedule,
            Some(ScheduleArg::Linear) => Schedule::Linear,
            Some(ScheduleArg::Sigmoid) => Schedule::Sigmoid { delta: 4.0 },
            Some(ScheduleArg::Adaptive) => match d.schedule {
                s @ Schedule::Adaptive { .. } => s,
                _ => Schedule::Adaptive { target_cess: 0.999 },
            },
        };
        let base = match self.base {
            None => d.base,
            Some(BaseArg::Auto) => Base::Auto,
            Some(BaseArg::Uniform) => Base::Uniform,
            Some(BaseArg::Network) => Base::Network,
            Some(BaseArg::Mf) => Base::MeanField,
        };
        let kernel = match self.kernel {
            None => d.kernel,
            Some(KernelArg::Auto) => AisKernel::Auto,
            Some(KernelArg::Gibbs) => AisKernel::Gibbs,
            Some(KernelArg::Block) => AisKernel::BlockGibbs,
            Some(KernelArg::Chromatic) => AisKernel::ChromaticGibbs,
            Some(KernelArg::Mh) => AisKernel::MetropolisHastings,
        };
        Ok(AisOptions {
            particles,
            steps,
            sweeps,
            schedule,
            base,
            kernel,
            seed,
            time_limit,
            ..d
        })
    }
}

/// Stopping options of the iterative methods (mf, bp, trw) and the time budget of every
/// approximate method.
#[derive(Debug, Clone, Default, Args)]
pub struct IterArgs {
    /// mf/bp/trw: convergence tolerance on the largest change of a marginal over one sweep
    /// [default: 1e-9]
    #[arg(long, value_name = "TOL", value_parser = parse_non_negative_f64)]
    pub tol: Option<f64>,

    /// mf/bp/trw: largest number of sweeps [default: 10000]
    #[arg(long, value_name = "N")]
    pub max_iters: Option<usize>,

    /// Wall-clock budget of each approximate method run, in seconds. AIS: the number of steps
    /// is raised (never lowered) to use the budget and no new batch of particles starts once it
    /// is spent (the result then depends on the machine's speed); mf/bp/trw: stop after the
    /// sweep that passes it (the TRW bound stays a certified upper bound)
    #[arg(long, value_name = "SECONDS", value_parser = super::args::parse_seconds)]
    pub time_limit: Option<f64>,
}

impl IterArgs {
    /// Error when --tol or --max-iters was given but `method` runs no variational algorithm,
    /// or --time-limit to a method that takes none.
    pub fn check_for(&self, method: Method) -> anyhow::Result<()> {
        if !method.uses_variational() {
            let given = [
                ("--tol", self.tol.is_some()),
                ("--max-iters", self.max_iters.is_some()),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
                anyhow::bail!(
                    "{flag} applies to the variational methods (mf, bp, trw, auto, all), not to \
                     --method {}",
                    method.name()
                );
            }
        }
        if self.time_limit.is_some() && matches!(method, Method::Exact | Method::Lw) {
            anyhow::bail!(
                "--time-limit applies to the approximate methods (ais, rais, bdmc, mf, bp, trw, \
                 gibbs, mh, auto, all), not to --method {}",
                method.name()
            );
        }
        Ok(())
    }

    /// The time budget.
    pub fn time_limit(&self) -> Option<Duration> {
        self.time_limit.map(Duration::from_secs_f64)
    }

    /// The stop rule (checked).
    pub fn stop_rule(&self) -> anyhow::Result<StopRule> {
        let d = StopRule::default();
        let max_iters = at_least("--max-iters", self.max_iters.unwrap_or(d.max_iters), 1)?;
        // the budget counts from the start of the command
        let stop = StopRule {
            max_iters,
            tol: self.tol.unwrap_or(d.tol),
            max_time: super::command_deadline(self.time_limit()).remaining(),
        };
        stop.validate()?;
        Ok(stop)
    }
}

fn parse_non_negative_f64(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        Ok(_) => Err(format!("'{s}' is not a finite number >= 0")),
        Err(e) => Err(format!("'{s}' is not a number: {e}")),
    }
}

/// A count that must be at least `min` (a run-time check: one `error:` line, exit code 1).
pub fn at_least(flag: &str, n: usize, min: usize) -> anyhow::Result<usize> {
    if n < min {
        anyhow::bail!("{flag} must be at least {min} (got {n})");
    }
    Ok(n)
}

// ------------------------------------------------------------------------------- results

/// What a log Z figure is (JSON `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Exact up to rounding.
    Exact,
    /// `log_z` is a lower bound (mf: deterministic).
    LowerBound,
    /// `log_z` is an upper bound (trw: deterministic; rais: stochastic).
    UpperBound,
    /// A stochastic estimate with a standard error (ais, lw, auto without exact).
    Stochastic,
    /// An approximation without guarantee (bp).
    Approximate,
    /// A stochastic lower and upper bound around the estimate (bdmc).
    Sandwich,
}

impl Kind {
    fn from_library(k: EstimateKind) -> Kind {
        match k {
            EstimateKind::Exact => Kind::Exact,
            EstimateKind::LowerBound => Kind::LowerBound,
            EstimateKind::UpperBound => Kind::UpperBound,
            EstimateKind::Stochastic => Kind::Stochastic,
            _ => Kind::Approximate,
        }
    }

    /// For text output.
    pub fn text(self) -> &'static str {
        match self {
            Kind::Exact => "exact",
            Kind::LowerBound => "lower bound",
            Kind::UpperBound => "upper bound",
            Kind::Stochastic => "stochastic estimate",
            Kind::Approximate => "approximation (no guarantee)",
            Kind::Sandwich => "sandwich",
        }
    }
}

/// What `lower` / `upper` are (JSON `bound_kind`; null when neither is set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundKind {
    /// Both equal the exact value.
    Exact,
    /// Guaranteed bounds (mean-field ELBO, certified TRW bound), up to floating-point rounding.
    Deterministic,
    /// Bounds that hold in expectation (reverse AIS, BDMC): a single run can cross the true
    /// value by a few standard errors.
    Stochastic,
}

impl BoundKind {
    /// For text output.
    pub fn text(self) -> &'static str {
        match self {
            BoundKind::Exact => "exact",
            BoundKind::Deterministic => "deterministic",
            BoundKind::Stochastic => "stochastic, in expectation",
        }
    }
}

/// One AIS run (forward or reverse) inside a BDMC result.
#[derive(Debug, Clone, Serialize)]
pub struct AisPart {
    pub log_z: f64,
    pub std_err: f64,
    pub ess: f64,
    pub log_weight_var: Option<f64>,
    pub mean_log_weight: Option<f64>,
    pub dead_particles: usize,
    pub updates: u64,
    pub seconds: f64,
}

impl AisPart {
    fn of(r: &AisResult) -> AisPart {
        AisPart {
            log_z: r.log_z,
            std_err: r.std_err,
            ess: r.ess,
            log_weight_var: finite(r.log_weight_var),
            mean_log_weight: finite(r.mean_log_weight),
            dead_particles: r.dead,
            updates: r.updates,
            seconds: r.seconds,
        }
    }
}

/// A method's log Z result: the JSON of `pgmkit logz --method M --json` (without the model
/// fields) and one line of the `--method all` table. Fields print in this order; the core and
/// family fields are always present (null where they do not apply); `forward`/`reverse`/`gap`
/// (bdmc), `sources`/`components` (auto), `error_vs_exact` (all) and `notes` only when set.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub method: &'static str,
    /// Natural log of Z (log P(evidence) for a Bayesian network).
    pub log_z: f64,
    pub log10_z: f64,
    pub std_err: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub ess: Option<f64>,
    /// Seconds spent in the method (loading not included).
    pub seconds: f64,
    pub kind: Kind,
    pub bound_kind: Option<BoundKind>,
    // iterative methods
    pub iterations: Option<usize>,
    pub converged: Option<bool>,
    pub delta: Option<f64>,
    pub stop_reason: Option<StopReason>,
    // stochastic methods
    pub samples: Option<usize>,
    pub seed: Option<u64>,
    // AIS
    pub particles: Option<usize>,
    pub steps: Option<usize>,
    pub sweeps: Option<usize>,
    pub schedule: Option<&'static str>,
    pub base: Option<&'static str>,
    pub kernel: Option<&'static str>,
    pub dead_particles: Option<usize>,
    pub log_weight_var: Option<f64>,
    pub updates: Option<u64>,
    /// True when `--time-limit` cut the run short (fewer particles or steps than asked for, or
    /// iterations stopped by the clock); the fields above say what actually ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_limited: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward: Option<AisPart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverse: Option<AisPart>,
    /// bdmc: upper - lower.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<f64>,
    /// Standard error of `lower` when it is a stochastic bound (bdmc).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_std_err: Option<f64>,
    /// Standard error of `upper` when it is a stochastic bound (rais, bdmc).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper_std_err: Option<f64>,
    /// bdmc: true when the forward (lower) estimate came out above the reverse (upper) one; the
    /// two then agree within their noise and the interval is not a sandwich.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crossed: Option<bool>,
    /// auto: which method supplied which field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<OrderedMap<&'static str>>,
    /// auto: the rows of the methods it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<Row>>,
    /// all: log_z minus the exact value (when exact inference is feasible).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_vs_exact: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// JSON has no infinities or NaN: those become null.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Row {
    fn new(method: &'static str, log_z: f64, kind: Kind, seconds: f64) -> Row {
        Row {
            method,
            log_z,
            log10_z: log_z / std::f64::consts::LN_10,
            std_err: None,
            lower: None,
            upper: None,
            ess: None,
            seconds,
            kind,
            bound_kind: None,
            iterations: None,
            converged: None,
            delta: None,
            stop_reason: None,
            samples: None,
            seed: None,
            particles: None,
            steps: None,
            sweeps: None,
            schedule: None,
            base: None,
            kernel: None,
            dead_particles: None,
            log_weight_var: None,
            updates: None,
            time_limited: None,
            forward: None,
            reverse: None,
            gap: None,
            lower_std_err: None,
            upper_std_err: None,
            crossed: None,
            sources: None,
            components: None,
            error_vs_exact: None,
            notes: Vec::new(),
        }
    }

    /// From a library estimate.
    fn from_estimate(method: &'static str, est: &LogZEstimate, seconds: f64) -> Row {
        let kind = Kind::from_library(est.kind);
        let mut r = Row::new(method, est.log_z, kind, seconds);
        r.std_err = est.std_err.and_then(finite);
        r.ess = est.ess.and_then(finite);
        r.lower = est.lower;
        r.upper = est.upper;
        r.bound_kind = match kind {
            Kind::Exact => Some(BoundKind::Exact),
            _ if est.lower.is_some() || est.upper.is_some() => Some(BoundKind::Deterministic),
            _ => None,
        };
        r
    }

    fn set_ais(&mut self, o: &AisOptions, res: &AisResult) {
        self.std_err = finite(res.std_err);
        self.ess = finite(res.ess);
        self.seed = Some(o.seed);
        self.particles = Some(res.log_weights.len());
        self.steps = Some(res.betas.len().saturating_sub(1));
        self.sweeps = Some(o.sweeps);
        self.schedule = Some(schedule_name(o.schedule));
        self.base = Some(base_name(res.base));
        self.kernel = Some(kernel_name(res.kernel));
        self.dead_particles = Some(res.dead);
        self.log_weight_var = finite(res.log_weight_var);
        self.updates = Some(res.updates);
        if o.base == Base::MeanField && res.base != Base::MeanField {
            self.notes.push(format!(
                "mean field failed, so the AIS path starts from the {} base",
                base_name(res.base)
            ));
        }
        if res.time_limited || o.time_limit.is_some() {
            self.time_limited = Some(self.time_limited.unwrap_or(false) || res.time_limited);
        }
        if res.time_limited {
            self.notes.push(format!(
                "the time limit cut the run to {} particles x {} steps (asked {} x {}); rerun \
                 with --particles {} --steps {} and no time limit to reproduce it",
                res.log_weights.len(),
                res.betas.len().saturating_sub(1),
                o.particles,
                o.steps,
                res.log_weights.len(),
                res.betas.len().saturating_sub(1),
            ));
        }
    }

    fn set_convergence(&mut self, r: &VariationalResult) {
        let c = r.convergence;
        self.iterations = Some(c.iters);
        self.converged = Some(c.converged());
        self.delta = finite(c.delta);
        self.stop_reason = Some(c.reason);
        if c.reason == StopReason::TimeLimit {
            self.time_limited = Some(true);
        }
        if !c.converged() {
            self.notes.push(format!(
                "the iterations did not converge ({} after {} sweeps, last change {:.1e}){}",
                match c.reason {
                    StopReason::TimeLimit => "time limit",
                    _ => "iteration cap",
                },
                c.iters,
                c.delta,
                match self.kind {
                    Kind::Approximate => "",
                    _ => "; the bound still holds",
                }
            ));
        }
    }
}

pub fn schedule_name(s: Schedule) -> &'static str {
    match s {
        Schedule::Linear => "linear",
        Schedule::Sigmoid { .. } => "sigmoid",
        Schedule::Adaptive { .. } => "adaptive",
    }
}

pub fn base_name(b: Base) -> &'static str {
    match b {
        Base::Auto => "auto",
        Base::Uniform => "uniform",
        Base::Network => "network",
        Base::MeanField => "mf",
    }
}

pub fn kernel_name(k: AisKernel) -> &'static str {
    match k {
        AisKernel::Auto => "auto",
        AisKernel::Gibbs => "gibbs",
        AisKernel::BlockGibbs => "block",
        AisKernel::ChromaticGibbs => "chromatic",
        AisKernel::MetropolisHastings => "mh",
    }
}

// ------------------------------------------------------------------------------- running

/// Everything a method run needs.
pub struct Ctx<'a> {
    pub global: &'a GlobalArgs,
    pub loaded: &'a Loaded,
    pub ev: &'a Evidence,
    pub exact: ExactOptions,
    pub ais: AisOptions,
    pub stop: StopRule,
    pub seed: u64,
    pub lw_samples: usize,
    /// The `--time-limit` budget of the whole command.
    pub deadline: Deadline,
    fg: OnceCell<FactorGraph>,
}

impl<'a> Ctx<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        global: &'a GlobalArgs,
        loaded: &'a Loaded,
        ev: &'a Evidence,
        exact: ExactOptions,
        ais: AisOptions,
        stop: StopRule,
        seed: u64,
        lw_samples: usize,
    ) -> Self {
        Ctx {
            global,
            loaded,
            ev,
            exact,
            ais,
            stop,
            seed,
            lw_samples,
            deadline: Deadline::after(stop.max_time),
            fg: OnceCell::new(),
        }
    }

    /// The AIS options for a run that may use `share` of the time left (all of the options
    /// without a time limit).
    pub fn ais_for(&self, share: f64) -> AisOptions {
        self.ais.with_deadline(self.deadline.share(share))
    }

    /// The stop rule for a run that may use `share` of the time left.
    pub fn stop_for(&self, share: f64) -> StopRule {
        StopRule {
            max_time: self.deadline.share(share).remaining(),
            ..self.stop
        }
    }

    /// The model as a factor graph (a Bayesian network lowered once, one factor per CPD; under
    /// the evidence its Z is P(evidence)).
    pub fn fg(&self) -> &FactorGraph {
        self.fg.get_or_init(|| self.loaded.model.to_factor_graph())
    }

    fn ais_label(&self, what: &str) -> String {
        // short: the bar itself takes about 65 columns
        format!("{what} {}x{}", self.ais.particles, self.ais.steps)
    }

    /// Progress units (sweeps over the particles) of one AIS run.
    fn ais_units(&self) -> u64 {
        (self.ais.particles as u64)
            .saturating_mul(self.ais.steps as u64)
            .saturating_mul(self.ais.sweeps as u64)
    }
}

/// True when `e` says exact inference does not fit in the memory limit.
pub fn is_too_large(e: &pgmkit::Error) -> bool {
    matches!(e, pgmkit::Error::TooLarge { .. })
}

/// Above this many bits (log2 of table entries) beyond twice the bits the memory limit allows,
/// the quick min-degree plan of [`hopeless_for_exact`] declares exact inference hopeless.
const HOPELESS_MARGIN_BITS: f64 = 10.0;

/// A short description of a [`pgmkit::Error::TooLarge`] (numbers for people).
pub fn too_large_text(e: &pgmkit::Error) -> String {
    match e {
        pgmkit::Error::TooLarge {
            width,
            largest_table,
            needed,
            limit,
        } => format!(
            "elimination width {width}, largest table {} entries, {} needed > limit {}",
            super::output::count(*largest_table),
            big_bytes(*needed),
            big_bytes(*limit)
        ),
        e => e.to_string(),
    }
}

fn big_bytes(b: f64) -> String {
    if b < 1e18 {
        super::output::bytes(b)
    } else {
        format!("{b:.3e} bytes")
    }
}

/// For `auto` and `all` on a Markov network: a quick min-degree plan (fractions of a second even
/// on 10 000 variables, where the full order search of exact inference takes tens of seconds).
/// Returns the reason when even a much better order could not fit: when the min-degree order
/// needs more than `2 * bits(limit) + 10` bits of table entries (min-degree is rarely worse
/// than the best order by a factor 2 in width). `None`: try exact inference for real.
pub fn hopeless_for_exact(ctx: &Ctx) -> Option<String> {
    if matches!(ctx.loaded.model, Model::Bayes(_)) {
        return None; // barren-node pruning may make a Bayesian network much smaller
    }
    let opts = ExactOptions {
        heuristic: exact::OrderHeuristic::MinDegree,
        ..ctx.exact.clone()
    };
    let plan = exact::plan(ctx.fg(), ctx.ev, &opts).ok()?;
    let limit_entries = (ctx.exact.memory_limit / 8.0).max(2.0);
    let bits = plan.max_clique_entries.log2();
    (bits > 2.0 * limit_entries.log2() + HOPELESS_MARGIN_BITS).then(|| {
        format!(
            "a min-degree elimination order has width {} and a largest table of 2^{bits:.0} \
             entries; the memory limit {} holds 2^{:.0}",
            plan.width,
            big_bytes(ctx.exact.memory_limit),
            limit_entries.log2()
        )
    })
}

/// Exact log Z (pruned log P(e) for a Bayesian network).
pub fn run_exact(ctx: &Ctx) -> pgmkit::Result<Row> {
    let t = Instant::now();
    let est = match &ctx.loaded.model {
        Model::Bayes(bn) => exact::bn_log_evidence(bn, ctx.ev, &ctx.exact)?,
        Model::Markov(fg) => exact::log_z(fg, ctx.ev, &ctx.exact)?,
    };
    Ok(Row::from_estimate("exact", &est, t.elapsed().as_secs_f64()))
}

/// Likelihood weighting (Bayesian networks).
pub fn run_lw(ctx: &Ctx) -> anyhow::Result<Row> {
    let bn = args::require_bayes(
        ctx.loaded,
        "likelihood weighting (--method lw)",
        "--method exact, ais, mf, bp or trw for log Z of a Markov network",
    )?;
    let n = args::at_least_one("--samples", ctx.lw_samples)?;
    let t = Instant::now();
    let bar = Bar::spinner(ctx.global, &format!("likelihood weighting, {n} samples"));
    let est = likelihood_weighting(bn, ctx.ev, n, ctx.seed)?;
    bar.finish();
    let mut r = Row::from_estimate("lw", &est.log_z, t.elapsed().as_secs_f64());
    r.samples = Some(n);
    r.seed = Some(ctx.seed);
    Ok(r)
}

/// Forward AIS.
pub fn run_ais(ctx: &Ctx, share: f64) -> anyhow::Result<Row> {
    let t = Instant::now();
    let bar = Bar::new(ctx.global, ctx.ais_units(), &ctx.ais_label("ais"), "sweeps");
    let progress = |k: u64| bar.inc(k);
    let res = ais::ais(ctx.fg(), ctx.ev, &ctx.ais_for(share), Some(&progress))?;
    bar.finish();
    Ok(ais_row(ctx, &res, t.elapsed().as_secs_f64()))
}

fn ais_row(ctx: &Ctx, res: &AisResult, seconds: f64) -> Row {
    let mut r = Row::new("ais", res.log_z, Kind::Stochastic, seconds);
    r.set_ais(&ctx.ais, res);
    r
}

/// Exact samples for reverse AIS, with a clear error when exact inference does not fit.
pub fn exact_samples(
    ctx: &Ctx,
    method: &str,
    share: f64,
) -> anyhow::Result<(Vec<Vec<usize>>, f64)> {
    let t = Instant::now();
    let bar = Bar::spinner(
        ctx.global,
        &format!("{method}: drawing {} exact samples", ctx.ais.particles),
    );
    let res = ais::exact_samples_until(
        ctx.fg(),
        ctx.ev,
        ctx.ais.particles,
        ctx.seed,
        &ctx.exact,
        ctx.deadline.share(share),
    );
    bar.finish();
    match res {
        Ok(s) => Ok((s, t.elapsed().as_secs_f64())),
        Err(e) if is_too_large(&e) => Err(anyhow::anyhow!(
            "--method {method} needs exact samples of the model (reverse AIS starts from them), \
             but exact inference does not fit here: {e}; use --method ais (estimate), mf (lower \
             bound) or trw (upper bound)"
        )),
        Err(e) => Err(e.into()),
    }
}

/// Reverse AIS from exact samples: a stochastic upper bound.
pub fn run_rais(ctx: &Ctx, share: f64) -> anyhow::Result<Row> {
    let t = Instant::now();
    let (samples, _) = exact_samples(ctx, "rais", 0.2 * share)?;
    let bar = Bar::new(
        ctx.global,
        ctx.ais_units(),
        &ctx.ais_label("rais"),
        "sweeps",
    );
    let progress = |k: u64| bar.inc(k);
    let res = ais::reverse_ais(
        ctx.fg(),
        ctx.ev,
        &ctx.ais_for(share),
        &samples,
        Some(&progress),
    )?;
    bar.finish();
    Ok(rais_row(ctx, &res, t.elapsed().as_secs_f64()))
}

fn rais_row(ctx: &Ctx, res: &AisResult, seconds: f64) -> Row {
    let mut r = Row::new("rais", res.log_z, Kind::UpperBound, seconds);
    r.set_ais(&ctx.ais, res);
    r.upper = Some(res.log_z);
    r.upper_std_err = finite(res.std_err);
    r.bound_kind = Some(BoundKind::Stochastic);
    r
}

/// BDMC: forward AIS and reverse AIS from exact samples. Returns the bdmc row and the rows that
/// `ais` and `rais` alone would give with the same options (the same runs).
pub fn run_bdmc(ctx: &Ctx, share: f64) -> anyhow::Result<(Row, Row, Row)> {
    let t = Instant::now();
    let (samples, sample_seconds) = exact_samples(ctx, "bdmc", 0.2 * share)?;
    let bar = Bar::new(
        ctx.global,
        ctx.ais_units().saturating_mul(2),
        &ctx.ais_label("bdmc"),
        "sweeps",
    );
    let progress = |k: u64| bar.inc(k);
    let b = ais::bdmc(
        ctx.fg(),
        ctx.ev,
        &ctx.ais_for(share),
        Some(&samples),
        Some(&progress),
    )?;
    bar.finish();
    let seconds = t.elapsed().as_secs_f64();
    let mut r = Row::new("bdmc", b.forward.log_z, Kind::Sandwich, seconds);
    r.set_ais(&ctx.ais, &b.forward);
    r.lower = Some(b.lower);
    r.upper = Some(b.upper);
    r.bound_kind = Some(BoundKind::Stochastic);
    r.updates = Some(b.forward.updates + b.reverse.updates);
    r.dead_particles = Some(b.forward.dead + b.reverse.dead);
    r.forward = Some(AisPart::of(&b.forward));
    r.reverse = Some(AisPart::of(&b.reverse));
    r.gap = Some(b.upper - b.lower);
    r.lower_std_err = finite(b.forward.std_err);
    r.upper_std_err = finite(b.reverse.std_err);
    r.crossed = Some(b.upper < b.lower);
    if b.upper < b.lower {
        let se = (b.forward.std_err.powi(2) + b.reverse.std_err.powi(2)).sqrt();
        let k = (b.lower - b.upper) / se.max(f64::MIN_POSITIVE);
        r.notes.push(if k <= 3.0 {
            format!(
                "the forward (lower) and reverse (upper) estimates crossed by {:.3e}, {k:.1} \
                 combined standard errors: they agree within noise, so this is no interval; \
                 log Z is close to both",
                b.lower - b.upper
            )
        } else {
            format!(
                "warning: the forward (lower) estimate is above the reverse (upper) one by {:.3e}, \
                 {k:.1} combined standard errors: at least one run has not equilibrated (raise \
                 --steps or --particles)",
                b.lower - b.upper
            )
        });
    }
    let fwd = ais_row(ctx, &b.forward, b.forward.seconds);
    let rev = rais_row(ctx, &b.reverse, b.reverse.seconds + sample_seconds);
    Ok((r, fwd, rev))
}

/// A variational method (mf, bp, trw) with the stop rule of the context.
pub fn variational(
    global: &GlobalArgs,
    fg: &FactorGraph,
    ev: &Evidence,
    method: Method,
    stop: StopRule,
    seed: u64,
) -> anyhow::Result<VariationalResult> {
    let bar = Bar::spinner(
        global,
        &format!("{} (up to {} sweeps)", method.name(), stop.max_iters),
    );
    let r = match method {
        Method::Mf => MeanField {
            stop,
            ..MeanField::default()
        }
        .run(fg, ev)?,
        Method::Bp => BeliefPropagation {
            stop,
            ..BeliefPropagation::default()
        }
        .run(fg, ev)?,
        Method::Trw => {
            let trw = Trw {
                stop,
                seed,
                ..Trw::default()
            };
            trw.run(fg, ev)?
        }
        m => anyhow::bail!("{} is not a variational method", m.name()),
    };
    bar.finish();
    Ok(r)
}

/// mf, bp or trw as a log Z row.
pub fn run_variational(ctx: &Ctx, method: Method, share: f64) -> anyhow::Result<Row> {
    let t = Instant::now();
    let r = variational(
        ctx.global,
        ctx.fg(),
        ctx.ev,
        method,
        ctx.stop_for(share),
        ctx.seed,
    )?;
    Ok(variational_row(
        method,
        &r,
        t.elapsed().as_secs_f64(),
        ctx.seed,
    ))
}

/// The row of a variational result.
pub fn variational_row(method: Method, r: &VariationalResult, seconds: f64, seed: u64) -> Row {
    let mut row = Row::from_estimate(method.name(), &r.log_z, seconds);
    row.set_convergence(r);
    if method == Method::Trw {
        row.seed = Some(seed);
    }
    row
}

/// `--method auto`: exact when it fits, else AIS with the MF lower and TRW upper bounds.
pub fn run_auto(ctx: &Ctx) -> anyhow::Result<Row> {
    let t = Instant::now();
    let exact = match hopeless_for_exact(ctx) {
        Some(reason) => Err(reason),
        None => match run_exact(ctx) {
            Ok(r) => Ok(r),
            Err(e) if is_too_large(&e) => Err(too_large_text(&e)),
            Err(e) => return Err(e.into()),
        },
    };
    let too_large = match exact {
        Ok(mut r) => {
            r.method = "auto";
            r.sources = Some(sources(&[
                ("log_z", "exact"),
                ("lower", "exact"),
                ("upper", "exact"),
            ]));
            r.notes
                .push("exact inference fits in the memory limit, so auto used it".to_string());
            r.components = Some(vec![Row {
                notes: Vec::new(),
                sources: None,
                method: "exact",
                ..r.clone()
            }]);
            return Ok(r);
        }
        Err(reason) => reason,
    };
    // the budget: ais 70% of what is left, then mf half the rest, trw the remainder
    let ais = run_ais(ctx, 0.7)?;
    let mut r = ais.clone();
    r.method = "auto";
    r.notes.clear();
    r.notes.push(format!(
        "exact inference does not fit ({too_large}), so auto ran ais (estimate), mf (lower \
         bound) and trw (upper bound)"
    ));
    let mut src: Vec<(&'static str, &'static str)> =
        vec![("log_z", "ais"), ("std_err", "ais"), ("ess", "ais")];
    let mut components = vec![ais];
    match run_variational(ctx, Method::Mf, 0.5) {
        Ok(mf) => {
            r.lower = mf.lower;
            src.push(("lower", "mf"));
            components.push(mf);
        }
        Err(e) => r.notes.push(format!("mf (lower bound) failed: {e}")),
    }
    match run_variational(ctx, Method::Trw, 1.0) {
        Ok(trw) => {
            r.upper = trw.upper;
            src.push(("upper", "trw"));
            components.push(trw);
        }
        Err(e) => r
            .notes
            .push(format!("no upper bound: {}", super::one_line(&e))),
    }
    r.bound_kind = (r.lower.is_some() || r.upper.is_some()).then_some(BoundKind::Deterministic);
    let se = r.std_err.unwrap_or(0.0);
    if let Some(l) = r.lower.filter(|&l| r.log_z + 3.0 * se < l) {
        r.notes.push(format!(
            "warning: the AIS estimate is below the mean-field lower bound {l:.6} by more than 3 \
             standard errors: AIS has not equilibrated; raise --steps or --sweeps"
        ));
    }
    if let Some(u) = r.upper.filter(|&u| r.log_z - 3.0 * se > u) {
        r.notes.push(format!(
            "warning: the AIS estimate is above the TRW upper bound {u:.6} by more than 3 standard \
             errors; raise --particles or --steps"
        ));
    }
    r.sources = Some(sources(&src));
    r.components = Some(components);
    r.seconds = t.elapsed().as_secs_f64();
    Ok(r)
}

fn sources(pairs: &[(&'static str, &'static str)]) -> OrderedMap<&'static str> {
    OrderedMap(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
}

/// A method `--method all` did not run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub method: &'static str,
    pub reason: String,
}

/// `--method all`: every method that applies. Returns the rows (with the error against exact
/// when exact is feasible) and the methods not run with the reason.
pub fn run_all(ctx: &Ctx) -> anyhow::Result<(Vec<Row>, Vec<Skipped>)> {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let mut skip = |method: &'static str, reason: String| skipped.push(Skipped { method, reason });

    // exact
    let exact = match hopeless_for_exact(ctx) {
        Some(reason) => {
            skip(
                "exact",
                format!("does not fit in the memory limit ({reason})"),
            );
            None
        }
        None => match run_exact(ctx) {
            Ok(r) => Some(r),
            Err(e) if is_too_large(&e) => {
                skip(
                    "exact",
                    format!("does not fit in the memory limit ({})", too_large_text(&e)),
                );
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    let exact_log_z = exact.as_ref().map(|r| r.log_z);
    rows.extend(exact);

    // ais, rais, bdmc
    // the budget: ais/rais/bdmc 60% of what is left after exact, then mf, bp, trw, lw
    if exact_log_z.is_some() {
        match run_bdmc(ctx, 0.6) {
            Ok((bdmc, fwd, rev)) => {
                rows.push(fwd);
                rows.push(rev);
                rows.push(bdmc);
            }
            Err(e) => {
                let msg = super::one_line(&e);
                match run_ais(ctx, 0.6) {
                    Ok(r) => rows.push(r),
                    Err(e2) => skip("ais", format!("failed: {}", super::one_line(&e2))),
                }
                skip("rais", format!("failed: {msg}"));
                skip("bdmc", format!("failed: {msg}"));
            }
        }
    } else {
        match run_ais(ctx, 0.6) {
            Ok(r) => rows.push(r),
            Err(e) => skip("ais", format!("failed: {}", super::one_line(&e))),
        }
        let why = "needs exact samples of the model, and exact inference does not fit".to_string();
        skip("rais", why.clone());
        skip("bdmc", why);
    }

    // variational
    for (m, share) in [
        (Method::Mf, 1.0 / 3.0),
        (Method::Bp, 0.5),
        (Method::Trw, 1.0),
    ] {
        match run_variational(ctx, m, share) {
            Ok(r) => rows.push(r),
            Err(e) => {
                let reason = match e.downcast_ref::<pgmkit::Error>() {
                    Some(pgmkit::Error::NotPairwise { factor, arity, .. }) => format!(
                        "upper bound needs a pairwise model after evidence (factor {factor} has \
                         {arity} unobserved variables)"
                    ),
                    _ => format!("failed: {}", super::one_line(&e)),
                };
                skip(m.name(), reason);
            }
        }
    }

    // likelihood weighting
    match &ctx.loaded.model {
        Model::Markov(_) => skip("lw", "needs a Bayesian network".to_string()),
        Model::Bayes(_) if ctx.ev.is_empty() => skip(
            "lw",
            "no evidence: log P(evidence) = 0 exactly, nothing to estimate".to_string(),
        ),
        Model::Bayes(_) => match run_lw(ctx) {
            Ok(r) => rows.push(r),
            Err(e) => skip("lw", format!("failed: {}", super::one_line(&e))),
        },
    }

    if let Some(x) = exact_log_z {
        for r in rows.iter_mut() {
            r.error_vs_exact = Some(r.log_z - x);
        }
    }
    Ok((rows, skipped))
}

/// The row of an exact log Z (for `marginals`).
pub fn exact_row(log_z: f64) -> Row {
    Row::from_estimate("exact", &LogZEstimate::exact(log_z), 0.0)
}

/// The row of a likelihood-weighting estimate (for `marginals`).
pub fn lw_row(est: &LogZEstimate, samples: usize, seed: u64) -> Row {
    let mut r = Row::from_estimate("lw", est, 0.0);
    r.samples = Some(samples);
    r.seed = Some(seed);
    r
}
