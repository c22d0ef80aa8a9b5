//! Tree-reweighted belief propagation (Wainwright, Jaakkola and Willsky 2005): an upper bound
//! on ln Z for pairwise models.

use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::loopy_bp::run_pairwise;
use super::pairwise::PairGraph;
use super::problem::{lse, Problem};
use super::{check_damping, StopRule, VariationalResult};
use crate::error::{Error, Result};
use crate::infer::{BoundKind, EstimateKind, LogZEstimate};
use crate::model::FactorGraph;
use crate::num::{self, log_add_exp};
use crate::rng::chain_rng;
use crate::var::Evidence;

/// Tree-reweighted BP: an upper bound on ln Z for pairwise models
/// ([`EstimateKind::UpperBound`], `upper` set).
///
/// - **Edge appearance probabilities.** `trees` random spanning trees (spanning forests on a
///   disconnected graph) are drawn by Kruskal's algorithm on a random edge order, tree `k` from
///   [`chain_rng`]`(seed, k)`; if some edge is in none of them, further trees that take the
///   uncovered edges first are added until every edge is covered. `rho_e` is the fraction of
///   these trees containing `e`, so `rho` is in the spanning-tree polytope by construction, and
///   the trees themselves are kept for the bound.
/// - **Messages** (log space, normalised to a maximum of 0, damped like loopy BP):
///   `m_{t->s}(x_s) = ln sum_{x_t} exp(theta_st / rho_st + B_t(x_t) - m_{s->t}(x_t))` with
///   `B_t = theta_t + sum_v rho_vt m_{v->t}`; pseudo-marginals `b_t ∝ exp(B_t)`. The schedule is
///   the sequential colour-class schedule of [`Schedule::Sequential`](super::Schedule).
/// - **The bound is certified from the final messages, converged or not.** Writing `lambda` for
///   the log messages, every tree `T` gets the parameters
///   `theta^T = sum_s B_s + sum_{e in T} (theta_e / rho_e - lambda_{t->s} - lambda_{s->t})`;
///   their average over the trees is exactly `theta`, so by convexity of the log partition
///   function `ln Z <= mean_T ln Z(theta^T)`, and each `ln Z(theta^T)` is computed exactly by
///   sum-product on the tree. At a TRW fixed point this equals the TRW free energy
///   `sum_i H(b_i) - sum_e rho_e I(b_e) + E_b[theta]` (the optimum of the bound for this `rho`);
///   before convergence it is still a valid, looser, upper bound.
/// - **Higher-order factors are not supported**: a factor that keeps three or more unobserved
///   variables after evidence gives [`Error::InvalidArgument`] naming the factor. (Converting
///   such a model to a pairwise one changes its variables; use [`MeanField`](super::MeanField)
///   for a lower bound and [`BeliefPropagation`](super::BeliefPropagation) for an estimate.)
/// - **Convergence**: `delta` is the largest change of any pseudo-marginal over one sweep.
///
/// ```
/// use pgmkit::infer::variational::Trw;
/// use pgmkit::infer::exact::{self, ExactOptions};
/// use pgmkit::model::{potts_grid, Boundary};
/// use pgmkit::Evidence;
///
/// let g = potts_grid(4, 4, 3, Boundary::Periodic, |_, _| 0.5, |i, s| 0.1 * ((i + s) % 3) as f64).unwrap();
/// let ev = Evidence::new(16);
/// let trw = Trw::default().run(&g, &ev).unwrap();
/// let exact = exact::log_z(&g, &ev, &ExactOptions::default()).unwrap().log_z;
/// assert!(trw.log_z.upper.unwrap() >= exact);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trw {
    /// Damping in `[0, 1)`. Default 0.
    pub damping: f64,
    /// When to stop (default: 10 000 sweeps, tolerance 1e-9).
    pub stop: StopRule,
    /// Number of random spanning trees defining `rho` (at least 1). Default 100.
    pub trees: usize,
    /// Seed of the random spanning trees. Default 0.
    pub seed: u64,
}

impl Default for Trw {
    fn default() -> Self {
        Trw {
            damping: 0.0,
            stop: StopRule::default(),
            trees: 100,
            seed: 0,
        }
    }
}

/// A spanning forest in breadth-first order: `(node, parent, edge)`, parents before children,
/// roots with parent `u32::MAX`.
type TreeOrder = Vec<[u32; 3]>;

