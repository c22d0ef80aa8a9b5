//! Imputation: multiple-imputation draws follow the exact posterior (seeded chi-square tests,
//! alpha = 0.001 each, no retries), draws never form a zero-probability configuration, observed
//! cells never change, impossible rows are reported.

use std::path::Path;

use pgmkit::data::{Dataset, MISSING};
use pgmkit::impute::{impute, ImpossibleRows, ImputeMethod, ImputeOptions};
use pgmkit::infer::exact::{bn_log_evidence, bn_marginals, ExactOptions};
use pgmkit::io::{bif::parse_bif, read_text, LoadOptions};
use pgmkit::sample::ancestral::forward_sample;
use pgmkit::{BayesNet, BayesNetBuilder, Error, Evidence, VarId};

fn net(name: &str) -> BayesNet {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/bif/{name}.bif"));
    parse_bif(&read_text(&p).unwrap(), &LoadOptions::default()).unwrap()
}

/// Upper 0.001 quantile of chi-square with `df` degrees of freedom (Wilson-Hilferty; accurate to
/// about 1% for df >= 1, which only moves the effective alpha slightly).
fn chi2_crit_001(df: usize) -> f64 {
    let d = df as f64;
    let z = 3.090_232; // standard normal upper 0.001 quantile
    d * (1.0 - 2.0 / (9.0 * d) + z * (2.0 / (9.0 * d)).sqrt()).powi(3)
}

/// Pearson chi-square of observed counts against probabilities. States with an expected count
/// below 5 are pooled into one cell (the usual validity rule); states with p = 0 must be empty.
fn chi2(obs: &[f64], p: &[f64]) -> (f64, usize) {
    let n: f64 = obs.iter().sum();
    let mut s = 0.0;
    let mut cells = 0usize;
    let (mut pool_o, mut pool_e) = (0.0, 0.0);
    for (&o, &q) in obs.iter().zip(p) {
        if q == 0.0 {
            assert_eq!(o, 0.0, "a zero-probability state was drawn");
            continue;
        }
        if n * q < 5.0 {
            pool_o += o;
            pool_e += n * q;
            continue;
        }
        s += (o - n * q).powi(2) / (n * q);
        cells += 1;
    }
    if pool_e > 0.0 {
        s += (pool_o - pool_e).powi(2) / pool_e;
        cells += 1;
    }
    (s, cells.saturating_sub(1).max(1))
}

#[test]
fn multiple_imputation_draws_match_exact_posteriors() {
    let bn = net("alarm");
    let n = bn.num_vars();
    let names = [
        "HYPOVOLEMIA",
        "LVFAILURE",
        "STROKEVOLUME",
        "LVEDVOLUME",
        "CO",
        "HR",
        "CATECHOL",
    ];
    let hide: Vec<usize> = names
        .iter()
        .map(|s| bn.var_id(s).unwrap().index())
        .collect();
    let base = Dataset::from_samples(&forward_sample(&bn, 3, 5).unwrap());
    let copies = 1000;
    let m = 20;
    let mut tests = 0;
    for pat in 0..3 {
        // one observed row repeated `copies` times, the same cells hidden in every copy
        let mut cols: Vec<Vec<u16>> = vec![Vec::with_capacity(copies); n];
        for (v, col) in cols.iter_mut().enumerate() {
            let x = base.column(VarId(v as u32))[pat];
            col.resize(copies, if hide.contains(&v) { MISSING } else { x });
        }
        let d = Dataset::from_columns(bn.vars(), cols).unwrap();
        let opts = ImputeOptions {
            method: ImputeMethod::Sample,
            imputations: m,
            seed: 42 + pat as u64,
            ..ImputeOptions::default()
        };
        let out = impute(&bn, &d, &opts, None).unwrap();
        let mut ev = Evidence::new(n);
        for v in 0..n {
            if !hide.contains(&v) {
                ev.set(
                    bn.vars(),
                    VarId(v as u32),
                    base.column(VarId(v as u32))[pat] as usize,
                )
                .unwrap();
            }
        }
        let post = bn_marginals(&bn, &ev, &ExactOptions::default()).unwrap();
        for &v in &hide {
            let k = bn.vars()[v].card();
            let mut obs = vec![0.0; k];
            for c in &out.completed {
                for r in 0..copies {
                    obs[c.get(r, VarId(v as u32)).unwrap()] += 1.0;
                }
            }
            let (s, df) = chi2(&obs, &post.marginal(VarId(v as u32)));
            assert!(
                s < chi2_crit_001(df),
                "pattern {pat} {}: chi2 {s} df {df}",
                bn.vars()[v].name
            );
            tests += 1;
        }
        // the joint of two dependent hidden cells (LVFAILURE, STROKEVOLUME)
        let (a, b) = (hide[1], hide[2]);
        let (ka, kb) = (bn.vars()[a].card(), bn.vars()[b].card());
        let mut obs = vec![0.0; ka * kb];
        for c in &out.completed {
            for r in 0..copies {
                obs[c.get(r, VarId(a as u32)).unwrap() * kb
                    + c.get(r, VarId(b as u32)).unwrap()] += 1.0;
            }
        }
        let lz = bn_log_evidence(&bn, &ev, &ExactOptions::default())
            .unwrap()
            .log_z;
        let mut p = vec![0.0; ka * kb];
        for (i, pi) in p.iter_mut().enumerate() {
            let mut e2 = ev.clone();
            e2.set(bn.vars(), VarId(a as u32), i / kb).unwrap();
            e2.set(bn.vars(), VarId(b as u32), i % kb).unwrap();
            *pi = (bn_log_evidence(&bn, &e2, &ExactOptions::default())
                .unwrap()
                .log_z
                - lz)
                .exp();
        }
        let (s, df) = chi2(&obs, &p);
        assert!(
            s < chi2_crit_001(df),
            "pattern {pat} joint: chi2 {s} df {df}\nobs {obs:?}\np {p:?}"
        );
        tests += 1;
    }
    assert_eq!(tests, 24);
}

