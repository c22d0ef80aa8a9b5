//! Log-space numerical kernels and the one place where tolerances live.
//!
//! Probabilities and potentials are stored as natural logarithms; zero is `f64::NEG_INFINITY`.

/// Tolerances used across the crate (one module holds them all).
pub mod tol {
    /// Default tolerance on |sum - 1| of a CPT column before it is rejected as not normalised.
    ///
    /// The bnlearn BIF files have columns off by up to 3e-7, so the default accepts them.
    pub const CPT_SUM: f64 = 1e-5;
    /// A CPT column whose sum is within this of 1 counts as normalised when pruning barren nodes.
    pub const BARREN_SUM: f64 = 1e-12;
    /// Relative tolerance used when comparing log partition functions in tests and conformance tables.
    pub const LOG_Z_REL: f64 = 1e-9;
}

/// `ln(e^a + e^b)`, exact for infinities.
#[inline]
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `ln(sum_i e^{x_i})`; `-inf` for an empty slice or all `-inf`.
pub fn log_sum_exp(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m.is_infinite() {
        return m;
    }
    let s: f64 = xs.iter().map(|&x| (x - m).exp()).sum();
    m + s.ln()
}

/// Normalise log weights in place so that they log-sum-exp to 0; returns the log normaliser.
///
/// If every entry is `-inf` the slice is left unchanged and `-inf` is returned.
pub fn log_normalize(xs: &mut [f64]) -> f64 {
    let z = log_sum_exp(xs);
    if z.is_finite() {
        for x in xs.iter_mut() {
            *x -= z;
        }
    }
    z
}

/// `e^x` (the crate's single door out of log space).
#[inline]
pub fn exp(x: f64) -> f64 {
    x.exp()
}

/// `ln(1 + x)`, accurate for small `x`.
#[inline]
pub fn ln_1p(x: f64) -> f64 {
    x.ln_1p()
}

/// `ln x`, with `ln 0 = -inf`.
#[inline]
pub fn ln(x: f64) -> f64 {
    x.ln()
}

/// Convert log probabilities to probabilities.
pub fn exp_all(xs: &[f64]) -> Vec<f64> {
    xs.iter().map(|&x| x.exp()).collect()
}

/// Convert probabilities (or potentials) to logs.
pub fn ln_all(xs: &[f64]) -> Vec<f64> {
    xs.iter().map(|&x| x.ln()).collect()
}

/// Natural log to log10.
#[inline]
pub fn ln_to_log10(x: f64) -> f64 {
    x / std::f64::consts::LN_10
}

/// Shift log values by their maximum and exponentiate: returns (max, values e^{x-max}).
///
/// All-`-inf` input gives `(-inf, zeros)`.
pub fn exp_shifted(xs: &[f64]) -> (f64, Vec<f64>) {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return (m, vec![0.0; xs.len()]);
    }
    (m, xs.iter().map(|&x| (x - m).exp()).collect())
}

/// A uniform draw in `[0, 1)` from the top 53 bits of one `u64` (the value
/// `rng.random::<f64>()` gives, without the trait machinery on the hot path).
#[inline(always)]
pub fn uniform<R: rand::RngCore + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// The categorical draw of the crate: an index with probability proportional to the
/// non-negative weights `w`, whose sum is `total` (> 0), from one [`uniform`] and a running
/// sum. Never returns an index of weight zero: when rounding leaves the uniform at or above the
/// running sum, the last index of positive weight is taken (0 if there is none).
///
/// ```
/// let mut rng = pgmkit::rng::chain_rng(1, 0);
/// let i = pgmkit::num::draw_linear([0.0, 2.0, 0.0, 1.0], 3.0, &mut rng);
/// assert!(i == 1 || i == 3);
/// ```
#[inline]
pub fn draw_linear<R, I>(w: I, total: f64, rng: &mut R) -> usize
where
    R: rand::RngCore + ?Sized,
    I: IntoIterator<Item = f64>,
{
    let u = uniform(rng) * total;
    let mut acc = 0.0;
    let mut last = 0;
    for (j, p) in w.into_iter().enumerate() {
        if p > 0.0 {
            last = j;
            acc += p;
            if u < acc {
                return j;
            }
        }
    }
    last
}

/// [`draw_linear`] from log weights (normalised or not): the weights `e^(l - max)`.
/// [`crate::Error::ZeroProbabilityEvidence`] when every log weight is `-inf`.
pub fn draw_log<R: rand::RngCore + ?Sized>(lw: &[f64], rng: &mut R) -> crate::Result<usize> {
    let m = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return Err(crate::Error::ZeroProbabilityEvidence);
    }
    let w: Vec<f64> = lw.iter().map(|&x| exp(x - m)).collect();
    let total = w.iter().sum();
    Ok(draw_linear(w, total, rng))
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

/// The regularised upper incomplete gamma `Q(a, x) = Γ(a, x) / Γ(a)` (series for `x < a + 1`,
/// Lentz's continued fraction otherwise).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let ln_pre = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        // series for P
        let (mut sum, mut term, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        (1.0 - sum * ln_pre.exp()).max(0.0)
    } else {
        // Lentz's continued fraction for Q
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (ln_pre.exp() * h).clamp(0.0, 1.0)
    }
}

/// The p-value of a χ² statistic with `df` degrees of freedom.
pub fn chi2_p_value(stat: f64, df: f64) -> f64 {
    if df <= 0.0 {
        return 1.0;
    }
    gamma_q(df / 2.0, stat / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lse_basics() {
        assert_eq!(log_sum_exp(&[]), f64::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY; 3]), f64::NEG_INFINITY);
        assert!((log_sum_exp(&[0.0, 0.0]) - 2f64.ln()).abs() < 1e-15);
        assert!((log_sum_exp(&[1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert!((log_add_exp(-1e308, 0.0)).abs() < 1e-15);
        assert_eq!(
            log_add_exp(f64::NEG_INFINITY, f64::NEG_INFINITY),
            f64::NEG_INFINITY
        );
    }

    #[test]
    fn normalize() {
        let mut v = vec![1.0f64.ln(), 3.0f64.ln()];
        let z = log_normalize(&mut v);
        assert!((z - 4f64.ln()).abs() < 1e-15);
        assert!((v[0].exp() - 0.25).abs() < 1e-15);
    }
}
