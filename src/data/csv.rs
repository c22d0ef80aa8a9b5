//! CSV data tables: read (plain or gzip), and write a completed copy back.
//!
//! Rules (see also DESIGN-NOTES.md, "missing-marker rule"):
//!
//! - The header holds variable names, in any order. A model variable without a column is an
//!   error ([`DataErrorKind::MissingColumn`]) unless it is listed in [`CsvOptions::latent`] (then
//!   all its cells are missing). A header name that is no variable of the model is, by default,
//!   **passed through**: ignored for learning and scoring, and written back unchanged by
//!   [`write_completed`]; with [`ExtraColumns::Reject`] it is an error.
//! - Cells are state names, compared exactly (no trimming, case-sensitive).
//! - A cell is missing when its text is one of [`CsvOptions::missing_markers`] (default `""`,
//!   `NA`, `?`, `NaN`) **and is not a state of that column's variable**: a state named `None`,
//!   `NA` or `?` is always that state (hailfinder and insurance have a state `None`).
//! - Files starting with the gzip magic bytes are decompressed on the fly (`.csv.gz`).
//! - Errors name the 1-based data row (the header is row 0) and the 1-based column.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use super::{Dataset, MAX_STATES, MISSING};
use crate::error::{DataErrorKind, Error, Result};
use crate::var::Variable;

/// What to do with header columns that name no variable of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExtraColumns {
    /// Keep them aside and write them back unchanged (default).
    #[default]
    PassThrough,
    /// Refuse the file ([`DataErrorKind::UnknownColumn`]).
    Reject,
}

/// Options of the CSV reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Cell texts that mean "missing" (unless the text is a state of the column's variable).
    pub missing_markers: Vec<String>,
    /// Header columns that are not model variables.
    pub extra_columns: ExtraColumns,
    /// Variables that may have no column or an all-missing column (hidden / latent variables).
    pub latent: Vec<String>,
    /// Keep the text of every record (needed by [`write_completed`]); default false.
    pub keep_text: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            missing_markers: DEFAULT_MISSING_MARKERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            extra_columns: ExtraColumns::PassThrough,
            latent: Vec::new(),
            keep_text: false,
        }
    }
}

/// The default missing markers: the empty cell, `NA`, `?` and `NaN`.
pub const DEFAULT_MISSING_MARKERS: &[&str] = &["", "NA", "?", "NaN"];

/// A CSV table read against a model: the coded [`Dataset`] plus what is needed to write it back.
#[derive(Debug, Clone)]
pub struct CsvTable {
    /// The coded cells (model variable order).
    pub data: Dataset,
    /// The header, as read.
    pub header: csv::ByteRecord,
    /// For each model variable, its 0-based column in the file (`None` for a latent variable
    /// without a column).
    pub var_column: Vec<Option<usize>>,
    /// 0-based file columns that are not model variables (passed through).
    pub extra_columns: Vec<usize>,
    /// The records as read (empty unless [`CsvOptions::keep_text`]).
    pub records: Vec<csv::ByteRecord>,
    /// The input bytes and record offsets (with [`CsvOptions::keep_text`]), so that
    /// [`write_completed`] gives the input back byte for byte outside the filled cells.
    pub raw: Option<super::raw::RawText>,
}

/// An [`Error::Data`] at `row`/`col` (1-based; row 0 = header) of the column `name`.
pub(crate) fn data_err(
    row: Option<usize>,
    col: Option<usize>,
    name: Option<&str>,
    kind: DataErrorKind,
) -> Error {
    Error::Data {
        row,
        col,
        column_name: name.map(str::to_string),
        kind,
    }
}

/// Longest line a CSV reader accepts (64 MiB): a longer one is an error, not an ever-growing
/// buffer (e.g. `--data /dev/zero`, or a binary file given by mistake).
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// A reader that fails with [`std::io::ErrorKind::InvalidData`] once a line (bytes between
/// newlines) exceeds `max` bytes. Every CSV reader of the crate reads through one.
#[derive(Debug)]
pub struct LineLimit<R> {
    /// The wrapped reader.
    pub inner: R,
    max: usize,
    run: usize,
}

