//! Integration tests of the log Z methods of the `pgmkit` command line beyond exact inference
//! and likelihood weighting: `logz --method ais|rais|bdmc|mf|bp|trw|auto|all` and
//! `marginals --method mf|bp|trw`. Every stochastic run is seeded, so every check is
//! deterministic; tolerances against exact values are still stated in standard errors.

use serde_json::Value;

#[path = "common/cli.rs"]
mod cli_common;
use cli_common::{json, ok, pgmkit, text};

/// libDAI's 10x10 Ising grid with open boundary (exact log Z = 82.148..., width 10).
const ISING: &str = "tests/data/fg/ising_10x10_open.fg";
const ASIA: &str = "tests/data/bif/asia.bif";
const ASIA_EV: &str = "xray=yes,dysp=yes";
const GRIDS_12: &str = "tests/data/uai/Grids_12.uai";
const GRIDS_12_EVID: &str = "tests/data/uai/Grids_12.uai.evid";
/// Small AIS settings for the tests that need exact samples (rais, bdmc, all).
const SMALL_AIS: [&str; 4] = ["--particles", "16", "--steps", "200"];

/// `pgmkit logz MODEL [evidence] --method M --json EXTRA...`.
fn logz(model: &str, ev: Option<&str>, method: &str, extra: &[&str]) -> Value {
    let mut args = vec!["logz", model, "--method", method, "--json"];
    if let Some(e) = ev {
        args.extend(["--evidence", e]);
    }
    args.extend(extra);
    json(&args)
}

/// Run and require a clean failure: a non-zero exit code, exactly one line starting with
/// `error:` on stderr, nothing on stdout, no panic. Returns stderr.
fn fails_with(args: &[&str], code: i32) -> String {
    let out = pgmkit(args);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "pgmkit {args:?} should exit with {code}\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "pgmkit {args:?}:\n{stderr}");
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(
        errors, 1,
        "pgmkit {args:?}: one error line expected:\n{stderr}"
    );
    assert!(
        text(&out.stdout).is_empty(),
        "pgmkit {args:?} printed to stdout on error"
    );
    stderr
}

/// A runtime error: exit code 1 and a single stderr line.
fn fails(args: &[&str]) -> String {
    let stderr = fails_with(args, 1);
    assert_eq!(stderr.lines().count(), 1, "pgmkit {args:?}:\n{stderr}");
    stderr
}

fn num(j: &Value, key: &str) -> f64 {
    j[key]
        .as_f64()
        .unwrap_or_else(|| panic!("'{key}' is not a number in {j}"))
}

/// The fields every method's JSON has (possibly null).
const CORE: [&str; 10] = [
    "method",
    "log_z",
    "log10_z",
    "std_err",
    "lower",
    "upper",
    "ess",
    "seconds",
    "kind",
    "bound_kind",
];

fn check_core(j: &Value, method: &str, kind: &str) {
    for key in CORE {
        assert!(j.get(key).is_some(), "{method}: missing '{key}' in {j}");
    }
    assert_eq!(j["method"], method, "{j}");
    assert_eq!(j["kind"], kind, "{method}: {j}");
    let lz = num(j, "log_z");
    assert!(lz.is_finite());
    assert!((num(j, "log10_z") - lz / std::f64::consts::LN_10).abs() < 1e-9);
    assert!(num(j, "seconds") >= 0.0);
}

fn exact(model: &str, ev: Option<&str>) -> f64 {
    let j = logz(model, ev, "exact", &[]);
    check_core(&j, "exact", "exact");
    assert_eq!(j["bound_kind"], "exact");
    assert_eq!(j["lower"], j["log_z"]);
    assert_eq!(j["upper"], j["log_z"]);
    num(&j, "log_z")
}

// ---------------------------------------------------------------- variational

