//! Scoring data under a Bayesian network (log-likelihood, bits per row, perplexity, outliers) and
//! the KL divergence between two networks over the same variables.
//!
//! Rows with missing cells are scored by their marginal likelihood `p(observed cells)` (exact,
//! per-row component inference, see [`crate::learn::rows`]). Rows are scored in parallel and
//! summed in row order, so every figure is identical for any number of threads.

use rayon::prelude::*;

use crate::data::{Dataset, MISSING};
use crate::error::{Error, Result};
use crate::estimate::LogZEstimate;
use crate::factor::TableFactor;
use crate::learn::mle::check_shape;
use crate::learn::rows::{eliminate, min_weight_order, RowEngine, RowOptions};
use crate::model::{BayesNet, BayesNetBuilder, FactorGraph};
use crate::num;
use crate::var::VarId;

/// Scores of a dataset under a model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Score {
    /// Rows scored.
    pub rows: usize,
    /// Variables of the model.
    pub vars: usize,
    /// Missing cells in the data.
    pub missing_cells: usize,
    /// Sum of the rows' log-likelihoods (natural log); `-inf` when some row is impossible.
    pub total_log_lik: f64,
    /// `total_log_lik / rows`.
    pub mean_log_lik: f64,
    /// Negative mean log-likelihood in bits: `-mean_log_lik / ln 2`.
    pub bits_per_row: f64,
    /// Per-variable perplexity `2^(bits_per_row / vars)`.
    pub perplexity_per_var: f64,
    /// Log-likelihood of every row, in row order.
    #[serde(skip)]
    pub per_row: Vec<f64>,
    /// 1-based rows of probability zero.
    pub impossible_rows: Vec<usize>,
}

impl Score {
    /// The `k` least likely rows as `(0-based row, log-likelihood)`, least likely first (ties by
    /// row order).
    pub fn outliers(&self, k: usize) -> Vec<(usize, f64)> {
        let mut idx: Vec<usize> = (0..self.per_row.len()).collect();
        idx.sort_by(|&a, &b| self.per_row[a].total_cmp(&self.per_row[b]).then(a.cmp(&b)));
        idx.into_iter()
            .take(k)
            .map(|r| (r, self.per_row[r]))
            .collect()
    }
}

/// The score of complete data under an undirected model ([`score_markov`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MarkovScore {
    /// The per-row scores, `ln p(x) = Σ_f ln φ_f(x_f) - ln Z` with the `ln Z` below.
    pub score: Score,
    /// The `ln Z` used, and what kind of number it is (exact, or an AIS estimate with its
    /// standard error).
    pub log_z: LogZEstimate,
    /// Standard error of `score.mean_log_lik`: the rows' spread, `sd / sqrt(rows)` (the test
    /// set is a sample), combined with the standard error of `ln Z` (0 when exact).
    pub mean_std_err: f64,
}

/// Score complete `data` under the factor graph `fg` given its `ln Z` (from
/// [`crate::infer::logz::log_z`], exact where the width fits, else AIS). Rows on a zero of a
/// factor have log-likelihood `-inf` and are listed in `impossible_rows`.
///
/// Errors: a missing cell ([`Error::InvalidArgument`]: an undirected model scores complete
/// rows only), data over other variables, a `ln Z` that is not finite.
///
/// ```
/// use pgmkit::data::Dataset;
/// use pgmkit::infer::exact::{log_z, ExactOptions};
/// use pgmkit::model::{ising_grid, Boundary};
/// use pgmkit::score::score_markov;
/// use pgmkit::Evidence;
/// let g = ising_grid(1, 2, Boundary::Free, |_, _| 0.5, |_| 0.0).unwrap();
/// let z = log_z(&g, &Evidence::new(2), &ExactOptions::default()).unwrap();
/// let d = Dataset::from_rows(g.vars(), &[vec![1, 1], vec![0, 1]]).unwrap();
/// let s = score_markov(&g, &d, &z).unwrap();
/// // p(1, 1) = e^0.5 / (2 e^0.5 + 2 e^-0.5)
/// let p11 = 0.5f64.exp() / (2.0 * 0.5f64.exp() + 2.0 * (-0.5f64).exp());
/// assert!((s.score.per_row[0] - p11.ln()).abs() < 1e-12);
/// ```
pub fn score_markov(fg: &FactorGraph, data: &Dataset, log_z: &LogZEstimate) -> Result<MarkovScore> {
    crate::error::check_dim(
        "data columns (one per variable)",
        fg.num_vars(),
        data.num_vars(),
    )?;
    if !log_z.log_z.is_finite() {
        return Err(Error::InvalidArgument(format!(
            "ln Z must be finite to score rows, got {}",
            log_z.log_z
        )));
    }
    let n = fg.num_vars();
    let mut x = vec![0usize; n];
    let mut per_row = Vec::with_capacity(data.num_rows());
    for r in 0..data.num_rows() {
        for (v, xv) in x.iter_mut().enumerate() {
            *xv = data.get(r, VarId(v as u32)).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "row {} has no value for '{}': an undirected model scores complete rows \
                     only",
                    r + 1,
                    fg.vars()[v].name
                ))
            })?;
        }
        per_row.push(fg.factors().iter().map(|f| f.log_value(&x)).sum::<f64>() - log_z.log_z);
    }
    Ok(markov_score(per_row, n, log_z))
}

