//! Structure learning of discrete Bayesian networks from a data table: greedy hill climbing
//! over arc additions, deletions and reversals with a decomposable score ([`StructureScore`]:
//! BIC, AIC, BDeu, K2), a tabu list, seeded random restarts, and constraints (maximum parents,
//! forbidden and required arcs, tiers).
//!
//! Every step scores all legal moves in parallel from cached local scores and takes the best
//! (ties to the first in a fixed order), so the result depends on the seed only, never on the
//! number of threads. Once no move improves the score, up to `tabu` further steps take the
//! best move that does not undo one of the last `tabu` moves, and the best network seen is
//! kept; each restart perturbs that network by random arc reversals and deletions (from
//! `chain_rng(seed, restart)`) and climbs again.
//!
//! Complexity per step: O(n²) candidate moves, each O(1) after its two families are cached
//! (a family costs O(N log N) the first time, N rows); reachability is kept as bit sets,
//! O(n e / 64) per step.
//!
//! ```
//! use pgmkit::learn::structure::{hill_climb, StructureOptions};
//! use pgmkit::{data::Dataset, BayesNetBuilder};
//! // a -> b: b copies a with probability 0.9
//! let mut bld = BayesNetBuilder::new();
//! let a = bld.add_variable("a", ["0", "1"]).unwrap();
//! let b = bld.add_variable("b", ["0", "1"]).unwrap();
//! bld.set_cpd(a, &[], vec![0.3, 0.7]).unwrap();
//! bld.set_cpd(b, &[a], vec![0.9, 0.1, 0.1, 0.9]).unwrap();
//! let bn = bld.build().unwrap();
//! let rows: Vec<Vec<usize>> = (0..2000)
//!     .map(|i| { let x = (i * 7 % 10 < 7) as usize; vec![x, if i % 10 == 0 { 1 - x } else { x }] })
//!     .collect();
//! let data = Dataset::from_rows(bn.vars(), &rows).unwrap();
//! let fit = hill_climb(&data, &StructureOptions::default()).unwrap();
//! // one arc between a and b (either direction is the same equivalence class)
//! assert_eq!(fit.parents[0].len() + fit.parents[1].len(), 1);
//! ```

mod pc;
mod score;
mod sem;
mod trees;

pub use crate::num::{chi2_p_value, ln_gamma};
pub use pc::{ci_test, pc_stable, pc_with, CiTest, PcFit, PcOptions};
pub use score::StructureScore;
pub use sem::{structural_em, SemFit, SemOptions};
pub use trees::{chow_liu, mutual_information, naive_bayes, selective_tan, tan};

use std::time::Instant;

use rayon::prelude::*;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::limits::Deadline;
use crate::rng::chain_rng;
use score::Scorer;

/// Options of [`hill_climb`].
#[derive(Debug, Clone, PartialEq)]
pub struct StructureOptions {
    /// The score (default BIC).
    pub score: StructureScore,
    /// Most parents of a variable (default 4).
    pub max_parents: usize,
    /// Non-improving steps allowed after a local optimum, each forbidden to undo one of the
    /// last `tabu` moves (default 10; 0 is plain greedy ascent).
    pub tabu: usize,
    /// Random restarts from the best network, each perturbed by `perturb` random moves
    /// (default 10).
    pub restarts: usize,
    /// Random arc reversals and deletions of a restart's perturbation (default: the number of
    /// variables, at least 10): enough to leave the basin of the best network, whose wrong
    /// orientations greedy moves cannot undo one at a time.
    pub perturb: Option<usize>,
    /// Arcs `(from, to)` never added.
    pub forbidden: Vec<(usize, usize)>,
    /// Arcs `(from, to)` always present (never deleted or reversed).
    pub required: Vec<(usize, usize)>,
    /// Tier of each variable (empty: none): an arc may go from a tier to the same or a later
    /// one only (a temporal order).
    pub tiers: Vec<usize>,
    /// The network the first climb starts from (`start[v]`: the parents of v; empty: the
    /// empty network). It must be acyclic and within the constraints.
    pub start: Vec<Vec<usize>>,
    /// Seed of the restarts' perturbations.
    pub seed: u64,
    /// Deadline: no step starts after it (the best network so far is returned).
    pub deadline: Deadline,
}

impl Default for StructureOptions {
    fn default() -> Self {
        StructureOptions {
            score: StructureScore::Bic,
            max_parents: 4,
            tabu: 10,
            restarts: 10,
            perturb: None,
            forbidden: Vec::new(),
            required: Vec::new(),
            tiers: Vec::new(),
            start: Vec::new(),
            seed: 0,
            deadline: Deadline::NONE,
        }
    }
}

