//! UAI competition format: models (`.uai`) and evidence (`.evid`).
//!
//! # Model files
//!
//! ```text
//! MARKOV            (or BAYES)
//! 3                 number of variables
//! 2 2 3             their cardinalities
//! 2                 number of factors
//! 1 0               scope of factor 0: size, then variable indices
//! 2 0 2             scope of factor 1
//!
//! 2  0.4 0.6        per factor: entry count, then the table
//! 6  1 2 3 4 5 6
//! ```
//!
//! The file is read as whitespace-separated tokens, so a table may span lines or share a line
//! with its entry count. Each table lists the **last scope variable fastest**, which is pgmkit's
//! own stride convention ([`crate::factor::index`]); scopes need not be sorted (the table is
//! permuted when the factor is built). Variables are named by their 0-based index (`"0"`,
//! `"1"`, ...) and their states `"0"`, `"1"`, ...; cardinality-1 variables are allowed.
//!
//! * `MARKOV` gives [`Model::Markov`]: the tables are non-negative potentials (zeros allowed).
//! * `BAYES` gives [`Model::Bayes`]: there must be one factor per variable, whose **last** scope
//!   variable is the child and the others its parents (first slowest), exactly the layout of
//!   [`BayesNetBuilder::set_cpd`](crate::BayesNetBuilder::set_cpd). Columns are checked against
//!   [`LoadOptions::tolerance`] or renormalised with [`LoadOptions::renormalize`].
//!
//! Limits, checked before anything is allocated: a cardinality is at most [`MAX_CARDINALITY`],
//! a table has at most [`MAX_TABLE_ENTRIES`] entries, and no count may exceed what the rest of the
//! file could possibly hold. Tokens after the last table are an error (they usually mean a wrong
//! count). Every problem is an [`Error::Parse`] with the 1-based line and column of the offending
//! token, except normalisation and cycle errors of `BAYES` files, which come from
//! [`BayesNetBuilder`].
//!
//! # Evidence files
//!
//! Two forms are read: the UAI 2014 single-sample form `k v1 x1 ... vk xk` (`0` = no evidence) and
//! the older multi-sample form `N  k v1 x1 ...  k v1 x1 ...` (N samples; the **first** sample is
//! used, `N = 0` means no evidence). The form is recognised by the number of tokens: if the file
//! has exactly `1 + 2 * first` tokens it is the single-sample form, otherwise it must walk exactly
//! as the multi-sample form. (A file that fits both, such as `2 1 0 1 0`, is read in the
//! single-sample form.) An empty file is no evidence. [`write_evid`] writes the single-sample form.
//!
//! # Example
//!
//! ```
//! use pgmkit::io::{uai, LoadOptions};
//! use pgmkit::{Model, VarId};
//!
//! let text = "MARKOV\n2\n2 3\n1\n2 1 0\n6\n1 2\n3 4\n5 6\n";
//! let Model::Markov(fg) = uai::parse_uai(text, &LoadOptions::default()).unwrap() else {
//!     unreachable!()
//! };
//! assert_eq!(fg.cards(), vec![2, 3]);
//! // scope (1, 0) in the file, variable 0 fastest: phi(x1 = 2, x0 = 1) = 6
//! let f = &fg.factors()[0];
//! assert_eq!(f.scope(), &[VarId(0), VarId(1)]);
//! assert!((f.log_value(&[1, 2]) - 6f64.ln()).abs() < 1e-15);
//!
//! let ev = uai::parse_evid("1 1 2", fg.vars()).unwrap();
//! assert_eq!(ev.get(VarId(1)), Some(2));
//! assert_eq!(uai::write_evid(&ev), "1 1 2\n");
//!
//! // writing and reading back gives the same model
//! let again = uai::parse_uai(&uai::write_uai(&Model::Markov(fg)), &LoadOptions::default()).unwrap();
//! assert_eq!(again.vars().len(), 2);
//! ```

use std::fmt::Write as _;

