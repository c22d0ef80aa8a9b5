//! The learning section of the demo: recover a small Ising grid from its own samples (exact
//! maximum likelihood, pseudo-likelihood, PCD), and an RBM trained on the binarised digits
//! (embedded) with its test log-likelihood from the exact log Z and from AIS.

use std::io::Write;

use pgmkit::data::Dataset;
use pgmkit::factor::loglinear::LogLinear;
use pgmkit::infer::ais::exact_samples;
use pgmkit::infer::exact::ExactOptions;
use pgmkit::infer::rbm::{rbm_ais, RbmAisOptions};
use pgmkit::learn::markov::{fit, objective, MarkovLearnOptions, MarkovMethod};
use pgmkit::learn::rbm::{train_rbm, RbmTrainOptions};
use pgmkit::model::rbm::Rbm;
use pgmkit::model::{ising_grid, Boundary};
use pgmkit::Evidence;

use super::{heading, Timings, SEED};
use crate::cli::output;

const DIGITS_TRAIN: &str = include_str!("../../../tests/data/digits/digits_train.csv");
const DIGITS_TEST: &str = include_str!("../../../tests/data/digits/digits_test.csv");
/// Rows drawn from the grid to learn from, and to test on.
const GRID_ROWS: usize = 20_000;

fn digits(text: &str) -> anyhow::Result<(Vec<String>, Vec<Vec<f64>>)> {
    let t = pgmkit::data::binary::read_binary_csv(text.as_bytes(), None, &["label".into()])?;
    Ok((t.names, t.rows))
}

pub(super) fn section(out: &mut dyn Write, timings: &mut Timings) -> anyhow::Result<()> {
    heading(out, "Learning undirected models: an Ising grid and an RBM")?;
    // a 4x4 grid with couplings between -0.6 and 0.6 and small fields
    let truth = ising_grid(
        4,
        4,
        Boundary::Free,
        |a, b| 0.6 * (((a * 7 + b * 3) % 11) as f64 / 5.0 - 1.0),
        |i| 0.1 * ((i % 3) as f64 - 1.0),
    )?;
    let n = truth.num_vars();
    let draw = |seed| -> pgmkit::Result<Dataset> {
        let rows = exact_samples(
            &truth,
            &Evidence::new(n),
            GRID_ROWS,
            seed,
            &ExactOptions::default(),
        )?;
        Dataset::from_rows(truth.vars(), &rows)
    };
    let (train, test) = (draw(SEED)?, draw(SEED + 1)?);
    let ll = LogLinear::ising(&truth)?;
    let true_theta = ll.theta_of_ising(&truth)?;
    let score = MarkovLearnOptions {
        method: MarkovMethod::Exact,
        l2: 0.0,
        ..Default::default()
    };
    let (true_ll, _) = objective(&ll, &test, &true_theta, &score)?;
    writeln!(
        out,
        "4x4 Ising grid, {} parameters, learned from {GRID_ROWS} of its exact samples; test \
         log-likelihood of the true model {true_ll:.4} nats/row",
        ll.num_params()
    )?;
    for (method, label, timing) in [
        (
            MarkovMethod::Exact,
            "exact maximum likelihood",
            "learn grid: exact",
        ),
        (
            MarkovMethod::PseudoLikelihood,
            "maximum pseudo-likelihood",
            "learn grid: pl",
        ),
        (
            MarkovMethod::Pcd,
            "persistent contrastive divergence",
            "learn grid: pcd",
        ),
    ] {
        let opts = MarkovLearnOptions {
            method,
            l2: 1e-6,
            ..Default::default()
        };
        let f = timings.time(timing, || {
            fit(&ll, &train, &vec![0.0; ll.num_params()], &opts)
        })?;
        let (test_ll, _) = objective(&ll, &test, &f.theta, &score)?;
        let worst = f
            .theta
            .iter()
            .zip(&true_theta)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f64, f64::max);
        writeln!(
            out,
            "  {label:<34} test LL {:+.4} vs the truth, largest parameter error {worst:.3}, {}",
            test_ll - true_ll,
            output::duration(f.seconds)
        )?;
    }

    let (names, train) = digits(DIGITS_TRAIN)?;
    let (_, test) = digits(DIGITS_TEST)?;
    let opts = RbmTrainOptions {
        hidden: 20,
        epochs: 20,
        seed: SEED,
        ..Default::default()
    };
    let t = timings.time("train RBM", || train_rbm(names, &train, &opts))?;
    let mean_f = test.iter().map(|v| t.rbm.free_energy(v)).sum::<f64>() / test.len() as f64;
    let z = timings.time("RBM exact log Z", || t.rbm.log_z_exact())?;
    let base = Rbm::base_rate_bias(&train, t.rbm.num_visible());
    let ais = timings.time("RBM AIS", || {
        rbm_ais(
            &t.rbm,
            &base,
            &RbmAisOptions {
                seed: SEED,
                ..Default::default()
            },
        )
    })?;
    writeln!(
        out,
        "RBM on the binarised digits (64 visible, 20 hidden; {} training and {} test images), PCD \
         {} epochs in {}",
        train.len(),
        test.len(),
        t.epochs,
        output::duration(t.seconds)
    )?;
    writeln!(
        out,
        "  exact log Z {z:.4} (sum over 2^20 hidden states): test LL {:.3} nats/image",
        -mean_f - z
    )?;
    writeln!(
        out,
        "  AIS log Z   {:.4} ± {:.4} ({} steps from the base-rate model, 100 particles, {}): test \
         LL {:.3}",
        ais.log_z,
        ais.std_err,
        ais.steps,
        output::duration(ais.seconds),
        -mean_f - ais.log_z
    )?;
    Ok(())
}
