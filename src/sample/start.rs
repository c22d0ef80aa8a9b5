//! Start states of positive probability for MCMC on a factor graph under evidence
//! ([`StartSearch`], [`find_start_state`]).

use rand::Rng;

use super::site::*;
use crate::error::{Error, Result};
use crate::infer::exact::{self, ExactOptions};
use crate::model::FactorGraph;
use crate::var::Evidence;

// ---------------------------------------------------------------------------------------------
// Start states
// ---------------------------------------------------------------------------------------------

/// Finds start states of positive probability for MCMC on a factor graph under evidence.
///
/// A uniform random state (observed variables at their evidence) is repaired by a few greedy
/// sweeps (each variable takes the state that makes the fewest of its factors zero) and then a
/// focused random walk (a variable of a zero factor is reset, to its best state or, with
/// probability 0.2, at random), with restarts. If that fails and the model is small enough for
/// exact inference, the exact partition function decides: zero gives
/// [`Error::ZeroProbabilityEvidence`]; otherwise variables are fixed one by one to states that
/// keep it positive. Otherwise the error asks for a start state (for a Bayesian network, a forward
/// sample consistent with the evidence works).
#[derive(Debug, Clone)]
pub struct StartSearch<'a> {
    fg: &'a FactorGraph,
    local: Local,
}

/// Restarts of the local search.
const SEARCH_RESTARTS: usize = 8;
/// Memory limit of the exact fallback of the start search.
const SEARCH_EXACT_MEMORY: f64 = 256.0 * 1024.0 * 1024.0;

impl<'a> StartSearch<'a> {
    /// Prepare a search on `fg` under `ev` (errors as [`Gibbs::new`]).
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
        let opts = ExactOptions {
            memory_limit: SEARCH_EXACT_MEMORY,
            ..ExactOptions::default()
        };
        let mut fixed = l.fixed.clone();
        let positive = |fixed: &Vec<Option<usize>>| -> Result<bool> {
            match exact::log_z(self.fg, &Evidence::from_options(fixed.clone()), &opts) {
                Ok(z) => Ok(z.log_z > f64::NEG_INFINITY),
                Err(Error::ZeroProbabilityEvidence) => Ok(false),
                Err(e) => Err(e),
            }
        };
        match positive(&fixed) {
            Ok(true) => {}
            Ok(false) => return Err(Error::ZeroProbabilityEvidence),
            Err(Error::TooLarge { .. }) => {
                return Err(Error::InvalidModel(format!(
                    "no state of positive probability was found ({SEARCH_RESTARTS} restarts of \
                     local search over {} free variables) and the model is too large to settle \
                     it exactly; pass a start state (for a Bayesian network, a forward sample \
                     that agrees with the evidence)",
                    l.free.len()
                )))
            }
            Err(e) => return Err(e),
        }
        for &i in &l.free {
            let i = i as usize;
            let c = l.cards[i];
            let off = pick_index(rng, c);
            let mut found = false;
            for k in 0..c {
                fixed[i] = Some((off + k) % c);
                if positive(&fixed)? {
                    found = true;
                    break;
                }
            }
            if !found {
                return Err(Error::InvalidModel(
                    "exact decimation found no state of positive probability".into(),
                ));
            }
        }
        let x: Vec<usize> = fixed.iter().map(|s| s.unwrap_or(0)).collect();
        debug_assert!(self.is_valid(&x));
        Ok(x)
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
