//! Numeric CSV tables with missing cells: reading (missing markers, typed data errors) and
//! writing a completed table that keeps every observed cell's text.

use std::io::Read;

use nalgebra::DMatrix;

use crate::data::csv::data_err;
use crate::error::{DataErrorKind, Error, Result};

/// Default missing markers of numeric CSV (as for discrete data).
pub const MISSING_MARKERS: [&str; 4] = ["", "NA", "?", "NaN"];

/// A numeric table: one column per model variable (in model order), NaN = missing.
#[derive(Debug, Clone)]
pub struct NumericTable {
    /// `rows x variables`, NaN for missing cells.
    pub data: DMatrix<f64>,
    /// The header as read.
    pub header: Vec<String>,
    /// For every model variable, its column in the file (0-based).
    pub column_of: Vec<usize>,
    /// Every cell's text as read (row-major, `rows x header.len()`), to write observed cells back
    /// unchanged.
    pub text: Vec<Vec<String>>,
    /// The input bytes and record offsets, so that [`write_numeric_completed`] gives the input
    /// back byte for byte outside the filled cells (`None` if the records could not be located).
    pub raw: Option<crate::data::raw::RawText>,
}

/// Read numeric CSV against the variable `names`: every variable needs a column (any order);
/// other columns are kept as text. Missing cells are the `markers` (default
/// [`MISSING_MARKERS`]); any other cell of a variable's column must parse as a finite number, else
/// [`Error::Data`] with the 1-based row and column and [`DataErrorKind::NotANumber`].
pub fn read_numeric_csv<R: Read>(
    reader: R,
    names: &[String],
    markers: &[&str],
) -> Result<NumericTable> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(crate::data::csv::LineLimit::new(
            crate::data::raw::Tee::new(reader, true),
            crate::data::csv::MAX_LINE_BYTES,
        ));
    let mut records = rdr.records();
    let header: Vec<String> = match records.next() {
        None => return Err(data_err(Some(0), None, None, DataErrorKind::Empty)),
        Some(r) => r
            .map_err(|e| data_err(Some(0), None, None, DataErrorKind::Syntax(e.to_string())))?
            .iter()
            .map(str::to_string)
            .collect(),
    };
    for (k, h) in header.iter().enumerate() {
        if header[..k].contains(h) {
            return Err(data_err(
                Some(0),
                Some(k + 1),
                Some(h),
                DataErrorKind::DuplicateColumn,
            ));
        }
    }
    let column_of: Vec<usize> = names
        .iter()
        .map(|n| {
            header
                .iter()
                .position(|h| h == n)
                .ok_or_else(|| data_err(Some(0), None, Some(n), DataErrorKind::MissingColumn))
        })
        .collect::<Result<_>>()?;
    let mut var_of_col = vec![usize::MAX; header.len()];
    for (v, &c) in column_of.iter().enumerate() {
        var_of_col[c] = v;
    }
    let mut values = Vec::new();
    let mut text = Vec::new();
    for (r, rec) in records.enumerate() {
        let row = r + 1;
        let rec =
            rec.map_err(|e| data_err(Some(row), None, None, DataErrorKind::Syntax(e.to_string())))?;
        if rec.len() != header.len() {
            return Err(data_err(
                Some(row),
                None,
                None,
                DataErrorKind::RaggedRow {
                    expected: header.len(),
                    found: rec.len(),
                },
            ));
        }
        let mut vals = vec![f64::NAN; names.len()];
        for (c, cell) in rec.iter().enumerate() {
            let v = var_of_col[c];
            if v == usize::MAX || markers.contains(&cell) {
                continue;
            }
            match cell.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => vals[v] = x,
                _ => {
                    return Err(data_err(
                        Some(row),
                        Some(c + 1),
                        Some(&header[c]),
                        DataErrorKind::NotANumber(cell.to_string()),
                    ))
                }
            }
        }
        values.extend(vals);
        text.push(rec.iter().map(str::to_string).collect());
    }
    let rows = text.len();
    let bytes = std::mem::take(&mut rdr.get_mut().inner.copy);
    let raw = crate::data::raw::RawText::scan(bytes, b',');
    Ok(NumericTable {
        data: DMatrix::from_row_slice(rows, names.len(), &values),
        header,
        column_of,
        text,
        raw: (raw.starts.len() == rows + 1).then_some(raw),
    })
}

/// Write `table` back as CSV with the cells of `completed` (`rows x variables`) filled in: every
/// cell that was not missing is written with its original text (observed cells and extra columns
/// byte-for-byte as read, modulo CSV quoting), every missing cell of a variable column with its
/// completed value (shortest text that reads back to the same `f64`; empty if still NaN).
pub fn write_numeric_completed<W: std::io::Write + ?Sized>(
    table: &NumericTable,
    completed: &DMatrix<f64>,
    out: &mut W,
) -> Result<()> {
    let e = |e: csv::Error| {
        let msg = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(io) => Error::io("<csv output>", io),
            _ => Error::InvalidArgument(msg),
        }
    };
    let mut var_of_col = vec![usize::MAX; table.header.len()];
    for (v, &c) in table.column_of.iter().enumerate() {
        var_of_col[c] = v;
    }
    if let Some(raw) = &table.raw {
        struct Adapter<'a, W: ?Sized>(&'a mut W);
        impl<W: std::io::Write + ?Sized> std::io::Write for Adapter<'_, W> {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                self.0.flush()
            }
        }
        return raw
            .write_patched(&mut Adapter(out), |r, c| {
                let v = *var_of_col.get(c)?;
                if v == usize::MAX || !table.data[(r, v)].is_nan() {
                    return None;
                }
                let x = completed[(r, v)];
                x.is_finite().then(|| format!("{x}"))
            })
            .map_err(|x| Error::io("<csv output>", x));
    }
    let mut wtr = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(out);
    wtr.write_record(&table.header).map_err(e)?;
    let mut cells: Vec<String> = Vec::with_capacity(table.header.len());
    for (r, text) in table.text.iter().enumerate() {
        cells.clear();
        for (c, t) in text.iter().enumerate() {
            let v = var_of_col[c];
            if v != usize::MAX && table.data[(r, v)].is_nan() {
                let x = completed[(r, v)];
                cells.push(if x.is_finite() {
                    format!("{x}")
                } else {
                    String::new()
                });
            } else {
                cells.push(t.clone());
            }
        }
        wtr.write_record(&cells).map_err(e)?;
    }
    wtr.flush().map_err(|x| Error::io("<csv output>", x))?;
    Ok(())
}
