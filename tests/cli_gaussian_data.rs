//! The data commands on Gaussian models: `impute`, `score`, `eval-impute` with a linear-Gaussian
//! network (ecoli70) and a GMRF, through numeric CSV files.

#[path = "common/cli.rs"]
mod cli_common;
use cli_common::{json, ok, pgmkit, text};
use pgmkit::data::numeric::{read_numeric_csv, MISSING_MARKERS};
use pgmkit::gaussian::data::log_likelihood;
use pgmkit::io::gaussian_json::read_gbn;
use pgmkit::rng::chain_rng;
use rand::Rng;
use std::path::{Path, PathBuf};

const ECOLI: &str = "tests/data/gbn/ecoli70.json";
const CHAIN: &str = "tests/data/gmrf/chain3.json";

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pgmkit_cli_gdata_{tag}_{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// 2,000 ecoli70 rows (seed 11) with 20% of the cells replaced by "NA" (seed 12) and an extra
/// `id` column; returns (complete file, file with holes).
fn ecoli_files(dir: &Path) -> (PathBuf, PathBuf) {
    let full = dir.join("full.csv");
    ok(&[
        "sample",
        ECOLI,
        "--n",
        "2000",
        "--seed",
        "11",
        "--out",
        p(&full),
    ]);
    let text = std::fs::read_to_string(&full).unwrap();
    let mut rng = chain_rng(12, 0);
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            out.push_str(line);
            out.push_str(",id\n");
            continue;
        }
        let cells: Vec<&str> = line
            .split(',')
            .map(|c| if rng.random::<f64>() < 0.2 { "NA" } else { c })
            .collect();
        out.push_str(&cells.join(","));
        out.push_str(&format!(",row{i}\n"));
    }
    let holes = dir.join("holes.csv");
    std::fs::write(&holes, out).unwrap();
    (full, holes)
}

#[test]
fn impute_keeps_observed_cells_and_rows_and_fills_every_hole() {
    let dir = tmp("impute");
    let (_, holes) = ecoli_files(&dir);
    let out = dir.join("filled.csv");
    let post = dir.join("post.csv");
    let learned = dir.join("learned.json");
    ok(&[
        "impute",
        ECOLI,
        "--data",
        p(&holes),
        "--out",
        p(&out),
        "--learn",
        "em",
        "--posteriors",
        p(&post),
        "--save-model",
        p(&learned),
    ]);
    let before = std::fs::read_to_string(&holes).unwrap();
    let after = std::fs::read_to_string(&out).unwrap();
    let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!(b.len(), a.len(), "row count preserved");
    assert_eq!(b[0], a[0], "header unchanged");
    let mut filled = 0;
    for (lb, la) in b.iter().zip(&a).skip(1) {
        let (cb, ca): (Vec<&str>, Vec<&str>) = (lb.split(',').collect(), la.split(',').collect());
        assert_eq!(cb.len(), ca.len());
        for (x, y) in cb.iter().zip(&ca) {
            if *x == "NA" {
                let v: f64 = y.parse().expect("a filled cell is a number");
                assert!(v.is_finite());
                filled += 1;
            } else {
                assert_eq!(x, y, "observed cells and the id column are byte-identical");
            }
        }
    }
    assert!(filled > 10_000, "{filled}");
    // one posterior line (mean, sd > 0) per hole
    let post = std::fs::read_to_string(&post).unwrap();
    assert_eq!(post.lines().next(), Some("row,variable,mean,sd"));
    assert_eq!(post.lines().count() - 1, filled);
    for l in post.lines().skip(1).take(100) {
        let sd: f64 = l.rsplit(',').next().unwrap().parse().unwrap();
        assert!(sd > 0.0, "{l}");
    }
    // the saved model is a Gaussian BN over the same variables
    let bn = read_gbn(&learned).unwrap();
    assert_eq!(bn.num_vars(), 46);
}

