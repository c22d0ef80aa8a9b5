//! Loopy belief propagation (sum-product, log space) and the Bethe estimate of ln Z.

use super::pairwise::PairGraph;
use super::problem::{
    entropy, expect, for_each_item, lse, next_states, normalize_message, softmax_into,
    split_segments, Problem,
};
use super::{
    check_damping, iterate, trivially_converged, Convergence, StopRule, VariationalResult,
};
use crate::error::Result;
use crate::infer::{EstimateKind, LogZEstimate};
use crate::model::FactorGraph;
use crate::num;
use crate::var::Evidence;

/// Message-update schedule of loopy BP.
///
/// ```
/// use pgmkit::infer::variational::{BeliefPropagation, Schedule};
/// use pgmkit::model::{ising_grid, Boundary};
/// use pgmkit::Evidence;
/// let g = ising_grid(6, 6, Boundary::Periodic, |_, _| 0.2, |_| 0.05).unwrap();
/// let ev = Evidence::new(36);
/// let seq = BeliefPropagation::default().run(&g, &ev).unwrap();
/// let par = BeliefPropagation { schedule: Schedule::Parallel, ..Default::default() }
///     .run(&g, &ev)
///     .unwrap();
/// // same fixed point; the sequential schedule needs fewer sweeps
/// assert!((seq.log_z.log_z - par.log_z.log_z).abs() < 1e-7);
/// assert!(seq.convergence.iters <= par.convergence.iters);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schedule {
    /// Sequential (Gauss-Seidel) updates: every message is computed from the newest messages.
    /// Pairwise models: variables colour class by colour class, each variable sending all its
    /// messages (the variables of one class run in parallel, which is the same as running them
    /// one after the other). Larger factors: factors in model order, each sending to all its
    /// variables.
    #[default]
    Sequential,
    /// Synchronous ("flooding") updates: every message of a sweep is computed from the messages
    /// of the previous sweep, all in parallel. Converges less often than `Sequential` on
    /// strongly coupled loopy models.
    Parallel,
}

/// Loopy belief propagation: sum-product message passing in log space, with the Bethe free
/// energy as the estimate of ln Z ([`EstimateKind::Approximate`]: no bound in general; exact on
/// tree-structured models).
///
/// - **Messages** are kept as natural logs normalised to a maximum of 0. Damping `a` mixes each
///   new log message with the old one: `(1 - a) new + a old` (libDAI's log-domain damping).
/// - **Pairwise models** (every factor, after evidence, over at most two variables) run on a
///   variable-to-variable engine; other factor graphs run factor-to-variable messages with each
///   variable's belief kept as the sum of its incoming messages. When every variable is binary
///   and a static bound shows that all ratios stay within `e^±600`, the pairwise engine runs in
///   ratio form: each message is the single number `m(1) / m(0)` and an update is a few
///   multiplications and one division, with no `exp` or `ln` (the same iteration and schedule,
///   so the same fixed point; the messages are turned back into logs at the end).
/// - **Bethe estimate**: `sum_a [E_ba ln f_a + H(b_a)] + sum_i [E_bi ln phi_i - (d_i - 1) H(b_i)]`,
///   where `phi_i` is the product of the unary factors of `i` and `d_i` the number of its other
///   factors, evaluated at the final beliefs (the same value libDAI reports).
/// - **Convergence**: `delta` is the largest change of any single-variable belief over one
///   sweep (probability scale, L-infinity).
/// - **Zeros**: impossible states are removed first (see the [module](super) docs), so every
///   message is finite and no NaN can arise.
///
/// ```
/// use pgmkit::infer::variational::BeliefPropagation;
/// use pgmkit::infer::exact::{self, ExactOptions};
/// use pgmkit::model::{ising_grid, Boundary};
/// use pgmkit::Evidence;
///
/// // a chain is a tree: BP is exact
/// let g = ising_grid(1, 12, Boundary::Free, |i, _| 0.1 * i as f64, |i| 0.2 - 0.03 * i as f64).unwrap();
/// let ev = Evidence::new(12);
/// let bp = BeliefPropagation::default().run(&g, &ev).unwrap();
/// let exact = exact::log_z(&g, &ev, &ExactOptions::default()).unwrap().log_z;
/// assert!((bp.log_z.log_z - exact).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeliefPropagation {
    /// Damping in `[0, 1)`. Default 0.
    pub damping: f64,
    /// Update schedule. Default [`Schedule::Sequential`].
    pub schedule: Schedule,
    /// When to stop (default: 10 000 sweeps, tolerance 1e-9).
    pub stop: StopRule,
}

impl Default for BeliefPropagation {
    fn default() -> Self {
        BeliefPropagation {
            damping: 0.0,
            schedule: Schedule::Sequential,
            stop: StopRule::default(),
        }
    }
}

