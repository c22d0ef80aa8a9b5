//! Exact inference for one data row, on the network reduced by the row's observed cells.
//!
//! For a row with missing cells `M`, only the CPD families that contain a variable of `M` depend
//! on the missing values; every other family contributes a constant `ln p(x_i | pa_i)`. The
//! missing variables are joined when they share such a family, which splits `M` into connected
//! components (observed variables separate them). Each component is solved exactly on its own:
//! by enumerating its joint states when there are at most [`RowOptions::enumeration_limit`] of
//! them, otherwise by variable elimination over the reduced factors (with a greedy min-weight
//! order and a guard on the largest table). The same machinery gives the row's marginal
//! log-likelihood, the expected family counts of EM, per-cell posteriors, per-cell posterior
//! modes and exact joint draws of the missing cells (enumeration, or backward sampling after
//! forward elimination).

use std::sync::OnceLock;

use rand::Rng;

use crate::data::MISSING;
use crate::error::{Error, Result};
use crate::factor::TableFactor;
use crate::model::BayesNet;
use crate::num;
use crate::var::{Evidence, VarId};

/// Options of per-row inference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowOptions {
    /// Components with at most this many joint states are enumerated (default 4096).
    pub enumeration_limit: usize,
    /// Largest table variable elimination may build for one component (entries, default 2^24);
    /// beyond it the row fails with [`Error::TooLarge`].
    pub max_table_entries: usize,
}

impl Default for RowOptions {
    fn default() -> Self {
        RowOptions {
            enumeration_limit: 4096,
            max_table_entries: 1 << 24,
        }
    }
}

/// Per-row exact inference engine for one Bayesian network (cheap to share across threads).
#[derive(Debug)]
pub struct RowEngine {
    cards: Vec<usize>,
    /// Family of each CPD in table order (parents..., child).
    fam: Vec<Vec<u32>>,
    /// Stride of each family member in the CPD table.
    stride: Vec<Vec<usize>>,
    /// ln of the CPD probabilities.
    log_p: Vec<Vec<f64>>,
    /// CPDs whose family contains the variable (its own and its children's).
    var_cpds: Vec<Vec<u32>>,
    /// Log factors of the CPDs (built on first use by variable elimination).
    factors: OnceLock<Vec<TableFactor>>,
    cpd_factor_src: Vec<crate::model::Cpd>,
    vars: Vec<crate::var::Variable>,
    opts: RowOptions,
}

/// A contribution of one CPD inside a component: its table index is
/// `base + sum(stride_j * x_j)` over the component variables it contains.
#[derive(Debug, Clone)]
struct CpdPlan {
    cpd: u32,
    base: usize,
}

/// The parameter-free structure of an enumerated component.
#[derive(Debug)]
struct EnumStruct {
    vars: Vec<u32>,
    plans: Vec<CpdPlan>,
    /// For each component variable: (index into plans, stride).
    var_in: Vec<Vec<(usize, usize)>>,
    /// Plans grouped by their level (position of their last component variable).
    by_level: Vec<Vec<usize>>,
    /// Number of joint states.
    size: usize,
}

/// The parameter-free structure of one component.
#[derive(Debug, Clone)]
enum CompPlan {
    Enum(std::sync::Arc<EnumStruct>),
    Ve { vars: Vec<u32>, cpds: Vec<u32> },
}

/// What inference on one row needs that does not depend on the CPT values: the families with no
/// missing cell (and their table index) and the components of missing cells. EM computes it once
/// per distinct row and reuses it in every iteration ([`RowEngine::plan`],
/// [`RowEngine::posterior_with`]).
#[derive(Debug, Clone)]
pub struct RowPlan {
    consts: Vec<(u32, usize)>,
    comps: Vec<CompPlan>,
}

/// The posterior of one component of missing variables.
#[derive(Debug, Clone)]
enum CompPost {
    /// Enumerated: normalised probabilities of every joint state (first variable slowest).
    Enum {
        s: std::sync::Arc<EnumStruct>,
        probs: Vec<f64>,
    },
    /// Variable elimination over the reduced factors, calibrated as a bucket tree.
    Ve(Box<BucketTree>),
}

/// A calibrated bucket tree of one component (upward variable elimination along `order`, then a
/// downward pass): the normalised belief of every bucket, and the upward product tables (for
/// backward sampling).
#[derive(Debug, Clone)]
struct BucketTree {
    vars: Vec<u32>,
    factors: Vec<TableFactor>,
    plans: Vec<CpdPlan>,
    order: Vec<u32>,
    /// Upward product of bucket i (everything multiplied before eliminating order[i]).
    prods: Vec<TableFactor>,
    /// Normalised belief (posterior over the bucket's scope) of bucket i.
    beliefs: Vec<TableFactor>,
    /// Bucket holding each input factor.
    bucket_of_factor: Vec<usize>,
}

