//! File formats: one module per format, each with a reader and (where it makes sense) a writer.
//!
//! | format | read | write |
//! |---|---|---|
//! | BIF (`.bif`) | [`bif::parse_bif`] | [`bif::write_bif`] |
//! | UAI (`.uai`, `.evid`) | [`uai::parse_uai`], [`uai::parse_evid`] | [`uai::write_uai`], [`uai::write_evid`] |
//! | libDAI (`.fg`) | [`fg::parse_fg`] | [`fg::write_fg`] |
//! | XMLBIF 0.3 (`.xml`, `.xmlbif`, `.bifxml`) | [`xmlbif::parse_xmlbif`] | [`xmlbif::write_xmlbif`] |
//! | Hugin (`.net`) | [`net::parse_net`] | [`net::write_net`] |
//! | Graphviz DOT (the model's graph) | | [`dot::to_dot`] |
//! | Gaussian BN JSON, GMRF JSON (`.json`) | [`gaussian_json::read_gaussian`], [`gaussian_json::parse_gbn`], [`gaussian_json::parse_gmrf`] | [`gaussian_json::write_gbn`], [`gaussian_json::gmrf_to_json`] |

pub mod bif;
pub mod dot;
pub mod fg;
pub mod gaussian_json;
pub mod net;
pub mod outputs;
pub mod rbm_json;
pub mod uai;
pub mod xmlbif;

use std::path::Path;

use crate::error::{Error, Result};
use crate::model::Model;

/// Options that apply when loading a model file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadOptions {
    /// Divide every CPT column by its float64 sum (BIF and UAI `BAYES`). Default: false, the
    /// probabilities are used exactly as written.
    pub renormalize: bool,
    /// Accepted |column sum - 1| when not renormalising.
    pub tolerance: f64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            renormalize: false,
            tolerance: crate::num::tol::CPT_SUM,
        }
    }
}

/// Model file formats, recognised by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFormat {
    /// `.bif`
    Bif,
    /// `.uai`
    Uai,
    /// `.fg`
    Fg,
    /// `.xml`, `.xmlbif`, `.bifxml`
    XmlBif,
    /// `.net` (Hugin)
    Net,
}

impl ModelFormat {
    /// Format from a path's extension.
    pub fn from_path(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
        {
            Some(e) if e == "bif" => Ok(ModelFormat::Bif),
            Some(e) if e == "uai" => Ok(ModelFormat::Uai),
            Some(e) if e == "fg" => Ok(ModelFormat::Fg),
            Some(e) if e == "xml" || e == "xmlbif" || e == "bifxml" => Ok(ModelFormat::XmlBif),
            Some(e) if e == "net" => Ok(ModelFormat::Net),
            _ => Err(Error::InvalidArgument(format!(
                "cannot tell the format of '{}' from its extension (expected .bif, .uai, .fg, .xml, .xmlbif, .bifxml or .net)",
                path.display()
            ))),
        }
    }
}

/// 1-based (line, column) of byte offset `pos` of `text`, columns counting characters (the
/// position in every [`Error::Parse`] of the readers that work on byte offsets).
pub(crate) fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let mut p = pos.min(text.len());
    while !text.is_char_boundary(p) {
        p -= 1;
    }
    let before = &text[..p];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before, |i| &before[i + 1..])
        .chars()
        .count()
        + 1;
    (line, col)
}

/// Read a whole text file, mapping errors to [`Error::Io`].
pub fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Load a model, choosing the format from the extension.
pub fn load_model(path: &Path, opts: &LoadOptions) -> Result<Model> {
    let text = read_text(path)?;
    match ModelFormat::from_path(path)? {
        ModelFormat::Bif => Ok(Model::Bayes(bif::parse_bif(&text, opts)?)),
        ModelFormat::Uai => uai::parse_uai(&text, opts),
        ModelFormat::Fg => Ok(Model::Markov(fg::parse_fg(&text)?)),
        ModelFormat::XmlBif => Ok(Model::Bayes(xmlbif::parse_xmlbif(&text, opts)?)),
        ModelFormat::Net => Ok(Model::Bayes(net::parse_net(&text, opts)?)),
    }
}

/// Write `contents` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    crate::data::csv::write_atomic_with(path, |w| {
        w.write_all(contents).map_err(|e| Error::io(path, e))
    })
}

/// Save a model, choosing the format from the extension (`.fg` output is supported for Markov models).
pub fn save_model(model: &Model, path: &Path) -> Result<()> {
    let text = model_text(model, path)?;
    write_atomic(path, text.as_bytes())
}

/// The text [`save_model`] would write to `path` (the format chosen from its extension).
pub fn model_text(model: &Model, path: &Path) -> Result<String> {
    let text =
        match ModelFormat::from_path(path)? {
            ModelFormat::Bif => match model {
                Model::Bayes(b) => bif::write_bif(b),
                Model::Markov(_) => return Err(Error::InvalidArgument(
                    "a Markov network cannot be written as BIF (BIF holds Bayesian networks only)"
                        .into(),
                )),
            },
            ModelFormat::Uai => uai::write_uai(model),
            ModelFormat::Fg => fg::write_fg(&model.to_factor_graph()),
            ModelFormat::Net => match model {
                Model::Bayes(b) => net::write_net(b)?,
                Model::Markov(_) => return Err(Error::InvalidArgument(
                    "a Markov network cannot be written as Hugin .net (pgmkit writes Bayesian networks there)"
                        .into(),
                )),
            },
            ModelFormat::XmlBif => match model {
                Model::Bayes(b) => xmlbif::write_xmlbif(b),
                Model::Markov(_) => return Err(Error::InvalidArgument(
                    "a Markov network cannot be written as XMLBIF (XMLBIF holds Bayesian networks only)"
                        .into(),
                )),
            },
        };
    Ok(text)
}
