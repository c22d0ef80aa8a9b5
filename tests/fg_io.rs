//! libDAI `.fg` reading / writing against the fixtures in tests/data/fg.

use std::path::Path;

use pgmkit::io::fg::{parse_fg, write_fg};
use pgmkit::io::uai::parse_uai;
use pgmkit::io::LoadOptions;
use pgmkit::{Error, FactorGraph, Format, Model, VarId};
use proptest::prelude::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fg");

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(DIR).join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load(name: &str) -> FactorGraph {
    parse_fg(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Same variables, scopes and cards, potentials equal to 1e-12 relative.
fn assert_same(a: &FactorGraph, b: &FactorGraph) {
    assert_eq!(a.vars(), b.vars());
    assert_eq!(a.factors().len(), b.factors().len());
    for (fa, fb) in a.factors().iter().zip(b.factors()) {
        assert_eq!(fa.scope(), fb.scope());
        assert_eq!(fa.cards(), fb.cards());
        for (x, y) in fa.potentials().iter().zip(fb.potentials()) {
            assert!(
                *x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                "{x} vs {y}"
            );
        }
    }
}

fn fg_err(text: &str) -> (usize, usize, String) {
    match parse_fg(text) {
        Err(Error::Parse {
            format: Format::Fg,
            line,
            col,
            msg,
        }) => (line, col, msg),
        other => panic!("expected a .fg parse error for {text:?}, got {other:?}"),
    }
}

#[test]
fn all_files_parse_with_documented_sizes() {
    for (name, nvars, nfactors) in [
        ("alarm.fg", 37, 37),
        ("testfast.fg", 16, 40),
        ("ising_10x10_open.fg", 100, 280),
        ("ising_10x10_periodic.fg", 100, 300),
        ("ising_15x15_open.fg", 225, 645),
        ("ising_30x30_periodic.fg", 900, 2700),
        ("ising_100x100_periodic.fg", 10000, 30000),
    ] {
        let text = read(name);
        let best = (0..10)
            .map(|_| {
                let t = std::time::Instant::now();
                parse_fg(&text).unwrap();
                t.elapsed().as_secs_f64() * 1e3
            })
            .fold(f64::INFINITY, f64::min);
        eprintln!("parse_fg {name} ({} bytes): {best:.2} ms", text.len());
        let fg = load(name);
        assert_eq!(fg.num_vars(), nvars, "{name}");
        assert_eq!(fg.factors().len(), nfactors, "{name}");
        // labels 0..n-1 in these files: names are the labels, in order
        for (i, v) in fg.vars().iter().enumerate() {
            assert_eq!(v.name, i.to_string());
        }
    }
}

#[test]
fn first_variable_is_fastest() {
    // labels 7 (2 states) and 3 (3 states), listed 7 first: index = s7 + 2 * s3
    let text = "# tiny\n1\n\n2\n7 3\n2 3\n6\n0 1\n1 2\n2 3\n3 4\n4 5\n5 6\n";
    let fg = parse_fg(text).unwrap();
    // sorted labels: VarId(0) = "3" (3 states), VarId(1) = "7" (2 states)
    assert_eq!(fg.vars()[0].name, "3");
    assert_eq!(fg.vars()[1].name, "7");
    assert_eq!(fg.cards(), vec![3, 2]);
    let f = &fg.factors()[0];
    assert_eq!(f.scope(), &[VarId(0), VarId(1)]);
    for s3 in 0..3 {
        for s7 in 0..2 {
            let expect = (s7 + 2 * s3 + 1) as f64;
            // assignment is indexed by VarId: [x3, x7]
            assert!(
                (f.log_value(&[s3, s7]) - expect.ln()).abs() < 1e-15,
                "s3={s3} s7={s7}"
            );
        }
    }
    // the same table with the labels listed in the other order
    let swapped = "1\n2\n3 7\n3 2\n6\n0 1\n1 3\n2 5\n3 2\n4 4\n5 6\n";
    assert_eq!(parse_fg(swapped).unwrap().factors(), fg.factors());
}

#[test]
fn omitted_entries_are_zero_in_alarm() {
    let text = read("alarm.fg");
    let fg = load("alarm.fg");
    let zeros: usize = fg
        .factors()
        .iter()
        .map(|f| {
            f.log_values()
                .iter()
                .filter(|x| **x == f64::NEG_INFINITY)
                .count()
        })
        .sum();
    assert!(zeros > 0);
    // count the listed entries per factor: the total listed + zeros = all entries
    let listed: usize = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split_whitespace().count() == 2)
        .filter(|l| l.split_whitespace().nth(1).unwrap().contains('.'))
        .count();
    assert!(listed < fg.num_parameters());
    // first factor: labels 0 5, cards 2 2, entries 0.9 0.1 0.01 0.99 (label 0 fastest)
    let f = &fg.factors()[0];
    assert_eq!(f.scope(), &[VarId(0), VarId(5)]);
    let mut a = vec![0; 37];
    a[0] = 1;
    assert!((f.log_value(&a) - 0.1f64.ln()).abs() < 1e-15);
    a[5] = 1;
    assert!((f.log_value(&a) - 0.99f64.ln()).abs() < 1e-15);
}

#[test]
fn write_then_parse_round_trips() {
    for name in ["alarm.fg", "testfast.fg", "ising_15x15_open.fg"] {
        let fg = load(name);
        let text = write_fg(&fg);
        let back = parse_fg(&text).unwrap();
        assert_same(&fg, &back);
        assert_eq!(write_fg(&back), text, "{name}");
    }
    // a model whose names are not integers: labels are the VarIds
    let uai = "MARKOV 3 2 3 2 2 2 0 1 1 2 6 1 2 3 4 5 6 2 0.5 0";
    let Model::Markov(mut fg) = parse_uai(uai, &LoadOptions::default()).unwrap() else {
        panic!()
    };
    let back = parse_fg(&write_fg(&fg)).unwrap();
    assert_same(&fg, &back);
    fg = pgmkit::model::ising_grid(
        3,
        3,
        pgmkit::Boundary::Periodic,
        |i, j| 0.1 * (i + j) as f64,
        |i| -0.05 * i as f64,
    )
    .unwrap();
    let text = write_fg(&fg);
    let back = parse_fg(&text).unwrap();
    assert_eq!(back.num_vars(), 9);
    assert_eq!(back.vars()[4].name, "4");
    for (a, b) in fg.factors().iter().zip(back.factors()) {
        assert_eq!(a.scope(), b.scope());
        for (x, y) in a.potentials().iter().zip(b.potentials()) {
            assert!((x - y).abs() <= 1e-12 * x.abs());
        }
    }
}

#[test]
fn duplicate_index_keeps_the_last_value() {
    let fg = parse_fg("1\n1\n0\n2\n3\n0 1\n1 2\n0 5\n").unwrap();
    assert!((fg.factors()[0].log_values()[0] - 5f64.ln()).abs() < 1e-15);
}

#[test]
fn bad_inputs_give_located_errors() {
    // index out of range
    let (line, col, msg) = fg_err("1\n\n2\n0 1\n2 2\n1\n4 1.0\n");
    assert_eq!((line, col), (7, 1));
    assert!(msg.contains("out of range"), "{msg}");
    // label with two cardinalities
    let (line, col, msg) = fg_err("2\n1\n0\n2\n0\n\n1\n0\n3\n0\n");
    assert_eq!((line, col), (9, 1));
    assert!(msg.contains("cardinality 3 here but 2"), "{msg}");
    // a label twice in one factor
    let (line, col, msg) = fg_err("1\n2\n4 4\n2 2\n0\n");
    assert_eq!((line, col), (3, 3));
    assert!(msg.contains("twice"), "{msg}");
    // a non-number, a negative value, NaN, infinity
    let (_, _, msg) = fg_err("1\n1\nx\n2\n0\n");
    assert_eq!(msg, "expected a variable label, found 'x'");
    assert!(fg_err("1\n1\n0\n2\n1\n0 -1\n").2.contains("non-negative"));
    assert!(fg_err("1\n1\n0\n2\n1\n0 NaN\n").2.contains("finite"));
    assert!(fg_err("1\n1\n0\n2\n1\n0 inf\n").2.contains("finite"));
    assert!(fg_err("1\n1\n-3\n2\n0\n").2.contains("found '-3'"));
    assert!(fg_err("1\n1\n0\n0\n0\n").2.contains("cardinality 0"));
    // truncated
    let (line, _, msg) = fg_err("1\n1\n0\n2\n2\n0 1.0\n");
    assert_eq!(line, 7);
    assert!(msg.starts_with("unexpected end of file"), "{msg}");
    // trailing junk, empty file, comments only
    assert!(fg_err("1\n1\n0\n2\n0\n1\n")
        .2
        .contains("after the last factor"));
    assert!(fg_err("").2.contains("end of file"));
    assert!(fg_err("# nothing\n").2.contains("end of file"));
    // absurd sizes
    assert!(fg_err("99999999999999 1").2.contains("too short"));
    assert!(fg_err("1\n4\n0 1 2 3\n1000 1000 1000 1000\n0\n")
        .2
        .contains("more than"));
    assert!(fg_err("1\n1\n0\n99999999\n0\n").2.contains("limit"));
    assert!(fg_err("1\n1\n0\n2\n99999999999999999999\n")
        .2
        .contains("too large"));
    let big = "3\n1\n0\n1000000\n0\n1\n1\n1000000\n0\n1\n2\n1000000\n0\n";
    assert!(parse_fg(big).is_ok());
    let many = format!(
        "70\n{}",
        (0..70)
            .map(|i| format!("1\n{i}\n1000000\n0\n"))
            .collect::<String>()
    );
    assert!(fg_err(&many).2.contains("in all"));
    // comments may appear anywhere a token may
    let fg = parse_fg("# a\n1 # one factor\n# b\n1\n0\n2 # card\n1\n1 3.5\n").unwrap();
    assert!((fg.factors()[0].log_values()[1] - 3.5f64.ln()).abs() < 1e-15);
}

// ---------------------------------------------------------------------------------------------
// fuzzing: never panic
// ---------------------------------------------------------------------------------------------

fn seeds() -> Vec<String> {
    vec![
        "# tiny\n1\n\n2\n7 3\n2 3\n6\n0 1\n1 2\n2 3\n3 4\n4 5\n5 6\n".to_string(),
        read("testfast.fg"),
        read("alarm.fg")[..3000].to_string(),
    ]
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
    fn truncated_prefixes_never_panic(seed in 0usize..3, frac in 0.0f64..1.0) {
        let all = seeds();
        let s = all[seed].trim_end();
        let cut = (s.len() as f64 * frac) as usize;
        let r = parse_fg(&s[..cut]);
        // (seed 0 ends in a one-character token, so every strict prefix is incomplete)
        if seed == 0 {
            prop_assert!(r.is_err());
        }
    }

    #[test]
    fn mutations_never_panic(
        seed in 0usize..3,
        edits in proptest::collection::vec((0.0f64..1.0, any::<u8>(), 0u8..3), 1..8)
    ) {
        let mut bytes = seeds()[seed].clone().into_bytes();
        for (at, b, kind) in edits {
            let i = (((bytes.len() as f64) * at) as usize).min(bytes.len());
            match kind {
                0 if i < bytes.len() => bytes[i] = b,
                1 => bytes.insert(i, b),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => bytes.push(b),
            }
        }
        let _ = parse_fg(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn garbage_never_panics(text in "[ -~\n\t]{0,200}") {
        let _ = parse_fg(&text);
    }

    #[test]
    fn numeric_garbage_never_panics(nums in proptest::collection::vec(0u32..8, 0..60)) {
        let text = nums.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("\n");
        let _ = parse_fg(&text);
    }

    #[test]
    fn nasty_numbers_never_panic(
        seed in 0usize..3,
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
        // one token a line keeps '#' comments to themselves
        let text = toks.join("\n");
        let _ = parse_fg(&text);
    }
}
