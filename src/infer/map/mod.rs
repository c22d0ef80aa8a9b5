//! MAP / MPE: the most probable explanation of a model given evidence.
//!
//! [`map`] is the one entry point: exact max-product on the junction tree where it fits
//! ([`crate::infer::exact::mpe`], marginal MAP with a query), and beyond it a certified upper
//! bound from the dual of the LP relaxation ([`map_dual`]: MPLP block coordinate descent,
//! Globerson & Jaakkola 2007, in its star form for factors of any arity, tightened with cycle
//! clusters) with a best-found assignment from decoding plus iterated conditional modes, and
//! simulated annealing on the engine's MCMC kernels ([`map_anneal`]). The gap between the
//! assignment's value and the bound says how far from optimal it can be; it closes
//! (`optimal`) when the relaxation is tight.
//!
//! For messages `λ_{f→i}` the dual objective
//! `D(λ) = Σ_i max_{x_i} Σ_{f∋i} λ_{f→i}(x_i) + Σ_f max_{x_f} [θ_f(x_f) - Σ_{i∈f} λ_{f→i}(x_i)]`
//! is at least `max_x Σ_f θ_f(x_f)` for any `λ` (each term bounds its share of any assignment),
//! so every iterate is a valid upper bound; an MPLP update of one factor never raises it.
//! The updates run in a fixed order on one thread: the result depends on the options only.
//!
//! Cost: `O(Σ_f |f| · |table_f|)` per dual sweep.

mod anneal;
mod dual;
mod policy;

pub use anneal::{map_anneal, AnnealOptions};
pub(crate) use dual::{dual_of, sweep_work};
pub use dual::{map_dual, DualOptions};
pub use policy::{map, MapKind, MapMethod, MapOptions, MapReport};

use crate::error::{Error, Result};
use crate::factor::TableFactor;
use crate::var::Evidence;

/// A MAP assignment with its certificate ([`map_dual`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MapResult {
    /// State of every variable (observed ones at their evidence).
    pub assignment: Vec<usize>,
    /// ln of the product of the factors at `assignment` (for a Bayesian network ln P(x, e)).
    pub log_value: f64,
    /// ln of an upper bound on the largest product: `upper_bound >= log_value` always.
    pub upper_bound: f64,
    /// `upper_bound - log_value` (nats, >= 0).
    pub gap: f64,
    /// Whether the gap closed (to [`GAP_TOL`] relative): `assignment` is a MAP.
    pub optimal: bool,
    /// Sweeps run.
    pub sweeps: usize,
    /// Whether the deadline stopped the sweeps.
    pub time_limited: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The factors reduced by the evidence, over their remaining scopes, with per-variable lists.
pub(super) struct Reduced {
    pub(super) cards: Vec<usize>,
    /// (scope, log values, strides in the table)
    pub(super) factors: Vec<(Vec<usize>, Vec<f64>, Vec<usize>)>,
    pub(super) constant: f64,
    pub(super) of_var: Vec<Vec<(usize, usize)>>, // (factor, position in its scope)
}

pub(super) fn reduce(cards: Vec<usize>, all: &[TableFactor], ev: &Evidence) -> Result<Reduced> {
    let mut factors = Vec::new();
    let mut constant = 0.0;
    for f in all {
        let r: TableFactor = f.reduce(ev);
        if r.scope().is_empty() {
            constant += r.log_values()[0];
            continue;
        }
        let scope: Vec<usize> = r.scope().iter().map(|v| v.index()).collect();
        let st = crate::factor::index::strides(r.cards());
        factors.push((scope, r.log_values().to_vec(), st));
    }
    if constant == f64::NEG_INFINITY {
        return Err(Error::ZeroProbabilityEvidence);
    }
    let mut of_var = vec![Vec::new(); cards.len()];
    for (k, (scope, _, _)) in factors.iter().enumerate() {
        for (p, &v) in scope.iter().enumerate() {
            of_var[v].push((k, p));
        }
    }
    Ok(Reduced {
        cards,
        factors,
        constant,
        of_var,
    })
}

/// ln of the product of all factors at `x` (a full assignment).
pub(super) fn value(r: &Reduced, x: &[usize]) -> f64 {
    r.constant
        + r.factors
            .iter()
            .map(|(scope, vals, st)| {
                vals[scope.iter().zip(st).map(|(&v, &s)| x[v] * s).sum::<usize>()]
            })
            .sum::<f64>()
}

/// Iterated conditional modes from `x`: each unobserved variable in turn takes its best state
/// given the others (ties keep the current one), until a full pass changes nothing.
pub(super) fn icm(r: &Reduced, free: &[bool], x: &mut [usize]) {
    let local = |x: &mut [usize], v: usize, s: usize| -> f64 {
        let old = x[v];
        x[v] = s;
        let t = r.of_var[v]
            .iter()
            .map(|&(k, _)| {
                let (scope, vals, st) = &r.factors[k];
                vals[scope.iter().zip(st).map(|(&u, &s)| x[u] * s).sum::<usize>()]
            })
            .sum();
        x[v] = old;
        t
    };
    for _ in 0..1000 {
        let mut changed = false;
        for v in 0..x.len() {
            if !free[v] {
                continue;
            }
            let cur = local(x, v, x[v]);
            let mut best = (cur, x[v]);
            for s in 0..r.cards[v] {
                let t = local(x, v, s);
                if t > best.0 + 1e-12 * t.abs().max(1.0) {
                    best = (t, s);
                }
            }
            if best.1 != x[v] {
                x[v] = best.1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}
/// Relative gap below which the assignment is reported optimal (rounding of the sums).
pub const GAP_TOL: f64 = 1e-7;

/// The most negative message: finite, so sums of messages never meet infinities.
pub(super) const HUGE: f64 = 1e30;

/// Advance a row-major counter over the states of `scope`.
pub(super) fn odometer(x: &mut [usize], scope: &[usize], cards: &[usize]) {
    for p in (0..x.len()).rev() {
        x[p] += 1;
        if x[p] < cards[scope[p]] {
            return;
        }
        x[p] = 0;
    }
}
