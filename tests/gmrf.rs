//! Gaussian MRFs in information form: exact log Z against closed forms (dense random model,
//! lattices against their eigenvalues), sparse against dense, exact sampling and single-site
//! Gibbs against the exact moments, thread invariance, bad input.
//!
//! # Statistical tests and their level
//!
//! Seeded, never retried. Moment checks accept `|estimate - exact| <= z * standard error`
//! with `z` the Bonferroni quantile for a family-wise two-sided alpha of 0.001 over the checks
//! of one test (standard errors: `sd / sqrt(N)` for exact draws, the chain runner's MCSE for
//! Gibbs).

#![allow(clippy::needless_range_loop)]

use std::f64::consts::PI;
use std::time::Instant;

use nalgebra::{DMatrix, DVector};
use pgmkit::diagnostics::normal_quantile;
use pgmkit::gaussian::{Gmrf, GmrfGibbs, SparseSym, LN_2PI};
use pgmkit::model::Boundary;
use pgmkit::rng::chain_rng;
use pgmkit::sample::continuous::chains::{run_continuous_chains, ContinuousChainConfig};
use pgmkit::Error;
use rand::Rng;

/// `n/2 ln 2π - 1/2 ln det Λ + 1/2 h'Λ^-1 h` with an LU decomposition (independent of Cholesky).
fn closed_form_log_z(lam: &DMatrix<f64>, h: &[f64]) -> f64 {
    let n = lam.nrows();
    let lu = lam.clone().lu();
    let log_det: f64 = lu.u().diagonal().iter().map(|d| d.abs().ln()).sum();
    let hv = DVector::from_column_slice(h);
    let m = lu.solve(&hv).unwrap();
    0.5 * n as f64 * LN_2PI - 0.5 * log_det + 0.5 * hv.dot(&m)
}

fn random_dense(n: usize, seed: u64) -> (DMatrix<f64>, Vec<f64>) {
    let mut rng = chain_rng(seed, 0);
    let a = DMatrix::from_fn(n, n, |_, _| rng.random::<f64>() - 0.5);
    let lam = &a * a.transpose() / n as f64 + DMatrix::identity(n, n) * 0.05;
    let h: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect();
    (lam, h)
}

#[test]
fn dense_200_log_z_matches_closed_form() {
    let (lam, h) = random_dense(200, 1);
    let exact = closed_form_log_z(&lam, &h);
    let g = Gmrf::dense(lam.clone(), h.clone()).unwrap();
    let rel = (g.log_z() - exact).abs() / exact.abs();
    eprintln!(
        "dense 200: log Z = {} (closed form {exact}, rel {rel:e})",
        g.log_z()
    );
    assert!(rel < 1e-9, "{rel:e}");
    // the same matrix stored sparse
    let s = Gmrf::sparse(SparseSym::from_dense(&lam).unwrap(), h).unwrap();
    let rel = (s.log_z() - exact).abs() / exact.abs();
    assert!(rel < 1e-9, "sparse: {rel:e}");
    let v = g.variances();
    let vs = s.variances();
    for i in 0..200 {
        assert!((v[i] - vs[i]).abs() < 1e-9 * v[i]);
    }
}

/// Closed form of the open-boundary lattice `Λ = d I - c A`, `h = h0 * 1`: eigenvalues
/// `d - 2c (cos(πi/(R+1)) + cos(πj/(C+1)))` with separable sine eigenvectors.
fn lattice_log_z(rows: usize, cols: usize, d: f64, c: f64, h0: f64) -> f64 {
    let (r1, c1) = ((rows + 1) as f64, (cols + 1) as f64);
    // projection of the all-ones vector on the normalised sine vector k of a path of length m
    let proj = |k: usize, m: usize| {
        let m1 = (m + 1) as f64;
        (2.0 / m1).sqrt()
            * (1..=m)
                .map(|t| (PI * (k * t) as f64 / m1).sin())
                .sum::<f64>()
    };
    let pr: Vec<f64> = (1..=rows).map(|i| proj(i, rows)).collect();
    let pc: Vec<f64> = (1..=cols).map(|j| proj(j, cols)).collect();
    let mut log_det = 0.0;
    let mut quad = 0.0;
    for i in 1..=rows {
        for j in 1..=cols {
            let ev = d - 2.0 * c * ((PI * i as f64 / r1).cos() + (PI * j as f64 / c1).cos());
            log_det += ev.ln();
            let p = h0 * pr[i - 1] * pc[j - 1];
            quad += p * p / ev;
        }
    }
    0.5 * (rows * cols) as f64 * LN_2PI - 0.5 * log_det + 0.5 * quad
}

