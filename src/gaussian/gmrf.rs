//! Gaussian Markov random fields in information form,
//! `p(x) ∝ exp(-1/2 x'Λx + h'x)` with a symmetric positive definite precision `Λ`.
//!
//! The precision is factorised once at construction: dense (`nalgebra` Cholesky, `O(n^3/3)`) or
//! sparse ([`EnvelopeCholesky`], reverse Cuthill–McKee ordering; `O(sum of squared row
//! envelopes)`, about `10^8` flops for a 100 x 100 lattice). From the factor:
//!
//! ```text
//! mean = Λ^-1 h
//! ln Z = n/2 ln 2π - 1/2 ln det Λ + 1/2 h' Λ^-1 h
//! exact draw: x = mean + L^-T z,  z ~ N(0, I)   (Λ = L L^T)
//! variances = diag Λ^-1   (dense inverse, or the sparse selected inverse)
//! ```
//!
//! ```
//! use pgmkit::gaussian::Gmrf;
//! use pgmkit::model::Boundary;
//!
//! // 30 x 30 lattice, Λ = 4.5 I - A: the eigenvalues are 4.5 - 2 cos(πi/31) - 2 cos(πj/31)
//! let g = Gmrf::lattice(30, 30, Boundary::Free, 4.5, 1.0, vec![0.0; 900]).unwrap();
//! let pi = std::f64::consts::PI;
//! let mut log_det = 0.0;
//! for i in 1..=30 {
//!     for j in 1..=30 {
//!         log_det += (4.5 - 2.0 * (pi * i as f64 / 31.0).cos() - 2.0 * (pi * j as f64 / 31.0).cos()).ln();
//!     }
//! }
//! let expect = 450.0 * (2.0 * pi).ln() - 0.5 * log_det;
//! assert!((g.log_z() - expect).abs() < 1e-9 * expect.abs());
//! ```

use nalgebra::{Cholesky, DMatrix, DVector, DVectorView, DVectorViewMut, Dyn};
use rand::Rng;
use rand_distr::StandardNormal;

use super::sparse::EnvelopeCholesky;
use super::{
    check_symmetric, chol_log_det, cholesky, GaussianSummary, MvNormal, SparseSym, LN_2PI,
};
use crate::error::{Error, Result};
use crate::model::Boundary;
use crate::sample::continuous::{ContinuousTransition, Energy, StepStats};
use crate::var::Evidence;

/// Rows per RNG stream in [`Gmrf::sample_n`].
pub const SAMPLE_BLOCK: usize = 64;

#[derive(Debug, Clone)]
enum Precision {
    Dense(DMatrix<f64>),
    Sparse(SparseSym),
}

#[derive(Debug, Clone)]
enum Factor {
    Dense(Cholesky<f64, Dyn>),
    Sparse(EnvelopeCholesky),
}

/// A GMRF with some variables fixed ([`Gmrf::condition`]).
#[derive(Debug, Clone)]
pub struct GmrfConditional {
    /// Indices (into the original model) of the free variables, increasing.
    pub free: Vec<usize>,
    /// The GMRF of the free variables (in the order of `free`); `None` when every variable is
    /// fixed.
    pub gmrf: Option<Gmrf>,
    /// `ln ∫ p~(x_a, x_b) dx_a`: log Z with the evidence clamped.
    pub log_z: f64,
}

/// A Gaussian MRF in information form (see the module docs).
#[derive(Debug, Clone)]
pub struct Gmrf {
    lambda: Precision,
    h: Vec<f64>,
    factor: Factor,
    mean: Vec<f64>,
    log_det: f64,
    log_z: f64,
}

fn check_h(h: &[f64], n: usize) -> Result<()> {
    crate::error::check_dim("information vector h (one entry per variable)", n, h.len())?;
    if let Some(v) = h.iter().find(|v| !v.is_finite()) {
        return Err(Error::InvalidNumber {
            what: "information vector h".into(),
            value: *v,
        });
    }
    Ok(())
}

