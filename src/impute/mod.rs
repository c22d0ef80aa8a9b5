//! Imputation of missing cells from a Bayesian network, and the mask-and-impute evaluation.
//!
//! Every row is solved exactly ([`crate::learn::rows`]): its missing cells get the posterior
//! `p(missing | observed)` under the model. [`ImputeMethod::Mode`] fills each cell with its own
//! posterior mode (the per-cell mode, which maximises expected per-cell accuracy; it is *not* a
//! joint MAP and may combine into an unlikely joint configuration); [`ImputeMethod::Sample`]
//! fills a row with one exact joint draw from `p(missing | observed)`, so the imputed values keep
//! the dependencies between variables and never form a zero-probability configuration. Multiple
//! imputation draws `M` independent joint draws per row.
//!
//! Rows are processed in parallel in blocks of [`BLOCK_ROWS`]; block `b` draws from
//! `chain_rng(seed, b)`, so the output is identical for any number of threads. Observed cells are
//! never changed. Rows whose observed part has probability zero are an error
//! ([`Error::ZeroProbabilityRows`], naming the rows and why) unless
//! [`ImpossibleRows::LeaveMissing`] is chosen, which leaves them unfilled and lists them.

pub mod shard;

use rayon::prelude::*;

use crate::data::{Dataset, MISSING};
use crate::error::{Error, Result};
use crate::learn::mle::check_shape;
use crate::learn::rows::{RowEngine, RowOptions};
use crate::model::BayesNet;
use crate::rng::chain_rng;
use crate::var::VarId;

/// Rows per random stream (and per parallel task).
pub const BLOCK_ROWS: usize = 64;

/// How a missing cell is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImputeMethod {
    /// The per-cell posterior mode (ties: the first state).
    #[default]
    Mode,
    /// One exact joint draw from `p(missing | observed)` per row and imputation.
    Sample,
    /// The joint MAP completion of each row: the most probable combination of its missing cells
    /// given its observed ones (never an impossible combination, unlike per-cell modes).
    Map,
}

/// What to do with a row whose observed cells have probability zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImpossibleRows {
    /// Fail with [`Error::ZeroProbabilityRows`] (default).
    #[default]
    Error,
    /// Leave the row's missing cells missing and list the row in [`Imputed::impossible_rows`].
    LeaveMissing,
}

/// Options of [`impute`].
#[derive(Debug, Clone, PartialEq)]
pub struct ImputeOptions {
    /// Mode or sample.
    pub method: ImputeMethod,
    /// Number of completed datasets (multiple imputation; needs [`ImputeMethod::Sample`] when > 1).
    pub imputations: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// Impossible rows.
    pub impossible: ImpossibleRows,
    /// Keep the posterior of every imputed cell.
    pub posteriors: bool,
    /// Per-row inference options.
    pub row: RowOptions,
    /// Impute only these rows (a shard of the table, see [`shard`]); the other rows are left
    /// as they are. The draws are those of the whole run (block `b` of [`BLOCK_ROWS`] rows
    /// draws from `chain_rng(seed, b)`; the rows of a range's first block before its start are
    /// drawn and discarded), so the shards' fills side by side are the whole run's. Default
    /// `None`: every row.
    pub rows: Option<std::ops::Range<usize>>,
}

impl Default for ImputeOptions {
    fn default() -> Self {
        ImputeOptions {
            method: ImputeMethod::Mode,
            imputations: 1,
            seed: 0,
            impossible: ImpossibleRows::Error,
            posteriors: false,
            row: RowOptions::default(),
            rows: None,
        }
    }
}

/// The posterior of one imputed cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CellPosterior {
    /// 0-based row.
    pub row: usize,
    /// The variable.
    pub var: VarId,
    /// Posterior probability of every state.
    pub probs: Vec<f64>,
}

/// What [`impute`] returns.
#[derive(Debug, Clone)]
pub struct Imputed {
    /// The completed datasets (one per imputation); observed cells as in the input.
    pub completed: Vec<Dataset>,
    /// Posteriors of the imputed cells (row-major order), when asked for.
    pub posteriors: Vec<CellPosterior>,
    /// Rows left missing because their observed part is impossible: (0-based row, why).
    pub impossible_rows: Vec<(usize, String)>,
    /// Cells imputed per dataset.
    pub cells: usize,
}

struct BlockOut {
    /// (row, var, value per imputation)
    fills: Vec<(usize, u32, Vec<u16>)>,
    posts: Vec<CellPosterior>,
    impossible: Vec<(usize, String)>,
}

