//! Variational methods (mean field, loopy BP, TRW): the bounds against exact log Z on UAI 2014
//! instances and libDAI Ising grids, exactness of BP on trees, zeros and impossible evidence,
//! evidence clamping, thread-count invariance and bad arguments.
//!
//! A fast subset of the UAI instances runs in `cargo test --release --test variational`; the
//! bounds table over every `exact-verified` instance of tests/data/uai/answers.tsv runs with
//! `cargo test --release --test variational -- --ignored --nocapture`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::uai::{answers, uai_dir, Answer};
use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::infer::variational::{
    BeliefPropagation, MeanField, Schedule, StopReason, StopRule, Trw, VariationalResult,
};
use pgmkit::infer::EstimateKind;
use pgmkit::io::{load_model, read_text, uai, LoadOptions};
use pgmkit::model::{ising_grid, potts_grid, Boundary};
use pgmkit::num::tol::LOG_Z_REL;
use pgmkit::rng::chain_rng;
use pgmkit::{Error, Evidence, FactorGraph, FactorGraphBuilder, VarId};
use rand::Rng;

/// Sweep cap of the conformance runs (most instances converge far earlier).
const SWEEPS: usize = 2000;

fn slack(exact: f64) -> f64 {
    LOG_Z_REL * exact.abs().max(1.0)
}

fn fg_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fg")
        .join(name)
}

/// Every marginal is a finite-or-`-inf` log distribution summing to one; log Z is finite.
fn check_sane(what: &str, r: &VariationalResult) {
    assert!(r.log_z.log_z.is_finite(), "{what}: log Z {}", r.log_z.log_z);
    assert_eq!(r.marginals.log_z, r.log_z.log_z);
    for (v, m) in r.marginals.log_marginals.iter().enumerate() {
        assert!(
            m.iter().all(|x| !x.is_nan() && *x <= 1e-12),
            "{what}: var {v} log marginal {m:?}"
        );
        let s: f64 = m.iter().map(|x| x.exp()).sum();
        assert!((s - 1.0).abs() < 1e-9, "{what}: var {v} sums to {s}");
    }
}

fn load_instance(a: &Answer) -> (FactorGraph, Evidence) {
    let dir = uai_dir();
    let fg = load_model(
        &dir.join(format!("{}.uai", a.name)),
        &LoadOptions::default(),
    )
    .expect("model loads")
    .to_factor_graph();
    let ev_text =
        read_text(&dir.join(format!("{}.uai.evid", a.name))).unwrap_or_else(|_| "0".into());
    let ev = uai::parse_evid(&ev_text, fg.vars()).expect("evidence parses");
    (fg, ev)
}

/// True if some factor keeps three or more unobserved variables.
fn higher_order(fg: &FactorGraph, ev: &Evidence) -> bool {
    fg.factors()
        .iter()
        .any(|f| f.scope().iter().filter(|v| ev.get(**v).is_none()).count() > 2)
}

/// One row of the bounds table.
struct Row {
    name: String,
    exact: f64,
    mf: VariationalResult,
    bp: VariationalResult,
    trw: Option<VariationalResult>,
    seconds: [f64; 3],
}

