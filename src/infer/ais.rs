//! Annealed importance sampling (AIS) of log Z, reverse AIS and bidirectional Monte Carlo (BDMC).
//!
//! AIS (Neal 2001) moves N independent particles along the geometric path
//!
//! ```text
//! f_beta(x) = p0(x)^(1 - beta) * p~(x)^beta,   0 = beta_0 < beta_1 < ... < beta_K = 1,
//! ```
//!
//! from a normalised, fully factorised base `p0` (uniform, or the mean-field solution) to the
//! unnormalised model `p~` (a Markov network, or a Bayesian network under evidence lowered to a
//! factor graph). A particle starts with an exact draw from `p0`, and at step k it gains the log
//! weight `(beta_k - beta_{k-1}) * (ln p~(x) - ln p0(x))` and then makes `sweeps` MCMC sweeps
//! ([`Transition`]) that leave `f_{beta_k}` invariant. The mean of the weights is an unbiased
//! estimate of `Z / Z0 = Z`; [`AisResult::log_z`] is its log (log-mean-exp of the log weights),
//! which is a stochastic lower bound on ln Z in expectation (Jensen).
//!
//! On models with zero entries the defaults change (everything else keeps the path above):
//! the kernel is blocked Gibbs ([`AisKernel::Auto`], [`crate::sample::block`]), and when the
//! model is a Bayesian network (every factor a CPT, whatever the file format) the base is the
//! network itself with the evidence clamped ([`Base::Network`]), so that only the evidence
//! likelihood is annealed.
//!
//! Reverse AIS starts from exact draws of the model (when they exist: exact sampling for small
//! width, or a forward sample of a Bayesian network on simulated evidence) and runs the path
//! backwards; the mean of its weights estimates `1 / Z`, so `-ln mean(w)` is a stochastic
//! *upper* bound on ln Z in expectation. [`bdmc`] runs both and reports the sandwich.
//!
//! Every particle draws from its own stream `chain_rng(seed, particle)`, so results do not
//! depend on the number of threads. Particles that reach a state of probability zero
//! (possible only when the model has zeros) get weight zero; if all of them do, the run fails
//! with [`Error::InvalidArgument`] explaining what to change, never a NaN.
//!
//! Complexity: O(N K (S * cost of a sweep + cost of evaluating ln p~)), N particles, K steps,
//! S sweeps per step; memory O(N * num_vars).

use std::time::{Duration, Instant};

use rand::Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::infer::variational::MeanField;
use crate::infer::{EstimateKind, LogZEstimate};
use crate::limits::Deadline;
use crate::model::FactorGraph;
use crate::num;
use crate::rng::chain_rng;
use crate::sample::block::{BlockGibbs, BlockOptions, BlockTables};
use crate::sample::chains::Progress;
use crate::sample::gibbs::{Gibbs, GibbsOptions, Scan};
use crate::sample::mh::MetropolisHastings;
use crate::sample::{Tempering, Transition};
use crate::stop::StopRule;
use crate::var::Evidence;

/// Stream offset of the pilot run of the adaptive schedule (particle streams start at 0).
const PILOT_STREAM: u64 = 1 << 40;
/// Stream offset of reverse-AIS particles.
const REVERSE_STREAM: u64 = 1 << 41;
/// Weight of the uniform distribution mixed into the mean-field base, so that the base covers
/// every state the model allows (an importance proposal must not miss mass).
pub const MF_BASE_UNIFORM_MIX: f64 = 1e-3;

/// The tractable distribution the path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Base {
    /// The default: [`Base::Network`] when the model has zero entries, every factor is a
    /// conditional probability table (a Bayesian network, whatever the file format) and the
    /// kernel is blocked Gibbs; [`Base::Uniform`] otherwise.
    #[default]
    Auto,
    /// Uniform over the states of every free variable. It lets the early, hot part of the
    /// path visit every mode, which matters on frustrated and strongly coupled models (a
    /// mean-field base sits in one mode and can underestimate badly there).
    Uniform,
    /// The Bayesian network itself with the evidence clamped and the evidence variables' own
    /// tables left out: `p0(x) = prod over free variables i of P(x_i | parents)`, which is
    /// normalised and sampled exactly forwards, and which satisfies every deterministic
    /// relation among the free variables. The path then anneals only the likelihood of the
    /// evidence, `prod over observed j of P(e_j | parents)^beta` (its zeros softened first,
    /// as in the two-phase path), so its length is about ln 1/P(e) instead of the entropy of
    /// a uniform start. Needs every factor to be a table normalised over one of its variables,
    /// each variable the child of exactly one factor, acyclic (checked; an error otherwise),
    /// and the blocked Gibbs kernel (the base is not fully factorised).
    Network,
    /// The naive mean-field solution (mixed with a little of the uniform distribution,
    /// [`MF_BASE_UNIFORM_MIX`]); falls back to uniform when mean field fails. It starts the
    /// path close to the model, which pays on weakly coupled, unimodal models (on the UAI
    /// DBN and ObjectDetection instances it is several times more accurate per step).
    MeanField,
}

/// How the inverse temperatures are spaced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// `beta_k = k / K`.
    Linear,
    /// Sigmoidal spacing (Grosse et al. 2015): `beta_k ∝ sigmoid(delta (2k/K - 1))`, rescaled to
    /// [0, 1]; denser at both ends.
    Sigmoid {
        /// Steepness (4 is a common choice).
        delta: f64,
    },
    /// Adaptive: a pilot run of a few particles (its own RNG streams) chooses each next beta so
    /// that the conditional effective sample size of the incremental weights stays at
    /// `target_cess` (a fraction in (0, 1)); the resulting curve (beta against step fraction) is
    /// resampled to K steps and fixed for the main run, so the final estimate stays unbiased.
    /// The default, with target 0.999.
    Adaptive {
        /// Conditional ESS fraction to hold per pilot step, in (0, 1).
        target_cess: f64,
    },
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::Adaptive { target_cess: 0.999 }
    }
}

/// Which MCMC kernel moves the particles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AisKernel {
    /// The default: [`AisKernel::BlockGibbs`] on models with zero entries, single-site
    /// systematic Gibbs ([`AisKernel::Gibbs`]) on the others.
    #[default]
    Auto,
    /// Single-site Gibbs, systematic scan.
    Gibbs,
    /// Blocked Gibbs ([`crate::sample::block::BlockGibbs`]): blocks of variables tied by zero
    /// entries drawn exactly from their tempered conditional, so particles can move across the
    /// model's deterministic relations.
    BlockGibbs,
    /// Chromatic Gibbs: each colour class updated in parallel (for large grids with few
    /// particles).
    ChromaticGibbs,
    /// Single-site Metropolis-Hastings.
    MetropolisHastings,
}

/// Options of [`ais`], [`reverse_ais`] and [`bdmc`].
#[derive(Debug, Clone, PartialEq)]
pub struct AisOptions {
    /// Number of particles N (default 128).
    pub particles: usize,
    /// Number of intermediate distributions K (default 1000).
    pub steps: usize,
    /// MCMC sweeps per intermediate distribution (default 1).
    pub sweeps: usize,
    /// Spacing of the betas (default adaptive).
    pub schedule: Schedule,
    /// Base distribution (default uniform).
    pub base: Base,
    /// Transition kernel (default Gibbs).
    pub kernel: AisKernel,
    /// Seed: particle i draws from `chain_rng(seed, i)`.
    pub seed: u64,
    /// Independent replicates: the particles are split into this many groups and each group's
    /// log Z-hat is reported too (default 1 = off).
    pub replicates: usize,
    /// Record per-temperature diagnostics (ESS and log-weight variance at up to 100 betas).
    pub diagnostics: bool,
    /// Time budget, a hard deadline for the whole call (pilot included). With a limit, a timing
    /// probe fits the number of steps: raised to use about 60% of the budget, or lowered (to at
    /// least 10) when the asked particles would not finish in 80% of it; particles run in
    /// batches of 32, and batches keep starting while the next one is expected to finish, so the
    /// rest of the budget buys more particles. A batch the deadline interrupts is dropped whole
    /// (the count never depends on the weights, so the estimate stays unbiased); fewer than two
    /// finished particles is [`Error::TimeLimit`]. [`AisResult::time_limited`] says when the
    /// budget cut the run; the result then depends on the machine's speed. `None` = exactly
    /// `particles` and `steps`, reproducible for any number of threads.
    pub time_limit: Option<Duration>,
    /// Memory limit in bytes for the particle states and the path (checked before anything is
    /// allocated; default [`crate::limits::default_memory_limit`]).
    pub memory_limit: f64,
}

impl AisOptions {
    /// These options with the time limit set to what is left of `deadline` (unchanged without
    /// one).
    pub fn with_deadline(&self, deadline: Deadline) -> AisOptions {
        match deadline.remaining() {
            None => self.clone(),
            Some(left) => AisOptions {
                time_limit: Some(left),
                ..self.clone()
            },
        }
    }
}

