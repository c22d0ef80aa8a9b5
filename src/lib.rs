//! pgmkit: a probabilistic graphical model engine.
#![warn(missing_docs)]

pub mod continuous;
pub mod data;
pub mod diagnostics;
pub mod error;
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
pub mod var;

pub use error::DataErrorKind;
pub use error::{Error, Format, Result};
pub use factor::TableFactor;
pub use model::{BayesNet, BayesNetBuilder, Boundary, Cpd, FactorGraph, FactorGraphBuilder, Model};
pub use var::{Evidence, VarId, Variable};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
