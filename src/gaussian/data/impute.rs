//! Conditional-Gaussian imputation of missing cells, masking for evaluation, and the
//! evaluation report (RMSE, coverage of predictive intervals).

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use super::*;
use crate::error::{Error, Result};
use crate::gaussian::missing_patterns;
use crate::rng::chain_rng;

/// Conditional-Gaussian imputation of the NaN cells of `data` under `mvn`.
#[derive(Debug, Clone)]
pub struct GaussianImputation {
    /// The data with every missing cell set to its conditional mean.
    pub mean: DMatrix<f64>,
    /// The conditional standard deviation of every cell (0 where observed).
    pub sd: DMatrix<f64>,
    /// `draws` completed datasets: each row's missing cells drawn jointly from
    /// `p(missing | observed)`. Row `r` of draw `d` uses `chain_rng(seed, d * rows + r)`, so the
    /// draws do not depend on the number of threads.
    pub draws: Vec<DMatrix<f64>>,
}

/// Impute the NaN cells of `data` under the network: conditional means and standard deviations,
/// and `draws` completed datasets (joint conditional draws). Observed cells are copied unchanged.
pub fn impute_gaussian<M: JointGaussian + ?Sized>(
    model: &M,
    data: &DMatrix<f64>,
    draws: usize,
    seed: u64,
) -> Result<GaussianImputation> {
    check_cols(model, data)?;
    let (rows, n) = (data.nrows(), data.ncols());
    crate::limits::check_bytes(
        &format!("{draws} imputed copies of {rows} rows x {n} variables"),
        (draws as f64 + 2.0) * rows as f64 * n as f64 * 8.0,
        crate::limits::default_memory_limit(),
    )?;
    let info = InfoForm::of(model)?;
    let mut mean = data.clone();
    let mut sd = DMatrix::zeros(rows, n);
    let mut out: Vec<DMatrix<f64>> = vec![data.clone(); draws];
    let mut row = vec![0.0; n];
    let mut m = vec![0.0; n];
    for p in missing_patterns(data) {
        if p.observed.len() == n {
            continue;
        }
        let pat = info.pattern(&p.observed)?;
        let free = &pat.free;
        let mut means = Vec::with_capacity(p.rows.len());
        for &r in &p.rows {
            for j in 0..n {
                row[j] = data[(r, j)];
            }
            info.complete(&pat, &row, &mut m);
            for (q, &j) in free.iter().enumerate() {
                mean[(r, j)] = m[j];
                sd[(r, j)] = pat.cov[(q, q)].sqrt();
            }
            means.push(DVector::from_iterator(
                free.len(),
                free.iter().map(|&j| m[j]),
            ));
        }
        out.par_iter_mut().enumerate().for_each(|(d, dm)| {
            for (k, &r) in p.rows.iter().enumerate() {
                let mut rng = chain_rng(seed, (d * rows + r) as u64);
                let z = DVector::from_iterator(
                    free.len(),
                    (0..free.len()).map(|_| rng.sample::<f64, _>(StandardNormal)),
                );
                let x = &means[k] + &pat.chol_cov * z;
                for (q, &j) in free.iter().enumerate() {
                    dm[(r, j)] = x[q];
                }
            }
        });
    }
    Ok(GaussianImputation {
        mean,
        sd,
        draws: out,
    })
}

/// Cells hidden by [`mask_mcar`], as `(row, column)` pairs.
pub type HiddenCells = Vec<(usize, usize)>;

/// Hide every observed cell of `data` independently with probability `rate` (missing completely
/// at random), as [`crate::data::Dataset::mask_mcar`] does for discrete data: column `j` uses the
/// stream `chain_rng(seed, j)`. Returns the masked copy and the hidden cells as `(row, column)`
/// pairs, column by column.
pub fn mask_mcar(data: &DMatrix<f64>, rate: f64, seed: u64) -> Result<(DMatrix<f64>, HiddenCells)> {
    if !(0.0..=1.0).contains(&rate) {
        return Err(Error::InvalidArgument(format!(
            "the mask rate must be in [0, 1], got {rate}"
        )));
    }
    let mut out = data.clone();
    let mut hidden = Vec::new();
    for j in 0..out.ncols() {
        let mut rng = chain_rng(seed, j as u64);
        for r in 0..out.nrows() {
            if rng.random::<f64>() < rate && out[(r, j)].is_finite() {
                out[(r, j)] = f64::NAN;
                hidden.push((r, j));
            }
        }
    }
    Ok((out, hidden))
}

