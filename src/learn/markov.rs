//! Learning undirected models from complete discrete data: the parameters of a
//! [`LogLinear`] model by exact maximum likelihood or maximum pseudo-likelihood, with an L2
//! penalty, by L-BFGS (argmin).
//!
//! - [`MarkovMethod::Exact`]: the mean log-likelihood per row, `θ·μ_data - ln Z(θ)`, with its
//!   gradient `μ_data - μ_model(θ)` from one junction-tree calibration per evaluation
//!   ([`crate::infer::exact::factor_marginals`]); for models whose width fits.
//! - [`MarkovMethod::PseudoLikelihood`]: the mean over rows of `Σ_i ln p(x_i | x_-i)` (Besag
//!   1975), convex and local, for models of any size; consistent for the true parameters as the
//!   data grow.
//! - [`MarkovMethod::Composite`]: the same with each factor's scope scored jointly,
//!   `Σ_f ln p(x_f | x_-f)` (pairwise conditionals on a grid), closer to the likelihood when
//!   couplings are strong, at `|states of a scope|` times the cost.
//!
//! All three objectives are concave; the penalty `-l2/2 |θ|²` makes them strictly so. Rows are cut
//! into fixed blocks summed in order, so the result does not depend on the number of threads.
//!
//! ```
//! use pgmkit::factor::loglinear::LogLinear;
//! use pgmkit::infer::ais::exact_samples;
//! use pgmkit::infer::exact::ExactOptions;
//! use pgmkit::learn::markov::{fit, MarkovLearnOptions, MarkovMethod};
//! use pgmkit::model::{ising_grid, Boundary};
//! use pgmkit::{data::Dataset, Evidence};
//!
//! # fn main() -> pgmkit::Result<()> {
//! let truth = ising_grid(2, 3, Boundary::Free, |i, _| 0.2 * i as f64 - 0.3, |_| 0.1)?;
//! let rows = exact_samples(&truth, &Evidence::new(6), 5000, 1, &ExactOptions::default())?;
//! let data = Dataset::from_rows(truth.vars(), &rows)?;
//! let ll = LogLinear::ising(&truth)?;
//! let start = vec![0.0; ll.num_params()];
//! let opts = MarkovLearnOptions { method: MarkovMethod::PseudoLikelihood, ..Default::default() };
//! let fitted = fit(&ll, &data, &start, &opts)?;
//! let true_theta = ll.theta_of_ising(&truth)?;
//! let worst = fitted.theta.iter().zip(&true_theta).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
//! assert!(worst < 0.15, "{worst}");
//! # Ok(())
//! # }
//! ```

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::Instant;

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use rayon::prelude::*;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::factor::index::strides;
use crate::factor::loglinear::LogLinear;
use crate::infer::exact::{factor_marginals, ExactOptions};
use crate::limits::Deadline;
use crate::model::FactorGraph;

/// How [`fit`] measures the fit of the parameters to the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MarkovMethod {
    /// Exact maximum likelihood (the gradient from exact factor marginals).
    Exact,
    /// Maximum pseudo-likelihood (local conditionals only; any size).
    #[default]
    PseudoLikelihood,
    /// Maximum composite likelihood: the conditional of each factor's scope (of at least two
    /// variables, joint size at most [`MAX_BLOCK_STATES`]) given the rest, plus the
    /// pseudo-likelihood term of every variable in no such block (Lindsay 1988; the pairwise
    /// conditional likelihood of an Ising grid's edges). Convex, any size; closer to the
    /// likelihood than the pseudo-likelihood when couplings are strong.
    Composite,
    /// Stochastic maximum likelihood by persistent contrastive divergence (Tieleman 2008): the
    /// model's expected features from persistent Gibbs chains ([`PcdOptions`]); any size.
    Pcd,
}

impl MarkovMethod {
    /// The name used on the command line and in JSON output (`exact`, `pl`, `cl`, `pcd`).
    pub fn name(self) -> &'static str {
        match self {
            MarkovMethod::Exact => "exact",
            MarkovMethod::PseudoLikelihood => "pl",
            MarkovMethod::Composite => "cl",
            MarkovMethod::Pcd => "pcd",
        }
    }
}

