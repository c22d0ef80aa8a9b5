//! Annealed importance sampling throughput (criterion) on libDAI's 100x100 periodic Ising grid
//! (`tests/data/fg/ising_100x100_periodic.fg`): one AIS run of 4 particles x 100 steps (linear
//! schedule, uniform base, systematic Gibbs), about 4 x 10^6 single-site updates plus 400
//! evaluations of the model's log potential. Throughput is reported in updates/s.
//!
//! Run with `cargo bench --bench ais`. The end-to-end figure (AIS with a standard error
//! <= 0.5 nats within 60 s on 2 cores) comes from `cargo run --release --example logz_torus`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pgmkit::infer::ais::{ais, AisOptions, Schedule};
use pgmkit::io::{load_model, LoadOptions};
use pgmkit::Evidence;

fn bench(c: &mut Criterion) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fg/ising_100x100_periodic.fg");
    let fg = load_model(&path, &LoadOptions::default())
        .expect("model loads")
        .to_factor_graph();
    let ev = Evidence::new(fg.num_vars());
    let opts = AisOptions {
        particles: 4,
        steps: 100,
        schedule: Schedule::Linear,
        seed: 1,
        ..AisOptions::default()
    };
    let updates = ais(&fg, &ev, &opts, None).expect("ais").updates;
    let mut g = c.benchmark_group("ais_ising100");
    g.sample_size(10);
    g.throughput(Throughput::Elements(updates));
    g.bench_function("4x100_linear_gibbs", |b| {
        b.iter(|| ais(&fg, &ev, &opts, None).expect("ais").log_z)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