/// Score rows of 0/1 values under an RBM given its `ln Z` (exact or AIS:
/// [`crate::infer::rbm::rbm_log_z`]): `ln p(v) = -F(v) - ln Z`. Errors: a row of the wrong
/// length or with a value other than 0 or 1, a `ln Z` that is not finite.
pub fn score_rbm(
    rbm: &crate::model::rbm::Rbm,
    rows: &[Vec<f64>],
    log_z: &LogZEstimate,
) -> Result<MarkovScore> {
    if !log_z.log_z.is_finite() {
        return Err(Error::InvalidArgument(format!(
            "ln Z must be finite to score rows, got {}",
            log_z.log_z
        )));
    }
    let nv = rbm.num_visible();
    let mut per_row = Vec::with_capacity(rows.len());
    for (r, v) in rows.iter().enumerate() {
        crate::error::check_dim(&format!("values of row {}", r + 1), nv, v.len())?;
        if let Some(x) = v.iter().find(|x| **x != 0.0 && **x != 1.0) {
            return Err(Error::InvalidArgument(format!(
                "row {}: an RBM's visible units are binary, found {x}",
                r + 1
            )));
        }
        per_row.push(-rbm.free_energy(v) - log_z.log_z);
    }
    Ok(markov_score(per_row, nv, log_z))
}

fn markov_score(per_row: Vec<f64>, n: usize, log_z: &LogZEstimate) -> MarkovScore {
    let impossible = per_row
        .iter()
        .enumerate()
        .filter(|(_, l)| **l == f64::NEG_INFINITY)
        .map(|(r, _)| r + 1)
        .collect();
    let rows = per_row.len();
    let total: f64 = per_row.iter().sum();
    let mean = if rows == 0 { 0.0 } else { total / rows as f64 };
    let var = if rows > 1 && mean.is_finite() {
        per_row.iter().map(|l| (l - mean) * (l - mean)).sum::<f64>() / (rows - 1) as f64
    } else {
        0.0
    };
    let se_z = log_z.std_err.unwrap_or(0.0);
    let bits = -mean / std::f64::consts::LN_2;
    MarkovScore {
        score: Score {
            rows,
            vars: n,
            missing_cells: 0,
            total_log_lik: total,
            mean_log_lik: mean,
            bits_per_row: bits,
            perplexity_per_var: (bits / n.max(1) as f64).exp2(),
            per_row,
            impossible_rows: impossible,
        },
        log_z: log_z.clone(),
        mean_std_err: (var / rows.max(1) as f64 + se_z * se_z).sqrt(),
    }
}

