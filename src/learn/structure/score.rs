//! Decomposable scores of a discrete Bayesian network's families from one data table: BIC,
//! AIC, BDeu and K2, each the sum over variables of a local score of (child, parents) computed
//! from the family's counts. Rows with a missing cell in the family are left out of that
//! family's counts (available-case analysis).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::data::{Dataset, MISSING};
use crate::num::ln_gamma;

/// A decomposable network score (higher is better; natural logs).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum StructureScore {
    /// Bayesian information criterion: the maximised log-likelihood minus `ln(N)/2` per free
    /// parameter (Schwarz 1978). The default.
    Bic,
    /// Akaike information criterion: minus one per free parameter.
    Aic,
    /// The Bayesian Dirichlet equivalent uniform score with this equivalent sample size
    /// (Heckerman, Geiger & Chickering 1995): the log marginal likelihood under a Dirichlet
    /// prior of `ess / (q r)` per cell.
    BDeu {
        /// Equivalent sample size (> 0; 1 is usual).
        ess: f64,
    },
    /// The K2 score (Cooper & Herskovits 1992): BD with one pseudo-count per cell.
    K2,
}

impl StructureScore {
    /// The name used on the command line and in JSON (`bic`, `aic`, `bdeu`, `k2`).
    pub fn name(self) -> &'static str {
        match self {
            StructureScore::Bic => "bic",
            StructureScore::Aic => "aic",
            StructureScore::BDeu { .. } => "bdeu",
            StructureScore::K2 => "k2",
        }
    }
}

/// Largest dense count table of a family (cells), unless the data has more rows.
const DENSE_CELLS: usize = 1 << 16;

/// Local scores of families over one table, cached by (child, sorted parents). The cache
/// never changes a value, so results do not depend on the order of evaluation or threads.
pub(crate) struct Scorer<'a> {
    cols: &'a [Vec<u16>],
    cards: Vec<usize>,
    score: StructureScore,
    weight: f64,
    /// whether each column has no missing cell (counted without checks)
    complete: Vec<bool>,
    cache: Mutex<HashMap<(usize, Vec<usize>), f64>>,
}

