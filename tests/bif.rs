//! BIF reader and writer: the bnlearn networks, round trips, bad inputs and fuzzing.

use pgmkit::io::bif::*;
use pgmkit::io::LoadOptions;
use pgmkit::{BayesNet, Error, Format};
use proptest::prelude::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/bif/");

/// (file, nodes, arcs, free parameters) from tests/data/bif/SOURCES.md.
const NETWORKS: [(&str, usize, usize, usize); 24] = [
    ("alarm", 37, 46, 509),
    ("andes", 223, 338, 1157),
    ("asia", 8, 8, 18),
    ("barley", 48, 84, 114005),
    ("cancer", 5, 4, 10),
    ("child", 20, 25, 230),
    ("diabetes", 413, 602, 429409),
    ("earthquake", 5, 4, 10),
    ("hailfinder", 56, 66, 2656),
    ("hepar2", 70, 123, 1453),
    ("insurance", 27, 52, 1008),
    ("link", 724, 1125, 14211),
    ("mildew", 35, 46, 540150),
    ("munin", 1041, 1397, 80592),
    ("munin1", 186, 273, 15622),
    ("munin2", 1003, 1244, 69431),
    ("munin3", 1041, 1306, 71059),
    ("munin4", 1038, 1388, 80352),
    ("pathfinder", 109, 195, 72079),
    ("pigs", 441, 592, 5618),
    ("sachs", 11, 17, 178),
    ("survey", 6, 6, 21),
    ("water", 32, 66, 10083),
    ("win95pts", 76, 112, 574),
];

const ASIA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/bif/asia.bif"
));
const CHILD: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/bif/child.bif"
));

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}{name}.bif")).expect("test data file")
}

fn load(text: &str) -> pgmkit::Result<BayesNet> {
    parse_bif(text, &LoadOptions::default())
}

fn renorm() -> LoadOptions {
    LoadOptions {
        renormalize: true,
        ..LoadOptions::default()
    }
}

fn states(bn: &BayesNet, var: &str) -> Vec<String> {
    bn.var(bn.var_id(var).unwrap()).states.clone()
}

/// Assert a parse error at `line` whose message contains `needle`; returns the column.
#[track_caller]
fn parse_err(r: pgmkit::Result<BayesNet>, line: usize, needle: &str) -> usize {
    match r {
        Err(Error::Parse {
            format,
            line: l,
            col,
            msg,
        }) => {
            assert_eq!(format, Format::Bif);
            assert_eq!(l, line, "wrong line for error: {msg}");
            assert!(col >= 1);
            assert!(
                msg.contains(needle),
                "message {msg:?} does not contain {needle:?}"
            );
            col
        }
        Err(e) => panic!("expected a parse error, got {e}"),
        Ok(_) => panic!("expected a parse error, got a network"),
    }
}

