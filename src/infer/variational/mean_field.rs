//! Naive mean field: coordinate ascent on the evidence lower bound (ELBO).

use super::problem::{
    entropy, expect, for_each_item, next_states, split_segments, BranchRule, Problem,
};
use super::{
    check_damping, iterate, trivially_converged, Convergence, StopRule, VariationalResult,
};
use crate::error::{Error, Result};
use crate::infer::{BoundKind, EstimateKind, LogZEstimate};
use crate::model::FactorGraph;
use crate::var::Evidence;

/// Smallest colour class updated on the rayon pool.
const PAR_MIN_VARS: usize = 1024;

/// Search nodes allowed when looking for a starting box with non-zero probability.
const BOX_BUDGET: usize = 10_000;

/// Naive (fully factorised) mean field: `q(x) = prod_i q_i(x_i)`, fitted by coordinate ascent
/// on the ELBO `E_q[ln p~(x)] + H(q)`, a guaranteed lower bound on ln Z.
///
/// - **Updates.** One sweep updates every variable once, `q_i(x_i) ∝ exp(E_{q_-i}[sum of the
///   log factors containing i])`, colour class by colour class (variables of one class share no
///   factor and are updated in parallel, which equals sequential updates in that order). With
///   `damping = a`, the new `q_i` is `(1 - a) q_i* + a q_i(old)`; each update (damped or not)
///   never decreases the ELBO, because the ELBO is concave in `q_i` alone.
/// - **Bound.** The reported `log_z` is the ELBO of the returned `q`, recomputed from it after
///   the last sweep, so it is a true lower bound whether or not the run converged.
/// - **Zeros.** A state whose expected log potential is `-inf` gets `q = 0`, and `0 * ln 0` counts
///   as 0, so no NaN arises. A start must have a finite ELBO: when the uniform distribution
///   already meets a zero of some factor, mean field starts instead from the uniform
///   distribution over a box of states (a set of states per variable) on which every factor is
///   non-zero, found by a depth-first search over single-variable assignments with arc
///   consistency. Two branching rules are tried (fewest states left; fewest zeros left) and the
///   run with the higher ELBO is kept (the stop rule's time budget covers both runs). If neither finds a box within 10 000 search nodes the
///   result is [`Error::InvalidArgument`](crate::Error::InvalidArgument); if the search proves
///   that no box exists, [`Error::ZeroProbabilityEvidence`](crate::Error::ZeroProbabilityEvidence).
///   With many zeros the box can be a single assignment, and mean field may stay there: the
///   bound is then valid but loose.
/// - **Convergence.** `delta` is the largest change of any `q_i(x)` over one sweep.
///
/// Cost per sweep: `O(sum over factors of arity x table size)`, with a fast path for pairwise
/// factors.
///
/// ```
/// use pgmkit::infer::variational::MeanField;
/// use pgmkit::infer::exact::{self, ExactOptions};
/// use pgmkit::model::{ising_grid, Boundary};
/// use pgmkit::infer::EstimateKind;
/// use pgmkit::Evidence;
///
/// let g = ising_grid(5, 5, Boundary::Free, |_, _| 0.4, |_| 0.1).unwrap();
/// let ev = Evidence::new(25);
/// let mf = MeanField::default().run(&g, &ev).unwrap();
/// assert_eq!(mf.log_z.kind, EstimateKind::LowerBound);
/// assert!(mf.convergence.converged());
/// let exact = exact::log_z(&g, &ev, &ExactOptions::default()).unwrap().log_z;
/// assert!(mf.log_z.log_z <= exact && exact - mf.log_z.log_z < 2.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanField {
    /// Damping in `[0, 1)`: weight of the old `q_i` in each update. Default 0.
    pub damping: f64,
    /// When to stop (default: 10 000 sweeps, tolerance 1e-9).
    pub stop: StopRule,
}

impl Default for MeanField {
    fn default() -> Self {
        MeanField {
            damping: 0.0,
            stop: StopRule::default(),
        }
    }
}

/// A neighbour of a variable in the mean-field graph.
#[derive(Debug, Clone, Copy)]
enum Nbr {
    /// A pairwise factor: the other variable and whether this variable is first in the scope.
    Pair {
        factor: u32,
        other: u32,
        first: bool,
    },
    /// A factor over three or more variables and this variable's position in it.
    General { factor: u32, pos: u32 },
}

struct Engine<'p> {
    p: &'p Problem,
    off: Vec<usize>,
    nbr_off: Vec<usize>,
    nbrs: Vec<Nbr>,
    classes: Vec<Vec<usize>>,
    damping: f64,
}

