//! Structure learning: hill climbing on 10 000 rows sampled from ALARM (true DAG: 46 arcs),
//! against the true network's score and structure; constraints; determinism; the CLI.

use pgmkit::data::csv::{discover_variables, read_csv_path, CsvOptions};
use pgmkit::data::Dataset;
use pgmkit::learn::structure::{
    hill_climb, network, shd, structure_score, StructureOptions, StructureScore,
};
use pgmkit::learn::Prior;

#[path = "common/cli.rs"]
mod cli_common;
use cli_common::{json, pgmkit};

const ALARM_ROWS: &str = "tests/data/samples/alarm_10k.csv.gz";

/// The ALARM rows under the true network's variables, and the true parents.
fn alarm() -> (Dataset, Vec<Vec<usize>>) {
    let m = pgmkit::io::load_model(
        std::path::Path::new("tests/data/bif/alarm.bif"),
        &pgmkit::io::LoadOptions::default(),
    )
    .unwrap();
    let pgmkit::model::Model::Bayes(bn) = m else {
        panic!("alarm is a Bayesian network")
    };
    let t = read_csv_path(
        std::path::Path::new(ALARM_ROWS),
        bn.vars(),
        &CsvOptions::default(),
    )
    .unwrap();
    (t.data, pgmkit::learn::structure::parents_of(&bn))
}

#[test]
fn hill_climbing_on_alarm_reaches_the_true_score() {
    let (data, truth) = alarm();
    assert_eq!(truth.iter().map(Vec::len).sum::<usize>(), 46);
    let true_bic = structure_score(&data, &truth, StructureScore::Bic).unwrap();
    let empty = structure_score(&data, &vec![Vec::new(); 37], StructureScore::Bic).unwrap();
    let mut last = empty;
    eprintln!("| search | BIC | vs true | SHD | arcs | moves | families | seconds |");
    eprintln!("| true DAG | {true_bic:.1} | 0 | 0 | 46 | | | |");
    for (name, opts) in [
        (
            "greedy",
            StructureOptions {
                tabu: 0,
                restarts: 0,
                ..Default::default()
            },
        ),
        (
            "tabu 10",
            StructureOptions {
                restarts: 0,
                ..Default::default()
            },
        ),
        (
            "defaults (tabu 10, 10 restarts)",
            StructureOptions::default(),
        ),
    ] {
        let f = hill_climb(&data, &opts).unwrap();
        let d = shd(&truth, &f.parents);
        let arcs: usize = f.parents.iter().map(Vec::len).sum();
        eprintln!(
            "| {name} | {:.1} | {:+.3}% | {d} | {arcs} | {} | {} | {:.2} |",
            f.score,
            100.0 * (f.score - true_bic) / true_bic.abs(),
            f.steps,
            f.families,
            f.seconds
        );
        // within 1% of the true DAG's BIC (pyAgrum's greedy search stops 1.2% below)
        assert!(
            f.score > true_bic - 0.01 * true_bic.abs(),
            "{name}: {} vs {true_bic}",
            f.score
        );
        assert!(d <= 40, "{name}: SHD {d}");
        // the search never ends below where it started, and each stronger setting keeps the
        // best network of the weaker one's path (the same first climb)
        assert!(f.score >= last - 1e-6, "{name}: {} below {last}", f.score);
        last = f.score;
        assert!(
            (structure_score(&data, &f.parents, StructureScore::Bic).unwrap() - f.score).abs()
                < 1e-6
        );
        if name.starts_with("defaults") {
            // the restarts leave the greedy optimum's basin: within 0.5% (measured -0.14%;
            // other state orders of the same data reach above the true DAG's BIC)
            assert!(
                f.score > true_bic - 0.005 * true_bic.abs(),
                "{} vs {true_bic}",
                f.score
            );
            assert!(d <= 25, "SHD {d}");
        }
    }
}

#[test]
fn search_is_deterministic_and_thread_invariant() {
    let (data, _) = alarm();
    let opts = StructureOptions {
        restarts: 2,
        seed: 5,
        score: StructureScore::BDeu { ess: 1.0 },
        ..Default::default()
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| hill_climb(&data, &opts).unwrap())
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(
        (a.parents.clone(), a.score.to_bits()),
        (b.parents, b.score.to_bits())
    );
}

