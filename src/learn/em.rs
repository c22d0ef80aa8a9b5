//! Expectation-maximisation for the CPTs of a Bayesian network of known structure, from data
//! with missing cells (missing at random) and fully latent variables.
//!
//! E-step: exact per-row inference on the network reduced by the row's observed cells
//! ([`RowEngine`]); identical rows (same codes, same holes) are solved once and weighted by their
//! multiplicity; complete rows are counted once up front. Rows are cut into a fixed number of
//! chunks (independent of the thread count) processed in parallel, and the partial counts are
//! added in chunk order, so results are identical for any `RAYON_NUM_THREADS`. M-step: counts
//! plus the prior's pseudo-counts, normalised ([`probs_from_counts`]).
//!
//! Each iteration evaluates the observed-data log-likelihood `L(theta_t)` of the current
//! parameters; with [`Prior::None`] EM guarantees `L(theta_{t+1}) >= L(theta_t)` (with a prior,
//! `L + ln prior` is what cannot decrease). The run stops by a [`StopRule`] on the relative change
//! `|L_t - L_{t-1}| / |L_{t-1}|`. The returned model is the last one evaluated, with its `L`.

use std::time::Instant;

use rand::Rng;
use rand_distr::{Distribution, Gamma};
use rayon::prelude::*;

use super::mle::{check_shape, probs_from_counts, with_probs, Prior};
use super::rows::{RowEngine, RowOptions, RowPlan};
use crate::data::{Dataset, MISSING};
use crate::error::{Error, Result};
use crate::model::BayesNet;
use crate::rng::chain_rng;
use crate::stop::{Convergence, StopReason, StopRule};

/// How EM starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmInit {
    /// From the data: each family's counts over the rows where the whole family is observed, plus
    /// one pseudo-count per cell; a family never fully observed (it holds a latent variable)
    /// starts from random CPT columns (seeded; different for every restart).
    #[default]
    AvailableCases,
    /// From the parameters of the network passed in (restarts still randomise latent families).
    Model,
}

/// Options of [`em`].
#[derive(Debug, Clone, PartialEq)]
pub struct EmOptions {
    /// Stop rule; `tol` is on the relative change of the observed-data log-likelihood.
    /// Default: 200 iterations, tolerance 1e-6.
    pub stop: StopRule,
    /// Prior of the M-step (default none: maximum likelihood).
    pub prior: Prior,
    /// Where to start.
    pub init: EmInit,
    /// Extra random restarts (only useful with latent variables): each restart re-draws the CPTs
    /// of the families that are never fully observed; the run with the best final objective wins.
    pub restarts: usize,
    /// Seed of the random starts.
    pub seed: u64,
    /// Per-row inference options.
    pub row: RowOptions,
    /// Rows whose components are too large for exact inference ([`Error::TooLarge`]) get a
    /// stochastic E-step: a single-site Gibbs chain of this many sweeps (after as many burn-in
    /// sweeps), seeded per row and iteration. 0 = fail instead (default 200).
    pub gibbs_sweeps: usize,
}

impl Default for EmOptions {
    fn default() -> Self {
        EmOptions {
            stop: StopRule::new(200, 1e-6),
            prior: Prior::None,
            init: EmInit::AvailableCases,
            restarts: 0,
            seed: 0,
            row: RowOptions::default(),
            gibbs_sweeps: 200,
        }
    }
}

/// What [`em`] returns.
#[derive(Debug, Clone)]
pub struct EmResult {
    /// The learned network (same structure as the input).
    pub model: BayesNet,
    /// Observed-data log-likelihood of `model` (natural log).
    pub log_lik: f64,
    /// Observed-data log-likelihood at every iteration of the winning run (first = the start).
    pub trace: Vec<f64>,
    /// How the winning run ended.
    pub convergence: Convergence,
    /// Which start won (0 = the first).
    pub best_start: usize,
    /// Final objective of every start.
    pub start_objectives: Vec<f64>,
    /// Distinct row patterns that needed the stochastic (Gibbs) E-step in the last iteration.
    /// When it is not 0, those rows are left out of `log_lik` and `trace` (their likelihood is not
    /// computed), so the trace is no longer guaranteed to be monotone.
    pub stochastic_rows: usize,
}

