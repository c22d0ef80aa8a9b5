//! The data commands (`impute`, `score`, `eval-impute`) for Gaussian models: the subcommand
//! modules hand over here when MODEL is a Gaussian model file (see [`super::gaussian`]).
//!
//! Data are numeric CSV (header = variable names, any column order; other columns are passed
//! through unchanged, or refused with `--reject-extra-columns`; missing markers as for discrete
//! data). A linear-Gaussian network can learn its parameters by EM (`--learn em`); a Gaussian MRF
//! is used as given. Imputation is by conditional Gaussians: `--method mode` writes the
//! conditional mean of every missing cell (for a Gaussian this is also the joint MAP of the row's
//! missing block), `--method sample` one joint draw per row, `--multiple M` M completed datasets.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use nalgebra::DMatrix;
use pgmkit::data::csv::open_maybe_gz;
use pgmkit::data::numeric::{read_numeric_csv, write_numeric_completed, NumericTable};
use pgmkit::gaussian::data::{
    em_gaussian, evaluate_gaussian, impute_gaussian, log_likelihood_rows, mask_mcar,
    GaussianEmOptions, GaussianEmResult, GaussianEvalOptions,
};
use pgmkit::gaussian::{GaussianBn, GaussianModel};
use pgmkit::io::gaussian_json::gbn_to_json;
use pgmkit::io::outputs::Staged;
use pgmkit::score::Score;
use pgmkit::{DataErrorKind, Error};

use super::args::GlobalArgs;
use super::data_args::{CsvArgs, EmArgs, Learn};
use super::eval_impute::EvalImputeArgs;
use super::gaussian::{load, LoadedGaussian};
use super::impute::{resolve_method, summary, ImputeArgs, MethodArg};
use super::output::{self, OrderedMap};
use super::score::{json_f64, ScoreArgs};

/// Read numeric CSV for the model's variables (gzip when the name ends in `.gz`).
fn read_table(path: &Path, csv: &CsvArgs, names: &[String]) -> anyhow::Result<NumericTable> {
    if csv.latent.is_some() {
        anyhow::bail!(
            "--latent is for discrete networks; a Gaussian model needs a column for every variable"
        );
    }
    let markers: Vec<&str> = csv.missing.split(',').collect();
    let reader = open_maybe_gz(path)?;
    let table = read_numeric_csv(reader, names, &markers).map_err(|e| match e {
        Error::Data {
            kind: DataErrorKind::MissingColumn,
            column_name: Some(name),
            ..
        } => anyhow::anyhow!(
            "{}: the model's variable '{name}' has no column in the header (a Gaussian model \
             needs a column for every variable; its unknown cells can be empty or NA)",
            path.display()
        ),
        e => anyhow::anyhow!("{}: {e}", path.display()),
    })?;
    if csv.reject_extra_columns {
        if let Some((c, h)) = table
            .header
            .iter()
            .enumerate()
            .find(|(_, h)| !names.contains(h))
        {
            let e = Error::Data {
                row: Some(0),
                col: Some(c + 1),
                column_name: Some(h.clone()),
                kind: DataErrorKind::UnknownColumn,
            };
            anyhow::bail!("{}: {e}", path.display());
        }
    }
    Ok(table)
}

fn require_bn<'a>(g: &'a LoadedGaussian, what: &str) -> anyhow::Result<&'a GaussianBn> {
    match &g.file.model {
        GaussianModel::Bn(b) => Ok(b),
        GaussianModel::Mrf(_) => anyhow::bail!(
            "{what} learns the parameters of a linear-Gaussian Bayesian network; {} is a Gaussian \
             MRF (use it as given: drop --learn)",
            g.path.display()
        ),
    }
}

/// EM options from the shared EM flags (those that only apply to discrete networks are refused).
fn em_options(em: &EmArgs) -> anyhow::Result<GaussianEmOptions> {
    if em.prior_count.is_some() || em.bdeu.is_some() {
        anyhow::bail!("--prior-count and --bdeu are Dirichlet priors for discrete networks; Gaussian EM is maximum likelihood");
    }
    if em.restarts > 0 {
        anyhow::bail!("--restarts is for latent discrete variables; Gaussian EM has one optimum start (column moments)");
    }
    let time_limit = match em.time_limit {
        Some(t) => {
            let limit = pgmkit::limits::seconds("--time-limit", t)?;
            super::command_deadline(Some(limit)).remaining()
        }
        None => None,
    };
    if em.tol.is_nan() || em.tol < 0.0 {
        anyhow::bail!("--tol must be a non-negative number (got {})", em.tol);
    }
    Ok(GaussianEmOptions {
        max_iters: em.max_iters.max(1),
        tol: em.tol,
        time_limit,
    })
}

