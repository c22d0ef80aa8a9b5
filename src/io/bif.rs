//! BIF (Bayesian Interchange Format) reader and writer.
//!
//! The reader accepts the dialect of the bnlearn repository files (as shipped by pgmpy) and the
//! older JavaBayes BIF 0.15 files:
//!
//! ```text
//! network unknown {
//! }
//! variable Age {
//!   type discrete [ 3 ] { 0-3_days, 4-10_days, 11-30_days };
//!   property position = (10, 20);
//! }
//! probability ( Sick | Age ) {
//!   (4-10_days) 0.3, 0.7;
//!   (0-3_days) 0.1, 0.9;
//!   default 0.5, 0.5;
//! }
//! probability ( Age ) {
//!   table 0.2, 0.3, 0.5;
//! }
//! ```
//!
//! # Syntax accepted
//!
//! - Whitespace, `//` line comments and `/* */` block comments separate tokens. As in the BIF
//!   specification, `,` and `|` are ignored between tokens, so `( A | B, C )` and `( A B C )` are
//!   the same and numbers may be separated by commas and/or whitespace.
//! - A *name* (of a variable or state) is any run of characters other than whitespace and
//!   `{ } [ ] ( ) ; , | "`, e.g. `<5`, `12+`, `Asy/Patch`, `>=7.5`; or any text in double quotes
//!   (`"light-on"`). Names are case sensitive; keywords are not.
//! - Blocks: `network NAME { property ...; }` (optional), `variable NAME { type discrete [ N ]
//!   { s1, s2, ... }; property ...; }` and `probability ( CHILD | PARENT, ... ) { ... }`. Every
//!   variable must be declared before the probability block that uses it, and every variable needs
//!   exactly one probability block. `property` statements are skipped (up to their `;`).
//! - Inside a probability block:
//!   - `(s1, s2) p, p, ...;` gives `P(child | parents = (s1, s2))`, one number per child state.
//!     Parent states are matched by name, so the lines may come in any order; a configuration
//!     given twice is an error, and so is a configuration left out (unless there is a `default`).
//!   - `default p, p, ...;` (one number per child state) fills every configuration not listed.
//!     For compatibility with pgmpy, a `default` line holding the *whole* table is read like
//!     `table`.
//!   - `table p, p, ...;` gives the whole table at once. **Ordering:** the values run over the
//!     variables of the block header with the *first* one (the child) varying slowest and the last
//!     parent fastest: `table` for `( X | A, B )` lists `P(X=x0 | a0,b0), P(X=x0 | a0,b1), ...,
//!     P(X=x1 | a0,b0), ...`. This is the JavaBayes / BIF 0.15 convention, and the one pgmpy's
//!     `BIFReader` implements (it reshapes the numbers to `(card(X), n_configs)` in C order; its
//!     test suite reads `probability ( "dog-out" "bowel-problem" "family-out" ) { table 0.99 0.97
//!     0.9 0.3 0.01 0.03 0.1 0.7 ; }` as `P(dog-out=true | ·) = 0.99, 0.97, 0.9, 0.3`). For a
//!     variable without parents every convention agrees. The bnlearn files use `table` only for
//!     variables without parents.
//! - Probabilities are decimal numbers (`1`, `0.0`, `1e-05`, `.5`), parsed to the nearest `f64`.
//!
//! Errors are [`Error::Parse`] with the 1-based line and column of the offending token (columns
//! count characters). Semantic problems found while reading (an undeclared variable, an unknown
//! state, a wrong count of numbers, a missing or duplicated parent configuration) are parse errors
//! too, placed at the token or block concerned. Normalisation and acyclicity are checked by
//! [`BayesNetBuilder`], so a column that does not sum to one comes back as
//! [`Error::NotNormalized`] (unless [`LoadOptions::renormalize`] is set) and a directed cycle as
//! [`Error::Cycle`]. The reader never panics, whatever the input.
//!
//! # Writing
//!
//! [`write_bif`] writes the bnlearn style: a `network unknown {}` block, the variable blocks, then
//! one probability block per variable — `table` for a variable without parents, otherwise one line
//! per parent configuration in row-major order (first parent slowest). Every probability is printed
//! in its shortest round-trip form, so writing and reading back gives bit-identical numbers. Names
//! that could not be read back as bare words are written in double quotes.
//!
//! # Example
//!
//! ```
//! use pgmkit::io::bif::{parse_bif, write_bif};
//! use pgmkit::io::LoadOptions;
//!
//! let text = "
//! network unknown {
//! }
//! variable rain {
//!   type discrete [ 2 ] { no, yes };
//! }
//! variable wet {
//!   type discrete [ 2 ] { dry, <5mm };
//! }
//! probability ( rain ) {
//!   table 0.8, 0.2;
//! }
//! probability ( wet | rain ) {
//!   (yes) 0.2, 0.8;   // lines may come in any order
//!   (no) 0.9, 0.1;
//! }
//! ";
//! let bn = parse_bif(text, &LoadOptions::default()).unwrap();
//! let wet = bn.var_id("wet").unwrap();
//! assert_eq!(bn.var(wet).states, ["dry", "<5mm"]);
//! assert_eq!(bn.cpd(wet).probs, [0.9, 0.1, 0.2, 0.8]);
//!
//! // writing and reading back is lossless
//! let again = parse_bif(&write_bif(&bn), &LoadOptions::default()).unwrap();
//! assert_eq!(again.cpds(), bn.cpds());
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;

