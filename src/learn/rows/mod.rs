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

mod elim;
mod posterior;

use std::sync::OnceLock;

use rand::Rng;

use crate::data::MISSING;
use crate::error::{Error, Result};
use crate::factor::TableFactor;
use crate::model::BayesNet;
use crate::num;
pub(crate) use elim::*;

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
pub(crate) struct CpdPlan {
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
pub(crate) struct BucketTree {
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
                    x[v] = num::draw_linear(w.iter().copied(), w.iter().sum(), rng) as u16;
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
