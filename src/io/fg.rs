//! libDAI `.fg` factor graphs: reader and writer.
//!
//! ```text
//! # comment lines start with '#'
//! 1                 number of factors
//!
//! 2                 factor 0: number of variables
//! 4 7               their labels (non-negative integers)
//! 2 3               their cardinalities
//! 3                 number of entries listed
//! 0 0.5             index value (first variable fastest)
//! 1 2.0
//! 5 1.0
//! ```
//!
//! * **Variables.** Labels are arbitrary non-negative integers (not necessarily contiguous). All
//!   labels of the file are sorted ascending and given [`VarId`]s in that order; each variable is
//!   named by its label (`"4"`, `"7"`) with states `"0"`, `"1"`, ... A label used with two
//!   different cardinalities, or twice in one factor, is an error.
//! * **Tables.** In the linear index the **first-listed** variable changes fastest (the reverse of
//!   pgmkit's convention, [`crate::factor::index`]); the reader converts. Entries left out are 0.
//!   Values are potentials (not logs) and must be finite and non-negative. An index listed twice
//!   keeps its **last** value, as libDAI does. An index outside the table is an error.
//! * **Comments.** A token that starts with `#` begins a comment running to the end of its line.
//!   Blank lines are not required between factors (the file is read as tokens); tokens after the
//!   last factor are an error.
//! * **Limits.** pgmkit stores tables densely, and a sparse `.fg` file can declare tables far
//!   larger than itself, so one file may declare at most [`MAX_TOTAL_ENTRIES`] table entries in
//!   all; a cardinality is at most [`MAX_CARDINALITY`].
//!
//! Every problem is an [`Error::Parse`](crate::Error::Parse) (format [`Format::Fg`]) with the
//! 1-based line and column of the offending token.
//!
//! [`write_fg`] writes every entry (zeros too), each factor's variables in ascending [`VarId`]
//! order with the first fastest. A variable that is in no factor cannot be expressed in the
//! format and is dropped.
//!
//! ```
//! use pgmkit::io::fg::{parse_fg, write_fg};
//!
//! // one factor over labels 4 (2 states) and 7 (3 states); label 4 changes fastest
//! let text = "1\n\n2\n4 7\n2 3\n3\n0 0.5\n1 2.0\n5 1.0\n";
//! let fg = parse_fg(text).unwrap();
//! assert_eq!(fg.vars()[0].name, "4");
//! assert_eq!(fg.cards(), vec![2, 3]);
//! let f = &fg.factors()[0];
//! // index 1 = (x4 = 1, x7 = 0); index 5 = (x4 = 1, x7 = 2); index 2 was left out: 0
//! assert!((f.log_value(&[1, 0]) - 2f64.ln()).abs() < 1e-15);
//! assert_eq!(f.log_value(&[1, 2]), 0.0);
//! assert_eq!(f.log_value(&[0, 1]), f64::NEG_INFINITY);
//!
//! let again = parse_fg(&write_fg(&fg)).unwrap();
//! assert_eq!(again.vars(), fg.vars());
//! let expect = [0.5, 0.0, 0.0, 2.0, 0.0, 1.0]; // pgmkit order: x7 fastest
//! for (p, e) in again.factors()[0].potentials().iter().zip(expect) {
//!     assert!((p - e).abs() < 1e-15);
//! }
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;

use super::uai::{show, write_num, Lexer, MAX_CARDINALITY};
use crate::error::{Format, Result};
use crate::factor::index::strides;
use crate::factor::TableFactor;
use crate::model::FactorGraph;
use crate::var::{VarId, Variable};

/// Largest total number of table entries (summed over all factors) that one `.fg` file may
/// declare (2^24, i.e. 128 MiB of `f64`; a sparse listing of a larger table would otherwise cost
/// gigabytes and seconds to store densely).
pub const MAX_TOTAL_ENTRIES: usize = 1 << 24;

/// A factor as read: its entries are kept sparse until the whole file has been checked, so that
/// no dense table is allocated for a file that turns out to be bad.
/// Labels, cardinalities and entries of all factors live in three shared vectors (few
/// allocations for files with many small factors); a factor holds where its parts end.
struct RawFactor {
    vars_end: usize,
    entries_end: usize,
    size: usize,
}

