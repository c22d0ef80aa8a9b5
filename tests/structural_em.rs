//! Structural EM: a network learned from ALARM and INSURANCE rows with 20% of cells masked at
//! random, no model given, imputes the masked cells within a point of EM on the true structure.

use std::path::Path;
use std::time::Instant;

use pgmkit::data::csv::{read_csv_path, CsvOptions};
use pgmkit::data::Dataset;
use pgmkit::impute::{evaluate, EvalOptions};
use pgmkit::io::{bif::parse_bif, read_text, LoadOptions};
use pgmkit::learn::structure::{parents_of, shd, structural_em, SemOptions};
use pgmkit::learn::{em, EmOptions};
use pgmkit::sample::ancestral::forward_sample;
use pgmkit::BayesNet;

fn net(name: &str) -> BayesNet {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/bif/{name}.bif"));
    parse_bif(&read_text(&p).unwrap(), &LoadOptions::default()).unwrap()
}

/// 10k complete rows: the reference sample, or (insurance) forward samples with seed 2024.
fn complete(name: &str, bn: &BayesNet) -> Dataset {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/samples/{name}_10k.csv.gz"));
    if p.exists() {
        read_csv_path(&p, bn.vars(), &CsvOptions::default())
            .unwrap()
            .data
    } else {
        Dataset::from_samples(&forward_sample(bn, 10_000, 2024).unwrap())
    }
}

fn check(name: &str) {
    let truth = net(name);
    let full = complete(name, &truth);
    let (masked, _) = full.mask_mcar(0.2, 11).unwrap();
    let known = em(&truth, &masked, &EmOptions::default(), None).unwrap();
    let t = Instant::now();
    let fit = structural_em(truth.vars(), &masked, &SemOptions::default()).unwrap();
    let sem_s = t.elapsed().as_secs_f64();
    let ev = |m: &BayesNet| evaluate(m, None, &full, &masked, &EvalOptions::default()).unwrap();
    let (a, b) = (ev(&known.model), ev(&fit.model));
    let arcs: usize = fit.parents.iter().map(Vec::len).sum();
    eprintln!(
        "{name}: structural EM {sem_s:.2} s, {} iterations (changes {:?}), {arcs} arcs, SHD {} to the \
         true DAG; log-likelihood {:.2} (true structure {:.2}); masked-cell accuracy {:.4} (true \
         structure {:.4}, column mode {:.4})",
        fit.iterations,
        fit.changes,
        shd(&fit.parents, &parents_of(&truth)),
        fit.log_lik,
        known.log_lik,
        b.accuracy,
        a.accuracy,
        a.baseline_accuracy
    );
    assert!(
        b.accuracy >= a.accuracy - 0.01,
        "{name}: accuracy {} vs {} on the true structure",
        b.accuracy,
        a.accuracy
    );
    assert!(b.accuracy > b.baseline_accuracy + 0.1);
}

#[test]
fn structural_em_alarm() {
    check("alarm");
}

#[test]
fn structural_em_insurance() {
    check("insurance");
}

#[path = "common/cli.rs"]
mod cli_common;

#[test]
fn cli_imputes_without_a_model() {
    let dir = std::env::temp_dir().join(format!("pgmkit-sem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let full = dir.join("full.csv");
    cli_common::ok(&[
        "sample",
        "tests/data/bif/asia.bif",
        "-n",
        "3000",
        "--seed",
        "4",
        "--out",
        full.to_str().unwrap(),
    ]);
    // a fifth of the cells emptied (a fixed pattern), and an extra column passed through
    let text = std::fs::read_to_string(&full).unwrap();
    let mut holes = String::new();
    for (r, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let kept: Vec<&str> = cells
            .iter()
            .enumerate()
            .map(|(c, x)| {
                if r > 0 && (r * 8 + c * 3) % 5 == 0 {
                    ""
                } else {
                    *x
                }
            })
            .collect();
        holes.push_str(&kept.join(","));
        holes.push_str(if r == 0 { ",id\n" } else { "," });
        if r > 0 {
            holes.push_str(&format!("row{r}\n"));
        }
    }
    let input = dir.join("holes.csv");
    std::fs::write(&input, &holes).unwrap();
    let out = dir.join("filled.csv");
    let model = dir.join("learned.bif");
    let report = cli_common::ok(&[
        "impute",
        "--data",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--multiple",
        "2",
        "--save-model",
        model.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    assert!(report.contains("structural EM:"), "{report}");
    assert!(report.contains("column(s) id hold"), "{report}");
    // the input is untouched; each completed file keeps observed cells and fills every hole
    assert_eq!(std::fs::read_to_string(&input).unwrap(), holes);
    for k in 1..=2 {
        let done = std::fs::read_to_string(dir.join(format!("filled_{k}.csv"))).unwrap();
        assert_eq!(done.lines().count(), holes.lines().count());
        for (a, b) in holes.lines().zip(done.lines()) {
            for (x, y) in a.split(',').zip(b.split(',')) {
                assert!(!y.is_empty());
                if !x.is_empty() {
                    assert_eq!(x, y);
                }
            }
        }
    }
    let m = pgmkit::io::load_model(&model, &LoadOptions::default()).unwrap();
    assert_eq!(m.vars().len(), 8);
    // the same seed gives the same files
    let first = std::fs::read_to_string(dir.join("filled_1.csv")).unwrap();
    cli_common::ok(&[
        "impute",
        "--data",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--multiple",
        "2",
        "--seed",
        "3",
        "--threads",
        "1",
    ]);
    assert_eq!(
        std::fs::read_to_string(dir.join("filled_1.csv")).unwrap(),
        first
    );
    std::fs::remove_dir_all(&dir).ok();
}
