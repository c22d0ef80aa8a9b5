//! Factors: dense log-space tables and the stride convention.

pub mod index;
pub mod table;

pub use table::TableFactor;
