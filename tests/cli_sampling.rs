//! Integration tests of the sampling side of the `pgmkit` command line: `sample`, and the
//! stochastic methods of `marginals` and `logz` (lw, gibbs, mh). Every run is seeded, so every
//! check below is deterministic; statistical bounds are stated where they are used.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[path = "common/cli.rs"]
mod cli_common;
use cli_common::{json, ok, pgmkit, text};

const ASIA: &str = "tests/data/bif/asia.bif";
const ALARM: &str = "tests/data/bif/alarm.bif";
const ALARM_EVIDENCE: &str = "BP=HIGH,HRBP=HIGH,HREKG=HIGH";
/// Exact log P(BP=HIGH, HRBP=HIGH, HREKG=HIGH) in ALARM (issue 3).
const ALARM_LOG_PE: f64 = -1.230642298396106;
const ISING: &str = "tests/data/fg/ising_10x10_open.fg";
const GRIDS_12: &str = "tests/data/uai/Grids_12.uai";

/// Run and require a clean runtime failure: exit code 1, exactly one `error: ` line on stderr,
/// nothing on stdout, no panic. Returns the error line.
fn fails(args: &[&str]) -> String {
    let out = pgmkit(args);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "pgmkit {args:?} should fail with exit code 1\nstderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "pgmkit {args:?} panicked:\n{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "pgmkit {args:?}: expected one error line, got:\n{stderr}"
    );
    assert!(lines[0].starts_with("error: "), "pgmkit {args:?}: {stderr}");
    assert!(
        text(&out.stdout).is_empty(),
        "pgmkit {args:?} printed to stdout on error"
    );
    lines[0].to_string()
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-sampling-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("'{key}' is not a number in {v}"))
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap_or_else(|| panic!("not a number: {x}")))
        .collect()
}

/// Parse CSV text (no quoting is needed for the test models) into a header and rows.
fn csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines
        .next()
        .expect("a header line")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// The JSON with every timing field (every key ending in `seconds`) removed, recursively.
fn without_timings(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.ends_with("seconds"))
                .map(|(k, x)| (k.clone(), without_timings(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_timings).collect()),
        other => other.clone(),
    }
}

/// The states of every variable of ASIA (all are yes/no).
const ASIA_VARS: [&str; 8] = [
    "asia", "tub", "smoke", "lung", "bronc", "either", "xray", "dysp",
];

// ---------------------------------------------------------------- help

#[test]
fn sample_help_lists_its_options() {
    let help = ok(&["sample", "--help"]);
    for opt in [
        "--n",
        "--method",
        "--evidence",
        "--seed",
        "--out",
        "--chains",
        "--burn-in",
        "--thin",
        "forward",
        "lw",
        "gibbs",
        "mh",
        "--quiet",
        "--threads",
    ] {
        assert!(help.contains(opt), "sample --help does not mention {opt}");
    }
    let top = ok(&["--help"]);
    assert!(top.contains("sample"), "{top}");
    let m = ok(&["marginals", "--help"]);
    for opt in [
        "--samples",
        "--chains",
        "--burn-in",
        "--thin",
        "--seed",
        "gibbs",
        "mh",
        "lw",
    ] {
        assert!(m.contains(opt), "marginals --help does not mention {opt}");
    }
    let l = ok(&["logz", "--help"]);
    for opt in ["--samples", "--seed", "lw"] {
        assert!(l.contains(opt), "logz --help does not mention {opt}");
    }
}

// ---------------------------------------------------------------- sample

#[test]
fn sample_forward_csv_has_a_header_and_n_rows_of_state_names() {
    // 2500 rows = three blocks of the sampler (1024 rows each), the last one partial.
    let out = ok(&["sample", ASIA, "--n", "2500", "--seed", "3"]);
    let (header, rows) = csv(&out);
    assert_eq!(header, ASIA_VARS);
    assert_eq!(rows.len(), 2500);
    for row in &rows {
        assert_eq!(row.len(), 8, "{row:?}");
        assert!(row.iter().all(|s| s == "yes" || s == "no"), "{row:?}");
    }
    // P(smoke = yes) = 0.5: the count is within 4.5 binomial standard deviations (alpha ~ 1e-5).
    let smoke = rows.iter().filter(|r| r[2] == "yes").count() as f64;
    assert!(
        (smoke - 1250.0).abs() < 4.5 * (2500.0f64 * 0.25).sqrt(),
        "{smoke}"
    );

    // Explicit --method forward is the default for a Bayesian network; the seed fixes the rows.
    assert_eq!(
        ok(&["sample", ASIA, "--n", "2500", "--seed", "3", "-m", "forward"]),
        out
    );
    assert_ne!(ok(&["sample", ASIA, "--n", "2500", "--seed", "4"]), out);
}