impl BeliefPropagation {
    /// Run loopy BP on `fg` under `ev`.
    ///
    /// Errors: invalid damping or stop rule, evidence that does not fit the model, and Z = 0
    /// proven by arc consistency
    /// ([`Error::ZeroProbabilityEvidence`](crate::Error::ZeroProbabilityEvidence)).
    pub fn run(&self, fg: &FactorGraph, ev: &Evidence) -> Result<VariationalResult> {
        check_damping(self.damping)?;
        self.stop.validate()?;
        let p = Problem::new(fg, ev)?;
        let parallel = self.schedule == Schedule::Parallel;
        let (log_z, local, convergence) = if p.first_higher_order().is_none() {
            let g = PairGraph::new(&p, vec![1.0; p.factors.len()], self.damping, parallel);
            let (msgs, conv) = run_pairwise(&g, &self.stop);
            (g.bethe(&msgs), g.log_beliefs(&msgs), conv)
        } else {
            let g = FactorEngine::new(&p, self.damping, parallel);
            let (msgs, conv) = g.run(&self.stop);
            let b = g.raw_beliefs(&msgs);
            (g.bethe(&msgs, &b), g.log_beliefs(&b), conv)
        };
        Ok(VariationalResult {
            log_z: LogZEstimate {
                log_z,
                std_err: None,
                lower: None,
                upper: None,
                ess: None,
                kind: EstimateKind::Approximate,
                bound_kind: None,
                lower_std_err: None,
                upper_std_err: None,
            },
            marginals: p.posterior(&local, log_z),
            convergence,
        })
    }
}

/// Iterate the pairwise engine from uniform messages; returns the log messages and how it ended.
pub(crate) fn run_pairwise(g: &PairGraph<'_>, stop: &StopRule) -> (Vec<f64>, Convergence) {
    if g.p.num_vars() == 0 {
        return (g.init_msgs(), trivially_converged());
    }
    if let Some(rf) = g.ratio_form() {
        return g.run_ratio(&rf, stop);
    }
    let mut msgs = g.init_msgs();
    let mut buf = Vec::new();
    let mut bel = Vec::new();
    let mut new_bel = Vec::new();
    g.beliefs(&msgs, &mut bel);
    let conv = iterate(stop, || {
        g.sweep(&mut msgs, &mut buf);
        g.beliefs(&msgs, &mut new_bel);
        let d = max_abs_diff(&bel, &new_bel);
        std::mem::swap(&mut bel, &mut new_bel);
        d
    });
    (msgs, conv)
}

/// Largest absolute difference of two equally long slices.
pub(crate) fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Factor-to-variable message passing for factor graphs with factors over three or more
/// variables.
struct FactorEngine<'p> {
    p: &'p Problem,
    /// Offsets of per-node vectors.
    off: Vec<usize>,
    /// First edge of each factor (edge = (factor, position)).
    edge_off: Vec<usize>,
    /// Offset of each edge's message `m_{a -> i}` (length card of i).
    msg_off: Vec<usize>,
    damping: f64,
    parallel: bool,
}

impl<'p> FactorEngine<'p> {
    fn new(p: &'p Problem, damping: f64, parallel: bool) -> Self {
        let mut off = vec![0];
        for &c in &p.cards {
            off.push(off.last().unwrap() + c);
        }
        let mut edge_off = vec![0];
        let mut msg_off = vec![0];
        for f in &p.factors {
            edge_off.push(edge_off.last().unwrap() + f.vars.len());
            for &c in &f.cards {
                msg_off.push(msg_off.last().unwrap() + c);
            }
        }
        FactorEngine {
            p,
            off,
            edge_off,
            msg_off,
            damping,
            parallel,
        }
    }

