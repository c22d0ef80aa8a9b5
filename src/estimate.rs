//! What every estimate is: the log Z result ([`LogZEstimate`], its [`EstimateKind`] and
//! [`BoundKind`]) and the exact or variational marginals ([`Posterior`]), shared by inference
//! ([`crate::infer`]) and sampling ([`crate::sample`]); re-exported from [`crate::infer`].

use crate::num;

/// What a log Z figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EstimateKind {
    /// Exact up to floating-point rounding.
    Exact,
    /// A guaranteed lower bound.
    LowerBound,
    /// A guaranteed upper bound.
    UpperBound,
    /// A stochastic estimate with a standard error.
    Stochastic,
    /// An approximation with no guarantee (e.g. the Bethe free energy).
    Approximate,
    /// A stochastic lower and upper bound around the estimate (BDMC: forward and reverse AIS).
    Sandwich,
}

/// What the `lower` / `upper` of a [`LogZEstimate`] are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BoundKind {
    /// Both equal the exact value.
    Exact,
    /// Guaranteed bounds (the mean-field ELBO, the certified TRW bound), up to rounding.
    Deterministic,
    /// Bounds that hold in expectation (reverse AIS, BDMC): one run can cross the true value by
    /// a few standard errors (`lower_std_err`, `upper_std_err`).
    Stochastic,
}

/// A log partition function (or log P(evidence)) with what is known about its accuracy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LogZEstimate {
    /// Natural log of Z.
    pub log_z: f64,
    /// Standard error of `log_z` (stochastic methods).
    pub std_err: Option<f64>,
    /// A lower bound on log Z, when one is known.
    pub lower: Option<f64>,
    /// An upper bound on log Z, when one is known.
    pub upper: Option<f64>,
    /// Effective sample size (importance-sampling methods).
    pub ess: Option<f64>,
    /// What the number is.
    pub kind: EstimateKind,
    /// What `lower` / `upper` are (`None` when neither is set).
    pub bound_kind: Option<BoundKind>,
    /// Standard error of a stochastic `lower` (BDMC's forward run).
    pub lower_std_err: Option<f64>,
    /// Standard error of a stochastic `upper` (reverse AIS, BDMC's reverse run).
    pub upper_std_err: Option<f64>,
}

impl LogZEstimate {
    /// An exact value.
    pub fn exact(log_z: f64) -> Self {
        LogZEstimate {
            log_z,
            std_err: None,
            lower: Some(log_z),
            upper: Some(log_z),
            ess: None,
            kind: EstimateKind::Exact,
            bound_kind: Some(BoundKind::Exact),
            lower_std_err: None,
            upper_std_err: None,
        }
    }

    /// A stochastic estimate with its standard error and effective sample size (no bounds).
    pub fn stochastic(log_z: f64, std_err: Option<f64>, ess: Option<f64>) -> Self {
        LogZEstimate {
            log_z,
            std_err,
            lower: None,
            upper: None,
            ess,
            kind: EstimateKind::Stochastic,
            bound_kind: None,
            lower_std_err: None,
            upper_std_err: None,
        }
    }

    /// The estimate of one annealed importance sampling run (discrete or continuous):
    /// forward, a stochastic estimate; reverse, a stochastic upper bound (`upper` with its
    /// standard error, [`BoundKind::Stochastic`]).
    pub fn annealed(log_z: f64, std_err: f64, ess: f64, reverse: bool) -> Self {
        LogZEstimate {
            log_z,
            std_err: Some(std_err),
            lower: None,
            upper: reverse.then_some(log_z),
            ess: Some(ess),
            kind: if reverse {
                EstimateKind::UpperBound
            } else {
                EstimateKind::Stochastic
            },
            bound_kind: reverse.then_some(BoundKind::Stochastic),
            lower_std_err: None,
            upper_std_err: reverse.then_some(std_err),
        }
    }

    /// The BDMC sandwich (kind [`EstimateKind::Sandwich`]): the forward AIS estimate `lower`
    /// (a stochastic lower bound) with its standard error and ESS as the point estimate, and
    /// the reverse estimate `upper` (a stochastic upper bound) with its standard error.
    pub fn sandwich(lower: f64, lower_se: f64, ess: f64, upper: f64, upper_se: f64) -> Self {
        LogZEstimate {
            log_z: lower,
            std_err: Some(lower_se),
            lower: Some(lower),
            upper: Some(upper),
            ess: Some(ess),
            kind: EstimateKind::Sandwich,
            bound_kind: Some(BoundKind::Stochastic),
            lower_std_err: Some(lower_se),
            upper_std_err: Some(upper_se),
        }
    }

    /// log10 Z.
    pub fn log10_z(&self) -> f64 {
        num::ln_to_log10(self.log_z)
    }
}

/// Single-variable posterior marginals (in log space) and the log normaliser they came with.
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    /// `log_marginals[v][s] = ln P(X_v = s | evidence)`.
    pub log_marginals: Vec<Vec<f64>>,
    /// ln Z (or ln P(evidence)) computed along the way.
    pub log_z: f64,
}

impl Posterior {
    /// Probabilities `P(X_v = s | evidence)` of one variable.
    pub fn marginal(&self, v: crate::var::VarId) -> Vec<f64> {
        num::exp_all(&self.log_marginals[v.index()])
    }
}
