//! MCMC: Gibbs (systematic, random scan, chromatic) and Metropolis-Hastings against exact
//! marginals, R-hat on non-mixing chains, thread-count invariance, zero-probability handling,
//! tempering, and bad input.
//!
//! # Statistical tests and their level
//!
//! Every run is seeded and nothing is retried. A marginal estimate `p` is accepted when
//! `|p - p_exact| <= Z * MCSE + R / ESS_var + 1e-12`, with `Z = 5`, where MCSE is the runner's Monte
//! Carlo standard error of that probability and `ESS_var` the variable's effective sample size.
//! Under the MCMC central limit theorem a single check fails with probability
//! `P(|N(0,1)| > 5) = 5.7e-7`; this file makes fewer than 1800 such checks, so the family-wise
//! error rate is below `1800 * 5.7e-7 ≈ 1e-3` (alpha = 0.001), with room for the ~10% error of
//! the ESS estimate itself (at 4.5 sigma the total would be ~1.2e-2 — the seeds are fixed, so a
//! pass is reproducible). The `R / ESS_var` term (`R = 10`) covers states so rare that no chain
//! visited them (MCSE 0): a state of probability `p` goes unvisited in `ESS` effective draws with
//! probability about `exp(-p ESS)`, below `exp(-10) = 4.5e-5` once `p > 10 / ESS`.

use pgmkit::diagnostics::split_rhat;
use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::io::{load_model, LoadOptions};
use pgmkit::model::{ising_grid, Boundary, Model};
use pgmkit::rng::chain_rng;
use pgmkit::sample::chains::{
    run_chains, run_chains_with, run_mcmc, ChainConfig, ChainSummary, Start,
};
use pgmkit::sample::gibbs::{Gibbs, GibbsOptions, Scan, UpdatePath};
use pgmkit::sample::kernel::{Kernel, KernelOptions};
use pgmkit::sample::mh::MetropolisHastings;
use pgmkit::sample::start::{find_start_state, StartSearch};
use pgmkit::sample::{Tempering, Transition};
use pgmkit::{BayesNet, Error, Evidence, FactorGraph, FactorGraphBuilder, TableFactor, VarId};
use rand::Rng;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

const Z: f64 = 5.0;
const RARE: f64 = 10.0;

