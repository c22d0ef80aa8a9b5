//! Latent class models: a hidden root `Z` with `K` states and every observed column a child of
//! `Z` alone (naive Bayes with an unobserved class; Lazarsfeld's latent class analysis), fitted
//! by EM with random restarts ([`em`](crate::learn::em())), and the posterior `p(z | x)` of every
//! row, missing cells marginalised. [`latent_class_auto`] picks `K` by BIC.
//!
//! The model is an ordinary [`BayesNet`] (the latent variable first), so everything else in
//! pgmkit (scoring, imputation, sampling, exact inference) applies to it.

use crate::data::{Dataset, MISSING};
use crate::error::{Error, Result};
use crate::learn::em::{em, EmOptions};
use crate::learn::rows::RowEngine;
use crate::model::{BayesNet, BayesNetBuilder};
use crate::Variable;

/// Options of [`latent_class`].
#[derive(Debug, Clone, PartialEq)]
pub struct LatentOptions {
    /// Number of latent classes `K` (at least 1).
    pub classes: usize,
    /// Name of the latent variable (default `"class"`; made unique against the data's columns
    /// by appending `_`).
    pub name: String,
    /// EM: stop rule, prior, restarts (default 10 extra random starts), seed, row options.
    pub em: EmOptions,
}

impl Default for LatentOptions {
    fn default() -> Self {
        LatentOptions {
            classes: 2,
            name: "class".into(),
            em: EmOptions {
                restarts: 10,
                ..EmOptions::default()
            },
        }
    }
}

/// A fitted latent class model.
#[derive(Debug, Clone)]
pub struct LatentFit {
    /// The network: the latent variable (index 0, states `c1` ... `cK`) and the observed
    /// columns, each with the latent variable as its only parent.
    pub model: BayesNet,
    /// `K`.
    pub classes: usize,
    /// `p(z | x)` of every row (row-major, `K` per row).
    pub posteriors: Vec<Vec<f64>>,
    /// Observed-data log-likelihood (natural log).
    pub log_lik: f64,
    /// `log_lik - ln(N)/2 * free parameters` (higher is better).
    pub bic: f64,
    /// Free parameters: `K - 1 + K * sum (r_j - 1)`.
    pub free_params: usize,
    /// The EM run's iterations.
    pub iterations: usize,
}

impl LatentFit {
    /// The most probable class of every row (ties to the first).
    pub fn assignments(&self) -> Vec<usize> {
        self.posteriors
            .iter()
            .map(|p| {
                p.iter()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |b, (k, &x)| if x > b.1 { (k, x) } else { b },
                    )
                    .0
            })
            .collect()
    }
}

