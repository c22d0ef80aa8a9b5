//! Learning undirected models: exact factor marginals against enumeration, gradients of both
//! objectives against finite differences, and the inverse Ising problem (recover a grid's
//! couplings and fields from its own exact samples).

use pgmkit::data::Dataset;
use pgmkit::factor::index::unflatten;
use pgmkit::factor::loglinear::LogLinear;
use pgmkit::infer::ais::exact_samples;
use pgmkit::infer::exact::{factor_marginals, ExactOptions};
use pgmkit::learn::markov::{fit, objective, MarkovLearnOptions, MarkovMethod, PcdOptions};
use pgmkit::model::{ising_grid, Boundary, FactorGraph, FactorGraphBuilder};
use pgmkit::rng::chain_rng;
use pgmkit::{Error, Evidence};
use rand::Rng;
use rand_distr::{Distribution, Normal};

/// A grid with couplings J ~ N(0, sj^2) and fields h ~ N(0, sh^2), drawn from `seed`.
fn random_grid(rows: usize, cols: usize, sj: f64, sh: f64, seed: u64) -> FactorGraph {
    let n = rows * cols;
    let mut rng = chain_rng(seed, 0);
    let nj = Normal::new(0.0, sj).unwrap();
    let nh = Normal::new(0.0, sh).unwrap();
    let j: Vec<f64> = (0..2 * n).map(|_| nj.sample(&mut rng)).collect();
    let h: Vec<f64> = (0..n).map(|_| nh.sample(&mut rng)).collect();
    // couplings keyed by the edge's lower site and direction (right, down)
    ising_grid(
        rows,
        cols,
        Boundary::Free,
        move |a, b| j[2 * a + usize::from(b != a + 1)],
        move |i| h[i],
    )
    .unwrap()
}

/// A small model with a three-variable factor and a ternary variable, for the per-entry tests.
fn mixed_model() -> FactorGraph {
    let mut b = FactorGraphBuilder::new();
    let a = b.add_variable_card("a", 2).unwrap();
    let c = b.add_variable_card("c", 3).unwrap();
    let d = b.add_variable_card("d", 2).unwrap();
    let e = b.add_variable_card("e", 2).unwrap();
    let mut rng = chain_rng(3, 0);
    let mut table = |k: usize| -> Vec<f64> { (0..k).map(|_| rng.random::<f64>() + 0.2).collect() };
    b.add_factor(&[a, c], table(6)).unwrap();
    b.add_factor(&[c, d, e], table(12)).unwrap();
    b.add_factor(&[a, e], table(4)).unwrap();
    b.add_factor(&[d], table(2)).unwrap();
    b.build().unwrap()
}

/// Exact samples of `fg` as a dataset.
fn samples(fg: &FactorGraph, n: usize, seed: u64) -> Dataset {
    let rows = exact_samples(
        fg,
        &Evidence::new(fg.num_vars()),
        n,
        seed,
        &ExactOptions::default(),
    )
    .unwrap();
    Dataset::from_rows(fg.vars(), &rows).unwrap()
}

#[test]
fn factor_marginals_match_enumeration() {
    let fg = mixed_model();
    let fm = factor_marginals(&fg, &ExactOptions::default()).unwrap();
    let cards = fg.cards();
    let total: usize = cards.iter().product();
    let mut x = vec![0; cards.len()];
    let mut z = 0.0;
    let mut acc: Vec<Vec<f64>> = fg
        .factors()
        .iter()
        .map(|f| vec![0.0; f.log_values().len()])
        .collect();
    for idx in 0..total {
        unflatten(&cards, idx, &mut x);
        let lp: f64 = fg.factors().iter().map(|f| f.log_value(&x)).sum();
        let p = lp.exp();
        z += p;
        for (k, f) in fg.factors().iter().enumerate() {
            let sc: Vec<usize> = f.scope().iter().map(|v| cards[v.index()]).collect();
            let st: Vec<usize> = f.scope().iter().map(|v| x[v.index()]).collect();
            acc[k][pgmkit::factor::index::flat_index(&sc, &st)] += p;
        }
    }
    assert!(
        (fm.log_z - z.ln()).abs() < 1e-12,
        "{} vs {}",
        fm.log_z,
        z.ln()
    );
    for (k, m) in fm.log_marginals.iter().enumerate() {
        for (e, &l) in m.iter().enumerate() {
            assert!(
                (l.exp() - acc[k][e] / z).abs() < 1e-12,
                "factor {k} entry {e}"
            );
        }
    }
}

/// Central finite differences of the objective against its gradient.
fn check_gradient(ll: &LogLinear, data: &Dataset, theta: &[f64], method: MarkovMethod) {
    let opts = MarkovLearnOptions {
        method,
        l2: 0.01,
        ..Default::default()
    };
    let (_, g) = objective(ll, data, theta, &opts).unwrap();
    let h = 1e-5;
    let mut worst = 0.0f64;
    for k in 0..theta.len() {
        let mut tp = theta.to_vec();
        tp[k] += h;
        let mut tm = theta.to_vec();
        tm[k] -= h;
        let fd = (objective(ll, data, &tp, &opts).unwrap().0
            - objective(ll, data, &tm, &opts).unwrap().0)
            / (2.0 * h);
        worst = worst.max((fd - g[k]).abs());
    }
    assert!(worst < 1e-7, "{method:?}: worst |fd - grad| = {worst}");
}