/// Everything exact inference says about one row: its marginal log-likelihood and the posterior
/// of its missing cells (one independent block per component).
#[derive(Debug, Clone)]
pub struct RowPosterior {
    /// `ln p(observed cells of the row)`; `-inf` when the observed part is impossible.
    pub log_lik: f64,
    comps: Vec<CompPost>,
}

impl RowEngine {
    /// An engine for `bn` (its CPDs are read once; the network is not borrowed).
    pub fn new(bn: &BayesNet, opts: RowOptions) -> Result<Self> {
        if opts.enumeration_limit == 0 {
            return Err(Error::InvalidArgument(
                "the enumeration limit must be at least 1".into(),
            ));
        }
        let cards: Vec<usize> = bn.vars().iter().map(|v| v.card()).collect();
        if let Some(k) = cards.iter().find(|&&k| k > crate::data::MAX_STATES) {
            return Err(Error::InvalidArgument(format!(
                "a variable has {k} states; data codes hold at most 65535"
            )));
        }
        let mut fam = Vec::with_capacity(cards.len());
        let mut stride = Vec::with_capacity(cards.len());
        let mut var_cpds = vec![Vec::new(); cards.len()];
        for (i, c) in bn.cpds().iter().enumerate() {
            let f: Vec<u32> = c
                .parents
                .iter()
                .chain(std::iter::once(&c.child))
                .map(|v| v.0)
                .collect();
            let mut st = vec![0; f.len()];
            let mut s = 1;
            for j in (0..f.len()).rev() {
                st[j] = s;
                s *= cards[f[j] as usize];
            }
            for &v in &f {
                var_cpds[v as usize].push(i as u32);
            }
            fam.push(f);
            stride.push(st);
        }
        Ok(RowEngine {
            log_p: bn.cpds().iter().map(|c| num::ln_all(&c.probs)).collect(),
            cards,
            fam,
            stride,
            var_cpds,
            factors: OnceLock::new(),
            cpd_factor_src: bn.cpds().to_vec(),
            vars: bn.vars().to_vec(),
            opts,
        })
    }

    /// Number of variables.
    pub fn num_vars(&self) -> usize {
        self.cards.len()
    }

    /// Cardinalities.
    pub fn cards(&self) -> &[usize] {
        &self.cards
    }

    /// Table index of CPD `c` at a full row (no missing cell in its family).
    #[inline]
    fn index(&self, c: usize, row: &[u16]) -> usize {
        self.fam[c]
            .iter()
            .zip(&self.stride[c])
            .map(|(&v, &s)| row[v as usize] as usize * s)
            .sum()
    }

    /// `ln p(x)` of a complete row, or the marginal log-likelihood of the observed cells of a row
    /// with missing cells ([`MISSING`] codes). `-inf` when the observed part is impossible.
    pub fn log_lik(&self, row: &[u16]) -> Result<f64> {
        if !row.contains(&MISSING) {
            let mut s = 0.0;
            for c in 0..self.fam.len() {
                s += self.log_p[c][self.index(c, row)];
            }
            return Ok(s);
        }
        Ok(self.posterior(row)?.log_lik)
    }

    /// Exact posterior of the missing cells of `row` (codes in model order, [`MISSING`] for a
    /// hole) and its marginal log-likelihood.
    pub fn posterior(&self, row: &[u16]) -> Result<RowPosterior> {
        let plan = self.plan(row)?;
        self.posterior_with(&plan, row)
    }

