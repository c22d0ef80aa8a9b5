//! Forward sampling, likelihood weighting and rejection sampling: seeded statistical tests
//! against exact inference, thread invariance, bad input and value stability.
//!
//! Every statistical test uses a fixed seed and a stated significance level, and is run once (no
//! retries): with a correct sampler each fails with at most the stated probability over seeds.

use std::path::Path;

use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::io::{load_model, LoadOptions};
use pgmkit::sample::ancestral::{forward_sample, Codes, ForwardSampler, Samples, BLOCK_ROWS};
use pgmkit::sample::weighting::{likelihood_weighting, rejection_sample, LikelihoodWeighting};
use pgmkit::{BayesNet, BayesNetBuilder, Error, Evidence, Model, VarId};

fn load_bn(name: &str) -> BayesNet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/bif")
        .join(format!("{name}.bif"));
    match load_model(&path, &LoadOptions::default()).unwrap() {
        Model::Bayes(bn) => bn,
        _ => unreachable!("a BIF file holds a Bayesian network"),
    }
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

// ---------------------------------------------------------------------------------------------
// statistics helpers

/// Upper tail P(X >= x) of a chi-square variable with `df` degrees of freedom (the library's).
fn chi2_sf(x: f64, df: usize) -> f64 {
    pgmkit::num::chi2_p_value(x, df as f64)
}

#[test]
fn chi2_helper_matches_tables() {
    // 0.999 quantiles of chi-square (standard tables) have upper tail 0.001.
    for (df, q) in [
        (1, 10.828),
        (2, 13.816),
        (3, 16.266),
        (10, 29.588),
        (30, 59.703),
    ] {
        let p = chi2_sf(q, df);
        assert!((p - 0.001).abs() < 2e-6, "df {df}: {p}");
    }
    // 0.05 critical values.
    for (df, q) in [(1, 3.841), (4, 9.488), (20, 31.410)] {
        assert!((chi2_sf(q, df) - 0.05).abs() < 1e-4);
    }
    assert!((chi2_sf(2.0, 2) - (-1.0f64).exp()).abs() < 1e-14);
}

/// Pearson chi-square goodness of fit of observed counts to probabilities `p`. States whose
/// expected count is below 5 are pooled (smallest first) until the pool reaches 5. Returns
/// (statistic, degrees of freedom); a count on a state of probability 0 is a hard failure.
fn pearson(counts: &[u64], p: &[f64]) -> (f64, usize) {
    let n: u64 = counts.iter().sum();
    let nf = n as f64;
    let mut cells: Vec<(f64, f64)> = Vec::new(); // (expected, observed)
    for (&c, &q) in counts.iter().zip(p) {
        if q == 0.0 {
            assert_eq!(c, 0, "a state of probability zero was sampled");
            continue;
        }
        cells.push((nf * q, c as f64));
    }
    cells.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let mut bins: Vec<(f64, f64)> = Vec::new();
    let mut pool = (0.0, 0.0);
    for (e, o) in cells {
        if pool.0 < 5.0 && e < 5.0 {
            pool.0 += e;
            pool.1 += o;
        } else {
            bins.push((e, o));
        }
    }
    if pool.0 > 0.0 {
        if pool.0 < 5.0 && !bins.is_empty() {
            bins[0].0 += pool.0;
            bins[0].1 += pool.1;
        } else {
            bins.push(pool);
        }
    }
    let stat = bins.iter().map(|&(e, o)| (o - e) * (o - e) / e).sum();
    (stat, bins.len().saturating_sub(1))
}

/// Every variable's sampled counts against the exact prior marginals, at family-wise level
/// `alpha` (Bonferroni over the variables tested).
fn check_forward_marginals(name: &str, n: usize, seed: u64, alpha: f64) {
    let bn = load_bn(name);
    let exact =
        exact::bn_marginals(&bn, &Evidence::new(bn.num_vars()), &ExactOptions::default()).unwrap();
    let s = forward_sample(&bn, n, seed).unwrap();
    assert_eq!(s.num_rows(), n);
    let counts = s.counts();
    let tested: Vec<(usize, f64, usize)> = (0..bn.num_vars())
        .filter_map(|v| {
            let p = exact.marginal(VarId(v as u32));
            let (stat, df) = pearson(&counts[v], &p);
            (df > 0).then_some((v, stat, df))
        })
        .collect();
    let level = alpha / tested.len() as f64;
    let mut worst = (1.0f64, String::new());
    for &(v, stat, df) in &tested {
        let pv = chi2_sf(stat, df);
        if pv < worst.0 {
            worst = (pv, bn.vars()[v].name.clone());
        }
        assert!(
            pv >= level,
            "{name}: variable {} fails chi-square: stat {stat:.2}, df {df}, p-value {pv:e} < {level:e}",
            bn.vars()[v].name
        );
    }
    eprintln!(
        "{name}: {} variables tested, smallest p-value {:.4} ({}), level {level:e}",
        tested.len(),
        worst.0,
        worst.1
    );
}