/// Score `data` under `bn`.
///
/// ```
/// use pgmkit::data::Dataset;
/// use pgmkit::score::score;
/// use pgmkit::learn::RowOptions;
/// use pgmkit::BayesNetBuilder;
/// let mut b = BayesNetBuilder::new();
/// let a = b.add_variable("a", ["0", "1"]).unwrap();
/// let c = b.add_variable("c", ["0", "1"]).unwrap();
/// b.set_cpd(a, &[], vec![0.3, 0.7]).unwrap();
/// b.set_cpd(c, &[a], vec![0.9, 0.1, 0.2, 0.8]).unwrap();
/// let bn = b.build().unwrap();
/// // row 1 complete, row 2 has `a` missing: scored by p(c = 1) = 0.3*0.1 + 0.7*0.8
/// let d = Dataset::from_columns(bn.vars(), vec![vec![1, u16::MAX], vec![1, 1]]).unwrap();
/// let s = score(&bn, &d, &RowOptions::default()).unwrap();
/// assert!((s.per_row[0] - (0.7f64 * 0.8).ln()).abs() < 1e-12);
/// assert!((s.per_row[1] - (0.03f64 + 0.56).ln()).abs() < 1e-12);
/// ```
pub fn score(bn: &BayesNet, data: &Dataset, opts: &RowOptions) -> Result<Score> {
    check_shape(bn, data)?;
    let eng = RowEngine::new(bn, *opts)?;
    let n = data.num_vars();
    const BLOCK: usize = 256;
    let blocks: Vec<Result<Vec<f64>>> = (0..data.num_rows().div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut row = vec![0u16; n];
            let end = ((b + 1) * BLOCK).min(data.num_rows());
            (b * BLOCK..end)
                .map(|r| {
                    data.row_into(r, &mut row);
                    eng.log_lik(&row)
                })
                .collect()
        })
        .collect();
    let mut per_row = Vec::with_capacity(data.num_rows());
    for b in blocks {
        per_row.extend(b?);
    }
    let total: f64 = per_row.iter().sum();
    let rows = per_row.len();
    let mean = total / rows.max(1) as f64;
    let bits = -mean / std::f64::consts::LN_2;
    Ok(Score {
        rows,
        vars: n,
        missing_cells: data.num_missing(),
        total_log_lik: total,
        mean_log_lik: mean,
        bits_per_row: bits,
        perplexity_per_var: (bits / n.max(1) as f64).exp2(),
        impossible_rows: per_row
            .iter()
            .enumerate()
            .filter(|(_, l)| **l == f64::NEG_INFINITY)
            .map(|(r, _)| r + 1)
            .collect(),
        per_row,
    })
}

/// How [`kl_divergence`] computes KL(P || Q).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KlMethod {
    /// Exact (variable elimination over P for every family); errors when too large.
    Exact,
    /// Monte Carlo over `samples` forward samples of P, seeded.
    MonteCarlo {
        /// Forward samples of P.
        samples: usize,
        /// Seed.
        seed: u64,
    },
    /// Exact when every table fits within the limit, else Monte Carlo.
    Auto {
        /// Forward samples of P for the fallback.
        samples: usize,
        /// Seed.
        seed: u64,
    },
}

/// KL(P || Q) in nats.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct KlEstimate {
    /// The divergence (nats); `+inf` when Q gives probability zero to a state P can reach.
    pub kl: f64,
    /// Monte Carlo standard error (`None` when exact).
    pub std_err: Option<f64>,
    /// True when computed exactly.
    pub exact: bool,
    /// Forward samples used (0 when exact).
    pub samples: usize,
}