    /// The parameter-free structure of inference on `row` (see [`RowPlan`]).
    pub fn plan(&self, row: &[u16]) -> Result<RowPlan> {
        let n = self.cards.len();
        if row.len() != n {
            return Err(Error::InvalidArgument(format!(
                "a row needs {n} cells, got {}",
                row.len()
            )));
        }
        for (v, &x) in row.iter().enumerate() {
            if x != MISSING && x as usize >= self.cards[v] {
                return Err(Error::InvalidArgument(format!(
                    "state code {x} out of range for variable {v}"
                )));
            }
        }
        let missing: Vec<u32> = (0..n as u32)
            .filter(|&v| row[v as usize] == MISSING)
            .collect();
        // relevant CPDs and union-find over the missing variables
        let mut relevant = vec![false; self.fam.len()];
        let mut parent: Vec<u32> = (0..n as u32).collect();
        fn find(p: &mut [u32], mut x: u32) -> u32 {
            while p[x as usize] != x {
                p[x as usize] = p[p[x as usize] as usize];
                x = p[x as usize];
            }
            x
        }
        for &v in &missing {
            for &c in &self.var_cpds[v as usize] {
                if relevant[c as usize] {
                    continue;
                }
                relevant[c as usize] = true;
                let mut first = None;
                for &u in &self.fam[c as usize] {
                    if row[u as usize] == MISSING {
                        match first {
                            None => first = Some(u),
                            Some(f) => {
                                let (a, b) = (find(&mut parent, f), find(&mut parent, u));
                                if a != b {
                                    parent[a.max(b) as usize] = a.min(b);
                                }
                            }
                        }
                    }
                }
            }
        }
        let consts: Vec<(u32, usize)> = relevant
            .iter()
            .enumerate()
            .filter(|(_, &rel)| !rel)
            .map(|(c, _)| (c as u32, self.index(c, row)))
            .collect();
        // group the missing variables and CPDs by component root (ordered by smallest variable)
        let mut comp_of_root = vec![u32::MAX; n];
        let mut comp_vars: Vec<Vec<u32>> = Vec::new();
        for &v in &missing {
            let r = find(&mut parent, v) as usize;
            if comp_of_root[r] == u32::MAX {
                comp_of_root[r] = comp_vars.len() as u32;
                comp_vars.push(Vec::new());
            }
            comp_vars[comp_of_root[r] as usize].push(v);
        }
        let mut comp_cpds: Vec<Vec<u32>> = vec![Vec::new(); comp_vars.len()];
        for (c, &rel) in relevant.iter().enumerate() {
            if rel {
                let v = *self.fam[c]
                    .iter()
                    .find(|&&u| row[u as usize] == MISSING)
                    .expect("relevant CPD has a missing variable");
                let r = find(&mut parent, v) as usize;
                comp_cpds[comp_of_root[r] as usize].push(c as u32);
            }
        }
        let comps = comp_vars
            .into_iter()
            .zip(comp_cpds)
            .map(|(vars, cpds)| self.comp_plan(row, vars, cpds))
            .collect();
        Ok(RowPlan { consts, comps })
    }

    /// Exact posterior of a row whose structure was computed by [`plan`](Self::plan) for this
    /// very row.
    pub fn posterior_with(&self, plan: &RowPlan, row: &[u16]) -> Result<RowPosterior> {
        let mut log_lik = 0.0;
        for &(c, i) in &plan.consts {
            log_lik += self.log_p[c as usize][i];
        }
        let mut comps = Vec::with_capacity(plan.comps.len());
        for cp in &plan.comps {
            let (ll, post) = self.solve_component(row, cp)?;
            log_lik += ll;
            comps.push(post);
            if log_lik == f64::NEG_INFINITY {
                break;
            }
        }
        if log_lik == f64::NEG_INFINITY {
            comps.clear();
        }
        Ok(RowPosterior { log_lik, comps })
    }

    fn comp_plan(&self, row: &[u16], vars: Vec<u32>, cpds: Vec<u32>) -> CompPlan {
        let size = vars.iter().try_fold(1usize, |acc, &v| {
            acc.checked_mul(self.cards[v as usize])
                .filter(|&s| s <= self.opts.enumeration_limit)
        });
        let Some(size) = size else {
            return CompPlan::Ve { vars, cpds };
        };
        let plans = self.plans(row, &cpds);
        let var_in: Vec<Vec<(usize, usize)>> = vars
            .iter()
            .map(|&v| {
                plans
                    .iter()
                    .enumerate()
                    .filter_map(|(pi, p)| {
                        let c = p.cpd as usize;
                        self.fam[c]
                            .iter()
                            .position(|&u| u == v)
                            .map(|j| (pi, self.stride[c][j]))
                    })
                    .collect()
            })
            .collect();
        let k = vars.len();
        let mut by_level: Vec<Vec<usize>> = vec![Vec::new(); k];
        for (pi, _) in plans.iter().enumerate() {
            let lvl = (0..k)
                .rev()
                .find(|&j| var_in[j].iter().any(|&(q, _)| q == pi))
                .expect("a plan holds a component variable");
            by_level[lvl].push(pi);
        }
        CompPlan::Enum(std::sync::Arc::new(EnumStruct {
            vars,
            plans,
            var_in,
            by_level,
            size,
        }))
    }

    fn plans(&self, row: &[u16], cpds: &[u32]) -> Vec<CpdPlan> {
        cpds.iter()
            .map(|&c| {
                let base = self.fam[c as usize]
                    .iter()
                    .zip(&self.stride[c as usize])
                    .filter(|(&v, _)| row[v as usize] != MISSING)
                    .map(|(&v, &s)| row[v as usize] as usize * s)
                    .sum();
                CpdPlan { cpd: c, base }
            })
            .collect()
    }

