//! UAI model and evidence reading / writing against the UAI 2014 fixtures.

use std::path::{Path, PathBuf};

use pgmkit::io::uai::{parse_evid, parse_uai, write_evid, write_uai};
use pgmkit::io::LoadOptions;
use pgmkit::{Error, Evidence, FactorGraph, Format, Model, VarId, Variable};
use proptest::prelude::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/uai");

fn path(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load(name: &str) -> Model {
    parse_uai(&read(&format!("{name}.uai")), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn markov(m: Model) -> FactorGraph {
    match m {
        Model::Markov(fg) => fg,
        Model::Bayes(_) => panic!("expected a Markov model"),
    }
}

struct Row {
    name: String,
    nvars: usize,
    nfactors: usize,
    n_evidence: usize,
    n_domain1: usize,
}

fn answers() -> Vec<Row> {
    let text = read("answers.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (cn, cv, cf, ce, cd) = (
        col("name"),
        col("nvars"),
        col("nfactors"),
        col("n_evidence"),
        col("n_domain1"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                name: f[cn].to_string(),
                nvars: f[cv].parse().unwrap(),
                nfactors: f[cf].parse().unwrap(),
                n_evidence: f[ce].parse().unwrap(),
                n_domain1: f[cd].parse().unwrap(),
            }
        })
        .collect()
}

fn parse_err(text: &str) -> (Format, usize, usize, String) {
    match parse_uai(text, &LoadOptions::default()) {
        Err(Error::Parse {
            format,
            line,
            col,
            msg,
        }) => (format, line, col, msg),
        Err(e) => panic!("expected a parse error, got {e}"),
        Ok(_) => panic!("expected a parse error for {text:?}"),
    }
}

#[test]
fn every_instance_parses_with_its_evidence_and_counts_match() {
    let rows = answers();
    assert_eq!(rows.len(), 75);
    let mut files: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".uai"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 75);
    for row in &rows {
        let fg = markov(load(&row.name));
        assert_eq!(fg.num_vars(), row.nvars, "{}", row.name);
        assert_eq!(fg.factors().len(), row.nfactors, "{}", row.name);
        let dom1 = fg.vars().iter().filter(|v| v.card() == 1).count();
        assert_eq!(dom1, row.n_domain1, "{}", row.name);
        if row.name.starts_with("linkage") {
            assert!(dom1 > 0, "{}", row.name);
        }
        assert_eq!(fg.vars()[0].name, "0");
        let ev = parse_evid(&read(&format!("{}.uai.evid", row.name)), fg.vars())
            .unwrap_or_else(|e| panic!("{}: {e}", row.name));
        assert_eq!(ev.len(), row.n_evidence, "{}", row.name);
    }
}

#[test]
fn scopes_are_permuted_into_sorted_order() {
    // Promedus CPT factors list the child last; check one table entry against the raw text.
    let text = read("Promedus_24.uai");
    let toks: Vec<&str> = text.split_whitespace().collect();
    let n: usize = toks[1].parse().unwrap();
    let nf: usize = toks[2 + n].parse().unwrap();
    let mut p = 3 + n;
    let mut scopes = vec![];
    for _ in 0..nf {
        let k: usize = toks[p].parse().unwrap();
        scopes.push(
            toks[p + 1..p + 1 + k]
                .iter()
                .map(|t| t.parse::<usize>().unwrap())
                .collect::<Vec<_>>(),
        );
        p += 1 + k;
    }
    let fg = markov(load("Promedus_24"));
    for (fi, scope) in scopes.iter().enumerate() {
        let len: usize = toks[p].parse().unwrap();
        let table: Vec<f64> = toks[p + 1..p + 1 + len]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
        p += 1 + len;
        let f = &fg.factors()[fi];
        let cards: Vec<usize> = scope.iter().map(|&v| fg.vars()[v].card()).collect();
        // walk the file's table (last scope variable fastest)
        for (flat, &val) in table.iter().enumerate() {
            let mut a = vec![0usize; fg.num_vars()];
            let mut r = flat;
            for (j, &v) in scope.iter().enumerate().rev() {
                a[v] = r % cards[j];
                r /= cards[j];
            }
            assert_eq!(f.log_value(&a), val.ln(), "factor {fi} entry {flat}");
        }
    }
    assert_eq!(p, toks.len());
}

fn assert_same_markov(a: &FactorGraph, b: &FactorGraph) {
    assert_eq!(a.cards(), b.cards());
    assert_eq!(a.factors().len(), b.factors().len());
    for (fa, fb) in a.factors().iter().zip(b.factors()) {
        assert_eq!(fa.scope(), fb.scope());
        assert_eq!(fa.cards(), fb.cards());
        for (&x, &y) in fa.potentials().iter().zip(&fb.potentials()) {
            assert!(
                x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                "{x} vs {y}"
            );
        }
    }
}

#[test]
fn write_then_parse_round_trips() {
    for name in [
        "Grids_11",
        "linkage_16",
        "ObjectDetection_14",
        "Promedus_24",
        "CSP_12",
        "c432.isc.cnf",
        "DBN_11",
    ] {
        let fg = markov(load(name));
        let text = write_uai(&Model::Markov(fg.clone()));
        assert!(text.starts_with("MARKOV\n"));
        let back = markov(parse_uai(&text, &LoadOptions::default()).unwrap());
        assert_same_markov(&fg, &back);
        // and a second trip is textually stable
        assert_eq!(write_uai(&Model::Markov(back)), text, "{name}");
    }
}

const SMALL_BAYES: &str = "BAYES
3
2 2 3
3
1 0
2 0 1
3 1 0 2

2 0.3 0.7
4
0.9 0.1
0.2 0.8
12
0.1 0.2 0.7
0.3 0.3 0.4
0.5 0.25 0.25
1 0 0
";

#[test]
fn bayes_file_gives_the_right_cpts() {
    let Model::Bayes(bn) = parse_uai(SMALL_BAYES, &LoadOptions::default()).unwrap() else {
        panic!("expected a Bayesian network")
    };
    assert_eq!(bn.num_vars(), 3);
    assert_eq!(bn.cpd(VarId(0)).parents, vec![]);
    assert_eq!(bn.cpd(VarId(0)).probs, vec![0.3, 0.7]);
    assert_eq!(bn.cpd(VarId(1)).parents, vec![VarId(0)]);
    assert_eq!(bn.cpd(VarId(1)).probs, vec![0.9, 0.1, 0.2, 0.8]);
    // child 2, parents (1, 0) in that order, parent 1 slowest
    assert_eq!(bn.cpd(VarId(2)).parents, vec![VarId(1), VarId(0)]);
    assert_eq!(bn.cpd(VarId(2)).probs[3..6], [0.3, 0.3, 0.4]);
    // P(x0=1, x1=0, x2=2) = 0.7 * 0.2 * P(x2=2 | x1=0, x0=1) = 0.7 * 0.2 * 0.4
    let lp = bn.log_prob(&[1, 0, 2]);
    assert!((lp - (0.7f64 * 0.2 * 0.4).ln()).abs() < 1e-14);
    assert_eq!(bn.var(VarId(2)).states, vec!["0", "1", "2"]);
    // round trip: exact probabilities
    let text = write_uai(&Model::Bayes(bn.clone()));
    assert!(text.starts_with("BAYES\n"));
    let Model::Bayes(back) = parse_uai(&text, &LoadOptions::default()).unwrap() else {
        panic!("expected a Bayesian network")
    };
    assert_eq!(back.cpds(), bn.cpds());
}

#[test]
fn bayes_normalisation_and_cpt_count_checks() {
    let off = SMALL_BAYES.replace("2 0.3 0.7", "2 0.3 0.6");
    let err = parse_uai(&off, &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotNormalized { .. }), "{err}");
    let opts = LoadOptions {
        renormalize: true,
        ..LoadOptions::default()
    };
    let Model::Bayes(bn) = parse_uai(&off, &opts).unwrap() else {
        panic!()
    };
    assert!((bn.cpd(VarId(0)).probs[0] - 1.0 / 3.0).abs() < 1e-15);
    let loose = LoadOptions {
        tolerance: 0.2,
        ..LoadOptions::default()
    };
    assert!(parse_uai(&off, &loose).is_ok());

    // two CPTs for variable 1, none for variable 2
    let dup = SMALL_BAYES.replace("3 1 0 2", "3 2 0 1");
    let (_, line, _, msg) = parse_err(&dup);
    assert_eq!(line, 7);
    assert!(msg.contains("child"), "{msg}");
    // wrong number of factors
    let (_, line, _, msg) = parse_err("BAYES\n2\n2 2\n1\n1 0\n2 0.5 0.5\n");
    assert_eq!(line, 4);
    assert!(msg.contains("one factor"), "{msg}");
    // a cycle
    let cyc = "BAYES 2 2 2 2 2 1 0 2 0 1 4 .5 .5 .5 .5 4 .5 .5 .5 .5";
    assert!(matches!(
        parse_uai(cyc, &LoadOptions::default()),
        Err(Error::Cycle(_))
    ));
}

