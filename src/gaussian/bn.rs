//! Linear-Gaussian Bayesian networks.
//!
//! Every variable `i` has the CPD `X_i = b0_i + sum_k b_ik X_parent_k + e_i`,
//! `e_i ~ N(0, v_i)`, `v_i > 0`. With `B` the matrix of coefficients (`B[i][k] = b_ik`) and
//! `D = diag(v)`, the joint is `N(mu, (I-B)^-1 D (I-B)^-T)` and its precision is
//! `(I-B)^T D^-1 (I-B)`, as sparse as the moral graph.

use std::collections::HashMap;

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_distr::StandardNormal;

use super::mvn::{Conditional, MvNormal};
use super::{GaussianSummary, Gmrf, SparseSym, LN_2PI};
use crate::error::{Error, Result};
use crate::var::{Evidence, VarId};

/// Rows per RNG stream in [`GaussianBn::sample_n`].
pub const SAMPLE_BLOCK: usize = 1024;

/// One linear-Gaussian CPD: `X = intercept + sum_k coefficients[k] * X_parents[k] + N(0, variance)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearGaussianCpd {
    /// Parent variables (in the order of `coefficients`).
    pub parents: Vec<VarId>,
    /// `b0`.
    pub intercept: f64,
    /// `b_k`, one per parent.
    pub coefficients: Vec<f64>,
    /// Residual variance `v > 0`.
    pub variance: f64,
}

impl LinearGaussianCpd {
    /// The conditional mean given the full state `x` (indexed by variable).
    #[inline]
    pub fn mean_given(&self, x: &[f64]) -> f64 {
        self.intercept
            + self
                .parents
                .iter()
                .zip(&self.coefficients)
                .map(|(&p, &b)| b * x[p.index()])
                .sum::<f64>()
    }
}

/// A linear-Gaussian Bayesian network (see the module docs). Built with [`GaussianBnBuilder`]
/// or read with [`crate::io::gaussian_json::read_gbn`].
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianBn {
    names: Vec<String>,
    index: HashMap<String, VarId>,
    cpds: Vec<LinearGaussianCpd>,
    topo: Vec<VarId>,
}

/// Builds a [`GaussianBn`], validating as it goes.
#[derive(Debug, Clone, Default)]
pub struct GaussianBnBuilder {
    names: Vec<String>,
    index: HashMap<String, VarId>,
    cpds: Vec<Option<LinearGaussianCpd>>,
}

impl GaussianBnBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a variable; returns its id. Errors: an empty or duplicate name.
    pub fn add_variable(&mut self, name: impl Into<String>) -> Result<VarId> {
        let name = name.into();
        if name.is_empty() {
            return Err(Error::InvalidModel("a variable name is empty".into()));
        }
        if self.index.contains_key(&name) {
            return Err(Error::InvalidModel(format!("duplicate variable '{name}'")));
        }
        let i = VarId(self.names.len() as u32);
        self.index.insert(name.clone(), i);
        self.names.push(name);
        self.cpds.push(None);
        Ok(i)
    }

    /// Id of a variable added before.
    pub fn var(&self, name: &str) -> Result<VarId> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownVariable(name.to_string()))
    }

    /// Set the CPD of `var`: `X_var = intercept + sum_k coefficients[k] X_parents[k] + N(0, variance)`.
    ///
    /// Errors: unknown variable or parent ([`Error::UnknownVariable`]), a variable its own
    /// parent ([`Error::Cycle`]), a repeated parent, `coefficients.len() != parents.len()`
    /// ([`Error::DimensionMismatch`]), a non-finite intercept or coefficient
    /// ([`Error::InvalidNumber`]), `variance` not positive and finite
    /// ([`Error::NonPositiveVariance`]).
    pub fn set_cpd(
        &mut self,
        var: VarId,
        parents: &[VarId],
        intercept: f64,
        coefficients: &[f64],
        variance: f64,
    ) -> Result<()> {
        let n = self.names.len();
        if var.index() >= n {
            return Err(Error::UnknownVariable(format!("#{}", var.0)));
        }
        let name = &self.names[var.index()];
        let mut seen = std::collections::HashSet::new();
        for &p in parents {
            if p.index() >= n {
                return Err(Error::UnknownVariable(format!(
                    "#{} (parent of '{name}')",
                    p.0
                )));
            }
            if p == var {
                return Err(Error::Cycle(vec![name.clone(), name.clone()]));
            }
            if !seen.insert(p) {
                return Err(Error::InvalidModel(format!(
                    "'{}' is listed twice as a parent of '{name}'",
                    self.names[p.index()]
                )));
            }
        }
        if coefficients.len() != parents.len() {
            return Err(Error::DimensionMismatch {
                what: format!("coefficients of '{name}' (one per parent)"),
                expected: parents.len(),
                found: coefficients.len(),
            });
        }
        if let Some(v) = std::iter::once(&intercept)
            .chain(coefficients)
            .find(|v| !v.is_finite())
        {
            return Err(Error::InvalidNumber {
                what: format!("CPD of '{name}'"),
                value: *v,
            });
        }
        if !(variance > 0.0 && variance.is_finite()) {
            return Err(Error::NonPositiveVariance {
                var: name.clone(),
                value: variance,
            });
        }
        self.cpds[var.index()] = Some(LinearGaussianCpd {
            parents: parents.to_vec(),
            intercept,
            coefficients: coefficients.to_vec(),
            variance,
        });
        Ok(())
    }

    /// Finish. Errors: a variable without a CPD ([`Error::InvalidModel`]), a directed cycle
    /// ([`Error::Cycle`], listing it).
    pub fn build(self) -> Result<GaussianBn> {
        let mut cpds = Vec::with_capacity(self.cpds.len());
        for (i, c) in self.cpds.into_iter().enumerate() {
            cpds.push(c.ok_or_else(|| {
                Error::InvalidModel(format!("variable '{}' has no CPD", self.names[i]))
            })?);
        }
        let topo = topological_order(&self.names, &cpds)?;
        Ok(GaussianBn {
            names: self.names,
            index: self.index,
            cpds,
            topo,
        })
    }
}