    fn solve_component(&self, row: &[u16], cp: &CompPlan) -> Result<(f64, CompPost)> {
        let st = match cp {
            CompPlan::Enum(st) => st,
            CompPlan::Ve { vars, cpds } => return self.solve_ve(row, vars.clone(), cpds),
        };
        let (vars, plans, var_in, by_level, size) =
            (&st.vars, &st.plans, &st.var_in, &st.by_level, st.size);
        {
            let k = vars.len();
            let pt: Vec<&[f64]> = plans
                .iter()
                .map(|p| self.cpd_factor_src[p.cpd as usize].probs.as_slice())
                .collect();
            let mut idx: Vec<usize> = plans.iter().map(|p| p.base).collect();
            let mut x = vec![0usize; k];
            let mut pre = vec![1.0f64; k + 1];
            let mut w = Vec::with_capacity(size);
            let mut from = 0;
            let mut total = 0.0;
            for _ in 0..size {
                for m in from..k {
                    let mut v = pre[m];
                    for &pi in &by_level[m] {
                        v *= pt[pi][idx[pi]];
                    }
                    pre[m + 1] = v;
                }
                w.push(pre[k]);
                total += pre[k];
                from = odometer(&mut x, vars, &self.cards, var_in, &mut idx);
            }
            if total > 1e-250 && total.is_finite() {
                w.iter_mut().for_each(|p| *p /= total);
                return Ok((
                    total.ln(),
                    CompPost::Enum {
                        s: st.clone(),
                        probs: w,
                    },
                ));
            }
            // tiny or zero total: redo in log space
            let mut logw = Vec::with_capacity(size);
            let mut idx: Vec<usize> = plans.iter().map(|p| p.base).collect();
            let mut x = vec![0usize; vars.len()];
            let lp: Vec<&[f64]> = plans
                .iter()
                .map(|p| self.log_p[p.cpd as usize].as_slice())
                .collect();
            for _ in 0..size {
                let mut s = 0.0;
                for (t, &i) in lp.iter().zip(&idx) {
                    s += t[i];
                }
                logw.push(s);
                odometer(&mut x, vars, &self.cards, var_in, &mut idx);
            }
            let z = num::log_sum_exp(&logw);
            let probs = if z == f64::NEG_INFINITY {
                Vec::new()
            } else {
                logw.iter().map(|&l| num::exp(l - z)).collect()
            };
            Ok((
                z,
                CompPost::Enum {
                    s: st.clone(),
                    probs,
                },
            ))
        }
    }

    fn solve_ve(&self, row: &[u16], vars: Vec<u32>, cpds: &[u32]) -> Result<(f64, CompPost)> {
        let plans = self.plans(row, cpds);
        // variable elimination over the reduced factors
        let all = self.factors.get_or_init(|| {
            self.cpd_factor_src
                .iter()
                .map(|c| c.to_factor(&self.vars))
                .collect()
        });
        let ev = evidence_of(row);
        let factors: Vec<TableFactor> = cpds.iter().map(|&c| all[c as usize].reduce(&ev)).collect();
        let order = self.elim_order(&factors, &vars, &[])?;
        let (z, tree) = bucket_tree(vars, factors, plans, order)?;
        Ok((z, CompPost::Ve(Box::new(tree))))
    }

    fn elim_order(&self, factors: &[TableFactor], vars: &[u32], keep: &[u32]) -> Result<Vec<u32>> {
        min_weight_order(
            &self.cards,
            factors,
            vars,
            keep,
            self.opts.max_table_entries,
        )
    }

    /// Stochastic E-step for one row whose components are too large for exact inference: a
    /// single-site Gibbs chain over the row's missing cells (started by sequential greedy
    /// completion), `burn_in` sweeps discarded, then `sweeps` sweeps each adding
    /// `weight / sweeps` to the family counts of the current completion.
    pub fn gibbs_counts<R: Rng + ?Sized>(
        &self,
        row: &[u16],
        burn_in: usize,
        sweeps: usize,
        rng: &mut R,
        counts: &mut [Vec<f64>],
        weight: f64,
    ) -> Result<()> {
        if sweeps == 0 {
            return Err(Error::InvalidArgument(
                "a Gibbs E-step needs at least one sweep".into(),
            ));
        }
        let mut x = row.to_vec();
        let missing: Vec<usize> = (0..x.len()).filter(|&v| x[v] == MISSING).collect();
        // start: each missing variable at the state of largest weight given the cells so far
        // (still-missing neighbours at state 0)
        for &v in &missing {
            x[v] = 0;
        }
        let mut w = Vec::new();
        for &v in &missing {
            self.conditional(&mut x, v, &mut w);
            x[v] = argmax(&w) as u16;
        }
        for sweep in 0..burn_in + sweeps {
            for &v in &missing {
                self.conditional(&mut x, v, &mut w);
                if w.iter().any(|&p| p > 0.0) {
                    x[v] = sample_linear(&w, rng) as u16;
                }
            }
            if sweep >= burn_in {
                let add = weight / sweeps as f64;
                for (c, cnt) in counts.iter_mut().enumerate() {
                    cnt[self.index(c, &x)] += add;
                }
            }
        }
        Ok(())
    }

