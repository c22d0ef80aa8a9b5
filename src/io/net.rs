//! Hugin `.net` (the NET language of Hugin Expert, read and written by pgmpy's `NETReader` /
//! `NETWriter`, pyAgrum, GeNIe and SamIam) reader and writer, for Bayesian networks of discrete
//! chance nodes.
//!
//! ```text
//! net
//! {
//!     node_size = (80 40);
//! }
//! node rain
//! {
//!     label = "Rain";
//!     states = ("no" "yes");
//! }
//! node wet { states = ("no" "yes"); }
//! potential ( rain ) { data = ( 0.8 0.2 ); }
//! potential ( wet | rain )
//! {
//!     data = (( 0.9 0.1 )     % rain=no
//!             ( 0.2 0.8 ));   % rain=yes
//! }
//! ```
//!
//! - `%` starts a comment to the end of the line. Attributes (`name = value;`) other than
//!   `states` (of a node) and `data` (of a potential) are skipped; values are strings, numbers,
//!   words or parenthesised lists of them.
//! - `node` and `discrete node` blocks declare chance nodes; their `states` list gives the state
//!   names (quoted strings, or bare words as pyAgrum writes them). `decision`, `utility`,
//!   `continuous node` and object-oriented `class` files are refused with a clear error.
//! - `potential ( CHILD | P1 P2 ... )` gives `P(CHILD | P1, P2, ...)`; `data` is the nested list
//!   indexed by the parents in their listed order and the child last, so read flat it has the
//!   first parent slowest and the child fastest (the layout of [`BayesNetBuilder::set_cpd`]).
//!   Every node needs exactly one potential.
//!
//! Errors are [`Error::Parse`] with the 1-based line and column of the token concerned; a
//! directed cycle and a column not summing to one are reported by [`BayesNetBuilder`]. The
//! reader never panics, whatever the input.

use crate::error::{Error, Format, Result};
use crate::io::LoadOptions;
use crate::model::{BayesNet, BayesNetBuilder};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Punct(u8),
    Eof,
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

fn err(text: &str, pos: usize, msg: impl Into<String>) -> Error {
    let (line, col) = crate::io::line_col(text, pos);
    Error::Parse {
        format: Format::HuginNet,
        line,
        col,
        msg: msg.into(),
    }
}

impl<'a> Lexer<'a> {
    /// The next token and its byte offset.
    fn next(&mut self) -> Result<(Tok, usize)> {
        let b = self.text.as_bytes();
        loop {
            while self.pos < b.len() && b[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            if self.pos < b.len() && b[self.pos] == b'%' {
                while self.pos < b.len() && b[self.pos] != b'\n' {
                    self.pos += 1;
                }
                continue;
            }
            break;
        }
        let start = self.pos;
        if start >= b.len() {
            return Ok((Tok::Eof, start));
        }
        let c = b[start];
        match c {
            b'{' | b'}' | b'(' | b')' | b'=' | b';' | b'|' => {
                self.pos += 1;
                Ok((Tok::Punct(c), start))
            }
            b'"' => {
                let mut s = String::new();
                let mut i = start + 1;
                loop {
                    let Some(ch) = self.text[i..].chars().next() else {
                        return Err(err(self.text, start, "unterminated string"));
                    };
                    i += ch.len_utf8();
                    match ch {
                        '"' => break,
                        '\\' => {
                            let Some(e) = self.text[i..].chars().next() else {
                                return Err(err(self.text, start, "unterminated string"));
                            };
                            i += e.len_utf8();
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                        }
                        other => s.push(other),
                    }
                }
                self.pos = i;
                Ok((Tok::Str(s), start))
            }
            _ => {
                let mut i = start;
                while i < b.len()
                    && !b[i].is_ascii_whitespace()
                    && !matches!(
                        b[i],
                        b'{' | b'}' | b'(' | b')' | b'=' | b';' | b'|' | b'"' | b'%'
                    )
                {
                    i += 1;
                }
                // a multi-byte character ends on a boundary: the scan only stops at ASCII bytes
                self.pos = i;
                Ok((Tok::Word(self.text[start..i].to_string()), start))
            }
        }
    }
}

/// A value of an attribute: a leaf (word or string, at its offset) or a list.
enum Value {
    Leaf(String, usize, bool),
    List(Vec<Value>, usize),
}

/// Deepest nesting of parenthesised lists accepted (a CPT has one level per parent).
const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    lx: Lexer<'a>,
    peeked: Option<(Tok, usize)>,
}

