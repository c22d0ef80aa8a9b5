//! The reduced problem every variational method runs on: evidence clamped, unary factors and
//! repeated scopes merged, impossible states removed by generalised arc consistency (GAC).

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::factor::index::strides;
use crate::infer::Posterior;
use crate::model::FactorGraph;
use crate::num;
use crate::var::{Evidence, VarId};

/// A factor over two or more unobserved variables, in local numbering.
#[derive(Debug, Clone)]
pub(crate) struct LocalFactor {
    /// Local variable ids, ascending (the same order as the original scope).
    pub vars: Vec<usize>,
    /// Cardinalities (kept states) in scope order.
    pub cards: Vec<usize>,
    /// Row-major strides (last variable fastest).
    pub strides: Vec<usize>,
    /// Log potentials; `-inf` entries are zeros.
    pub table: Vec<f64>,
    /// Index in the model of the first factor merged into this one.
    pub origin: usize,
}

/// How the search for a starting box of mean field picks the variable to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BranchRule {
    /// The variable with the fewest states left.
    SmallestDomain,
    /// The variable one of whose states leaves the fewest zeros of the violated factor.
    FewestZeros,
}

/// A discrete model under evidence, reduced for message passing.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    /// Cardinality of every model variable.
    pub orig_cards: Vec<usize>,
    /// Observed state of every model variable.
    pub observed: Vec<Option<usize>>,
    /// Local index of every model variable (`usize::MAX` if observed).
    pub local_of: Vec<usize>,
    /// Kept model states of every local variable.
    pub states: Vec<Vec<usize>>,
    /// Number of kept states of every local variable.
    pub cards: Vec<usize>,
    /// Summed unary log potential of every local variable (finite on kept states).
    pub unary: Vec<Vec<f64>>,
    /// Factors over two or more local variables (distinct scopes).
    pub factors: Vec<LocalFactor>,
    /// Log of the product of the factors left with no variable.
    pub constant: f64,
    /// For each local variable, its factors as `(factor, position in scope)`.
    pub var_factors: Vec<Vec<(usize, usize)>>,
}

/// Advance row-major `states` under `cards` (last fastest); false after the last entry.
#[inline]
pub(crate) fn next_states(states: &mut [usize], cards: &[usize]) -> bool {
    for d in (0..cards.len()).rev() {
        states[d] += 1;
        if states[d] < cards[d] {
            return true;
        }
        states[d] = 0;
    }
    false
}

/// Split `buf` into consecutive mutable segments of the given lengths.
pub(crate) fn split_segments(
    mut buf: &mut [f64],
    lens: impl Iterator<Item = usize>,
) -> Vec<&mut [f64]> {
    let mut out = Vec::new();
    for l in lens {
        let (a, b) = std::mem::take(&mut buf).split_at_mut(l);
        out.push(a);
        buf = b;
    }
    out
}

/// Run `f` on every item, on the rayon pool when there are at least `min_items` of them and
/// more than one thread, otherwise on the calling thread. The items are independent, so the
/// results are the same either way; small batches stay on the calling thread because handing
/// them to the pool costs more than it saves (much more on a loaded machine, where every
/// hand-off can wait for a descheduled worker).
pub(crate) fn for_each_item<T: Send, S>(
    items: Vec<T>,
    min_items: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, T) + Sync + Send,
) {
    if items.len() >= min_items && rayon::current_num_threads() > 1 {
        items
            .into_par_iter()
            .with_min_len(min_items / 4)
            .for_each_init(init, f);
    } else {
        let mut s = init();
        for it in items {
            f(&mut s, it);
        }
    }
}

/// Exponentiate log values relative to their maximum and normalise, writing probabilities into
/// `out` (`-inf` gives exactly 0). Returns false if every entry is `-inf`.
pub(crate) fn softmax_into(log: &[f64], out: &mut [f64]) -> bool {
    let m = log.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return false;
    }
    let mut s = 0.0;
    for (o, &l) in out.iter_mut().zip(log) {
        *o = num::exp(l - m);
        s += *o;
    }
    for o in out.iter_mut() {
        *o /= s;
    }
    true
}

/// `ln sum exp` of a slice (the crate's kernel, inlined for the hot loops).
#[inline]
pub(crate) fn lse(xs: &[f64]) -> f64 {
    crate::num::log_sum_exp(xs)
}