#[test]
fn sample_to_a_file_is_atomic_and_equals_stdout() {
    let dir = scratch("out");
    let path = dir.join("asia.csv");
    let p = path.to_str().unwrap();
    let stdout = ok(&["sample", ASIA, "--n", "1500", "--out", p]);
    assert!(stdout.contains("wrote 1,500 rows"), "{stdout}");
    let file = std::fs::read_to_string(&path).unwrap();
    assert_eq!(file, ok(&["sample", ASIA, "--n", "1500"]));
    // nothing but the file is left in the directory (the temporary file was renamed)
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("asia.csv")]);
    // --quiet prints nothing
    assert_eq!(
        ok(&["sample", ASIA, "--n", "10", "--out", p, "--quiet"]),
        ""
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 11);

    // A failing run leaves an existing file alone and creates none.
    let err = fails(&["sample", ASIA, "--n", "10", "-e", "xray=yes", "--out", p]);
    assert!(err.contains("lw"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 11);
    let missing = dir.join("no-such-dir").join("x.csv");
    fails(&[
        "sample",
        ASIA,
        "--n",
        "10",
        "--out",
        missing.to_str().unwrap(),
    ]);
    assert!(!missing.exists());
}

#[test]
fn sample_lw_csv_ends_with_log_weight() {
    let out = ok(&[
        "sample",
        ASIA,
        "--n",
        "1200",
        "-m",
        "lw",
        "-e",
        "xray=yes,dysp=no",
    ]);
    let (header, rows) = csv(&out);
    let mut expected: Vec<&str> = ASIA_VARS.to_vec();
    expected.push("log_weight");
    assert_eq!(header, expected);
    assert_eq!(rows.len(), 1200);
    let mut distinct = std::collections::BTreeSet::new();
    for row in &rows {
        assert_eq!(row.len(), 9);
        assert_eq!(row[6], "yes", "xray is observed");
        assert_eq!(row[7], "no", "dysp is observed");
        let lw: f64 = row[8].parse().unwrap_or_else(|_| panic!("{row:?}"));
        assert!(lw <= 0.0 && lw.is_finite(), "{row:?}");
        distinct.insert(row[8].clone());
    }
    assert!(distinct.len() > 1, "weights depend on the parents");
}

#[test]
fn sample_gibbs_and_mh_csv_is_chain_major_with_a_chain_column() {
    // 10 rows over 4 chains: ceil(10 / 4) = 3 draws per chain, the last chain cut to 1.
    for method in ["gibbs", "mh"] {
        let out = ok(&[
            "sample",
            ASIA,
            "--n",
            "10",
            "-m",
            method,
            "-e",
            "xray=yes",
            "--chains",
            "4",
            "--burn-in",
            "50",
        ]);
        let (header, rows) = csv(&out);
        assert_eq!(header[0], "chain");
        assert_eq!(&header[1..], ASIA_VARS);
        assert_eq!(rows.len(), 10);
        let chains: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(chains, ["0", "0", "0", "1", "1", "1", "2", "2", "2", "3"]);
        assert!(rows.iter().all(|r| r[7] == "yes"), "xray observed");
        assert!(rows
            .iter()
            .all(|r| r[1..].iter().all(|s| s == "yes" || s == "no")));
    }
    // A Markov network defaults to gibbs.
    let out = ok(&[
        "sample",
        ISING,
        "--n",
        "8",
        "--burn-in",
        "10",
        "--thin",
        "2",
    ]);
    let (header, rows) = csv(&out);
    assert_eq!(header[0], "chain");
    assert_eq!(header.len(), 101);
    assert_eq!(rows.len(), 8);
}

// ---------------------------------------------------------------- logz --method lw