impl Default for AisOptions {
    fn default() -> Self {
        AisOptions {
            particles: 128,
            steps: 1000,
            sweeps: 1,
            schedule: Schedule::default(),
            base: Base::default(),
            kernel: AisKernel::default(),
            seed: 0,
            replicates: 1,
            diagnostics: false,
            time_limit: None,
            memory_limit: crate::limits::default_memory_limit(),
        }
    }
}

/// Weight statistics at one inverse temperature.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TemperatureDiag {
    /// Inverse temperature.
    pub beta: f64,
    /// Running log Z estimate at this beta (log-mean-exp of the log weights so far).
    pub log_z: f64,
    /// Kish effective sample size of the weights so far.
    pub ess: f64,
    /// Variance of the log weights so far.
    pub log_weight_var: f64,
}

/// The result of an AIS (or reverse AIS) run.
#[derive(Debug, Clone, PartialEq)]
pub struct AisResult {
    /// Estimate of ln Z: log-mean-exp of the log weights (forward), or minus the log-mean-exp
    /// of the reverse log weights (reverse AIS).
    pub log_z: f64,
    /// Standard error of `log_z` (delta method: sd(w) / (sqrt(N) mean(w)), in log space).
    pub std_err: f64,
    /// Kish effective sample size of the weights.
    pub ess: f64,
    /// Variance of the log weights.
    pub log_weight_var: f64,
    /// Mean of the log weights (forward: a lower bound on ln Z in expectation that does not
    /// depend on N; reverse: minus an upper bound).
    pub mean_log_weight: f64,
    /// Log weight of every particle, in particle order (`-inf` for particles that reached a
    /// zero-probability state).
    pub log_weights: Vec<f64>,
    /// Particles that reached a state of probability zero.
    pub dead: usize,
    /// log Z-hat of each replicate group, when `replicates > 1`.
    pub replicate_log_z: Vec<f64>,
    /// The betas used (K + 1 values from 0 to 1).
    pub betas: Vec<f64>,
    /// Per-temperature diagnostics (forward runs with `diagnostics` on).
    pub per_temperature: Vec<TemperatureDiag>,
    /// Base actually used ([`Base::Auto`] resolved; mean field falls back to uniform when it
    /// fails).
    pub base: Base,
    /// Kernel actually used ([`AisKernel::Auto`] resolved).
    pub kernel: AisKernel,
    /// Single-site updates made.
    pub updates: u64,
    /// Wall-clock seconds (including the pilot and the mean-field base).
    pub seconds: f64,
    /// True when the time limit changed the run: fewer particles than asked for, or fewer
    /// steps (the fields above then describe what actually ran: `log_weights.len()` particles
    /// and `betas.len() - 1` steps).
    pub time_limited: bool,
}

impl AisResult {
    /// As a [`LogZEstimate`] (kind stochastic; no bounds).
    pub fn estimate(&self) -> LogZEstimate {
        LogZEstimate {
            log_z: self.log_z,
            std_err: Some(self.std_err),
            lower: None,
            upper: None,
            ess: Some(self.ess),
            kind: EstimateKind::Stochastic,
        }
    }
}

/// The BDMC sandwich: forward AIS (stochastic lower bound) and reverse AIS from exact samples
/// (stochastic upper bound).
#[derive(Debug, Clone, PartialEq)]
pub struct Bdmc {
    /// Forward run.
    pub forward: AisResult,
    /// Reverse run.
    pub reverse: AisResult,
    /// Stochastic lower bound on ln Z (in expectation): `forward.log_z`.
    pub lower: f64,
    /// Stochastic upper bound on ln Z (in expectation): `reverse.log_z`.
    pub upper: f64,
    /// Seconds for both runs.
    pub seconds: f64,
}

// ---------------------------------------------------------------------------------------------
// Set-up shared by forward and reverse runs
// ---------------------------------------------------------------------------------------------

/// The path: base log probabilities, the clamped template state, the free variables.
struct PathSetup {
    /// Normalised base log probabilities per variable (clamped variables: zeros, unused).
    base_lp: Vec<Vec<f64>>,
    /// Uniform base: the kernel needs no base term (a constant drops out of the conditionals).
    uniform: bool,
    base: Base,
    /// Evidence and one-state variables at their state, free variables at 0.
    template: Vec<usize>,
    free: Vec<usize>,
    /// Per factor: the smallest finite log entry (the soft value of its zeros is this minus the
    /// penalty); `None` when the model has no zero entries (the path is then a plain geometric one).
    fac_min: Option<Vec<f64>>,
    /// The network base ([`Base::Network`]), when used.
    net: Option<NetBase>,
    /// Whether the model has zero entries (any factor, not only those the path softens).
    model_zeros: bool,
}

impl PathSetup {
    fn new(
        fg: &FactorGraph,
        ev: &Evidence,
        base: Base,
        kernel: AisKernel,
        time_limit: Option<Duration>,
    ) -> Result<Self> {
        let n = fg.num_vars();
        if ev.as_slice().len() > n {
            return Err(Error::InvalidArgument(format!(
                "evidence is for {} variables but the model has {n}",
                ev.as_slice().len()
            )));
        }
        let cards = fg.cards();
        let mut template = vec![0usize; n];
        let mut free = Vec::new();
        for i in 0..n {
            match ev.get(crate::var::VarId(i as u32)) {
                Some(s) => {
                    if s >= cards[i] {
                        return Err(Error::InvalidArgument(format!(
                            "evidence state {s} of variable {} is out of range",
                            fg.vars()[i].name
                        )));
                    }
                    template[i] = s
                }
                None if cards[i] > 1 => free.push(i),
                None => {}
            }
        }
        let uniform_lp = |i: usize| vec![-(cards[i] as f64).ln(); cards[i]];
        let mut base_lp: Vec<Vec<f64>> = (0..n).map(|i| vec![0.0; cards[i]]).collect();
        for &i in &free {
            base_lp[i] = uniform_lp(i);
        }
        let mut used = Base::Uniform;
        if base == Base::MeanField && !free.is_empty() {
            let mut mf = MeanField::default();
            let mut stop = StopRule::new(200, 1e-6);
            stop.max_time = Some(time_limit.map_or(Duration::from_secs(10), |t| t / 10));
            mf.stop = stop;
            match mf.run(fg, ev) {
                Ok(r) => {
                    for &i in &free {
                        let q = &r.marginals.log_marginals[i];
                        let u = MF_BASE_UNIFORM_MIX / cards[i] as f64;
                        base_lp[i] = q
                            .iter()
                            .map(|&lq| ((1.0 - MF_BASE_UNIFORM_MIX) * num::exp(lq) + u).ln())
                            .collect();
                        // renormalise exactly
                        let z = num::log_sum_exp(&base_lp[i]);
                        base_lp[i].iter_mut().for_each(|l| *l -= z);
                    }
                    used = Base::MeanField;
                }
                Err(e @ Error::ZeroProbabilityEvidence) => return Err(e),
                Err(_) => {}
            }
        }
        // validates the evidence (a factor zero everywhere under it is a typed error)
        Gibbs::new(fg, ev, &GibbsOptions::default())?;
        let has_zeros = fg
            .factors()
            .iter()
            .any(|f| f.log_values().contains(&f64::NEG_INFINITY));
        let model_zeros = has_zeros;
        let block = resolve_kernel(kernel, has_zeros) == AisKernel::BlockGibbs;
        let net = match base {
            Base::Network if !block => {
                return Err(Error::InvalidArgument(
                    "the network base needs the blocked Gibbs kernel".into(),
                ))
            }
            Base::Network => Some(NetBase::new(fg, ev).ok_or_else(|| {
                Error::InvalidArgument(
                    "the network base needs a Bayesian network: every factor a table \
                     normalised over one of its variables, each variable the child of exactly \
                     one factor, no cycles"
                        .into(),
                )
            })?),
            Base::Auto if block && has_zeros => NetBase::new(fg, ev),
            _ => None,
        };
        if net.is_some() {
            used = Base::Network;
        }
        // the zeros that the path softens: every zero, or only the evidence factors' zeros
        // when the base is the network (the others are zeros of the base too)
        let has_zeros = match &net {
            Some(nb) => fg
                .factors()
                .iter()
                .zip(&nb.evidence_factor)
                .any(|(f, &e)| e && f.log_values().contains(&f64::NEG_INFINITY)),
            None => has_zeros,
        };
        let fac_min = has_zeros.then(|| {
            fg.factors()
                .iter()
                .map(|f| {
                    f.log_values()
                        .iter()
                        .copied()
                        .filter(|l| l.is_finite())
                        .fold(f64::INFINITY, f64::min)
                        .min(0.0)
                })
                .collect()
        });
        Ok(PathSetup {
            base_lp,
            uniform: used != Base::MeanField,
            net,
            model_zeros,
            base: used,
            template,
            free,
            fac_min,
        })
    }

