//! Exact inference: property tests against brute-force enumeration, factor algebra invariants,
//! Ising grids with known log Z, and bad-input errors.

use pgmkit::infer::exact::{self, ExactOptions, OrderHeuristic};
use pgmkit::model::{ising_grid, Boundary};
use pgmkit::num::log_sum_exp;
use pgmkit::{
    BayesNetBuilder, Error, Evidence, FactorGraph, FactorGraphBuilder, TableFactor, VarId,
};
use proptest::prelude::*;

/// Enumerate every joint state: (log Z, log marginals).
fn brute_force(fg: &FactorGraph, ev: &Evidence) -> (f64, Vec<Vec<f64>>) {
    let cards = fg.cards();
    let n = cards.len();
    let mut x = vec![0usize; n];
    let mut terms = Vec::new();
    let mut per: Vec<Vec<Vec<f64>>> = cards.iter().map(|&c| vec![Vec::new(); c]).collect();
    loop {
        let consistent = (0..n).all(|i| ev.get(VarId(i as u32)).is_none_or(|s| s == x[i]));
        if consistent {
            let lp = fg.log_potential(&x);
            terms.push(lp);
            for i in 0..n {
                per[i][x[i]].push(lp);
            }
        }
        let mut k = n;
        loop {
            if k == 0 {
                let lz = log_sum_exp(&terms);
                let m = per
                    .iter()
                    .map(|states| states.iter().map(|t| log_sum_exp(t) - lz).collect())
                    .collect();
                return (lz, m);
            }
            k -= 1;
            x[k] += 1;
            if x[k] < cards[k] {
                break;
            }
            x[k] = 0;
        }
    }
}

