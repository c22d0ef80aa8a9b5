//! Learn ALARM's parameters by EM from 10,000 rows with 20% of the cells missing, then impute
//! the holes (per-cell posterior mode and multiple imputation by exact joint draws), and compare
//! with the true network.
//!
//! ```sh
//! cargo run --release --example impute_alarm
//! ```

use std::path::Path;
use std::time::Instant;

use pgmkit::data::csv::{read_csv_path, CsvOptions};
use pgmkit::impute::{evaluate, impute, EvalOptions, ImputeMethod, ImputeOptions};
use pgmkit::io::{bif::parse_bif, read_text, LoadOptions};
use pgmkit::learn::{em, EmOptions};
use pgmkit::score::{kl_divergence, KlMethod};

fn main() -> pgmkit::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let truth = parse_bif(
        &read_text(&root.join("tests/data/bif/alarm.bif"))?,
        &LoadOptions::default(),
    )?;
    let full = read_csv_path(
        &root.join("tests/data/samples/alarm_10k.csv.gz"),
        truth.vars(),
        &CsvOptions::default(),
    )?
    .data;
    let (masked, hidden) = full.mask_mcar(0.2, 1)?;
    println!(
        "ALARM: {} rows x {} variables, {} cells hidden at random (20%)",
        full.num_rows(),
        full.num_vars(),
        hidden.len()
    );

    let t = Instant::now();
    let fit = em(&truth, &masked, &EmOptions::default(), None)?;
    println!(
        "EM: {} iterations, observed-data log-likelihood {:.3} -> {:.3} ({:.2} s)",
        fit.convergence.iters,
        fit.trace[0],
        fit.log_lik,
        t.elapsed().as_secs_f64()
    );
    let kl = kl_divergence(&truth, &fit.model, KlMethod::Exact, 1 << 24)?;
    println!("KL(true || learned) = {:.4} nats", kl.kl);

    let t = Instant::now();
    let single = impute(&fit.model, &masked, &ImputeOptions::default(), None)?;
    let multi = impute(
        &fit.model,
        &masked,
        &ImputeOptions {
            method: ImputeMethod::Sample,
            imputations: 5,
            seed: 7,
            ..ImputeOptions::default()
        },
        None,
    )?;
    println!(
        "imputed {} cells (mode) and 5 joint draws per row ({:.2} s)",
        single.cells,
        t.elapsed().as_secs_f64()
    );

    let rep = evaluate(
        &fit.model,
        Some(&truth),
        &full,
        &masked,
        &EvalOptions {
            draws: 20,
            seed: 7,
            ..EvalOptions::default()
        },
    )?;
    println!(
        "accuracy on hidden cells: {:.2}% (oracle, true network: {:.2}%; column mode: {:.2}%)",
        100.0 * rep.accuracy,
        100.0 * rep.oracle_accuracy.unwrap_or(f64::NAN),
        100.0 * rep.baseline_accuracy
    );
    println!(
        "log-score {:.4} (oracle {:.4}); 90% posterior sets cover {:.1}% (exact) / {:.1}% (20 draws)",
        rep.log_score,
        rep.oracle_log_score.unwrap_or(f64::NAN),
        100.0 * rep.exact_set_coverage,
        100.0 * rep.draws_set_coverage.unwrap_or(f64::NAN)
    );
    let _ = multi;
    Ok(())
}
