//! Data tables with missing cells: discrete observations ([`Dataset`], read by [`csv`]) and
//! numeric ones for Gaussian models ([`numeric::NumericTable`], read by [`numeric`]).
//!
//! A [`Dataset`] holds one column per model variable (in model order) of compact state codes:
//! `u16` per cell, column-major, with [`MISSING`] (`u16::MAX`) marking a missing cell. Read one
//! from CSV (`.csv` or gzip-compressed `.csv.gz`) with [`csv::read_csv_path`]; the reader also
//! keeps the original text of every cell ([`csv::CsvTable`]) so that imputed files can write
//! observed cells back unchanged ([`csv::write_completed`]).
//!
//! ```
//! use pgmkit::data::{csv::{read_csv, CsvOptions}, MISSING};
//! use pgmkit::BayesNetBuilder;
//! let mut b = BayesNetBuilder::new();
//! let rain = b.add_variable("rain", ["no", "yes"]).unwrap();
//! let wet = b.add_variable("wet", ["no", "yes", "None"]).unwrap();
//! b.set_cpd(rain, &[], vec![0.8, 0.2]).unwrap();
//! b.set_cpd(wet, &[rain], vec![0.8, 0.1, 0.1, 0.2, 0.7, 0.1]).unwrap();
//! let bn = b.build().unwrap();
//! // columns in any order; "NA" and "" are missing; "None" is a state of `wet`, never a hole
//! let text = "wet,rain\nyes,no\nNone,NA\n,yes\n";
//! let t = read_csv(text.as_bytes(), bn.vars(), &CsvOptions::default()).unwrap();
//! let d = &t.data;
//! assert_eq!((d.num_rows(), d.get(0, rain), d.get(1, wet)), (3, Some(0), Some(2)));
//! assert_eq!((d.get(1, rain), d.get(2, wet)), (None, None));
//! assert_eq!(d.column(wet)[2], MISSING);
//! ```

pub mod binary;
pub mod csv;
pub mod numeric;
pub mod raw;

use rand::Rng;

use crate::error::{DataErrorKind, Error, Result};
use crate::rng::chain_rng;
use crate::sample::ancestral::Samples;
use crate::var::{VarId, Variable};

/// The code of a missing cell.
pub const MISSING: u16 = u16::MAX;

/// Largest number of states a variable may have in a [`Dataset`].
pub const MAX_STATES: usize = u16::MAX as usize;

/// Rows of discrete observations over the variables of a model, column-major `u16` codes with
/// [`MISSING`] for a missing cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    cards: Vec<usize>,
    rows: usize,
    cols: Vec<Vec<u16>>,
}

impl Dataset {
    /// A complete dataset from rows of states (one state per variable in model order, as
    /// [`crate::infer::ais::exact_samples`] or a sampler gives them). Errors: a row of the
    /// wrong length, a state out of range.
    pub fn from_rows(vars: &[Variable], rows: &[Vec<usize>]) -> Result<Self> {
        let mut cols: Vec<Vec<u16>> = vec![Vec::with_capacity(rows.len()); vars.len()];
        for (r, row) in rows.iter().enumerate() {
            crate::error::check_dim(&format!("states of row {}", r + 1), vars.len(), row.len())?;
            for ((c, &s), v) in cols.iter_mut().zip(row).zip(vars) {
                if s >= v.card() {
                    return Err(Error::InvalidArgument(format!(
                        "row {}: state {s} of '{}' is out of range ({} states)",
                        r + 1,
                        v.name,
                        v.card()
                    )));
                }
                c.push(s as u16);
            }
        }
        Dataset::from_columns(vars, cols)
    }

