//! An RBM on the binarised digits: train by PCD, then the exact log Z (sum over the hidden
//! layer) and the AIS estimate from the base-rate model side by side, and the test
//! log-likelihood both give.
//!
//! Run: `cargo run --release --example rbm_digits [-- HIDDEN EPOCHS]` (defaults 20 and 20;
//! the exact sum is refused above 30 hidden units, where AIS stands alone).

use pgmkit::infer::rbm::{rbm_ais, RbmAisOptions};
use pgmkit::learn::rbm::{train_rbm, RbmTrainOptions};
use pgmkit::model::rbm::Rbm;

fn digits(file: &str) -> pgmkit::Result<(Vec<String>, Vec<Vec<f64>>)> {
    let path = format!("{}/tests/data/digits/{file}", env!("CARGO_MANIFEST_DIR"));
    let f = std::fs::File::open(&path)
        .map_err(|e| pgmkit::Error::io(std::path::Path::new(&path), e))?;
    let t = pgmkit::data::binary::read_binary_csv(f, None, &["label".into()])?;
    Ok((t.names, t.rows))
}

fn main() -> pgmkit::Result<()> {
    let mut args = std::env::args().skip(1);
    let hidden: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let epochs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let (names, train) = digits("digits_train.csv")?;
    let (_, test) = digits("digits_test.csv")?;
    let opts = RbmTrainOptions {
        hidden,
        epochs,
        seed: 1,
        ..Default::default()
    };
    let t = train_rbm(names, &train, &opts)?;
    println!(
        "trained {} visible x {hidden} hidden by PCD, {epochs} epochs, in {:.3} s",
        t.rbm.num_visible(),
        t.seconds
    );
    let mean_f = test.iter().map(|v| t.rbm.free_energy(v)).sum::<f64>() / test.len() as f64;
    let base = Rbm::base_rate_bias(&train, t.rbm.num_visible());
    let ais = rbm_ais(
        &t.rbm,
        &base,
        &RbmAisOptions {
            seed: 2,
            ..Default::default()
        },
    )?;
    println!("| log Z | value | std err | seconds | test LL (nats/image) |");
    println!("|---|---:|---:|---:|---:|");
    match t.rbm.log_z_exact() {
        Ok(z) => {
            let s = std::time::Instant::now();
            let z2 = t.rbm.log_z_exact()?;
            debug_assert_eq!(z, z2);
            println!(
                "| exact sum | {z:.4} | 0 | {:.3} | {:.3} |",
                s.elapsed().as_secs_f64(),
                -mean_f - z
            );
        }
        Err(e) => println!("| exact sum | refused: {e} | | | |"),
    }
    println!(
        "| AIS ({} steps, 100 particles, base rates) | {:.4} | {:.4} | {:.3} | {:.3} |",
        ais.steps,
        ais.log_z,
        ais.std_err,
        ais.seconds,
        -mean_f - ais.log_z
    );
    Ok(())
}
