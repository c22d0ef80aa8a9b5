//! The network base of a Bayesian network with zeros: forward sampling of the base and its
//! log probability (DESIGN-NOTES note 25).

use rand::Rng;

use crate::model::FactorGraph;
use crate::num;
use crate::var::Evidence;

/// Largest bucket table of a cluster block of the network base (see `NetBase::root_blocks`).
pub(crate) const NET_BLOCK_TABLE: usize = 4096;

/// The network base of [`Base::Network`]: the Bayesian network behind a factor graph whose
/// factors are all conditional probability tables, with the evidence clamped.
pub(crate) struct NetBase {
    /// Per factor: is its child observed (its table is then the evidence likelihood)?
    pub(crate) evidence_factor: Vec<bool>,
    /// Per factor with a free child: its table normalised exactly over the child.
    pub(crate) norm: Vec<Option<crate::factor::TableFactor>>,
    /// Factors with a free child, parents first: (factor, position of the child in its scope).
    pub(crate) order: Vec<(usize, usize)>,
    /// The child variable of every factor.
    pub(crate) child: Vec<usize>,
}

impl NetBase {
    /// The network, if every factor is a table normalised over one of its variables (within
    /// [`num::tol::CPT_SUM`]), every variable is the child of exactly one factor, and the
    /// parent relation has no cycle.
    pub(crate) fn new(fg: &FactorGraph, ev: &Evidence) -> Option<NetBase> {
        let n = fg.num_vars();
        let factors = fg.factors();
        if factors.len() != n {
            return None;
        }
        let strides = |f: &crate::factor::TableFactor| -> Vec<usize> {
            let c = f.cards();
            let mut st = vec![1usize; c.len()];
            for j in (0..c.len().saturating_sub(1)).rev() {
                st[j] = st[j + 1] * c[j + 1];
            }
            st
        };
        // child candidates of each factor
        let normalised_over = |f: &crate::factor::TableFactor, j: usize| -> bool {
            let st = strides(f);
            let c = f.cards();
            let l = f.log_values();
            (0..l.len()).filter(|&i| (i / st[j]) % c[j] == 0).all(|i| {
                let sum: f64 = (0..c[j]).map(|a| num::exp(l[i + a * st[j]])).sum();
                (sum - 1.0).abs() <= num::tol::CPT_SUM
            })
        };
        let cands: Vec<Vec<usize>> = factors
            .iter()
            .map(|f| {
                (0..f.scope().len())
                    .filter(|&j| normalised_over(f, j))
                    .collect()
            })
            .collect();
        let mut by_count: Vec<usize> = (0..factors.len()).collect();
        by_count.sort_by_key(|&k| cands[k].len());
        let mut child_pos = vec![usize::MAX; factors.len()];
        let mut taken = vec![false; n];
        for &k in &by_count {
            let j = *cands[k]
                .iter()
                .find(|&&j| !taken[factors[k].scope()[j].index()])?;
            taken[factors[k].scope()[j].index()] = true;
            child_pos[k] = j;
        }
        // topological order (Kahn) over factors by their children
        let child = |k: usize| factors[k].scope()[child_pos[k]].index();
        let mut fac_of = vec![0usize; n];
        for k in 0..factors.len() {
            fac_of[child(k)] = k;
        }
        let mut indeg = vec![0usize; factors.len()];
        let mut kids: Vec<Vec<usize>> = vec![Vec::new(); factors.len()];
        for (k, f) in factors.iter().enumerate() {
            for (j, v) in f.scope().iter().enumerate() {
                if j != child_pos[k] {
                    indeg[k] += 1;
                    kids[fac_of[v.index()]].push(k);
                }
            }
        }
        let mut queue: Vec<usize> = (0..factors.len()).filter(|&k| indeg[k] == 0).collect();
        let mut topo = Vec::with_capacity(factors.len());
        while let Some(k) = queue.pop() {
            topo.push(k);
            for &c in &kids[k] {
                indeg[c] -= 1;
                if indeg[c] == 0 {
                    queue.push(c);
                }
            }
        }
        if topo.len() != factors.len() {
            return None;
        }
        let evidence_factor: Vec<bool> = (0..factors.len())
            .map(|k| ev.get(crate::var::VarId(child(k) as u32)).is_some())
            .collect();
        let mut norm = vec![None; factors.len()];
        for (k, f) in factors.iter().enumerate() {
            if evidence_factor[k] {
                continue;
            }
            let j = child_pos[k];
            let st = strides(f);
            let c = f.cards();
            let mut l = f.log_values().to_vec();
            for i in 0..l.len() {
                if (i / st[j]) % c[j] != 0 {
                    continue;
                }
                let col: Vec<f64> = (0..c[j]).map(|a| l[i + a * st[j]]).collect();
                let z = num::log_sum_exp(&col);
                if !z.is_finite() {
                    return None;
                }
                for a in 0..c[j] {
                    l[i + a * st[j]] -= z;
                }
            }
            norm[k] =
                Some(crate::factor::TableFactor::new(f.scope().to_vec(), c.to_vec(), l).ok()?);
        }
        let order = topo
            .into_iter()
            .filter(|&k| !evidence_factor[k])
            .map(|k| (k, child_pos[k]))
            .collect();
        let child = (0..factors.len()).map(child).collect();
        Some(NetBase {
            evidence_factor,
            norm,
            order,
            child,
        })
    }