impl<'a> Scorer<'a> {
    pub(crate) fn new(data: &'a Dataset, score: StructureScore) -> Scorer<'a> {
        Scorer {
            cols: data.columns(),
            cards: data.cards().to_vec(),
            score,
            weight: 1.0,
            complete: data
                .columns()
                .iter()
                .map(|c| !c.contains(&MISSING))
                .collect(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Count every row `weight` times.
    pub(crate) fn with_weight(mut self, weight: f64) -> Self {
        self.weight = weight;
        self
    }

    /// Number of variables.
    pub(crate) fn num_vars(&self) -> usize {
        self.cards.len()
    }

    /// The local score of `child` given `parents` (sorted, without `child`).
    pub(crate) fn local(&self, child: usize, parents: &[usize]) -> f64 {
        let key = (child, parents.to_vec());
        if let Some(&v) = self.cache.lock().expect("score cache").get(&key) {
            return v;
        }
        let v = self.compute(child, parents);
        self.cache.lock().expect("score cache").insert(key, v);
        v
    }

    /// Families scored so far.
    pub(crate) fn evaluated(&self) -> usize {
        self.cache.lock().expect("score cache").len()
    }

    fn compute(&self, child: usize, parents: &[usize]) -> f64 {
        self.compute_with(child, parents, true)
    }

    /// The local score, counting by a dense table when `dense_ok` and it is small, else by
    /// sorting (both give the same counts).
    fn compute_with(&self, child: usize, parents: &[usize], dense_ok: bool) -> f64 {
        let r = self.cards[child];
        let mut q: u64 = 1;
        for &p in parents {
            match q.checked_mul(self.cards[p] as u64) {
                Some(x) if x < (1u64 << 48) => q = x,
                // more parent configurations than any table could hold: never chosen
                _ => return f64::NEG_INFINITY,
            }
        }
        // the counts N_jk, flat, and the (start, end) of every configuration j seen: a dense
        // table when it is small, else runs of sorted (config, child state) keys
        let rows = self.cols[child].len();
        let cfg_of = |row: usize| -> Option<u64> {
            let mut cfg = 0u64;
            for &p in parents {
                let s = self.cols[p][row];
                if s == MISSING {
                    return None;
                }
                cfg = cfg * self.cards[p] as u64 + s as u64;
            }
            Some(cfg)
        };
        let mut flat: Vec<f64> = Vec::new();
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut n = 0.0;
        if dense_ok && (q as usize).saturating_mul(r) <= DENSE_CELLS.max(rows) {
            // column by column (vectorised): the cell of every row, u32::MAX where a cell of
            // the family is missing
            let cells = q as usize * r;
            let whole = self.complete[child] && parents.iter().all(|&p| self.complete[p]);
            let mut code: Vec<u32> = if whole {
                self.cols[child].iter().map(|&c| u32::from(c)).collect()
            } else {
                self.cols[child]
                    .iter()
                    .map(|&c| if c == MISSING { u32::MAX } else { u32::from(c) })
                    .collect()
            };
            let mut place = r as u32;
            for &p in parents {
                let col = &self.cols[p];
                if whole {
                    // no holes: a branch-free multiply-add the compiler vectorises
                    for (x, &sp) in code.iter_mut().zip(col) {
                        *x += u32::from(sp) * place;
                    }
                } else {
                    for (x, &sp) in code.iter_mut().zip(col) {
                        *x = if *x == u32::MAX || sp == MISSING {
                            u32::MAX
                        } else {
                            *x + u32::from(sp) * place
                        };
                    }
                }
                place *= self.cards[p] as u32;
            }
            let mut counts = vec![0u32; cells];
            if whole {
                for &x in &code {
                    counts[x as usize] += 1;
                }
            } else {
                for &x in &code {
                    if x != u32::MAX {
                        counts[x as usize] += 1;
                    }
                }
            }
            // code = child + r * (mixed-radix parent configuration): r cells per configuration
            flat = counts.iter().map(|&x| f64::from(x)).collect();
            for j in 0..q as usize {
                let nj: f64 = flat[j * r..(j + 1) * r].iter().sum();
                if nj > 0.0 {
                    groups.push((j * r, (j + 1) * r));
                    n += nj;
                }
            }
        } else {
            let mut keys: Vec<u64> = Vec::with_capacity(rows);
            for (row, &c) in self.cols[child].iter().enumerate() {
                if c == MISSING {
                    continue;
                }
                if let Some(cfg) = cfg_of(row) {
                    keys.push(cfg * r as u64 + c as u64);
                }
            }
            n = keys.len() as f64;
            keys.sort_unstable();
            let mut last_cfg = u64::MAX;
            let mut i = 0;
            while i < keys.len() {
                let mut k = i;
                while k < keys.len() && keys[k] == keys[i] {
                    k += 1;
                }
                let cfg = keys[i] / r as u64;
                if cfg != last_cfg {
                    groups.push((flat.len(), flat.len()));
                    last_cfg = cfg;
                }
                flat.push((k - i) as f64);
                groups.last_mut().expect("a group").1 = flat.len();
                i = k;
            }
        }
        if self.weight != 1.0 {
            for x in &mut flat {
                *x *= self.weight;
            }
            n *= self.weight;
        }
        let groups: Vec<&[f64]> = groups.iter().map(|&(a, b)| &flat[a..b]).collect();
        let free = q as f64 * (r as f64 - 1.0);
        match self.score {
            StructureScore::Bic | StructureScore::Aic => {
                let ll: f64 = groups
                    .iter()
                    .map(|g| {
                        let nj: f64 = g.iter().sum();
                        g.iter()
                            .filter(|&&x| x > 0.0)
                            .map(|&x| x * (x / nj).ln())
                            .sum::<f64>()
                    })
                    .sum();
                let per = if self.score == StructureScore::Bic {
                    0.5 * n.max(1.0).ln()
                } else {
                    1.0
                };
                ll - per * free
            }
            StructureScore::BDeu { ess } => {
                let aj = ess / q as f64;
                let ajk = aj / r as f64;
                groups
                    .iter()
                    .map(|g| {
                        let nj: f64 = g.iter().sum();
                        ln_gamma(aj) - ln_gamma(aj + nj)
                            + g.iter()
                                .map(|&x| ln_gamma(ajk + x) - ln_gamma(ajk))
                                .sum::<f64>()
                    })
                    .sum()
            }
            StructureScore::K2 => {
                let lr = ln_gamma(r as f64);
                groups
                    .iter()
                    .map(|g| {
                        let nj: f64 = g.iter().sum();
                        lr - ln_gamma(nj + r as f64)
                            + g.iter().map(|&x| ln_gamma(x + 1.0)).sum::<f64>()
                    })
                    .sum()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::ln_gamma;
    use crate::Variable;

    #[test]
    fn local_scores_match_brute_force_counts_by_both_paths_and_the_cache() {
        // three variables (cards 2, 3, 2), random rows with holes
        let vars = [2, 3, 2].map(|c| Variable::with_cardinality(format!("x{c}"), c));
        let vars: Vec<Variable> = vars
            .iter()
            .enumerate()
            .map(|(i, v)| Variable::with_cardinality(format!("x{i}"), v.card()))
            .collect();
        let mut rng = crate::rng::chain_rng(1, 0);
        let rows: Vec<Vec<usize>> = (0..500)
            .map(|_| {
                vars.iter()
                    .map(|v| rand::Rng::random_range(&mut rng, 0..v.card()))
                    .collect()
            })
            .collect();
        let mut d = Dataset::from_rows(&vars, &rows).unwrap();
        for r in (0..500).step_by(7) {
            d.set(r, crate::VarId((r % 3) as u32), None);
        }
        // BIC of x1 given (x0, x2) by brute force
        let mut n = [0.0f64; 2 * 3 * 2];
        for r in 0..500 {
            let (a, b, c) = (
                d.get(r, crate::VarId(0)),
                d.get(r, crate::VarId(1)),
                d.get(r, crate::VarId(2)),
            );
            if let (Some(a), Some(b), Some(c)) = (a, b, c) {
                n[(a * 2 + c) * 3 + b] += 1.0;
            }
        }
        let total: f64 = n.iter().sum();
        let mut ll = 0.0;
        for j in 0..4 {
            let nj: f64 = n[j * 3..j * 3 + 3].iter().sum();
            for &x in &n[j * 3..j * 3 + 3] {
                if x > 0.0 {
                    ll += x * (x / nj).ln();
                }
            }
        }
        let want = ll - 0.5 * total.ln() * 4.0 * 2.0;
        let s = Scorer::new(&d, StructureScore::Bic);
        for got in [
            s.compute_with(1, &[0, 2], true),
            s.compute_with(1, &[0, 2], false),
            s.local(1, &[0, 2]),
            s.local(1, &[0, 2]),
        ] {
            assert!((got - want).abs() < 1e-9 * want.abs(), "{got} vs {want}");
        }
        for score in [
            StructureScore::Aic,
            StructureScore::BDeu { ess: 2.0 },
            StructureScore::K2,
        ] {
            let s = Scorer::new(&d, score);
            let (a, b) = (
                s.compute_with(1, &[0, 2], true),
                s.compute_with(1, &[0, 2], false),
            );
            assert!((a - b).abs() < 1e-9 * a.abs(), "{score:?}: {a} vs {b}");
        }
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for k in 1..30 {
            f *= k as f64;
            let got = ln_gamma(k as f64 + 1.0);
            assert!((got - f.ln()).abs() < 1e-12 * f.ln().max(1.0), "{k}: {got}");
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        assert!((ln_gamma(0.01) - 4.599_479_878_042_022).abs() < 1e-12);
    }
}
