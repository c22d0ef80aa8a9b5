//! Continuous Gaussian models: linear-Gaussian Bayesian networks, Gaussian Markov random fields
//! in information form, and the multivariate normal that both lower to.
//!
//! - [`GaussianBn`] (built with [`GaussianBnBuilder`] or read from JSON with [`crate::io::gaussian_json::read_gbn`]):
//!   every variable is `X = b0 + sum_i b_i parent_i + e`, `e ~ N(0, v)`. Converts to the joint
//!   [`MvNormal`] (mean and covariance by topological recursion, `O(n^2 * parents)`) and to
//!   information form ([`GaussianBn::to_gmrf`], precision `(I-B)^T D^-1 (I-B)`, sparse);
//!   ancestral sampling; exact conditioning on evidence and `ln p(evidence)`.
//! - [`Gmrf`]: `p(x) ∝ exp(-1/2 x'Λx + h'x)` with a dense or sparse precision `Λ`; exact
//!   `ln Z` by Cholesky (sparse: reverse Cuthill–McKee ordering and an envelope factor), exact
//!   sampling, marginal means and variances (selected inverse), single-site Gibbs; loopy
//!   Gaussian BP ([`gabp::gaussian_bp`]) with a walk-summability check.
//! - [`MvNormal`]: mean and covariance with a cached Cholesky factor; log density, marginals,
//!   and conditioning through a reusable [`Conditioner`] (one factorisation per set of observed
//!   variables, then `O(n^2)` per row: what imputation and EM need; rows are grouped by their
//!   pattern of observed values with [`missing_patterns`]). [`GaussianBn::fit_ml`] fits the CPDs
//!   of a given structure from complete data by least squares.
//!
//! All log densities are natural logs. Matrices are `nalgebra` types.
//!
//! ```
//! use pgmkit::gaussian::GaussianBnBuilder;
//!
//! # fn main() -> pgmkit::Result<()> {
//! let mut b = GaussianBnBuilder::new();
//! let x = b.add_variable("x")?;
//! let y = b.add_variable("y")?;
//! b.set_cpd(x, &[], 1.0, &[], 4.0)?; // x ~ N(1, 4)
//! b.set_cpd(y, &[x], 0.5, &[2.0], 1.0)?; // y = 0.5 + 2 x + N(0, 1)
//! let bn = b.build()?;
//! let joint = bn.joint()?;
//! assert!((joint.mean()[1] - 2.5).abs() < 1e-12);
//! assert!((joint.covariance()[(1, 1)] - 17.0).abs() < 1e-12);
//! // posterior of x given y = 4.5: precision 1/4 + 4 = 4.25, mean (1/4 + 2*4)/4.25
//! let post = bn.condition(&bn.evidence(&[("y", 4.5)])?)?;
//! assert!((post.mean[0] - 8.25 / 4.25).abs() < 1e-12);
//! assert!((post.cov[(0, 0)] - 1.0 / 4.25).abs() < 1e-12);
//! # Ok(())
//! # }
//! ```

pub mod bn;
pub mod data;
mod draws;
pub mod gabp;
pub mod gmrf;
pub mod mvn;
pub mod sparse;

pub use bn::{GaussianBn, GaussianBnBuilder, LinearGaussianCpd};
pub use draws::{ConditionalDraws, CONDITIONAL_BLOCK};
pub use gmrf::{Gmrf, GmrfConditional, GmrfGibbs};
pub use mvn::{missing_patterns, Conditional, Conditioner, MissingPattern, MvNormal};
pub use sparse::SparseSym;

use nalgebra::{Cholesky, DMatrix, Dyn};

use crate::error::{Error, Result};
use crate::var::Evidence;

/// `rows` draws of dimension `n`, row-major (row after row), made in blocks of `block` rows in
/// parallel: block `b` (counting from `first_block`) draws its rows in order from the stream
/// `chain_rng(seed, b)`, each by `draw(rng, row, scratch)` with a scratch value per block, so
/// the draws do not depend on the number of threads, and a caller streaming rows in chunks of
/// a multiple of `block` rows gets the same rows as one call.
pub(crate) fn sample_rows_in_blocks<S: Default>(
    n: usize,
    rows: usize,
    block: usize,
    first_block: usize,
    seed: u64,
    draw: impl Fn(&mut crate::rng::EngineRng, &mut [f64], &mut S) + Sync,
) -> Vec<f64> {
    use rayon::prelude::*;
    let mut data = vec![0.0; rows * n];
    if n > 0 {
        data.par_chunks_mut(block * n)
            .enumerate()
            .for_each(|(b, chunk)| {
                let mut rng = crate::rng::chain_rng(seed, (first_block + b) as u64);
                let mut scratch = S::default();
                for row in chunk.chunks_mut(n) {
                    draw(&mut rng, row, &mut scratch);
                }
            });
    }
    data
}

