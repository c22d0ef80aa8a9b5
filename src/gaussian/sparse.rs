//! Sparse symmetric matrices and a sparse Cholesky factorisation for precision matrices.
//!
//! [`SparseSym`] stores both triangles in compressed rows (sorted columns). [`EnvelopeCholesky`]
//! factorises `P A P^T = L L^T` in *envelope* (profile, skyline) storage: row `i` of `L` is kept
//! densely from its first nonzero column `f_i` to the diagonal. The fill of a Cholesky factor
//! never leaves the envelope, so the envelope is allocated once and factorised row by row with
//! contiguous dot products. The ordering `P` is the better (smaller envelope) of the natural
//! order and reverse Cuthill–McKee ([`reverse_cuthill_mckee`]), which is what bounds the
//! envelope of lattices and other banded-like graphs: an `R x C` lattice (`C <= R`) has an
//! envelope of about `R C^2` entries and costs about `R C^3 / 2` flops (`10^8` for 100 x 100,
//! a fraction of a second).
//!
//! [`EnvelopeCholesky::inverse_diagonal`] computes the diagonal of `A^-1` by the Takahashi
//! recursion restricted to the envelope (a *selected inverse*: every entry of `A^-1` it needs
//! lies inside the envelope), at the cost of `sum_i c_i^2` where `c_i` is the column count of
//! `L` (about the cost of the factorisation).

use nalgebra::DMatrix;

use crate::error::{Error, Result};
use crate::model::Boundary;

/// A sparse symmetric matrix (both triangles stored, compressed rows, sorted column indices).
#[derive(Debug, Clone, PartialEq)]
pub struct SparseSym {
    n: usize,
    ptr: Vec<usize>,
    idx: Vec<usize>,
    val: Vec<f64>,
}

impl SparseSym {
    /// From triplets: each `(i, j, v)` adds `v` to entry `(i, j)` and, when `i != j`, to `(j, i)`
    /// as well (so give each off-diagonal pair once). Repeated triplets add up; explicit zeros
    /// are kept out. Errors: an index `>= n`, a non-finite value.
    pub fn from_triplets(n: usize, triplets: &[(usize, usize, f64)]) -> Result<Self> {
        // counting sort into rows (no per-row allocation), then sort and merge each row
        let mut count = vec![0usize; n + 1];
        for &(i, j, v) in triplets {
            if i >= n || j >= n {
                return Err(Error::DimensionMismatch {
                    what: format!("sparse matrix entry ({i}, {j}): index bound"),
                    expected: n,
                    found: i.max(j) + 1,
                });
            }
            if !v.is_finite() {
                return Err(Error::InvalidNumber {
                    what: format!("sparse matrix entry ({i}, {j})"),
                    value: v,
                });
            }
            count[i + 1] += 1;
            if i != j {
                count[j + 1] += 1;
            }
        }
        for r in 0..n {
            count[r + 1] += count[r];
        }
        let mut fill = count.clone();
        let mut ent = vec![(0usize, 0.0f64); count[n]];
        for &(i, j, v) in triplets {
            ent[fill[i]] = (j, v);
            fill[i] += 1;
            if i != j {
                ent[fill[j]] = (i, v);
                fill[j] += 1;
            }
        }
        drop(fill);
        let mut ptr = Vec::with_capacity(n + 1);
        let mut idx = Vec::with_capacity(ent.len());
        let mut val = Vec::with_capacity(ent.len());
        ptr.push(0);
        for r in 0..n {
            let row = &mut ent[count[r]..count[r + 1]];
            row.sort_by_key(|e| e.0);
            let mut k = 0;
            while k < row.len() {
                let j = row[k].0;
                // repeated entries add up in the order given (a stable merge)
                let mut s = 0.0;
                while k < row.len() && row[k].0 == j {
                    s += row[k].1;
                    k += 1;
                }
                if s != 0.0 {
                    idx.push(j);
                    val.push(s);
                }
            }
            ptr.push(idx.len());
        }
        Ok(SparseSym { n, ptr, idx, val })
    }