/// The result of [`hill_climb`].
#[derive(Debug, Clone, PartialEq)]
pub struct StructureFit {
    /// Sorted parents of every variable (a DAG).
    pub parents: Vec<Vec<usize>>,
    /// Its score (the sum of the local scores).
    pub score: f64,
    /// Moves taken in all climbs.
    pub steps: usize,
    /// Restarts run.
    pub restarts: usize,
    /// Families scored (distinct (child, parents) pairs).
    pub families: usize,
    /// Whether the deadline cut the search short.
    pub time_limited: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// A move of the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    Add(usize, usize),
    Delete(usize, usize),
    Reverse(usize, usize),
}

impl Move {
    /// The move that undoes this one.
    fn inverse(self) -> Move {
        match self {
            Move::Add(u, v) => Move::Delete(u, v),
            Move::Delete(u, v) => Move::Add(u, v),
            Move::Reverse(u, v) => Move::Reverse(v, u),
        }
    }
}

/// A DAG with its local scores and descendant sets.
#[derive(Clone)]
struct Dag {
    parents: Vec<Vec<usize>>,
    local: Vec<f64>,
    /// `desc[v]`: bit set of the descendants of v
    desc: Vec<Vec<u64>>,
}

impl Dag {
    fn empty(s: &Scorer<'_>) -> Dag {
        let n = s.num_vars();
        let mut d = Dag {
            parents: vec![Vec::new(); n],
            local: (0..n).map(|v| s.local(v, &[])).collect(),
            desc: vec![vec![0; n.div_ceil(64)]; n],
        };
        d.reach();
        d
    }

    fn score(&self) -> f64 {
        self.local.iter().sum()
    }

    fn has_desc(&self, v: usize, u: usize) -> bool {
        self.desc[v][u / 64] >> (u % 64) & 1 == 1
    }

    /// Recompute the descendant sets (reverse topological order).
    fn reach(&mut self) {
        let n = self.parents.len();
        let mut children = vec![Vec::new(); n];
        let mut indeg = vec![0usize; n];
        for (v, ps) in self.parents.iter().enumerate() {
            for &p in ps {
                children[p].push(v);
                indeg[v] += 1;
            }
        }
        let mut order: Vec<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
        let mut i = 0;
        while i < order.len() {
            let v = order[i];
            for &c in &children[v] {
                indeg[c] -= 1;
                if indeg[c] == 0 {
                    order.push(c);
                }
            }
            i += 1;
        }
        debug_assert_eq!(order.len(), n, "the graph is acyclic");
        for &v in order.iter().rev() {
            let mut d = vec![0u64; n.div_ceil(64)];
            for &c in &children[v] {
                d[c / 64] |= 1 << (c % 64);
                for (x, y) in d.iter_mut().zip(&self.desc[c]) {
                    *x |= y;
                }
            }
            self.desc[v] = d;
        }
    }

    /// Whether there is a directed path from `u` to `v` other than the arc `u -> v`.
    fn other_path(&self, u: usize, v: usize) -> bool {
        self.parents[v]
            .iter()
            .any(|&p| p != u && self.has_desc(u, p))
    }

    fn apply(&mut self, m: Move, s: &Scorer<'_>) {
        let set = |ps: &mut Vec<usize>, x: usize, on: bool| {
            if on {
                ps.push(x);
                ps.sort_unstable();
            } else {
                ps.retain(|&p| p != x);
            }
        };
        match m {
            Move::Add(u, v) => set(&mut self.parents[v], u, true),
            Move::Delete(u, v) => set(&mut self.parents[v], u, false),
            Move::Reverse(u, v) => {
                set(&mut self.parents[v], u, false);
                set(&mut self.parents[u], v, true);
            }
        }
        for w in touched(m) {
            self.local[w] = s.local(w, &self.parents[w]);
        }
        self.reach();
    }
}

/// The variables whose family a move changes.
fn touched(m: Move) -> Vec<usize> {
    match m {
        Move::Add(_, v) | Move::Delete(_, v) => vec![v],
        Move::Reverse(u, v) => vec![u, v],
    }
}

/// Checked constraints.
struct Rules {
    max_parents: usize,
    forbidden: std::collections::HashSet<(usize, usize)>,
    required: std::collections::HashSet<(usize, usize)>,
    tiers: Vec<usize>,
}