/// `ln(2 π)`.
pub const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// Relative tolerance for the symmetry check of user matrices (`|a_ij - a_ji| <= tol * scale`).
pub const SYMMETRY_TOL: f64 = 1e-10;

/// Means and variances of every variable of a Gaussian model (what a CLI prints).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GaussianSummary {
    /// Variable names (`"0"`, `"1"`, ... when the model has none).
    pub names: Vec<String>,
    /// Marginal means.
    pub means: Vec<f64>,
    /// Marginal variances.
    pub variances: Vec<f64>,
}

/// The exact posterior of a Gaussian model given evidence ([`GaussianModel::posterior`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianPosterior {
    /// `ln Z` given the evidence (a Bayesian network: `ln p(evidence)`).
    pub log_z: f64,
    /// Posterior mean of every variable (an observed one: its value).
    pub means: Vec<f64>,
    /// Posterior variance of every variable (an observed one: 0).
    pub variances: Vec<f64>,
    /// Whether each variable is observed.
    pub observed: Vec<bool>,
}

/// Either kind of Gaussian model, for callers (such as a command line) that handle both.
#[derive(Debug, Clone)]
pub enum GaussianModel {
    /// A linear-Gaussian Bayesian network (normalised: `ln Z = 0`).
    Bn(GaussianBn),
    /// A Gaussian MRF in information form.
    Mrf(Gmrf),
}

impl GaussianModel {
    /// Number of variables.
    pub fn dim(&self) -> usize {
        match self {
            GaussianModel::Bn(b) => b.num_vars(),
            GaussianModel::Mrf(g) => g.dim(),
        }
    }

    /// Means and variances of every variable.
    pub fn summary(&self) -> GaussianSummary {
        match self {
            GaussianModel::Bn(b) => b.summary(),
            GaussianModel::Mrf(g) => g.summary(),
        }
    }

    /// The exact `ln Z` (0 for a Bayesian network, whose CPDs are normalised).
    pub fn log_z(&self) -> f64 {
        match self {
            GaussianModel::Bn(_) => 0.0,
            GaussianModel::Mrf(g) => g.log_z(),
        }
    }

    /// The exact `ln Z` given `ev`: for a GMRF the log partition function with the evidence
    /// clamped, for a Bayesian network `ln p(evidence)` (0 without evidence). Errors as
    /// [`Gmrf::condition`] / [`GaussianBn::condition`].
    pub fn log_z_given(&self, ev: &Evidence<f64>) -> Result<f64> {
        Ok(match self {
            GaussianModel::Bn(_) if ev.is_empty() => 0.0,
            GaussianModel::Bn(bn) => bn.condition(ev)?.log_evidence,
            GaussianModel::Mrf(m) => m.condition(ev)?.log_z,
        })
    }

    /// The exact posterior given `ev`: every variable's mean and variance (an observed one
    /// has its value and variance 0) and `ln Z` given the evidence ([`Self::log_z_given`]).
    /// `O(n^3)` for a Bayesian network with evidence, a sparse factorisation for a GMRF.
    pub fn posterior(&self, ev: &Evidence<f64>) -> Result<GaussianPosterior> {
        let n = self.dim();
        ev.check_len(n)?;
        let mut post = GaussianPosterior {
            log_z: 0.0,
            means: vec![0.0; n],
            variances: vec![0.0; n],
            observed: vec![false; n],
        };
        for (v, x) in ev.iter() {
            post.means[v.index()] = x;
            post.observed[v.index()] = true;
        }
        match self {
            GaussianModel::Bn(bn) if ev.is_empty() => {
                let s = bn.summary();
                post.means = s.means;
                post.variances = s.variances;
            }
            GaussianModel::Bn(bn) => {
                let c = bn.condition(ev)?;
                for (k, &i) in c.free.iter().enumerate() {
                    post.means[i] = c.mean[k];
                    post.variances[i] = c.cov[(k, k)];
                }
                post.log_z = c.log_evidence;
            }
            GaussianModel::Mrf(m) => {
                let c = m.condition(ev)?;
                if let Some(cg) = &c.gmrf {
                    let vars = cg.variances();
                    for (k, &i) in c.free.iter().enumerate() {
                        post.means[i] = cg.mean()[k];
                        post.variances[i] = vars[k];
                    }
                }
                post.log_z = c.log_z;
            }
        }
        Ok(post)
    }

