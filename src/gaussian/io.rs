//! Reading and writing Gaussian Bayesian networks in the JSON layout of the bnlearn networks as
//! shipped by pgmpy (`ecoli70`, `magic-niab`, `magic-irri`, `arth150`):
//!
//! ```json
//! {
//!   "nodes": ["a", "b"],
//!   "arcs": [["a", "b"]],
//!   "cpds": {
//!     "a": {"coefficients": {"(Intercept)": [1.0]}, "variance": [4.0], "parents": []},
//!     "b": {"coefficients": {"(Intercept)": [0.5], "a": [2.0]}, "variance": [1.0], "parents": ["a"]}
//!   }
//! }
//! ```
//!
//! meaning `b = 0.5 + 2 a + e`, `e ~ N(0, 1)`; `variance` is the residual **variance**.
//! Syntax and type errors (a string where a number is expected, ...) are [`Error::Parse`] with
//! the line and column serde_json reports; model errors (unknown parent, non-positive variance,
//! a coefficient count that does not match the parents, arcs that disagree with the parents, a
//! cycle) are the typed errors of [`GaussianBnBuilder`].
//!
//! ```
//! let text = r#"{"nodes": ["a", "b"], "arcs": [["a", "b"]], "cpds": {
//!   "a": {"coefficients": {"(Intercept)": [1.0]}, "variance": [4.0], "parents": []},
//!   "b": {"coefficients": {"(Intercept)": [0.5], "a": [2.0]}, "variance": [1.0], "parents": ["a"]}}}"#;
//! let bn = pgmkit::gaussian::io::parse_gbn(text).unwrap();
//! let back = pgmkit::gaussian::io::parse_gbn(&pgmkit::gaussian::io::gbn_to_json(&bn)).unwrap();
//! assert_eq!(bn, back);
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use super::{GaussianBn, GaussianBnBuilder};
use crate::error::{Error, Format, Result};

