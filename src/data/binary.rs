//! CSV tables of 0/1 values (the visible units of an RBM), with columns to set aside.
//!
//! ```
//! use pgmkit::data::binary::read_binary_csv;
//! let t = read_binary_csv("a,b,label\n1,0,x\n0,1,y\n".as_bytes(), None, &["label".into()])
//!     .unwrap();
//! assert_eq!(t.names, ["a", "b"]);
//! assert_eq!(t.rows, [[1.0, 0.0], [0.0, 1.0]]);
//! assert_eq!(t.ignored, 1);
//! ```

use std::io::Read;

use crate::error::{Error, Result};

/// A table of 0/1 values ([`read_binary_csv`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryTable {
    /// The columns read, in order.
    pub names: Vec<String>,
    /// One row of 0/1 values per record.
    pub rows: Vec<Vec<f64>>,
    /// Columns of the file that were not read.
    pub ignored: usize,
}

/// Read a CSV of 0/1 cells: the columns `columns` in that order (`None`: every column not in
/// `ignore`). Errors: a column named in `columns` or `ignore` that the header lacks, a cell
/// other than `0` or `1` (with its line and column), a malformed record.
pub fn read_binary_csv<R: Read>(
    reader: R,
    columns: Option<&[String]>,
    ignore: &[String],
) -> Result<BinaryTable> {
    let bad = |msg: String| Error::InvalidArgument(msg);
    let mut r = csv::ReaderBuilder::new().from_reader(reader);
    let header: Vec<String> = r
        .headers()
        .map_err(|e| bad(format!("CSV header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    for i in ignore {
        if !header.contains(i) {
            return Err(bad(format!("the data has no column '{i}' to ignore")));
        }
    }
    let names: Vec<String> = match columns {
        Some(c) => c.to_vec(),
        None => header
            .iter()
            .filter(|h| !ignore.contains(h))
            .cloned()
            .collect(),
    };
    let idx: Vec<usize> = names
        .iter()
        .map(|n| {
            header
                .iter()
                .position(|h| h == n)
                .ok_or_else(|| bad(format!("the data has no column for the visible unit '{n}'")))
        })
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for (k, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("CSV line {}: {e}", k + 2)))?;
        let row = idx
            .iter()
            .map(|&c| match rec.get(c).map(str::trim) {
                Some("0") => Ok(0.0),
                Some("1") => Ok(1.0),
                other => Err(bad(format!(
                    "line {}, column {}: an RBM's visible units are 0 or 1, found {:?}",
                    k + 2,
                    c + 1,
                    other.unwrap_or("")
                ))),
            })
            .collect::<Result<Vec<f64>>>()?;
        rows.push(row);
    }
    Ok(BinaryTable {
        ignored: header.len() - idx.len(),
        names,
        rows,
    })
}
