//! Variable-to-variable message passing on pairwise models, with edge weights `rho`:
//! `rho = 1` everywhere is loopy BP, `rho` from spanning trees is tree-reweighted BP.
//!
//! With `B_t(x) = theta_t(x) + sum_{v in N(t)} rho_vt m_{v->t}(x)` (the node's log pseudo-belief),
//! the message from `t` to `s` is
//! `m_{t->s}(x_s) = ln sum_{x_t} exp(theta_st(x_s, x_t) / rho_st + B_t(x_t) - m_{s->t}(x_t))`
//! (Wainwright, Jaakkola and Willsky 2005), normalised to a maximum of 0. After the
//! arc-consistency preprocessing every message is finite, so the subtraction is safe.
//!
//! **Ratio form.** Loopy BP (`rho = 1`) on a model whose variables are all binary and whose
//! tables are finite and moderate runs in a linear ratio form instead: a message is
//! `r = m(1) / m(0)`, the cavity of `t` towards `s` is `c = u_t prod_{v != s} r_{v->t}` with
//! `u_t = e^{theta_t(1) - theta_t(0)}`, and the new message is
//! `(e_10 + e_11 c) / (e_00 + e_01 c)` with `e = exp(theta_st - max)`: no `exp` or `ln` per
//! message, which is what makes the 100x100 grid fast. This is the same iteration as the log
//! form (same schedule, so the same fixed point), taken only when a static bound proves that
//! every ratio and product stays within `e^{±600}`: each message's log-ratio lies between
//! `ln(e_10/e_00)` and `ln(e_11/e_01)`, so `|ln c| <= |theta_t(1) - theta_t(0)| + sum of those
//! bounds` over the neighbours. The messages are turned back into logs at the end.

use rayon::prelude::*;

use super::loopy_bp::max_abs_diff;
use super::problem::{for_each_item, normalize_message, softmax_into, split_segments, Problem};
use super::{iterate, Convergence, StopRule};
use crate::num;

/// One adjacency slot: a neighbour of a node, seen from that node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    /// The neighbour.
    pub nbr: u32,
    /// The edge (index of the factor in the problem).
    pub edge: u32,
    /// Slot of this node in the neighbour's adjacency.
    pub rev: u32,
    /// Offset in the messages of `m_{this -> nbr}` (the message stored at slot `rev`).
    pub out_off: u32,
    /// True if this node is the first variable of the edge's scope.
    pub first: bool,
    /// The edge's weight `rho`.
    pub rho: f64,
}

/// The static graph, weights and scaled tables; messages live outside so that the computing
/// phase can read them while a buffer is written.
pub(crate) struct PairGraph<'p> {
    pub p: &'p Problem,
    /// Offsets of per-node vectors (length = card) in flat arrays.
    pub off: Vec<usize>,
    pub unary: Vec<f64>,
    pub adj_off: Vec<usize>,
    pub adj: Vec<Slot>,
    /// Offset of the message stored at each slot: slot `k` of node `i` holds `m_{nbr -> i}`.
    pub msg_off: Vec<usize>,
    /// `theta_e / rho_e` per edge, in the factor's row-major layout.
    pub scaled: Vec<Vec<f64>>,
    /// Binary edges whose table spans at most [`LIN_RANGE`] (in log): `exp(table - max)`.
    lin: Vec<Option<[f64; 4]>>,
    pub classes: Vec<Vec<usize>>,
    /// Length of all messages out of each node of each class.
    class_lens: Vec<Vec<usize>>,
    /// True when every `rho` is 1 (loopy BP).
    unit_rho: bool,
    damping: f64,
}

/// Widest log range of a binary table for the linear-space fast path (`e^-600` is far from
/// underflow, so every product stays a normal positive number).
const LIN_RANGE: f64 = 600.0;

/// Smallest colour class sent on the rayon pool (log-space engine).
const PAR_MIN_NODES: usize = 1024;

/// Smallest colour class sent on the rayon pool in ratio form (far less work per node).
const PAR_MIN_RATIO: usize = 16384;