fn random_model() -> impl Strategy<Value = (FactorGraph, Vec<Option<usize>>)> {
    (2usize..7).prop_flat_map(|n| {
        let cards = proptest::collection::vec(1usize..5, n);
        let nf = 1usize..9;
        (cards, nf, any::<u64>()).prop_map(move |(cards, nf, seed)| {
            use rand::{Rng, SeedableRng};
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut b = FactorGraphBuilder::new();
            for (i, &c) in cards.iter().enumerate() {
                b.add_variable_card(format!("v{i}"), c).unwrap();
            }
            for _ in 0..nf {
                let k = rng.random_range(1..=3.min(cards.len()));
                let mut scope: Vec<usize> = (0..cards.len()).collect();
                for i in 0..k {
                    let j = rng.random_range(i..scope.len());
                    scope.swap(i, j);
                }
                scope.truncate(k);
                let len: usize = scope.iter().map(|&v| cards[v]).product();
                let vals: Vec<f64> = (0..len)
                    .map(|_| {
                        if rng.random::<f64>() < 0.15 {
                            0.0
                        } else {
                            rng.random::<f64>() * 3.0
                        }
                    })
                    .collect();
                let sc: Vec<VarId> = scope.iter().map(|&v| VarId(v as u32)).collect();
                b.add_factor(&sc, vals).unwrap();
            }
            let ev: Vec<Option<usize>> = cards
                .iter()
                .map(|&c| {
                    if rng.random::<f64>() < 0.2 {
                        Some(rng.random_range(0..c))
                    } else {
                        None
                    }
                })
                .collect();
            (b.build().unwrap(), ev)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn ve_and_junction_tree_equal_brute_force((fg, ev) in random_model()) {
        let ev = Evidence::from_options(ev);
        let (bz, bm) = brute_force(&fg, &ev);
        for h in [OrderHeuristic::Best, OrderHeuristic::MinFill, OrderHeuristic::MinDegree, OrderHeuristic::WeightedMinFill] {
            let opts = ExactOptions { heuristic: h, ..Default::default() };
            let z = exact::log_z(&fg, &ev, &opts);
            let m = exact::marginals(&fg, &ev, &opts);
            if bz == f64::NEG_INFINITY {
                prop_assert!(matches!(z, Err(Error::ZeroProbabilityEvidence)), "{:?}", z);
                prop_assert!(matches!(m, Err(Error::ZeroProbabilityEvidence)));
                continue;
            }
            let z = z.unwrap().log_z;
            prop_assert!((z - bz).abs() <= 1e-10 * (1.0 + bz.abs()), "VE {} vs brute {}", z, bz);
            let m = m.unwrap();
            prop_assert!((m.log_z - bz).abs() <= 1e-10 * (1.0 + bz.abs()));
            for (v, bmv) in bm.iter().enumerate() {
                for (s, &bp) in bmv.iter().enumerate() {
                    let got = m.log_marginals[v][s].exp();
                    prop_assert!((got - bp.exp()).abs() < 1e-10, "var {} state {}: {} vs {}", v, s, got, bp.exp());
                }
            }
        }
    }

    #[test]
    fn product_commutes_and_associates((fg, _ev) in random_model()) {
        let f = fg.factors();
        if f.len() >= 3 {
            let ab = f[0].product(&f[1]);
            let ba = f[1].product(&f[0]);
            prop_assert_eq!(ab.scope(), ba.scope());
            for (x, y) in ab.log_values().iter().zip(ba.log_values()) {
                prop_assert!(x == y || (x - y).abs() < 1e-12);
            }
            let l = ab.product(&f[2]);
            let r = f[0].product(&f[1].product(&f[2]));
            prop_assert_eq!(l.scope(), r.scope());
            for (x, y) in l.log_values().iter().zip(r.log_values()) {
                prop_assert!(x == y || (x - y).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn marginalisation_order_does_not_matter((fg, _ev) in random_model()) {
        let all = fg.factors().iter().skip(1).fold(fg.factors()[0].clone(), |a, b| a.product(b));
        if all.scope().len() >= 2 {
            let (a, b) = (all.scope()[0], all.scope()[all.scope().len() - 1]);
            let x = all.marginalize(&[a]).marginalize(&[b]);
            let y = all.marginalize(&[b]).marginalize(&[a]);
            let z = all.marginalize(&[a, b]);
            for ((p, q), r) in x.log_values().iter().zip(y.log_values()).zip(z.log_values()) {
                prop_assert!((p == q && q == r) || ((p - q).abs() < 1e-12 && (p - r).abs() < 1e-12));
            }
        }
    }

    #[test]
    fn bayes_net_without_evidence_has_log_z_zero(seed in any::<u64>(), n in 2usize..9) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut b = BayesNetBuilder::new();
        let cards: Vec<usize> = (0..n).map(|_| rng.random_range(1..4)).collect();
        let ids: Vec<VarId> = (0..n).map(|i| b.add_variable_card_for_test(i, cards[i])).collect();
        for i in 0..n {
            let parents: Vec<VarId> = (0..i).filter(|_| rng.random::<f64>() < 0.4).map(|j| ids[j]).collect();
            let rows: usize = parents.iter().map(|p| cards[p.index()]).product();
            let mut probs = Vec::new();
            for _ in 0..rows {
                let raw: Vec<f64> = (0..cards[i]).map(|_| rng.random::<f64>() + 0.01).collect();
                let s: f64 = raw.iter().sum();
                probs.extend(raw.iter().map(|x| x / s));
            }
            b.set_cpd(ids[i], &parents, probs).unwrap();
        }
        let bn = b.renormalize(true).build().unwrap();
        let z = exact::log_z(&bn.to_factor_graph(), &Evidence::new(n), &ExactOptions::default()).unwrap();
        prop_assert!(z.log_z.abs() < 1e-12, "{}", z.log_z);
    }
}

trait AddCard {
    fn add_variable_card_for_test(&mut self, i: usize, card: usize) -> VarId;
}
impl AddCard for BayesNetBuilder {
    fn add_variable_card_for_test(&mut self, i: usize, card: usize) -> VarId {
        self.add_variable(format!("x{i}"), (0..card).map(|s| format!("s{s}")))
            .unwrap()
    }
}

#[test]
fn ising_20x20_free_boundary_matches_reference() {
    // spins in {-1,+1}, J = 0.5 on every bond, h = 0.1 on every site (issue #2 acceptance)
    let g = ising_grid(20, 20, Boundary::Free, |_, _| 0.5, |_| 0.1).unwrap();
    let z = exact::log_z(&g, &Evidence::new(400), &ExactOptions::default()).unwrap();
    let want = 431.51625920150894;
    assert!(
        (z.log_z - want).abs() < 1e-9,
        "log Z = {} (want {want}, diff {:e})",
        z.log_z,
        z.log_z - want
    );
}

#[test]
fn too_large_is_a_typed_error_before_allocating() {
    let g = ising_grid(30, 30, Boundary::Periodic, |_, _| 0.5, |_| 0.1).unwrap();
    let opts = ExactOptions {
        memory_limit: 1e6,
        ..Default::default()
    };
    match exact::log_z(&g, &Evidence::new(900), &opts) {
        Err(Error::TooLarge {
            width,
            largest_table,
            needed,
            limit,
        }) => {
            // planning gives up on each order at its first clique over the limit: that clique
            // alone is too large
            assert!(width >= 16, "width {width}");
            assert!(8.0 * largest_table > limit);
            assert!(needed > limit);
            let msg = Error::TooLarge {
                width,
                largest_table,
                needed,
                limit,
            }
            .to_string();
            assert!(msg.contains("ais") && msg.contains("width"), "{msg}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn zero_probability_evidence_is_an_error() {
    let mut b = BayesNetBuilder::new();
    let a = b.add_variable("a", ["f", "t"]).unwrap();
    let c = b.add_variable("c", ["f", "t"]).unwrap();
    b.set_cpd(a, &[], vec![1.0, 0.0]).unwrap();
    b.set_cpd(c, &[a], vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    let bn = b.build().unwrap();
    for spec in ["a=t", "c=t", "a=f,c=t"] {
        let ev = bn.evidence(spec).unwrap();
        assert!(matches!(
            exact::bn_log_evidence(&bn, &ev, &Default::default()),
            Err(Error::ZeroProbabilityEvidence)
        ));
        assert!(matches!(
            exact::bn_marginals(&bn, &ev, &Default::default()),
            Err(Error::ZeroProbabilityEvidence)
        ));
        assert!(matches!(
            exact::log_z(&bn.to_factor_graph(), &ev, &Default::default()),
            Err(Error::ZeroProbabilityEvidence)
        ));
    }
}

#[test]
fn unknown_variable_or_state_in_evidence() {
    let g = ising_grid(2, 2, Boundary::Free, |_, _| 0.5, |_| 0.1).unwrap();
    assert!(matches!(
        g.evidence("nope=+1"),
        Err(Error::UnknownVariable(_))
    ));
    assert!(matches!(
        g.evidence("x0_0=7"),
        Err(Error::UnknownState { .. })
    ));
    assert!(matches!(
        g.evidence("x0_0=+1,x0_0=-1"),
        Err(Error::ConflictingEvidence(_))
    ));
    assert!(matches!(g.evidence("x0_0"), Err(Error::Parse { .. })));
    let ok = g.evidence("x0_0=+1, x1_1=0").unwrap();
    assert_eq!(ok.get(VarId(0)), Some(1));
    assert_eq!(ok.get(VarId(3)), Some(0));
}

#[test]
fn cycle_is_rejected() {
    let mut b = BayesNetBuilder::new();
    let a = b.add_variable("a", ["0", "1"]).unwrap();
    let c = b.add_variable("c", ["0", "1"]).unwrap();
    let d = b.add_variable("d", ["0", "1"]).unwrap();
    b.set_cpd(a, &[d], vec![0.5; 4]).unwrap();
    b.set_cpd(c, &[a], vec![0.5; 4]).unwrap();
    b.set_cpd(d, &[c], vec![0.5; 4]).unwrap();
    match b.build() {
        Err(Error::Cycle(names)) => assert_eq!(names.len(), 4, "{names:?}"),
        other => panic!("expected a cycle error, got {other:?}"),
    }
}

#[test]
fn isolated_variables_count_in_log_z() {
    let mut b = FactorGraphBuilder::new();
    let a = b.add_variable_card("a", 3).unwrap();
    b.add_variable_card("free", 5).unwrap();
    b.add_factor(&[a], vec![1.0, 2.0, 3.0]).unwrap();
    let fg = b.build().unwrap();
    let z = exact::log_z(&fg, &Evidence::new(2), &Default::default()).unwrap();
    assert!((z.log_z - (6.0f64 * 5.0).ln()).abs() < 1e-12);
    let m = exact::marginals(&fg, &Evidence::new(2), &Default::default()).unwrap();
    assert!((m.marginal(VarId(1))[4] - 0.2).abs() < 1e-12);
    let _ = TableFactor::scalar(0.0);
}