    /// From a dense symmetric matrix (zeros dropped). Errors: not square, not finite, not
    /// symmetric.
    pub fn from_dense(a: &DMatrix<f64>) -> Result<Self> {
        super::check_symmetric(a, a.nrows(), "precision matrix")?;
        let n = a.nrows();
        let mut t = Vec::new();
        for j in 0..n {
            for i in j..n {
                if a[(i, j)] != 0.0 {
                    t.push((i, j, a[(i, j)]));
                }
            }
        }
        Self::from_triplets(n, &t)
    }

    /// The lattice precision `d I - c A` of a `rows x cols` grid with 4-neighbour adjacency `A`
    /// (site `r * cols + c`; `Boundary::Periodic` wraps both dimensions, see
    /// [`crate::model::grid_edges`]). It is positive definite iff `d > 2 |c| (λ_r + λ_c)` with
    /// the largest adjacency eigenvalues of the two path (or cycle) graphs, e.g. always when
    /// `d > 4 |c|`. Errors: an empty grid, non-finite `d` or `c`.
    pub fn lattice(rows: usize, cols: usize, boundary: Boundary, d: f64, c: f64) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::InvalidArgument(format!(
                "a lattice needs at least one row and one column (got {rows} x {cols})"
            )));
        }
        for v in [d, c] {
            if !v.is_finite() {
                return Err(Error::InvalidNumber {
                    what: "lattice precision parameter".into(),
                    value: v,
                });
            }
        }
        let n = rows
            .checked_mul(cols)
            .filter(|&n| n <= isize::MAX as usize / 128)
            .ok_or_else(|| Error::AllocationTooLarge {
                what: format!("a {rows} x {cols} lattice"),
                bytes: rows as f64 * cols as f64 * 128.0,
                limit: crate::limits::default_memory_limit(),
            })?;
        crate::limits::check_alloc(
            &format!("a {rows} x {cols} lattice"),
            n,
            128,
            crate::limits::default_memory_limit(),
        )?;
        // straight into compressed rows: the entries of `from_triplets` over the diagonal and
        // `grid_edges` (a wrap edge that repeats an edge, on a side of two, adds up: -2c)
        let periodic = boundary == Boundary::Periodic;
        let mut ptr = Vec::with_capacity(n + 1);
        let mut idx = Vec::with_capacity(5 * n);
        let mut val = Vec::with_capacity(5 * n);
        ptr.push(0);
        let mut row: Vec<(usize, f64)> = Vec::with_capacity(5);
        for r in 0..rows {
            for k in 0..cols {
                let i = r * cols + k;
                row.clear();
                row.push((i, d));
                // neighbours along one dimension of length `len`, at position `at`
                for (len, at, step) in [(cols, k, 1), (rows, r, cols)] {
                    if at + 1 < len {
                        row.push((i + step, -c));
                    } else if periodic && len > 1 {
                        row.push((i + step - len * step, -c));
                    }
                    if at > 0 {
                        row.push((i - step, -c));
                    } else if periodic && len > 1 {
                        row.push((i + (len - 1) * step, -c));
                    }
                }
                row.sort_by_key(|e| e.0);
                let mut a = 0;
                while a < row.len() {
                    let (j, mut v) = row[a];
                    a += 1;
                    while a < row.len() && row[a].0 == j {
                        v += row[a].1;
                        a += 1;
                    }
                    if v != 0.0 {
                        idx.push(j);
                        val.push(v);
                    }
                }
                ptr.push(idx.len());
            }
        }
        Ok(SparseSym { n, ptr, idx, val })
    }

    /// Size `n` (the matrix is `n x n`).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Stored nonzeros (both triangles).
    pub fn nnz(&self) -> usize {
        self.idx.len()
    }

    /// The nonzeros of row `i` as `(column, value)`, by increasing column.
    pub fn row(&self, i: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let r = self.ptr[i]..self.ptr[i + 1];
        self.idx[r.clone()]
            .iter()
            .copied()
            .zip(self.val[r].iter().copied())
    }

    /// Entry `(i, j)` (binary search in row `i`).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let r = self.ptr[i]..self.ptr[i + 1];
        match self.idx[r.clone()].binary_search(&j) {
            Ok(k) => self.val[r.start + k],
            Err(_) => 0.0,
        }
    }

    /// The diagonal.
    pub fn diagonal(&self) -> Vec<f64> {
        (0..self.n).map(|i| self.get(i, i)).collect()
    }

    /// `y = A x`. `O(nnz)`.
    pub fn mul_vec(&self, x: &[f64], y: &mut [f64]) {
        for (i, yi) in y.iter_mut().enumerate().take(self.n) {
            let r = self.ptr[i]..self.ptr[i + 1];
            *yi = self.idx[r.clone()]
                .iter()
                .zip(&self.val[r])
                .map(|(&j, &v)| v * x[j])
                .sum();
        }
    }

    /// `x' A x`.
    pub fn quad_form(&self, x: &[f64]) -> f64 {
        (0..self.n)
            .map(|i| x[i] * self.row(i).map(|(j, v)| v * x[j]).sum::<f64>())
            .sum()
    }

    /// The dense matrix.
    pub fn to_dense(&self) -> DMatrix<f64> {
        let mut a = DMatrix::zeros(self.n, self.n);
        for i in 0..self.n {
            for (j, v) in self.row(i) {
                a[(i, j)] = v;
            }
        }
        a
    }

    /// Whether the stored pattern and values are symmetric (exactly).
    pub fn is_symmetric(&self) -> bool {
        (0..self.n).all(|i| self.row(i).all(|(j, v)| self.get(j, i) == v))
    }
}