impl Gmrf {
    /// From a dense precision. Errors: `Λ` not square, `h` of another length
    /// ([`Error::DimensionMismatch`]), non-finite entries, `Λ` not symmetric, not positive
    /// definite ([`Error::NotPositiveDefinite`]).
    pub fn dense(lambda: DMatrix<f64>, h: Vec<f64>) -> Result<Self> {
        let n = lambda.nrows();
        check_symmetric(&lambda, n, "precision matrix")?;
        check_h(&h, n)?;
        let chol = cholesky(lambda.clone(), "precision matrix")?;
        let mean: Vec<f64> = chol
            .solve(&DVector::from_column_slice(&h))
            .iter()
            .copied()
            .collect();
        let log_det = chol_log_det(&chol);
        Self::finish(
            Precision::Dense(lambda),
            h,
            Factor::Dense(chol),
            mean,
            log_det,
        )
    }

    /// From a sparse precision. Errors: as [`Gmrf::dense`] (the stored matrix must be exactly
    /// symmetric, which [`SparseSym::from_triplets`] guarantees).
    pub fn sparse(lambda: SparseSym, h: Vec<f64>) -> Result<Self> {
        let n = lambda.n();
        check_h(&h, n)?;
        if !lambda.is_symmetric() {
            return Err(Error::InvalidModel(
                "the sparse precision matrix is not symmetric".into(),
            ));
        }
        let f = EnvelopeCholesky::new(&lambda, "precision matrix")?;
        let mean = f.solve(&h);
        let log_det = f.log_det();
        Self::finish(
            Precision::Sparse(lambda),
            h,
            Factor::Sparse(f),
            mean,
            log_det,
        )
    }

    /// The lattice GMRF with precision `d I - c A` (4-neighbour adjacency, see
    /// [`SparseSym::lattice`]) and information vector `h`.
    pub fn lattice(
        rows: usize,
        cols: usize,
        boundary: Boundary,
        d: f64,
        c: f64,
        h: Vec<f64>,
    ) -> Result<Self> {
        Self::sparse(SparseSym::lattice(rows, cols, boundary, d, c)?, h)
    }

    fn finish(
        lambda: Precision,
        h: Vec<f64>,
        factor: Factor,
        mean: Vec<f64>,
        log_det: f64,
    ) -> Result<Self> {
        let n = h.len() as f64;
        let hm: f64 = h.iter().zip(&mean).map(|(a, b)| a * b).sum();
        let log_z = 0.5 * n * LN_2PI - 0.5 * log_det + 0.5 * hm;
        if !log_z.is_finite() || mean.iter().any(|m| !m.is_finite()) {
            return Err(Error::Overflow {
                what: format!(
                    "the GMRF's mean or log Z is not a finite number (h'Λ^-1 h = {hm:e}): the \
                     information vector h is too large for the precision"
                ),
            });
        }
        Ok(Gmrf {
            lambda,
            h,
            factor,
            mean,
            log_det,
            log_z,
        })
    }

    /// Number of variables.
    pub fn dim(&self) -> usize {
        self.h.len()
    }

    /// Whether the precision is stored sparse.
    pub fn is_sparse(&self) -> bool {
        matches!(self.lambda, Precision::Sparse(_))
    }

    /// Stored nonzeros of the precision (both triangles and the diagonal).
    pub fn precision_nnz(&self) -> usize {
        match &self.lambda {
            Precision::Dense(a) => a.iter().filter(|v| **v != 0.0).count(),
            Precision::Sparse(a) => a.nnz(),
        }
    }

    /// The information vector `h`.
    pub fn h(&self) -> &[f64] {
        &self.h
    }

    /// Entry `(i, j)` of the precision.
    pub fn precision_entry(&self, i: usize, j: usize) -> f64 {
        match &self.lambda {
            Precision::Dense(a) => a[(i, j)],
            Precision::Sparse(a) => a.get(i, j),
        }
    }

    /// The precision as a dense matrix.
    pub fn precision_dense(&self) -> DMatrix<f64> {
        match &self.lambda {
            Precision::Dense(a) => a.clone(),
            Precision::Sparse(a) => a.to_dense(),
        }
    }

    /// `ln Z = n/2 ln 2π - 1/2 ln det Λ + 1/2 h'Λ^-1 h` (exact, computed at construction).
    pub fn log_z(&self) -> f64 {
        self.log_z
    }

    /// `ln det Λ`.
    pub fn log_det_precision(&self) -> f64 {
        self.log_det
    }

