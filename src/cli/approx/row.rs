//! One log Z result as the CLI reports it ([`Row`]), with the kind of estimate and its names.

use pgmkit::infer::ais::{AisOptions, AisResult, Base, Schedule};
use pgmkit::infer::variational::{Convergence, StopReason};
use pgmkit::infer::{BoundKind, EstimateKind, LogZEstimate};
use serde::Serialize;

use crate::cli::output::OrderedMap;

// ------------------------------------------------------------------------------- results

/// What a log Z figure is, for text output (JSON `kind` is the library's [`EstimateKind`]).
pub fn kind_text(k: EstimateKind) -> &'static str {
    match k {
        EstimateKind::Exact => "exact",
        EstimateKind::LowerBound => "lower bound",
        EstimateKind::UpperBound => "upper bound",
        EstimateKind::Stochastic => "stochastic estimate",
        EstimateKind::Sandwich => "sandwich",
        _ => "approximation (no guarantee)",
    }
}

/// What `lower` / `upper` are, for text output (JSON `bound_kind`).
pub fn bound_text(b: BoundKind) -> &'static str {
    match b {
        BoundKind::Exact => "exact",
        BoundKind::Deterministic => "deterministic",
        _ => "stochastic, in expectation",
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
    pub(crate) fn of(r: &AisResult) -> AisPart {
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
    pub kind: EstimateKind,
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
pub(crate) fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Row {
    pub(crate) fn new(method: &'static str, log_z: f64, kind: EstimateKind, seconds: f64) -> Row {
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
    pub(crate) fn from_estimate(method: &'static str, est: &LogZEstimate, seconds: f64) -> Row {
        let mut r = Row::new(method, est.log_z, est.kind, seconds);
        r.std_err = est.std_err.and_then(finite);
        r.ess = est.ess.and_then(finite);
        r.lower = est.lower;
        r.upper = est.upper;
        r.bound_kind = est.bound_kind;
        r.lower_std_err = est.lower_std_err.and_then(finite);
        r.upper_std_err = est.upper_std_err.and_then(finite);
        r
    }

    pub(crate) fn set_ais(&mut self, o: &AisOptions, res: &AisResult) {
        self.std_err = finite(res.std_err);
        self.ess = finite(res.ess);
        self.seed = Some(o.seed);
        self.particles = Some(res.log_weights.len());
        self.steps = Some(res.betas.len().saturating_sub(1));
        self.sweeps = Some(o.sweeps);
        self.schedule = Some(schedule_name(o.schedule));
        self.base = Some(base_name(res.base));
        self.kernel = Some(res.kernel.name());
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

    pub(crate) fn set_convergence(&mut self, c: Convergence) {
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
                    EstimateKind::Approximate => "",
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