#[test]
fn lw_logz_is_within_a_few_std_errs_of_exact() {
    // Asia (within 4 standard errors: alpha ~ 6e-5 for the normal approximation).
    let ev = "asia=yes,xray=yes,dysp=yes";
    let exact = num(&json(&["logz", ASIA, "-e", ev, "--json"]), "log_z");
    let j = json(&[
        "logz",
        ASIA,
        "-e",
        ev,
        "--method",
        "lw",
        "--samples",
        "50000",
        "--seed",
        "11",
        "--json",
    ]);
    assert_eq!(j["method"], "lw");
    assert_eq!(j["kind"], "stochastic");
    assert_eq!(j["samples"], 50000);
    assert_eq!(j["seed"], 11);
    let (lz, se, ess) = (num(&j, "log_z"), num(&j, "std_err"), num(&j, "ess"));
    assert!(se > 0.0 && se < 0.1, "{j}");
    assert!(ess > 1.0 && ess <= 50000.0, "{j}");
    assert!(
        (lz - exact).abs() < 4.0 * se,
        "lw {lz} ± {se} vs exact {exact}"
    );
    assert!(j["lower"].is_null() && j["upper"].is_null());

    // ALARM under the evidence: within 3 standard errors of the exact value.
    let j = json(&[
        "logz",
        ALARM,
        "-e",
        ALARM_EVIDENCE,
        "-m",
        "lw",
        "--samples",
        "100000",
        "--json",
    ]);
    let (lz, se) = (num(&j, "log_z"), num(&j, "std_err"));
    assert!((lz - ALARM_LOG_PE).abs() < 3.0 * se, "{lz} ± {se}");

    // Text output names the method, the estimate kind and the samples; --quiet the number.
    let out = ok(&["logz", ASIA, "-e", ev, "-m", "lw"]);
    assert!(out.contains("stochastic"), "{out}");
    assert!(out.contains("std err"), "{out}");
    assert!(out.contains("10000"), "default --samples: {out}");
    let q: f64 = ok(&["logz", ASIA, "-e", ev, "-m", "lw", "--quiet"])
        .trim()
        .parse()
        .unwrap();
    assert!((q - exact).abs() < 0.2);
    // Exact JSON has no samples or seed.
    let j = json(&["logz", ASIA, "-e", ev, "--json"]);
    assert!(j["samples"].is_null() && j["seed"].is_null());
}

// ---------------------------------------------------------------- marginals

/// Exact marginals of a model as name -> probabilities.
fn exact_marginals(model: &str, ev: Option<&str>) -> serde_json::Map<String, Value> {
    let mut args = vec!["marginals", model, "--json"];
    if let Some(e) = ev {
        args.extend(["-e", e]);
    }
    json(&args)["marginals"].as_object().unwrap().clone()
}

#[test]
fn gibbs_and_mh_marginals_json_have_mcse_rhat_ess_and_match_exact() {
    let exact = exact_marginals(ISING, None);
    for method in ["gibbs", "mh"] {
        let j = json(&["marginals", ISING, "--method", method, "--json"]);
        assert_eq!(j["method"], method);
        assert!(j["log_z"].is_null(), "MCMC gives no log Z");
        assert!(j["log_z_std_err"].is_null());
        assert_eq!(j["chains"], 4);
        assert_eq!(j["draws_per_chain"], 1000);
        assert_eq!(j["samples"], 4000);
        assert_eq!(j["burn_in"], 1000);
        assert_eq!(j["thin"], 1);
        assert_eq!(j["seed"], 0);
        let acc = num(&j, "acceptance_rate");
        assert!(acc > 0.0 && acc <= 1.0, "{acc}");
        assert_eq!(j["updates"], 4 * 2000 * 100);
        assert!(num(&j, "max_rhat") < 1.05, "{}", j["max_rhat"]);
        assert!(num(&j, "min_ess") > 100.0, "{}", j["min_ess"]);
        let m = j["marginals"].as_object().unwrap();
        assert_eq!(m.len(), 100);
        for (name, v) in m {
            let p = floats(&v["p"]);
            let mcse = floats(&v["mcse"]);
            assert_eq!(p.len(), 2);
            assert_eq!(mcse.len(), 2);
            assert!((p[0] + p[1] - 1.0).abs() < 1e-12);
            let rhat = num(v, "rhat");
            let ess = num(v, "ess");
            assert!((0.9..1.1).contains(&rhat), "{name}: R-hat {rhat}");
            assert!(ess > 50.0, "{name}: ESS {ess}");
            // Within 5 MCSE (+ 0.002 for the error of the MCSE itself) of exact: 100 variables,
            // alpha ~ 6e-5 in all under the normal approximation.
            let e = floats(&exact[name]["p"]);
            assert!(
                (p[1] - e[1]).abs() <= 5.0 * mcse[1] + 0.002,
                "{method} {name}: {} ± {} vs exact {}",
                p[1],
                mcse[1],
                e[1]
            );
        }
    }
}

