//! Certificates of the MAP methods beyond exact inference on every exact-verified UAI 2014
//! instance: the dual bound is never below the true optimum and no assignment is above it.
//!
//! The optima (tests/data/uai/mpe_optima.tsv) are pgmkit's exact max-product values, each one
//! checked against toulbar2 1.4's proven optimum where toulbar2 proves one within 60 s
//! (`python3 benches/compare/mpe_toulbar2.py --write-optima tests/data/uai/mpe_optima.tsv`).

use std::time::Duration;

use pgmkit::infer::map::{map_anneal, map_dual, AnnealOptions, DualOptions};
use pgmkit::limits::Deadline;

#[path = "common/uai.rs"]
mod uai_common;

/// (name, log10 of the optimum) of every row of mpe_optima.tsv.
fn optima() -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(uai_common::uai_dir().join("mpe_optima.tsv")).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let (cn, cv) = (
        header.iter().position(|h| *h == "name").unwrap(),
        header.iter().position(|h| *h == "log10_mpe").unwrap(),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[cn].to_string(), f[cv].parse().unwrap())
        })
        .collect()
}

#[test]
fn every_exact_verified_instance_has_an_optimum() {
    let opt = optima();
    for a in uai_common::answers()
        .iter()
        .filter(|a| a.status == "exact-verified")
    {
        assert!(
            opt.iter().any(|(n, _)| *n == a.name),
            "{} missing from mpe_optima.tsv",
            a.name
        );
    }
}

#[test]
fn dual_bounds_and_anneal_values_bracket_the_optimum_on_all_67() {
    let ln10 = std::f64::consts::LN_10;
    let mut gaps = Vec::new();
    for (name, log10_opt) in optima() {
        let (fg, ev) = uai_common::load_instance(&name);
        let opt = log10_opt * ln10;
        let tol = 1e-6 * ln10 * opt.abs().max(1.0);
        let d = map_dual(
            &fg,
            &ev,
            &DualOptions {
                max_sweeps: 100,
                deadline: Deadline::after(Some(Duration::from_millis(400))),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            d.upper_bound >= opt - tol,
            "{name}: bound {} below the optimum {opt}",
            d.upper_bound
        );
        assert!(d.log_value <= opt + tol, "{name}: value {}", d.log_value);
        let v: f64 = fg
            .factors()
            .iter()
            .map(|f| f.log_value(&d.assignment))
            .sum();
        if d.log_value.is_finite() {
            assert!((v - d.log_value).abs() <= tol, "{name}: recomputed {v}");
        }
        let s = map_anneal(
            &fg,
            &ev,
            Some(&d.assignment),
            Some(d.upper_bound),
            &AnnealOptions {
                chains: 2,
                sweeps: 20,
                levels: 10,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            s.log_value >= d.log_value && s.log_value <= opt + tol,
            "{name}"
        );
        assert!(s.upper_bound >= opt - tol, "{name}");
        if s.optimal {
            assert!(
                (s.log_value - opt).abs() <= tol,
                "{name}: optimal but {}",
                s.log_value
            );
        }
        gaps.push((name, s.gap, d.sweeps, d.seconds));
    }
    eprintln!("{gaps:?}");
    assert_eq!(gaps.len(), 67);
}

#[test]
fn exact_mpe_certified_by_the_dual_is_the_optimum() {
    use pgmkit::infer::exact::{mpe, ExactOptions, MpeProof};
    let opt = optima();
    let mut by_dual = 0;
    for name in [
        "ObjectDetection_11",
        "Segmentation_11",
        "Segmentation_12",
        "Segmentation_15",
        "Promedus_14",
        "Promedus_26",
        "Pedigree_13",
        "Alchemy_11",
        "c432.isc.cnf",
    ] {
        let (fg, ev) = uai_common::load_instance(name);
        let m = mpe(&fg, &ev, &ExactOptions::default()).unwrap();
        let want = opt.iter().find(|(n, _)| n == name).unwrap().1;
        let got = m.log_value / std::f64::consts::LN_10;
        assert!(
            (got - want).abs() <= 1e-6,
            "{name}: {got} vs {want} ({:?})",
            m.proof
        );
        let v: f64 = fg
            .factors()
            .iter()
            .map(|f| f.log_value(&m.assignment))
            .sum();
        assert!((v - m.log_value).abs() <= 1e-9 * v.abs().max(1.0));
        assert!(m.log_max >= m.log_value - 1e-9 * v.abs().max(1.0));
        by_dual += (m.proof == MpeProof::Dual) as usize;
    }
    assert!(by_dual >= 3, "{by_dual} certified by the dual");
}