/// Options of [`fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct MarkovLearnOptions {
    /// The objective.
    pub method: MarkovMethod,
    /// L2 penalty `l2/2 |θ|²` per row (default 1e-4; needed for over-complete parametrisations).
    pub l2: f64,
    /// L1 penalty `l1 |θ|₁` per row (default 0): sparse parameters, by the orthant-wise
    /// quasi-Newton method OWL-QN (Andrew & Gao 2007; exact and pseudo-likelihood), or a
    /// soft-threshold after each step (PCD).
    pub l1: f64,
    /// Largest number of L-BFGS iterations (default 500).
    pub max_iters: usize,
    /// Stop when the largest gradient entry (per row) is at most this (default 1e-5: tighter
    /// asks for changes of the objective below its rounding error, and the line search stalls).
    pub grad_tol: f64,
    /// Options of the exact inference of [`MarkovMethod::Exact`].
    pub exact: ExactOptions,
    /// Options of [`MarkovMethod::Pcd`].
    pub pcd: PcdOptions,
    /// Deadline of the whole fit (default none): L-BFGS stops after the iteration that passes
    /// it, PCD after the step; the result then says `time_limited`.
    pub deadline: Deadline,
}

/// Options of persistent contrastive divergence ([`MarkovMethod::Pcd`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PcdOptions {
    /// Persistent chains (default 1000), started at data rows.
    pub chains: usize,
    /// Gradient steps (default 2000).
    pub steps: usize,
    /// Gibbs sweeps of every chain per step (default 1).
    pub sweeps: usize,
    /// Rows of the data term per step (default `None`: all rows, the exact data term).
    pub batch: Option<usize>,
    /// Learning rate of step t: `rate / (1 + t / decay)` (default 0.1, decay `steps / 10`).
    pub rate: f64,
    /// Momentum (default 0.5).
    pub momentum: f64,
    /// The kernel of the chains (default single-site Gibbs, systematic scan).
    pub kernel: crate::sample::kernel::Kernel,
    /// Seed of the chains and the batches.
    pub seed: u64,
}

impl Default for PcdOptions {
    fn default() -> Self {
        PcdOptions {
            chains: 1000,
            steps: 2000,
            sweeps: 1,
            batch: None,
            rate: 0.1,
            momentum: 0.5,
            kernel: crate::sample::kernel::Kernel::Gibbs,
            seed: 0,
        }
    }
}

impl Default for MarkovLearnOptions {
    fn default() -> Self {
        MarkovLearnOptions {
            method: MarkovMethod::default(),
            l2: 1e-4,
            l1: 0.0,
            max_iters: 500,
            grad_tol: 1e-5,
            exact: ExactOptions::default(),
            pcd: PcdOptions::default(),
            deadline: Deadline::NONE,
        }
    }
}

/// The result of [`fit`].
#[derive(Debug, Clone)]
pub struct MarkovFit {
    /// The fitted parameters.
    pub theta: Vec<f64>,
    /// The model they give.
    pub model: FactorGraph,
    /// The penalised objective at `theta` (mean per row, nats; both penalties subtracted):
    /// log-likelihood or pseudo-log-likelihood.
    pub objective: f64,
    /// L-BFGS iterations.
    pub iterations: usize,
    /// Objective evaluations (with their gradients).
    pub evaluations: usize,
    /// Whether the gradient tolerance was met (PCD: whether every step ran).
    pub converged: bool,
    /// Whether the deadline stopped the fit early.
    pub time_limited: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Rows per block of the pseudo-likelihood sum (fixed, so sums do not depend on threads).
const ROW_BLOCK: usize = 2048;

/// The data prepared for repeated evaluations of an objective.
/// Largest joint state count of a block of [`MarkovMethod::Composite`]; larger scopes fall
/// back to the pseudo-likelihood terms of their variables.
pub const MAX_BLOCK_STATES: usize = 64;

/// One conditional of a composite likelihood: variables whose joint state is scored given the
/// rest of the row. Per factor touching them: the factor, and for each joint state `j` of the
/// block the offset `Σ_v d_v(j) stride_v` of the block's states in the factor's table.
struct Block {
    vars: Vec<usize>,
    /// mixed-radix place values of the block's variables in the joint index
    places: Vec<usize>,
    states: usize,
    touched: Vec<(usize, Vec<usize>)>,
}

struct Prepared<'a> {
    ll: &'a LogLinear,
    rows: usize,
    /// per row, per factor: the entry
    entries: Vec<u32>,
    /// row-major states, `rows x vars`
    states: Vec<u32>,
    /// per factor: the strides of its scope's variables in its table
    factor_strides: Vec<Vec<usize>>,
    /// per variable: (factor, stride of the variable in the factor's table)
    var_factors: Vec<Vec<(usize, usize)>>,
    empirical: Vec<f64>,
    /// the blocks of the pseudo-likelihood and of the composite likelihood, built when first
    /// asked for
    blocks_pl: OnceLock<Vec<Block>>,
    blocks_cl: OnceLock<Vec<Block>>,
}