/// What is known about a label: its cardinality, the factor and line where it was first given,
/// and the last factor that listed it (for the duplicate check).
struct LabelInfo {
    card: usize,
    first_factor: usize,
    first_line: usize,
    last_factor: usize,
}

/// Parse a libDAI `.fg` file (see the [module documentation](self)).
pub fn parse_fg(text: &str) -> Result<FactorGraph> {
    let mut lx = Lexer::new(text, Format::Fg, true);
    let t = lx.need(|| "the number of factors")?;
    let nf = lx.int(&t, "the number of factors")?;
    if nf > lx.remaining_bound() {
        return Err(lx.err(
            &t,
            format!("the file declares {nf} factors but is too short to hold them"),
        ));
    }
    let mut labels_info: HashMap<u64, LabelInfo> = HashMap::new();
    let mut raw: Vec<RawFactor> = Vec::with_capacity(nf);
    let mut all_labels: Vec<u64> = Vec::new();
    let mut all_cards: Vec<usize> = Vec::new();
    let mut all_entries: Vec<(usize, f64)> = Vec::new();
    let mut label_toks = Vec::new();
    let mut total = 0usize;
    for i in 0..nf {
        let t = lx.need(|| format!("factor {i} ({} factors missing)", nf - i))?;
        let nv = lx.int(&t, "the number of variables of a factor")?;
        if nv > lx.remaining_bound() {
            return Err(lx.err(
                &t,
                format!(
                    "factor {i} declares {nv} variables but the file is too short to list them"
                ),
            ));
        }
        label_toks.clear();
        for j in 0..nv {
            let t = lx.need(|| format!("{} more variable labels (factor {i})", nv - j))?;
            label_toks.push((lx.int_u64(&t, "a variable label")?, t));
        }
        let mut size = 1usize;
        for (j, (label, lt)) in label_toks.iter().enumerate() {
            let t = lx.need(|| format!("{} more cardinalities (factor {i})", nv - j))?;
            let c = lx.int(&t, "a cardinality")?;
            if c == 0 {
                return Err(lx.err(
                    &t,
                    format!("variable {label} has cardinality 0; every variable needs at least one state"),
                ));
            }
            if c > MAX_CARDINALITY {
                return Err(lx.err(
                    &t,
                    format!(
                        "variable {label} has cardinality {c}, above the limit of {MAX_CARDINALITY} states"
                    ),
                ));
            }
            match labels_info.get_mut(label) {
                Some(info) => {
                    if info.last_factor == i {
                        return Err(lx.err(lt, format!("factor {i} lists variable {label} twice")));
                    }
                    if info.card != c {
                        return Err(lx.err(
                            &t,
                            format!(
                                "variable {label} has cardinality {c} here but {} in factor {} (line {})",
                                info.card, info.first_factor, info.first_line
                            ),
                        ));
                    }
                    info.last_factor = i;
                }
                None => {
                    labels_info.insert(
                        *label,
                        LabelInfo {
                            card: c,
                            first_factor: i,
                            first_line: t.line_no(),
                            last_factor: i,
                        },
                    );
                }
            }
            size = match size.checked_mul(c) {
                Some(s) if s <= MAX_TOTAL_ENTRIES => s,
                _ => {
                    return Err(lx.err(
                        &t,
                        format!(
                        "the table of factor {i} would have more than {MAX_TOTAL_ENTRIES} entries"
                    ),
                    ))
                }
            };
            all_labels.push(*label);
            all_cards.push(c);
        }
        total = total.saturating_add(size);
        if total > MAX_TOTAL_ENTRIES {
            return Err(lx.err(
                &t,
                format!(
                    "the tables up to factor {i} have {total} entries in all, above the limit of {MAX_TOTAL_ENTRIES}"
                ),
            ));
        }
        let t = lx.need(|| format!("the number of entries of factor {i}"))?;
        let nnz = lx.int(&t, "the number of entries")?;
        all_entries.reserve(nnz.min(lx.remaining_bound() / 2));
        for e in 0..nnz {
            let it = lx.need(|| format!("{} more 'index value' lines (factor {i})", nnz - e))?;
            let idx = lx.int(&it, "an entry index")?;
            let vt = lx.need(|| format!("the value of entry {idx} (factor {i})"))?;
            let v = lx.nonneg(&vt, "a potential")?;
            if idx >= size {
                return Err(lx.err(
                    &it,
                    format!(
                        "entry index {idx} is out of range: the table of factor {i} has {size} entries (0..{})",
                        size.saturating_sub(1)
                    ),
                ));
            }
            all_entries.push((idx, v));
        }
        raw.push(RawFactor {
            vars_end: all_labels.len(),
            entries_end: all_entries.len(),
            size,
        });
    }
    if let Some(t) = lx.next() {
        return Err(lx.err(
            &t,
            format!(
                "unexpected '{}' after the last factor (the file declares {nf} factors)",
                show(t.text)
            ),
        ));
    }

    let mut sorted: Vec<(u64, usize)> = labels_info
        .iter()
        .map(|(&l, info)| (l, info.card))
        .collect();
    sorted.sort_unstable();
    let id_of: HashMap<u64, VarId> = sorted
        .iter()
        .enumerate()
        .map(|(i, &(l, _))| (l, VarId(i as u32)))
        .collect();
    let vars: Vec<Variable> = sorted
        .iter()
        .map(|&(l, c)| Variable::with_cardinality(l.to_string(), c))
        .collect();
    let mut factors = Vec::with_capacity(raw.len());
    let (mut vars_start, mut entries_start) = (0, 0);
    for f in raw {
        let labels = all_labels.get(vars_start..f.vars_end).unwrap_or(&[]);
        let fcards = all_cards.get(vars_start..f.vars_end).unwrap_or(&[]);
        let entries = all_entries.get(entries_start..f.entries_end).unwrap_or(&[]);
        (vars_start, entries_start) = (f.vars_end, f.entries_end);
        // first-listed fastest == the reversed scope with the last fastest: same table
        let scope: Vec<VarId> = labels
            .iter()
            .rev()
            .map(|l| id_of.get(l).copied().unwrap_or(VarId(0)))
            .collect();
        let cards: Vec<usize> = fcards.iter().rev().copied().collect();
        let mut values = vec![0.0; f.size];
        for &(idx, v) in entries {
            // later entries win; idx < size was checked while reading
            if let Some(slot) = values.get_mut(idx) {
                *slot = v;
            }
        }
        factors.push(TableFactor::from_potentials(scope, cards, values)?);
    }
    FactorGraph::new(vars, factors)
}

