//! Decomposable scores of a discrete Bayesian network's families from one data table: BIC,
//! AIC, BDeu and K2, each the sum over variables of a local score of (child, parents) computed
//! from the family's counts. Rows with a missing cell in the family are left out of that
//! family's counts (available-case analysis).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::data::{Dataset, MISSING};

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

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 terms; relative error about 1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // reflection: Γ(x) Γ(1-x) = π / sin(πx)
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, &c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Local scores of families over one table, cached by (child, sorted parents). The cache
/// never changes a value, so results do not depend on the order of evaluation or threads.
pub(crate) struct Scorer<'a> {
    cols: &'a [Vec<u16>],
    cards: Vec<usize>,
    score: StructureScore,
    cache: Mutex<HashMap<(usize, Vec<usize>), f64>>,
}

impl<'a> Scorer<'a> {
    pub(crate) fn new(data: &'a Dataset, score: StructureScore) -> Scorer<'a> {
        Scorer {
            cols: data.columns(),
            cards: data.cards().to_vec(),
            score,
            cache: Mutex::new(HashMap::new()),
        }
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
        let r = self.cards[child];
        let mut q: u64 = 1;
        for &p in parents {
            match q.checked_mul(self.cards[p] as u64) {
                Some(x) if x < (1u64 << 48) => q = x,
                // more parent configurations than any table could hold: never chosen
                _ => return f64::NEG_INFINITY,
            }
        }
        // (config, child state) of every row complete on the family
        let rows = self.cols[child].len();
        let mut keys: Vec<u64> = Vec::with_capacity(rows);
        'rows: for row in 0..rows {
            let c = self.cols[child][row];
            if c == MISSING {
                continue;
            }
            let mut cfg = 0u64;
            for &p in parents {
                let s = self.cols[p][row];
                if s == MISSING {
                    continue 'rows;
                }
                cfg = cfg * self.cards[p] as u64 + s as u64;
            }
            keys.push(cfg * r as u64 + c as u64);
        }
        let n = keys.len() as f64;
        // counts N_jk in runs of sorted keys, grouped by configuration j
        keys.sort_unstable();
        let mut groups: Vec<Vec<f64>> = Vec::new();
        let mut last_cfg = u64::MAX;
        let mut i = 0;
        while i < keys.len() {
            let mut k = i;
            while k < keys.len() && keys[k] == keys[i] {
                k += 1;
            }
            let cfg = keys[i] / r as u64;
            if cfg != last_cfg {
                groups.push(Vec::new());
                last_cfg = cfg;
            }
            groups.last_mut().expect("a group").push((k - i) as f64);
            i = k;
        }
        let free = q as f64 * (r as f64 - 1.0);
        match self.score {
            StructureScore::Bic | StructureScore::Aic => {
                let ll: f64 = groups
                    .iter()
                    .map(|g| {
                        let nj: f64 = g.iter().sum();
                        g.iter().map(|&x| x * (x / nj).ln()).sum::<f64>()
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