fn em_line(out: &mut dyn Write, r: &GaussianEmResult, seconds: f64) -> anyhow::Result<()> {
    writeln!(
        out,
        "EM: {} evaluations ({}), observed-data log-likelihood {:.6}, {}",
        r.trace.len(),
        if r.converged {
            "converged"
        } else {
            "not converged: iteration cap or time limit"
        },
        r.trace.last().copied().unwrap_or(f64::NAN),
        output::duration(seconds)
    )?;
    Ok(())
}

/// `pgmkit impute` on a Gaussian model.
pub fn impute(global: &GlobalArgs, a: &ImputeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (multiple, method) = resolve_method(a)?;
    let sample = method == MethodArg::Sample;
    let paths = super::impute::check_outputs(a, multiple)?;
    if let Some(p) = &a.save_model {
        if p.extension().is_some_and(|e| e != "json") {
            anyhow::bail!(
                "--save-model {}: a Gaussian network is saved as JSON (use a .json name)",
                p.display()
            );
        }
    }
    let g = load(a.model.as_deref().expect("a Gaussian model file"))?;
    let names = g.file.names.clone();
    let t = Instant::now();
    let table = read_table(&a.data, &a.csv, &names)?;
    let read_s = t.elapsed().as_secs_f64();
    let mut learned: Option<(GaussianBn, GaussianEmResult, f64)> = None;
    if a.learn == Some(Learn::Em) {
        let bn = require_bn(&g, "--learn em")?;
        let t = Instant::now();
        let r = em_gaussian(bn, &table.data, &em_options(&a.em)?)?;
        learned = Some((r.model.clone(), r, t.elapsed().as_secs_f64()));
    }
    let learned_model = learned.as_ref().map(|l| GaussianModel::Bn(l.0.clone()));
    let model = learned_model.as_ref().unwrap_or(&g.file.model);
    let mut staged = Staged::new();
    if let Some(p) = &a.save_model {
        match model {
            GaussianModel::Bn(b) => {
                let text = gbn_to_json(b);
                staged.write(p, |w| {
                    w.write_all(text.as_bytes()).map_err(|e| Error::io(p, e))
                })?;
            }
            GaussianModel::Mrf(_) => {
                anyhow::bail!("--save-model saves a learned network; a Gaussian MRF is not learned")
            }
        }
    }
    let t = Instant::now();
    let draws = if sample { multiple } else { 0 };
    let imp = impute_gaussian(model, &table.data, draws, a.seed)?;
    let impute_s = t.elapsed().as_secs_f64();
    let completed: Vec<&DMatrix<f64>> = if sample {
        imp.draws.iter().collect()
    } else {
        vec![&imp.mean]
    };
    for (d, p) in completed.iter().zip(&paths) {
        staged.write(p, |w| write_numeric_completed(&table, d, w))?;
    }
    let missing: usize = table.data.iter().filter(|v| v.is_nan()).count();
    if let Some(p) = &a.posteriors {
        staged.write(p, |w| {
            let mut wtr = csv::Writer::from_writer(w);
            let e = |e: csv::Error| Error::InvalidArgument(format!("writing {}: {e}", p.display()));
            wtr.write_record(["row", "variable", "mean", "sd"])
                .map_err(e)?;
            for r in 0..table.data.nrows() {
                for (v, name) in names.iter().enumerate() {
                    if table.data[(r, v)].is_nan() {
                        let cells = [
                            (r + 1).to_string(),
                            name.clone(),
                            imp.mean[(r, v)].to_string(),
                            imp.sd[(r, v)].to_string(),
                        ];
                        wtr.write_record(&cells).map_err(e)?;
                    }
                }
            }
            wtr.flush().map_err(|x| Error::io(p, x))?;
            Ok(())
        })?;
    }
    staged.commit()?;
    if global.quiet {
        return Ok(());
    }
    writeln!(
        out,
        "data: {} rows x {} variables, {missing} missing cells ({})",
        table.data.nrows(),
        names.len(),
        a.data.display()
    )?;
    if let Some((_, r, s)) = &learned {
        em_line(out, r, *s)?;
    }
    summary(
        out,
        missing,
        if sample {
            "joint conditional-Gaussian draws"
        } else {
            "conditional means (= the joint MAP of each row's missing block)"
        },
        &paths,
        read_s,
        impute_s,
    )
}

