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
