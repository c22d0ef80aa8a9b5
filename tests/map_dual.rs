//! MAP by the LP dual (MPLP): the bound is never below the exact optimum, the assignment's
//! value is recomputed from the tables, the gap closes on tight models.

use pgmkit::infer::exact::{mpe, ExactOptions};
use pgmkit::infer::map::{map_dual, DualOptions};
use pgmkit::model::{ising_grid, Boundary};
use pgmkit::Evidence;
use proptest::prelude::*;

#[path = "common/cli.rs"]
mod cli_common;

#[test]
fn spin_glass_bound_is_valid_and_decreases() {
    // a 6x6 spin glass: exact MPE by the junction tree
    let g = ising_grid(
        6,
        6,
        Boundary::Free,
        |a, b| if (a * 7 + b * 3) % 5 < 2 { -1.0 } else { 0.8 },
        |i| 0.1 * ((i % 3) as f64 - 1.0),
    )
    .unwrap();
    let ev = Evidence::new(36);
    let ex = mpe(&g, &ev, &ExactOptions::default()).unwrap();
    let one = map_dual(
        &g,
        &ev,
        &DualOptions {
            max_sweeps: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let many = map_dual(&g, &ev, &DualOptions::default()).unwrap();
    eprintln!(
        "exact {}, 1 sweep: value {} bound {}, {} sweeps: value {} bound {}",
        ex.log_value, one.log_value, one.upper_bound, many.sweeps, many.log_value, many.upper_bound
    );
    for r in [&one, &many] {
        assert!(r.upper_bound >= ex.log_value - 1e-9);
        assert!(r.log_value <= ex.log_value + 1e-9);
    }
    assert!(many.upper_bound < one.upper_bound || many.optimal);
}

/// A random factor graph with zeros and ties (as in tests/mpe.rs), over 2-7 variables.
fn random_graph(seed: u64) -> pgmkit::model::FactorGraph {
    use pgmkit::factor::TableFactor;
    use pgmkit::{VarId, Variable};
    use rand::Rng;
    let mut rng = pgmkit::rng::chain_rng(seed, 1);
    let n = rng.random_range(2..8usize);
    let cards: Vec<usize> = (0..n).map(|_| rng.random_range(2..4usize)).collect();
    let vars: Vec<Variable> = cards
        .iter()
        .enumerate()
        .map(|(i, &c)| Variable::with_cardinality(format!("v{i}"), c))
        .collect();
    let mut factors = Vec::new();
    for _ in 0..rng.random_range(1..12usize) {
        let k = rng.random_range(1..4usize).min(n);
        let mut scope: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = rng.random_range(i..n);
            scope.swap(i, j);
        }
        let mut scope = scope[..k].to_vec();
        scope.sort_unstable();
        let fc: Vec<usize> = scope.iter().map(|&v| cards[v]).collect();
        let vals: Vec<f64> = (0..fc.iter().product::<usize>())
            .map(|_| match rng.random_range(0..8u8) {
                0 => f64::NEG_INFINITY,
                1 => 0.0,
                _ => rng.random_range(-3.0..3.0),
            })
            .collect();
        factors.push(
            TableFactor::new(scope.iter().map(|&v| VarId(v as u32)).collect(), fc, vals).unwrap(),
        );
    }
    pgmkit::model::FactorGraph::new(vars, factors).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn bound_and_value_bracket_the_exact_optimum(seed in any::<u64>()) {
        let g = random_graph(seed);
        let ev = Evidence::new(g.num_vars());
        let Ok(ex) = mpe(&g, &ev, &ExactOptions::default()) else {
            return Ok(());
        };
        let r = map_dual(&g, &ev, &DualOptions::default()).unwrap();
        let tol = 1e-9 * ex.log_value.abs().max(1.0);
        prop_assert!(r.upper_bound >= ex.log_value - tol, "{} < {}", r.upper_bound, ex.log_value);
        prop_assert!(r.log_value <= ex.log_value + tol);
        if r.log_value.is_finite() {
            let v: f64 = g.factors().iter().map(|f| f.log_value(&r.assignment)).sum();
            prop_assert!((v - r.log_value).abs() <= tol);
        }
        if r.optimal {
            prop_assert!((r.log_value - ex.log_value).abs() <= 1e-6 * ex.log_value.abs().max(1.0));
        }
    }
}

#[test]
fn uai_instances_bound_the_exact_optimum() {
    for name in [
        "Promedus_26",
        "ObjectDetection_11",
        "Segmentation_11",
        "CSP_11",
        "Grids_11",
    ] {
        let p = std::path::PathBuf::from(format!("tests/data/uai/{name}.uai"));
        let g = pgmkit::io::load_model(&p, &Default::default())
            .unwrap()
            .to_factor_graph();
        let text = std::fs::read_to_string(p.with_extension("uai.evid")).unwrap_or_default();
        let ev = if text.trim().is_empty() {
            Evidence::new(g.num_vars())
        } else {
            pgmkit::io::uai::parse_evid(&text, g.vars()).unwrap()
        };
        let Ok(ex) = mpe(&g, &ev, &ExactOptions::default()) else {
            continue;
        };
        let r = map_dual(
            &g,
            &ev,
            &DualOptions {
                max_sweeps: 200,
                ..Default::default()
            },
        )
        .unwrap();
        eprintln!(
            "{name}: exact {:.6}, dual value {:.6}, bound {:.6}, {} sweeps, {:.2} s",
            ex.log_value, r.log_value, r.upper_bound, r.sweeps, r.seconds
        );
        let tol = 1e-9 * ex.log_value.abs().max(1.0);
        assert!(r.upper_bound >= ex.log_value - tol, "{name}");
        assert!(r.log_value <= ex.log_value + tol, "{name}");
    }
}

#[test]
fn cli_auto_uses_the_dual_beyond_the_memory_limit() {
    // a 10x10 ferromagnetic torus with random fields: too wide for the junction tree under a
    // tiny --memory-limit; the dual certifies the MAP (the 100x100 one takes about 8 s)
    let j = cli_common::json(&[
        "map",
        "tests/data/fg/ising_10x10_periodic.fg",
        "--memory-limit",
        "0.000001",
        "--time-limit",
        "60",
        "--json",
    ]);
    assert_eq!(j["method"], "dual");
    let (v, u) = (
        j["log_value"].as_f64().unwrap(),
        j["upper_bound"].as_f64().unwrap(),
    );
    assert!(u >= v);
    assert_eq!(j["optimal"], true, "{j}");
    // exact refuses to allocate the tree beyond the limit; what it may still return is an
    // assignment the dual certifies (proof "dual"), equal to the dual's
    let exact = cli_common::pgmkit(&[
        "map",
        "tests/data/fg/ising_10x10_periodic.fg",
        "--memory-limit",
        "0.000001",
        "--method",
        "exact",
        "--json",
    ]);
    if exact.status.success() {
        let e: serde_json::Value = serde_json::from_slice(&exact.stdout).unwrap();
        assert_eq!(e["proof"], "dual", "{e}");
        let ev = e["log_value"].as_f64().unwrap();
        assert!((ev - v).abs() <= 1e-7 * v.abs(), "{ev} vs {v}");
    }
}

#[test]
fn anneal_finds_the_exact_mpe_on_small_models() {
    use pgmkit::infer::map::{map_anneal, AnnealOptions};
    // fixed seeds: annealing is a heuristic, but 8 chains x 400 sweeps on at most 7 variables
    // settle on the optimum; each result is deterministic for its seed
    let mut checked = 0;
    for seed in 0..40u64 {
        let g = random_graph(seed);
        let ev = Evidence::new(g.num_vars());
        let Ok(ex) = mpe(&g, &ev, &ExactOptions::default()) else {
            continue;
        };
        let r = map_anneal(&g, &ev, None, None, &AnnealOptions::default()).unwrap();
        let tol = 1e-9 * ex.log_value.abs().max(1.0);
        let v: f64 = g.factors().iter().map(|f| f.log_value(&r.assignment)).sum();
        assert!((v - r.log_value).abs() <= tol, "seed {seed}");
        assert!(
            (r.log_value - ex.log_value).abs() <= tol,
            "seed {seed}: anneal {} exact {}",
            r.log_value,
            ex.log_value
        );
        assert!(r.upper_bound == f64::INFINITY && !r.optimal);
        checked += 1;
    }
    assert!(checked >= 20, "{checked}");
}

#[test]
fn anneal_is_thread_invariant_and_improves_on_the_dual_on_a_spin_glass() {
    use pgmkit::infer::map::{map_anneal, AnnealOptions};
    // a frustrated 12x12 spin glass
    let g = ising_grid(
        12,
        12,
        Boundary::Free,
        |a, b| if (a * 7 + b * 3) % 5 < 2 { -1.0 } else { 0.8 },
        |i| 0.1 * ((i % 3) as f64 - 1.0),
    )
    .unwrap();
    let ev = Evidence::new(144);
    let ex = mpe(&g, &ev, &ExactOptions::default()).unwrap();
    let d = map_dual(&g, &ev, &DualOptions::default()).unwrap();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                map_anneal(
                    &g,
                    &ev,
                    Some(&d.assignment),
                    Some(d.upper_bound),
                    &AnnealOptions {
                        seed: 7,
                        ..Default::default()
                    },
                )
                .unwrap()
            })
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.assignment, two.assignment);
    assert_eq!(one.log_value, two.log_value);
    eprintln!(
        "exact {:.6}, dual value {:.6} bound {:.6}, anneal {:.6}",
        ex.log_value, d.log_value, d.upper_bound, one.log_value
    );
    let tol = 1e-9 * ex.log_value.abs().max(1.0);
    assert!(one.log_value >= d.log_value);
    assert!(one.log_value <= ex.log_value + tol);
    assert!(one.upper_bound >= ex.log_value - tol);
    assert_eq!(one.upper_bound, d.upper_bound.max(one.log_value));
}

