//! log Z of a large Ising torus, side by side: annealed importance sampling (estimate with a
//! standard error), mean field (lower bound), loopy BP (Bethe approximation) and TRW (upper
//! bound). Exact inference is out of reach at this size (treewidth ~ 2 x side).
//!
//! ```sh
//! cargo run --release --example logz_torus                       # libDAI's 100x100 torus, 60 s AIS budget
//! cargo run --release --example logz_torus -- FILE.fg 20         # another model, 20 s budget
//! ```
use std::path::PathBuf;
use std::time::Duration;

use pgmkit::infer::ais::{ais, AisOptions, Kernel};
use pgmkit::infer::variational::{BeliefPropagation, MeanField, StopRule, Trw};
use pgmkit::io::{load_model, LoadOptions};
use pgmkit::Evidence;

fn main() -> Result<(), pgmkit::Error> {
    let mut args = std::env::args().skip(1);
    let path = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fg/ising_100x100_periodic.fg")
    });
    let budget: f64 = args
        .next()
        .map_or(60.0, |t| t.parse().expect("budget in seconds"));
    let particles: usize = std::env::var("AIS_PARTICLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let fg = load_model(&path, &LoadOptions::default())?.to_factor_graph();
    let ev = Evidence::new(fg.num_vars());
    println!(
        "{}: {} variables, {} factors, {} threads",
        path.display(),
        fg.num_vars(),
        fg.factors().len(),
        rayon::current_num_threads()
    );
    let stop = StopRule::new(100_000, 1e-9);
    let timed = |f: &dyn Fn() -> pgmkit::Result<pgmkit::infer::variational::VariationalResult>| {
        let t = std::time::Instant::now();
        f().map(|r| (r, t.elapsed().as_secs_f64()))
    };
    let mf = timed(&|| {
        MeanField {
            stop,
            ..Default::default()
        }
        .run(&fg, &ev)
    })?;
    let bp = timed(&|| {
        BeliefPropagation {
            stop,
            ..Default::default()
        }
        .run(&fg, &ev)
    })?;
    let trw = timed(&|| {
        Trw {
            stop,
            ..Default::default()
        }
        .run(&fg, &ev)
    })?;
    let opts = AisOptions {
        particles,
        steps: 1000,
        kernel: Kernel::Gibbs,
        seed: 1,
        time_limit: Some(Duration::from_secs_f64(budget)),
        ..AisOptions::default()
    };
    let a = ais(&fg, &ev, &opts, None)?;
    println!(
        "{:<5} {:>14} {:>10} {:>9}",
        "method", "log Z", "std err", "seconds"
    );
    println!(
        "{:<5} {:>14.4} {:>10.4} {:>9.2}   ({} particles x {} steps, ESS {:.1})",
        "AIS",
        a.log_z,
        a.std_err,
        a.seconds,
        a.log_weights.len(),
        a.betas.len() - 1,
        a.ess
    );
    for (name, (r, secs), what) in [
        ("MF", &mf, "lower bound"),
        ("BP", &bp, "Bethe approximation"),
        ("TRW", &trw, "upper bound"),
    ] {
        println!(
            "{:<5} {:>14.4} {:>10} {:>9.2}   {what} ({} iterations)",
            name, r.log_z.log_z, "-", secs, r.convergence.iters
        );
    }
    Ok(())
}
