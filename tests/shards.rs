//! Shards of AIS, reverse AIS and BDMC runs: merged, they are the one-process run bit for bit;
//! shards of another model, seed, settings or method, and ranges with gaps or overlaps, are
//! refused. Through the library and through `pgmkit logz --shard-out` / `pgmkit merge`.

#![allow(clippy::single_range_in_vec_init, clippy::reversed_empty_ranges)] // range lists; bad ranges on purpose

use std::ops::Range;
use std::process::Command;

use pgmkit::infer::ais::shard::{self, AisShard, ShardMethod};
use pgmkit::infer::ais::{ais, bdmc, exact_samples, reverse_ais, AisOptions};
use pgmkit::infer::exact::ExactOptions;
use pgmkit::model::{ising_grid, Boundary};
use pgmkit::{Error, Evidence, FactorGraph};

fn grid(j: f64) -> FactorGraph {
    ising_grid(
        5,
        5,
        Boundary::Periodic,
        |a, b| j * (1.0 + 0.1 * ((a + b) % 3) as f64),
        |i| 0.05 * (i % 4) as f64 - 0.05,
    )
    .unwrap()
}

fn opts() -> AisOptions {
    AisOptions {
        particles: 24,
        steps: 60,
        seed: 17,
        replicates: 3,
        ..Default::default()
    }
}

fn shards(
    fg: &FactorGraph,
    method: ShardMethod,
    o: &AisOptions,
    ranges: &[Range<usize>],
) -> Vec<AisShard> {
    let ev = Evidence::new(fg.num_vars());
    ranges
        .iter()
        .map(|r| {
            let o = AisOptions {
                particle_range: Some(r.clone()),
                ..o.clone()
            };
            shard::run(fg, &ev, method, &o, &ExactOptions::default(), None).unwrap()
        })
        .collect()
}

