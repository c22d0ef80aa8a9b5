//! Integration tests of `pgmkit impute`, `score`, `kl` and `eval-impute`: observed cells
//! byte-identical, rows kept in number and order, the same bytes for 1 and 2 threads, clear
//! errors on bad data, reference log-likelihoods.

use std::path::{Path, PathBuf};

#[path = "common/cli.rs"]
mod cli_common;
use cli_common::{json, ok, pgmkit, text};

const ALARM: &str = "tests/data/bif/alarm.bif";
const ALARM_10K: &str = "tests/data/samples/alarm_10k.csv.gz";

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pgmkit_cli_impute_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An ALARM data file with holes: the first 3000 rows of the reference sample, about 20% of the
/// cells replaced by a marker ("", NA, ?), an extra `id` column first, and some quoted cells.
fn holey_alarm(dir: &Path) -> PathBuf {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(ALARM_10K).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut out = String::new();
    let mut state = 12345u64;
    for (i, line) in text.lines().take(3001).enumerate() {
        if i == 0 {
            out.push_str("id,");
            out.push_str(line);
            out.push('\n');
            continue;
        }
        out.push_str(&format!("\"r{i}\","));
        let cells: Vec<String> = line
            .split(',')
            .map(|c| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                match (state >> 33) % 15 {
                    0 => String::new(),
                    1 => "NA".into(),
                    2 => "?".into(),
                    3 => format!("\"{c}\""),
                    _ => c.to_string(),
                }
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    let p = dir.join("holey.csv");
    std::fs::write(&p, out).unwrap();
    p
}

fn read_records(p: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(p)
        .unwrap();
    r.records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn impute_keeps_observed_cells_rows_and_is_thread_invariant() {
    let dir = tmpdir("inv");
    let data = holey_alarm(&dir);
    let d = data.to_str().unwrap();
    let input = read_records(&data);
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.join(format!("out{threads}.csv"));
        let post = dir.join(format!("post{threads}.csv"));
        ok(&[
            "--threads",
            threads,
            "impute",
            ALARM,
            "--data",
            d,
            "--out",
            out.to_str().unwrap(),
            "--multiple",
            "3",
            "--seed",
            "7",
            "--posteriors",
            post.to_str().unwrap(),
            "--learn",
            "em",
        ]);
        let files: Vec<Vec<u8>> = (1..=3)
            .map(|k| std::fs::read(dir.join(format!("out{threads}_{k}.csv"))).unwrap())
            .collect();
        outputs.push((files, std::fs::read(&post).unwrap()));
    }
    assert!(
        outputs[0] == outputs[1],
        "output differs between 1 and 2 threads"
    );
    let alarm = pgmkit::io::bif::parse_bif(
        &std::fs::read_to_string(ALARM).unwrap(),
        &pgmkit::io::LoadOptions::default(),
    )
    .unwrap();
    for k in 1..=3 {
        let got = read_records(&dir.join(format!("out1_{k}.csv")));
        assert_eq!(got.len(), input.len(), "row count changed");
        for (r, (a, b)) in input.iter().zip(&got).enumerate() {
            assert_eq!(a.len(), b.len());
            for (c, (x, y)) in a.iter().zip(b).enumerate() {
                if r == 0 || c == 0 || !(x.is_empty() || x == "NA" || x == "?") {
                    assert_eq!(x, y, "observed cell row {r} col {c} changed");
                } else {
                    let v = alarm.var_id(&input[0][c]).unwrap();
                    assert!(
                        alarm.var(v).states.contains(y),
                        "row {r} col {c}: bad fill {y}"
                    );
                }
            }
        }
    }
    // the input's bytes are written back (its quoting included); only holes change
    let raw = std::fs::read_to_string(dir.join("out1_1.csv")).unwrap();
    assert!(raw.starts_with("id,MINVOLSET,"));
    assert!(raw.lines().nth(1).unwrap().starts_with("\"r1\","));
    let original = std::fs::read_to_string(&data).unwrap();
    for (a, b) in original.lines().zip(raw.lines()) {
        for (x, y) in a.split(',').zip(b.split(',')) {
            if !(x.is_empty() || x == "NA" || x == "?") {
                assert_eq!(x, y, "observed text changed");
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn impute_single_mode_and_save_model() {
    let dir = tmpdir("mode");
    let data = holey_alarm(&dir);
    let out = dir.join("o.csv");
    let model = dir.join("learned.bif");
    let s = ok(&[
        "impute",
        ALARM,
        "-d",
        data.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--learn",
        "em",
        "--save-model",
        model.to_str().unwrap(),
    ]);
    assert!(s.contains("EM:") && s.contains("converged"), "{s}");
    assert!(s.contains("per-cell posterior mode"), "{s}");
    assert_eq!(read_records(&out).len(), 3001);
    // the learned model is a valid BIF with ALARM's structure; KL(true || learned) is small
    let kl = json(&["kl", ALARM, model.to_str().unwrap(), "--json"]);
    let v = kl["kl"].as_f64().unwrap();
    assert!(kl["kind"] == "exact" && v > 0.0 && v < 1.0, "{kl}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn score_matches_the_reference_log_likelihood() {
    let j = json(&[
        "score",
        ALARM,
        "--data",
        ALARM_10K,
        "--json",
        "--outliers",
        "2",
    ]);
    let want = -104660.93918538446;
    let got = j["total_log_likelihood"].as_f64().unwrap();
    assert!(((got - want) / want).abs() < 1e-9, "{got}");
    assert_eq!(j["rows"], 10000);
    assert_eq!(j["outliers"].as_array().unwrap().len(), 2);
    let bits = j["bits_per_row"].as_f64().unwrap();
    assert!((bits - (-got / 10000.0 / std::f64::consts::LN_2)).abs() < 1e-9);
}

#[test]
fn eval_impute_reports_accuracy_baseline_oracle_and_coverage() {
    let dir = tmpdir("eval");
    let small = dir.join("small.csv");
    ok(&[
        "sample",
        "tests/data/bif/asia.bif",
        "--n",
        "3000",
        "--seed",
        "3",
        "--out",
        small.to_str().unwrap(),
    ]);
    let j = json(&[
        "eval-impute",
        "tests/data/bif/asia.bif",
        "--data",
        small.to_str().unwrap(),
        "--mask-rate",
        "0.3",
        "--learn",
        "em",
        "--multiple",
        "10",
        "--seed",
        "5",
        "--json",
    ]);
    let acc = j["accuracy"].as_f64().unwrap();
    let oracle = j["oracle_accuracy"].as_f64().unwrap();
    assert!(acc >= j["baseline_accuracy"].as_f64().unwrap());
    assert!((acc - oracle).abs() < 0.02, "{j}");
    let (cov, mass) = (
        j["exact_set_coverage"].as_f64().unwrap(),
        j["exact_set_mass"].as_f64().unwrap(),
    );
    assert!(mass >= 0.9 && (cov - mass).abs() < 0.03, "{j}");
    assert!(j["draws_set_coverage"].as_f64().is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_data_gives_one_clear_error_with_row_and_column() {
    let dir = tmpdir("bad");
    let cases: &[(&str, &str, &[&str])] = &[
        ("state.csv", "asia,tub,smoke,lung,bronc,either,xray,dysp\nyes,no,no,no,no,no,no,no\nyes,no,maybe,no,no,no,no,no\n", &["row 2", "column 3", "maybe"]),
        ("column.csv", "asia,tub,smoke,lung,bronc,either,xray,dysp,foo\nyes,no,no,no,no,no,no,no,1\n", &["column 9", "foo"]),
        ("ragged.csv", "asia,tub,smoke,lung,bronc,either,xray,dysp\nyes,no,no,no,no,no,no,no\nyes,no\n", &["row 2", "2 cells", "8"]),
        ("empty.csv", "", &["empty"]),
        ("allmissing.csv", "asia,tub,smoke,lung,bronc,either,xray,dysp\nyes,no,no,no,NA,no,no,no\nyes,no,no,no,,no,no,no\n", &["bronc", "every cell", "missing"]),
        ("nocol.csv", "asia,tub,smoke,lung,bronc,either,xray\nyes,no,no,no,no,no,no\n", &["dysp", "no column"]),
    ];
    for (name, body, needles) in cases {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        let mut args = vec![
            "impute",
            "tests/data/bif/asia.bif",
            "--data",
            p.to_str().unwrap(),
            "--out",
        ];
        let out = dir.join("never.csv");
        args.push(out.to_str().unwrap());
        if *name == "column.csv" {
            args.push("--reject-extra-columns");
        }
        let o = pgmkit(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        for n in *needles {
            assert!(err.contains(n), "{name}: '{n}' not in: {err}");
        }
        assert!(!out.exists(), "{name}: an output file was written");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