/// Kahn's algorithm; on a cycle, find one by walking parents inside the unsorted remainder.
fn topological_order(names: &[String], cpds: &[LinearGaussianCpd]) -> Result<Vec<VarId>> {
    let n = cpds.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indeg = vec![0usize; n];
    for (i, c) in cpds.iter().enumerate() {
        indeg[i] = c.parents.len();
        for &p in &c.parents {
            children[p.index()].push(i);
        }
    }
    let mut order: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut head = 0;
    while head < order.len() {
        let v = order[head];
        head += 1;
        for &c in &children[v] {
            indeg[c] -= 1;
            if indeg[c] == 0 {
                order.push(c);
            }
        }
    }
    if order.len() == n {
        return Ok(order.into_iter().map(|i| VarId(i as u32)).collect());
    }
    // every remaining node has a remaining parent: walk parents until a node repeats
    let start = (0..n).find(|&i| indeg[i] > 0).expect("a node is left");
    let mut pos = vec![usize::MAX; n];
    let mut path = Vec::new();
    let mut v = start;
    while pos[v] == usize::MAX {
        pos[v] = path.len();
        path.push(v);
        v = cpds[v]
            .parents
            .iter()
            .find(|&&p| indeg[p.index()] > 0)
            .expect("a remaining node has a remaining parent")
            .index();
    }
    // path[pos[v]..] walks child -> parent; list it parent -> child
    let mut cyc: Vec<String> = path[pos[v]..]
        .iter()
        .rev()
        .map(|&i| names[i].clone())
        .collect();
    cyc.push(names[path[path.len() - 1]].clone());
    Err(Error::Cycle(cyc))
}

impl GaussianBn {
    /// Number of variables.
    pub fn num_vars(&self) -> usize {
        self.names.len()
    }

