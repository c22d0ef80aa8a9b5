//! `pgmkit dot` and `io::dot::to_dot`: the graph of each model family, shaded evidence, exact
//! marginals in the labels, atomic output that never replaces the model.

use std::path::Path;

use pgmkit::infer::exact::{bn_marginals, ExactOptions};
use pgmkit::io::dot::to_dot;
use pgmkit::io::{load_model, LoadOptions};
use pgmkit::{Evidence, Model, VarId};

#[path = "common/cli.rs"]
mod cli_common;

fn model(path: &str) -> Model {
    load_model(Path::new(path), &LoadOptions::default()).unwrap()
}

#[test]
fn bayesian_network_arcs_evidence_and_marginals() {
    let m = model("tests/data/bif/asia.bif");
    let Model::Bayes(bn) = &m else { panic!() };
    let ev = bn.evidence("xray=yes,dysp=yes").unwrap();
    let post = bn_marginals(bn, &ev, &ExactOptions::default()).unwrap();
    let d = to_dot(&m, &ev, Some(&post));
    assert!(d.starts_with("digraph pgmkit {") && d.trim_end().ends_with('}'));
    let arcs = d.matches(" -> ").count();
    assert_eq!(arcs, bn.num_edges(), "{d}");
    assert!(d.contains("\"smoke\" -> \"lung\""), "{d}");
    assert!(d.contains("label=\"xray = yes\", style=filled"), "{d}");
    // lung's label lists P(lung = yes | e) with three decimals
    let v = bn.var_id("lung").unwrap();
    let p = post.marginal(v);
    let yes = bn.vars()[v.index()]
        .states
        .iter()
        .position(|s| s == "yes")
        .unwrap();
    assert!(d.contains(&format!("yes: {:.3}", p[yes])), "{d}");
}

#[test]
fn markov_networks_pairwise_edges_or_factor_boxes() {
    let grid = model("tests/data/fg/ising_10x10_open.fg");
    let d = to_dot(&grid, &Evidence::new(100), None);
    assert!(d.starts_with("graph pgmkit {"));
    assert_eq!(
        d.matches(" -- ").count(),
        2 * 10 * 9,
        "a 10x10 open grid has 180 edges"
    );
    let uai = model("tests/data/uai/Promedus_26.uai");
    let Model::Markov(fg) = &uai else {
        // a UAI BAYES file loads as a network: its arcs
        return;
    };
    let d = to_dot(&uai, &Evidence::new(fg.num_vars()), None);
    assert!(d.contains("shape=box"));
    let scope_total: usize = fg.factors().iter().map(|f| f.scope().len()).sum();
    assert_eq!(d.matches(" -- ").count(), scope_total);
    let _ = VarId(0);
}