#[test]
fn anneal_options_are_checked() {
    use pgmkit::infer::map::{map_anneal, AnnealOptions};
    let g = random_graph(3);
    let ev = Evidence::new(g.num_vars());
    for o in [
        AnnealOptions {
            chains: 0,
            ..Default::default()
        },
        AnnealOptions {
            beta_range: (0.0, 1.0),
            ..Default::default()
        },
        AnnealOptions {
            beta_range: (2.0, 1.0),
            ..Default::default()
        },
        AnnealOptions {
            beta_range: (0.1, f64::INFINITY),
            ..Default::default()
        },
    ] {
        assert!(matches!(
            map_anneal(&g, &ev, None, None, &o),
            Err(pgmkit::Error::InvalidArgument(_))
        ));
    }
}

#[test]
fn cli_anneal_and_auto_beyond_the_memory_limit() {
    let a = cli_common::json(&[
        "map",
        "tests/data/fg/ising_10x10_periodic.fg",
        "--method",
        "anneal",
        "--seed",
        "3",
        "--json",
    ]);
    assert_eq!(a["method"], "anneal");
    assert!(a["upper_bound"].is_null() && a["gap"].is_null(), "{a}");
    assert_eq!(a["optimal"], false);
    let exact = cli_common::json(&["map", "tests/data/fg/ising_10x10_periodic.fg", "--json"]);
    assert_eq!(exact["method"], "exact");
    let tol = 1e-9 * exact["log_value"].as_f64().unwrap().abs();
    assert!(a["log_value"].as_f64().unwrap() <= exact["log_value"].as_f64().unwrap() + tol);
}