impl<'p> Engine<'p> {
    fn new(p: &'p Problem, damping: f64) -> Self {
        let n = p.num_vars();
        let mut off = Vec::with_capacity(n + 1);
        off.push(0);
        for &c in &p.cards {
            off.push(off.last().unwrap() + c);
        }
        let mut nbr_off = Vec::with_capacity(n + 1);
        nbr_off.push(0);
        let mut nbrs = Vec::new();
        for i in 0..n {
            for &(a, pos) in &p.var_factors[i] {
                let f = &p.factors[a];
                nbrs.push(if f.vars.len() == 2 {
                    Nbr::Pair {
                        factor: a as u32,
                        other: f.vars[1 - pos] as u32,
                        first: pos == 0,
                    }
                } else {
                    Nbr::General {
                        factor: a as u32,
                        pos: pos as u32,
                    }
                });
            }
            nbr_off.push(nbrs.len());
        }
        Engine {
            p,
            off,
            nbr_off,
            nbrs,
            classes: p.colour_classes(),
            damping,
        }
    }

    fn q_of<'a>(&self, q: &'a [f64], v: usize) -> &'a [f64] {
        &q[self.off[v]..self.off[v + 1]]
    }

    /// Expected log potential of each state of `i` under the other variables' `q`, into `e`.
    fn expected(&self, i: usize, q: &[f64], e: &mut [f64], st: &mut Vec<usize>) {
        e.copy_from_slice(&self.p.unary[i]);
        for nb in &self.nbrs[self.nbr_off[i]..self.nbr_off[i + 1]] {
            match *nb {
                Nbr::Pair {
                    factor,
                    other,
                    first,
                } => {
                    let f = &self.p.factors[factor as usize];
                    let qo = self.q_of(q, other as usize);
                    let co = qo.len();
                    for (x, ex) in e.iter_mut().enumerate() {
                        let mut acc = 0.0;
                        for (y, &w) in qo.iter().enumerate() {
                            if w > 0.0 {
                                let idx = if first {
                                    x * co + y
                                } else {
                                    y * f.cards[1] + x
                                };
                                acc += w * f.table[idx];
                            }
                        }
                        *ex += acc;
                    }
                }
                Nbr::General { factor, pos } => {
                    let f = &self.p.factors[factor as usize];
                    let pos = pos as usize;
                    st.clear();
                    st.resize(f.vars.len(), 0);
                    let mut idx = 0;
                    loop {
                        let mut w = 1.0;
                        for (p, (&v, &s)) in f.vars.iter().zip(st.iter()).enumerate() {
                            if p != pos {
                                w *= q[self.off[v] + s];
                            }
                        }
                        if w > 0.0 {
                            e[st[pos]] += w * f.table[idx];
                        }
                        idx += 1;
                        if !next_states(st, &f.cards) {
                            break;
                        }
                    }
                }
            }
        }
    }

    /// New `q_i` into `out`.
    fn update(&self, i: usize, q: &[f64], out: &mut [f64], e: &mut Vec<f64>, st: &mut Vec<usize>) {
        let old = self.q_of(q, i);
        e.clear();
        e.resize(old.len(), 0.0);
        self.expected(i, q, e, st);
        if !super::problem::softmax_into(e, out) {
            // cannot happen from a start with finite ELBO; keep the old q_i
            out.copy_from_slice(old);
            return;
        }
        if self.damping > 0.0 {
            let a = self.damping;
            for (o, &q0) in out.iter_mut().zip(old) {
                *o = (1.0 - a) * *o + a * q0;
            }
        }
    }

    fn sweep(&self, q: &mut [f64], buf: &mut Vec<f64>) -> f64 {
        let mut delta = 0.0f64;
        for class in &self.classes {
            let total: usize = class.iter().map(|&i| self.p.cards[i]).sum();
            buf.clear();
            buf.resize(total, 0.0);
            let segs = split_segments(buf, class.iter().map(|&i| self.p.cards[i]));
            let qr: &[f64] = q;
            let items: Vec<_> = segs.into_iter().zip(class.iter().copied()).collect();
            for_each_item(
                items,
                PAR_MIN_VARS,
                || (Vec::new(), Vec::new()),
                |(e, st), (seg, i)| self.update(i, qr, seg, e, st),
            );
            let mut pos = 0;
            for &i in class {
                let c = self.p.cards[i];
                let qi = &mut q[self.off[i]..self.off[i] + c];
                for (x, &y) in qi.iter_mut().zip(&buf[pos..pos + c]) {
                    delta = delta.max((*x - y).abs());
                    *x = y;
                }
                pos += c;
            }
        }
        delta
    }

    /// `E_q[ln p~] + H(q)` (plus the problem's constant), skipping zero-probability entries.
    fn elbo(&self, q: &[f64]) -> f64 {
        let p = self.p;
        let mut total = p.constant;
        for i in 0..p.num_vars() {
            let qi = self.q_of(q, i);
            total += expect(qi, &p.unary[i]) + entropy(qi);
        }
        let mut st = Vec::new();
        for f in &p.factors {
            if f.vars.len() == 2 {
                let (qa, qb) = (self.q_of(q, f.vars[0]), self.q_of(q, f.vars[1]));
                let cb = qb.len();
                for (x, &wa) in qa.iter().enumerate() {
                    if wa > 0.0 {
                        total += wa * expect(qb, &f.table[x * cb..(x + 1) * cb]);
                    }
                }
            } else {
                st.clear();
                st.resize(f.vars.len(), 0);
                let mut idx = 0;
                loop {
                    let w: f64 = f
                        .vars
                        .iter()
                        .zip(st.iter())
                        .map(|(&v, &s)| q[self.off[v] + s])
                        .product();
                    if w > 0.0 {
                        total += w * f.table[idx];
                    }
                    idx += 1;
                    if !next_states(&mut st, &f.cards) {
                        break;
                    }
                }
            }
        }
        total
    }
}

