//! The multivariate normal `N(mean, cov)` with a cached Cholesky factor: log density, marginals,
//! sampling and exact conditioning (Schur complement through a Cholesky factor of the observed
//! block).
//!
//! Conditioning on the observed set `b` with values `x_b` gives the free set `a`:
//!
//! ```text
//! mean_a|b = mean_a + Σ_ab Σ_bb^-1 (x_b - mean_b)
//! cov_a|b  = Σ_aa - Σ_ab Σ_bb^-1 Σ_ba
//! ln p(x_b) = ln N(x_b; mean_b, Σ_bb)
//! ```
//!
//! A [`Conditioner`] factorises `Σ_bb` once (`O(|b|^3 + |a| |b|^2)`); each further set of values
//! for the same observed variables then costs `O(|a| |b| + |b|^2)`. This is the per-missing-pattern
//! reuse that conditional-Gaussian imputation and EM need.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use rand::Rng;
use rand_distr::StandardNormal;

use super::{check_symmetric, chol_log_det, cholesky, LN_2PI};
use crate::error::{Error, Result};

/// A multivariate normal distribution with a positive definite covariance.
#[derive(Debug, Clone)]
pub struct MvNormal {
    mean: DVector<f64>,
    cov: DMatrix<f64>,
    chol: Cholesky<f64, Dyn>,
}

/// The Gaussian of the free variables given observed values, and `ln p(observed values)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditional {
    /// Indices (into the full vector) of the free variables, increasing.
    pub free: Vec<usize>,
    /// Posterior mean of the free variables (in the order of `free`).
    pub mean: DVector<f64>,
    /// Posterior covariance of the free variables.
    pub cov: DMatrix<f64>,
    /// `ln p(x_b)`: the log density of the evidence under its marginal.
    pub log_evidence: f64,
}

/// Conditioning on a fixed set of observed variables, factorised once (see the module docs).
#[derive(Debug, Clone)]
pub struct Conditioner {
    free: Vec<usize>,
    observed: Vec<usize>,
    mean_free: DVector<f64>,
    mean_obs: DVector<f64>,
    /// `Σ_ab Σ_bb^-1` (|a| x |b|).
    gain: DMatrix<f64>,
    /// `Σ_aa - Σ_ab Σ_bb^-1 Σ_ba`.
    cov: DMatrix<f64>,
    chol_obs: Option<Cholesky<f64, Dyn>>,
    /// `-|b|/2 ln 2π - 1/2 ln det Σ_bb`.
    log_norm_obs: f64,
}

impl MvNormal {
    /// `N(mean, cov)`. Errors: `cov` not square or of another size than `mean`
    /// ([`Error::DimensionMismatch`]), not finite, not symmetric, or not positive definite
    /// ([`Error::NotPositiveDefinite`]).
    pub fn new(mean: impl Into<DVector<f64>>, cov: DMatrix<f64>) -> Result<Self> {
        let mean = mean.into();
        let n = mean.len();
        if let Some(v) = mean.iter().find(|v| !v.is_finite()) {
            return Err(Error::InvalidNumber {
                what: "mean vector".into(),
                value: *v,
            });
        }
        check_symmetric(&cov, n, "covariance matrix")?;
        let chol = cholesky(cov.clone(), "covariance matrix")?;
        Ok(MvNormal { mean, cov, chol })
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The mean vector.
    pub fn mean(&self) -> &DVector<f64> {
        &self.mean
    }

    /// The covariance matrix.
    pub fn covariance(&self) -> &DMatrix<f64> {
        &self.cov
    }

    /// The lower Cholesky factor `L` of the covariance (`cov = L L^T`).
    pub fn cholesky_factor(&self) -> DMatrix<f64> {
        self.chol.l()
    }

    /// Marginal variances (the diagonal of the covariance).
    pub fn variances(&self) -> Vec<f64> {
        self.cov.diagonal().iter().copied().collect()
    }

    /// `ln det cov`.
    pub fn log_det_cov(&self) -> f64 {
        chol_log_det(&self.chol)
    }

    /// `ln N(x; mean, cov)`. `O(n^2)`. Errors: `x` of the wrong length.
    pub fn log_density(&self, x: &[f64]) -> Result<f64> {
        crate::error::check_dim("point for the log density", self.dim(), x.len())?;
        let d = DVector::from_column_slice(x) - &self.mean;
        let z = self
            .chol
            .l_dirty()
            .solve_lower_triangular(&d)
            .expect("a Cholesky factor has a positive diagonal");
        Ok(-0.5 * (self.dim() as f64 * LN_2PI + self.log_det_cov() + z.norm_squared()))
    }

    /// One exact draw `mean + L z`, `z ~ N(0, I)`. `O(n^2)`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let z = DVector::from_fn(self.dim(), |_, _| rng.sample::<f64, _>(StandardNormal));
        let l = self.chol.l_dirty();
        let n = self.dim();
        (0..n)
            .map(|i| self.mean[i] + (0..=i).map(|k| l[(i, k)] * z[k]).sum::<f64>())
            .collect()
    }

