//! libDAI `.fg` factor graph reader and writer. STUB: being written.
use crate::error::Result;
use crate::model::FactorGraph;

/// Parse a libDAI `.fg` file.
pub fn parse_fg(_text: &str) -> Result<FactorGraph> {
    todo!()
}

/// Write a factor graph in libDAI `.fg` format.
pub fn write_fg(_fg: &FactorGraph) -> String {
    todo!()
}