#[test]
fn cli_dot_to_stdout_and_to_a_file() {
    let o = cli_common::pgmkit(&[
        "dot",
        "tests/data/bif/asia.bif",
        "-e",
        "xray=yes",
        "--marginals",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("xray = yes"), "{text}");
    assert!(text.contains("[label=\"tub\\n"), "{text}");
    let dir = std::env::temp_dir().join(format!("pgmkit-dot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("alarm.dot");
    let o = cli_common::pgmkit(&[
        "dot",
        "tests/data/bif/alarm.bif",
        "--out",
        f.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(std::fs::read_to_string(&f).unwrap().starts_with("digraph"));
    // --out naming the model itself is refused, the model untouched
    let copy = dir.join("asia.bif");
    std::fs::copy("tests/data/bif/asia.bif", &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let o = cli_common::pgmkit(&[
        "dot",
        copy.to_str().unwrap(),
        "--out",
        copy.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&copy).unwrap(), before);
    std::fs::remove_dir_all(&dir).ok();
}

/// A small parser of the DOT language (graph, attribute, node and edge statements, quoted and
/// plain IDs, attribute lists): the statements, or where it failed.
fn parse_dot(text: &str) -> Result<(usize, usize), String> {
    #[derive(Debug, PartialEq)]
    enum T {
        Id(String),
        /// A quoted ID (never a keyword)
        Quoted(String),
        Sym(char),
        Arrow,
    }
    let mut toks = Vec::new();
    let cs: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match cs.get(i) {
                    None => return Err("unterminated string".into()),
                    Some('\\') => {
                        s.push(cs[i]);
                        s.push(*cs.get(i + 1).ok_or("dangling escape")?);
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            toks.push(T::Quoted(s));
        } else if c == '-' && cs.get(i + 1) == Some(&'>') {
            toks.push(T::Arrow);
            i += 2;
        } else if "{}[];,=".contains(c) {
            toks.push(T::Sym(c));
            i += 1;
        } else if c.is_alphanumeric() || c == '_' || c == '#' || c == '.' {
            let mut s = String::new();
            while i < cs.len() && (cs[i].is_alphanumeric() || "_#.-".contains(cs[i])) {
                if cs[i] == '-' && cs.get(i + 1) == Some(&'>') {
                    break;
                }
                s.push(cs[i]);
                i += 1;
            }
            toks.push(T::Id(s));
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    let mut p = 0;
    let id = |p: &mut usize| match toks.get(*p) {
        Some(T::Id(s)) | Some(T::Quoted(s)) => {
            *p += 1;
            Ok(s.clone())
        }
        t => Err(format!("expected an ID at token {p}, found {t:?}")),
    };
    let sym = |p: &mut usize, c: char| {
        if toks.get(*p) == Some(&T::Sym(c)) {
            *p += 1;
            Ok(())
        } else {
            Err(format!(
                "expected {c:?} at token {p}, found {:?}",
                toks.get(*p)
            ))
        }
    };
    let attrs = |p: &mut usize| -> Result<(), String> {
        sym(p, '[')?;
        while toks.get(*p) != Some(&T::Sym(']')) {
            id(p)?;
            sym(p, '=')?;
            id(p)?;
            if toks.get(*p) == Some(&T::Sym(',')) || toks.get(*p) == Some(&T::Sym(';')) {
                *p += 1;
            }
        }
        sym(p, ']')
    };
    let kind = id(&mut p)?;
    if kind != "digraph" && kind != "graph" {
        return Err(format!("not a graph: {kind}"));
    }
    if matches!(toks.get(p), Some(T::Id(_)) | Some(T::Quoted(_))) {
        p += 1;
    }
    sym(&mut p, '{')?;
    let (mut nodes, mut edges) = (0, 0);
    while toks.get(p) != Some(&T::Sym('}')) {
        let keyword = matches!(toks.get(p), Some(T::Id(_)));
        let first = id(&mut p)?;
        if keyword && ["node", "edge", "graph"].contains(&first.to_lowercase().as_str()) {
            attrs(&mut p)?;
        } else if toks.get(p) == Some(&T::Sym('=')) {
            p += 1;
            id(&mut p)?;
        } else {
            let mut is_edge = false;
            while toks.get(p) == Some(&T::Arrow) || toks.get(p) == Some(&T::Sym('-')) {
                p += 1;
                id(&mut p)?;
                is_edge = true;
            }
            if toks.get(p) == Some(&T::Sym('[')) {
                attrs(&mut p)?;
            }
            if is_edge {
                edges += 1;
            } else {
                nodes += 1;
            }
        }
        sym(&mut p, ';')?;
    }
    sym(&mut p, '}')?;
    if p != toks.len() {
        return Err("text after the graph".into());
    }
    Ok((nodes, edges))
}

#[test]
fn the_dot_of_every_bif_network_parses_as_dot() {
    let dir = std::path::Path::new("tests/data/bif");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("bif") {
            continue;
        }
        let Model::Bayes(bn) = model(path.to_str().unwrap()) else {
            panic!("a BIF is a Bayesian network");
        };
        let m = Model::Bayes(bn.clone());
        let text = pgmkit::io::dot::to_dot(&m, &Evidence::new(bn.num_vars()), None);
        let (nodes, edges) =
            parse_dot(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
        assert_eq!(nodes, bn.num_vars(), "{}", path.display());
        assert_eq!(edges, bn.num_edges(), "{}", path.display());
        seen += 1;
    }
    assert_eq!(seen, 24);
    // the parser does refuse what is not DOT
    assert!(parse_dot("digraph { \"a\" -> ; }").is_err());
    assert!(parse_dot("digraph { \"a\" [label=\"x\"] }").is_err());
}