/// Write a factor graph in libDAI `.fg` format.
///
/// Labels are the variable names when every name is a non-negative integer in canonical form
/// (hence all distinct), as for graphs read from `.fg` or UAI files; otherwise the [`VarId`]
/// indices for all variables. Reading the file back orders the variables by label, so a graph
/// whose integer names are not ascending in [`VarId`] order comes back with its variables
/// renumbered (same names, same factors). Each factor lists
/// its variables in ascending [`VarId`] order, the first fastest, and writes every entry (zeros
/// too) as the potential `exp(log value)` in a form that reads back to the same `f64`.
pub fn write_fg(fg: &FactorGraph) -> String {
    let names_ok = fg
        .vars()
        .iter()
        .all(|v| v.name.parse::<u64>().is_ok_and(|n| n.to_string() == v.name));
    let label = |v: VarId| -> String {
        match fg.vars().get(v.index()) {
            Some(var) if names_ok => var.name.clone(),
            _ => v.0.to_string(),
        }
    };
    let mut s = String::new();
    let _ = writeln!(s, "# written by pgmkit\n{}", fg.factors().len());
    for f in fg.factors() {
        let cards = f.cards();
        let k = cards.len();
        let _ = writeln!(s, "\n{k}");
        let labels: Vec<String> = f.scope().iter().map(|&v| label(v)).collect();
        let _ = writeln!(s, "{}", labels.join(" "));
        let cs: Vec<String> = cards.iter().map(|c| c.to_string()).collect();
        let _ = writeln!(s, "{}", cs.join(" "));
        let pot = f.potentials();
        let _ = writeln!(s, "{}", pot.len());
        // walk libDAI's linear index (first variable fastest), tracking pgmkit's flat index
        let st = strides(cards);
        let mut states = vec![0usize; k];
        let mut flat = 0usize;
        for j in 0..pot.len() {
            let _ = write!(s, "{j} ");
            write_num(&mut s, pot.get(flat).copied().unwrap_or(0.0));
            s.push('\n');
            for d in 0..k {
                states[d] += 1;
                flat += st[d];
                if states[d] < cards[d] {
                    break;
                }
                flat -= st[d] * cards[d];
                states[d] = 0;
            }
        }
    }
    s
}
