//! Constraint-based structure learning: PC-stable (Spirtes, Glymour & Scheines 2000; the
//! order-independent variant of Colombo & Maathuis 2014) with G² or χ² conditional
//! independence tests at level `alpha`, v-structures from the separating sets, Meek's rules,
//! the result as a CPDAG and a consistent DAG extension (Dor & Tarsi 1992).
//!
//! Each level `l` tests every adjacent pair against the subsets of size `l` of the adjacency
//! sets fixed at the start of the level, in parallel; removals take effect at the end of the
//! level, so the skeleton does not depend on the variable order or on the thread count.
//!
//! The separating set of a removed pair is the union of all the sets of that size that
//! separate it, from both sides (as causal-learn's PC-stable): an unshielded triple `a - k - b`
//! is a collider only when no separating set holds `k`, which makes fewer, more reliable
//! v-structures than the first set found. Triples are oriented in lexicographic order, never
//! against an arc already out of the middle; when conflicts leave the CPDAG without a
//! consistent extension, [`PcFit::dag`] still orients every edge (see [`PcFit::consistent`]).

use std::collections::{BTreeSet, HashMap};

use rayon::prelude::*;

use crate::data::{Dataset, MISSING};
use crate::error::{Error, Result};
use crate::limits::Deadline;
use crate::num::chi2_p_value;

/// The independence test statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CiTest {
    /// The likelihood-ratio statistic G² (the default).
    #[default]
    GSquare,
    /// Pearson's χ².
    ChiSquare,
}

/// Options of [`pc_stable`].
#[derive(Debug, Clone, PartialEq)]
pub struct PcOptions {
    /// Significance level of the tests (default 0.05): an edge is removed when a test's
    /// p-value exceeds it.
    pub alpha: f64,
    /// The statistic (default G²).
    pub test: CiTest,
    /// Largest conditioning set (default: no limit).
    pub max_cond: Option<usize>,
    /// Deadline: no level starts after it.
    pub deadline: Deadline,
}

impl Default for PcOptions {
    fn default() -> Self {
        PcOptions {
            alpha: 0.05,
            test: CiTest::GSquare,
            max_cond: None,
            deadline: Deadline::NONE,
        }
    }
}

/// The result of [`pc_stable`].
#[derive(Debug, Clone, PartialEq)]
pub struct PcFit {
    /// Directed arcs of the CPDAG `(from, to)`, sorted.
    pub arcs: Vec<(usize, usize)>,
    /// Undirected edges of the CPDAG `(a, b)` with `a < b`, sorted.
    pub edges: Vec<(usize, usize)>,
    /// A DAG over the skeleton (sorted parents of each variable): a consistent extension of
    /// the CPDAG (the same skeleton and v-structures) when `consistent`.
    pub dag: Vec<Vec<usize>>,
    /// Whether `dag` is a consistent extension. When conflicting test results leave the
    /// CPDAG with none, `dag` still orients every edge (arcs of the CPDAG kept where they
    /// form no cycle), at the price of v-structures the CPDAG does not have.
    pub consistent: bool,
    /// Independence tests run.
    pub tests: usize,
    /// Whether the deadline cut the search short.
    pub time_limited: bool,
}

/// The p-value of the test of `X_a ⊥ X_b | X_s` on the rows complete on the variables
/// involved; degrees of freedom `(r_a - 1)(r_b - 1)` per configuration of `s` seen.
pub fn ci_test(data: &Dataset, a: usize, b: usize, s: &[usize], test: CiTest) -> f64 {
    let cards = data.cards();
    let cols = data.columns();
    let (ra, rb) = (cards[a], cards[b]);
    // per configuration of s seen (ordered, so that sums are in a fixed order)
    let mut tables: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
    #[allow(clippy::needless_range_loop)] // a row reads several columns
    'rows: for row in 0..data.num_rows() {
        let (x, y) = (cols[a][row], cols[b][row]);
        if x == MISSING || y == MISSING {
            continue;
        }
        let mut z = 0u64;
        for &v in s {
            let c = cols[v][row];
            if c == MISSING {
                continue 'rows;
            }
            z = z.wrapping_mul(cards[v] as u64).wrapping_add(u64::from(c));
        }
        tables.entry(z).or_insert_with(|| vec![0.0; ra * rb])[x as usize * rb + y as usize] += 1.0;
    }
    let (mut stat, mut df) = (0.0, 0.0);
    for t in tables.values() {
        let nz: f64 = t.iter().sum();
        let na: Vec<f64> = (0..ra)
            .map(|x| t[x * rb..(x + 1) * rb].iter().sum())
            .collect();
        let nb: Vec<f64> = (0..rb)
            .map(|y| (0..ra).map(|x| t[x * rb + y]).sum())
            .collect();
        let (ka, kb) = (
            na.iter().filter(|&&v| v > 0.0).count(),
            nb.iter().filter(|&&v| v > 0.0).count(),
        );
        df += (ka.saturating_sub(1) * kb.saturating_sub(1)) as f64;
        for x in 0..ra {
            for y in 0..rb {
                let e = na[x] * nb[y] / nz;
                if e <= 0.0 {
                    continue;
                }
                let o = t[x * rb + y];
                stat += match test {
                    CiTest::GSquare => {
                        if o > 0.0 {
                            2.0 * o * (o / e).ln()
                        } else {
                            0.0
                        }
                    }
                    CiTest::ChiSquare => (o - e) * (o - e) / e,
                };
            }
        }
    }
    chi2_p_value(stat.max(0.0), df)
}