    /// The kernel type `kind` stands for on this model (the network base always runs blocked
    /// Gibbs: it is the only kernel that targets a base that is not fully factorised).
    fn kernel(&self, kind: AisKernel) -> AisKernel {
        if self.net.is_some() {
            AisKernel::BlockGibbs
        } else {
            resolve_kernel(kind, self.model_zeros)
        }
    }

    /// The model with every zero entry of factor f replaced by `fac_min[f] - penalty`.
    fn softened(&self, fg: &FactorGraph, penalty: f64) -> Result<FactorGraph> {
        let mins = self
            .fac_min
            .as_ref()
            .expect("softening a model without zeros");
        let factors = fg
            .factors()
            .iter()
            .zip(mins)
            .enumerate()
            .map(|(k, (f, &m))| {
                let soft = self.net.as_ref().is_none_or(|nb| nb.evidence_factor[k]);
                let vals: Vec<f64> = f
                    .log_values()
                    .iter()
                    .map(|&l| {
                        if l == f64::NEG_INFINITY && soft {
                            m - penalty
                        } else {
                            l
                        }
                    })
                    .collect();
                crate::factor::TableFactor::new(f.scope().to_vec(), f.cards().to_vec(), vals)
            })
            .collect::<Result<Vec<_>>>()?;
        FactorGraph::new(fg.vars().to_vec(), factors)
    }

    /// `(ln p0(x), sum of finite factor logs, sum over zero entries of fac_min, zero entries)`.
    fn parts(&self, fg: &FactorGraph, x: &[usize]) -> Parts {
        let lp0 = match &self.net {
            Some(nb) => nb.log_p0(x),
            None => self.free.iter().map(|&i| self.base_lp[i][x[i]]).sum(),
        };
        let mut fin = 0.0;
        let mut zmin = 0.0;
        let mut nz = 0u32;
        for (k, f) in fg.factors().iter().enumerate() {
            let l = f.log_value(x);
            if l == f64::NEG_INFINITY && self.net.as_ref().is_some_and(|nb| !nb.evidence_factor[k])
            {
                // a zero of the base as well: the path never visits it
                fin = f64::NEG_INFINITY;
            } else if l == f64::NEG_INFINITY {
                nz += 1;
                if let Some(m) = &self.fac_min {
                    zmin += m[k];
                }
            } else {
                fin += l;
            }
        }
        Parts { lp0, fin, zmin, nz }
    }

    fn tempering(&self, beta: f64) -> Tempering<'_> {
        Tempering {
            beta,
            base: if self.uniform {
                None
            } else {
                Some(&self.base_lp)
            },
        }
    }

    /// An exact draw from the base.
    fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<usize> {
        let mut x = self.template.clone();
        if let Some(nb) = &self.net {
            nb.draw(&mut x, rng);
            return x;
        }
        for &i in &self.free {
            let u: f64 = rng.random();
            let lp = &self.base_lp[i];
            let mut acc = 0.0;
            let mut s = lp.len() - 1;
            for (k, &l) in lp.iter().enumerate() {
                acc += num::exp(l);
                if u < acc {
                    s = k;
                    break;
                }
            }
            x[i] = s;
        }
        x
    }
}

/// Largest bucket table of a cluster block of the network base (see `NetBase::root_blocks`).
const NET_BLOCK_TABLE: usize = 4096;

/// The network base of [`Base::Network`]: the Bayesian network behind a factor graph whose
/// factors are all conditional probability tables, with the evidence clamped.
struct NetBase {
    /// Per factor: is its child observed (its table is then the evidence likelihood)?
    evidence_factor: Vec<bool>,
    /// Per factor with a free child: its table normalised exactly over the child.
    norm: Vec<Option<crate::factor::TableFactor>>,
    /// Factors with a free child, parents first: (factor, position of the child in its scope).
    order: Vec<(usize, usize)>,
    /// The child variable of every factor.
    child: Vec<usize>,
}

impl NetBase {
    /// The network, if every factor is a table normalised over one of its variables (within
    /// [`num::tol::CPT_SUM`]), every variable is the child of exactly one factor, and the
    /// parent relation has no cycle.
    fn new(fg: &FactorGraph, ev: &Evidence) -> Option<NetBase> {
        let n = fg.num_vars();
        let factors = fg.factors();
        if factors.len() != n {
            return None;
        }
        let strides = |f: &crate::factor::TableFactor| -> Vec<usize> {
            let c = f.cards();
            let mut st = vec![1usize; c.len()];
            for j in (0..c.len().saturating_sub(1)).rev() {
                st[j] = st[j + 1] * c[j + 1];
            }
            st
        };
        // child candidates of each factor
        let normalised_over = |f: &crate::factor::TableFactor, j: usize| -> bool {
            let st = strides(f);
            let c = f.cards();
            let l = f.log_values();
            (0..l.len()).filter(|&i| (i / st[j]) % c[j] == 0).all(|i| {
                let sum: f64 = (0..c[j]).map(|a| num::exp(l[i + a * st[j]])).sum();
                (sum - 1.0).abs() <= num::tol::CPT_SUM
            })
        };
        let cands: Vec<Vec<usize>> = factors
            .iter()
            .map(|f| {
                (0..f.scope().len())
                    .filter(|&j| normalised_over(f, j))
                    .collect()
            })
            .collect();
        let mut by_count: Vec<usize> = (0..factors.len()).collect();
        by_count.sort_by_key(|&k| cands[k].len());
        let mut child_pos = vec![usize::MAX; factors.len()];
        let mut taken = vec![false; n];
        for &k in &by_count {
            let j = *cands[k]
                .iter()
                .find(|&&j| !taken[factors[k].scope()[j].index()])?;
            taken[factors[k].scope()[j].index()] = true;
            child_pos[k] = j;
        }
        // topological order (Kahn) over factors by their children
        let child = |k: usize| factors[k].scope()[child_pos[k]].index();
        let mut fac_of = vec![0usize; n];
        for k in 0..factors.len() {
            fac_of[child(k)] = k;
        }
        let mut indeg = vec![0usize; factors.len()];
        let mut kids: Vec<Vec<usize>> = vec![Vec::new(); factors.len()];
        for (k, f) in factors.iter().enumerate() {
            for (j, v) in f.scope().iter().enumerate() {
                if j != child_pos[k] {
                    indeg[k] += 1;
                    kids[fac_of[v.index()]].push(k);
                }
            }
        }
        let mut queue: Vec<usize> = (0..factors.len()).filter(|&k| indeg[k] == 0).collect();
        let mut topo = Vec::with_capacity(factors.len());
        while let Some(k) = queue.pop() {
            topo.push(k);
            for &c in &kids[k] {
                indeg[c] -= 1;
                if indeg[c] == 0 {
                    queue.push(c);
                }
            }
        }
        if topo.len() != factors.len() {
            return None;
        }
        let evidence_factor: Vec<bool> = (0..factors.len())
            .map(|k| ev.get(crate::var::VarId(child(k) as u32)).is_some())
            .collect();
        let mut norm = vec![None; factors.len()];
        for (k, f) in factors.iter().enumerate() {
            if evidence_factor[k] {
                continue;
            }
            let j = child_pos[k];
            let st = strides(f);
            let c = f.cards();
            let mut l = f.log_values().to_vec();
            for i in 0..l.len() {
                if (i / st[j]) % c[j] != 0 {
                    continue;
                }
                let col: Vec<f64> = (0..c[j]).map(|a| l[i + a * st[j]]).collect();
                let z = num::log_sum_exp(&col);
                if !z.is_finite() {
                    return None;
                }
                for a in 0..c[j] {
                    l[i + a * st[j]] -= z;
                }
            }
            norm[k] =
                Some(crate::factor::TableFactor::new(f.scope().to_vec(), c.to_vec(), l).ok()?);
        }
        let order = topo
            .into_iter()
            .filter(|&k| !evidence_factor[k])
            .map(|k| (k, child_pos[k]))
            .collect();
        let child = (0..factors.len()).map(child).collect();
        Some(NetBase {
            evidence_factor,
            norm,
            order,
            child,
        })
    }