impl<'a> Prepared<'a> {
    /// The blocks of `method` (pseudo-likelihood for every method but composite), built once.
    fn blocks_of(&self, method: MarkovMethod) -> &[Block] {
        if method == MarkovMethod::Composite {
            self.blocks_cl
                .get_or_init(|| self.blocks(MarkovMethod::Composite))
        } else {
            self.blocks_pl
                .get_or_init(|| self.blocks(MarkovMethod::PseudoLikelihood))
        }
    }

    /// The block of variables `vars` (distinct, each in some factor).
    fn block(&self, vars: Vec<usize>) -> Block {
        let cards: Vec<usize> = vars.iter().map(|&v| self.ll.vars()[v].card()).collect();
        let mut places = vec![1usize; vars.len()];
        for i in 1..vars.len() {
            places[i] = places[i - 1] * cards[i - 1];
        }
        let states = cards.iter().product();
        let mut factors: Vec<usize> = vars
            .iter()
            .flat_map(|&v| self.var_factors[v].iter().map(|&(k, _)| k))
            .collect();
        factors.sort_unstable();
        factors.dedup();
        let touched = factors
            .into_iter()
            .map(|k| {
                // the stride in factor k of each block variable in its scope
                let slot_strides: Vec<(usize, usize)> = vars
                    .iter()
                    .enumerate()
                    .filter_map(|(slot, &v)| {
                        self.var_factors[v]
                            .iter()
                            .find(|&&(f, _)| f == k)
                            .map(|&(_, st)| (slot, st))
                    })
                    .collect();
                let offsets = (0..states)
                    .map(|j| {
                        slot_strides
                            .iter()
                            .map(|&(slot, st)| (j / places[slot]) % cards[slot] * st)
                            .sum()
                    })
                    .collect();
                (k, offsets)
            })
            .collect();
        Block {
            vars,
            places,
            states,
            touched,
        }
    }

    /// The blocks of `method`: one per variable in a factor (pseudo-likelihood), or the
    /// scopes of the factors of at least two variables that fit [`MAX_BLOCK_STATES`] (each
    /// scope once) and one per variable in none of those (composite).
    fn blocks(&self, method: MarkovMethod) -> Vec<Block> {
        let n = self.ll.vars().len();
        let mut blocks = Vec::new();
        let mut covered = vec![false; n];
        if method == MarkovMethod::Composite {
            let mut seen = std::collections::HashSet::new();
            for f in self.ll.factors() {
                let vars: Vec<usize> = f.scope.iter().map(|v| v.index()).collect();
                let size: usize = vars.iter().map(|&v| self.ll.vars()[v].card()).product();
                if vars.len() >= 2 && size <= MAX_BLOCK_STATES && seen.insert(vars.clone()) {
                    vars.iter().for_each(|&v| covered[v] = true);
                    blocks.push(self.block(vars));
                }
            }
        }
        for (v, _) in covered.iter().enumerate().filter(|(_, c)| !**c) {
            if !self.var_factors[v].is_empty() {
                blocks.push(self.block(vec![v]));
            }
        }
        blocks
    }