/// Number of row chunks of the E-step (fixed, so the reduction order never depends on threads).
const CHUNKS: usize = 64;

/// Rows grouped for the E-step: complete rows are summarised by counts; incomplete rows are
/// deduplicated (row-major codes + multiplicity).
struct Prepared {
    complete_counts: Vec<Vec<f64>>,
    patterns: Vec<Vec<u16>>,
    weights: Vec<f64>,
    first_row: Vec<usize>,
}

fn prepare(bn: &BayesNet, data: &Dataset) -> Prepared {
    let n = data.num_vars();
    let mut complete_counts: Vec<Vec<f64>> =
        bn.cpds().iter().map(|c| vec![0.0; c.probs.len()]).collect();
    let mut incomplete: Vec<(Vec<u16>, usize)> = Vec::new();
    let mut row = vec![0u16; n];
    for r in 0..data.num_rows() {
        data.row_into(r, &mut row);
        if row.contains(&MISSING) {
            incomplete.push((row.clone(), r));
        } else {
            for (i, c) in bn.cpds().iter().enumerate() {
                let mut idx = 0;
                for p in &c.parents {
                    idx = idx * data.cards()[p.index()] + row[p.index()] as usize;
                }
                idx = idx * data.cards()[c.child.index()] + row[c.child.index()] as usize;
                complete_counts[i][idx] += 1.0;
            }
        }
    }
    incomplete.sort();
    let mut patterns: Vec<Vec<u16>> = Vec::new();
    let mut weights = Vec::new();
    let mut first_row = Vec::new();
    for (p, r) in incomplete {
        if patterns.last() == Some(&p) {
            *weights.last_mut().expect("non-empty") += 1.0;
        } else {
            patterns.push(p);
            weights.push(1.0);
            first_row.push(r);
        }
    }
    Prepared {
        complete_counts,
        patterns,
        weights,
        first_row,
    }
}

/// One E-step: observed-data log-likelihood and expected counts under `bn`.
/// What an E-step (or a chunk of it) returns: log-likelihood, expected counts, Gibbs rows.
type EStep = (f64, Vec<Vec<f64>>, usize);

/// Stochastic E-step settings: (sweeps, seed of this iteration); sweeps = 0 disables it.
type GibbsStep = (usize, u64);

fn e_step(
    bn: &BayesNet,
    prep: &Prepared,
    plans: Option<&[RowPlan]>,
    opts: &RowOptions,
    gibbs: GibbsStep,
) -> Result<EStep> {
    let eng = RowEngine::new(bn, *opts)?;
    // complete rows: L = sum count * ln p
    let mut ll = 0.0;
    for (c, n) in bn.cpds().iter().zip(&prep.complete_counts) {
        for (&p, &k) in c.probs.iter().zip(n) {
            if k > 0.0 {
                ll += k * crate::num::ln(p);
            }
        }
    }
    let np = prep.patterns.len();
    let chunk = np.div_ceil(CHUNKS).max(1);
    let parts: Vec<Result<EStep>> = (0..np.div_ceil(chunk))
        .into_par_iter()
        .map(|ci| {
            let mut counts: Vec<Vec<f64>> =
                bn.cpds().iter().map(|c| vec![0.0; c.probs.len()]).collect();
            let mut ll = 0.0;
            let mut stochastic = 0;
            for i in ci * chunk..((ci + 1) * chunk).min(np) {
                let row = &prep.patterns[i];
                let post = match plans
                    .map_or_else(|| eng.posterior(row), |p| eng.posterior_with(&p[i], row))
                {
                    Err(Error::TooLarge { .. }) if gibbs.0 > 0 => {
                        let mut rng = chain_rng(gibbs.1, i as u64);
                        eng.gibbs_counts(
                            row,
                            gibbs.0,
                            gibbs.0,
                            &mut rng,
                            &mut counts,
                            prep.weights[i],
                        )?;
                        stochastic += 1;
                        continue;
                    }
                    r => r?,
                };
                if !post.is_possible() {
                    return Err(Error::ZeroProbabilityRows {
                        count: 1,
                        rows: vec![prep.first_row[i] + 1],
                        why: eng.explain_zero(
                            row,
                            &bn.vars().iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
                        ),
                    });
                }
                ll += prep.weights[i] * post.log_lik;
                post.add_counts(&eng, row, &mut counts, prep.weights[i])?;
            }
            Ok((ll, counts, stochastic))
        })
        .collect();
    let mut counts = prep.complete_counts.clone();
    let mut stochastic = 0;
    for part in parts {
        let (l, c, st) = part?;
        ll += l;
        stochastic += st;
        for (a, b) in counts.iter_mut().zip(c) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }
    Ok((ll, counts, stochastic))
}

