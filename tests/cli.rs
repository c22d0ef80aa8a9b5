//! Integration tests of the `pgmkit` command-line program: run the built binary and check its
//! output, its JSON and its exit codes.

use std::path::{Path, PathBuf};

use serde_json::Value;

#[path = "common/cli.rs"]
mod cli_common;
use cli_common::{json, ok, pgmkit, text};

const ASIA: &str = "tests/data/bif/asia.bif";
const GRIDS_12: &str = "tests/data/uai/Grids_12.uai";
const GRIDS_12_EVID: &str = "tests/data/uai/Grids_12.uai.evid";
/// log10 Z of Grids_12 with its evidence (UAI 2014 PR answer, full precision).
const GRIDS_12_LOG10_Z: f64 = 303.0859565859;
/// Exact log Z of libDAI's testfast.fg (tests/data/fg/SOURCES.md).
const TESTFAST_LOG_Z: f64 = 14.3282332811;
/// Exact log P(BP=HIGH, HRBP=HIGH, HREKG=HIGH) in ALARM.
const ALARM_DEMO_LOG_PE: f64 = -1.2306423;

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
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("'{key}' is not a number in {v}"))
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

/// ASIA loaded through the library, for brute-force reference values.
fn asia() -> pgmkit::BayesNet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(ASIA);
    let text = std::fs::read_to_string(path).unwrap();
    pgmkit::io::bif::parse_bif(&text, &Default::default()).unwrap()
}

/// ln of the sum of P(x) over all joint states x that satisfy `keep`, by enumeration.
fn brute_log_prob(bn: &pgmkit::BayesNet, keep: impl Fn(&[usize]) -> bool) -> f64 {
    let cards: Vec<usize> = bn.vars().iter().map(|v| v.card()).collect();
    let mut x = vec![0usize; cards.len()];
    let mut total = 0.0;
    loop {
        if keep(&x) {
            total += bn.log_prob(&x).exp();
        }
        let mut i = 0;
        loop {
            if i == x.len() {
                return total.ln();
            }
            x[i] += 1;
            if x[i] < cards[i] {
                break;
            }
            x[i] = 0;
            i += 1;
        }
    }
}

// ---------------------------------------------------------------- help and usage