    fn msg<'a>(&self, msgs: &'a [f64], a: usize, pos: usize) -> &'a [f64] {
        let e = self.edge_off[a] + pos;
        &msgs[self.msg_off[e]..self.msg_off[e + 1]]
    }

    /// `B_i = ln phi_i + sum of incoming messages`, flat.
    fn raw_beliefs(&self, msgs: &[f64]) -> Vec<f64> {
        let mut b: Vec<f64> = self.p.unary.iter().flatten().copied().collect();
        for i in 0..self.p.num_vars() {
            let bi = &mut b[self.off[i]..self.off[i + 1]];
            for &(a, pos) in &self.p.var_factors[i] {
                for (x, &m) in bi.iter_mut().zip(self.msg(msgs, a, pos)) {
                    *x += m;
                }
            }
        }
        b
    }

    fn log_beliefs(&self, b: &[f64]) -> Vec<Vec<f64>> {
        (0..self.p.num_vars())
            .map(|i| {
                let mut v = b[self.off[i]..self.off[i + 1]].to_vec();
                let z = lse(&v);
                v.iter_mut().for_each(|x| *x -= z);
                v
            })
            .collect()
    }

    fn probs(&self, b: &[f64], out: &mut [f64]) {
        for i in 0..self.p.num_vars() {
            let r = self.off[i]..self.off[i + 1];
            softmax_into(&b[r.clone()], &mut out[r]);
        }
    }

    /// Cavities `B_v - m_{a->v}` of factor `a` (flat, by position) and the log joint
    /// `g(x) = ln f_a(x) + sum_p cav_p(x_p)`.
    fn joint(&self, a: usize, b: &[f64], msgs: &[f64], s: &mut Scratch) {
        let f = &self.p.factors[a];
        let Scratch {
            cav,
            cav_off,
            g,
            st,
            ..
        } = s;
        cav.clear();
        cav_off.clear();
        for (pos, &v) in f.vars.iter().enumerate() {
            cav_off.push(cav.len());
            let m = self.msg(msgs, a, pos);
            cav.extend(
                b[self.off[v]..self.off[v + 1]]
                    .iter()
                    .zip(m)
                    .map(|(x, y)| x - y),
            );
        }
        g.clear();
        st.clear();
        st.resize(f.vars.len(), 0);
        let mut idx = 0;
        loop {
            let mut v = f.table[idx];
            for (p, &s) in st.iter().enumerate() {
                v += cav[cav_off[p] + s];
            }
            g.push(v);
            idx += 1;
            if !next_states(st, &f.cards) {
                break;
            }
        }
    }

    /// New messages of factor `a` to all its variables, into `out` (by position).
    fn factor_update(&self, a: usize, b: &[f64], msgs: &[f64], out: &mut [f64], s: &mut Scratch) {
        let f = &self.p.factors[a];
        self.joint(a, b, msgs, s);
        let k = f.vars.len();
        // per position and state: max, then sum of shifted exponentials
        out.fill(f64::NEG_INFINITY);
        s.st.clear();
        s.st.resize(k, 0);
        for &gv in &s.g {
            for p in 0..k {
                let o = &mut out[s.cav_off[p] + s.st[p]];
                *o = o.max(gv);
            }
            next_states(&mut s.st, &f.cards);
        }
        s.sum.clear();
        s.sum.resize(out.len(), 0.0);
        for &gv in &s.g {
            for p in 0..k {
                let j = s.cav_off[p] + s.st[p];
                if out[j] > f64::NEG_INFINITY {
                    s.sum[j] += num::exp(gv - out[j]);
                }
            }
            next_states(&mut s.st, &f.cards);
        }
        for p in 0..k {
            let r = s.cav_off[p]..s.cav_off[p] + f.cards[p];
            for j in r.clone() {
                if out[j] > f64::NEG_INFINITY {
                    out[j] += s.sum[j].ln() - s.cav[j];
                }
            }
            let new = &mut out[r];
            normalize_message(new);
            if self.damping > 0.0 {
                let d = self.damping;
                for (x, &o) in new.iter_mut().zip(self.msg(msgs, a, p)) {
                    *x = (1.0 - d) * *x + d * o;
                }
                normalize_message(new);
            }
        }
    }

    fn sweep(&self, msgs: &mut Vec<f64>, s: &mut Scratch) {
        let mut b = self.raw_beliefs(msgs);
        if self.parallel {
            let mut new = vec![0.0; msgs.len()];
            let segs = split_segments(
                &mut new,
                (0..self.p.factors.len())
                    .map(|a| self.msg_off[self.edge_off[a + 1]] - self.msg_off[self.edge_off[a]]),
            );
            let mr: &[f64] = msgs;
            let items: Vec<_> = segs.into_iter().enumerate().collect();
            for_each_item(items, 256, Scratch::default, |s, (a, seg)| {
                self.factor_update(a, &b, mr, seg, s)
            });
            *msgs = new;
            return;
        }
        let mut out = Vec::new();
        for a in 0..self.p.factors.len() {
            let f = &self.p.factors[a];
            let (lo, hi) = (
                self.msg_off[self.edge_off[a]],
                self.msg_off[self.edge_off[a + 1]],
            );
            out.clear();
            out.resize(hi - lo, 0.0);
            self.factor_update(a, &b, msgs, &mut out, s);
            let mut pos = 0;
            for (&v, &c) in f.vars.iter().zip(&f.cards) {
                let bi = &mut b[self.off[v]..self.off[v + 1]];
                for x in 0..c {
                    bi[x] += out[pos + x] - msgs[lo + pos + x];
                }
                pos += c;
            }
            msgs[lo..hi].copy_from_slice(&out);
        }
    }

    fn run(&self, stop: &StopRule) -> (Vec<f64>, Convergence) {
        let mut msgs = vec![0.0; *self.msg_off.last().unwrap()];
        if self.p.num_vars() == 0 {
            return (msgs, trivially_converged());
        }
        let n = *self.off.last().unwrap();
        let mut bel = vec![0.0; n];
        let mut new_bel = vec![0.0; n];
        self.probs(&self.raw_beliefs(&msgs), &mut bel);
        let mut s = Scratch::default();
        let conv = iterate(stop, || {
            self.sweep(&mut msgs, &mut s);
            self.probs(&self.raw_beliefs(&msgs), &mut new_bel);
            let d = max_abs_diff(&bel, &new_bel);
            std::mem::swap(&mut bel, &mut new_bel);
            d
        });
        (msgs, conv)
    }

    /// Bethe estimate at the beliefs `b` (raw, from `msgs`).
    fn bethe(&self, msgs: &[f64], b: &[f64]) -> f64 {
        let p = self.p;
        let mut total = p.constant;
        let mut pb = Vec::new();
        for i in 0..p.num_vars() {
            let r = self.off[i]..self.off[i + 1];
            pb.resize(r.len(), 0.0);
            softmax_into(&b[r], &mut pb);
            let d = p.var_factors[i].len() as f64;
            total += expect(&pb, &p.unary[i]) - (d - 1.0) * entropy(&pb);
        }
        let mut s = Scratch::default();
        for (a, f) in p.factors.iter().enumerate() {
            self.joint(a, b, msgs, &mut s);
            let z = lse(&s.g);
            for (&gx, &th) in s.g.iter().zip(&f.table) {
                let lb = gx - z;
                let w = num::exp(lb);
                if w > 0.0 {
                    total += w * (th - lb);
                }
            }
        }
        total
    }
}

