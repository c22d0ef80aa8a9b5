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

mod em;
mod impute;

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

/// The numeric CSV reader and writer live in [`crate::data::numeric`] (beside the categorical
/// one); re-exported here for existing code.
pub use crate::data::numeric::*;
use crate::error::{Error, Result};
use crate::gaussian::{missing_patterns, GaussianBn, GaussianModel, Gmrf};
pub use em::*;
pub use impute::*;

/// A Gaussian in information form for per-pattern conditioning: the missing block `a` given the
/// observed block `b` has precision `Λ_aa` and mean `μ_a - Λ_aa^-1 Λ_ab (x_b - μ_b)`, so a pattern
/// costs `O(|a|^3)` (cheap when few cells are missing) and a row `O(|a| |b| + |b|^2)`.
pub(crate) struct InfoForm {
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
            log_norm: -0.5 * nb * crate::gaussian::LN_2PI + 0.5 * self.log_det_lambda - 0.5 * ld_aa,
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
    crate::error::check_dim("data columns (one per variable)", n, data.ncols())?;
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
