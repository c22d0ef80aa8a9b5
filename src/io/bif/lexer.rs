//! The BIF lexer: words, punctuation and quoted strings with their byte positions, so that every
//! error names a line and column.

use crate::error::{Error, Format, Result};

// ---------------------------------------------------------------------------------------------
// Tokenizer

/// Byte classes of the tokenizer.
pub(crate) const WORD: u8 = 0;
pub(crate) const SPACE: u8 = 1; // whitespace, ',' and '|' (ignored between tokens)
pub(crate) const PUNCT: u8 = 2; // { } [ ] ( ) ;
pub(crate) const QUOTE: u8 = 3;

pub(crate) const CLASS: [u8; 256] = {
    let mut t = [WORD; 256];
    t[b' ' as usize] = SPACE;
    t[b'\t' as usize] = SPACE;
    t[b'\n' as usize] = SPACE;
    t[b'\r' as usize] = SPACE;
    t[0x0b] = SPACE;
    t[0x0c] = SPACE;
    t[b',' as usize] = SPACE;
    t[b'|' as usize] = SPACE;
    t[b'{' as usize] = PUNCT;
    t[b'}' as usize] = PUNCT;
    t[b'[' as usize] = PUNCT;
    t[b']' as usize] = PUNCT;
    t[b'(' as usize] = PUNCT;
    t[b')' as usize] = PUNCT;
    t[b';' as usize] = PUNCT;
    t[b'"' as usize] = QUOTE;
    t
};

#[inline]
pub(crate) fn class(b: u8) -> u8 {
    CLASS[b as usize]
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind<'a> {
    /// A bare word (name, keyword or number).
    Word(&'a str),
    /// The contents of a double-quoted string.
    Quoted(&'a str),
    /// One of `{ } [ ] ( ) ;`.
    Punct(u8),
    Eof,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token<'a> {
    pub(crate) kind: Kind<'a>,
    /// Byte offset of the token in the text (line and column are computed from it on error).
    pub(crate) pos: usize,
}

impl<'a> Token<'a> {
    pub(crate) fn is(&self, p: u8) -> bool {
        self.kind == Kind::Punct(p)
    }

    /// A name: a bare word or a quoted string.
    pub(crate) fn name(&self) -> Option<&'a str> {
        match self.kind {
            Kind::Word(s) | Kind::Quoted(s) => Some(s),
            _ => None,
        }
    }

    /// A bare word equal (ignoring ASCII case) to a keyword.
    pub(crate) fn keyword(&self, kw: &str) -> bool {
        matches!(self.kind, Kind::Word(s) if s.eq_ignore_ascii_case(kw))
    }

    /// How the token is shown in messages.
    pub(crate) fn describe(&self) -> String {
        match self.kind {
            Kind::Word(s) => format!("'{}'", clip(s)),
            Kind::Quoted(s) => format!("\"{}\"", clip(s)),
            Kind::Punct(p) => format!("'{}'", p as char),
            Kind::Eof => "end of file".to_string(),
        }
    }
}

/// At most 40 characters of a token for messages, control characters escaped.
pub(crate) fn clip(s: &str) -> String {
    let mut t = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 40 {
            t.push_str("...");
            break;
        }
        if c.is_control() {
            t.extend(c.escape_default());
        } else {
            t.push(c);
        }
    }
    t
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let before = &bytes[..pos.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col = before[start..]
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count()
        + 1;
    (line, col)
}

pub(crate) struct Lexer<'a> {
    pub(crate) text: &'a str,
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        // skip a UTF-8 byte order mark
        let pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
        Lexer {
            text,
            bytes: text.as_bytes(),
            pos,
        }
    }

    pub(crate) fn error(&self, pos: usize, msg: String) -> Error {
        let (line, col) = line_col(self.text, pos);
        Error::Parse {
            format: Format::Bif,
            line,
            col,
            msg,
        }
    }

    /// The next token.
    pub(crate) fn next(&mut self) -> Result<Token<'a>> {
        self.scan()
    }

    /// Skip whitespace, separators and comments.
    pub(crate) fn skip_space(&mut self) -> Result<()> {
        let b = self.bytes;
        loop {
            while self.pos < b.len() && class(b[self.pos]) == SPACE {
                self.pos += 1;
            }
            if self.pos + 1 < b.len() && b[self.pos] == b'/' {
                match b[self.pos + 1] {
                    b'/' => {
                        self.pos = b[self.pos..]
                            .iter()
                            .position(|&c| c == b'\n')
                            .map_or(b.len(), |i| self.pos + i);
                        continue;
                    }
                    b'*' => {
                        let start = self.pos;
                        match b[start + 2..].windows(2).position(|w| w == b"*/") {
                            Some(i) => self.pos = start + 2 + i + 2,
                            None => {
                                return Err(self.error(start, "unterminated '/*' comment".into()))
                            }
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            return Ok(());
        }
    }

    pub(crate) fn scan(&mut self) -> Result<Token<'a>> {
        self.skip_space()?;
        let b = self.bytes;
        let start = self.pos;
        let Some(&c) = b.get(start) else {
            return Ok(Token {
                kind: Kind::Eof,
                pos: start,
            });
        };
        let kind = match class(c) {
            PUNCT => {
                self.pos += 1;
                Kind::Punct(c)
            }
            QUOTE => {
                let Some(len) = b[start + 1..].iter().position(|&q| q == b'"') else {
                    return Err(self.error(start, "unterminated '\"' string".into()));
                };
                self.pos = start + 1 + len + 1;
                Kind::Quoted(self.text.get(start + 1..start + 1 + len).unwrap_or(""))
            }
            _ => {
                let mut end = start + 1;
                while end < b.len() {
                    let d = b[end];
                    if class(d) != WORD
                        || (d == b'/' && matches!(b.get(end + 1), Some(b'/' | b'*')))
                    {
                        break;
                    }
                    end += 1;
                }
                self.pos = end;
                Kind::Word(self.text.get(start..end).unwrap_or(""))
            }
        };
        Ok(Token { kind, pos: start })
    }
}
