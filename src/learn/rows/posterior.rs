//! What one row's inference gives: [`RowPosterior`]'s marginals, modes, draws and log-likelihood.

use rand::Rng;

use super::elim::*;
use super::*;
use crate::error::{Error, Result};
use crate::num;
use crate::var::{Evidence, VarId};

impl RowPosterior {
    /// True when the observed part of the row has positive probability.
    pub fn is_possible(&self) -> bool {
        self.log_lik > f64::NEG_INFINITY
    }

    pub(crate) fn check(&self) -> Result<()> {
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
                    let mut s = num::draw_linear(probs.iter().copied(), probs.iter().sum(), rng);
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