/// Fit a latent class model with `opts.classes` classes to `data` (columns over `vars`; holes
/// allowed). Errors: no rows, `classes` of 0, a row of probability zero, those of [`em`].
///
/// ```
/// use pgmkit::learn::latent::{latent_class, LatentOptions};
/// use pgmkit::data::Dataset;
/// use pgmkit::Variable;
/// // two clusters: rows all-0 or all-1 (with a little noise)
/// let vars: Vec<Variable> = (0..4).map(|j| Variable::new(format!("x{j}"), ["0", "1"])).collect();
/// let rows: Vec<Vec<usize>> = (0..400)
///     .map(|i| (0..4).map(|j| ((i % 2) ^ usize::from((i * 7 + j * 3) % 23 == 0))).collect())
///     .collect();
/// let data = Dataset::from_rows(&vars, &rows).unwrap();
/// let fit = latent_class(&vars, &data, &LatentOptions { classes: 2, ..Default::default() }).unwrap();
/// let z = fit.assignments();
/// assert!(z.iter().enumerate().all(|(i, &k)| (k == z[0]) == (i % 2 == 0)));
/// ```
pub fn latent_class(vars: &[Variable], data: &Dataset, opts: &LatentOptions) -> Result<LatentFit> {
    crate::error::check_dim("variables (one per column)", data.num_vars(), vars.len())?;
    let k = opts.classes;
    if k == 0 {
        return Err(Error::InvalidArgument(
            "a latent class model needs at least one class".into(),
        ));
    }
    if k > crate::data::MAX_STATES - 1 {
        return Err(Error::InvalidArgument(format!(
            "{k} latent classes are more than a variable can have"
        )));
    }
    if data.num_rows() == 0 {
        return Err(Error::InvalidArgument(
            "no rows to fit a latent class model to".into(),
        ));
    }
    let mut name = opts.name.clone();
    while vars.iter().any(|v| v.name == name) {
        name.push('_');
    }
    let mut b = BayesNetBuilder::new();
    let z = b.add_variable(name, (1..=k).map(|c| format!("c{c}")))?;
    b.set_cpd(z, &[], vec![1.0 / k as f64; k])?;
    for v in vars {
        let id = b.add_variable(v.name.clone(), v.states.clone())?;
        let r = v.card();
        b.set_cpd(id, &[z], vec![1.0 / r as f64; r * k])?;
    }
    let shape = b.build()?;
    let mut cols = Vec::with_capacity(vars.len() + 1);
    cols.push(vec![MISSING; data.num_rows()]);
    cols.extend(data.columns().iter().cloned());
    let full = Dataset::from_columns(shape.vars(), cols)?;
    let r = em(&shape, &full, &opts.em, None)?;
    let posteriors = class_posteriors(&r.model, &full, &opts.em)?;
    let free = (k - 1) + k * vars.iter().map(|v| v.card() - 1).sum::<usize>();
    let n = data.num_rows() as f64;
    Ok(LatentFit {
        bic: r.log_lik - 0.5 * n.ln() * free as f64,
        model: r.model,
        classes: k,
        posteriors,
        log_lik: r.log_lik,
        free_params: free,
        iterations: r.convergence.iters,
    })
}

/// `p(z | x)` of every row of `full` (its first column the latent variable, all missing).
fn class_posteriors(bn: &BayesNet, full: &Dataset, opts: &EmOptions) -> Result<Vec<Vec<f64>>> {
    use rayon::prelude::*;
    let eng = RowEngine::new(bn, opts.row)?;
    let n = full.num_vars();
    (0..full.num_rows())
        .into_par_iter()
        .map(|r| {
            let mut row = vec![0u16; n];
            full.row_into(r, &mut row);
            let post = eng.posterior(&row)?;
            if !post.is_possible() {
                return Err(Error::ZeroProbabilityRows {
                    count: 1,
                    rows: vec![r + 1],
                    why: "the fitted model gives this row probability zero".into(),
                });
            }
            let cells = post.cell_marginals(&eng)?;
            cells
                .into_iter()
                .find(|(v, _)| *v == 0)
                .map(|(_, p)| p)
                .ok_or_else(|| Error::InvalidArgument("no posterior of the latent class".into()))
        })
        .collect()
}

/// Fit `K = 1, 2, ..., max_classes` classes and keep the best BIC; the search stops early once
/// two successive `K` both score below the best, or when `opts.em.stop.max_time` (the budget
/// of the whole search) is spent. Returns the winner and `(K, BIC)` of every fit.
pub fn latent_class_auto(
    vars: &[Variable],
    data: &Dataset,
    max_classes: usize,
    opts: &LatentOptions,
) -> Result<(LatentFit, Vec<(usize, f64)>)> {
    let mut best: Option<LatentFit> = None;
    let mut tried = Vec::new();
    let mut worse = 0;
    // `opts.em.stop.max_time` bounds the whole search: each fit gets what is left
    let t0 = std::time::Instant::now();
    for k in 1..=max_classes.max(1) {
        let mut o = LatentOptions {
            classes: k,
            ..opts.clone()
        };
        if let Some(total) = opts.em.stop.max_time {
            let spent = t0.elapsed();
            if spent >= total && best.is_some() {
                break;
            }
            o.em.stop.max_time = Some(
                total
                    .saturating_sub(spent)
                    .max(std::time::Duration::from_millis(1)),
            );
        }
        let fit = latent_class(vars, data, &o)?;
        tried.push((k, fit.bic));
        if best.as_ref().is_none_or(|b| fit.bic > b.bic) {
            best = Some(fit);
            worse = 0;
        } else {
            worse += 1;
            if worse == 2 {
                break;
            }
        }
    }
    Ok((best.expect("at least one fit"), tried))
}
