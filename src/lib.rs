//! pgmkit: a probabilistic graphical model engine.
//!
//! Build directed models (Bayesian networks: tabular CPDs, linear-Gaussian CPDs) and undirected
//! ones (factor graphs, Ising and Potts grids, Gaussian MRFs) in code or load them from files;
//! then compute exact or approximate log partition functions and marginals, sample them, learn
//! their parameters from data with holes, impute and score. Heavy work runs on rayon threads and
//! every stochastic result is reproducible from its seed, whatever the number of threads.
//!
//! # Module map
//!
//! | module | what it holds |
//! |---|---|
//! | [`model`] | [`BayesNet`], [`FactorGraph`], grids, the [`Model`] enum over the discrete families |
//! | [`gaussian`] | Gaussian Bayesian networks, Gaussian MRFs, multivariate normals, Gaussian BP |
//! | [`var`], [`factor`] | variables, evidence (discrete states or real values), log-space tables, the one stride convention, the one elimination-order module ([`factor::elim`]) |
//! | [`io`] | one module per file format (BIF, UAI, libDAI `.fg`, Gaussian JSON), atomic outputs |
//! | [`data`] | CSV tables of states (and their raw text, so imputation keeps the dialect) and numeric tables |
//! | [`estimate`] | what every number is: [`estimate::LogZEstimate`] (kind, bounds), [`estimate::Posterior`] |
//! | [`infer`] | exact inference, variational bounds (mean field, BP, TRW), AIS / reverse AIS / BDMC, the log Z and marginals entry points ([`infer::logz`], [`infer::marginals`]) |
//! | [`sample`] | forward sampling, likelihood weighting, Gibbs / MH / blocked Gibbs kernels over one [`sample::Transition`] trait and one registry ([`sample::kernel`]), the chain runner, the annealing basics ([`sample::anneal`]) |
//! | [`sample::continuous`] | energies, HMC, MALA, random-walk Metropolis, continuous AIS |
//! | [`learn`] | maximum likelihood and EM for Bayesian networks, per-row inference |
//! | [`impute`], [`score`] | imputation of missing cells; log-likelihood, KL and per-row scores |
//! | [`diagnostics`] | R-hat, ESS, MCSE, Kish ESS: pure functions |
//! | [`stop`], [`limits`], [`rng`], [`num`], [`error`] | stop rules, memory and time budgets, the engine RNG, log-space kernels and tolerances, the one error type |
//!
//! # Example
//!
//! The exact log partition function of a 4x4 Ising grid, checked against annealed importance
//! sampling and the mean-field lower bound:
//!
//! ```
//! use pgmkit::infer::ais::{ais, AisOptions};
//! use pgmkit::infer::exact::{log_z, ExactOptions};
//! use pgmkit::infer::variational::MeanField;
//! use pgmkit::model::{ising_grid, Boundary};
//! use pgmkit::Evidence;
//!
//! # fn main() -> pgmkit::Result<()> {
//! let grid = ising_grid(4, 4, Boundary::Free, |_, _| 0.3, |_| 0.1)?;
//! let ev = Evidence::new(grid.num_vars());
//! let exact = log_z(&grid, &ev, &ExactOptions::default())?;
//! let mf = MeanField::default().run(&grid, &ev)?;
//! assert!(mf.log_z.log_z <= exact.log_z + 1e-9); // a lower bound
//! let opts = AisOptions { particles: 64, steps: 200, seed: 1, ..Default::default() };
//! let est = ais(&grid, &ev, &opts, None)?;
//! assert!((est.log_z - exact.log_z).abs() < 6.0 * est.std_err + 0.05);
//! # Ok(())
//! # }
//! ```
//!
//! The command-line program (`pgmkit`, feature `cli`) is a thin layer over this library; the
//! README shows both, and `ARCHITECTURE.md` maps the house.
#![warn(missing_docs)]

pub mod classify;
pub mod data;
pub mod diagnostics;
pub mod error;
pub mod estimate;
pub mod factor;
pub mod gaussian;
pub mod impute;
pub mod infer;
pub mod io;
pub mod learn;
pub mod limits;
pub mod model;
pub mod num;
pub mod rng;
pub mod sample;
pub mod score;
pub mod shard;
pub mod stop;
pub mod var;

pub use error::DataErrorKind;
pub use error::{Error, Format, Result};
pub use factor::TableFactor;
pub use model::{BayesNet, BayesNetBuilder, Boundary, Cpd, FactorGraph, FactorGraphBuilder, Model};
pub use var::{Evidence, VarId, Variable};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
