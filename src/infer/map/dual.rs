//! The LP dual of MAP (MPLP with cycle-cluster tightening): an upper bound and a decoded assignment.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::factor::TableFactor;
use crate::limits::Deadline;
use crate::model::FactorGraph;
use crate::var::{Evidence, VarId};

use super::*;

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
    /// Once the bound stalls with a gap, tighten the relaxation with the triangles and squares
    /// of the pairwise factors (cycle clusters, Sontag et al. 2008) and go on (default true).
    pub tighten: bool,
}

impl Default for DualOptions {
    fn default() -> Self {
        DualOptions {
            max_sweeps: 1000,
            tol: 1e-7,
            deadline: Deadline::NONE,
            tighten: true,
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
    dual_of(fg.cards(), fg.factors(), ev, opts, f64::INFINITY)
}

/// Table entries times scope size summed over `factors`: about the work of one pass over the
/// factors (the unit of the budgets of exact MPE's certificate, measured at about one junction
/// tree clique entry each).
pub(crate) fn sweep_work(factors: &[TableFactor]) -> f64 {
    factors
        .iter()
        .map(|f| (f.len() * f.scope().len().max(1)) as f64)
        .sum()
}

/// [`map_dual`] on tables over variables of cardinalities `cards`, stopping also once its work
/// (in [`sweep_work`] units: about five passes over the factors per sweep, plus the clusters')
/// would pass `work_budget`; deterministic, unlike a deadline.
pub(crate) fn dual_of(
    cards: Vec<usize>,
    factors: &[TableFactor],
    ev: &Evidence,
    opts: &DualOptions,
    work_budget: f64,
) -> Result<MapResult> {
    let t0 = Instant::now();
    let r = reduce(cards, factors, ev)?;
    let n = r.cards.len();
    let free: Vec<bool> = (0..n).map(|i| ev.get(VarId(i as u32)).is_none()).collect();
    // messages λ[f][p][x] from factor f to the p-th variable of its scope
    let mut lam: Vec<Vec<Vec<f64>>> = r
        .factors
        .iter()
        .map(|(scope, _, _)| scope.iter().map(|&v| vec![0.0; r.cards[v]]).collect())
        .collect();
    // tightening: cluster messages summed per factor entry (zero until clusters are added)
    let mut mu_sum: Vec<Vec<f64>> = r.factors.iter().map(|f| vec![0.0; f.1.len()]).collect();
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut tightened = false;
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
    let bound = |lam: &Vec<Vec<Vec<f64>>>, mu_sum: &Vec<Vec<f64>>, clusters: &[Cluster]| -> f64 {
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
            for (e, &val) in vals.iter().enumerate() {
                let mut t = val + mu_sum[k][e];
                for (p, &s) in x.iter().enumerate() {
                    t -= lam[k][p][s];
                }
                best = best.max(t);
                odometer(&mut x, scope, &r.cards);
            }
            d += best;
        }
        for c in clusters {
            d += c.potential_max();
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
    let mut ub = bound(&lam, &mu_sum, &clusters);
    let mut sweeps = 0;
    let mut time_limited = false;
    let mut flat = 0;
    let closed = |ub: f64, v: f64| v.is_finite() && ub - v <= GAP_TOL * v.abs().max(1.0);
    let pass: f64 = r
        .factors
        .iter()
        .map(|(scope, vals, _)| (vals.len() * scope.len()) as f64)
        .sum();
    let mut work = 2.0 * pass; // the first bound and decoding
    let cluster_pass = |clusters: &[Cluster]| -> f64 {
        clusters
            .iter()
            .map(|c| (2 * c.size * c.members.len()) as f64 + 4.0 * c.members.len() as f64)
            .sum()
    };
    while sweeps < opts.max_sweeps && !closed(ub, best_v) {
        if opts.deadline.passed() {
            time_limited = true;
            break;
        }
        let cost = 5.0 * pass + 2.0 * cluster_pass(&clusters);
        if work + cost > work_budget {
            break;
        }
        work += cost;
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
            for (e, &val) in vals.iter().enumerate() {
                let mut t = val + mu_sum[k][e];
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
        for c in clusters.iter_mut() {
            c.update(&r, &lam, &mut mu_sum);
        }
        sweeps += 1;
        let nb = bound(&lam, &mu_sum, &clusters);
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
        // stop after several sweeps in a row that barely move it, unless the relaxation can
        // still be tightened
        flat = if drop.abs() < opts.tol { flat + 1 } else { 0 };
        if flat >= 5 {
            if !opts.tighten || tightened {
                break;
            }
            tightened = true;
            // the triangles and squares of the pairwise factors, if any is loose now (cluster
            // pursuit, Sontag et al. 2008: on a consistent cycle a cluster cannot lower the
            // bound, and a model with none, e.g. a ferromagnet, is left as it is); on a
            // frustrated model all of them, since more become loose as the messages move
            let all = find_clusters(&r);
            if !all.iter().any(|c| c.gain(&r, &lam, &mu_sum) > opts.tol) {
                break;
            }
            clusters = all;
            flat = 0;
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

/// A cluster of the tightened relaxation (Sontag et al. 2008): a short cycle of pairwise
/// factors (a triangle or a square) as one more region of the dual. Its messages `μ_{c→f}`
/// move a function of each member factor's scope between the cluster and the factor, so the
/// sum of all region potentials stays the model's and the dual stays a valid bound; its star
/// update hands each member an equal share of the cluster's max-marginals (MPLP's rule).
struct Cluster {
    /// Entries of the cluster table.
    size: usize,
    /// (factor, factor entry of each cluster entry, current message over the factor's table)
    members: Vec<(usize, Vec<usize>, Vec<f64>)>,
}

impl Cluster {
    /// max over the cluster's states of its potential `-Σ_f μ_{c→f}`.
    fn potential_max(&self) -> f64 {
        (0..self.size)
            .map(|t| {
                -self
                    .members
                    .iter()
                    .map(|(_, idx, mu)| mu[idx[t]])
                    .sum::<f64>()
            })
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// Each member's potential without this cluster's message: `θ_f + Σ_{c'≠c} μ_{c'→f} - Σ_i λ_{f→i}`.
    fn member_potentials(
        &self,
        r: &Reduced,
        lam: &[Vec<Vec<f64>>],
        mu_sum: &[Vec<f64>],
    ) -> Vec<Vec<f64>> {
        self.members
            .iter()
            .map(|(f, _, mu)| {
                let (scope, vals, _) = &r.factors[*f];
                let mut x = vec![0usize; scope.len()];
                vals.iter()
                    .enumerate()
                    .map(|(e, &val)| {
                        let mut t = val + mu_sum[*f][e] - mu[e];
                        for (p, &s) in x.iter().enumerate() {
                            t -= lam[*f][p][s];
                        }
                        odometer(&mut x, scope, &r.cards);
                        t
                    })
                    .collect()
            })
            .collect()
    }

    /// How much the cluster's first update would lower the bound: the members' separate maxima
    /// minus the maximum of their sum over the cluster (zero when the cycle is consistent).
    fn gain(&self, r: &Reduced, lam: &[Vec<Vec<f64>>], mu_sum: &[Vec<f64>]) -> f64 {
        let rho = self.member_potentials(r, lam, mu_sum);
        let separate: f64 = rho
            .iter()
            .map(|v| v.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            .sum();
        let joint = (0..self.size)
            .map(|t| {
                self.members
                    .iter()
                    .zip(&rho)
                    .map(|((_, idx, _), rk)| rk[idx[t]])
                    .sum::<f64>()
            })
            .fold(f64::NEG_INFINITY, f64::max);
        separate - joint
    }

    fn update(&mut self, r: &Reduced, lam: &[Vec<Vec<f64>>], mu_sum: &mut [Vec<f64>]) {
        let kk = self.members.len() as f64;
        let rho = self.member_potentials(r, lam, mu_sum);
        let psi: Vec<f64> = (0..self.size)
            .map(|t| {
                self.members
                    .iter()
                    .zip(&rho)
                    .map(|((_, idx, _), rk)| rk[idx[t]])
                    .sum()
            })
            .collect();
        for ((f, idx, mu), rk) in self.members.iter_mut().zip(&rho) {
            let mut m = vec![f64::NEG_INFINITY; mu.len()];
            for (t, &p) in psi.iter().enumerate() {
                if p > m[idx[t]] {
                    m[idx[t]] = p;
                }
            }
            for e in 0..mu.len() {
                let new = (m[e] / kk - rk[e]).clamp(-HUGE, HUGE);
                mu_sum[*f][e] += new - mu[e];
                mu[e] = new;
            }
        }
    }
}

/// Largest cluster table of the tightening.
const CLUSTER_MAX_ENTRIES: usize = 4096;

/// The triangles and squares of the pairwise factors with all entries finite (models with
/// zeros are not tightened), at most four per pairwise factor, in a fixed order.
fn find_clusters(r: &Reduced) -> Vec<Cluster> {
    use std::collections::BTreeMap;
    let mut edge: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (k, (scope, vals, _)) in r.factors.iter().enumerate() {
        if scope.len() == 2 && vals.iter().all(|v| v.is_finite()) {
            let key = (scope[0].min(scope[1]), scope[0].max(scope[1]));
            edge.entry(key).or_insert(k);
        }
    }
    let n = r.cards.len();
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edge.keys() {
        adj[a].push(b);
        adj[b].push(a);
    }
    for l in adj.iter_mut() {
        l.sort_unstable();
    }
    let cap = 4 * edge.len();
    let mut cycles: Vec<Vec<usize>> = Vec::new();
    'search: for a in 0..n {
        for (i, &b) in adj[a].iter().enumerate() {
            for &c in &adj[a][i + 1..] {
                if b < a || c < a {
                    continue;
                }
                // triangle a-b-c
                if edge.contains_key(&(b.min(c), b.max(c))) {
                    cycles.push(vec![a, b, c]);
                }
                // squares a-b-d-c with a the smallest vertex
                for &d in &adj[b] {
                    if d > a && d != c && adj[c].binary_search(&d).is_ok() {
                        cycles.push(vec![a, b, d, c]);
                    }
                }
                if cycles.len() >= cap {
                    break 'search;
                }
            }
        }
    }
    let mut out = Vec::new();
    for cyc in cycles {
        let mut vars = cyc.clone();
        vars.sort_unstable();
        let cc: Vec<usize> = vars.iter().map(|&v| r.cards[v]).collect();
        let size: usize = cc.iter().product();
        if size > CLUSTER_MAX_ENTRIES {
            continue;
        }
        let members = (0..cyc.len())
            .map(|i| {
                let (u, v) = (cyc[i], cyc[(i + 1) % cyc.len()]);
                let f = edge[&(u.min(v), u.max(v))];
                let (scope, vals, st) = &r.factors[f];
                let mut x = vec![0usize; vars.len()];
                let mut idx = Vec::with_capacity(size);
                for _ in 0..size {
                    idx.push(
                        scope
                            .iter()
                            .zip(st)
                            .map(|(&w, &s)| x[vars.binary_search(&w).expect("in cluster")] * s)
                            .sum(),
                    );
                    odometer(&mut x, &vars, &r.cards);
                }
                (f, idx, vec![0.0; vals.len()])
            })
            .collect();
        out.push(Cluster { size, members });
    }
    out
}
