//! The BIF parser: variables, probability blocks (tables and per-configuration rows), defaults,
//! and the checks that turn a file into a [`crate::BayesNet`].

use std::collections::HashMap;

use super::lexer::*;
use super::*;
use crate::error::Result;
use crate::model::{BayesNet, BayesNetBuilder};
use crate::var::VarId;

// ---------------------------------------------------------------------------------------------
// Parser

/// What the parser keeps about a declared variable.
pub(crate) struct VarInfo<'a> {
    pub(crate) name: &'a str,
    pub(crate) states: Vec<&'a str>,
    pub(crate) index: HashMap<&'a str, usize>,
    /// Byte offset of the `variable` keyword.
    pub(crate) decl: usize,
    /// Byte offset of the `probability` keyword of its block, once seen.
    pub(crate) cpd: Option<usize>,
}

pub(crate) struct Parser<'a> {
    pub(crate) lex: Lexer<'a>,
    pub(crate) builder: BayesNetBuilder,
    pub(crate) vars: Vec<VarInfo<'a>>,
    pub(crate) by_name: HashMap<&'a str, usize>,
    /// Reused buffer for the numbers of a `table` or `default` line.
    pub(crate) nums: Vec<f64>,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &'a str, builder: BayesNetBuilder) -> Self {
        Parser {
            lex: Lexer::new(text),
            builder,
            vars: Vec::new(),
            by_name: HashMap::new(),
            nums: Vec::new(),
        }
    }

    pub(crate) fn err<T>(&self, pos: usize, msg: impl Into<String>) -> Result<T> {
        Err(self.lex.error(pos, msg.into()))
    }

    pub(crate) fn line_of(&self, pos: usize) -> usize {
        line_col(self.lex.text, pos).0
    }

    /// Consume the punctuation `p` or fail with "expected 'p' <what>, found ...".
    pub(crate) fn expect(&mut self, p: u8, what: &str) -> Result<Token<'a>> {
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
    pub(crate) fn expect_name(&mut self, what: &str) -> Result<(&'a str, usize)> {
        let t = self.lex.next()?;
        match t.name() {
            Some(s) if !s.is_empty() => Ok((s, t.pos)),
            _ => self.err(t.pos, format!("expected {what}, found {}", t.describe())),
        }
    }

    pub(crate) fn parse(mut self) -> Result<BayesNet> {
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
    pub(crate) fn network_block(&mut self) -> Result<()> {
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
    pub(crate) fn skip_property(&mut self, start: usize) -> Result<()> {
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
    pub(crate) fn variable_block(&mut self, kw: usize) -> Result<()> {
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
    pub(crate) fn numbers_into(&mut self, out: &mut [f64]) -> Result<(usize, usize)> {
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
    pub(crate) fn numbers_vec(&mut self) -> Result<usize> {
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
    pub(crate) fn number(&self, s: &str, pos: usize) -> Result<f64> {
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
    pub(crate) fn probability_block(&mut self, kw: usize) -> Result<()> {
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
    pub(crate) fn config_names(&self, parents: &[usize], mut cfg: usize) -> String {
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