impl Trw {
    /// Run TRW on the pairwise model `fg` under `ev`.
    ///
    /// Errors: a factor over three or more unobserved variables, invalid damping, stop rule or
    /// `trees == 0` ([`Error::InvalidArgument`]), evidence that does not fit the model, and
    /// Z = 0 proven by arc consistency
    /// ([`Error::ZeroProbabilityEvidence`](crate::Error::ZeroProbabilityEvidence)).
    pub fn run(&self, fg: &FactorGraph, ev: &Evidence) -> Result<VariationalResult> {
        check_damping(self.damping)?;
        self.stop.validate()?;
        if self.trees == 0 {
            return Err(Error::InvalidArgument(
                "TRW needs at least one spanning tree".into(),
            ));
        }
        let p = Problem::new(fg, ev)?;
        if let Some((k, arity)) = p.first_higher_order() {
            return Err(Error::NotPairwise {
                method: "TRW",
                factor: k,
                arity,
            });
        }
        let (trees, rho) = spanning_trees(&p, self.trees, self.seed);
        let g = PairGraph::new(&p, rho, self.damping, false);
        let (msgs, convergence) = run_pairwise(&g, &self.stop);
        let bound = certified_bound(&g, &msgs, &trees);
        let local = g.log_beliefs(&msgs);
        Ok(VariationalResult {
            log_z: LogZEstimate {
                log_z: bound,
                std_err: None,
                lower: None,
                upper: Some(bound),
                ess: None,
                kind: EstimateKind::UpperBound,
                bound_kind: Some(BoundKind::Deterministic),
                lower_std_err: None,
                upper_std_err: None,
            },
            marginals: p.posterior(&local, bound),
            convergence,
        })
    }
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let gp = parent[parent[x as usize] as usize];
        parent[x as usize] = gp;
        x = gp;
    }
    x
}

/// Kruskal on the edges in the given order: the edges of a spanning forest.
fn forest(n: usize, edges: &[(u32, u32)], order: &[usize]) -> Vec<u32> {
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut out = Vec::with_capacity(n.saturating_sub(1));
    for &e in order {
        let (a, b) = edges[e];
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            parent[ra as usize] = rb;
            out.push(e as u32);
            if out.len() + 1 == n {
                break;
            }
        }
    }
    out
}

/// Breadth-first order of a forest given by its edges.
fn bfs_order(n: usize, edges: &[(u32, u32)], forest: &[u32]) -> TreeOrder {
    let mut deg_off = vec![0usize; n + 1];
    for &e in forest {
        let (a, b) = edges[e as usize];
        deg_off[a as usize + 1] += 1;
        deg_off[b as usize + 1] += 1;
    }
    for i in 0..n {
        deg_off[i + 1] += deg_off[i];
    }
    let mut fill = deg_off.clone();
    let mut nb = vec![(0u32, 0u32); deg_off[n]];
    for &e in forest {
        let (a, b) = edges[e as usize];
        nb[fill[a as usize]] = (b, e);
        fill[a as usize] += 1;
        nb[fill[b as usize]] = (a, e);
        fill[b as usize] += 1;
    }
    let mut seen = vec![false; n];
    let mut order: TreeOrder = Vec::with_capacity(n);
    for root in 0..n {
        if seen[root] {
            continue;
        }
        seen[root] = true;
        let mut head = order.len();
        order.push([root as u32, u32::MAX, u32::MAX]);
        while head < order.len() {
            let v = order[head][0] as usize;
            head += 1;
            for &(w, e) in &nb[deg_off[v]..deg_off[v + 1]] {
                if !seen[w as usize] {
                    seen[w as usize] = true;
                    order.push([w, v as u32, e]);
                }
            }
        }
    }
    order
}

/// `k` random spanning forests (plus covering ones if needed) and the edge appearance
/// probabilities they define.
fn spanning_trees(p: &Problem, k: usize, seed: u64) -> (Vec<TreeOrder>, Vec<f64>) {
    let n = p.num_vars();
    let edges: Vec<(u32, u32)> = p
        .factors
        .iter()
        .map(|f| (f.vars[0] as u32, f.vars[1] as u32))
        .collect();
    let m = edges.len();
    let mut forests: Vec<Vec<u32>> = (0..k)
        .into_par_iter()
        .map(|t| {
            let mut rng = chain_rng(seed, t as u64);
            let mut order: Vec<usize> = (0..m).collect();
            order.shuffle(&mut rng);
            forest(n, &edges, &order)
        })
        .collect();
    let mut count = vec![0usize; m];
    for f in &forests {
        for &e in f {
            count[e as usize] += 1;
        }
    }
    let mut extra = k as u64;
    while count.contains(&0) {
        let mut rng = chain_rng(seed, extra);
        extra += 1;
        let mut uncovered: Vec<usize> = (0..m).filter(|&e| count[e] == 0).collect();
        let mut covered: Vec<usize> = (0..m).filter(|&e| count[e] > 0).collect();
        uncovered.shuffle(&mut rng);
        covered.shuffle(&mut rng);
        uncovered.extend(covered);
        let f = forest(n, &edges, &uncovered);
        for &e in &f {
            count[e as usize] += 1;
        }
        forests.push(f);
    }
    let total = forests.len() as f64;
    let rho = count.iter().map(|&c| c as f64 / total).collect();
    let orders = forests
        .par_iter()
        .map(|f| bfs_order(n, &edges, f))
        .collect();
    (orders, rho)
}

