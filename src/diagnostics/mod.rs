//! MCMC and importance-sampling diagnostics: pure functions over draws and weights.
//!
//! Draws are given one slice per chain (`&[&[f64]]`). Chains should have equal lengths; when they
//! do not, every chain is cut to the shortest length (draws at the end are ignored).
//!
//! - [`split_rhat`]: the potential scale reduction factor on split chains (Gelman et al., *Bayesian
//!   Data Analysis*, 3rd ed., section 11.4).
//! - [`rank_normalized_split_rhat`]: the rank-normalised, folded split-R-hat of Vehtari, Gelman,
//!   Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and localization: an
//!   improved R-hat", the maximum of its bulk and tail versions. Values above about 1.01 signal
//!   chains that have not mixed.
//! - [`ess`], [`split_ess`], [`ess_bulk`]: effective sample size with Geyer's initial monotone
//!   sequence estimator over several chains, exactly as Stan computes it
//!   (`stan::analyze::compute_effective_sample_size`).
//! - [`mcse_mean`]: Monte Carlo standard error of a mean, `sd / sqrt(ESS)`.
//! - [`kish_ess`]: Kish's effective sample size of importance weights given as log weights.
//!
//! Functions return `None` where the quantity is undefined (too few draws, or every draw equal so
//! there is no variance to compare), never NaN. R-hat is `Some(inf)` when the chains are each
//! constant but disagree with one another (the clearest possible failure to mix).

mod autocov;

pub use autocov::autocovariance;
use autocov::*;

use crate::num;

/// Draws per (split) chain below which ESS is not estimated.
const MIN_ESS_DRAWS: usize = 4;
/// Lags computed by direct summation before switching to an FFT for the whole autocovariance.
const DIRECT_LAGS: usize = 64;

/// Cut every chain to the shortest length.
fn equalise<'a>(chains: &[&'a [f64]]) -> Vec<&'a [f64]> {
    let n = chains.iter().map(|c| c.len()).min().unwrap_or(0);
    chains.iter().map(|c| &c[..n]).collect()
}

/// Split each chain into its first and last halves (dropping the middle draw of an odd length).
fn split<'a>(chains: &[&'a [f64]]) -> Vec<&'a [f64]> {
    let chains = equalise(chains);
    let mut out = Vec::with_capacity(2 * chains.len());
    for c in chains {
        let h = c.len() / 2;
        out.push(&c[..h]);
        out.push(&c[c.len() - h..]);
    }
    out
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample variance with the `n - 1` denominator (0 for fewer than two values).
fn sample_var(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64
}

fn all_equal(chains: &[&[f64]]) -> bool {
    let first = chains.iter().find_map(|c| c.first().copied());
    match first {
        None => true,
        Some(f) => chains.iter().all(|c| c.iter().all(|&v| v == f)),
    }
}

/// Classic R-hat of the given chains (no splitting): `sqrt(var_plus / W)` with
/// `var_plus = (n-1)/n W + B/n`.
fn rhat_of(chains: &[&[f64]]) -> Option<f64> {
    let chains = equalise(chains);
    let m = chains.len();
    let n = chains.first().map_or(0, |c| c.len());
    if m < 2 || n < 2 || chains.iter().any(|c| c.iter().any(|v| !v.is_finite())) {
        return None;
    }
    if all_equal(&chains) {
        return None;
    }
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let w = chains.iter().map(|c| sample_var(c)).sum::<f64>() / m as f64;
    let b_over_n = sample_var(&means);
    let nf = n as f64;
    let var_plus = (nf - 1.0) / nf * w + b_over_n;
    if w == 0.0 {
        return Some(f64::INFINITY);
    }
    Some((var_plus / w).sqrt())
}

/// Split-R-hat (BDA3): each chain is cut into halves, then the classic potential scale reduction
/// `sqrt(var_plus / W)` is computed over the `2m` half-chains.
///
/// Needs at least one chain of at least four draws (two per half). Returns `None` when every draw
/// is equal, `Some(inf)` when each half-chain is constant but they differ.
///
/// ```
/// use pgmkit::diagnostics::split_rhat;
/// let r = split_rhat(&[&[1.0, 2.0, 3.0, 4.0], &[2.0, 3.0, 4.0, 5.0]]).unwrap();
/// assert!((r - (23.0f64 / 6.0).sqrt()).abs() < 1e-12);
/// ```
pub fn split_rhat(chains: &[&[f64]]) -> Option<f64> {
    rhat_of(&split(chains))
}