impl<R: Read> LineLimit<R> {
    /// Wrap `inner`, allowing lines of at most `max` bytes.
    pub fn new(inner: R, max: usize) -> Self {
        LineLimit { inner, max, run: 0 }
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        for &b in &buf[..k] {
            if b == b'\n' {
                self.run = 0;
            } else {
                self.run += 1;
                if self.run > self.max {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "a line is longer than {} MiB (is this a CSV file?)",
                            self.max >> 20
                        ),
                    ));
                }
            }
        }
        Ok(k)
    }
}

/// Open a file for reading, decompressing it when it starts with the gzip magic bytes.
pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut r = BufReader::with_capacity(1 << 16, f);
    let head = r.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(r),
        )))
    } else {
        Ok(Box::new(r))
    }
}

/// The variables of a CSV file (plain or gzip) read from the data alone, for learning a model
/// without one: the header's names, and as the states of each column its distinct cell texts
/// (exactly as written) other than `opts.missing_markers`, in numeric order when all are numbers, else in text
/// order. Errors: as [`read_csv`] (with file, row and column), a column without any value
/// ([`DataErrorKind::AllMissing`]), more than [`MAX_STATES`] states.
pub fn discover_variables(path: &Path, opts: &CsvOptions) -> Result<Vec<Variable>> {
    let r = open_maybe_gz(path)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(LineLimit::new(r, MAX_LINE_BYTES));
    let with_path = |e: Error| match e {
        Error::Io { source, .. } => Error::io(path, source),
        e => e,
    };
    let mut header = csv::ByteRecord::new();
    if !rdr
        .read_byte_record(&mut header)
        .map_err(|e| with_path(csv_error(e, 0)))?
    {
        return Err(data_err(None, None, None, DataErrorKind::Empty));
    }
    let names: Vec<String> = header
        .iter()
        .map(|n| String::from_utf8_lossy(n).to_string())
        .collect();
    let mut seen = std::collections::HashSet::new();
    for (c, n) in names.iter().enumerate() {
        if n.is_empty() || !seen.insert(n.as_str()) {
            return Err(data_err(
                Some(0),
                Some(c + 1),
                Some(n),
                DataErrorKind::DuplicateColumn,
            ));
        }
    }
    let mut states: Vec<std::collections::BTreeSet<String>> = vec![Default::default(); names.len()];
    let mut rec = csv::ByteRecord::new();
    let mut row = 0;
    while rdr
        .read_byte_record(&mut rec)
        .map_err(|e| with_path(csv_error(e, row + 1)))?
    {
        row += 1;
        if rec.len() != names.len() {
            return Err(data_err(
                Some(row),
                None,
                None,
                DataErrorKind::RaggedRow {
                    expected: names.len(),
                    found: rec.len(),
                },
            ));
        }
        for (c, cell) in rec.iter().enumerate() {
            let text = String::from_utf8_lossy(cell);
            let text = text.as_ref();
            if opts.missing_markers.iter().any(|m| m == text) {
                continue;
            }
            if !states[c].contains(text) {
                if states[c].len() >= MAX_STATES {
                    return Err(data_err(
                        None,
                        Some(c + 1),
                        Some(&names[c]),
                        DataErrorKind::TooManyStates(MAX_STATES + 1),
                    ));
                }
                states[c].insert(text.to_string());
            }
        }
    }
    names
        .into_iter()
        .zip(states)
        .enumerate()
        .map(|(c, (name, set))| {
            if set.is_empty() {
                return Err(data_err(
                    None,
                    Some(c + 1),
                    Some(&name),
                    DataErrorKind::AllMissing,
                ));
            }
            let mut st: Vec<String> = set.into_iter().collect();
            let nums: Option<Vec<f64>> = st
                .iter()
                .map(|s| s.parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect();
            if let Some(nums) = nums {
                let mut idx: Vec<usize> = (0..st.len()).collect();
                idx.sort_by(|&a, &b| nums[a].total_cmp(&nums[b]));
                st = idx.into_iter().map(|i| st[i].clone()).collect();
            }
            Ok(Variable::new(name, st))
        })
        .collect()
}

/// Read a CSV file (plain or gzip) against the variables of a model.
pub fn read_csv_path(path: &Path, vars: &[Variable], opts: &CsvOptions) -> Result<CsvTable> {
    let r = open_maybe_gz(path)?;
    read_csv(r, vars, opts).map_err(|e| match e {
        Error::Io { source, .. } => Error::io(path, source),
        e => e,
    })
}

fn csv_error(e: csv::Error, row: usize) -> Error {
    let msg = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io("<csv input>", io),
        _ => data_err(Some(row), None, None, DataErrorKind::Syntax(msg)),
    }
}

