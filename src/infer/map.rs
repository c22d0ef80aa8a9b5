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
use crate::sample::kernel::{Kernel, KernelOptions};
use crate::sample::start::StartSearch;
use crate::sample::{Tempering, Transition};
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

fn reduce(cards: Vec<usize>, all: &[TableFactor], ev: &Evidence) -> Result<Reduced> {
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

/// Options of [`map_anneal`].
#[derive(Debug, Clone, PartialEq)]
pub struct AnnealOptions {
    /// Independent chains per round (default 8); they run in parallel, each from its own
    /// stream `(seed, round * chains + chain)`, so the result does not depend on the threads.
    pub chains: usize,
    /// Sweeps of one anneal, from the hottest to the coldest temperature (default 400; each
    /// round after the first doubles it).
    pub sweeps: usize,
    /// Temperature levels of one anneal, geometric in beta (default 40); the kernel is
    /// prepared once per level and shared by the chains.
    pub levels: usize,
    /// First and last inverse temperature, in units of the model's typical local scale (the
    /// median range of a factor's finite log values): default 0.1 and 30.
    pub beta_range: (f64, f64),
    /// Seed of the chains.
    pub seed: u64,
    /// The MCMC kernel ([`Kernel::Auto`]: blocked Gibbs on models with zeros, else Gibbs).
    pub kernel: Kernel,
    /// Rounds of annealing (default 1); with a deadline, rounds go on until it passes.
    pub rounds: usize,
    /// Deadline: checked between temperature levels.
    pub deadline: Deadline,
    /// Largest memory (bytes) for the chains' states (default
    /// [`crate::limits::default_memory_limit`]).
    pub memory_limit: f64,
}

impl Default for AnnealOptions {
    fn default() -> Self {
        AnnealOptions {
            chains: 8,
            sweeps: 400,
            levels: 40,
            beta_range: (0.1, 30.0),
            seed: 0,
            kernel: Kernel::Auto,
            rounds: 1,
            deadline: Deadline::NONE,
            memory_limit: crate::limits::default_memory_limit(),
        }
    }
}

/// MAP search by simulated annealing: chains of the engine's MCMC kernels run on the model
/// raised to a growing inverse temperature, the best state any chain visits (then improved by
/// iterated conditional modes) is kept. No bound: `upper_bound` is `+inf` and `optimal` false,
/// unless `bound` (for instance a [`map_dual`] result's `upper_bound`) is given and the gap to
/// it closes. `start` (a full assignment) is the best known so far, kept if nothing beats it.
///
/// Errors: as the kernel's constructor, [`Error::AllocationTooLarge`] when the chains' states
/// would pass `memory_limit`, [`Error::InvalidArgument`] for zero chains, sweeps or levels or a beta range that is not `0 < first <= last` and finite,
/// [`Error::ZeroProbabilityEvidence`] when no state of positive probability exists.
///
/// Cost: `rounds * chains * sweeps` kernel sweeps plus one evaluation of the factors per
/// chain and level.
///
/// ```
/// use pgmkit::infer::map::{map_anneal, AnnealOptions};
/// use pgmkit::model::{ising_grid, Boundary};
/// use pgmkit::Evidence;
/// // a ferromagnet with a positive field: every spin up is the MAP
/// let g = ising_grid(8, 8, Boundary::Free, |_, _| 0.5, |_| 0.1).unwrap();
/// let r = map_anneal(&g, &Evidence::new(64), None, None, &AnnealOptions::default()).unwrap();
/// assert!(r.assignment.iter().all(|&s| s == 1));
/// ```
pub fn map_anneal(
    fg: &FactorGraph,
    ev: &Evidence,
    start: Option<&[usize]>,
    bound: Option<f64>,
    opts: &AnnealOptions,
) -> Result<MapResult> {
    use rayon::prelude::*;
    let t0 = Instant::now();
    let (b0, b1) = opts.beta_range;
    if opts.chains == 0 || opts.sweeps == 0 || opts.levels == 0 {
        return Err(Error::InvalidArgument(
            "annealing needs at least one chain, one sweep and one level".into(),
        ));
    }
    if !(b0.is_finite() && b1.is_finite() && b0 > 0.0 && b0 <= b1) {
        return Err(Error::InvalidArgument(format!(
            "annealing beta range {b0}..{b1}: need 0 < first <= last, finite"
        )));
    }
    // every chain holds its state and its best state
    crate::limits::check_bytes(
        &format!(
            "annealing states ({} chains x {} variables)",
            opts.chains,
            fg.num_vars()
        ),
        2.0 * opts.chains as f64 * fg.num_vars() as f64 * 8.0,
        opts.memory_limit,
    )?;
    let r = reduce(fg.cards(), fg.factors(), ev)?;
    let n = r.cards.len();
    let free: Vec<bool> = (0..n).map(|i| ev.get(VarId(i as u32)).is_none()).collect();
    // the typical local scale: median range of the finite log values of a factor
    let mut ranges: Vec<f64> = r
        .factors
        .iter()
        .filter_map(|(_, vals, _)| {
            let fin = vals.iter().copied().filter(|v| v.is_finite());
            let (lo, hi) = fin.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
            (hi > lo).then_some(hi - lo)
        })
        .collect();
    ranges.sort_by(f64::total_cmp);
    let scale = ranges.get(ranges.len() / 2).copied().unwrap_or(1.0);
    let (beta_lo, beta_hi) = (b0 / scale, b1 / scale);
    // the kernel runs on the model raised to beta_hi, tempered by beta / beta_hi in (0, 1]
    let hot = FactorGraph::new(
        fg.vars().to_vec(),
        fg.factors()
            .iter()
            .map(|f| {
                TableFactor::new(
                    f.scope().to_vec(),
                    f.cards().to_vec(),
                    f.log_values().iter().map(|&v| v * beta_hi).collect(),
                )
            })
            .collect::<Result<Vec<_>>>()?,
    )?;
    let kernel = opts.kernel.build(&hot, ev, &KernelOptions::default())?;
    let search = StartSearch::new(fg, ev)?;
    let (mut best_x, mut best_v) = match start {
        Some(x) if x.len() == n => (x.to_vec(), value(&r, x)),
        _ => (Vec::new(), f64::NEG_INFINITY),
    };
    let mut time_limited = false;
    let mut sweeps_done = 0usize;
    let mut rounds = 0usize;
    let closed =
        |v: f64| bound.is_some_and(|ub| v.is_finite() && ub - v <= GAP_TOL * v.abs().max(1.0));
    'rounds: while (rounds < opts.rounds || opts.deadline.is_set()) && !closed(best_v) {
        if opts.deadline.passed() {
            time_limited = true;
            break;
        }
        let sweeps = opts.sweeps.saturating_mul(1usize << rounds.min(20));
        let first = (rounds * opts.chains) as u64;
        let mut chains: Vec<(crate::rng::EngineRng, Vec<usize>, Vec<usize>, f64)> = (0
            ..opts.chains as u64)
            .into_par_iter()
            .map(|c| {
                let mut rng = crate::rng::chain_rng(opts.seed, first + c);
                let x = search.find(&mut rng)?;
                let v = value(&r, &x);
                Ok((rng, x.clone(), x, v))
            })
            .collect::<Result<Vec<_>>>()?;
        let per = sweeps.div_ceil(opts.levels);
        for level in 0..opts.levels {
            if opts.deadline.passed() {
                time_limited = true;
                break;
            }
            let frac = if opts.levels == 1 {
                1.0
            } else {
                level as f64 / (opts.levels - 1) as f64
            };
            let beta = beta_lo * (beta_hi / beta_lo).powf(frac);
            let prep = kernel.prepare(&Tempering::uniform((beta / beta_hi).min(1.0)));
            // long levels (late rounds, many chains) check the deadline every few sweeps too
            let cut = std::sync::atomic::AtomicBool::new(false);
            chains.par_iter_mut().for_each(|(rng, x, bx, bv)| {
                for k in 0..per {
                    if k % 4 == 0 && opts.deadline.passed() {
                        cut.store(true, std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                    kernel.sweep(x, &prep, rng);
                }
                let v = value(&r, x);
                if v > *bv {
                    *bv = v;
                    bx.copy_from_slice(x);
                }
            });
            sweeps_done += per;
            if cut.into_inner() {
                time_limited = true;
                break;
            }
        }
        if time_limited {
            // out of time: polish only the chain with the best state so far
            let best =
                (0..chains.len()).fold(0, |a, c| if chains[c].3 > chains[a].3 { c } else { a });
            chains.swap(0, best);
            chains.truncate(1);
        }
        let polished: Vec<(Vec<usize>, f64)> = chains
            .into_par_iter()
            .map(|(_, mut x, mut bx, _)| {
                icm(&r, &free, &mut x);
                icm(&r, &free, &mut bx);
                let (vx, vb) = (value(&r, &x), value(&r, &bx));
                if vx > vb {
                    (x, vx)
                } else {
                    (bx, vb)
                }
            })
            .collect();
        for (x, v) in polished {
            if v > best_v || best_x.is_empty() {
                best_v = v;
                best_x = x;
            }
        }
        rounds += 1;
        if time_limited {
            break 'rounds;
        }
    }
    if best_x.is_empty() || best_v == f64::NEG_INFINITY {
        return Err(Error::ZeroProbabilityEvidence);
    }
    let ub = bound.map_or(f64::INFINITY, |b| b.max(best_v));
    Ok(MapResult {
        assignment: best_x,
        log_value: best_v,
        upper_bound: ub,
        gap: ub - best_v,
        optimal: closed(best_v),
        sweeps: sweeps_done,
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