#[test]
fn tightening_with_cycles_lowers_the_bound_on_a_frustrated_grid() {
    // Grids_11 (a 10x10 spin-glass torus): the local relaxation stalls far above the optimum;
    // the triangle and square clusters bring it down, and it stays a bound
    let p = std::path::Path::new("tests/data/uai/Grids_11.uai");
    let g = pgmkit::io::load_model(p, &Default::default())
        .unwrap()
        .to_factor_graph();
    let ev = Evidence::new(g.num_vars());
    let ex = mpe(&g, &ev, &ExactOptions::default()).unwrap();
    let run = |tighten| {
        map_dual(
            &g,
            &ev,
            &DualOptions {
                tighten,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let (plain, tight) = (run(false), run(true));
    eprintln!(
        "optimum {:.4}: local bound {:.4} (value {:.4}), tightened {:.4} (value {:.4})",
        ex.log_value, plain.upper_bound, plain.log_value, tight.upper_bound, tight.log_value
    );
    let tol = 1e-9 * ex.log_value.abs();
    assert!(tight.upper_bound >= ex.log_value - tol);
    assert!(tight.log_value <= ex.log_value + tol);
    // gap at least halved
    assert!(
        tight.upper_bound - ex.log_value < 0.5 * (plain.upper_bound - ex.log_value),
        "{} vs {}",
        tight.upper_bound,
        plain.upper_bound
    );
}
