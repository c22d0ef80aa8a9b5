//! UAI competition format reader and writer. STUB: being written.
use super::LoadOptions;
use crate::error::Result;
use crate::model::Model;
use crate::var::{Evidence, Variable};

/// Parse a `.uai` model (MARKOV -> `Model::Markov`, BAYES -> `Model::Bayes`).
pub fn parse_uai(_text: &str, _opts: &LoadOptions) -> Result<Model> {
    todo!()
}

/// Parse a `.evid` evidence file against the model's variables.
pub fn parse_evid(_text: &str, _vars: &[Variable]) -> Result<Evidence> {
    todo!()
}

/// Write a model in UAI format.
pub fn write_uai(_model: &Model) -> String {
    todo!()
}

/// Write evidence in the UAI 2014 single-line `.evid` form.
pub fn write_evid(_ev: &Evidence) -> String {
    todo!()
}
