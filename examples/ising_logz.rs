//! Build a 20x20 Ising grid in code and compute its exact log partition function and marginals.
//!
//! Run with `cargo run --release --example ising_logz`.
use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::model::{ising_grid, Boundary};
use pgmkit::Evidence;

fn main() -> Result<(), pgmkit::Error> {
    // spins s in {-1,+1}; p(s) ∝ exp(0.5 sum_<ij> s_i s_j + 0.1 sum_i s_i), free boundary
    let grid = ising_grid(20, 20, Boundary::Free, |_, _| 0.5, |_| 0.1)?;
    let ev = Evidence::new(grid.num_vars());
    let opts = ExactOptions::default();
    let t0 = std::time::Instant::now();
    let plan = exact::plan(&grid, &ev, &opts)?;
    println!(
        "20x20 Ising grid: elimination width {} ({} order, planned in {:.3} s)",
        plan.width,
        plan.heuristic,
        t0.elapsed().as_secs_f64()
    );
    let t1 = std::time::Instant::now();
    let z = exact::log_z(&grid, &ev, &opts)?;
    println!(
        "log Z = {:.12} (log10 Z = {:.12}) in {:.3} s",
        z.log_z,
        z.log10_z(),
        t1.elapsed().as_secs_f64()
    );
    let t2 = std::time::Instant::now();
    let post = exact::marginals(&grid, &ev, &opts)?;
    println!(
        "all 400 marginals in {:.3} s; P(centre spin = +1) = {:.6}",
        t2.elapsed().as_secs_f64(),
        post.marginal(grid.var_id("x10_10")?)[1]
    );
    Ok(())
}