#[test]
fn multiple_imputation_is_seeded_thread_invariant_and_varies_between_datasets() {
    let dir = tmp("multiple");
    let (_, holes) = ecoli_files(&dir);
    let run = |threads: &str, out: &Path| {
        ok(&[
            "impute",
            ECOLI,
            "--data",
            p(&holes),
            "--out",
            p(out),
            "--multiple",
            "3",
            "--seed",
            "5",
            "--threads",
            threads,
        ]);
    };
    run("1", &dir.join("one.csv"));
    run("2", &dir.join("two.csv"));
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    for k in 1..=3 {
        assert_eq!(
            read(&format!("one_{k}.csv")),
            read(&format!("two_{k}.csv")),
            "dataset {k}: same bytes with 1 and 2 threads"
        );
    }
    assert_ne!(read("one_1.csv"), read("one_2.csv"), "draws differ");
    assert!(!dir.join("one.csv").exists());
    // --method mode with --multiple is refused
    let out = pgmkit(&[
        "impute",
        ECOLI,
        "--data",
        p(&holes),
        "--out",
        p(&dir.join("x.csv")),
        "--multiple",
        "2",
        "--method",
        "mode",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--method sample"));
}

#[test]
fn score_is_the_observed_data_log_likelihood() {
    let dir = tmp("score");
    let (full, holes) = ecoli_files(&dir);
    let bn = read_gbn(Path::new(ECOLI)).unwrap();
    let names = bn.names().to_vec();
    for (file, missing) in [(&full, false), (&holes, true)] {
        let table =
            read_numeric_csv(std::fs::File::open(file).unwrap(), &names, &MISSING_MARKERS).unwrap();
        let want = log_likelihood(&bn, &table.data).unwrap();
        let per_row = dir.join("rows.csv");
        let j = json(&[
            "score",
            ECOLI,
            "--data",
            p(file),
            "--json",
            "--outliers",
            "3",
            "--per-row",
            p(&per_row),
        ]);
        let got = j["total_log_likelihood"].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");
        assert_eq!(j["kind"], "continuous");
        assert_eq!(j["rows"], 2000);
        assert_eq!(j["missing_cells"].as_u64().unwrap() > 0, missing);
        let outl = j["outliers"].as_array().unwrap();
        assert_eq!(outl.len(), 3);
        let rows: Vec<f64> = std::fs::read_to_string(&per_row)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
            .collect();
        assert_eq!(rows.len(), 2000);
        let min = rows.iter().cloned().fold(f64::INFINITY, f64::min);
        assert_eq!(outl[0]["log_likelihood"].as_f64().unwrap(), min);
        if !missing {
            // complete rows: the joint log density of each row
            let first: Vec<f64> = table.data.row(0).iter().copied().collect();
            let l0 = bn.log_density(&first).unwrap();
            assert!((rows[0] - l0).abs() <= 1e-9 * l0.abs());
        }
    }
    // a GMRF scores too (its log density includes ln Z)
    let chain = dir.join("chain.csv");
    std::fs::write(&chain, "a,b,c\n0.5,0.1,-0.2\n,1.0,\n").unwrap();
    let j = json(&["score", CHAIN, "--data", p(&chain), "--json"]);
    assert!(j["total_log_likelihood"].as_f64().unwrap().is_finite());
}

#[test]
fn eval_impute_learned_network_is_near_the_oracle_and_beats_the_baseline() {
    let dir = tmp("eval");
    let (full, _) = ecoli_files(&dir);
    let j = json(&[
        "eval-impute",
        ECOLI,
        "--data",
        p(&full),
        "--mask-rate",
        "0.2",
        "--learn",
        "em",
        "--multiple",
        "20",
        "--seed",
        "3",
        "--json",
    ]);
    let rmse = j["rmse"].as_f64().unwrap();
    let oracle = j["oracle_rmse"].as_f64().unwrap();
    let base = j["baseline_rmse"].as_f64().unwrap();
    assert!(rmse <= 1.02 * oracle, "{rmse} vs oracle {oracle}");
    assert!(rmse < 0.9 * base, "{rmse} vs baseline {base}");
    let cov = j["draws_coverage"].as_f64().unwrap();
    assert!((0.93..=0.97).contains(&cov), "coverage {cov}");
    let cov = j["interval_coverage"].as_f64().unwrap();
    assert!((0.93..=0.97).contains(&cov), "coverage {cov}");
    assert_eq!(j["nominal_coverage"], 0.95);
    assert!(j["em_converged"].as_bool().unwrap());
    // text output names the figures
    let t = ok(&["eval-impute", ECOLI, "--data", p(&full), "--learn", "em"]);
    assert!(t.contains("RMSE") && t.contains("baseline") && t.contains("oracle"));
}

#[test]
fn bad_numeric_data_gives_clear_errors() {
    let dir = tmp("bad");
    let names = read_gbn(Path::new(ECOLI)).unwrap().names().to_vec();
    let mut good = names.join(",");
    good.push('\n');
    good.push_str(&vec!["0.5"; names.len()].join(","));
    good.push('\n');
    // a word in a numeric column: row and column named
    let bad = format!(
        "{}\n{}\nhigh,{}\n",
        names.join(","),
        vec!["1.0"; names.len()].join(","),
        vec!["0.5"; names.len() - 1].join(",")
    );
    let f = dir.join("word.csv");
    std::fs::write(&f, &bad).unwrap();
    let out = pgmkit(&["score", ECOLI, "--data", p(&f)]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("row 2") && err.contains("high"), "{err}");
    // a missing column
    let f = dir.join("missing_col.csv");
    std::fs::write(&f, "aceB\n1.0\n").unwrap();
    let out = pgmkit(&[
        "impute",
        ECOLI,
        "--data",
        p(&f),
        "--out",
        p(&dir.join("o.csv")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("asnA"), "{}", text(&out.stderr));
    assert!(!dir.join("o.csv").exists(), "no output on error");
    // extra columns refused when asked
    let f = dir.join("extra.csv");
    std::fs::write(
        &f,
        good.replacen('\n', ",zz\n", 1)
            .replacen("0.5\n", "0.5,7\n", 1),
    )
    .unwrap();
    ok(&["score", ECOLI, "--data", p(&f)]);
    let out = pgmkit(&["score", ECOLI, "--data", p(&f), "--reject-extra-columns"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("zz"), "{}", text(&out.stderr));
    // EM needs a network, not a GMRF; discrete-only options are refused
    let chain = dir.join("chain.csv");
    std::fs::write(&chain, "a,b,c\n0.5,,-0.2\n,1.0,\n").unwrap();
    let out = pgmkit(&[
        "impute",
        CHAIN,
        "--data",
        p(&chain),
        "--out",
        p(&dir.join("c.csv")),
        "--learn",
        "em",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Gaussian MRF"));
    ok(&[
        "impute",
        CHAIN,
        "--data",
        p(&chain),
        "--out",
        p(&dir.join("c.csv")),
    ]);
    let out = pgmkit(&[
        "impute",
        ECOLI,
        "--data",
        p(&dir.join("extra.csv")),
        "--out",
        p(&dir.join("e.csv")),
        "--learn",
        "em",
        "--bdeu",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--bdeu"));
}