/// Ranks (1-based, ties get their average rank) of all draws pooled over chains, mapped through
/// the normal quantile function: `z = Phi^-1((r - 3/8) / (S + 1/4))`.
fn rank_normalize(chains: &[&[f64]]) -> Vec<Vec<f64>> {
    let total: usize = chains.iter().map(|c| c.len()).sum();
    let mut idx: Vec<(f64, usize, usize)> = Vec::with_capacity(total);
    for (ci, c) in chains.iter().enumerate() {
        for (k, &v) in c.iter().enumerate() {
            idx.push((v, ci, k));
        }
    }
    idx.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<Vec<f64>> = chains.iter().map(|c| vec![0.0; c.len()]).collect();
    let s = total as f64;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && idx[j].0 == idx[i].0 {
            j += 1;
        }
        // ranks i+1 ..= j share their average
        let r = (i + 1 + j) as f64 / 2.0;
        let z = normal_quantile((r - 0.375) / (s + 0.25));
        for e in &idx[i..j] {
            out[e.1][e.2] = z;
        }
        i = j;
    }
    out
}

/// Rank-normalised split-R-hat (Vehtari et al. 2021): the larger of the bulk R-hat (split-R-hat of
/// the rank-normalised draws) and the tail R-hat (the same on the draws folded around their
/// pooled median, `|x - median|`).
pub fn rank_normalized_split_rhat(chains: &[&[f64]]) -> Option<f64> {
    let chains = split(chains);
    if chains.iter().any(|c| c.iter().any(|v| !v.is_finite())) {
        return None;
    }
    let z = rank_normalize(&chains);
    let zr: Vec<&[f64]> = z.iter().map(|c| c.as_slice()).collect();
    let bulk = rhat_of(&zr);
    let mut pooled: Vec<f64> = chains.iter().flat_map(|c| c.iter().copied()).collect();
    pooled.sort_by(f64::total_cmp);
    let med = if pooled.is_empty() {
        0.0
    } else if pooled.len() % 2 == 1 {
        pooled[pooled.len() / 2]
    } else {
        0.5 * (pooled[pooled.len() / 2 - 1] + pooled[pooled.len() / 2])
    };
    let folded: Vec<Vec<f64>> = chains
        .iter()
        .map(|c| c.iter().map(|v| (v - med).abs()).collect())
        .collect();
    let fr: Vec<&[f64]> = folded.iter().map(|c| c.as_slice()).collect();
    let zf = rank_normalize(&fr);
    let zfr: Vec<&[f64]> = zf.iter().map(|c| c.as_slice()).collect();
    let tail = rhat_of(&zfr);
    match (bulk, tail) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The standard normal quantile function `Phi^-1(p)` (Wichura's algorithm AS 241, about 16
/// significant digits). Returns `-inf` / `inf` at 0 / 1.
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        let num = ((((((2_509.080_928_730_122_7 * r + 33_430.575_583_588_13) * r
            + 67_265.770_927_008_7)
            * r
            + 45_921.953_931_549_87)
            * r
            + 13_731.693_765_509_46)
            * r
            + 1_971.590_950_306_551_4)
            * r
            + 133.141_667_891_784_38)
            * r
            + 3.387_132_872_796_366_5;
        let den = ((((((5_226.495_278_852_546 * r + 28_729.085_735_721_943) * r
            + 39_307.895_800_092_71)
            * r
            + 21_213.794_301_586_597)
            * r
            + 5_394.196_021_424_751)
            * r
            + 687.187_007_492_057_9)
            * r
            + 42.313_330_701_600_91)
            * r
            + 1.0;
        return q * num / den;
    }
    let mut r = if q < 0.0 { p } else { 1.0 - p };
    r = (-num::ln(r)).sqrt();
    let val = if r <= 5.0 {
        r -= 1.6;
        let num = ((((((7.745_450_142_783_414e-4 * r + 0.022_723_844_989_269_184) * r
            + 0.241_780_725_177_450_6)
            * r
            + 1.270_458_252_452_368_4)
            * r
            + 3.647_848_324_763_204_5)
            * r
            + 5.769_497_221_460_691)
            * r
            + 4.630_337_846_156_545)
            * r
            + 1.423_437_110_749_683_5;
        let den = ((((((1.050_750_071_644_416_9e-9 * r + 5.475_938_084_995_345e-4) * r
            + 0.015_198_666_563_616_457)
            * r
            + 0.148_103_976_427_480_07)
            * r
            + 0.689_767_334_985_1)
            * r
            + 1.676_384_830_183_803_8)
            * r
            + 2.053_191_626_637_759)
            * r
            + 1.0;
        num / den
    } else {
        r -= 5.0;
        let num = ((((((2.010_334_399_292_288_1e-7 * r + 2.711_555_568_743_487_6e-5) * r
            + 0.001_242_660_947_388_078_4)
            * r
            + 0.026_532_189_526_576_124)
            * r
            + 0.296_560_571_828_504_9)
            * r
            + 1.784_826_539_917_291_3)
            * r
            + 5.463_784_911_164_114)
            * r
            + 6.657_904_643_501_103;
        let den = ((((((2.044_263_103_389_939_8e-15 * r + 1.421_511_758_316_446e-7) * r
            + 1.846_318_317_510_054_8e-5)
            * r
            + 7.868_691_311_456_133e-4)
            * r
            + 0.014_875_361_290_850_615)
            * r
            + 0.136_929_880_922_735_8)
            * r
            + 0.599_832_206_555_888)
            * r
            + 1.0;
        num / den
    };
    if q < 0.0 {
        -val
    } else {
        val
    }
}