#[test]
fn lw_marginals_json_on_asia_matches_exact() {
    let ev = "xray=yes,dysp=yes";
    let exact = exact_marginals(ASIA, Some(ev));
    let j = json(&[
        "marginals",
        ASIA,
        "-e",
        ev,
        "-m",
        "lw",
        "--samples",
        "40000",
        "--json",
    ]);
    assert_eq!(j["method"], "lw");
    assert_eq!(j["samples"], 40000);
    assert!(j["chains"].is_null() && j["acceptance_rate"].is_null());
    assert!(num(&j, "log_z") < 0.0);
    assert!(num(&j, "log_z_std_err") > 0.0);
    let kish = num(&j, "min_ess");
    for (name, v) in j["marginals"].as_object().unwrap() {
        let p = floats(&v["p"]);
        let mcse = floats(&v["mcse"]);
        assert!(v["rhat"].is_null());
        let e = floats(&exact[name]["p"]);
        if name == "xray" || name == "dysp" {
            assert_eq!(p, vec![1.0, 0.0]);
            assert_eq!(mcse, vec![0.0, 0.0]);
            assert!(v["ess"].is_null(), "observed variable");
        } else {
            assert_eq!(num(v, "ess"), kish);
            assert!(
                (p[0] - e[0]).abs() <= 5.0 * mcse[0] + 1e-3,
                "{name}: {} ± {} vs {}",
                p[0],
                mcse[0],
                e[0]
            );
        }
    }
    // Text output shows MCSEs.
    let out = ok(&["marginals", ASIA, "-e", ev, "-m", "lw"]);
    assert!(out.contains('±'), "{out}");
}

#[test]
fn r_hat_flags_chains_that_do_not_mix() {
    // In ASIA `either = lung OR tub` is deterministic, so single-site updates can leave
    // lung = yes only through the rare tub = yes: chains started apart stay apart.
    let j = json(&[
        "marginals",
        ASIA,
        "-e",
        "xray=yes,dysp=yes",
        "-m",
        "gibbs",
        "--samples",
        "300",
        "--burn-in",
        "10",
        "--json",
    ]);
    let r = num(&j, "max_rhat");
    assert!(r > 1.1, "max R-hat {r}");
    // JSON has no infinity: an infinite R-hat is written as the largest double.
    assert!(r.is_finite());
    let out = ok(&[
        "marginals",
        ASIA,
        "-e",
        "xray=yes,dysp=yes",
        "-m",
        "gibbs",
        "--samples",
        "300",
        "--burn-in",
        "10",
    ]);
    assert!(out.contains("warning: max R-hat"), "{out}");
    // Observed variables have no R-hat or ESS and MCSE 0.
    let xray = &j["marginals"]["xray"];
    assert!(xray["rhat"].is_null() && xray["ess"].is_null());
    assert_eq!(floats(&xray["mcse"]), vec![0.0, 0.0]);
}

#[test]
fn exact_marginals_json_keeps_its_shape_with_null_sampling_fields() {
    let j = json(&["marginals", ASIA, "-e", "xray=yes", "--json"]);
    assert_eq!(j["method"], "exact");
    for key in [
        "samples",
        "chains",
        "seed",
        "acceptance_rate",
        "max_rhat",
        "min_ess",
    ] {
        assert!(j.get(key).is_some_and(Value::is_null), "{key}: {j}");
    }
    let lung = &j["marginals"]["lung"];
    assert!(lung["p"].is_array());
    assert!(lung["mcse"].is_null() && lung["rhat"].is_null() && lung["ess"].is_null());
}

// ---------------------------------------------------------------- thread invariance