#[test]
fn lattice_100x100_log_z_matches_eigenvalues() {
    let (rows, cols, d, c, h0) = (100, 100, 4.2, 1.0, 0.3);
    let exact = lattice_log_z(rows, cols, d, c, h0);
    let t = Instant::now();
    let g = Gmrf::lattice(rows, cols, Boundary::Free, d, c, vec![h0; rows * cols]).unwrap();
    let lz = g.log_z();
    let secs = t.elapsed().as_secs_f64();
    let rel = (lz - exact).abs() / exact.abs();
    eprintln!("lattice 100x100: log Z = {lz} (eigenvalues {exact}, rel {rel:e}) in {secs:.3} s");
    assert!(rel < 1e-9, "{rel:e}");
}

#[test]
fn periodic_lattice_log_z_matches_eigenvalues() {
    let (rows, cols, d, c) = (16, 12, 4.5, 1.0);
    let mut log_det = 0.0;
    for i in 0..rows {
        for j in 0..cols {
            log_det += (d - 2.0
                * c
                * ((2.0 * PI * i as f64 / rows as f64).cos()
                    + (2.0 * PI * j as f64 / cols as f64).cos()))
            .ln();
        }
    }
    let exact = 0.5 * (rows * cols) as f64 * LN_2PI - 0.5 * log_det;
    let g = Gmrf::lattice(rows, cols, Boundary::Periodic, d, c, vec![0.0; rows * cols]).unwrap();
    assert!((g.log_z() - exact).abs() < 1e-9 * exact.abs());
}

#[test]
fn sparse_agrees_with_dense_on_a_lattice() {
    let (rows, cols) = (20, 30);
    let n = rows * cols;
    let h: Vec<f64> = (0..n).map(|i| ((i * 7) % 11) as f64 / 10.0 - 0.5).collect();
    let s = Gmrf::lattice(rows, cols, Boundary::Free, 4.3, 1.0, h.clone()).unwrap();
    let lam = SparseSym::lattice(rows, cols, Boundary::Free, 4.3, 1.0)
        .unwrap()
        .to_dense();
    let d = Gmrf::dense(lam.clone(), h.clone()).unwrap();
    assert!((s.log_z() - d.log_z()).abs() < 1e-10 * d.log_z().abs());
    assert!((s.log_z() - closed_form_log_z(&lam, &h)).abs() < 1e-9 * d.log_z().abs());
    let (vs, vd) = (s.variances(), d.variances());
    for i in 0..n {
        assert!((s.mean()[i] - d.mean()[i]).abs() < 1e-10);
        assert!((vs[i] - vd[i]).abs() < 1e-10 * vd[i]);
    }
    let x: Vec<f64> = (0..n).map(|i| (i as f64).cos()).collect();
    assert!(
        (s.log_density(&x).unwrap() - d.log_density(&x).unwrap()).abs() < 1e-9 * d.log_z().abs()
    );
}

#[test]
fn exact_samples_match_the_moments() {
    let (rows, cols) = (6, 7);
    let n = rows * cols;
    let h: Vec<f64> = (0..n).map(|i| (i % 5) as f64 * 0.3 - 0.6).collect();
    let g = Gmrf::lattice(rows, cols, Boundary::Free, 4.4, 1.0, h).unwrap();
    let rows_n = 40_000;
    let x = g.sample_n(rows_n, 5);
    let var = g.variances();
    let z = normal_quantile(1.0 - 0.0005 / (2 * n) as f64);
    let nf = rows_n as f64;
    for i in 0..n {
        let col = x.column(i);
        let m = col.sum() / nf;
        let v = col.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (nf - 1.0);
        assert!(
            (m - g.mean()[i]).abs() <= z * (var[i] / nf).sqrt(),
            "mean {i}"
        );
        // Var of a Gaussian sample variance: 2 sigma^4 / (N - 1)
        assert!(
            (v - var[i]).abs() <= z * var[i] * (2.0 / (nf - 1.0)).sqrt(),
            "var {i}"
        );
    }
    // dense storage samples the same law
    let gd = Gmrf::dense(g.precision_dense(), g.h().to_vec()).unwrap();
    let xd = gd.sample_n(rows_n, 6);
    for i in 0..n {
        let m = xd.column(i).sum() / nf;
        assert!(
            (m - g.mean()[i]).abs() <= z * (var[i] / nf).sqrt(),
            "dense mean {i}"
        );
    }
}