/// Effective sample size of the chains as given (no splitting), with Geyer's initial monotone
/// sequence estimator combining within-chain autocovariances and between-chain variance, as in
/// Stan (`compute_effective_sample_size`; Vehtari et al. 2021, eq. 10 and appendix).
///
/// `ESS = M N / tau`, `tau = -1 + 2 sum_t rho_t` truncated where consecutive pair sums turn
/// negative and forced monotone; `tau` is floored at `1 / log10(M N)`. For an AR(1) chain with
/// coefficient `rho`, `ESS ≈ N (1 - rho) / (1 + rho)`.
///
/// Needs at least four draws per chain; `None` if every draw is equal or a draw is not finite.
pub fn ess(chains: &[&[f64]]) -> Option<f64> {
    let chains = equalise(chains);
    let m = chains.len();
    let n = chains.first().map_or(0, |c| c.len());
    if m == 0 || n < MIN_ESS_DRAWS || chains.iter().any(|c| c.iter().any(|v| !v.is_finite())) {
        return None;
    }
    if all_equal(&chains) {
        return None;
    }
    let nf = n as f64;
    let mut acov = ChainAcov::new(&chains);
    let chain_mean: Vec<f64> = acov.means.clone();
    let chain_var: Vec<f64> = (0..m).map(|c| acov.get(c, 0) * nf / (nf - 1.0)).collect();
    let mean_var = chain_var.iter().sum::<f64>() / m as f64;
    let mut var_plus = mean_var * (nf - 1.0) / nf;
    if m > 1 {
        var_plus += sample_var(&chain_mean);
    }
    if var_plus <= 0.0 {
        return None;
    }
    let mut acov_mean = |t: usize| acov.mean_at(t);
    let mut rho = vec![0.0; n + 2];
    let mut rho_even = 1.0;
    rho[0] = rho_even;
    let mut rho_odd = 1.0 - (mean_var - acov_mean(1)) / var_plus;
    rho[1] = rho_odd;
    let mut s = 1usize;
    while s < n - 4 && rho_even + rho_odd > 0.0 {
        rho_even = 1.0 - (mean_var - acov_mean(s + 1)) / var_plus;
        rho_odd = 1.0 - (mean_var - acov_mean(s + 2)) / var_plus;
        if rho_even + rho_odd >= 0.0 {
            rho[s + 1] = rho_even;
            rho[s + 2] = rho_odd;
        }
        s += 2;
    }
    let max_s = s;
    if rho_even > 0.0 {
        rho[max_s + 1] = rho_even;
    }
    // initial positive sequence -> initial monotone sequence
    let mut t = 1usize;
    while t + 3 <= max_s {
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t] {
            rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0;
            rho[t + 2] = rho[t + 1];
        }
        t += 2;
    }
    let total = (m * n) as f64;
    let tau = -1.0 + 2.0 * rho[..max_s].iter().sum::<f64>() + rho[max_s + 1];
    let tau = tau.max(1.0 / total.log10());
    Some(total / tau)
}