#[test]
fn same_seed_same_bytes_with_one_and_two_threads() {
    let run = |threads: &str, args: &[&str]| -> String {
        let mut all = vec!["--threads", threads];
        all.extend_from_slice(args);
        ok(&all)
    };
    // CSV: byte-identical (several blocks of rows, so the parallel split matters).
    for args in [
        &[
            "sample", ALARM, "--n", "20000", "--seed", "9", "-m", "forward",
        ][..],
        &[
            "sample",
            ALARM,
            "--n",
            "20000",
            "--seed",
            "9",
            "-m",
            "lw",
            "-e",
            ALARM_EVIDENCE,
        ],
        &[
            "sample",
            ALARM,
            "--n",
            "2000",
            "--seed",
            "9",
            "-m",
            "gibbs",
            "-e",
            ALARM_EVIDENCE,
        ],
    ] {
        let (one, two) = (run("1", args), run("2", args));
        assert!(
            one == two,
            "pgmkit {args:?}: output differs between 1 and 2 threads"
        );
        assert!(one.lines().count() > 2000);
    }
    // JSON: identical except for the timing fields (keys ending in `seconds`).
    for args in [
        &[
            "marginals",
            ALARM,
            "-e",
            ALARM_EVIDENCE,
            "-m",
            "gibbs",
            "--samples",
            "500",
            "--seed",
            "9",
            "--json",
        ][..],
        &[
            "marginals",
            ISING,
            "-m",
            "mh",
            "--samples",
            "300",
            "--seed",
            "9",
            "--json",
        ],
        &[
            "marginals",
            ALARM,
            "-e",
            ALARM_EVIDENCE,
            "-m",
            "lw",
            "--seed",
            "9",
            "--json",
        ],
        &[
            "logz",
            ALARM,
            "-e",
            ALARM_EVIDENCE,
            "-m",
            "lw",
            "--seed",
            "9",
            "--json",
        ],
    ] {
        let parse = |s: String| -> Value { serde_json::from_str(&s).unwrap() };
        let (one, two) = (parse(run("1", args)), parse(run("2", args)));
        assert!(one.get("seconds").is_some(), "timings are reported");
        assert_eq!(
            without_timings(&one),
            without_timings(&two),
            "pgmkit {args:?}: JSON differs between 1 and 2 threads"
        );
    }
}

// ---------------------------------------------------------------- progress