/// Read CSV text against the variables of a model (see the module docs for the rules).
pub fn read_csv<R: Read>(reader: R, vars: &[Variable], opts: &CsvOptions) -> Result<CsvTable> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(LineLimit::new(
            super::raw::Tee::new(reader, opts.keep_text),
            MAX_LINE_BYTES,
        ));
    let mut header = csv::ByteRecord::new();
    if !rdr
        .read_byte_record(&mut header)
        .map_err(|e| csv_error(e, 0))?
    {
        return Err(data_err(None, None, None, DataErrorKind::Empty));
    }
    // column -> variable
    let index: std::collections::HashMap<&[u8], usize> = vars
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.as_bytes(), i))
        .collect();
    let mut var_column: Vec<Option<usize>> = vec![None; vars.len()];
    let mut col_var: Vec<Option<usize>> = Vec::with_capacity(header.len());
    let mut extra = Vec::new();
    for (c, name) in header.iter().enumerate() {
        let text = String::from_utf8_lossy(name);
        match index.get(name) {
            Some(&v) => {
                if var_column[v].is_some() {
                    return Err(data_err(
                        Some(0),
                        Some(c + 1),
                        Some(&text),
                        DataErrorKind::DuplicateColumn,
                    ));
                }
                var_column[v] = Some(c);
                col_var.push(Some(v));
            }
            None => {
                if opts.extra_columns == ExtraColumns::Reject {
                    return Err(data_err(
                        Some(0),
                        Some(c + 1),
                        Some(&text),
                        DataErrorKind::UnknownColumn,
                    ));
                }
                if extra.is_empty() && header.len() == 1 && name.is_empty() {
                    return Err(data_err(None, None, None, DataErrorKind::Empty));
                }
                extra.push(c);
                col_var.push(None);
            }
        }
    }
    for (v, var) in vars.iter().enumerate() {
        if var.card() > MAX_STATES {
            return Err(data_err(
                None,
                None,
                Some(&var.name),
                DataErrorKind::TooManyStates(var.card()),
            ));
        }
        if var_column[v].is_none() && !opts.latent.contains(&var.name) {
            return Err(data_err(
                None,
                None,
                Some(&var.name),
                DataErrorKind::MissingColumn,
            ));
        }
    }
    // per column: state names and whether each marker is a hole for it
    let states: Vec<Vec<&[u8]>> = vars
        .iter()
        .map(|v| v.states.iter().map(|s| s.as_bytes()).collect())
        .collect();
    let markers: Vec<&[u8]> = opts.missing_markers.iter().map(|m| m.as_bytes()).collect();
    let mut cols: Vec<Vec<u16>> = vec![Vec::new(); vars.len()];
    let mut records = Vec::new();
    let mut rec = csv::ByteRecord::new();
    let mut row = 0usize;
    loop {
        let more = rdr
            .read_byte_record(&mut rec)
            .map_err(|e| csv_error(e, row + 1))?;
        if !more {
            break;
        }
        row += 1;
        if rec.len() != header.len() {
            // a completely empty line at the very end of a one-column file is still a row; the
            // csv crate skips blank lines, so any mismatch is a ragged row
            return Err(data_err(
                Some(row),
                Some(rec.len().min(header.len()) + 1),
                None,
                DataErrorKind::RaggedRow {
                    expected: header.len(),
                    found: rec.len(),
                },
            ));
        }
        for (c, cell) in rec.iter().enumerate() {
            let Some(v) = col_var[c] else { continue };
            let code = match states[v].iter().position(|s| *s == cell) {
                Some(s) => s as u16,
                None if markers.contains(&cell) => MISSING,
                None => {
                    return Err(data_err(
                        Some(row),
                        Some(c + 1),
                        Some(&vars[v].name),
                        DataErrorKind::UnknownState {
                            state: String::from_utf8_lossy(cell).into_owned(),
                            states: vars[v].states.clone(),
                        },
                    ))
                }
            };
            cols[v].push(code);
        }
        if opts.keep_text {
            records.push(rec.clone());
        }
    }
    // the exact input, when its records are found where the csv reader found them (else the
    // completed copy is written from the parsed records)
    let raw = if opts.keep_text {
        let bytes = std::mem::take(&mut rdr.get_mut().inner.copy);
        let raw = super::raw::RawText::scan(bytes, b',');
        (raw.starts.len() == row + 1).then_some(raw)
    } else {
        None
    };
    for (v, col) in cols.iter_mut().enumerate() {
        match var_column[v] {
            None => *col = vec![MISSING; row],
            Some(c) => {
                if row > 0
                    && col.iter().all(|&x| x == MISSING)
                    && !opts.latent.contains(&vars[v].name)
                {
                    return Err(data_err(
                        None,
                        Some(c + 1),
                        Some(&vars[v].name),
                        DataErrorKind::AllMissing,
                    ));
                }
            }
        }
    }
    Ok(CsvTable {
        data: Dataset::from_columns(vars, cols)?,
        header,
        var_column,
        extra_columns: extra,
        records,
        raw,
    })
}

