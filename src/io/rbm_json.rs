//! RBM JSON: `{"format": "pgmkit-rbm", "visible_names": [...], "visible_bias": [...V],
//! "hidden_bias": [...H], "weights": [[...V] x H]}`, where `weights[j][i]` couples hidden unit `j`
//! and visible unit `i` (scikit-learn's `components_`, `intercept_visible_`,
//! `intercept_hidden_`, so that a machine trained there loads unchanged).
//!
//! ```
//! use pgmkit::io::rbm_json::{parse_rbm, rbm_to_json};
//! let text = r#"{"format": "pgmkit-rbm", "visible_names": ["a", "b"],
//!   "visible_bias": [0.5, -0.25], "hidden_bias": [0.1], "weights": [[1.0, -2.0]]}"#;
//! let rbm = parse_rbm(text).unwrap();
//! assert_eq!((rbm.num_visible(), rbm.num_hidden()), (2, 1));
//! assert_eq!(parse_rbm(&rbm_to_json(&rbm)).unwrap(), rbm);
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Format, Result};
use crate::model::rbm::Rbm;

/// The `format` value of an RBM JSON file.
pub const RBM_FORMAT: &str = "pgmkit-rbm";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRbm {
    format: String,
    visible_names: Vec<String>,
    visible_bias: Vec<f64>,
    hidden_bias: Vec<f64>,
    weights: Vec<Vec<f64>>,
}

/// Parse an RBM from JSON text. Errors: [`Error::Parse`] with line and column for malformed
/// JSON or a wrong `format`; the model errors of [`Rbm::new`].
pub fn parse_rbm(text: &str) -> Result<Rbm> {
    let j: JsonRbm = serde_json::from_str(text).map_err(|e| Error::Parse {
        format: Format::RbmJson,
        line: e.line(),
        col: e.column(),
        msg: e.to_string(),
    })?;
    if j.format != RBM_FORMAT {
        return Err(Error::Parse {
            format: Format::RbmJson,
            line: 1,
            col: 1,
            msg: format!("\"format\" is \"{}\", expected \"{RBM_FORMAT}\"", j.format),
        });
    }
    Rbm::new(j.visible_names, j.visible_bias, j.hidden_bias, j.weights)
}

/// Read an RBM JSON file.
pub fn read_rbm(path: &Path) -> Result<Rbm> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_rbm(&text)
}

/// The machine as JSON text (numbers in the shortest form that reads back to the same `f64`).
pub fn rbm_to_json(rbm: &Rbm) -> String {
    let nv = rbm.num_visible();
    let j = JsonRbm {
        format: RBM_FORMAT.into(),
        visible_names: rbm.names().to_vec(),
        visible_bias: rbm.visible_bias().to_vec(),
        hidden_bias: rbm.hidden_bias().to_vec(),
        weights: rbm.weights().chunks(nv).map(<[f64]>::to_vec).collect(),
    };
    serde_json::to_string(&j).expect("an RBM serialises") + "\n"
}

/// Write an RBM JSON file atomically.
pub fn write_rbm(rbm: &Rbm, path: &Path) -> Result<()> {
    super::write_atomic(path, rbm_to_json(rbm).as_bytes())
}

/// Whether a file is an RBM JSON file: a `"pgmkit-rbm"` format tag within its first 64 KiB.
pub fn is_rbm_path(path: &Path) -> bool {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut buf = Vec::new();
    if f.take(1 << 16).read_to_end(&mut buf).is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&buf);
    text.trim_start().starts_with('{') && text.contains("\"pgmkit-rbm\"")
}