/// Fill the missing cells of `data` from `bn` (see the module docs). `progress` is called with
/// the number of rows done.
///
/// ```
/// use pgmkit::data::{Dataset, MISSING};
/// use pgmkit::impute::{impute, ImputeOptions};
/// use pgmkit::BayesNetBuilder;
/// let mut b = BayesNetBuilder::new();
/// let a = b.add_variable("a", ["0", "1"]).unwrap();
/// let c = b.add_variable("c", ["0", "1"]).unwrap();
/// b.set_cpd(a, &[], vec![0.3, 0.7]).unwrap();
/// b.set_cpd(c, &[a], vec![0.9, 0.1, 0.2, 0.8]).unwrap();
/// let bn = b.build().unwrap();
/// let d = Dataset::from_columns(bn.vars(), vec![vec![MISSING, MISSING], vec![0, 1]]).unwrap();
/// let out = impute(&bn, &d, &ImputeOptions::default(), None).unwrap();
/// // p(a=1 | c=0) = 0.14 / 0.41 < 0.5, p(a=1 | c=1) = 0.56 / 0.59 > 0.5
/// assert_eq!(out.completed[0].column(a), &[0, 1]);
/// ```
pub fn impute(
    bn: &BayesNet,
    data: &Dataset,
    opts: &ImputeOptions,
    progress: Option<crate::sample::chains::Progress<'_>>,
) -> Result<Imputed> {
    check_shape(bn, data)?;
    if opts.imputations == 0 {
        return Err(Error::InvalidArgument(
            "the number of imputations must be at least 1".into(),
        ));
    }
    if opts.imputations > 1 && opts.method != ImputeMethod::Sample {
        return Err(Error::InvalidArgument(
            "multiple imputation needs the sample method (the mode is the same every time)".into(),
        ));
    }
    let n = data.num_vars();
    let m = opts.imputations;
    let rows = data.num_rows();
    // m completed copies of the data, plus a draw per missing cell and copy
    crate::limits::check_bytes(
        &format!("{m} completed copies of {rows} rows x {n} variables"),
        m as f64 * (rows as f64 * n as f64 * 2.0 + 64.0)
            + m as f64 * data.num_missing() as f64 * 2.0,
        crate::limits::default_memory_limit(),
    )?;
    let range = opts.rows.clone().unwrap_or(0..rows);
    if opts.rows.is_some() && (range.start >= range.end || range.end > rows) {
        return Err(Error::InvalidArgument(format!(
            "the row range {}..{} must be a non-empty part of the data's rows 0..{rows}",
            range.start, range.end
        )));
    }
    let eng = RowEngine::new(bn, opts.row)?;
    let names: Vec<String> = bn.vars().iter().map(|v| v.name.clone()).collect();
    let blocks: Vec<Result<BlockOut>> = (range.start / BLOCK_ROWS..range.end.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| {
            let mut rng = chain_rng(opts.seed, b as u64);
            let mut out = BlockOut {
                fills: Vec::new(),
                posts: Vec::new(),
                impossible: Vec::new(),
            };
            let mut row = vec![0u16; n];
            let mut draw = vec![0u16; n];
            let end = ((b + 1) * BLOCK_ROWS).min(rows);
            for r in b * BLOCK_ROWS..end {
                data.row_into(r, &mut row);
                if !row.contains(&MISSING) {
                    continue;
                }
                // a row before the range (in its first block) is drawn only to keep the
                // block's stream where the whole run has it
                let keep = range.contains(&r);
                if !keep && opts.method != ImputeMethod::Sample {
                    continue;
                }
                let post = eng.posterior(&row)?;
                if !post.is_possible() {
                    if keep {
                        out.impossible.push((r, eng.explain_zero(&row, &names)));
                    }
                    continue;
                }
                let missing: Vec<u32> = (0..n as u32)
                    .filter(|&v| row[v as usize] == MISSING)
                    .collect();
                let mut vals: Vec<Vec<u16>> = vec![Vec::with_capacity(m); missing.len()];
                let need_marg = opts.posteriors || opts.method == ImputeMethod::Mode;
                let marg = if need_marg {
                    post.cell_marginals(&eng)?
                } else {
                    Vec::new()
                };
                match opts.method {
                    ImputeMethod::Mode => {
                        for (vs, (_, p)) in vals.iter_mut().zip(&marg) {
                            let mut best = 0;
                            for (i, &x) in p.iter().enumerate() {
                                if x > p[best] {
                                    best = i;
                                }
                            }
                            vs.push(best as u16);
                        }
                    }
                    ImputeMethod::Map => {
                        draw.copy_from_slice(&row);
                        post.joint_mode(&eng, &mut draw)?;
                        for (vs, &v) in vals.iter_mut().zip(&missing) {
                            vs.push(draw[v as usize]);
                        }
                    }
                    ImputeMethod::Sample => {
                        for _ in 0..m {
                            draw.copy_from_slice(&row);
                            post.draw(&eng, &mut rng, &mut draw)?;
                            for (vs, &v) in vals.iter_mut().zip(&missing) {
                                vs.push(draw[v as usize]);
                            }
                        }
                    }
                }
                if !keep {
                    continue;
                }
                if opts.posteriors {
                    out.posts
                        .extend(marg.into_iter().map(|(v, probs)| CellPosterior {
                            row: r,
                            var: VarId(v as u32),
                            probs,
                        }));
                }
                out.fills
                    .extend(missing.into_iter().zip(vals).map(|(v, vs)| (r, v, vs)));
            }
            if let Some(p) = progress {
                p((end.min(range.end) - (b * BLOCK_ROWS).max(range.start)) as u64);
            }
            Ok(out)
        })
        .collect();
    let mut completed = vec![data.clone(); m];
    let mut posteriors = Vec::new();
    let mut impossible = Vec::new();
    let mut cells = 0;
    for b in blocks {
        let b = b?;
        cells += b.fills.len();
        for (r, v, vs) in b.fills {
            for (d, x) in completed.iter_mut().zip(vs) {
                d.set(r, VarId(v), Some(x as usize));
            }
        }
        posteriors.extend(b.posts);
        impossible.extend(b.impossible);
    }
    if !impossible.is_empty() && opts.impossible == ImpossibleRows::Error {
        return Err(Error::ZeroProbabilityRows {
            count: impossible.len(),
            rows: impossible.iter().take(20).map(|(r, _)| r + 1).collect(),
            why: impossible[0].1.clone(),
        });
    }
    Ok(Imputed {
        completed,
        posteriors,
        impossible_rows: impossible,
        cells,
    })
}

