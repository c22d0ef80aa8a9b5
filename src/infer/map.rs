//! MAP / MPE beyond exact inference: a certified upper bound from the dual of the LP
//! relaxation (MPLP block coordinate descent, Globerson & Jaakkola 2007, in its star form for
//! factors of any arity) and a best-found assignment from decoding the dual beliefs plus
//! iterated conditional modes. The gap between the two says how far from optimal the
//! assignment can be; it closes (`optimal`) when the relaxation is tight.
//!
//! For messages `λ_{f→i}` the dual objective
//! `D(λ) = Σ_i max_{x_i} Σ_{f∋i} λ_{f→i}(x_i) + Σ_f max_{x_f} [θ_f(x_f) - Σ_{i∈f} λ_{f→i}(x_i)]`
//! is at least `max_x Σ_f θ_f(x_f)` for any `λ` (each term bounds its share of any assignment),
//! so every iterate is a valid upper bound; an MPLP update of one factor never raises it.
//! The updates run in a fixed order on one thread: the result depends on the options only.
//!
//! Cost: `O(Σ_f |f| · |table_f|)` per sweep.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::factor::TableFactor;
use crate::limits::Deadline;
use crate::model::FactorGraph;
use crate::var::{Evidence, VarId};

/// Options of [`map_dual`].
#[derive(Debug, Clone, PartialEq)]
pub struct DualOptions {
    /// Most sweeps over the factors (default 1000).
    pub max_sweeps: usize,
    /// Stop when five sweeps in a row lower the bound by less than this each (absolute, nats;
    /// default 1e-7), or the gap closes.
    pub tol: f64,
    /// Deadline: no sweep starts after it.
    pub deadline: Deadline,
}

impl Default for DualOptions {
    fn default() -> Self {
        DualOptions {
            max_sweeps: 1000,
            tol: 1e-7,
            deadline: Deadline::NONE,
        }
    }
}

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
struct Reduced {
    cards: Vec<usize>,
    /// (scope, log values, strides in the table)
    factors: Vec<(Vec<usize>, Vec<f64>, Vec<usize>)>,
    constant: f64,
    of_var: Vec<Vec<(usize, usize)>>, // (factor, position in its scope)
}

