//! Graphviz DOT output of a model's graph ([`to_dot`]): a Bayesian network as a directed graph
//! of its arcs, a pairwise Markov network as the undirected graph of its factors, and a Markov
//! network with larger factors as its factor graph (variables as ellipses, factors as small
//! boxes). Observed variables are shaded and labelled with their state; given the posterior,
//! every other variable's label lists its most probable states.
//!
//! Render with Graphviz: `dot -Tsvg model.dot -o model.svg`.

use std::fmt::Write as _;

use crate::estimate::Posterior;
use crate::model::Model;
use crate::var::{Evidence, VarId};

/// States listed per variable in a label with marginals (the most probable ones).
pub const LABEL_STATES: usize = 6;

/// A DOT string literal.
fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// The DOT text of `model`'s graph, observed variables of `ev` shaded, and, with `post`, each
/// unobserved variable's label listing up to [`LABEL_STATES`] of its states with their posterior
/// probabilities (most probable first). `O(variables + arcs + factor scopes)`.
///
/// ```
/// use pgmkit::io::dot::to_dot;
/// use pgmkit::{BayesNetBuilder, Evidence, Model};
/// let mut b = BayesNetBuilder::new();
/// let rain = b.add_variable("rain", ["no", "yes"]).unwrap();
/// let wet = b.add_variable("wet", ["no", "yes"]).unwrap();
/// b.set_cpd(rain, &[], vec![0.8, 0.2]).unwrap();
/// b.set_cpd(wet, &[rain], vec![0.9, 0.1, 0.2, 0.8]).unwrap();
/// let bn = b.build().unwrap();
/// let ev = bn.evidence("wet=yes").unwrap();
/// let dot = to_dot(&Model::Bayes(bn), &ev, None);
/// assert!(dot.starts_with("digraph"));
/// assert!(dot.contains("\"rain\" -> \"wet\""));
/// ```
pub fn to_dot(model: &Model, ev: &Evidence, post: Option<&Posterior>) -> String {
    let vars = model.vars();
    let mut s = String::new();
    let label = |i: usize| -> (String, bool) {
        let v = &vars[i];
        if let Some(st) = ev.get(VarId(i as u32)) {
            return (
                format!(
                    "{} = {}",
                    v.name,
                    v.states.get(st).map_or("?", |x| x.as_str())
                ),
                true,
            );
        }
        let Some(p) = post else {
            return (v.name.clone(), false);
        };
        let m = p.marginal(VarId(i as u32));
        let mut order: Vec<usize> = (0..m.len()).collect();
        order.sort_by(|&a, &b| m[b].total_cmp(&m[a]).then(a.cmp(&b)));
        let mut l = v.name.clone();
        for &k in order.iter().take(LABEL_STATES) {
            let _ = write!(l, "\n{}: {:.3}", v.states[k], m[k]);
        }
        if order.len() > LABEL_STATES {
            let _ = write!(l, "\n({} more)", order.len() - LABEL_STATES);
        }
        (l, false)
    };
    let node = |s: &mut String, i: usize| {
        let (l, observed) = label(i);
        let _ = writeln!(
            s,
            "  {} [label={}{}];",
            quoted(&vars[i].name),
            quoted(&l),
            if observed {
                ", style=filled, fillcolor=\"#d0d0d0\""
            } else {
                ""
            }
        );
    };
    match model {
        Model::Bayes(bn) => {
            s.push_str("digraph pgmkit {\n  node [shape=ellipse];\n");
            for i in 0..vars.len() {
                node(&mut s, i);
            }
            for i in 0..vars.len() {
                for p in bn.parents(VarId(i as u32)) {
                    let _ = writeln!(
                        s,
                        "  {} -> {};",
                        quoted(&vars[p.index()].name),
                        quoted(&vars[i].name)
                    );
                }
            }
        }
        Model::Markov(fg) => {
            s.push_str("graph pgmkit {\n  node [shape=ellipse];\n");
            for i in 0..vars.len() {
                node(&mut s, i);
            }
            if fg.factors().iter().all(|f| f.scope().len() <= 2) {
                // pairwise: one edge per pair of variables sharing a factor
                let mut edges: Vec<(usize, usize)> = fg
                    .factors()
                    .iter()
                    .filter(|f| f.scope().len() == 2)
                    .map(|f| {
                        let (a, b) = (f.scope()[0].index(), f.scope()[1].index());
                        (a.min(b), a.max(b))
                    })
                    .collect();
                edges.sort_unstable();
                edges.dedup();
                for (a, b) in edges {
                    let _ = writeln!(
                        s,
                        "  {} -- {};",
                        quoted(&vars[a].name),
                        quoted(&vars[b].name)
                    );
                }
            } else {
                for (k, f) in fg.factors().iter().enumerate() {
                    let id = quoted(&format!("factor {k}"));
                    let _ = writeln!(
                        s,
                        "  {id} [shape=box, label=\"\", width=0.15, height=0.15, style=filled, fillcolor=black];"
                    );
                    for v in f.scope() {
                        let _ = writeln!(s, "  {id} -- {};", quoted(&vars[v.index()].name));
                    }
                }
            }
        }
    }
    s.push_str("}\n");
    s
}