#[test]
fn help_works_for_every_subcommand() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["info", "--help"],
        &["logz", "--help"],
        &["marginals", "--help"],
        &["convert", "--help"],
        &["sample", "--help"],
        &["demo", "--help"],
        &["help", "logz"],
    ] {
        let out = ok(args);
        assert!(out.contains("Usage:"), "pgmkit {args:?}:\n{out}");
    }
    let top = ok(&["--help"]);
    for sub in ["info", "logz", "marginals", "sample", "convert"] {
        assert!(top.contains(sub), "top-level help does not list '{sub}'");
    }
    let logz = ok(&["logz", "--help"]);
    for opt in [
        "--evidence",
        "--method",
        "--json",
        "--memory-limit",
        "--renormalize",
        "--threads",
        "--quiet",
    ] {
        assert!(logz.contains(opt), "logz --help does not mention {opt}");
    }
    assert!(ok(&["--version"]).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn usage_errors_exit_with_2() {
    for args in [
        &["logz"][..],
        &["logz", ASIA, "--method", "no-such-method"],
        &["no-such-command"],
        &["info", ASIA, "--threads", "0"],
        &["logz", ASIA, "--memory-limit", "-1"],
    ] {
        let out = pgmkit(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "pgmkit {args:?}: {}",
            text(&out.stderr)
        );
        assert!(!text(&out.stderr).contains("panicked"));
    }
}

// ---------------------------------------------------------------- info

#[test]
fn info_on_asia() {
    let out = ok(&["info", ASIA]);
    assert!(out.contains("Bayesian network"), "{out}");
    assert!(out.contains("BIF"), "{out}");
    assert!(out.contains("18 free"), "{out}");
    assert!(out.contains("either"), "variables should be listed:\n{out}");
    assert!(out.contains("elimination width"), "{out}");

    let j = json(&["info", ASIA, "--json"]);
    assert_eq!(j["format"], "BIF");
    assert_eq!(j["kind"], "bayesian_network");
    assert_eq!(j["num_variables"], 8);
    assert_eq!(j["num_arcs"], 8);
    assert_eq!(j["parameters"], 18);
    assert_eq!(j["table_entries"], 36);
    assert_eq!(j["min_states"], 2);
    assert_eq!(j["max_states"], 2);
    assert_eq!(j["plan"]["width"], 2);
    assert!(num(&j["plan"], "max_clique_entries") >= 8.0);
    let vars = j["variables"]
        .as_array()
        .expect("variables listed for a small model");
    assert_eq!(vars.len(), 8);
    assert_eq!(vars[0]["name"], "asia");
    assert_eq!(vars[0]["states"], serde_json::json!(["yes", "no"]));

    let j = json(&["info", ASIA, "--json", "--evidence", "xray=yes,dysp=no"]);
    assert_eq!(j["evidence"]["xray"], "yes");
    assert_eq!(j["evidence"]["dysp"], "no");
}

#[test]
fn info_on_a_markov_network() {
    let j = json(&["info", GRIDS_12, "--evidence", GRIDS_12_EVID, "--json"]);
    assert_eq!(j["format"], "UAI");
    assert_eq!(j["kind"], "markov_network");
    assert_eq!(j["num_variables"], 100);
    assert!(j["num_arcs"].is_null());
    assert!(
        j["variables"].is_null(),
        "more than 50 variables are not listed"
    );
    assert!(j["plan"]["width"].as_u64().unwrap() >= 10);
}

// ---------------------------------------------------------------- logz

#[test]
fn logz_json_on_asia_with_evidence() {
    let j = json(&[
        "logz",
        ASIA,
        "--evidence",
        "asia=yes,xray=yes,dysp=yes",
        "--json",
    ]);
    assert_eq!(j["method"], "exact");
    assert_eq!(j["kind"], "exact");
    let log_z = num(&j, "log_z");
    let log10_z = num(&j, "log10_z");
    assert!(close(log10_z, log_z / std::f64::consts::LN_10, 1e-14));
    assert!(num(&j, "seconds") >= 0.0);
    for key in ["std_err", "lower", "upper", "ess"] {
        assert!(j.get(key).is_some(), "missing '{key}' in {j}");
    }
    assert!(j["std_err"].is_null() && j["ess"].is_null());

    // asia = 0, xray = 6, dysp = 7; state "yes" = 0.
    let bn = asia();
    let expected = brute_log_prob(&bn, |x| x[0] == 0 && x[6] == 0 && x[7] == 0);
    assert!(
        close(log_z, expected, 1e-12),
        "log_z {log_z} vs brute force {expected}"
    );

    // Default method is exact; the text form names it and prints the same number.
    let out = ok(&["logz", ASIA, "-e", "asia=yes,xray=yes,dysp=yes"]);
    assert!(out.contains("exact"), "{out}");
    assert!(out.contains(&format!("{log_z:.10}")), "{out}");
    let quiet: f64 = ok(&["logz", ASIA, "-e", "asia=yes,xray=yes,dysp=yes", "--quiet"])
        .trim()
        .parse()
        .expect("--quiet prints just the number");
    assert!(close(quiet, log_z, 1e-15));
}

#[test]
fn logz_without_evidence_is_zero_for_a_bayesian_network() {
    let j = json(&["logz", ASIA, "--json"]);
    assert!(num(&j, "log_z").abs() < 1e-12, "{j}");
}

#[test]
fn logz_on_grids_12_matches_the_uai_answer() {
    let j = json(&[
        "logz",
        GRIDS_12,
        "--evidence",
        GRIDS_12_EVID,
        "--method",
        "exact",
        "--json",
    ]);
    let log10_z = num(&j, "log10_z");
    assert!(
        (log10_z - GRIDS_12_LOG10_Z).abs() < 1e-6,
        "log10 Z = {log10_z}"
    );
    assert_eq!(j["model_kind"], "markov_network");
}

#[test]
fn thread_count_does_not_change_the_answer() {
    let one = json(&["--threads", "1", "logz", GRIDS_12, "--json"]);
    let two = json(&["logz", GRIDS_12, "--json", "--threads", "2"]);
    assert!(close(num(&one, "log_z"), num(&two, "log_z"), 1e-12));
}

// ---------------------------------------------------------------- marginals

#[test]
fn marginals_json_on_asia() {
    let j = json(&[
        "marginals",
        ASIA,
        "--evidence",
        "xray=yes,dysp=yes",
        "--json",
    ]);
    assert_eq!(j["method"], "exact");
    assert!(num(&j, "seconds") >= 0.0);
    let m = j["marginals"].as_object().expect("marginals object");
    // Variables in model order (serde_json sorts object keys, so read the raw text for the order).
    let names: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
    let mut sorted_expected = vec![
        "asia", "tub", "smoke", "lung", "bronc", "either", "xray", "dysp",
    ];
    let raw = ok(&[
        "marginals",
        ASIA,
        "--evidence",
        "xray=yes,dysp=yes",
        "--json",
    ]);
    let positions: Vec<usize> = sorted_expected
        .iter()
        .map(|v| {
            raw.find(&format!("\"{v}\": {{"))
                .unwrap_or_else(|| panic!("{v} missing"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "variables not in model order:\n{raw}"
    );
    sorted_expected.sort();
    let mut names_sorted = names.clone();
    names_sorted.sort();
    assert_eq!(names_sorted, sorted_expected);

    for (name, entry) in m {
        assert_eq!(entry["states"], serde_json::json!(["yes", "no"]), "{name}");
        let p: Vec<f64> = entry["p"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|&x| (0.0..=1.0).contains(&x)), "{name}: {p:?}");
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{name}: {p:?}");
    }
    assert!((m["xray"]["p"][0].as_f64().unwrap() - 1.0).abs() < 1e-12);

    // P(lung = yes | xray = yes, dysp = yes) against enumeration.
    let bn = asia();
    let pe = brute_log_prob(&bn, |x| x[6] == 0 && x[7] == 0);
    let joint = brute_log_prob(&bn, |x| x[3] == 0 && x[6] == 0 && x[7] == 0);
    let p_lung = m["lung"]["p"][0].as_f64().unwrap();
    assert!((p_lung - (joint - pe).exp()).abs() < 1e-10, "{p_lung}");
    assert!(close(num(&j, "log_z"), pe, 1e-12));
}

#[test]
fn marginals_text_on_asia() {
    let out = ok(&["marginals", ASIA, "-e", "xray=yes"]);
    assert!(out.contains("lung"), "{out}");
    assert!(out.contains("observed: yes"), "{out}");
}

// ---------------------------------------------------------------- convert

#[test]
fn convert_bif_to_uai_keeps_log_p_e() {
    let dir = scratch("convert-bif-uai");
    let uai = dir.join("asia.uai");
    let uai_s = uai.to_str().unwrap();
    ok(&["convert", ASIA, uai_s]);
    assert!(uai.is_file());
    // UAI names variables by index: xray = 6, dysp = 7, state yes = 0.
    let a = json(&["logz", ASIA, "-e", "xray=yes,dysp=yes", "--json"]);
    let b = json(&["logz", uai_s, "-e", "6=0,7=0", "--json"]);
    assert!(
        close(num(&a, "log_z"), num(&b, "log_z"), 1e-12),
        "{a} vs {b}"
    );
    assert_eq!(b["model_kind"], "bayesian_network");
}

#[test]
fn convert_fg_to_uai_keeps_log_z() {
    let dir = scratch("convert-fg-uai");
    let uai = dir.join("testfast.uai");
    let uai_s = uai.to_str().unwrap();
    ok(&["convert", "tests/data/fg/testfast.fg", uai_s, "--quiet"]);
    let j = json(&["logz", uai_s, "--json"]);
    assert!(close(num(&j, "log_z"), TESTFAST_LOG_Z, 1e-10), "{j}");
}

#[test]
fn convert_markov_network_to_bif_is_an_error() {
    let dir = scratch("convert-mrf-bif");
    let bif = dir.join("grid.bif");
    let err = fails(&["convert", GRIDS_12, bif.to_str().unwrap()]);
    assert!(err.contains("BIF") && err.contains("Markov"), "{err}");
    assert!(!bif.exists());
}

// ---------------------------------------------------------------- errors

#[test]
fn bad_inputs_give_one_error_line() {
    let dir = scratch("bad-inputs");
    let malformed = dir.join("malformed.bif");
    std::fs::write(&malformed, "network x { }\nvariable a {\n  type discrete [ 2 ] { yes, no };\n}\nprobability ( a ) {\n  table 0.5, oops;\n}\n").unwrap();
    let malformed = malformed.to_str().unwrap();

    let err = fails(&["logz", "tests/data/bif/no-such-file.bif"]);
    assert!(err.contains("no-such-file.bif"), "{err}");
    let err = fails(&["info", "tests/data/bif/no-such-file.bif"]);
    assert!(err.contains("no-such-file.bif"), "{err}");

    let err = fails(&["logz", ASIA, "--evidence", "nosuchvar=yes"]);
    assert!(err.contains("nosuchvar"), "{err}");
    let err = fails(&["logz", ASIA, "--evidence", "lung=maybe"]);
    assert!(err.contains("maybe"), "{err}");
    let err = fails(&["marginals", ASIA, "--evidence", "lung"]);
    assert!(err.contains("lung"), "{err}");
    let err = fails(&["logz", ASIA, "--evidence", "lung=yes,lung=no"]);
    assert!(err.contains("lung"), "{err}");
    let err = fails(&["logz", ASIA, "--evidence", "tests/data/uai/no-such.evid"]);
    assert!(err.contains("no-such.evid"), "{err}");

    let err = fails(&["logz", malformed]);
    assert!(err.contains("line"), "{err}");
    fails(&["info", malformed]);
    fails(&["convert", malformed, dir.join("x.uai").to_str().unwrap()]);

    let err = fails(&["info", "Cargo.toml"]);
    assert!(err.contains("extension"), "{err}");

    // either = lung OR tub, so lung = yes with either = no is impossible.
    let err = fails(&["logz", ASIA, "--evidence", "lung=yes,either=no"]);
    assert!(err.contains("probability zero"), "{err}");
    fails(&["marginals", ASIA, "--evidence", "lung=yes,either=no"]);
    fails(&[
        "marginals",
        ASIA,
        "--evidence",
        "lung=yes,either=no",
        "--json",
    ]);

    // The memory guard refuses instead of allocating.
    let err = fails(&["logz", GRIDS_12, "--memory-limit", "1e-9"]);
    assert!(err.contains("too large"), "{err}");
}

// ---------------------------------------------------------------- demo

fn demo_log_pe(out: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.contains("log P(e) ="))
        .unwrap_or_else(|| panic!("no 'log P(e) =' line in the demo:\n{out}"));
    line.split('=')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the number in '{line}'"))
}

#[test]
fn no_arguments_runs_the_demo() {
    let out = ok(&[]);
    let v = demo_log_pe(&out);
    assert!((v - ALARM_DEMO_LOG_PE).abs() < 1e-6, "{v}\n{out}");
    assert!(out.contains("37 variables"), "{out}");
    assert!(out.contains("46 arcs"), "{out}");
    assert!(out.contains("509 free parameters"), "{out}");
    assert!(out.contains("HYPOVOLEMIA"), "{out}");
    assert!(out.contains("pgmkit --help"), "{out}");
    assert!(out.contains("Learning undirected models"), "{out}");
    assert!(out.contains("AIS log Z"), "{out}");

    let again = ok(&["demo"]);
    assert!((demo_log_pe(&again) - ALARM_DEMO_LOG_PE).abs() < 1e-6);
}