#[derive(Default)]
struct Scratch {
    cav: Vec<f64>,
    cav_off: Vec<usize>,
    g: Vec<f64>,
    st: Vec<usize>,
    sum: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ising_grid, potts_grid, Boundary};

    fn grid() -> FactorGraph {
        ising_grid(
            6,
            6,
            Boundary::Periodic,
            |i, j| 0.05 + 0.03 * ((i * 7 + j) % 5) as f64,
            |i| 0.1 * ((i % 5) as f64 - 2.0),
        )
        .unwrap()
    }

    /// The factor-graph engine, the log-space pairwise engine and the ratio form reach the same
    /// fixed point on a pairwise binary model.
    #[test]
    fn three_engines_agree() {
        let g = grid();
        let p = Problem::new(&g, &Evidence::new(36)).unwrap();
        let stop = StopRule::new(10_000, 1e-13);
        let pg = PairGraph::new(&p, vec![1.0; p.factors.len()], 0.0, false);
        let rf = pg.ratio_form().expect("ratio form applies");
        let (m_ratio, c1) = pg.run_ratio(&rf, &stop);
        let mut m_log = pg.init_msgs();
        let mut buf = Vec::new();
        let c2 = iterate(&stop, || {
            let old = m_log.clone();
            pg.sweep(&mut m_log, &mut buf);
            max_abs_diff(&old, &m_log)
        });
        assert!(c1.converged() && c2.converged());
        let fe = FactorEngine::new(&p, 0.0, false);
        let (m_fg, c3) = fe.run(&stop);
        assert!(c3.converged());
        let b = fe.raw_beliefs(&m_fg);
        let z_fg = fe.bethe(&m_fg, &b);
        let z_ratio = pg.bethe(&m_ratio);
        let z_log = pg.bethe(&m_log);
        assert!((z_fg - z_ratio).abs() < 1e-9, "{z_fg} {z_ratio}");
        assert!((z_log - z_ratio).abs() < 1e-9, "{z_log} {z_ratio}");
        let lb = fe.log_beliefs(&b);
        let lb2 = pg.log_beliefs(&m_ratio);
        for (x, y) in lb.iter().flatten().zip(lb2.iter().flatten()) {
            assert!((x - y).abs() < 1e-9);
        }
    }

    #[test]
    fn general_cardinalities_agree() {
        let g = potts_grid(
            4,
            4,
            3,
            Boundary::Periodic,
            |_, _| 0.3,
            |i, s| 0.1 * ((i + 2 * s) % 4) as f64,
        )
        .unwrap();
        let p = Problem::new(&g, &Evidence::new(16)).unwrap();
        let stop = StopRule::new(10_000, 1e-13);
        let pg = PairGraph::new(&p, vec![1.0; p.factors.len()], 0.0, false);
        assert!(pg.ratio_form().is_none());
        let (m, c) = run_pairwise(&pg, &stop);
        let fe = FactorEngine::new(&p, 0.0, true);
        let (m2, c2) = fe.run(&stop);
        assert!(c.converged() && c2.converged());
        let b = fe.raw_beliefs(&m2);
        assert!((pg.bethe(&m) - fe.bethe(&m2, &b)).abs() < 1e-9);
    }
}
