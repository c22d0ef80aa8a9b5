//! Likelihood weighting (and, as an explicit separate choice, rejection sampling) of Bayesian
//! networks under evidence.
//!
//! Likelihood weighting draws the unobserved variables forward in topological order with the
//! observed ones clamped, and weights each row by `w = prod_i P(e_i | parents(e_i))`. Then
//! `E[w] = P(e)` and weighted frequencies estimate the posterior marginals. Weights are kept as
//! logs; every sum of weights is a log-sum-exp (scaled by the running maximum).
//!
//! Rows use the streams of [forward sampling](super::ancestral): block `b` of
//! [`BLOCK_ROWS`] rows is drawn with [`chain_rng`]`(seed, b)`, clamped variables consume no random
//! numbers (so with no evidence the rows equal the forward samples), and per-block sums are
//! combined in block order. Results are bit-for-bit identical for any number of threads.
//!
//! ```
//! use pgmkit::sample::weighting::likelihood_weighting;
//! use pgmkit::BayesNetBuilder;
//!
//! let mut b = BayesNetBuilder::new();
//! let rain = b.add_variable("rain", ["no", "yes"]).unwrap();
//! let wet = b.add_variable("wet", ["no", "yes"]).unwrap();
//! b.set_cpd(rain, &[], vec![0.8, 0.2]).unwrap();
//! b.set_cpd(wet, &[rain], vec![0.9, 0.1, 0.2, 0.8]).unwrap();
//! let bn = b.build().unwrap();
//!
//! let ev = bn.evidence("wet=yes").unwrap();
//! let est = likelihood_weighting(&bn, &ev, 100_000, 1).unwrap();
//! // P(wet = yes) = 0.8 * 0.1 + 0.2 * 0.8 = 0.24
//! let se = est.log_z.std_err.unwrap();
//! assert!((est.log_z.log_z - 0.24f64.ln()).abs() < 4.0 * se);
//! // P(rain = yes | wet = yes) = 0.16 / 0.24
//! let p = est.posterior.marginal(rain)[1];
//! assert!((p - 2.0 / 3.0).abs() < 4.0 * est.mcse[rain.index()][1]);
//! ```

use std::io::Write;

use rand::Rng;
use rayon::prelude::*;

use super::ancestral::{
    block_len, block_writer, check_evidence, check_n, code_width, finish_block, num_blocks,
    num_cells, row_bytes, stream_csv, write_record, Code, Codes, Plan, Samples, BLOCK_ROWS,
};
use crate::error::{Error, Result};
use crate::estimate::{LogZEstimate, Posterior};
use crate::model::BayesNet;
use crate::num;
use crate::rng::chain_rng;
use crate::var::{Evidence, Variable};

/// Blocks reduced per parallel batch (any value gives the same result; this bounds memory).
const REDUCE_BATCH: usize = 64;

/// Likelihood-weighting sampler of a [`BayesNet`] under fixed evidence: precomputed tables,
/// shared read-only by all threads.
#[derive(Debug, Clone)]
pub struct LikelihoodWeighting {
    plan: Plan,
    vars: Vec<Variable>,
    evidence: Vec<Option<usize>>,
}

/// Weighted rows: codes and one natural-log weight per row.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedSamples {
    /// The rows (observed variables hold their observed state).
    pub samples: Samples,
    /// `ln w` of every row; `-inf` for a row incompatible with the evidence.
    pub log_weights: Vec<f64>,
}

/// What likelihood weighting estimated.
#[derive(Debug, Clone, PartialEq)]
pub struct LwEstimate {
    /// `ln P(e)`: the log of the mean weight. `std_err` is the standard error of this log
    /// estimate by the delta method (`se(Z^)/Z^`, with `se` from the sample variance of the
    /// weights); `ess` is Kish's effective sample size `(sum w)^2 / sum w^2`; kind
    /// [`EstimateKind::Stochastic`](crate::estimate::EstimateKind::Stochastic). `std_err` is `None` when `num_samples < 2`.
    pub log_z: LogZEstimate,
    /// Weighted (self-normalised) marginals of every variable, in log space; observed variables
    /// have a point mass on their state. `posterior.log_z` equals `log_z.log_z`.
    pub posterior: Posterior,
    /// Monte Carlo standard error of every marginal probability, `mcse[v][s]`: the delta-method
    /// estimate `sqrt(sum_i w_i^2 (1[x_iv = s] - p^)^2) / sum_i w_i` of self-normalised
    /// importance sampling. 0 for observed variables.
    pub mcse: Vec<Vec<f64>>,
    /// Rows drawn.
    pub num_samples: usize,
    /// Rows of nonzero weight.
    pub num_nonzero: usize,
}