use super::LoadOptions;
use crate::error::{Error, Format, Result};
use crate::model::{BayesNet, BayesNetBuilder};
use crate::var::VarId;

/// Largest CPT (in entries) the reader builds when the file itself is smaller: a `default` line
/// can fill a table far larger than the text, so such tables are capped at this size.
const MAX_DEFAULT_FILLED_ENTRIES: usize = 1 << 24;

/// Parse a BIF document into a Bayesian network (see the [module docs](self) for the syntax).
///
/// The builder uses `opts.tolerance` for the column-sum check and `opts.renormalize` to divide
/// every column by its sum.
pub fn parse_bif(text: &str, opts: &LoadOptions) -> Result<BayesNet> {
    let builder = BayesNetBuilder::new()
        .tolerance(opts.tolerance)
        .renormalize(opts.renormalize);
    Parser::new(text, builder).parse()
}

/// Write a network as BIF (lossless: every probability printed in shortest round-trip form).
pub fn write_bif(bn: &BayesNet) -> String {
    let vars = bn.vars();
    let mut out = String::with_capacity(
        64 * vars.len() + 24 * bn.cpds().iter().map(|c| c.probs.len()).sum::<usize>(),
    );
    out.push_str("network unknown {\n}\n");
    for v in vars {
        let _ = write!(
            out,
            "variable {} {{\n  type discrete [ {} ] {{ ",
            name(&v.name),
            v.card()
        );
        for (i, s) in v.states.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&name(s));
        }
        out.push_str(" };\n}\n");
    }
    for cpd in bn.cpds() {
        let child = &vars[cpd.child.index()];
        let card = child.card();
        let _ = write!(out, "probability ( {}", name(&child.name));
        for (i, p) in cpd.parents.iter().enumerate() {
            out.push_str(if i == 0 { " | " } else { ", " });
            out.push_str(&name(&vars[p.index()].name));
        }
        out.push_str(" ) {\n");
        if cpd.parents.is_empty() {
            out.push_str("  table ");
            write_numbers(&mut out, &cpd.probs);
            out.push_str(";\n");
        } else {
            let pcards: Vec<usize> = cpd.parents.iter().map(|p| vars[p.index()].card()).collect();
            let mut config = vec![0usize; pcards.len()];
            for row in cpd.probs.chunks(card.max(1)) {
                out.push_str("  (");
                for (i, (p, s)) in cpd.parents.iter().zip(&config).enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&name(&vars[p.index()].states[*s]));
                }
                out.push_str(") ");
                write_numbers(&mut out, row);
                out.push_str(";\n");
                // advance the configuration odometer, last parent fastest
                for (c, k) in config.iter_mut().zip(&pcards).rev() {
                    *c += 1;
                    if *c < *k {
                        break;
                    }
                    *c = 0;
                }
            }
        }
        out.push_str("}\n");
    }
    out
}

/// `p, p, ...` in shortest round-trip form.
fn write_numbers(out: &mut String, probs: &[f64]) {
    for (i, p) in probs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_number(out, *p);
    }
}

