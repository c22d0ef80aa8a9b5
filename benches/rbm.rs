//! RBM block Gibbs throughput (criterion), one thread: visible-hidden weight multiply-adds per
//! second.
//!
//! `rbm_gibbs/64x200` and `rbm_gibbs/784x500`: one chain of 200 block Gibbs sweeps (`h | v`
//! then `v | h`) of a machine with random weights; each sweep reads every weight twice (the
//! hidden inputs `c + W v`, the visible inputs `b + Wᵀ h`), so the throughput counts `2 V H`
//! multiply-adds per sweep (the kernels skip the rows of inactive units, so about half of
//! them are done).
//!
//! Peak, estimated: this machine (AMD EPYC, AVX2, 512 KiB L2 per core, 8 MiB shared L3) issues
//! two 4-lane double additions and two multiplications per cycle, so at about 2.5 GHz about
//! 20 G multiply-adds/s from registers; the 64x200 machine (100 KiB of weights, two layouts)
//! lives in L2, the 784x500 one (3.1 MiB) streams from L3 at a few tens of GB/s, so memory
//! bounds it near 4-8 G/s. Measured 2026-12-03 in one run against the previous kernels
//! (dot products, SSE2): 3.46 vs 1.62 G/s (64x200), 3.90 vs 3.12 G/s (784x500).
//! `cargo bench --bench rbm` prints the figure to compare.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pgmkit::model::rbm::Rbm;
use pgmkit::rng::chain_rng;
use rand::Rng;

fn random_rbm(nv: usize, nh: usize) -> Rbm {
    let mut rng = chain_rng(1, 0);
    let mut u = |s: f64| (rng.random::<f64>() - 0.5) * s;
    let b = (0..nv).map(|_| u(0.2)).collect();
    let c = (0..nh).map(|_| u(0.2)).collect();
    let w = (0..nh).map(|_| (0..nv).map(|_| u(0.1)).collect()).collect();
    Rbm::new((0..nv).map(|i| format!("v{i}")).collect(), b, c, w).unwrap()
}

fn bench(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("rbm_gibbs");
    g.sample_size(10);
    for (nv, nh) in [(64usize, 200usize), (784, 500)] {
        let rbm = random_rbm(nv, nh);
        let sweeps = 200;
        g.throughput(Throughput::Elements((2 * nv * nh * sweeps) as u64));
        g.bench_function(format!("{nv}x{nh}"), |bch| {
            bch.iter(|| {
                pool.install(|| black_box(rbm.gibbs_samples(1, 1, sweeps - 1, 1, 7).unwrap()))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