#[test]
fn sampling_is_thread_count_invariant() {
    let g = Gmrf::lattice(10, 10, Boundary::Free, 4.5, 1.0, vec![0.1; 100]).unwrap();
    let run = |t: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap()
            .install(|| g.sample_n(700, 9))
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn gibbs_means_within_mcse() {
    let (rows, cols) = (5, 5);
    let n = rows * cols;
    let h: Vec<f64> = (0..n).map(|i| (i % 3) as f64 * 0.5 - 0.5).collect();
    let g = Gmrf::lattice(rows, cols, Boundary::Free, 4.2, 1.0, h).unwrap();
    let kernel = GmrfGibbs::new(&g);
    let cfg = ContinuousChainConfig {
        chains: 4,
        warmup: 200,
        draws: 3000,
        seed: 3,
        ..Default::default()
    };
    let s = run_continuous_chains(&kernel, &cfg, None).unwrap();
    let z = normal_quantile(1.0 - 0.0005 / n as f64);
    for i in 0..n {
        let se = s.mcse[i].unwrap();
        assert!(
            (s.mean[i] - g.mean()[i]).abs() <= z * se,
            "{i}: {} vs {} (mcse {se})",
            s.mean[i],
            g.mean()[i]
        );
    }
    assert!(s.max_rhat.unwrap() < 1.01, "{:?}", s.max_rhat);

    // dense storage: the same law (neighbours read from the dense precision)
    let gd = Gmrf::dense(g.precision_dense(), g.h().to_vec()).unwrap();
    let sd = run_continuous_chains(&GmrfGibbs::new(&gd), &cfg, None).unwrap();
    for i in 0..n {
        assert!(
            (sd.mean[i] - g.mean()[i]).abs() <= z * sd.mcse[i].unwrap(),
            "dense {i}"
        );
    }
}

#[test]
fn bad_input_gives_typed_errors() {
    // not square
    let a = DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    assert!(matches!(
        Gmrf::dense(a, vec![0.0; 2]),
        Err(Error::DimensionMismatch { .. })
    ));
    // h of the wrong length
    assert!(matches!(
        Gmrf::dense(DMatrix::identity(3, 3), vec![0.0; 2]),
        Err(Error::DimensionMismatch {
            expected: 3,
            found: 2,
            ..
        })
    ));
    assert!(matches!(
        Gmrf::lattice(3, 3, Boundary::Free, 4.5, 1.0, vec![0.0; 8]),
        Err(Error::DimensionMismatch {
            expected: 9,
            found: 8,
            ..
        })
    ));
    // not positive definite: the open 10x10 lattice with d = 3 < 4 cos(π/11) c
    match Gmrf::lattice(10, 10, Boundary::Free, 3.0, 1.0, vec![0.0; 100]) {
        Err(Error::NotPositiveDefinite { pivot, .. }) => assert!(pivot <= 0.0),
        other => panic!("{other:?}"),
    }
    let mut a = DMatrix::identity(3, 3);
    a[(2, 2)] = -1.0;
    assert!(matches!(
        Gmrf::dense(a, vec![0.0; 3]),
        Err(Error::NotPositiveDefinite { index: 2, .. })
    ));
    // singular
    let a = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 1.0, 1.0]);
    assert!(matches!(
        Gmrf::dense(a, vec![0.0; 2]),
        Err(Error::NotPositiveDefinite { .. })
    ));
    // not symmetric
    let a = DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 0.0, 2.0]);
    assert!(matches!(
        Gmrf::dense(a, vec![0.0; 2]),
        Err(Error::InvalidModel(_))
    ));
    // not finite
    assert!(matches!(
        Gmrf::dense(DMatrix::identity(2, 2), vec![f64::NAN, 0.0]),
        Err(Error::InvalidNumber { .. })
    ));
    assert!(matches!(
        SparseSym::from_triplets(2, &[(0, 2, 1.0)]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        SparseSym::from_triplets(2, &[(0, 1, f64::INFINITY)]),
        Err(Error::InvalidNumber { .. })
    ));
    let g = Gmrf::dense(DMatrix::identity(2, 2), vec![0.0; 2]).unwrap();
    assert!(matches!(
        g.log_density(&[0.0]),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn gaussian_model_summary() {
    use pgmkit::gaussian::GaussianModel;
    let g = Gmrf::lattice(3, 4, Boundary::Free, 4.5, 1.0, vec![0.2; 12]).unwrap();
    let m = GaussianModel::Mrf(g.clone());
    let s = m.summary();
    assert_eq!(m.dim(), 12);
    assert_eq!(s.means, g.mean().to_vec());
    assert_eq!(m.log_z(), g.log_z());
    let cov = g.covariance();
    for i in 0..12 {
        assert!((s.variances[i] - cov[(i, i)]).abs() < 1e-12);
    }
    assert_eq!(m.sample_n(3, 1).shape(), (3, 12));
    // the same law as an MvNormal: equal normalised densities
    let mvn = g.to_mvn().unwrap();
    let x: Vec<f64> = (0..12).map(|i| (i as f64 * 0.9).cos()).collect();
    let (a, b) = (g.log_density(&x).unwrap(), mvn.log_density(&x).unwrap());
    assert!((a - b).abs() < 1e-10 * a.abs());
}

#[test]
fn gaussian_bp_means_and_walk_summability() {
    use pgmkit::gaussian::gabp::{gaussian_bp, GaussianBpOptions};
    // walk-summable lattice: rho(|R|) = 4 cos(π/21) / 4.2
    let lam = SparseSym::lattice(20, 20, Boundary::Free, 4.2, 1.0).unwrap();
    let h: Vec<f64> = (0..400)
        .map(|i| ((i * 13) % 7) as f64 / 7.0 - 0.4)
        .collect();
    let bp = gaussian_bp(&lam, &h, &GaussianBpOptions::default()).unwrap();
    let rho = 4.0 * (PI / 21.0).cos() / 4.2;
    assert!(
        (bp.spectral_radius - rho).abs() < 1e-6,
        "{} vs {rho}",
        bp.spectral_radius
    );
    assert!(bp.walk_summable && bp.convergence.converged());
    let g = Gmrf::sparse(lam, h).unwrap();
    let var = g.variances();
    for i in 0..400 {
        assert!((bp.means[i] - g.mean()[i]).abs() < 1e-9, "{i}");
        // loopy BP variances are too small but positive
        assert!(bp.variances[i] > 0.0 && bp.variances[i] <= var[i] * (1.0 + 1e-9));
    }
    // a chain is a tree: BP variances are exact
    let chain = SparseSym::lattice(1, 30, Boundary::Free, 2.5, 1.0).unwrap();
    let bp = gaussian_bp(&chain, &[0.3; 30], &GaussianBpOptions::default()).unwrap();
    let g = Gmrf::sparse(chain, vec![0.3; 30]).unwrap();
    let var = g.variances();
    for i in 0..30 {
        assert!((bp.variances[i] - var[i]).abs() < 1e-10 * var[i]);
    }
    // positive definite but not walk-summable: I + 0.3 S, S a signed complete graph on 5 nodes
    let mut t = Vec::new();
    for i in 0..5 {
        t.push((i, i, 1.0));
        for j in 0..i {
            let s = if (i * 3 + j) % 4 == 0 { -0.3 } else { 0.3 };
            t.push((i, j, s));
        }
    }
    let a = SparseSym::from_triplets(5, &t).unwrap();
    let min_eig = a.to_dense().symmetric_eigen().eigenvalues.min();
    assert!(min_eig > 0.0, "{min_eig}");
    let (rho, _) = pgmkit::gaussian::gabp::walk_summability(&a);
    assert!(rho > 1.0, "{rho}");
    let opts = GaussianBpOptions {
        stop: pgmkit::infer::variational::StopRule {
            max_iters: 200,
            ..Default::default()
        },
        ..Default::default()
    };
    match gaussian_bp(&a, &[1.0; 5], &opts) {
        Ok(r) => assert!(!r.walk_summable),
        Err(e) => assert!(matches!(e, Error::InvalidArgument(_)), "{e}"),
    }
    assert!(matches!(
        gaussian_bp(&a, &[1.0; 4], &opts),
        Err(Error::DimensionMismatch { .. })
    ));
}
