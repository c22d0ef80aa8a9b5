//! Importance-weight statistics: log-mean-exp with its standard error, Kish ESS, replicates,
//! conditional ESS.

use crate::num;

/// Log-mean-exp, its delta-method standard error, Kish ESS, log-weight variance and mean.
pub(crate) fn weight_stats(lw: &[f64]) -> (f64, f64, f64, f64, f64) {
    let n = lw.len() as f64;
    let m = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return (
            f64::NEG_INFINITY,
            f64::INFINITY,
            0.0,
            f64::NAN,
            f64::NEG_INFINITY,
        );
    }
    let w: Vec<f64> = lw.iter().map(|&l| num::exp(l - m)).collect();
    let s1: f64 = w.iter().sum();
    let s2: f64 = w.iter().map(|x| x * x).sum();
    let mean = s1 / n;
    let var = if n > 1.0 {
        (s2 - n * mean * mean).max(0.0) / (n - 1.0)
    } else {
        f64::INFINITY
    };
    let log_z = m + mean.ln();
    let se = (var / n).sqrt() / mean;
    let ess = s1 * s1 / s2;
    let (lvar, lmean) = if lw.iter().all(|l| l.is_finite()) {
        let mu = lw.iter().sum::<f64>() / n;
        let v = if n > 1.0 {
            lw.iter().map(|l| (l - mu) * (l - mu)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        (v, mu)
    } else {
        (f64::INFINITY, f64::NEG_INFINITY)
    };
    (log_z, se, ess, lvar, lmean)
}

pub(crate) fn replicates(lw: &[f64], r: usize) -> Vec<f64> {
    if r <= 1 {
        return Vec::new();
    }
    let n = lw.len();
    (0..r)
        .map(|g| {
            let a = g * n / r;
            let b = (g + 1) * n / r;
            let s = &lw[a..b];
            num::log_sum_exp(s) - (s.len() as f64).ln()
        })
        .collect()
}

/// Conditional ESS fraction of the incremental log weights `d` given normalised log weights.
pub(crate) fn cess(lw_norm: &[f64], d: &[f64]) -> f64 {
    let a: Vec<f64> = lw_norm.iter().zip(d).map(|(&l, &x)| l + x).collect();
    let b: Vec<f64> = lw_norm.iter().zip(d).map(|(&l, &x)| l + 2.0 * x).collect();
    let la = num::log_sum_exp(&a);
    if la == f64::NEG_INFINITY {
        return 0.0;
    }
    num::exp(2.0 * la - num::log_sum_exp(&b))
}