/// Run the three methods on one model, check the bounds and sanity, return the row.
fn run_row(name: &str, fg: &FactorGraph, ev: &Evidence, exact: f64) -> Row {
    let stop = StopRule::new(SWEEPS, 1e-9);
    let t0 = Instant::now();
    let mf = MeanField {
        stop,
        ..Default::default()
    }
    .run(fg, ev)
    .unwrap_or_else(|e| panic!("{name}: mean field: {e}"));
    let t1 = Instant::now();
    let bp = BeliefPropagation {
        stop,
        ..Default::default()
    }
    .run(fg, ev)
    .unwrap_or_else(|e| panic!("{name}: BP: {e}"));
    let t2 = Instant::now();
    let trw = match (
        Trw {
            stop,
            ..Default::default()
        }
        .run(fg, ev),
        higher_order(fg, ev),
    ) {
        (Ok(r), false) => Some(r),
        (Err(Error::NotPairwise { method: "TRW", .. }), true) => None,
        (r, h) => panic!(
            "{name}: TRW gave {:?} on a model with higher-order factors = {h}",
            r.map(|r| r.log_z)
        ),
    };
    let t3 = Instant::now();
    check_sane(&format!("{name} MF"), &mf);
    check_sane(&format!("{name} BP"), &bp);
    assert_eq!(mf.log_z.kind, EstimateKind::LowerBound);
    assert_eq!(mf.log_z.lower, Some(mf.log_z.log_z));
    assert_eq!(bp.log_z.kind, EstimateKind::Approximate);
    assert_eq!((bp.log_z.lower, bp.log_z.upper), (None, None));
    assert!(
        mf.log_z.log_z <= exact + slack(exact),
        "{name}: mean field {} above exact {exact}",
        mf.log_z.log_z
    );
    if let Some(t) = &trw {
        check_sane(&format!("{name} TRW"), t);
        assert_eq!(t.log_z.kind, EstimateKind::UpperBound);
        assert_eq!(t.log_z.upper, Some(t.log_z.log_z));
        assert!(
            t.log_z.log_z >= exact - slack(exact),
            "{name}: TRW {} below exact {exact}",
            t.log_z.log_z
        );
    }
    Row {
        name: name.to_string(),
        exact,
        mf,
        bp,
        trw,
        seconds: [
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t3 - t2).as_secs_f64(),
        ],
    }
}

fn conv(r: &VariationalResult) -> String {
    let c = &r.convergence;
    format!("{}{}", c.iters, if c.converged() { "" } else { "*" })
}

fn print_header() {
    eprintln!(
        "| instance | exact ln Z | MF - exact | iters | BP - exact | iters | TRW - exact | iters | MF s | BP s | TRW s |"
    );
    eprintln!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
}

fn print_row(r: &Row) {
    let (trw, trw_it) = match &r.trw {
        Some(t) => (format!("{:+.4e}", t.log_z.log_z - r.exact), conv(t)),
        None => ("n/a (order > 2)".into(), "".into()),
    };
    eprintln!(
        "| {} | {:.6} | {:+.4e} | {} | {:+.4e} | {} | {} | {} | {:.3} | {:.3} | {:.3} |",
        r.name,
        r.exact,
        r.mf.log_z.log_z - r.exact,
        conv(&r.mf),
        r.bp.log_z.log_z - r.exact,
        conv(&r.bp),
        trw,
        trw_it,
        r.seconds[0],
        r.seconds[1],
        r.seconds[2]
    );
}

fn uai_table(names: &[&str]) {
    let all = answers();
    print_header();
    for name in names {
        let a = all
            .iter()
            .find(|a| a.name == *name)
            .unwrap_or_else(|| panic!("{name} in answers.tsv"));
        let (fg, ev) = load_instance(a);
        let exact = a.log10_z * std::f64::consts::LN_10;
        print_row(&run_row(name, &fg, &ev, exact));
    }
}

/// Pairwise and higher-order instances of most families, chosen to be quick (about a second in
/// release mode): mean field <= exact, TRW >= exact, no NaN, TRW refuses higher-order models.
#[test]
fn bounds_on_fast_uai_subset() {
    uai_table(&[
        "Grids_12",
        "DBN_11",
        "DBN_14",
        "Segmentation_12",
        "ObjectDetection_12",
        "CSP_11",
        "CSP_12",
        "Alchemy_11",
        "Pedigree_12",
        "Promedus_24",
        "Promedus_26",
    ]);
}

/// The bounds table over every exact-verified instance (about a minute in release mode).
#[test]
#[ignore = "all 67 exact-verified UAI instances; run with --ignored --nocapture for the table"]
fn bounds_on_every_exact_verified_instance() {
    let all = answers();
    let names: Vec<&str> = all
        .iter()
        .filter(|a| a.status == "exact-verified")
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names.len(), 67);
    uai_table(&names);
}

