//! Conversions between Python values and the library's types: errors, evidence, estimates.

use std::path::Path;

use pgmkit::estimate::LogZEstimate;
use pgmkit::{Error, Evidence, Model};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// The Python exception of a library error: a class of `pgmkit.errors` chosen by the variant,
/// with the variant's fields as attributes (`kind` names the variant). `file` is the file the
/// error is about, when the caller knows it (parse errors carry line and column, not the path).
pub fn py_err(py: Python<'_>, e: Error, file: Option<&Path>) -> PyErr {
    match build(py, &e, file) {
        Ok(err) => err,
        Err(inner) => PyRuntimeError::new_err(format!("{e} (and raising it failed: {inner})")),
    }
}

fn build(py: Python<'_>, e: &Error, file: Option<&Path>) -> PyResult<PyErr> {
    let kw = PyDict::new(py);
    let class = match e {
        Error::Parse {
            format,
            line,
            col,
            msg,
        } => {
            kw.set_item("format", format.to_string())?;
            kw.set_item("line", *line)?;
            kw.set_item("column", *col)?;
            kw.set_item("reason", msg)?;
            "ParseError"
        }
        Error::InvalidModel(_)
        | Error::Cycle(_)
        | Error::NotNormalized { .. }
        | Error::InvalidNumber { .. }
        | Error::NotPairwise { .. }
        | Error::NotPositiveDefinite { .. }
        | Error::NonPositiveVariance { .. }
        | Error::DimensionMismatch { .. } => "ModelError",
        Error::UnknownVariable(name) => {
            kw.set_item("variable", name)?;
            "EvidenceError"
        }
        Error::UnknownState { var, state, states } => {
            kw.set_item("variable", var)?;
            kw.set_item("state", state)?;
            kw.set_item("states", states.clone())?;
            "EvidenceError"
        }
        Error::ConflictingEvidence(var) => {
            kw.set_item("variable", var)?;
            "EvidenceError"
        }
        Error::ZeroProbabilityEvidence
        | Error::ZeroProbabilityRows { .. }
        | Error::AllWeightsZero { .. } => "ZeroProbabilityError",
        Error::TooLarge {
            width,
            largest_table,
            needed,
            limit,
        } => {
            kw.set_item("width", *width)?;
            kw.set_item("largest_table", *largest_table)?;
            kw.set_item("needed", *needed)?;
            kw.set_item("limit", *limit)?;
            "TooLargeError"
        }
        Error::AllocationTooLarge { bytes, limit, .. } => {
            kw.set_item("needed", *bytes)?;
            kw.set_item("limit", *limit)?;
            "TooLargeError"
        }
        Error::Overflow { .. } => "TooLargeError",
        Error::TimeLimit { limit_seconds, .. } => {
            kw.set_item("limit_seconds", *limit_seconds)?;
            "TimeLimitError"
        }
        Error::Data {
            row,
            col,
            column_name,
            ..
        } => {
            kw.set_item("row", *row)?;
            kw.set_item("column", *col)?;
            kw.set_item("column_name", column_name.clone())?;
            "DataError"
        }
        Error::Io { path, .. } => {
            kw.set_item("path", path.display().to_string())?;
            "FileError"
        }
        Error::OutputClash { output, .. } => {
            kw.set_item("path", output.display().to_string())?;
            "FileError"
        }
        Error::ShardMismatch {
            shard,
            what,
            detail,
        } => {
            kw.set_item("shard", *shard)?;
            kw.set_item("what", *what)?;
            kw.set_item("detail", detail)?;
            "ShardMismatchError"
        }
        _ => "InvalidArgumentError",
    };
    kw.set_item("kind", kind_name(e))?;
    if let Some(f) = file {
        kw.set_item("file", f.display().to_string())?;
    }
    let message = match file {
        Some(f) if !matches!(e, Error::Io { .. }) => format!("{}: {e}", f.display()),
        _ => e.to_string(),
    };
    let cls = py.import("pgmkit.errors")?.getattr(class)?;
    let obj = cls.call((message,), Some(&kw))?;
    Ok(PyErr::from_value(obj))
}

/// The variant's name, e.g. `TooLarge`.
fn kind_name(e: &Error) -> String {
    let d = format!("{e:?}");
    d.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("")
        .to_string()
}

/// Shorthand: a library result as a Python result.
pub trait IntoPy<T> {
    /// Convert the error with [`py_err`].
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for pgmkit::Result<T> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| py_err(py, e, None))
    }
}

/// Evidence from a Python dict `{variable: state}` (a state by name, or by 0-based index as an
/// int), or `None` for none.
pub fn evidence(
    py: Python<'_>,
    model: &Model,
    ev: Option<&Bound<'_, PyDict>>,
) -> PyResult<Evidence> {
    let vars = model.vars();
    let mut out = Evidence::new(vars.len());
    let Some(ev) = ev else {
        return Ok(out);
    };
    for (k, v) in ev.iter() {
        let name: String = k
            .extract()
            .map_err(|_| PyTypeError::new_err("evidence keys must be variable names (str)"))?;
        let var = model.var_id(&name).py(py)?;
        let state = if v.is_instance_of::<PyString>() {
            let s: String = v.extract()?;
            vars[var.index()].state_index(&s).py(py)?
        } else if let Ok(i) = v.extract::<i64>() {
            if v.is_instance_of::<pyo3::types::PyBool>() {
                return Err(PyTypeError::new_err(format!(
                    "evidence for '{name}' is a bool: give a state name or a 0-based index"
                )));
            }
            let card = vars[var.index()].card();
            if i < 0 || i as u64 >= card as u64 {
                return Err(py_err(
                    py,
                    Error::UnknownState {
                        var: name.clone(),
                        state: i.to_string(),
                        states: vars[var.index()].states.clone(),
                    },
                    None,
                ));
            }
            i as usize
        } else {
            return Err(PyTypeError::new_err(format!(
                "evidence for '{name}' must be a state name (str) or a 0-based index (int)"
            )));
        };
        out.set(vars, var, state).py(py)?;
    }
    Ok(out)
}

/// A log Z estimate as a dict of its fields (`kind`, `bound_kind` as names).
pub fn estimate<'py>(py: Python<'py>, e: &LogZEstimate) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("log_z", e.log_z)?;
    d.set_item("std_err", e.std_err)?;
    d.set_item("lower", e.lower)?;
    d.set_item("upper", e.upper)?;
    d.set_item("ess", e.ess)?;
    d.set_item("kind", enum_name(&e.kind))?;
    d.set_item("bound_kind", e.bound_kind.as_ref().map(enum_name))?;
    d.set_item("lower_std_err", e.lower_std_err)?;
    d.set_item("upper_std_err", e.upper_std_err)?;
    Ok(d)
}

/// The serde name of a unit enum value (`"lower_bound"`).
pub fn enum_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}