/// Reverse Cuthill–McKee ordering of the graph of `a` (off-diagonal nonzeros): breadth-first
/// from a pseudo-peripheral node of each connected component (George–Liu), neighbours by
/// increasing degree, then reversed. Returns `perm` with `perm[new] = old`. `O(nnz log deg)`.
pub fn reverse_cuthill_mckee(a: &SparseSym) -> Vec<usize> {
    let n = a.n();
    let nbrs = |v: usize| a.row(v).map(|e| e.0).filter(move |&j| j != v);
    let deg: Vec<usize> = (0..n).map(|v| nbrs(v).count()).collect();
    let mut visited = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut level = vec![usize::MAX; n];
    // BFS levels from `s` (within the unvisited component); returns (last level nodes, depth)
    let bfs = |s: usize, level: &mut Vec<usize>, visited: &Vec<bool>| -> (Vec<usize>, usize) {
        let mut comp = vec![s];
        level[s] = 0;
        let mut h = 0;
        while h < comp.len() {
            let v = comp[h];
            h += 1;
            for w in nbrs(v) {
                if !visited[w] && level[w] == usize::MAX {
                    level[w] = level[v] + 1;
                    comp.push(w);
                }
            }
        }
        let depth = level[*comp.last().expect("non-empty")];
        let last: Vec<usize> = comp
            .iter()
            .copied()
            .filter(|&v| level[v] == depth)
            .collect();
        for &v in &comp {
            level[v] = usize::MAX;
        }
        (last, depth)
    };
    for s0 in 0..n {
        if visited[s0] {
            continue;
        }
        // pseudo-peripheral node: start at s0, move to a min-degree node of the last level
        // while the depth grows
        let mut s = s0;
        let (mut last, mut depth) = bfs(s, &mut level, &visited);
        for _ in 0..8 {
            let cand = *last
                .iter()
                .min_by_key(|&&v| (deg[v], v))
                .expect("non-empty");
            let (l2, d2) = bfs(cand, &mut level, &visited);
            if d2 > depth {
                s = cand;
                last = l2;
                depth = d2;
            } else {
                break;
            }
        }
        // Cuthill–McKee from s
        let start = order.len();
        visited[s] = true;
        order.push(s);
        let mut h = start;
        let mut buf = Vec::new();
        while h < order.len() {
            let v = order[h];
            h += 1;
            buf.clear();
            buf.extend(nbrs(v).filter(|&w| !visited[w]));
            buf.sort_by_key(|&w| (deg[w], w));
            for &w in &buf {
                if !visited[w] {
                    visited[w] = true;
                    order.push(w);
                }
            }
        }
    }
    order.reverse();
    order
}

