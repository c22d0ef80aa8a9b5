//! The CLI on Gaussian models: a linear-Gaussian BN (JSON) and GMRFs (pgmkit-gmrf JSON).

#[path = "common/cli.rs"]
mod cli_common;
use cli_common::{json, ok, pgmkit, text};
use nalgebra::{DMatrix, DVector};

const ECOLI: &str = "tests/data/gbn/ecoli70.json";
const CHAIN: &str = "tests/data/gmrf/chain3.json";
const LATTICE: &str = "tests/data/gmrf/lattice_30x30.json";

fn chain() -> (DMatrix<f64>, DVector<f64>) {
    let l = DMatrix::from_row_slice(3, 3, &[2.0, -0.8, 0.0, -0.8, 2.0, -0.8, 0.0, -0.8, 2.0]);
    (l, DVector::from_row_slice(&[1.0, 0.0, -0.5]))
}

/// Run, require failure with exactly one `error:` line on stderr containing `needle`.
fn one_error(args: &[&str], needle: &str) {
    let out = pgmkit(args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(
        err.lines().count(),
        1,
        "{args:?}: one line expected:\n{err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "{args:?}: '{needle}' not in {err}");
}

#[test]
fn info_on_a_gaussian_bn_and_a_gmrf() {
    let j = json(&["info", ECOLI, "--json"]);
    assert_eq!(j["kind"], "gaussian_bayesian_network");
    assert_eq!(j["num_variables"], 46);
    assert_eq!(j["num_arcs"], 70);
    let j = json(&["info", CHAIN, "--json"]);
    assert_eq!(j["kind"], "gaussian_mrf");
    assert_eq!(j["num_edges"], 2);
    let t = ok(&["info", LATTICE]);
    assert!(t.contains("variables   900"), "{t}");
}

#[test]
fn logz_exact_of_a_gmrf_matches_the_closed_form() {
    let (l, h) = chain();
    let chol = l.clone().cholesky().unwrap();
    let log_det = 2.0
        * chol
            .l()
            .diagonal()
            .iter()
            .map(|d: &f64| d.ln())
            .sum::<f64>();
    let mean = chol.solve(&h);
    let expect = 1.5 * (2.0 * std::f64::consts::PI).ln() - 0.5 * log_det + 0.5 * h.dot(&mean);
    let j = json(&["logz", CHAIN, "--json"]);
    assert_eq!(j["method"], "exact");
    assert!((j["log_z"].as_f64().unwrap() - expect).abs() < 1e-12);
    assert!(j["std_err"].is_null() && j["lower"].is_null() && j["upper"].is_null());
    assert!(j["seconds"].as_f64().is_some());
    // with b = 0.5 clamped: ln ∫ exp(-x'Λx/2 + h'x) d(a, c)
    let xb = 0.5;
    let laa = DMatrix::from_row_slice(2, 2, &[2.0, 0.0, 0.0, 2.0]);
    let ha = DVector::from_row_slice(&[1.0 + 0.8 * xb, -0.5 + 0.8 * xb]);
    let ca = laa.clone().cholesky().unwrap();
    let ld = 2.0 * ca.l().diagonal().iter().map(|d: &f64| d.ln()).sum::<f64>();
    let expect = (2.0 * std::f64::consts::PI).ln() - 0.5 * ld + 0.5 * ha.dot(&ca.solve(&ha))
        - 0.5 * 2.0 * xb * xb;
    let j = json(&["logz", CHAIN, "-e", "b=0.5", "--json"]);
    assert!((j["log_z"].as_f64().unwrap() - expect).abs() < 1e-12, "{j}");
    let m = json(&["marginals", CHAIN, "-e", "b=0.5", "--json"]);
    let a = &m["marginals"]["a"];
    assert!((a["mean"].as_f64().unwrap() - ha[0] / 2.0).abs() < 1e-12);
    assert!((a["variance"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    assert_eq!(m["marginals"]["b"]["observed"], true);
}

#[test]
fn logz_of_a_gbn_is_the_evidence_density_under_the_prior_marginal() {
    let prior = json(&["marginals", ECOLI, "--json"]);
    let m = &prior["marginals"]["aceB"];
    let (mu, var) = (m["mean"].as_f64().unwrap(), m["variance"].as_f64().unwrap());
    let x = 1.25;
    let expect = -0.5 * ((2.0 * std::f64::consts::PI * var).ln() + (x - mu) * (x - mu) / var);
    let j = json(&["logz", ECOLI, "--evidence", "aceB=1.25", "--json"]);
    assert!((j["log_z"].as_f64().unwrap() - expect).abs() < 1e-10, "{j}");
    assert_eq!(j["model_kind"], "gaussian_bayesian_network");
    let t = ok(&["logz", ECOLI]);
    assert!(t.contains("log p(e)    0.0000000000"), "{t}");
    let t = ok(&["marginals", ECOLI, "-e", "aceB=1.25,asnA=-0.3"]);
    assert!(t.contains("observed") && t.contains("log p(e)"), "{t}");
}

#[test]
fn logz_ais_on_a_lattice_gmrf_agrees_with_exact() {
    let j = json(&[
        "logz",
        LATTICE,
        "--method",
        "ais",
        "--particles",
        "32",
        "--steps",
        "300",
        "--json",
    ]);
    let (est, se, exact) = (
        j["log_z"].as_f64().unwrap(),
        j["std_err"].as_f64().unwrap(),
        j["exact_log_z"].as_f64().unwrap(),
    );
    assert!(
        (est - exact).abs() < 5.0 * se + 0.02 * exact.abs(),
        "{est} ± {se} vs {exact}"
    );
}

#[test]
fn sample_writes_numeric_csv_seeded_and_thread_invariant() {
    let dir = std::env::temp_dir().join(format!("pgmkit-cli-gauss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f1 = dir.join("a.csv");
    let f2 = dir.join("b.csv");
    let (s1, s2) = (f1.to_str().unwrap(), f2.to_str().unwrap());
    ok(&[
        "sample",
        ECOLI,
        "--n",
        "2000",
        "--seed",
        "7",
        "--out",
        s1,
        "--threads",
        "1",
    ]);
    ok(&[
        "sample",
        ECOLI,
        "--n",
        "2000",
        "--seed",
        "7",
        "--out",
        s2,
        "--threads",
        "2",
    ]);
    let a = std::fs::read(&f1).unwrap();
    assert_eq!(
        a,
        std::fs::read(&f2).unwrap(),
        "same rows for 1 and 2 threads"
    );
    let t = String::from_utf8(a).unwrap();
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 2001);
    assert!(lines[0].starts_with("aceB,asnA,"));
    for l in &lines[1..] {
        assert_eq!(l.split(',').count(), 46);
        assert!(l.split(',').all(|c| c.parse::<f64>().is_ok()));
    }
    // GMRF under evidence: the observed column holds the value; sample mean of a near 0.7
    let out = ok(&["sample", CHAIN, "--n", "4000", "-e", "b=0.5", "--seed", "1"]);
    let rows: Vec<Vec<f64>> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 4000);
    assert!(rows.iter().all(|r| r[1] == 0.5));
    let mean_a = rows.iter().map(|r| r[0]).sum::<f64>() / 4000.0;
    assert!(
        (mean_a - 0.7).abs() < 4.0 * (0.5f64 / 4000.0).sqrt(),
        "{mean_a}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_gaussian_input_gives_one_clear_error_line() {
    let dir = std::env::temp_dir().join(format!("pgmkit-cli-gbad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad_var = dir.join("negvar.json");
    std::fs::write(
        &bad_var,
        r#"{"nodes": ["a"], "cpds": {"a": {"coefficients": {"(Intercept)": [0.0]}, "variance": [-1.0], "parents": []}}}"#,
    )
    .unwrap();
    let bad = bad_var.to_str().unwrap();
    one_error(&["info", bad], "variance of 'a' must be positive");
    one_error(&["logz", bad], "variance of 'a' must be positive");
    let bad_num = dir.join("text.json");
    std::fs::write(
        &bad_num,
        r#"{"format": "pgmkit-gmrf", "h": [1, "x"], "precision": {"n": 2, "entries": [[0, 0, 1]]}}"#,
    )
    .unwrap();
    one_error(&["marginals", bad_num.to_str().unwrap()], "parse error");
    let not_pd = dir.join("notpd.json");
    std::fs::write(
        &not_pd,
        r#"{"format": "pgmkit-gmrf", "precision": {"n": 2, "entries": [[0, 0, 1], [1, 1, 1], [0, 1, 2]]}}"#,
    )
    .unwrap();
    one_error(&["logz", not_pd.to_str().unwrap()], "not positive definite");
    one_error(
        &["logz", ECOLI, "-e", "aceB=abc"],
        "'abc' for 'aceB' is not a number",
    );
    one_error(
        &["marginals", ECOLI, "-e", "nosuch=1"],
        "unknown variable 'nosuch'",
    );
    one_error(
        &["sample", CHAIN, "--n", "5", "-e", "zz=1"],
        "unknown variable 'zz'",
    );
    one_error(
        &["marginals", ECOLI, "--method", "gibbs"],
        "does not apply to Gaussian",
    );
    one_error(&["logz", ECOLI, "--method", "ais"], "needs a GMRF");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A wide GMRF (at least 2^16 variables) is streamed row by row; the rows are the library's
/// `Gmrf::sample_rows` (the chunked path's draws), across a block boundary, for 1 or 2 threads.
#[test]
fn sample_streams_a_wide_gmrf_with_the_same_rows() {
    let dir = std::env::temp_dir().join(format!("pgmkit-cli-wide-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("wide.json");
    let text = r#"{"format":"pgmkit-gmrf","lattice":{"rows":2,"cols":32768,"periodic":false,"diagonal":4.5,"coupling":-1.0}}"#;
    std::fs::write(&model, text).unwrap();
    let m = model.to_str().unwrap();
    let rows = 66; // crosses the 64-row stream block
    let one = pgmkit(&["sample", m, "--n", "66", "--seed", "5", "--threads", "1"]);
    let two = pgmkit(&["sample", m, "--n", "66", "--seed", "5", "--threads", "2"]);
    assert!(one.status.success(), "{}", text_of(&one.stderr));
    assert_eq!(one.stdout, two.stdout, "thread count changed the draws");
    let (g, _) = pgmkit::io::gaussian_json::parse_gmrf(text).unwrap();
    let n = g.dim();
    let want = g.sample_rows(0, rows, 5);
    let out = String::from_utf8(one.stdout).unwrap();
    let mut lines = out.lines();
    lines.next(); // header
    for r in 0..rows {
        let line = lines.next().expect("a row");
        let expect: Vec<String> = want[r * n..(r + 1) * n]
            .iter()
            .map(|v| format!("{v:?}"))
            .collect();
        assert!(line == expect.join(","), "row {r} differs");
    }
    assert!(lines.next().is_none());
    std::fs::remove_dir_all(&dir).ok();
}

fn text_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