/// The key of the intercept in `coefficients`.
pub const INTERCEPT_KEY: &str = "(Intercept)";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonGbn {
    nodes: Vec<String>,
    #[serde(default)]
    arcs: Vec<(String, String)>,
    cpds: BTreeMap<String, JsonCpd>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonCpd {
    coefficients: BTreeMap<String, Vec<f64>>,
    variance: Vec<f64>,
    #[serde(default)]
    parents: Vec<String>,
}

fn one(v: &[f64], what: impl FnOnce() -> String) -> Result<f64> {
    if v.len() != 1 {
        return Err(Error::DimensionMismatch {
            what: what(),
            expected: 1,
            found: v.len(),
        });
    }
    Ok(v[0])
}

/// Parse a Gaussian BN from JSON text (see the module docs).
pub fn parse_gbn(text: &str) -> Result<GaussianBn> {
    let j: JsonGbn = serde_json::from_str(text).map_err(|e| Error::Parse {
        format: Format::GaussianBnJson,
        line: e.line(),
        col: e.column(),
        msg: e.to_string(),
    })?;
    let mut b = GaussianBnBuilder::new();
    for name in &j.nodes {
        b.add_variable(name.clone())?;
    }
    for name in j.cpds.keys() {
        b.var(name)?;
    }
    let mut arcs = HashSet::new();
    for (p, c) in &j.arcs {
        let (pi, ci) = (b.var(p)?, b.var(c)?);
        if !arcs.insert((pi, ci)) {
            return Err(Error::InvalidModel(format!(
                "the arc {p} -> {c} is listed twice"
            )));
        }
    }
    let mut from_parents = HashSet::new();
    for name in &j.nodes {
        let cpd = j
            .cpds
            .get(name)
            .ok_or_else(|| Error::InvalidModel(format!("variable '{name}' has no CPD")))?;
        let var = b.var(name)?;
        let parents: Vec<usize> = cpd
            .parents
            .iter()
            .map(|p| b.var(p))
            .collect::<Result<_>>()?;
        let intercept = one(
            cpd.coefficients.get(INTERCEPT_KEY).ok_or_else(|| {
                Error::InvalidModel(format!("the CPD of '{name}' has no \"{INTERCEPT_KEY}\""))
            })?,
            || format!("\"{INTERCEPT_KEY}\" of '{name}' (one number)"),
        )?;
        let mut coefs = Vec::with_capacity(parents.len());
        for p in &cpd.parents {
            let v = cpd.coefficients.get(p).ok_or_else(|| {
                Error::InvalidModel(format!(
                    "the CPD of '{name}' has no coefficient for its parent '{p}'"
                ))
            })?;
            coefs.push(one(v, || {
                format!("coefficient of '{p}' in the CPD of '{name}' (one number)")
            })?);
        }
        if cpd.coefficients.len() != cpd.parents.len() + 1 {
            return Err(Error::DimensionMismatch {
                what: format!(
                    "coefficients of '{name}' (the intercept plus one per parent; keys: {})",
                    cpd.coefficients
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                expected: cpd.parents.len() + 1,
                found: cpd.coefficients.len(),
            });
        }
        let variance = one(&cpd.variance, || {
            format!("variance of '{name}' (one number)")
        })?;
        b.set_cpd(var, &parents, intercept, &coefs, variance)?;
        for &p in &parents {
            from_parents.insert((p, var));
        }
    }
    // the arcs repeat the parents; when given, they must agree
    if !j.arcs.is_empty() {
        if let Some((p, c)) = arcs.symmetric_difference(&from_parents).next() {
            let names = &j.nodes;
            return Err(Error::InvalidModel(format!(
                "the arcs and the CPD parents disagree on {} -> {}",
                names[*p], names[*c]
            )));
        }
    }
    b.build()
}

/// Read a Gaussian BN from a JSON file.
pub fn read_gbn(path: &Path) -> Result<GaussianBn> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_gbn(&text)
}

fn q(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// The network as JSON text in the same layout (nodes in index order; numbers printed with the
/// shortest representation that reads back to the same `f64`).
pub fn gbn_to_json(bn: &GaussianBn) -> String {
    let names = bn.names();
    let mut s = String::from("{\n  \"nodes\": [");
    s.push_str(&names.iter().map(|n| q(n)).collect::<Vec<_>>().join(", "));
    s.push_str("],\n  \"arcs\": [");
    let arcs: Vec<String> = (0..bn.num_vars())
        .flat_map(|i| {
            bn.cpd(i)
                .parents
                .iter()
                .map(move |&p| format!("\n    [{}, {}]", q(&names[p]), q(&names[i])))
        })
        .collect();
    s.push_str(&arcs.join(","));
    if !arcs.is_empty() {
        s.push_str("\n  ");
    }
    s.push_str("],\n  \"cpds\": {");
    let cpds: Vec<String> = (0..bn.num_vars())
        .map(|i| {
            let c = bn.cpd(i);
            let mut coefs = vec![format!("{}: [{:?}]", q(INTERCEPT_KEY), c.intercept)];
            coefs.extend(
                c.parents
                    .iter()
                    .zip(&c.coefficients)
                    .map(|(&p, b)| format!("{}: [{b:?}]", q(&names[p]))),
            );
            format!(
                "\n    {}: {{\"coefficients\": {{{}}}, \"variance\": [{:?}], \"parents\": [{}]}}",
                q(&names[i]),
                coefs.join(", "),
                c.variance,
                c.parents
                    .iter()
                    .map(|&p| q(&names[p]))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    s.push_str(&cpds.join(","));
    s.push_str("\n  }\n}\n");
    s
}

/// Write the network as JSON (to a temporary file renamed into place).
pub fn write_gbn(bn: &GaussianBn, path: &Path) -> Result<()> {
    crate::io::write_atomic(path, gbn_to_json(bn).as_bytes())
}
