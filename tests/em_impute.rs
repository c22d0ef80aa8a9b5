//! EM from data with 20% of cells masked at random, and imputation accuracy against the oracle
//! (posterior mode under the true network) and the column-mode baseline.

use std::path::Path;
use std::time::Instant;

use pgmkit::data::csv::{read_csv_path, CsvOptions};
use pgmkit::data::Dataset;
use pgmkit::impute::{evaluate, EvalOptions};
use pgmkit::io::{bif::parse_bif, read_text, LoadOptions};
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
    let truth_bn = net(name);
    let full = complete(name, &truth_bn);
    let (masked, hidden) = full.mask_mcar(0.2, 11).unwrap();
    let t = Instant::now();
    let r = em(&truth_bn, &masked, &EmOptions::default(), None).unwrap();
    let em_s = t.elapsed().as_secs_f64();
    for w in r.trace.windows(2) {
        assert!(
            w[1] >= w[0] - 1e-9 * w[0].abs(),
            "{name}: log-likelihood decreased {} -> {}",
            w[0],
            w[1]
        );
    }
    assert!(r.convergence.converged(), "{name}: {:?}", r.convergence);
    let t = Instant::now();
    let rep = evaluate(
        &r.model,
        Some(&truth_bn),
        &full,
        &masked,
        &EvalOptions::default(),
    )
    .unwrap();
    let ev_s = t.elapsed().as_secs_f64();
    let oracle = rep.oracle_accuracy.unwrap();
    eprintln!(
        "{name}: {} masked cells; EM {} iterations, final LL {:.3} ({em_s:.2} s); accuracy {:.4} oracle {:.4} baseline {:.4}; log-score {:.4} oracle {:.4} (eval {ev_s:.2} s)",
        hidden.len(),
        r.convergence.iters,
        r.log_lik,
        rep.accuracy,
        oracle,
        rep.baseline_accuracy,
        rep.log_score,
        rep.oracle_log_score.unwrap()
    );
    assert!(
        (rep.accuracy - oracle).abs() <= 0.005,
        "{name}: accuracy {} oracle {oracle}",
        rep.accuracy
    );
    assert!(
        rep.accuracy > rep.baseline_accuracy + 0.02,
        "{name}: not above the baseline"
    );
}

#[test]
fn em_alarm_20pct_missing() {
    check("alarm");
}

#[test]
fn em_insurance_20pct_missing() {
    check("insurance");
}

#[test]
fn em_hailfinder_20pct_missing() {
    check("hailfinder");
}