/// Every probability bit-identical, same variables, states and parents.
#[track_caller]
fn assert_same(a: &BayesNet, b: &BayesNet) {
    assert_eq!(a.vars(), b.vars());
    assert_eq!(a.cpds().len(), b.cpds().len());
    for (x, y) in a.cpds().iter().zip(b.cpds()) {
        assert_eq!(x.child, y.child);
        assert_eq!(x.parents, y.parents);
        assert_eq!(x.probs.len(), y.probs.len());
        for (p, q) in x.probs.iter().zip(&y.probs) {
            assert_eq!(
                p.to_bits(),
                q.to_bits(),
                "{p} vs {q} in CPT of {}",
                a.var(x.child).name
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// The bnlearn networks

#[test]
fn all_networks_load_with_the_published_counts() {
    for (name, nodes, arcs, free) in NETWORKS {
        let text = read(name);
        for opts in [LoadOptions::default(), renorm()] {
            let bn = parse_bif(&text, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(bn.num_vars(), nodes, "{name} nodes");
            assert_eq!(bn.num_edges(), arcs, "{name} arcs");
            assert_eq!(bn.num_free_parameters(), free, "{name} free parameters");
            assert!(bn.max_normalization_error() < 1e-6, "{name}");
        }
    }
}

#[test]
fn child_labels_and_layout() {
    let bn = load(CHILD).unwrap();
    assert_eq!(states(&bn, "LowerBodyO2"), ["<5", "5-12", "12+"]);
    assert_eq!(states(&bn, "CO2Report"), ["<7.5", ">=7.5"]);
    assert_eq!(states(&bn, "Age"), ["0-3_days", "4-10_days", "11-30_days"]);
    assert!(states(&bn, "ChestXray").contains(&"Asy/Patch".to_string()));
    assert!(states(&bn, "CardiacMixing").contains(&"Transp.".to_string()));

    // probability ( HypDistrib | DuctFlow, CardiacMixing ): lines come first parent fastest in the
    // file; pgmkit stores first parent slowest, child fastest.
    let h = bn.var_id("HypDistrib").unwrap();
    let cpd = bn.cpd(h);
    let names: Vec<&str> = cpd
        .parents
        .iter()
        .map(|p| bn.var(*p).name.as_str())
        .collect();
    assert_eq!(names, ["DuctFlow", "CardiacMixing"]);
    // (Rt_to_Lt, None) 0.05, 0.95 -> config 2*4+0; (Rt_to_Lt, Mild) 0.5, 0.5 -> config 2*4+1
    assert_eq!(cpd.probs[16..18], [0.05, 0.95]);
    assert_eq!(cpd.probs[18..20], [0.5, 0.5]);
    assert_eq!(cpd.probs[0..2], [0.95, 0.05]);

    let path = load(&read("pathfinder")).unwrap();
    assert!(states(&path, "F83").contains(&"Numerous__51_90__".to_string()));
}

#[test]
fn asia_values() {
    let bn = load(ASIA).unwrap();
    let tub = bn.var_id("tub").unwrap();
    assert_eq!(bn.cpd(tub).probs, [0.05, 0.95, 0.01, 0.99]);
    let asia = bn.var_id("asia").unwrap();
    assert_eq!(bn.cpd(asia).probs, [0.01, 0.99]);
}

#[test]
fn parse_speed() {
    for name in ["diabetes", "munin", "mildew", "barley", "pathfinder"] {
        let text = read(name);
        let t = std::time::Instant::now();
        let bn = load(&text).unwrap();
        let dt = t.elapsed();
        let t = std::time::Instant::now();
        let out = write_bif(&bn);
        let dw = t.elapsed();
        println!(
            "{name}.bif: {} bytes parsed in {:.1} ms; written ({} bytes) in {:.1} ms",
            text.len(),
            dt.as_secs_f64() * 1e3,
            out.len(),
            dw.as_secs_f64() * 1e3
        );
    }
}

// ------------------------------------------------------------------------------------------
// Writer

#[test]
fn write_read_round_trip_is_lossless_for_every_network() {
    for (name, ..) in NETWORKS {
        let bn = load(&read(name)).unwrap();
        let text = write_bif(&bn);
        let again =
            load(&text).unwrap_or_else(|e| panic!("{name}: re-reading the written file: {e}"));
        assert_same(&bn, &again);
        assert_eq!(write_bif(&again), text, "{name}: writing is not stable");
    }
}

#[test]
fn writer_style_and_awkward_values() {
    let mut b = pgmkit::BayesNetBuilder::new();
    let a = b.add_variable("A", ["<5", "12+"]).unwrap();
    let c = b.add_variable("odd name", ["x y", "{z}"]).unwrap();
    let tiny = 1e-300;
    let third = 1.0 / 3.0;
    b.set_cpd(a, &[], vec![third, 1.0 - third]).unwrap();
    b.set_cpd(c, &[a], vec![tiny, 1.0 - tiny, 0.0, 1.0])
        .unwrap();
    let bn = b.build().unwrap();
    let text = write_bif(&bn);
    assert!(text.starts_with(
        "network unknown {\n}\nvariable A {\n  type discrete [ 2 ] { <5, 12+ };\n}\n"
    ));
    assert!(
        text.contains("probability ( A ) {\n  table 0.3333333333333333, 0.6666666666666667;\n}\n")
    );
    assert!(
        text.contains("probability ( \"odd name\" | A ) {\n  (<5) 1e-300, 1;\n  (12+) 0, 1;\n}\n")
    );
    assert_same(&bn, &load(&text).unwrap());
}

// ------------------------------------------------------------------------------------------
// Syntax variants

#[test]
fn javabayes_syntax_and_table_order() {
    // The JavaBayes dog problem (as in pgmpy's test suite): quoted names, no '|' or commas,
    // properties, and a 'table' with parents listing the child slowest.
    let text = r#"
// Bayesian Network in the Interchange Format
network "Dog-Problem" { //5 variables and 5 probability distributions
        property "credal-set constant-density-bounded 1.1" ;
}
variable  "light-on" { //2 values
        type discrete[2] {  "true"  "false" };
        property "position = (218, 195)" ;
}
variable  "bowel-problem" { type discrete[2] {  "true"  "false" }; }
variable  "dog-out" { type discrete[2] {  "true"  "false" }; property position = (300, 195) ; }
variable  "hear-bark" { type discrete[2] {  "true"  "false" }; }
variable  "family-out" { type discrete[2] {  "true"  "false" }; }
probability (  "light-on"  "family-out" ) { //2 variable(s) and 4 values
        (true) 0.6 0.4 ;
        (false) 0.05 0.95 ;
}
probability (  "bowel-problem" ) { table 0.01 0.99 ; }
probability (  "dog-out"  "bowel-problem"  "family-out" ) { /* 3 variable(s) and 8 values */
        table 0.99 0.97 0.9 0.3 0.01 0.03 0.1 0.7 ;
}
probability (  "hear-bark"  "dog-out" ) { table 0.7 0.01 0.3 0.99 ; }
probability (  "family-out" ) { table 0.15 0.85 ; }
"#;
    let bn = load(text).unwrap();
    let dog = bn.var_id("dog-out").unwrap();
    let names: Vec<&str> = bn
        .parents(dog)
        .iter()
        .map(|p| bn.var(*p).name.as_str())
        .collect();
    assert_eq!(names, ["bowel-problem", "family-out"]);
    // P(dog-out = true | bp, fo) = 0.99, 0.97, 0.9, 0.3 over (bp, fo) = (t,t), (t,f), (f,t), (f,f)
    assert_eq!(
        bn.cpd(dog).probs,
        [0.99, 0.01, 0.97, 0.03, 0.9, 0.1, 0.3, 0.7]
    );
    let bark = bn.var_id("hear-bark").unwrap();
    assert_eq!(bn.cpd(bark).probs, [0.7, 0.3, 0.01, 0.99]);
    let light = bn.var_id("light-on").unwrap();
    assert_eq!(bn.cpd(light).probs, [0.6, 0.4, 0.05, 0.95]);
}

#[test]
fn default_lines_and_number_forms() {
    let text = "
variable A { type discrete [ 3 ] { a0, a1, a2 }; }
variable B { type discrete [ 2 ] { b0, b1 }; }
probability ( A ) { table .5,0.25 2.5E-1; }
probability ( B | A ) {
  (a1) 1e-05, 0.99999;
  default 1 0.0;
}
";
    let bn = load(text).unwrap();
    assert_eq!(bn.cpd(bn.var_id("A").unwrap()).probs, [0.5, 0.25, 0.25]);
    assert_eq!(
        bn.cpd(bn.var_id("B").unwrap()).probs,
        [1.0, 0.0, 1e-5, 0.99999, 1.0, 0.0]
    );

    // pgmpy reads a full-length 'default' like 'table'
    let text = "
variable A { type discrete [ 2 ] { a0, a1 }; }
variable B { type discrete [ 2 ] { b0, b1 }; }
probability ( A ) { default 0.5, 0.5; }
probability ( B | A ) { default 0.1, 0.2, 0.9, 0.8; }
";
    let bn = load(text).unwrap();
    assert_eq!(bn.cpd(bn.var_id("B").unwrap()).probs, [0.1, 0.9, 0.2, 0.8]);
}

// ------------------------------------------------------------------------------------------
// Bad inputs

const BASE: [&str; 15] = [
    "network test {",                        // 1
    "}",                                     // 2
    "variable A {",                          // 3
    "  type discrete [ 2 ] { a0, a1 };",     // 4
    "}",                                     // 5
    "variable B {",                          // 6
    "  type discrete [ 3 ] { b0, b1, b2 };", // 7
    "}",                                     // 8
    "probability ( A ) {",                   // 9
    "  table 0.4, 0.6;",                     // 10
    "}",                                     // 11
    "probability ( B | A ) {",               // 12
    "  (a0) 0.1, 0.2, 0.7;",                 // 13
    "  (a1) 0.3, 0.3, 0.4;",                 // 14
    "}",                                     // 15
];

/// BASE with line `n` (1-based) replaced.
fn with_line(n: usize, line: &str) -> String {
    let mut lines: Vec<&str> = BASE.to_vec();
    lines[n - 1] = line;
    lines.join("\n") + "\n"
}

#[test]
fn base_loads() {
    let bn = load(&with_line(1, "network test {")).unwrap();
    assert_eq!(
        bn.cpd(bn.var_id("B").unwrap()).probs,
        [0.1, 0.2, 0.7, 0.3, 0.3, 0.4]
    );
}

#[test]
fn missing_semicolon() {
    let col = parse_err(
        load(&with_line(13, "  (a0) 0.1, 0.2, 0.7")),
        14,
        "expected ';' after probabilities, found '('",
    );
    assert_eq!(col, 3);
    let col = parse_err(
        load(&with_line(14, "  (a1) 0.3, 0.3, 0.4")),
        15,
        "expected ';' after probabilities, found '}'",
    );
    assert_eq!(col, 1);
    parse_err(
        load(&with_line(4, "  type discrete [ 2 ] { a0, a1 }")),
        5,
        "expected ';' after the list of states",
    );
    parse_err(load(&with_line(10, "  table 0.4, 0.6")), 11, "expected ';'");
}

#[test]
fn unknown_state_in_parent_configuration() {
    let col = parse_err(
        load(&with_line(13, "  (a9) 0.1, 0.2, 0.7;")),
        13,
        "unknown state 'a9' of parent 'A'",
    );
    assert_eq!(col, 4);
}

#[test]
fn wrong_number_of_probabilities() {
    parse_err(
        load(&with_line(13, "  (a0) 0.1, 0.9;")),
        13,
        "expected 3 probabilities for configuration (a0) of 'B', found 2",
    );
    parse_err(
        load(&with_line(13, "  (a0) 0.1, 0.2, 0.3, 0.4;")),
        13,
        "found 4",
    );
    parse_err(
        load(&with_line(10, "  table 1;")),
        10,
        "needs 2 probabilities, found 1",
    );
    parse_err(
        load(&with_line(13, "  (a0, b1) 0.1, 0.2, 0.7;")),
        13,
        "configuration lists more than 1 states",
    );
    parse_err(
        load(&with_line(13, "  () 0.1, 0.2, 0.7;")),
        13,
        "configuration lists 0 states",
    );
}

#[test]
fn undeclared_variable() {
    let col = parse_err(
        load(&with_line(12, "probability ( B | C ) {")),
        12,
        "undeclared variable 'C'",
    );
    assert_eq!(col, 19);
    parse_err(
        load(&with_line(9, "probability ( Z ) {")),
        9,
        "undeclared variable 'Z'",
    );
}

#[test]
fn missing_and_duplicate_configurations() {
    parse_err(
        load(&with_line(14, "")),
        12,
        "no entry for parent configuration (a1)",
    );
    parse_err(
        load(&with_line(14, "  (a0) 0.3, 0.3, 0.4;")),
        14,
        "parent configuration (a0) of 'B' is given twice (first at line 13)",
    );
    // a missing block entirely
    let text: String = BASE[..11].join("\n");
    parse_err(load(&text), 6, "variable 'B' has no probability block");
    // a block given twice
    let text = BASE.join("\n") + "\nprobability ( A ) { table 0.5, 0.5; }\n";
    parse_err(
        load(&text),
        16,
        "second probability block for 'A' (first at line 9)",
    );
}

#[test]
fn declaration_errors() {
    parse_err(
        load(&with_line(7, "  type discrete [ 3 ] { b0, b1 };")),
        7,
        "variable 'B' declared with 3 states but lists 2",
    );
    parse_err(
        load(&with_line(7, "  type discrete [ 3 ] { b0, b1, b1 };")),
        7,
        "lists state 'b1' twice",
    );
    parse_err(
        load(&with_line(7, "  type discrete [ 0 ] { };")),
        7,
        "at least one state",
    );
    parse_err(
        load(&with_line(
            7,
            "  type discrete [ 99999999999999999999999999 ] { b0 };",
        )),
        7,
        "too large",
    );
    parse_err(
        load(&with_line(
            7,
            "  type discrete [ 4000000000 ] { b0, b1, b2 };",
        )),
        7,
        "declared with 4000000000 states but lists 3",
    );
    parse_err(
        load(&with_line(7, "  type continuous;")),
        7,
        "only discrete variables",
    );
    parse_err(
        load(&with_line(6, "variable A {")),
        6,
        "variable 'A' is declared twice (first at line 3)",
    );
    parse_err(
        load(&with_line(12, "probability ( B | A, A ) {")),
        12,
        "parent 'A' is listed twice",
    );
    parse_err(
        load(&with_line(12, "probability ( B | B ) {")),
        12,
        "its own parent",
    );
    parse_err(
        load(&with_line(10, "  table 0.4, -0.6;")),
        10,
        "not a finite non-negative number",
    );
    parse_err(
        load(&with_line(10, "  table 0.4, nan;")),
        10,
        "expected a probability, found 'nan'",
    );
    parse_err(
        load(&with_line(10, "  table 0.4, 1e999;")),
        10,
        "not a finite",
    );
    parse_err(
        load(&with_line(2, "} junk")),
        2,
        "expected 'network', 'variable' or 'probability', found 'junk'",
    );
    parse_err(
        load(&with_line(5, "} /* never closed")),
        5,
        "unterminated '/*' comment",
    );
    parse_err(load(&with_line(3, "variable \"A {")), 3, "unterminated");
    parse_err(load(""), 1, "no variables");
}

#[test]
fn comments_are_skipped() {
    let text = with_line(2, "} // a comment { ( ;\n/* a block\n comment */")
        .replace("(a0) 0.1", "(a0) /* inline */ 0.1");
    let bn = load(&text).unwrap();
    assert_eq!(bn.num_vars(), 2);
}

#[test]
fn huge_tables_are_refused_not_allocated() {
    // five variables of 300 states: the CPT of the last would have 300^5 entries
    let states: Vec<String> = (0..300).map(|i| format!("s{i}")).collect();
    let list = states.join(", ");
    let mut text = String::new();
    for v in ["A", "B", "C", "D", "E"] {
        text.push_str(&format!(
            "variable {v} {{ type discrete [ 300 ] {{ {list} }}; }}\n"
        ));
    }
    text.push_str("probability ( E | A, B, C, D ) {\n  default 1;\n}\n");
    parse_err(load(&text), 6, "too large");
    // overflow of usize
    let mut text = String::new();
    let names: Vec<String> = (0..12).map(|i| format!("V{i}")).collect();
    for v in &names {
        text.push_str(&format!(
            "variable {v} {{ type discrete [ 300 ] {{ {list} }}; }}\n"
        ));
    }
    text.push_str(&format!("probability ( {} ) {{ }}\n", names.join(" ")));
    parse_err(load(&text), 13, "too large");
}

#[test]
fn cycle_is_reported() {
    let text = with_line(9, "probability ( A | B ) {").replace(
        "  table 0.4, 0.6;",
        "  (b0) 0.4, 0.6;\n  (b1) 0.4, 0.6;\n  (b2) 0.4, 0.6;",
    );
    match load(&text) {
        Err(Error::Cycle(names)) => {
            assert!(
                names.contains(&"A".to_string()) && names.contains(&"B".to_string()),
                "{names:?}"
            )
        }
        other => panic!("expected a cycle, got {other:?}"),
    }
}

#[test]
fn unnormalised_column() {
    let text = with_line(14, "  (a1) 0.3, 0.3, 0.5;");
    match load(&text) {
        Err(Error::NotNormalized {
            var, config, sum, ..
        }) => {
            assert_eq!(var, "B");
            assert_eq!(config, 1);
            assert!((sum - 1.1).abs() < 1e-12);
        }
        other => panic!("expected NotNormalized, got {other:?}"),
    }
    let bn = parse_bif(&text, &renorm()).unwrap();
    let p = &bn.cpd(bn.var_id("B").unwrap()).probs;
    assert_eq!(p[..3], [0.1, 0.2, 0.7]);
    assert!((p[5] - 0.5 / 1.1).abs() < 1e-15);
    // within a loose tolerance it loads as written
    let loose = LoadOptions {
        tolerance: 0.2,
        ..LoadOptions::default()
    };
    assert_eq!(
        parse_bif(&text, &loose)
            .unwrap()
            .cpd(pgmkit::VarId(1))
            .probs[5],
        0.5
    );
}

// ------------------------------------------------------------------------------------------
// Fuzzing: never panic; errors carry positions inside the input

#[track_caller]
fn check_no_panic(text: &str) {
    let lines = text.split('\n').count();
    for opts in [LoadOptions::default(), renorm()] {
        match parse_bif(text, &opts) {
            Ok(bn) => {
                // whatever loads must also write and read back
                let again =
                    parse_bif(&write_bif(&bn), &opts).expect("re-reading a written network");
                assert_eq!(again.num_vars(), bn.num_vars());
            }
            Err(Error::Parse {
                format, line, col, ..
            }) => {
                assert_eq!(format, Format::Bif);
                assert!(line >= 1 && col >= 1);
                assert!(
                    line <= lines,
                    "line {line} beyond the {lines} lines of the input"
                );
            }
            Err(Error::Cycle(_)) | Err(Error::NotNormalized { .. }) => {}
            Err(e) => panic!("unexpected error kind: {e}"),
        }
    }
}

fn token_soup() -> impl Strategy<Value = String> {
    let tok = prop::sample::select(vec![
        "network",
        "variable",
        "probability",
        "type",
        "discrete",
        "table",
        "default",
        "property",
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        ";",
        ",",
        "|",
        "A",
        "B",
        "a0",
        "a1",
        "2",
        "1",
        "0.5",
        "1e-05",
        ".5",
        "\"q\"",
        "//",
        "/*",
        "*/",
        "\n",
        "\"",
        "é",
        "-1",
        "99999999999999999999",
    ]);
    prop::collection::vec(tok, 0..120).prop_map(|v| v.join(" "))
}

fn mutate(base: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut bytes = base.as_bytes().to_vec();
    for &(at, op, b) in edits {
        if bytes.is_empty() {
            break;
        }
        let i = at % bytes.len();
        match op % 3 {
            0 => bytes[i] = b,
            1 => {
                bytes.remove(i);
            }
            _ => bytes.insert(i, b),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(b"{}[]();,|\"/* \n\t.-+e0123456789aAbz".to_vec()),
        any::<u8>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn truncated_prefixes_never_panic(cut in 0usize..=CHILD.len(), asia in any::<bool>()) {
        let base = if asia { ASIA } else { CHILD };
        let cut = cut.min(base.len());
        check_no_panic(&base[..cut]);
    }

    #[test]
    fn byte_mutations_never_panic(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), interesting_byte()), 1..8),
        asia in any::<bool>(),
    ) {
        let base = if asia { ASIA } else { CHILD };
        check_no_panic(&mutate(base, &edits));
    }

    #[test]
    fn garbage_never_panics(s in "[ -~\n\té]{0,300}") {
        check_no_panic(&s);
    }

    #[test]
    fn token_soup_never_panics(s in token_soup()) {
        check_no_panic(&s);
    }
}
