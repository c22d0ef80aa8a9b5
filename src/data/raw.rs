//! The exact bytes of a CSV file, so that a completed copy differs from it only in the cells
//! that were filled.
//!
//! The CSV readers keep, on request, the input bytes ([`Tee`]) and the byte offset where each
//! record starts ([`RawText`]). [`RawText::write_patched`] then writes the input back byte for
//! byte (BOM, line endings, quoting, blank lines, a missing final newline) except for the cells
//! its callback replaces; a replacement is quoted when the original cell was quoted or when the
//! new text needs it.

use std::io::{Read, Write};

/// A reader that keeps a copy of every byte read through it.
#[derive(Debug)]
pub struct Tee<R> {
    inner: R,
    keep: bool,
    /// The bytes read so far (nothing when not keeping).
    pub copy: Vec<u8>,
}

impl<R: Read> Tee<R> {
    /// Wrap `inner`, keeping a copy only when `keep`.
    pub fn new(inner: R, keep: bool) -> Self {
        Tee {
            inner,
            keep,
            copy: Vec::new(),
        }
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        if self.keep {
            self.copy.extend_from_slice(&buf[..k]);
        }
        Ok(k)
    }
}

/// The input bytes and where each record (the header first) starts in them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawText {
    /// The whole input (decompressed).
    pub bytes: Vec<u8>,
    /// Byte offset of the start of every record: `starts[0]` the header (0), `starts[r + 1]`
    /// data row `r`.
    pub starts: Vec<usize>,
    /// The field delimiter.
    pub delimiter: u8,
}

impl RawText {
    /// Find the records of `bytes` as the CSV readers do (RFC 4180 quoting with `"`; `\n`,
    /// `\r` or `\r\n` end a record; blank lines are skipped; a UTF-8 BOM is skipped).
    pub fn scan(bytes: Vec<u8>, delimiter: u8) -> RawText {
        let mut starts = Vec::new();
        let mut pos = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
            3
        } else {
            0
        };
        loop {
            while pos < bytes.len() && (bytes[pos] == b'\n' || bytes[pos] == b'\r') {
                pos += 1;
            }
            if pos >= bytes.len() {
                break;
            }
            starts.push(pos);
            loop {
                let (_, end, _) = field(&bytes, pos, delimiter);
                pos = end;
                if pos < bytes.len() && bytes[pos] == delimiter {
                    pos += 1;
                } else {
                    break;
                }
            }
        }
        if let Some(s) = starts.first_mut() {
            *s = 0; // the header's record keeps the BOM and any blank lines before it
        }
        RawText {
            bytes,
            starts,
            delimiter,
        }
    }

    /// Write the input to `w` with the cells `replace(row, col)` returns text for replaced (row
    /// 0-based over data rows, col 0-based); the header and every other byte are copied.
    pub fn write_patched(
        &self,
        w: &mut dyn Write,
        mut replace: impl FnMut(usize, usize) -> Option<String>,
    ) -> std::io::Result<()> {
        let Some(&first_data) = self.starts.get(1) else {
            return w.write_all(&self.bytes);
        };
        w.write_all(&self.bytes[..first_data])?;
        for r in 0..self.starts.len() - 1 {
            let start = self.starts[r + 1];
            let end = self.starts.get(r + 2).copied().unwrap_or(self.bytes.len());
            let rec = &self.bytes[start..end];
            // a record's offset may point at the end of the previous line terminator or at
            // blank lines the reader skipped: copy those as they are
            let mut pos = rec
                .iter()
                .position(|&b| b != b'\n' && b != b'\r')
                .unwrap_or(rec.len());
            w.write_all(&rec[..pos])?;
            let mut col = 0;
            loop {
                let (fs, fe, quoted) = field(rec, pos, self.delimiter);
                match replace(r, col) {
                    Some(text) => {
                        w.write_all(&rec[pos..fs])?;
                        write_cell(w, &text, quoted, self.delimiter)?;
                    }
                    None => w.write_all(&rec[pos..fe])?,
                }
                pos = fe;
                if pos < rec.len() && rec[pos] == self.delimiter {
                    w.write_all(&rec[pos..pos + 1])?;
                    pos += 1;
                    col += 1;
                } else {
                    break;
                }
            }
            w.write_all(&rec[pos..])?;
        }
        Ok(())
    }
}

/// The field starting at `pos`: (start, end, quoted), where `end` is the delimiter, a line
/// terminator or the end of the record.
fn field(rec: &[u8], pos: usize, delim: u8) -> (usize, usize, bool) {
    let mut i = pos;
    if rec.get(i) == Some(&b'"') {
        i += 1;
        while i < rec.len() {
            if rec[i] == b'"' {
                if rec.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                i += 1;
                break;
            }
            i += 1;
        }
        // anything after the closing quote up to the delimiter belongs to the field
        while i < rec.len() && rec[i] != delim && rec[i] != b'\n' && rec[i] != b'\r' {
            i += 1;
        }
        return (pos, i, true);
    }
    while i < rec.len() && rec[i] != delim && rec[i] != b'\n' && rec[i] != b'\r' {
        i += 1;
    }
    (pos, i, false)
}

fn write_cell(w: &mut dyn Write, text: &str, quoted: bool, delim: u8) -> std::io::Result<()> {
    let needs = text
        .bytes()
        .any(|b| b == delim || b == b'"' || b == b'\n' || b == b'\r');
    if quoted || needs {
        w.write_all(b"\"")?;
        w.write_all(text.replace('"', "\"\"").as_bytes())?;
        w.write_all(b"\"")
    } else {
        w.write_all(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_replaced_cells_change() {
        let text = "\u{feff}a,\"b\"\r\n1,\"\"\r\n\"x,y\",NA\r\n\r\n2,3";
        let bytes = text.as_bytes().to_vec();
        let starts = vec![
            0,
            text.find("1,").unwrap(),
            text.find("\"x,y\"").unwrap(),
            text.rfind("2,").unwrap(),
        ];
        let raw = RawText {
            bytes,
            starts,
            delimiter: b',',
        };
        let mut out = Vec::new();
        raw.write_patched(&mut out, |r, c| match (r, c) {
            (0, 1) => Some("q\"uote".into()),
            (1, 1) => Some("v".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(RawText::scan(raw.bytes.clone(), b',').starts, raw.starts);
        let got = String::from_utf8(out).unwrap();
        assert_eq!(
            got,
            "\u{feff}a,\"b\"\r\n1,\"q\"\"uote\"\r\n\"x,y\",v\r\n\r\n2,3"
        );
    }
}