/// Settings of [`evaluate_gaussian`].
#[derive(Debug, Clone)]
pub struct GaussianEvalOptions {
    /// Joint draws per row for the draw-based interval coverage (0 = none; at least 2 otherwise).
    pub draws: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// Nominal coverage of the intervals (default 0.95).
    pub nominal: f64,
}

impl Default for GaussianEvalOptions {
    fn default() -> Self {
        GaussianEvalOptions {
            draws: 0,
            seed: 0,
            nominal: 0.95,
        }
    }
}

/// What [`evaluate_gaussian`] measures on the hidden cells.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GaussianEvalReport {
    /// Hidden cells evaluated.
    pub cells: usize,
    /// Root mean squared error of the conditional means.
    pub rmse: f64,
    /// Mean log predictive density of the true values, `ln N(x; m, s^2)` of each cell's
    /// conditional (marginal) normal (nats).
    pub log_score: f64,
    /// RMSE of the column-mean baseline (means of the observed cells of the masked data).
    pub baseline_rmse: f64,
    /// RMSE of the conditional means under the oracle model, when one was given.
    pub oracle_rmse: Option<f64>,
    /// Log-score under the oracle model.
    pub oracle_log_score: Option<f64>,
    /// Nominal coverage of the intervals.
    pub nominal_coverage: f64,
    /// Fraction of true values inside the exact conditional intervals `m ± z s`.
    pub interval_coverage: f64,
    /// Joint draws per row used for [`GaussianEvalReport::draws_coverage`].
    pub draws: usize,
    /// Fraction of true values inside the prediction interval from the draws:
    /// `mean ± t_(M-1) sd sqrt(1 + 1/M)` (the interval a multiple-imputation user builds from
    /// M completed datasets).
    pub draws_coverage: Option<f64>,
}

/// The two-sided Student-t quantile `t_nu(p)` by the Cornish-Fisher expansion around the normal
/// quantile (four terms: relative error below 1e-4 for `nu >= 5` at the usual levels).
pub fn student_t_quantile(p: f64, nu: f64) -> f64 {
    let z = crate::diagnostics::normal_quantile(p);
    let (z2, z3) = (z * z, z * z * z);
    let (z5, z7, z9) = (z3 * z2, z3 * z2 * z2, z3 * z3 * z3);
    z + (z3 + z) / (4.0 * nu)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * nu * nu)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * nu.powi(3))
        + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / (92160.0 * nu.powi(4))
}