    /// Blocks for the blocked Gibbs kernel that follow the network's deterministic parts:
    /// every free variable whose own table has no zeros (a disease) gets a block with its
    /// descendants reached through free variables whose tables have zeros (in a noisy-OR
    /// network written as chains of OR gates: the part of every chain below the disease's
    /// link, down to the finding), so that switching it re-draws, in one exact move, what it
    /// determines.
    fn root_blocks(&self, fg: &FactorGraph, ev: &Evidence) -> Vec<Vec<u32>> {
        let n = fg.num_vars();
        let free = |v: usize| ev.get(crate::var::VarId(v as u32)).is_none();
        let has_zero: Vec<bool> = fg
            .factors()
            .iter()
            .map(|f| f.log_values().contains(&f64::NEG_INFINITY))
            .collect();
        let mut det = vec![false; n];
        for (k, &c) in self.child.iter().enumerate() {
            det[c] = has_zero[k] && free(c);
        }
        // clusters: deterministic free variables joined along the factors with zeros
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        for (k, f) in fg.factors().iter().enumerate() {
            if !has_zero[k] {
                continue;
            }
            let d: Vec<usize> = f
                .scope()
                .iter()
                .map(|v| v.index())
                .filter(|&v| det[v])
                .collect();
            for w in d.windows(2) {
                let (a, b) = (find(&mut parent, w[0]), find(&mut parent, w[1]));
                parent[a] = b;
            }
        }
        let cards = fg.cards();
        let var_factors = fg.var_factors();
        let is_root = |v: usize| !det[v] && free(v) && cards[v] >= 2;
        // the roots next to each cluster, and the clusters next to each root
        let mut cluster_members: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut cluster_roots: Vec<std::collections::BTreeSet<u32>> =
            vec![std::collections::BTreeSet::new(); n];
        let mut root_clusters: Vec<std::collections::BTreeSet<usize>> =
            vec![std::collections::BTreeSet::new(); n];
        for v in 0..n {
            if !det[v] {
                continue;
            }
            let c = find(&mut parent, v);
            cluster_members[c].push(v as u32);
            for &k in &var_factors[v] {
                for w in fg.factors()[k].scope() {
                    if is_root(w.index()) {
                        cluster_roots[c].insert(w.0);
                        root_clusters[w.index()].insert(c);
                    }
                }
            }
        }
        // one block per cluster with its roots, when its elimination stays small
        let mut out = Vec::new();
        let mut whole = vec![false; n];
        for c in 0..n {
            if cluster_members[c].is_empty() {
                continue;
            }
            let mut b = cluster_members[c].clone();
            b.extend(cluster_roots[c].iter().copied());
            if crate::sample::block::fits(fg, &b, NET_BLOCK_TABLE) {
                whole[c] = true;
                out.push(b);
            }
        }
        // children along the network's arcs
        let mut kids: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (k, f) in fg.factors().iter().enumerate() {
            let c = self.child[k];
            for v in f.scope() {
                if v.index() != c {
                    kids[v.index()].push(c);
                }
            }
        }
        let mut mark = vec![usize::MAX; n];
        for r in 0..n {
            if !is_root(r) {
                continue;
            }
            let rc = &root_clusters[r];
            if rc.len() <= 1 && rc.iter().all(|&c| whole[c]) {
                continue; // its cluster's block moves it
            }
            // the deterministic descendants of r (whose tables have zeros), breadth-first
            let mut b = vec![r as u32];
            mark[r] = r;
            let mut i = 0;
            while i < b.len() {
                let v = b[i] as usize;
                i += 1;
                for &c in &kids[v] {
                    if det[c] && mark[c] != r {
                        mark[c] = r;
                        b.push(c as u32);
                    }
                }
            }
            if b.len() > 1 {
                out.push(b);
            }
        }
        out
    }

    /// `ln p0(x)`.
    fn log_p0(&self, x: &[usize]) -> f64 {
        self.norm.iter().flatten().map(|f| f.log_value(x)).sum()
    }

    /// Forward sampling of the free variables (evidence already in `x`).
    fn draw<R: Rng + ?Sized>(&self, x: &mut [usize], rng: &mut R) {
        for &(k, j) in &self.order {
            let f = self.norm[k].as_ref().expect("free child");
            let c = f.cards();
            let mut st = 1usize;
            let mut off = 0usize;
            let mut sj = 0usize;
            for (i, v) in f.scope().iter().enumerate().rev() {
                if i == j {
                    sj = st;
                } else {
                    off += x[v.index()] * st;
                }
                st *= c[i];
            }
            let l = f.log_values();
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mut s = c[j] - 1;
            for a in 0..c[j] {
                acc += num::exp(l[off + a * sj]);
                if u < acc {
                    s = a;
                    break;
                }
            }
            x[f.scope()[j].index()] = s;
        }
    }

    /// Flat per-factor log values of the base (the normalised tables; 0 for evidence factors),
    /// in factor order: what the blocked Gibbs kernel mixes with the model's values.
    fn factor_base(&self, fg: &FactorGraph) -> Vec<f64> {
        let mut out = Vec::with_capacity(fg.num_parameters());
        for (k, f) in fg.factors().iter().enumerate() {
            match &self.norm[k] {
                Some(t) => out.extend_from_slice(t.log_values()),
                None => out.extend(std::iter::repeat_n(0.0, f.len())),
            }
        }
        out
    }
}

fn validate(opts: &AisOptions, num_vars: usize) -> Result<()> {
    use crate::limits::check_bytes;
    // particle states (all particles at once without a time limit, batches of 32 with one),
    // their log weights, and the path's points
    let live = batch_size(opts) as f64;
    check_bytes(
        &format!(
            "AIS particle states ({} particles x {num_vars} variables)",
            opts.particles
        ),
        live * (num_vars as f64 * 8.0 + 64.0) + opts.particles as f64 * 8.0,
        opts.memory_limit,
    )?;
    check_bytes(
        &format!("the AIS path ({} steps)", opts.steps),
        (opts.steps as f64 + 1.0) * 48.0,
        opts.memory_limit,
    )?;
    let work = opts.particles as f64 * opts.steps as f64 * opts.sweeps as f64 * num_vars as f64;
    if opts.time_limit.is_none() && work > MAX_UPDATES {
        return Err(Error::InvalidArgument(format!(
            "AIS with {} particles x {} steps x {} sweeps over {num_vars} variables would make \
             {work:.2e} single-site updates (years of computing); ask for less, or give a time \
             limit",
            opts.particles, opts.steps, opts.sweeps
        )));
    }
    if opts.particles < 2 {
        return Err(Error::InvalidArgument(
            "AIS needs at least 2 particles (for a standard error)".into(),
        ));
    }
    if opts.steps == 0 {
        return Err(Error::InvalidArgument("AIS needs at least 1 step".into()));
    }
    if opts.replicates == 0 || opts.replicates > opts.particles {
        return Err(Error::InvalidArgument(format!(
            "replicates must be between 1 and the number of particles ({}), got {}",
            opts.particles, opts.replicates
        )));
    }
    match opts.schedule {
        Schedule::Sigmoid { delta } if !(delta > 0.0 && delta.is_finite()) => {
            Err(Error::InvalidArgument(format!(
                "the sigmoid schedule needs a positive finite delta, got {delta}"
            )))
        }
        Schedule::Adaptive { target_cess } if !(target_cess > 0.0 && target_cess < 1.0) => {
            Err(Error::InvalidArgument(format!(
                "the adaptive schedule needs a target conditional ESS in (0, 1), got {target_cess}"
            )))
        }
        _ => Ok(()),
    }
}

/// Energy parts of one state (see [`PathSetup::parts`]).
#[derive(Debug, Clone, Copy)]
struct Parts {
    lp0: f64,
    fin: f64,
    zmin: f64,
    nz: u32,
}

/// Penalty (nats below a factor's smallest entry) of the zeros in the first half of the path of
/// a model with zeros.
pub const SOFT_PENALTY_START: f64 = 3.0;
/// Penalty reached just before the last step, which makes the zeros hard.
pub const SOFT_PENALTY_END: f64 = 40.0;

/// A point of the path: inverse temperature and zero penalty (`INFINITY` = hard zeros).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    beta: f64,
    penalty: f64,
}

impl Point {
    /// `ln f(x)` at this point.
    fn log_f(&self, p: &Parts) -> f64 {
        let model = if p.nz == 0 {
            p.fin
        } else if self.penalty.is_finite() {
            p.fin + p.zmin - p.nz as f64 * self.penalty
        } else {
            f64::NEG_INFINITY
        };
        if self.beta == 0.0 {
            p.lp0
        } else if self.beta == 1.0 {
            model
        } else {
            (1.0 - self.beta) * p.lp0 + self.beta * model
        }
    }
}

/// Map the path parameter t in [0, 1] to a point: models without zeros anneal beta = t; models
/// with zeros anneal beta from 0 to 1 over t in [0, 1/2] with soft zeros (penalty
/// [`SOFT_PENALTY_START`]), then raise the penalty linearly to [`SOFT_PENALTY_END`] over
/// (1/2, 1), and make the zeros hard at t = 1.
fn point(t: f64, zeros: bool) -> Point {
    if !zeros || t >= 1.0 {
        return Point {
            beta: t.min(1.0),
            penalty: f64::INFINITY,
        };
    }
    if t <= 0.5 {
        Point {
            beta: 2.0 * t,
            penalty: SOFT_PENALTY_START,
        }
    } else {
        Point {
            beta: 1.0,
            penalty: SOFT_PENALTY_START + (SOFT_PENALTY_END - SOFT_PENALTY_START) * (2.0 * t - 1.0),
        }
    }
}

