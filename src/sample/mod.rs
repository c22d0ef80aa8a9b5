//! Sampling: forward (ancestral) sampling and likelihood weighting of Bayesian networks, and MCMC
//! (Gibbs, Metropolis-Hastings) on any discrete factor graph, run on parallel chains.
//!
//! MCMC kernels implement [`Transition`]; they target the tempered distribution
//! `p_beta(x) ∝ p0(x)^(1-beta) * p~(x)^beta` described by [`Tempering`], so that annealed
//! importance sampling can reuse them unchanged (beta = 1 and no base is the model itself).

pub mod ancestral;
pub mod chains;
pub mod gibbs;
pub mod mh;
pub mod weighting;

use rand::Rng;

/// The tempered target `p_beta(x) ∝ p0(x)^(1-beta) p~(x)^beta`.
///
/// `base` is a fully factorised `p0`: per variable, normalised log probabilities of its states
/// (`None` = uniform, which is a constant and so drops out of every conditional).
#[derive(Debug, Clone, Copy)]
pub struct Tempering<'a> {
    /// Inverse temperature in [0, 1].
    pub beta: f64,
    /// Fully factorised base distribution (log probabilities per variable and state).
    pub base: Option<&'a [Vec<f64>]>,
}

impl Tempering<'static> {
    /// The model itself (beta = 1).
    pub const TARGET: Tempering<'static> = Tempering {
        beta: 1.0,
        base: None,
    };
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Single-site updates (or proposals) made.
    pub updates: u64,
    /// Proposals accepted (Metropolis-Hastings) or state changes (Gibbs).
    pub accepted: u64,
}

/// An MCMC transition kernel on the joint state of a discrete model.
///
/// A kernel owns what it precomputed from a model (neighbourhoods, evidence clamps) and is
/// shared read-only by all chains; the chain state is a `&mut [usize]`, one state index per
/// model variable. Observed (clamped) variables are never changed.
pub trait Transition: Send + Sync {
    /// Number of model variables the state must have.
    fn num_vars(&self) -> usize;

    /// One sweep (about one update per free variable), leaving `p_beta` of `temp` invariant.
    fn sweep<R: Rng + ?Sized>(
        &self,
        state: &mut [usize],
        temp: &Tempering<'_>,
        rng: &mut R,
    ) -> SweepStats;
}