/// `q` re-expressed over `p`'s variable ids and state orders (matched by name).
fn align(p: &BayesNet, q: &BayesNet) -> Result<BayesNet> {
    if p.num_vars() != q.num_vars() {
        return Err(Error::InvalidArgument(format!(
            "KL needs two networks over the same variables: P has {}, Q has {}",
            p.num_vars(),
            q.num_vars()
        )));
    }
    // for every P variable: its Q id and the map P state -> Q state
    let mut qid = Vec::with_capacity(p.num_vars());
    let mut smap: Vec<Vec<usize>> = Vec::with_capacity(p.num_vars());
    for v in p.vars() {
        let j = q.var_id(&v.name)?;
        let qv = q.var(j);
        if qv.card() != v.card() {
            return Err(Error::InvalidArgument(format!(
                "variable '{}' has {} states in P and {} in Q",
                v.name,
                v.card(),
                qv.card()
            )));
        }
        smap.push(
            v.states
                .iter()
                .map(|s| qv.state_index(s))
                .collect::<Result<_>>()?,
        );
        qid.push(j);
    }
    let mut pid = vec![0usize; q.num_vars()];
    for (i, j) in qid.iter().enumerate() {
        pid[j.index()] = i;
    }
    let mut b = BayesNetBuilder::new().tolerance(f64::INFINITY);
    for v in p.vars() {
        b.add_variable(v.name.clone(), v.states.iter().cloned())?;
    }
    for (i, v) in p.vars().iter().enumerate() {
        let qc = q.cpd(qid[i]);
        let parents: Vec<crate::VarId> = qc.parents.iter().map(|u| pid[u.index()].into()).collect();
        let mut fam: Vec<usize> = parents.iter().map(|u| u.index()).collect();
        fam.push(i);
        let cards: Vec<usize> = fam.iter().map(|&u| p.vars()[u].card()).collect();
        let total: usize = cards.iter().product();
        let mut probs = vec![0.0; total];
        let mut x = vec![0usize; fam.len()];
        for pr in probs.iter_mut() {
            // index into Q's table: same member order, Q state indices
            let mut qi = 0;
            for (j, &u) in fam.iter().enumerate() {
                qi = qi * cards[j] + smap[u][x[j]];
            }
            *pr = qc.probs[qi];
            for j in (0..x.len()).rev() {
                x[j] += 1;
                if x[j] < cards[j] {
                    break;
                }
                x[j] = 0;
            }
        }
        let _ = v;
        b.set_cpd(i.into(), &parents, probs)?;
    }
    b.build()
}

/// KL(P || Q) between two Bayesian networks over the same variables (matched by name; states
/// matched by name). Exact: `sum_i E_P[ln p(x_i | pa_P(i)) - ln q(x_i | pa_Q(i))]`, each
/// expectation under P's marginal over the union of the two families (variable elimination over
/// the ancestors of that union). Monte Carlo: the mean of `ln p(x) - ln q(x)` over forward samples
/// of P, with its standard error.
pub fn kl_divergence(
    p: &BayesNet,
    q: &BayesNet,
    method: KlMethod,
    max_table_entries: usize,
) -> Result<KlEstimate> {
    let q = align(p, q)?;
    match method {
        KlMethod::Exact => kl_exact(p, &q, max_table_entries),
        KlMethod::MonteCarlo { samples, seed } => kl_mc(p, &q, samples, seed),
        KlMethod::Auto { samples, seed } => match kl_exact(p, &q, max_table_entries) {
            Err(Error::TooLarge { .. }) => kl_mc(p, &q, samples, seed),
            r => r,
        },
    }
}

fn kl_exact(p: &BayesNet, q: &BayesNet, limit: usize) -> Result<KlEstimate> {
    let cards: Vec<usize> = p.vars().iter().map(|v| v.card()).collect();
    let factors: Vec<TableFactor> = p.cpds().iter().map(|c| c.to_factor(p.vars())).collect();
    let terms: Vec<Result<f64>> = (0..p.num_vars())
        .into_par_iter()
        .map(|i| {
            let pc = p.cpd(i.into());
            let qc = q.cpd(i.into());
            let mut set: Vec<u32> = pc
                .parents
                .iter()
                .chain(&qc.parents)
                .map(|v| v.0)
                .chain(std::iter::once(i as u32))
                .collect();
            set.sort_unstable();
            set.dedup();
            // ancestors of the set in P
            let mut keep = vec![false; cards.len()];
            let mut stack: Vec<u32> = set.clone();
            while let Some(v) = stack.pop() {
                if !std::mem::replace(&mut keep[v as usize], true) {
                    stack.extend(p.parents((v as usize).into()).iter().map(|u| u.0));
                }
            }
            let fs: Vec<TableFactor> = (0..cards.len())
                .filter(|&v| keep[v])
                .map(|v| factors[v].clone())
                .collect();
            let vars: Vec<u32> = (0..cards.len() as u32)
                .filter(|&v| keep[v as usize])
                .collect();
            let order = min_weight_order(&cards, &fs, &vars, &set, limit)?;
            let joint = eliminate(fs, &order, false, None);
            let z = joint.log_sum();
            let mut term = 0.0;
            let mut full = vec![0usize; cards.len()];
            for (flat, &l) in joint.log_values().iter().enumerate() {
                let w = num::exp(l - z);
                if w == 0.0 {
                    continue;
                }
                for (v, s) in joint.scope().iter().zip(joint.states_at(flat)) {
                    full[v.index()] = s;
                }
                let lp = pc.log_prob(p.vars(), &full);
                let lq = qc.log_prob(q.vars(), &full);
                if lq == f64::NEG_INFINITY {
                    return Ok(f64::INFINITY);
                }
                term += w * (lp - lq);
            }
            Ok(term)
        })
        .collect();
    let mut kl = 0.0;
    for t in terms {
        kl += t?;
    }
    Ok(KlEstimate {
        kl,
        std_err: None,
        exact: true,
        samples: 0,
    })
}