/// libDAI's Ising grids with their exact log Z (tests/data/fg/SOURCES.md).
#[test]
fn libdai_ising_grids() {
    print_header();
    for (file, exact) in [
        ("ising_10x10_open.fg", 82.1482528564),
        ("ising_10x10_periodic.fg", 84.1306679844),
        ("ising_15x15_open.fg", 186.025401955),
    ] {
        let fg = load_model(&fg_path(file), &LoadOptions::default())
            .unwrap()
            .to_factor_graph();
        let ev = Evidence::new(fg.num_vars());
        let row = run_row(file, &fg, &ev, exact);
        print_row(&row);
        // every method converges, and BP is closer than either bound
        let trw = row.trw.as_ref().unwrap();
        assert!(row.mf.convergence.converged() && row.bp.convergence.converged());
        assert!(trw.convergence.converged());
        let bp_err = (row.bp.log_z.log_z - exact).abs();
        assert!(bp_err < exact - row.mf.log_z.log_z && bp_err < trw.log_z.log_z - exact);
        assert!(bp_err < 0.02 * exact);
    }
}

/// The libDAI reference figures on the 100x100 torus (release mode: about a second per method).
#[test]
#[ignore = "100x100 grid; run in release mode with --ignored"]
fn libdai_100x100_reference_values() {
    let fg = load_model(
        &fg_path("ising_100x100_periodic.fg"),
        &LoadOptions::default(),
    )
    .unwrap()
    .to_factor_graph();
    let ev = Evidence::new(fg.num_vars());
    let stop = StopRule::new(100_000, 1e-9);
    let bp = BeliefPropagation {
        stop,
        ..Default::default()
    }
    .run(&fg, &ev)
    .unwrap();
    assert!(bp.convergence.converged());
    // libDAI 0.3.1: 8227.34
    assert!(
        (bp.log_z.log_z - 8227.34).abs() < 0.01,
        "{}",
        bp.log_z.log_z
    );
    let mf = MeanField {
        stop,
        ..Default::default()
    }
    .run(&fg, &ev)
    .unwrap();
    let trw = Trw {
        stop,
        ..Default::default()
    }
    .run(&fg, &ev)
    .unwrap();
    assert!(mf.convergence.converged() && trw.convergence.converged());
    assert!(mf.log_z.log_z < bp.log_z.log_z && bp.log_z.log_z < trw.log_z.log_z);
    eprintln!(
        "100x100: MF {} BP {} TRW {}",
        mf.log_z.log_z, bp.log_z.log_z, trw.log_z.log_z
    );
}

/// A random tree-structured MRF with mixed cardinalities, a zero entry per edge and optional
/// evidence.
fn random_tree(seed: u64, n: usize) -> FactorGraph {
    let mut rng = chain_rng(seed, 0);
    let mut b = FactorGraphBuilder::new();
    let cards: Vec<usize> = (0..n).map(|_| rng.random_range(1..=4)).collect();
    let ids: Vec<VarId> = (0..n)
        .map(|i| b.add_variable_card(format!("v{i}"), cards[i]).unwrap())
        .collect();
    for i in 0..n {
        let u: Vec<f64> = (0..cards[i]).map(|_| rng.random_range(-1.0..1.0)).collect();
        b.add_log_factor(&[ids[i]], u).unwrap();
        if i > 0 {
            let p = rng.random_range(0..i);
            let len = cards[i] * cards[p];
            let mut t: Vec<f64> = (0..len).map(|_| rng.random_range(-1.5..1.5)).collect();
            if len > 2 {
                t[rng.random_range(0..len)] = f64::NEG_INFINITY;
            }
            b.add_log_factor(&[ids[p], ids[i]], t).unwrap();
        }
    }
    b.build().unwrap()
}

fn assert_matches_exact(what: &str, r: &VariationalResult, fg: &FactorGraph, ev: &Evidence) {
    let ex = exact::marginals(fg, ev, &ExactOptions::default()).unwrap();
    assert!(
        (r.log_z.log_z - ex.log_z).abs() < 1e-8,
        "{what}: log Z {} vs exact {}",
        r.log_z.log_z,
        ex.log_z
    );
    for (v, (a, b)) in r
        .marginals
        .log_marginals
        .iter()
        .zip(&ex.log_marginals)
        .enumerate()
    {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x.exp() - y.exp()).abs() < 1e-8,
                "{what}: var {v}: {a:?} vs {b:?}"
            );
        }
    }
}