/// a in {0,1,2}; b = a exactly; c = (a == 2). Draws of (a, b) given c must keep b = a.
fn deterministic_net() -> BayesNet {
    let mut g = BayesNetBuilder::new();
    let a = g.add_variable("a", ["0", "1", "2"]).unwrap();
    let b = g.add_variable("b", ["0", "1", "2"]).unwrap();
    let c = g.add_variable("c", ["no", "yes"]).unwrap();
    g.set_cpd(a, &[], vec![0.5, 0.3, 0.2]).unwrap();
    g.set_cpd(b, &[a], vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
        .unwrap();
    g.set_cpd(c, &[b], vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
        .unwrap();
    g.build().unwrap()
}

#[test]
fn draws_never_contain_a_zero_probability_configuration() {
    let bn = deterministic_net();
    let rows = 3000;
    let cols = vec![
        vec![MISSING; rows],
        (0..rows)
            .map(|r| if r % 3 == 0 { 1 } else { MISSING })
            .collect(),
        (0..rows)
            .map(|r| if r % 2 == 0 { 0 } else { MISSING })
            .collect(),
    ];
    let d = Dataset::from_columns(bn.vars(), cols).unwrap();
    let opts = ImputeOptions {
        method: ImputeMethod::Sample,
        imputations: 5,
        seed: 1,
        ..ImputeOptions::default()
    };
    let out = impute(&bn, &d, &opts, None).unwrap();
    let mut x = vec![0usize; 3];
    let mut seen_two = false;
    for c in &out.completed {
        for r in 0..rows {
            for (v, xv) in x.iter_mut().enumerate() {
                *xv = c.get(r, VarId(v as u32)).unwrap();
            }
            assert!(
                bn.log_prob(&x) > f64::NEG_INFINITY,
                "row {r}: zero-probability draw {x:?}"
            );
            // observed cells unchanged
            for v in 0..3 {
                if let Some(o) = d.get(r, VarId(v)) {
                    assert_eq!(o, x[v as usize]);
                }
            }
            seen_two |= x[0] == 2;
        }
    }
    assert!(seen_two, "rows with c missing should sometimes draw a = 2");
}

#[test]
fn impossible_rows_are_reported_not_filled() {
    let bn = deterministic_net();
    // row 2 (1-based): b = 1 but c = yes (impossible); row 1 fine
    let cols = vec![vec![MISSING, MISSING], vec![0, 1], vec![0, 1]];
    let d = Dataset::from_columns(bn.vars(), cols).unwrap();
    match impute(&bn, &d, &ImputeOptions::default(), None) {
        Err(Error::ZeroProbabilityRows { count, rows, why }) => {
            assert_eq!((count, rows), (1, vec![2]));
            assert!(why.contains("P(c = yes"), "{why}");
        }
        r => panic!("expected ZeroProbabilityRows, got {r:?}"),
    }
    let opts = ImputeOptions {
        impossible: ImpossibleRows::LeaveMissing,
        ..ImputeOptions::default()
    };
    let out = impute(&bn, &d, &opts, None).unwrap();
    assert_eq!(out.impossible_rows.len(), 1);
    assert_eq!(out.impossible_rows[0].0, 1);
    assert_eq!(out.completed[0].get(0, VarId(0)), Some(0));
    assert_eq!(out.completed[0].get(1, VarId(0)), None);
}
