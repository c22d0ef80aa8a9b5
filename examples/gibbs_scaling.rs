//! Two-thread speed-up of Gibbs sampling on the 100x100 periodic Ising grid, with marginal
//! statistics on (the chain runner counts every draw):
//!
//! - one chain, chromatic scan: colour classes run as a block pipeline on 2 threads;
//! - four chains, systematic scan: chains run in parallel.
//!
//! Runs of 400 sweeps at 1 and 2 threads are interleaved (`REPS` rounds, default 25) so that
//! both see the same machine; prints the median and the best throughput of each and the ratios.
//! On a shared virtual machine other tenants slow some rounds down (never speed them up), so
//! the best rounds are the cleaner comparison; both are printed.
//!
//! ```sh
//! cargo run --release --example gibbs_scaling
//! REPS=50 cargo run --release --example gibbs_scaling
//! ```

use std::path::Path;
use std::time::Instant;

use pgmkit::io::{load_model, LoadOptions};
use pgmkit::sample::chains::{run_chains, ChainConfig, Start};
use pgmkit::sample::gibbs::{Gibbs, GibbsOptions, Scan};
use pgmkit::Evidence;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fg/ising_100x100_periodic.fg");
    let fg = load_model(&path, &LoadOptions::default())?.to_factor_graph();
    let n = fg.num_vars();
    let ev = Evidence::new(n);
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25);
    let sweeps = 400;
    let start: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let chromatic = Gibbs::new(
        &fg,
        &ev,
        &GibbsOptions {
            scan: Scan::Chromatic,
            ..GibbsOptions::default()
        },
    )?;
    let systematic = Gibbs::new(&fg, &ev, &GibbsOptions::default())?;
    let config = |chains| ChainConfig {
        chains,
        warmup: 0,
        draws: sweeps,
        thin: 1,
        seed: 1,
        start: Start::Given(start.clone()),
        diagnostics: false,
        ..ChainConfig::default()
    };
    let pools = [
        rayon::ThreadPoolBuilder::new().num_threads(1).build()?,
        rayon::ThreadPoolBuilder::new().num_threads(2).build()?,
    ];
    let cases: [(&str, &Gibbs, usize); 2] = [
        ("1 chain, chromatic", &chromatic, 1),
        ("4 chains, systematic", &systematic, 4),
    ];
    // rates[case][threads - 1]
    let mut rates = vec![[Vec::new(), Vec::new()]; cases.len()];
    for _ in 0..reps {
        for (c, &(_, kernel, chains)) in cases.iter().enumerate() {
            let cfg = config(chains);
            for (t, pool) in pools.iter().enumerate() {
                let clock = Instant::now();
                pool.install(|| run_chains(kernel, &fg, &ev, &cfg))?;
                let rate = (chains * sweeps * n) as f64 / clock.elapsed().as_secs_f64() / 1e6;
                rates[c][t].push(rate);
            }
        }
    }
    println!("100x100 periodic Ising grid, {sweeps} sweeps per run, {reps} interleaved rounds, statistics on");
    for ((name, _, _), r) in cases.iter().zip(rates.iter_mut()) {
        let mut stat = [(0.0, 0.0); 2];
        for (t, v) in r.iter_mut().enumerate() {
            v.sort_by(f64::total_cmp);
            stat[t] = (v[v.len() / 2], v[v.len() - 1]);
        }
        println!(
            "{name:<22} 1 thread: median {:6.1} best {:6.1} M updates/s | 2 threads: median {:6.1} best {:6.1} | speed-up median {:.2}x, best {:.2}x",
            stat[0].0,
            stat[0].1,
            stat[1].0,
            stat[1].1,
            stat[1].0 / stat[0].0,
            stat[1].1 / stat[0].1
        );
    }
    Ok(())
}
