//! Variational-inference benchmarks (criterion) on libDAI's 100x100 periodic Ising grid
//! (`tests/data/fg/ising_100x100_periodic.fg`: 10 000 binary variables, 20 000 pairwise and
//! 10 000 unary factors), each run to libDAI's tolerance 1e-9 from scratch (preprocessing
//! included; the file is parsed once, outside the timing):
//!
//! - `variational_100x100/bp`: loopy BP, sequential colour-class schedule (libDAI 0.3.1: 23.7 s);
//! - `variational_100x100/mf`: naive mean field (libDAI 0.3.1: 139 s);
//! - `variational_100x100/trw`: TRW with 100 random spanning trees (libDAI 0.3.1: 22 s).
//!
//! Each is checked to converge (and BP to reach libDAI's log Z 8227.34) before it is timed;
//! 10 samples of one run each. Run with `cargo bench --bench variational`;
//! `cargo test --benches` runs each once as a smoke test.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use pgmkit::infer::variational::{BeliefPropagation, MeanField, StopRule, Trw, VariationalResult};
use pgmkit::io::{load_model, LoadOptions};
use pgmkit::{Evidence, FactorGraph};

fn bench_grid(c: &mut Criterion) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fg/ising_100x100_periodic.fg");
    let fg = load_model(&path, &LoadOptions::default())
        .expect("grid loads")
        .to_factor_graph();
    let ev = Evidence::new(fg.num_vars());
    let stop = StopRule::new(100_000, 1e-9);
    type Run = fn(&FactorGraph, &Evidence, StopRule) -> VariationalResult;
    let methods: [(&str, Run); 3] = [
        ("bp", |g, e, stop| {
            BeliefPropagation {
                stop,
                ..Default::default()
            }
            .run(g, e)
            .unwrap()
        }),
        ("mf", |g, e, stop| {
            MeanField {
                stop,
                ..Default::default()
            }
            .run(g, e)
            .unwrap()
        }),
        ("trw", |g, e, stop| {
            Trw {
                stop,
                ..Default::default()
            }
            .run(g, e)
            .unwrap()
        }),
    ];
    let mut group = c.benchmark_group("variational_100x100");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (name, run) in methods {
        let r = run(&fg, &ev, stop);
        assert!(r.convergence.converged(), "{name}: {:?}", r.convergence);
        if name == "bp" {
            assert!(
                (r.log_z.log_z - 8227.34).abs() < 0.01,
                "BP log Z {}",
                r.log_z.log_z
            );
        }
        group.bench_function(name, |b| {
            b.iter(|| run(black_box(&fg), black_box(&ev), stop))
        });
    }
    group.finish();
}

criterion_group!(variational, bench_grid);
criterion_main!(variational);
