//! Gaussian Bayesian networks: the four bnlearn networks load; the joint mean and covariance
//! by topological recursion match `(I-B)^-1 b0` and `(I-B)^-1 D (I-B)^-T` and the empirical
//! moments of ancestral samples; conditioning matches the closed form; JSON round trips; bad
//! input gives typed errors.
//!
//! # Statistical tests and their level
//!
//! Seeded, never retried. Empirical means: `|mean_hat - mean| <= z sd / sqrt(N)` per variable;
//! empirical covariances: `|S_ij - Σ_ij| <= z sqrt((Σ_ii Σ_jj + Σ_ij^2) / N)` per entry (the
//! large-sample standard error of a Gaussian sample covariance), with `z` the Bonferroni
//! quantile for a family-wise two-sided alpha of 0.001 over all the checks of one network.

use nalgebra::{DMatrix, DVector};
use pgmkit::diagnostics::normal_quantile;
use pgmkit::gaussian::{GaussianBn, GaussianBnBuilder, MvNormal, LN_2PI};
use pgmkit::io::gaussian_json::{gbn_to_json, parse_gbn, read_gbn, write_gbn};
use pgmkit::{Error, Evidence, VarId};
use std::path::Path;

const NETS: [(&str, usize, usize); 4] = [
    ("ecoli70", 46, 70),
    ("magic-niab", 44, 66),
    ("magic-irri", 64, 102),
    ("arth150", 107, 150),
];

fn load(name: &str) -> GaussianBn {
    read_gbn(Path::new(&format!("tests/data/gbn/{name}.json"))).unwrap()
}

fn max_rel_diff(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs())) / scale
}

/// Covariance and mean computed independently: `(I-B)^-1 D (I-B)^-T`, `(I-B)^-1 b0`.
fn direct_moments(bn: &GaussianBn) -> (DVector<f64>, DMatrix<f64>) {
    let n = bn.num_vars();
    let a = DMatrix::identity(n, n) - bn.weight_matrix();
    let ainv = a.try_inverse().unwrap();
    let d = DMatrix::from_diagonal(&DVector::from_vec(bn.residual_variances()));
    let b0 = DVector::from_iterator(n, bn.cpds().iter().map(|c| c.intercept));
    (&ainv * b0, &ainv * d * ainv.transpose())
}

#[test]
fn networks_load_with_their_sizes() {
    for (name, nodes, arcs) in NETS {
        let bn = load(name);
        assert_eq!(bn.num_vars(), nodes, "{name}");
        assert_eq!(bn.num_arcs(), arcs, "{name}");
    }
}

#[test]
fn joint_moments_match_direct_computation() {
    for (name, _, _) in NETS {
        let bn = load(name);
        let (mu, sigma) = direct_moments(&bn);
        let cov = bn.covariance();
        let mean = bn.mean();
        let e = max_rel_diff(&cov, &sigma);
        assert!(e < 1e-10, "{name}: covariance relative error {e:e}");
        let em = (&mean - &mu).amax() / mu.amax().max(1.0);
        assert!(em < 1e-10, "{name}: mean relative error {em:e}");
        // information form: Λ Σ = I, and h = Λ mu
        let lam = bn.precision().unwrap();
        let eye = &lam * &cov;
        let ei = (eye - DMatrix::<f64>::identity(bn.num_vars(), bn.num_vars())).amax();
        assert!(ei < 1e-8, "{name}: |ΛΣ - I| = {ei:e}");
        let g = bn.to_gmrf().unwrap();
        let gm = DVector::from_column_slice(g.mean());
        assert!((&gm - &mean).amax() < 1e-8 * mean.amax().max(1.0), "{name}");
        let gv = g.variances();
        for i in 0..bn.num_vars() {
            assert!(
                (gv[i] - cov[(i, i)]).abs() < 1e-9 * cov[(i, i)],
                "{name} var {i}"
            );
        }
        // ln Z of the information form = 1/2 sum (b0^2 / v + ln 2π v)
        let lz: f64 = bn
            .cpds()
            .iter()
            .map(|c| 0.5 * (c.intercept * c.intercept / c.variance + LN_2PI + c.variance.ln()))
            .sum();
        assert!(
            (g.log_z() - lz).abs() < 1e-9 * lz.abs().max(1.0),
            "{name}: {} vs {lz}",
            g.log_z()
        );
        // the log density agrees with the joint normal's
        let joint = bn.joint().unwrap();
        let x = bn.sample(&mut pgmkit::rng::chain_rng(3, 0));
        let a = bn.log_density(&x).unwrap();
        let b = joint.log_density(&x).unwrap();
        assert!(
            (a - b).abs() < 1e-8 * a.abs().max(1.0),
            "{name}: {a} vs {b}"
        );
        let c = g.log_density(&x).unwrap();
        assert!(
            (a - c).abs() < 1e-8 * a.abs().max(1.0),
            "{name}: {a} vs {c}"
        );
    }
}