impl<'p> PairGraph<'p> {
    /// Build the graph. `p` must be pairwise; `rho` has one weight in (0, 1] per factor;
    /// `parallel` makes one class of all nodes (a synchronous, flooding schedule).
    pub fn new(p: &'p Problem, rho: Vec<f64>, damping: f64, parallel: bool) -> Self {
        let n = p.num_vars();
        let mut off = Vec::with_capacity(n + 1);
        off.push(0);
        for &c in &p.cards {
            off.push(off.last().unwrap() + c);
        }
        let unary: Vec<f64> = p.unary.iter().flatten().copied().collect();
        let mut adj_off = Vec::with_capacity(n + 1);
        adj_off.push(0);
        for i in 0..n {
            adj_off.push(adj_off[i] + p.var_factors[i].len());
        }
        let mut adj = vec![
            Slot {
                nbr: 0,
                edge: 0,
                rev: 0,
                out_off: 0,
                first: false,
                rho: 1.0,
            };
            adj_off[n]
        ];
        // slot of (factor, position)
        let mut slot_of = vec![[0u32; 2]; p.factors.len()];
        for (vf, &start) in p.var_factors.iter().zip(&adj_off) {
            for (k, &(a, pos)) in vf.iter().enumerate() {
                slot_of[a][pos] = (start + k) as u32;
            }
        }
        for i in 0..n {
            for (k, &(a, pos)) in p.var_factors[i].iter().enumerate() {
                let f = &p.factors[a];
                adj[adj_off[i] + k] = Slot {
                    nbr: f.vars[1 - pos] as u32,
                    edge: a as u32,
                    rev: slot_of[a][1 - pos],
                    out_off: 0,
                    first: pos == 0,
                    rho: rho[a],
                };
            }
        }
        let mut msg_off = Vec::with_capacity(adj.len() + 1);
        let mut acc = 0;
        for i in 0..n {
            for _ in adj_off[i]..adj_off[i + 1] {
                msg_off.push(acc);
                acc += p.cards[i];
            }
        }
        msg_off.push(acc);
        for sl in adj.iter_mut() {
            sl.out_off = msg_off[sl.rev as usize] as u32;
        }
        assert!(acc <= u32::MAX as usize, "too many messages");
        let scaled: Vec<Vec<f64>> = p
            .factors
            .iter()
            .zip(&rho)
            .map(|(f, &r)| {
                if r == 1.0 {
                    f.table.clone()
                } else {
                    f.table.iter().map(|&x| x / r).collect()
                }
            })
            .collect();
        let lin = scaled
            .iter()
            .map(|t: &Vec<f64>| {
                if t.len() != 4 {
                    return None;
                }
                let m = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if !m.is_finite() || t.iter().any(|&x| x.is_finite() && m - x > LIN_RANGE) {
                    return None;
                }
                Some([
                    num::exp(t[0] - m),
                    num::exp(t[1] - m),
                    num::exp(t[2] - m),
                    num::exp(t[3] - m),
                ])
            })
            .collect();
        let classes: Vec<Vec<usize>> = if parallel {
            vec![(0..n).collect()]
        } else {
            p.colour_classes()
        };
        let out_len = |t: usize| -> usize {
            adj[adj_off[t]..adj_off[t + 1]]
                .iter()
                .map(|s| p.cards[s.nbr as usize])
                .sum()
        };
        let class_lens = classes
            .iter()
            .map(|c| c.iter().map(|&t| out_len(t)).collect())
            .collect();
        let unit_rho = rho.iter().all(|&r| r == 1.0);
        PairGraph {
            p,
            off,
            unary,
            adj_off,
            adj,
            msg_off,
            scaled,
            lin,
            classes,
            class_lens,
            unit_rho,
            damping,
        }
    }

    /// Initial messages: all zero (uniform).
    pub fn init_msgs(&self) -> Vec<f64> {
        vec![0.0; *self.msg_off.last().unwrap()]
    }

    #[inline]
    pub fn card(&self, i: usize) -> usize {
        self.off[i + 1] - self.off[i]
    }