/// First envelope column of every row of `P A P^T` (`perm[new] = old`, `inv[old] = new`).
fn envelope_first(a: &SparseSym, perm: &[usize], inv: &[usize]) -> Vec<usize> {
    perm.iter()
        .enumerate()
        .map(|(i, &old)| a.row(old).map(|(j, _)| inv[j]).fold(i, usize::min))
        .collect()
}

/// Entries of the envelope (lower triangle with diagonal) under the ordering `perm`.
pub fn envelope_size(a: &SparseSym, perm: &[usize]) -> usize {
    let mut inv = vec![0; perm.len()];
    for (new, &old) in perm.iter().enumerate() {
        inv[old] = new;
    }
    envelope_first(a, perm, &inv)
        .iter()
        .enumerate()
        .map(|(i, &f)| i - f + 1)
        .sum()
}

/// A Cholesky factor `P A P^T = L L^T` in envelope storage (see the module docs).
#[derive(Debug, Clone)]
pub struct EnvelopeCholesky {
    n: usize,
    perm: Vec<usize>,
    inv: Vec<usize>,
    first: Vec<usize>,
    start: Vec<usize>,
    l: Vec<f64>,
}

impl EnvelopeCholesky {
    /// Factorise `a` under the smaller-envelope of the natural and RCM orderings.
    /// Errors: [`Error::NotPositiveDefinite`] (naming `what` and the variable eliminated).
    pub fn new(a: &SparseSym, what: &str) -> Result<Self> {
        let natural: Vec<usize> = (0..a.n()).collect();
        let rcm = reverse_cuthill_mckee(a);
        let perm = if envelope_size(a, &rcm) < envelope_size(a, &natural) {
            rcm
        } else {
            natural
        };
        Self::with_ordering(a, perm, what)
    }

    /// Factorise `a` under the ordering `perm` (`perm[new] = old`, a permutation of `0..n`).
    pub fn with_ordering(a: &SparseSym, perm: Vec<usize>, what: &str) -> Result<Self> {
        let n = a.n();
        crate::error::check_dim("ordering", n, perm.len())?;
        let mut inv = vec![usize::MAX; n];
        for (new, &old) in perm.iter().enumerate() {
            if old >= n || inv[old] != usize::MAX {
                return Err(Error::InvalidArgument(
                    "the ordering is not a permutation".into(),
                ));
            }
            inv[old] = new;
        }
        let first = envelope_first(a, &perm, &inv);
        let entries: f64 = first
            .iter()
            .enumerate()
            .map(|(i, &f)| (i - f + 1) as f64)
            .sum();
        crate::limits::check_bytes(
            &format!("the Cholesky factor of the {what} ({entries:.0} envelope entries)"),
            // the factor, and twice its size again for the variances (inverse_diagonal)
            entries * 8.0 * 3.0,
            crate::limits::default_memory_limit(),
        )?;
        let mut start = Vec::with_capacity(n + 1);
        start.push(0);
        for i in 0..n {
            start.push(start[i] + i - first[i] + 1);
        }
        let mut l = vec![0.0; start[n]];
        for i in 0..n {
            let (done, rest) = l.split_at_mut(start[i]);
            let row = &mut rest[..i - first[i] + 1];
            let fi = first[i];
            let mut diag = 0.0;
            for (j, v) in a.row(perm[i]) {
                let jn = inv[j];
                if jn < i {
                    row[jn - fi] = v;
                } else if jn == i {
                    diag = v;
                }
            }
            for j in fi..i {
                let k0 = fi.max(first[j]);
                let lj = &done[start[j]..start[j + 1]];
                let fj = first[j];
                let s = dot(&row[k0 - fi..j - fi], &lj[k0 - fj..j - fj]);
                row[j - fi] = (row[j - fi] - s) / lj[j - fj];
            }
            let d = diag - dot(&row[..i - fi], &row[..i - fi]);
            if !(d > 0.0 && d.is_finite()) {
                return Err(Error::NotPositiveDefinite {
                    what: what.to_string(),
                    index: perm[i],
                    pivot: d,
                });
            }
            row[i - fi] = d.sqrt();
        }
        Ok(EnvelopeCholesky {
            n,
            perm,
            inv,
            first,
            start,
            l,
        })
    }