    /// Variable names, by index.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Id of the variable `name`.
    pub fn var(&self, name: &str) -> Result<VarId> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownVariable(name.to_string()))
    }

    /// The CPD of variable `v`.
    pub fn cpd(&self, v: VarId) -> &LinearGaussianCpd {
        &self.cpds[v.index()]
    }

    /// All CPDs, by variable.
    pub fn cpds(&self) -> &[LinearGaussianCpd] {
        &self.cpds
    }

    /// A topological order (parents before children).
    pub fn topological_order(&self) -> &[VarId] {
        &self.topo
    }

    /// Number of arcs.
    pub fn num_arcs(&self) -> usize {
        self.cpds.iter().map(|c| c.parents.len()).sum()
    }

    /// Evidence from `(name, value)` pairs. Errors: unknown names, a variable given twice,
    /// non-finite values.
    pub fn evidence(&self, pairs: &[(&str, f64)]) -> Result<Evidence<f64>> {
        let mut ev = Evidence::continuous(self.num_vars());
        for &(name, v) in pairs {
            let i = self.var(name)?;
            if ev.get(i).is_some() {
                return Err(Error::ConflictingEvidence(name.to_string()));
            }
            if !v.is_finite() {
                return Err(Error::InvalidNumber {
                    what: format!("evidence for '{name}'"),
                    value: v,
                });
            }
            ev.observe(i, v)?;
        }
        Ok(ev)
    }

    /// The coefficient matrix `B` (`B[(i, k)]` = coefficient of parent `k` in the CPD of `i`).
    pub fn weight_matrix(&self) -> DMatrix<f64> {
        let n = self.num_vars();
        let mut b = DMatrix::zeros(n, n);
        for (i, c) in self.cpds.iter().enumerate() {
            for (&p, &w) in c.parents.iter().zip(&c.coefficients) {
                b[(i, p.index())] = w;
            }
        }
        b
    }

    /// Residual variances `v_i`.
    pub fn residual_variances(&self) -> Vec<f64> {
        self.cpds.iter().map(|c| c.variance).collect()
    }

    /// Marginal means by topological recursion, `O(arcs)`.
    pub fn mean(&self) -> DVector<f64> {
        let mut mu = DVector::zeros(self.num_vars());
        for i in self.topo.iter().map(|v| v.index()) {
            mu[i] = self.cpds[i].mean_given(mu.as_slice());
        }
        mu
    }

    /// Joint covariance by topological recursion: for `j` before `i`,
    /// `Σ_ij = sum_k b_ik Σ_kj`, and `Σ_ii = v_i + sum_k b_ik Σ_ki`. `O(n^2 * mean parents)`.
    pub fn covariance(&self) -> DMatrix<f64> {
        let n = self.num_vars();
        let mut s = DMatrix::<f64>::zeros(n, n);
        for (t, i) in self.topo.iter().map(|v| v.index()).enumerate() {
            let c = &self.cpds[i];
            for j in self.topo[..t].iter().map(|v| v.index()) {
                let v: f64 = c
                    .parents
                    .iter()
                    .zip(&c.coefficients)
                    .map(|(&k, &b)| b * s[(k.index(), j)])
                    .sum();
                s[(i, j)] = v;
                s[(j, i)] = v;
            }
            let v: f64 = c
                .parents
                .iter()
                .zip(&c.coefficients)
                .map(|(&k, &b)| b * s[(k.index(), i)])
                .sum();
            s[(i, i)] = c.variance + v;
        }
        s
    }

    /// The joint multivariate normal. Errors only if rounding makes the covariance numerically
    /// indefinite ([`Error::NotPositiveDefinite`]).
    pub fn joint(&self) -> Result<MvNormal> {
        let n = self.num_vars();
        crate::limits::check_bytes(
            &format!("the joint covariance of {n} variables (dense {n} x {n}, and its factor)"),
            3.0 * 8.0 * n as f64 * n as f64,
            crate::limits::default_memory_limit(),
        )?;
        MvNormal::new(self.mean(), self.covariance())
    }

    /// Information form: the sparse precision `(I-B)^T D^-1 (I-B)` and `h = (I-B)^T D^-1 b0`,
    /// as triplets (each node adds `a a^T / v_i` with `a = e_i - sum_k b_ik e_k`). `O(sum of
    /// squared family sizes)`.
    pub fn precision_sparse(&self) -> Result<(SparseSym, Vec<f64>)> {
        let n = self.num_vars();
        let mut trip = Vec::new();
        let mut h = vec![0.0; n];
        for (i, c) in self.cpds.iter().enumerate() {
            let fam: Vec<(usize, f64)> = std::iter::once((i, 1.0))
                .chain(
                    c.parents
                        .iter()
                        .zip(&c.coefficients)
                        .map(|(&p, &b)| (p.index(), -b)),
                )
                .collect();
            let iv = 1.0 / c.variance;
            for (x, &(p, a)) in fam.iter().enumerate() {
                h[p] += a * c.intercept * iv;
                for &(q, b) in &fam[..=x] {
                    trip.push((p, q, a * b * iv));
                }
            }
        }
        // indices are in range; an entry can still overflow (coefficients near 1e308)
        let lam = SparseSym::from_triplets(n, &trip)?;
        if let Some(x) = h.iter().find(|x| !x.is_finite()) {
            return Err(Error::InvalidNumber {
                what: "the information vector of the network (intercepts or coefficients too \
                       large)"
                    .into(),
                value: *x,
            });
        }
        Ok((lam, h))
    }

    /// The dense precision `(I-B)^T D^-1 (I-B)`. Errors: an entry that overflows.
    pub fn precision(&self) -> Result<DMatrix<f64>> {
        Ok(self.precision_sparse()?.0.to_dense())
    }

    /// The network as a [`Gmrf`] in information form (sparse precision). Its `ln Z` is
    /// `1/2 sum_i (b0_i^2 / v_i + ln(2π v_i))`, the constant that makes the product of CPDs
    /// normalised.
    pub fn to_gmrf(&self) -> Result<Gmrf> {
        let (lam, h) = self.precision_sparse()?;
        Gmrf::sparse(lam, h)
    }

    /// `ln p(x)` of a full assignment (sum of the CPD log densities), `O(n + arcs)`. Errors: `x`
    /// of the wrong length.
    pub fn log_density(&self, x: &[f64]) -> Result<f64> {
        crate::error::check_dim("point for the log density", self.num_vars(), x.len())?;
        Ok(self
            .cpds
            .iter()
            .zip(x)
            .map(|(c, &xi)| {
                let r = xi - c.mean_given(x);
                -0.5 * (LN_2PI + c.variance.ln() + r * r / c.variance)
            })
            .sum())
    }

    /// One ancestral draw (variables in index order). `O(n + arcs)`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let mut x = vec![0.0; self.num_vars()];
        self.sample_into(rng, &mut x);
        x
    }

    fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, x: &mut [f64]) {
        for i in self.topo.iter().map(|v| v.index()) {
            let c = &self.cpds[i];
            let z: f64 = rng.sample(StandardNormal);
            x[i] = c.mean_given(x) + c.variance.sqrt() * z;
        }
    }

    /// `rows` ancestral draws as a `rows x n` matrix, in parallel: rows are cut into blocks of
    /// [`SAMPLE_BLOCK`] and block `b` draws from `chain_rng(seed, b)`, so the result does not
    /// depend on the number of threads.
    pub fn sample_n(&self, rows: usize, seed: u64) -> DMatrix<f64> {
        self.sample_blocks(0, rows, seed)
    }

    /// Rows `first_block * SAMPLE_BLOCK ..` of the draws [`Self::sample_n`] gives (`rows` of
    /// them): what a caller streaming many rows in chunks of a multiple of [`SAMPLE_BLOCK`]
    /// rows asks for, chunk by chunk.
    pub fn sample_blocks(&self, first_block: usize, rows: usize, seed: u64) -> DMatrix<f64> {
        let n = self.num_vars();
        let data = super::sample_rows_in_blocks(
            n,
            rows,
            SAMPLE_BLOCK,
            first_block,
            seed,
            |rng, row, _: &mut ()| self.sample_into(rng, row),
        );
        DMatrix::from_row_slice(rows, n, &data)
    }

    /// Exact posterior of the unobserved variables given `evidence`: mean, covariance and
    /// `ln p(evidence)`. `O(n^3)` for the joint, then Schur complement. For many rows with the
    /// same observed set, use `self.joint()?.conditioner(..)`. Errors: evidence for more
    /// variables than the network has.
    pub fn condition(&self, evidence: &Evidence<f64>) -> Result<Conditional> {
        evidence.check_len(self.num_vars())?;
        self.joint()?.condition(&evidence.pairs())
    }

    /// `ln p(evidence)`: the log density of the evidence under its marginal.
    pub fn log_evidence(&self, evidence: &Evidence<f64>) -> Result<f64> {
        evidence.check_len(self.num_vars())?;
        self.joint()?.log_evidence(&evidence.pairs())
    }

    /// Maximum-likelihood parameters for this network's structure from complete data: `data` has
    /// one row per case and one column per variable (in index order); rows with a non-finite
    /// entry (NaN marks a missing value) are skipped. The sample mean and the ML covariance
    /// (`1/n`) of the complete rows go to [`GaussianBn::fit_from_moments`], which is ordinary
    /// least squares of each variable on an intercept and its parents. `O(rows * n^2)`.
    ///
    /// Errors: a column count other than `num_vars` ([`Error::DimensionMismatch`]); fewer complete
    /// rows than the largest family needs (`parents + 2`); and those of
    /// [`GaussianBn::fit_from_moments`].
    pub fn fit_ml(&self, data: &DMatrix<f64>) -> Result<GaussianBn> {
        let n = self.num_vars();
        crate::error::check_dim("data columns (one per variable)", n, data.ncols())?;
        let rows: Vec<usize> = (0..data.nrows())
            .filter(|&r| data.row(r).iter().all(|v| v.is_finite()))
            .collect();
        let need = self
            .cpds
            .iter()
            .map(|c| c.parents.len() + 2)
            .max()
            .unwrap_or(1);
        if rows.len() < need {
            return Err(Error::InvalidArgument(format!(
                "maximum likelihood needs at least {need} complete rows for this network, found {}",
                rows.len()
            )));
        }
        let m = rows.len() as f64;
        let mut mean = vec![0.0; n];
        for &r in &rows {
            for (a, v) in mean.iter_mut().zip(data.row(r).iter()) {
                *a += v;
            }
        }
        mean.iter_mut().for_each(|a| *a /= m);
        let mut centred = DMatrix::<f64>::zeros(rows.len(), n);
        for (k, &r) in rows.iter().enumerate() {
            for c in 0..n {
                centred[(k, c)] = data[(r, c)] - mean[c];
            }
        }
        let cov = centred.tr_mul(&centred) / m;
        self.fit_from_moments(&mean, &cov)
    }

    /// CPD parameters for this structure from the first two moments of the variables (the M-step
    /// of EM, where they are the expected moments of the completed data): for each variable with
    /// parents `P`, `b = Σ_PP^-1 Σ_Pi`, `b0 = mean_i - b·mean_P`, `v = Σ_ii - Σ_iP b`.
    /// `O(sum |P|^3)`.
    ///
    /// Errors: `mean` or `cov` of another size ([`Error::DimensionMismatch`]); non-finite
    /// entries; collinear parents (`Σ_PP` numerically singular: [`Error::NotPositiveDefinite`]);
    /// a residual variance that is not positive ([`Error::NonPositiveVariance`]).
    pub fn fit_from_moments(&self, mean: &[f64], cov: &DMatrix<f64>) -> Result<GaussianBn> {
        let n = self.num_vars();
        crate::error::check_dim("mean vector", n, mean.len())?;
        super::check_symmetric(cov, n, "covariance matrix")?;
        if let Some(v) = mean.iter().find(|v| !v.is_finite()) {
            return Err(Error::InvalidNumber {
                what: "mean vector".into(),
                value: *v,
            });
        }
        let mut cpds = Vec::with_capacity(n);
        for (i, c) in self.cpds.iter().enumerate() {
            let p: Vec<usize> = c.parents.iter().map(|v| v.index()).collect();
            let (b0, coefficients, variance) = if p.is_empty() {
                (mean[i], Vec::new(), cov[(i, i)])
            } else {
                let s_pp = DMatrix::from_fn(p.len(), p.len(), |a, b| cov[(p[a], p[b])]);
                let s_pi = DVector::from_iterator(p.len(), p.iter().map(|&a| cov[(a, i)]));
                let what = format!(
                    "covariance of the parents of '{}' (collinear parents?)",
                    self.names[i]
                );
                let diag: Vec<f64> = s_pp.diagonal().iter().copied().collect();
                let chol = super::cholesky(s_pp, &what)?;
                // numerically collinear: a pivot tiny against its diagonal entry
                for (j, (&l, &d)) in chol.l_dirty().diagonal().iter().zip(&diag).enumerate() {
                    if l * l <= 1e-12 * d {
                        return Err(Error::NotPositiveDefinite {
                            what,
                            index: p[j],
                            pivot: l * l,
                        });
                    }
                }
                let b = chol.solve(&s_pi);
                let b0 = mean[i]
                    - p.iter()
                        .zip(b.iter())
                        .map(|(&a, w)| w * mean[a])
                        .sum::<f64>();
                (b0, b.iter().copied().collect(), cov[(i, i)] - s_pi.dot(&b))
            };
            if !(variance > 0.0 && variance.is_finite()) {
                return Err(Error::NonPositiveVariance {
                    var: self.names[i].clone(),
                    value: variance,
                });
            }
            cpds.push(LinearGaussianCpd {
                parents: c.parents.clone(),
                intercept: b0,
                coefficients,
                variance,
            });
        }
        Ok(GaussianBn {
            names: self.names.clone(),
            index: self.index.clone(),
            cpds,
            topo: self.topo.clone(),
        })
    }

    /// Means and variances of every variable.
    pub fn summary(&self) -> GaussianSummary {
        let cov = self.covariance();
        GaussianSummary {
            names: self.names.clone(),
            means: self.mean().iter().copied().collect(),
            variances: cov.diagonal().iter().copied().collect(),
        }
    }
}
