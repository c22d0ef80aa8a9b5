//! XMLBIF 0.3 (the XML Bayesian network interchange format of JavaBayes, written and read by
//! pgmpy's `XMLBIFWriter` / `XMLBIFReader`, pyAgrum, Weka and SamIam) reader and writer.
//!
//! ```text
//! <?xml version="1.0"?>
//! <BIF VERSION="0.3">
//! <NETWORK>
//!   <NAME>rain</NAME>
//!   <VARIABLE TYPE="nature">
//!     <NAME>rain</NAME> <OUTCOME>no</OUTCOME> <OUTCOME>yes</OUTCOME>
//!     <PROPERTY>position = (0, 0)</PROPERTY>
//!   </VARIABLE>
//!   ...
//!   <DEFINITION>
//!     <FOR>wet</FOR> <GIVEN>rain</GIVEN>
//!     <TABLE>0.9 0.1 0.2 0.8</TABLE>
//!   </DEFINITION>
//! </NETWORK>
//! </BIF>
//! ```
//!
//! - Variables are read in file order with their `OUTCOME`s as states; `PROPERTY` elements are
//!   skipped, as are attributes (`TYPE` included: every variable is a discrete chance node).
//! - A `DEFINITION` (or the older `PROBABILITY`) gives `P(FOR | GIVEN...)`; its `TABLE` lists the
//!   numbers with the parents in `GIVEN` order, the first slowest, and the child fastest
//!   (`P(wet=no | rain=no), P(wet=yes | rain=no), P(wet=no | rain=yes), ...`), the convention of
//!   JavaBayes and pgmpy. Numbers are separated by whitespace (commas are accepted).
//! - Element names are case sensitive as in the specification; the five predefined entities
//!   (`&amp;` ...) and character references are resolved in names and states.
//!
//! Errors are [`Error::Parse`] with the 1-based line and column of the element or text
//! concerned: malformed XML, a `FOR` / `GIVEN` naming an undeclared variable, a table of the
//! wrong length or with a value that is not a number, a definition given twice, a variable
//! without outcomes. A variable without a definition, a directed cycle and a column not summing
//! to one are reported by [`BayesNetBuilder`]. The reader never panics, whatever the input.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::error::{Error, Format, Result};
use crate::io::LoadOptions;
use crate::model::{BayesNet, BayesNetBuilder};

fn err(text: &str, pos: usize, msg: impl Into<String>) -> Error {
    let (line, col) = crate::io::line_col(text, pos);
    Error::Parse {
        format: Format::XmlBif,
        line,
        col,
        msg: msg.into(),
    }
}

/// A `VARIABLE` element.
struct VarDecl {
    name: String,
    outcomes: Vec<String>,
    pos: usize,
}

/// A `DEFINITION` element: (child, parents, table text, positions of each).
#[derive(Default)]
struct Def {
    child: Option<(String, usize)>,
    given: Vec<(String, usize)>,
    table: Option<(String, usize)>,
    pos: usize,
}