    /// Unnormalised full conditional of `v` given every other cell of `x` (linear space).
    fn conditional(&self, x: &mut [u16], v: usize, w: &mut Vec<f64>) {
        w.clear();
        for s in 0..self.cards[v] {
            x[v] = s as u16;
            let mut p = 1.0;
            for &c in &self.var_cpds[v] {
                p *= self.cpd_factor_src[c as usize].probs[self.index(c as usize, x)];
            }
            w.push(p);
        }
    }

    /// Why a row is impossible: the families whose observed entries are zero, or the component
    /// that has no positive completion.
    pub fn explain_zero(&self, row: &[u16], names: &[String]) -> String {
        for c in 0..self.fam.len() {
            if self.fam[c].iter().all(|&v| row[v as usize] != MISSING)
                && self.log_p[c][self.index(c, row)] == f64::NEG_INFINITY
            {
                let child = *self.fam[c].last().expect("family has a child") as usize;
                return format!(
                    "P({} = {} | its parents' observed states) = 0",
                    names[child], self.vars[child].states[row[child] as usize]
                );
            }
        }
        let miss: Vec<&str> = (0..row.len())
            .filter(|&v| row[v] == MISSING)
            .map(|v| names[v].as_str())
            .collect();
        format!(
            "no completion of the missing cells ({}) has positive probability",
            miss.join(", ")
        )
    }
}

/// Greedy min-weight order eliminating `vars` except `keep`; errors with [`Error::TooLarge`] when a
/// table would exceed `limit` entries.
pub(crate) fn min_weight_order(
    cards: &[usize],
    factors: &[TableFactor],
    vars: &[u32],
    keep: &[u32],
    limit: usize,
) -> Result<Vec<u32>> {
    let mut scopes: Vec<Vec<u32>> = factors
        .iter()
        .map(|f| f.scope().iter().map(|v| v.0).collect())
        .collect();
    let mut left: Vec<u32> = vars.iter().copied().filter(|v| !keep.contains(v)).collect();
    let mut order = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let mut best = (f64::INFINITY, 0usize, Vec::new());
        for (i, &v) in left.iter().enumerate() {
            let mut u: Vec<u32> = scopes
                .iter()
                .filter(|s| s.contains(&v))
                .flatten()
                .copied()
                .collect();
            u.sort_unstable();
            u.dedup();
            let w: f64 = u.iter().map(|&x| cards[x as usize] as f64).product();
            if w < best.0 {
                best = (w, i, u);
            }
        }
        let (w, i, u) = best;
        if w > limit as f64 {
            return Err(Error::TooLarge {
                width: u.len().saturating_sub(1),
                largest_table: w,
                needed: w * 8.0,
                limit: limit as f64 * 8.0,
            });
        }
        let v = left.swap_remove(i);
        scopes.retain(|s| !s.contains(&v));
        scopes.push(u.into_iter().filter(|&x| x != v).collect());
        order.push(v);
    }
    Ok(order)
}

