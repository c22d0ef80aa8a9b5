//! Exact-inference benchmarks (criterion).
//!
//! - `bn_marginals/<net>`: posterior marginals of every variable of a bnlearn network under 3-leaf
//!   evidence, engine construction included (elimination order, junction tree, calibration); the
//!   network is parsed once, outside the timing.
//! - `bn_log_evidence/<net>`: ln P(e) of the same network and evidence (barren nodes pruned, collect
//!   pass only).
//! - `ising20_logz`: exact log Z of the 20x20 free-boundary Ising grid (coupling 0.5, field 0.1).
//!
//! Run with `cargo bench --bench exact` (optionally a filter: `cargo bench --bench exact -- alarm`).
//! `cargo test --benches` runs every benchmark once, as a smoke test. See `benches/README.md`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::io::{load_model, LoadOptions};
use pgmkit::model::{ising_grid, Boundary, Model};
use pgmkit::{BayesNet, Evidence};

/// The benchmark networks: file stem under `tests/data/bif/` and evidence (state names).
const NETS: &[(&str, &str)] = &[
    ("alarm", "BP=HIGH,HRBP=HIGH,HREKG=HIGH"),
    (
        "hailfinder",
        "R5Fcst=SIG,Dewpoints=LowMtsHighPl,LowLLapse=Steep",
    ),
    ("win95pts", "Problem1=Normal_Output,Problem6=No,PrtFile=Yes"),
    ("andes", "SNode_151=false,SNode_119=false,SNode_136=false"),
    ("pathfinder", "F70=Scanty,F81=Numerous__51_90__,F89=Absent"),
    (
        "munin",
        "L_ADM_FORCE=x5,R_ADM_FORCE=x5,L_ADM_REPSTIM_CMAPAMP=MV8",
    ),
];

/// Exact natural-log partition function of the 20x20 free Ising grid (J = 0.5, h = 0.1).
const ISING20_LOG_Z: f64 = 431.516_259_201_508_94;

fn data_path(stem: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/bif")
        .join(format!("{stem}.bif"))
}

fn load(stem: &str, spec: &str) -> (BayesNet, Evidence) {
    let path = data_path(stem);
    let model = load_model(&path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    let Model::Bayes(bn) = model else {
        panic!("{} is not a Bayesian network", path.display())
    };
    let ev = bn
        .evidence(spec)
        .unwrap_or_else(|e| panic!("evidence '{spec}' on {stem}: {e}"));
    (bn, ev)
}

/// Run `f` once, returning its result and how long it took.
fn time_once<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

/// Benchmark `f` as `group/name`, sized from one earlier run of `once`: long runs (over 50 ms) get
/// 10 samples of one iteration each (flat sampling), short ones 30 samples of criterion's usual
/// linear ramp (1, 2, ..., 30 iterations), so the whole file runs in a few minutes.
fn bench_sized<O>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    once: Duration,
    mut f: impl FnMut() -> O,
) {
    let mut g = c.benchmark_group(group);
    g.warm_up_time(Duration::from_millis(500));
    if once > Duration::from_millis(50) {
        g.sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .measurement_time(once.mul_f64(10.0 * 1.2));
    } else {
        // A linear ramp of 30 samples takes 465 iterations.
        let need = once.mul_f64(465.0 * 1.2);
        g.sample_size(30)
            .measurement_time(need.clamp(Duration::from_secs(2), Duration::from_secs(30)));
    }
    g.bench_function(name, |b| b.iter(&mut f));
    g.finish();
}

fn bench_bn(c: &mut Criterion) {
    let opts = ExactOptions::default();
    for &(stem, spec) in NETS {
        let (bn, ev) = load(stem, spec);

        // Both computations must agree before anything is timed. Not to 1e-12: some files
        // (pathfinder) have CPT columns that sum to 1 only within the loader's tolerance, so
        // pruning barren nodes (bn_log_evidence) and keeping them (bn_marginals) differ by ~1e-7.
        let (post, t_marg) =
            time_once(|| exact::bn_marginals(&bn, &ev, &opts).expect("bn_marginals"));
        let (lpe, t_lpe) =
            time_once(|| exact::bn_log_evidence(&bn, &ev, &opts).expect("bn_log_evidence"));
        assert!(post.log_z.is_finite(), "{stem}: log P(e) = {}", post.log_z);
        assert!(
            (post.log_z - lpe.log_z).abs() <= 1e-6 * lpe.log_z.abs().max(1.0),
            "{stem}: marginals log P(e) {} != log-evidence {}",
            post.log_z,
            lpe.log_z
        );

        bench_sized(c, "bn_marginals", stem, t_marg, || {
            exact::bn_marginals(black_box(&bn), black_box(&ev), &opts).unwrap()
        });
        bench_sized(c, "bn_log_evidence", stem, t_lpe, || {
            exact::bn_log_evidence(black_box(&bn), black_box(&ev), &opts).unwrap()
        });
    }
}

fn bench_ising(c: &mut Criterion) {
    let opts = ExactOptions::default();
    let g = ising_grid(20, 20, Boundary::Free, |_, _| 0.5, |_| 0.1).expect("ising grid");
    let ev = Evidence::new(g.num_vars());
    let z = exact::log_z(&g, &ev, &opts).expect("ising log Z").log_z;
    assert!(
        (z - ISING20_LOG_Z).abs() <= 1e-9,
        "20x20 Ising log Z = {z}, expected {ISING20_LOG_Z}"
    );
    // Sampling: 10 samples in about 25 s (see the `ising` group config below); criterion's
    // automatic mode switches to flat sampling (one iteration per sample) for a run this long.
    c.bench_function("ising20_logz", |b| {
        b.iter(|| exact::log_z(black_box(&g), black_box(&ev), &opts).unwrap())
    });
}

criterion_group!(bn, bench_bn);
criterion_group! {
    name = ising;
    config = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(25))
        .warm_up_time(Duration::from_millis(500));
    targets = bench_ising
}
criterion_main!(bn, ising);
