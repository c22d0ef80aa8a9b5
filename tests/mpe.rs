//! Exact MPE: max-product on the junction tree against brute force on random factor graphs
//! (proptest) and on ASIA with evidence; local optimality and the recomputed value on larger
//! networks and UAI instances; the `map` command.

use std::path::Path;

use pgmkit::factor::TableFactor;
use pgmkit::infer::exact::{bn_mpe, mpe, ExactOptions};
use pgmkit::io::{load_model, LoadOptions};
use pgmkit::model::{FactorGraph, Model};
use pgmkit::{Evidence, VarId, Variable};
use proptest::prelude::*;

#[path = "common/cli.rs"]
mod cli_common;

/// The largest total log value over all joint states that agree with the evidence.
fn brute_force(cards: &[usize], factors: &[TableFactor], ev: &Evidence) -> f64 {
    let n = cards.len();
    let mut x = vec![0usize; n];
    let mut best = f64::NEG_INFINITY;
    loop {
        let ok = (0..n).all(|i| ev.get(VarId(i as u32)).is_none_or(|s| s == x[i]));
        if ok {
            let v: f64 = factors.iter().map(|f| f.log_value(&x)).sum();
            best = best.max(v);
        }
        let mut k = 0;
        while k < n {
            x[k] += 1;
            if x[k] < cards[k] {
                break;
            }
            x[k] = 0;
            k += 1;
        }
        if k == n {
            return best;
        }
    }
}

/// Whether no change of one unobserved variable raises the value (a necessary condition of a
/// maximum).
fn locally_optimal(cards: &[usize], factors: &[TableFactor], ev: &Evidence, x: &[usize]) -> bool {
    let value = |x: &[usize]| -> f64 { factors.iter().map(|f| f.log_value(x)).sum() };
    let v0 = value(x);
    let mut y = x.to_vec();
    for i in 0..cards.len() {
        if ev.get(VarId(i as u32)).is_some() {
            continue;
        }
        for s in 0..cards[i] {
            y[i] = s;
            if value(&y) > v0 + 1e-9 * v0.abs().max(1.0) {
                return false;
            }
        }
        y[i] = x[i];
    }
    true
}