/// One number: plain decimal when that is short, otherwise scientific. Both `Display` and
/// `LowerExp` print the shortest digits that read back to the same `f64`.
fn write_number(out: &mut String, p: f64) {
    let a = p.abs();
    let _ = if a == 0.0 || (1e-5..1e16).contains(&a) {
        write!(out, "{p}")
    } else {
        write!(out, "{p:e}")
    };
}

/// A name as written: bare when the reader would read it back as the same single word, quoted
/// otherwise.
fn name(s: &str) -> std::borrow::Cow<'_, str> {
    let bare = !s.is_empty()
        && !s.bytes().any(|b| class(b) != WORD)
        && !s.contains("//")
        && !s.contains("/*");
    if bare {
        std::borrow::Cow::Borrowed(s)
    } else {
        // a '"' cannot be represented inside a quoted name; drop it rather than write a broken file
        std::borrow::Cow::Owned(format!("\"{}\"", s.replace('"', "")))
    }
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

/// Byte classes of the tokenizer.
const WORD: u8 = 0;
const SPACE: u8 = 1; // whitespace, ',' and '|' (ignored between tokens)
const PUNCT: u8 = 2; // { } [ ] ( ) ;
const QUOTE: u8 = 3;

const CLASS: [u8; 256] = {
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
fn class(b: u8) -> u8 {
    CLASS[b as usize]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind<'a> {
    /// A bare word (name, keyword or number).
    Word(&'a str),
    /// The contents of a double-quoted string.
    Quoted(&'a str),
    /// One of `{ } [ ] ( ) ;`.
    Punct(u8),
    Eof,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind<'a>,
    /// Byte offset of the token in the text (line and column are computed from it on error).
    pos: usize,
}

impl<'a> Token<'a> {
    fn is(&self, p: u8) -> bool {
        self.kind == Kind::Punct(p)
    }

    /// A name: a bare word or a quoted string.
    fn name(&self) -> Option<&'a str> {
        match self.kind {
            Kind::Word(s) | Kind::Quoted(s) => Some(s),
            _ => None,
        }
    }

    /// A bare word equal (ignoring ASCII case) to a keyword.
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.kind, Kind::Word(s) if s.eq_ignore_ascii_case(kw))
    }

    /// How the token is shown in messages.
    fn describe(&self) -> String {
        match self.kind {
            Kind::Word(s) => format!("'{}'", clip(s)),
            Kind::Quoted(s) => format!("\"{}\"", clip(s)),
            Kind::Punct(p) => format!("'{}'", p as char),
            Kind::Eof => "end of file".to_string(),
        }
    }
}

/// At most 40 characters of a token for messages, control characters escaped.
fn clip(s: &str) -> String {
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
fn line_col(text: &str, pos: usize) -> (usize, usize) {
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

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        // skip a UTF-8 byte order mark
        let pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
        Lexer {
            text,
            bytes: text.as_bytes(),
            pos,
        }
    }

    fn error(&self, pos: usize, msg: String) -> Error {
        let (line, col) = line_col(self.text, pos);
        Error::Parse {
            format: Format::Bif,
            line,
            col,
            msg,
        }
    }

    /// The next token.
    fn next(&mut self) -> Result<Token<'a>> {
        self.scan()
    }

    /// Skip whitespace, separators and comments.
    fn skip_space(&mut self) -> Result<()> {
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

    fn scan(&mut self) -> Result<Token<'a>> {
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

// ---------------------------------------------------------------------------------------------
// Parser

/// What the parser keeps about a declared variable.
struct VarInfo<'a> {
    name: &'a str,
    states: Vec<&'a str>,
    index: HashMap<&'a str, usize>,
    /// Byte offset of the `variable` keyword.
    decl: usize,
    /// Byte offset of the `probability` keyword of its block, once seen.
    cpd: Option<usize>,
}

