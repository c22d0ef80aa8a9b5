//! Restricted Boltzmann machines: exact log Z against the junction tree, training on the
//! binarised digits, AIS log Z against the exact sum, the JSON format.

use pgmkit::infer::exact::{log_z, ExactOptions};
use pgmkit::infer::rbm::{
    rbm_ais, rbm_bdmc, rbm_reverse_ais, rbm_start_states, RbmAisOptions, StartStates,
};
use pgmkit::io::rbm_json::{parse_rbm, rbm_to_json};
use pgmkit::learn::rbm::{train_rbm, RbmMethod, RbmTrainOptions};
use pgmkit::model::rbm::Rbm;
use pgmkit::rng::chain_rng;
use pgmkit::{Error, Evidence};
use rand::Rng;

/// The binarised digits (64 pixels; the label column dropped).
fn digits(file: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let f = std::fs::File::open(format!("tests/data/digits/{file}")).unwrap();
    let t = pgmkit::data::binary::read_binary_csv(f, None, &["label".into()]).unwrap();
    (t.names, t.rows)
}

fn random_rbm(nv: usize, nh: usize, seed: u64) -> Rbm {
    let mut rng = chain_rng(seed, 0);
    let mut u = |s: f64| (rng.random::<f64>() - 0.5) * s;
    let b = (0..nv).map(|_| u(1.0)).collect();
    let c = (0..nh).map(|_| u(1.0)).collect();
    let w = (0..nh).map(|_| (0..nv).map(|_| u(2.0)).collect()).collect();
    Rbm::new((0..nv).map(|i| format!("v{i}")).collect(), b, c, w).unwrap()
}

/// Mean test log-likelihood per row: -mean F(v) - ln Z.
fn mean_ll(rbm: &Rbm, rows: &[Vec<f64>], log_z: f64) -> f64 {
    -rows.iter().map(|v| rbm.free_energy(v)).sum::<f64>() / rows.len() as f64 - log_z
}

#[test]
fn exact_log_z_matches_the_junction_tree() {
    // both branches: fewer hidden than visible units, and more
    for (nv, nh) in [(6, 4), (3, 7), (5, 5)] {
        let rbm = random_rbm(nv, nh, nv as u64 * 10 + nh as u64);
        let fg = rbm.to_factor_graph().unwrap();
        let jt = log_z(&fg, &Evidence::new(fg.num_vars()), &ExactOptions::default()).unwrap();
        let sum = rbm.log_z_exact().unwrap();
        assert!(
            (jt.log_z - sum).abs() < 1e-9,
            "{nv}x{nh}: {} vs {sum}",
            jt.log_z
        );
    }
}