impl MeanField {
    /// Fit mean field to `fg` under `ev`.
    ///
    /// Errors: invalid damping or stop rule ([`Error::InvalidArgument`](crate::Error::InvalidArgument)),
    /// evidence that does not fit the model, Z = 0 proven
    /// ([`Error::ZeroProbabilityEvidence`](crate::Error::ZeroProbabilityEvidence)), and no
    /// starting box found (see the type's documentation).
    pub fn run(&self, fg: &FactorGraph, ev: &Evidence) -> Result<VariationalResult> {
        check_damping(self.damping)?;
        self.stop.validate()?;
        let p = Problem::new(fg, ev)?;
        let eng = Engine::new(&p, self.damping);
        // Starting boxes: the whole space, or (with zeros) one box per branching rule.
        let first = p.feasible_box(BOX_BUDGET, BranchRule::SmallestDomain);
        let starts = match first {
            Ok(b) if b.iter().all(|x| x.iter().all(|&y| y)) => vec![b],
            Err(e @ Error::ZeroProbabilityEvidence) => return Err(e),
            first => {
                let second = p.feasible_box(BOX_BUDGET, BranchRule::FewestZeros);
                match (first, second) {
                    (_, Err(e @ Error::ZeroProbabilityEvidence)) => return Err(e),
                    (Ok(a), Ok(b)) if a == b => vec![a],
                    (Ok(a), Ok(b)) => vec![a, b],
                    (Ok(a), Err(_)) | (Err(_), Ok(a)) => vec![a],
                    (Err(e), Err(_)) => return Err(e),
                }
            }
        };
        // one time budget for all starts
        let t0 = std::time::Instant::now();
        let mut best: Option<(f64, Vec<f64>, Convergence)> = None;
        for start in &starts {
            let mut stop = self.stop;
            if let Some(t) = stop.max_time {
                if best.is_some() && t0.elapsed() >= t {
                    break;
                }
                stop.max_time = Some(t.saturating_sub(t0.elapsed()));
            }
            let mut q: Vec<f64> = Vec::with_capacity(*eng.off.last().unwrap());
            for b in start {
                let k = b.iter().filter(|&&x| x).count() as f64;
                q.extend(b.iter().map(|&x| if x { 1.0 / k } else { 0.0 }));
            }
            let convergence = if p.num_vars() == 0 {
                trivially_converged()
            } else {
                let mut buf = Vec::new();
                iterate(&stop, || eng.sweep(&mut q, &mut buf))
            };
            let elbo = eng.elbo(&q);
            if best.as_ref().is_none_or(|b| elbo > b.0) {
                best = Some((elbo, q, convergence));
            }
        }
        let (elbo, q, convergence) = best.expect("at least one start");
        let local: Vec<Vec<f64>> = (0..p.num_vars())
            .map(|i| eng.q_of(&q, i).iter().map(|&x| x.ln()).collect())
            .collect();
        Ok(VariationalResult {
            log_z: LogZEstimate {
                log_z: elbo,
                std_err: None,
                lower: Some(elbo),
                upper: None,
                ess: None,
                kind: EstimateKind::LowerBound,
                bound_kind: Some(BoundKind::Deterministic),
                lower_std_err: None,
                upper_std_err: None,
            },
            marginals: p.posterior(&local, elbo),
            convergence,
        })
    }
}