/// [`ess`] on split chains (each chain cut into halves): also sensitive to drift within a chain.
/// This is the ESS Stan uses for the Monte Carlo standard error of a mean.
pub fn split_ess(chains: &[&[f64]]) -> Option<f64> {
    ess(&split(chains))
}

/// Bulk ESS (Vehtari et al. 2021): [`ess`] of the rank-normalised split chains.
pub fn ess_bulk(chains: &[&[f64]]) -> Option<f64> {
    let s = split(chains);
    if s.iter().any(|c| c.iter().any(|v| !v.is_finite())) || all_equal(&s) {
        return None;
    }
    let z = rank_normalize(&s);
    let zr: Vec<&[f64]> = z.iter().map(|c| c.as_slice()).collect();
    ess(&zr)
}

/// Monte Carlo standard error of the mean of the pooled draws: `sd / sqrt(ESS)`, with the pooled
/// sample standard deviation and [`split_ess`]. `Some(0.0)` when every draw is equal.
pub fn mcse_mean(chains: &[&[f64]]) -> Option<f64> {
    let chains = equalise(chains);
    let pooled: Vec<f64> = chains.iter().flat_map(|c| c.iter().copied()).collect();
    if pooled.len() < 2 * MIN_ESS_DRAWS {
        return None;
    }
    if all_equal(&chains) {
        return Some(0.0);
    }
    let sd = sample_var(&pooled).sqrt();
    split_ess(&chains).map(|e| mcse_from_ess(sd, e))
}

/// `sd / sqrt(ess)`: the Monte Carlo standard error of a mean with standard deviation `sd`.
#[inline]
pub fn mcse_from_ess(sd: f64, ess: f64) -> f64 {
    sd / ess.sqrt()
}

