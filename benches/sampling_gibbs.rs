//! Gibbs sampling throughput (criterion): single-site updates per second.
//!
//! Every figure is reported as `Throughput::Elements(updates)`, so criterion prints updates/s.
//! Unless the name says `raw`, each iteration runs the chain runner ([`run_chains`]) with marginal
//! statistics on (every sweep is a draw whose states are counted); traces and R-hat/ESS are off.
//!
//! - `gibbs_ising100/*`: `tests/data/fg/ising_100x100_periodic.fg` (10^4 binary spins, 2x10^4
//!   couplings), 100 sweeps per iteration on one chain:
//!   `systematic_table` (the binary threshold-table fast path), `systematic_logodds` (binary
//!   log-odds with one `exp` per update), `random_table` (random scan), `chromatic_1t` and
//!   `chromatic_2t` (chromatic parallel sweep in a 1- and a 2-thread rayon pool), `mh` (Metropolis),
//!   and `raw_systematic_table`, `raw_chromatic_1t`, `raw_chromatic_2t` (kernel sweeps alone,
//!   no statistics: the speed-up of the parallel sweep itself). With statistics, the chain
//!   runner hands batches of sweeps to the kernel, which pipelines chromatic sweeps on more than
//!   one thread and counts each variable in the thread that updated it.
//! - `gibbs_alarm/*`: ALARM (`tests/data/bif/alarm.bif`, 37 variables) lowered to a factor graph,
//!   20 000 sweeps per iteration: `no_evidence` and `evidence` (BP=HIGH, HRBP=HIGH, HREKG=HIGH;
//!   34 free variables), one thread.
//!
//! Run with `cargo bench --bench sampling_gibbs` (optionally a filter, e.g. `-- alarm`).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pgmkit::io::{load_model, LoadOptions};
use pgmkit::rng::chain_rng;
use pgmkit::sample::chains::{run_chains, ChainConfig, Start};
use pgmkit::sample::gibbs::{Gibbs, GibbsOptions, Scan, UpdatePath};
use pgmkit::sample::mh::MetropolisHastings;
use pgmkit::sample::start::StartSearch;
use pgmkit::sample::{Tempering, Transition};
use pgmkit::{Evidence, FactorGraph};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn load_fg(rel: &str) -> FactorGraph {
    let m = load_model(&data(rel), &LoadOptions::default()).expect("load model");
    m.to_factor_graph()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

fn config(sweeps: usize, start: Vec<usize>) -> ChainConfig {
    ChainConfig {
        chains: 1,
        warmup: 0,
        draws: sweeps,
        thin: 1,
        seed: 1,
        start: Start::Given(start),
        diagnostics: false,
        ..ChainConfig::default()
    }
}

fn bench_grid(c: &mut Criterion) {
    let fg = load_fg("tests/data/fg/ising_100x100_periodic.fg");
    let n = fg.num_vars();
    let ev = Evidence::new(n);
    let sweeps = 100;
    let start: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let cfg = config(sweeps, start.clone());
    let one = pool(1);
    let two = pool(2);
    let mut g = c.benchmark_group("gibbs_ising100");
    g.throughput(Throughput::Elements((sweeps * n) as u64))
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));

    let gibbs = |scan: Scan, tables: bool| {
        let opts = GibbsOptions {
            scan,
            threshold_tables: tables,
            ..GibbsOptions::default()
        };
        Gibbs::new(&fg, &ev, &opts).expect("kernel")
    };
    let k_table = gibbs(Scan::Systematic, true);
    assert_eq!(
        k_table.update_path(&Tempering::TARGET),
        UpdatePath::BinaryTable
    );
    let k_odds = gibbs(Scan::Systematic, false);
    assert_eq!(
        k_odds.update_path(&Tempering::TARGET),
        UpdatePath::BinaryLogOdds
    );
    let k_random = gibbs(Scan::Random, true);
    let k_chrom = gibbs(Scan::Chromatic, true);
    assert_eq!(k_chrom.num_colours(), 2);
    let k_mh = MetropolisHastings::new(&fg, &ev, &GibbsOptions::default()).expect("mh");

    g.bench_function("systematic_table", |b| {
        b.iter(|| one.install(|| run_chains(&k_table, &fg, &ev, black_box(&cfg)).unwrap()))
    });
    g.bench_function("systematic_logodds", |b| {
        b.iter(|| one.install(|| run_chains(&k_odds, &fg, &ev, black_box(&cfg)).unwrap()))
    });
    g.bench_function("random_table", |b| {
        b.iter(|| one.install(|| run_chains(&k_random, &fg, &ev, black_box(&cfg)).unwrap()))
    });
    g.bench_function("chromatic_1t", |b| {
        b.iter(|| one.install(|| run_chains(&k_chrom, &fg, &ev, black_box(&cfg)).unwrap()))
    });
    g.bench_function("chromatic_2t", |b| {
        b.iter(|| two.install(|| run_chains(&k_chrom, &fg, &ev, black_box(&cfg)).unwrap()))
    });
    g.bench_function("mh", |b| {
        b.iter(|| one.install(|| run_chains(&k_mh, &fg, &ev, black_box(&cfg)).unwrap()))
    });
    let raw = |k: &Gibbs, p: &rayon::ThreadPool, b: &mut criterion::Bencher| {
        let mut x = start.clone();
        let mut rng = chain_rng(1, 0);
        b.iter(|| {
            p.install(|| {
                for _ in 0..sweeps {
                    black_box(k.sweep(&mut x, &Tempering::TARGET, &mut rng));
                }
            })
        })
    };
    g.bench_function("raw_systematic_table", |b| raw(&k_table, &one, b));
    g.bench_function("raw_chromatic_1t", |b| raw(&k_chrom, &one, b));
    g.bench_function("raw_chromatic_2t", |b| raw(&k_chrom, &two, b));
    // `sweeps` runs a chromatic kernel's sweeps as one pipeline (no statistics)
    let pipe = |p: &rayon::ThreadPool, b: &mut criterion::Bencher| {
        let mut x = start.clone();
        let mut rng = chain_rng(1, 0);
        b.iter(|| {
            p.install(|| {
                black_box(k_chrom.sweeps(&mut x, &Tempering::TARGET, &mut rng, sweeps, None));
            })
        })
    };
    g.bench_function("raw_pipeline_1t", |b| pipe(&one, b));
    g.bench_function("raw_pipeline_2t", |b| pipe(&two, b));
    g.finish();

    // The chain runner's own parallelism: 4 chains (the CLI default) with statistics on, each
    // chain a sequence of systematic sweeps, chains spread over the threads.
    let mut g = c.benchmark_group("gibbs_ising100_chains4");
    let cfg4 = ChainConfig {
        chains: 4,
        ..cfg.clone()
    };
    g.throughput(Throughput::Elements((4 * sweeps * n) as u64))
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("systematic_1t", |b| {
        b.iter(|| one.install(|| run_chains(&k_table, &fg, &ev, black_box(&cfg4)).unwrap()))
    });
    g.bench_function("systematic_2t", |b| {
        b.iter(|| two.install(|| run_chains(&k_table, &fg, &ev, black_box(&cfg4)).unwrap()))
    });
    g.finish();
}

fn bench_alarm(c: &mut Criterion) {
    let fg = load_fg("tests/data/bif/alarm.bif");
    let sweeps = 20_000;
    let one = pool(1);
    let mut g = c.benchmark_group("gibbs_alarm");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    for (name, spec) in [
        ("no_evidence", ""),
        ("evidence", "BP=HIGH,HRBP=HIGH,HREKG=HIGH"),
    ] {
        let ev = fg.evidence(spec).expect("evidence");
        let k = Gibbs::new(&fg, &ev, &GibbsOptions::default()).expect("kernel");
        assert_eq!(k.update_path(&Tempering::TARGET), UpdatePath::GeneralProb);
        let start = StartSearch::new(&fg, &ev)
            .and_then(|s| s.find(&mut chain_rng(3, 0)))
            .expect("start state");
        let cfg = config(sweeps, start);
        g.throughput(Throughput::Elements((sweeps * k.free_vars().len()) as u64));
        g.bench_function(name, |b| {
            b.iter(|| one.install(|| run_chains(&k, &fg, &ev, black_box(&cfg)).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_grid, bench_alarm);
criterion_main!(benches);