/// Kernel of the chosen type (reverse runs use random scan: a reversible kernel).
enum AnyKernel {
    Gibbs(Gibbs),
    Mh(MetropolisHastings),
    Block(BlockGibbs),
}

impl AnyKernel {
    fn new(fg: &FactorGraph, ev: &Evidence, kind: AisKernel, reversible: bool) -> Result<Self> {
        let scan = match (kind, reversible) {
            (_, true) => Scan::Random,
            (AisKernel::ChromaticGibbs, false) => Scan::Chromatic,
            _ => Scan::Systematic,
        };
        let opts = GibbsOptions {
            scan,
            ..GibbsOptions::default()
        };
        Ok(match kind {
            AisKernel::Gibbs | AisKernel::ChromaticGibbs | AisKernel::Auto => {
                AnyKernel::Gibbs(Gibbs::new(fg, ev, &opts)?)
            }
            AisKernel::BlockGibbs => {
                let o = BlockOptions {
                    random_scan: reversible,
                    ..BlockOptions::default()
                };
                AnyKernel::Block(BlockGibbs::new(fg, ev, &o)?)
            }
            AisKernel::MetropolisHastings => AnyKernel::Mh(MetropolisHastings::new(fg, ev, &opts)?),
        })
    }

    /// What the kernel precomputes once per temperature (blocked Gibbs: tempered tables).
    fn prepare(&self, t: &Tempering<'_>) -> Option<BlockTables> {
        match self {
            AnyKernel::Block(k) => Some(k.tables(t)),
            _ => None,
        }
    }

    fn sweep<R: Rng + ?Sized>(
        &self,
        x: &mut [usize],
        t: &Tempering<'_>,
        prep: Option<&BlockTables>,
        rng: &mut R,
    ) -> u64 {
        match (self, prep) {
            (AnyKernel::Gibbs(k), _) => k.sweep(x, t, rng).updates,
            (AnyKernel::Mh(k), _) => k.sweep(x, t, rng).updates,
            (AnyKernel::Block(k), Some(p)) => k.sweep_with(x, t, p, rng).updates,
            (AnyKernel::Block(k), None) => k.sweep(x, t, rng).updates,
        }
    }
}

/// Kernels by zero penalty (one for the model itself, one per softened model in use).
struct Kernels<'a> {
    fg: &'a FactorGraph,
    ev: &'a Evidence,
    setup: &'a PathSetup,
    /// The kernel type, with [`AisKernel::Auto`] resolved.
    kind: AisKernel,
    reversible: bool,
    hard: Option<AnyKernel>,
    soft: Option<(f64, AnyKernel)>,
    /// The first-phase kernel (penalty SOFT_PENALTY_START) is kept: it serves many steps.
    start: Option<AnyKernel>,
    /// Blocked Gibbs: the kernel of the model itself, whose plan the softened kernels share.
    block: Option<BlockGibbs>,
    /// The network base's factor values (shared by every kernel of the path).
    net_vals: Option<std::sync::Arc<Vec<f64>>>,
}

/// The kernel type [`AisKernel::Auto`] stands for on a model with (or without) zero entries.
pub fn resolve_kernel(kind: AisKernel, has_zeros: bool) -> AisKernel {
    match (kind, has_zeros) {
        (AisKernel::Auto, true) => AisKernel::BlockGibbs,
        (AisKernel::Auto, false) => AisKernel::Gibbs,
        (k, _) => k,
    }
}

impl<'a> Kernels<'a> {
    fn new(
        fg: &'a FactorGraph,
        ev: &'a Evidence,
        setup: &'a PathSetup,
        kind: AisKernel,
        reversible: bool,
    ) -> Self {
        Kernels {
            fg,
            ev,
            setup,
            kind: setup.kernel(kind),
            reversible,
            hard: None,
            soft: None,
            start: None,
            block: None,
            net_vals: None,
        }
    }

    /// A kernel for the model `fg` (the model itself or a softened copy of it).
    fn build(&mut self, fg: &FactorGraph) -> Result<AnyKernel> {
        if self.kind != AisKernel::BlockGibbs {
            return AnyKernel::new(fg, self.ev, self.kind, self.reversible);
        }
        if self.block.is_none() {
            let mut o = BlockOptions {
                random_scan: self.reversible,
                ..BlockOptions::default()
            };
            // with the network base, the blocks that follow the network's deterministic parts
            // do the work; one partition without bridges is enough besides them
            let extra = match &self.setup.net {
                Some(nb) => {
                    o.covers = 1;
                    o.bridge_max = 0;
                    nb.root_blocks(self.fg, self.ev)
                }
                None => Vec::new(),
            };
            self.block = Some(BlockGibbs::with_extra_blocks(self.fg, self.ev, &o, &extra)?);
        }
        let mut k = self.block.as_ref().unwrap().with_values(fg)?;
        if let Some(nb) = &self.setup.net {
            if self.net_vals.is_none() {
                self.net_vals = Some(std::sync::Arc::new(nb.factor_base(self.fg)));
            }
            k = k.with_factor_base(self.net_vals.clone().unwrap());
        }
        Ok(AnyKernel::Block(k))
    }

    fn get(&mut self, penalty: f64) -> Result<&AnyKernel> {
        if !penalty.is_finite() {
            if self.hard.is_none() {
                let fg = self.fg;
                self.hard = Some(self.build(fg)?);
            }
            return Ok(self.hard.as_ref().unwrap());
        }
        if penalty == SOFT_PENALTY_START {
            if self.start.is_none() {
                let soft = self.setup.softened(self.fg, penalty)?;
                self.start = Some(self.build(&soft)?);
            }
            return Ok(self.start.as_ref().unwrap());
        }
        if self.soft.as_ref().is_none_or(|(p, _)| *p != penalty) {
            let soft = self.setup.softened(self.fg, penalty)?;
            let k = self.build(&soft)?;
            self.soft = Some((penalty, k));
        }
        Ok(&self.soft.as_ref().unwrap().1)
    }
}

/// The path parameters of a fixed schedule: K + 1 values, 0 first, 1 last, increasing.
pub fn schedule_betas(schedule: Schedule, steps: usize) -> Vec<f64> {
    let k = steps.max(1);
    let mut b: Vec<f64> = match schedule {
        Schedule::Sigmoid { delta } => {
            let sig = |t: f64| 1.0 / (1.0 + (-delta * (2.0 * t - 1.0)).exp());
            let (lo, hi) = (sig(0.0), sig(1.0));
            (0..=k)
                .map(|i| (sig(i as f64 / k as f64) - lo) / (hi - lo))
                .collect()
        }
        _ => (0..=k).map(|i| i as f64 / k as f64).collect(),
    };
    b[0] = 0.0;
    b[k] = 1.0;
    b
}

