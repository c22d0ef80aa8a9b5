//! Regression tests of issue 12 (reliability): one per finding. Every hostile input gives one
//! clean `error:` line and a non-zero exit (or the correct output), never a panic, an abort or a
//! hang; no command destroys its inputs; `--time-limit` bounds the whole command.
//!
//! Each command runs under a 4 GB address-space limit (`ulimit -v`, through `sh`), so an input
//! that would allocate without checking aborts here instead of swapping the machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

const ASIA: &str = "tests/data/bif/asia.bif";
const ALARM: &str = "tests/data/bif/alarm.bif";
const ISING10: &str = "tests/data/fg/ising_10x10_open.fg";
const ISING100: &str = "tests/data/fg/ising_100x100_periodic.fg";
const ECOLI: &str = "tests/data/gbn/ecoli70.json";
const CHAIN3: &str = "tests/data/gmrf/chain3.json";

/// Run the binary with `args` under `ulimit -v 4000000`, from the crate root.
fn run(args: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_pgmkit");
    Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4000000 2>/dev/null; exec \"$0\" \"$@\"")
        .arg(bin)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the pgmkit binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Require a clean failure: exit code 1 or 2, no panic, an `error:` line. Returns stderr.
fn clean_error(args: &[&str]) -> String {
    let out = run(args);
    let err = text(&out.stderr);
    let code = out.status.code();
    assert!(
        matches!(code, Some(1) | Some(2)),
        "pgmkit {args:?}: expected exit 1 or 2, got {code:?} (a signal if None)\n{err}"
    );
    assert!(
        !err.contains("panicked"),
        "pgmkit {args:?} panicked:\n{err}"
    );
    assert!(
        err.contains("error"),
        "pgmkit {args:?}: no error line:\n{err}"
    );
    err
}