    /// The mean `Λ^-1 h`.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// `y = Λ x`.
    pub fn precision_mul(&self, x: &[f64], y: &mut [f64]) {
        match &self.lambda {
            Precision::Dense(a) => {
                let n = x.len();
                let xv = DVectorView::from_slice(x, n);
                let mut yv = DVectorViewMut::from_slice(y, n);
                yv.gemv(1.0, a, &xv, 0.0);
            }
            Precision::Sparse(a) => a.mul_vec(x, y),
        }
    }

    /// Solve `Λ x = b` with the stored factor.
    pub fn solve(&self, b: &[f64]) -> Result<Vec<f64>> {
        crate::error::check_dim("right-hand side", self.dim(), b.len())?;
        Ok(match &self.factor {
            Factor::Dense(c) => c
                .solve(&DVector::from_column_slice(b))
                .iter()
                .copied()
                .collect(),
            Factor::Sparse(f) => f.solve(b),
        })
    }

    /// Marginal variances `diag Λ^-1`: dense inverse (`O(n^3)`) or the sparse selected inverse
    /// (about the cost of the factorisation).
    pub fn variances(&self) -> Vec<f64> {
        match &self.factor {
            Factor::Dense(c) => c.inverse().diagonal().iter().copied().collect(),
            Factor::Sparse(f) => f.inverse_diagonal(),
        }
    }

    /// The full covariance `Λ^-1` (dense, `O(n^2)` memory): for moderate `n`.
    pub fn covariance(&self) -> DMatrix<f64> {
        match &self.factor {
            Factor::Dense(c) => c.inverse(),
            Factor::Sparse(f) => {
                let n = self.dim();
                let mut s = DMatrix::zeros(n, n);
                let mut e = vec![0.0; n];
                for j in 0..n {
                    e[j] = 1.0;
                    let col = f.solve(&e);
                    e[j] = 0.0;
                    s.column_mut(j).copy_from_slice(&col);
                }
                s
            }
        }
    }

    /// The same distribution as an [`MvNormal`] (dense covariance).
    pub fn to_mvn(&self) -> Result<MvNormal> {
        let mut c = self.covariance();
        let n = self.dim();
        for j in 0..n {
            for i in j + 1..n {
                let v = 0.5 * (c[(i, j)] + c[(j, i)]);
                c[(i, j)] = v;
                c[(j, i)] = v;
            }
        }
        MvNormal::new(DVector::from_column_slice(&self.mean), c)
    }

    /// `-1/2 x'Λx + h'x` (the unnormalised log density). `O(nnz)`. Panics if `x` has the wrong
    /// length (use [`Gmrf::log_density`] for a checked call).
    pub fn log_density_unnormalized(&self, x: &[f64]) -> f64 {
        let q = match &self.lambda {
            Precision::Dense(a) => {
                let xv = DVectorView::from_slice(x, x.len());
                a.column_iter()
                    .zip(x)
                    .map(|(col, xj)| xj * col.dot(&xv))
                    .sum::<f64>()
            }
            Precision::Sparse(a) => a.quad_form(x),
        };
        -0.5 * q + x.iter().zip(&self.h).map(|(a, b)| a * b).sum::<f64>()
    }

    /// The normalised log density `-1/2 x'Λx + h'x - ln Z`. Errors: `x` of the wrong length.
    pub fn log_density(&self, x: &[f64]) -> Result<f64> {
        crate::error::check_dim("point for the log density", self.dim(), x.len())?;
        Ok(self.log_density_unnormalized(x) - self.log_z)
    }