#[test]
fn mean_field_and_trw_bracket_exact_and_bp_is_close() {
    for (model, ev) in [(ISING, None), (GRIDS_12, Some(GRIDS_12_EVID))] {
        let z = exact(model, ev);

        let mf = logz(model, ev, "mf", &[]);
        check_core(&mf, "mf", "lower_bound");
        assert_eq!(mf["bound_kind"], "deterministic");
        assert_eq!(mf["lower"], mf["log_z"]);
        assert!(mf["upper"].is_null() && mf["std_err"].is_null() && mf["ess"].is_null());
        assert!(mf["iterations"].as_u64().unwrap() >= 1);
        assert!(mf["converged"].is_boolean());
        assert!(num(&mf, "lower") <= z + 1e-9, "mf {mf} vs exact {z}");

        let trw = logz(model, ev, "trw", &[]);
        check_core(&trw, "trw", "upper_bound");
        assert_eq!(trw["bound_kind"], "deterministic");
        assert_eq!(trw["upper"], trw["log_z"]);
        assert!(trw["lower"].is_null());
        assert!(num(&trw, "upper") >= z - 1e-9, "trw {trw} vs exact {z}");
        assert_eq!(trw["seed"], 0, "the spanning trees are seeded");

        let bp = logz(model, ev, "bp", &[]);
        check_core(&bp, "bp", "approximate");
        assert!(bp["lower"].is_null() && bp["upper"].is_null() && bp["bound_kind"].is_null());
        assert!(bp["iterations"].is_u64() && bp["converged"].is_boolean());
        if model == ISING {
            assert_eq!(bp["converged"], true);
            let err = (num(&bp, "log_z") - z).abs();
            assert!(err < 0.02 * z.abs(), "bp {} vs exact {z}", bp["log_z"]);
        }
    }
    // BP is close on a Bayesian network under evidence, and mean field stays below.
    let z = exact(ASIA, Some(ASIA_EV));
    let bp = num(&logz(ASIA, Some(ASIA_EV), "bp", &[]), "log_z");
    assert!((bp - z).abs() < 0.1, "bp {bp} vs exact {z}");
    assert!(num(&logz(ASIA, Some(ASIA_EV), "mf", &[]), "lower") <= z + 1e-9);

    // Stopped early: not converged, said so, and the TRW bound still holds.
    let z = exact(ISING, None);
    let trw = logz(ISING, None, "trw", &["--max-iters", "1"]);
    assert_eq!(trw["converged"], false);
    assert_eq!(trw["iterations"], 1);
    assert_eq!(trw["stop_reason"], "max_iters");
    assert!(num(&trw, "upper") >= z);
    assert!(
        trw["notes"][0].as_str().unwrap().contains("not converge"),
        "{trw}"
    );
    let mf = logz(ISING, None, "mf", &["--tol", "1e-3", "--time-limit", "10"]);
    assert_eq!(mf["converged"], true);
    assert!(num(&mf, "lower") <= z);

    // Text output names the kind of number.
    let out = ok(&["logz", ISING, "-m", "trw"]);
    assert!(
        out.contains("upper bound") && out.contains("deterministic"),
        "{out}"
    );
    let out = ok(&["logz", ISING, "-m", "mf"]);
    assert!(out.contains("lower bound"), "{out}");
    let q: f64 = ok(&["logz", ISING, "-m", "bp", "--quiet"])
        .trim()
        .parse()
        .unwrap();
    assert!((q - z).abs() < 0.02 * z);
}

#[test]
fn trw_needs_a_pairwise_model_after_evidence() {
    // asia has CPTs with two parents: not pairwise ...
    let err = fails(&["logz", ASIA, "--method", "trw"]);
    assert!(err.contains("pairwise"), "{err}");
    // ... unless evidence on `either` cuts both three-variable factors to two variables.
    let z = exact(ASIA, Some("either=yes"));
    let trw = logz(ASIA, Some("either=yes"), "trw", &[]);
    assert!(num(&trw, "upper") >= z - 1e-9, "{trw} vs {z}");
}