#[test]
fn ancestral_samples_match_the_moments() {
    let n_rows = 100_000;
    for name in ["ecoli70", "magic-niab"] {
        let bn = load(name);
        let n = bn.num_vars();
        let cov = bn.covariance();
        let mean = bn.mean();
        let x = bn.sample_n(n_rows, 11);
        assert_eq!(x.shape(), (n_rows, n));
        let nf = n_rows as f64;
        let m_hat = DVector::from_iterator(n, x.column_iter().map(|c| c.sum() / nf));
        let checks = n + n * (n + 1) / 2;
        let z = normal_quantile(1.0 - 0.0005 / checks as f64);
        for i in 0..n {
            let se = (cov[(i, i)] / nf).sqrt();
            assert!((m_hat[i] - mean[i]).abs() <= z * se, "{name} mean {i}");
        }
        let mut centred = x.clone();
        for (mut col, m) in centred.column_iter_mut().zip(m_hat.iter()) {
            col.add_scalar_mut(-m);
        }
        let s = centred.transpose() * &centred / (nf - 1.0);
        let mut worst = 0.0f64;
        for i in 0..n {
            for j in 0..=i {
                let se = ((cov[(i, i)] * cov[(j, j)] + cov[(i, j)].powi(2)) / nf).sqrt();
                let t = (s[(i, j)] - cov[(i, j)]).abs() / se;
                worst = worst.max(t);
                assert!(
                    t <= z,
                    "{name} cov ({i},{j}): {} vs {} ({t} se)",
                    s[(i, j)],
                    cov[(i, j)]
                );
            }
        }
        eprintln!("{name}: worst covariance deviation {worst:.2} se (bound {z:.2})");
    }
}

#[test]
fn sampling_is_thread_count_invariant() {
    let bn = load("magic-irri");
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| bn.sample_n(5000, 4));
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| bn.sample_n(5000, 4));
    assert_eq!(one, two);
}

/// Closed-form Gaussian conditioning with explicit inverses (independent of the Cholesky path).
fn closed_form(
    mu: &DVector<f64>,
    s: &DMatrix<f64>,
    obs: &[usize],
    vals: &[f64],
) -> (Vec<usize>, DVector<f64>, DMatrix<f64>, f64) {
    let n = mu.len();
    let free: Vec<usize> = (0..n).filter(|i| !obs.contains(i)).collect();
    let sub = |r: &[usize], c: &[usize]| DMatrix::from_fn(r.len(), c.len(), |i, j| s[(r[i], c[j])]);
    let sbb_inv = sub(obs, obs).try_inverse().unwrap();
    let sab = sub(&free, obs);
    let d = DVector::from_iterator(obs.len(), obs.iter().zip(vals).map(|(&i, v)| v - mu[i]));
    let m = DVector::from_iterator(free.len(), free.iter().map(|&i| mu[i])) + &sab * &sbb_inv * &d;
    let c = sub(&free, &free) - &sab * &sbb_inv * sab.transpose();
    let det = sub(obs, obs).determinant();
    let lp = -0.5 * (obs.len() as f64 * LN_2PI + det.ln() + (d.transpose() * &sbb_inv * &d)[0]);
    (free, m, c, lp)
}

