//! Shards of an imputation: the rows of a large table split into ranges that separate
//! processes or machines impute ([`super::ImputeOptions::rows`]), merged back into exactly the
//! one-shot result. Each block of [`super::BLOCK_ROWS`] rows draws from its own stream
//! `(seed, block)`, so a row's fill does not depend on which process imputes it.
//!
//! A shard keeps its rows' fills (row, variable, one state per imputation), the rows it found
//! impossible, the options, and fingerprints of the model and of the data file's bytes;
//! [`merge`] checks that the shards are parts of one run and applies their fills to the data.
//!
//! ```
//! use pgmkit::data::{Dataset, MISSING};
//! use pgmkit::impute::{impute, shard, ImputeMethod, ImputeOptions};
//! use pgmkit::BayesNetBuilder;
//! let mut b = BayesNetBuilder::new();
//! let a = b.add_variable("a", ["0", "1"]).unwrap();
//! let c = b.add_variable("c", ["0", "1"]).unwrap();
//! b.set_cpd(a, &[], vec![0.3, 0.7]).unwrap();
//! b.set_cpd(c, &[a], vec![0.9, 0.1, 0.2, 0.8]).unwrap();
//! let bn = b.build().unwrap();
//! let d = Dataset::from_columns(bn.vars(), vec![vec![MISSING; 200], vec![1; 200]]).unwrap();
//! let opts = ImputeOptions { method: ImputeMethod::Sample, seed: 4, ..Default::default() };
//! let whole = impute(&bn, &d, &opts, None).unwrap();
//! let parts: Vec<_> = [(0, 70), (70, 200)]
//!     .iter()
//!     .map(|&(s, e)| {
//!         let o = ImputeOptions { rows: Some(s..e), ..opts.clone() };
//!         shard::run(&bn, &d, &o, "data", None).unwrap()
//!     })
//!     .collect();
//! let merged = shard::merge(&d, &parts).unwrap();
//! assert_eq!(merged.completed[0].column(a), whole.completed[0].column(a));
//! ```

use serde::{Deserialize, Serialize};

use super::{impute, ImputeOptions, Imputed};
use crate::data::{Dataset, MISSING};
use crate::error::{Error, Result};
use crate::model::BayesNet;
use crate::var::{Evidence, VarId};

/// The `format` of an imputation shard file.
pub const FORMAT: &str = "pgmkit-impute-shard";

/// A part of an imputation (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImputeShard {
    /// Always [`FORMAT`].
    pub format: String,
    /// The pgmkit version that computed it.
    pub version: String,
    /// [`crate::shard::fingerprint`] of the model.
    pub fingerprint: String,
    /// A fingerprint of the data (the caller's: [`crate::shard::bytes_fingerprint`] of the
    /// file's bytes on the command line).
    pub data_fingerprint: String,
    /// The options that decide the fills (everything but the range), as text.
    pub settings: String,
    /// The caller's settings that must match too (the command line: how the CSV was read).
    pub context: String,
    /// Rows of the whole table.
    pub rows: usize,
    /// First row of the shard.
    pub start: usize,
    /// One past its last row.
    pub end: usize,
    /// Completed datasets.
    pub imputations: usize,
    /// `(row, variable, state per imputation)` of every cell the shard filled.
    pub fills: Vec<(usize, u32, Vec<u16>)>,
    /// Rows of the shard whose observed cells have probability zero, with why.
    pub impossible: Vec<(usize, String)>,
    /// For people (and for `pgmkit merge` to find them): the model and data files.
    pub model: String,
    /// See `model`.
    pub data: String,
}

impl ImputeShard {
    /// The shard as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a shard serialises")
    }

    /// A shard from JSON text. Errors: [`Error::InvalidArgument`] when it is not one.
    pub fn from_json(text: &str) -> Result<ImputeShard> {
        crate::shard::from_json(text, FORMAT, "imputation", |s: &ImputeShard| &s.format)
    }
}

fn settings(opts: &ImputeOptions) -> String {
    format!(
        "{:?}",
        ImputeOptions {
            rows: None,
            ..opts.clone()
        }
    )
}