    /// One exact draw `mean + L^-T z`. `O(n^2)` dense, `O(envelope)` sparse.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let mut out = vec![0.0; self.dim()];
        self.sample_into(rng, &mut out, &mut Vec::new());
        out
    }

    /// [`Self::sample`] into `out` (length `n`), with `scratch` reused between calls: the same
    /// draw for the same `rng` state, without allocating on the sparse path.
    pub fn sample_into<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        out: &mut [f64],
        scratch: &mut Vec<f64>,
    ) {
        let n = self.dim();
        if let Factor::Sparse(f) = &self.factor {
            scratch.clear();
            scratch.extend((0..n).map(|_| rng.sample::<f64, _>(StandardNormal)));
            f.solve_lt_into(scratch, &self.mean, out);
            return;
        }
        let z: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
        let u: Vec<f64> = match &self.factor {
            Factor::Dense(c) => {
                let mut v = DVector::from_vec(z);
                c.l_dirty().tr_solve_lower_triangular_mut(&mut v);
                v.iter().copied().collect()
            }
            Factor::Sparse(f) => f.solve_lt(&z),
        };
        for ((o, a), m) in out.iter_mut().zip(&u).zip(&self.mean) {
            *o = a + m;
        }
    }

    /// `rows` exact draws (a `rows x n` matrix) in parallel: block `b` of [`SAMPLE_BLOCK`] rows
    /// draws from `chain_rng(seed, b)`, so the result does not depend on the number of threads.
    pub fn sample_n(&self, rows: usize, seed: u64) -> DMatrix<f64> {
        self.sample_blocks(0, rows, seed)
    }

    /// Rows `first_block * SAMPLE_BLOCK ..` of the draws [`Self::sample_n`] gives (`rows` of
    /// them): what a caller streaming many rows in chunks of a multiple of [`SAMPLE_BLOCK`]
    /// rows asks for, chunk by chunk.
    pub fn sample_blocks(&self, first_block: usize, rows: usize, seed: u64) -> DMatrix<f64> {
        let n = self.dim();
        DMatrix::from_row_slice(rows, n, &self.sample_rows(first_block, rows, seed))
    }

    /// The draws of [`Self::sample_blocks`], row-major (`rows * n` values, row after row): for
    /// callers that write rows out, without the column-major copy.
    pub fn sample_rows(&self, first_block: usize, rows: usize, seed: u64) -> Vec<f64> {
        super::sample_rows_in_blocks(
            self.dim(),
            rows,
            SAMPLE_BLOCK,
            first_block,
            seed,
            |rng, row, scratch: &mut Vec<f64>| self.sample_into(rng, row, scratch),
        )
    }

    /// Fix the variables of `evidence` (variable `VarId(i)` is coordinate `i`): the GMRF of the free variables
    /// (precision `Λ_aa`, information `h_a - Λ_ab x_b`; sparse when this one is) and
    /// `ln ∫ p~(x_a, x_b) dx_a = ln Z_a - 1/2 x_b'Λ_bb x_b + h_b'x_b`, the log partition function
    /// of the model with the evidence clamped (what `ln Z` means for a discrete model with
    /// evidence). With no free variable left the GMRF is `None`. Errors: an index out of range or
    /// repeated, a non-finite value.
    pub fn condition(&self, evidence: &Evidence<f64>) -> Result<GmrfConditional> {
        let n = self.dim();
        evidence.check_len(n)?;
        let evidence = evidence.pairs();
        if evidence.is_empty() {
            // nothing to clamp: this model, without a second factorisation
            return Ok(GmrfConditional {
                free: (0..n).collect(),
                gmrf: Some(self.clone()),
                log_z: self.log_z,
            });
        }
        let idx: Vec<usize> = evidence.iter().map(|e| e.0).collect();
        super::mvn::check_indices(&idx, n, "evidence")?;
        let mut value = vec![f64::NAN; n];
        for &(i, v) in &evidence {
            if !v.is_finite() {
                return Err(Error::InvalidNumber {
                    what: "evidence value".into(),
                    value: v,
                });
            }
            value[i] = v;
        }
        let free: Vec<usize> = (0..n).filter(|&i| value[i].is_nan()).collect();
        let mut pos = vec![usize::MAX; n];
        for (k, &i) in free.iter().enumerate() {
            pos[i] = k;
        }
        // the constant: -1/2 x_b'Λ_bb x_b + h_b'x_b; and h_a - Λ_ab x_b
        let mut constant = 0.0;
        let mut h_a: Vec<f64> = free.iter().map(|&i| self.h[i]).collect();
        let mut triplets = Vec::new();
        let mut row = Vec::new();
        for i in 0..n {
            row.clear();
            match &self.lambda {
                Precision::Dense(a) => row.extend(
                    a.column(i)
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| **v != 0.0)
                        .map(|(j, &v)| (j, v)),
                ),
                Precision::Sparse(a) => row.extend(a.row(i)),
            }
            let xi = value[i];
            if xi.is_nan() {
                for &(j, v) in &row {
                    if value[j].is_nan() {
                        if j <= i {
                            triplets.push((pos[i], pos[j], v));
                        }
                    } else {
                        h_a[pos[i]] -= v * value[j];
                    }
                }
            } else {
                constant += self.h[i] * xi;
                for &(j, v) in &row {
                    if !value[j].is_nan() {
                        constant -= 0.5 * xi * v * value[j];
                    }
                }
            }
        }
        if free.is_empty() {
            if !constant.is_finite() {
                return Err(Error::Overflow {
                    what: format!("ln p~(evidence) is {constant} (evidence values too large)"),
                });
            }
            return Ok(GmrfConditional {
                free,
                gmrf: None,
                log_z: constant,
            });
        }
        let gmrf = match &self.lambda {
            Precision::Dense(_) => {
                let na = free.len();
                let mut a = DMatrix::zeros(na, na);
                for &(i, j, v) in &triplets {
                    a[(i, j)] = v;
                    a[(j, i)] = v;
                }
                Gmrf::dense(a, h_a)?
            }
            Precision::Sparse(_) => {
                Gmrf::sparse(SparseSym::from_triplets(free.len(), &triplets)?, h_a)?
            }
        };
        let log_z = gmrf.log_z() + constant;
        if !log_z.is_finite() {
            return Err(Error::Overflow {
                what: format!(
                    "ln Z of the model given the evidence is {log_z} (evidence values too large \
                     for the model)"
                ),
            });
        }
        Ok(GmrfConditional {
            free,
            gmrf: Some(gmrf),
            log_z,
        })
    }

    /// Means and variances (variables named `"0"`, `"1"`, ...).
    pub fn summary(&self) -> GaussianSummary {
        GaussianSummary {
            names: (0..self.dim()).map(|i| i.to_string()).collect(),
            means: self.mean.clone(),
            variances: self.variances(),
        }
    }

    /// The off-diagonal neighbours of `i` with their precision entries.
    fn neighbours(&self, i: usize, out: &mut Vec<(usize, f64)>) {
        out.clear();
        match &self.lambda {
            Precision::Dense(a) => out.extend(
                a.column(i)
                    .iter()
                    .enumerate()
                    .filter(|&(j, v)| j != i && *v != 0.0)
                    .map(|(j, &v)| (j, v)),
            ),
            Precision::Sparse(a) => out.extend(a.row(i).filter(|&(j, _)| j != i)),
        }
    }
}

