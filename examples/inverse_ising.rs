//! The inverse Ising problem: recover the couplings and fields of a grid from its own samples.
//!
//! A 4x5 free grid with couplings J ~ N(0, 0.5^2) and fields h ~ N(0, 0.3^2); 50 000 exact
//! samples to learn from and 50 000 more to test on. For each learner (exact maximum likelihood,
//! maximum pseudo-likelihood, persistent contrastive divergence): the exact test log-likelihood
//! per row against the true model's, the largest and RMS parameter errors, and the time.
//!
//! Run: `cargo run --release --example inverse_ising [-- ROWS COLS]`

use pgmkit::data::Dataset;
use pgmkit::factor::loglinear::LogLinear;
use pgmkit::infer::ais::exact_samples;
use pgmkit::infer::exact::ExactOptions;
use pgmkit::learn::markov::{fit, objective, MarkovLearnOptions, MarkovMethod};
use pgmkit::model::{ising_grid, Boundary};
use pgmkit::rng::chain_rng;
use pgmkit::Evidence;
use rand_distr::{Distribution, Normal};

fn main() -> pgmkit::Result<()> {
    let mut args = std::env::args().skip(1);
    let rows: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let cols: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let n = rows * cols;
    let mut rng = chain_rng(7, 0);
    let nj = Normal::new(0.0, 0.5).expect("a valid sd");
    let nh = Normal::new(0.0, 0.3).expect("a valid sd");
    let j: Vec<f64> = (0..2 * n).map(|_| nj.sample(&mut rng)).collect();
    let h: Vec<f64> = (0..n).map(|_| nh.sample(&mut rng)).collect();
    let truth = ising_grid(
        rows,
        cols,
        Boundary::Free,
        move |a, b| j[2 * a + usize::from(b != a + 1)],
        move |i| h[i],
    )?;
    let draw = |seed| -> pgmkit::Result<Dataset> {
        let r = exact_samples(
            &truth,
            &Evidence::new(n),
            50_000,
            seed,
            &ExactOptions::default(),
        )?;
        Dataset::from_rows(truth.vars(), &r)
    };
    let (train, test) = (draw(11)?, draw(12)?);
    let ll = LogLinear::ising(&truth)?;
    let true_theta = ll.theta_of_ising(&truth)?;
    let score = MarkovLearnOptions {
        method: MarkovMethod::Exact,
        l2: 0.0,
        ..Default::default()
    };
    let (true_ll, _) = objective(&ll, &test, &true_theta, &score)?;
    println!(
        "{rows}x{cols} grid, {} parameters, 50 000 training and 50 000 test rows",
        ll.num_params()
    );
    println!("true model: test log-likelihood {true_ll:.5} nats per row\n");
    println!(
        "| learner | test LL - true (nats/row) | max abs dθ | RMS dθ | iterations | seconds |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for method in [
        MarkovMethod::Exact,
        MarkovMethod::PseudoLikelihood,
        MarkovMethod::Pcd,
    ] {
        let opts = MarkovLearnOptions {
            method,
            l2: 1e-6,
            ..Default::default()
        };
        let f = fit(&ll, &train, &vec![0.0; ll.num_params()], &opts)?;
        let (test_ll, _) = objective(&ll, &test, &f.theta, &score)?;
        let d: Vec<f64> = f
            .theta
            .iter()
            .zip(&true_theta)
            .map(|(a, b)| a - b)
            .collect();
        let max = d.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let rms = (d.iter().map(|x| x * x).sum::<f64>() / d.len() as f64).sqrt();
        println!(
            "| {} | {:+.5} | {max:.4} | {rms:.4} | {} | {:.2} |",
            method.name(),
            test_ll - true_ll,
            f.iterations,
            f.seconds
        );
    }
    Ok(())
}