#[test]
fn variational_marginals_json() {
    let ex = json(&["marginals", ISING, "--json"]);
    let ex = ex["marginals"].as_object().unwrap();
    for (method, kind) in [
        ("bp", "approximate"),
        ("mf", "lower_bound"),
        ("trw", "upper_bound"),
    ] {
        let j = json(&["marginals", ISING, "--method", method, "--json"]);
        assert_eq!(j["method"], method);
        assert_eq!(j["log_z_kind"], kind);
        assert!(num(&j, "log_z").is_finite());
        assert!(
            j["iterations"].is_u64() && j["converged"].is_boolean(),
            "{j}"
        );
        match method {
            "mf" => assert_eq!(j["lower"], j["log_z"]),
            "trw" => assert_eq!(j["upper"], j["log_z"]),
            _ => assert!(j["lower"].is_null() && j["upper"].is_null()),
        }
        assert!(j["samples"].is_null() && j["seed"].is_null());
        let m = j["marginals"].as_object().unwrap();
        assert_eq!(m.len(), 100);
        for (name, v) in m {
            assert_eq!(v["states"], ex[name]["states"]);
            assert!(v["mcse"].is_null() && v["rhat"].is_null() && v["ess"].is_null());
            let p: Vec<f64> = v["p"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            if method != "mf" {
                // BP and TRW beliefs are within a few hundredths of exact on this grid.
                let e = ex[name]["p"][1].as_f64().unwrap();
                assert!((p[1] - e).abs() < 0.06, "{method} {name}: {} vs {e}", p[1]);
            }
        }
    }
    let out = ok(&["marginals", ISING, "-m", "bp"]);
    assert!(
        out.contains("approximation") && out.contains("iterations"),
        "{out}"
    );
    // Exact marginals say what their log Z is too.
    let j = json(&["marginals", ASIA, "-e", ASIA_EV, "--json"]);
    assert_eq!(j["log_z_kind"], "exact");
    // a log Z method is not a value of `marginals --method` (rejected when parsing)
    let err = fails_with(&["marginals", ISING, "--method", "ais"], 2);
    assert!(
        err.contains("[possible values: exact, lw, gibbs, mh, block, mf, bp, trw]"),
        "{err}"
    );
}

// ---------------------------------------------------------------- AIS

#[test]
fn ais_is_within_a_few_std_errs_of_exact() {
    let z = exact(ISING, None);
    let j = logz(ISING, None, "ais", &["--seed", "7"]);
    check_core(&j, "ais", "stochastic");
    assert!(j["lower"].is_null() && j["upper"].is_null() && j["bound_kind"].is_null());
    let (lz, se, ess) = (num(&j, "log_z"), num(&j, "std_err"), num(&j, "ess"));
    assert!(se > 0.0 && se < 0.5, "{j}");
    assert!(ess > 1.0 && ess <= 128.0, "{j}");
    assert!((lz - z).abs() < 4.0 * se, "ais {lz} ± {se} vs exact {z}");
    // the defaults of the library, reported
    assert_eq!(j["particles"], 128);
    assert_eq!(j["steps"], 1000);
    assert_eq!(j["sweeps"], 1);
    assert_eq!(j["schedule"], "adaptive");
    assert_eq!(j["kernel"], "gibbs");
    assert!(j["base"] == "uniform" || j["base"] == "mf", "{j}");
    assert_eq!(j["seed"], 7);
    assert_eq!(j["dead_particles"], 0);
    assert!(num(&j, "log_weight_var") >= 0.0);
    assert!(j["updates"].as_u64().unwrap() >= 128 * 999 * 100);

    // Every option is used and reported; a Bayesian network under evidence works too.
    let za = exact(ASIA, Some(ASIA_EV));
    let j = logz(
        ASIA,
        Some(ASIA_EV),
        "ais",
        &[
            "--particles",
            "200",
            "--steps",
            "300",
            "--sweeps",
            "2",
            "--schedule",
            "sigmoid",
            "--base",
            "mf",
            "--kernel",
            "mh",
            "--seed",
            "3",
        ],
    );
    assert_eq!(j["particles"], 200);
    assert_eq!(j["steps"], 300);
    assert_eq!(j["sweeps"], 2);
    assert_eq!(j["schedule"], "sigmoid");
    assert_eq!(j["base"], "mf");
    assert_eq!(j["kernel"], "mh");
    let (lz, se) = (num(&j, "log_z"), num(&j, "std_err"));
    assert!((lz - za).abs() < 4.0 * se, "ais {lz} ± {se} vs exact {za}");
    let j = logz(
        ASIA,
        Some(ASIA_EV),
        "ais",
        &[
            "--schedule",
            "linear",
            "--kernel",
            "chromatic",
            "--particles",
            "64",
        ],
    );
    assert_eq!(j["schedule"], "linear");
    assert_eq!(j["kernel"], "chromatic");

    // Text output.
    let out = ok(&[
        "logz",
        ISING,
        "-m",
        "ais",
        "--particles",
        "16",
        "--steps",
        "100",
    ]);
    assert!(
        out.contains("stochastic") && out.contains("std err"),
        "{out}"
    );
    assert!(out.contains("16 particles x 100 steps"), "{out}");
}

#[test]
fn rais_and_bdmc_give_stochastic_bounds() {
    let z = exact(ISING, None);
    let r = logz(ISING, None, "rais", &SMALL_AIS);
    check_core(&r, "rais", "upper_bound");
    assert_eq!(r["bound_kind"], "stochastic");
    assert_eq!(r["upper"], r["log_z"]);
    assert!(r["lower"].is_null());
    let se = num(&r, "std_err");
    assert!(num(&r, "upper") > z - 4.0 * se, "{r} vs {z}");

    let b = logz(ISING, None, "bdmc", &SMALL_AIS);
    check_core(&b, "bdmc", "sandwich");
    assert_eq!(b["bound_kind"], "stochastic");
    let (lo, hi) = (num(&b, "lower"), num(&b, "upper"));
    assert_eq!(b["lower"], b["forward"]["log_z"]);
    assert_eq!(b["upper"], b["reverse"]["log_z"]);
    assert_eq!(
        b["log_z"], b["lower"],
        "bdmc reports the forward AIS estimate"
    );
    assert!((num(&b, "gap") - (hi - lo)).abs() < 1e-12);
    let (sf, sr) = (num(&b["forward"], "std_err"), num(&b["reverse"], "std_err"));
    assert!(
        lo - 4.0 * sf < z && z < hi + 4.0 * sr,
        "[{lo}, {hi}] vs {z}"
    );
    // the halves are the ais and rais runs with the same options
    let a = logz(ISING, None, "ais", &SMALL_AIS);
    assert_eq!(a["log_z"], b["forward"]["log_z"]);
    assert_eq!(r["log_z"], b["reverse"]["log_z"]);

    // exact samples are needed
    let err = fails(&["logz", ISING, "-m", "bdmc", "--memory-limit", "1e-7"]);
    assert!(err.contains("exact samples"), "{err}");
    let err = fails(&["logz", ISING, "-m", "rais", "--memory-limit", "1e-7"]);
    assert!(err.contains("exact samples"), "{err}");
}

// ---------------------------------------------------------------- auto and all

#[test]
fn auto_picks_exact_when_it_fits_and_ais_with_bounds_otherwise() {
    let z = exact(ISING, None);
    let j = logz(ISING, None, "auto", &[]);
    check_core(&j, "auto", "exact");
    assert_eq!(num(&j, "log_z"), z);
    assert_eq!(j["sources"]["log_z"], "exact");

    // A memory limit of ~1 KB makes exact inference too large.
    let j = logz(
        ISING,
        None,
        "auto",
        &[
            "--memory-limit",
            "1e-6",
            "--particles",
            "32",
            "--steps",
            "300",
        ],
    );
    check_core(&j, "auto", "stochastic");
    assert_eq!(j["bound_kind"], "deterministic");
    assert_eq!(j["sources"]["log_z"], "ais");
    assert_eq!(j["sources"]["lower"], "mf");
    assert_eq!(j["sources"]["upper"], "trw");
    let parts: Vec<&str> = j["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["method"].as_str().unwrap())
        .collect();
    assert_eq!(parts, ["ais", "mf", "trw"]);
    let (lo, hi) = (num(&j, "lower"), num(&j, "upper"));
    assert!(lo <= z && z <= hi, "[{lo}, {hi}] vs exact {z}");
    assert!(num(&j, "std_err") > 0.0);
    assert!(
        (num(&j, "log_z") - z).abs() < 4.0 * num(&j, "std_err"),
        "{j}"
    );
    assert!(
        j["notes"][0].as_str().unwrap().contains("does not fit"),
        "{j}"
    );
    let out = ok(&[
        "logz",
        ISING,
        "-m",
        "auto",
        "--memory-limit",
        "1e-6",
        "--steps",
        "100",
    ]);
    assert!(
        out.contains("(mf, deterministic)") && out.contains("(trw, deterministic)"),
        "{out}"
    );
}

#[test]
fn all_lists_every_method() {
    let out = ok(&[
        "logz",
        ISING,
        "--method",
        "all",
        "--particles",
        "16",
        "--steps",
        "200",
    ]);
    for m in ["exact", "ais", "rais", "bdmc", "mf", "bp", "trw"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{m} ")))
            .unwrap_or_else(|| panic!("no row for {m}:\n{out}"));
        assert!(!line.contains("not run"), "{line}");
    }
    assert!(out.contains("vs exact") && out.contains("std err"), "{out}");
    let lw = out.lines().find(|l| l.starts_with("lw ")).unwrap();
    assert!(
        lw.contains("not run") && lw.contains("Bayesian network"),
        "{lw}"
    );

    let j = logz(ISING, None, "all", &SMALL_AIS);
    let z = num(&j, "exact_log_z");
    let rows = j["results"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(names, ["exact", "ais", "rais", "bdmc", "mf", "bp", "trw"]);
    for r in rows {
        let err = num(r, "error_vs_exact");
        assert!((err - (num(r, "log_z") - z)).abs() < 1e-9, "{r}");
        for key in CORE {
            assert!(r.get(key).is_some(), "missing {key} in {r}");
        }
    }
    assert_eq!(j["not_applicable"][0]["method"], "lw");

    // A Bayesian network: TRW does not apply without evidence (CPTs with two parents), lw
    // applies with evidence; rows carry the error against exact.
    let j = logz(ASIA, None, "all", &SMALL_AIS);
    let skipped = j["not_applicable"].as_array().unwrap();
    let reason = |m: &str| {
        skipped
            .iter()
            .find(|s| s["method"] == m)
            .and_then(|s| s["reason"].as_str())
            .unwrap_or_else(|| panic!("{m} not listed as not applicable: {j}"))
            .to_string()
    };
    assert!(reason("trw").contains("pairwise"));
    assert!(reason("lw").contains("evidence"));
    let j = logz(ASIA, Some(ASIA_EV), "all", &SMALL_AIS);
    let names: Vec<&str> = j["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["exact", "ais", "rais", "bdmc", "mf", "bp", "lw"]);
}

/// Remove every field whose name ends in `seconds`, recursively.
fn strip_timings(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.ends_with("seconds"));
            m.values_mut().for_each(strip_timings);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_timings),
        _ => {}
    }
}

#[test]
fn same_seed_gives_the_same_json_for_any_thread_count() {
    let run = |threads: &str| {
        let mut args = vec![
            "--threads",
            threads,
            "logz",
            ISING,
            "-m",
            "all",
            "--seed",
            "5",
        ];
        args.extend(SMALL_AIS);
        args.push("--json");
        let mut j = json(&args);
        strip_timings(&mut j);
        j
    };
    let (one, two) = (run("1"), run("2"));
    assert_eq!(one, two);
    let lz = |j: &Value, m: &str| {
        j["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["method"] == m)
            .map(|r| r["log_z"].clone())
            .unwrap()
    };
    // and a different seed changes the AIS numbers
    let mut args = vec!["logz", ISING, "-m", "all", "--seed", "6", "--json"];
    args.extend(SMALL_AIS);
    let other = json(&args);
    assert_ne!(lz(&one, "ais"), lz(&other, "ais"));
    assert_eq!(lz(&one, "exact"), lz(&other, "exact"));
}

// ---------------------------------------------------------------- bad input

#[test]
fn bad_options_give_one_error_line() {
    for (args, needle) in [
        (
            &["logz", ISING, "-m", "ais", "--particles", "0"][..],
            "--particles",
        ),
        (
            &["logz", ISING, "-m", "ais", "--particles", "1"],
            "at least 2",
        ),
        (&["logz", ISING, "-m", "ais", "--steps", "0"], "--steps"),
        (&["logz", ISING, "-m", "bdmc", "--sweeps", "0"], "--sweeps"),
        (
            &["logz", ISING, "-m", "mf", "--max-iters", "0"],
            "--max-iters",
        ),
        (
            &["logz", ISING, "-m", "exact", "--particles", "10"],
            "--particles",
        ),
        (
            &["logz", ISING, "-m", "bp", "--schedule", "linear"],
            "--schedule",
        ),
        (&["logz", ISING, "-m", "ais", "--tol", "1e-3"], "--tol"),
        (
            &["logz", ISING, "-m", "exact", "--time-limit", "1"],
            "--time-limit",
        ),
        (&["logz", ISING, "-m", "mf", "--samples", "10"], "--samples"),
        (&["logz", ISING, "-m", "lw"], "Bayesian network"),
        (&["logz", ISING, "-m", "gibbs"], "possible values"),
        (&["marginals", ISING, "-m", "bdmc"], "possible values"),
        (
            &["marginals", ISING, "-m", "block", "--scan", "chromatic"],
            "--scan chromatic applies to the single-site methods",
        ),
        (
            &["logz", ISING, "-m", "ais", "--kernel", "nuts"],
            "possible values",
        ),
        (
            &["marginals", ISING, "-m", "bp", "--particles", "5"],
            "unexpected",
        ),
    ] {
        // (usage errors: a method the command does not run, marginals has no --particles)
        let code = if needle == "unexpected" || needle == "possible values" {
            2
        } else {
            1
        };
        let err = fails_with(args, code);
        assert!(err.contains(needle), "pgmkit {args:?}: {err}");
    }
    // impossible evidence is caught before any approximation runs
    let err = fails(&["logz", ASIA, "-m", "ais", "-e", "lung=yes,either=no"]);
    assert!(
        err.contains("probability zero") || err.contains("zero"),
        "{err}"
    );
    // usage errors (clap): exit code 2 and one error line naming the values that are accepted
    let err = fails_with(&["logz", ISING, "-m", "ais", "--schedule", "cosine"], 2);
    assert!(err.contains("adaptive"), "{err}");
    fails_with(&["logz", ISING, "-m", "ais", "--kernel", "hmc"], 2);
    fails_with(&["logz", ISING, "-m", "ais", "--base", "gaussian"], 2);
    fails_with(&["logz", ISING, "-m", "mf", "--tol", "-1"], 2);
    fails_with(&["logz", ISING, "-m", "mf", "--time-limit", "0"], 2);
}

#[test]
fn help_documents_the_methods_and_options() {
    let h = ok(&["logz", "--help"]);
    for s in [
        "--particles",
        "--steps",
        "--sweeps",
        "--schedule",
        "--base",
        "--kernel",
        "--seed",
        "--threads",
        "--time-limit",
        "--tol",
        "--max-iters",
        "--json",
        "ais",
        "rais",
        "bdmc",
        "mf",
        "bp",
        "trw",
        "auto",
        "all",
    ] {
        assert!(h.contains(s), "logz --help does not mention {s}");
    }
    let h = ok(&["marginals", "--help"]);
    for s in ["mf", "bp", "trw", "--tol", "--max-iters", "--time-limit"] {
        assert!(h.contains(s), "marginals --help does not mention {s}");
    }
}