    /// A dataset from columns (one per variable in model order, each of the same length). Codes
    /// must be below the cardinality or [`MISSING`].
    pub fn from_columns(vars: &[Variable], cols: Vec<Vec<u16>>) -> Result<Self> {
        if cols.len() != vars.len() {
            return Err(Error::InvalidArgument(format!(
                "a dataset needs one column per variable ({}), got {}",
                vars.len(),
                cols.len()
            )));
        }
        let rows = cols.first().map_or(0, |c| c.len());
        for (v, c) in vars.iter().zip(&cols) {
            if v.card() > MAX_STATES {
                return Err(Error::Data {
                    row: None,
                    col: None,
                    column_name: Some(v.name.clone()),
                    kind: DataErrorKind::TooManyStates(v.card()),
                });
            }
            if c.len() != rows {
                return Err(Error::InvalidArgument(format!(
                    "column '{}' has {} rows, the first column {}",
                    v.name,
                    c.len(),
                    rows
                )));
            }
            if let Some(r) = c
                .iter()
                .position(|&x| x != MISSING && x as usize >= v.card())
            {
                return Err(Error::Data {
                    row: Some(r + 1),
                    col: None,
                    column_name: Some(v.name.clone()),
                    kind: DataErrorKind::UnknownState {
                        state: c[r].to_string(),
                        states: v.states.clone(),
                    },
                });
            }
        }
        Ok(Dataset {
            cards: vars.iter().map(|v| v.card()).collect(),
            rows,
            cols,
        })
    }

    /// A complete dataset from sampled rows (e.g. [`crate::sample::ancestral::forward_sample`]).
    pub fn from_samples(s: &Samples) -> Self {
        let n = s.num_vars();
        let mut cols = vec![Vec::with_capacity(s.num_rows()); n];
        let mut row = vec![0usize; n];
        for r in 0..s.num_rows() {
            s.row_into(r, &mut row);
            for (c, &x) in cols.iter_mut().zip(&row) {
                c.push(x as u16);
            }
        }
        Dataset {
            cards: s.cards().to_vec(),
            rows: s.num_rows(),
            cols,
        }
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// Number of variables (columns, model order).
    pub fn num_vars(&self) -> usize {
        self.cards.len()
    }

    /// Cardinality of every variable.
    pub fn cards(&self) -> &[usize] {
        &self.cards
    }

    /// The column of a variable (codes, [`MISSING`] for a hole). Panics when `var` is out of range.
    pub fn column(&self, var: VarId) -> &[u16] {
        &self.cols[var.index()]
    }

    /// All columns.
    pub fn columns(&self) -> &[Vec<u16>] {
        &self.cols
    }

    /// The state of a cell, `None` when missing. Panics when out of range.
    pub fn get(&self, row: usize, var: VarId) -> Option<usize> {
        let c = self.cols[var.index()][row];
        (c != MISSING).then_some(c as usize)
    }

    /// Set a cell (`None` = missing). Panics when out of range or the state is too large.
    pub fn set(&mut self, row: usize, var: VarId, state: Option<usize>) {
        let k = self.cards[var.index()];
        self.cols[var.index()][row] = match state {
            Some(s) => {
                assert!(s < k, "state {s} out of range ({k} states)");
                s as u16
            }
            None => MISSING,
        };
    }

    /// Copy row `row` into `out` (codes in model order, [`MISSING`] for holes).
    pub fn row_into(&self, row: usize, out: &mut [u16]) {
        for (o, c) in out.iter_mut().zip(&self.cols) {
            *o = c[row];
        }
    }

    /// Number of missing cells.
    pub fn num_missing(&self) -> usize {
        self.cols
            .iter()
            .map(|c| c.iter().filter(|&&x| x == MISSING).count())
            .sum()
    }

    /// Hide every cell independently with probability `rate` (missing completely at random).
    /// Column `v` uses the stream `chain_rng(seed, v)`, so the mask does not depend on threads.
    /// Returns the masked copy and the hidden cells as `(row, var)` pairs, column by column.
    pub fn mask_mcar(&self, rate: f64, seed: u64) -> Result<(Dataset, Vec<(usize, VarId)>)> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(Error::InvalidArgument(format!(
                "the mask rate must be in [0, 1], got {rate}"
            )));
        }
        let mut out = self.clone();
        let mut hidden = Vec::new();
        for (v, col) in out.cols.iter_mut().enumerate() {
            let mut rng = chain_rng(seed, v as u64);
            for (r, x) in col.iter_mut().enumerate() {
                if rng.random::<f64>() < rate && *x != MISSING {
                    *x = MISSING;
                    hidden.push((r, VarId(v as u32)));
                }
            }
        }
        Ok((out, hidden))
    }
}