/// BP is exact on trees: pairwise trees with mixed cardinalities (1 to 4 states), zeros and
/// evidence, on both schedules; TRW is exact there too (every spanning tree is the tree).
#[test]
fn bp_and_trw_exact_on_trees() {
    for seed in 0..6 {
        let fg = random_tree(seed, 25);
        let mut evs = vec![Evidence::new(25)];
        let mut ev = Evidence::new(25);
        ev.set(fg.vars(), VarId(7), 0).unwrap();
        evs.push(ev);
        for ev in &evs {
            for schedule in [Schedule::Sequential, Schedule::Parallel] {
                let bp = BeliefPropagation {
                    schedule,
                    stop: StopRule::new(1000, 1e-12),
                    ..Default::default()
                }
                .run(&fg, ev);
                let bp = match bp {
                    Ok(bp) => bp,
                    Err(Error::ZeroProbabilityEvidence) => {
                        // the zero entries can rule the observed state out: exact agrees
                        assert!(matches!(
                            exact::log_z(&fg, ev, &ExactOptions::default()),
                            Err(Error::ZeroProbabilityEvidence)
                        ));
                        continue;
                    }
                    Err(e) => panic!("{e}"),
                };
                assert!(bp.convergence.converged());
                assert_matches_exact(&format!("BP tree {seed}"), &bp, &fg, ev);
            }
            if let Ok(trw) = (Trw {
                stop: StopRule::new(1000, 1e-12),
                ..Default::default()
            })
            .run(&fg, ev)
            {
                assert_matches_exact(&format!("TRW tree {seed}"), &trw, &fg, ev);
            }
        }
    }
}

/// BP is exact on a tree-structured factor graph with factors over three variables.
#[test]
fn bp_exact_on_factor_graph_tree() {
    let mut rng = chain_rng(11, 0);
    let mut b = FactorGraphBuilder::new();
    let v: Vec<VarId> = (0..8)
        .map(|i| b.add_variable_card(format!("x{i}"), 2 + i % 2).unwrap())
        .collect();
    let cards: Vec<usize> = (0..8).map(|i| 2 + i % 2).collect();
    // factors {0,1,2}, {2,3,4}, {4,5}, {1,6,7}: a tree factor graph
    for scope in [vec![0, 1, 2], vec![2, 3, 4], vec![4, 5], vec![1, 6, 7]] {
        let len: usize = scope.iter().map(|&i| cards[i]).product();
        let t: Vec<f64> = (0..len).map(|_| rng.random_range(-1.0..1.0)).collect();
        let s: Vec<VarId> = scope.iter().map(|&i| v[i]).collect();
        b.add_log_factor(&s, t).unwrap();
    }
    b.add_log_factor(&[v[3]], vec![0.5, -0.2, f64::NEG_INFINITY])
        .unwrap();
    let fg = b.build().unwrap();
    let mut ev = Evidence::new(8);
    let bp = BeliefPropagation::default().run(&fg, &ev).unwrap();
    assert_matches_exact("factor tree", &bp, &fg, &ev);
    ev.set(fg.vars(), v[6], 1).unwrap();
    let bp = BeliefPropagation::default().run(&fg, &ev).unwrap();
    assert_matches_exact("factor tree with evidence", &bp, &fg, &ev);
    let err = Trw::default().run(&fg, &Evidence::new(8)).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::NotPairwise {
                method: "TRW",
                factor: 0,
                arity: 3
            }
        ),
        "{err}"
    );
    // with x1 observed, factor {1,6,7} is pairwise but {0,1,2} -> {0,2} and {2,3,4} is not
    let mut ev2 = Evidence::new(8);
    ev2.set(fg.vars(), v[3], 0).unwrap();
    ev2.set(fg.vars(), v[1], 0).unwrap();
    let trw = Trw::default().run(&fg, &ev2).unwrap();
    assert_matches_exact("TRW after evidence", &trw, &fg, &ev2);
}

