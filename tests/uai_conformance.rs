//! Exact log Z and marginals on the UAI 2014 instances with independently verified answers
//! (tests/data/uai/answers.tsv). A fast subset runs in `cargo test --release`; all 67
//! `exact-verified` instances run with
//! `cargo test --release --test uai_conformance -- --ignored --nocapture`
//! (or `cargo run --release --example uai_conformance` for the table).

mod common;
use common::uai::{answers, run_instance};

const LOG10_TOL: f64 = 1e-6;
const MAR_TOL: f64 = 1e-6;

fn check(names: &[&str], with_mar: bool) {
    let all = answers();
    for name in names {
        let a = all
            .iter()
            .find(|a| a.name == *name)
            .unwrap_or_else(|| panic!("{name} in answers.tsv"));
        let o = run_instance(a, with_mar);
        let z = o.log10_z.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            o.error <= LOG10_TOL,
            "{name}: log10 Z {z} vs {} (error {:e})",
            a.log10_z,
            o.error
        );
        if let Some(me) = o.mar_error {
            assert!(me <= MAR_TOL, "{name}: marginals off by {me:e}");
        }
        eprintln!(
            "{name}: width {} log10 Z {z:.10} error {:.1e} mar {:?} {:.2}s",
            o.width, o.error, o.mar_error, o.seconds
        );
    }
}

/// One or more instances of every family that must solve, chosen to be quick.
#[test]
fn fast_subset_log_z_and_marginals() {
    check(
        &[
            "Grids_12",
            "DBN_11",
            "Segmentation_12",
            "Pedigree_12",
            "CSP_12",
            "Alchemy_11",
            "ObjectDetection_12",
            "Promedus_13",
            "Promedus_26",
            "Promedus_24",
        ],
        true,
    );
}

#[test]
#[ignore = "all 67 exact-verified instances: several minutes; run with --ignored"]
fn all_exact_verified_instances() {
    let all = answers();
    let names: Vec<&str> = all
        .iter()
        .filter(|a| a.status == "exact-verified")
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names.len(), 67);
    check(&names, true);
}
