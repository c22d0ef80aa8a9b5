//! Integration tests of `pgmkit learn`: a grid learned from its own samples (both objectives),
//! the written model reads back, the same bytes for 1 and 2 threads, clear errors.

use std::path::PathBuf;

#[path = "common/cli.rs"]
mod cli_common;
use cli_common::{json, ok, pgmkit, text};

const GRID: &str = "tests/data/fg/ising_10x10_open.fg";

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pgmkit_cli_learn_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// 5000 Gibbs draws of the 10x10 grid (with its `chain` column, which learn sets aside).
fn grid_data(dir: &std::path::Path) -> String {
    let csv = dir.join("grid.csv").display().to_string();
    ok(&[
        "sample", GRID, "--n", "5000", "--method", "gibbs", "--seed", "3", "--out", &csv,
    ]);
    csv
}

#[test]
fn learn_a_grid_by_every_method() {
    let dir = tmpdir("both");
    let csv = grid_data(&dir);
    for method in ["pl", "exact"] {
        let out = dir
            .join(format!("learned_{method}.fg"))
            .display()
            .to_string();
        let j = json(&[
            "learn", GRID, "--data", &csv, "--out", &out, "--method", method, "--json",
        ]);
        assert_eq!(j["method"], method);
        assert_eq!(j["params"], "ising");
        assert_eq!(j["num_params"], 280);
        assert_eq!(j["rows"], 5000);
        assert_eq!(j["converged"], true);
        assert_eq!(j["log_likelihood"].is_null(), method != "exact");
        // every coupling of the grid is 0.5 (ising_10x10_open): the learned ones are close
        let params = j["parameters"].as_object().unwrap();
        let couplings: Vec<f64> = params
            .iter()
            .filter(|(k, _)| k.starts_with('J'))
            .map(|(_, v)| v.as_f64().unwrap())
            .collect();
        assert_eq!(couplings.len(), 180);
        let mean = couplings.iter().sum::<f64>() / couplings.len() as f64;
        assert!(mean > 0.3 && mean < 0.7, "{method}: mean coupling {mean}");
        // the written model reads back
        let info = json(&["info", &out, "--json"]);
        assert_eq!(info["num_variables"], 100);
        assert_eq!(info["num_factors"], 280);
    }
}