    fn new(ll: &'a LogLinear, data: &Dataset) -> Result<Self> {
        let entries = ll.entries(data)?;
        let n = ll.vars().len();
        let mut states = vec![0u32; data.num_rows() * n];
        for r in 0..data.num_rows() {
            for v in 0..n {
                // complete: `entries` checked every cell of every factor; cells in no factor
                // may be missing and do not matter
                states[r * n + v] = data
                    .get(r, crate::VarId(v as u32))
                    .map_or(u32::MAX, |s| s as u32);
            }
        }
        let factor_strides: Vec<Vec<usize>> = ll
            .factors()
            .iter()
            .map(|p| {
                let cards: Vec<usize> = p
                    .scope
                    .iter()
                    .map(|v| ll.vars()[v.index()].card())
                    .collect();
                strides(&cards)
            })
            .collect();
        let mut var_factors = vec![Vec::new(); n];
        for (k, p) in ll.factors().iter().enumerate() {
            for (v, &st) in p.scope.iter().zip(&factor_strides[k]) {
                var_factors[v.index()].push((k, st));
            }
        }
        let nf = ll.factors().len();
        for r in 0..data.num_rows() {
            for k in 0..nf {
                if ll.factors()[k].offset[entries[r * nf + k] as usize] == f64::NEG_INFINITY {
                    return Err(Error::InvalidArgument(format!(
                        "row {} falls on a structural zero of factor {k}: the model gives it \
                         probability zero, whatever the parameters",
                        r + 1
                    )));
                }
            }
        }
        Ok(Prepared {
            ll,
            rows: data.num_rows(),
            empirical: ll.empirical_features(data)?,
            entries,
            states,
            factor_strides,
            var_factors,
            blocks_pl: OnceLock::new(),
            blocks_cl: OnceLock::new(),
        })
    }

    fn log_tables(&self, theta: &[f64]) -> Vec<Vec<f64>> {
        (0..self.ll.factors().len())
            .map(|k| {
                (0..self.ll.factors()[k].offset.len())
                    .map(|e| self.ll.log_potential(k, e, theta))
                    .collect()
            })
            .collect()
    }

    /// Mean log composite likelihood per row over `blocks` (the pseudo-likelihood when
    /// they are single variables) and its gradient (unpenalised).
    fn conditional(&self, theta: &[f64], blocks: &[Block]) -> (f64, Vec<f64>) {
        let lt = self.log_tables(theta);
        let ll = self.ll;
        let n = ll.vars().len();
        let nf = ll.factors().len();
        let np = ll.num_params();
        let row_blocks: Vec<(f64, Vec<f64>)> = (0..self.rows.div_ceil(ROW_BLOCK))
            .into_par_iter()
            .map(|rb| {
                let mut obj = 0.0;
                let mut grad = vec![0.0; np];
                let mut a = Vec::new();
                for r in rb * ROW_BLOCK..((rb + 1) * ROW_BLOCK).min(self.rows) {
                    let ent = &self.entries[r * nf..(r + 1) * nf];
                    for b in blocks {
                        // the row's joint state of the block
                        let jx: usize = b
                            .vars
                            .iter()
                            .zip(&b.places)
                            .map(|(&v, &pl)| self.states[r * n + v] as usize * pl)
                            .sum();
                        a.clear();
                        a.resize(b.states, 0.0);
                        for (k, off) in &b.touched {
                            let base = ent[*k] as usize - off[jx];
                            for (av, &o) in a.iter_mut().zip(off) {
                                *av += lt[*k][base + o];
                            }
                        }
                        let lse = crate::num::log_sum_exp(&a);
                        obj += a[jx] - lse;
                        for (j, &av) in a.iter().enumerate() {
                            let w = f64::from(u8::from(j == jx)) - crate::num::exp(av - lse);
                            if w == 0.0 {
                                continue;
                            }
                            for (k, off) in &b.touched {
                                let e = ent[*k] as usize - off[jx] + off[j];
                                for t in &ll.factors()[*k].terms[e] {
                                    grad[t.param as usize] += w * t.coef;
                                }
                            }
                        }
                    }
                }
                (obj, grad)
            })
            .collect();
        let mut obj = 0.0;
        let mut grad = vec![0.0; np];
        for (o, g) in row_blocks {
            obj += o;
            grad.iter_mut().zip(g).for_each(|(x, y)| *x += y);
        }
        let m = self.rows.max(1) as f64;
        grad.iter_mut().for_each(|x| *x /= m);
        (obj / m, grad)
    }

    /// Mean log-likelihood per row and its gradient (unpenalised).
    fn exact(&self, theta: &[f64], opts: &ExactOptions) -> Result<(f64, Vec<f64>)> {
        let fg = self.ll.factor_graph(theta)?;
        let fm = factor_marginals(&fg, opts)?;
        let model = self.ll.expected_features(&fm.log_marginals);
        let dot: f64 = self.empirical.iter().zip(theta).map(|(a, b)| a * b).sum();
        let grad = self
            .empirical
            .iter()
            .zip(&model)
            .map(|(a, b)| a - b)
            .collect();
        Ok((dot - fm.log_z, grad))
    }
}

