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

use super::{missing_patterns, GaussianBn, GaussianModel, Gmrf};
use crate::data::csv::data_err;
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
    /// The input bytes and record offsets, so that [`write_numeric_completed`] gives the input
    /// back byte for byte outside the filled cells (`None` if the records could not be located).
    pub raw: Option<crate::data::raw::RawText>,
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
        .from_reader(crate::data::csv::LineLimit::new(
            crate::data::raw::Tee::new(reader, true),
            crate::data::csv::MAX_LINE_BYTES,
        ));
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
    let bytes = std::mem::take(&mut rdr.get_mut().inner.copy);
    let raw = crate::data::raw::RawText::scan(bytes, b',');
    Ok(NumericTable {
        data: DMatrix::from_row_slice(rows, names.len(), &values),
        header,
        column_of,
        text,
        raw: (raw.starts.len() == rows + 1).then_some(raw),
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

/// Largest dense precision the data functions build for a Gaussian MRF, in bytes (1 GiB: about
/// 11,500 variables).
pub const DENSE_PRECISION_LIMIT: f64 = (1u64 << 30) as f64;

/// A Gaussian model the data functions ([`log_likelihood`], [`log_likelihood_rows`],
/// [`impute_gaussian`], [`evaluate_gaussian`]) can condition on the observed cells of a row:
/// implemented by [`GaussianBn`], [`Gmrf`] and [`GaussianModel`].
pub trait JointGaussian {
    /// Number of variables.
    fn num_vars(&self) -> usize;
    /// Mean `μ`, dense precision `Λ` and `ln det Λ` of the joint normal. Errors:
    /// [`Error::TooLarge`] when the dense precision would exceed [`DENSE_PRECISION_LIMIT`].
    fn information_form(&self) -> Result<(DVector<f64>, DMatrix<f64>, f64)>;
}

impl JointGaussian for GaussianBn {
    fn num_vars(&self) -> usize {
        GaussianBn::num_vars(self)
    }
    fn information_form(&self) -> Result<(DVector<f64>, DMatrix<f64>, f64)> {
        dense_fits(self.num_vars())?;
        Ok((
            self.mean(),
            self.precision()?,
            -self
                .residual_variances()
                .iter()
                .map(|v| v.ln())
                .sum::<f64>(),
        ))
    }
}

impl JointGaussian for Gmrf {
    fn num_vars(&self) -> usize {
        self.dim()
    }
    fn information_form(&self) -> Result<(DVector<f64>, DMatrix<f64>, f64)> {
        dense_fits(self.dim())?;
        Ok((
            DVector::from_column_slice(self.mean()),
            self.precision_dense(),
            self.log_det_precision(),
        ))
    }
}

impl JointGaussian for GaussianModel {
    fn num_vars(&self) -> usize {
        self.dim()
    }
    fn information_form(&self) -> Result<(DVector<f64>, DMatrix<f64>, f64)> {
        match self {
            GaussianModel::Bn(b) => b.information_form(),
            GaussianModel::Mrf(g) => g.information_form(),
        }
    }
}

fn dense_fits(n: usize) -> Result<()> {
    let needed = 8.0 * (n as f64) * (n as f64);
    if needed > DENSE_PRECISION_LIMIT {
        return Err(Error::TooLarge {
            width: n.saturating_sub(1),
            largest_table: (n as f64) * (n as f64),
            needed,
            limit: DENSE_PRECISION_LIMIT,
        });
    }
    Ok(())
}

impl InfoForm {
    fn of<M: JointGaussian + ?Sized>(model: &M) -> Result<Self> {
        let (mu, lambda, log_det_lambda) = model.information_form()?;
        Ok(InfoForm {
            mu,
            lambda,
            log_det_lambda,
        })
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

/// Observed-data log-likelihood `sum_rows ln p(x_obs)` under the model (missing cells are NaN
/// and marginalised out; rows with nothing observed add 0). One factorisation per pattern.
pub fn log_likelihood<M: JointGaussian + ?Sized>(model: &M, data: &DMatrix<f64>) -> Result<f64> {
    check_cols(model, data)?;
    Ok(e_step(&InfoForm::of(model)?, data)?.2)
}

/// Every row's log-likelihood `ln p(x_obs)` (natural log; the marginal density of the row's
/// observed cells, 0 for a row with nothing observed), in row order. One factorisation per
/// pattern of observed columns, patterns in parallel; the values do not depend on the number of
/// threads.
pub fn log_likelihood_rows<M: JointGaussian + ?Sized>(
    model: &M,
    data: &DMatrix<f64>,
) -> Result<Vec<f64>> {
    check_cols(model, data)?;
    let info = InfoForm::of(model)?;
    let n = data.ncols();
    let parts: Vec<Result<Vec<(usize, f64)>>> = missing_patterns(data)
        .par_iter()
        .map(|p| {
            if p.observed.is_empty() {
                return Ok(p.rows.iter().map(|&r| (r, 0.0)).collect());
            }
            let pat = info.pattern(&p.observed)?;
            let mut row = vec![0.0; n];
            let mut out = vec![0.0; n];
            Ok(p.rows
                .iter()
                .map(|&r| {
                    for j in 0..n {
                        row[j] = data[(r, j)];
                    }
                    (r, info.complete(&pat, &row, &mut out))
                })
                .collect())
        })
        .collect();
    let mut ll = vec![0.0; data.nrows()];
    for part in parts {
        for (r, l) in part? {
            if !l.is_finite() {
                return Err(Error::Overflow {
                    what: format!(
                        "the log density of data row {} is {l}: its values are too far from the \
                         model's mean to represent (a cell near 1e154 or beyond?)",
                        r + 1
                    ),
                });
            }
            ll[r] = l;
        }
    }
    Ok(ll)
}

fn check_cols<M: JointGaussian + ?Sized>(model: &M, data: &DMatrix<f64>) -> Result<()> {
    let n = model.num_vars();
    if data.ncols() != n {
        return Err(Error::DimensionMismatch {
            what: "data columns (one per variable)".into(),
            expected: n,
            found: data.ncols(),
        });
    }
    Ok(())
}

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
type Moments = (DVector<f64>, DMatrix<f64>, f64);

/// One E-step: expected first and second moments (`1/rows` normalised) of the completed data
/// under the network, and the observed-data log-likelihood. Patterns in parallel, added in
/// pattern order (thread-count invariant).
fn e_step(info: &InfoForm, data: &DMatrix<f64>) -> Result<(Vec<f64>, DMatrix<f64>, f64)> {
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
    let log_pdf =
        |x: f64, mu: f64, s: f64| -0.5 * (super::LN_2PI + 2.0 * s.ln() + ((x - mu) / s).powi(2));
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

/// Write `table` back as CSV with the cells of `completed` (`rows x variables`) filled in: every
/// cell that was not missing is written with its original text (observed cells and extra columns
/// byte-for-byte as read, modulo CSV quoting), every missing cell of a variable column with its
/// completed value (shortest text that reads back to the same `f64`; empty if still NaN).
pub fn write_numeric_completed<W: std::io::Write + ?Sized>(
    table: &NumericTable,
    completed: &DMatrix<f64>,
    out: &mut W,
) -> Result<()> {
    let e = |e: csv::Error| {
        let msg = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(io) => Error::io("<csv output>", io),
            _ => Error::InvalidArgument(msg),
        }
    };
    let mut var_of_col = vec![usize::MAX; table.header.len()];
    for (v, &c) in table.column_of.iter().enumerate() {
        var_of_col[c] = v;
    }
    if let Some(raw) = &table.raw {
        struct Adapter<'a, W: ?Sized>(&'a mut W);
        impl<W: std::io::Write + ?Sized> std::io::Write for Adapter<'_, W> {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                self.0.flush()
            }
        }
        return raw
            .write_patched(&mut Adapter(out), |r, c| {
                let v = *var_of_col.get(c)?;
                if v == usize::MAX || !table.data[(r, v)].is_nan() {
                    return None;
                }
                let x = completed[(r, v)];
                x.is_finite().then(|| format!("{x}"))
            })
            .map_err(|x| Error::io("<csv output>", x));
    }
    let mut wtr = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(out);
    wtr.write_record(&table.header).map_err(e)?;
    let mut cells: Vec<String> = Vec::with_capacity(table.header.len());
    for (r, text) in table.text.iter().enumerate() {
        cells.clear();
        for (c, t) in text.iter().enumerate() {
            let v = var_of_col[c];
            if v != usize::MAX && table.data[(r, v)].is_nan() {
                let x = completed[(r, v)];
                cells.push(if x.is_finite() {
                    format!("{x}")
                } else {
                    String::new()
                });
            } else {
                cells.push(t.clone());
            }
        }
        wtr.write_record(&cells).map_err(e)?;
    }
    wtr.flush().map_err(|x| Error::io("<csv output>", x))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn student_t_quantile_known_values() {
        // R: qt(0.975, c(5, 10, 19, 100)); qt(0.95, 10)
        for (p, nu, want) in [
            (0.975, 5.0, 2.570_581_836),
            (0.975, 10.0, 2.228_138_852),
            (0.975, 19.0, 2.093_024_054),
            (0.975, 100.0, 1.983_971_519),
            (0.95, 10.0, 1.812_461_123),
        ] {
            let got = student_t_quantile(p, nu);
            assert!(
                (got - want).abs() <= 2e-3 * want,
                "t({p}, {nu}) = {got}, want {want}"
            );
        }
        assert!((student_t_quantile(0.975, 19.0) - 2.093_024_054).abs() < 1e-4);
    }

    #[test]
    fn mask_hides_only_observed_cells_at_the_rate() {
        let mut d = DMatrix::from_fn(2000, 5, |r, c| (r * 5 + c) as f64);
        d[(0, 0)] = f64::NAN;
        let (m, hidden) = mask_mcar(&d, 0.3, 9).unwrap();
        assert!(hidden
            .iter()
            .all(|&(r, c)| m[(r, c)].is_nan() && d[(r, c)].is_finite()));
        let nan = m.iter().filter(|v| v.is_nan()).count();
        assert_eq!(nan, hidden.len() + 1);
        // binomial(9999, 0.3): mean 3000, sd 46; 5 sd
        assert!(
            (hidden.len() as f64 - 3000.0).abs() < 230.0,
            "{}",
            hidden.len()
        );
        assert_eq!(mask_mcar(&d, 0.3, 9).unwrap().1, hidden);
        assert!(mask_mcar(&d, 1.5, 9).is_err());
    }
}
