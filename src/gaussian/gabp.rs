//! Loopy Gaussian belief propagation on a sparse precision matrix (Weiss and Freeman 2001;
//! Malioutov, Johnson and Willsky 2006).
//!
//! Messages `i -> j` carry a precision and a potential:
//!
//! ```text
//! P_i\j = Λ_ii + sum_{k != j} P_ki      H_i\j = h_i + sum_{k != j} H_ki
//! P_ij  = -Λ_ij^2 / P_i\j               H_ij  = -Λ_ij H_i\j / P_i\j
//! marginal: P_i = Λ_ii + sum_k P_ki,  mean_i = (h_i + sum_k H_ki) / P_i,  var_i ≈ 1 / P_i
//! ```
//!
//! Sweeps update the nodes in index order (each node sends to all its neighbours), with optional
//! damping; a sweep's change is the largest change of a mean. When the model is *walk-summable*
//! (spectral radius of `|R|` below 1, `R = I - D^-1/2 Λ D^-1/2`) the means converge to the exact
//! ones; the variances are exact on trees and approximate (typically too small) on loopy graphs.
//! The result reports the walk-summability check instead of printing a warning. `O(nnz)` per
//! sweep.

use std::time::Instant;

use super::SparseSym;
use crate::error::{Error, Result};
use crate::stop::{Convergence, StopReason, StopRule};

/// Options of [`gaussian_bp`].
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianBpOptions {
    /// When to stop (default: 10 000 sweeps, tolerance 1e-12 on the means).
    pub stop: StopRule,
    /// Damping in [0, 1): new message = (1 - damping) * update + damping * old (default 0).
    pub damping: f64,
}

impl Default for GaussianBpOptions {
    fn default() -> Self {
        GaussianBpOptions {
            stop: StopRule {
                max_iters: 10_000,
                tol: 1e-12,
                max_time: None,
            },
            damping: 0.0,
        }
    }
}

/// The result of [`gaussian_bp`].
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianBpResult {
    /// Means (exact at convergence on walk-summable models).
    pub means: Vec<f64>,
    /// BP variances `1 / P_i` (exact on trees, approximate on loopy graphs).
    pub variances: Vec<f64>,
    /// How the iteration ended.
    pub convergence: Convergence,
    /// Estimate of the spectral radius of `|R|` (power iteration on `|R| + I`).
    pub spectral_radius: f64,
    /// Whether the model is certified walk-summable (the Collatz–Wielandt upper bound on the
    /// spectral radius is below 1). When false, BP may diverge or converge to wrong variances;
    /// use the exact [`super::Gmrf`] instead.
    pub walk_summable: bool,
}

/// Spectral radius of `|R|`: (estimate, certified upper bound), by power iteration on `|R| + I`
/// (shifted so that bipartite graphs do not oscillate) with Collatz–Wielandt bounds.
pub fn walk_summability(lambda: &SparseSym) -> (f64, f64) {
    let n = lambda.n();
    if n == 0 {
        return (0.0, 0.0);
    }
    let d: Vec<f64> = lambda.diagonal().iter().map(|v| v.sqrt()).collect();
    let mut x = vec![1.0; n];
    let mut y = vec![0.0; n];
    let mut upper = f64::INFINITY;
    let mut est = 0.0;
    for _ in 0..500 {
        for i in 0..n {
            y[i] = x[i]
                + lambda
                    .row(i)
                    .filter(|&(j, _)| j != i)
                    .map(|(j, v)| v.abs() / (d[i] * d[j]) * x[j])
                    .sum::<f64>();
        }
        let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
        for i in 0..n {
            let r = y[i] / x[i];
            lo = lo.min(r);
            hi = hi.max(r);
        }
        upper = upper.min(hi - 1.0);
        est = 0.5 * (lo + hi) - 1.0;
        let norm = y.iter().fold(0.0f64, |m, v| m.max(*v));
        for (a, b) in x.iter_mut().zip(&y) {
            *a = (b / norm).max(1e-300);
        }
        if hi - lo <= 1e-10 * hi {
            break;
        }
    }
    (est, upper)
}