struct Parser<'a> {
    lex: Lexer<'a>,
    builder: BayesNetBuilder,
    vars: Vec<VarInfo<'a>>,
    by_name: HashMap<&'a str, usize>,
    /// Reused buffer for the numbers of a `table` or `default` line.
    nums: Vec<f64>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, builder: BayesNetBuilder) -> Self {
        Parser {
            lex: Lexer::new(text),
            builder,
            vars: Vec::new(),
            by_name: HashMap::new(),
            nums: Vec::new(),
        }
    }

    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> Result<T> {
        Err(self.lex.error(pos, msg.into()))
    }

    fn line_of(&self, pos: usize) -> usize {
        line_col(self.lex.text, pos).0
    }

    /// Consume the punctuation `p` or fail with "expected 'p' <what>, found ...".
    fn expect(&mut self, p: u8, what: &str) -> Result<Token<'a>> {
        let t = self.lex.next()?;
        if t.is(p) {
            Ok(t)
        } else {
            self.err(
                t.pos,
                format!("expected '{}' {what}, found {}", p as char, t.describe()),
            )
        }
    }

    /// Consume a name or fail with "expected <what>, found ...".
    fn expect_name(&mut self, what: &str) -> Result<(&'a str, usize)> {
        let t = self.lex.next()?;
        match t.name() {
            Some(s) if !s.is_empty() => Ok((s, t.pos)),
            _ => self.err(t.pos, format!("expected {what}, found {}", t.describe())),
        }
    }

    fn parse(mut self) -> Result<BayesNet> {
        let mut seen_network = false;
        loop {
            let t = self.lex.next()?;
            if t.kind == Kind::Eof {
                break;
            }
            if t.keyword("network") {
                if seen_network {
                    return self.err(t.pos, "a second 'network' block");
                }
                seen_network = true;
                self.network_block()?;
            } else if t.keyword("variable") {
                self.variable_block(t.pos)?;
            } else if t.keyword("probability") {
                self.probability_block(t.pos)?;
            } else {
                return self.err(
                    t.pos,
                    format!(
                        "expected 'network', 'variable' or 'probability', found {}",
                        t.describe()
                    ),
                );
            }
        }
        if self.vars.is_empty() {
            return self.err(self.lex.text.len(), "the file declares no variables");
        }
        if let Some(v) = self.vars.iter().find(|v| v.cpd.is_none()) {
            return self.err(
                v.decl,
                format!("variable '{}' has no probability block", v.name),
            );
        }
        self.builder.build()
    }

    /// `network NAME... { property ...; }` (after the keyword).
    fn network_block(&mut self) -> Result<()> {
        loop {
            let t = self.lex.next()?;
            if t.is(b'{') {
                break;
            }
            if t.name().is_none() {
                return self.err(
                    t.pos,
                    format!("expected the network name and '{{', found {}", t.describe()),
                );
            }
        }
        loop {
            let t = self.lex.next()?;
            if t.is(b'}') {
                return Ok(());
            }
            if t.keyword("property") {
                self.skip_property(t.pos)?;
            } else {
                return self.err(
                    t.pos,
                    format!(
                        "expected 'property' or '}}' in the network block, found {}",
                        t.describe()
                    ),
                );
            }
        }
    }

    /// Skip the text of a `property` statement up to and including its `;`.
    fn skip_property(&mut self, start: usize) -> Result<()> {
        let b = self.lex.bytes;
        let mut i = self.lex.pos;
        while i < b.len() {
            match b[i] {
                b';' => {
                    self.lex.pos = i + 1;
                    return Ok(());
                }
                b'"' => match b[i + 1..].iter().position(|&q| q == b'"') {
                    Some(n) => i += n + 2,
                    None => return self.err(i, "unterminated '\"' string"),
                },
                b'{' | b'}' => {
                    return self.err(
                        i,
                        format!("expected ';' after property, found '{}'", b[i] as char),
                    )
                }
                _ => i += 1,
            }
        }
        self.err(start, "expected ';' after property, found end of file")
    }

    /// `variable NAME { type discrete [ N ] { s1, s2 }; property ...; }` (after the keyword).
    fn variable_block(&mut self, kw: usize) -> Result<()> {
        let (vname, npos) = self.expect_name("a variable name")?;
        if let Some(&i) = self.by_name.get(vname) {
            let first = self.line_of(self.vars[i].decl);
            return self.err(
                npos,
                format!("variable '{vname}' is declared twice (first at line {first})"),
            );
        }
        self.expect(b'{', &format!("after 'variable {vname}'"))?;
        let mut states: Option<Vec<&'a str>> = None;
        let mut index = HashMap::new();
        loop {
            let t = self.lex.next()?;
            if t.is(b'}') {
                break;
            }
            if t.keyword("property") {
                self.skip_property(t.pos)?;
                continue;
            }
            if !t.keyword("type") {
                return self.err(
                    t.pos,
                    format!(
                        "expected 'type', 'property' or '}}' in variable '{vname}', found {}",
                        t.describe()
                    ),
                );
            }
            if states.is_some() {
                return self.err(t.pos, format!("variable '{vname}' has a second 'type'"));
            }
            let d = self.lex.next()?;
            if !d.keyword("discrete") {
                return self.err(
                    d.pos,
                    format!("expected 'discrete' after 'type' (only discrete variables are supported), found {}", d.describe()),
                );
            }
            self.expect(b'[', "after 'discrete'")?;
            let n = self.lex.next()?;
            let declared = match n.kind {
                Kind::Word(s) if s.bytes().all(|c| c.is_ascii_digit()) => {
                    match s.parse::<usize>() {
                        Ok(k) => k,
                        Err(_) => {
                            return self.err(
                                n.pos,
                                format!("number of states '{}' is too large", clip(s)),
                            )
                        }
                    }
                }
                _ => {
                    return self.err(
                        n.pos,
                        format!("expected the number of states, found {}", n.describe()),
                    )
                }
            };
            if declared == 0 {
                return self.err(
                    n.pos,
                    format!("variable '{vname}' must have at least one state"),
                );
            }
            self.expect(b']', "after the number of states")?;
            self.expect(b'{', "before the list of states")?;
            let mut list = Vec::new();
            let close = loop {
                let s = self.lex.next()?;
                if s.is(b'}') {
                    break s;
                }
                let Some(sname) = s.name() else {
                    return self.err(
                        s.pos,
                        format!("expected a state name or '}}', found {}", s.describe()),
                    );
                };
                if sname.is_empty() {
                    return self.err(s.pos, "empty state name");
                }
                if index.insert(sname, list.len()).is_some() {
                    return self.err(
                        s.pos,
                        format!("variable '{vname}' lists state '{}' twice", clip(sname)),
                    );
                }
                list.push(sname);
            };
            if list.len() != declared {
                return self.err(
                    close.pos,
                    format!(
                        "variable '{vname}' declared with {declared} states but lists {}",
                        list.len()
                    ),
                );
            }
            self.expect(b';', "after the list of states")?;
            states = Some(list);
        }
        let Some(states) = states else {
            return self.err(
                kw,
                format!("variable '{vname}' has no 'type discrete [ N ] {{ ... }};' line"),
            );
        };
        self.builder.add_variable(vname, states.iter().copied())?;
        self.by_name.insert(vname, self.vars.len());
        self.vars.push(VarInfo {
            name: vname,
            states,
            index,
            decl: kw,
            cpd: None,
        });
        Ok(())
    }

    /// Read numbers up to and including the closing `;`. The first `out.len()` go to `out`; more
    /// are counted. Returns the count and the position of the `;`.
    fn numbers_into(&mut self, out: &mut [f64]) -> Result<(usize, usize)> {
        let mut k = 0usize;
        loop {
            let t = self.lex.next()?;
            match t.kind {
                Kind::Punct(b';') => return Ok((k, t.pos)),
                Kind::Word(s) => {
                    let v = self.number(s, t.pos)?;
                    if let Some(slot) = out.get_mut(k) {
                        *slot = v;
                    }
                    k += 1;
                }
                _ => {
                    let what = if k == 0 {
                        "a probability"
                    } else {
                        "';' after probabilities"
                    };
                    return self.err(t.pos, format!("expected {what}, found {}", t.describe()));
                }
            }
        }
    }

    /// Read numbers up to and including the closing `;` into `self.nums`.
    fn numbers_vec(&mut self) -> Result<usize> {
        let mut nums = std::mem::take(&mut self.nums);
        nums.clear();
        let res = loop {
            let t = match self.lex.next() {
                Ok(t) => t,
                Err(e) => break Err(e),
            };
            match t.kind {
                Kind::Punct(b';') => break Ok(t.pos),
                Kind::Word(s) => match self.number(s, t.pos) {
                    Ok(v) => nums.push(v),
                    Err(e) => break Err(e),
                },
                _ => {
                    let what = if nums.is_empty() {
                        "a probability"
                    } else {
                        "';' after probabilities"
                    };
                    break self.err(t.pos, format!("expected {what}, found {}", t.describe()));
                }
            }
        };
        self.nums = nums;
        res
    }

    /// A probability: a finite, non-negative decimal number.
    fn number(&self, s: &str, pos: usize) -> Result<f64> {
        let first = s.as_bytes().first().copied().unwrap_or(b'x');
        let numeric = first.is_ascii_digit() || matches!(first, b'.' | b'+' | b'-');
        match s.parse::<f64>() {
            Ok(v) if numeric && v.is_finite() && v >= 0.0 => Ok(v),
            Ok(v) if numeric => self.err(
                pos,
                format!("probability {v} is not a finite non-negative number"),
            ),
            _ => self.err(pos, format!("expected a probability, found '{}'", clip(s))),
        }
    }

    /// `probability ( CHILD | PARENTS ) { ... }` (after the keyword at `kw`).
    fn probability_block(&mut self, kw: usize) -> Result<()> {
        self.expect(b'(', "after 'probability'")?;
        let mut ids: Vec<usize> = Vec::new();
        loop {
            let t = self.lex.next()?;
            if t.is(b')') {
                if ids.is_empty() {
                    return self.err(t.pos, "expected a variable name, found ')'");
                }
                break;
            }
            let Some(vname) = t.name() else {
                return self.err(
                    t.pos,
                    format!("expected a variable name or ')', found {}", t.describe()),
                );
            };
            let Some(&i) = self.by_name.get(vname) else {
                return self.err(
                    t.pos,
                    format!("undeclared variable '{}' (variables must be declared before the probability blocks that use them)", clip(vname)),
                );
            };
            if ids.contains(&i) {
                let msg = if ids.first() == Some(&i) {
                    format!("variable '{vname}' is listed as its own parent")
                } else {
                    format!("parent '{vname}' is listed twice")
                };
                return self.err(t.pos, msg);
            }
            ids.push(i);
        }
        let child = ids[0];
        let parents = &ids[1..];
        if let Some(first) = self.vars[child].cpd {
            let line = self.line_of(first);
            return self.err(
                kw,
                format!(
                    "second probability block for '{}' (first at line {line})",
                    self.vars[child].name
                ),
            );
        }
        self.expect(b'{', "to open the probability block")?;

        let cname = self.vars[child].name;
        let card = self.vars[child].states.len();
        let mut nconfigs = 1usize;
        for &p in parents {
            nconfigs = match nconfigs.checked_mul(self.vars[p].states.len()) {
                Some(n) => n,
                None => return self.err(kw, format!("the CPT of '{cname}' is too large")),
            };
        }
        let n = match nconfigs.checked_mul(card) {
            Some(n) if n <= MAX_DEFAULT_FILLED_ENTRIES.max(self.lex.text.len()) => n,
            _ => return self.err(kw, format!("the CPT of '{cname}' is too large")),
        };

        let mut probs = vec![0.0f64; n];
        // for each parent configuration: 0 = not given, else 1 + byte offset of its line
        let mut given = vec![0usize; nconfigs];
        let mut lines = 0usize;
        let mut table: Option<(Vec<f64>, usize)> = None;
        let mut default: Option<(Vec<f64>, usize)> = None;
        loop {
            let t = self.lex.next()?;
            match t.kind {
                Kind::Punct(b'}') => break,
                Kind::Punct(b'(') => {
                    let mut cfg = 0usize;
                    for (k, &p) in parents.iter().enumerate() {
                        let s = self.lex.next()?;
                        let Some(sname) = s.name() else {
                            let msg = if s.is(b')') {
                                format!("configuration lists {k} states but '{cname}' has {} parents", parents.len())
                            } else {
                                format!("expected a state of '{}', found {}", self.vars[p].name, s.describe())
                            };
                            return self.err(s.pos, msg);
                        };
                        let pv = &self.vars[p];
                        let Some(&si) = pv.index.get(sname) else {
                            return self.err(s.pos, format!("unknown state '{}' of parent '{}'", clip(sname), pv.name));
                        };
                        cfg = cfg * pv.states.len() + si;
                    }
                    let close = self.lex.next()?;
                    if !close.is(b')') {
                        let msg = if close.name().is_some() {
                            if parents.is_empty() {
                                format!("'{cname}' has no parents; use 'table' (found a parent configuration)")
                            } else {
                                format!("configuration lists more than {} states ('{cname}' has {} parents)", parents.len(), parents.len())
                            }
                        } else {
                            format!("expected ')' after the parent states, found {}", close.describe())
                        };
                        return self.err(close.pos, msg);
                    }
                    if given[cfg] != 0 {
                        let line = self.line_of(given[cfg] - 1);
                        return self.err(
                            t.pos,
                            format!(
                                "parent configuration ({}) of '{cname}' is given twice (first at line {line})",
                                self.config_names(parents, cfg)
                            ),
                        );
                    }
                    given[cfg] = t.pos + 1;
                    lines += 1;
                    let row = &mut probs[cfg * card..(cfg + 1) * card];
                    let (k, semi) = self.numbers_into(row)?;
                    if k != card {
                        return self.err(
                            semi,
                            format!(
                                "expected {card} probabilities for configuration ({}) of '{cname}', found {k}",
                                self.config_names(parents, cfg)
                            ),
                        );
                    }
                }
                Kind::Word(_) if t.keyword("table") => {
                    if table.is_some() {
                        return self.err(t.pos, format!("second 'table' in the probability block of '{cname}'"));
                    }
                    self.numbers_vec()?;
                    if self.nums.len() != n {
                        return self.err(
                            t.pos,
                            format!("'table' of '{cname}' needs {n} probabilities, found {}", self.nums.len()),
                        );
                    }
                    table = Some((self.nums.clone(), t.pos));
                }
                Kind::Word(_) if t.keyword("default") => {
                    if default.is_some() {
                        return self.err(t.pos, format!("second 'default' in the probability block of '{cname}'"));
                    }
                    self.numbers_vec()?;
                    let k = self.nums.len();
                    if k == card {
                        default = Some((self.nums.clone(), t.pos));
                    } else if k == n {
                        // pgmpy reads a full-length 'default' like 'table'
                        if table.is_some() {
                            return self.err(t.pos, format!("second 'table' in the probability block of '{cname}'"));
                        }
                        table = Some((self.nums.clone(), t.pos));
                    } else {
                        return self.err(
                            t.pos,
                            format!("'default' of '{cname}' needs {card} probabilities (one per state), found {k}"),
                        );
                    }
                }
                Kind::Word(_) if t.keyword("property") => self.skip_property(t.pos)?,
                _ => {
                    return self.err(
                        t.pos,
                        format!(
                            "expected '(', 'table', 'default', 'property' or '}}' in the probability block of '{cname}', found {}",
                            t.describe()
                        ),
                    )
                }
            }
        }

        if let Some((values, tpos)) = table {
            if lines > 0 || default.is_some() {
                return self.err(
                    tpos,
                    format!("the probability block of '{cname}' mixes a whole 'table' with per-configuration lines"),
                );
            }
            // `table` runs over (child, parents...) with the child slowest
            for (x, chunk) in values.chunks(nconfigs.max(1)).enumerate() {
                for (cfg, v) in chunk.iter().enumerate() {
                    probs[cfg * card + x] = *v;
                }
            }
        } else if lines < nconfigs {
            match &default {
                Some((d, _)) => {
                    for (cfg, g) in given.iter().enumerate() {
                        if *g == 0 {
                            probs[cfg * card..(cfg + 1) * card].copy_from_slice(d);
                        }
                    }
                }
                None => {
                    let first = given.iter().position(|g| *g == 0).unwrap_or(0);
                    let missing = nconfigs - lines;
                    let more = if missing > 1 {
                        format!(" and {} more", missing - 1)
                    } else {
                        String::new()
                    };
                    let what = if parents.is_empty() {
                        "no probabilities".to_string()
                    } else {
                        format!(
                            "no entry for parent configuration ({}){more}",
                            self.config_names(parents, first)
                        )
                    };
                    return self.err(
                        kw,
                        format!("the probability block of '{cname}' gives {what}"),
                    );
                }
            }
        }
        self.vars[child].cpd = Some(kw);
        let parent_ids: Vec<VarId> = parents.iter().map(|&p| VarId::from(p)).collect();
        self.builder.set_cpd(VarId::from(child), &parent_ids, probs)
    }

    /// State names of a parent configuration index, for messages.
    fn config_names(&self, parents: &[usize], mut cfg: usize) -> String {
        let mut names = vec![""; parents.len()];
        for (slot, &p) in names.iter_mut().zip(parents).rev() {
            let states = &self.vars[p].states;
            let k = states.len().max(1);
            *slot = states.get(cfg % k).copied().unwrap_or("?");
            cfg /= k;
        }
        names.join(", ")
    }
}