    /// The marginal of the variables `idx` (in that order). Errors: an index out of range.
    pub fn marginal(&self, idx: &[usize]) -> Result<MvNormal> {
        check_indices(idx, self.dim(), "marginal")?;
        let mean = DVector::from_iterator(idx.len(), idx.iter().map(|&i| self.mean[i]));
        let cov = DMatrix::from_fn(idx.len(), idx.len(), |r, c| self.cov[(idx[r], idx[c])]);
        MvNormal::new(mean, cov)
    }

    /// Factorise the conditioning on the variables `observed` (any order, no repeats).
    /// Errors: an index out of range or repeated; `Σ_bb` not positive definite.
    pub fn conditioner(&self, observed: &[usize]) -> Result<Conditioner> {
        let n = self.dim();
        check_indices(observed, n, "evidence")?;
        let mut is_obs = vec![false; n];
        for &i in observed {
            is_obs[i] = true;
        }
        let free: Vec<usize> = (0..n).filter(|&i| !is_obs[i]).collect();
        let (na, nb) = (free.len(), observed.len());
        let sub = |r: &[usize], c: &[usize]| {
            DMatrix::from_fn(r.len(), c.len(), |i, j| self.cov[(r[i], c[j])])
        };
        let mean_free = DVector::from_iterator(na, free.iter().map(|&i| self.mean[i]));
        let mean_obs = DVector::from_iterator(nb, observed.iter().map(|&i| self.mean[i]));
        let s_aa = sub(&free, &free);
        if nb == 0 {
            return Ok(Conditioner {
                free,
                observed: Vec::new(),
                mean_free,
                mean_obs,
                gain: DMatrix::zeros(na, 0),
                cov: s_aa,
                chol_obs: None,
                log_norm_obs: 0.0,
            });
        }
        let chol = cholesky(
            sub(observed, observed),
            "covariance of the observed variables",
        )?;
        let s_ba = sub(observed, &free);
        // W = L_bb^-1 Σ_ba: cov = Σ_aa - W^T W, gain^T = Σ_bb^-1 Σ_ba = L^-T W
        let w = chol
            .l_dirty()
            .solve_lower_triangular(&s_ba)
            .expect("positive diagonal");
        let mut cov = s_aa - w.transpose() * &w;
        // exact symmetry
        for j in 0..na {
            for i in j + 1..na {
                let v = 0.5 * (cov[(i, j)] + cov[(j, i)]);
                cov[(i, j)] = v;
                cov[(j, i)] = v;
            }
        }
        let gain = chol.solve(&s_ba).transpose();
        let log_norm_obs = -0.5 * (nb as f64 * LN_2PI + chol_log_det(&chol));
        Ok(Conditioner {
            free,
            observed: observed.to_vec(),
            mean_free,
            mean_obs,
            gain,
            cov,
            chol_obs: Some(chol),
            log_norm_obs,
        })
    }

    /// Condition on `evidence` (`(index, value)` pairs). See [`Conditioner`] to condition many
    /// rows with the same observed set.
    pub fn condition(&self, evidence: &[(usize, f64)]) -> Result<Conditional> {
        let idx: Vec<usize> = evidence.iter().map(|e| e.0).collect();
        let vals: Vec<f64> = evidence.iter().map(|e| e.1).collect();
        self.conditioner(&idx)?.condition(&vals)
    }

    /// `ln p(evidence)` under the marginal of the observed variables.
    pub fn log_evidence(&self, evidence: &[(usize, f64)]) -> Result<f64> {
        let idx: Vec<usize> = evidence.iter().map(|e| e.0).collect();
        let vals: Vec<f64> = evidence.iter().map(|e| e.1).collect();
        self.conditioner(&idx)?.log_evidence(&vals)
    }
}

impl Conditional {
    /// Posterior mean and covariance of the free variables `vars` (original indices, in the
    /// order given). Errors: a variable that is observed or out of range
    /// ([`Error::InvalidArgument`]).
    pub fn subset(&self, vars: &[usize]) -> Result<(DVector<f64>, DMatrix<f64>)> {
        let pos: Vec<usize> = vars
            .iter()
            .map(|v| {
                self.free.binary_search(v).map_err(|_| {
                    Error::InvalidArgument(format!(
                        "variable #{v} is not a free variable of this posterior"
                    ))
                })
            })
            .collect::<Result<_>>()?;
        let mean = DVector::from_iterator(pos.len(), pos.iter().map(|&p| self.mean[p]));
        let cov = DMatrix::from_fn(pos.len(), pos.len(), |i, j| self.cov[(pos[i], pos[j])]);
        Ok((mean, cov))
    }
}

