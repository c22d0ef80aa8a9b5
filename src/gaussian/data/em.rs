//! EM for Gaussian models with missing cells: grouped E-steps by missing pattern, M-step for a
//! Gaussian Bayesian network.

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::*;
use crate::error::{DataErrorKind, Error, Result};
use crate::gaussian::{missing_patterns, GaussianBn};

/// EM settings.
#[derive(Debug, Clone)]
pub struct GaussianEmOptions {
    /// Largest number of iterations (default 200).
    pub max_iters: usize,
    /// Stop when the relative change of the log-likelihood is at most this (default 1e-8).
    pub tol: f64,
    /// Wall-clock budget: no new iteration starts after it (default none).
    pub time_limit: Option<std::time::Duration>,
}

impl Default for GaussianEmOptions {
    fn default() -> Self {
        GaussianEmOptions {
            max_iters: 200,
            tol: 1e-8,
            time_limit: None,
        }
    }
}

/// The outcome of [`em_gaussian`].
#[derive(Debug, Clone)]
pub struct GaussianEmResult {
    /// The fitted network (the last one evaluated).
    pub model: GaussianBn,
    /// Observed-data log-likelihood of every evaluated model, in order (non-decreasing).
    pub trace: Vec<f64>,
    /// Whether the tolerance was met.
    pub converged: bool,
}

/// Sum, sum of squares and log-likelihood of one pattern's rows.
pub(crate) type Moments = (DVector<f64>, DMatrix<f64>, f64);

/// One E-step: expected first and second moments (`1/rows` normalised) of the completed data
/// under the network, and the observed-data log-likelihood. Patterns in parallel, added in
/// pattern order (thread-count invariant).
pub(crate) fn e_step(
    info: &InfoForm,
    data: &DMatrix<f64>,
) -> Result<(Vec<f64>, DMatrix<f64>, f64)> {
    let (rows, n) = (data.nrows(), data.ncols());
    let parts: Vec<Result<Moments>> = missing_patterns(data)
        .par_iter()
        .map(|p| {
            let pat = info.pattern(&p.observed)?;
            let mut block = DMatrix::<f64>::zeros(n, p.rows.len());
            let mut ll = 0.0;
            let mut row = vec![0.0; n];
            let mut out = vec![0.0; n];
            for (k, &r) in p.rows.iter().enumerate() {
                for j in 0..n {
                    row[j] = data[(r, j)];
                }
                let l = info.complete(&pat, &row, &mut out);
                if !pat.observed.is_empty() {
                    ll += l;
                }
                block.column_mut(k).copy_from_slice(&out);
            }
            let sum = block.column_sum();
            let mut sq = &block * block.transpose();
            let cnt = p.rows.len() as f64;
            for (a, &i) in pat.free.iter().enumerate() {
                for (b, &j) in pat.free.iter().enumerate() {
                    sq[(i, j)] += cnt * pat.cov[(a, b)];
                }
            }
            Ok((sum, sq, ll))
        })
        .collect();
    let mut sum = DVector::<f64>::zeros(n);
    let mut sq = DMatrix::<f64>::zeros(n, n);
    let mut ll = 0.0;
    for part in parts {
        let (s1, s2, l) = part?;
        sum += s1;
        sq += s2;
        ll += l;
    }
    let m = rows as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / m).collect();
    let mut moments = sq / m;
    for i in 0..n {
        for j in 0..n {
            moments[(i, j)] -= mean[i] * mean[j];
        }
    }
    for j in 0..n {
        for i in j + 1..n {
            let v = 0.5 * (moments[(i, j)] + moments[(j, i)]);
            moments[(i, j)] = v;
            moments[(j, i)] = v;
        }
    }
    Ok((mean, moments, ll))
}

/// EM for the parameters of `structure` (its CPDs are only the starting point when `start` is
/// true, else the start is fitted from column means and pairwise-available variances with no
/// correlation) from `data` (`rows x num_vars`, NaN = missing). Returns the last model and the
/// log-likelihood trace. Errors: sizes, an all-missing column, those of
/// [`GaussianBn::fit_from_moments`].
pub fn em_gaussian(
    structure: &GaussianBn,
    data: &DMatrix<f64>,
    opts: &GaussianEmOptions,
) -> Result<GaussianEmResult> {
    let n = structure.num_vars();
    crate::error::check_dim("data columns (one per variable)", n, data.ncols())?;
    // start: independent variables with the available-case means and variances
    let mut mean = vec![0.0; n];
    let mut var = vec![1.0; n];
    for j in 0..n {
        let col: Vec<f64> = data
            .column(j)
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if col.len() < 2 {
            return Err(Error::Data {
                row: None,
                col: None,
                column_name: Some(structure.names()[j].clone()),
                kind: DataErrorKind::AllMissing,
            });
        }
        let m = col.iter().sum::<f64>() / col.len() as f64;
        mean[j] = m;
        var[j] = (col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / col.len() as f64).max(1e-12);
    }
    let mut model =
        structure.fit_from_moments(&mean, &DMatrix::from_diagonal(&DVector::from_vec(var)))?;
    let mut trace = Vec::new();
    let mut converged = false;
    let started = std::time::Instant::now();
    for _ in 0..opts.max_iters.max(1) {
        if let Some(limit) = opts.time_limit {
            if started.elapsed() >= limit && !trace.is_empty() {
                break;
            }
        }
        let (m, s, ll) = e_step(&InfoForm::of(&model)?, data)?;
        if let Some(&prev) = trace.last() {
            let prev: f64 = prev;
            if (ll - prev).abs() <= opts.tol * prev.abs().max(1.0) {
                trace.push(ll);
                converged = true;
                break;
            }
        }
        trace.push(ll);
        model = model.fit_from_moments(&m, &s)?;
    }
    if !converged {
        // the trace ends with the model returned
        let ll = log_likelihood(&model, data)?;
        trace.push(ll);
    }
    Ok(GaussianEmResult {
        model,
        trace,
        converged,
    })
}