/// Build and calibrate the bucket tree of a component; returns `ln Z` of the component.
fn bucket_tree(
    vars: Vec<u32>,
    factors: Vec<TableFactor>,
    plans: Vec<CpdPlan>,
    order: Vec<u32>,
) -> Result<(f64, BucketTree)> {
    let k = order.len();
    let mut pos = std::collections::HashMap::with_capacity(k);
    for (i, &v) in order.iter().enumerate() {
        pos.insert(v, i);
    }
    let first = |f: &TableFactor| -> Option<usize> {
        f.scope()
            .iter()
            .filter_map(|v| pos.get(&v.0).copied())
            .min()
    };
    let mut bucket_of_factor = Vec::with_capacity(factors.len());
    let mut orig: Vec<TableFactor> = vec![TableFactor::scalar(0.0); k];
    let mut z = 0.0;
    for f in &factors {
        match first(f) {
            Some(b) => {
                orig[b] = orig[b].product(f);
                bucket_of_factor.push(b);
            }
            None => {
                // no component variable left (cannot happen for a relevant CPD); a constant
                z += f.log_sum();
                bucket_of_factor.push(usize::MAX);
            }
        }
    }
    // upward
    let mut inbox: Vec<Vec<(usize, TableFactor)>> = vec![Vec::new(); k];
    let mut prods = Vec::with_capacity(k);
    let mut parent = vec![usize::MAX; k];
    for i in 0..k {
        let mut prod = orig[i].clone();
        for (_, m) in &inbox[i] {
            prod = prod.product(m);
        }
        let msg = prod.marginalize(&[VarId(order[i])]);
        match first(&msg) {
            Some(p) => {
                parent[i] = p;
                inbox[p].push((i, msg));
            }
            None => z += msg.log_sum(),
        }
        prods.push(prod);
    }
    if z == f64::NEG_INFINITY {
        return Ok((
            z,
            BucketTree {
                vars,
                factors,
                plans,
                order,
                prods,
                beliefs: Vec::new(),
                bucket_of_factor,
            },
        ));
    }
    // downward: the message into bucket i from its parent
    let mut down: Vec<TableFactor> = vec![TableFactor::scalar(0.0); k];
    let mut beliefs: Vec<TableFactor> = vec![TableFactor::scalar(0.0); k];
    for i in (0..k).rev() {
        let base = orig[i].product(&down[i]);
        let mut belief = base.clone();
        for (_, m) in &inbox[i] {
            belief = belief.product(m);
        }
        for (ci, (c, m)) in inbox[i].iter().enumerate() {
            let mut t = base.clone();
            for (cj, (_, m2)) in inbox[i].iter().enumerate() {
                if cj != ci {
                    t = t.product(m2);
                }
            }
            let drop: Vec<VarId> = t
                .scope()
                .iter()
                .copied()
                .filter(|v| m.position(*v).is_none())
                .collect();
            down[*c] = t.marginalize(&drop);
        }
        let (b, _) = belief.normalize()?;
        beliefs[i] = b;
    }
    let _ = parent;
    Ok((
        z,
        BucketTree {
            vars,
            factors,
            plans,
            order,
            prods,
            beliefs,
            bucket_of_factor,
        },
    ))
}

/// Advance a mixed-radix counter (last variable fastest) and the CPD indices that follow it.
#[inline]
fn odometer(
    x: &mut [usize],
    vars: &[u32],
    cards: &[usize],
    var_in: &[Vec<(usize, usize)>],
    idx: &mut [usize],
) -> usize {
    let mut j = x.len();
    while j > 0 {
        j -= 1;
        let k = cards[vars[j] as usize];
        x[j] += 1;
        if x[j] < k {
            for &(p, s) in &var_in[j] {
                idx[p] += s;
            }
            return j;
        }
        x[j] = 0;
        for &(p, s) in &var_in[j] {
            idx[p] -= s * (k - 1);
        }
    }
    0
}

fn evidence_of(row: &[u16]) -> Evidence {
    Evidence::from_options(
        row.iter()
            .map(|&x| (x != MISSING).then_some(x as usize))
            .collect(),
    )
}

/// Eliminate `order` from the factors (sum, or max when `max`), returning the product of what is
/// left. When `store` is given, the product table built at each step is kept (for backward
/// sampling / traceback).
pub(crate) fn eliminate(
    mut factors: Vec<TableFactor>,
    order: &[u32],
    max: bool,
    mut store: Option<&mut Vec<TableFactor>>,
) -> TableFactor {
    for &v in order {
        let id = VarId(v);
        let (with, without): (Vec<_>, Vec<_>) =
            factors.into_iter().partition(|f| f.position(id).is_some());
        factors = without;
        let mut prod = TableFactor::scalar(0.0);
        for f in &with {
            prod = prod.product(f);
        }
        let m = if max {
            prod.max_marginalize(&[id])
        } else {
            prod.marginalize(&[id])
        };
        if let Some(s) = store.as_deref_mut() {
            s.push(prod);
        }
        factors.push(m);
    }
    let mut prod = TableFactor::scalar(0.0);
    for f in &factors {
        prod = prod.product(f);
    }
    prod
}

/// Sample (or maximise) the eliminated variables backwards from the stored product tables.
fn backward<R: Rng + ?Sized>(
    stored: &[TableFactor],
    order: &[u32],
    assign: &mut Evidence,
    vars: &[crate::var::Variable],
    mut rng: Option<&mut R>,
) -> Result<()> {
    for (f, &v) in stored.iter().zip(order).rev() {
        let r = f.reduce(assign);
        // r has scope {v} (every other variable of f was eliminated later, so is assigned)
        let lv = r.log_values();
        let s = match rng.as_deref_mut() {
            Some(g) => sample_log(lv, g)?,
            None => argmax(lv),
        };
        assign.set(vars, VarId(v), s)?;
    }
    Ok(())
}