#[test]
fn tables_may_share_lines_and_domain_one_is_fine() {
    let text = "markov 3 1 2 2 2 2 0 1 1 2 2 0.5 1.5 2 0 0";
    let fg = markov(parse_uai(text, &LoadOptions::default()).unwrap());
    assert_eq!(fg.cards(), vec![1, 2, 2]);
    assert_eq!(fg.factors()[1].log_value(&[0, 0, 1]), f64::NEG_INFINITY);
    // empty scope: a constant factor
    let fg = markov(parse_uai("MARKOV 1 2 1 0 1 3.0", &LoadOptions::default()).unwrap());
    assert!((fg.factors()[0].log_sum() - 3f64.ln()).abs() < 1e-15);
}

#[test]
fn evidence_forms() {
    let vars: Vec<Variable> = (0..5)
        .map(|i| Variable::with_cardinality(i.to_string(), 3))
        .collect();
    let one = parse_evid("2 1 2 4 0\n", &vars).unwrap();
    assert_eq!(one.get(VarId(1)), Some(2));
    assert_eq!(one.get(VarId(4)), Some(0));
    assert_eq!(one.len(), 2);
    assert_eq!(write_evid(&one), "2 1 2 4 0\n");
    assert_eq!(parse_evid(&write_evid(&one), &vars).unwrap(), one);
    // "0" and empty: no evidence
    assert!(parse_evid("0", &vars).unwrap().is_empty());
    assert!(parse_evid("  \n", &vars).unwrap().is_empty());
    assert_eq!(write_evid(&Evidence::new(5)), "0\n");
    // multi-sample form: first sample only
    let multi = parse_evid("2\n2 1 2 4 0\n1 3 1\n", &vars).unwrap();
    assert_eq!(multi, one);
    let multi1 = parse_evid("1\n2 1 2 4 0\n", &vars).unwrap();
    assert_eq!(multi1, one);
    assert!(parse_evid("1\n0\n", &vars).unwrap().is_empty());
    assert!(parse_evid("3\n0\n0\n1 2 2\n", &vars).unwrap().is_empty());
    // the pairs may span lines
    let spread = parse_evid("2\n1\n2\n4 0", &vars).unwrap();
    assert_eq!(spread, one);
}