/// Asia, N = 100 000, seed 2024: alpha = 0.001 family-wise (Bonferroni over 8 variables).
#[test]
fn forward_marginals_asia_match_exact() {
    check_forward_marginals("asia", 100_000, 2024, 0.001);
}

/// Alarm, N = 200 000, seed 2024: alpha = 0.001 family-wise (Bonferroni over 37 variables).
#[test]
fn forward_marginals_alarm_match_exact() {
    check_forward_marginals("alarm", 200_000, 2024, 0.001);
}

// ---------------------------------------------------------------------------------------------
// likelihood weighting

const ALARM_EV: &str = "BP=HIGH,HRBP=HIGH,HREKG=HIGH";
const ALARM_LOG_PE: f64 = -1.230642298396106;

/// LW on alarm with BP=HIGH, HRBP=HIGH, HREKG=HIGH; N = 100 000, seed 11. ln P(e) within 3
/// standard errors (two-sided level about 0.0027); every marginal probability within
/// 4 MCSE + 3/ESS of exact (4 sigma: about 6e-5 per state; the 3/ESS floor covers states of
/// posterior probability below about 1/ESS, which may not be sampled at all and so have MCSE 0).
#[test]
fn lw_alarm_log_evidence_and_marginals() {
    let bn = load_bn("alarm");
    let ev = bn.evidence(ALARM_EV).unwrap();
    let n = 100_000;
    let est = likelihood_weighting(&bn, &ev, n, 11).unwrap();
    let se = est.log_z.std_err.unwrap();
    let ess = est.log_z.ess.unwrap();
    eprintln!(
        "LW alarm: ln P(e) = {:.6} (exact {ALARM_LOG_PE}), se {se:.2e}, ess {ess:.0}, nonzero {}",
        est.log_z.log_z, est.num_nonzero
    );
    assert_eq!(est.num_samples, n);
    assert!(se > 0.0 && se < 0.01);
    assert!(ess > 1.0 && ess <= n as f64);
    assert!(
        (est.log_z.log_z - ALARM_LOG_PE).abs() <= 3.0 * se,
        "ln P(e) = {} is not within 3 se ({se}) of {ALARM_LOG_PE}",
        est.log_z.log_z
    );
    assert_eq!(est.posterior.log_z, est.log_z.log_z);

    let exact = exact::bn_marginals(&bn, &ev, &ExactOptions::default()).unwrap();
    let mut worst = 0.0f64;
    for v in 0..bn.num_vars() {
        let id = VarId(v as u32);
        let p_hat = est.posterior.marginal(id);
        let p = exact.marginal(id);
        assert!((p_hat.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for s in 0..p.len() {
            let se = est.mcse[v][s];
            assert!(se.is_finite() && se >= 0.0);
            let d = (p_hat[s] - p[s]).abs();
            worst = worst.max(d / (se + 1e-300));
            assert!(
                d <= 4.0 * se + 3.0 / ess,
                "{}={}: LW {} vs exact {} (mcse {se:e})",
                bn.vars()[v].name,
                bn.vars()[v].states[s],
                p_hat[s],
                p[s]
            );
        }
        if let Some(e) = ev.get(id) {
            assert_eq!(p_hat[e], 1.0);
            assert!(est.mcse[v].iter().all(|&x| x == 0.0));
        }
    }
    eprintln!("LW alarm: largest |error| / mcse = {worst:.2}");
}

/// Rejection sampling on asia with xray=yes, dysp=yes (P(e) about 0.064): N = 200 000, seed 5;
/// ln P(e) within 3 standard errors (level about 0.0027).
#[test]
fn rejection_asia_matches_exact() {
    let bn = load_bn("asia");
    let ev = bn.evidence("xray=yes,dysp=yes").unwrap();
    let exact_pe = exact::bn_log_evidence(&bn, &ev, &ExactOptions::default())
        .unwrap()
        .log_z;
    let r = rejection_sample(&bn, &ev, 200_000, 5).unwrap();
    let se = r.log_z.std_err.unwrap();
    assert!(
        (r.log_z.log_z - exact_pe).abs() <= 3.0 * se,
        "{} vs {exact_pe} (se {se})",
        r.log_z.log_z
    );
    assert_eq!(r.num_proposals, 200_000);
    assert_eq!(r.accepted.num_rows() as f64, r.log_z.ess.unwrap());
    let xray = bn.var_id("xray").unwrap();
    for row in 0..r.accepted.num_rows() {
        assert_eq!(r.accepted.get(row, xray), 0);
    }
}

/// With no evidence, weighted rows are the forward rows and every weight is 1.
#[test]
fn lw_without_evidence_is_forward_sampling() {
    let bn = load_bn("alarm");
    let lw = LikelihoodWeighting::new(&bn, &Evidence::new(bn.num_vars())).unwrap();
    let ws = lw.sample_weighted(3000, 9).unwrap();
    let fw = forward_sample(&bn, 3000, 9).unwrap();
    assert_eq!(ws.samples, fw);
    assert!(ws.log_weights.iter().all(|&w| w == 0.0));
}

/// `sample_row` replays a block: block b of any output is chain_rng(seed, b) row after row.
#[test]
fn rows_replay_from_their_block_stream() {
    let bn = load_bn("alarm");
    let f = ForwardSampler::new(&bn).unwrap();
    let n = BLOCK_ROWS + 10;
    let s = f.sample_codes(n, 77).unwrap();
    let mut rng = pgmkit::rng::chain_rng(77, 1);
    let mut row = vec![0; bn.num_vars()];
    let mut stored = vec![0; bn.num_vars()];
    for i in 0..10 {
        f.sample_row(&mut rng, &mut row);
        s.row_into(BLOCK_ROWS + i, &mut stored);
        assert_eq!(row, stored);
    }
    // Weighted rows replay the same way, with their weights.
    let ev = bn.evidence(ALARM_EV).unwrap();
    let lw = LikelihoodWeighting::new(&bn, &ev).unwrap();
    let ws = lw.sample_weighted(n, 77).unwrap();
    let mut rng = pgmkit::rng::chain_rng(77, 1);
    for i in 0..10 {
        let w = lw.sample_row(&mut rng, &mut row);
        ws.samples.row_into(BLOCK_ROWS + i, &mut stored);
        assert_eq!(row, stored);
        assert_eq!(w, ws.log_weights[BLOCK_ROWS + i]);
        // (weights use CPT columns divided by their sums; alarm's are off by < 1e-6)
        assert!((w - (bn.log_prob(&row) - log_prob_free(&bn, &ev, &row))).abs() < 1e-6);
    }
}

/// ln P(x) restricted to the CPDs of unobserved variables (so ln P(x) minus this is the LW weight).
fn log_prob_free(bn: &BayesNet, ev: &Evidence, row: &[usize]) -> f64 {
    bn.cpds()
        .iter()
        .filter(|c| ev.get(c.child).is_none())
        .map(|c| c.log_prob(bn.vars(), row))
        .sum()
}

// ---------------------------------------------------------------------------------------------
// thread invariance and CSV

/// Same seed, 1 and 2 threads: identical codes, CSV bytes, weighted rows, LW estimates and
/// rejection results. N = 5 000 is 5 blocks, the last one partial.
#[test]
fn thread_count_invariance() {
    let bn = load_bn("alarm");
    let ev = bn.evidence(ALARM_EV).unwrap();
    let n = 5_000;
    let run = |threads| {
        in_pool(threads, || {
            let f = ForwardSampler::new(&bn).unwrap();
            let codes = f.sample_codes(n, 3).unwrap();
            let mut csv = Vec::new();
            f.write_csv(n, 3, &mut csv).unwrap();
            let lw = LikelihoodWeighting::new(&bn, &ev).unwrap();
            let ws = lw.sample_weighted(n, 3).unwrap();
            let est = lw.estimate(n, 3).unwrap();
            let mut lw_csv = Vec::new();
            lw.write_csv(n, 3, &mut lw_csv).unwrap();
            let rej = rejection_sample(&bn, &ev, n, 3).unwrap();
            (codes, csv, ws, est, lw_csv, rej)
        })
    };
    let a = run(1);
    let b = run(2);
    assert_eq!(a.0, b.0, "codes");
    assert_eq!(a.1, b.1, "CSV bytes");
    assert_eq!(a.2, b.2, "weighted rows");
    assert_eq!(format!("{:?}", a.3), format!("{:?}", b.3), "LW estimate");
    assert_eq!(a.4, b.4, "LW CSV bytes");
    assert_eq!(format!("{:?}", a.5), format!("{:?}", b.5), "rejection");
    // bit-level equality of the estimate
    assert_eq!(a.3.log_z.log_z.to_bits(), b.3.log_z.log_z.to_bits());
    assert_eq!(
        a.3.log_z.std_err.unwrap().to_bits(),
        b.3.log_z.std_err.unwrap().to_bits()
    );
    // The LW estimate agrees with its own weighted rows.
    let lw = &a.2.log_weights;
    let m = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = lw.iter().map(|&w| (w - m).exp()).sum::<f64>() / n as f64;
    assert!((m + mean.ln() - a.3.log_z.log_z).abs() < 1e-12);
    // The CSV holds the same rows as the codes.
    check_csv_matches(&bn, &a.1, &a.0, false);
    check_csv_matches(&bn, &a.4, &a.2.samples, true);
}

fn check_csv_matches(bn: &BayesNet, csv: &[u8], s: &Samples, weighted: bool) {
    let mut rdr = csv::Reader::from_reader(csv);
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let mut names: Vec<String> = bn.vars().iter().map(|v| v.name.clone()).collect();
    if weighted {
        names.push("log_weight".into());
    }
    assert_eq!(header, names);
    let mut rows = 0;
    for (r, rec) in rdr.records().enumerate() {
        let rec = rec.unwrap();
        for v in 0..bn.num_vars() {
            let st = s.get(r, VarId(v as u32));
            assert_eq!(&rec[v], bn.vars()[v].states[st]);
        }
        if weighted {
            let _: f64 = rec[bn.num_vars()].parse().unwrap();
        }
        rows += 1;
    }
    assert_eq!(rows, s.num_rows());
}

#[test]
fn codes_are_bytes_for_small_cardinalities() {
    let bn = load_bn("alarm");
    let s = forward_sample(&bn, 10, 1).unwrap();
    assert!(matches!(s.codes(), Codes::U8(c) if c.len() == 10 * bn.num_vars()));
}

#[test]
fn csv_quotes_state_names_that_need_it() {
    let mut b = BayesNetBuilder::new();
    let a = b.add_variable("a,b", ["x y", "p,q", "say \"hi\""]).unwrap();
    b.set_cpd(a, &[], vec![0.2, 0.3, 0.5]).unwrap();
    let bn = b.build().unwrap();
    let f = ForwardSampler::new(&bn).unwrap();
    let mut out = Vec::new();
    f.write_csv(2000, 1, &mut out).unwrap();
    let s = f.sample_codes(2000, 1).unwrap();
    check_csv_matches(&bn, &out, &s, false);
    assert!(out.starts_with(b"\"a,b\"\n"));
}

// ---------------------------------------------------------------------------------------------
// bad input

fn asia_deterministic_or() -> BayesNet {
    load_bn("asia")
}

#[test]
fn unknown_state_in_evidence() {
    let bn = load_bn("alarm");
    let err = bn.evidence("BP=NOPE").unwrap_err();
    assert!(matches!(err, Error::UnknownState { ref var, .. } if var == "BP"));
    assert!(err.to_string().contains("NOPE"));
    // Evidence built by hand with an out-of-range state or variable is refused as well.
    let mut bad = vec![None; bn.num_vars()];
    bad[0] = Some(99);
    let err = LikelihoodWeighting::new(&bn, &Evidence::from_options(bad)).unwrap_err();
    assert!(matches!(err, Error::UnknownState { .. }), "{err}");
    let mut bad = vec![None; bn.num_vars() + 1];
    bad[bn.num_vars()] = Some(0);
    let err = likelihood_weighting(&bn, &Evidence::from_options(bad), 10, 1).unwrap_err();
    assert!(matches!(err, Error::UnknownVariable(_)), "{err}");
}

/// asia: either = lung OR tub, so lung=yes, either=no has probability zero. An error, never NaN.
#[test]
fn zero_probability_evidence() {
    let bn = asia_deterministic_or();
    let ev = bn.evidence("lung=yes,either=no").unwrap();
    let err = likelihood_weighting(&bn, &ev, 10_000, 1).unwrap_err();
    assert!(matches!(err, Error::ZeroProbabilityEvidence), "{err}");
    let err = rejection_sample(&bn, &ev, 10_000, 1).unwrap_err();
    assert!(matches!(err, Error::ZeroProbabilityEvidence), "{err}");
    // A root observed in a state of probability zero.
    let mut b = BayesNetBuilder::new();
    let a = b.add_variable("a", ["no", "yes"]).unwrap();
    b.set_cpd(a, &[], vec![1.0, 0.0]).unwrap();
    let bn = b.build().unwrap();
    let err = likelihood_weighting(&bn, &bn.evidence("a=yes").unwrap(), 100, 1).unwrap_err();
    assert!(matches!(err, Error::ZeroProbabilityEvidence), "{err}");
}

/// P(e) = 1e-12 > 0, but no affordable number of samples reaches it: all weights are zero
/// (likelihood weighting) or every sample is rejected (rejection sampling). Clear errors.
#[test]
fn evidence_too_improbable_for_the_samples() {
    let mut b = BayesNetBuilder::new();
    let a = b.add_variable("a", ["no", "yes"]).unwrap();
    let c = b.add_variable("c", ["no", "yes"]).unwrap();
    b.set_cpd(a, &[], vec![1.0 - 1e-12, 1e-12]).unwrap();
    b.set_cpd(c, &[a], vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    let bn = b.build().unwrap();
    let ev = bn.evidence("c=yes").unwrap();
    let err = likelihood_weighting(&bn, &ev, 50_000, 1).unwrap_err();
    assert!(
        matches!(err, Error::AllWeightsZero { count: 50_000, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("all 50000 samples have weight zero"), "{msg}");
    assert!(msg.contains("possible"), "{msg}");
    let err = rejection_sample(&bn, &ev, 50_000, 1).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(
        err.to_string().contains("rejected all 50000"),
        "{}",
        err.to_string()
    );
    // The weighted rows themselves are available, with weight -inf (not NaN).
    let ws = LikelihoodWeighting::new(&bn, &ev)
        .unwrap()
        .sample_weighted(100, 1)
        .unwrap();
    assert!(ws.log_weights.iter().all(|&w| w == f64::NEG_INFINITY));
}

#[test]
fn zero_samples_is_an_error() {
    let bn = load_bn("asia");
    let f = ForwardSampler::new(&bn).unwrap();
    let is_arg = |e: Error| matches!(e, Error::InvalidArgument(_));
    assert!(is_arg(f.sample_codes(0, 1).unwrap_err()));
    assert!(is_arg(f.write_csv(0, 1, Vec::new()).unwrap_err()));
    let ev = bn.evidence("xray=yes").unwrap();
    let lw = LikelihoodWeighting::new(&bn, &ev).unwrap();
    assert!(is_arg(lw.estimate(0, 1).unwrap_err()));
    assert!(is_arg(lw.sample_weighted(0, 1).unwrap_err()));
    assert!(is_arg(lw.write_csv(0, 1, Vec::new()).unwrap_err()));
    assert!(is_arg(rejection_sample(&bn, &ev, 0, 1).unwrap_err()));
}

struct FailingWriter;
impl std::io::Write for FailingWriter {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_are_io_errors() {
    let bn = load_bn("asia");
    let err = ForwardSampler::new(&bn)
        .unwrap()
        .write_csv(10, 1, FailingWriter)
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("disk full"));
}

// ---------------------------------------------------------------------------------------------
// value stability

/// The first rows of asia for seed 7 are pinned: a change here changes every seeded result.
#[test]
fn asia_seed_7_rows_are_pinned() {
    let bn = load_bn("asia");
    let f = ForwardSampler::new(&bn).unwrap();
    let mut csv = Vec::new();
    f.write_csv(6, 7, &mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    let expected = "\
asia,tub,smoke,lung,bronc,either,xray,dysp
no,no,yes,yes,yes,yes,yes,yes
no,no,no,no,no,no,no,yes
no,no,no,no,no,no,no,no
no,no,yes,no,yes,no,no,yes
no,no,no,no,no,no,no,no
no,no,no,no,yes,no,no,yes
";
    assert_eq!(text, expected);
    // Likelihood weighting with xray=yes: the same stream (xray consumes no random number).
    let ev = bn.evidence("xray=yes").unwrap();
    let ws = LikelihoodWeighting::new(&bn, &ev)
        .unwrap()
        .sample_weighted(6, 7)
        .unwrap();
    let either = bn.var_id("either").unwrap();
    let got: Vec<(usize, f64)> = (0..6)
        .map(|r| (ws.samples.get(r, either), ws.log_weights[r]))
        .collect();
    let (yes, no) = (-0.020202707317519466, -2.995732273553991); // ln 0.98, ln 0.05
    assert_eq!(
        got,
        vec![(0, yes), (1, no), (1, no), (1, no), (1, no), (1, no)]
    );
}
