//! BIF (Bayesian Interchange Format) reader and writer. STUB: being written.
use super::LoadOptions;
use crate::error::Result;
use crate::model::BayesNet;

/// Parse a BIF document.
pub fn parse_bif(_text: &str, _opts: &LoadOptions) -> Result<BayesNet> {
    todo!()
}

/// Write a network as BIF (lossless: every probability printed in shortest round-trip form).
pub fn write_bif(_bn: &BayesNet) -> String {
    todo!()
}