/// The penalised objective of `method` at `theta` (mean per row, nats) and its gradient: what
/// [`fit`] maximises (exposed for gradient checks). Errors as [`fit`].
pub fn objective(
    ll: &LogLinear,
    data: &Dataset,
    theta: &[f64],
    opts: &MarkovLearnOptions,
) -> Result<(f64, Vec<f64>)> {
    ll.check_theta(theta)?;
    let p = Prepared::new(ll, data)?;
    penalised(&p, theta, opts)
}

fn penalised(
    p: &Prepared<'_>,
    theta: &[f64],
    opts: &MarkovLearnOptions,
) -> Result<(f64, Vec<f64>)> {
    let (mut f, mut g) = match opts.method {
        MarkovMethod::Exact => p.exact(theta, &opts.exact)?,
        // PCD has no objective it can evaluate; what it reports is the pseudo-likelihood
        m => p.conditional(theta, p.blocks_of(m)),
    };
    f -= 0.5 * opts.l2 * theta.iter().map(|t| t * t).sum::<f64>();
    g.iter_mut().zip(theta).for_each(|(g, t)| *g -= opts.l2 * t);
    Ok((f, g))
}

/// A point, the objective there and its gradient.
type Evaluated = (Vec<f64>, f64, Vec<f64>);

/// The argmin problem: minimise minus the penalised objective; the last evaluation is cached
/// so that a cost and a gradient at the same point cost one pass.
struct Problem<'a, 'b> {
    p: &'b Prepared<'a>,
    opts: &'b MarkovLearnOptions,
    cache: RefCell<Option<Evaluated>>,
    evals: RefCell<usize>,
    error: RefCell<Option<Error>>,
}

impl Problem<'_, '_> {
    fn eval(&self, theta: &[f64]) -> std::result::Result<(f64, Vec<f64>), argmin::core::Error> {
        if let Some((t, f, g)) = self.cache.borrow().as_ref() {
            if t.as_slice() == theta {
                return Ok((*f, g.clone()));
            }
        }
        *self.evals.borrow_mut() += 1;
        match penalised(self.p, theta, self.opts) {
            Ok((f, g)) => {
                let (f, g): (f64, Vec<f64>) = (-f, g.into_iter().map(|x| -x).collect());
                *self.cache.borrow_mut() = Some((theta.to_vec(), f, g.clone()));
                Ok((f, g))
            }
            Err(e) => {
                let msg = e.to_string();
                *self.error.borrow_mut() = Some(e);
                Err(argmin::core::Error::msg(msg))
            }
        }
    }
}

impl CostFunction for Problem<'_, '_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, theta: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.eval(theta)?.0)
    }
}

impl Gradient for Problem<'_, '_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, theta: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self.eval(theta)?.1)
    }
}