fn argmax(xs: &[f64]) -> usize {
    let mut b = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[b] {
            b = i;
        }
    }
    b
}

fn sample_log<R: Rng + ?Sized>(lv: &[f64], rng: &mut R) -> Result<usize> {
    let m = lv.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return Err(Error::ZeroProbabilityEvidence);
    }
    let w: Vec<f64> = lv.iter().map(|&x| num::exp(x - m)).collect();
    Ok(sample_linear(&w, rng))
}

/// Draw an index with probability proportional to `w` (non-negative, positive sum). Never
/// returns an index of weight zero.
fn sample_linear<R: Rng + ?Sized>(w: &[f64], rng: &mut R) -> usize {
    let total: f64 = w.iter().sum();
    let u = rng.random::<f64>() * total;
    let mut acc = 0.0;
    let mut last = 0;
    for (i, &x) in w.iter().enumerate() {
        if x > 0.0 {
            acc += x;
            last = i;
            if u < acc {
                return i;
            }
        }
    }
    last
}

impl RowPosterior {
    /// True when the observed part of the row has positive probability.
    pub fn is_possible(&self) -> bool {
        self.log_lik > f64::NEG_INFINITY
    }

    fn check(&self) -> Result<()> {
        if self.is_possible() {
            Ok(())
        } else {
            Err(Error::ZeroProbabilityEvidence)
        }
    }

    /// Posterior marginal of every missing cell: `(variable, probabilities over its states)`, in
    /// increasing variable order.
    pub fn cell_marginals(&self, eng: &RowEngine) -> Result<Vec<(usize, Vec<f64>)>> {
        self.check()?;
        let mut out = Vec::new();
        for c in &self.comps {
            match c {
                CompPost::Enum { s, probs } => {
                    let vars = &s.vars;
                    let mut m: Vec<Vec<f64>> = vars
                        .iter()
                        .map(|&v| vec![0.0; eng.cards[v as usize]])
                        .collect();
                    let mut x = vec![0usize; vars.len()];
                    let no: Vec<Vec<(usize, usize)>> = vec![Vec::new(); vars.len()];
                    for &p in probs {
                        for (mj, &xj) in m.iter_mut().zip(&x) {
                            mj[xj] += p;
                        }
                        odometer(&mut x, vars, &eng.cards, &no, &mut []);
                    }
                    out.extend(vars.iter().map(|&v| v as usize).zip(m));
                }
                CompPost::Ve(t) => {
                    for (i, &v) in t.order.iter().enumerate() {
                        let b = &t.beliefs[i];
                        let drop: Vec<VarId> =
                            b.scope().iter().copied().filter(|u| u.0 != v).collect();
                        let f = b.marginalize(&drop);
                        out.push((
                            v as usize,
                            f.log_values().iter().map(|&l| num::exp(l)).collect(),
                        ));
                    }
                }
            }
        }
        out.sort_by_key(|(v, _)| *v);
        Ok(out)
    }

    /// One exact joint draw of the missing cells from `p(missing | observed)`, written into
    /// `row` (whose missing cells are replaced; observed cells are untouched).
    pub fn draw<R: Rng + ?Sized>(
        &self,
        eng: &RowEngine,
        rng: &mut R,
        row: &mut [u16],
    ) -> Result<()> {
        self.check()?;
        for c in &self.comps {
            match c {
                CompPost::Enum { s: st, probs } => {
                    let mut s = sample_linear(probs, rng);
                    for &v in st.vars.iter().rev() {
                        let k = eng.cards[v as usize];
                        row[v as usize] = (s % k) as u16;
                        s /= k;
                    }
                }
                CompPost::Ve(t) => {
                    let mut ev = Evidence::new(eng.cards.len());
                    backward(&t.prods, &t.order, &mut ev, &eng.vars, Some(rng))?;
                    for &v in &t.vars {
                        row[v as usize] = ev.get(VarId(v)).expect("sampled") as u16;
                    }
                }
            }
        }
        Ok(())
    }

    /// The most probable joint completion of the missing cells (joint MAP), written into `row`.
    pub fn joint_mode(&self, eng: &RowEngine, row: &mut [u16]) -> Result<()> {
        self.check()?;
        for c in &self.comps {
            match c {
                CompPost::Enum { s: st, probs } => {
                    let mut s = argmax(probs);
                    for &v in st.vars.iter().rev() {
                        let k = eng.cards[v as usize];
                        row[v as usize] = (s % k) as u16;
                        s /= k;
                    }
                }
                CompPost::Ve(t) => {
                    let (vars, order) = (&t.vars, &t.order);
                    let mut stored = Vec::new();
                    eliminate(t.factors.clone(), order, true, Some(&mut stored));
                    let mut ev = Evidence::new(eng.cards.len());
                    backward::<crate::rng::EngineRng>(&stored, order, &mut ev, &eng.vars, None)?;
                    for &v in vars {
                        row[v as usize] = ev.get(VarId(v)).expect("maximised") as u16;
                    }
                }
            }
        }
        Ok(())
    }