    /// Blocks for the blocked Gibbs kernel that follow the network's deterministic parts:
    /// every free variable whose own table has no zeros (a disease) gets a block with its
    /// descendants reached through free variables whose tables have zeros (in a noisy-OR
    /// network written as chains of OR gates: the part of every chain below the disease's
    /// link, down to the finding), so that switching it re-draws, in one exact move, what it
    /// determines.
    pub(crate) fn root_blocks(&self, fg: &FactorGraph, ev: &Evidence) -> Vec<Vec<u32>> {
        let n = fg.num_vars();
        let free = |v: usize| ev.get(crate::var::VarId(v as u32)).is_none();
        let has_zero: Vec<bool> = fg
            .factors()
            .iter()
            .map(|f| f.log_values().contains(&f64::NEG_INFINITY))
            .collect();
        let mut det = vec![false; n];
        for (k, &c) in self.child.iter().enumerate() {
            det[c] = has_zero[k] && free(c);
        }
        // clusters: deterministic free variables joined along the factors with zeros
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        for (k, f) in fg.factors().iter().enumerate() {
            if !has_zero[k] {
                continue;
            }
            let d: Vec<usize> = f
                .scope()
                .iter()
                .map(|v| v.index())
                .filter(|&v| det[v])
                .collect();
            for w in d.windows(2) {
                let (a, b) = (find(&mut parent, w[0]), find(&mut parent, w[1]));
                parent[a] = b;
            }
        }
        let cards = fg.cards();
        let var_factors = fg.var_factors();
        let is_root = |v: usize| !det[v] && free(v) && cards[v] >= 2;
        // the roots next to each cluster, and the clusters next to each root
        let mut cluster_members: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut cluster_roots: Vec<std::collections::BTreeSet<u32>> =
            vec![std::collections::BTreeSet::new(); n];
        let mut root_clusters: Vec<std::collections::BTreeSet<usize>> =
            vec![std::collections::BTreeSet::new(); n];
        for v in 0..n {
            if !det[v] {
                continue;
            }
            let c = find(&mut parent, v);
            cluster_members[c].push(v as u32);
            for &k in &var_factors[v] {
                for w in fg.factors()[k].scope() {
                    if is_root(w.index()) {
                        cluster_roots[c].insert(w.0);
                        root_clusters[w.index()].insert(c);
                    }
                }
            }
        }
        // one block per cluster with its roots, when its elimination stays small
        let mut out = Vec::new();
        let mut whole = vec![false; n];
        for c in 0..n {
            if cluster_members[c].is_empty() {
                continue;
            }
            let mut b = cluster_members[c].clone();
            b.extend(cluster_roots[c].iter().copied());
            if crate::sample::block::fits(fg, &b, NET_BLOCK_TABLE) {
                whole[c] = true;
                out.push(b);
            }
        }
        // children along the network's arcs
        let mut kids: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (k, f) in fg.factors().iter().enumerate() {
            let c = self.child[k];
            for v in f.scope() {
                if v.index() != c {
                    kids[v.index()].push(c);
                }
            }
        }
        let mut mark = vec![usize::MAX; n];
        for r in 0..n {
            if !is_root(r) {
                continue;
            }
            let rc = &root_clusters[r];
            if rc.len() <= 1 && rc.iter().all(|&c| whole[c]) {
                continue; // its cluster's block moves it
            }
            // the deterministic descendants of r (whose tables have zeros), breadth-first
            let mut b = vec![r as u32];
            mark[r] = r;
            let mut i = 0;
            while i < b.len() {
                let v = b[i] as usize;
                i += 1;
                for &c in &kids[v] {
                    if det[c] && mark[c] != r {
                        mark[c] = r;
                        b.push(c as u32);
                    }
                }
            }
            if b.len() > 1 {
                out.push(b);
            }
        }
        out
    }

    /// `ln p0(x)`.
    pub(crate) fn log_p0(&self, x: &[usize]) -> f64 {
        self.norm.iter().flatten().map(|f| f.log_value(x)).sum()
    }

    /// Forward sampling of the free variables (evidence already in `x`).
    pub(crate) fn draw<R: Rng + ?Sized>(&self, x: &mut [usize], rng: &mut R) {
        for &(k, j) in &self.order {
            let f = self.norm[k].as_ref().expect("free child");
            let c = f.cards();
            let mut st = 1usize;
            let mut off = 0usize;
            let mut sj = 0usize;
            for (i, v) in f.scope().iter().enumerate().rev() {
                if i == j {
                    sj = st;
                } else {
                    off += x[v.index()] * st;
                }
                st *= c[i];
            }
            let l = f.log_values();
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mut s = c[j] - 1;
            for a in 0..c[j] {
                acc += num::exp(l[off + a * sj]);
                if u < acc {
                    s = a;
                    break;
                }
            }
            x[f.scope()[j].index()] = s;
        }
    }

    /// Flat per-factor log values of the base (the normalised tables; 0 for evidence factors),
    /// in factor order: what the blocked Gibbs kernel mixes with the model's values.
    pub(crate) fn factor_base(&self, fg: &FactorGraph) -> Vec<f64> {
        let mut out = Vec::with_capacity(fg.num_parameters());
        for (k, f) in fg.factors().iter().enumerate() {
            match &self.norm[k] {
                Some(t) => out.extend_from_slice(t.log_values()),
                None => out.extend(std::iter::repeat_n(0.0, f.len())),
            }
        }
        out
    }
}