/// Impute the rows `opts.rows` (every row when `None`) of `data` and keep them as a shard.
/// `data_fingerprint` identifies the data for [`merge`]'s caller.
///
/// Errors: those of [`impute`]; [`Error::InvalidArgument`] with cell posteriors asked for (a
/// shard keeps fills only).
pub fn run(
    bn: &BayesNet,
    data: &Dataset,
    opts: &ImputeOptions,
    data_fingerprint: &str,
    progress: Option<crate::sample::chains::Progress<'_>>,
) -> Result<ImputeShard> {
    if opts.posteriors {
        return Err(Error::InvalidArgument(
            "an imputation shard keeps the fills only, not the cell posteriors".into(),
        ));
    }
    let r = impute(bn, data, opts, progress)?;
    let range = opts.rows.clone().unwrap_or(0..data.num_rows());
    let mut fills = Vec::new();
    for row in range.clone() {
        for v in 0..data.num_vars() {
            let id = VarId(v as u32);
            if data.column(id)[row] != MISSING {
                continue;
            }
            let states: Vec<u16> = r.completed.iter().map(|d| d.column(id)[row]).collect();
            if states[0] != MISSING {
                fills.push((row, v as u32, states));
            }
        }
    }
    Ok(ImputeShard {
        format: FORMAT.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        fingerprint: crate::shard::fingerprint(&bn.to_factor_graph(), &Evidence::new(0)),
        data_fingerprint: data_fingerprint.into(),
        settings: settings(opts),
        context: String::new(),
        rows: data.num_rows(),
        start: range.start,
        end: range.end,
        imputations: opts.imputations,
        fills,
        impossible: r.impossible_rows,
        model: String::new(),
        data: String::new(),
    })
}

/// Apply the shards of one imputation of `data` (see the module docs): the completed datasets
/// of the whole run, exactly as one [`impute`] gives them (the posteriors aside).
///
/// Errors: [`Error::ShardMismatch`] when the shards are not parts of one run (another model,
/// data, options or version; row ranges with a gap or an overlap) or do not fit `data`.
pub fn merge(data: &Dataset, shards: &[ImputeShard]) -> Result<Imputed> {
    let Some(first) = shards.first() else {
        return Err(Error::InvalidArgument("no shard to merge".into()));
    };
    let mismatch = |shard, what, detail: String| Error::ShardMismatch {
        shard,
        what,
        detail,
    };
    for (i, s) in shards.iter().enumerate() {
        if s.version != first.version {
            return Err(mismatch(
                i,
                "version",
                format!("was computed by pgmkit {}", s.version),
            ));
        }
        if s.fingerprint != first.fingerprint {
            return Err(mismatch(i, "model", "imputed from another model".into()));
        }
        if s.data_fingerprint != first.data_fingerprint || s.rows != data.num_rows() {
            return Err(mismatch(i, "data", "imputed other data".into()));
        }
        if s.settings != first.settings
            || s.imputations != first.imputations
            || s.context != first.context
        {
            return Err(mismatch(
                i,
                "settings",
                format!(
                    "ran with other options: {} {} against {} {}",
                    s.settings, s.context, first.settings, first.context
                ),
            ));
        }
    }
    let ranges: Vec<_> = shards.iter().map(|s| s.start..s.end).collect();
    let order = crate::shard::tiling(&ranges, data.num_rows(), "row")?;
    let mut completed = vec![data.clone(); first.imputations];
    let mut impossible = Vec::new();
    let mut cells = 0;
    for &i in &order {
        let s = &shards[i];
        for (r, v, states) in &s.fills {
            let ok = (s.start..s.end).contains(r)
                && (*v as usize) < data.num_vars()
                && states.len() == first.imputations
                && states
                    .iter()
                    .all(|&x| (x as usize) < data.cards()[*v as usize])
                && data.get(*r, VarId(*v)).is_none();
            if !ok {
                return Err(mismatch(
                    i,
                    "data",
                    format!("fills row {r}, variable {v}, which this data has no hole at"),
                ));
            }
            for (d, &x) in completed.iter_mut().zip(states) {
                d.set(*r, VarId(*v), Some(x as usize));
            }
        }
        cells += s.fills.len();
        impossible.extend(s.impossible.iter().cloned());
    }
    Ok(Imputed {
        completed,
        posteriors: Vec::new(),
        impossible_rows: impossible,
        cells,
    })
}