use super::LoadOptions;
use crate::error::{Error, Format, Result};
use crate::factor::TableFactor;
use crate::model::{BayesNetBuilder, FactorGraph, Model};
use crate::var::{Evidence, VarId, Variable};

/// Largest number of entries of one table that the readers accept (2^31).
pub const MAX_TABLE_ENTRIES: usize = 1 << 31;

/// Largest cardinality of one variable that the readers accept (2^20 states).
pub const MAX_CARDINALITY: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Tokenizer shared by the UAI and libDAI readers.
// ---------------------------------------------------------------------------------------------

/// One whitespace-separated token and where it starts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tok<'a> {
    pub(super) text: &'a str,
    line: usize,
    line_start: usize,
    start: usize,
}

impl Tok<'_> {
    /// 1-based line of the token.
    pub(super) fn line_no(&self) -> usize {
        self.line
    }
}

/// A hand-rolled whitespace tokenizer that tracks lines; columns are computed only for errors.
pub(super) struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
    format: Format,
    hash_comments: bool,
}

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// A token for an error message: at most 40 characters.
pub(super) fn show(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    out
}

impl<'a> Lexer<'a> {
    /// A lexer over `text`. With `hash_comments`, a token starting with `#` starts a comment that
    /// runs to the end of its line.
    pub(super) fn new(text: &'a str, format: Format, hash_comments: bool) -> Self {
        let skip = if text.starts_with('\u{feff}') { 3 } else { 0 };
        Lexer {
            text,
            bytes: text.as_bytes(),
            pos: skip,
            line: 1,
            line_start: skip,
            format,
            hash_comments,
        }
    }

    /// The next token, or `None` at the end of the text.
    pub(super) fn next(&mut self) -> Option<Tok<'a>> {
        let b = self.bytes;
        loop {
            while self.pos < b.len() && is_space(b[self.pos]) {
                if b[self.pos] == b'\n' {
                    self.line += 1;
                    self.line_start = self.pos + 1;
                }
                self.pos += 1;
            }
            if self.hash_comments && self.pos < b.len() && b[self.pos] == b'#' {
                while self.pos < b.len() && b[self.pos] != b'\n' {
                    self.pos += 1;
                }
                continue;
            }
            break;
        }
        if self.pos >= b.len() {
            return None;
        }
        let start = self.pos;
        while self.pos < b.len() && !is_space(b[self.pos]) {
            self.pos += 1;
        }
        // Token boundaries are ASCII whitespace, hence always char boundaries; `get` keeps this
        // panic-free regardless.
        let text = self.text.get(start..self.pos).unwrap_or("");
        Some(Tok {
            text,
            line: self.line,
            line_start: self.line_start,
            start,
        })
    }

    /// An upper bound on the number of tokens left (each needs a byte and a separator).
    pub(super) fn remaining_bound(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos).div_ceil(2)
    }

    fn col(&self, line_start: usize, at: usize) -> usize {
        self.text
            .get(line_start..at)
            .map_or(1, |s| s.chars().count() + 1)
    }

    /// A parse error located at `tok`.
    pub(super) fn err(&self, tok: &Tok<'_>, msg: impl Into<String>) -> Error {
        Error::Parse {
            format: self.format,
            line: tok.line,
            col: self.col(tok.line_start, tok.start),
            msg: msg.into(),
        }
    }

    /// A parse error located at the end of the text.
    pub(super) fn eof(&self, expected: impl std::fmt::Display) -> Error {
        // advance over trailing whitespace/comments so the position is the true end
        let mut line = self.line;
        let mut line_start = self.line_start;
        for (i, &c) in self.bytes.iter().enumerate().skip(self.pos) {
            if c == b'\n' {
                line += 1;
                line_start = i + 1;
            }
        }
        Error::Parse {
            format: self.format,
            line,
            col: self.col(line_start, self.bytes.len()),
            msg: format!("unexpected end of file: expected {expected}"),
        }
    }

    /// The next token, or an end-of-file error naming what was expected.
    pub(super) fn need<D: std::fmt::Display>(
        &mut self,
        expected: impl FnOnce() -> D,
    ) -> Result<Tok<'a>> {
        match self.next() {
            Some(t) => Ok(t),
            None => Err(self.eof(expected())),
        }
    }

    /// The token as an unsigned integer.
    pub(super) fn int(&self, tok: &Tok<'_>, what: &str) -> Result<usize> {
        match tok.text.parse::<usize>() {
            Ok(v) => Ok(v),
            Err(_) => Err(self.int_error(tok, what)),
        }
    }

    /// The token as an unsigned 64-bit integer.
    pub(super) fn int_u64(&self, tok: &Tok<'_>, what: &str) -> Result<u64> {
        match tok.text.parse::<u64>() {
            Ok(v) => Ok(v),
            Err(_) => Err(self.int_error(tok, what)),
        }
    }

    fn int_error(&self, tok: &Tok<'_>, what: &str) -> Error {
        let digits = tok.text.strip_prefix('+').unwrap_or(tok.text);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            self.err(tok, format!("{what} '{}' is too large", show(tok.text)))
        } else {
            self.err(tok, format!("expected {what}, found '{}'", show(tok.text)))
        }
    }

    /// The token as a finite, non-negative number (`-0` becomes `0`).
    pub(super) fn nonneg(&self, tok: &Tok<'_>, what: &str) -> Result<f64> {
        match tok.text.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v + 0.0),
            Ok(v) if v.is_finite() => Err(self.err(
                tok,
                format!("{what} must be non-negative, found '{}'", show(tok.text)),
            )),
            Ok(_) => Err(self.err(
                tok,
                format!("{what} must be finite, found '{}'", show(tok.text)),
            )),
            Err(_) => Err(self.err(
                tok,
                format!("expected {what} (a number), found '{}'", show(tok.text)),
            )),
        }
    }
}