#[test]
fn learn_is_the_same_for_one_and_two_threads() {
    let dir = tmpdir("threads");
    let csv = grid_data(&dir);
    let mut outs = Vec::new();
    for t in ["1", "2"] {
        let out = dir.join(format!("l{t}.fg")).display().to_string();
        ok(&["--threads", t, "learn", GRID, "--data", &csv, "--out", &out]);
        outs.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
}

#[test]
fn bad_learn_arguments_are_clear_errors() {
    let dir = tmpdir("bad");
    let csv = grid_data(&dir);
    let bif = dir.join("x.bif").display().to_string();
    let o = pgmkit(&["learn", GRID, "--data", &csv, "--out", &bif]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains(".uai or .fg"),
        "{}",
        text(&o.stderr)
    );
    // the data as output would destroy the input
    let o = pgmkit(&["learn", GRID, "--data", &csv, "--out", &csv]);
    assert!(!o.status.success());
    // a model whose variables the data lacks
    let out = dir.join("y.uai").display().to_string();
    let o = pgmkit(&[
        "learn",
        "tests/data/bif/asia.bif",
        "--data",
        &csv,
        "--out",
        &out,
    ]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("no column"), "{}", text(&o.stderr));
    let o = pgmkit(&["learn", GRID, "--data", &csv, "--out", &out, "--l2", "-1"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("L2"), "{}", text(&o.stderr));
}

#[test]
fn score_of_markov_networks_says_what_log_z_is() {
    let dir = tmpdir("score");
    let csv = grid_data(&dir);
    let out = dir.join("learned.fg").display().to_string();
    let l = json(&[
        "learn", GRID, "--data", &csv, "--out", &out, "--method", "exact", "--json",
    ]);
    // exact log Z on the 10x10 grid: the score is the learner's log-likelihood
    let s = json(&["score", &out, "--data", &csv, "--json"]);
    assert_eq!(s["log_z_kind"], "exact");
    assert!(s["log_z_std_err"].is_null());
    assert_eq!(s["ignored_columns"], 1); // the chain column
    let (a, b) = (
        s["mean_log_likelihood"].as_f64().unwrap(),
        l["log_likelihood"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    assert!(s["mean_log_likelihood_std_err"].as_f64().unwrap() > 0.0);
    // a 30x30 torus is too wide for exact inference: AIS, with its standard error
    let big = "tests/data/fg/ising_30x30_periodic.fg";
    let csv30 = dir.join("g30.csv").display().to_string();
    ok(&[
        "sample", big, "--n", "100", "--method", "gibbs", "--seed", "1", "--out", &csv30,
    ]);
    let s = json(&["score", big, "--data", &csv30, "--json"]);
    assert_eq!(s["log_z_kind"], "stochastic");
    assert!(s["log_z_std_err"].as_f64().unwrap() > 0.0);
    // holes: an undirected model scores complete rows only
    let holes = dir.join("holes.csv");
    let text_in = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text_in.lines().map(str::to_string).collect();
    lines[1] = lines[1].replacen(",0", ",", 1).replacen(",1", ",", 1);
    std::fs::write(&holes, lines.join("\n") + "\n").unwrap();
    let o = pgmkit(&["score", &out, "--data", holes.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("complete rows"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn rbm_learn_logz_score_and_sample() {
    let dir = tmpdir("rbm");
    let rbm = dir.join("rbm.json").display().to_string();
    let train = "tests/data/digits/digits_train.csv";
    let test = "tests/data/digits/digits_test.csv";
    let j = json(&[
        "learn", "--rbm", "--hidden", "12", "--data", train, "--ignore", "label", "--out", &rbm,
        "--seed", "2", "--json",
    ]);
    assert_eq!(
        (j["visible"].as_u64(), j["hidden"].as_u64()),
        (Some(64), Some(12))
    );
    assert_eq!(j["method"], "pcd");
    assert_eq!(j["log_z_kind"], "exact");
    // exact and AIS log Z agree within AIS's error
    let e = json(&["logz", &rbm, "--method", "exact", "--json"]);
    let a = json(&["logz", &rbm, "--method", "ais", "--seed", "1", "--json"]);
    let (ze, za, se) = (
        e["log_z"].as_f64().unwrap(),
        a["log_z"].as_f64().unwrap(),
        a["std_err"].as_f64().unwrap(),
    );
    assert_eq!(a["kind"], "stochastic");
    assert!((ze - za).abs() < 4.0 * se + 0.01, "{ze} vs {za} ± {se}");
    // BDMC: a sandwich around the exact value (reverse runs from exact draws here), within
    // its errors; few steps keep it quick
    let b = json(&[
        "logz",
        &rbm,
        "--method",
        "bdmc",
        "--steps",
        "2000",
        "--particles",
        "64",
        "--json",
    ]);
    assert_eq!(
        (b["kind"].as_str(), b["starts"].as_str()),
        (Some("sandwich"), Some("exact draws"))
    );
    let (lo, hi) = (b["lower"].as_f64().unwrap(), b["upper"].as_f64().unwrap());
    let se = b["std_err"].as_f64().unwrap().max(1e-3);
    assert!(
        lo < ze + 4.0 * se && hi > ze - 4.0 * se,
        "[{lo}, {hi}] vs {ze}"
    );
    assert!((b["gap"].as_f64().unwrap() - (hi - lo)).abs() < 1e-12);
    let r = json(&[
        "logz",
        &rbm,
        "--method",
        "rais",
        "--steps",
        "500",
        "--particles",
        "16",
        "--json",
    ]);
    assert_eq!(r["kind"], "upper_bound");
    for bad in [["--kernel", "gibbs"], ["--particles", "0"]] {
        let o = pgmkit(&["logz", &rbm, "--method", "ais", bad[0], bad[1]]);
        assert!(!o.status.success() && !text(&o.stderr).contains("panick"));
    }
    // the test score uses the exact log Z; the label column is ignored with a note
    let s = json(&["score", &rbm, "--data", test, "--json"]);
    assert_eq!(s["model_kind"], "rbm");
    assert_eq!(s["log_z_kind"], "exact");
    assert_eq!(s["ignored_columns"], 1);
    assert_eq!(s["rows"], 360);
    let ll = s["mean_log_likelihood"].as_f64().unwrap();
    assert!(ll < 0.0 && ll > -40.0, "{ll}");
    // block Gibbs draws: 0/1 rows under the visible names, the same for 1 and 2 threads
    let a1 = ok(&["--threads", "1", "sample", &rbm, "--n", "50", "--seed", "3"]);
    let a2 = ok(&["--threads", "2", "sample", &rbm, "--n", "50", "--seed", "3"]);
    assert_eq!(a1, a2);
    assert_eq!(a1.lines().count(), 51);
    assert!(a1.lines().next().unwrap().starts_with("p00,p01"));
    // the UAI export through the generic junction tree gives the same log Z (1e-9)
    let uai = dir.join("rbm.uai").display().to_string();
    ok(&["convert", &rbm, &uai]);
    let u = json(&["logz", &uai, "--json"]);
    let zu = u["log_z"].as_f64().unwrap();
    assert!((zu - ze).abs() < 1e-9, "{zu} vs {ze}");
    let i = json(&["info", &rbm, "--json"]);
    assert_eq!(
        (i["kind"].as_str(), i["num_hidden"].as_u64()),
        (Some("rbm"), Some(12))
    );
    assert_eq!(i["exact_log_z"], true);
    // commands that do not take RBMs say so
    let o = pgmkit(&["marginals", &rbm]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("restricted Boltzmann machine"));
    let o = pgmkit(&["logz", &rbm, "--method", "trw"]);
    assert!(!o.status.success());
    // the label column is not 0/1: it must be ignored
    let o = pgmkit(&["learn", "--rbm", "--data", train, "--out", &rbm]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("0 or 1"), "{}", text(&o.stderr));
}

#[test]
fn time_limit_bounds_learn() {
    let dir = tmpdir("time");
    let csv = grid_data(&dir);
    let out = dir.join("t.fg").display().to_string();
    let t = std::time::Instant::now();
    let j = json(&[
        "learn",
        GRID,
        "--data",
        &csv,
        "--out",
        &out,
        "--method",
        "pcd",
        "--steps",
        "10000000",
        "--time-limit",
        "1",
        "--json",
    ]);
    assert_eq!(j["time_limited"], true);
    assert!(t.elapsed().as_secs_f64() < 3.0, "{:?}", t.elapsed());
    let rbm = dir.join("r.json").display().to_string();
    let t = std::time::Instant::now();
    let j = json(&[
        "learn",
        "--rbm",
        "--epochs",
        "10000000",
        "--data",
        "tests/data/digits/digits_train.csv",
        "--ignore",
        "label",
        "--out",
        &rbm,
        "--time-limit",
        "1",
        "--json",
    ]);
    assert!(j["epochs"].as_u64().unwrap() < 10_000_000);
    assert!(t.elapsed().as_secs_f64() < 3.0, "{:?}", t.elapsed());
}