#[test]
fn conditioning_matches_the_closed_form() {
    for (name, _, _) in NETS {
        let bn = load(name);
        let (mu, s) = direct_moments(&bn);
        let n = bn.num_vars();
        let x = bn.sample(&mut pgmkit::rng::chain_rng(9, 1));
        // observe every third variable at a sampled value, and a small set too
        for obs in [(0..n).step_by(3).collect::<Vec<_>>(), vec![n - 1, 0, n / 2]] {
            let ev: Vec<(usize, f64)> = obs.iter().map(|&i| (i, x[i])).collect();
            let post = bn.condition(&evid(n, &ev)).unwrap();
            let vals: Vec<f64> = obs.iter().map(|&i| x[i]).collect();
            let (free, m, c, lp) = closed_form(&mu, &s, &obs, &vals);
            assert_eq!(post.free, free);
            let em = (&post.mean - &m).amax() / m.amax().max(1.0);
            let ec = max_rel_diff(&post.cov, &c);
            assert!(em < 1e-8, "{name}: conditional mean error {em:e}");
            assert!(ec < 1e-8, "{name}: conditional covariance error {ec:e}");
            assert!(
                (post.log_evidence - lp).abs() < 1e-8 * lp.abs().max(1.0),
                "{name}: ln p(e) {} vs {lp}",
                post.log_evidence
            );
            assert!(
                (bn.log_evidence(&evid(n, &ev)).unwrap() - lp).abs() < 1e-8 * lp.abs().max(1.0)
            );
            // the marginal of the evidence as its own normal gives the same density
            let marg = bn.joint().unwrap().marginal(&obs).unwrap();
            let lm = marg.log_density(&vals).unwrap();
            assert!((lm - lp).abs() < 1e-8 * lp.abs().max(1.0));
        }
    }
}

#[test]
fn a_conditioner_is_reused_across_rows() {
    let bn = load("ecoli70");
    let joint = bn.joint().unwrap();
    let obs = [1usize, 5, 7, 20];
    let c = joint.conditioner(&obs).unwrap();
    for seed in 0..5u64 {
        let x = bn.sample(&mut pgmkit::rng::chain_rng(seed, 0));
        let vals: Vec<f64> = obs.iter().map(|&i| x[i]).collect();
        let ev: Vec<(usize, f64)> = obs.iter().map(|&i| (i, x[i])).collect();
        let direct = joint.condition(&ev).unwrap();
        let reused = c.condition(&vals).unwrap();
        assert_eq!(direct, reused);
    }
    // a subset of the posterior, in a given order
    let x = bn.sample(&mut pgmkit::rng::chain_rng(1, 0));
    let ev: Vec<(usize, f64)> = obs.iter().map(|&i| (i, x[i])).collect();
    let post = joint.condition(&ev).unwrap();
    let (m, c2) = post.subset(&[9, 2]).unwrap();
    let (p9, p2) = (
        post.free.iter().position(|&v| v == 9).unwrap(),
        post.free.iter().position(|&v| v == 2).unwrap(),
    );
    assert_eq!((m[0], m[1]), (post.mean[p9], post.mean[p2]));
    assert_eq!(c2[(0, 1)], post.cov[(p9, p2)]);
    assert!(matches!(post.subset(&[5]), Err(Error::InvalidArgument(_))));
    // no evidence: the joint itself, ln p = 0
    let none = bn.condition(&Evidence::continuous(bn.num_vars())).unwrap();
    assert_eq!(none.free.len(), bn.num_vars());
    assert_eq!(none.log_evidence, 0.0);
}

#[test]
fn evidence_by_name_and_small_example() {
    let mut b = GaussianBnBuilder::new();
    let x = b.add_variable("x").unwrap();
    let y = b.add_variable("y").unwrap();
    b.set_cpd(y, &[x], 0.5, &[2.0], 1.0).unwrap();
    b.set_cpd(x, &[], 1.0, &[], 4.0).unwrap();
    let bn = b.build().unwrap();
    let ev = bn.evidence(&[("y", 4.5)]).unwrap();
    let post = bn.condition(&ev).unwrap();
    assert!((post.mean[0] - 8.25 / 4.25).abs() < 1e-12);
    // ln p(y = 4.5) with y ~ N(2.5, 17)
    let lp = -0.5 * (LN_2PI + 17f64.ln() + 4.0 / 17.0);
    assert!((post.log_evidence - lp).abs() < 1e-12);
    assert!(matches!(
        bn.evidence(&[("z", 1.0)]),
        Err(Error::UnknownVariable(_))
    ));
    assert!(matches!(
        bn.evidence(&[("x", 1.0), ("x", 2.0)]),
        Err(Error::ConflictingEvidence(_))
    ));
    assert!(matches!(
        bn.evidence(&[("x", f64::NAN)]),
        Err(Error::InvalidNumber { .. })
    ));
}