impl Conditioner {
    /// Indices of the free variables (increasing).
    pub fn free(&self) -> &[usize] {
        &self.free
    }

    /// Indices of the observed variables (in the order the values are expected).
    pub fn observed(&self) -> &[usize] {
        &self.observed
    }

    /// The conditional covariance of the free variables (it does not depend on the values).
    pub fn covariance(&self) -> &DMatrix<f64> {
        &self.cov
    }

    /// The gain `Σ_ab Σ_bb^-1`.
    pub fn gain(&self) -> &DMatrix<f64> {
        &self.gain
    }

    fn check_values(&self, values: &[f64]) -> Result<DVector<f64>> {
        crate::error::check_dim("evidence values", self.observed.len(), values.len())?;
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(Error::InvalidNumber {
                what: "evidence value".into(),
                value: *v,
            });
        }
        Ok(DVector::from_column_slice(values) - &self.mean_obs)
    }

    /// Conditional mean of the free variables given `values` (one per observed variable, in
    /// the order of [`Conditioner::observed`]). `O(|a| |b|)`.
    pub fn conditional_mean(&self, values: &[f64]) -> Result<DVector<f64>> {
        let d = self.check_values(values)?;
        Ok(&self.mean_free + &self.gain * d)
    }

    /// `ln p(values)` under the marginal of the observed variables. `O(|b|^2)`.
    pub fn log_evidence(&self, values: &[f64]) -> Result<f64> {
        let d = self.check_values(values)?;
        Ok(match &self.chol_obs {
            None => 0.0,
            Some(c) => {
                let z = c
                    .l_dirty()
                    .solve_lower_triangular(&d)
                    .expect("positive diagonal");
                let l = self.log_norm_obs - 0.5 * z.norm_squared();
                if !l.is_finite() {
                    return Err(Error::Overflow {
                        what: format!(
                            "ln p(evidence) is {l}: the evidence is too far from the model's \
                             mean to represent (values near 1e154 or beyond?)"
                        ),
                    });
                }
                l
            }
        })
    }

    /// Conditional mean and covariance of the free variables and `ln p(values)`.
    pub fn condition(&self, values: &[f64]) -> Result<Conditional> {
        Ok(Conditional {
            free: self.free.clone(),
            mean: self.conditional_mean(values)?,
            cov: self.cov.clone(),
            log_evidence: self.log_evidence(values)?,
        })
    }
}

/// Rows of a data matrix that share one pattern of observed entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPattern {
    /// Columns observed (finite) in these rows, increasing.
    pub observed: Vec<usize>,
    /// The rows, increasing.
    pub rows: Vec<usize>,
}

/// Group the rows of `data` (one column per variable; NaN or any non-finite value marks a missing
/// entry) by their pattern of observed columns, patterns in order of first appearance. One
/// [`MvNormal::conditioner`] per pattern then serves all its rows (the E-step of EM and
/// conditional-mean imputation). `O(rows * cols)` expected.
///
/// ```
/// use nalgebra::DMatrix;
/// use pgmkit::gaussian::mvn::missing_patterns;
/// let d = DMatrix::from_row_slice(3, 2, &[1.0, f64::NAN, 2.0, 3.0, 4.0, f64::NAN]);
/// let p = missing_patterns(&d);
/// assert_eq!(p.len(), 2);
/// assert_eq!((p[0].observed.clone(), p[0].rows.clone()), (vec![0], vec![0, 2]));
/// assert_eq!((p[1].observed.clone(), p[1].rows.clone()), (vec![0, 1], vec![1]));
/// ```
pub fn missing_patterns(data: &DMatrix<f64>) -> Vec<MissingPattern> {
    let mut index: std::collections::HashMap<Vec<bool>, usize> = std::collections::HashMap::new();
    let mut out: Vec<MissingPattern> = Vec::new();
    for r in 0..data.nrows() {
        let key: Vec<bool> = data.row(r).iter().map(|v| v.is_finite()).collect();
        let k = *index.entry(key.clone()).or_insert_with(|| {
            out.push(MissingPattern {
                observed: (0..key.len()).filter(|&c| key[c]).collect(),
                rows: Vec::new(),
            });
            out.len() - 1
        });
        out[k].rows.push(r);
    }
    out
}

/// Every index below `n`, none repeated.
pub(crate) fn check_indices(idx: &[usize], n: usize, what: &str) -> Result<()> {
    let mut seen = vec![false; n];
    for &i in idx {
        if i >= n {
            return Err(Error::UnknownVariable(format!(
                "#{i} (in the {what}; the model has {n} variables)"
            )));
        }
        if seen[i] {
            return Err(Error::InvalidArgument(format!(
                "variable #{i} appears twice in the {what}"
            )));
        }
        seen[i] = true;
    }
    Ok(())
}