/// What rejection sampling estimated.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectionEstimate {
    /// The accepted rows (those matching the evidence), in draw order.
    pub accepted: Samples,
    /// Forward samples drawn (accepted or not).
    pub num_proposals: usize,
    /// `ln P(e)` estimated as `ln(accepted / proposals)`, with the delta-method standard error
    /// `sqrt((1 - p^) / (n p^))`; `ess` = number accepted; kind [`EstimateKind::Stochastic`](crate::estimate::EstimateKind::Stochastic).
    pub log_z: LogZEstimate,
    /// Marginals of the accepted rows, in log space (`posterior.log_z` equals `log_z.log_z`).
    pub posterior: Posterior,
    /// Binomial standard error `sqrt(p^(1 - p^) / accepted)` of every marginal probability.
    pub mcse: Vec<Vec<f64>>,
}

impl LikelihoodWeighting {
    /// Precompute the tables of `bn` with `evidence` clamped.
    ///
    /// Errors: [`Error::UnknownVariable`] / [`Error::UnknownState`] for evidence that does not
    /// fit the network; [`Error::ZeroProbabilityEvidence`] when an observed state has probability
    /// zero under every parent configuration compatible with the other observations (then
    /// `P(e) = 0` for certain; other zero-probability evidence is reported when every sampled
    /// weight is zero, see [`estimate`](Self::estimate)); [`Error::InvalidArgument`] for a network
    /// without variables.
    pub fn new(bn: &BayesNet, evidence: &Evidence) -> Result<Self> {
        let ev = check_evidence(bn, evidence)?;
        check_possible(bn, &ev)?;
        Ok(LikelihoodWeighting {
            plan: Plan::new(bn, Some(&ev))?,
            vars: bn.vars().to_vec(),
            evidence: ev,
        })
    }

    /// Number of variables (the length of a row).
    pub fn num_vars(&self) -> usize {
        self.plan.num_vars()
    }

    /// The observed state of every variable (`None` where unobserved).
    pub fn evidence(&self) -> &[Option<usize>] {
        &self.evidence
    }