impl Rules {
    fn arc_allowed(&self, u: usize, v: usize) -> bool {
        !self.forbidden.contains(&(u, v))
            && (self.tiers.is_empty() || self.tiers[u] <= self.tiers[v])
    }

    fn legal(&self, d: &Dag, m: Move) -> bool {
        match m {
            Move::Add(u, v) => {
                u != v
                    && !d.parents[v].contains(&u)
                    && d.parents[v].len() < self.max_parents
                    && self.arc_allowed(u, v)
                    && !d.has_desc(v, u)
            }
            Move::Delete(u, v) => d.parents[v].contains(&u) && !self.required.contains(&(u, v)),
            Move::Reverse(u, v) => {
                d.parents[v].contains(&u)
                    && !self.required.contains(&(u, v))
                    && d.parents[u].len() < self.max_parents
                    && self.arc_allowed(v, u)
                    && !d.other_path(u, v)
            }
        }
    }
}

/// The change of score of a legal move.
fn delta(d: &Dag, m: Move, s: &Scorer<'_>) -> f64 {
    let with = |v: usize, add: Option<usize>, drop: Option<usize>| -> f64 {
        let mut ps: Vec<usize> = d.parents[v]
            .iter()
            .copied()
            .filter(|&p| Some(p) != drop)
            .collect();
        if let Some(a) = add {
            ps.push(a);
            ps.sort_unstable();
        }
        s.local(v, &ps) - d.local[v]
    };
    match m {
        Move::Add(u, v) => with(v, Some(u), None),
        Move::Delete(u, v) => with(v, None, Some(u)),
        Move::Reverse(u, v) => with(v, None, Some(u)) + with(u, Some(v), None),
    }
}

/// Every move in the fixed order of the search (ties go to the first).
fn all_moves(n: usize) -> Vec<Move> {
    let mut out = Vec::with_capacity(3 * n * n);
    for u in 0..n {
        for v in 0..n {
            if u != v {
                out.push(Move::Add(u, v));
                out.push(Move::Delete(u, v));
                out.push(Move::Reverse(u, v));
            }
        }
    }
    out
}

/// Whether move `m` applies to `d` at all (before constraints and cycles): its arc is absent
/// (add) or present (delete, reverse).
fn applicable(d: &Dag, m: Move) -> bool {
    match m {
        Move::Add(u, v) => u != v && !d.parents[v].contains(&u),
        Move::Delete(u, v) | Move::Reverse(u, v) => d.parents[v].contains(&u),
    }
}

/// The gain of every move (`-inf` where it does not apply), kept up to date by recomputing
/// only the moves whose families a step changed: a step costs O(n) score lookups, not O(n²).
struct Gains {
    n: usize,
    g: Vec<f64>,
}

impl Gains {
    fn index(n: usize, m: Move) -> usize {
        let (u, v, k) = match m {
            Move::Add(u, v) => (u, v, 0),
            Move::Delete(u, v) => (u, v, 1),
            Move::Reverse(u, v) => (u, v, 2),
        };
        (u * n + v) * 3 + k
    }

    fn of(d: &Dag, m: Move, s: &Scorer<'_>) -> f64 {
        if applicable(d, m) {
            delta(d, m, s)
        } else {
            f64::NEG_INFINITY
        }
    }

    /// The gain of every move, in blocks with the deadline checked between them (`None` once
    /// it has passed: on thousands of variables the first scoring alone can take seconds).
    fn new(d: &Dag, moves: &[Move], s: &Scorer<'_>, deadline: Deadline) -> Option<Gains> {
        let n = d.parents.len();
        let mut g = vec![f64::NEG_INFINITY; 3 * n * n];
        for block in moves.chunks(1 << 14) {
            if deadline.passed() {
                return None;
            }
            let vals: Vec<f64> = block
                .par_iter()
                .with_min_len(64)
                .map(|&m| Gains::of(d, m, s))
                .collect();
            for (&m, x) in block.iter().zip(vals) {
                g[Gains::index(n, m)] = x;
            }
        }
        Some(Gains { n, g })
    }

    /// Recompute the moves that involve a family of `touched`.
    fn update(&mut self, d: &Dag, touched: &[usize], s: &Scorer<'_>) {
        let n = self.n;
        let mut redo: Vec<Move> = Vec::new();
        for &w in touched {
            for u in (0..n).filter(|&u| u != w) {
                redo.extend([Move::Add(u, w), Move::Delete(u, w), Move::Reverse(u, w)]);
                redo.push(Move::Reverse(w, u));
            }
        }
        // cached gains are cheap: only long lists are worth splitting
        let vals: Vec<f64> = redo
            .par_iter()
            .with_min_len(32)
            .map(|&m| Gains::of(d, m, s))
            .collect();
        for (m, x) in redo.into_iter().zip(vals) {
            self.g[Gains::index(n, m)] = x;
        }
    }
}