#[test]
fn constraints_hold() {
    let (data, _) = alarm();
    // every variable in tier 0 except the first five, which come later; a forbidden and a
    // required arc; at most two parents
    let n = data.num_vars();
    let mut tiers = vec![0usize; n];
    tiers[..5].iter_mut().for_each(|t| *t = 1);
    let opts = StructureOptions {
        max_parents: 2,
        tiers: tiers.clone(),
        forbidden: vec![(10, 11)],
        required: vec![(12, 3)],
        ..Default::default()
    };
    let f = hill_climb(&data, &opts).unwrap();
    for (v, ps) in f.parents.iter().enumerate() {
        assert!(ps.len() <= 2);
        for &p in ps {
            assert!(tiers[p] <= tiers[v], "arc {p} -> {v} against the tiers");
            assert_ne!((p, v), (10, 11));
        }
    }
    assert!(f.parents[3].contains(&12));
    // bad constraints are clear errors
    for bad in [
        StructureOptions {
            required: vec![(1, 1)],
            ..Default::default()
        },
        StructureOptions {
            required: vec![(1, 2), (2, 1)],
            ..Default::default()
        },
        StructureOptions {
            required: vec![(1, 2)],
            forbidden: vec![(1, 2)],
            ..Default::default()
        },
        StructureOptions {
            tiers: vec![0; 3],
            ..Default::default()
        },
        StructureOptions {
            score: StructureScore::BDeu { ess: 0.0 },
            ..Default::default()
        },
    ] {
        assert!(hill_climb(&data, &bad).is_err());
    }
}

#[test]
fn learned_network_fits_and_scores() {
    // the learned network's parameters (BDeu prior) give a held-in log-likelihood close to
    // the true network's
    let (data, _) = alarm();
    let f = hill_climb(&data, &StructureOptions::default()).unwrap();
    let vars =
        discover_variables(std::path::Path::new(ALARM_ROWS), &CsvOptions::default()).unwrap();
    assert_eq!(vars.len(), 37);
    let t = read_csv_path(
        std::path::Path::new(ALARM_ROWS),
        &vars,
        &CsvOptions::default(),
    )
    .unwrap();
    let g = hill_climb(&t.data, &StructureOptions::default()).unwrap();
    // state order differs (discovered states are sorted), so ties break differently and the
    // searches end in different optima of similar score
    let rel = (g.score - f.score).abs() / f.score.abs();
    assert!(rel < 0.01, "{} vs {}", g.score, f.score);
    let bn = network(&vars, &g.parents, &t.data, &Prior::BDeu(1.0)).unwrap();
    assert_eq!(bn.num_vars(), 37);
}