/// Figures of a mask-and-impute evaluation ([`evaluate`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EvalReport {
    /// Masked cells evaluated.
    pub masked_cells: usize,
    /// Fraction of masked cells whose per-cell posterior mode is the true state.
    pub accuracy: f64,
    /// Mean ln posterior probability of the true state (`-inf` if some true state got 0).
    pub log_score: f64,
    /// Accuracy of the column-mode baseline (most frequent observed state of the column).
    pub baseline_accuracy: f64,
    /// Accuracy of the oracle model's per-cell posterior mode, when an oracle is given.
    pub oracle_accuracy: Option<f64>,
    /// Log-score of the oracle model.
    pub oracle_log_score: Option<f64>,
    /// Nominal coverage of the posterior sets (e.g. 0.9).
    pub nominal_coverage: f64,
    /// Fraction of masked cells whose true state is in the smallest set of states holding at
    /// least `nominal_coverage` of the exact posterior mass.
    pub exact_set_coverage: f64,
    /// Mean posterior mass of those sets: the coverage calibrated posteriors should reach (at
    /// least `nominal_coverage`; more, because states are discrete).
    pub exact_set_mass: f64,
    /// With `M` draws: fraction of masked cells whose true state is in the smallest set of states
    /// holding at least `nominal_coverage` of the draws.
    pub draws_set_coverage: Option<f64>,
    /// With `M` draws: mean accuracy of a single draw.
    pub draw_accuracy: Option<f64>,
    /// Number of draws per cell (0 when none).
    pub draws: usize,
}

/// Smallest set of states holding at least `level` of `p` (largest first; ties by index):
/// does it contain `truth`, and what share of the mass does it hold?
fn credible_set(p: &[f64], truth: usize, level: f64) -> (bool, f64) {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    let total: f64 = p.iter().sum();
    let mut acc = 0.0;
    let mut hit = false;
    for i in idx {
        hit |= i == truth;
        acc += p[i];
        if acc >= level * total - 1e-12 {
            break;
        }
    }
    (hit, acc / total)
}

fn in_credible_set(p: &[f64], truth: usize, level: f64) -> bool {
    credible_set(p, truth, level).0
}

/// A hidden cell: (row, variable, true state).
type Cell = (usize, usize, usize);

fn mode_and_score(
    bn: &BayesNet,
    truth: &Dataset,
    masked: &Dataset,
    row: &RowOptions,
) -> Result<(Vec<Vec<f64>>, Vec<Cell>)> {
    // posteriors of every masked cell, in the order of `cells` (row, var, true state)
    let opts = ImputeOptions {
        posteriors: true,
        row: *row,
        ..ImputeOptions::default()
    };
    let out = impute(bn, masked, &opts, None)?;
    let mut probs = Vec::with_capacity(out.posteriors.len());
    let mut cells = Vec::with_capacity(out.posteriors.len());
    for c in out.posteriors {
        // cells missing in the "complete" data too have no truth: not evaluated
        if let Some(t) = truth.get(c.row, c.var) {
            cells.push((c.row, c.var.index(), t));
            probs.push(c.probs);
        }
    }
    Ok((probs, cells))
}