/// Evaluate imputation on cells hidden from complete data: `truth` is the complete data,
/// `masked` the same with some cells set to NaN (by [`mask_mcar`], say). Every cell finite in
/// `truth` and NaN in `masked` is scored: RMSE of the conditional mean under `model`, log-score,
/// the column-mean baseline, the oracle (`oracle`, e.g. the true network when `model` was
/// learned), the coverage of the exact conditional intervals and, with `opts.draws = M >= 2`,
/// of the prediction intervals built from M joint draws.
pub fn evaluate_gaussian<M: JointGaussian + ?Sized, O: JointGaussian + ?Sized>(
    model: &M,
    oracle: Option<&O>,
    truth: &DMatrix<f64>,
    masked: &DMatrix<f64>,
    opts: &GaussianEvalOptions,
) -> Result<GaussianEvalReport> {
    if truth.shape() != masked.shape() {
        return Err(Error::DimensionMismatch {
            what: "rows x columns of the masked data (as the complete data)".into(),
            expected: truth.nrows() * truth.ncols(),
            found: masked.nrows() * masked.ncols(),
        });
    }
    if opts.draws == 1 {
        return Err(Error::InvalidArgument(
            "draw-based coverage needs at least 2 draws (or 0 for none)".into(),
        ));
    }
    if !(opts.nominal > 0.0 && opts.nominal < 1.0) {
        return Err(Error::InvalidArgument(format!(
            "the nominal coverage must be in (0, 1), got {}",
            opts.nominal
        )));
    }
    let imp = impute_gaussian(model, masked, opts.draws, opts.seed)?;
    let orc = match oracle {
        Some(o) => Some(impute_gaussian(o, masked, 0, opts.seed)?),
        None => None,
    };
    let n = truth.ncols();
    let col_mean: Vec<f64> = (0..n)
        .map(|j| {
            let (s, c) = masked
                .column(j)
                .iter()
                .filter(|v| v.is_finite())
                .fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
            if c == 0 {
                0.0
            } else {
                s / c as f64
            }
        })
        .collect();
    let z = crate::diagnostics::normal_quantile(0.5 + 0.5 * opts.nominal);
    let m = opts.draws as f64;
    let t_half = if opts.draws >= 2 {
        student_t_quantile(0.5 + 0.5 * opts.nominal, m - 1.0) * (1.0 + 1.0 / m).sqrt()
    } else {
        0.0
    };
    let log_pdf = |x: f64, mu: f64, s: f64| {
        -0.5 * (crate::gaussian::LN_2PI + 2.0 * s.ln() + ((x - mu) / s).powi(2))
    };
    let (mut cells, mut se, mut se_base, mut logs, mut cover, mut dcover) =
        (0usize, 0.0, 0.0, 0.0, 0usize, 0usize);
    let (mut se_or, mut logs_or) = (0.0, 0.0);
    for j in 0..n {
        for r in 0..truth.nrows() {
            let x = truth[(r, j)];
            if !(x.is_finite() && masked[(r, j)].is_nan()) {
                continue;
            }
            cells += 1;
            let (mu, s) = (imp.mean[(r, j)], imp.sd[(r, j)]);
            se += (mu - x).powi(2);
            se_base += (col_mean[j] - x).powi(2);
            logs += log_pdf(x, mu, s);
            if (x - mu).abs() <= z * s {
                cover += 1;
            }
            if let Some(o) = &orc {
                se_or += (o.mean[(r, j)] - x).powi(2);
                logs_or += log_pdf(x, o.mean[(r, j)], o.sd[(r, j)]);
            }
            if opts.draws >= 2 {
                let dm = imp.draws.iter().map(|d| d[(r, j)]).sum::<f64>() / m;
                let dv = imp
                    .draws
                    .iter()
                    .map(|d| (d[(r, j)] - dm).powi(2))
                    .sum::<f64>()
                    / (m - 1.0);
                if (x - dm).abs() <= t_half * dv.sqrt() {
                    dcover += 1;
                }
            }
        }
    }
    let c = cells.max(1) as f64;
    if let Some((what, v)) = [
        ("RMSE", se),
        ("log-score", logs),
        ("baseline RMSE", se_base),
        ("oracle RMSE", se_or),
        ("oracle log-score", logs_or),
    ]
    .into_iter()
    .find(|(_, v)| !v.is_finite())
    {
        return Err(Error::Overflow {
            what: format!(
                "the {what} of the hidden cells is {v}: the data hold values too large to square \
                 (cells near 1e154 or beyond?)"
            ),
        });
    }
    Ok(GaussianEvalReport {
        cells,
        rmse: (se / c).sqrt(),
        log_score: logs / c,
        baseline_rmse: (se_base / c).sqrt(),
        oracle_rmse: orc.as_ref().map(|_| (se_or / c).sqrt()),
        oracle_log_score: orc.as_ref().map(|_| logs_or / c),
        nominal_coverage: opts.nominal,
        interval_coverage: cover as f64 / c,
        draws: opts.draws,
        draws_coverage: (opts.draws >= 2).then(|| dcover as f64 / c),
    })
}
