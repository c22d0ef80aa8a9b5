//! Variational inference: naive mean field, loopy belief propagation and tree-reweighted BP.
//!
//! Every method is a plain configuration struct (`Send + Sync`, with [`Default`]) whose
//! `run(&FactorGraph, &Evidence)` returns a [`VariationalResult`]: a [`LogZEstimate`] that says
//! what kind of number it is, single-variable marginals as a [`Posterior`] and a
//! [`Convergence`] record.
//!
//! | method | log Z | kind | models |
//! |---|---|---|---|
//! | [`MeanField`] | ELBO of the returned `q` | [`EstimateKind::LowerBound`](crate::infer::EstimateKind::LowerBound) (`lower` set) | any discrete factor graph |
//! | [`BeliefPropagation`] | Bethe free energy | [`EstimateKind::Approximate`](crate::infer::EstimateKind::Approximate) | any discrete factor graph (exact on trees) |
//! | [`Trw`] | tree-reweighted bound, certified from the messages | [`EstimateKind::UpperBound`](crate::infer::EstimateKind::UpperBound) (`upper` set) | pairwise models only |
//!
//! All three stop on one shared [`StopRule`] (iterations, tolerance, wall-clock time), which
//! other iterative algorithms (EM) reuse.
//!
//! # Preprocessing shared by every method
//!
//! 1. **Evidence** clamps the observed variables: every factor is reduced to its unobserved
//!    variables, factors left with no variable become a constant.
//! 2. **Merging.** Unary factors are summed into one potential per variable, and factors with the
//!    same scope are multiplied into one (for mean field this changes nothing; for BP and TRW it
//!    removes the two-factor loops of a repeated scope).
//! 3. **Zeros.** States that cannot occur are removed by generalised arc consistency: a state
//!    is dropped when some factor gives it zero potential together with every surviving state
//!    of its other variables. A variable left with no state proves Z = 0 and gives
//!    [`Error::ZeroProbabilityEvidence`]. After this step every BP / TRW message is strictly
//!    positive in exact arithmetic, so the log-space arithmetic never meets `-inf - -inf`; in
//!    floating point, log messages are also clamped at `-1e4` below their maximum (a value
//!    whose exponential is 0 in any later sum), which keeps them finite when near-deterministic
//!    factors on loops push a non-converging run towards `-inf`. Removed states get marginal 0
//!    (log marginal `-inf`).
//! 4. **Single states.** Variables with one state (in the model, or left after step 3) are
//!    clamped like evidence, so they vanish from every factor (a factor over three variables
//!    of which one has a single state is pairwise for BP and TRW).
//!
//! # Schedules and threads
//!
//! Pairwise models are run on a variable-to-variable engine. Its sequential schedule visits the
//! variables colour class by colour class (a greedy colouring of the interaction graph in
//! variable order: two variables of one class never share a factor); a variable refreshes its
//! belief from its incoming messages and sends all its outgoing messages. The variables of one
//! class are updated in parallel with rayon, which is exactly a sequential sweep in that order,
//! so results are bit-identical for any number of threads. Mean field uses the same colour
//! classes. Factor graphs with larger factors are run factor by factor in model order (or all
//! at once, in parallel, with [`Schedule::Parallel`]). Classes too small to repay the hand-off
//! to the thread pool (fewer than about a thousand variables; sixteen thousand for binary BP in
//! ratio form) run on the calling thread, with the same result.
//!
//! # Convergence criterion
//!
//! `delta` is the largest change, over one sweep, of any single-variable marginal (belief or
//! `q`), measured in probability (L-infinity), which is libDAI's criterion; a run converges
//! when `delta <= tol`.
//!
//! ```
//! use pgmkit::infer::variational::{BeliefPropagation, MeanField, Trw};
//! use pgmkit::infer::exact::{self, ExactOptions};
//! use pgmkit::model::{ising_grid, Boundary};
//! use pgmkit::Evidence;
//!
//! let g = ising_grid(6, 6, Boundary::Periodic, |_, _| 0.3, |i| 0.05 * (i % 3) as f64).unwrap();
//! let ev = Evidence::new(g.num_vars());
//! let exact = exact::log_z(&g, &ev, &ExactOptions::default()).unwrap().log_z;
//! let mf = MeanField::default().run(&g, &ev).unwrap();
//! let bp = BeliefPropagation::default().run(&g, &ev).unwrap();
//! let trw = Trw::default().run(&g, &ev).unwrap();
//! assert!(mf.log_z.lower.unwrap() <= exact);
//! assert!(exact <= trw.log_z.upper.unwrap());
//! assert!((bp.log_z.log_z - exact).abs() < 0.5);
//! ```

mod loopy_bp;
mod mean_field;
mod pairwise;
mod problem;
mod trw;

use std::time::Instant;

use crate::error::{Error, Result};
use crate::infer::{LogZEstimate, Posterior};

pub use loopy_bp::{BeliefPropagation, Schedule};
pub use mean_field::MeanField;
pub use trw::Trw;
// the stop rule lives in `crate::stop`; re-exported where the variational methods are used
pub use crate::stop::{Convergence, StopReason, StopRule};

/// What every variational method returns.
///
/// ```
/// use pgmkit::infer::variational::BeliefPropagation;
/// use pgmkit::infer::EstimateKind;
/// use pgmkit::model::{ising_grid, Boundary};
/// use pgmkit::{Evidence, VarId};
/// let g = ising_grid(4, 4, Boundary::Free, |_, _| 0.3, |_| 0.2).unwrap();
/// let mut ev = Evidence::new(16);
/// ev.set(g.vars(), VarId(0), 1).unwrap();
/// let r = BeliefPropagation::default().run(&g, &ev).unwrap();
/// assert_eq!(r.log_z.kind, EstimateKind::Approximate);
/// assert_eq!(r.marginals.marginal(VarId(0)), vec![0.0, 1.0]); // clamped
/// assert!(r.marginals.marginal(VarId(5))[1] > 0.5); // pulled up by the field and coupling
/// assert!(r.convergence.converged());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct VariationalResult {
    /// The log Z figure, with its kind (lower bound, approximation, upper bound).
    pub log_z: LogZEstimate,
    /// Single-variable marginals (log space); `marginals.log_z` repeats `log_z.log_z`.
    pub marginals: Posterior,
    /// How the iterations ended.
    pub convergence: Convergence,
}

/// Run sweeps until the stop rule says so. `sweep` returns the change of one sweep.
pub(crate) fn iterate(stop: &StopRule, mut sweep: impl FnMut() -> f64) -> Convergence {
    let start = Instant::now();
    let mut iters = 0;
    if stop.max_iters == 0 {
        return Convergence {
            iters,
            delta: f64::INFINITY,
            reason: StopReason::MaxIters,
        };
    }
    loop {
        let delta = sweep();
        iters += 1;
        if let Some(reason) = stop.check(iters, delta, start) {
            return Convergence {
                iters,
                delta,
                reason,
            };
        }
    }
}

/// Check a damping factor: finite, in `[0, 1)`.
pub(crate) fn check_damping(damping: f64) -> Result<()> {
    if !(damping.is_finite() && (0.0..1.0).contains(&damping)) {
        return Err(Error::InvalidArgument(format!(
            "damping must be in [0, 1), got {damping}"
        )));
    }
    Ok(())
}

/// Convergence record of a run with nothing to iterate.
pub(crate) fn trivially_converged() -> Convergence {
    Convergence {
        iters: 0,
        delta: 0.0,
        reason: StopReason::Converged,
    }
}
