//! Learning and scoring benchmarks (criterion).
//!
//! - `score/munin_10k`: log-likelihood of the 10,000 reference rows of munin (1041 variables) under
//!   munin.bif (data already read; `pgmkit::score::score`). The sample is read from
//!   `/work/shared/data/samples/munin_10k.csv.gz` (too large to copy into tests/data); the
//!   benchmark is skipped with a message when it is absent.
//! - `score/alarm_10k_20pct_missing`: the same for ALARM with 20% of the cells hidden (every row
//!   scored by its marginal likelihood through per-row component inference).
//! - `em/alarm_10k_20pct_missing`: EM from the masked ALARM rows to convergence (relative
//!   tolerance 1e-6), starting from the available-case estimate.
//! - `em/insurance_10k_20pct_missing`: the same EM for INSURANCE (27 variables), on 10,000 rows
//!   forward-sampled from insurance.bif (seed 7) with 20% of the cells hidden.
//! - `impute/alarm_10k_20pct_missing`: per-cell posterior mode of every hidden cell.
//!
//! Run with `cargo bench --bench learn`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use pgmkit::data::csv::{read_csv_path, CsvOptions};
use pgmkit::data::Dataset;
use pgmkit::impute::{impute, ImputeOptions};
use pgmkit::io::{bif::parse_bif, read_text, LoadOptions};
use pgmkit::learn::{em, EmOptions, RowOptions};
use pgmkit::sample::ancestral::ForwardSampler;
use pgmkit::score::score;
use pgmkit::BayesNet;

fn net(name: &str) -> BayesNet {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/bif/{name}.bif"));
    parse_bif(&read_text(&p).expect("read BIF"), &LoadOptions::default()).expect("parse BIF")
}

fn sample(name: &str, bn: &BayesNet) -> Option<Dataset> {
    let local =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/samples/{name}_10k.csv.gz"));
    let shared = PathBuf::from(format!("/work/shared/data/samples/{name}_10k.csv.gz"));
    let p = [local, shared].into_iter().find(|p| p.exists())?;
    Some(
        read_csv_path(&p, bn.vars(), &CsvOptions::default())
            .expect("read sample")
            .data,
    )
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("score");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let munin = net("munin");
    match sample("munin", &munin) {
        Some(d) => {
            g.bench_function("munin_10k", |b| {
                b.iter(|| black_box(score(&munin, &d, &RowOptions::default()).expect("score")))
            });
        }
        None => eprintln!("skipping score/munin_10k: munin_10k.csv.gz not found"),
    }
    let alarm = net("alarm");
    let full = sample("alarm", &alarm).expect("tests/data/samples/alarm_10k.csv.gz");
    let (masked, _) = full.mask_mcar(0.2, 11).expect("mask");
    g.bench_function("alarm_10k_20pct_missing", |b| {
        b.iter(|| black_box(score(&alarm, &masked, &RowOptions::default()).expect("score")))
    });
    g.finish();

    let mut g = c.benchmark_group("em");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    g.bench_function("alarm_10k_20pct_missing", |b| {
        b.iter(|| black_box(em(&alarm, &masked, &EmOptions::default(), None).expect("em")))
    });
    let insurance = net("insurance");
    let rows = ForwardSampler::new(&insurance)
        .and_then(|s| s.sample_codes(10_000, 7))
        .expect("forward sample");
    let (ins_masked, _) = Dataset::from_samples(&rows)
        .mask_mcar(0.2, 11)
        .expect("mask");
    g.bench_function("insurance_10k_20pct_missing", |b| {
        b.iter(|| black_box(em(&insurance, &ins_masked, &EmOptions::default(), None).expect("em")))
    });
    g.finish();

    let mut g = c.benchmark_group("impute");
    g.sampling_mode(SamplingMode::Flat).sample_size(10);
    g.bench_function("alarm_10k_20pct_missing", |b| {
        b.iter(|| {
            black_box(impute(&alarm, &masked, &ImputeOptions::default(), None).expect("impute"))
        })
    });
    g.finish();
}

criterion_group!(learn, benches);
criterion_main!(learn);