    /// Size.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Stored entries of `L`.
    pub fn envelope_len(&self) -> usize {
        self.l.len()
    }

    /// The ordering (`perm[new] = old`).
    pub fn ordering(&self) -> &[usize] {
        &self.perm
    }

    #[inline]
    fn diag(&self, i: usize) -> f64 {
        self.l[self.start[i + 1] - 1]
    }

    /// `ln det A = 2 sum ln L_ii`.
    pub fn log_det(&self) -> f64 {
        2.0 * (0..self.n).map(|i| self.diag(i).ln()).sum::<f64>()
    }

    /// Solve `L y = b` in place (permuted numbering).
    fn forward(&self, y: &mut [f64]) {
        for i in 0..self.n {
            let fi = self.first[i];
            let row = &self.l[self.start[i]..self.start[i + 1]];
            let s = dot(&row[..i - fi], &y[fi..i]);
            y[i] = (y[i] - s) / row[i - fi];
        }
    }

    /// Solve `L^T x = y` in place (permuted numbering).
    fn backward(&self, y: &mut [f64]) {
        for i in (0..self.n).rev() {
            let fi = self.first[i];
            let row = &self.l[self.start[i]..self.start[i + 1]];
            let xi = y[i] / row[i - fi];
            y[i] = xi;
            for (yk, &lik) in y[fi..i].iter_mut().zip(&row[..i - fi]) {
                *yk -= lik * xi;
            }
        }
    }

    /// Solve `A x = b`. `O(envelope)`.
    pub fn solve(&self, b: &[f64]) -> Vec<f64> {
        let mut y: Vec<f64> = self.perm.iter().map(|&o| b[o]).collect();
        self.forward(&mut y);
        self.backward(&mut y);
        (0..self.n).map(|o| y[self.inv[o]]).collect()
    }

    /// `x` with `P x = L^-T z`: for `z ~ N(0, I)`, `x ~ N(0, A^-1)`. `O(envelope)`.
    pub fn solve_lt(&self, z: &[f64]) -> Vec<f64> {
        let mut y = z.to_vec();
        self.backward(&mut y);
        (0..self.n).map(|o| y[self.inv[o]]).collect()
    }

    /// [`Self::solve_lt`] without allocating: `z` is overwritten (scratch) and the result,
    /// plus `shift`, written to `out` (original numbering).
    pub(crate) fn solve_lt_into(&self, z: &mut [f64], shift: &[f64], out: &mut [f64]) {
        self.backward(z);
        for ((o, &p), s) in out.iter_mut().zip(&self.inv).zip(shift) {
            *o = z[p] + s;
        }
    }

    /// The diagonal of `A^-1` (original numbering) by the Takahashi recursion on the envelope:
    /// for `i` from `n-1` down and `j` in `{i} ∪ C_i` (`C_i` the rows `k > i` whose envelope
    /// reaches column `i`), `S_ji = (δ_ij / L_ii - sum_{k in C_i} L_ki S_kj) / L_ii`.
    /// `O(sum_i |C_i|^2)` time, `O(envelope)` memory.
    pub fn inverse_diagonal(&self) -> Vec<f64> {
        let n = self.n;
        // column lists C_i (rows k > i with first[k] <= i), increasing k
        let mut cptr = vec![0usize; n + 1];
        for k in 0..n {
            for j in self.first[k]..k {
                cptr[j + 1] += 1;
            }
        }
        for j in 0..n {
            cptr[j + 1] += cptr[j];
        }
        let mut fill = cptr.clone();
        let mut crow = vec![0usize; cptr[n]];
        for k in 0..n {
            for j in self.first[k]..k {
                crow[fill[j]] = k;
                fill[j] += 1;
            }
        }
        let pos = |r: usize, c: usize| self.start[r] + c - self.first[r]; // r >= c, in envelope
        let mut s = vec![0.0; self.l.len()];
        let mut lcol = Vec::new();
        for i in (0..n).rev() {
            let col = &crow[cptr[i]..cptr[i + 1]];
            let lii = self.diag(i);
            lcol.clear();
            lcol.extend(col.iter().map(|&k| self.l[pos(k, i)]));
            // off-diagonal S_ji, j in C_i
            let mut acc_ii = 0.0;
            for &j in col {
                let mut t = 0.0;
                for (&k, &lki) in col.iter().zip(&lcol) {
                    let v = if k >= j { s[pos(k, j)] } else { s[pos(j, k)] };
                    t += lki * v;
                }
                let sji = -t / lii;
                s[pos(j, i)] = sji;
            }
            for (&k, &lki) in col.iter().zip(&lcol) {
                acc_ii += lki * s[pos(k, i)];
            }
            s[pos(i, i)] = (1.0 / lii - acc_ii) / lii;
        }
        (0..n).map(|o| s[pos(self.inv[o], self.inv[o])]).collect()
    }
}

