//! `pgmkit eval-impute MODEL --data COMPLETE.csv --mask-rate R`: hide cells completely at random
//! (seeded), impute them, and report accuracy and log-score on the hidden cells, against the
//! column-mode baseline and (with --learn em) the oracle: the posterior mode under the given
//! model. With `--multiple M`, the coverage of the posterior sets estimated from M joint draws.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use pgmkit::impute::{evaluate, EvalOptions};
use pgmkit::learn::em;

use super::args::{self, GlobalArgs};
use super::data_args::{CsvArgs, EmArgs, Learn};
use super::output::{self, OrderedMap};
use super::score::json_f64;

/// Arguments of `pgmkit eval-impute`.
#[derive(Debug, Args)]
pub struct EvalImputeArgs {
    /// Model file (.bif or UAI BAYES; or a Gaussian model .json: Gaussian BN or GMRF)
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// Complete data (cells already missing are not evaluated)
    #[arg(long, short, value_name = "COMPLETE.csv")]
    pub data: PathBuf,
    /// Probability of hiding each observed cell
    #[arg(long, value_name = "R", default_value_t = 0.2)]
    pub mask_rate: f64,
    /// Learn the parameters from the masked data first (the given model is then the oracle)
    #[arg(long, value_enum)]
    pub learn: Option<Learn>,
    /// Joint draws per row for the draw-based coverage
    #[arg(long, value_name = "M", default_value_t = 0)]
    pub multiple: usize,
    /// Nominal coverage of the posterior sets (discrete) or intervals (Gaussian) [default: 0.9
    /// for discrete networks, 0.95 for Gaussian models]
    #[arg(long, value_name = "P")]
    pub coverage: Option<f64>,
    /// Seed of the mask, the draws and EM restarts
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub csv: CsvArgs,
    #[command(flatten)]
    pub em: EmArgs,
}

pub fn run(global: &GlobalArgs, a: &EvalImputeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if super::gaussian::is_gaussian(&a.model) {
        return super::gaussian_data::eval_impute(global, a, out);
    }
    let loaded = args::load(&a.model, global)?;
    let bn = args::require_bayes(&loaded, "eval-impute", "a .bif model")?;
    let truth = a.csv.read(&a.data, bn, false)?.data;
    let (masked, hidden) = truth.mask_mcar(a.mask_rate, a.seed)?;
    let t = Instant::now();
    let mut em_info = None;
    let learned = match a.learn {
        Some(Learn::Em) => {
            let r = em(bn, &masked, &a.em.options(a.seed)?, None)?;
            em_info = Some((r.convergence.iters, r.log_lik, r.convergence.converged()));
            Some(r.model)
        }
        None => None,
    };
    let learn_s = t.elapsed().as_secs_f64();
    let model = learned.as_ref().unwrap_or(bn);
    let oracle = learned.as_ref().map(|_| bn);
    let t = Instant::now();
    let rep = evaluate(
        model,
        oracle,
        &truth,
        &masked,
        &EvalOptions {
            draws: a.multiple,
            seed: a.seed,
            nominal: a.coverage.unwrap_or(0.9),
            row: a.em.row_options(),
        },
    )?;
    let eval_s = t.elapsed().as_secs_f64();
    if a.json {
        let mut m: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        let mut push = |k: &str, v: serde_json::Value| m.0.push((k.to_string(), v));
        push("rows", truth.num_rows().into());
        push("mask_rate", a.mask_rate.into());
        push("masked_cells", hidden.len().into());
        push(
            "learn",
            if em_info.is_some() { "em" } else { "none" }.into(),
        );
        if let Some((it, ll, conv)) = em_info {
            push("em_iterations", it.into());
            push("em_log_likelihood", json_f64(ll));
            push("em_converged", conv.into());
        }
        push("accuracy", rep.accuracy.into());
        push("log_score", json_f64(rep.log_score));
        push("baseline_accuracy", rep.baseline_accuracy.into());
        push("oracle_accuracy", rep.oracle_accuracy.into());
        push(
            "oracle_log_score",
            rep.oracle_log_score.map(json_f64).into(),
        );
        push("nominal_coverage", rep.nominal_coverage.into());
        push("exact_set_coverage", rep.exact_set_coverage.into());
        push("exact_set_mass", rep.exact_set_mass.into());
        push("draws", rep.draws.into());
        push("draws_set_coverage", rep.draws_set_coverage.into());
        push("draw_accuracy", rep.draw_accuracy.into());
        push("learn_seconds", learn_s.into());
        push("eval_seconds", eval_s.into());
        return output::write_json(out, &m);
    }
    writeln!(
        out,
        "masked {} of {} cells ({} rows, rate {}, seed {})",
        hidden.len(),
        truth.num_rows() * truth.num_vars(),
        truth.num_rows(),
        a.mask_rate,
        a.seed
    )?;
    if let Some((it, ll, conv)) = em_info {
        writeln!(
            out,
            "EM: {it} iterations{}, observed-data log-likelihood {ll:.6}",
            if conv {
                " (converged)"
            } else {
                " (not converged)"
            }
        )?;
    }
    let pct = |x: f64| format!("{:.2}%", 100.0 * x);
    writeln!(
        out,
        "accuracy (per-cell posterior mode): {}",
        pct(rep.accuracy)
    )?;
    writeln!(
        out,
        "log-score (mean ln p(true state)):   {:.6}",
        rep.log_score
    )?;
    writeln!(
        out,
        "column-mode baseline accuracy:       {}",
        pct(rep.baseline_accuracy)
    )?;
    if let (Some(oa), Some(ol)) = (rep.oracle_accuracy, rep.oracle_log_score) {
        writeln!(
            out,
            "oracle (given model) accuracy:       {}, log-score {ol:.6}",
            pct(oa)
        )?;
    }
    writeln!(
        out,
        "coverage of the smallest sets holding >= {} of the posterior (mean mass {}): {} (exact posteriors){}",
        pct(rep.nominal_coverage),
        pct(rep.exact_set_mass),
        pct(rep.exact_set_coverage),
        match rep.draws_set_coverage {
            Some(c) => format!(", {} (from {} draws)", pct(c), rep.draws),
            None => String::new(),
        }
    )?;
    if !global.quiet {
        writeln!(
            out,
            "time: learn {}, evaluate {}",
            output::duration(learn_s),
            output::duration(eval_s)
        )?;
    }
    Ok(())
}
