//! Forward (ancestral) sampling throughput: variable draws per second on alarm (37 variables) and
//! munin (1041 variables), 100 000 rows in memory as compact codes, with rayon pools of 1 and 2
//! threads. Criterion reports throughput in elements = rows x variables = variable draws.
//!
//! Run with `cargo bench --bench sampling_forward`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pgmkit::io::{load_model, LoadOptions};
use pgmkit::sample::ancestral::ForwardSampler;
use pgmkit::{BayesNet, Model};

const ROWS: usize = 100_000;

fn load_bn(name: &str) -> BayesNet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/bif")
        .join(format!("{name}.bif"));
    match load_model(&path, &LoadOptions::default()).expect("load model") {
        Model::Bayes(bn) => bn,
        _ => unreachable!("a BIF file holds a Bayesian network"),
    }
}

fn forward(c: &mut Criterion) {
    for (name, secs) in [("alarm", 5), ("munin", 20)] {
        let bn = load_bn(name);
        let sampler = ForwardSampler::new(&bn).expect("sampler");
        let mut group = c.benchmark_group(format!("forward_{name}"));
        group.throughput(Throughput::Elements((ROWS * bn.num_vars()) as u64));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(secs));
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            group.bench_with_input(
                BenchmarkId::new("codes_100k_rows_threads", threads),
                &threads,
                |b, _| {
                    let mut seed = 0u64;
                    b.iter(|| {
                        seed += 1;
                        pool.install(|| {
                            black_box(sampler.sample_codes(ROWS, seed).expect("sample"))
                        })
                    })
                },
            );
        }
        group.finish();
    }
}

criterion_group!(benches, forward);
criterion_main!(benches);