fn evid_err(text: &str, vars: &[Variable]) -> (usize, usize, String) {
    match parse_evid(text, vars) {
        Err(Error::Parse {
            format: Format::UaiEvidence,
            line,
            col,
            msg,
        }) => (line, col, msg),
        other => panic!("expected an evidence parse error for {text:?}, got {other:?}"),
    }
}

#[test]
fn bad_evidence_gives_typed_errors() {
    let vars: Vec<Variable> = (0..3)
        .map(|i| Variable::with_cardinality(i.to_string(), 2))
        .collect();
    let (line, col, msg) = evid_err("1 2 5", &vars);
    assert_eq!((line, col), (1, 5));
    assert!(msg.contains("state 5 of variable 2"), "{msg}");
    let (_, col, msg) = evid_err("1 7 0", &vars);
    assert_eq!(col, 3);
    assert!(msg.contains("variable 7"), "{msg}");
    let (_, _, msg) = evid_err("3 0 1", &vars);
    assert!(msg.contains("unexpected end of file"), "{msg}");
    let (_, _, msg) = evid_err("x", &vars);
    assert!(msg.contains("found 'x'"), "{msg}");
    let (_, _, msg) = evid_err("1 0 one", &vars);
    assert!(msg.contains("found 'one'"), "{msg}");
    let (_, col, msg) = evid_err("1 0 1 1 1 1", &vars);
    assert_eq!(col, 7);
    assert!(msg.contains("unexpected '1'"), "{msg}");
    assert!(matches!(
        parse_evid("2 0 1 0 0", &vars),
        Err(Error::ConflictingEvidence(_))
    ));
    // same state twice is harmless
    assert_eq!(parse_evid("2 0 1 0 1", &vars).unwrap().len(), 1);
    // absurd count
    let (_, _, msg) = evid_err("99999999999999999999 0 1", &vars);
    assert!(msg.contains("too large"), "{msg}");
    let (_, _, msg) = evid_err("9999999999999999999 0 1", &vars);
    assert!(msg.contains("end of file"), "{msg}");
}