#[test]
fn cli_learns_a_structure_from_a_csv() {
    let dir = std::env::temp_dir().join(format!("pgmkit-structure-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("alarm_hc.bif").display().to_string();
    let j = json(&[
        "learn",
        "--structure",
        "hc",
        "--data",
        ALARM_ROWS,
        "--out",
        &out,
        "--json",
    ]);
    assert_eq!(
        (j["variables"].as_u64(), j["rows"].as_u64()),
        (Some(37), Some(10_000))
    );
    assert_eq!(j["score_kind"], "bic");
    assert!(j["arcs"].as_u64().unwrap() >= 40);
    // required and forbidden arcs by name; PC lists the CPDAG's undirected edges
    let c = json(&[
        "learn",
        "--structure",
        "hc",
        "--restarts",
        "0",
        "--require",
        "HR->CO",
        "--forbid",
        "LVFAILURE->HISTORY",
        "--data",
        ALARM_ROWS,
        "--out",
        &out,
        "--json",
    ]);
    let arcs = c["arc_list"].as_array().unwrap();
    assert!(arcs.iter().any(|a| a[0] == "HR" && a[1] == "CO"));
    assert!(!arcs
        .iter()
        .any(|a| a[0] == "LVFAILURE" && a[1] == "HISTORY"));
    let p = json(&[
        "learn",
        "--structure",
        "pc",
        "--data",
        ALARM_ROWS,
        "--out",
        &out,
        "--json",
    ]);
    assert_eq!(p["algorithm"], "pc");
    assert!(p["undirected_edges"].is_array());
    // the written network loads and answers a query
    let m = json(&["logz", &out, "--json"]);
    assert!(m["log_z"].as_f64().unwrap().abs() < 1e-9);
    // a model argument with --structure, a non-BIF output, a bad --ess: clear errors
    for bad in [
        vec![
            "learn",
            "tests/data/bif/asia.bif",
            "--structure",
            "hc",
            "--data",
            ALARM_ROWS,
            "--out",
            &out,
        ],
        vec![
            "learn",
            "--structure",
            "hc",
            "--data",
            ALARM_ROWS,
            "--out",
            "x.uai",
        ],
        vec![
            "learn",
            "--structure",
            "hc",
            "--data",
            ALARM_ROWS,
            "--out",
            &out,
            "--score",
            "bdeu",
            "--ess",
            "0",
        ],
    ] {
        let o = pgmkit(&bad);
        assert!(!o.status.success());
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panick"));
    }
}

#[test]
fn classifiers_on_the_digits() {
    // naive Bayes and TAN on the binarised digits (10 classes, 64 pixels): TAN at least as
    // accurate as naive Bayes, both far above chance
    let dir = std::env::temp_dir().join(format!("pgmkit-classify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (train, test) = (
        "tests/data/digits/digits_train.csv",
        "tests/data/digits/digits_test.csv",
    );
    let mut acc = Vec::new();
    for kind in ["nb", "tan", "stan"] {
        let model = dir.join(format!("{kind}.bif")).display().to_string();
        let j = json(&[
            "learn",
            "--classifier",
            kind,
            "--target",
            "label",
            "--data",
            train,
            "--out",
            &model,
            "--json",
        ]);
        assert_eq!(j["algorithm"], kind);
        let preds = dir.join(format!("{kind}.csv")).display().to_string();
        let c = json(&[
            "classify", &model, "--data", test, "--target", "label", "--out", &preds, "--json",
        ]);
        assert_eq!(
            (c["rows"].as_u64(), c["labelled"].as_u64()),
            (Some(360), Some(360))
        );
        let confusion: u64 = c["confusion"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()))
            .sum();
        assert_eq!(confusion, 360);
        assert!(c["auc"].is_null(), "AUC is for binary targets");
        let text = std::fs::read_to_string(&preds).unwrap();
        assert_eq!(text.lines().count(), 361);
        assert!(text.starts_with("row,label,predicted,p_0,p_1"));
        eprintln!(
            "{kind}: accuracy {}, log loss {}",
            c["accuracy"], c["log_loss"]
        );
        acc.push(c["accuracy"].as_f64().unwrap());
    }
    // scikit-learn 1.9.1 BernoulliNB (alpha = 1, the same model as naive Bayes with Laplace
    // counts) predicts 321 of the 360 test digits (benches/compare/structure.py)
    assert!((acc[0] - 321.0 / 360.0).abs() < 0.001, "{acc:?}");
    assert!(acc[1] >= acc[0] && acc[2] >= acc[0], "{acc:?}");
}

#[test]
fn tan_classifies_hypovolemia_almost_as_well_as_the_true_network() {
    use pgmkit::learn::structure::{selective_tan, tan};
    // train on the 10k reference rows, test on 10k fresh forward samples
    let (train, _) = alarm();
    let m = pgmkit::io::load_model(
        std::path::Path::new("tests/data/bif/alarm.bif"),
        &pgmkit::io::LoadOptions::default(),
    )
    .unwrap();
    let pgmkit::model::Model::Bayes(bn) = m else {
        panic!()
    };
    let test =
        Dataset::from_samples(&pgmkit::sample::ancestral::forward_sample(&bn, 10_000, 77).unwrap());
    let target = bn.var_id("HYPOVOLEMIA").unwrap();
    let acc = |model: &pgmkit::BayesNet| {
        let r = pgmkit::classify::classify(model, &test, target, Default::default()).unwrap();
        (r.accuracy.unwrap(), r.log_loss.unwrap())
    };
    let truth = acc(&bn);
    let fit = |parents: Vec<Vec<usize>>| {
        network(bn.vars(), &parents, &train, &Prior::Dirichlet(1.0)).unwrap()
    };
    let plain = acc(&fit(tan(&train, target.index()).unwrap()));
    let selective = acc(&fit(selective_tan(&train, target.index()).unwrap()));
    eprintln!(
        "HYPOVOLEMIA: true network {truth:?}, TAN {plain:?}, selective TAN {selective:?} \
         (accuracy, log loss)"
    );
    assert!(selective.0 >= truth.0 - 0.005, "{selective:?} vs {truth:?}");
    assert!(plain.0 >= truth.0 - 0.01, "{plain:?} vs {truth:?}");
}

#[test]
fn classify_a_binary_target_with_holes() {
    // ALARM's true network classifying HYPOVOLEMIA from the other cells, with holes; AUC and
    // log loss from the library, a missing label predicted without a score
    let (mut data, _) = alarm();
    let m = pgmkit::io::load_model(
        std::path::Path::new("tests/data/bif/alarm.bif"),
        &pgmkit::io::LoadOptions::default(),
    )
    .unwrap();
    let pgmkit::model::Model::Bayes(bn) = m else {
        panic!()
    };
    let target = bn.var_id("HYPOVOLEMIA").unwrap();
    let (mut holed, _) = data.mask_mcar(0.2, 4).unwrap();
    holed.set(0, target, None);
    let r = pgmkit::classify::classify(&bn, &holed, target, pgmkit::learn::RowOptions::default())
        .unwrap();
    assert_eq!(r.probs.len(), 10_000);
    assert!(r.labelled < 10_000);
    let auc = r.auc.unwrap();
    assert!(auc > 0.8 && auc <= 1.0, "{auc}");
    assert!(r.log_loss.unwrap() > 0.0);
    // thread count does not change the posteriors
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let r1 = one
        .install(|| pgmkit::classify::classify(&bn, &holed, target, Default::default()))
        .unwrap();
    assert_eq!(r1.probs, r.probs);
    data.set(0, target, None);
}

#[test]
fn pc_stable_on_alarm() {
    use pgmkit::learn::structure::{pc_stable, PcOptions};
    let (data, truth) = alarm();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| pc_stable(&data, &PcOptions::default()).unwrap())
    };
    let (f, g) = (run(2), run(1));
    assert_eq!(f, g);
    assert!(f.consistent);
    let dag = f.dag.clone();
    let d = shd(&truth, &dag);
    let skeleton = |p: &[Vec<usize>]| -> std::collections::BTreeSet<(usize, usize)> {
        p.iter()
            .enumerate()
            .flat_map(|(v, ps)| ps.iter().map(move |&u| (u.min(v), u.max(v))))
            .collect()
    };
    let (ts, fs) = (skeleton(&truth), skeleton(&dag));
    let missing = ts.difference(&fs).count();
    let extra = fs.difference(&ts).count();
    eprintln!(
        "PC-stable: {} arcs + {} undirected edges, {} tests; DAG SHD {d}, skeleton: {missing} missing, {extra} extra",
        f.arcs.len(),
        f.edges.len(),
        f.tests
    );
    assert!(missing + extra <= 12, "skeleton off by {missing} + {extra}");
    assert!(d <= 30, "SHD {d}");
    assert!(pc_stable(
        &data,
        &PcOptions {
            alpha: 1.5,
            ..Default::default()
        }
    )
    .is_err());
}