impl Energy for Gmrf {
    fn dim(&self) -> usize {
        self.h.len()
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        self.log_density_unnormalized(x)
    }
    fn grad_log_density(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.precision_mul(x, grad);
        let mut ld = 0.0;
        for ((g, xi), hi) in grad.iter_mut().zip(x).zip(&self.h) {
            ld += -0.5 * xi * *g + hi * xi;
            *g = hi - *g;
        }
        ld
    }
}

/// Systematic-scan single-site Gibbs on a [`Gmrf`]: `x_i | rest ~ N((h_i - sum_j Λ_ij x_j) /
/// Λ_ii, 1 / Λ_ii)`. One [`ContinuousTransition::step`] is one sweep, `O(nnz)`.
#[derive(Debug, Clone, Copy)]
pub struct GmrfGibbs<'a> {
    gmrf: &'a Gmrf,
}

impl<'a> GmrfGibbs<'a> {
    /// The Gibbs kernel of `gmrf`.
    pub fn new(gmrf: &'a Gmrf) -> Self {
        GmrfGibbs { gmrf }
    }
}

impl ContinuousTransition for GmrfGibbs<'_> {
    type ChainState = Vec<(usize, f64)>;

    fn dim(&self) -> usize {
        self.gmrf.dim()
    }

    fn log_target(&self, x: &[f64]) -> f64 {
        self.gmrf.log_density_unnormalized(x)
    }

    fn init_chain(&self) -> Self::ChainState {
        Vec::new()
    }

    fn step<R: Rng + ?Sized>(
        &self,
        x: &mut [f64],
        nb: &mut Self::ChainState,
        _adapt: bool,
        rng: &mut R,
    ) -> StepStats {
        let g = self.gmrf;
        for i in 0..x.len() {
            g.neighbours(i, nb);
            let d = g.precision_entry(i, i);
            let s: f64 = nb.iter().map(|&(j, v)| v * x[j]).sum();
            let z: f64 = rng.sample(StandardNormal);
            x[i] = (g.h[i] - s) / d + z / d.sqrt();
        }
        StepStats {
            accept_prob: 1.0,
            accepted: true,
            evals: 0,
            divergent: false,
        }
    }
}