/// The best legal move not in `banned`, with its gain (first in order on ties).
fn best_move(
    d: &Dag,
    moves: &[Move],
    gains: &Gains,
    rules: &Rules,
    banned: &[Move],
) -> Option<(Move, f64)> {
    let n = d.parents.len();
    moves
        .par_iter()
        .with_min_len(2048)
        .enumerate()
        .map(|(i, m)| (i, *m, gains.g[Gains::index(n, *m)]))
        .filter(|(_, m, g)| g.is_finite() && rules.legal(d, *m) && !banned.contains(m))
        .reduce_with(|a, b| {
            if b.2 > a.2 || (b.2 == a.2 && b.0 < a.0) {
                b
            } else {
                a
            }
        })
        .map(|(_, m, g)| (m, g))
}

/// Gains below this are ties with zero (rounding of sums of local scores).
const MIN_GAIN: f64 = 1e-9;

/// One climb from `d`: greedy ascent, then tabu steps; returns the best DAG seen.
fn climb(
    mut d: Dag,
    moves: &[Move],
    rules: &Rules,
    tabu: usize,
    s: &Scorer<'_>,
    deadline: Deadline,
    steps: &mut usize,
) -> (Dag, bool) {
    let mut best = d.clone();
    let mut recent: Vec<Move> = Vec::new();
    let mut patience = tabu;
    let Some(mut gains) = Gains::new(&d, moves, s, deadline) else {
        return (best, true);
    };
    loop {
        if deadline.passed() {
            return (best, true);
        }
        let Some((m, gain)) = best_move(&d, moves, &gains, rules, &recent) else {
            break;
        };
        if gain <= MIN_GAIN {
            if patience == 0 {
                break;
            }
            patience -= 1;
        }
        d.apply(m, s);
        gains.update(&d, &touched(m), s);
        *steps += 1;
        if tabu > 0 {
            recent.push(m.inverse());
            if recent.len() > tabu {
                recent.remove(0);
            }
        }
        if d.score() > best.score() + MIN_GAIN {
            best = d.clone();
            patience = tabu;
        }
    }
    (best, false)
}

/// Learn a DAG over the variables of `data` by hill climbing (see the module docs). Errors:
/// more than [`MAX_STRUCTURE_VARS`] variables ([`Error::InvalidArgument`]), no rows, a constraint naming a variable out of range, a required arc that is forbidden or
/// breaks a tier, required arcs with a cycle, tiers of the wrong length, a BDeu sample size
/// that is not positive.
pub fn hill_climb(data: &Dataset, opts: &StructureOptions) -> Result<StructureFit> {
    hill_climb_weighted(data, 1.0, opts)
}