/// Log-mean-exp, its delta-method standard error, Kish ESS, log-weight variance and mean.
pub(crate) fn weight_stats(lw: &[f64]) -> (f64, f64, f64, f64, f64) {
    let n = lw.len() as f64;
    let m = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return (
            f64::NEG_INFINITY,
            f64::INFINITY,
            0.0,
            f64::NAN,
            f64::NEG_INFINITY,
        );
    }
    let w: Vec<f64> = lw.iter().map(|&l| num::exp(l - m)).collect();
    let s1: f64 = w.iter().sum();
    let s2: f64 = w.iter().map(|x| x * x).sum();
    let mean = s1 / n;
    let var = if n > 1.0 {
        (s2 - n * mean * mean).max(0.0) / (n - 1.0)
    } else {
        f64::INFINITY
    };
    let log_z = m + mean.ln();
    let se = (var / n).sqrt() / mean;
    let ess = s1 * s1 / s2;
    let (lvar, lmean) = if lw.iter().all(|l| l.is_finite()) {
        let mu = lw.iter().sum::<f64>() / n;
        let v = if n > 1.0 {
            lw.iter().map(|l| (l - mu) * (l - mu)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        (v, mu)
    } else {
        (f64::INFINITY, f64::NEG_INFINITY)
    };
    (log_z, se, ess, lvar, lmean)
}

fn replicates(lw: &[f64], r: usize) -> Vec<f64> {
    if r <= 1 {
        return Vec::new();
    }
    let n = lw.len();
    (0..r)
        .map(|g| {
            let a = g * n / r;
            let b = (g + 1) * n / r;
            let s = &lw[a..b];
            num::log_sum_exp(s) - (s.len() as f64).ln()
        })
        .collect()
}

/// Conditional ESS fraction of the incremental log weights `d` given normalised log weights.
fn cess(lw_norm: &[f64], d: &[f64]) -> f64 {
    let a: Vec<f64> = lw_norm.iter().zip(d).map(|(&l, &x)| l + x).collect();
    let b: Vec<f64> = lw_norm.iter().zip(d).map(|(&l, &x)| l + 2.0 * x).collect();
    let la = num::log_sum_exp(&a);
    if la == f64::NEG_INFINITY {
        return 0.0;
    }
    num::exp(2.0 * la - num::log_sum_exp(&b))
}

/// Largest number of pilot steps of the adaptive schedule.
const MAX_PILOT_STEPS: usize = 20_000;
/// Pilot particles of the adaptive schedule.
const PILOT_PARTICLES: usize = 16;

/// Particles advanced together, step by step.
struct Swarm {
    xs: Vec<Vec<usize>>,
    rngs: Vec<crate::rng::EngineRng>,
    lw: Vec<f64>,
    updates: u64,
}

impl Swarm {
    fn parts(&self, setup: &PathSetup, fg: &FactorGraph) -> Vec<Parts> {
        self.xs.par_iter().map(|x| setup.parts(fg, x)).collect()
    }

    /// Add `ln f_to(x) - ln f_from(x)` to every live particle.
    fn reweight(&mut self, parts: &[Parts], from: Point, to: Point) {
        for (l, p) in self.lw.iter_mut().zip(parts) {
            if *l > f64::NEG_INFINITY {
                *l += to.log_f(p) - from.log_f(p);
                if l.is_nan() {
                    *l = f64::NEG_INFINITY;
                }
            }
        }
    }

    fn transition(
        &mut self,
        kernels: &mut Kernels<'_>,
        at: Point,
        sweeps: usize,
        progress: Option<Progress<'_>>,
    ) -> Result<()> {
        let setup = kernels.setup;
        let k = kernels.get(at.penalty)?;
        let t = setup.tempering(at.beta);
        let prep = k.prepare(&t);
        let prep = prep.as_ref();
        let u: u64 = self
            .xs
            .par_iter_mut()
            .zip(self.rngs.par_iter_mut())
            .zip(self.lw.par_iter())
            .map(|((x, r), &l)| {
                let mut u = 0;
                if l > f64::NEG_INFINITY {
                    for _ in 0..sweeps {
                        u += k.sweep(x, &t, prep, r);
                    }
                }
                u
            })
            .sum();
        self.updates += u;
        if let Some(p) = progress {
            p((sweeps * self.xs.len()) as u64);
        }
        Ok(())
    }
}

/// The adaptive pilot: the curve of path parameters it chose (`None` for fixed schedules or
/// when the pilot failed) and the updates it made.
fn choose_path(
    fg: &FactorGraph,
    setup: &PathSetup,
    kernels: &mut Kernels<'_>,
    opts: &AisOptions,
    deadline: Deadline,
) -> Result<(Option<Vec<f64>>, u64)> {
    let target = match opts.schedule {
        Schedule::Adaptive { target_cess } => target_cess,
        _ => return Ok((None, 0)),
    };
    let zeros = setup.fac_min.is_some();
    let p = PILOT_PARTICLES;
    let mut rngs: Vec<_> = (0..p)
        .map(|i| chain_rng(opts.seed, PILOT_STREAM + i as u64))
        .collect();
    let xs: Vec<Vec<usize>> = rngs.iter_mut().map(|r| setup.draw(r)).collect();
    let mut sw = Swarm {
        xs,
        rngs,
        lw: vec![0.0; p],
        updates: 0,
    };
    let mut ts = vec![0.0];
    let mut t = 0.0;
    while t < 1.0 && ts.len() <= MAX_PILOT_STEPS && !deadline.passed() {
        let parts = sw.parts(setup, fg);
        let z = num::log_sum_exp(&sw.lw);
        if z == f64::NEG_INFINITY {
            break;
        }
        let norm: Vec<f64> = sw.lw.iter().map(|l| l - z).collect();
        let from = point(t, zeros);
        let inc = |t2: f64| -> Vec<f64> {
            let to = point(t2, zeros);
            parts
                .iter()
                .zip(&norm)
                .map(|(pp, &l)| {
                    if l == f64::NEG_INFINITY {
                        0.0
                    } else {
                        let d = to.log_f(pp) - from.log_f(pp);
                        if d.is_nan() {
                            f64::NEG_INFINITY
                        } else {
                            d
                        }
                    }
                })
                .collect()
        };
        let next = if cess(&norm, &inc(1.0)) >= target {
            1.0
        } else {
            // stay within the current phase (the penalty jumps at t = 1/2 and 1)
            let hi0 = if zeros && t < 0.5 { 0.5 } else { 1.0 };
            let (mut lo, mut hi) = (t, hi0);
            if cess(&norm, &inc(hi0)) >= target {
                lo = hi0;
            } else {
                for _ in 0..50 {
                    let mid = 0.5 * (lo + hi);
                    if cess(&norm, &inc(mid)) >= target {
                        lo = mid
                    } else {
                        hi = mid
                    }
                }
            }
            let min_step = 1e-9_f64.max((hi0 - t) * 1e-6);
            if lo - t < min_step {
                (t + min_step).min(hi0)
            } else {
                lo
            }
        };
        let to = point(next, zeros);
        sw.reweight(&parts, from, to);
        t = next;
        ts.push(t);
        if t < 1.0 {
            sw.transition(kernels, to, opts.sweeps, None)?;
        }
    }
    if *ts.last().unwrap() < 1.0 {
        // pilot failed (all particles dead, too many steps, or out of time): sigmoid spacing
        return Ok((None, sw.updates));
    }
    Ok((Some(ts), sw.updates))
}

/// Resample a pilot curve t(j / M) to K steps.
fn resample(ts: &[f64], k: usize) -> Vec<f64> {
    let mcount = ts.len() - 1;
    let mut out: Vec<f64> = (0..=k)
        .map(|j| {
            let u = j as f64 / k as f64 * mcount as f64;
            let i = (u.floor() as usize).min(mcount - 1);
            let f = u - i as f64;
            ts[i] + f * (ts[i + 1] - ts[i])
        })
        .collect();
    out[0] = 0.0;
    out[k] = 1.0;
    out
}

fn checkpoint_steps(k: usize) -> Vec<usize> {
    let c = k.min(100);
    (1..=c).map(|j| (j * k) / c).collect()
}

/// Most particles a time-limited run takes (it stops earlier when the budget is spent).
const MAX_TIMED_PARTICLES: usize = 1 << 20;
/// Most single-site updates an AIS run without a time limit may ask for (about three years at
/// 10^8 updates per second): more is refused as a mistaken option value.
const MAX_UPDATES: f64 = 1e16;
/// Share of the time left that the requested particles may take before the fitting lowers
/// the number of steps.
pub(crate) const LOWER_SHARE: f64 = 0.8;
/// Particles per batch of a time-limited run.
const TIMED_BATCH: usize = 32;
/// Fewest steps the time-limit fitting lowers a schedule to.
pub(crate) const MIN_FITTED_STEPS: usize = 10;
/// Largest number of steps the time-limit fitting chooses.
pub(crate) const MAX_FITTED_STEPS: usize = 1_000_000;
/// Share of the time limit the fitted schedule aims to use.
pub(crate) const FIT_SHARE: f64 = 0.6;

/// Common set-up of forward and reverse runs: the path, and the pilot's updates. With a time
/// limit, the number of steps is raised (never lowered) so that all particles should take
/// about [`FIT_SHARE`] of what is left of the limit, judged from a timing probe.
fn prepare(
    fg: &FactorGraph,
    ev: &Evidence,
    opts: &AisOptions,
    setup: &PathSetup,
    deadline: Deadline,
) -> Result<(Vec<Point>, u64)> {
    let mut kernels = Kernels::new(fg, ev, setup, opts.kernel, false);
    // the pilot may take at most a quarter of the budget (then the sigmoid spacing is used)
    let (curve, mut updates) = choose_path(fg, setup, &mut kernels, opts, deadline.share(0.25))?;
    let mut steps = opts.steps;
    if let Some(limit) = deadline.remaining() {
        // probe: a few transitions of a few particles at the middle of the path
        let zeros = setup.fac_min.is_some();
        // a batch of the size the run uses, so that per-step overheads are measured too
        let probe_n = TIMED_BATCH;
        let mut rngs: Vec<_> = (0..probe_n)
            .map(|i| chain_rng(opts.seed, PILOT_STREAM + 1000 + i as u64))
            .collect();
        let xs = rngs.iter_mut().map(|r| setup.draw(r)).collect();
        let mut sw = Swarm {
            xs,
            rngs,
            lw: vec![0.0; probe_n],
            updates: 0,
        };
        let at = point(0.25, zeros);
        sw.transition(&mut kernels, at, opts.sweeps, None)?; // builds the kernel
        let tp = Instant::now();
        let mut rounds = 0usize;
        while (rounds < 4 && !deadline.passed())
            || (tp.elapsed().as_secs_f64() < 0.05 && rounds < 1000)
        {
            let parts = sw.parts(setup, fg);
            sw.reweight(&parts, at, at);
            sw.transition(&mut kernels, at, opts.sweeps, None)?;
            rounds += 1;
        }
        updates += sw.updates;
        // seconds per particle-step with all threads busy
        let per = tp.elapsed().as_secs_f64() / (rounds.max(1) * probe_n) as f64;
        let left = limit.as_secs_f64() - tp.elapsed().as_secs_f64();
        if left > 0.0 && per > 0.0 {
            // raised to use the budget, or lowered (to at least MIN_FITTED_STEPS) so that the
            // requested particles can finish within it
            let fit = |share: f64| (share * left / (per * opts.particles as f64)) as usize;
            if fit(FIT_SHARE) >= steps {
                steps = fit(FIT_SHARE).min(MAX_FITTED_STEPS).max(steps);
            } else if fit(LOWER_SHARE) < steps {
                steps = fit(LOWER_SHARE).max(MIN_FITTED_STEPS).min(steps);
            }
        } else {
            steps = steps.min(MIN_FITTED_STEPS);
        }
    }
    let ts = match curve {
        Some(c) => resample(&c, steps),
        None => {
            let sched = match opts.schedule {
                Schedule::Adaptive { .. } => Schedule::Sigmoid { delta: 4.0 },
                s => s,
            };
            schedule_betas(sched, steps)
        }
    };
    let zeros = setup.fac_min.is_some();
    Ok((ts.iter().map(|&t| point(t, zeros)).collect(), updates))
}

/// Batch size between time-limit checks: all particles without a limit, else 32 (fixed, so
/// the particles that run do not depend on the number of threads).
fn batch_size(opts: &AisOptions) -> usize {
    if opts.time_limit.is_some() {
        TIMED_BATCH
    } else {
        opts.particles
    }
}

/// Annealed importance sampling estimate of ln Z of `fg` under `ev` (for a Bayesian network,
/// ln P(evidence) of its factor graph). See the module docs.
///
/// Models with zero entries are annealed in two phases: first towards the model with every
/// zero softened to a finite penalty, then the penalty is raised, and the last step makes the
/// zeros hard (particles still on a zero then get weight zero). The path stays exact: every
/// intermediate distribution is a proper (unnormalised) density whose normaliser AIS tracks.
///
/// Errors: invalid options; evidence that does not fit the model or makes a factor zero
/// everywhere; every particle ending on a zero-probability state (the error suggests more
/// steps, or exact inference).
pub fn ais(
    fg: &FactorGraph,
    ev: &Evidence,
    opts: &AisOptions,
    progress: Option<Progress<'_>>,
) -> Result<AisResult> {
    validate(opts, fg.num_vars())?;
    let t0 = Instant::now();
    let deadline = Deadline::from(t0, opts.time_limit);
    let setup = PathSetup::new(fg, ev, opts.base, opts.kernel, opts.time_limit)?;
    let (path, pilot_updates) = prepare(fg, ev, opts, &setup, deadline)?;
    let k = path.len() - 1;
    let checkpoints = if opts.diagnostics {
        checkpoint_steps(k)
    } else {
        Vec::new()
    };
    let mut kernels = Kernels::new(fg, ev, &setup, opts.kernel, false);
    let mut log_weights: Vec<f64> = Vec::with_capacity(opts.particles);
    let mut cp_weights: Vec<Vec<f64>> = vec![Vec::new(); checkpoints.len()];
    let mut updates = pilot_updates;
    let bs = batch_size(opts);
    let mut start = 0;
    let run_start = Instant::now();
    let mut batches = 0u32;
    let wanted = |start: usize, batches: u32| match opts.time_limit {
        None => start < opts.particles,
        Some(tl) => {
            let elapsed = t0.elapsed();
            if start < opts.particles {
                // the minimum, unless the budget is already spent
                elapsed < tl
            } else {
                // more particles while the next batch should fit in the budget
                let per_batch = run_start.elapsed() / batches.max(1);
                start < MAX_TIMED_PARTICLES && elapsed + per_batch <= tl
            }
        }
    };
    // a batch still running when the deadline passes is dropped whole (its particles have not
    // reached the model), so the estimate uses finished particles only
    let mut cut = false;
    'batches: while wanted(start, batches) {
        let end = if start < opts.particles {
            (start + bs).min(opts.particles)
        } else {
            start + bs
        };
        let mut rngs: Vec<_> = (start..end)
            .map(|i| chain_rng(opts.seed, i as u64))
            .collect();
        let xs = rngs.iter_mut().map(|r| setup.draw(r)).collect();
        let mut sw = Swarm {
            xs,
            rngs,
            lw: vec![0.0; end - start],
            updates: 0,
        };
        let mut next_cp = 0;
        for step in 1..=k {
            if deadline.passed() {
                cut = true;
                break 'batches;
            }
            let parts = sw.parts(&setup, fg);
            sw.reweight(&parts, path[step - 1], path[step]);
            if step < k {
                sw.transition(&mut kernels, path[step], opts.sweeps, progress)?;
            }
            if next_cp < checkpoints.len() && checkpoints[next_cp] == step {
                cp_weights[next_cp].extend_from_slice(&sw.lw);
                next_cp += 1;
            }
        }
        updates += sw.updates;
        log_weights.extend(sw.lw);
        start = end;
        batches += 1;
    }
    cut |= log_weights.len() < opts.particles || k < opts.steps;
    if log_weights.len() < 2 {
        return Err(Error::TimeLimit {
            what: format!(
                "two AIS particles could finish ({k} steps of a batch of {bs} particles did not \
                 fit)"
            ),
            limit_seconds: opts.time_limit.map_or(0.0, |t| t.as_secs_f64()),
        });
    }
    for w in cp_weights.iter_mut() {
        w.truncate(log_weights.len());
    }
    let dead = log_weights
        .iter()
        .filter(|l| **l == f64::NEG_INFINITY)
        .count();
    if dead == log_weights.len() {
        return Err(Error::AllWeightsZero {
            method: "AIS",
            count: log_weights.len(),
            what: "particles",
            hint: "they ended on states of probability zero (the model's zeros separate \
                   regions the sampler could not reach); try more steps or particles, or exact \
                   inference if the width allows"
                .into(),
        });
    }
    let (log_z, std_err, ess, log_weight_var, mean_log_weight) = weight_stats(&log_weights);
    let replicate_log_z = replicates(&log_weights, opts.replicates);
    let per_temperature = checkpoints
        .iter()
        .zip(&cp_weights)
        .map(|(&step, lw)| {
            let (lz, _, ess, lvar, _) = weight_stats(lw);
            TemperatureDiag {
                beta: path[step].beta,
                log_z: lz,
                ess,
                log_weight_var: lvar,
            }
        })
        .collect();
    Ok(AisResult {
        log_z,
        std_err,
        ess,
        log_weight_var,
        mean_log_weight,
        log_weights,
        dead,
        replicate_log_z,
        betas: path.iter().map(|p| p.beta).collect(),
        per_temperature,
        base: setup.base,
        kernel: setup.kernel(opts.kernel),
        updates,
        seconds: t0.elapsed().as_secs_f64(),
        time_limited: cut,
    })
}