#[test]
fn gradients_match_finite_differences() {
    // Ising parameters on a grid, and one parameter per entry on a model with a ternary
    // variable and a three-variable factor
    let grid = random_grid(2, 3, 0.5, 0.3, 1);
    let data = samples(&grid, 400, 2);
    let ll = LogLinear::ising(&grid).unwrap();
    let theta: Vec<f64> = (0..ll.num_params()).map(|k| 0.1 * k as f64 - 0.4).collect();
    let mixed = mixed_model();
    let mdata = samples(&mixed, 400, 3);
    let (mll, mtheta) = LogLinear::per_entry(&mixed);
    for method in [
        MarkovMethod::Exact,
        MarkovMethod::PseudoLikelihood,
        MarkovMethod::Composite,
    ] {
        check_gradient(&ll, &data, &theta, method);
        check_gradient(&mll, &mdata, &mtheta, method);
    }
}

#[test]
fn inverse_ising_recovers_a_4x5_grid() {
    // the acceptance problem: J ~ N(0, 0.5^2), h ~ N(0, 0.3^2), 50 000 exact samples to learn
    // from and 50 000 more to test on
    let truth = random_grid(4, 5, 0.5, 0.3, 7);
    let train = samples(&truth, 50_000, 11);
    let test = samples(&truth, 50_000, 12);
    let ll = LogLinear::ising(&truth).unwrap();
    let true_theta = ll.theta_of_ising(&truth).unwrap();
    let score = MarkovLearnOptions {
        method: MarkovMethod::Exact,
        l2: 0.0,
        ..Default::default()
    };
    let (true_ll, _) = objective(&ll, &test, &true_theta, &score).unwrap();
    eprintln!("true model: test log-likelihood {true_ll:.5} nats per row");
    eprintln!(
        "| method | test LL - true | max |dθ| | RMS dθ | iterations | evaluations | seconds |"
    );
    for (method, tol) in [
        (MarkovMethod::Exact, 0.005),
        (MarkovMethod::PseudoLikelihood, 0.005),
        (MarkovMethod::Composite, 0.005),
        (MarkovMethod::Pcd, 0.02),
    ] {
        let opts = MarkovLearnOptions {
            method,
            l2: 1e-6,
            pcd: PcdOptions {
                seed: 21,
                ..PcdOptions::default()
            },
            ..Default::default()
        };
        let f = fit(&ll, &train, &vec![0.0; ll.num_params()], &opts).unwrap();
        assert!(f.converged, "{method:?} did not converge");
        let (test_ll, _) = objective(&ll, &test, &f.theta, &score).unwrap();
        let d: Vec<f64> = f
            .theta
            .iter()
            .zip(&true_theta)
            .map(|(a, b)| a - b)
            .collect();
        let max = d.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let rms = (d.iter().map(|x| x * x).sum::<f64>() / d.len() as f64).sqrt();
        eprintln!(
            "| {} | {:+.5} | {max:.4} | {rms:.4} | {} | {} | {:.2} |",
            method.name(),
            test_ll - true_ll,
            f.iterations,
            f.evaluations,
            f.seconds
        );
        assert!(
            (test_ll - true_ll).abs() <= tol,
            "{method:?}: test LL {test_ll} vs true {true_ll}"
        );
        assert!(max < 0.1, "{method:?}: max parameter error {max}");
    }
}

#[test]
fn learning_is_thread_count_invariant() {
    let truth = random_grid(3, 3, 0.5, 0.3, 5);
    let data = samples(&truth, 5000, 6);
    let ll = LogLinear::ising(&truth).unwrap();
    let run = |threads: usize, method: MarkovMethod| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let opts = MarkovLearnOptions {
            method,
            pcd: PcdOptions {
                chains: 64,
                steps: 50,
                ..PcdOptions::default()
            },
            ..Default::default()
        };
        pool.install(|| {
            fit(&ll, &data, &vec![0.0; ll.num_params()], &opts)
                .unwrap()
                .theta
        })
    };
    for method in [MarkovMethod::PseudoLikelihood, MarkovMethod::Pcd] {
        assert_eq!(run(1, method), run(2, method), "{method:?}");
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let truth = random_grid(2, 2, 0.5, 0.3, 1);
    let ll = LogLinear::ising(&truth).unwrap();
    let data = samples(&truth, 10, 1);
    let zero = vec![0.0; ll.num_params()];
    assert!(matches!(
        fit(&ll, &data, &zero[1..], &MarkovLearnOptions::default()),
        Err(Error::DimensionMismatch { .. })
    ));
    let bad = MarkovLearnOptions {
        l2: -1.0,
        ..Default::default()
    };
    assert!(matches!(
        fit(&ll, &data, &zero, &bad),
        Err(Error::InvalidArgument(_))
    ));
    // a ternary variable has no Ising parametrisation; a three-variable factor neither
    assert!(matches!(
        LogLinear::ising(&mixed_model()),
        Err(Error::InvalidModel(_))
    ));
}

