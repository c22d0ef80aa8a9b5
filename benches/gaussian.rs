//! Gaussian models (criterion):
//!
//! - `gmrf_lattice100_logz`: `Gmrf::lattice(100, 100, Free, 4.2, 1.0, h = 0.3)` built and
//!   factorised (reverse Cuthill–McKee ordering, envelope Cholesky of 10^4 variables) and its
//!   exact log Z read; the benchmark first checks log Z against the eigenvalue closed form.
//! - `gmrf_lattice100_variances`: the 10^4 marginal variances by the selected inverse.
//! - `hmc_gmrf100`: one HMC chain (16 leapfrog steps, fixed step size 0.3) of 200 transitions on
//!   the 10 x 10 lattice GMRF used through the `Energy` trait; throughput in gradients/s.
//!
//! Run with `cargo bench --bench gaussian`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pgmkit::gaussian::{Gmrf, LN_2PI};
use pgmkit::model::Boundary;
use pgmkit::rng::chain_rng;
use pgmkit::sample::continuous::{ContinuousTransition, Hmc, HmcOptions};

fn lattice_log_z(n: usize, d: f64, c: f64, h0: f64) -> f64 {
    use std::f64::consts::PI;
    let m1 = (n + 1) as f64;
    let proj: Vec<f64> = (1..=n)
        .map(|k| {
            (2.0 / m1).sqrt()
                * (1..=n)
                    .map(|t| (PI * (k * t) as f64 / m1).sin())
                    .sum::<f64>()
        })
        .collect();
    let (mut log_det, mut quad) = (0.0, 0.0);
    for i in 1..=n {
        for j in 1..=n {
            let ev = d - 2.0 * c * ((PI * i as f64 / m1).cos() + (PI * j as f64 / m1).cos());
            log_det += ev.ln();
            quad += (h0 * proj[i - 1] * proj[j - 1]).powi(2) / ev;
        }
    }
    0.5 * (n * n) as f64 * LN_2PI - 0.5 * log_det + 0.5 * quad
}

fn bench(c: &mut Criterion) {
    let build = || Gmrf::lattice(100, 100, Boundary::Free, 4.2, 1.0, vec![0.3; 10_000]).unwrap();
    let exact = lattice_log_z(100, 4.2, 1.0, 0.3);
    let g = build();
    assert!((g.log_z() - exact).abs() < 1e-9 * exact.abs());
    let mut grp = c.benchmark_group("gaussian");
    grp.sample_size(10);
    grp.bench_function("gmrf_lattice100_logz", |b| b.iter(|| build().log_z()));
    grp.bench_function("gmrf_lattice100_variances", |b| b.iter(|| g.variances()[0]));

    let small = Gmrf::lattice(10, 10, Boundary::Free, 4.4, 1.0, vec![0.1; 100]).unwrap();
    let opts = HmcOptions {
        step_size: 0.3,
        leapfrog_steps: 16,
        adapt: false,
        ..HmcOptions::default()
    };
    let hmc = Hmc::new(&small, opts).unwrap();
    let transitions = 200;
    let run = || {
        let mut rng = chain_rng(1, 0);
        let mut x = vec![0.0; 100];
        let mut cs = hmc.init_chain();
        let mut evals = 0;
        for _ in 0..transitions {
            evals += hmc.step(&mut x, &mut cs, false, &mut rng).evals;
        }
        evals
    };
    grp.throughput(Throughput::Elements(run()));
    grp.bench_function("hmc_gmrf100", |b| b.iter(run));
    grp.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