#[test]
fn bad_models_give_located_errors() {
    let good = "MARKOV\n3\n2 2 2\n2\n2 0 1\n1 2\n4 1 2 3 4\n2 5 6\n";
    assert!(parse_uai(good, &LoadOptions::default()).is_ok());

    // truncated file
    let (format, line, _, msg) = parse_err("MARKOV\n3\n2 2 2\n2\n2 0 1\n1 2\n4 1 2");
    assert_eq!(format, Format::Uai);
    assert_eq!(line, 7);
    assert!(
        msg.contains("unexpected end of file: expected 2 more table entries"),
        "{msg}"
    );
    for cut in 0..good.trim_end().len() {
        let e = parse_uai(&good[..cut], &LoadOptions::default());
        assert!(matches!(e, Err(Error::Parse { .. })), "prefix {cut}");
    }
    // a non-number
    let (_, line, col, msg) = parse_err("MARKOV\n3\n2 x 2\n");
    assert_eq!((line, col), (3, 3));
    assert_eq!(msg, "expected a cardinality, found 'x'");
    let (_, line, col, msg) = parse_err("MARKOV\n3\n2 2 2\n2\n2 0 1\n1 2\n4 1 2 abc 4\n2 5 6\n");
    assert_eq!((line, col), (7, 7));
    assert!(msg.contains("found 'abc'"), "{msg}");
    // a scope naming variable 99 of 10
    let (_, line, col, msg) = parse_err("MARKOV\n10\n2 2 2 2 2 2 2 2 2 2\n1\n2 0 99\n4 1 1 1 1\n");
    assert_eq!((line, col), (5, 5));
    assert!(msg.contains("variable 99"), "{msg}");
    // wrong entry count
    let (_, line, col, msg) = parse_err("MARKOV\n3\n2 2 2\n2\n2 0 1\n1 2\n8 1 2 3 4\n2 5 6\n");
    assert_eq!((line, col), (7, 1));
    assert_eq!(msg, "factor 0 declares 8 entries but its scope needs 4");
    // bad header, negative value, NaN, zero cardinality, duplicate scope variable, trailing junk
    assert!(parse_err("MRF\n").3.contains("'MARKOV' or 'BAYES'"));
    assert!(parse_err("MARKOV 1 2 1 1 0 2 1 -1")
        .3
        .contains("non-negative"));
    assert!(parse_err("MARKOV 1 2 1 1 0 2 1 nan").3.contains("finite"));
    assert!(parse_err("MARKOV 1 2 1 1 0 2 1 inf").3.contains("finite"));
    assert!(parse_err("MARKOV 1 0 0").3.contains("cardinality 0"));
    assert!(parse_err("MARKOV 2 2 2 1 2 1 1 4 1 1 1 1")
        .3
        .contains("twice"));
    assert!(parse_err("MARKOV 1 2 1 1 0 2 1 1 7")
        .3
        .contains("after the last"));
    // absurd sizes fail before allocating
    assert!(parse_err("MARKOV 1000000000000000000 2 2")
        .3
        .contains("too short"));
    assert!(parse_err("MARKOV 2 4000000000 2 1 1 0 1")
        .3
        .contains("limit"));
    let (_, _, _, msg) =
        parse_err("MARKOV 4 1000000 1000000 1000000 2 1 4 0 1 2 3 1000000000000000000 1");
    assert!(msg.contains("more than"), "{msg}");
    let (_, _, _, msg) = parse_err("MARKOV 2 1000 1000 1 2 0 1 1000000 1 2 3");
    assert!(msg.contains("expected 999997 more table entries"), "{msg}");
    assert!(parse_err("MARKOV 1 2 99999999999999999 1 0 2 1 1")
        .3
        .contains("too short"));
    assert!(parse_err("MARKOV 1 2 1 99999999999999999999 0 2 1 1")
        .3
        .contains("too large"));
    // empty input
    assert!(parse_err("").3.contains("end of file"));
    // columns count characters, not bytes
    let (_, line, col, msg) = parse_err("MARKOV\n1\n2\n1\n1 0\n2 1 \u{e9}\u{e9}\n");
    assert_eq!((line, col), (6, 5));
    assert!(msg.contains("'\u{e9}\u{e9}'"), "{msg}");
}