/// Random small loopy models with zeros: mean field <= exact <= TRW, and no NaN.
#[test]
fn bounds_on_random_loopy_models_with_zeros() {
    for seed in 0..20u64 {
        let mut rng = chain_rng(seed, 1);
        let q = 2 + (seed % 2) as usize;
        let g = potts_grid(3, 4, q, Boundary::Periodic, |_, _| 1.0, |_, _| 0.0).unwrap();
        // the grid's structure with random tables and some zeros
        let mut b = FactorGraphBuilder::new();
        for v in g.vars() {
            b.add_variable_card(v.name.clone(), v.card()).unwrap();
        }
        for f in g.factors() {
            let t: Vec<f64> = f
                .log_values()
                .iter()
                .map(|_| {
                    if rng.random_bool(0.1) {
                        f64::NEG_INFINITY
                    } else {
                        rng.random_range(-2.0..2.0)
                    }
                })
                .collect();
            b.add_log_factor(f.scope(), t).unwrap();
        }
        let fg = b.build().unwrap();
        let ev = Evidence::new(fg.num_vars());
        let exact = match exact::log_z(&fg, &ev, &ExactOptions::default()) {
            Ok(z) => z.log_z,
            Err(Error::ZeroProbabilityEvidence) => {
                assert!(matches!(
                    MeanField::default().run(&fg, &ev),
                    Err(Error::ZeroProbabilityEvidence)
                ));
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        let row = run_row(&format!("random {seed}"), &fg, &ev, exact);
        assert!(row.trw.is_some());
    }
}

/// Hard constraints: impossible evidence is a typed error for every method; a model whose
/// uniform start meets a zero still gives a finite mean-field bound; an unsatisfiable model
/// (odd cycle of "not equal") is proven so by mean field's search; nothing gives NaN.
#[test]
fn zeros_and_impossible_evidence() {
    let mut b = FactorGraphBuilder::new();
    let a = b.add_variable("a", ["0", "1"]).unwrap();
    let c = b.add_variable("c", ["0", "1"]).unwrap();
    let d = b.add_variable("d", ["0", "1"]).unwrap();
    b.add_factor(&[a, c], vec![1.0, 0.0, 0.0, 1.0]).unwrap(); // a = c
    b.add_factor(&[c, d], vec![0.0, 2.0, 1.0, 0.0]).unwrap(); // c != d
    let fg = b.build().unwrap();
    let ev = fg.evidence("a=0,c=1").unwrap();
    assert!(matches!(
        MeanField::default().run(&fg, &ev),
        Err(Error::ZeroProbabilityEvidence)
    ));
    assert!(matches!(
        BeliefPropagation::default().run(&fg, &ev),
        Err(Error::ZeroProbabilityEvidence)
    ));
    assert!(matches!(
        Trw::default().run(&fg, &ev),
        Err(Error::ZeroProbabilityEvidence)
    ));
    // consistent evidence that arc consistency propagates: d is forced to 1
    let ev = fg.evidence("a=0").unwrap();
    for r in [
        MeanField::default().run(&fg, &ev).unwrap(),
        BeliefPropagation::default().run(&fg, &ev).unwrap(),
        Trw::default().run(&fg, &ev).unwrap(),
    ] {
        check_sane("chain", &r);
        assert!((r.log_z.log_z - 2f64.ln()).abs() < 1e-12);
        assert_eq!(r.marginals.log_marginals[2], vec![f64::NEG_INFINITY, 0.0]);
    }
    // no evidence: the uniform start has a zero in every factor; Z = 2 + 1, and mean field
    // starts from (and, here, stays at) one of the two configurations
    let ev = Evidence::new(3);
    let mf = MeanField::default().run(&fg, &ev).unwrap();
    check_sane("mf zeros", &mf);
    assert!(mf.log_z.log_z <= 3f64.ln() + 1e-12);
    assert!(mf.log_z.log_z >= -1e-12, "{}", mf.log_z.log_z);
    // odd cycle of "not equal" on binary variables: Z = 0, which arc consistency cannot see
    let mut b = FactorGraphBuilder::new();
    let v: Vec<VarId> = (0..3)
        .map(|i| b.add_variable(format!("v{i}"), ["0", "1"]).unwrap())
        .collect();
    for (i, j) in [(0, 1), (1, 2), (0, 2)] {
        b.add_factor(&[v[i], v[j]], vec![0.0, 1.0, 1.0, 0.0])
            .unwrap();
    }
    let fg = b.build().unwrap();
    let ev = Evidence::new(3);
    assert!(matches!(
        MeanField::default().run(&fg, &ev),
        Err(Error::ZeroProbabilityEvidence)
    ));
    for r in [
        BeliefPropagation::default().run(&fg, &ev),
        Trw::default().run(&fg, &ev),
    ] {
        let r = r.unwrap();
        assert!(!r.log_z.log_z.is_nan());
        assert!(r
            .marginals
            .log_marginals
            .iter()
            .flatten()
            .all(|x| !x.is_nan()));
    }
}

/// Variables with one state, variables in no factor, and evidence clamping.
#[test]
fn domain_one_free_variables_and_evidence() {
    let mut b = FactorGraphBuilder::new();
    let x = b.add_variable("x", ["a", "b", "c"]).unwrap();
    let one = b.add_variable("one", ["only"]).unwrap();
    let y = b.add_variable("y", ["0", "1"]).unwrap();
    let _free = b.add_variable("free", ["0", "1", "2", "3"]).unwrap();
    b.add_factor(&[x, one], vec![1.0, 2.0, 3.0]).unwrap();
    b.add_factor(&[one, y], vec![0.5, 1.5]).unwrap();
    b.add_factor(&[x, y], vec![1.0, 2.0, 3.0, 1.0, 0.5, 4.0])
        .unwrap();
    let fg = b.build().unwrap();
    for ev in [
        Evidence::new(4),
        fg.evidence("y=1").unwrap(),
        fg.evidence("x=c,free=2").unwrap(),
    ] {
        let ex = exact::log_z(&fg, &ev, &ExactOptions::default())
            .unwrap()
            .log_z;
        // the model is a tree once the single-state variable is clamped away
        for r in [
            BeliefPropagation::default().run(&fg, &ev).unwrap(),
            Trw::default().run(&fg, &ev).unwrap(),
        ] {
            check_sane("domain-1", &r);
            assert_matches_exact("domain-1", &r, &fg, &ev);
        }
        let mf = MeanField::default().run(&fg, &ev).unwrap();
        check_sane("domain-1 MF", &mf);
        assert!(mf.log_z.log_z <= ex + 1e-12);
        assert_eq!(mf.marginals.log_marginals[1], vec![0.0]);
        for (v, s) in ev.iter() {
            let m = &mf.marginals.log_marginals[v.index()];
            assert_eq!(m[s], 0.0);
            assert!(m
                .iter()
                .enumerate()
                .all(|(t, &x)| t == s || x == f64::NEG_INFINITY));
        }
    }
}

/// Results are bit-identical for 1 and 2 worker threads (binary grid: ratio form; Potts grid:
/// log-space pairwise engine; CSP_13: factor-graph engine).
#[test]
fn thread_count_invariance() {
    let ising = load_model(&fg_path("ising_30x30_periodic.fg"), &LoadOptions::default())
        .unwrap()
        .to_factor_graph();
    let potts = potts_grid(
        24,
        24,
        3,
        Boundary::Periodic,
        |i, j| 0.2 + 0.01 * ((i + j) % 9) as f64,
        |i, s| 0.05 * ((i + s) % 4) as f64,
    )
    .unwrap();
    let csp = answers().into_iter().find(|a| a.name == "CSP_13").unwrap();
    let (csp, csp_ev) = load_instance(&csp);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let stop = StopRule::new(300, 1e-9);
            let mut out = Vec::new();
            let none = [
                Evidence::new(ising.num_vars()),
                Evidence::new(potts.num_vars()),
            ];
            for (fg, ev) in [(&ising, &none[0]), (&potts, &none[1]), (&csp, &csp_ev)] {
                out.push(
                    MeanField {
                        stop,
                        ..Default::default()
                    }
                    .run(fg, ev)
                    .unwrap(),
                );
                for schedule in [Schedule::Sequential, Schedule::Parallel] {
                    out.push(
                        BeliefPropagation {
                            stop,
                            schedule,
                            damping: 0.2,
                        }
                        .run(fg, ev)
                        .unwrap(),
                    );
                }
                if let Ok(r) = (Trw {
                    stop,
                    ..Default::default()
                })
                .run(fg, ev)
                {
                    out.push(r);
                }
            }
            out
        })
    };
    let (a, b) = (run(1), run(2));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.log_z.log_z.to_bits(), y.log_z.log_z.to_bits());
        assert_eq!(x.marginals, y.marginals);
        assert_eq!(x.convergence, y.convergence);
    }
}