/// Reverse AIS from exact draws of the model: each state in `exact` (one per particle, cycled
/// if there are fewer states than particles) runs the path from the model back to the base
/// with a reversible (random-scan) kernel. `log_z` of the result is `-ln mean(w_rev)`, a
/// stochastic upper bound on ln Z in expectation. The path (schedule, base) is the one [`ais`]
/// uses with the same options.
///
/// Errors: as [`ais`]; a state that does not fit the model or evidence, or has probability
/// zero.
pub fn reverse_ais(
    fg: &FactorGraph,
    ev: &Evidence,
    opts: &AisOptions,
    exact: &[Vec<usize>],
    progress: Option<Progress<'_>>,
) -> Result<AisResult> {
    validate(opts, fg.num_vars())?;
    if exact.is_empty() {
        return Err(Error::InvalidArgument(
            "reverse AIS needs at least one exact sample of the model".into(),
        ));
    }
    let t0 = Instant::now();
    let deadline = Deadline::from(t0, opts.time_limit);
    let setup = PathSetup::new(fg, ev, opts.base, opts.kernel, opts.time_limit)?;
    let cards = fg.cards();
    for (j, x) in exact.iter().enumerate() {
        let ok = x.len() == cards.len()
            && x.iter().zip(&cards).all(|(s, c)| s < c)
            && ev.iter().all(|(v, s)| x[v.index()] == s);
        if !ok || fg.log_potential(x) == f64::NEG_INFINITY {
            return Err(Error::InvalidArgument(format!(
                "exact sample {j} does not fit the model and evidence or has probability zero"
            )));
        }
    }
    let (path, pilot_updates) = prepare(fg, ev, opts, &setup, deadline)?;
    let k = path.len() - 1;
    let mut kernels = Kernels::new(fg, ev, &setup, opts.kernel, true);
    let mut log_weights: Vec<f64> = Vec::with_capacity(opts.particles);
    let mut updates = pilot_updates;
    let bs = batch_size(opts);
    let mut start = 0;
    let mut cut = false;
    'batches: while start < opts.particles {
        let end = (start + bs).min(opts.particles);
        let rngs: Vec<_> = (start..end)
            .map(|i| chain_rng(opts.seed, REVERSE_STREAM + i as u64))
            .collect();
        let xs = (start..end)
            .map(|i| exact[i % exact.len()].clone())
            .collect();
        let mut sw = Swarm {
            xs,
            rngs,
            lw: vec![0.0; end - start],
            updates: 0,
        };
        for step in (1..=k).rev() {
            if deadline.passed() {
                cut = true;
                break 'batches;
            }
            let parts = sw.parts(&setup, fg);
            sw.reweight(&parts, path[step], path[step - 1]);
            if step > 1 {
                sw.transition(&mut kernels, path[step - 1], opts.sweeps, progress)?;
            }
        }
        updates += sw.updates;
        log_weights.extend(sw.lw);
        start = end;
        if deadline.passed() {
            break;
        }
    }
    cut |= log_weights.len() < opts.particles || k < opts.steps;
    if log_weights.len() < 2 {
        return Err(Error::TimeLimit {
            what: format!(
                "two reverse-AIS particles could finish ({k} steps of a batch of {bs} particles \
                 did not fit)"
            ),
            limit_seconds: opts.time_limit.map_or(0.0, |t| t.as_secs_f64()),
        });
    }
    let (lme, std_err, ess, log_weight_var, mean_log_weight) = weight_stats(&log_weights);
    let replicate_log_z = replicates(&log_weights, opts.replicates)
        .into_iter()
        .map(|l| -l)
        .collect();
    Ok(AisResult {
        log_z: -lme,
        std_err,
        ess,
        log_weight_var,
        mean_log_weight,
        log_weights,
        dead: 0,
        replicate_log_z,
        betas: path.iter().map(|p| p.beta).collect(),
        per_temperature: Vec::new(),
        base: setup.base,
        kernel: setup.kernel(opts.kernel),
        updates,
        seconds: t0.elapsed().as_secs_f64(),
        time_limited: cut,
    })
}