/// Largest element, `-inf` for an empty slice.
#[inline]
pub(crate) fn max_of(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// Shift log values so that their maximum is 0 (left unchanged if all are `-inf`).
#[inline]
pub(crate) fn shift_to_max_zero(xs: &mut [f64]) {
    let m = max_of(xs);
    if m.is_finite() {
        for x in xs.iter_mut() {
            *x -= m;
        }
    }
}

/// Smallest value a log message entry keeps, relative to the message's maximum of 0.
///
/// After arc consistency every message is positive in exact arithmetic, but near-deterministic
/// factors on loops can drive a log message towards `-inf` geometrically while BP has not
/// converged. Entries are clamped here: `e^-10000` is zero for every later sum in double
/// precision, and the floor keeps every cavity `B - m` finite.
pub(crate) const MSG_FLOOR: f64 = -1e4;

/// Normalise a log message to a maximum of 0 and clamp it at [`MSG_FLOOR`].
#[inline]
pub(crate) fn normalize_message(xs: &mut [f64]) {
    shift_to_max_zero(xs);
    for x in xs.iter_mut() {
        if *x < MSG_FLOOR {
            *x = MSG_FLOOR;
        }
    }
}

/// Entropy `-sum p ln p` of a probability vector (0 ln 0 = 0).
pub(crate) fn entropy(p: &[f64]) -> f64 {
    -p.iter()
        .filter(|&&x| x > 0.0)
        .map(|&x| x * x.ln())
        .sum::<f64>()
}

/// `sum_x p(x) v(x)` skipping `p(x) = 0` (so that `0 * -inf` counts as 0).
pub(crate) fn expect(p: &[f64], v: &[f64]) -> f64 {
    p.iter()
        .zip(v)
        .filter(|(&w, _)| w > 0.0)
        .map(|(&w, &x)| w * x)
        .sum()
}

impl Problem {
    /// Reduce `fg` under `ev`: clamp evidence, merge unary factors and repeated scopes, and
    /// remove impossible states by GAC. Errors on evidence that does not fit the model and on
    /// a proof that Z = 0.
    pub fn new(fg: &FactorGraph, ev: &Evidence) -> Result<Problem> {
        let n = fg.num_vars();
        let orig_cards = fg.cards();
        for (i, o) in ev.as_slice().iter().enumerate() {
            if let Some(s) = *o {
                if i >= n {
                    return Err(Error::UnknownVariable(format!("#{i}")));
                }
                if s >= orig_cards[i] {
                    let v = &fg.vars()[i];
                    return Err(Error::UnknownState {
                        var: v.name.clone(),
                        state: s.to_string(),
                        states: v.states.clone(),
                    });
                }
            }
        }
        let mut observed: Vec<Option<usize>> = (0..n).map(|i| ev.get(VarId(i as u32))).collect();
        // Variables left with a single state (one state in the model, or one after arc
        // consistency) are clamped like evidence, which removes them from every factor.
        loop {
            let p = Self::build(fg, observed.clone())?;
            if !p.cards.contains(&1) {
                return Ok(p);
            }
            for (g, &l) in p.local_of.iter().enumerate() {
                if l != usize::MAX && p.cards[l] == 1 {
                    observed[g] = Some(p.states[l][0]);
                }
            }
        }
    }

    /// One reduction under the (validated) observed states.
    fn build(fg: &FactorGraph, observed: Vec<Option<usize>>) -> Result<Problem> {
        let n = fg.num_vars();
        let orig_cards = fg.cards();
        let ev = Evidence::from_options(observed.clone());
        let mut local_of = vec![usize::MAX; n];
        let mut globals = Vec::new();
        for i in 0..n {
            if observed[i].is_none() {
                local_of[i] = globals.len();
                globals.push(i);
            }
        }
        let cards: Vec<usize> = globals.iter().map(|&g| orig_cards[g]).collect();
        let mut unary: Vec<Vec<f64>> = cards.iter().map(|&c| vec![0.0; c]).collect();
        let mut constant = 0.0;
        let mut factors: Vec<LocalFactor> = Vec::new();
        let mut by_scope: HashMap<Vec<usize>, usize> = HashMap::new();
        for (k, f) in fg.factors().iter().enumerate() {
            let r: Cow<'_, _> = if f.scope().iter().any(|v| observed[v.index()].is_some()) {
                Cow::Owned(f.reduce(&ev))
            } else {
                Cow::Borrowed(f)
            };
            match r.scope().len() {
                0 => constant += r.log_values()[0],
                1 => {
                    let l = local_of[r.scope()[0].index()];
                    for (u, &x) in unary[l].iter_mut().zip(r.log_values()) {
                        *u += x;
                    }
                }
                _ => {
                    let vars: Vec<usize> = r.scope().iter().map(|v| local_of[v.index()]).collect();
                    if let Some(&j) = by_scope.get(&vars) {
                        let t: &mut LocalFactor = &mut factors[j];
                        for (u, &x) in t.table.iter_mut().zip(r.log_values()) {
                            *u += x;
                        }
                    } else {
                        by_scope.insert(vars.clone(), factors.len());
                        factors.push(LocalFactor {
                            strides: strides(r.cards()),
                            cards: r.cards().to_vec(),
                            vars,
                            table: r.log_values().to_vec(),
                            origin: k,
                        });
                    }
                }
            }
        }
        if constant == f64::NEG_INFINITY {
            return Err(Error::ZeroProbabilityEvidence);
        }
        let mut var_factors = vec![Vec::new(); globals.len()];
        for (a, f) in factors.iter().enumerate() {
            for (p, &v) in f.vars.iter().enumerate() {
                var_factors[v].push((a, p));
            }
        }
        let states = cards.iter().map(|&c| (0..c).collect()).collect();
        let full = Problem {
            orig_cards,
            observed,
            local_of,
            states,
            cards,
            unary,
            factors,
            constant,
            var_factors,
        };
        let mut alive: Vec<Vec<bool>> = full
            .unary
            .iter()
            .map(|u| u.iter().map(|&x| x > f64::NEG_INFINITY).collect())
            .collect();
        if !full.gac(&mut alive, 0..full.factors.len()) {
            return Err(Error::ZeroProbabilityEvidence);
        }
        Ok(full.restrict(&alive))
    }

    /// Number of local (unobserved) variables.
    pub fn num_vars(&self) -> usize {
        self.cards.len()
    }

    /// Generalised arc consistency on the state masks `alive`, starting from the factors
    /// `start`: remove every state that no entry of some factor supports (finite value, other
    /// states alive). Returns false when some variable loses all its states.
    pub fn gac(&self, alive: &mut [Vec<bool>], start: impl Iterator<Item = usize>) -> bool {
        if alive.iter().any(|a| !a.iter().any(|&x| x)) {
            return false;
        }
        let mut in_queue = vec![false; self.factors.len()];
        let mut queue = VecDeque::new();
        for a in start {
            if !in_queue[a] {
                in_queue[a] = true;
                queue.push_back(a);
            }
        }
        let mut supported: Vec<Vec<bool>> = Vec::new();
        let mut st: Vec<usize> = Vec::new();
        while let Some(a) = queue.pop_front() {
            in_queue[a] = false;
            let f = &self.factors[a];
            let k = f.vars.len();
            supported.resize(k, Vec::new());
            for (p, s) in supported.iter_mut().enumerate().take(k) {
                s.clear();
                s.resize(f.cards[p], false);
            }
            st.clear();
            st.resize(k, 0);
            let mut idx = 0;
            loop {
                if f.table[idx] > f64::NEG_INFINITY && (0..k).all(|p| alive[f.vars[p]][st[p]]) {
                    for p in 0..k {
                        supported[p][st[p]] = true;
                    }
                }
                idx += 1;
                if !next_states(&mut st, &f.cards) {
                    break;
                }
            }
            for (p, sup) in supported.iter().enumerate().take(k) {
                let v = f.vars[p];
                let mut changed = false;
                for (s, &ok) in sup.iter().enumerate() {
                    if alive[v][s] && !ok {
                        alive[v][s] = false;
                        changed = true;
                    }
                }
                if changed {
                    if !alive[v].iter().any(|&x| x) {
                        return false;
                    }
                    for &(b, _) in &self.var_factors[v] {
                        if b != a && !in_queue[b] {
                            in_queue[b] = true;
                            queue.push_back(b);
                        }
                    }
                }
            }
        }
        true
    }

    /// The problem restricted to the states marked alive.
    fn restrict(self, alive: &[Vec<bool>]) -> Problem {
        if alive.iter().all(|a| a.iter().all(|&x| x)) {
            return self;
        }
        let kept: Vec<Vec<usize>> = alive
            .iter()
            .map(|a| (0..a.len()).filter(|&s| a[s]).collect())
            .collect();
        let cards: Vec<usize> = kept.iter().map(Vec::len).collect();
        let states = kept
            .iter()
            .zip(&self.states)
            .map(|(k, old)| k.iter().map(|&s| old[s]).collect())
            .collect();
        let unary = kept
            .iter()
            .zip(&self.unary)
            .map(|(k, u)| k.iter().map(|&s| u[s]).collect())
            .collect();
        let factors = self
            .factors
            .into_iter()
            .map(|f| {
                if f.vars.iter().zip(&f.cards).all(|(&v, &c)| cards[v] == c) {
                    return f;
                }
                let new_cards: Vec<usize> = f.vars.iter().map(|&v| cards[v]).collect();
                let len: usize = new_cards.iter().product();
                let mut table = Vec::with_capacity(len);
                let mut st = vec![0; new_cards.len()];
                loop {
                    let old: usize = (0..st.len())
                        .map(|p| f.strides[p] * kept[f.vars[p]][st[p]])
                        .sum();
                    table.push(f.table[old]);
                    if !next_states(&mut st, &new_cards) {
                        break;
                    }
                }
                LocalFactor {
                    strides: strides(&new_cards),
                    cards: new_cards,
                    vars: f.vars,
                    table,
                    origin: f.origin,
                }
            })
            .collect();
        Problem {
            states,
            cards,
            unary,
            factors,
            ..self
        }
    }

    /// Index of the first factor over three or more variables, with its model index and arity.
    pub fn first_higher_order(&self) -> Option<(usize, usize)> {
        self.factors
            .iter()
            .find(|f| f.vars.len() > 2)
            .map(|f| (f.origin, f.vars.len()))
    }

    /// Greedy colouring of the interaction graph (variables sharing a factor are neighbours),
    /// in variable order; returns the colour classes in colour order.
    pub fn colour_classes(&self) -> Vec<Vec<usize>> {
        let n = self.num_vars();
        let mut colour = vec![usize::MAX; n];
        let mut stamp = vec![usize::MAX; 1];
        let mut classes: Vec<Vec<usize>> = Vec::new();
        for i in 0..n {
            for &(a, _) in &self.var_factors[i] {
                for &j in &self.factors[a].vars {
                    let c = colour[j];
                    if c != usize::MAX {
                        if c >= stamp.len() {
                            stamp.resize(c + 1, usize::MAX);
                        }
                        stamp[c] = i;
                    }
                }
            }
            let c = (0..).find(|&c| c >= stamp.len() || stamp[c] != i).unwrap();
            colour[i] = c;
            if c >= classes.len() {
                classes.resize(c + 1, Vec::new());
            }
            classes[c].push(i);
        }
        classes
    }

    /// A posterior over the model's variables from log marginals over the kept states of the
    /// local variables: observed variables get a point mass, removed states `-inf`.
    pub fn posterior(&self, local: &[Vec<f64>], log_z: f64) -> Posterior {
        let log_marginals = (0..self.orig_cards.len())
            .into_par_iter()
            .map(|i| {
                let mut m = vec![f64::NEG_INFINITY; self.orig_cards[i]];
                match self.observed[i] {
                    Some(s) => m[s] = 0.0,
                    None => {
                        let l = self.local_of[i];
                        for (k, &s) in self.states[l].iter().enumerate() {
                            m[s] = local[l][k];
                        }
                    }
                }
                m
            })
            .collect();
        Posterior {
            log_marginals,
            log_z,
        }
    }

    /// A factor with an entry of zero potential inside the box `alive`, if any.
    fn first_violated(&self, alive: &[Vec<bool>]) -> Option<usize> {
        let mut st = Vec::new();
        self.factors.iter().position(|f| {
            st.clear();
            st.resize(f.vars.len(), 0);
            let mut idx = 0;
            loop {
                if f.table[idx] == f64::NEG_INFINITY
                    && (0..st.len()).all(|p| alive[f.vars[p]][st[p]])
                {
                    return true;
                }
                idx += 1;
                if !next_states(&mut st, &f.cards) {
                    return false;
                }
            }
        })
    }

    /// A box of states (one non-empty set per variable) on which every factor is non-zero, so
    /// that the uniform distribution over it has a finite ELBO. The whole state space when the
    /// model has no zeros; otherwise found by depth-first search over single-variable
    /// assignments with GAC after each (at most `budget` search nodes). The search branches on
    /// a variable of the first factor that still has a zero inside the box: with
    /// [`BranchRule::SmallestDomain`] the one with the fewest states left, with
    /// [`BranchRule::FewestZeros`] the one one of whose states leaves the fewest zeros of that
    /// factor; states are tried by decreasing unary potential, then fewest zeros.
    ///
    /// Errors: [`Error::ZeroProbabilityEvidence`] when the search proves Z = 0, and
    /// [`Error::InvalidArgument`] when the budget runs out.
    pub fn feasible_box(&self, budget: usize, rule: BranchRule) -> Result<Vec<Vec<bool>>> {
        let root: Vec<Vec<bool>> = self.cards.iter().map(|&c| vec![true; c]).collect();
        let Some(first) = self.first_violated(&root) else {
            return Ok(root);
        };
        // stack of (box, variable branched on, states still to try)
        let mut stack: Vec<(Vec<Vec<bool>>, usize, Vec<usize>)> = Vec::new();
        let mut nodes = 0usize;
        // Branch on the variable of the violated factor whose best state leaves the fewest
        // zero entries of that factor inside the box; try its states best first.
        let push = |stack: &mut Vec<_>, b: Vec<Vec<bool>>, a: usize| {
            let f = &self.factors[a];
            let k = f.vars.len();
            let mut zeros: Vec<Vec<usize>> = f.cards.iter().map(|&c| vec![0; c]).collect();
            let mut st = vec![0; k];
            let mut idx = 0;
            loop {
                if f.table[idx] == f64::NEG_INFINITY && (0..k).all(|p| b[f.vars[p]][st[p]]) {
                    for p in 0..k {
                        zeros[p][st[p]] += 1;
                    }
                }
                idx += 1;
                if !next_states(&mut st, &f.cards) {
                    break;
                }
            }
            let best = (0..k)
                .filter(|&p| b[f.vars[p]].iter().filter(|&&x| x).count() > 1)
                .map(|p| {
                    let v = f.vars[p];
                    let m = match rule {
                        BranchRule::SmallestDomain => b[v].iter().filter(|&&x| x).count(),
                        BranchRule::FewestZeros => (0..f.cards[p])
                            .filter(|&s| b[v][s])
                            .map(|s| zeros[p][s])
                            .min()
                            .unwrap_or(usize::MAX),
                    };
                    (m, p)
                })
                .min();
            if let Some((_, p)) = best {
                let v = f.vars[p];
                let mut order: Vec<usize> = (0..self.cards[v]).filter(|&s| b[v][s]).collect();
                // popped from the back: largest unary potential, then fewest zeros, last
                order.sort_by(|&x, &y| {
                    self.unary[v][x]
                        .total_cmp(&self.unary[v][y])
                        .then(zeros[p][y].cmp(&zeros[p][x]))
                });
                stack.push((b, v, order));
            }
        };
        push(&mut stack, root, first);
        while let Some(top) = stack.last_mut() {
            let Some(s) = top.2.pop() else {
                stack.pop();
                continue;
            };
            nodes += 1;
            if nodes > budget {
                return Err(Error::InvalidArgument(format!(
                    "mean field needs a fully factorised starting distribution with non-zero \
                     probability (the model has zero potentials) and none was found within \
                     {budget} search nodes; use loopy BP instead"
                )));
            }
            let v = top.1;
            let mut b = top.0.clone();
            b[v].iter_mut().enumerate().for_each(|(t, x)| *x = t == s);
            if !self.gac(&mut b, self.var_factors[v].iter().map(|&(a, _)| a)) {
                continue;
            }
            match self.first_violated(&b) {
                None => return Ok(b),
                Some(a) => push(&mut stack, b, a),
            }
        }
        Err(Error::ZeroProbabilityEvidence)
    }
}
