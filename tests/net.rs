//! Hugin .net: files written by pgmpy and pyAgrum read as the same networks as the BIF
//! originals, pgmkit's writer round-trips exactly, malformed files give parse errors with
//! positions.

use std::path::Path;

use pgmkit::io::{load_model, net, LoadOptions};
use pgmkit::{BayesNet, Error, Model};

#[path = "common/cli.rs"]
mod cli_common;

#[path = "common/bn_compare.rs"]
mod bn_compare;

fn load(path: &str) -> BayesNet {
    match load_model(Path::new(path), &LoadOptions::default()).unwrap() {
        Model::Bayes(b) => b,
        Model::Markov(_) => panic!("{path}: not a Bayesian network"),
    }
}

#[test]
fn pgmpy_files_are_the_bif_networks() {
    for name in ["asia", "alarm", "insurance"] {
        let bif = load(&format!("tests/data/bif/{name}.bif"));
        let other = load(&format!("tests/data/net/{name}.net"));
        assert_eq!(bif.num_vars(), other.num_vars(), "{name}");
        for (p, q) in bn_compare::log_probs_by_name(&bif, &other, 300, 5) {
            assert!(
                (p - q).abs() <= 1e-12 * p.abs().max(1.0),
                "{name}: {p} vs {q}"
            );
        }
    }
}

#[test]
fn pyagrum_files_are_the_bif_networks_to_float32() {
    for name in ["asia", "alarm"] {
        let bif = load(&format!("tests/data/bif/{name}.bif"));
        let other = load(&format!("tests/data/net/{name}_pyagrum.net"));
        for (p, q) in bn_compare::log_probs_by_name(&bif, &other, 300, 5) {
            assert!(
                (p - q).abs() <= 1e-5 * p.abs().max(1.0),
                "{name}: {p} vs {q}"
            );
        }
    }
}

#[test]
fn writer_round_trips_exactly() {
    for name in [
        "asia",
        "alarm",
        "insurance",
        "child",
        "hailfinder",
        "win95pts",
    ] {
        let bn = load(&format!("tests/data/bif/{name}.bif"));
        let text = net::write_net(&bn).unwrap();
        let back = net::parse_net(&text, &LoadOptions::default()).unwrap();
        assert_eq!(back.vars(), bn.vars(), "{name}");
        assert_eq!(back.cpds(), bn.cpds(), "{name}");
    }
}

#[test]
fn names_that_are_not_identifiers_are_refused_by_the_writer() {
    let mut b = pgmkit::BayesNetBuilder::new();
    let a = b.add_variable("a-b", ["x \"q\"", "y\\z"]).unwrap();
    b.set_cpd(a, &[], vec![0.25, 0.75]).unwrap();
    let bn = b.build().unwrap();
    assert!(matches!(
        net::write_net(&bn),
        Err(Error::InvalidArgument(_))
    ));
    // states with quotes and backslashes survive
    let mut b = pgmkit::BayesNetBuilder::new();
    let a = b.add_variable("a_b", ["x \"q\"", "y\\z"]).unwrap();
    b.set_cpd(a, &[], vec![0.25, 0.75]).unwrap();
    let bn = b.build().unwrap();
    let back = net::parse_net(&net::write_net(&bn).unwrap(), &LoadOptions::default()).unwrap();
    assert_eq!(back.vars(), bn.vars());
}

fn parse_err(text: &str) -> (usize, usize, String) {
    match net::parse_net(text, &LoadOptions::default()) {
        Err(Error::Parse { line, col, msg, .. }) => (line, col, msg),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn malformed_files_are_parse_errors_with_positions() {
    let head = "net { }\nnode a { states = (\"x\" \"y\"); }\n";
    let (l, _, m) = parse_err(&format!("{head}potential (a) {{ data = (0.5); }}"));
    assert_eq!(l, 3, "{m}");
    assert!(m.contains("needs 2 entries"), "{m}");
    let (l, c, m) = parse_err(&format!(
        "{head}potential (a | b) {{ data = ((0.5 0.5)); }}"
    ));
    assert_eq!((l, c), (3, 16), "{m}");
    assert!(m.contains("undeclared parent node 'b'"), "{m}");
    let (_, _, m) = parse_err(&format!("{head}potential (a) {{ data = (0.5 abc); }}"));
    assert!(m.contains("'abc'"), "{m}");
    let (_, _, m) = parse_err("net { }\ndecision d { states = (\"a\"); }");
    assert!(m.contains("not supported"), "{m}");
    let (l, _, m) = parse_err("net { }\nnode a { states = (\"x\" \"y\") }");
    assert_eq!(l, 2, "{m}");
    parse_err("net { node_size = (1 2); ");
    parse_err("node a { states = (\"x\" \"x\"); }");
    parse_err(&format!(
        "{head}potential (a) {{ data = (0.5 0.5); }}\npotential (a) {{ data = (0.5 0.5); }}"
    ));
    parse_err(&format!(
        "{head}potential (a) {{ data = {}0.5 0.5{}; }}",
        "(".repeat(300),
        ")".repeat(300)
    ));
    // a node without a potential is the builder's error
    assert!(matches!(
        net::parse_net(head, &LoadOptions::default()),
        Err(Error::InvalidModel(_))
    ));
}

#[test]
fn truncated_and_garbled_inputs_never_panic() {
    let text = std::fs::read_to_string("tests/data/net/asia_pyagrum.net").unwrap();
    for cut in (0..text.len()).step_by(5) {
        if text.is_char_boundary(cut) {
            let _ = net::parse_net(&text[..cut], &LoadOptions::default());
        }
    }
    let bytes = text.as_bytes();
    for k in 0..300usize {
        let mut b = bytes.to_vec();
        let i = (k * 7919) % b.len();
        b[i] = b"(){}|=;\"%x0 \n"[k % 13];
        if let Ok(s) = String::from_utf8(b) {
            let _ = net::parse_net(&s, &LoadOptions::default());
        }
    }
}

#[test]
fn cli_converts_bif_to_net_and_back() {
    let dir = std::env::temp_dir().join(format!("pgmkit-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let n = dir.join("insurance.net");
    let b = dir.join("insurance.bif");
    let o = cli_common::pgmkit(&[
        "convert",
        "tests/data/bif/insurance.bif",
        n.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli_common::pgmkit(&["convert", n.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        load("tests/data/bif/insurance.bif").cpds(),
        load(b.to_str().unwrap()).cpds()
    );
    let j = cli_common::json(&["info", n.to_str().unwrap(), "--json"]);
    assert_eq!(j["format"], "Hugin .net", "{j}");
    std::fs::remove_dir_all(&dir).ok();
}