#[test]
fn parse_time_of_largest_files() {
    for name in ["ObjectDetection_14", "linkage_24", "c1908.isc.cnf"] {
        let text = read(&format!("{name}.uai"));
        // best of 10 (the machine may be shared)
        let mut best = f64::INFINITY;
        for _ in 0..10 {
            let t = std::time::Instant::now();
            parse_uai(&text, &LoadOptions::default()).unwrap();
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
        }
        let ms = best;
        eprintln!("parse_uai {name} ({} bytes): {ms:.2} ms", text.len());
    }
}

// ---------------------------------------------------------------------------------------------
// fuzzing: never panic
// ---------------------------------------------------------------------------------------------

fn seeds() -> Vec<String> {
    vec![
        SMALL_BAYES.to_string(),
        "MARKOV\n3\n2 2 2\n2\n2 0 1\n1 2\n4 1 2 3 4\n2 5 6\n".to_string(),
        "MARKOV 3 1 2 2 2 2 0 1 1 2 2 0.5 1.5 2 0 0".to_string(),
        read("Grids_11.uai")[..2000].to_string(),
    ]
}

fn check_no_panic(text: &str) {
    let _ = parse_uai(text, &LoadOptions::default());
    let _ = parse_uai(
        text,
        &LoadOptions {
            renormalize: true,
            ..LoadOptions::default()
        },
    );
    let vars: Vec<Variable> = (0..4)
        .map(|i| Variable::with_cardinality(i.to_string(), 2))
        .collect();
    let _ = parse_evid(text, &vars);
}

const NASTY: [&str; 12] = [
    "0",
    "1",
    "-1",
    "2147483648",
    "4294967296",
    "1048577",
    "18446744073709551615",
    "99999999999999999999",
    "1e308",
    "nan",
    "-0",
    "#",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn truncated_prefixes_never_panic(seed in 0usize..4, frac in 0.0f64..1.0) {
        let all = seeds();
        let s = if seed < 2 { all[seed].trim_end() } else { all[seed].as_str() };
        let mut cut = (s.len() as f64 * frac) as usize;
        while !s.is_char_boundary(cut) { cut -= 1; }
        let text = &s[..cut];
        check_no_panic(text);
        if seed < 2 {
            // a strict prefix of a complete small file is always an error
            prop_assert!(parse_uai(text, &LoadOptions::default()).is_err());
        }
    }

    #[test]
    fn mutations_never_panic(
        seed in 0usize..4,
        edits in proptest::collection::vec((0.0f64..1.0, any::<u8>(), 0u8..3), 1..8)
    ) {
        let mut bytes = seeds()[seed].clone().into_bytes();
        for (at, b, kind) in edits {
            let i = ((bytes.len() as f64) * at) as usize;
            let i = i.min(bytes.len());
            match kind {
                0 if i < bytes.len() => bytes[i] = b,
                1 => bytes.insert(i, b),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => bytes.push(b),
            }
        }
        check_no_panic(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn garbage_never_panics(text in "[ -~\n\t]{0,200}") {
        check_no_panic(&text);
    }

    #[test]
    fn numeric_garbage_never_panics(
        head in prop_oneof![Just("MARKOV"), Just("BAYES")],
        nums in proptest::collection::vec(0u32..6, 0..60)
    ) {
        let text = format!(
            "{head} {}",
            nums.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" ")
        );
        check_no_panic(&text);
    }

    #[test]
    fn nasty_numbers_never_panic(
        seed in 0usize..4,
        swaps in proptest::collection::vec((0.0f64..1.0, 0usize..NASTY.len()), 1..4)
    ) {
        let base = seeds()[seed].clone();
        let mut toks: Vec<&str> = base.split_whitespace().collect();
        for (at, which) in swaps {
            let i = ((toks.len() as f64) * at) as usize;
            if i < toks.len() {
                toks[i] = NASTY[which];
            }
        }
        let text = toks.join(" ");
        check_no_panic(&text);
    }
}
