//! XMLBIF: files written by pgmpy and pyAgrum read as the same networks as the BIF originals,
//! pgmkit's writer round-trips exactly, malformed documents give parse errors with positions.

use std::path::Path;

use pgmkit::io::{load_model, xmlbif, LoadOptions};
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
        let xml = load(&format!("tests/data/xmlbif/{name}.xml"));
        assert_eq!(bif.num_vars(), xml.num_vars(), "{name}");
        for (p, q) in bn_compare::log_probs_by_name(&bif, &xml, 300, 3) {
            assert!(
                (p - q).abs() <= 1e-12 * p.abs().max(1.0),
                "{name}: {p} vs {q}"
            );
        }
    }
}

#[test]
fn pgmpy_child_file_with_merged_states_is_refused() {
    // pgmpy 1.1.2 writes CHILD's CO2Report states "<7.5" and ">=7.5" both as "_7_5": the file
    // is not the network, and reading it must say so rather than guess
    let e = load_model(
        Path::new("tests/data/xmlbif/child.xml"),
        &LoadOptions::default(),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("CO2Report") && msg.contains("twice"), "{msg}");
    assert!(msg.contains("line 26") || msg.contains("line 25"), "{msg}");
}

#[test]
fn pyagrum_file_is_asia_to_float32() {
    let bif = load("tests/data/bif/asia.bif");
    let xml = load("tests/data/xmlbif/asia_pyagrum.bifxml");
    for (p, q) in bn_compare::log_probs_by_name(&bif, &xml, 200, 3) {
        assert!((p - q).abs() <= 1e-6 * p.abs().max(1.0), "{p} vs {q}");
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
        let text = xmlbif::write_xmlbif(&bn);
        let back = xmlbif::parse_xmlbif(&text, &LoadOptions::default()).unwrap();
        assert_eq!(back.vars(), bn.vars(), "{name}");
        assert_eq!(back.cpds(), bn.cpds(), "{name}");
    }
}

#[test]
fn names_with_markup_characters_survive() {
    let mut b = pgmkit::BayesNetBuilder::new();
    let a = b.add_variable("a<&>\"'", ["x & y", "<z>"]).unwrap();
    b.set_cpd(a, &[], vec![0.25, 0.75]).unwrap();
    let bn = b.build().unwrap();
    let back = xmlbif::parse_xmlbif(&xmlbif::write_xmlbif(&bn), &LoadOptions::default()).unwrap();
    assert_eq!(back.vars(), bn.vars());
}

fn parse_err(text: &str) -> (usize, usize, String) {
    match xmlbif::parse_xmlbif(text, &LoadOptions::default()) {
        Err(Error::Parse { line, col, msg, .. }) => (line, col, msg),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn malformed_documents_are_parse_errors_with_positions() {
    let head = "<BIF VERSION=\"0.3\"><NETWORK>\n<VARIABLE><NAME>a</NAME><OUTCOME>x</OUTCOME><OUTCOME>y</OUTCOME></VARIABLE>\n";
    // a table of the wrong length, on line 3
    let (l, _, m) = parse_err(&format!(
        "{head}<DEFINITION><FOR>a</FOR><TABLE>0.5</TABLE></DEFINITION>\n</NETWORK></BIF>"
    ));
    assert_eq!(l, 3, "{m}");
    assert!(m.contains("needs 2 entries"), "{m}");
    // an undeclared parent
    let (l, c, m) = parse_err(&format!(
        "{head}<DEFINITION><FOR>a</FOR>\n  <GIVEN>b</GIVEN><TABLE>0.5 0.5</TABLE></DEFINITION>\n</NETWORK></BIF>"
    ));
    assert_eq!((l, c), (4, 10), "{m}");
    assert!(m.contains("undeclared variable 'b'"), "{m}");
    // not a number
    let (_, _, m) = parse_err(&format!(
        "{head}<DEFINITION><FOR>a</FOR><TABLE>0.5 abc</TABLE></DEFINITION>\n</NETWORK></BIF>"
    ));
    assert!(m.contains("'abc'"), "{m}");
    // mismatched tags, unclosed elements, no BIF element, defined twice
    let (l, _, m) = parse_err("<BIF><NETWORK>\n</BIF>");
    assert_eq!(l, 2, "{m}");
    parse_err(head);
    parse_err("<NETWORK></NETWORK>");
    let (_, _, m) = parse_err(&format!(
        "{head}<DEFINITION><FOR>a</FOR><TABLE>0.5 0.5</TABLE></DEFINITION><DEFINITION><FOR>a</FOR><TABLE>0.5 0.5</TABLE></DEFINITION></NETWORK></BIF>"
    ));
    assert!(m.contains("twice"), "{m}");
    // a variable without a definition is the builder's error
    assert!(matches!(
        xmlbif::parse_xmlbif(&format!("{head}</NETWORK></BIF>"), &LoadOptions::default()),
        Err(Error::InvalidModel(_))
    ));
}

#[test]
fn truncated_and_garbled_inputs_never_panic() {
    let text = std::fs::read_to_string("tests/data/xmlbif/asia.xml").unwrap();
    for cut in (0..text.len()).step_by(7) {
        if text.is_char_boundary(cut) {
            let _ = xmlbif::parse_xmlbif(&text[..cut], &LoadOptions::default());
        }
    }
    let bytes = text.as_bytes();
    for k in 0..300usize {
        let mut b = bytes.to_vec();
        let i = (k * 7919) % b.len();
        b[i] = b"<>/&;\"x0 \n"[k % 10];
        if let Ok(s) = String::from_utf8(b) {
            let _ = xmlbif::parse_xmlbif(&s, &LoadOptions::default());
        }
    }
}

#[test]
fn cli_converts_bif_to_xmlbif_and_back() {
    let dir = std::env::temp_dir().join(format!("pgmkit-xmlbif-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let xml = dir.join("alarm.xml");
    let bif = dir.join("alarm.bif");
    let o = cli_common::pgmkit(&["convert", "tests/data/bif/alarm.bif", xml.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli_common::pgmkit(&["convert", xml.to_str().unwrap(), bif.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = load("tests/data/bif/alarm.bif");
    let b = load(bif.to_str().unwrap());
    assert_eq!(a.cpds(), b.cpds());
    let j = cli_common::json(&["info", xml.to_str().unwrap(), "--json"]);
    assert_eq!(j["format"], "XMLBIF", "{j}");
    std::fs::remove_dir_all(&dir).ok();
}