/// The subsets of `set` of size `k`, in lexicographic order.
fn subsets(set: &[usize], k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut idx: Vec<usize> = (0..k).collect();
    if k > set.len() {
        return out;
    }
    loop {
        out.push(idx.iter().map(|&i| set[i]).collect());
        let mut i = k;
        loop {
            if i == 0 {
                return out;
            }
            i -= 1;
            if idx[i] != i + set.len() - k {
                break;
            }
            if i == 0 && idx[0] == set.len() - k {
                return out;
            }
        }
        idx[i] += 1;
        for j in i + 1..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

/// PC-stable on `data` with the independence oracle `indep(a, b, s) -> bool` (true: `a ⊥ b |
/// s`), for tests and for [`pc_stable`]. Returns the CPDAG (see [`PcFit`]).
pub fn pc_with(
    n: usize,
    indep: impl Fn(usize, usize, &[usize]) -> bool + Sync,
    max_cond: Option<usize>,
    deadline: Deadline,
) -> PcFit {
    let mut adj: Vec<BTreeSet<usize>> = (0..n)
        .map(|i| (0..n).filter(|&j| j != i).collect())
        .collect();
    let mut sepset: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    let mut tests = 0usize;
    let mut time_limited = false;
    let mut l = 0;
    loop {
        if max_cond.is_some_and(|m| l > m) {
            break;
        }
        if l > 0 && deadline.passed() {
            time_limited = true;
            break;
        }
        let fixed: Vec<Vec<usize>> = adj.iter().map(|s| s.iter().copied().collect()).collect();
        let pairs: Vec<(usize, usize)> = (0..n)
            .flat_map(|i| {
                fixed[i]
                    .iter()
                    .filter(move |&&j| j > i)
                    .map(move |&j| (i, j))
            })
            .collect();
        if !pairs
            .iter()
            .any(|&(i, j)| fixed[i].len() > l || fixed[j].len() > l)
        {
            break;
        }
        // for each pair: the union of every separating set of this size, from both sides (a
        // collider needs its middle outside all of them; as causal-learn)
        let found: Vec<(usize, Option<Vec<usize>>)> = pairs
            .par_iter()
            .map(|&(i, j)| {
                let mut count = 0;
                let mut all: Option<BTreeSet<usize>> = None;
                for (x, y) in [(i, j), (j, i)] {
                    let others: Vec<usize> = fixed[x].iter().copied().filter(|&v| v != y).collect();
                    for s in subsets(&others, l) {
                        count += 1;
                        if indep(i, j, &s) {
                            all.get_or_insert_with(BTreeSet::new).extend(s);
                        }
                    }
                }
                (count, all.map(|a| a.into_iter().collect()))
            })
            .collect();
        for (&(i, j), (count, sep)) in pairs.iter().zip(found) {
            tests += count;
            if let Some(s) = sep {
                adj[i].remove(&j);
                adj[j].remove(&i);
                sepset.insert((i, j), s);
            }
        }
        l += 1;
    }
    // orientation: v-structures, then Meek's rules R1-R3
    let mut dir = vec![vec![false; n]; n]; // dir[a][b]: a -> b
    let is_adj = |a: usize, b: usize, adj: &[BTreeSet<usize>]| adj[a].contains(&b);
    // unshielded triples i - k - j (i < j) in lexicographic order of (i, k, j); a collider
    // is not oriented against an arc already out of k (existing colliders first)
    for i in 0..n {
        for &k in &adj[i] {
            for &j in adj[k].iter().filter(|&&j| j > i) {
                if is_adj(i, j, &adj) {
                    continue;
                }
                if !sepset.get(&(i, j)).is_some_and(|s| s.contains(&k)) && !dir[k][i] && !dir[k][j]
                {
                    dir[i][k] = true;
                    dir[j][k] = true;
                }
            }
        }
    }
    let undirected = |a: usize, b: usize, dir: &[Vec<bool>], adj: &[BTreeSet<usize>]| {
        adj[a].contains(&b) && !dir[a][b] && !dir[b][a]
    };
    loop {
        let mut changed = false;
        for a in 0..n {
            for &b in adj[a].clone().iter() {
                if !undirected(a, b, &dir, &adj) {
                    continue;
                }
                // R1: c -> a - b, c and b not adjacent => a -> b
                let r1 = (0..n).any(|c| dir[c][a] && !dir[a][c] && c != b && !is_adj(c, b, &adj));
                // R2: a -> c -> b and a - b => a -> b
                let r2 = (0..n).any(|c| dir[a][c] && !dir[c][a] && dir[c][b] && !dir[b][c]);
                // R3: a - c -> b, a - d -> b, c and d not adjacent => a -> b
                let cs: Vec<usize> = (0..n)
                    .filter(|&c| undirected(a, c, &dir, &adj) && dir[c][b] && !dir[b][c])
                    .collect();
                let r3 = cs
                    .iter()
                    .enumerate()
                    .any(|(x, &c)| cs[x + 1..].iter().any(|&d| !is_adj(c, d, &adj)));
                if r1 || r2 || r3 {
                    dir[a][b] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut arcs = Vec::new();
    let mut edges = Vec::new();
    for a in 0..n {
        for &b in &adj[a] {
            match (dir[a][b], dir[b][a]) {
                (true, false) => arcs.push((a, b)),
                (false, false) if a < b => edges.push((a, b)),
                // both directions: conflicting v-structures; kept undirected
                (true, true) if a < b => edges.push((a, b)),
                _ => {}
            }
        }
    }
    let (dag, consistent) = extend(n, &arcs, &edges);
    PcFit {
        arcs,
        edges,
        dag,
        consistent,
        tests,
        time_limited,
    }
}

/// A DAG extension of a CPDAG (Dor & Tarsi 1992): repeatedly remove a sink of the directed
/// part whose undirected neighbours are adjacent to all its other neighbours, orienting its
/// undirected edges into it. When no such sink is left (no extension exists), the first sink
/// of the directed part is taken anyway, or, in a directed cycle, the first vertex with its
/// outgoing arcs turned around; the flag says whether the result is a consistent extension.
fn extend(n: usize, arcs: &[(usize, usize)], edges: &[(usize, usize)]) -> (Vec<Vec<usize>>, bool) {
    let mut parents = vec![Vec::new(); n];
    let mut out: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let mut inn: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let mut und: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for &(a, b) in arcs {
        out[a].insert(b);
        inn[b].insert(a);
    }
    for &(a, b) in edges {
        und[a].insert(b);
        und[b].insert(a);
    }
    let mut alive: BTreeSet<usize> = (0..n).collect();
    let adjacent = |x: usize,
                    y: usize,
                    out: &[BTreeSet<usize>],
                    inn: &[BTreeSet<usize>],
                    und: &[BTreeSet<usize>]| {
        out[x].contains(&y) || inn[x].contains(&y) || und[x].contains(&y)
    };
    let mut consistent = true;
    while !alive.is_empty() {
        let good = alive.iter().copied().find(|&x| {
            out[x].is_empty()
                && und[x].iter().all(|&y| {
                    inn[x]
                        .iter()
                        .chain(und[x].iter())
                        .all(|&z| z == y || adjacent(y, z, &out, &inn, &und))
                })
        });
        let pick = match good {
            Some(x) => x,
            None => {
                consistent = false;
                let x = alive
                    .iter()
                    .copied()
                    .find(|&x| out[x].is_empty())
                    .unwrap_or_else(|| *alive.first().expect("a vertex left"));
                // its outgoing arcs (a directed cycle) become parents
                for &c in out[x].clone().iter() {
                    inn[c].remove(&x);
                    inn[x].insert(c);
                    out[c].insert(x);
                }
                out[x].clear();
                x
            }
        };
        for &p in &inn[pick] {
            parents[pick].push(p);
        }
        for &y in und[pick].clone().iter() {
            parents[pick].push(y);
            und[y].remove(&pick);
        }
        for &p in inn[pick].clone().iter() {
            out[p].remove(&pick);
        }
        und[pick].clear();
        inn[pick].clear();
        alive.remove(&pick);
    }
    for ps in &mut parents {
        ps.sort_unstable();
    }
    (parents, consistent)
}

/// PC-stable on `data` (see the module docs). Errors: no rows, `alpha` outside (0, 1).
pub fn pc_stable(data: &Dataset, opts: &PcOptions) -> Result<PcFit> {
    super::check_pair_tables("PC", data.num_vars())?;
    if data.num_rows() == 0 {
        return Err(Error::InvalidArgument(
            "no rows to learn a structure from".into(),
        ));
    }
    if !(opts.alpha > 0.0 && opts.alpha < 1.0) {
        return Err(Error::InvalidArgument(format!(
            "the significance level must be in (0, 1), got {}",
            opts.alpha
        )));
    }
    Ok(pc_with(
        data.num_vars(),
        |a, b, s| ci_test(data, a, b, s, opts.test) > opts.alpha,
        opts.max_cond,
        opts.deadline,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi2_p_values() {
        // known quantiles: P(χ²_1 > 3.841) = 0.05, P(χ²_4 > 9.488) = 0.05, P(χ²_10 > 2.558) = 0.99
        assert!((chi2_p_value(3.841_458_8, 1.0) - 0.05).abs() < 1e-6);
        assert!((chi2_p_value(9.487_729, 4.0) - 0.05).abs() < 1e-6);
        assert!((chi2_p_value(2.558_212, 10.0) - 0.99).abs() < 1e-6);
        assert_eq!(chi2_p_value(0.0, 3.0), 1.0);
    }

    #[test]
    fn subsets_in_order() {
        assert_eq!(
            subsets(&[1, 2, 3], 2),
            vec![vec![1, 2], vec![1, 3], vec![2, 3]]
        );
        assert_eq!(subsets(&[1, 2], 0), vec![Vec::<usize>::new()]);
        assert!(subsets(&[1], 2).is_empty());
        assert_eq!(subsets(&[4, 5, 6, 7], 3).len(), 4);
    }

    /// d-separation in a DAG (parents lists) by the Bayes-ball reachability rule.
    fn d_separated(parents: &[Vec<usize>], a: usize, b: usize, s: &[usize]) -> bool {
        let n = parents.len();
        let mut children = vec![Vec::new(); n];
        for (v, ps) in parents.iter().enumerate() {
            for &p in ps {
                children[p].push(v);
            }
        }
        // ancestors of s
        let mut anc = vec![false; n];
        let mut stack: Vec<usize> = s.to_vec();
        while let Some(v) = stack.pop() {
            if !anc[v] {
                anc[v] = true;
                stack.extend(&parents[v]);
            }
        }
        let obs: Vec<bool> = (0..n).map(|v| s.contains(&v)).collect();
        // (node, came from child = up)
        let mut seen = std::collections::HashSet::new();
        let mut q = vec![(a, true)];
        while let Some((v, up)) = q.pop() {
            if !seen.insert((v, up)) {
                continue;
            }
            if v == b {
                return false;
            }
            if up && !obs[v] {
                q.extend(parents[v].iter().map(|&p| (p, true)));
                q.extend(children[v].iter().map(|&c| (c, false)));
            } else if !up {
                if !obs[v] {
                    q.extend(children[v].iter().map(|&c| (c, false)));
                }
                if anc[v] {
                    q.extend(parents[v].iter().map(|&p| (p, true)));
                }
            }
        }
        true
    }

    #[test]
    fn pc_recovers_the_cpdag_of_asia_from_an_oracle() {
        // asia: 0 asia, 1 tub, 2 smoke, 3 lung, 4 bronc, 5 either, 6 xray, 7 dysp
        let parents = vec![
            vec![],
            vec![0],
            vec![],
            vec![2],
            vec![2],
            vec![1, 3],
            vec![5],
            vec![4, 5],
        ];
        let fit = pc_with(
            8,
            |a, b, s| d_separated(&parents, a, b, s),
            None,
            Deadline::NONE,
        );
        // the CPDAG: v-structures tub -> either <- lung, either -> dysp <- bronc; Meek orients
        // either -> xray; asia - tub, smoke - lung, smoke - bronc stay undirected
        let mut arcs = vec![(1, 5), (3, 5), (4, 7), (5, 6), (5, 7)];
        arcs.sort_unstable();
        assert_eq!(fit.arcs, arcs);
        assert_eq!(fit.edges, vec![(0, 1), (2, 3), (2, 4)]);
        assert!(fit.consistent);
        let dag = fit.dag;
        assert_eq!(dag.iter().map(Vec::len).sum::<usize>(), 8);
        for (a, b) in arcs {
            assert!(dag[b].contains(&a));
        }
    }
}
