//! Continuous data: numeric CSV (missing cells as NaN), EM for the parameters of a Gaussian BN of
//! known structure from incomplete rows, the observed-data log-likelihood, and conditional-Gaussian
//! imputation (conditional mean, or draws for multiple imputation).
//!
//! Rows are grouped by their pattern of observed columns ([`missing_patterns`]); each pattern
//! costs one factorisation of the missing block of the precision per EM iteration (`O(|missing|^3)`),
//! and each row then `O(|missing| |observed| + |observed|^2)`.
//!
//! EM: with `mu`, `Σ` the joint moments of the current network, the E-step fills each row's
//! missing block with its conditional mean `m` and adds the conditional covariance `C` to the
//! second moment of that block: `E[x x'] = x̂ x̂' + [0 0; 0 C]`. The M-step is least squares per
//! family on those expected moments ([`GaussianBn::fit_from_moments`]), which maximises the
//! expected complete-data log-likelihood, so the observed-data log-likelihood never decreases.

use std::io::Read;

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use super::{missing_patterns, GaussianBn};
use crate::error::{DataErrorKind, Error, Result};
use crate::rng::chain_rng;

/// Default missing markers of numeric CSV (as for discrete data).
pub const MISSING_MARKERS: [&str; 4] = ["", "NA", "?", "NaN"];

/// A numeric table: one column per model variable (in model order), NaN = missing.
#[derive(Debug, Clone)]
pub struct NumericTable {
    /// `rows x variables`, NaN for missing cells.
    pub data: DMatrix<f64>,
    /// The header as read.
    pub header: Vec<String>,
    /// For every model variable, its column in the file (0-based).
    pub column_of: Vec<usize>,
    /// Every cell's text as read (row-major, `rows x header.len()`), to write observed cells back
    /// unchanged.
    pub text: Vec<Vec<String>>,
}

fn data_err(
    row: Option<usize>,
    col: Option<usize>,
    name: Option<&str>,
    kind: DataErrorKind,
) -> Error {
    Error::Data {
        row,
        col,
        column_name: name.map(str::to_string),
        kind,
    }
}

/// Read numeric CSV against the variable `names`: every variable needs a column (any order);
/// other columns are kept as text. Missing cells are the `markers` (default
/// [`MISSING_MARKERS`]); any other cell of a variable's column must parse as a finite number, else
/// [`Error::Data`] with the 1-based row and column and [`DataErrorKind::NotANumber`].
pub fn read_numeric_csv<R: Read>(
    reader: R,
    names: &[String],
    markers: &[&str],
) -> Result<NumericTable> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut records = rdr.records();
    let header: Vec<String> = match records.next() {
        None => return Err(data_err(Some(0), None, None, DataErrorKind::Empty)),
        Some(r) => r
            .map_err(|e| data_err(Some(0), None, None, DataErrorKind::Syntax(e.to_string())))?
            .iter()
            .map(str::to_string)
            .collect(),
    };
    for (k, h) in header.iter().enumerate() {
        if header[..k].contains(h) {
            return Err(data_err(
                Some(0),
                Some(k + 1),
                Some(h),
                DataErrorKind::DuplicateColumn,
            ));
        }
    }
    let column_of: Vec<usize> = names
        .iter()
        .map(|n| {
            header
                .iter()
                .position(|h| h == n)
                .ok_or_else(|| data_err(Some(0), None, Some(n), DataErrorKind::MissingColumn))
        })
        .collect::<Result<_>>()?;
    let mut var_of_col = vec![usize::MAX; header.len()];
    for (v, &c) in column_of.iter().enumerate() {
        var_of_col[c] = v;
    }
    let mut values = Vec::new();
    let mut text = Vec::new();
    for (r, rec) in records.enumerate() {
        let row = r + 1;
        let rec =
            rec.map_err(|e| data_err(Some(row), None, None, DataErrorKind::Syntax(e.to_string())))?;
        if rec.len() != header.len() {
            return Err(data_err(
                Some(row),
                None,
                None,
                DataErrorKind::RaggedRow {
                    expected: header.len(),
                    found: rec.len(),
                },
            ));
        }
        let mut vals = vec![f64::NAN; names.len()];
        for (c, cell) in rec.iter().enumerate() {
            let v = var_of_col[c];
            if v == usize::MAX || markers.contains(&cell) {
                continue;
            }
            match cell.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => vals[v] = x,
                _ => {
                    return Err(data_err(
                        Some(row),
                        Some(c + 1),
                        Some(&header[c]),
                        DataErrorKind::NotANumber(cell.to_string()),
                    ))
                }
            }
        }
        values.extend(vals);
        text.push(rec.iter().map(str::to_string).collect());
    }
    let rows = text.len();
    Ok(NumericTable {
        data: DMatrix::from_row_slice(rows, names.len(), &values),
        header,
        column_of,
        text,
    })
}

/// A Gaussian in information form for per-pattern conditioning: the missing block `a` given the
/// observed block `b` has precision `Λ_aa` and mean `μ_a - Λ_aa^-1 Λ_ab (x_b - μ_b)`, so a pattern
/// costs `O(|a|^3)` (cheap when few cells are missing) and a row `O(|a| |b| + |b|^2)`.
struct InfoForm {
    mu: DVector<f64>,
    lambda: DMatrix<f64>,
    log_det_lambda: f64,
}

