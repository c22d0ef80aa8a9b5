use pgmkit::io::{load_model, LoadOptions};
use pgmkit::rng::chain_rng;
use pgmkit::sample::gibbs::{Gibbs, GibbsOptions, Scan};
use pgmkit::sample::{StateTally, Tempering, Transition};
use pgmkit::Evidence;
use std::time::Instant;
fn main() {
    let m = load_model(
        std::path::Path::new("tests/data/fg/ising_100x100_periodic.fg"),
        &LoadOptions::default(),
    )
    .unwrap();
    let fg = m.to_factor_graph();
    let n = fg.num_vars();
    let g = Gibbs::new(
        &fg,
        &Evidence::new(n),
        &GibbsOptions {
            scan: Scan::Chromatic,
            ..Default::default()
        },
    )
    .unwrap();
    let threads: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let batch: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut best = 0.0f64;
        for _ in 0..5 {
            let mut x: Vec<usize> = (0..n).map(|i| i % 2).collect();
            let mut rng = chain_rng(1, 0);
            let mut counts = vec![0u64; n];
            let sweeps = 1000;
            let t0 = Instant::now();
            for _ in 0..sweeps / batch {
                let mut t = StateTally::binary(&mut counts);
                g.sweeps(&mut x, &Tempering::TARGET, &mut rng, batch, Some(&mut t));
            }
            let r = (sweeps * n) as f64 / t0.elapsed().as_secs_f64() / 1e6;
            best = best.max(r);
        }
        println!(
            "threads {threads} batch {batch} nopipe {}: best {best:.1} M upd/s",
            std::env::var_os("PGMKIT_NO_PIPE").is_some()
        );
    });
}