/// Write the table back with its missing cells filled in by `fill(row, var)` (a state index, or
/// `None` to leave the cell as it was). Everything else is the input byte for byte: the header,
/// observed cells and extra columns with their quoting, the BOM, line endings and blank lines
/// ([`super::raw::RawText`]); a filled cell is quoted when the hole was quoted or the state name
/// needs it. Needs [`CsvOptions::keep_text`].
pub fn write_completed<W: Write>(
    table: &CsvTable,
    vars: &[Variable],
    mut fill: impl FnMut(usize, usize) -> Option<usize>,
    w: W,
) -> Result<()> {
    if table.records.len() != table.data.num_rows() {
        return Err(Error::InvalidArgument(
            "the CSV table was read without keep_text; its records cannot be written back".into(),
        ));
    }
    let mut col_var: Vec<Option<usize>> = vec![None; table.header.len()];
    for (v, c) in table.var_column.iter().enumerate() {
        if let Some(c) = c {
            col_var[*c] = Some(v);
        }
    }
    if let Some(raw) = &table.raw {
        let mut w = w;
        let cols = table.data.columns();
        return raw
            .write_patched(&mut w, |r, c| {
                let v = col_var.get(c).copied().flatten()?;
                if cols[v][r] != MISSING {
                    return None;
                }
                fill(r, v).map(|s| vars[v].states[s].clone())
            })
            .map_err(|e| Error::io("<csv output>", e));
    }
    let mut wtr = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(w);
    let io = |e: csv::Error| {
        let msg = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(io) => Error::io("<csv output>", io),
            _ => Error::InvalidArgument(msg),
        }
    };
    wtr.write_byte_record(&table.header).map_err(io)?;
    let mut out = csv::ByteRecord::new();
    for (r, rec) in table.records.iter().enumerate() {
        out.clear();
        for (c, cell) in rec.iter().enumerate() {
            match col_var[c] {
                Some(v) if table.data.columns()[v][r] == MISSING => match fill(r, v) {
                    Some(s) => out.push_field(vars[v].states[s].as_bytes()),
                    None => out.push_field(cell),
                },
                _ => out.push_field(cell),
            }
        }
        wtr.write_byte_record(&out).map_err(io)?;
    }
    wtr.flush().map_err(|e| Error::io("<csv output>", e))?;
    Ok(())
}

/// Write `path` atomically: `write` fills a buffered temporary file in the same directory, which
/// is synced and renamed over `path` only when `write` succeeds. On any error the temporary file
/// is removed and `path` is left untouched (it never holds a partial file).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let mut staged = crate::io::outputs::Staged::new();
    staged.write(path, write)?;
    staged.commit()
}