/// Fit the parameters of `ll` to the complete rows of `data` from `start`, maximising the
/// penalised objective of `opts.method` by L-BFGS (memory 7, Moré-Thuente line search).
///
/// Errors: a missing cell in a variable of a factor, a row on a structural zero, `start` of the
/// wrong length or not finite ([`Error::InvalidArgument`] / [`Error::InvalidNumber`]), a
/// negative or non-finite `l2`; for [`MarkovMethod::Exact`], a model too wide for exact
/// inference ([`Error::TooLarge`]).
pub fn fit(
    ll: &LogLinear,
    data: &Dataset,
    start: &[f64],
    opts: &MarkovLearnOptions,
) -> Result<MarkovFit> {
    let t0 = Instant::now();
    ll.check_theta(start)?;
    if !(opts.l2 >= 0.0 && opts.l2.is_finite() && opts.l1 >= 0.0 && opts.l1.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "the L2 and L1 penalties must be finite and at least 0, got {} and {}",
            opts.l2, opts.l1
        )));
    }
    if opts.grad_tol.is_nan() || opts.grad_tol <= 0.0 {
        return Err(Error::InvalidArgument(format!(
            "the gradient tolerance must be positive, got {}",
            opts.grad_tol
        )));
    }
    if data.num_rows() == 0 {
        return Err(Error::InvalidArgument("no rows to learn from".into()));
    }
    let p = Prepared::new(ll, data)?;
    if opts.method == MarkovMethod::Pcd {
        return pcd(&p, start, opts, t0);
    }
    let problem = Problem {
        p: &p,
        opts,
        cache: RefCell::new(None),
        evals: RefCell::new(0),
        error: RefCell::new(None),
    };
    let (mut theta, mut iterations, mut converged) = (start.to_vec(), 0, false);
    if ll.num_params() > 0 {
        let (_, g0) = problem.eval(start).map_err(|_| take_error(&problem))?;
        if g0.iter().fold(0.0f64, |m, x| m.max(x.abs())) <= opts.grad_tol {
            converged = true;
        } else {
            let mut solver = LBFGS::new(MoreThuenteLineSearch::new(), 7)
                .with_tolerance_grad(opts.grad_tol)
                .map_err(|e| Error::InvalidArgument(e.to_string()))?
                .with_tolerance_cost(0.0)
                .map_err(|e| Error::InvalidArgument(e.to_string()))?;
            if opts.l1 > 0.0 {
                solver = solver
                    .with_l1_regularization(opts.l1)
                    .map_err(|e| Error::InvalidArgument(e.to_string()))?;
            }
            let mut exec = Executor::new(problem, solver)
                .configure(|s| s.param(start.to_vec()).max_iters(opts.max_iters as u64));
            if let Some(left) = opts.deadline.remaining() {
                exec = exec.timeout(left);
            }
            let res = exec.run();
            let res = match res {
                Ok(r) => r,
                Err(e) => {
                    return Err(Error::InvalidModel(format!("L-BFGS failed: {e}")));
                }
            };
            let state = res.state();
            iterations = state.get_iter() as usize;
            if let Some(best) = state.get_best_param() {
                theta = best.clone();
            }
            converged = matches!(
                state.get_termination_status(),
                TerminationStatus::Terminated(TerminationReason::SolverConverged)
            );
            let time_limited = matches!(
                state.get_termination_status(),
                TerminationStatus::Terminated(TerminationReason::Timeout)
            );
            let problem = res
                .problem
                .problem
                .as_ref()
                .expect("the problem comes back");
            if let Some(e) = problem.error.borrow_mut().take() {
                return Err(e);
            }
            let evals = *problem.evals.borrow();
            let (f, g) = penalised(&p, &theta, opts)?;
            if !converged && opts.l1 == 0.0 {
                converged = g.iter().fold(0.0f64, |m, x| m.max(x.abs())) <= opts.grad_tol;
            }
            let f = f - opts.l1 * theta.iter().map(|t| t.abs()).sum::<f64>();
            return Ok(MarkovFit {
                model: ll.factor_graph(&theta)?,
                theta,
                objective: f,
                iterations,
                evaluations: evals + 1,
                converged,
                time_limited: time_limited && !converged,
                seconds: t0.elapsed().as_secs_f64(),
            });
        }
    }
    let (f, _) = penalised(&p, &theta, opts)?;
    Ok(MarkovFit {
        model: ll.factor_graph(&theta)?,
        theta,
        objective: f,
        iterations,
        evaluations: 1,
        converged,
        time_limited: false,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn take_error(p: &Problem<'_, '_>) -> Error {
    p.error
        .borrow_mut()
        .take()
        .unwrap_or_else(|| Error::InvalidModel("the objective could not be evaluated".into()))
}

/// Persistent contrastive divergence: `θ += rate_t (μ_data - μ_chains - l2 θ)` with momentum,
/// the chains advanced by the kernel of the current `θ` between steps; the result is the
/// average of `θ` over the second half of the steps (Polyak averaging), which removes most of
/// the noise of the last steps. Chain `c` draws from `chain_rng(seed, c)` throughout, so the
/// result does not depend on the number of threads.
fn pcd(
    p: &Prepared<'_>,
    start: &[f64],
    opts: &MarkovLearnOptions,
    t0: Instant,
) -> Result<MarkovFit> {
    use crate::rng::{chain_rng, EngineRng};
    use crate::sample::kernel::KernelOptions;
    use crate::sample::{Tempering, Transition};
    use rand::Rng;

    let o = &opts.pcd;
    if o.chains == 0 || o.steps == 0 || o.sweeps == 0 || o.batch == Some(0) {
        return Err(Error::InvalidArgument(
            "PCD needs at least one chain, one step, one sweep and one row per batch".into(),
        ));
    }
    if !(o.rate > 0.0 && o.rate.is_finite() && (0.0..1.0).contains(&o.momentum)) {
        return Err(Error::InvalidArgument(format!(
            "PCD needs a positive learning rate and a momentum in [0, 1), got {} and {}",
            o.rate, o.momentum
        )));
    }
    let ll = p.ll;
    let n = ll.vars().len();
    let nf = ll.factors().len();
    let np = ll.num_params();
    let ev = crate::var::Evidence::new(n);
    let strides = &p.factor_strides;
    // chains start at data rows (cells in no factor at 0)
    let mut pick = chain_rng(o.seed, u64::MAX);
    let mut chains: Vec<(Vec<usize>, EngineRng)> = (0..o.chains)
        .map(|c| {
            let r = pick.random_range(0..p.rows);
            let x = (0..n)
                .map(|v| {
                    let s = p.states[r * n + v];
                    if s == u32::MAX {
                        0
                    } else {
                        s as usize
                    }
                })
                .collect();
            (x, chain_rng(o.seed, c as u64))
        })
        .collect();
    let decay = (o.steps as f64 / 10.0).max(1.0);
    let mut theta = start.to_vec();
    let mut velocity = vec![0.0; np];
    let mut average = vec![0.0; np];
    let mut averaged = 0usize;
    let mut batch_rng = chain_rng(o.seed, u64::MAX - 1);
    let mut done = 0;
    for t in 0..o.steps {
        if opts.deadline.passed() {
            break;
        }
        done = t + 1;
        let fg = ll.factor_graph(&theta)?;
        let kernel = o.kernel.build(&fg, &ev, &KernelOptions::default())?;
        let prep = kernel.prepare(&Tempering::TARGET);
        chains.par_iter_mut().for_each(|(x, rng)| {
            for _ in 0..o.sweeps {
                kernel.sweep(x, &prep, rng);
            }
        });
        // the chains' mean features, in chain order
        let mut model = vec![0.0; np];
        for (x, _) in &chains {
            for (k, f) in ll.factors().iter().enumerate() {
                let e: usize = f
                    .scope
                    .iter()
                    .zip(&strides[k])
                    .map(|(v, st)| x[v.index()] * st)
                    .sum();
                for term in &f.terms[e] {
                    model[term.param as usize] += term.coef;
                }
            }
        }
        let data_term: std::borrow::Cow<'_, [f64]> = match o.batch {
            None => std::borrow::Cow::Borrowed(&p.empirical),
            Some(b) => {
                let mut g = vec![0.0; np];
                for _ in 0..b {
                    let r = batch_rng.random_range(0..p.rows);
                    for (k, f) in ll.factors().iter().enumerate() {
                        for term in &f.terms[p.entries[r * nf + k] as usize] {
                            g[term.param as usize] += term.coef;
                        }
                    }
                }
                g.iter_mut().for_each(|x| *x /= b as f64);
                std::borrow::Cow::Owned(g)
            }
        };
        let rate = o.rate / (1.0 + t as f64 / decay);
        let m = o.chains as f64;
        for k in 0..np {
            let g = data_term[k] - model[k] / m - opts.l2 * theta[k];
            velocity[k] = o.momentum * velocity[k] + rate * g;
            theta[k] += velocity[k];
            if opts.l1 > 0.0 {
                // the proximal step of the L1 penalty
                let t = rate * opts.l1;
                theta[k] = theta[k].signum() * (theta[k].abs() - t).max(0.0);
            }
        }
        if 2 * t >= o.steps {
            averaged += 1;
            for (a, &th) in average.iter_mut().zip(&theta) {
                *a += (th - *a) / averaged as f64;
            }
        }
    }
    // cut before the second half began: the last parameters stand for the average
    let theta = if averaged == 0 { theta } else { average };
    let (f, _) = penalised(p, &theta, opts)?;
    let f = f - opts.l1 * theta.iter().map(|t| t.abs()).sum::<f64>();
    Ok(MarkovFit {
        model: ll.factor_graph(&theta)?,
        theta,
        objective: f,
        iterations: done,
        evaluations: done,
        // a stochastic method: it ran its steps
        converged: done == o.steps,
        time_limited: done < o.steps,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
