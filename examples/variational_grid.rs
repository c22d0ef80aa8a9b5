//! Mean field, loopy BP and TRW on the 100x100 periodic Ising grid of libDAI
//! (`tests/data/fg/ising_100x100_periodic.fg`), at libDAI's tolerance 1e-9, with libDAI 0.3.1's
//! figures for comparison.
//!
//! Run with `cargo run --release --example variational_grid [FILE.fg] [TOL]`.
use std::path::PathBuf;
use std::time::Instant;

use pgmkit::infer::variational::{BeliefPropagation, MeanField, StopRule, Trw, VariationalResult};
use pgmkit::io::{load_model, LoadOptions};
use pgmkit::{Evidence, FactorGraph};

fn main() -> Result<(), pgmkit::Error> {
    let mut args = std::env::args().skip(1);
    let path = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fg/ising_100x100_periodic.fg")
    });
    let tol: f64 = args
        .next()
        .map_or(1e-9, |t| t.parse().expect("TOL is a number"));
    let fg = load_model(&path, &LoadOptions::default())?.to_factor_graph();
    let ev = Evidence::new(fg.num_vars());
    let stop = StopRule::new(100_000, tol);
    println!(
        "{}: {} variables, {} factors, tolerance {tol:e}, {} threads",
        path.display(),
        fg.num_vars(),
        fg.factors().len(),
        rayon::current_num_threads()
    );
    println!(
        "{:<5} {:>14} {:>12} {:>8} {:>10} {:>9}   libDAI 0.3.1 (log Z, CPU s)",
        "method", "log Z", "kind", "iters", "converged", "seconds"
    );
    type Runner = Box<dyn Fn(&FactorGraph, &Evidence) -> pgmkit::Result<VariationalResult>>;
    let methods: Vec<(&str, Runner, &str)> = vec![
        (
            "MF",
            Box::new(move |g, e| {
                MeanField {
                    stop,
                    ..Default::default()
                }
                .run(g, e)
            }),
            "7665.5 in 139 s",
        ),
        (
            "BP",
            Box::new(move |g, e| {
                BeliefPropagation {
                    stop,
                    ..Default::default()
                }
                .run(g, e)
            }),
            "8227.34 in 23.7 s",
        ),
        (
            "TRW",
            Box::new(move |g, e| {
                Trw {
                    stop,
                    ..Default::default()
                }
                .run(g, e)
            }),
            "9329.7 in 22 s",
        ),
    ];
    for (name, run, reference) in methods {
        let t0 = Instant::now();
        let r = run(&fg, &ev)?;
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{:<5} {:>14.4} {:>12} {:>8} {:>10} {:>9.3}   {reference}",
            name,
            r.log_z.log_z,
            format!("{:?}", r.log_z.kind),
            r.convergence.iters,
            r.convergence.converged(),
            secs
        );
    }
    Ok(())
}
