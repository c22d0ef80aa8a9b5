//! When iterative work stops: [`StopRule`] (an iteration cap, a tolerance, a time budget) and
//! [`Convergence`] (how a run ended), shared by belief propagation, mean field, TRW, Gaussian
//! BP, EM and the learners.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// When an iterative algorithm stops: after `max_iters` sweeps, when the change of a sweep is
/// at most `tol`, or when `max_time` has passed (checked after every sweep), whichever comes
/// first.
///
/// ```
/// use pgmkit::stop::StopRule;
/// use std::time::Duration;
/// let stop = StopRule { max_iters: 500, tol: 1e-6, max_time: Some(Duration::from_secs(2)) };
/// assert!(stop.validate().is_ok());
/// assert_eq!(StopRule::default().tol, 1e-9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopRule {
    /// Largest number of sweeps (iterations).
    pub max_iters: usize,
    /// Convergence tolerance on the change of one sweep (what "change" means is documented by
    /// each algorithm).
    pub tol: f64,
    /// Wall-clock budget, checked after each sweep.
    pub max_time: Option<Duration>,
}

impl Default for StopRule {
    /// 10 000 sweeps, tolerance 1e-9, no time limit.
    fn default() -> Self {
        StopRule {
            max_iters: 10_000,
            tol: 1e-9,
            max_time: None,
        }
    }
}

impl StopRule {
    /// A rule with the given iteration cap and tolerance and no time limit.
    pub fn new(max_iters: usize, tol: f64) -> Self {
        StopRule {
            max_iters,
            tol,
            max_time: None,
        }
    }

    /// The same rule with a wall-clock budget.
    pub fn with_max_time(mut self, max_time: Duration) -> Self {
        self.max_time = Some(max_time);
        self
    }

    /// Check the rule: `tol` must be finite and non-negative.
    pub fn validate(&self) -> Result<()> {
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "stop rule tolerance must be finite and >= 0, got {}",
                self.tol
            )));
        }
        Ok(())
    }

    /// Decide after sweep number `iters` (1-based) with change `delta`, for a run started at
    /// `start`: `Some(reason)` to stop, `None` to go on. Convergence wins over the other two
    /// reasons when several hold at once.
    ///
    /// ```
    /// use pgmkit::stop::{StopReason, StopRule};
    /// use std::time::Instant;
    /// let stop = StopRule::new(10, 1e-6);
    /// let t0 = Instant::now();
    /// assert_eq!(stop.check(3, 1e-3, t0), None);
    /// assert_eq!(stop.check(4, 1e-7, t0), Some(StopReason::Converged));
    /// assert_eq!(stop.check(10, 1e-3, t0), Some(StopReason::MaxIters));
    /// ```
    pub fn check(&self, iters: usize, delta: f64, start: Instant) -> Option<StopReason> {
        if delta <= self.tol {
            Some(StopReason::Converged)
        } else if iters >= self.max_iters {
            Some(StopReason::MaxIters)
        } else if self.max_time.is_some_and(|t| start.elapsed() >= t) {
            Some(StopReason::TimeLimit)
        } else {
            None
        }
    }
}

/// Why an iterative algorithm stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The change of the last sweep was at most the tolerance.
    Converged,
    /// The iteration cap was reached first.
    MaxIters,
    /// The time budget ran out first.
    TimeLimit,
}

/// How an iterative run ended.
///
/// ```
/// use pgmkit::infer::variational::{MeanField, StopReason, StopRule};
/// use pgmkit::model::{ising_grid, Boundary};
/// use pgmkit::Evidence;
/// let g = ising_grid(3, 3, Boundary::Free, |_, _| 0.2, |_| 0.1).unwrap();
/// let mf = MeanField { stop: StopRule::new(2, 0.0), ..Default::default() };
/// let c = mf.run(&g, &Evidence::new(9)).unwrap().convergence;
/// assert_eq!((c.iters, c.reason), (2, StopReason::MaxIters));
/// assert!(!c.converged());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Convergence {
    /// Sweeps done.
    pub iters: usize,
    /// Change of the last sweep (see the algorithm for its definition); 0 when nothing was left
    /// to iterate.
    pub delta: f64,
    /// Why the run stopped.
    pub reason: StopReason,
}

impl Convergence {
    /// True when the run met its tolerance.
    pub fn converged(&self) -> bool {
        self.reason == StopReason::Converged
    }
}