/// [`hill_climb`] with every row counted `weight` times (a stack of `M` completions of one
/// table is scored as that table with weight `1 / M`).
pub(crate) fn hill_climb_weighted(
    data: &Dataset,
    weight: f64,
    opts: &StructureOptions,
) -> Result<StructureFit> {
    let t0 = Instant::now();
    let n = data.num_vars();
    check_pair_tables("hill climbing", n)?;
    if data.num_rows() == 0 {
        return Err(Error::InvalidArgument(
            "no rows to learn a structure from".into(),
        ));
    }
    if let StructureScore::BDeu { ess } = opts.score {
        if !(ess > 0.0 && ess.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "the BDeu equivalent sample size must be positive, got {ess}"
            )));
        }
    }
    if !opts.tiers.is_empty() {
        crate::error::check_dim("tiers (one per variable)", n, opts.tiers.len())?;
    }
    for &(u, v) in opts.forbidden.iter().chain(&opts.required) {
        if u >= n || v >= n || u == v {
            return Err(Error::InvalidArgument(format!(
                "arc ({u}, {v}) does not join two distinct variables of {n}"
            )));
        }
    }
    let rules = Rules {
        max_parents: opts.max_parents,
        forbidden: opts.forbidden.iter().copied().collect(),
        required: opts.required.iter().copied().collect(),
        tiers: opts.tiers.clone(),
    };
    let s = Scorer::new(data, opts.score).with_weight(weight);
    let moves = all_moves(n);
    let mut start = Dag::empty(&s);
    if !opts.start.is_empty() {
        crate::error::check_dim("start parents (one list per variable)", n, opts.start.len())?;
        for (v, ps) in opts.start.iter().enumerate() {
            for &u in ps {
                if u >= n || u == v {
                    return Err(Error::InvalidArgument(format!(
                        "start arc ({u}, {v}) does not join two distinct variables of {n}"
                    )));
                }
                if start.parents[v].contains(&u) {
                    continue;
                }
                if start.has_desc(v, u) {
                    return Err(Error::InvalidArgument(
                        "the start network has a cycle".into(),
                    ));
                }
                start.apply(Move::Add(u, v), &s);
            }
        }
    }
    for &(u, v) in &opts.required {
        if !rules.arc_allowed(u, v) {
            return Err(Error::InvalidArgument(format!(
                "required arc ({u}, {v}) is forbidden or goes against the tiers"
            )));
        }
        if start.parents[v].contains(&u) {
            continue;
        }
        if start.has_desc(v, u) {
            return Err(Error::InvalidArgument(
                "the required arcs have a cycle".into(),
            ));
        }
        start.apply(Move::Add(u, v), &s);
    }
    if opts
        .required
        .iter()
        .any(|&(_, v)| start.parents[v].len() > opts.max_parents)
        || start.parents.iter().any(|ps| ps.len() > opts.max_parents)
    {
        return Err(Error::InvalidArgument(
            "the required arcs or the start network give a variable more parents than \
             --max-parents"
                .into(),
        ));
    }
    let mut steps = 0;
    let (mut best, mut cut) = climb(
        start,
        &moves,
        &rules,
        opts.tabu,
        &s,
        opts.deadline,
        &mut steps,
    );
    let perturb = opts.perturb.unwrap_or(n.max(10));
    let mut restarts = 0;
    for r in 0..opts.restarts {
        if cut || opts.deadline.passed() {
            cut = true;
            break;
        }
        restarts += 1;
        let mut rng = chain_rng(opts.seed, r as u64);
        let mut d = best.clone();
        for _ in 0..perturb {
            // reversals and deletions only: additions the climb would just delete again
            let legal: Vec<Move> = moves
                .iter()
                .copied()
                .filter(|m| !matches!(m, Move::Add(..)) && rules.legal(&d, *m))
                .collect();
            if legal.is_empty() {
                break;
            }
            let m = legal[rand::Rng::random_range(&mut rng, 0..legal.len())];
            d.apply(m, &s);
        }
        let (found, c) = climb(d, &moves, &rules, opts.tabu, &s, opts.deadline, &mut steps);
        cut |= c;
        if found.score() > best.score() + MIN_GAIN {
            best = found;
        }
    }
    Ok(StructureFit {
        score: best.score(),
        parents: best.parents,
        steps,
        restarts,
        families: s.evaluated(),
        time_limited: cut,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Most variables the searches take: their tables hold a few numbers per pair of variables
/// (hill climbing's gains, the spanning trees' weights, PC's adjacency).
pub const MAX_STRUCTURE_VARS: usize = 4096;

/// Refuse, before allocating, a search whose per-pair tables could not fit.
pub(crate) fn check_pair_tables(what: &str, n: usize) -> Result<()> {
    if n > MAX_STRUCTURE_VARS {
        // a fixed cap, not the memory limit: no option raises it
        return Err(Error::InvalidArgument(format!(
            "{what} handles at most {MAX_STRUCTURE_VARS} variables (its per-pair tables would \
             need {}); this table has {n}: select fewer columns",
            crate::limits::human_bytes(24.0 * (n as f64) * (n as f64))
        )));
    }
    Ok(())
}

/// The parent lists of a network's structure (`parents[v]`: sorted parents of v), the form
/// [`shd`], [`structure_score`] and [`network`] take.
pub fn parents_of(bn: &crate::BayesNet) -> Vec<Vec<usize>> {
    (0..bn.num_vars())
        .map(|v| {
            let mut ps: Vec<usize> = bn
                .parents(crate::VarId(v as u32))
                .iter()
                .map(|p| p.index())
                .collect();
            ps.sort_unstable();
            ps
        })
        .collect()
}

/// The score of a given DAG (`parents[v]`: the parents of v) on `data`.
pub fn structure_score(
    data: &Dataset,
    parents: &[Vec<usize>],
    score: StructureScore,
) -> Result<f64> {
    crate::error::check_dim(
        "parent lists (one per variable)",
        data.num_vars(),
        parents.len(),
    )?;
    let s = Scorer::new(data, score);
    Ok(parents
        .iter()
        .enumerate()
        .map(|(v, ps)| {
            let mut ps = ps.clone();
            ps.sort_unstable();
            s.local(v, &ps)
        })
        .sum())
}

/// Structural Hamming distance between two DAGs over the same variables: arcs in one and not
/// the other (in either direction) count one each, reversed arcs one.
pub fn shd(a: &[Vec<usize>], b: &[Vec<usize>]) -> usize {
    let arcs = |g: &[Vec<usize>]| -> std::collections::HashSet<(usize, usize)> {
        g.iter()
            .enumerate()
            .flat_map(|(v, ps)| ps.iter().map(move |&p| (p, v)))
            .collect()
    };
    let (x, y) = (arcs(a), arcs(b));
    let mut d = 0;
    for &(u, v) in &x {
        if !y.contains(&(u, v)) {
            d += 1; // missing or reversed in b
        }
    }
    for &(u, v) in &y {
        if !x.contains(&(u, v)) && !x.contains(&(v, u)) {
            d += 1; // extra in b
        }
    }
    d
}

/// Largest CPT (entries) [`network`] builds.
pub const MAX_CPT_ENTRIES: usize = 1 << 24;

/// The Bayesian network of a learned structure: variables `vars` (the data's), arcs from
/// `parents`, and parameters fitted to `data` with `prior` (maximum a posteriori counts on
/// complete data, EM when the data has holes). Errors: a CPT larger than
/// [`MAX_CPT_ENTRIES`] ([`Error::TooLarge`], before allocating), a cycle, those of the fit.
pub fn network(
    vars: &[crate::Variable],
    parents: &[Vec<usize>],
    data: &Dataset,
    prior: &crate::learn::Prior,
) -> Result<crate::BayesNet> {
    network_until(vars, parents, data, prior, Deadline::NONE)
}

/// [`network`] whose EM (data with holes) stops at `deadline` with the parameters reached.
pub fn network_until(
    vars: &[crate::Variable],
    parents: &[Vec<usize>],
    data: &Dataset,
    prior: &crate::learn::Prior,
    deadline: Deadline,
) -> Result<crate::BayesNet> {
    let skeleton = skeleton(vars, parents)?;
    if data.num_missing() == 0 {
        crate::learn::fit_complete(&skeleton, data, prior)
    } else {
        let mut stop = crate::stop::StopRule::new(200, 1e-6);
        if let Some(left) = deadline.remaining() {
            stop = stop.with_max_time(left);
        }
        let opts = crate::learn::EmOptions {
            prior: *prior,
            stop,
            ..Default::default()
        };
        Ok(crate::learn::em(&skeleton, data, &opts, None)?.model)
    }
}

/// The network of a structure with uniform CPTs (the shape [`network`] and
/// [`structural_em`] fit). Errors: a CPT larger than [`MAX_CPT_ENTRIES`], a cycle.
pub(crate) fn skeleton(
    vars: &[crate::Variable],
    parents: &[Vec<usize>],
) -> Result<crate::BayesNet> {
    crate::error::check_dim("parent lists (one per variable)", vars.len(), parents.len())?;
    let mut b = crate::BayesNetBuilder::new();
    let ids: Vec<crate::VarId> = vars
        .iter()
        .map(|v| b.add_variable(v.name.clone(), v.states.clone()))
        .collect::<Result<_>>()?;
    for (v, ps) in parents.iter().enumerate() {
        let r = vars[v].card();
        let size = ps
            .iter()
            .try_fold(r, |acc, &p| {
                acc.checked_mul(vars.get(p).map_or(0, |x| x.card()))
            })
            .filter(|&s| s <= MAX_CPT_ENTRIES)
            .ok_or_else(|| Error::AllocationTooLarge {
                what: format!("the CPT of '{}' ({} parents)", vars[v].name, ps.len()),
                bytes: 8.0
                    * r as f64
                    * ps.iter()
                        .map(|&p| vars.get(p).map_or(1.0, |x| x.card() as f64))
                        .product::<f64>(),
                limit: 8.0 * MAX_CPT_ENTRIES as f64,
            })?;
        let pids: Vec<crate::VarId> = ps.iter().map(|&p| ids[p]).collect();
        b.set_cpd(ids[v], &pids, vec![1.0 / r as f64; size])?;
    }
    b.build()
}