/// `mean_T ln Z(theta^T)` plus the problem's constant: an upper bound on ln Z for any messages.
fn certified_bound(g: &PairGraph<'_>, msgs: &[f64], trees: &[TreeOrder]) -> f64 {
    let p = g.p;
    let n = p.num_vars();
    let mut raw = vec![0.0; *g.off.last().unwrap()];
    for i in 0..n {
        g.node_belief(i, msgs, &mut raw[g.off[i]..g.off[i + 1]]);
    }
    // slots holding m_{vars[1] -> vars[0]} and m_{vars[0] -> vars[1]} for every edge
    let slots: Vec<[usize; 2]> = p
        .factors
        .iter()
        .enumerate()
        .map(|(e, f)| [g.slot_at(f.vars[0], e), g.slot_at(f.vars[1], e)])
        .collect();
    let values: Vec<f64> = trees
        .par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(acc, term): &mut (Vec<f64>, Vec<f64>), order| {
                acc.clear();
                acc.extend_from_slice(&raw);
                let mut total = 0.0;
                for &[c, par, e] in order.iter().rev() {
                    let c = c as usize;
                    if par == u32::MAX {
                        total += lse(&acc[g.off[c]..g.off[c + 1]]);
                        continue;
                    }
                    let (par, e) = (par as usize, e as usize);
                    let f = &p.factors[e];
                    let c_first = f.vars[0] == c;
                    let (slot_par, slot_c) = if c_first {
                        (slots[e][1], slots[e][0])
                    } else {
                        (slots[e][0], slots[e][1])
                    };
                    let lam_par = g.msg(msgs, slot_par); // m_{c -> par}(x_par)
                    let lam_c = g.msg(msgs, slot_c); // m_{par -> c}(x_c)
                    let tab = &g.scaled[e];
                    let (cc, cp) = (g.card(c), g.card(par));
                    let ac = g.off[c];
                    let ap = g.off[par];
                    // the child's finished sum minus the message it received from the parent
                    term.clear();
                    term.extend((0..cc).map(|xc| acc[ac + xc] - lam_c[xc]));
                    let child: &[f64] = term;
                    let at = |xp: usize, xc: usize| {
                        let idx = if c_first { xc * cp + xp } else { xp * cc + xc };
                        tab[idx] + child[xc]
                    };
                    for xp in 0..cp {
                        let v = if cc == 2 {
                            log_add_exp(at(xp, 0), at(xp, 1))
                        } else {
                            lse_by(cc, |xc| at(xp, xc))
                        };
                        acc[ap + xp] += v - lam_par[xp];
                    }
                }
                total
            },
        )
        .collect();
    p.constant + values.iter().sum::<f64>() / trees.len() as f64
}

/// `ln sum_{k < n} e^{f(k)}` without a buffer.
fn lse_by(n: usize, f: impl Fn(usize) -> f64) -> f64 {
    let m = (0..n).map(&f).fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + (0..n).map(|k| num::exp(f(k) - m)).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::exact::{self, ExactOptions};
    use crate::model::{ising_grid, Boundary};

    #[test]
    fn bound_equals_free_energy_at_fixed_point() {
        let g = ising_grid(
            5,
            5,
            Boundary::Periodic,
            |i, j| 0.1 + 0.02 * ((i + j) % 7) as f64,
            |i| 0.05 * (i % 4) as f64 - 0.07,
        )
        .unwrap();
        let ev = Evidence::new(25);
        let p = Problem::new(&g, &ev).unwrap();
        let (trees, rho) = spanning_trees(&p, 30, 7);
        assert!(rho.iter().all(|&r| r > 0.0 && r <= 1.0));
        let pg = PairGraph::new(&p, rho, 0.0, false);
        let (msgs, conv) = run_pairwise(&pg, &StopRule::new(10_000, 1e-13));
        assert!(conv.converged());
        let bound = certified_bound(&pg, &msgs, &trees);
        let fe = pg.trw_free_energy(&msgs);
        assert!((bound - fe).abs() < 1e-8, "{bound} vs {fe}");
        let z = exact::log_z(&g, &ev, &ExactOptions::default())
            .unwrap()
            .log_z;
        assert!(bound >= z);
        // a bound even from the initial (uniform) messages
        let b0 = certified_bound(&pg, &pg.init_msgs(), &trees);
        assert!(b0 >= bound - 1e-9, "{b0} {bound}");
    }

    #[test]
    fn tree_model_gives_rho_one_and_exact_value() {
        // a chain: every spanning tree is the chain itself
        let g = ising_grid(
            1,
            8,
            Boundary::Free,
            |i, _| 0.3 + 0.1 * i as f64,
            |i| 0.1 * i as f64,
        )
        .unwrap();
        let ev = Evidence::new(8);
        let trw = Trw::default().run(&g, &ev).unwrap();
        let z = exact::log_z(&g, &ev, &ExactOptions::default())
            .unwrap()
            .log_z;
        assert!((trw.log_z.log_z - z).abs() < 1e-10);
    }
}