/// Why `KL(P || Q)` is infinite: a description of a state that P gives positive probability
/// and Q probability zero (the first such state among up to `tries` forward draws of P: the
/// variable, its state and its parents' states whose CPD entry in Q is 0), or `None` when no
/// draw found one (the divergence may still be infinite on a rarer state).
///
/// Errors: the two networks do not have the same variables and states.
pub fn kl_infinite_witness(
    p: &BayesNet,
    q: &BayesNet,
    tries: usize,
    seed: u64,
) -> Result<Option<String>> {
    let q = align(p, q)?;
    let tries = tries.max(1);
    let s = crate::sample::ancestral::ForwardSampler::new(p)?.sample_codes(tries, seed)?;
    let vars = p.vars();
    let mut row = vec![0usize; p.num_vars()];
    for r in 0..tries {
        s.row_into(r, &mut row);
        for cpd in q.cpds() {
            if cpd.log_prob(vars, &row) == f64::NEG_INFINITY {
                let child = &vars[cpd.child.index()];
                let given: Vec<String> = cpd
                    .parents
                    .iter()
                    .map(|v| {
                        let var = &vars[v.index()];
                        format!("{}={}", var.name, var.states[row[v.index()]])
                    })
                    .collect();
                let given = if given.is_empty() {
                    String::new()
                } else {
                    format!(" | {}", given.join(", "))
                };
                return Ok(Some(format!(
                    "Q has P({}={}{given}) = 0 on a state that P can produce",
                    child.name,
                    child.states[row[cpd.child.index()]]
                )));
            }
        }
    }
    Ok(None)
}

/// Sampling blocks per chunk of Monte Carlo KL (256 x 1024 rows in memory at a time).
const KL_CHUNK_BLOCKS: usize = 256;

fn kl_mc(p: &BayesNet, q: &BayesNet, samples: usize, seed: u64) -> Result<KlEstimate> {
    if samples < 2 {
        return Err(Error::InvalidArgument(
            "Monte Carlo KL needs at least 2 samples".into(),
        ));
    }
    // streamed in chunks of whole sampling blocks (the same rows as one big draw), so memory
    // stays bounded for any number of samples; sums are taken around the first chunk's mean
    let sampler = crate::sample::ancestral::ForwardSampler::new(p)?;
    let block = crate::sample::ancestral::BLOCK_ROWS;
    let chunk = block * KL_CHUNK_BLOCKS;
    let n = p.num_vars();
    let (mut shift, mut sum, mut sumsq) = (None, 0.0, 0.0);
    let mut start = 0;
    while start < samples {
        let k = chunk.min(samples - start);
        let s = sampler.sample_codes_from(start / block, k, seed)?;
        let d: Vec<f64> = (0..k)
            .into_par_iter()
            .map_init(
                || vec![0usize; n],
                |row, r| {
                    s.row_into(r, row);
                    p.log_prob(row) - q.log_prob(row)
                },
            )
            .collect();
        let c = *shift.get_or_insert_with(|| d.iter().sum::<f64>() / k as f64);
        for x in d {
            sum += x - c;
            sumsq += (x - c) * (x - c);
        }
        start += k;
    }
    let c = shift.unwrap_or(0.0);
    let m = samples as f64;
    let mean = c + sum / m;
    let var = ((sumsq - sum * sum / m) / (m - 1.0)).max(0.0);
    Ok(KlEstimate {
        kl: mean,
        std_err: Some((var / samples as f64).sqrt()),
        exact: false,
        samples,
    })
}

/// True when some cell of the data is missing.
pub fn has_missing(data: &Dataset) -> bool {
    data.columns().iter().any(|c| c.contains(&MISSING))
}