#[test]
fn pcd_converges_to_the_exact_optimum() {
    // a 3x3 grid: PCD (2000 chains, 3000 steps, seeded) against the exact maximum-likelihood
    // parameters of the same data; tolerance 0.01 on every parameter (seen: 0.0016)
    let truth = random_grid(3, 3, 0.5, 0.3, 9);
    let data = samples(&truth, 20_000, 10);
    let ll = LogLinear::ising(&truth).unwrap();
    let zero = vec![0.0; ll.num_params()];
    let exact = fit(
        &ll,
        &data,
        &zero,
        &MarkovLearnOptions {
            method: MarkovMethod::Exact,
            ..Default::default()
        },
    )
    .unwrap();
    let pcd = fit(
        &ll,
        &data,
        &zero,
        &MarkovLearnOptions {
            method: MarkovMethod::Pcd,
            pcd: PcdOptions {
                chains: 2000,
                steps: 3000,
                seed: 4,
                ..PcdOptions::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    let worst = exact
        .theta
        .iter()
        .zip(&pcd.theta)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f64, f64::max);
    eprintln!(
        "PCD vs exact ML on a 3x3 grid: max |dθ| {worst:.4} ({:.2} s)",
        pcd.seconds
    );
    assert!(worst < 0.01, "max |θ_pcd - θ_exact| = {worst}");
}

#[test]
fn potts_parameters_are_recovered() {
    // a 3x3 Potts grid with 3 states: couplings 0.6, fields favouring state 2 at the corners
    let truth = pgmkit::model::potts_grid(
        3,
        3,
        3,
        Boundary::Free,
        |_, _| 0.6,
        |i, s| {
            if i % 2 == 0 && s == 2 {
                0.5
            } else {
                0.0
            }
        },
    )
    .unwrap();
    let ll = LogLinear::potts(&truth).unwrap();
    let data = samples(&truth, 30_000, 4);
    let f = fit(
        &ll,
        &data,
        &vec![0.0; ll.num_params()],
        &MarkovLearnOptions {
            method: MarkovMethod::Exact,
            l2: 1e-6,
            ..Default::default()
        },
    )
    .unwrap();
    let names = ll.param_names();
    for (n, t) in names.iter().zip(&f.theta) {
        let expect = if n.starts_with('J') {
            0.6
        } else if n.ends_with("=2)") && {
            let site: usize = n[3..n.find('=').unwrap()]
                .split('_')
                .map(|x| x.parse::<usize>().unwrap())
                .fold(0, |a, x| a * 3 + x);
            site % 2 == 0
        } {
            0.5
        } else {
            0.0
        };
        assert!((t - expect).abs() < 0.1, "{n}: {t} vs {expect}");
    }
    // a pair of variables with different numbers of states has no Potts coupling
    assert!(matches!(
        LogLinear::potts(&mixed_model()),
        Err(Error::InvalidModel(_))
    ));
}

#[test]
fn l1_finds_the_missing_couplings() {
    // a 4x4 grid whose vertical couplings are all 0: with an L1 penalty, OWL-QN sets most of
    // them exactly to 0 and keeps the horizontal ones
    let truth = ising_grid(
        4,
        4,
        Boundary::Free,
        |a, b| if b == a + 1 { 0.6 } else { 0.0 },
        |_| 0.0,
    )
    .unwrap();
    let data = samples(&truth, 20_000, 8);
    let ll = LogLinear::ising(&truth).unwrap();
    for method in [MarkovMethod::PseudoLikelihood, MarkovMethod::Exact] {
        let f = fit(
            &ll,
            &data,
            &vec![0.0; ll.num_params()],
            &MarkovLearnOptions {
                method,
                l1: 0.01,
                l2: 0.0,
                ..Default::default()
            },
        )
        .unwrap();
        let truth_theta = ll.theta_of_ising(&truth).unwrap();
        let (mut zero_ok, mut zeros, mut kept) = (0, 0, 0);
        for (t, e) in f.theta.iter().zip(&truth_theta) {
            if *e == 0.0 {
                zeros += 1;
                zero_ok += usize::from(*t == 0.0);
            } else {
                kept += usize::from(*t > 0.3);
            }
        }
        let nonzero = truth_theta.iter().filter(|e| **e != 0.0).count();
        eprintln!("{method:?}: {zero_ok} of {zeros} zero parameters exactly 0; {kept} of {nonzero} couplings kept");
        assert!(
            zero_ok * 4 >= zeros * 3,
            "{method:?}: only {zero_ok} of {zeros} zeros"
        );
        assert_eq!(kept, nonzero, "{method:?}");
    }
}