/// `sum a_i b_i` with four accumulators.
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let chunks = n / 4;
    for c in 0..chunks {
        let k = 4 * c;
        acc[0] += a[k] * b[k];
        acc[1] += a[k + 1] * b[k + 1];
        acc[2] += a[k + 2] * b[k + 2];
        acc[3] += a[k + 3] * b[k + 3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for k in 4 * chunks..n {
        s += a[k] * b[k];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::grid_edges;

    #[test]
    fn lattice_matches_triplets_of_grid_edges() {
        let sizes = [
            (1, 1),
            (1, 2),
            (2, 1),
            (2, 2),
            (2, 3),
            (3, 2),
            (1, 5),
            (4, 4),
            (3, 5),
        ];
        for (rows, cols) in sizes {
            for boundary in [Boundary::Free, Boundary::Periodic] {
                for (d, c) in [(4.5, 1.0), (3.0, 0.0), (0.0, -0.5)] {
                    let a = SparseSym::lattice(rows, cols, boundary, d, c).unwrap();
                    let n = rows * cols;
                    let mut t: Vec<(usize, usize, f64)> = (0..n).map(|i| (i, i, d)).collect();
                    t.extend(
                        grid_edges(rows, cols, boundary)
                            .into_iter()
                            .map(|(i, j)| (i, j, -c)),
                    );
                    let b = SparseSym::from_triplets(n, &t).unwrap();
                    assert_eq!(
                        (&a.ptr, &a.idx),
                        (&b.ptr, &b.idx),
                        "{rows}x{cols} {boundary:?}"
                    );
                    assert_eq!(a.val, b.val);
                }
            }
        }
    }

    #[test]
    fn envelope_cholesky_matches_dense() {
        let a = SparseSym::lattice(5, 7, Boundary::Free, 4.5, 1.0).unwrap();
        let f = EnvelopeCholesky::new(&a, "test").unwrap();
        let d = a.to_dense();
        let c = d.clone().cholesky().unwrap();
        let ld: f64 = 2.0 * c.l().diagonal().iter().map(|x| x.ln()).sum::<f64>();
        assert!((f.log_det() - ld).abs() < 1e-10);
        let b: Vec<f64> = (0..35).map(|i| (i as f64).sin()).collect();
        let x = f.solve(&b);
        let xd = c.solve(&nalgebra::DVector::from_vec(b.clone()));
        for i in 0..35 {
            assert!((x[i] - xd[i]).abs() < 1e-12);
        }
        let inv = c.inverse();
        let diag = f.inverse_diagonal();
        for i in 0..35 {
            assert!((diag[i] - inv[(i, i)]).abs() < 1e-12, "{i}");
        }
        let p = reverse_cuthill_mckee(&a);
        let mut q = p.clone();
        q.sort();
        assert_eq!(q, (0..35).collect::<Vec<_>>());
    }

    #[test]
    fn not_positive_definite_names_the_row() {
        let a = SparseSym::from_triplets(3, &[(0, 0, 1.0), (1, 1, 1.0), (2, 2, -1.0)]).unwrap();
        let e = EnvelopeCholesky::new(&a, "precision").unwrap_err();
        assert!(
            matches!(e, Error::NotPositiveDefinite { index: 2, .. }),
            "{e}"
        );
    }
}