fn reduce(fg: &FactorGraph, ev: &Evidence) -> Result<Reduced> {
    let cards = fg.cards();
    let mut factors = Vec::new();
    let mut constant = 0.0;
    for f in fg.factors() {
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
fn value(r: &Reduced, x: &[usize]) -> f64 {
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
fn icm(r: &Reduced, free: &[bool], x: &mut [usize]) {
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

/// MAP of a factor graph under evidence by MPLP on the dual of the LP relaxation: an upper
/// bound, and the best assignment decoded from the beliefs (then improved by iterated
/// conditional modes) along the way. Any size (no junction tree); see the module docs.
/// Errors: [`Error::ZeroProbabilityEvidence`] when the evidence alone has probability zero.
///
/// ```
/// use pgmkit::infer::map::{map_dual, DualOptions};
/// use pgmkit::model::{ising_grid, Boundary};
/// use pgmkit::Evidence;
/// // a ferromagnet with a field: all spins up is the MAP, and the relaxation is tight
/// let g = ising_grid(6, 6, Boundary::Free, |_, _| 0.5, |_| 0.1).unwrap();
/// let r = map_dual(&g, &Evidence::new(36), &DualOptions::default()).unwrap();
/// assert!(r.optimal && r.gap < 1e-6);
/// assert!(r.upper_bound >= r.log_value);
/// ```
pub fn map_dual(fg: &FactorGraph, ev: &Evidence, opts: &DualOptions) -> Result<MapResult> {
    let t0 = Instant::now();
    let r = reduce(fg, ev)?;
    let n = r.cards.len();
    let free: Vec<bool> = (0..n).map(|i| ev.get(VarId(i as u32)).is_none()).collect();
    // messages λ[f][p][x] from factor f to the p-th variable of its scope
    let mut lam: Vec<Vec<Vec<f64>>> = r
        .factors
        .iter()
        .map(|(scope, _, _)| scope.iter().map(|&v| vec![0.0; r.cards[v]]).collect())
        .collect();
    let belief = |lam: &Vec<Vec<Vec<f64>>>, v: usize, skip: Option<usize>| -> Vec<f64> {
        let mut b = vec![0.0; r.cards[v]];
        for &(k, p) in &r.of_var[v] {
            if Some(k) == skip {
                continue;
            }
            for (x, m) in b.iter_mut().zip(&lam[k][p]) {
                *x += m;
            }
        }
        b
    };
    let bound = |lam: &Vec<Vec<Vec<f64>>>| -> f64 {
        let mut d = r.constant;
        for v in 0..n {
            if !r.of_var[v].is_empty() {
                d += belief(lam, v, None)
                    .into_iter()
                    .fold(f64::NEG_INFINITY, f64::max);
            }
        }
        for (k, (scope, vals, _)) in r.factors.iter().enumerate() {
            let mut best = f64::NEG_INFINITY;
            let mut x = vec![0usize; scope.len()];
            for &val in vals {
                let mut t = val;
                for (p, &s) in x.iter().enumerate() {
                    t -= lam[k][p][s];
                }
                best = best.max(t);
                odometer(&mut x, scope, &r.cards);
            }
            d += best;
        }
        d
    };
    let decode = |lam: &Vec<Vec<Vec<f64>>>| -> Vec<usize> {
        (0..n)
            .map(|v| {
                if let Some(s) = ev.get(VarId(v as u32)) {
                    return s;
                }
                let b = belief(lam, v, None);
                (0..b.len()).fold(0, |a, s| if b[s] > b[a] { s } else { a })
            })
            .collect()
    };
    let mut best_x = decode(&lam);
    icm(&r, &free, &mut best_x);
    let mut best_v = value(&r, &best_x);
    let mut ub = bound(&lam);
    let mut sweeps = 0;
    let mut time_limited = false;
    let mut flat = 0;
    let closed = |ub: f64, v: f64| v.is_finite() && ub - v <= GAP_TOL * v.abs().max(1.0);
    while sweeps < opts.max_sweeps && !closed(ub, best_v) {
        if opts.deadline.passed() {
            time_limited = true;
            break;
        }
        for k in 0..r.factors.len() {
            let (scope, vals, _) = &r.factors[k];
            let a = scope.len() as f64;
            // λ_{-f} for each scope variable: the other factors' messages
            let others: Vec<Vec<f64>> = scope.iter().map(|&v| belief(&lam, v, Some(k))).collect();
            // max over the rest of θ_f + Σ_j λ_{-f,j}, per (position, state)
            let mut mx: Vec<Vec<f64>> = scope
                .iter()
                .map(|&v| vec![f64::NEG_INFINITY; r.cards[v]])
                .collect();
            let mut x = vec![0usize; scope.len()];
            for &val in vals {
                let mut t = val;
                for (p, &s) in x.iter().enumerate() {
                    t += others[p][s];
                }
                for (p, &s) in x.iter().enumerate() {
                    if t > mx[p][s] {
                        mx[p][s] = t;
                    }
                }
                odometer(&mut x, scope, &r.cards);
            }
            for p in 0..scope.len() {
                for s in 0..mx[p].len() {
                    // messages stay finite (any finite messages give a valid bound); a state
                    // this factor rules out gets a huge negative message
                    lam[k][p][s] = if mx[p][s] == f64::NEG_INFINITY {
                        -HUGE
                    } else {
                        (mx[p][s] / a - others[p][s]).max(-HUGE)
                    };
                }
            }
        }
        sweeps += 1;
        let nb = bound(&lam);
        let mut x = decode(&lam);
        icm(&r, &free, &mut x);
        let v = value(&r, &x);
        if v > best_v {
            best_v = v;
            best_x = x;
        }
        let drop = ub - nb;
        ub = ub.min(nb);
        // a sweep can leave the bound where it was (the first one from zero messages does):
        // stop after several sweeps in a row that barely move it
        flat = if drop.abs() < opts.tol { flat + 1 } else { 0 };
        if flat >= 5 {
            break;
        }
    }
    if best_v == f64::NEG_INFINITY {
        // no decoded assignment had positive probability: report the bound only
        if ub == f64::NEG_INFINITY {
            return Err(Error::ZeroProbabilityEvidence);
        }
    }
    let ub = ub.max(best_v);
    Ok(MapResult {
        assignment: best_x,
        log_value: best_v,
        upper_bound: ub,
        gap: ub - best_v,
        optimal: closed(ub, best_v),
        sweeps,
        time_limited,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Relative gap below which the assignment is reported optimal (rounding of the sums).
pub const GAP_TOL: f64 = 1e-7;

/// The most negative message: finite, so sums of messages never meet infinities.
const HUGE: f64 = 1e30;

/// Advance a row-major counter over the states of `scope`.
fn odometer(x: &mut [usize], scope: &[usize], cards: &[usize]) {
    for p in (0..x.len()).rev() {
        x[p] += 1;
        if x[p] < cards[scope[p]] {
            return;
        }
        x[p] = 0;
    }
}