    /// `rows` exact draws (`rows x dim`), thread-count invariant for a given seed.
    pub fn sample_n(&self, rows: usize, seed: u64) -> DMatrix<f64> {
        self.sample_chunk(0, rows, seed)
    }

    /// Rows `first_row..first_row + rows` of the draws [`Self::sample_n`] gives; `first_row`
    /// must be a multiple of [`SAMPLE_CHUNK`] (else the rows come from other streams).
    pub fn sample_chunk(&self, first_row: usize, rows: usize, seed: u64) -> DMatrix<f64> {
        match self {
            GaussianModel::Bn(b) => b.sample_blocks(first_row / bn::SAMPLE_BLOCK, rows, seed),
            GaussianModel::Mrf(g) => g.sample_blocks(first_row / gmrf::SAMPLE_BLOCK, rows, seed),
        }
    }
}

/// Rows per chunk when streaming draws ([`GaussianModel::sample_chunk`]): a multiple of the
/// sampling blocks of both model kinds.
pub const SAMPLE_CHUNK: usize = 1 << 16;

/// Check that `a` is square of size `n`, finite and symmetric (relative tolerance
/// [`SYMMETRY_TOL`]); `what` names the matrix in errors.
pub(crate) fn check_symmetric(a: &DMatrix<f64>, n: usize, what: &str) -> Result<()> {
    if a.nrows() != a.ncols() {
        return Err(Error::DimensionMismatch {
            what: format!("{what} (rows vs columns)"),
            expected: a.nrows(),
            found: a.ncols(),
        });
    }
    if a.nrows() != n {
        return Err(Error::DimensionMismatch {
            what: what.to_string(),
            expected: n,
            found: a.nrows(),
        });
    }
    if let Some(v) = a.iter().find(|v| !v.is_finite()) {
        return Err(Error::InvalidNumber {
            what: what.to_string(),
            value: *v,
        });
    }
    let scale = a
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    for j in 0..n {
        for i in j + 1..n {
            if (a[(i, j)] - a[(j, i)]).abs() > SYMMETRY_TOL * scale {
                return Err(Error::InvalidModel(format!(
                    "the {what} is not symmetric: entry ({i}, {j}) is {} but ({j}, {i}) is {}",
                    a[(i, j)],
                    a[(j, i)]
                )));
            }
        }
    }
    Ok(())
}

/// Dense Cholesky factorisation `a = L L^T` of a symmetric matrix (only the lower triangle is
/// read), with a typed [`Error::NotPositiveDefinite`] naming the failing row. `O(n^3 / 3)`.
pub fn cholesky(a: DMatrix<f64>, what: &str) -> Result<Cholesky<f64, Dyn>> {
    if a.nrows() != a.ncols() {
        return Err(Error::DimensionMismatch {
            what: format!("{what} (rows vs columns)"),
            expected: a.nrows(),
            found: a.ncols(),
        });
    }
    if let Some(c) = Cholesky::new(a.clone()) {
        if c.l_dirty()
            .diagonal()
            .iter()
            .all(|d| d.is_finite() && *d > 0.0)
        {
            return Ok(c);
        }
    }
    let (index, pivot) = failing_pivot(&a);
    Err(Error::NotPositiveDefinite {
        what: what.to_string(),
        index,
        pivot,
    })
}

/// The first row where a plain Cholesky of `a` meets a non-positive (or non-finite) pivot.
fn failing_pivot(a: &DMatrix<f64>) -> (usize, f64) {
    let n = a.nrows();
    let mut l = DMatrix::<f64>::zeros(n, n);
    for j in 0..n {
        let mut d = a[(j, j)];
        for k in 0..j {
            d -= l[(j, k)] * l[(j, k)];
        }
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return (j, d);
        }
        let djj = d.sqrt();
        l[(j, j)] = djj;
        for i in j + 1..n {
            let mut s = a[(i, j)];
            for k in 0..j {
                s -= l[(i, k)] * l[(j, k)];
            }
            l[(i, j)] = s / djj;
        }
    }
    // rounding made nalgebra fail where this loop did not: report the smallest pivot
    let (i, d) = l
        .diagonal()
        .iter()
        .enumerate()
        .fold(
            (0, f64::INFINITY),
            |m, (i, &d)| if d * d < m.1 { (i, d * d) } else { m },
        );
    (i, d)
}

/// `ln det` of a matrix from its Cholesky factor: `2 sum ln L_ii`.
pub fn chol_log_det(c: &Cholesky<f64, Dyn>) -> f64 {
    2.0 * c.l_dirty().diagonal().iter().map(|d| d.ln()).sum::<f64>()
}