fn random_graph(seed: u64) -> (FactorGraph, Evidence) {
    use rand::Rng;
    let mut rng = pgmkit::rng::chain_rng(seed, 0);
    let n = rng.random_range(2..8usize);
    let cards: Vec<usize> = (0..n).map(|_| rng.random_range(1..4usize)).collect();
    let vars: Vec<Variable> = cards
        .iter()
        .enumerate()
        .map(|(i, &c)| Variable::with_cardinality(format!("v{i}"), c))
        .collect();
    let mut factors = Vec::new();
    for _ in 0..rng.random_range(1..10usize) {
        let k = rng.random_range(1..4usize).min(n);
        let mut scope: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = rng.random_range(i..n);
            scope.swap(i, j);
        }
        let mut scope: Vec<usize> = scope[..k].to_vec();
        scope.sort_unstable();
        let fc: Vec<usize> = scope.iter().map(|&v| cards[v]).collect();
        let size: usize = fc.iter().product();
        // values with ties and zeros
        let vals: Vec<f64> = (0..size)
            .map(|_| match rng.random_range(0..6u8) {
                0 => f64::NEG_INFINITY,
                1 => 0.0,
                _ => rng.random_range(-3.0..3.0),
            })
            .collect();
        factors.push(
            TableFactor::new(scope.iter().map(|&v| VarId(v as u32)).collect(), fc, vals).unwrap(),
        );
    }
    let mut ev = Evidence::new(n);
    if rng.random_range(0..2u8) == 1 {
        let v = rng.random_range(0..n);
        let s = rng.random_range(0..cards[v]);
        ev.set(&vars, VarId(v as u32), s).unwrap();
    }
    (FactorGraph::new(vars, factors).unwrap(), ev)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn mpe_equals_brute_force(seed in any::<u64>()) {
        let (fg, ev) = random_graph(seed);
        let cards = fg.cards();
        let best = brute_force(&cards, fg.factors(), &ev);
        match mpe(&fg, &ev, &ExactOptions::default()) {
            Ok(m) => {
                prop_assert!(best.is_finite());
                prop_assert!((m.log_value - best).abs() <= 1e-9 * best.abs().max(1.0),
                    "{} vs brute force {best}", m.log_value);
                prop_assert!((m.log_max - m.log_value).abs() <= 1e-9 * best.abs().max(1.0));
                for (i, &s) in m.assignment.iter().enumerate() {
                    prop_assert!(s < cards[i]);
                    if let Some(e) = ev.get(VarId(i as u32)) {
                        prop_assert_eq!(s, e);
                    }
                }
            }
            Err(pgmkit::Error::ZeroProbabilityEvidence) => prop_assert!(best == f64::NEG_INFINITY),
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}

fn bn(name: &str) -> pgmkit::BayesNet {
    let m = load_model(
        Path::new(&format!("tests/data/bif/{name}.bif")),
        &LoadOptions::default(),
    )
    .unwrap();
    let Model::Bayes(bn) = m else { panic!() };
    bn
}

#[test]
fn asia_mpe_matches_brute_force_under_evidence() {
    let bn = bn("asia");
    let factors: Vec<TableFactor> = bn.cpds().iter().map(|c| c.to_factor(bn.vars())).collect();
    let cards: Vec<usize> = bn.vars().iter().map(|v| v.card()).collect();
    for spec in [
        "",
        "xray=yes",
        "dysp=yes,smoke=no",
        "asia=yes,xray=no,dysp=yes",
    ] {
        let ev = if spec.is_empty() {
            Evidence::new(bn.num_vars())
        } else {
            bn.evidence(spec).unwrap()
        };
        let m = bn_mpe(&bn, &ev, &ExactOptions::default()).unwrap();
        let best = brute_force(&cards, &factors, &ev);
        assert!(
            (m.log_value - best).abs() < 1e-12,
            "{spec}: {} vs {best}",
            m.log_value
        );
    }
}

#[test]
fn larger_networks_give_a_consistent_local_optimum() {
    for (name, spec) in [
        ("alarm", "BP=HIGH,HRBP=HIGH,HREKG=HIGH"),
        ("alarm", ""),
        ("insurance", "Age=Adolescent"),
        ("hailfinder", ""),
        ("child", "LowerBodyO2=<5"),
    ] {
        let bn = bn(name);
        let ev = if spec.is_empty() {
            Evidence::new(bn.num_vars())
        } else {
            bn.evidence(spec).unwrap()
        };
        let m = bn_mpe(&bn, &ev, &ExactOptions::default()).unwrap();
        let factors: Vec<TableFactor> = bn.cpds().iter().map(|c| c.to_factor(bn.vars())).collect();
        let cards: Vec<usize> = bn.vars().iter().map(|v| v.card()).collect();
        assert!((m.log_max - m.log_value).abs() < 1e-9 * m.log_value.abs().max(1.0));
        assert!(
            locally_optimal(&cards, &factors, &ev, &m.assignment),
            "{name}"
        );
        // the MPE is at least as probable as the joint of the per-variable marginal modes
        let post = pgmkit::infer::exact::bn_marginals(&bn, &ev, &Default::default()).unwrap();
        let modes: Vec<usize> = (0..bn.num_vars())
            .map(|i| {
                let p = post.marginal(VarId(i as u32));
                (0..p.len()).fold(0, |b, k| if p[k] > p[b] { k } else { b })
            })
            .collect();
        let v: f64 = factors.iter().map(|f| f.log_value(&modes)).sum();
        assert!(m.log_value >= v - 1e-9, "{name}: {} < {v}", m.log_value);
    }
}

#[test]
fn uai_instances_give_a_consistent_local_optimum() {
    for name in [
        "Promedus_26.uai",
        "ObjectDetection_11.uai",
        "Segmentation_11.uai",
        "CSP_11.uai",
        "DBN_11.uai",
    ] {
        let p = Path::new("tests/data/uai").join(name);
        if !p.exists() {
            continue;
        }
        let m = load_model(&p, &LoadOptions::default()).unwrap();
        let fg = m.to_factor_graph();
        let text = std::fs::read_to_string(p.with_extension("uai.evid")).unwrap_or_default();
        let ev = if text.trim().is_empty() {
            Evidence::new(fg.num_vars())
        } else {
            pgmkit::io::uai::parse_evid(&text, fg.vars()).unwrap()
        };
        let r = mpe(&fg, &ev, &ExactOptions::default()).unwrap();
        assert!(
            (r.log_max - r.log_value).abs() < 1e-6 * r.log_value.abs().max(1.0),
            "{name}: {} vs {}",
            r.log_max,
            r.log_value
        );
        assert!(
            locally_optimal(&fg.cards(), fg.factors(), &ev, &r.assignment),
            "{name}"
        );
    }
}

#[test]
fn cli_map_json() {
    let j = cli_common::json(&[
        "map",
        "tests/data/bif/asia.bif",
        "-e",
        "xray=yes,dysp=yes",
        "--json",
    ]);
    assert_eq!(j["method"], "exact");
    assert_eq!(j["optimal"], true);
    let a = j["assignment"].as_object().unwrap();
    assert_eq!(a.len(), 6);
    assert_eq!(a["lung"], "yes");
    let lv = j["log_value"].as_f64().unwrap();
    assert!((j["log10_value"].as_f64().unwrap() - lv / std::f64::consts::LN_10).abs() < 1e-12);
    assert!(j["log_probability"].as_f64().unwrap() <= 0.0);
    assert_eq!(j["upper_bound"].as_f64().unwrap(), lv);
    // impossible evidence is a clear error
    let o = cli_common::pgmkit(&["map", "tests/data/bif/asia.bif", "-e", "either=no,tub=yes"]);
    assert!(!o.status.success());
}

#[test]
fn impute_map_fills_each_row_with_its_joint_map_completion() {
    use pgmkit::data::Dataset;
    use pgmkit::impute::{impute, ImputeMethod, ImputeOptions};
    for name in ["asia", "child"] {
        let bn = bn(name);
        let full =
            Dataset::from_samples(&pgmkit::sample::ancestral::forward_sample(&bn, 300, 5).unwrap());
        let (holey, _) = full.mask_mcar(0.4, 6).unwrap();
        let out = impute(
            &bn,
            &holey,
            &ImputeOptions {
                method: ImputeMethod::Map,
                ..Default::default()
            },
            None,
        )
        .unwrap();
        let done = &out.completed[0];
        let factors: Vec<TableFactor> = bn.cpds().iter().map(|c| c.to_factor(bn.vars())).collect();
        let n = bn.num_vars();
        for r in 0..holey.num_rows() {
            let mut ev = Evidence::new(n);
            let mut x = vec![0usize; n];
            for (i, xi) in x.iter_mut().enumerate() {
                let v = VarId(i as u32);
                if let Some(s) = holey.get(r, v) {
                    ev.set(bn.vars(), v, s).unwrap();
                }
                *xi = done.get(r, v).unwrap();
            }
            let value: f64 = factors.iter().map(|f| f.log_value(&x)).sum();
            assert!(value.is_finite(), "{name} row {r}: impossible completion");
            let m = bn_mpe(&bn, &ev, &ExactOptions::default()).unwrap();
            assert!(
                (value - m.log_value).abs() < 1e-9 * m.log_value.abs().max(1.0),
                "{name} row {r}: {value} vs MPE {}",
                m.log_value
            );
        }
    }
}

#[test]
fn marginal_map_equals_brute_force() {
    use pgmkit::infer::exact::{bn_log_evidence, marginal_map};
    // ASIA: the full joint summed by brute force
    let bn = bn("asia");
    let fg = bn.to_factor_graph();
    let factors: Vec<TableFactor> = bn.cpds().iter().map(|c| c.to_factor(bn.vars())).collect();
    let n = bn.num_vars();
    for (query, spec) in [
        (vec!["tub", "lung", "bronc"], "xray=yes,dysp=yes"),
        (vec!["smoke", "either", "asia", "tub"], "dysp=no"),
        (vec!["lung", "bronc", "tub", "smoke", "either"], ""),
    ] {
        let ev = if spec.is_empty() {
            Evidence::new(n)
        } else {
            bn.evidence(spec).unwrap()
        };
        let q: Vec<VarId> = query.iter().map(|v| bn.var_id(v).unwrap()).collect();
        let m = marginal_map(&fg, &ev, &q, &ExactOptions::default()).unwrap();
        // brute force: sum the joint over everything but the query, per query configuration
        let mut sums: std::collections::HashMap<Vec<usize>, f64> = Default::default();
        for k in 0..(1usize << n) {
            let x: Vec<usize> = (0..n).map(|i| (k >> i) & 1).collect();
            if (0..n).any(|i| ev.get(VarId(i as u32)).is_some_and(|s| s != x[i])) {
                continue;
            }
            let p: f64 = factors.iter().map(|f| f.log_value(&x)).sum::<f64>().exp();
            *sums
                .entry(q.iter().map(|v| x[v.index()]).collect())
                .or_default() += p;
        }
        let best = sums.values().cloned().fold(0.0, f64::max);
        assert!(
            (m.log_value - best.ln()).abs() < 1e-12,
            "{query:?}: {} vs {}",
            m.log_value,
            best.ln()
        );
        let got: Vec<usize> = q.iter().map(|v| m.assignment[v.index()]).collect();
        assert!((sums[&got] - best).abs() < 1e-15, "{query:?}");
    }
    // ALARM, 4 query variables: against ln P(q, e) from the barren-pruned engine
    let bn = self::bn("alarm");
    let fg = bn.to_factor_graph();
    let ev = bn.evidence("BP=HIGH,HRBP=HIGH").unwrap();
    let q: Vec<VarId> = ["HYPOVOLEMIA", "LVFAILURE", "INSUFFANESTH", "CATECHOL"]
        .iter()
        .map(|v| bn.var_id(v).unwrap())
        .collect();
    let m = marginal_map(&fg, &ev, &q, &ExactOptions::default()).unwrap();
    let cards: Vec<usize> = q.iter().map(|v| bn.var(*v).card()).collect();
    let mut best = f64::NEG_INFINITY;
    for k in 0..cards.iter().product::<usize>() {
        let mut e = ev.clone();
        let mut r = k;
        for (i, v) in q.iter().enumerate() {
            e.set(bn.vars(), *v, r % cards[i]).unwrap();
            r /= cards[i];
        }
        best = best.max(bn_log_evidence(&bn, &e, &Default::default()).unwrap().log_z);
    }
    assert!(
        (m.log_value - best).abs() < 1e-9,
        "{} vs {best}",
        m.log_value
    );
    // an observed query variable is an error
    let bad = [bn.var_id("BP").unwrap()];
    assert!(marginal_map(&fg, &ev, &bad, &ExactOptions::default()).is_err());
}

#[test]
fn bn_mpe_equals_the_reference_optima() {
    // tests/data/bif/mpe_reference.tsv: toulbar2's proven optima (alarm, insurance, hailfinder,
    // win95pts) and pgmpy's map_query (asia, cancer, sachs, survey), each assignment rescored
    // from the CPTs in float64 (benches/compare/bn_map.py --write-reference)
    let text = std::fs::read_to_string("tests/data/bif/mpe_reference.tsv").unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (cn, ce, cv) = (col("network"), col("evidence"), col("ln_p_joint"));
    let mut rows = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let net = bn(f[cn]);
        let ev = if f[ce].is_empty() {
            Evidence::new(net.num_vars())
        } else {
            net.evidence(f[ce]).unwrap()
        };
        let want: f64 = f[cv].parse().unwrap();
        let m = bn_mpe(&net, &ev, &ExactOptions::default()).unwrap();
        let fg = net.to_factor_graph();
        let recomputed: f64 = fg
            .factors()
            .iter()
            .map(|f| f.log_value(&m.assignment))
            .sum();
        assert!(
            (m.log_value - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{} [{}]: {} vs reference {want}",
            f[cn],
            f[ce],
            m.log_value
        );
        assert!((recomputed - m.log_value).abs() <= 1e-9 * want.abs().max(1.0));
        rows += 1;
    }
    assert!(rows >= 16, "{rows} reference rows");
}