/// Kish's effective sample size `(sum w)^2 / sum w^2` of importance weights given as natural-log
/// weights (computed stably, relative to the largest weight). `None` for no weights or all zero
/// (`-inf`) weights; NaN or `+inf` log weights also give `None`.
///
/// ```
/// let e = pgmkit::diagnostics::kish_ess(&[0.0, 0.0, 2f64.ln()]).unwrap();
/// assert!((e - 16.0 / 6.0).abs() < 1e-12);
/// ```
pub fn kish_ess(log_weights: &[f64]) -> Option<f64> {
    if log_weights
        .iter()
        .any(|w| w.is_nan() || *w == f64::INFINITY)
    {
        return None;
    }
    let mx = log_weights
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    if mx == f64::NEG_INFINITY {
        return None;
    }
    let (mut s1, mut s2) = (0.0, 0.0);
    for &lw in log_weights {
        let w = num::exp(lw - mx);
        s1 += w;
        s2 += w * w;
    }
    Some(s1 * s1 / s2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::chain_rng;
    use rand_distr::{Distribution, StandardNormal};

    fn normals(seed: u64, stream: u64, n: usize) -> Vec<f64> {
        let mut r = chain_rng(seed, stream);
        (0..n).map(|_| StandardNormal.sample(&mut r)).collect()
    }

    fn ar1(seed: u64, stream: u64, n: usize, rho: f64) -> Vec<f64> {
        let mut r = chain_rng(seed, stream);
        let sd = (1.0 - rho * rho).sqrt();
        let mut x: f64 = StandardNormal.sample(&mut r);
        (0..n)
            .map(|_| {
                let e: f64 = StandardNormal.sample(&mut r);
                x = rho * x + sd * e;
                x
            })
            .collect()
    }

    fn refs(v: &[Vec<f64>]) -> Vec<&[f64]> {
        v.iter().map(|c| c.as_slice()).collect()
    }

    #[test]
    fn hand_computed_split_rhat() {
        // halves [1,2],[3,4],[2,3],[4,5]: W = 1/2, B/n = 5/3, n = 2:
        // var+ = 1/4 + 5/3 = 23/12, R = sqrt(23/6)
        let r = split_rhat(&[&[1.0, 2.0, 3.0, 4.0], &[2.0, 3.0, 4.0, 5.0]]).unwrap();
        assert!((r - (23.0f64 / 6.0).sqrt()).abs() < 1e-12);
        // odd length: the middle draw is dropped
        let r2 = split_rhat(&[&[1.0, 2.0, 99.0, 3.0, 4.0], &[2.0, 3.0, -7.0, 4.0, 5.0]]).unwrap();
        assert!((r - r2).abs() < 1e-12);
        // unequal lengths are cut to the shortest
        let r3 = split_rhat(&[&[1.0, 2.0, 3.0, 4.0, 8.0, 9.0], &[2.0, 3.0, 4.0, 5.0]]).unwrap();
        assert!((r - r3).abs() < 1e-12);
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(split_rhat(&[]), None);
        assert_eq!(split_rhat(&[&[1.0]]), None);
        assert_eq!(split_rhat(&[&[2.0; 10], &[2.0; 10]]), None);
        assert_eq!(split_rhat(&[&[0.0; 10], &[1.0; 10]]), Some(f64::INFINITY));
        assert_eq!(ess(&[&[1.0, 2.0, 3.0]]), None);
        assert_eq!(ess(&[&[3.0; 8]]), None);
        assert_eq!(ess(&[&[1.0, f64::NAN, 3.0, 4.0, 5.0]]), None);
        assert_eq!(mcse_mean(&[&[3.0; 8], &[3.0; 8]]), Some(0.0));
        assert_eq!(kish_ess(&[]), None);
        assert_eq!(kish_ess(&[f64::NEG_INFINITY; 3]), None);
        assert_eq!(kish_ess(&[f64::NAN, 0.0]), None);
        assert_eq!(rank_normalized_split_rhat(&[&[1.0; 8], &[1.0; 8]]), None);
    }

    #[test]
    fn kish_known_values() {
        assert!((kish_ess(&[0.0; 10]).unwrap() - 10.0).abs() < 1e-12);
        assert!((kish_ess(&[0.0, 0.0, 2f64.ln()]).unwrap() - 16.0 / 6.0).abs() < 1e-12);
        // shift invariance and extreme magnitudes
        assert!(
            (kish_ess(&[-1000.0, -1000.0, -1000.0 + 2f64.ln()]).unwrap() - 16.0 / 6.0).abs()
                < 1e-12
        );
        assert!((kish_ess(&[5.0, f64::NEG_INFINITY]).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn normal_quantile_known_values() {
        assert_eq!(normal_quantile(0.5), 0.0);
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-14);
        assert!((normal_quantile(0.025) + 1.959_963_984_540_054).abs() < 1e-14);
        assert!((normal_quantile(0.001) + 3.090_232_306_167_813_5).abs() < 1e-13);
        assert!((normal_quantile(1e-10) + 6.361_340_902_404_056).abs() < 1e-11);
        assert!((normal_quantile(0.8413447460685429) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn fft_autocovariance_matches_direct() {
        let x = ar1(3, 0, 1000, 0.7);
        let y = ar1(3, 1, 1000, -0.4);
        let direct = |x: &[f64], t: usize| {
            let m = mean(x);
            (0..x.len() - t)
                .map(|i| (x[i] - m) * (x[i + t] - m))
                .sum::<f64>()
                / x.len() as f64
        };
        let a = autocovariance(&x);
        let fft = Fft::new(2048);
        let (pa, pb) = autocovariance_pair(&x, &y, &fft);
        let both = [x.as_slice(), y.as_slice()];
        let mut lazy = ChainAcov::new(&both);
        for t in [0usize, 1, 2, 7, 30, 47, 100, 500, 999] {
            assert!((a[t] - direct(&x, t)).abs() < 1e-12, "lag {t}");
            assert!((pa[t] - direct(&x, t)).abs() < 1e-12, "lag {t}");
            assert!((pb[t] - direct(&y, t)).abs() < 1e-12, "lag {t}");
        }
        for t in 0..DIRECT_LAGS {
            assert!((lazy.get(1, t) - direct(&y, t)).abs() < 1e-12, "lag {t}");
        }
        assert!(!lazy.fft_mode);
        assert!((lazy.get(0, 200) - direct(&x, 200)).abs() < 1e-12);
        assert!(lazy.fft_mode);
        assert!((lazy.get(1, 3) - direct(&y, 3)).abs() < 1e-12);
        assert!((lazy.get(1, 998) - direct(&y, 998)).abs() < 1e-12);
        // padded just enough: 1000 + 400 -> 2048 covers every lag here; check a long chain
        let z = ar1(5, 0, 100_000, 0.9);
        let one = [z.as_slice()];
        let mut l = ChainAcov::new(&one);
        assert!((l.get(0, 70) - direct(&z, 70)).abs() < 1e-9);
        assert!(l.vals[0].len() < 100_000);
        assert!((l.get(0, 60_000) - direct(&z, 60_000)).abs() < 1e-9);
    }

    #[test]
    fn iid_normal_chains() {
        // 4 chains x 5000 iid N(0,1): R-hat within 1 +- 0.01, ESS within 10% of 20000
        let c: Vec<Vec<f64>> = (0..4).map(|k| normals(11, k, 5000)).collect();
        let r = split_rhat(&refs(&c)).unwrap();
        assert!((r - 1.0).abs() < 0.01, "rhat {r}");
        let rr = rank_normalized_split_rhat(&refs(&c)).unwrap();
        assert!((rr - 1.0).abs() < 0.01, "rank rhat {rr}");
        for e in [
            ess(&refs(&c)).unwrap(),
            split_ess(&refs(&c)).unwrap(),
            ess_bulk(&refs(&c)).unwrap(),
        ] {
            assert!((e / 20000.0 - 1.0).abs() < 0.1, "ess {e}");
        }
        // MCSE of the mean ~ 1/sqrt(20000)
        let se = mcse_mean(&refs(&c)).unwrap();
        assert!((se * 20000f64.sqrt() - 1.0).abs() < 0.1, "mcse {se}");
    }

    #[test]
    fn ar1_chains() {
        // ESS of AR(1) chains: N (1 - rho) / (1 + rho); 4 chains x 50000, rho = 0.9 -> 10526
        for (rho, tol) in [(0.9, 0.15), (0.5, 0.1), (-0.3, 0.15)] {
            let c: Vec<Vec<f64>> = (0..4).map(|k| ar1(17, k, 50_000, rho)).collect();
            let want = 200_000.0 * (1.0 - rho) / (1.0 + rho);
            let e = ess(&refs(&c)).unwrap();
            assert!(
                (e / want - 1.0).abs() < tol,
                "rho {rho}: ess {e} want {want}"
            );
            let se = split_ess(&refs(&c)).unwrap();
            assert!(
                (se / want - 1.0).abs() < tol,
                "rho {rho}: split ess {se} want {want}"
            );
            let r = split_rhat(&refs(&c)).unwrap();
            assert!(r < 1.01, "rho {rho}: rhat {r}");
        }
        // strongly correlated: uses the FFT path
        let c: Vec<Vec<f64>> = (0..2).map(|k| ar1(19, k, 100_000, 0.99)).collect();
        let want = 200_000.0 * 0.01 / 1.99;
        let e = ess(&refs(&c)).unwrap();
        assert!((e / want - 1.0).abs() < 0.3, "ess {e} want {want}");
    }

    #[test]
    fn different_means_flagged() {
        let c: Vec<Vec<f64>> = (0..4)
            .map(|k| normals(23, k, 1000).iter().map(|v| v + k as f64).collect())
            .collect();
        let r = split_rhat(&refs(&c)).unwrap();
        assert!(r > 1.5, "rhat {r}");
        assert!(rank_normalized_split_rhat(&refs(&c)).unwrap() > 1.5);
        // a drifting single chain is caught by splitting
        let mut drift = normals(29, 0, 2000);
        for (i, v) in drift.iter_mut().enumerate() {
            *v += 3.0 * i as f64 / 2000.0;
        }
        assert!(split_rhat(&[&drift]).unwrap() > 1.2);
        // ESS collapses when the chains disagree
        let e = ess(&refs(&c)).unwrap();
        assert!(e < 100.0, "ess {e}");
    }

    #[test]
    fn antithetic_chain_ess_above_n() {
        // rho = -0.5: ESS is about 3N
        let c: Vec<Vec<f64>> = (0..4).map(|k| ar1(31, k, 20_000, -0.5)).collect();
        let e = ess(&refs(&c)).unwrap();
        assert!(e > 80_000.0 * 2.0, "ess {e}");
    }
}