/// Require success; returns stdout.
fn success(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "pgmkit {args:?} failed ({:?}):\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pgmkit-rel-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---------------------------------------------------------------------------------- panics

#[test]
fn names_longer_than_the_format_width_limit_do_not_panic() {
    let d = tmpdir("long");
    let bif = std::fs::read_to_string(ASIA).unwrap();
    let var = d.join("longvar.bif");
    std::fs::write(&var, bif.replace("asia", &"v".repeat(70_000))).unwrap();
    assert!(success(&["info", s(&var)]).contains("vvvv"));
    let state = d.join("longstate.bif");
    std::fs::write(&state, bif.replace("yes", &"s".repeat(70_000))).unwrap();
    success(&["marginals", s(&state)]);
    let gbn = std::fs::read_to_string(ECOLI).unwrap();
    let g = d.join("longgbn.json");
    std::fs::write(
        &g,
        gbn.replace("\"lacA\"", &format!("\"{}\"", "n".repeat(70_000))),
    )
    .unwrap();
    success(&["marginals", s(&g)]);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn huge_time_limits_are_refused_not_panics() {
    for m in ["ais", "mf", "bp", "auto"] {
        let e = clean_error(&["logz", ISING10, "--method", m, "--time-limit", "1e20"]);
        assert!(e.contains("time limit"), "{e}");
    }
    let e = clean_error(&[
        "impute",
        ASIA,
        "--data",
        "x.csv",
        "--out",
        "y.csv",
        "--learn",
        "em",
        "--time-limit",
        "1e308",
    ]);
    assert!(e.contains("time limit"), "{e}");
}

#[test]
fn huge_counts_are_refused_before_allocating() {
    let max = "18446744073709551615";
    for (flag, v) in [
        ("--particles", max),
        ("--steps", max),
        ("--particles", "1000000000"),
        ("--steps", "4294967296"),
    ] {
        let e = clean_error(&["logz", ISING10, "--method", "ais", flag, v]);
        assert!(
            e.contains("would need") || e.contains("updates"),
            "{flag} {v}: {e}"
        );
        clean_error(&["logz", CHAIN3, "--method", "ais", flag, v]);
    }
    clean_error(&["sample", ECOLI, "--n", max]);
    clean_error(&["--threads", "100000", "info", ASIA]);
    let e = clean_error(&["logz", ISING10, "--method", "ais", "--particles", "-1"]);
    assert!(e.contains("invalid value '-1'"), "{e}");
}

#[test]
fn sizes_in_files_are_checked_before_allocating() {
    let d = tmpdir("sizes");
    let big = d.join("big.json");
    std::fs::write(
        &big,
        r#"{"format":"pgmkit-gmrf","precision":{"n":1000000000,"entries":[[0,0,2.0]]}}"#,
    )
    .unwrap();
    assert!(clean_error(&["info", s(&big)]).contains("would need"));
    let lat = d.join("lat.json");
    std::fs::write(
        &lat,
        r#"{"format":"pgmkit-gmrf","lattice":{"rows":1099511627776,"cols":1099511627776,"periodic":false,"diagonal":4.5,"coupling":1.0}}"#,
    )
    .unwrap();
    clean_error(&["info", s(&lat)]);
    // a 48-byte .fg declaring a 8192 x 8192 table: refused at once
    let fg = d.join("sparse.fg");
    std::fs::write(&fg, "1\n\n2\n0 1\n8192 8192\n1\n0 1.0\n").unwrap();
    let t = Instant::now();
    clean_error(&["info", s(&fg)]);
    assert!(t.elapsed() < Duration::from_secs(2));
    // one endless line
    let t = Instant::now();
    let e = clean_error(&["score", ASIA, "--data", "/dev/zero"]);
    assert!(e.contains("longer than"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(20));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn large_outputs_stream() {
    // 200,000 Gaussian rows and Monte Carlo KL over 2^22 samples with bounded memory (4 GB ulimit)
    let out = run(&["sample", ECOLI, "--n", "200000", "--seed", "3"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).lines().count(), 200_001);
    let small = run(&["sample", ECOLI, "--n", "70000", "--seed", "3"]);
    // the first rows do not depend on how many are drawn (chunks reuse the same streams)
    let a: Vec<String> = text(&out.stdout)
        .lines()
        .take(70_001)
        .map(String::from)
        .collect();
    let b: Vec<String> = text(&small.stdout).lines().map(String::from).collect();
    assert_eq!(a, b);
    success(&["kl", ASIA, ASIA, "--method", "mc", "--samples", "4194304"]);
}

// ------------------------------------------------------------------------------ time limits

/// `logz ... --time-limit T --json` must end within T + max(1 s, 5%).
fn within_budget(args: &[&str], t: f64) -> Value {
    let mut a = args.to_vec();
    let ts = t.to_string();
    a.extend(["--time-limit", ts.as_str(), "--json"]);
    let t0 = Instant::now();
    let out = success(&a);
    let wall = t0.elapsed().as_secs_f64();
    assert!(
        wall <= t + (0.05 * t).max(1.0),
        "pgmkit {a:?} took {wall:.2} s for a budget of {t} s"
    );
    serde_json::from_str(&out).unwrap()
}

#[test]
fn time_limit_bounds_the_whole_command() {
    let j = within_budget(&["logz", ISING100, "--method", "ais"], 3.0);
    assert_eq!(j["time_limited"], Value::Bool(true));
    assert!(j["particles"].as_u64().unwrap() >= 2);
    within_budget(&["logz", ISING100, "--method", "auto"], 3.0);
    within_budget(&["logz", ISING10, "--method", "bdmc"], 1.0);
    within_budget(&["logz", ISING10, "--method", "all"], 1.0);
    let j = within_budget(
        &[
            "marginals",
            ISING100,
            "--method",
            "gibbs",
            "--samples",
            "20000",
        ],
        2.0,
    );
    assert!(j["draws_per_chain"].as_u64().is_some());
}

#[test]
fn time_limited_ais_reports_what_ran() {
    let j = within_budget(
        &["logz", ISING100, "--method", "ais", "--steps", "5000"],
        2.0,
    );
    assert!(j["steps"].as_u64().unwrap() < 5000);
    let notes = j["notes"].as_array().unwrap();
    assert!(notes
        .iter()
        .any(|n| n.as_str().unwrap().contains("time limit")));
}

// ------------------------------------------------------------------------------- data loss

fn sums(files: &[&Path]) -> Vec<Vec<u8>> {
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

#[test]
fn outputs_that_are_inputs_are_refused_and_nothing_changes() {
    let d = tmpdir("same");
    let m = d.join("m.bif");
    std::fs::copy(ASIA, &m).unwrap();
    let data = d.join("holes.csv");
    std::fs::write(
        &data,
        "asia,tub,smoke,lung,bronc,either,xray,dysp\nyes,,no,no,yes,no,no,yes\n,no,yes,,no,no,no,no\n",
    )
    .unwrap();
    let link = d.join("link.csv");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&data, &link).unwrap();
    let out = d.join("o.csv");
    let rel = d.join(".").join("holes.csv");
    let before = sums(&[&m, &data]);
    let cases: Vec<Vec<&str>> = vec![
        vec!["impute", s(&m), "--data", s(&data), "--out", s(&data)],
        vec!["impute", s(&m), "--data", s(&data), "--out", s(&rel)],
        vec!["impute", s(&m), "--data", s(&data), "--out", s(&m)],
        vec!["impute", s(&m), "--data", s(&data), "--out", s(&link)],
        vec![
            "impute",
            s(&m),
            "--data",
            s(&data),
            "--out",
            s(&out),
            "--posteriors",
            s(&data),
        ],
        vec![
            "impute",
            s(&m),
            "--data",
            s(&data),
            "--out",
            s(&out),
            "--posteriors",
            s(&out),
        ],
        vec![
            "impute",
            s(&m),
            "--data",
            s(&data),
            "--out",
            s(&out),
            "--save-model",
            s(&m),
        ],
        vec!["sample", s(&m), "--n", "5", "--out", s(&m)],
        vec!["convert", s(&m), s(&m)],
        vec!["score", s(&m), "--data", s(&data), "--per-row", s(&data)],
    ];
    for c in &cases {
        let e = clean_error(c);
        assert!(e.contains("same file"), "{c:?}: {e}");
        assert_eq!(sums(&[&m, &data]), before, "{c:?} changed an input");
        assert!(!out.exists(), "{c:?} wrote an output");
    }
    // a failing output path is found before any work, and no other output appears
    let bad = d.join("missing-dir").join("p.csv");
    for extra in [["--posteriors", s(&bad)], ["--save-model", s(&bad)]] {
        let mut c = vec![
            "impute",
            s(&m),
            "--data",
            s(&data),
            "--out",
            s(&out),
            "--multiple",
            "3",
            "--learn",
            "em",
        ];
        c.extend(extra);
        clean_error(&c);
        for k in 1..=3 {
            assert!(!d.join(format!("o_{k}.csv")).exists());
        }
    }
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 3, "no stray files");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn imputation_keeps_the_input_dialect() {
    let d = tmpdir("dialect");
    let data = d.join("d.csv");
    let input = "\u{feff}\"asia\",tub,smoke,lung,bronc,either,xray,dysp,note\r\n\
                 \"yes\",,no,no,yes,no,no,yes,\"a, b\"\r\n\
                 ,no,\"yes\",NA,no,no,no,no,x\r\n\
                 \r\n\
                 \"\",no,yes,no,no,no,no,\"no\",\"\"\r\n";
    std::fs::write(&data, input).unwrap();
    let out = d.join("o.csv");
    success(&["impute", ASIA, "--data", s(&data), "--out", s(&out), "-q"]);
    let got = std::fs::read_to_string(&out).unwrap();
    assert!(got.starts_with('\u{feff}'), "BOM kept");
    let (a, b): (Vec<&str>, Vec<&str>) =
        (input.split("\r\n").collect(), got.split("\r\n").collect());
    assert_eq!(a.len(), b.len(), "CRLF lines kept: {got:?}");
    for (x, y) in a.iter().zip(&b) {
        // every observed cell's text (quotes included) is unchanged; holes got a state
        let (xs, ys): (Vec<&str>, Vec<&str>) = (split(x), split(y));
        assert_eq!(xs.len(), ys.len(), "{x:?} vs {y:?}");
        for (c, (p, q)) in xs.iter().zip(&ys).enumerate() {
            let hole = c < 8 && matches!(*p, "" | "NA" | "\"\"" | "?");
            if hole {
                let q = q.trim_matches('"');
                assert!(q == "yes" || q == "no", "{y:?}");
            } else {
                assert_eq!(p, q, "observed text changed in {x:?} -> {y:?}");
            }
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// Fields of one CSV line, quotes kept (enough for the test line above).
fn split(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, ch) in line.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !line.is_empty() {
        out.push(&line[start..]);
    }
    out
}

// ---------------------------------------------------------------------------- honest numbers

#[test]
fn non_finite_results_are_errors() {
    let d = tmpdir("nan");
    let rows = success(&["sample", ECOLI, "--n", "20", "--seed", "1"]);
    let mut lines: Vec<String> = rows.lines().map(String::from).collect();
    let mut cells: Vec<String> = lines[1].split(',').map(String::from).collect();
    cells[0] = "1e308".into();
    lines[1] = cells.join(",");
    let data = d.join("g.csv");
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    assert!(clean_error(&["score", ECOLI, "--data", s(&data)]).contains("overflow"));
    assert!(clean_error(&["eval-impute", ECOLI, "--data", s(&data)]).contains("overflow"));
    let h = d.join("h.json");
    std::fs::write(
        &h,
        std::fs::read_to_string(CHAIN3)
            .unwrap()
            .replace("[1.0, 0.0, -0.5]", "[1e308, 1e308, -0.5]"),
    )
    .unwrap();
    assert!(clean_error(&["logz", s(&h)]).contains("overflow"));
    assert!(clean_error(&["logz", ECOLI, "-e", "lacA=1e300"]).contains("overflow"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bdmc_reports_both_standard_errors_and_crossing() {
    let v: Value = serde_json::from_str(&success(&[
        "logz",
        ALARM,
        "--method",
        "bdmc",
        "-e",
        "TPR=LOW,HRSAT=LOW,KINKEDTUBE=TRUE,HISTORY=TRUE",
        "--particles",
        "32",
        "--steps",
        "200",
        "--json",
    ]))
    .unwrap();
    assert!(v["lower_std_err"].as_f64().is_some());
    assert!(v["upper_std_err"].as_f64().is_some());
    let crossed = v["crossed"].as_bool().unwrap();
    assert_eq!(
        crossed,
        v["upper"].as_f64().unwrap() < v["lower"].as_f64().unwrap()
    );
}

#[test]
fn infinite_kl_names_a_zero_of_q() {
    let d = tmpdir("kl");
    let q = d.join("q.bif");
    // asia with P(asia = yes) = 0 in Q
    let text = std::fs::read_to_string(ASIA).unwrap();
    let i = text.find("probability ( asia )").unwrap();
    let j = i + text[i..].find('}').unwrap();
    let fixed = format!(
        "{}probability ( asia ) {{\n  table 0.0, 1.0;\n{}",
        &text[..i],
        &text[j..]
    );
    std::fs::write(&q, fixed).unwrap();
    let e = clean_error(&["kl", ASIA, s(&q)]);
    assert!(e.contains("infinite") && e.contains("asia=yes"), "{e}");
    assert!(e.contains("--prior-count"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

// -------------------------------------------------------------------------------- messages

#[test]
fn messages_name_the_file_once_and_the_problem() {
    let d = tmpdir("msg");
    let bad = d.join("bad.bif");
    std::fs::write(&bad, "garbage\n").unwrap();
    let e = clean_error(&["info", s(&bad)]);
    assert_eq!(e.matches("bad.bif").count(), 1, "{e}");
    let j = d.join("bad.json");
    std::fs::write(&j, "{\"x\":").unwrap();
    let e = clean_error(&["info", s(&j)]);
    assert_eq!(e.matches("bad.json").count(), 1, "{e}");
    for c in [vec!["convert", ECOLI, "x.uai"], vec!["kl", ECOLI, ECOLI]] {
        let e = clean_error(&c);
        assert!(e.contains("Gaussian"), "{e}");
    }
    let uai = d.join("asia.uai");
    success(&["convert", ASIA, s(&uai)]);
    let e = clean_error(&["kl", ASIA, s(&uai)]);
    assert!(e.contains("asia.uai"), "{e}");
    for ev in ["asia=yes,", ""] {
        clean_error(&["logz", ASIA, "-e", ev]);
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn long_cycles_are_shortened() {
    let mut b = String::from("network n {}\n");
    let n = 2000;
    for i in 0..n {
        b.push_str(&format!(
            "variable v{i} {{ type discrete [ 2 ] {{ a, b }}; }}\n"
        ));
    }
    for i in 0..n {
        let p = (i + n - 1) % n;
        b.push_str(&format!(
            "probability ( v{i} | v{p} ) {{ (a) 0.5, 0.5; (b) 0.5, 0.5; }}\n"
        ));
    }
    let d = tmpdir("cycle");
    let f = d.join("cycle.bif");
    std::fs::write(&f, b).unwrap();
    let e = clean_error(&["info", s(&f)]);
    assert!(
        e.contains("cycle") && e.len() < 600,
        "{}",
        &e[..e.len().min(800)]
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn progress_plain_lines_off_a_terminal() {
    let out = run(&[
        "logz",
        ISING100,
        "--method",
        "ais",
        // far more steps than fit: the run is fitted to about 80% of the 8 s budget, so it
        // lasts past the first plain line (5 s)
        "--steps",
        "100000",
        "--time-limit",
        "8",
        "--progress",
        "plain",
    ]);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("progress: ais"), "{err}");
    let quiet = run(&[
        "logz", ISING10, "--method", "ais", "--steps", "50", "--quiet",
    ]);
    assert!(text(&quiet.stderr).is_empty());
}