    /// Draw one weighted row into `out` (model order; observed variables get their state) and
    /// return its log weight `sum_i ln P(e_i | parents)` (`-inf` when incompatible).
    ///
    /// Panics if `out.len() != num_vars()`.
    #[inline]
    pub fn sample_row<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [usize]) -> f64 {
        self.plan.fill::<true, R, usize>(rng, out)
    }

    /// Draw `n` weighted rows in memory (parallel over blocks; identical for any number of
    /// threads).
    ///
    /// Errors: [`Error::InvalidArgument`] when `n == 0`, `n * num_vars()` overflows or a
    /// variable has more than 65536 states.
    pub fn sample_weighted(&self, n: usize, seed: u64) -> Result<WeightedSamples> {
        check_n(n)?;
        let cells = num_cells(n, self.num_vars())?;
        let mut log_weights = vec![0.0; n];
        let codes = match code_width(self.plan.cards())? {
            1 => Codes::U8(self.fill_weighted::<u8>(cells, seed, &mut log_weights)),
            _ => Codes::U16(self.fill_weighted::<u16>(cells, seed, &mut log_weights)),
        };
        Ok(WeightedSamples {
            samples: Samples::new(self.plan.cards().to_vec(), n, codes),
            log_weights,
        })
    }

    fn fill_weighted<T: Code>(&self, cells: usize, seed: u64, lw: &mut [f64]) -> Vec<T> {
        let nv = self.num_vars();
        let mut codes = vec![T::default(); cells];
        codes
            .par_chunks_mut(BLOCK_ROWS * nv)
            .zip(lw.par_chunks_mut(BLOCK_ROWS))
            .enumerate()
            .for_each(|(b, (chunk, lw))| {
                let mut rng = chain_rng(seed, b as u64);
                for (row, w) in chunk.chunks_exact_mut(nv).zip(lw.iter_mut()) {
                    *w = self.plan.fill::<true, _, T>(&mut rng, row);
                }
            });
        codes
    }

    /// Estimate `ln P(e)` and the posterior marginals from `n` weighted rows (the rows of
    /// [`sample_weighted`](Self::sample_weighted) with the same seed; nothing is stored).
    ///
    /// Errors: [`Error::InvalidArgument`] when `n == 0`, or when every one of the `n` rows has
    /// weight zero: the evidence then has probability zero, or is too improbable given its
    /// ancestors for `n` samples to hit it (the message says so).
    pub fn estimate(&self, n: usize, seed: u64) -> Result<LwEstimate> {
        check_n(n)?;
        let width = code_width(self.plan.cards()).unwrap_or(8);
        match width {
            1 => self.estimate_with::<u8>(n, seed),
            2 => self.estimate_with::<u16>(n, seed),
            _ => self.estimate_with::<usize>(n, seed),
        }
    }

    fn estimate_with<T: Code>(&self, n: usize, seed: u64) -> Result<LwEstimate> {
        let cards = self.plan.cards();
        let nv = cards.len();
        let mut soff = Vec::with_capacity(nv + 1);
        soff.push(0usize);
        for &k in cards {
            soff.push(soff.last().unwrap() + k);
        }
        let free: Vec<usize> = (0..nv).filter(|&v| self.evidence[v].is_none()).collect();
        let total_states = soff[nv];

        let nblocks = num_blocks(n);
        let mut acc = Acc::new(total_states);
        let mut b0 = 0;
        while b0 < nblocks {
            let b1 = (b0 + REDUCE_BATCH).min(nblocks);
            let parts: Vec<Acc> = (b0..b1)
                .into_par_iter()
                .map(|b| self.block_acc::<T>(seed, b, block_len(n, b), &soff, &free))
                .collect();
            for p in &parts {
                acc.merge(p);
            }
            b0 = b1;
        }

        if acc.m == f64::NEG_INFINITY || acc.s1 <= 0.0 {
            return Err(all_zero_error(n));
        }
        let nf = n as f64;
        let ln_s1 = num::ln(acc.s1);
        let ln_s2 = num::ln(acc.s2);
        let log_z = acc.m + ln_s1 - num::ln(nf);
        // se(Z^)/Z^ = sqrt(var_w * n) / S1 with var_w = (S2 - S1^2/n) / (n - 1), all in the
        // scaled units e^{-m}: ln(S2 - S1^2/n) = ln S2 + ln(1 - e^{2 ln S1 - ln n - ln S2}).
        let std_err = (n >= 2).then(|| {
            let x = 2.0 * ln_s1 - num::ln(nf) - ln_s2; // <= 0 by Cauchy-Schwarz
            if x >= 0.0 {
                return 0.0;
            }
            let ln_var = ln_s2 + (-num::exp(x)).ln_1p() - num::ln(nf - 1.0);
            num::exp(0.5 * (ln_var + num::ln(nf)) - ln_s1)
        });
        let ess = num::exp(2.0 * ln_s1 - ln_s2);

        let mut log_marginals = Vec::with_capacity(nv);
        let mut mcse = Vec::with_capacity(nv);
        for v in 0..nv {
            let k = cards[v];
            if let Some(e) = self.evidence[v] {
                let mut lm = vec![f64::NEG_INFINITY; k];
                lm[e] = 0.0;
                log_marginals.push(lm);
                mcse.push(vec![0.0; k]);
                continue;
            }
            let w = &acc.w[soff[v]..soff[v + 1]];
            let w2 = &acc.w2[soff[v]..soff[v + 1]];
            let mut lm: Vec<f64> = w.iter().map(|&x| num::ln(x)).collect();
            num::log_normalize(&mut lm);
            let se = lm
                .iter()
                .zip(w2)
                .map(|(&l, &a)| {
                    let p = num::exp(l);
                    let var = (a - 2.0 * p * a + p * p * acc.s2).max(0.0);
                    var.sqrt() / acc.s1
                })
                .collect();
            log_marginals.push(lm);
            mcse.push(se);
        }
        Ok(LwEstimate {
            log_z: LogZEstimate::stochastic(log_z, std_err, Some(ess)),
            posterior: Posterior {
                log_marginals,
                log_z,
            },
            mcse,
            num_samples: n,
            num_nonzero: acc.nonzero,
        })
    }

    /// Weighted sums of one block, scaled by the block's largest weight.
    fn block_acc<T: Code>(
        &self,
        seed: u64,
        b: usize,
        rows: usize,
        soff: &[usize],
        free: &[usize],
    ) -> Acc {
        let nv = self.num_vars();
        let mut rng = chain_rng(seed, b as u64);
        let mut codes = vec![T::default(); rows * nv];
        let mut lw = vec![0.0f64; rows];
        for (row, w) in codes.chunks_exact_mut(nv).zip(lw.iter_mut()) {
            *w = self.plan.fill::<true, _, T>(&mut rng, row);
        }
        let mut acc = Acc::new(*soff.last().unwrap());
        acc.m = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if acc.m == f64::NEG_INFINITY {
            return acc;
        }
        for (row, &l) in codes.chunks_exact(nv).zip(&lw) {
            if l == f64::NEG_INFINITY {
                continue;
            }
            let w = num::exp(l - acc.m);
            let w2 = w * w;
            acc.s1 += w;
            acc.s2 += w2;
            acc.nonzero += 1;
            for &v in free {
                let i = soff[v] + row[v].to_usize();
                acc.w[i] += w;
                acc.w2[i] += w2;
            }
        }
        acc
    }

    /// Stream `n` weighted rows as CSV: header = variable names then `log_weight`; cells = state
    /// names, then the natural-log weight (shortest round-trip decimal, `-inf` for weight zero).
    /// Same rows as [`sample_weighted`](Self::sample_weighted); bytes identical for any number of
    /// threads; memory bounded for any `n`.
    ///
    /// Errors: [`Error::InvalidArgument`] when `n == 0`; [`Error::Io`] (path `<output>`).
    pub fn write_csv<W: Write>(&self, n: usize, seed: u64, w: W) -> Result<()> {
        use std::fmt::Write as _;
        let nv = self.num_vars();
        let mut header: Vec<&str> = self.vars.iter().map(|v| v.name.as_str()).collect();
        header.push("log_weight");
        let rb = row_bytes(&self.vars) + 24;
        stream_csv(n, &header, rb, w, |b, rows| {
            let mut rng = chain_rng(seed, b as u64);
            let mut row = vec![0usize; nv];
            let mut num = String::with_capacity(32);
            let mut wtr = block_writer(rows * rb);
            for _ in 0..rows {
                let lw = self.plan.fill::<true, _, usize>(&mut rng, &mut row);
                num.clear();
                let _ = write!(num, "{lw}");
                write_record(
                    &mut wtr,
                    row.iter()
                        .zip(&self.vars)
                        .map(|(&s, v)| v.states[s].as_bytes())
                        .chain(std::iter::once(num.as_bytes())),
                )?;
            }
            finish_block(wtr)
        })
    }
}