    /// Add `weight` times the expected family counts of this row to `counts` (one table per CPD,
    /// laid out like the CPD). `row` is the row this posterior was computed for.
    pub fn add_counts(
        &self,
        eng: &RowEngine,
        row: &[u16],
        counts: &mut [Vec<f64>],
        weight: f64,
    ) -> Result<()> {
        self.check()?;
        let mut in_comp = vec![false; eng.fam.len()];
        for c in &self.comps {
            match c {
                CompPost::Enum { s, probs } => {
                    let (vars, plans, var_in) = (&s.vars, &s.plans, &s.var_in);
                    // mass of every prefix of d+1 digits, for each level d, in one flat buffer:
                    // level k-1 is `probs` itself, level d sums blocks of level d+1
                    let k = vars.len();
                    let np = plans.len();
                    let mut st = vec![0usize; np * k];
                    let mut level = vec![0usize; np];
                    for (j, lst) in var_in.iter().enumerate() {
                        for &(pi, sd) in lst {
                            st[pi * k + j] = sd;
                            level[pi] = level[pi].max(j);
                        }
                    }
                    let mut off = vec![usize::MAX; k];
                    let mut flat: Vec<f64> = Vec::new();
                    let mut prev_off = usize::MAX;
                    let lowest = level.iter().copied().min().unwrap_or(k - 1);
                    for d in (lowest..k - 1).rev() {
                        let c = eng.cards[vars[d + 1] as usize];
                        let start = flat.len();
                        if prev_off == usize::MAX {
                            flat.extend(probs.chunks(c).map(|b| b.iter().sum::<f64>()));
                        } else {
                            let end = start;
                            for i in (prev_off..end).step_by(c) {
                                let v: f64 = flat[i..i + c].iter().sum();
                                flat.push(v);
                            }
                        }
                        off[d] = start;
                        prev_off = start;
                    }
                    let mut x = vec![0usize; k];
                    for (pi, pl) in plans.iter().enumerate() {
                        let lvl = level[pi];
                        let masses: &[f64] = if lvl == k - 1 {
                            probs
                        } else {
                            let len = flat.len();
                            let end = if lvl == lowest { len } else { off[lvl - 1] };
                            &flat[off[lvl]..end]
                        };
                        let sp = &st[pi * k..pi * k + lvl + 1];
                        x[..=lvl].iter_mut().for_each(|v| *v = 0);
                        let mut i = pl.base;
                        let cnt = &mut counts[pl.cpd as usize];
                        for &mass in masses {
                            if mass != 0.0 {
                                cnt[i] += weight * mass;
                            }
                            let mut j = lvl + 1;
                            while j > 0 {
                                j -= 1;
                                let card = eng.cards[vars[j] as usize];
                                x[j] += 1;
                                if x[j] < card {
                                    i += sp[j];
                                    break;
                                }
                                x[j] = 0;
                                i -= sp[j] * (card - 1);
                            }
                        }
                    }
                    for pl in plans {
                        in_comp[pl.cpd as usize] = true;
                    }
                }
                CompPost::Ve(t) => {
                    for (pl, (&bk, f)) in t
                        .plans
                        .iter()
                        .zip(t.bucket_of_factor.iter().zip(&t.factors))
                    {
                        let c = pl.cpd as usize;
                        in_comp[c] = true;
                        let b = &t.beliefs[bk];
                        let drop: Vec<VarId> = b
                            .scope()
                            .iter()
                            .copied()
                            .filter(|u| f.position(*u).is_none())
                            .collect();
                        let m = b.marginalize(&drop);
                        let pos: Vec<usize> = m
                            .scope()
                            .iter()
                            .map(|sv| {
                                let j = eng.fam[c]
                                    .iter()
                                    .position(|&u| u == sv.0)
                                    .expect("scope within family");
                                eng.stride[c][j]
                            })
                            .collect();
                        for (flat, &l) in m.log_values().iter().enumerate() {
                            let w = num::exp(l);
                            if w == 0.0 {
                                continue;
                            }
                            let st = m.states_at(flat);
                            let i: usize =
                                pl.base + st.iter().zip(&pos).map(|(s, p)| s * p).sum::<usize>();
                            counts[c][i] += weight * w;
                        }
                    }
                }
            }
        }
        for (c, done) in in_comp.iter().enumerate() {
            if !done {
                counts[c][eng.index(c, row)] += weight;
            }
        }
        Ok(())
    }
}
