//! Log-likelihood of the reference samples under their generating networks (SOURCES.md values),
//! scoring speed, KL divergence.

use std::path::{Path, PathBuf};
use std::time::Instant;

use pgmkit::data::csv::{read_csv_path, CsvOptions};
use pgmkit::io::{bif::parse_bif, read_text, LoadOptions};
use pgmkit::learn::RowOptions;
use pgmkit::score::{kl_divergence, score, KlMethod};
use pgmkit::BayesNet;

fn net(name: &str) -> BayesNet {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/bif/{name}.bif"));
    parse_bif(&read_text(&p).unwrap(), &LoadOptions::default()).unwrap()
}

fn sample_path(name: &str) -> Option<PathBuf> {
    let local =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/samples/{name}_10k.csv.gz"));
    if local.exists() {
        return Some(local);
    }
    let shared = PathBuf::from(format!("/work/shared/data/samples/{name}_10k.csv.gz"));
    shared.exists().then_some(shared)
}

const REFERENCE: &[(&str, f64)] = &[
    ("alarm", -104660.93918538446),
    ("hailfinder", -490562.4379887416),
    ("win95pts", -90543.35688483239),
    ("andes", -929037.2675329434),
    ("pathfinder", -235096.22293233732),
    ("munin", -1738309.352453194),
];

#[test]
fn reference_log_likelihoods_match_to_1e9() {
    for &(name, want) in REFERENCE {
        let Some(path) = sample_path(name) else {
            eprintln!("skipping {name}: {name}_10k.csv.gz is neither in tests/data/samples nor /work/shared/data/samples");
            continue;
        };
        let bn = net(name);
        let t = Instant::now();
        let table = read_csv_path(&path, bn.vars(), &CsvOptions::default()).unwrap();
        let read = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let s = score(&bn, &table.data, &RowOptions::default()).unwrap();
        let sc = t.elapsed().as_secs_f64();
        let rel = ((s.total_log_lik - want) / want).abs();
        eprintln!(
            "{name}: total {:.10} want {want} rel {rel:.2e}; read {read:.3} s, score {sc:.3} s",
            s.total_log_lik
        );
        assert_eq!(s.rows, 10_000);
        assert!(rel <= 1e-9, "{name}: {} vs {want}", s.total_log_lik);
    }
}

#[test]
fn kl_is_zero_for_identical_and_exact_matches_monte_carlo() {
    let p = net("asia");
    assert!(
        kl_divergence(&p, &p, KlMethod::Exact, 1 << 24)
            .unwrap()
            .kl
            .abs()
            < 1e-12
    );
    let q = net("survey").clone();
    let _ = q;
    // Q: asia with every CPT smoothed towards uniform
    let probs: Vec<Vec<f64>> = p
        .cpds()
        .iter()
        .map(|c| c.probs.iter().map(|&x| 0.8 * x + 0.1).collect())
        .collect();
    let q = pgmkit::learn::with_probs(&p, probs).unwrap();
    let ex = kl_divergence(&p, &q, KlMethod::Exact, 1 << 24).unwrap();
    let mc = kl_divergence(
        &p,
        &q,
        KlMethod::MonteCarlo {
            samples: 200_000,
            seed: 3,
        },
        1 << 24,
    )
    .unwrap();
    let se = mc.std_err.unwrap();
    assert!(ex.exact && ex.kl > 0.0);
    assert!(
        (ex.kl - mc.kl).abs() < 5.0 * se,
        "exact {} mc {} se {se}",
        ex.kl,
        mc.kl
    );
    // brute force over all 2^8 states
    let n = p.num_vars();
    let mut brute = 0.0;
    for code in 0..(1usize << n) {
        let x: Vec<usize> = (0..n).map(|i| (code >> i) & 1).collect();
        let lp = p.log_prob(&x);
        if lp > f64::NEG_INFINITY {
            brute += lp.exp() * (lp - q.log_prob(&x));
        }
    }
    assert!(
        (ex.kl - brute).abs() < 1e-12,
        "exact {} brute {brute}",
        ex.kl
    );
}
