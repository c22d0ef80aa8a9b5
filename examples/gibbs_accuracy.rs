//! Gibbs accuracy against time: the largest marginal error on `tests/data/fg/ising_15x15_open.fg`
//! (225 spins, couplings in [0.2, 0.5]) after runs of increasing length, two chains in parallel
//! (one per core), compared with exact marginals (junction tree).
//!
//! The target of the sampling issue: max error <= 0.01 within 1 s on 2 cores (libDAI's Gibbs:
//! 0.037 after 10^4 sweeps, 1.55 s of CPU).
//!
//! ```sh
//! cargo run --release --example gibbs_accuracy            # the table and a 1-second run
//! cargo run --release --example gibbs_accuracy -- 2.5     # a run of about 2.5 s instead
//! ```

use std::path::Path;
use std::time::Instant;

use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::io::{load_model, LoadOptions};
use pgmkit::sample::chains::{run_chains, ChainConfig, ChainSummary, Start};
use pgmkit::sample::gibbs::{Gibbs, GibbsOptions};
use pgmkit::{Evidence, VarId};

fn errors(s: &ChainSummary, exact: &[Vec<f64>]) -> (f64, f64) {
    let mut max = 0.0f64;
    let mut sum = 0.0;
    for (m, e) in s.marginals.iter().zip(exact) {
        let d = (m[1] - e[1]).abs();
        max = max.max(d);
        sum += d;
    }
    (max, sum / exact.len() as f64)
}

fn main() -> pgmkit::Result<()> {
    let budget: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1.0);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fg/ising_15x15_open.fg");
    let fg = load_model(&path, &LoadOptions::default())?.to_factor_graph();
    let n = fg.num_vars();
    let ev = Evidence::new(n);
    let post = exact::marginals(&fg, &ev, &ExactOptions::default())?;
    let exact: Vec<Vec<f64>> = (0..n).map(|i| post.marginal(VarId(i as u32))).collect();
    let kernel = Gibbs::new(&fg, &ev, &GibbsOptions::default())?;
    let threads = rayon::current_num_threads();
    println!("ising_15x15_open.fg: {n} variables, 2 chains on {threads} threads, systematic scan,");
    println!(
        "{:?} path; warm-up 1000 sweeps per chain",
        kernel.update_path(&pgmkit::sample::Tempering::TARGET)
    );
    println!();
    println!(
        "{:>12} {:>9} {:>12} {:>10} {:>10}",
        "sweeps/chain", "seconds", "updates/s", "max err", "mean err"
    );
    let run = |draws: usize, seed: u64| {
        let cfg = ChainConfig {
            chains: 2,
            warmup: 1000,
            draws,
            thin: 1,
            seed,
            start: Start::Given(vec![0; n]),
            diagnostics: false,
            ..ChainConfig::default()
        };
        let t = Instant::now();
        let s = run_chains(&kernel, &fg, &ev, &cfg)?;
        Ok::<_, pgmkit::Error>((s, t.elapsed().as_secs_f64()))
    };
    let mut rate = 0.0;
    for (k, draws) in [1_000usize, 10_000, 100_000, 300_000, 1_000_000]
        .into_iter()
        .enumerate()
    {
        let (s, secs) = run(draws, 1 + k as u64)?;
        let (mx, mean) = errors(&s, &exact);
        rate = s.sweeps as f64 / secs;
        println!(
            "{:>12} {:>9.3} {:>12.3e} {:>10.4} {:>10.5}",
            draws,
            secs,
            s.updates as f64 / secs,
            mx,
            mean
        );
    }
    // a run sized to the time budget from the measured sweep rate (both chains together)
    let draws = ((rate * budget / 2.0) as usize)
        .saturating_sub(1000)
        .max(1000);
    let (s, secs) = run(draws, 99)?;
    let (mx, mean) = errors(&s, &exact);
    println!();
    println!(
        "time-boxed run ({budget} s budget): {draws} sweeps per chain in {secs:.3} s, max error {mx:.4}, mean error {mean:.5} (target <= 0.01)"
    );
    Ok(())
}