/// Run loopy Gaussian BP on `p(x) ∝ exp(-1/2 x'Λx + h'x)` (see the module docs).
///
/// Errors: `h` of the wrong length, a non-positive diagonal entry, damping outside [0, 1), and
/// a breakdown (a cavity precision `P_i\j <= 0`, which can happen only on models that are not
/// walk-summable).
///
/// ```
/// use pgmkit::gaussian::{gabp::{gaussian_bp, GaussianBpOptions}, Gmrf, SparseSym};
/// use pgmkit::model::Boundary;
/// let lam = SparseSym::lattice(8, 8, Boundary::Free, 4.5, 1.0).unwrap();
/// let h = vec![0.5; 64];
/// let bp = gaussian_bp(&lam, &h, &GaussianBpOptions::default()).unwrap();
/// assert!(bp.walk_summable && bp.convergence.converged());
/// let exact = Gmrf::sparse(lam, h).unwrap();
/// assert!((bp.means[10] - exact.mean()[10]).abs() < 1e-9);
/// ```
pub fn gaussian_bp(
    lambda: &SparseSym,
    h: &[f64],
    opts: &GaussianBpOptions,
) -> Result<GaussianBpResult> {
    let t0 = Instant::now();
    let n = lambda.n();
    crate::error::check_dim("information vector h (one entry per variable)", n, h.len())?;
    if !(0.0..1.0).contains(&opts.damping) {
        return Err(Error::InvalidArgument(format!(
            "damping must be in [0, 1) (got {})",
            opts.damping
        )));
    }
    let diag = lambda.diagonal();
    if let Some(i) = (0..n).find(|&i| diag[i].is_nan() || diag[i] <= 0.0) {
        return Err(Error::NotPositiveDefinite {
            what: "precision matrix (diagonal)".into(),
            index: i,
            pivot: diag[i],
        });
    }
    // directed edges i -> j: one per off-diagonal entry of row i
    let mut ptr = vec![0usize; n + 1];
    let mut dst = Vec::new();
    let mut w = Vec::new();
    for i in 0..n {
        for (j, v) in lambda.row(i) {
            if j != i {
                dst.push(j);
                w.push(v);
            }
        }
        ptr[i + 1] = dst.len();
    }
    // reverse edge of i -> j is j -> i
    let mut rev = vec![0usize; dst.len()];
    for i in 0..n {
        for e in ptr[i]..ptr[i + 1] {
            let j = dst[e];
            rev[e] = (ptr[j]..ptr[j + 1])
                .find(|&f| dst[f] == i)
                .expect("the sparse matrix is symmetric");
        }
    }
    let mut mp = vec![0.0; dst.len()]; // precision of message on edge e (i -> j)
    let mut mh = vec![0.0; dst.len()];
    let mut means = vec![0.0; n];
    let (mut precs, mut delta) = (vec![0.0; n], f64::INFINITY);
    let mut iters = 0;
    let reason = loop {
        if iters >= opts.stop.max_iters {
            break StopReason::MaxIters;
        }
        if let Some(t) = opts.stop.max_time {
            if t0.elapsed() >= t {
                break StopReason::TimeLimit;
            }
        }
        iters += 1;
        delta = 0.0;
        for i in 0..n {
            // incoming: messages on the reverse edges of i's out-edges
            let (mut p, mut hh) = (diag[i], h[i]);
            for e in ptr[i]..ptr[i + 1] {
                p += mp[rev[e]];
                hh += mh[rev[e]];
            }
            for e in ptr[i]..ptr[i + 1] {
                let pc = p - mp[rev[e]];
                let hc = hh - mh[rev[e]];
                if pc.is_nan() || pc <= 0.0 {
                    return Err(Error::InvalidArgument(format!(
                        "Gaussian BP broke down: a cavity precision at variable {i} became {pc:e}; \
                         the model is not walk-summable, use the exact Gmrf"
                    )));
                }
                let np = -w[e] * w[e] / pc;
                let nh = -w[e] * hc / pc;
                mp[e] = (1.0 - opts.damping) * np + opts.damping * mp[e];
                mh[e] = (1.0 - opts.damping) * nh + opts.damping * mh[e];
            }
            let m = hh / p;
            delta = delta.max((m - means[i]).abs());
            means[i] = m;
            precs[i] = p;
        }
        if delta <= opts.stop.tol {
            break StopReason::Converged;
        }
    };
    // final marginals from the last messages
    for i in 0..n {
        let (mut p, mut hh) = (diag[i], h[i]);
        for e in ptr[i]..ptr[i + 1] {
            p += mp[rev[e]];
            hh += mh[rev[e]];
        }
        precs[i] = p;
        means[i] = hh / p;
    }
    let (rho, upper) = walk_summability(lambda);
    Ok(GaussianBpResult {
        means,
        variances: precs.iter().map(|p| 1.0 / p).collect(),
        convergence: Convergence {
            iters,
            delta: if delta.is_finite() { delta } else { 0.0 },
            reason,
        },
        spectral_radius: rho,
        walk_summable: upper < 1.0,
    })
}