/// Format a number so that it reads back to the same `f64`: plain decimal (`{}`) for ordinary
/// magnitudes, scientific (`{:e}`) for very small or large ones, which `{}` would spell out with
/// hundreds of digits.
pub(super) fn write_num(out: &mut String, x: f64) {
    let a = x.abs();
    if a == 0.0 || (1e-5..1e16).contains(&a) {
        let _ = write!(out, "{x}");
    } else {
        let _ = write!(out, "{x:e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Model files
// ---------------------------------------------------------------------------------------------

/// Parse a `.uai` model (`MARKOV` -> [`Model::Markov`], `BAYES` -> [`Model::Bayes`]).
///
/// See the [module documentation](self) for the format and the checks made.
pub fn parse_uai(text: &str, opts: &LoadOptions) -> Result<Model> {
    let mut lx = Lexer::new(text, Format::Uai, false);

    let head = lx.need(|| "the network type 'MARKOV' or 'BAYES'")?;
    let bayes = if head.text.eq_ignore_ascii_case("MARKOV") {
        false
    } else if head.text.eq_ignore_ascii_case("BAYES") {
        true
    } else {
        return Err(lx.err(
            &head,
            format!(
                "expected the network type 'MARKOV' or 'BAYES', found '{}'",
                show(head.text)
            ),
        ));
    };

    // variables
    let t = lx.need(|| "the number of variables")?;
    let nvars = lx.int(&t, "the number of variables")?;
    if nvars > lx.remaining_bound() {
        return Err(lx.err(
            &t,
            format!(
                "the file declares {nvars} variables but is too short to list their cardinalities"
            ),
        ));
    }
    if nvars > u32::MAX as usize {
        return Err(lx.err(
            &t,
            format!("{nvars} variables are more than pgmkit supports"),
        ));
    }
    let mut cards = Vec::with_capacity(nvars);
    for i in 0..nvars {
        let t = lx.need(|| format!("{} more cardinalities", nvars - i))?;
        let c = lx.int(&t, "a cardinality")?;
        if c == 0 {
            return Err(lx.err(
                &t,
                format!("variable {i} has cardinality 0; every variable needs at least one state"),
            ));
        }
        if c > MAX_CARDINALITY {
            return Err(lx.err(
                &t,
                format!(
                    "variable {i} has cardinality {c}, above the limit of {MAX_CARDINALITY} states"
                ),
            ));
        }
        cards.push(c);
    }

    // scopes
    let nf_tok = lx.need(|| "the number of factors")?;
    let nf = lx.int(&nf_tok, "the number of factors")?;
    if nf > lx.remaining_bound() {
        return Err(lx.err(
            &nf_tok,
            format!("the file declares {nf} factors but is too short to hold them"),
        ));
    }
    if bayes && nf != nvars {
        return Err(lx.err(
            &nf_tok,
            format!(
                "a BAYES file needs exactly one factor (CPT) per variable: {nvars} variables but {nf} factors"
            ),
        ));
    }
    let mut scopes: Vec<Vec<VarId>> = Vec::with_capacity(nf);
    let mut sizes: Vec<usize> = Vec::with_capacity(nf);
    // seen[v] = 1 + index of the last factor whose scope named v (duplicate check in O(1))
    let mut seen = vec![0usize; nvars];
    // for BAYES: the factor that is the CPT of each variable
    let mut cpt_of: Vec<Option<usize>> = if bayes { vec![None; nvars] } else { Vec::new() };
    for i in 0..nf {
        let kt = lx.need(|| format!("the scope of factor {i} ({} scopes missing)", nf - i))?;
        let k = lx.int(&kt, "a scope size")?;
        if k > nvars {
            return Err(lx.err(
                &kt,
                format!("factor {i} has {k} variables in its scope but the model has only {nvars}"),
            ));
        }
        if bayes && k == 0 {
            return Err(lx.err(
                &kt,
                format!("factor {i} has an empty scope; in a BAYES file its last scope variable is the child"),
            ));
        }
        let mut scope = Vec::with_capacity(k);
        let mut size = 1usize;
        for j in 0..k {
            let t = lx.need(|| format!("{} more variables in the scope of factor {i}", k - j))?;
            let v = lx.int(&t, "a variable index")?;
            if v >= nvars {
                return Err(lx.err(
                    &t,
                    format!(
                        "factor {i} names variable {v} but the model has {nvars} variables (0..{})",
                        nvars.saturating_sub(1)
                    ),
                ));
            }
            if seen[v] == i + 1 {
                return Err(lx.err(&t, format!("factor {i} lists variable {v} twice")));
            }
            seen[v] = i + 1;
            size = match size.checked_mul(cards[v]) {
                Some(s) if s <= MAX_TABLE_ENTRIES => s,
                _ => {
                    return Err(lx.err(
                        &t,
                        format!(
                        "the table of factor {i} would have more than {MAX_TABLE_ENTRIES} entries"
                    ),
                    ))
                }
            };
            if bayes && j + 1 == k {
                if let Some(prev) = cpt_of[v] {
                    return Err(lx.err(
                        &t,
                        format!(
                            "variable {v} is the child (last scope variable) of both factor {prev} and factor {i}; \
                             a BAYES file needs exactly one CPT per variable"
                        ),
                    ));
                }
                cpt_of[v] = Some(i);
            }
            scope.push(VarId(v as u32));
        }
        scopes.push(scope);
        sizes.push(size);
    }
    // (BAYES: nf == nvars and no variable is the child twice, so every variable has its CPT.)

    // tables
    let mut tables: Vec<Vec<f64>> = Vec::with_capacity(nf);
    for (i, &size) in sizes.iter().enumerate() {
        let t = lx.need(|| format!("the entry count of factor {i} ({} tables missing)", nf - i))?;
        let n = lx.int(&t, "an entry count")?;
        if n != size {
            return Err(lx.err(
                &t,
                format!("factor {i} declares {n} entries but its scope needs {size}"),
            ));
        }
        let what = if bayes {
            "a probability"
        } else {
            "a potential"
        };
        let mut vals = Vec::with_capacity(n.min(lx.remaining_bound()));
        for e in 0..n {
            let t = lx.need(|| format!("{} more table entries (factor {i})", n - e))?;
            vals.push(lx.nonneg(&t, what)?);
        }
        tables.push(vals);
    }
    if let Some(t) = lx.next() {
        return Err(lx.err(
            &t,
            format!(
                "unexpected '{}' after the last table (the file declares {nf} factors)",
                show(t.text)
            ),
        ));
    }

    if bayes {
        let mut b = BayesNetBuilder::new()
            .tolerance(opts.tolerance)
            .renormalize(opts.renormalize);
        for (i, &c) in cards.iter().enumerate() {
            b.add_variable(i.to_string(), (0..c).map(|s| s.to_string()))?;
        }
        for (scope, probs) in scopes.into_iter().zip(tables) {
            if let Some((&child, parents)) = scope.split_last() {
                b.set_cpd(child, parents, probs)?;
            }
        }
        Ok(Model::Bayes(b.build()?))
    } else {
        let vars: Vec<Variable> = cards
            .iter()
            .enumerate()
            .map(|(i, &c)| Variable::with_cardinality(i.to_string(), c))
            .collect();
        let factors = scopes
            .into_iter()
            .zip(tables)
            .map(|(scope, vals)| {
                let fc = scope.iter().map(|v| cards[v.index()]).collect();
                TableFactor::from_potentials(scope, fc, vals)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Model::Markov(FactorGraph::new(vars, factors)?))
    }
}

/// Write a model in UAI format: `MARKOV` for [`Model::Markov`] (the potentials, `exp` of the
/// stored logs, over each factor's sorted scope) and `BAYES` for [`Model::Bayes`] (one CPT per
/// variable in variable order, scope = parents then child, probabilities exactly as stored).
///
/// Numbers are written in the shortest form that reads back to the same `f64` (plain decimals,
/// scientific notation below 1e-5 or from 1e16 up). Variable and state names are not part of the
/// format and are lost: reading the file back names the variables `"0"`, `"1"`, ...
pub fn write_uai(model: &Model) -> String {
    let mut s = String::new();
    let vars = model.vars();
    let header = match model {
        Model::Markov(_) => "MARKOV",
        Model::Bayes(_) => "BAYES",
    };
    let _ = writeln!(s, "{header}\n{}", vars.len());
    write_joined(&mut s, vars.iter().map(Variable::card));
    // (scope, card of the last scope variable, values)
    let tables: Vec<(Vec<VarId>, usize, Vec<f64>)> = match model {
        Model::Markov(fg) => fg
            .factors()
            .iter()
            .map(|f| {
                let last = f.cards().last().copied().unwrap_or(1);
                (f.scope().to_vec(), last, f.potentials())
            })
            .collect(),
        Model::Bayes(bn) => bn
            .cpds()
            .iter()
            .map(|c| {
                let mut scope = c.parents.clone();
                scope.push(c.child);
                let last = vars.get(c.child.index()).map_or(1, Variable::card);
                (scope, last, c.probs.clone())
            })
            .collect(),
    };
    let _ = writeln!(s, "{}", tables.len());
    for (scope, _, _) in &tables {
        write_joined(
            &mut s,
            std::iter::once(scope.len()).chain(scope.iter().map(|v| v.index())),
        );
    }
    for (_, last, vals) in &tables {
        let _ = writeln!(s, "\n{}", vals.len());
        for row in vals.chunks((*last).max(1)) {
            for (j, &x) in row.iter().enumerate() {
                if j > 0 {
                    s.push(' ');
                }
                write_num(&mut s, x);
            }
            s.push('\n');
        }
    }
    s
}

fn write_joined(s: &mut String, items: impl Iterator<Item = usize>) {
    for (j, x) in items.enumerate() {
        if j > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{x}");
    }
    s.push('\n');
}

// ---------------------------------------------------------------------------------------------
// Evidence files
// ---------------------------------------------------------------------------------------------

/// Parse a `.evid` evidence file against the model's variables (single- or multi-sample form;
/// see the [module documentation](self)).
///
/// A variable index or state out of range is an [`Error::Parse`] (format
/// [`Format::UaiEvidence`]) at the offending number; the same variable observed twice with
/// different states is [`Error::ConflictingEvidence`].
pub fn parse_evid(text: &str, vars: &[Variable]) -> Result<Evidence> {
    let mut lx = Lexer::new(text, Format::UaiEvidence, false);
    let mut toks = Vec::new();
    while let Some(t) = lx.next() {
        toks.push(t);
    }
    let mut ev = Evidence::new(vars.len());
    let Some(first) = toks.first() else {
        return Ok(ev);
    };
    let count = lx.int(first, "the number of observed variables")?;
    let single_len = count.checked_mul(2).and_then(|x| x.checked_add(1));
    // where the first sample's pairs start and how many there are
    let (k, body) = if single_len == Some(toks.len()) {
        (count, 1)
    } else if let Some(first_sample) = multi_sample_form(&lx, &toks, count) {
        match first_sample {
            None => return Ok(ev), // N = 0 samples
            Some(k) => (k, 2),
        }
    } else {
        // neither form fits: report as the single-sample form, which is the standard one
        let Some(needed) = single_len.filter(|&n| n <= toks.len()) else {
            return Err(lx.eof(format!(
                "{count} observed variables (pairs 'variable state'), but the file holds only {} numbers",
                toks.len()
            )));
        };
        let Some(extra) = toks.get(needed) else {
            return Err(lx.eof("more numbers"));
        };
        return Err(lx.err(
            extra,
            format!(
                "unexpected '{}': {count} observed variables take {needed} numbers, and the file does not fit \
                 the multi-sample form 'N  k v x ...' either",
                show(extra.text)
            ),
        ));
    };
    for p in 0..k {
        let (vt, xt) = match (toks.get(body + 2 * p), toks.get(body + 2 * p + 1)) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(lx.eof("a variable and its state")),
        };
        let v = lx.int(vt, "a variable index")?;
        let x = lx.int(xt, "a state index")?;
        let Some(var) = vars.get(v) else {
            return Err(lx.err(
                vt,
                format!(
                    "variable {v} is out of range: the model has {} variables",
                    vars.len()
                ),
            ));
        };
        if x >= var.card() {
            return Err(lx.err(
                xt,
                format!(
                    "state {x} of variable {v} is out of range: it has {} states (0..{})",
                    var.card(),
                    var.card().saturating_sub(1)
                ),
            ));
        }
        ev.set(vars, VarId(v as u32), x)?;
    }
    Ok(ev)
}

/// If `toks` is exactly `N` samples of `k v x ...`, the first sample's `k` (`None` when N = 0).
fn multi_sample_form(lx: &Lexer<'_>, toks: &[Tok<'_>], n: usize) -> Option<Option<usize>> {
    let mut pos = 1usize;
    let mut first = None;
    for s in 0..n {
        let k = lx.int(toks.get(pos)?, "").ok()?;
        if s == 0 {
            first = Some(k);
        }
        pos = pos.checked_add(k.checked_mul(2)?)?.checked_add(1)?;
        if pos > toks.len() {
            return None;
        }
    }
    (pos == toks.len()).then_some(first)
}

/// Write evidence in the UAI 2014 single-line `.evid` form (`k v1 x1 ... vk xk`).
pub fn write_evid(ev: &Evidence) -> String {
    let mut s = String::new();
    let _ = write!(s, "{}", ev.len());
    for (v, x) in ev.iter() {
        let _ = write!(s, " {} {x}", v.0);
    }
    s.push('\n');
    s
}
