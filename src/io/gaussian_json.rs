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
//! let bn = pgmkit::io::gaussian_json::parse_gbn(text).unwrap();
//! let back = pgmkit::io::gaussian_json::parse_gbn(&pgmkit::io::gaussian_json::gbn_to_json(&bn)).unwrap();
//! assert_eq!(bn, back);
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Format, Result};
use crate::gaussian::{GaussianBn, GaussianBnBuilder, GaussianModel, Gmrf, SparseSym};
use crate::model::Boundary;
use crate::var::VarId;

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
        let parents: Vec<VarId> = cpd
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
                names[p.index()],
                names[c.index()]
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
            bn.cpd(VarId(i as u32))
                .parents
                .iter()
                .map(move |&p| format!("\n    [{}, {}]", q(&names[p.index()]), q(&names[i])))
        })
        .collect();
    s.push_str(&arcs.join(","));
    if !arcs.is_empty() {
        s.push_str("\n  ");
    }
    s.push_str("],\n  \"cpds\": {");
    let cpds: Vec<String> = (0..bn.num_vars())
        .map(|i| {
            let c = bn.cpd(VarId(i as u32));
            let mut coefs = vec![format!("{}: [{:?}]", q(INTERCEPT_KEY), c.intercept)];
            coefs.extend(
                c.parents
                    .iter()
                    .zip(&c.coefficients)
                    .map(|(&p, b)| format!("{}: [{b:?}]", q(&names[p.index()]))),
            );
            format!(
                "\n    {}: {{\"coefficients\": {{{}}}, \"variance\": [{:?}], \"parents\": [{}]}}",
                q(&names[i]),
                coefs.join(", "),
                c.variance,
                c.parents
                    .iter()
                    .map(|&p| q(&names[p.index()]))
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

/// The `"format"` value that marks a Gaussian MRF JSON file.
pub const GMRF_FORMAT: &str = "pgmkit-gmrf";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonGmrf {
    format: String,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    h: Option<Vec<f64>>,
    #[serde(default)]
    precision: Option<JsonPrecision>,
    #[serde(default)]
    lattice: Option<JsonLattice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonPrecision {
    n: usize,
    entries: Vec<(usize, usize, f64)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLattice {
    rows: usize,
    cols: usize,
    #[serde(default)]
    periodic: bool,
    diagonal: f64,
    coupling: f64,
}

/// A Gaussian model read from a file, with its variable names.
#[derive(Debug, Clone)]
pub struct GaussianFile {
    /// The model.
    pub model: GaussianModel,
    /// Variable names, in index order.
    pub names: Vec<String>,
}

impl GaussianFile {
    /// Index of the variable `name`. Errors: [`Error::UnknownVariable`].
    pub fn var(&self, name: &str) -> Result<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| Error::UnknownVariable(name.to_string()))
    }
}

/// Smallest memory a GMRF variable takes (mean, information, name, precision entries and their
/// factor), for the size check before reading.
const GMRF_BYTES_PER_VAR: f64 = 256.0;

/// Parse a Gaussian MRF from JSON text:
///
/// ```json
/// {"format": "pgmkit-gmrf", "names": ["a", "b", "c"], "h": [1.0, 0.0, -0.5],
///  "precision": {"n": 3, "entries": [[0, 0, 2.0], [1, 1, 2.0], [2, 2, 2.0], [0, 1, -0.8], [1, 2, -0.8]]}}
/// ```
///
/// `p(x) ∝ exp(-1/2 x'Λx + h'x)`. `entries` are `[i, j, value]` with 0-based indices; give each
/// off-diagonal pair once (either triangle; the matrix is symmetric). Instead of `precision`, a
/// lattice `{"rows": R, "cols": C, "periodic": false, "diagonal": d, "coupling": c}` gives
/// `Λ = d I - c A` with the 4-neighbour adjacency `A` (site `r * C + col`). `names` (default
/// `"0"`, `"1"`, ...) and `h` (default zeros) are optional. Errors: syntax and types
/// ([`Error::Parse`]), sizes that disagree, an entry listed twice, a non-symmetric or not
/// positive definite precision ([`Error::NotPositiveDefinite`]).
pub fn parse_gmrf(text: &str) -> Result<(Gmrf, Vec<String>)> {
    let j: JsonGmrf = serde_json::from_str(text).map_err(|e| Error::Parse {
        format: Format::GmrfJson,
        line: e.line(),
        col: e.column(),
        msg: e.to_string(),
    })?;
    if j.format != GMRF_FORMAT {
        return Err(Error::InvalidModel(format!(
            "\"format\" is \"{}\", expected \"{GMRF_FORMAT}\"",
            j.format
        )));
    }
    // sizes come from the file: refuse what cannot fit before allocating (a variable costs at
    // least its mean, information, name and a few factor entries)
    let declared = match (&j.precision, &j.lattice) {
        (Some(p), None) => Some(p.n),
        (None, Some(l)) => {
            Some(
                l.rows
                    .checked_mul(l.cols)
                    .ok_or_else(|| Error::AllocationTooLarge {
                        what: format!("a {} x {} GMRF lattice", l.rows, l.cols),
                        bytes: l.rows as f64 * l.cols as f64 * GMRF_BYTES_PER_VAR,
                        limit: crate::limits::default_memory_limit(),
                    })?,
            )
        }
        _ => None,
    };
    if let Some(n) = declared {
        crate::limits::check_bytes(
            &format!("a GMRF of {n} variables"),
            n as f64 * GMRF_BYTES_PER_VAR,
            crate::limits::default_memory_limit(),
        )?;
    }
    let lambda = match (&j.precision, &j.lattice) {
        (Some(p), None) => {
            let mut seen = HashSet::new();
            for &(a, b, _) in &p.entries {
                if !seen.insert((a.min(b), a.max(b))) {
                    return Err(Error::InvalidModel(format!(
                        "precision entry ({a}, {b}) is listed twice (give each pair once)"
                    )));
                }
            }
            SparseSym::from_triplets(p.n, &p.entries)?
        }
        (None, Some(l)) => {
            let b = if l.periodic {
                Boundary::Periodic
            } else {
                Boundary::Free
            };
            SparseSym::lattice(l.rows, l.cols, b, l.diagonal, l.coupling)?
        }
        _ => {
            return Err(Error::InvalidModel(
                "a GMRF needs exactly one of \"precision\" and \"lattice\"".into(),
            ))
        }
    };
    let n = lambda.n();
    let names = match j.names {
        Some(names) => {
            crate::error::check_dim("names (one per variable)", n, names.len())?;
            let mut seen = HashSet::new();
            if let Some(d) = names.iter().find(|x| !seen.insert(x.as_str())) {
                return Err(Error::InvalidModel(format!(
                    "the variable name '{d}' is used twice"
                )));
            }
            names
        }
        None => (0..n).map(|i| i.to_string()).collect(),
    };
    let h = j.h.unwrap_or_else(|| vec![0.0; n]);
    Ok((Gmrf::sparse(lambda, h)?, names))
}

/// The GMRF as JSON in the layout of [`parse_gmrf`] (precision as its lower-triangle entries).
pub fn gmrf_to_json(g: &Gmrf, names: &[String]) -> String {
    let n = g.dim();
    let mut entries = Vec::new();
    for i in 0..n {
        for j in 0..=i {
            let v = g.precision_entry(i, j);
            if v != 0.0 {
                entries.push(format!("[{i}, {j}, {v:?}]"));
            }
        }
    }
    format!(
        "{{\"format\": {}, \"names\": [{}],\n \"h\": [{}],\n \"precision\": {{\"n\": {n}, \"entries\": [{}]}}}}\n",
        q(GMRF_FORMAT),
        names.iter().map(|s| q(s)).collect::<Vec<_>>().join(", "),
        g.h().iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(", "),
        entries.join(", ")
    )
}

/// Whether JSON text is a GMRF file: a top-level `"format"` key with the value
/// [`GMRF_FORMAT`] (a cheap textual check; the parse decides).
fn looks_like_gmrf(text: &str) -> bool {
    text.contains("\"format\"") && text.contains(GMRF_FORMAT)
}

/// Parse a Gaussian model from JSON text: a GMRF when the text carries
/// `"format": "pgmkit-gmrf"`, else a Gaussian BN ([`parse_gbn`]).
pub fn parse_gaussian(text: &str) -> Result<GaussianFile> {
    if looks_like_gmrf(text) {
        let (g, names) = parse_gmrf(text)?;
        Ok(GaussianFile {
            model: GaussianModel::Mrf(g),
            names,
        })
    } else {
        let bn = parse_gbn(text)?;
        let names = bn.names().to_vec();
        Ok(GaussianFile {
            model: GaussianModel::Bn(bn),
            names,
        })
    }
}

/// Read a Gaussian model (BN or GMRF JSON) from a file.
pub fn read_gaussian(path: &Path) -> Result<GaussianFile> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_gaussian(&text)
}

/// Whether a model file is a Gaussian model: a `.json` extension, or text that starts with `{`
/// (after white space), and not an RBM ([`super::rbm_json::is_rbm_path`]).
pub fn is_gaussian_path(path: &Path) -> bool {
    if super::rbm_json::is_rbm_path(path) {
        return false;
    }
    if path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        return true;
    }
    use std::io::Read;
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut buf = [0u8; 256];
    let k = f.take(256).read(&mut buf).unwrap_or(0);
    buf[..k]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}
