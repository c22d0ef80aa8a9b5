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
//! Errors are [`Error::Parse`](crate::Error::Parse) with the 1-based line and column of the offending token (columns
//! count characters). Semantic problems found while reading (an undeclared variable, an unknown
//! state, a wrong count of numbers, a missing or duplicated parent configuration) are parse errors
//! too, placed at the token or block concerned. Normalisation and acyclicity are checked by
//! [`BayesNetBuilder`], so a column that does not sum to one comes back as
//! [`Error::NotNormalized`](crate::Error::NotNormalized) (unless [`LoadOptions::renormalize`] is set) and a directed cycle as
//! [`Error::Cycle`](crate::Error::Cycle). The reader never panics, whatever the input.
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

mod lexer;
mod parser;

use std::fmt::Write as _;

use crate::error::Result;
use crate::io::LoadOptions;
use crate::model::{BayesNet, BayesNetBuilder};
pub(crate) use lexer::*;
pub(crate) use parser::*;

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