struct Pattern {
    free: Vec<usize>,
    observed: Vec<usize>,
    /// `Λ_aa^-1`, the conditional covariance.
    cov: DMatrix<f64>,
    /// Cholesky factor of `Λ_aa^-1` (lower), for draws.
    chol_cov: DMatrix<f64>,
    /// `-|b|/2 ln 2π + 1/2 ln det Λ - 1/2 ln det Λ_aa`.
    log_norm: f64,
}

impl InfoForm {
    fn of_bn(bn: &GaussianBn) -> Self {
        InfoForm {
            mu: bn.mean(),
            lambda: bn.precision(),
            log_det_lambda: -bn.residual_variances().iter().map(|v| v.ln()).sum::<f64>(),
        }
    }

    fn pattern(&self, observed: &[usize]) -> Result<Pattern> {
        let n = self.mu.len();
        let mut is_obs = vec![false; n];
        for &i in observed {
            is_obs[i] = true;
        }
        let free: Vec<usize> = (0..n).filter(|&i| !is_obs[i]).collect();
        let na = free.len();
        let laa = DMatrix::from_fn(na, na, |i, j| self.lambda[(free[i], free[j])]);
        let (cov, chol_cov, ld_aa) = if na == 0 {
            (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0), 0.0)
        } else {
            let c = super::cholesky(laa, "precision of the missing block")?;
            let ld = super::chol_log_det(&c);
            let mut cov = c.inverse();
            for j in 0..na {
                for i in j + 1..na {
                    let v = 0.5 * (cov[(i, j)] + cov[(j, i)]);
                    cov[(i, j)] = v;
                    cov[(j, i)] = v;
                }
            }
            let cc = super::cholesky(cov.clone(), "conditional covariance")?.l();
            (cov, cc, ld)
        };
        let nb = observed.len() as f64;
        Ok(Pattern {
            free,
            observed: observed.to_vec(),
            cov,
            chol_cov,
            log_norm: -0.5 * nb * super::LN_2PI + 0.5 * self.log_det_lambda - 0.5 * ld_aa,
        })
    }

    /// The completed row (missing cells at their conditional mean) and `ln p(x_b)`.
    fn complete(&self, p: &Pattern, row: &[f64], out: &mut [f64]) -> f64 {
        let n = self.mu.len();
        let mut d = vec![0.0; n];
        for &j in &p.observed {
            d[j] = row[j] - self.mu[j];
        }
        // u = Λ_ab d_b; m_a - μ_a = -C u
        let u: Vec<f64> = p
            .free
            .iter()
            .map(|&i| p.observed.iter().map(|&j| self.lambda[(i, j)] * d[j]).sum())
            .collect();
        for (q, &i) in p.free.iter().enumerate() {
            let s: f64 = (0..p.free.len()).map(|k| p.cov[(q, k)] * u[k]).sum();
            d[i] = -s;
        }
        for j in 0..n {
            out[j] = self.mu[j] + d[j];
        }
        // quadratic form of the completed deviation with Λ = d_b'Λ_bb d_b - u' C u
        let mut q = 0.0;
        for &i in &p.observed {
            for &j in &p.observed {
                q += d[i] * self.lambda[(i, j)] * d[j];
            }
        }
        for (k, &i) in p.free.iter().enumerate() {
            q += u[k] * d[i];
        }
        p.log_norm - 0.5 * q
    }
}

/// Observed-data log-likelihood `sum_rows ln p(x_obs)` under the network (missing cells are NaN
/// and marginalised out; rows with nothing observed add 0). One factorisation per pattern.
pub fn log_likelihood(bn: &GaussianBn, data: &DMatrix<f64>) -> Result<f64> {
    Ok(e_step(bn, data)?.2)
}

/// EM settings.
#[derive(Debug, Clone)]
pub struct GaussianEmOptions {
    /// Largest number of iterations (default 200).
    pub max_iters: usize,
    /// Stop when the relative change of the log-likelihood is at most this (default 1e-8).
    pub tol: f64,
}

impl Default for GaussianEmOptions {
    fn default() -> Self {
        GaussianEmOptions {
            max_iters: 200,
            tol: 1e-8,
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
type Moments = (DVector<f64>, DMatrix<f64>, f64);

/// One E-step: expected first and second moments (`1/rows` normalised) of the completed data
/// under the network, and the observed-data log-likelihood. Patterns in parallel, added in
/// pattern order (thread-count invariant).
fn e_step(bn: &GaussianBn, data: &DMatrix<f64>) -> Result<(Vec<f64>, DMatrix<f64>, f64)> {
    let info = InfoForm::of_bn(bn);
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
    if data.ncols() != n {
        return Err(Error::DimensionMismatch {
            what: "data columns (one per variable)".into(),
            expected: n,
            found: data.ncols(),
        });
    }
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
    for _ in 0..opts.max_iters.max(1) {
        let (m, s, ll) = e_step(&model, data)?;
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
pub fn impute_gaussian(
    bn: &GaussianBn,
    data: &DMatrix<f64>,
    draws: usize,
    seed: u64,
) -> Result<GaussianImputation> {
    let info = InfoForm::of_bn(bn);
    let (rows, n) = (data.nrows(), data.ncols());
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