/// Likelihood weighting in one call: [`LikelihoodWeighting::new`]`(bn, evidence)?.`
/// [`estimate`](LikelihoodWeighting::estimate)`(n, seed)`.
pub fn likelihood_weighting(
    bn: &BayesNet,
    evidence: &Evidence,
    n: usize,
    seed: u64,
) -> Result<LwEstimate> {
    LikelihoodWeighting::new(bn, evidence)?.estimate(n, seed)
}

/// Rejection sampling: draw `n` forward samples (the rows of
/// [`ForwardSampler::sample_codes`](super::ancestral::ForwardSampler::sample_codes) with the same
/// seed), keep those that match `evidence`, and estimate `P(e)` and the posterior marginals from
/// them. Only an explicit choice: [`likelihood_weighting`] is never worse for discrete networks.
///
/// Errors: as [`LikelihoodWeighting::new`] for the evidence (including a certain
/// [`Error::ZeroProbabilityEvidence`]); [`Error::InvalidArgument`] when `n == 0` or when the
/// evidence rejects every one of the `n` samples (with the numbers in the message).
///
/// ```
/// use pgmkit::sample::weighting::rejection_sample;
/// use pgmkit::BayesNetBuilder;
/// let mut b = BayesNetBuilder::new();
/// let a = b.add_variable("a", ["no", "yes"]).unwrap();
/// b.set_cpd(a, &[], vec![0.75, 0.25]).unwrap();
/// let bn = b.build().unwrap();
/// let r = rejection_sample(&bn, &bn.evidence("a=yes").unwrap(), 10_000, 3).unwrap();
/// assert!((r.log_z.log_z.exp() - 0.25).abs() < 0.02);
/// assert_eq!(r.accepted.num_rows(), r.log_z.ess.unwrap() as usize);
/// ```
pub fn rejection_sample(
    bn: &BayesNet,
    evidence: &Evidence,
    n: usize,
    seed: u64,
) -> Result<RejectionEstimate> {
    check_n(n)?;
    let ev = check_evidence(bn, evidence)?;
    check_possible(bn, &ev)?;
    let plan = Plan::new(bn, None)?;
    num_cells(n, plan.num_vars())?;
    match code_width(plan.cards())? {
        1 => rejection_with::<u8>(&plan, &ev, n, seed, Codes::U8),
        _ => rejection_with::<u16>(&plan, &ev, n, seed, Codes::U16),
    }
}