/// Hill climbing against the true DAG's BIC on fresh 10k samples of six networks, three
/// samples each (run with `cargo test --release --test structure -- --ignored --nocapture
/// hill_climbing_sweep`; SWEEP_NETS, SWEEP_SEEDS, SWEEP_TABU, SWEEP_RESTARTS, SWEEP_PERTURB
/// change the table).
#[test]
#[ignore = "a table of searches over networks and seeds; about 10 s"]
fn hill_climbing_sweep() {
    let nets =
        std::env::var("SWEEP_NETS").unwrap_or("asia,child,insurance,alarm,hailfinder,water".into());
    sweep(&nets, env_or("SWEEP_SEEDS", 3) as u64);
}

#[test]
fn hill_climbing_reaches_the_true_bic_on_child_and_alarm_samples() {
    sweep("child,alarm", 3);
}

/// Hill climbing at its defaults (but max parents at least the truth's) reaches the true DAG's
/// BIC within 0.1% on 10k forward samples (seeds 100, 101, ...) of each network.
fn sweep(nets: &str, seeds: u64) {
    for name in nets.split(',') {
        let m = pgmkit::io::load_model(
            std::path::Path::new(&format!("tests/data/bif/{name}.bif")),
            &pgmkit::io::LoadOptions::default(),
        )
        .unwrap();
        let pgmkit::model::Model::Bayes(bn) = m else {
            panic!()
        };
        let truth = pgmkit::learn::structure::parents_of(&bn);
        let maxp = truth.iter().map(Vec::len).max().unwrap().max(4);
        for seed in 0..seeds {
            let data = Dataset::from_samples(
                &pgmkit::sample::ancestral::forward_sample(&bn, 10_000, 100 + seed).unwrap(),
            );
            let t = structure_score(&data, &truth, StructureScore::Bic).unwrap();
            let f = hill_climb(
                &data,
                &StructureOptions {
                    max_parents: maxp,
                    tabu: env_or("SWEEP_TABU", 10),
                    restarts: env_or("SWEEP_RESTARTS", 10),
                    perturb: std::env::var("SWEEP_PERTURB")
                        .ok()
                        .and_then(|s| s.parse().ok()),
                    ..Default::default()
                },
            )
            .unwrap();
            eprintln!(
                "{name} seed {seed}: true {t:.1}, found {:.1} ({:+.3}%), SHD {}, {:.2} s",
                f.score,
                100.0 * (f.score - t) / t.abs(),
                shd(&f.parents, &truth),
                f.seconds
            );
            assert!(
                f.score >= t - 0.001 * t.abs(),
                "{name} seed {seed}: {} vs true {t}",
                f.score
            );
        }
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
