//! Factors: dense log-space tables, the stride convention and elimination orders.

pub mod elim;
pub mod index;
pub mod loglinear;
pub mod table;

pub use table::TableFactor;