/// The observed-data log-likelihood of `data` under `bn` (rows with holes by their marginal
/// likelihood), and the expected family counts. Errors with [`Error::ZeroProbabilityRows`] when a
/// row is impossible.
pub fn expected_counts(
    bn: &BayesNet,
    data: &Dataset,
    opts: &RowOptions,
) -> Result<(f64, Vec<Vec<f64>>)> {
    check_shape(bn, data)?;
    let (ll, counts, _) = e_step(bn, &prepare(bn, data), None, opts, (0, 0))?;
    Ok((ll, counts))
}

fn random_column<R: Rng + ?Sized>(k: usize, rng: &mut R) -> Vec<f64> {
    let g = Gamma::new(1.0, 1.0).expect("valid gamma");
    let mut v: Vec<f64> = (0..k)
        .map(|_| {
            let x: f64 = g.sample(rng);
            x.max(1e-3)
        })
        .collect();
    let s: f64 = v.iter().sum();
    v.iter_mut().for_each(|x| *x /= s);
    v
}

fn start_params(bn: &BayesNet, data: &Dataset, opts: &EmOptions, start: usize) -> Result<BayesNet> {
    let mut counts: Vec<Vec<f64>> = bn.cpds().iter().map(|c| vec![0.0; c.probs.len()]).collect();
    let mut seen = vec![false; bn.cpds().len()];
    for (i, c) in bn.cpds().iter().enumerate() {
        let mut fam: Vec<usize> = c.parents.iter().map(|p| p.index()).collect();
        fam.push(c.child.index());
        'rows: for r in 0..data.num_rows() {
            let mut idx = 0;
            for &v in &fam {
                let x = data.columns()[v][r];
                if x == MISSING {
                    continue 'rows;
                }
                idx = idx * data.cards()[v] + x as usize;
            }
            counts[i][idx] += 1.0;
            seen[i] = true;
        }
    }
    let mut probs = match opts.init {
        EmInit::AvailableCases => probs_from_counts(bn, &counts, &Prior::Dirichlet(1.0)),
        EmInit::Model => bn.cpds().iter().map(|c| c.probs.clone()).collect(),
    };
    let mut rng = chain_rng(opts.seed, start as u64);
    for (i, c) in bn.cpds().iter().enumerate() {
        let latent = !seen[i];
        if latent && (opts.init == EmInit::AvailableCases || start > 0) {
            let k = bn.var(c.child).card();
            probs[i] = (0..c.probs.len() / k)
                .flat_map(|_| random_column(k, &mut rng))
                .collect();
        }
    }
    with_probs(bn, probs)
}