/// Bidirectional Monte Carlo: forward AIS and reverse AIS from `exact` draws (or, when
/// `exact` is `None`, from [`exact_samples`] with the same seed, which needs the width to fit).
pub fn bdmc(
    fg: &FactorGraph,
    ev: &Evidence,
    opts: &AisOptions,
    exact: Option<&[Vec<usize>]>,
    progress: Option<Progress<'_>>,
) -> Result<Bdmc> {
    let t0 = Instant::now();
    let deadline = Deadline::from(t0, opts.time_limit);
    let owned;
    let exact = match exact {
        Some(e) => e,
        None => {
            owned = exact_samples_until(
                fg,
                ev,
                opts.particles,
                opts.seed,
                &crate::infer::exact::ExactOptions::default(),
                deadline.share(0.2),
            )?;
            &owned
        }
    };
    // with a time limit, the forward run gets half of what is left and the reverse run the rest
    let forward = ais(fg, ev, &opts.with_deadline(deadline.share(0.5)), progress)?;
    let reverse = reverse_ais(fg, ev, &opts.with_deadline(deadline), exact, progress)?;
    Ok(Bdmc {
        lower: forward.log_z,
        upper: reverse.log_z,
        forward,
        reverse,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// `n` exact independent draws from the model under evidence (draw j uses
/// `chain_rng(seed, j)`-style streams; parallel over draws, the same for any thread count).
///
/// When a greedy elimination of all free variables keeps every bucket table within 2^20
/// entries, the draws come from one bucket-elimination plan (forward filtering, backward
/// sampling: [`BlockGibbs::joint`]), each draw costing about the size of that plan. Otherwise the
/// free variables are drawn one after the other from their exact marginal given the evidence and
/// the variables drawn before: n * (free variables) exact marginal computations, meant for
/// models whose junction tree is small. Errors as [`crate::infer::exact::marginals`] (e.g.
/// [`Error::TooLarge`], [`Error::ZeroProbabilityEvidence`]).
pub fn exact_samples(
    fg: &FactorGraph,
    ev: &Evidence,
    n: usize,
    seed: u64,
    exact_opts: &crate::infer::exact::ExactOptions,
) -> Result<Vec<Vec<usize>>> {
    exact_samples_until(fg, ev, n, seed, exact_opts, Deadline::NONE)
}

/// Largest bucket table of the one-plan exact sampler of [`exact_samples`].
const JOINT_SAMPLER_TABLE: usize = 1 << 20;

/// As [`exact_samples`], but stops at `deadline`: the draws finished by then (a prefix of the
/// `n` draws [`exact_samples`] gives). [`Error::TimeLimit`] when not one draw finished.
pub fn exact_samples_until(
    fg: &FactorGraph,
    ev: &Evidence,
    n: usize,
    seed: u64,
    exact_opts: &crate::infer::exact::ExactOptions,
    deadline: Deadline,
) -> Result<Vec<Vec<usize>>> {
    crate::limits::check_alloc(
        &format!("{n} exact samples of {} variables", fg.num_vars()),
        n,
        fg.num_vars().saturating_mul(8).saturating_add(24),
        exact_opts.memory_limit,
    )?;
    let out_of_time = || Error::TimeLimit {
        what: "one exact sample of the model was drawn".into(),
        limit_seconds: 0.0,
    };
    if let Some(joint) = BlockGibbs::joint(fg, ev, JOINT_SAMPLER_TABLE)? {
        let template: Vec<usize> = (0..fg.num_vars())
            .map(|i| ev.get(crate::var::VarId(i as u32)).unwrap_or(0))
            .collect();
        let temp = Tempering::TARGET;
        let tables = joint.tables(&temp);
        let draws: Vec<Option<Vec<usize>>> = (0..n)
            .into_par_iter()
            .map(|j| {
                if deadline.passed() {
                    return None;
                }
                let mut rng = chain_rng(seed, REVERSE_STREAM * 2 + j as u64);
                let mut x = template.clone();
                joint.sweep_with(&mut x, &temp, &tables, &mut rng);
                Some(x)
            })
            .collect();
        let draws: Vec<Vec<usize>> = draws.into_iter().map_while(|d| d).collect();
        if draws.is_empty() && n > 0 {
            return Err(out_of_time());
        }
        if draws
            .iter()
            .any(|x| fg.log_potential(x) == f64::NEG_INFINITY)
        {
            // only a state of probability zero is left alone by a bucket draw: the evidence
            // (or the model) has no state of positive probability; let exact inference say so
            crate::infer::exact::log_z(fg, ev, exact_opts)?;
            return Err(Error::ZeroProbabilityEvidence);
        }
        return Ok(draws);
    }
    use crate::infer::exact;
    // first call: checks width and evidence, and gives the first variable's marginal
    let post0 = exact::marginals(fg, ev, exact_opts)?;
    let free: Vec<usize> = (0..fg.num_vars())
        .filter(|&i| ev.get(crate::var::VarId(i as u32)).is_none())
        .collect();
    let draws: Vec<Option<Vec<usize>>> = (0..n)
        .into_par_iter()
        .map(|j| {
            let mut rng = chain_rng(seed, REVERSE_STREAM * 2 + j as u64);
            let mut cur: Vec<Option<usize>> = (0..fg.num_vars())
                .map(|i| ev.get(crate::var::VarId(i as u32)))
                .collect();
            let mut post = post0.clone();
            for (idx, &i) in free.iter().enumerate() {
                if deadline.passed() {
                    return Ok(None);
                }
                if idx > 0 {
                    post = exact::marginals(fg, &Evidence::from_options(cur.clone()), exact_opts)?;
                }
                let p = num::exp_all(&post.log_marginals[i]);
                let u: f64 = rng.random::<f64>() * p.iter().sum::<f64>();
                let mut acc = 0.0;
                let mut s = p.len() - 1;
                for (k, &q) in p.iter().enumerate() {
                    acc += q;
                    if u < acc && q > 0.0 {
                        s = k;
                        break;
                    }
                }
                cur[i] = Some(s);
            }
            Ok(Some(cur.into_iter().map(|s| s.unwrap_or(0)).collect()))
        })
        .collect::<Result<_>>()?;
    let draws: Vec<Vec<usize>> = draws.into_iter().map_while(|d| d).collect();
    if draws.is_empty() && n > 0 {
        return Err(out_of_time());
    }
    Ok(draws)
}