/// Parse an XMLBIF document into a Bayesian network (see the module docs).
///
/// ```
/// use pgmkit::io::{xmlbif, LoadOptions};
/// let text = r#"<?xml version="1.0"?>
/// <BIF VERSION="0.3"><NETWORK><NAME>n</NAME>
/// <VARIABLE TYPE="nature"><NAME>rain</NAME><OUTCOME>no</OUTCOME><OUTCOME>yes</OUTCOME></VARIABLE>
/// <VARIABLE TYPE="nature"><NAME>wet</NAME><OUTCOME>no</OUTCOME><OUTCOME>yes</OUTCOME></VARIABLE>
/// <DEFINITION><FOR>rain</FOR><TABLE>0.8 0.2</TABLE></DEFINITION>
/// <DEFINITION><FOR>wet</FOR><GIVEN>rain</GIVEN><TABLE>0.9 0.1 0.2 0.8</TABLE></DEFINITION>
/// </NETWORK></BIF>"#;
/// let bn = xmlbif::parse_xmlbif(text, &LoadOptions::default()).unwrap();
/// assert_eq!(bn.num_vars(), 2);
/// let back = xmlbif::parse_xmlbif(&xmlbif::write_xmlbif(&bn), &LoadOptions::default()).unwrap();
/// assert_eq!(back.cpds(), bn.cpds());
/// ```
pub fn parse_xmlbif(text: &str, opts: &LoadOptions) -> Result<BayesNet> {
    // text is trimmed per element (at its end), not per event: "x &amp; y" keeps its spaces
    let mut reader = Reader::from_str(text);
    // the open elements, with the byte offset where each started
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut vars: Vec<VarDecl> = Vec::new();
    let mut defs: Vec<Def> = Vec::new();
    let mut cur_var: Option<VarDecl> = None;
    let mut cur_def: Option<Def> = None;
    // text of the innermost element, accumulated over text and entity events
    let mut buf = String::new();
    let mut buf_pos = 0usize;
    let mut saw_bif = false;
    loop {
        let pos = reader.buffer_position() as usize;
        let ev = reader.read_event().map_err(|e| {
            err(
                text,
                reader.error_position() as usize,
                format!("malformed XML: {e}"),
            )
        })?;
        match ev {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                match name.as_str() {
                    "BIF" => saw_bif = true,
                    "VARIABLE" | "DEFINITION" | "PROBABILITY"
                        if cur_var.is_some() || cur_def.is_some() =>
                    {
                        return Err(err(text, pos, format!("<{name}> inside another block")));
                    }
                    "VARIABLE" => {
                        cur_var = Some(VarDecl {
                            name: String::new(),
                            outcomes: Vec::new(),
                            pos,
                        })
                    }
                    "DEFINITION" | "PROBABILITY" => {
                        cur_def = Some(Def {
                            pos,
                            ..Def::default()
                        })
                    }
                    _ => {}
                }
                stack.push((name, pos));
                buf.clear();
                buf_pos = reader.buffer_position() as usize;
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if matches!(name.as_str(), "VARIABLE" | "DEFINITION" | "PROBABILITY") {
                    return Err(err(text, pos, format!("empty <{name}/> element")));
                }
                // an empty NAME / OUTCOME / FOR / GIVEN / TABLE: as if its text were ""
                finish(text, &name, "", pos, &stack, &mut cur_var, &mut cur_def)?;
            }
            Event::Text(t) => {
                let s = t
                    .xml10_content()
                    .map_err(|e| err(text, pos, format!("bad text: {e}")))?;
                if buf.is_empty() {
                    buf_pos = pos;
                }
                buf.push_str(&s);
            }
            Event::CData(t) => {
                let s = t
                    .decode()
                    .map_err(|e| err(text, pos, format!("bad CDATA: {e}")))?;
                buf.push_str(&s);
            }
            Event::GeneralRef(r) => {
                let resolved = match r
                    .resolve_char_ref()
                    .map_err(|e| err(text, pos, format!("bad character reference: {e}")))?
                {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r
                            .decode()
                            .map_err(|e| err(text, pos, format!("bad entity: {e}")))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| err(text, pos, format!("unknown entity &{name};")))?
                            .to_string()
                    }
                };
                buf.push_str(&resolved);
            }
            Event::End(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let Some((open, open_pos)) = stack.pop() else {
                    return Err(err(text, pos, format!("</{name}> closes nothing")));
                };
                if open != name {
                    return Err(err(
                        text,
                        pos,
                        format!("</{name}> closes <{open}> (opened at byte {open_pos})"),
                    ));
                }
                let content = std::mem::take(&mut buf);
                finish(
                    text,
                    &name,
                    content.trim(),
                    buf_pos,
                    &stack,
                    &mut cur_var,
                    &mut cur_def,
                )?;
                match name.as_str() {
                    "VARIABLE" => {
                        let Some(v) = cur_var.take() else {
                            return Err(err(text, pos, "</VARIABLE> without its <VARIABLE>"));
                        };
                        if v.name.is_empty() {
                            return Err(err(text, v.pos, "a <VARIABLE> without a <NAME>"));
                        }
                        if v.outcomes.is_empty() {
                            return Err(err(
                                text,
                                v.pos,
                                format!("variable '{}' has no <OUTCOME>", v.name),
                            ));
                        }
                        if let Some(d) = v
                            .outcomes
                            .iter()
                            .enumerate()
                            .find(|(i, o)| v.outcomes[..*i].contains(o))
                        {
                            return Err(err(
                                text,
                                v.pos,
                                format!("variable '{}' lists outcome '{}' twice", v.name, d.1),
                            ));
                        }
                        if vars.iter().any(|w| w.name == v.name) {
                            return Err(err(
                                text,
                                v.pos,
                                format!("variable '{}' is declared twice", v.name),
                            ));
                        }
                        vars.push(v);
                    }
                    "DEFINITION" | "PROBABILITY" => {
                        let Some(d) = cur_def.take() else {
                            return Err(err(text, pos, format!("</{name}> without its start")));
                        };
                        defs.push(d);
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some((open, p)) = stack.last() {
        return Err(err(text, *p, format!("<{open}> is never closed")));
    }
    if !saw_bif {
        return Err(err(text, 0, "not an XMLBIF document: no <BIF> element"));
    }
    build(text, vars, defs, opts)
}

/// Store the text of a closed (or empty) leaf element where it belongs.
fn finish(
    text: &str,
    name: &str,
    content: &str,
    pos: usize,
    stack: &[(String, usize)],
    cur_var: &mut Option<VarDecl>,
    cur_def: &mut Option<Def>,
) -> Result<()> {
    let parent = stack.last().map(|(n, _)| n.as_str());
    match (parent, name) {
        (Some("VARIABLE"), "NAME") => {
            if let Some(v) = cur_var.as_mut() {
                v.name = content.to_string();
            }
        }
        (Some("VARIABLE"), "OUTCOME") => {
            if let Some(v) = cur_var.as_mut() {
                v.outcomes.push(content.to_string());
            }
        }
        (Some("DEFINITION" | "PROBABILITY"), "FOR") => {
            if let Some(d) = cur_def.as_mut() {
                if d.child.is_some() {
                    return Err(err(text, pos, "a definition with two <FOR> elements"));
                }
                d.child = Some((content.to_string(), pos));
            }
        }
        (Some("DEFINITION" | "PROBABILITY"), "GIVEN") => {
            if let Some(d) = cur_def.as_mut() {
                d.given.push((content.to_string(), pos));
            }
        }
        (Some("DEFINITION" | "PROBABILITY"), "TABLE") => {
            if let Some(d) = cur_def.as_mut() {
                if d.table.is_some() {
                    return Err(err(text, pos, "a definition with two <TABLE> elements"));
                }
                d.table = Some((content.to_string(), pos));
            }
        }
        _ => {}
    }
    Ok(())
}

fn build(text: &str, vars: Vec<VarDecl>, defs: Vec<Def>, opts: &LoadOptions) -> Result<BayesNet> {
    let mut b = BayesNetBuilder::new()
        .tolerance(opts.tolerance)
        .renormalize(opts.renormalize);
    for v in &vars {
        b.add_variable(v.name.clone(), v.outcomes.clone())
            .map_err(|e| err(text, v.pos, e.to_string()))?;
    }
    let mut defined = vec![false; vars.len()];
    for d in defs {
        let Some((child, cpos)) = d.child else {
            return Err(err(text, d.pos, "a definition without <FOR>"));
        };
        let c = b.var_id(&child).map_err(|_| {
            err(
                text,
                cpos,
                format!("<FOR> names undeclared variable '{child}'"),
            )
        })?;
        if std::mem::replace(&mut defined[c.index()], true) {
            return Err(err(
                text,
                cpos,
                format!("variable '{child}' is defined twice"),
            ));
        }
        let parents = d
            .given
            .iter()
            .map(|(p, ppos)| {
                b.var_id(p).map_err(|_| {
                    err(
                        text,
                        *ppos,
                        format!("<GIVEN> names undeclared variable '{p}'"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let Some((table, tpos)) = d.table else {
            return Err(err(
                text,
                d.pos,
                format!("the definition of '{child}' has no <TABLE>"),
            ));
        };
        let probs = table
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| {
                        err(
                            text,
                            tpos,
                            format!("'{s}' in the table of '{child}' is not a number"),
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        b.set_cpd(c, &parents, probs)
            .map_err(|e| err(text, tpos, e.to_string()))?;
    }
    b.build()
}

/// Write a Bayesian network as XMLBIF 0.3 (numbers in the shortest form that reads back to the
/// same `f64`), the layout pgmpy's `XMLBIFReader` reads.
pub fn write_xmlbif(bn: &BayesNet) -> String {
    use quick_xml::escape::escape;
    use std::fmt::Write as _;
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BIF VERSION=\"0.3\">\n<NETWORK>\n");
    s.push_str("<NAME>pgmkit</NAME>\n");
    for v in bn.vars() {
        s.push_str("<VARIABLE TYPE=\"nature\">\n");
        let _ = writeln!(s, "    <NAME>{}</NAME>", escape(v.name.as_str()));
        for st in &v.states {
            let _ = writeln!(s, "    <OUTCOME>{}</OUTCOME>", escape(st.as_str()));
        }
        s.push_str("</VARIABLE>\n");
    }
    for c in bn.cpds() {
        s.push_str("<DEFINITION>\n");
        let _ = writeln!(
            s,
            "    <FOR>{}</FOR>",
            escape(bn.vars()[c.child.index()].name.as_str())
        );
        for p in &c.parents {
            let _ = writeln!(
                s,
                "    <GIVEN>{}</GIVEN>",
                escape(bn.vars()[p.index()].name.as_str())
            );
        }
        s.push_str("    <TABLE>");
        for (i, p) in c.probs.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{p:?}");
        }
        s.push_str("</TABLE>\n</DEFINITION>\n");
    }
    s.push_str("</NETWORK>\n</BIF>\n");
    s
}