/// `pgmkit score` on a Gaussian model: log densities (nats), so bits per row are differential
/// bits and there is no perplexity.
pub fn score(global: &GlobalArgs, a: &ScoreArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let g = load(&a.model)?;
    let names = &g.file.names;
    let t = Instant::now();
    let table = read_table(&a.data, &a.csv, names)?;
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let per_row = log_likelihood_rows(&g.file.model, &table.data)?;
    // sum in row order: the same total whatever the number of threads
    let total: f64 = per_row.iter().sum();
    let score_s = t.elapsed().as_secs_f64();
    let rows = per_row.len();
    let mean = if rows == 0 { 0.0 } else { total / rows as f64 };
    let s = Score {
        rows,
        vars: names.len(),
        missing_cells: table.data.iter().filter(|v| v.is_nan()).count(),
        total_log_lik: total,
        mean_log_lik: mean,
        bits_per_row: -mean / std::f64::consts::LN_2,
        perplexity_per_var: f64::NAN,
        per_row,
        impossible_rows: Vec::new(),
    };
    super::score::report(
        global,
        a,
        out,
        &g.path,
        &s,
        read_s,
        score_s,
        true,
        Vec::new(),
    )
}

/// `pgmkit eval-impute` on a Gaussian model.
pub fn eval_impute(
    global: &GlobalArgs,
    a: &EvalImputeArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let g = load(&a.model)?;
    let names = &g.file.names;
    let truth = read_table(&a.data, &a.csv, names)?.data;
    let (masked, hidden) = mask_mcar(&truth, a.mask_rate, a.seed)?;
    let t = Instant::now();
    let learned = match a.learn {
        Some(Learn::Em) => {
            let bn = require_bn(&g, "--learn em")?;
            Some(em_gaussian(bn, &masked, &em_options(&a.em)?)?)
        }
        None => None,
    };
    let learn_s = t.elapsed().as_secs_f64();
    let nominal = a.coverage.unwrap_or(0.95);
    let opts = GaussianEvalOptions {
        draws: a.multiple,
        seed: a.seed,
        nominal,
    };
    let t = Instant::now();
    let rep = match &learned {
        Some(r) => evaluate_gaussian(&r.model, Some(&g.file.model), &truth, &masked, &opts)?,
        None => evaluate_gaussian(
            &g.file.model,
            None::<&GaussianModel>,
            &truth,
            &masked,
            &opts,
        )?,
    };
    let eval_s = t.elapsed().as_secs_f64();
    let opt = |x: Option<f64>| x.map_or(serde_json::Value::Null, json_f64);
    if a.json {
        let mut m: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        let mut push = |k: &str, v: serde_json::Value| m.0.push((k.to_string(), v));
        push("kind", "continuous".into());
        push("rows", truth.nrows().into());
        push("mask_rate", a.mask_rate.into());
        push("masked_cells", hidden.len().into());
        push(
            "learn",
            if learned.is_some() { "em" } else { "none" }.into(),
        );
        if let Some(r) = &learned {
            push("em_iterations", r.trace.len().into());
            push(
                "em_log_likelihood",
                json_f64(r.trace.last().copied().unwrap_or(f64::NAN)),
            );
            push("em_converged", r.converged.into());
        }
        push("rmse", json_f64(rep.rmse));
        push("log_score", json_f64(rep.log_score));
        push("baseline_rmse", json_f64(rep.baseline_rmse));
        push("oracle_rmse", opt(rep.oracle_rmse));
        push("oracle_log_score", opt(rep.oracle_log_score));
        push("nominal_coverage", rep.nominal_coverage.into());
        push("interval_coverage", json_f64(rep.interval_coverage));
        push("draws", rep.draws.into());
        push("draws_coverage", opt(rep.draws_coverage));
        push("learn_seconds", learn_s.into());
        push("eval_seconds", eval_s.into());
        return output::write_json(out, &m);
    }
    writeln!(
        out,
        "masked {} of {} cells ({} rows, rate {}, seed {})",
        hidden.len(),
        truth.nrows() * truth.ncols(),
        truth.nrows(),
        a.mask_rate,
        a.seed
    )?;
    if let Some(r) = &learned {
        em_line(out, r, learn_s)?;
    }
    writeln!(out, "RMSE (conditional mean):         {:.6}", rep.rmse)?;
    writeln!(out, "log-score (mean ln density):     {:.6}", rep.log_score)?;
    writeln!(
        out,
        "column-mean baseline RMSE:       {:.6}",
        rep.baseline_rmse
    )?;
    if let (Some(or), Some(ol)) = (rep.oracle_rmse, rep.oracle_log_score) {
        writeln!(
            out,
            "oracle (given model) RMSE:       {or:.6} (ratio {:.4}), log-score {ol:.6}",
            rep.rmse / or
        )?;
    }
    let pct = |x: f64| format!("{:.2}%", 100.0 * x);
    writeln!(
        out,
        "coverage of {} intervals: {} (exact conditional normal){}",
        pct(rep.nominal_coverage),
        pct(rep.interval_coverage),
        match rep.draws_coverage {
            Some(c) => format!(
                ", {} (from {} draws: mean ± t sd sqrt(1+1/M))",
                pct(c),
                rep.draws
            ),
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
