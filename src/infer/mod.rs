//! Inference: exact ([`exact`]: variable elimination and junction tree under a memory guard),
//! variational ([`variational`]: mean field, loopy BP, TRW) and annealed importance sampling
//! ([`ais`]: AIS, reverse AIS, BDMC). Sampling-based marginals live in [`crate::sample`].
//!
//! Every log Z method returns a [`LogZEstimate`] that says what kind of number it is; every
//! marginal method returns a [`Posterior`].

pub mod ais;
pub mod exact;
pub mod logz;
pub mod map;
pub mod marginals;
pub mod rbm;
pub mod variational;

pub use crate::estimate::{BoundKind, EstimateKind, LogZEstimate, Posterior};