fn accuracy_and_log_score(probs: &[Vec<f64>], cells: &[(usize, usize, usize)]) -> (f64, f64) {
    let n = cells.len().max(1) as f64;
    let mut hit = 0usize;
    let mut ls = 0.0;
    for (p, &(_, _, t)) in probs.iter().zip(cells) {
        let mut best = 0;
        for (i, &x) in p.iter().enumerate() {
            if x > p[best] {
                best = i;
            }
        }
        hit += (best == t) as usize;
        ls += crate::num::ln(p[t]);
    }
    (hit as f64 / n, ls / n)
}

/// Options of [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Joint draws per row for the draw-based coverage (0 = none).
    pub draws: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// Nominal coverage of the posterior sets (default 0.9).
    pub nominal: f64,
    /// Per-row inference options.
    pub row: RowOptions,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            draws: 0,
            seed: 0,
            nominal: 0.9,
            row: RowOptions::default(),
        }
    }
}

/// Evaluate imputation on cells hidden from complete data: `model` imputes `masked` (a copy of
/// `truth` with holes); accuracy and log-score are measured on every hidden cell, against the
/// column-mode baseline and, when given, an `oracle` model (e.g. the true network). With
/// `draws > 0`, `draws` joint draws per row (seed `seed`) give the coverage of the draw-based
/// posterior sets.
pub fn evaluate(
    model: &BayesNet,
    oracle: Option<&BayesNet>,
    truth: &Dataset,
    masked: &Dataset,
    opts: &EvalOptions,
) -> Result<EvalReport> {
    let (draws, seed, nominal, row) = (opts.draws, opts.seed, opts.nominal, &opts.row);
    check_shape(model, truth)?;
    if !(nominal > 0.0 && nominal <= 1.0) {
        return Err(Error::InvalidArgument(format!(
            "the nominal coverage must be in (0, 1], got {nominal}"
        )));
    }
    let (probs, cells) = mode_and_score(model, truth, masked, row)?;
    let (accuracy, log_score) = accuracy_and_log_score(&probs, &cells);
    // column-mode baseline on the observed cells of the masked data
    let modes: Vec<usize> = masked
        .columns()
        .iter()
        .zip(masked.cards())
        .map(|(col, &k)| {
            let mut c = vec![0usize; k];
            for &x in col {
                if x != MISSING {
                    c[x as usize] += 1;
                }
            }
            (0..k).fold(0, |b, i| if c[i] > c[b] { i } else { b })
        })
        .collect();
    let nc = cells.len().max(1) as f64;
    let baseline = cells.iter().filter(|&&(_, v, t)| modes[v] == t).count() as f64 / nc;
    let exact_mass = probs
        .iter()
        .zip(&cells)
        .map(|(p, &(_, _, t))| credible_set(p, t, nominal).1)
        .sum::<f64>()
        / nc;
    let exact_cov = probs
        .iter()
        .zip(&cells)
        .filter(|(p, &(_, _, t))| in_credible_set(p, t, nominal))
        .count() as f64
        / nc;
    let (oracle_accuracy, oracle_log_score) = match oracle {
        Some(o) => {
            let (op, oc) = mode_and_score(o, truth, masked, row)?;
            let (a, l) = accuracy_and_log_score(&op, &oc);
            (Some(a), Some(l))
        }
        None => (None, None),
    };
    let (draws_cov, draw_acc) = if draws > 0 {
        let opts = ImputeOptions {
            method: ImputeMethod::Sample,
            imputations: draws,
            seed,
            row: *row,
            ..ImputeOptions::default()
        };
        let out = impute(model, masked, &opts, None)?;
        let mut cov = 0usize;
        let mut acc = 0usize;
        for &(r, v, t) in &cells {
            let mut freq = vec![0.0; masked.cards()[v]];
            for d in &out.completed {
                let x = d.get(r, VarId(v as u32)).expect("imputed");
                freq[x] += 1.0;
                acc += (x == t) as usize;
            }
            cov += in_credible_set(&freq, t, nominal) as usize;
        }
        (
            Some(cov as f64 / nc),
            Some(acc as f64 / (nc * draws as f64)),
        )
    } else {
        (None, None)
    };
    Ok(EvalReport {
        masked_cells: cells.len(),
        accuracy,
        log_score,
        baseline_accuracy: baseline,
        oracle_accuracy,
        oracle_log_score,
        nominal_coverage: nominal,
        exact_set_coverage: exact_cov,
        exact_set_mass: exact_mass,
        draws_set_coverage: draws_cov,
        draw_accuracy: draw_acc,
        draws,
    })
}