#[test]
fn no_progress_output_when_stderr_is_not_a_terminal() {
    let out = pgmkit(&["sample", ALARM, "--n", "50000"]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let out = pgmkit(&["marginals", ISING, "-m", "gibbs", "--json"]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn a_closed_stdout_pipe_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    for args in [
        &["sample", ALARM, "--n", "200000"][..],
        &[
            "sample",
            ALARM,
            "--n",
            "100000",
            "-m",
            "gibbs",
            "--burn-in",
            "10",
        ],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pgmkit"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains("HISTORY"), "{first}");
        // the reader is dropped here: further writes hit a closed pipe
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "pgmkit {args:?}: {:?}", out.status);
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    }
}

// ---------------------------------------------------------------- bad input

#[test]
fn bad_sampling_inputs_give_one_error_line() {
    // N = 0 and other zero counts
    let err = fails(&["sample", ASIA, "--n", "0"]);
    assert!(err.contains("--n") && err.contains("at least 1"), "{err}");
    let err = fails(&["logz", ASIA, "-e", "xray=yes", "-m", "lw", "--samples", "0"]);
    assert!(err.contains("--samples"), "{err}");
    fails(&["marginals", ASIA, "-m", "gibbs", "--samples", "0"]);
    let err = fails(&["marginals", ASIA, "-m", "gibbs", "--chains", "0"]);
    assert!(err.contains("--chains"), "{err}");
    let err = fails(&["sample", ASIA, "--n", "5", "-m", "gibbs", "--thin", "0"]);
    assert!(err.contains("--thin"), "{err}");

    // unknown state or variable in the evidence
    let err = fails(&["sample", ASIA, "--n", "5", "-m", "lw", "-e", "lung=maybe"]);
    assert!(err.contains("maybe"), "{err}");
    let err = fails(&["logz", ASIA, "-m", "lw", "-e", "lung=maybe"]);
    assert!(err.contains("maybe"), "{err}");
    let err = fails(&["marginals", ASIA, "-m", "gibbs", "-e", "nosuchvar=yes"]);
    assert!(err.contains("nosuchvar"), "{err}");

    // impossible evidence: either = lung OR tub, so lung = yes with either = no has P = 0
    let err = fails(&["logz", ASIA, "-m", "lw", "-e", "lung=yes,either=no"]);
    assert!(err.contains("probability zero"), "{err}");
    fails(&[
        "logz",
        ASIA,
        "-m",
        "lw",
        "-e",
        "lung=yes,either=no",
        "--json",
    ]);
    fails(&["marginals", ASIA, "-m", "lw", "-e", "lung=yes,either=no"]);
    fails(&[
        "sample",
        ASIA,
        "--n",
        "5",
        "-m",
        "lw",
        "-e",
        "lung=yes,either=no",
    ]);
    let err = fails(&["marginals", ASIA, "-m", "gibbs", "-e", "lung=yes,either=no"]);
    assert!(err.contains("probability zero"), "{err}");
    fails(&[
        "sample",
        ASIA,
        "--n",
        "5",
        "-m",
        "gibbs",
        "-e",
        "lung=yes,either=no",
    ]);

    // forward sampling cannot condition on evidence
    let err = fails(&["sample", ASIA, "--n", "5", "-e", "xray=yes"]);
    assert!(err.contains("lw") && err.contains("gibbs"), "{err}");
    fails(&[
        "sample", ASIA, "--n", "5", "-m", "forward", "-e", "xray=yes",
    ]);

    // likelihood weighting and forward sampling need a Bayesian network
    for args in [
        &["logz", GRIDS_12, "-m", "lw"][..],
        &["marginals", GRIDS_12, "-m", "lw"],
        &["sample", GRIDS_12, "--n", "5", "-m", "lw"],
        &["sample", GRIDS_12, "--n", "5", "-m", "forward"],
    ] {
        let err = fails(args);
        assert!(err.contains("Bayesian network"), "{args:?}: {err}");
    }

    // methods and options that do not apply
    let err = fails(&["marginals", ASIA, "-m", "lw", "--chains", "2"]);
    assert!(err.contains("--chains"), "{err}");
    let err = fails(&["marginals", ASIA, "--samples", "100"]);
    assert!(err.contains("--samples"), "{err}");
    let err = fails(&["logz", ASIA, "--samples", "100"]);
    assert!(err.contains("--samples"), "{err}");
    let err = fails(&["sample", ASIA, "--n", "5", "-m", "lw", "--burn-in", "3"]);
    assert!(err.contains("--burn-in"), "{err}");

    // usage errors (clap) still exit with 2
    for args in [
        &["sample", ASIA][..],
        &["sample", ASIA, "--n", "-3"],
        &["sample", ASIA, "--n", "5", "-m", "exact"],
        &["marginals", ASIA, "-m", "no-such-method"],
        // each command parses its own methods: MCMC estimates marginals, not log Z
        &["logz", ASIA, "-m", "gibbs"],
        &["logz", ASIA, "-m", "mh"],
        &["marginals", ASIA, "-m", "ais"],
    ] {
        let out = pgmkit(args);
        assert_eq!(out.status.code(), Some(2), "pgmkit {args:?}");
        assert!(!text(&out.stderr).contains("panicked"));
    }
}

// ---------------------------------------------------------------- demo

#[test]
fn demo_has_a_sampling_section() {
    let out = ok(&["demo"]);
    assert!(out.contains("== Sampling =="), "{out}");
    assert!(out.contains("forward sampling: 100,000 rows"), "{out}");
    assert!(out.contains("variable draws/s"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("likelihood weighting:"))
        .unwrap_or_else(|| panic!("no likelihood weighting line:\n{out}"));
    // "... log P(e) = -1.2276 ± 0.0040 (exact -1.2306; ..."
    let after = line.split("log P(e) = ").nth(1).unwrap();
    let mut it = after.split_whitespace();
    let est: f64 = it.next().unwrap().parse().unwrap();
    assert_eq!(it.next(), Some("±"));
    let se: f64 = it.next().unwrap().parse().unwrap();
    assert!((est - ALARM_LOG_PE).abs() < 4.0 * se, "{line}");
    assert!(out.contains("R-hat"), "{out}");
    assert!(out.contains("Gibbs given the evidence"), "{out}");
}
