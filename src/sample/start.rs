//! Start states of positive probability for MCMC on a factor graph under evidence
//! ([`StartSearch`], [`find_start_state`]).

use rand::Rng;

use super::site::*;
use crate::error::{Error, Result};
use crate::model::FactorGraph;
use crate::sample::block::BlockGibbs;
use crate::sample::{Tempering, Transition};
use crate::var::Evidence;

// ---------------------------------------------------------------------------------------------
// Start states
// ---------------------------------------------------------------------------------------------

/// Finds start states of positive probability for MCMC on a factor graph under evidence.
///
/// A uniform random state (observed variables at their evidence) is repaired by a few greedy
/// sweeps (each variable takes the state that makes the fewest of its factors zero) and then a
/// focused random walk (a variable of a zero factor is reset, to its best state or, with
/// probability 0.2, at random), with restarts. If that fails and a bucket elimination of the free
/// variables fits (greedy min-weight order, every table within 2^24 entries), one exact draw
/// from the model under the evidence decides ([`BlockGibbs::joint`]): it is a state of positive
/// probability, or there is none and the error is [`Error::ZeroProbabilityEvidence`]. Otherwise
/// the error asks for a start state (for a Bayesian network, a forward sample consistent with
/// the evidence works).
#[derive(Debug, Clone)]
pub struct StartSearch<'a> {
    fg: &'a FactorGraph,
    local: Local,
}

/// Restarts of the local search.
const SEARCH_RESTARTS: usize = 8;
/// Largest bucket table of the exact fallback of the start search.
const SEARCH_EXACT_TABLE: usize = 1 << 24;

impl<'a> StartSearch<'a> {
    /// Prepare a search on `fg` under `ev` (errors as [`Gibbs::new`](crate::sample::gibbs::Gibbs::new)).
    pub fn new(fg: &'a FactorGraph, ev: &Evidence) -> Result<StartSearch<'a>> {
        Ok(StartSearch {
            fg,
            local: Local::new(fg, ev)?,
        })
    }

    /// True if `x` has positive probability under the model and agrees with the evidence.
    pub fn is_valid(&self, x: &[usize]) -> bool {
        x.len() == self.local.n
            && x.iter().zip(&self.local.cards).all(|(&s, &c)| s < c)
            && self
                .local
                .fixed
                .iter()
                .zip(x)
                .all(|(f, &s)| f.is_none_or(|f| f == s))
            && self.local.zero_factors(x) == 0
    }

    /// A state of positive probability that agrees with the evidence.
    pub fn find<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Vec<usize>> {
        if let Some(x) = self.local.local_search(rng, SEARCH_RESTARTS) {
            return Ok(x);
        }
        self.exact_fallback(rng)
    }

    pub(crate) fn exact_fallback<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Vec<usize>> {
        let l = &self.local;
        let ev = Evidence::from_options(l.fixed.clone());
        let Some(joint) = BlockGibbs::joint(self.fg, &ev, SEARCH_EXACT_TABLE)? else {
            return Err(Error::InvalidModel(format!(
                "no state of positive probability was found ({SEARCH_RESTARTS} restarts of \
                 local search over {} free variables) and the model is too large to settle it \
                 exactly; pass a start state (for a Bayesian network, a forward sample that \
                 agrees with the evidence)",
                l.free.len()
            )));
        };
        let prepared = joint.prepare(&Tempering::TARGET);
        let mut x: Vec<usize> = l.fixed.iter().map(|s| s.unwrap_or(0)).collect();
        joint.sweep(&mut x, &prepared, rng);
        if self.is_valid(&x) {
            Ok(x)
        } else {
            // an exact draw has probability zero only when every state has
            Err(Error::ZeroProbabilityEvidence)
        }
    }
}

/// A start state of positive probability for `fg` under `ev` (see [`StartSearch`]).
pub fn find_start_state<R: Rng + ?Sized>(
    fg: &FactorGraph,
    ev: &Evidence,
    rng: &mut R,
) -> Result<Vec<usize>> {
    StartSearch::new(fg, ev)?.find(rng)
}