#[test]
fn digits_rbm_trains_and_ais_matches_the_exact_log_z() {
    let (names, train) = digits("digits_train.csv");
    let (_, test) = digits("digits_test.csv");
    assert_eq!((names.len(), train.len(), test.len()), (64, 1437, 360));
    let opts = RbmTrainOptions {
        hidden: 20,
        epochs: 20,
        seed: 1,
        ..Default::default()
    };
    let t = train_rbm(names.clone(), &train, &opts).unwrap();
    let start = Rbm::zeros(names, 20).unwrap();
    let z0 = start.log_z_exact().unwrap();
    let t0 = std::time::Instant::now();
    let z = t.rbm.log_z_exact().unwrap();
    let exact_s = t0.elapsed().as_secs_f64();
    let (before, after) = (mean_ll(&start, &test, z0), mean_ll(&t.rbm, &test, z));
    eprintln!(
        "digits, 20 hidden, PCD 20 epochs in {:.2} s: exact test LL {after:.3} nats/image \
         (untrained {before:.3}); exact ln Z {z:.4} in {exact_s:.3} s",
        t.seconds
    );
    assert!(
        after > before + 5.0,
        "training did not help: {before} -> {after}"
    );
    // AIS from the base-rate model with the 2008 schedule, 100 particles
    let base = Rbm::base_rate_bias(&train, 64);
    let est = rbm_ais(
        &t.rbm,
        &base,
        &RbmAisOptions {
            seed: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let d = est.log_z - z;
    eprintln!(
        "AIS ({} steps, 100 particles): ln Z {:.4} ± {:.4} (exact {z:.4}, Δ {d:+.4}), ESS {:.1}, \
         {:.2} s",
        est.steps, est.log_z, est.std_err, est.ess, est.seconds
    );
    assert!(d.abs() < 0.05, "AIS off by {d}");
    assert!(
        d.abs() < 3.29 * est.std_err + 1e-3,
        "Δ {d} vs se {}",
        est.std_err
    );
}

#[test]
fn cd_and_pcd_are_reproducible() {
    let (names, train) = digits("digits_train.csv");
    let train = &train[..300];
    for method in [RbmMethod::Cd { k: 1 }, RbmMethod::Pcd] {
        let opts = RbmTrainOptions {
            hidden: 8,
            epochs: 3,
            method,
            seed: 5,
            ..Default::default()
        };
        let a = train_rbm(names.clone(), train, &opts).unwrap().rbm;
        let b = train_rbm(names.clone(), train, &opts).unwrap().rbm;
        assert_eq!(a, b, "{method:?}");
    }
    // AIS is the same for 1 and 2 threads
    let rbm = random_rbm(10, 6, 3);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                rbm_ais(
                    &rbm,
                    &[0.0; 10],
                    &RbmAisOptions {
                        particles: 16,
                        steps: Some(200),
                        seed: 1,
                        ..Default::default()
                    },
                )
                .unwrap()
                .log_weights
            })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn rbm_json_round_trips_and_rejects_bad_files() {
    let rbm = random_rbm(4, 3, 1);
    let back = parse_rbm(&rbm_to_json(&rbm)).unwrap();
    assert_eq!(back, rbm);
    for bad in [
        r#"{"format": "pgmkit-gmrf", "visible_names": ["a"], "visible_bias": [0], "hidden_bias": [], "weights": []}"#,
        r#"{"format": "pgmkit-rbm", "visible_names": ["a"], "visible_bias": [0, 1], "hidden_bias": [], "weights": []}"#,
        r#"{"format": "pgmkit-rbm", "visible_names": ["a"], "visible_bias": [0], "hidden_bias": [0], "weights": [[1, 2]]}"#,
        r#"{"format": "pgmkit-rbm", "visible_names": ["a"], "visible_bias": [0]"#,
    ] {
        assert!(parse_rbm(bad).is_err(), "{bad}");
    }
    assert!(matches!(
        parse_rbm("{\n  \"format\": 3 }"),
        Err(Error::Parse { line: 2, .. })
    ));
    // 0/1 tables: other cells, and columns the header lacks, are errors
    use pgmkit::data::binary::read_binary_csv;
    assert!(read_binary_csv("a,b\n1,2\n".as_bytes(), None, &[]).is_err());
    assert!(read_binary_csv("a,b\n1,0\n".as_bytes(), None, &["c".into()]).is_err());
    assert!(read_binary_csv("a,b\n1,0\n".as_bytes(), Some(&["z".into()]), &[]).is_err());
    // a wide machine refuses the exact sum before allocating anything
    let wide = Rbm::zeros((0..40).map(|i| format!("v{i}")).collect(), 40).unwrap();
    assert!(matches!(wide.log_z_exact(), Err(Error::TooLarge { .. })));
}

#[test]
fn exact_draws_follow_the_exact_distribution() {
    // a 4x3 machine (16 visible states): chi-square of 20,000 exact draws against p(v) at
    // alpha = 0.001 (15 degrees of freedom: 37.70); both branches (hidden or visible smaller)
    for (nv, nh) in [(4, 3), (4, 6)] {
        let rbm = random_rbm(nv, nh, 7 + nh as u64);
        let lz = rbm.log_z_exact().unwrap();
        let n = 20_000;
        let draws = rbm.exact_samples(n, 3).unwrap();
        let mut counts = vec![0usize; 1 << nv];
        for v in &draws {
            counts[v
                .iter()
                .enumerate()
                .map(|(i, &x)| (x as usize) << i)
                .sum::<usize>()] += 1;
        }
        let chi2: f64 = (0..1usize << nv)
            .map(|s| {
                let v: Vec<f64> = (0..nv).map(|i| ((s >> i) & 1) as f64).collect();
                let e = n as f64 * (-rbm.free_energy(&v) - lz).exp();
                (counts[s] as f64 - e).powi(2) / e
            })
            .sum();
        assert!(chi2 < 37.70, "{nv}x{nh}: chi2 {chi2}");
        // thread count does not change the draws
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(
            one.install(|| rbm.exact_samples(50, 3).unwrap()),
            draws[..50].to_vec()
        );
    }
    let big = Rbm::zeros((0..30).map(|i| format!("v{i}")).collect(), 30).unwrap();
    assert!(matches!(
        big.exact_samples(1, 0),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn reverse_ais_and_bdmc_bound_the_exact_log_z() {
    // a strongly coupled 12x10 machine: forward below, reverse above (in expectation), both
    // within 4 standard errors of the exact value; short paths keep the gap visible
    let rbm = random_rbm(12, 10, 5);
    let exact = rbm.log_z_exact().unwrap();
    let base = vec![0.0; 12];
    let opts = RbmAisOptions {
        particles: 200,
        steps: Some(300),
        seed: 9,
        ..Default::default()
    };
    let b = rbm_bdmc(&rbm, &base, &opts).unwrap();
    assert_eq!(b.starts, StartStates::Exact);
    let (f, r) = (&b.forward, &b.reverse);
    assert!(
        f.log_z < exact + 4.0 * f.std_err,
        "forward {} vs {exact}",
        f.log_z
    );
    assert!(
        r.log_z > exact - 4.0 * r.std_err,
        "reverse {} vs {exact}",
        r.log_z
    );
    assert!((b.gap() - (r.log_z - f.log_z)).abs() < 1e-12);
    assert_eq!(b.estimate().kind, pgmkit::infer::EstimateKind::Sandwich);
    // a long path closes the sandwich
    let long = RbmAisOptions {
        steps: Some(5000),
        ..opts.clone()
    };
    let b = rbm_bdmc(&rbm, &base, &long).unwrap();
    assert!(b.gap().abs() < 0.05, "gap {}", b.gap());
    assert!((b.forward.log_z - exact).abs() < 4.0 * b.forward.std_err + 1e-3);
    // reverse AIS from given starts; Gibbs starts when exact draws do not fit
    let (starts, kind) = rbm_start_states(&rbm, &base, 8, 10, 1).unwrap();
    assert_eq!((starts.len(), kind), (8, StartStates::Exact));
    let r = rbm_reverse_ais(&rbm, &base, &starts, &opts).unwrap();
    assert!(r.reverse && r.log_weights.len() == 8);
    assert!(rbm_reverse_ais(&rbm, &base, &[], &opts).is_err());
    assert!(rbm_reverse_ais(&rbm, &base, &[vec![0.0; 3]], &opts).is_err());
    let wide = random_rbm(24, 24, 2);
    let (s, kind) = rbm_start_states(&wide, &[0.0; 24], 4, 20, 1).unwrap();
    assert_eq!((s.len(), kind), (4, StartStates::Gibbs { sweeps: 20 }));
}