fn path(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn load_fg(rel: &str) -> FactorGraph {
    load_model(&path(rel), &LoadOptions::default())
        .expect("load")
        .to_factor_graph()
}

fn load_bn(rel: &str) -> BayesNet {
    match load_model(&path(rel), &LoadOptions::default()).expect("load") {
        Model::Bayes(bn) => bn,
        Model::Markov(_) => panic!("{rel} is not a Bayesian network"),
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn opts(scan: Scan) -> KernelOptions {
    KernelOptions {
        gibbs: GibbsOptions {
            scan,
            ..GibbsOptions::default()
        },
        ..KernelOptions::default()
    }
}

/// All checks of one run against exact marginals; returns (largest |error|, largest error/MCSE).
fn check(label: &str, s: &ChainSummary, exact: &[Vec<f64>]) -> (f64, f64) {
    let d = s.diagnostics.as_ref().expect("diagnostics");
    let (mut worst, mut worst_z) = (0.0f64, 0.0f64);
    for (i, (m, e)) in s.marginals.iter().zip(exact).enumerate() {
        let ess = d.ess[i];
        for (k, (&p, &q)) in m.iter().zip(e).enumerate() {
            let err = (p - q).abs();
            let se = d.mcse[i][k];
            // unvisited (or never-left) states have MCSE 0: bound them by the rare-state term
            let rare = if se == 0.0 {
                ess.map_or(0.0, |e| RARE / e)
            } else {
                0.0
            };
            assert!(
                err <= Z * se + rare + 1e-12,
                "{label}: variable {i} state {k}: estimate {p} vs exact {q} (|err| {err:.3e}, \
                 MCSE {se:.3e}, ESS {ess:?})"
            );
            worst = worst.max(err);
            if se > 0.0 {
                worst_z = worst_z.max(err / se);
            }
        }
    }
    (worst, worst_z)
}

fn exact_fg(fg: &FactorGraph, ev: &Evidence) -> Vec<Vec<f64>> {
    let post = exact::marginals(fg, ev, &ExactOptions::default()).unwrap();
    (0..fg.num_vars())
        .map(|i| post.marginal(VarId(i as u32)))
        .collect()
}

fn cfg(chains: usize, warmup: usize, draws: usize, seed: u64) -> ChainConfig {
    ChainConfig {
        chains,
        warmup,
        draws,
        thin: 1,
        seed,
        ..ChainConfig::default()
    }
}

#[test]
fn ising_10x10_all_kernels_match_exact() {
    let fg = load_fg("tests/data/fg/ising_10x10_open.fg");
    let ev = Evidence::new(fg.num_vars());
    let exact = exact_fg(&fg, &ev);
    let c = cfg(4, 1000, 40_000, 101);
    for (label, sampler, scan) in [
        ("gibbs systematic", Kernel::Gibbs, Scan::Systematic),
        ("gibbs random", Kernel::Gibbs, Scan::Random),
        ("gibbs chromatic", Kernel::Gibbs, Scan::Chromatic),
        (
            "mh systematic",
            Kernel::MetropolisHastings,
            Scan::Systematic,
        ),
        ("block systematic", Kernel::BlockGibbs, Scan::Systematic),
    ] {
        let s = run_mcmc(&fg, &ev, sampler, &opts(scan), &c, None).unwrap();
        let d = s.diagnostics.as_ref().unwrap();
        assert!(
            d.max_rhat.unwrap() < 1.01,
            "{label}: R-hat {:?}",
            d.max_rhat
        );
        assert!(d.min_ess.unwrap() > 1000.0, "{label}: ESS {:?}", d.min_ess);
        assert_eq!(s.updates, 4 * 41_000 * 100);
        let (w, wz) = check(label, &s, &exact);
        eprintln!(
            "{label}: max |err| {w:.2e}, max err/MCSE {wz:.2}, min ESS {:.0}, accept {:.3}",
            d.min_ess.unwrap(),
            s.acceptance_rate
        );
    }
    // the binary kernel really used the threshold tables
    let k = Gibbs::new(&fg, &ev, &GibbsOptions::default()).unwrap();
    assert_eq!(k.update_path(&Tempering::TARGET), UpdatePath::BinaryTable);
}

#[test]
fn alarm_with_evidence_matches_exact() {
    let bn = load_bn("tests/data/bif/alarm.bif");
    let fg = bn.to_factor_graph();
    let ev = bn.evidence("BP=HIGH,HRBP=HIGH,HREKG=HIGH").unwrap();
    let post = exact::bn_marginals(&bn, &ev, &ExactOptions::default()).unwrap();
    let exact: Vec<Vec<f64>> = (0..bn.num_vars())
        .map(|i| post.marginal(VarId(i as u32)))
        .collect();
    let c = cfg(4, 2000, 100_000, 202);
    for (label, sampler, scan) in [
        ("alarm gibbs systematic", Kernel::Gibbs, Scan::Systematic),
        ("alarm gibbs random", Kernel::Gibbs, Scan::Random),
        ("alarm gibbs chromatic", Kernel::Gibbs, Scan::Chromatic),
        (
            "alarm mh systematic",
            Kernel::MetropolisHastings,
            Scan::Systematic,
        ),
        (
            "alarm block systematic",
            Kernel::BlockGibbs,
            Scan::Systematic,
        ),
    ] {
        let s = run_mcmc(&fg, &ev, sampler, &opts(scan), &c, None).unwrap();
        let d = s.diagnostics.as_ref().unwrap();
        assert!(
            d.max_rhat.unwrap() < 1.05,
            "{label}: R-hat {:?}",
            d.max_rhat
        );
        // observed variables are point masses with no diagnostics
        let bp = bn.var_id("BP").unwrap().index();
        assert_eq!(s.marginals[bp], exact[bp]);
        assert_eq!(d.rhat[bp], None);
        let (w, wz) = check(label, &s, &exact);
        eprintln!(
            "{label}: max |err| {w:.2e}, max err/MCSE {wz:.2}, max R-hat {:.4}, min ESS {:.0}, accept {:.3} ({:.2} s + {:.2} s)",
            d.max_rhat.unwrap(),
            d.min_ess.unwrap(),
            s.acceptance_rate,
            s.seconds,
            s.diagnostics_seconds
        );
        for (i, e) in d.ess.iter().enumerate() {
            if e.is_some_and(|e| e < 2000.0) {
                eprintln!(
                    "  {} ESS {:?} R-hat {:?}",
                    bn.var(VarId(i as u32)).name,
                    e,
                    d.rhat[i]
                );
            }
        }
    }
}

#[test]
fn rhat_flags_non_mixing_chains() {
    // J = 3: the two ordered phases are separated by a barrier no single-site sampler crosses
    let fg = ising_grid(10, 10, Boundary::Free, |_, _| 3.0, |_| 0.0).unwrap();
    let n = fg.num_vars();
    let ev = Evidence::new(n);
    let k = Gibbs::new(&fg, &ev, &GibbsOptions::default()).unwrap();
    let c = ChainConfig {
        start: Start::PerChain(vec![vec![0; n], vec![1; n], vec![0; n], vec![1; n]]),
        ..cfg(4, 100, 2000, 303)
    };
    let s = run_chains(&k, &fg, &ev, &c).unwrap();
    let d = s.diagnostics.as_ref().unwrap();
    assert!(d.max_rhat.unwrap() > 1.5, "max R-hat {:?}", d.max_rhat);
    let flagged = d.rhat.iter().filter(|r| r.is_some_and(|r| r > 1.5)).count();
    assert!(
        flagged >= 90,
        "only {flagged} of {n} variables have R-hat > 1.5"
    );
    // the magnetisation, computed from the traces
    let t = s.traces.as_ref().unwrap();
    let mag: Vec<Vec<f64>> = (0..4)
        .map(|ch| {
            (0..t.num_draws())
                .map(|dr| {
                    (0..n)
                        .map(|v| 2.0 * t.state(ch, dr, v) as f64 - 1.0)
                        .sum::<f64>()
                })
                .collect()
        })
        .collect();
    let refs: Vec<&[f64]> = mag.iter().map(|m| m.as_slice()).collect();
    let r = split_rhat(&refs).unwrap();
    assert!(r > 1.5, "magnetisation R-hat {r}");

    // control: weak coupling from the same opposite starts mixes
    let fg = ising_grid(10, 10, Boundary::Free, |_, _| 0.1, |_| 0.0).unwrap();
    let k = Gibbs::new(&fg, &ev, &GibbsOptions::default()).unwrap();
    let s = run_chains(&k, &fg, &ev, &c).unwrap();
    let r = s.diagnostics.unwrap().max_rhat.unwrap();
    assert!(r < 1.05, "weakly coupled grid: max R-hat {r}");
}

fn assert_same(a: &ChainSummary, b: &ChainSummary) {
    assert_eq!(a.marginals, b.marginals);
    assert_eq!(a.diagnostics, b.diagnostics);
    assert_eq!(a.final_states, b.final_states);
    assert_eq!(a.traces, b.traces);
    assert_eq!(a.updates, b.updates);
    assert_eq!(a.acceptance_rate.to_bits(), b.acceptance_rate.to_bits());
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let grid = load_fg("tests/data/fg/ising_30x30_periodic.fg");
    let bn = load_bn("tests/data/bif/alarm.bif");
    let alarm = bn.to_factor_graph();
    let ev_alarm = bn.evidence("BP=HIGH,HRBP=HIGH,HREKG=HIGH").unwrap();
    let ev_grid = Evidence::new(grid.num_vars());
    let c = cfg(3, 50, 300, 404);
    for (fg, ev) in [(&grid, &ev_grid), (&alarm, &ev_alarm)] {
        for (sampler, scan) in [
            (Kernel::Gibbs, Scan::Systematic),
            (Kernel::Gibbs, Scan::Random),
            // small chunks: many parallel chunks per colour
            (Kernel::Gibbs, Scan::Chromatic),
            (Kernel::MetropolisHastings, Scan::Chromatic),
            (Kernel::BlockGibbs, Scan::Systematic),
        ] {
            let mut o = opts(scan);
            o.gibbs.chunk_size = 16;
            let one = pool(1).install(|| run_mcmc(fg, ev, sampler, &o, &c, None).unwrap());
            let two = pool(2).install(|| run_mcmc(fg, ev, sampler, &o, &c, None).unwrap());
            assert_same(&one, &two);
        }
    }
}

#[test]
fn progress_adds_up() {
    let fg = load_fg("tests/data/fg/ising_10x10_open.fg");
    let ev = Evidence::new(fg.num_vars());
    let k = Gibbs::new(&fg, &ev, &GibbsOptions::default()).unwrap();
    let c = ChainConfig {
        thin: 3,
        ..cfg(3, 77, 1001, 5)
    };
    let done = AtomicU64::new(0);
    let calls = AtomicU64::new(0);
    let cb = |k: u64| {
        done.fetch_add(k, Ordering::Relaxed);
        calls.fetch_add(1, Ordering::Relaxed);
    };
    let s = run_chains_with(&k, &fg, &ev, &c, &Tempering::TARGET, Some(&cb)).unwrap();
    assert_eq!(done.load(Ordering::Relaxed), c.total_sweeps());
    assert_eq!(s.sweeps, c.total_sweeps());
    assert!(calls.load(Ordering::Relaxed) >= 3 * 100);
    assert_eq!(s.traces.as_ref().unwrap().num_draws(), 1001);
}

#[test]
fn asia_deterministic_node() {
    let bn = load_bn("tests/data/bif/asia.bif");
    let fg = bn.to_factor_graph();
    let opts_exact = ExactOptions::default();

    // Evidence under which single-site moves connect all states of positive probability
    // (either = yes: tub and lung move through tub = lung = yes): marginals match exact.
    let ev = bn.evidence("either=yes,dysp=yes").unwrap();
    let post = exact::bn_marginals(&bn, &ev, &opts_exact).unwrap();
    let exact: Vec<Vec<f64>> = (0..bn.num_vars())
        .map(|i| post.marginal(VarId(i as u32)))
        .collect();
    for sampler in [
        Kernel::Gibbs,
        Kernel::MetropolisHastings,
        Kernel::BlockGibbs,
    ] {
        let s = run_mcmc(
            &fg,
            &ev,
            sampler,
            &KernelOptions::default(),
            &cfg(4, 1000, 50_000, 606),
            None,
        )
        .unwrap();
        check(&format!("asia {sampler:?}"), &s, &exact);
    }

    // xray = yes, dysp = yes: a valid start is found for every chain and every draw has
    // positive probability, but single-site moves cannot leave tub = lung = either = no
    // (either is the deterministic OR of the two), so the chain is reducible; R-hat shows it
    // when chains start on both sides.
    let ev = bn.evidence("xray=yes,dysp=yes").unwrap();
    let search = StartSearch::new(&fg, &ev).unwrap();
    let mut rng = chain_rng(7, 7);
    for _ in 0..50 {
        let x = search.find(&mut rng).unwrap();
        assert!(search.is_valid(&x));
        assert!(fg.log_potential(&x).is_finite());
    }
    let k = Gibbs::new(&fg, &ev, &GibbsOptions::default()).unwrap();
    let s = run_chains(&k, &fg, &ev, &cfg(4, 10, 500, 607)).unwrap();
    let t = s.traces.as_ref().unwrap();
    for ch in 0..4 {
        for d in 0..t.num_draws() {
            assert!(fg.log_potential(&t.draw(ch, d)).is_finite());
        }
    }
    let name = |v: &str| bn.var_id(v).unwrap().index();
    let mut none = vec![0usize; 8];
    let mut some = none.clone();
    for v in ["asia", "smoke", "bronc"] {
        none[name(v)] = 1;
        some[name(v)] = 1;
    }
    for v in ["xray", "dysp"] {
        none[name(v)] = 0;
        some[name(v)] = 0;
    }
    for v in ["tub", "lung", "either"] {
        none[name(v)] = 1; // "no"
    }
    some[name("tub")] = 0;
    some[name("lung")] = 1;
    some[name("either")] = 0;
    let c = ChainConfig {
        start: Start::PerChain(vec![none.clone(), some.clone(), none, some]),
        ..cfg(4, 100, 2000, 608)
    };
    let s = run_chains(&k, &fg, &ev, &c).unwrap();
    let d = s.diagnostics.unwrap();
    assert!(d.rhat[name("either")].unwrap() > 1.5, "{:?}", d.rhat);
}

#[test]
fn zero_probability_is_a_clear_error() {
    // impossible evidence: detected when the kernel is built
    let bn = load_bn("tests/data/bif/asia.bif");
    let fg = bn.to_factor_graph();
    let ev = bn.evidence("lung=yes,either=no").unwrap();
    let e = Gibbs::new(&fg, &ev, &GibbsOptions::default()).unwrap_err();
    assert!(matches!(e, Error::ZeroProbabilityEvidence), "{e}");
    let e = run_mcmc(
        &fg,
        &ev,
        Kernel::MetropolisHastings,
        &KernelOptions::default(),
        &cfg(2, 1, 10, 1),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, Error::ZeroProbabilityEvidence), "{e}");

    // every factor has non-zero entries but every joint state is zero:
    // x0 != x1, x1 != x2, x0 != x2 on binary variables
    let mut b = FactorGraphBuilder::new();
    let v: Vec<VarId> = (0..3)
        .map(|i| b.add_variable_card(format!("x{i}"), 2).unwrap())
        .collect();
    for (p, q) in [(0, 1), (1, 2), (0, 2)] {
        b.add_factor(&[v[p], v[q]], vec![0.0, 1.0, 1.0, 0.0])
            .unwrap();
    }
    let fg = b.build().unwrap();
    let ev = Evidence::new(3);
    let k = Gibbs::new(&fg, &ev, &GibbsOptions::default()).unwrap();
    let e = run_chains(&k, &fg, &ev, &cfg(2, 1, 10, 1)).unwrap_err();
    assert!(matches!(e, Error::ZeroProbabilityEvidence), "{e}");
    assert!(e.to_string().contains("probability zero"));
    let e = find_start_state(&fg, &ev, &mut chain_rng(1, 1)).unwrap_err();
    assert!(matches!(e, Error::ZeroProbabilityEvidence), "{e}");

    // a factor that is zero everywhere
    let mut b = FactorGraphBuilder::new();
    let a = b.add_variable_card("a", 2).unwrap();
    b.add_factor(&[a], vec![0.0, 0.0]).unwrap();
    let fg = b.build().unwrap();
    let e = Gibbs::new(&fg, &Evidence::new(1), &GibbsOptions::default()).unwrap_err();
    assert!(matches!(e, Error::ZeroProbabilityEvidence), "{e}");

    // a hard CSP found by search: 4-colouring of a 6x6 grid with some pre-coloured cells
    let mut b = FactorGraphBuilder::new();
    let cells: Vec<VarId> = (0..36)
        .map(|i| b.add_variable_card(format!("c{i}"), 4).unwrap())
        .collect();
    let neq: Vec<f64> = (0..16)
        .map(|k| if k / 4 == k % 4 { 0.0 } else { 1.0 })
        .collect();
    for r in 0..6 {
        for c in 0..6 {
            let i = r * 6 + c;
            if c + 1 < 6 {
                b.add_factor(&[cells[i], cells[i + 1]], neq.clone())
                    .unwrap();
            }
            if r + 1 < 6 {
                b.add_factor(&[cells[i], cells[i + 6]], neq.clone())
                    .unwrap();
                if c + 1 < 6 {
                    b.add_factor(&[cells[i], cells[i + 7]], neq.clone())
                        .unwrap();
                }
            }
        }
    }
    let fg = b.build().unwrap();
    let ev = fg.evidence("c0=0,c35=3,c14=2").unwrap();
    let s = run_mcmc(
        &fg,
        &ev,
        Kernel::Gibbs,
        &KernelOptions::default(),
        &cfg(4, 10, 100, 9),
        None,
    )
    .unwrap();
    for x in &s.final_states {
        assert!(fg.log_potential(x).is_finite());
    }
}

/// The tempered model `p0^(1-beta) p^beta` as a factor graph (for exact reference marginals).
fn tempered_model(fg: &FactorGraph, beta: f64, base: &[Vec<f64>]) -> FactorGraph {
    let mut factors: Vec<TableFactor> = fg
        .factors()
        .iter()
        .map(|f| {
            let v = f
                .log_values()
                .iter()
                .map(|&l| if beta == 0.0 { 0.0 } else { beta * l })
                .collect();
            TableFactor::new(f.scope().to_vec(), f.cards().to_vec(), v).unwrap()
        })
        .collect();
    for (i, b) in base.iter().enumerate() {
        let v = b.iter().map(|&l| (1.0 - beta) * l).collect();
        factors.push(TableFactor::new(vec![VarId(i as u32)], vec![b.len()], v).unwrap());
    }
    FactorGraph::new(fg.vars().to_vec(), factors).unwrap()
}

fn random_base(fg: &FactorGraph, seed: u64) -> Vec<Vec<f64>> {
    let mut r = chain_rng(seed, 0);
    fg.cards()
        .iter()
        .map(|&c| {
            let w: Vec<f64> = (0..c).map(|_| 0.2 + r.random::<f64>()).collect();
            let s: f64 = w.iter().sum();
            w.iter().map(|x| (x / s).ln()).collect()
        })
        .collect()
}

#[test]
fn tempering() {
    let grid = load_fg("tests/data/fg/ising_10x10_open.fg");
    let bn = load_bn("tests/data/bif/alarm.bif");
    let alarm = bn.to_factor_graph();
    let ev_alarm = bn.evidence("BP=HIGH,HRBP=HIGH,HREKG=HIGH").unwrap();
    let ev_grid = Evidence::new(grid.num_vars());
    for (name, fg, ev) in [("grid", &grid, &ev_grid), ("alarm", &alarm, &ev_alarm)] {
        let base = random_base(fg, 77);
        for beta in [0.0, 0.5] {
            let temp = Tempering::factorised(beta, &base);
            let exact = if beta == 0.0 {
                // the base itself (observed variables stay clamped)
                (0..fg.num_vars())
                    .map(|i| match ev.get(VarId(i as u32)) {
                        Some(s) => (0..base[i].len()).map(|k| (k == s) as u8 as f64).collect(),
                        None => base[i].iter().map(|l| l.exp()).collect(),
                    })
                    .collect()
            } else {
                exact_fg(&tempered_model(fg, beta, &base), ev)
            };
            let c = cfg(4, 500, 20_000, 808);
            let g = Gibbs::new(fg, ev, &GibbsOptions::default()).unwrap();
            let want_path = match (name, beta) {
                ("grid", _) => UpdatePath::BinaryLogOdds,
                _ => UpdatePath::GeneralLog,
            };
            assert_eq!(g.update_path(&temp), want_path);
            let s = run_chains_with(&g, fg, ev, &c, &temp, None).unwrap();
            check(&format!("{name} gibbs beta {beta}"), &s, &exact);
            let m = MetropolisHastings::new(fg, ev, &GibbsOptions::default()).unwrap();
            let s = run_chains_with(&m, fg, ev, &c, &temp, None).unwrap();
            check(&format!("{name} mh beta {beta}"), &s, &exact);
        }
    }
    // beta = 1 ignores the base entirely, even where it is zero
    let mut base = random_base(&grid, 3);
    base[0] = vec![0.0, f64::NEG_INFINITY];
    let temp = Tempering::factorised(1.0, &base);
    let g = Gibbs::new(&grid, &ev_grid, &GibbsOptions::default()).unwrap();
    let s = run_chains_with(&g, &grid, &ev_grid, &cfg(2, 200, 5000, 9), &temp, None).unwrap();
    assert!(s.marginals[0][1] > 0.2);
}

#[test]
fn kernel_sweep_contract() {
    let fg = load_fg("tests/data/fg/ising_10x10_open.fg");
    let ev = fg.evidence("0=1,5=0").unwrap();
    let k = Gibbs::new(&fg, &ev, &GibbsOptions::default()).unwrap();
    assert_eq!(k.num_vars(), 100);
    assert_eq!(k.free_vars().len(), 98);
    let mut x = vec![1usize; 100];
    x[5] = 0;
    let mut rng = chain_rng(1, 1);
    for _ in 0..100 {
        let s = k.sweep(&mut x, &Tempering::TARGET, &mut rng);
        assert_eq!(s.updates, 98);
        assert_eq!((x[0], x[5]), (1, 0), "observed variables never change");
    }
}

#[test]
fn bad_input_is_an_error() {
    let fg = load_fg("tests/data/fg/ising_10x10_open.fg");
    let n = fg.num_vars();
    let ev = fg.evidence("3=1").unwrap();
    let k = Gibbs::new(&fg, &ev, &GibbsOptions::default()).unwrap();
    let bad = |c: ChainConfig| run_chains(&k, &fg, &ev, &c).unwrap_err();
    assert!(matches!(bad(cfg(0, 1, 10, 1)), Error::InvalidArgument(_)));
    assert!(matches!(bad(cfg(1, 1, 0, 1)), Error::InvalidArgument(_)));
    assert!(matches!(
        bad(ChainConfig {
            thin: 0,
            ..cfg(1, 1, 10, 1)
        }),
        Error::InvalidArgument(_)
    ));
    let e = bad(ChainConfig {
        start: Start::Given(vec![0; n - 1]),
        ..cfg(1, 1, 10, 1)
    });
    assert!(e.to_string().contains("entries"), "{e}");
    let e = bad(ChainConfig {
        start: Start::Given(vec![0; n]),
        ..cfg(1, 1, 10, 1)
    });
    assert!(e.to_string().contains("observed"), "{e}");
    let e = bad(ChainConfig {
        start: Start::Given(vec![2; n]),
        ..cfg(1, 1, 10, 1)
    });
    assert!(e.to_string().contains("no state 2"), "{e}");
    let e = bad(ChainConfig {
        start: Start::PerChain(vec![vec![1; n]]),
        ..cfg(2, 1, 10, 1)
    });
    assert!(
        e.to_string().contains("1 start states given for 2 chains"),
        "{e}"
    );
    let e = bad(ChainConfig {
        max_trace_bytes: 1000,
        ..cfg(2, 1, 10, 1)
    });
    assert!(e.to_string().contains("diagnostics off"), "{e}");
    // a kernel for another model
    let other = ising_grid(2, 2, Boundary::Free, |_, _| 0.1, |_| 0.0).unwrap();
    let k2 = Gibbs::new(&other, &Evidence::new(4), &GibbsOptions::default()).unwrap();
    assert!(run_chains(&k2, &fg, &ev, &cfg(1, 1, 10, 1)).is_err());
    // evidence naming a state the variable lacks
    let bad_ev = Evidence::from_options(vec![Some(5)]);
    assert!(matches!(
        Gibbs::new(&fg, &bad_ev, &GibbsOptions::default()).unwrap_err(),
        Error::UnknownState { .. }
    ));
    // tempering out of range / base of the wrong shape
    let t = Tempering::uniform(1.5);
    assert!(run_chains_with(&k, &fg, &ev, &cfg(1, 1, 10, 1), &t, None).is_err());
    let base = vec![vec![0.0]; n];
    let t = Tempering::factorised(0.5, &base);
    assert!(run_chains_with(&k, &fg, &ev, &cfg(1, 1, 10, 1), &t, None).is_err());
    // zero chunk size
    let o = GibbsOptions {
        chunk_size: 0,
        ..GibbsOptions::default()
    };
    assert!(Gibbs::new(&fg, &ev, &o).is_err());
    // a start state of probability zero
    let mut b = FactorGraphBuilder::new();
    let a = b.add_variable_card("a", 2).unwrap();
    b.add_factor(&[a], vec![1.0, 0.0]).unwrap();
    let fg = b.build().unwrap();
    let ev = Evidence::new(1);
    let k = Gibbs::new(&fg, &ev, &GibbsOptions::default()).unwrap();
    let e = run_chains(
        &k,
        &fg,
        &ev,
        &ChainConfig {
            start: Start::Given(vec![1]),
            ..cfg(1, 1, 10, 1)
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("probability zero"), "{e}");
}

/// Run `n` sweeps of `k` in a pool of `threads` threads, as one pipelined call (`batched`) or
/// one sweep at a time; returns the final state, the tally and the sweep statistics.
fn sweeps_in_pool<K: Transition>(
    k: &K,
    start: &[usize],
    offsets: &[usize],
    threads: usize,
    n: usize,
    batched: bool,
) -> (Vec<usize>, Vec<u64>, pgmkit::sample::SweepStats) {
    pool(threads).install(|| {
        let mut x = start.to_vec();
        let mut counts = vec![0u64; *offsets.last().unwrap()];
        let mut rng = chain_rng(17, 3);
        let mut tally = pgmkit::sample::StateTally::offsets(&mut counts, offsets);
        let prep = k.prepare(&Tempering::TARGET);
        let stats = if batched {
            k.sweeps(&mut x, &prep, &mut rng, n, Some(&mut tally))
        } else {
            let mut s = pgmkit::sample::SweepStats::default();
            for _ in 0..n {
                // plain sweeps, counted here: independent of the kernels' own counting
                let t = k.sweep(&mut x, &prep, &mut rng);
                tally.add_state(&x);
                s.updates += t.updates;
                s.accepted += t.accepted;
            }
            s
        };
        (x, counts, stats)
    })
}

/// The pipelined chromatic sweeps (several sweeps per call, no barrier between colour classes)
/// give exactly the states, counts and statistics of sweep-by-sweep runs, on 1 and 2 threads,
/// for Gibbs and Metropolis on a binary periodic grid (many pipeline blocks), a 3-state Potts
/// grid with evidence (general path, clamped variables in the tally) and a tempered run.
#[test]
fn pipelined_chromatic_sweeps_equal_sweep_by_sweep() {
    let ising = ising_grid(
        120,
        90,
        Boundary::Periodic,
        |a, b| 0.3 + 0.1 * ((a * 7 + b * 3) % 5) as f64,
        |i| 0.05 * ((i % 7) as f64 - 3.0),
    )
    .unwrap();
    let potts = pgmkit::model::potts_grid(
        70,
        70,
        3,
        Boundary::Free,
        |a, b| 0.4 + 0.05 * ((a + b) % 3) as f64,
        |i, s| 0.1 * ((i + s) % 4) as f64,
    )
    .unwrap();
    let chrom = GibbsOptions {
        scan: Scan::Chromatic,
        chunk_size: 100,
        ..GibbsOptions::default()
    };
    for (name, fg, ev_spec) in [
        ("ising", &ising, ""),
        ("potts", &potts, "x0_5=2,x4_20=1,x57_10=0"),
    ] {
        let ev = if ev_spec.is_empty() {
            Evidence::new(fg.num_vars())
        } else {
            fg.evidence(ev_spec).unwrap()
        };
        let mut offsets = vec![0usize];
        for v in fg.vars() {
            offsets.push(offsets.last().unwrap() + v.card());
        }
        let start: Vec<usize> = (0..fg.num_vars())
            .map(|i| ev.get(VarId(i as u32)).unwrap_or(i % 2))
            .collect();
        let gibbs = Gibbs::new(fg, &ev, &chrom).unwrap();
        let mh = MetropolisHastings::new(fg, &ev, &chrom).unwrap();
        let reference = sweeps_in_pool(&gibbs, &start, &offsets, 1, 7, false);
        for (threads, batched) in [(1, true), (2, false), (2, true)] {
            let got = sweeps_in_pool(&gibbs, &start, &offsets, threads, 7, batched);
            assert_eq!(
                got, reference,
                "gibbs {name}: threads {threads} batched {batched}"
            );
        }
        let reference = sweeps_in_pool(&mh, &start, &offsets, 1, 5, false);
        let got = sweeps_in_pool(&mh, &start, &offsets, 2, 5, true);
        assert_eq!(got, reference, "mh {name}");
        assert_eq!(reference.1.iter().sum::<u64>(), 5 * fg.num_vars() as u64);
    }
}