impl<'a> Parser<'a> {
    fn text(&self) -> &'a str {
        self.lx.text
    }

    fn peek(&mut self) -> Result<&(Tok, usize)> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lx.next()?);
        }
        Ok(self.peeked.as_ref().expect("just filled"))
    }

    fn bump(&mut self) -> Result<(Tok, usize)> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lx.next(),
        }
    }

    fn expect(&mut self, p: u8) -> Result<usize> {
        let (t, pos) = self.bump()?;
        if t == Tok::Punct(p) {
            Ok(pos)
        } else {
            Err(err(
                self.text(),
                pos,
                format!("expected '{}', found {}", p as char, describe(&t)),
            ))
        }
    }

    fn name(&mut self) -> Result<(String, usize)> {
        match self.bump()? {
            (Tok::Word(s), p) | (Tok::Str(s), p) => Ok((s, p)),
            (t, p) => Err(err(
                self.text(),
                p,
                format!("expected a name, found {}", describe(&t)),
            )),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        match self.bump()? {
            (Tok::Word(s), p) => Ok(Value::Leaf(s, p, false)),
            (Tok::Str(s), p) => Ok(Value::Leaf(s, p, true)),
            (Tok::Punct(b'('), p) => {
                if depth >= MAX_DEPTH {
                    return Err(err(self.text(), p, "lists nested too deeply"));
                }
                let mut items = Vec::new();
                loop {
                    if self.peek()?.0 == Tok::Punct(b')') {
                        self.bump()?;
                        return Ok(Value::List(items, p));
                    }
                    items.push(self.value(depth + 1)?);
                }
            }
            (t, p) => Err(err(
                self.text(),
                p,
                format!("expected a value, found {}", describe(&t)),
            )),
        }
    }

    /// `{ name = value; ... }`: the attributes, in order.
    fn block(&mut self) -> Result<Vec<(String, usize, Value)>> {
        self.expect(b'{')?;
        let mut attrs = Vec::new();
        loop {
            if self.peek()?.0 == Tok::Punct(b'}') {
                self.bump()?;
                return Ok(attrs);
            }
            let (name, pos) = self.name()?;
            self.expect(b'=')?;
            let v = self.value(0)?;
            self.expect(b';')?;
            attrs.push((name, pos, v));
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(s) => format!("'{}'", s.chars().take(40).collect::<String>()),
        Tok::Str(s) => format!("\"{}\"", s.chars().take(40).collect::<String>()),
        Tok::Punct(p) => format!("'{}'", *p as char),
        Tok::Eof => "the end of the file".into(),
    }
}

/// A `node` block: name, states, position.
struct NodeDecl {
    name: String,
    states: Vec<String>,
    pos: usize,
}

/// Parse a Hugin `.net` document into a Bayesian network (see the module docs).
///
/// ```
/// use pgmkit::io::{net, LoadOptions};
/// let text = "net { } node rain { states = (\"no\" \"yes\"); } node wet { states = (no yes); }
///     potential (rain) { data = (0.8 0.2); }
///     potential (wet | rain) { data = ((0.9 0.1) (0.2 0.8)); }";
/// let bn = net::parse_net(text, &LoadOptions::default()).unwrap();
/// assert_eq!(bn.num_vars(), 2);
/// let back = net::parse_net(&net::write_net(&bn).unwrap(), &LoadOptions::default()).unwrap();
/// assert_eq!(back.cpds(), bn.cpds());
/// ```
pub fn parse_net(text: &str, opts: &LoadOptions) -> Result<BayesNet> {
    let mut p = Parser {
        lx: Lexer { text, pos: 0 },
        peeked: None,
    };
    let mut nodes: Vec<NodeDecl> = Vec::new();
    type Pot = (
        String,
        usize,
        Vec<(String, usize)>,
        Vec<(String, usize, Value)>,
    );
    let mut pots: Vec<Pot> = Vec::new();
    let mut saw_net = false;
    loop {
        let (t, pos) = p.bump()?;
        let word = match &t {
            Tok::Eof => break,
            Tok::Word(w) => w.clone(),
            other => {
                return Err(err(
                    text,
                    pos,
                    format!(
                        "expected 'net', 'node' or 'potential', found {}",
                        describe(other)
                    ),
                ))
            }
        };
        match word.as_str() {
            "net" => {
                p.block()?;
                saw_net = true;
            }
            "node" | "discrete" => {
                if word == "discrete" {
                    match p.bump()? {
                        (Tok::Word(w), _) if w == "node" => {}
                        (t, q) => {
                            return Err(err(
                                text,
                                q,
                                format!("expected 'node' after 'discrete', found {}", describe(&t)),
                            ))
                        }
                    }
                }
                let (name, npos) = p.name()?;
                let attrs = p.block()?;
                let mut states = None;
                for (a, apos, v) in attrs {
                    if a == "states" {
                        let Value::List(items, _) = v else {
                            return Err(err(text, apos, "'states' must be a list"));
                        };
                        let mut st = Vec::new();
                        for it in items {
                            match it {
                                Value::Leaf(s, _, _) => st.push(s),
                                Value::List(_, q) => {
                                    return Err(err(text, q, "a state must be a name, not a list"))
                                }
                            }
                        }
                        states = Some(st);
                    }
                }
                let Some(states) = states else {
                    return Err(err(text, npos, format!("node '{name}' has no 'states'")));
                };
                if states.is_empty() {
                    return Err(err(text, npos, format!("node '{name}' has no states")));
                }
                if let Some(d) = states
                    .iter()
                    .enumerate()
                    .find(|(i, s)| states[..*i].contains(s))
                {
                    return Err(err(
                        text,
                        npos,
                        format!("node '{name}' lists state '{}' twice", d.1),
                    ));
                }
                if nodes.iter().any(|n| n.name == name) {
                    return Err(err(text, npos, format!("node '{name}' is declared twice")));
                }
                nodes.push(NodeDecl {
                    name,
                    states,
                    pos: npos,
                });
            }
            "potential" => {
                p.expect(b'(')?;
                let (child, cpos) = p.name()?;
                let mut parents = Vec::new();
                let mut child_more = Vec::new();
                let mut after_bar = false;
                loop {
                    match p.bump()? {
                        (Tok::Punct(b')'), _) => break,
                        (Tok::Punct(b'|'), q) => {
                            if after_bar {
                                return Err(err(text, q, "a second '|' in the potential's head"));
                            }
                            after_bar = true;
                        }
                        (Tok::Word(s), q) | (Tok::Str(s), q) => {
                            if after_bar {
                                parents.push((s, q));
                            } else {
                                child_more.push(q);
                            }
                        }
                        (t, q) => {
                            return Err(err(
                                text,
                                q,
                                format!("expected a node name, '|' or ')', found {}", describe(&t)),
                            ))
                        }
                    }
                }
                if let Some(&q) = child_more.first() {
                    return Err(err(
                        text,
                        q,
                        "a potential over several child nodes (only one child before '|' is supported)",
                    ));
                }
                let attrs = p.block()?;
                pots.push((child, cpos, parents, attrs));
            }
            "decision" | "utility" | "continuous" | "class" | "function" | "temporal" => {
                return Err(err(
                    text,
                    pos,
                    format!(
                        "'{word}' blocks are not supported: pgmkit reads Bayesian networks of \
                         discrete chance nodes"
                    ),
                ));
            }
            _ => {
                return Err(err(
                    text,
                    pos,
                    format!("expected 'net', 'node' or 'potential', found '{word}'"),
                ))
            }
        }
    }
    if !saw_net && nodes.is_empty() {
        return Err(err(
            text,
            0,
            "not a Hugin .net file: no 'net' block and no node",
        ));
    }
    let mut b = BayesNetBuilder::new()
        .tolerance(opts.tolerance)
        .renormalize(opts.renormalize);
    for n in &nodes {
        b.add_variable(n.name.clone(), n.states.clone())
            .map_err(|e| err(text, n.pos, e.to_string()))?;
    }
    let mut defined = vec![false; nodes.len()];
    for (child, cpos, parents, attrs) in pots {
        let c = b.var_id(&child).map_err(|_| {
            err(
                text,
                cpos,
                format!("potential of undeclared node '{child}'"),
            )
        })?;
        if std::mem::replace(&mut defined[c.index()], true) {
            return Err(err(
                text,
                cpos,
                format!("node '{child}' has two potentials"),
            ));
        }
        let ps = parents
            .iter()
            .map(|(n, q)| {
                b.var_id(n)
                    .map_err(|_| err(text, *q, format!("undeclared parent node '{n}'")))
            })
            .collect::<Result<Vec<_>>>()?;
        let Some((_, dpos, data)) = attrs.into_iter().find(|(a, _, _)| a == "data") else {
            return Err(err(
                text,
                cpos,
                format!("the potential of '{child}' has no 'data'"),
            ));
        };
        let mut probs = Vec::new();
        flatten(text, &data, &mut probs)?;
        b.set_cpd(c, &ps, probs)
            .map_err(|e| err(text, dpos, e.to_string()))?;
    }
    b.build()
}

/// The numbers of a (nested) `data` list in reading order.
fn flatten(text: &str, v: &Value, out: &mut Vec<f64>) -> Result<()> {
    match v {
        Value::Leaf(s, p, quoted) => {
            let x = (!quoted)
                .then(|| s.parse::<f64>().ok())
                .flatten()
                .filter(|x| x.is_finite())
                .ok_or_else(|| err(text, *p, format!("'{s}' in 'data' is not a number")))?;
            out.push(x);
        }
        Value::List(items, _) => {
            for it in items {
                flatten(text, it, out)?;
            }
        }
    }
    Ok(())
}

/// Whether `s` is a Hugin identifier (what node names must be).
fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Write a Bayesian network as a Hugin `.net` file (states quoted, numbers in the shortest form
/// that reads back to the same `f64`, one nested list per parent). Errors
/// ([`Error::InvalidArgument`]) when a variable's name is not a Hugin identifier (letters,
/// digits and `_`, not starting with a digit).
pub fn write_net(bn: &BayesNet) -> Result<String> {
    use std::fmt::Write as _;
    if let Some(v) = bn.vars().iter().find(|v| !is_identifier(&v.name)) {
        return Err(Error::InvalidArgument(format!(
            "variable '{}' cannot be written as Hugin .net: node names must be identifiers \
             (letters, digits and '_', not starting with a digit); write .bif or .xml instead",
            v.name
        )));
    }
    let mut s = String::from("net\n{\n}\n");
    for v in bn.vars() {
        let st: Vec<String> = v.states.iter().map(|x| quote(x)).collect();
        let _ = write!(
            s,
            "node {}\n{{\n    states = ({});\n}}\n",
            v.name,
            st.join(" ")
        );
    }
    for c in bn.cpds() {
        let name = &bn.vars()[c.child.index()].name;
        let pcards: Vec<usize> = c
            .parents
            .iter()
            .map(|p| bn.vars()[p.index()].card())
            .collect();
        let head = if c.parents.is_empty() {
            name.clone()
        } else {
            let ps: Vec<&str> = c
                .parents
                .iter()
                .map(|p| bn.vars()[p.index()].name.as_str())
                .collect();
            format!("{name} | {}", ps.join(" "))
        };
        let _ = write!(s, "potential ( {head} )\n{{\n    data = ");
        // nested lists: one level per parent (in order), the child's distribution innermost
        nest(&mut s, &c.probs, &pcards);
        s.push_str(";\n}\n");
    }
    Ok(s)
}

fn nest(s: &mut String, probs: &[f64], pcards: &[usize]) {
    use std::fmt::Write as _;
    s.push('(');
    if pcards.is_empty() {
        for (i, p) in probs.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{p:?}");
        }
    } else {
        let block = probs.len() / pcards[0].max(1);
        for (i, chunk) in probs.chunks(block.max(1)).enumerate() {
            if i > 0 {
                s.push(' ');
            }
            nest(s, chunk, &pcards[1..]);
        }
    }
    s.push(')');
}