    #[inline]
    pub fn msg<'a>(&self, msgs: &'a [f64], slot: usize) -> &'a [f64] {
        &msgs[self.msg_off[slot]..self.msg_off[slot + 1]]
    }

    /// `B_i` into `b`.
    #[inline]
    pub fn node_belief(&self, i: usize, msgs: &[f64], b: &mut [f64]) {
        let c = b.len();
        b.copy_from_slice(&self.unary[self.off[i]..self.off[i + 1]]);
        let (k0, k1) = (self.adj_off[i], self.adj_off[i + 1]);
        let incoming = &msgs[self.msg_off[k0]..self.msg_off[k1]];
        if self.unit_rho {
            for m in incoming.chunks_exact(c) {
                for (x, &y) in b.iter_mut().zip(m) {
                    *x += y;
                }
            }
        } else {
            for (m, sl) in incoming.chunks_exact(c).zip(&self.adj[k0..k1]) {
                for (x, &y) in b.iter_mut().zip(m) {
                    *x += sl.rho * y;
                }
            }
        }
    }

    /// All messages out of `t`, into `out` (neighbour order, each of the neighbour's length).
    fn send(&self, t: usize, msgs: &[f64], out: &mut [f64], scratch: &mut Vec<f64>) {
        let ct = self.card(t);
        scratch.clear();
        scratch.resize(2 * ct, 0.0);
        let (b, cav) = scratch.split_at_mut(ct);
        self.node_belief(t, msgs, b);
        let mut pos = 0;
        for k in self.adj_off[t]..self.adj_off[t + 1] {
            let sl = self.adj[k];
            let s = sl.nbr as usize;
            let cs = self.card(s);
            let m_in = self.msg(msgs, k);
            for ((c, &bx), &mx) in cav.iter_mut().zip(b.iter()).zip(m_in) {
                *c = bx - mx;
            }
            let e = sl.edge as usize;
            let new = &mut out[pos..pos + cs];
            if !(ct == 2 && cs == 2 && self.fast_binary(e, sl.first, cav, new)) {
                self.log_message(e, sl.first, ct, cav, new);
            }
            if self.damping > 0.0 {
                let a = self.damping;
                let old = &msgs[sl.out_off as usize..sl.out_off as usize + cs];
                for (x, &o) in new.iter_mut().zip(old) {
                    *x = (1.0 - a) * *x + a * o;
                }
                normalize_message(new);
            }
            pos += cs;
        }
    }

    /// Binary message in linear space with one `exp` and one `ln`; false (nothing written) when
    /// the edge's table spans too wide a range or the result is not safely positive.
    #[inline]
    fn fast_binary(&self, e: usize, t_first: bool, cav: &[f64], new: &mut [f64]) -> bool {
        let Some(l) = self.lin[e] else {
            return false;
        };
        // e_{x_s x_t}
        let (e00, e01, e10, e11) = if t_first {
            (l[0], l[2], l[1], l[3])
        } else {
            (l[0], l[1], l[2], l[3])
        };
        let d = cav[1] - cav[0];
        let (a0, a1) = if d <= 0.0 {
            let r = num::exp(d);
            (e00 + e01 * r, e10 + e11 * r)
        } else {
            let r = num::exp(-d);
            (e00 * r + e01, e10 * r + e11)
        };
        if !(a0 > 0.0 && a1 > 0.0 && a0.is_finite() && a1.is_finite()) {
            return false;
        }
        let lr = (a1 / a0).ln();
        if lr > 0.0 {
            new[0] = -lr;
            new[1] = 0.0;
        } else {
            new[0] = 0.0;
            new[1] = lr;
        }
        true
    }

    /// A message in log space (any cardinalities), normalised to a maximum of 0.
    fn log_message(&self, e: usize, t_first: bool, ct: usize, cav: &[f64], new: &mut [f64]) {
        let tab = &self.scaled[e];
        let cs = new.len();
        for (xs, nv) in new.iter_mut().enumerate() {
            let term = |xt: usize| {
                let idx = if t_first { xt * cs + xs } else { xs * ct + xt };
                tab[idx] + cav[xt]
            };
            let mut m = f64::NEG_INFINITY;
            for xt in 0..ct {
                m = m.max(term(xt));
            }
            if m == f64::NEG_INFINITY {
                *nv = m;
                continue;
            }
            let mut sum = 0.0;
            for xt in 0..ct {
                sum += num::exp(term(xt) - m);
            }
            *nv = m + sum.ln();
        }
        normalize_message(new);
    }

    /// The ratio form of this graph, when it applies (see the module documentation).
    pub fn ratio_form(&self) -> Option<RatioForm> {
        if !self.unit_rho || self.p.cards.iter().any(|&c| c != 2) {
            return None;
        }
        let n = self.p.num_vars();
        let mut coef = Vec::with_capacity(self.adj.len());
        let mut bound = Vec::with_capacity(self.adj.len());
        for sl in &self.adj {
            // coefficients of the message this slot's node sends to its neighbour, (x_s, x_t)
            let l = self.lin[sl.edge as usize]?;
            let c = if sl.first {
                [l[0], l[2], l[1], l[3]]
            } else {
                l
            };
            if c.iter().any(|&x| x <= 0.0) {
                return None;
            }
            coef.push(c);
            bound.push((c[2] / c[0]).ln().abs().max((c[3] / c[1]).ln().abs()));
        }
        let mut u = Vec::with_capacity(n);
        for i in 0..n {
            let d = self.unary[self.off[i] + 1] - self.unary[self.off[i]];
            // incoming messages of i are sent by its neighbours: bound of the reverse slot
            let total: f64 = d.abs()
                + self.adj[self.adj_off[i]..self.adj_off[i + 1]]
                    .iter()
                    .map(|sl| bound[sl.rev as usize])
                    .sum::<f64>();
            if total.is_nan() || total > LIN_RANGE {
                return None;
            }
            u.push(num::exp(d));
        }
        Some(RatioForm { u, coef })
    }

    /// Loopy BP in ratio form from uniform messages; returns log messages.
    pub fn run_ratio(&self, rf: &RatioForm, stop: &StopRule) -> (Vec<f64>, Convergence) {
        let n = self.p.num_vars();
        let mut r = vec![1.0; self.adj.len()];
        let mut buf: Vec<f64> = Vec::new();
        let belief = |r: &[f64], out: &mut Vec<f64>| {
            out.clear();
            out.resize(n, 0.0);
            for (i, o) in out.iter_mut().enumerate() {
                let mut prod = rf.u[i];
                for &x in &r[self.adj_off[i]..self.adj_off[i + 1]] {
                    prod *= x;
                }
                *o = prod / (1.0 + prod);
            }
        };
        let (mut bel, mut new_bel) = (Vec::new(), Vec::new());
        belief(&r, &mut bel);
        let a = self.damping;
        let conv = iterate(stop, || {
            for class in &self.classes {
                let lens = class.iter().map(|&t| self.adj_off[t + 1] - self.adj_off[t]);
                buf.clear();
                buf.resize(lens.clone().sum(), 0.0);
                {
                    let segs = split_segments(&mut buf, lens);
                    let rr: &[f64] = &r;
                    let items: Vec<_> = segs.into_iter().zip(class.iter().copied()).collect();
                    for_each_item(
                        items,
                        PAR_MIN_RATIO,
                        || (),
                        |_, (seg, t)| {
                            let (k0, k1) = (self.adj_off[t], self.adj_off[t + 1]);
                            let mut prod = rf.u[t];
                            for &x in &rr[k0..k1] {
                                prod *= x;
                            }
                            for (o, k) in seg.iter_mut().zip(k0..k1) {
                                let c = prod / rr[k];
                                let e = &rf.coef[k];
                                let mut new = (e[2] + e[3] * c) / (e[0] + e[1] * c);
                                if a > 0.0 {
                                    let old = rr[self.adj[k].rev as usize];
                                    new = new.powf(1.0 - a) * old.powf(a);
                                }
                                *o = new;
                            }
                        },
                    );
                }
                let mut pos = 0;
                for &t in class {
                    for sl in &self.adj[self.adj_off[t]..self.adj_off[t + 1]] {
                        r[sl.rev as usize] = buf[pos];
                        pos += 1;
                    }
                }
            }
            belief(&r, &mut new_bel);
            let d = max_abs_diff(&bel, &new_bel);
            std::mem::swap(&mut bel, &mut new_bel);
            d
        });
        let mut msgs = self.init_msgs();
        for (k, &x) in r.iter().enumerate() {
            let l = x.ln();
            let o = self.msg_off[k];
            if l > 0.0 {
                msgs[o] = -l;
            } else {
                msgs[o + 1] = l;
            }
        }
        (msgs, conv)
    }

    /// One sweep over the colour classes.
    pub fn sweep(&self, msgs: &mut [f64], buf: &mut Vec<f64>) {
        for (class, lens) in self.classes.iter().zip(&self.class_lens) {
            buf.clear();
            buf.resize(lens.iter().sum(), 0.0);
            {
                let segs = split_segments(buf, lens.iter().copied());
                let mr: &[f64] = msgs;
                let items: Vec<_> = segs.into_iter().zip(class.iter().copied()).collect();
                for_each_item(items, PAR_MIN_NODES, Vec::new, |scratch, (seg, t)| {
                    self.send(t, mr, seg, scratch)
                });
            }
            let mut pos = 0;
            for &t in class {
                for sl in &self.adj[self.adj_off[t]..self.adj_off[t + 1]] {
                    let a = sl.out_off as usize;
                    let len = self.card(sl.nbr as usize);
                    if len == 2 {
                        msgs[a] = buf[pos];
                        msgs[a + 1] = buf[pos + 1];
                    } else {
                        msgs[a..a + len].copy_from_slice(&buf[pos..pos + len]);
                    }
                    pos += len;
                }
            }
        }
    }

    /// Normalised node beliefs (probabilities) of every node, flat.
    pub fn beliefs(&self, msgs: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.resize(*self.off.last().unwrap(), 0.0);
        let n = self.p.num_vars();
        let segs = split_segments(out, (0..n).map(|i| self.card(i)));
        let items: Vec<_> = segs.into_iter().enumerate().collect();
        for_each_item(items, 4 * PAR_MIN_NODES, Vec::new, |b, (i, seg)| {
            b.clear();
            b.resize(seg.len(), 0.0);
            self.node_belief(i, msgs, b);
            if seg.len() == 2 {
                let p1 = 1.0 / (1.0 + num::exp(b[0] - b[1]));
                seg[0] = 1.0 - p1;
                seg[1] = p1;
            } else {
                softmax_into(b, seg);
            }
        });
    }

    /// Log node beliefs, one vector per node.
    pub fn log_beliefs(&self, msgs: &[f64]) -> Vec<Vec<f64>> {
        (0..self.p.num_vars())
            .into_par_iter()
            .map(|i| {
                let mut b = vec![0.0; self.card(i)];
                self.node_belief(i, msgs, &mut b);
                let z = super::problem::lse(&b);
                b.iter_mut().for_each(|x| *x -= z);
                b
            })
            .collect()
    }

    /// Log edge pseudo-belief (unnormalised) of edge `e` in the factor's row-major layout:
    /// `theta_e / rho_e + (B_s - m_{t->s})(x_s) + (B_t - m_{s->t})(x_t)`.
    fn edge_log_belief(&self, e: usize, msgs: &[f64], node_b: &[Vec<f64>], out: &mut Vec<f64>) {
        let f = &self.p.factors[e];
        let (s, t) = (f.vars[0], f.vars[1]);
        let (cs, ct) = (f.cards[0], f.cards[1]);
        let slot_s = self.slot_at(s, e);
        let slot_t = self.slot_at(t, e);
        let ms = self.msg(msgs, slot_s);
        let mt = self.msg(msgs, slot_t);
        out.clear();
        let tab = &self.scaled[e];
        for xs in 0..cs {
            for xt in 0..ct {
                out.push(tab[xs * ct + xt] + (node_b[s][xs] - ms[xs]) + (node_b[t][xt] - mt[xt]));
            }
        }
    }

    /// The slot of node `i` for edge `e`.
    pub fn slot_at(&self, i: usize, e: usize) -> usize {
        (self.adj_off[i]..self.adj_off[i + 1])
            .find(|&k| self.adj[k].edge as usize == e)
            .expect("edge at node")
    }

    /// Unnormalised `B_i` of every node.
    fn raw_beliefs(&self, msgs: &[f64]) -> Vec<Vec<f64>> {
        (0..self.p.num_vars())
            .into_par_iter()
            .map(|i| {
                let mut b = vec![0.0; self.card(i)];
                self.node_belief(i, msgs, &mut b);
                b
            })
            .collect()
    }

    /// The Bethe estimate of ln Z (for `rho = 1`):
    /// `sum_e [E_be theta_e + H(b_e)] + sum_i [E_bi theta_i - (d_i - 1) H(b_i)]` plus the constant.
    pub fn bethe(&self, msgs: &[f64]) -> f64 {
        let p = self.p;
        let raw = self.raw_beliefs(msgs);
        let mut total = p.constant;
        let mut pb = Vec::new();
        for (i, b) in raw.iter().enumerate() {
            pb.resize(b.len(), 0.0);
            softmax_into(b, &mut pb);
            let d = p.var_factors[i].len() as f64;
            total +=
                super::problem::expect(&pb, &p.unary[i]) - (d - 1.0) * super::problem::entropy(&pb);
        }
        let mut g = Vec::new();
        for (e, f) in p.factors.iter().enumerate() {
            self.edge_log_belief(e, msgs, &raw, &mut g);
            let z = super::problem::lse(&g);
            for (&gx, &th) in g.iter().zip(&f.table) {
                let lb = gx - z;
                let w = num::exp(lb);
                if w > 0.0 {
                    total += w * (th - lb);
                }
            }
        }
        total
    }

    /// The TRW free energy of the pseudo-marginals:
    /// `sum_i [E theta_i + H(b_i)] + sum_e [E theta_e - rho_e I(b_e)]` plus the constant.
    /// Equals the TRW bound at a fixed point (used as a check).
    #[cfg(test)]
    pub fn trw_free_energy(&self, msgs: &[f64]) -> f64 {
        let p = self.p;
        let raw = self.raw_beliefs(msgs);
        let mut total = p.constant;
        let mut pbs = Vec::new();
        for (i, b) in raw.iter().enumerate() {
            let mut pb = vec![0.0; b.len()];
            softmax_into(b, &mut pb);
            total += super::problem::expect(&pb, &p.unary[i]) + super::problem::entropy(&pb);
            pbs.push(pb);
        }
        let mut g = Vec::new();
        for (e, f) in p.factors.iter().enumerate() {
            self.edge_log_belief(e, msgs, &raw, &mut g);
            let z = super::problem::lse(&g);
            let (s, t) = (f.vars[0], f.vars[1]);
            let ct = f.cards[1];
            for (idx, (&gx, &th)) in g.iter().zip(&f.table).enumerate() {
                let lb = gx - z;
                let w = num::exp(lb);
                if w > 0.0 {
                    let (xs, xt) = (idx / ct, idx % ct);
                    let mi = lb - pbs[s][xs].ln() - pbs[t][xt].ln();
                    total += w * (th - self.adj[self.slot_at(s, e)].rho * mi);
                }
            }
        }
        total
    }
}

/// Loopy BP coefficients in ratio form (binary variables only).
pub(crate) struct RatioForm {
    /// `e^{theta_i(1) - theta_i(0)}` per node.
    u: Vec<f64>,
    /// Per slot (node `t`, neighbour `s`): `[e_00, e_01, e_10, e_11]` indexed `(x_s, x_t)`.
    coef: Vec<[f64; 4]>,
}