#[test]
fn json_round_trip_is_exact() {
    let dir = std::env::temp_dir().join(format!("pgmkit-gbn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, _, _) in NETS {
        let bn = load(name);
        let text = gbn_to_json(&bn);
        assert_eq!(parse_gbn(&text).unwrap(), bn, "{name}");
        let p = dir.join(format!("{name}.json"));
        write_gbn(&bn, &p).unwrap();
        assert_eq!(read_gbn(&p).unwrap(), bn, "{name}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

const GOOD: &str = r#"{
  "nodes": ["a", "b"],
  "arcs": [["a", "b"]],
  "cpds": {
    "a": {"coefficients": {"(Intercept)": [1.0]}, "variance": [4.0], "parents": []},
    "b": {"coefficients": {"(Intercept)": [0.5], "a": [2.0]}, "variance": [1.0], "parents": ["a"]}
  }
}"#;

#[test]
fn json_bad_input_gives_typed_errors() {
    parse_gbn(GOOD).unwrap();
    // a string where a number is expected: parse error with line and column
    let bad = GOOD.replace("\"a\": [2.0]", "\"a\": [\"two\"]");
    match parse_gbn(&bad) {
        Err(Error::Parse { line, col, msg, .. }) => {
            assert_eq!(line, 6, "{msg}");
            assert!(col > 30, "{col}");
            assert!(msg.contains("expected f64"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    // syntax error
    assert!(matches!(
        parse_gbn("{\"nodes\": [,]}"),
        Err(Error::Parse { line: 1, .. })
    ));
    // non-positive variance
    let bad = GOOD.replace("\"variance\": [1.0]", "\"variance\": [-1.0]");
    match parse_gbn(&bad) {
        Err(Error::NonPositiveVariance { var, value }) => {
            assert_eq!(var, "b");
            assert_eq!(value, -1.0);
        }
        other => panic!("{other:?}"),
    }
    let bad = GOOD.replace("\"variance\": [4.0]", "\"variance\": [0]");
    assert!(matches!(
        parse_gbn(&bad),
        Err(Error::NonPositiveVariance { .. })
    ));
    // two numbers where one is expected
    let bad = GOOD.replace("\"variance\": [4.0]", "\"variance\": [4.0, 1.0]");
    assert!(matches!(
        parse_gbn(&bad),
        Err(Error::DimensionMismatch {
            expected: 1,
            found: 2,
            ..
        })
    ));
    // a coefficient for a variable that is not a parent
    let bad = GOOD.replace(
        "{\"(Intercept)\": [1.0]}",
        "{\"(Intercept)\": [1.0], \"b\": [3.0]}",
    );
    assert!(matches!(
        parse_gbn(&bad),
        Err(Error::DimensionMismatch {
            expected: 1,
            found: 2,
            ..
        })
    ));
    // a parent without a coefficient
    let bad = GOOD.replace(", \"a\": [2.0]", "");
    assert!(matches!(parse_gbn(&bad), Err(Error::InvalidModel(_))));
    // unknown parent
    let bad = GOOD.replace("\"parents\": [\"a\"]", "\"parents\": [\"c\"]");
    assert!(matches!(parse_gbn(&bad), Err(Error::UnknownVariable(_))));
    // arcs that disagree with the parents
    let bad = GOOD.replace("[[\"a\", \"b\"]]", "[[\"b\", \"a\"]]");
    assert!(matches!(parse_gbn(&bad), Err(Error::InvalidModel(_))));
    // a cycle
    let cyc = r#"{"nodes": ["a", "b"], "cpds": {
      "a": {"coefficients": {"(Intercept)": [0], "b": [1]}, "variance": [1], "parents": ["b"]},
      "b": {"coefficients": {"(Intercept)": [0], "a": [1]}, "variance": [1], "parents": ["a"]}}}"#;
    match parse_gbn(cyc) {
        Err(Error::Cycle(c)) => assert_eq!(c.len(), 3, "{c:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn builder_bad_input_gives_typed_errors() {
    let mut b = GaussianBnBuilder::new();
    let x = b.add_variable("x").unwrap();
    let y = b.add_variable("y").unwrap();
    assert!(matches!(b.add_variable("x"), Err(Error::InvalidModel(_))));
    assert!(matches!(
        b.set_cpd(y, &[x], 0.0, &[1.0, 2.0], 1.0),
        Err(Error::DimensionMismatch {
            expected: 1,
            found: 2,
            ..
        })
    ));
    assert!(matches!(
        b.set_cpd(y, &[x], 0.0, &[1.0], f64::NAN),
        Err(Error::NonPositiveVariance { .. })
    ));
    assert!(matches!(
        b.set_cpd(y, &[x], 0.0, &[1.0], f64::INFINITY),
        Err(Error::NonPositiveVariance { .. })
    ));
    assert!(matches!(
        b.set_cpd(y, &[x], f64::NAN, &[1.0], 1.0),
        Err(Error::InvalidNumber { .. })
    ));
    assert!(matches!(
        b.set_cpd(y, &[VarId(7)], 0.0, &[1.0], 1.0),
        Err(Error::UnknownVariable(_))
    ));
    assert!(matches!(
        b.set_cpd(y, &[y], 0.0, &[1.0], 1.0),
        Err(Error::Cycle(_))
    ));
    b.set_cpd(y, &[x], 0.0, &[1.0], 1.0).unwrap();
    // x has no CPD yet
    assert!(matches!(b.clone().build(), Err(Error::InvalidModel(_))));
    b.set_cpd(x, &[y], 0.0, &[1.0], 1.0).unwrap();
    match b.build() {
        Err(Error::Cycle(c)) => assert_eq!(c.len(), 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn singular_or_bad_covariances_are_typed_errors() {
    // rank-one covariance
    let s = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 1.0, 1.0]);
    match MvNormal::new(DVector::zeros(2), s) {
        Err(Error::NotPositiveDefinite { index, pivot, .. }) => {
            assert_eq!(index, 1);
            assert!(pivot <= 1e-15);
        }
        other => panic!("{other:?}"),
    }
    let s = DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    assert!(matches!(
        MvNormal::new(DVector::zeros(2), s),
        Err(Error::DimensionMismatch { .. })
    ));
    let s = DMatrix::<f64>::identity(3, 3);
    assert!(matches!(
        MvNormal::new(DVector::zeros(2), s),
        Err(Error::DimensionMismatch {
            expected: 2,
            found: 3,
            ..
        })
    ));
    let s = DMatrix::from_row_slice(2, 2, &[1.0, 0.5, 0.4, 1.0]);
    assert!(matches!(
        MvNormal::new(DVector::zeros(2), s),
        Err(Error::InvalidModel(_))
    ));
    // conditioning with bad evidence
    let m = MvNormal::new(DVector::zeros(2), DMatrix::identity(2, 2)).unwrap();
    assert!(matches!(
        m.condition(&[(2, 1.0)]),
        Err(Error::UnknownVariable(_))
    ));
    assert!(matches!(
        m.condition(&[(0, 1.0), (0, 2.0)]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        m.log_density(&[1.0]),
        Err(Error::DimensionMismatch { .. })
    ));
    let c = m.conditioner(&[0]).unwrap();
    assert!(matches!(
        c.condition(&[1.0, 2.0]),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn fit_ml_matches_least_squares_and_recovers_the_parameters() {
    let bn = load("ecoli70");
    let mut data = bn.sample_n(50_000, 21);
    // a few incomplete rows are skipped
    data[(3, 0)] = f64::NAN;
    data[(10, 5)] = f64::NAN;
    let fit = bn.fit_ml(&data).unwrap();
    let complete: Vec<usize> = (0..data.nrows()).filter(|&r| r != 3 && r != 10).collect();
    for i in 0..bn.num_vars() {
        let c = bn.cpd(VarId(i as u32));
        let f = fit.cpd(VarId(i as u32));
        assert_eq!(f.parents, c.parents);
        // independent least squares by SVD on the same rows
        let k = c.parents.len() + 1;
        let x = DMatrix::from_fn(complete.len(), k, |r, j| {
            if j == 0 {
                1.0
            } else {
                data[(complete[r], c.parents[j - 1].index())]
            }
        });
        let y = DVector::from_iterator(complete.len(), complete.iter().map(|&r| data[(r, i)]));
        let beta = x.clone().svd(true, true).solve(&y, 1e-12).unwrap();
        assert!(
            (beta[0] - f.intercept).abs() < 1e-7 * beta[0].abs().max(1.0),
            "{i}"
        );
        for j in 1..k {
            assert!((beta[j] - f.coefficients[j - 1]).abs() < 1e-7 * beta[j].abs().max(1.0));
        }
        let rss = (&y - &x * &beta).norm_squared() / complete.len() as f64;
        assert!(
            (rss - f.variance).abs() < 1e-7 * rss,
            "{i}: {rss} vs {}",
            f.variance
        );
        // recovery: the variance within 5 % (its relative sd is sqrt(2 / N) = 0.6 %)
        assert!((f.variance / c.variance - 1.0).abs() < 0.05, "{i}");
    }
    // bad input
    let narrow = DMatrix::<f64>::zeros(10, 3);
    assert!(matches!(
        bn.fit_ml(&narrow),
        Err(Error::DimensionMismatch {
            expected: 46,
            found: 3,
            ..
        })
    ));
    let few = bn.sample_n(2, 1);
    assert!(matches!(bn.fit_ml(&few), Err(Error::InvalidArgument(_))));
    // a constant column: its own residual variance is zero
    let mut flat = bn.sample_n(100, 2);
    flat.column_mut(1).fill(1.0);
    let r = bn.fit_ml(&flat);
    assert!(matches!(r, Err(Error::NonPositiveVariance { .. })), "{r:?}");
    // collinear parents: z on (x, y) with y = 2 x
    let mut b = GaussianBnBuilder::new();
    let (x, y, z) = (
        b.add_variable("x").unwrap(),
        b.add_variable("y").unwrap(),
        b.add_variable("z").unwrap(),
    );
    b.set_cpd(x, &[], 0.0, &[], 1.0).unwrap();
    b.set_cpd(y, &[], 0.0, &[], 1.0).unwrap();
    b.set_cpd(z, &[x, y], 0.0, &[1.0, 1.0], 1.0).unwrap();
    let small = b.build().unwrap();
    let mut d = small.sample_n(50, 3);
    for r in 0..50 {
        d[(r, 1)] = 2.0 * d[(r, 0)];
    }
    let r = small.fit_ml(&d);
    assert!(matches!(r, Err(Error::NotPositiveDefinite { .. })), "{r:?}");
    // from the exact moments, the parameters come back exactly
    let back = bn
        .fit_from_moments(bn.mean().as_slice(), &bn.covariance())
        .unwrap();
    for i in 0..bn.num_vars() {
        let (a, b) = (bn.cpd(VarId(i as u32)), back.cpd(VarId(i as u32)));
        assert!((a.intercept - b.intercept).abs() < 1e-8 * a.intercept.abs().max(1.0));
        assert!((a.variance - b.variance).abs() < 1e-8 * a.variance);
        for (x, y) in a.coefficients.iter().zip(&b.coefficients) {
            assert!((x - y).abs() < 1e-8 * x.abs().max(1.0));
        }
    }
}

#[test]
fn conditioning_by_missing_pattern_matches_per_row() {
    use pgmkit::gaussian::missing_patterns;
    let bn = load("magic-niab");
    let joint = bn.joint().unwrap();
    let mut data = bn.sample_n(40, 8);
    // three patterns: complete, first five missing, every fourth missing
    for r in 0..40 {
        match r % 3 {
            1 => (0..5).for_each(|c| data[(r, c)] = f64::NAN),
            2 => (0..44).step_by(4).for_each(|c| data[(r, c)] = f64::NAN),
            _ => {}
        }
    }
    let pats = missing_patterns(&data);
    assert_eq!(pats.len(), 3);
    assert_eq!(pats.iter().map(|p| p.rows.len()).sum::<usize>(), 40);
    for p in &pats {
        let c = joint.conditioner(&p.observed).unwrap();
        for &r in &p.rows {
            let vals: Vec<f64> = p.observed.iter().map(|&j| data[(r, j)]).collect();
            let ev: Vec<(usize, f64)> = p.observed.iter().map(|&j| (j, data[(r, j)])).collect();
            let direct = bn.condition(&evid(bn.num_vars(), &ev)).unwrap();
            let m = c.conditional_mean(&vals).unwrap();
            assert!((m - &direct.mean).amax() < 1e-9);
            assert!((c.log_evidence(&vals).unwrap() - direct.log_evidence).abs() < 1e-9);
        }
    }
}

/// Continuous evidence from `(index, value)` pairs.
fn evid(n: usize, pairs: &[(usize, f64)]) -> Evidence<f64> {
    let pairs: Vec<(VarId, f64)> = pairs.iter().map(|&(i, x)| (VarId(i as u32), x)).collect();
    Evidence::from_pairs(n, &pairs).unwrap()
}