/// Learn the CPTs of `bn`'s structure from `data` (which may have missing cells and all-missing
/// latent columns) by EM. `progress`, when given, is called with the number of iterations done.
///
/// ```
/// use pgmkit::data::Dataset;
/// use pgmkit::learn::{em, EmOptions};
/// use pgmkit::sample::ancestral::forward_sample;
/// use pgmkit::BayesNetBuilder;
/// let mut b = BayesNetBuilder::new();
/// let a = b.add_variable("a", ["0", "1"]).unwrap();
/// let c = b.add_variable("c", ["0", "1"]).unwrap();
/// b.set_cpd(a, &[], vec![0.3, 0.7]).unwrap();
/// b.set_cpd(c, &[a], vec![0.9, 0.1, 0.2, 0.8]).unwrap();
/// let bn = b.build().unwrap();
/// let full = Dataset::from_samples(&forward_sample(&bn, 2000, 1).unwrap());
/// let (masked, _) = full.mask_mcar(0.3, 7).unwrap();
/// let r = em(&bn, &masked, &EmOptions::default(), None).unwrap();
/// assert!(r.trace.windows(2).all(|w| w[1] >= w[0] - 1e-9 * w[0].abs()));
/// assert!((r.model.cpd(a).probs[1] - 0.7).abs() < 0.05);
/// ```
pub fn em(
    bn: &BayesNet,
    data: &Dataset,
    opts: &EmOptions,
    progress: Option<crate::sample::chains::Progress<'_>>,
) -> Result<EmResult> {
    check_shape(bn, data)?;
    opts.stop.validate()?;
    opts.prior.validate()?;
    if data.num_rows() == 0 {
        return Err(Error::InvalidArgument(
            "EM needs at least one data row".into(),
        ));
    }
    let t0 = Instant::now();
    let prep = prepare(bn, data);
    // the structure of every distinct row does not depend on the parameters: plan it once
    let eng0 = RowEngine::new(bn, opts.row)?;
    let plans: Vec<RowPlan> = prep
        .patterns
        .par_iter()
        .map(|p| eng0.plan(p))
        .collect::<Result<_>>()?;
    let mut best: Option<EmResult> = None;
    let mut objectives = Vec::new();
    let mut total_iters = 0u64;
    for start in 0..=opts.restarts {
        let mut model = start_params(bn, data, opts, start)?;
        let mut trace = Vec::new();
        let mut prev_obj = f64::NAN;
        let mut iters = 0;
        let mut stochastic_rows: usize;
        let convergence = loop {
            let gibbs_seed =
                crate::rng::splitmix64(opts.seed ^ ((start as u64) << 32) ^ iters as u64);
            let (ll, counts, st) = e_step(
                &model,
                &prep,
                Some(&plans),
                &opts.row,
                (opts.gibbs_sweeps, gibbs_seed),
            )?;
            stochastic_rows = st;
            let obj = ll + opts.prior.log_density(&model);
            trace.push(ll);
            let delta = if prev_obj.is_nan() {
                f64::INFINITY
            } else {
                (obj - prev_obj).abs() / prev_obj.abs().max(1e-300)
            };
            if iters > 0 {
                if let Some(reason) = opts.stop.check(iters, delta, t0) {
                    break Convergence {
                        iters,
                        delta,
                        reason,
                    };
                }
            } else if opts.stop.max_iters == 0 {
                break Convergence {
                    iters,
                    delta: 0.0,
                    reason: StopReason::MaxIters,
                };
            }
            prev_obj = obj;
            let next = with_probs(&model, probs_from_counts(&model, &counts, &opts.prior))?;
            model = next;
            iters += 1;
            total_iters += 1;
            if let Some(p) = progress {
                p(total_iters);
            }
        };
        let ll = *trace.last().expect("at least one E-step");
        let obj = ll + opts.prior.log_density(&model);
        objectives.push(obj);
        let better = best
            .as_ref()
            .is_none_or(|b| obj > b.log_lik + opts.prior.log_density(&b.model));
        if better {
            best = Some(EmResult {
                model,
                log_lik: ll,
                trace,
                convergence,
                best_start: start,
                start_objectives: Vec::new(),
                stochastic_rows,
            });
        }
        // the time budget is for the whole call: no further restart once it is spent
        if objectives.len() <= opts.restarts
            && opts.stop.max_time.is_some_and(|m| t0.elapsed() >= m)
        {
            break;
        }
    }
    let mut r = best.expect("at least one start");
    r.start_objectives = objectives;
    Ok(r)
}