fn rejection_with<T: Code>(
    plan: &Plan,
    ev: &[Option<usize>],
    n: usize,
    seed: u64,
    wrap: fn(Vec<T>) -> Codes,
) -> Result<RejectionEstimate> {
    let cards = plan.cards();
    let nv = cards.len();
    let observed: Vec<(usize, usize)> = ev
        .iter()
        .enumerate()
        .filter_map(|(v, s)| s.map(|s| (v, s)))
        .collect();
    let nblocks = num_blocks(n);
    let mut kept: Vec<T> = Vec::new();
    let mut b0 = 0;
    while b0 < nblocks {
        let b1 = (b0 + REDUCE_BATCH).min(nblocks);
        let parts: Vec<Vec<T>> = (b0..b1)
            .into_par_iter()
            .map(|b| {
                let mut rng = chain_rng(seed, b as u64);
                let mut out = Vec::new();
                let mut row = vec![T::default(); nv];
                for _ in 0..block_len(n, b) {
                    plan.fill::<false, _, T>(&mut rng, &mut row);
                    if observed.iter().all(|&(v, s)| row[v].to_usize() == s) {
                        out.extend_from_slice(&row);
                    }
                }
                out
            })
            .collect();
        for p in parts {
            kept.extend_from_slice(&p);
        }
        b0 = b1;
    }
    let acc = kept.len() / nv;
    if acc == 0 {
        return Err(Error::InvalidArgument(format!(
            "rejection sampling: the evidence rejected all {n} forward samples; it has probability \
             zero or below about 1/{n}. Use likelihood weighting (or more samples)"
        )));
    }
    let samples = Samples::new(cards.to_vec(), acc, wrap(kept));
    let counts = samples.counts();
    let (nf, af) = (n as f64, acc as f64);
    let p = af / nf;
    let log_z = num::ln(af) - num::ln(nf);
    let std_err = ((1.0 - p) / (nf * p)).sqrt();
    let mut log_marginals = Vec::with_capacity(nv);
    let mut mcse = Vec::with_capacity(nv);
    for c in &counts {
        log_marginals.push(c.iter().map(|&x| num::ln(x as f64) - num::ln(af)).collect());
        mcse.push(
            c.iter()
                .map(|&x| {
                    let q = x as f64 / af;
                    (q * (1.0 - q) / af).sqrt()
                })
                .collect(),
        );
    }
    Ok(RejectionEstimate {
        accepted: samples,
        num_proposals: n,
        log_z: LogZEstimate::stochastic(log_z, Some(std_err), Some(af)),
        posterior: Posterior {
            log_marginals,
            log_z,
        },
        mcse,
    })
}

/// Per-block (then running) sums, scaled by `e^{-m}`.
#[derive(Debug, Clone)]
struct Acc {
    /// Largest log weight seen (`-inf` when none is positive).
    m: f64,
    s1: f64,
    s2: f64,
    w: Vec<f64>,
    w2: Vec<f64>,
    nonzero: usize,
}

impl Acc {
    fn new(states: usize) -> Self {
        Acc {
            m: f64::NEG_INFINITY,
            s1: 0.0,
            s2: 0.0,
            w: vec![0.0; states],
            w2: vec![0.0; states],
            nonzero: 0,
        }
    }