/// The stop rule's three reasons, the parallel schedule's fixed point, and bad arguments.
#[test]
fn stop_rule_schedules_and_bad_arguments() {
    let g = ising_grid(
        8,
        8,
        Boundary::Periodic,
        |_, _| 0.25,
        |i| 0.02 * (i % 5) as f64,
    )
    .unwrap();
    let ev = Evidence::new(64);
    let never = StopRule {
        max_iters: 1_000_000,
        tol: 0.0,
        max_time: Some(Duration::ZERO),
    };
    let r = BeliefPropagation {
        stop: never,
        ..Default::default()
    }
    .run(&g, &ev)
    .unwrap();
    assert_eq!(r.convergence.reason, StopReason::TimeLimit);
    assert_eq!(r.convergence.iters, 1);
    let r = MeanField {
        stop: StopRule::new(3, 0.0),
        ..Default::default()
    }
    .run(&g, &ev)
    .unwrap();
    assert_eq!(
        (r.convergence.reason, r.convergence.iters),
        (StopReason::MaxIters, 3)
    );
    let seq = BeliefPropagation::default().run(&g, &ev).unwrap();
    let par = BeliefPropagation {
        schedule: Schedule::Parallel,
        ..Default::default()
    }
    .run(&g, &ev)
    .unwrap();
    assert!(seq.convergence.converged() && par.convergence.converged());
    assert!((seq.log_z.log_z - par.log_z.log_z).abs() < 1e-7);
    // damping does not move the fixed point
    let damped = BeliefPropagation {
        damping: 0.5,
        ..Default::default()
    }
    .run(&g, &ev)
    .unwrap();
    assert!((seq.log_z.log_z - damped.log_z.log_z).abs() < 1e-7);
    let mf = MeanField::default().run(&g, &ev).unwrap();
    let mfd = MeanField {
        damping: 0.5,
        ..Default::default()
    }
    .run(&g, &ev)
    .unwrap();
    assert!((mf.log_z.log_z - mfd.log_z.log_z).abs() < 1e-6);

    let bad = |r: pgmkit::Result<VariationalResult>| {
        assert!(
            matches!(r, Err(Error::InvalidArgument(_))),
            "{:?}",
            r.map(|r| r.log_z)
        )
    };
    bad(MeanField {
        damping: 1.0,
        ..Default::default()
    }
    .run(&g, &ev));
    bad(BeliefPropagation {
        damping: -0.1,
        ..Default::default()
    }
    .run(&g, &ev));
    bad(Trw {
        trees: 0,
        ..Default::default()
    }
    .run(&g, &ev));
    bad(Trw {
        stop: StopRule::new(10, f64::NAN),
        ..Default::default()
    }
    .run(&g, &ev));
    // evidence outside the model
    let ev = Evidence::from_options(vec![Some(5)]);
    assert!(matches!(
        BeliefPropagation::default().run(&g, &ev),
        Err(Error::UnknownState { .. })
    ));
    let mut long = vec![None; 65];
    long[64] = Some(0);
    assert!(matches!(
        MeanField::default().run(&g, &Evidence::from_options(long)),
        Err(Error::UnknownVariable(_))
    ));
}

/// Configurations are plain data that can be shared across threads.
#[test]
fn configs_are_send_and_sync() {
    fn check<T: Send + Sync + Clone + Default>() {}
    check::<MeanField>();
    check::<BeliefPropagation>();
    check::<Trw>();
    check::<StopRule>();
}
