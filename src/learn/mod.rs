//! Parameter learning for Bayesian networks of known structure: maximum likelihood and Bayesian
//! estimates from complete data ([`mle`]), EM from incomplete data ([`em`](mod@em)), and the
//! per-row exact inference they share with scoring and imputation ([`rows`]).

pub mod em;
pub mod latent;
pub mod markov;
pub mod mle;
pub mod rbm;
pub mod rows;
pub mod structure;

pub use em::{em, expected_counts, EmInit, EmOptions, EmResult};
pub use mle::{family_counts, fit_complete, probs_from_counts, with_probs, Prior};
pub use rows::{RowEngine, RowOptions, RowPosterior};