    /// Add `o` (in a fixed order this makes the reduction deterministic).
    fn merge(&mut self, o: &Acc) {
        if o.m == f64::NEG_INFINITY {
            return;
        }
        if self.m == f64::NEG_INFINITY {
            self.clone_from(o);
            return;
        }
        if o.m > self.m {
            let f = num::exp(self.m - o.m);
            let f2 = f * f;
            self.s1 *= f;
            self.s2 *= f2;
            self.w.iter_mut().for_each(|x| *x *= f);
            self.w2.iter_mut().for_each(|x| *x *= f2);
            self.m = o.m;
        }
        let g = num::exp(o.m - self.m);
        let g2 = g * g;
        self.s1 += o.s1 * g;
        self.s2 += o.s2 * g2;
        self.w.iter_mut().zip(&o.w).for_each(|(x, y)| *x += y * g);
        self.w2
            .iter_mut()
            .zip(&o.w2)
            .for_each(|(x, y)| *x += y * g2);
        self.nonzero += o.nonzero;
    }
}

fn all_zero_error(n: usize) -> Error {
    Error::AllWeightsZero {
        method: "likelihood weighting",
        count: n,
        what: "samples",
        hint: "P(evidence) cannot be estimated. Either the evidence has probability zero under \
               the model, or it is possible but so improbable given the sampled ancestors that \
               no sample was compatible; try more samples or another method (exact, gibbs)"
            .into(),
    }
}

/// A sound (not complete) test that the evidence is impossible: some observed variable's state
/// has probability zero under every parent configuration compatible with the observed parents.
fn check_possible(bn: &BayesNet, ev: &[Option<usize>]) -> Result<()> {
    let vars = bn.vars();
    let mut pstates = Vec::new();
    for (v, e) in ev.iter().enumerate().filter_map(|(v, e)| e.map(|e| (v, e))) {
        let cpd = &bn.cpds()[v];
        let k = vars[v].card();
        let pcards: Vec<usize> = cpd.parents.iter().map(|p| vars[p.index()].card()).collect();
        pstates.clear();
        pstates.resize(pcards.len(), 0usize);
        let mut possible = false;
        for (r, col) in cpd.probs.chunks_exact(k).enumerate() {
            // decode the parent configuration (first parent slowest)
            let mut rem = r;
            for j in (0..pcards.len()).rev() {
                pstates[j] = rem % pcards[j];
                rem /= pcards[j];
            }
            let compatible = cpd
                .parents
                .iter()
                .zip(&pstates)
                .all(|(p, &s)| ev[p.index()].is_none_or(|o| o == s));
            if compatible && col[e] > 0.0 {
                possible = true;
                break;
            }
        }
        if !possible {
            return Err(Error::ZeroProbabilityEvidence);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BayesNetBuilder;

    #[test]
    fn merge_is_scale_consistent() {
        let mut a = Acc::new(1);
        a.m = 0.0;
        a.s1 = 2.0;
        a.s2 = 2.0;
        a.w[0] = 2.0;
        a.w2[0] = 2.0;
        a.nonzero = 2;
        let mut b = Acc::new(1);
        b.m = 2f64.ln();
        b.s1 = 1.0;
        b.s2 = 1.0;
        b.w[0] = 1.0;
        b.w2[0] = 1.0;
        b.nonzero = 1;
        // weights 1, 1, 2: sum 4, sum of squares 6
        a.merge(&b);
        assert!((a.m + a.s1.ln() - 4f64.ln()).abs() < 1e-15);
        assert!((2.0 * a.m + a.s2.ln() - 6f64.ln()).abs() < 1e-15);
        assert_eq!(a.nonzero, 3);
    }

    #[test]
    fn no_evidence_is_weight_one() {
        let mut b = BayesNetBuilder::new();
        let x = b.add_variable("x", ["a", "b"]).unwrap();
        b.set_cpd(x, &[], vec![0.3, 0.7]).unwrap();
        let bn = b.build().unwrap();
        let est = likelihood_weighting(&bn, &Evidence::new(1), 1000, 5).unwrap();
        assert_eq!(est.log_z.log_z, 0.0);
        assert_eq!(est.log_z.std_err, Some(0.0));
        assert!((est.log_z.ess.unwrap() - 1000.0).abs() < 1e-9);
    }
}