fn bits(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn ais_shards_in_any_order_merge_into_the_one_process_run() {
    let fg = grid(0.4);
    let ev = Evidence::new(25);
    let whole = ais(&fg, &ev, &opts(), None).unwrap();
    // uneven ranges, given out of order, one shard of a single particle
    let parts = shards(&fg, ShardMethod::Ais, &opts(), &[10..23, 0..10, 23..24]);
    let m = shard::merge(&parts).unwrap();
    let f = m.forward.unwrap();
    assert_eq!(bits(&f.log_weights), bits(&whole.log_weights));
    assert_eq!(f.log_z.to_bits(), whole.log_z.to_bits());
    assert_eq!(f.std_err.to_bits(), whole.std_err.to_bits());
    assert_eq!(f.ess.to_bits(), whole.ess.to_bits());
    assert_eq!(bits(&f.replicate_log_z), bits(&whole.replicate_log_z));
    assert_eq!(bits(&f.betas), bits(&whole.betas));
    assert_eq!(m.shards, 3);
    assert!(m.reverse.is_none());
}

#[test]
fn reverse_and_bdmc_shards_merge_into_the_one_process_runs() {
    let fg = grid(0.3);
    let ev = Evidence::new(25);
    let o = opts();
    let exact = exact_samples(&fg, &ev, o.particles, o.seed, &ExactOptions::default()).unwrap();
    let whole = reverse_ais(&fg, &ev, &o, &exact, None).unwrap();
    let m = shard::merge(&shards(&fg, ShardMethod::Rais, &o, &[0..12, 12..24])).unwrap();
    let r = m.reverse.unwrap();
    assert_eq!(r.log_z.to_bits(), whole.log_z.to_bits());
    assert_eq!(r.std_err.to_bits(), whole.std_err.to_bits());
    assert!(r.reverse);

    let whole = bdmc(&fg, &ev, &o, Some(&exact), None).unwrap();
    let m = shard::merge(&shards(&fg, ShardMethod::Bdmc, &o, &[0..5, 5..24])).unwrap();
    let b = m.bdmc().unwrap();
    assert_eq!(b.lower.to_bits(), whole.lower.to_bits());
    assert_eq!(b.upper.to_bits(), whole.upper.to_bits());
    assert_eq!(b.forward.ess.to_bits(), whole.forward.ess.to_bits());
    assert_eq!(b.reverse.std_err.to_bits(), whole.reverse.std_err.to_bits());
}

fn refused(parts: &[AisShard]) -> (usize, &'static str) {
    match shard::merge(parts) {
        Err(Error::ShardMismatch { shard, what, .. }) => (shard, what),
        other => panic!("expected a ShardMismatch, got {other:?}"),
    }
}

#[test]
fn shards_of_another_run_are_refused() {
    let fg = grid(0.4);
    let a = shards(&fg, ShardMethod::Ais, &opts(), &[0..12]);
    let rest = |o: &AisOptions, fg: &FactorGraph| shards(fg, ShardMethod::Ais, o, &[12..24]);
    let pair = |b: Vec<AisShard>| vec![a[0].clone(), b[0].clone()];

    let other_seed = AisOptions { seed: 18, ..opts() };
    assert_eq!(refused(&pair(rest(&other_seed, &fg))), (1, "seed"));
    assert_eq!(refused(&pair(rest(&opts(), &grid(0.41)))), (1, "model"));
    let other_steps = AisOptions {
        steps: 61,
        ..opts()
    };
    assert_eq!(refused(&pair(rest(&other_steps, &fg))), (1, "settings"));
    let rais = shards(&fg, ShardMethod::Rais, &opts(), &[12..24]);
    assert_eq!(refused(&pair(rais)), (1, "method"));
    // another model with the same names but evidence: the fingerprint covers the evidence
    let mut ev = Evidence::new(25);
    ev.set(fg.vars(), pgmkit::VarId(3), 1).unwrap();
    assert_ne!(
        shard::fingerprint(&fg, &ev),
        shard::fingerprint(&fg, &Evidence::new(25))
    );
}

#[test]
fn ranges_must_tile_the_run() {
    let fg = grid(0.4);
    let gap = shards(&fg, ShardMethod::Ais, &opts(), &[0..10, 12..24]);
    assert_eq!(refused(&gap).1, "ranges");
    let overlap = shards(&fg, ShardMethod::Ais, &opts(), &[0..13, 12..24]);
    assert_eq!(refused(&overlap).1, "ranges");
    let short = shards(&fg, ShardMethod::Ais, &opts(), &[0..12, 12..20]);
    assert_eq!(refused(&short).1, "ranges");
    let twice = shards(&fg, ShardMethod::Ais, &opts(), &[0..12, 0..12, 12..24]);
    assert_eq!(refused(&twice).1, "ranges");
    assert!(matches!(shard::merge(&[]), Err(Error::InvalidArgument(_))));
}

#[test]
fn a_shard_file_keeps_every_weight_exactly() {
    let fg = grid(0.4);
    let mut s = shards(&fg, ShardMethod::Ais, &opts(), &[0..4]).remove(0);
    let f = s.forward.as_mut().unwrap();
    f.log_weights[1] = f64::NEG_INFINITY;
    f.log_weights[2] = 1.0 + f64::EPSILON;
    let back = AisShard::from_json(&s.to_json()).unwrap();
    assert_eq!(
        bits(&back.forward.as_ref().unwrap().log_weights),
        bits(&s.forward.as_ref().unwrap().log_weights)
    );
    assert_eq!(back, s);
    assert!(AisShard::from_json("{\"format\": \"something else\"}").is_err());
    assert!(AisShard::from_json("not json").is_err());
}

#[test]
fn a_range_is_checked() {
    let fg = grid(0.4);
    let ev = Evidence::new(25);
    for r in [0..0, 5..3, 20..25] {
        let o = AisOptions {
            particle_range: Some(r),
            ..opts()
        };
        assert!(matches!(
            ais(&fg, &ev, &o, None),
            Err(Error::InvalidArgument(_))
        ));
    }
    let o = AisOptions {
        particle_range: Some(0..4),
        time_limit: Some(std::time::Duration::from_secs(5)),
        ..opts()
    };
    assert!(matches!(
        ais(&fg, &ev, &o, None),
        Err(Error::InvalidArgument(_))
    ));
}

fn pgmkit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pgmkit"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_shards_in_separate_processes_merge_into_the_one_process_run() {
    let dir = std::env::temp_dir().join(format!("pgmkit-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = "tests/data/fg/ising_10x10_open.fg";
    let common = [
        "logz",
        model,
        "--method",
        "bdmc",
        "--particles",
        "16",
        "--steps",
        "80",
        "--seed",
        "5",
    ];
    let one = pgmkit(&[&common[..], &["--json"]].concat());
    assert!(
        one.status.success(),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    let one: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    let mut files = Vec::new();
    for (i, r) in ["8..16", "0..3", "3..8"].iter().enumerate() {
        let f = dir.join(format!("s{i}.json"));
        let o = pgmkit(
            &[
                &common[..],
                &[
                    "--particle-range",
                    r,
                    "--shard-out",
                    f.to_str().unwrap(),
                    "-q",
                ],
            ]
            .concat(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        files.push(f.to_str().unwrap().to_string());
    }
    let mut args = vec!["merge", "--json"];
    args.extend(files.iter().map(String::as_str));
    let m = pgmkit(&args);
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    let m: serde_json::Value = serde_json::from_slice(&m.stdout).unwrap();
    for k in [
        "log_z",
        "std_err",
        "ess",
        "lower",
        "upper",
        "particles",
        "steps",
        "method",
    ] {
        assert_eq!(m[k], one[k], "{k}");
    }
    assert_eq!(m["shards"], 3);
    // a missing shard and a shard of another seed are refused, naming the file
    let m = pgmkit(&["merge", &files[0], &files[2]]);
    assert!(!m.status.success());
    let err = String::from_utf8_lossy(&m.stderr);
    assert!(err.contains("ranges"), "{err}");
    let f = dir.join("other.json");
    let o = pgmkit(&[
        "logz",
        model,
        "--method",
        "bdmc",
        "--particles",
        "16",
        "--steps",
        "80",
        "--seed",
        "6",
        "--particle-range",
        "0..3",
        "--shard-out",
        f.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success());
    let m = pgmkit(&["merge", &files[0], f.to_str().unwrap(), &files[2]]);
    let err = String::from_utf8_lossy(&m.stderr);
    assert!(
        !m.status.success() && err.contains("seed") && err.contains("other.json"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cli_refuses_shard_options_that_cannot_work() {
    let model = "tests/data/fg/ising_10x10_periodic.fg";
    for (args, needle) in [
        (vec!["--particle-range", "0..4"], "--shard-out"),
        (
            vec!["--method", "exact", "--shard-out", "/tmp/x.json"],
            "AIS methods",
        ),
        (
            vec![
                "--particle-range",
                "0..4",
                "--shard-out",
                "/tmp/x.json",
                "--time-limit",
                "3",
            ],
            "time-limit",
        ),
        (
            vec!["--particle-range", "4..2", "--shard-out", "/tmp/x.json"],
            "empty",
        ),
        (
            vec!["--particle-range", "0..200", "--shard-out", "/tmp/x.json"],
            "0..128",
        ),
        (vec!["--shard-out", model], "same file"),
    ] {
        let mut a = vec!["logz", model];
        if !args.contains(&"--method") {
            a.extend(["--method", "ais"]);
        }
        a.extend(args.iter().copied());
        let o = pgmkit(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(needle), "{a:?}: {err}");
    }
}

#[test]
fn cli_imputation_in_row_shards_equals_the_one_shot_output_byte_for_byte() {
    let dir = std::env::temp_dir().join(format!("pgmkit-impute-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = "tests/data/bif/asia.bif";
    let full = dir.join("full.csv");
    let o = pgmkit(&[
        "sample",
        model,
        "-n",
        "400",
        "--seed",
        "3",
        "-o",
        full.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    // holes in a fixed pattern, and one CRLF line, which the output must keep
    let text = std::fs::read_to_string(&full).unwrap();
    let mut holes = String::new();
    for (i, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let row: Vec<&str> = cells
            .iter()
            .enumerate()
            .map(|(j, c)| {
                if i > 0 && (i * 7 + j * 3) % 5 == 0 {
                    ""
                } else {
                    c
                }
            })
            .collect();
        holes.push_str(&row.join(","));
        holes.push_str(if i == 10 { "\r\n" } else { "\n" });
    }
    let data = dir.join("holes.csv");
    std::fs::write(&data, holes).unwrap();
    let d = data.to_str().unwrap();
    for method in ["mode", "sample", "map"] {
        let one = dir.join(format!("one_{method}.csv"));
        let o = pgmkit(&[
            "impute",
            model,
            "-d",
            d,
            "-o",
            one.to_str().unwrap(),
            "--method",
            method,
            "--seed",
            "5",
            "-q",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut shards = Vec::new();
        for (i, r) in ["0..100", "100..250", "250..400"].iter().enumerate() {
            let s = dir.join(format!("{method}{i}.json"));
            let o = pgmkit(&[
                "impute",
                model,
                "-d",
                d,
                "--method",
                method,
                "--seed",
                "5",
                "--row-range",
                r,
                "--shard-out",
                s.to_str().unwrap(),
                "-q",
            ]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            shards.push(s.to_str().unwrap().to_string());
        }
        let merged = dir.join(format!("merged_{method}.csv"));
        let mut args = vec!["merge", "-o", merged.to_str().unwrap(), "-q"];
        args.extend(shards.iter().rev().map(String::as_str));
        let o = pgmkit(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            std::fs::read(&merged).unwrap(),
            std::fs::read(&one).unwrap(),
            "{method}"
        );
        // a gap is refused
        let o = pgmkit(&[
            "merge",
            "-o",
            merged.to_str().unwrap(),
            &shards[0],
            &shards[2],
        ]);
        assert!(!o.status.success());
    }
    // shards of another seed, and a merge against other data, are refused
    let other = dir.join("other.json");
    let o = pgmkit(&[
        "impute",
        model,
        "-d",
        d,
        "--method",
        "sample",
        "--seed",
        "6",
        "--row-range",
        "100..250",
        "--shard-out",
        other.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success());
    let s = |i: usize| {
        dir.join(format!("sample{i}.json"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let x = dir.join("x.csv");
    let o = pgmkit(&[
        "merge",
        "-o",
        x.to_str().unwrap(),
        &s(0),
        other.to_str().unwrap(),
        &s(2),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("settings"), "{err}");
    let o = pgmkit(&[
        "merge",
        "-o",
        x.to_str().unwrap(),
        "-d",
        full.to_str().unwrap(),
        &s(0),
        &s(1),
        &s(2),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("not the data"), "{err}");
    assert!(!x.exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// Drop the wall-clock fields of a JSON object.
fn without_seconds(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(m) = v.as_object_mut() {
        m.retain(|k, _| !k.ends_with("seconds"));
    }
    v
}

#[test]
fn cli_mcmc_chain_shards_merge_into_the_one_process_marginals() {
    let dir = std::env::temp_dir().join(format!("pgmkit-mcmc-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = "tests/data/bif/alarm.bif";
    for method in ["gibbs", "mh", "block"] {
        let common = [
            "marginals",
            model,
            "-e",
            "BP=HIGH,HRBP=LOW",
            "--method",
            method,
            "--chains",
            "5",
            "--samples",
            "200",
            "--burn-in",
            "100",
            "--seed",
            "11",
            "--json",
        ];
        let o = pgmkit(&common);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let one: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let mut shards = Vec::new();
        for (i, r) in ["0..2", "2..3", "3..5"].iter().enumerate() {
            let s = dir.join(format!("{method}{i}.json"));
            let mut args = common.to_vec();
            args.extend(["--chain-range", r, "--shard-out", s.to_str().unwrap()]);
            let o = pgmkit(&args);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            shards.push(s.to_str().unwrap().to_string());
        }
        let mut args = vec!["merge", "--json"];
        args.extend(shards.iter().rev().map(String::as_str));
        let o = pgmkit(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let merged: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(one["max_rhat"].as_f64().unwrap() > 1.0);
        assert_eq!(without_seconds(merged), without_seconds(one), "{method}");
        // a missing shard is refused, naming the gap
        let o = pgmkit(&["merge", &shards[0], &shards[2]]);
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("chain"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // a shard of another seed, and another evidence, are refused
    let other = |extra: &[&str], name: &str| {
        let s = dir.join(name);
        let mut args = vec![
            "marginals",
            model,
            "--method",
            "gibbs",
            "--chains",
            "5",
            "--samples",
            "200",
            "--burn-in",
            "100",
            "--chain-range",
            "2..3",
            "--shard-out",
            s.to_str().unwrap(),
        ];
        args.extend(extra);
        let o = pgmkit(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        s.to_str().unwrap().to_string()
    };
    let seed = other(&["-e", "BP=HIGH,HRBP=LOW", "--seed", "12"], "seed.json");
    let ev = other(&["-e", "BP=LOW,HRBP=LOW", "--seed", "11"], "ev.json");
    let base = |i: usize| {
        dir.join(format!("gibbs{i}.json"))
            .to_str()
            .unwrap()
            .to_string()
    };
    for (bad, what) in [(seed, "settings"), (ev, "model")] {
        let o = pgmkit(&["merge", &base(0), &bad, &base(2)]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&bad) && err.contains(what), "{err}");
    }
    // options that cannot make a shard
    for (args, says) in [
        (vec!["--method", "exact", "--shard-out", "x.json"], "MCMC"),
        (
            vec!["--method", "gibbs", "--chain-range", "0..2"],
            "--shard-out",
        ),
        (
            vec![
                "--method",
                "gibbs",
                "--chain-range",
                "3..9",
                "--shard-out",
                "x.json",
            ],
            "chains",
        ),
        (
            vec![
                "--method",
                "gibbs",
                "--time-limit",
                "1",
                "--shard-out",
                "x.json",
            ],
            "--time-limit",
        ),
    ] {
        let mut a = vec!["marginals", model];
        a.extend(args);
        let o = pgmkit(&a);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
