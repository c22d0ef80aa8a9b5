//! Continuous energy models: HMC, MALA and random-walk Metropolis recover the moments of known
//! Gaussians; chains and AIS are thread-count invariant; AIS estimates ln Z of a 100-variable
//! GMRF (treated as a black-box energy) and of a two-component Gaussian mixture with a known
//! normaliser; reverse AIS gives the upper side; bad options are typed errors.
//!
//! # Statistical tests and their level
//!
//! Seeded, never retried. Means: `|mean_hat - mean| <= z * MCSE` (the chain runner's MCSE,
//! `sd / sqrt(split ESS)` from `pgmkit::diagnostics`); variances: the same with the MCSE of the
//! mean of `(x - mean)^2`. `z` is the Bonferroni quantile for a family-wise two-sided alpha of
//! 0.001 over the checks of one test. AIS: the mixture accepts `|Δ ln Z| <= 3 std_err` (as the
//! acceptance criterion asks; two-sided alpha 0.0027 under the delta-method normal
//! approximation); the GMRF accepts `|Δ ln Z| <= 0.05` (absolute, the acceptance criterion).

#![allow(clippy::needless_range_loop)]

use nalgebra::DMatrix;
use pgmkit::diagnostics::{mcse_mean, normal_quantile};
use pgmkit::gaussian::{Gmrf, LN_2PI};
use pgmkit::model::Boundary;
use pgmkit::rng::chain_rng;
use pgmkit::sample::continuous::chains::{
    run_continuous_chains, ContinuousChainConfig, ContinuousSummary,
};
use pgmkit::sample::continuous::{
    continuous_ais, continuous_bdmc, gradient_error, AisMove, ContinuousAisOptions,
    ContinuousTransition, Energy, FnEnergy, Hmc, HmcOptions, Mala, MalaOptions, RandomWalk,
    RandomWalkOptions,
};
use pgmkit::Error;
use rand::Rng;

/// A correlated Gaussian in `n` dimensions as a dense GMRF (mean and variances known exactly).
fn correlated_gaussian(n: usize, seed: u64) -> Gmrf {
    let mut rng = chain_rng(seed, 0);
    let a = DMatrix::from_fn(n, n, |_, _| rng.random::<f64>() - 0.5);
    let lam = &a * a.transpose() * (2.0 / n as f64) + DMatrix::identity(n, n) * 0.5;
    let h: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect();
    Gmrf::dense(lam, h).unwrap()
}

/// Check means and variances of every coordinate against the exact ones within z * MCSE.
fn check_moments(name: &str, s: &ContinuousSummary, mean: &[f64], var: &[f64]) {
    let n = mean.len();
    let z = normal_quantile(1.0 - 0.0005 / (2 * n) as f64);
    let d = s.draws_kept.as_ref().unwrap();
    let mut worst = 0.0f64;
    for i in 0..n {
        let se = s.mcse[i].unwrap();
        let t = (s.mean[i] - mean[i]).abs() / se;
        worst = worst.max(t);
        assert!(
            t <= z,
            "{name} mean {i}: {} vs {} ({t:.2} mcse)",
            s.mean[i],
            mean[i]
        );
        let sq: Vec<Vec<f64>> = (0..d.num_chains())
            .map(|c| {
                d.coordinate(c, i)
                    .iter()
                    .map(|x| (x - mean[i]) * (x - mean[i]))
                    .collect()
            })
            .collect();
        let refs: Vec<&[f64]> = sq.iter().map(|v| v.as_slice()).collect();
        let v_hat = sq.iter().flatten().sum::<f64>() / (d.num_chains() * d.num_draws()) as f64;
        let se_v = mcse_mean(&refs).unwrap();
        let t = (v_hat - var[i]).abs() / se_v;
        worst = worst.max(t);
        assert!(
            t <= z,
            "{name} var {i}: {v_hat} vs {} ({t:.2} mcse)",
            var[i]
        );
    }
    eprintln!(
        "{name}: worst deviation {worst:.2} mcse (bound {z:.2}), min ESS {:.0}, max R-hat {:.4}, \
         acceptance {:.3}, step sizes {:?}",
        s.min_ess.unwrap(),
        s.max_rhat.unwrap(),
        s.acceptance_rate,
        s.step_sizes
    );
}

#[test]
fn hmc_recovers_a_correlated_gaussian() {
    let g = correlated_gaussian(10, 1);
    let hmc = Hmc::new(&g, HmcOptions::default()).unwrap();
    let cfg = ContinuousChainConfig {
        chains: 4,
        warmup: 500,
        draws: 1000,
        seed: 2,
        ..Default::default()
    };
    let s = run_continuous_chains(&hmc, &cfg, None).unwrap();
    check_moments("HMC", &s, g.mean(), &g.variances());
    assert!(s.max_rhat.unwrap() < 1.01);
    assert!(
        s.acceptance_rate > 0.6 && s.acceptance_rate < 0.95,
        "{}",
        s.acceptance_rate
    );
    assert_eq!(s.divergences, 0);
}

#[test]
fn hmc_with_diagonal_mass_recovers_a_scaled_gaussian() {
    // independent coordinates with standard deviations 0.1 .. 10
    let sd: Vec<f64> = (0..6).map(|i| 0.1 * 10f64.powf(i as f64 * 0.4)).collect();
    let sd2 = sd.clone();
    let e = FnEnergy::new(
        6,
        move |x: &[f64]| -0.5 * x.iter().zip(&sd).map(|(v, s)| (v / s).powi(2)).sum::<f64>(),
        move |x: &[f64], g: &mut [f64]| {
            for i in 0..6 {
                g[i] = -x[i] / (sd2[i] * sd2[i]);
            }
            -0.5 * x
                .iter()
                .zip(&sd2)
                .map(|(v, s)| (v / s).powi(2))
                .sum::<f64>()
        },
    )
    .unwrap();
    let sd: Vec<f64> = (0..6).map(|i| 0.1 * 10f64.powf(i as f64 * 0.4)).collect();
    let var: Vec<f64> = sd.iter().map(|s| s * s).collect();
    assert!(gradient_error(&e, &[0.3, -0.2, 1.0, 2.0, -1.0, 0.5], 1e-5) < 1e-5);
    let opts = HmcOptions {
        inv_mass: Some(var.clone()),
        leapfrog_steps: 8,
        ..Default::default()
    };
    let hmc = Hmc::new(&e, opts).unwrap();
    let cfg = ContinuousChainConfig {
        chains: 4,
        warmup: 300,
        draws: 1000,
        seed: 5,
        ..Default::default()
    };
    let s = run_continuous_chains(&hmc, &cfg, None).unwrap();
    check_moments("HMC diag mass", &s, &[0.0; 6], &var);
}

#[test]
fn hmc_adapts_a_diagonal_mass() {
    // independent coordinates with standard deviations 0.1 .. 10, no mass given
    let sd: Vec<f64> = (0..6).map(|i| 0.1 * 10f64.powf(i as f64 * 0.4)).collect();
    let var: Vec<f64> = sd.iter().map(|s| s * s).collect();
    let g = Gmrf::dense(
        DMatrix::from_diagonal(&nalgebra::DVector::from_iterator(
            6,
            var.iter().map(|v| 1.0 / v),
        )),
        vec![0.0; 6],
    )
    .unwrap();
    let hmc = Hmc::new(
        &g,
        HmcOptions {
            leapfrog_steps: 8,
            ..Default::default()
        },
    )
    .unwrap();
    // drive one chain through warm-up by hand and look at the mass it chose
    let mut rng = chain_rng(3, 0);
    let mut x = vec![0.5; 6];
    let mut cs = hmc.init_chain();
    for _ in 0..500 {
        hmc.step(&mut x, &mut cs, true, &mut rng);
    }
    hmc.end_warmup(&mut cs);
    let m = hmc.inv_mass(&cs).expect("a mass was estimated");
    for i in 0..6 {
        let r = m[i] / var[i];
        assert!(
            r > 0.5 && r < 2.0,
            "coordinate {i}: inverse mass / variance = {r}"
        );
    }
    let cfg = ContinuousChainConfig {
        chains: 4,
        warmup: 500,
        draws: 1000,
        seed: 9,
        ..Default::default()
    };
    let s = run_continuous_chains(&hmc, &cfg, None).unwrap();
    check_moments("HMC adapted mass", &s, &[0.0; 6], &var);
    // with identity mass the sd-10 coordinate mixes over ~100 times more slowly
    assert!(s.min_ess.unwrap() > 100.0, "{:?}", s.min_ess);
}

#[test]
fn mala_recovers_a_correlated_gaussian() {
    let g = correlated_gaussian(5, 3);
    let k = Mala::new(&g, MalaOptions::default()).unwrap();
    let cfg = ContinuousChainConfig {
        chains: 4,
        warmup: 1000,
        draws: 5000,
        seed: 4,
        ..Default::default()
    };
    let s = run_continuous_chains(&k, &cfg, None).unwrap();
    check_moments("MALA", &s, g.mean(), &g.variances());
    assert!(
        (s.acceptance_rate - 0.574).abs() < 0.15,
        "{}",
        s.acceptance_rate
    );
}

#[test]
fn random_walk_recovers_a_correlated_gaussian() {
    let g = correlated_gaussian(3, 4);
    let k = RandomWalk::new(&g, RandomWalkOptions::default()).unwrap();
    let cfg = ContinuousChainConfig {
        chains: 4,
        warmup: 1000,
        draws: 10000,
        seed: 6,
        ..Default::default()
    };
    let s = run_continuous_chains(&k, &cfg, None).unwrap();
    check_moments("RWM", &s, g.mean(), &g.variances());
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn chains_and_ais_are_thread_count_invariant() {
    let g = correlated_gaussian(8, 7);
    let hmc = Hmc::new(&g, HmcOptions::default()).unwrap();
    let cfg = ContinuousChainConfig {
        chains: 3,
        warmup: 100,
        draws: 200,
        seed: 8,
        ..Default::default()
    };
    let mut a = in_pool(1, || run_continuous_chains(&hmc, &cfg, None).unwrap());
    let mut b = in_pool(2, || run_continuous_chains(&hmc, &cfg, None).unwrap());
    a.seconds = 0.0;
    b.seconds = 0.0;
    assert_eq!(a, b);
    let opts = ContinuousAisOptions {
        particles: 12,
        steps: 30,
        seed: 3,
        ..Default::default()
    };
    let mut a = in_pool(1, || continuous_ais(&g, &opts, None).unwrap());
    let mut b = in_pool(2, || continuous_ais(&g, &opts, None).unwrap());
    a.seconds = 0.0;
    b.seconds = 0.0;
    assert_eq!(a, b);
}

/// A 100-variable GMRF (10 x 10 lattice) used only through the `Energy` trait.
fn lattice_100() -> Gmrf {
    let h: Vec<f64> = (0..100)
        .map(|i| ((i * 37) % 17) as f64 / 17.0 - 0.5)
        .collect();
    Gmrf::lattice(10, 10, Boundary::Free, 4.4, 1.0, h).unwrap()
}

#[test]
fn ais_hmc_on_a_100_variable_gmrf() {
    let g = lattice_100();
    let exact = g.log_z();
    // the black box: only log density and gradient
    let e = FnEnergy::new(
        100,
        |x: &[f64]| g.log_density_unnormalized(x),
        |x: &[f64], grad: &mut [f64]| g.grad_log_density(x, grad),
    )
    .unwrap();
    // HMC (3 leapfrog steps) at 8000 temperatures; the base N(0, 0.7^2 I) is on the scale of
    // the target (conditional sd 0.48, marginal sd up to 1.3)
    let opts = ContinuousAisOptions {
        particles: 96,
        steps: 8000,
        kernel: AisMove::Hmc { leapfrog_steps: 3 },
        base_sd: 0.7,
        seed: 1,
        ..Default::default()
    };
    let (r, rev) = continuous_bdmc(&e, |rng| g.sample(rng), &opts).unwrap();
    let d = r.log_z - exact;
    eprintln!(
        "AIS-HMC GMRF-100: log Z-hat {:.4} ± {:.4} (exact {exact:.4}, Δ {d:+.4}), ESS {:.1}, \
         acceptance {:.3}, {} gradients, {:.2} s",
        r.log_z, r.std_err, r.ess, r.acceptance_rate, r.evals, r.seconds
    );
    assert!(d.abs() <= 0.05, "Δ = {d}");
    // reverse AIS from exact draws: the upper side
    let du = rev.log_z - exact;
    eprintln!(
        "reverse AIS GMRF-100: upper {:.4} ± {:.4} (Δ {du:+.4}), ESS {:.1}, {:.2} s",
        rev.log_z, rev.std_err, rev.ess, rev.seconds
    );
    assert!(du.abs() <= 0.05, "Δ = {du}");
    assert!(r.log_z - 3.0 * r.std_err <= exact && exact <= rev.log_z + 3.0 * rev.std_err);
}

/// `p~(x) = e^c [w N(x; 1, s1^2 I) + (1 - w) N(x; -1, s2^2 I)]` (modes 2 sqrt(dim) apart):
/// ln Z = c.
fn mixture(dim: usize) -> (impl Energy, f64) {
    let (w, s1, s2, c) = (0.4f64, 1.0f64, 0.8f64, 3.0f64);
    let comp = move |x: &[f64], m: f64, s: f64| {
        let q: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
        -0.5 * dim as f64 * (LN_2PI + 2.0 * s.ln()) - 0.5 * q / (s * s)
    };
    let f = move |x: &[f64]| {
        let a = w.ln() + comp(x, 1.0, s1);
        let b = (1.0 - w).ln() + comp(x, -1.0, s2);
        let m = a.max(b);
        c + m + ((a - m).exp() + (b - m).exp()).ln()
    };
    let grad = move |x: &[f64], g: &mut [f64]| {
        let a = w.ln() + comp(x, 1.0, s1);
        let b = (1.0 - w).ln() + comp(x, -1.0, s2);
        let m = a.max(b);
        let (ea, eb) = ((a - m).exp(), (b - m).exp());
        let (ra, rb) = (ea / (ea + eb), eb / (ea + eb));
        for (gi, v) in g.iter_mut().zip(x) {
            *gi = -ra * (v - 1.0) / (s1 * s1) - rb * (v + 1.0) / (s2 * s2);
        }
        c + m + (ea + eb).ln()
    };
    (FnEnergy::new(dim, f, grad).unwrap(), c)
}

#[test]
fn ais_on_a_two_component_mixture_within_three_standard_errors() {
    let (e, exact) = mixture(20);
    let x: Vec<f64> = (0..20).map(|i| (i as f64 * 0.37).sin()).collect();
    assert!(gradient_error(&e, &x, 1e-5) < 1e-5);
    for (kernel, name) in [
        (AisMove::Hmc { leapfrog_steps: 3 }, "HMC"),
        (AisMove::Mala, "MALA"),
    ] {
        let opts = ContinuousAisOptions {
            particles: 128,
            steps: 2000,
            kernel,
            base_sd: 2.0,
            seed: 11,
            ..Default::default()
        };
        let r = continuous_ais(&e, &opts, None).unwrap();
        let d = r.log_z - exact;
        eprintln!(
            "AIS-{name} mixture-20: log Z-hat {:.4} ± {:.4} (exact {exact}, Δ {d:+.4} = {:.2} se), \
             ESS {:.1}, acceptance {:.3}, {:.2} s",
            r.log_z,
            r.std_err,
            d / r.std_err,
            r.ess,
            r.acceptance_rate,
            r.seconds
        );
        assert!(
            d.abs() <= 3.0 * r.std_err,
            "{name}: Δ = {d}, se = {}",
            r.std_err
        );
    }
}

/// The conformance row of every continuous AIS kernel: log Z of a correlated 5-dimensional
/// Gaussian within z standard errors (two-sided level 0.001 over the kernels, Bonferroni).
#[test]
fn every_ais_kernel_matches_a_gaussian_log_z() {
    let g = correlated_gaussian(5, 3);
    let exact = g.log_z();
    let kernels = [
        (AisMove::Hmc { leapfrog_steps: 3 }, "HMC"),
        (AisMove::Mala, "MALA"),
        (AisMove::RandomWalk, "random walk"),
    ];
    let z = normal_quantile(1.0 - 0.0005 / kernels.len() as f64);
    for (kernel, name) in kernels {
        let opts = ContinuousAisOptions {
            particles: 128,
            steps: 500,
            kernel,
            base_sd: 1.5,
            seed: 5,
            ..Default::default()
        };
        let r = continuous_ais(&g, &opts, None).unwrap();
        let d = r.log_z - exact;
        eprintln!(
            "AIS-{name} gaussian-5: {:.4} ± {:.4} (exact {exact:.4}, {:.2} se), ESS {:.1}, \
             acceptance {:.3}",
            r.log_z,
            r.std_err,
            d / r.std_err,
            r.ess,
            r.acceptance_rate
        );
        assert!(
            r.std_err > 0.0 && r.std_err < 0.2,
            "{name}: se {}",
            r.std_err
        );
        assert!(
            d.abs() <= z * r.std_err,
            "{name}: Δ = {d}, se = {}",
            r.std_err
        );
    }
}

#[test]
fn bad_options_are_typed_errors() {
    let g = correlated_gaussian(3, 1);
    assert!(matches!(
        Hmc::new(
            &g,
            HmcOptions {
                step_size: 0.0,
                ..Default::default()
            }
        ),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        Hmc::new(
            &g,
            HmcOptions {
                inv_mass: Some(vec![1.0; 2]),
                ..Default::default()
            }
        ),
        Err(Error::DimensionMismatch {
            expected: 3,
            found: 2,
            ..
        })
    ));
    assert!(matches!(
        Hmc::new(
            &g,
            HmcOptions {
                inv_mass: Some(vec![1.0, -1.0, 1.0]),
                ..Default::default()
            }
        ),
        Err(Error::NonPositiveVariance { .. })
    ));
    assert!(matches!(
        Mala::new(
            &g,
            MalaOptions {
                target_accept: 1.5,
                ..Default::default()
            }
        ),
        Err(Error::InvalidArgument(_))
    ));
    assert!(FnEnergy::new(0, |_: &[f64]| 0.0, |_: &[f64], _: &mut [f64]| 0.0).is_err());
    let hmc = Hmc::new(&g, HmcOptions::default()).unwrap();
    let cfg = ContinuousChainConfig {
        init: pgmkit::sample::continuous::chains::Init::Given(vec![0.0; 2]),
        ..Default::default()
    };
    assert!(matches!(
        run_continuous_chains(&hmc, &cfg, None),
        Err(Error::DimensionMismatch { .. })
    ));
    let base_bad = ContinuousAisOptions {
        base_sd: 0.0,
        ..Default::default()
    };
    assert!(matches!(
        continuous_ais(&g, &base_bad, None),
        Err(Error::NonPositiveVariance { .. })
    ));
    let mean_bad = ContinuousAisOptions {
        base_mean: Some(vec![0.0; 4]),
        ..Default::default()
    };
    assert!(matches!(
        continuous_ais(&g, &mean_bad, None),
        Err(Error::DimensionMismatch {
            expected: 3,
            found: 4,
            ..
        })
    ));
    // an energy that is -inf everywhere: every particle dies
    let dead = FnEnergy::new(
        2,
        |_: &[f64]| f64::NEG_INFINITY,
        |_: &[f64], _: &mut [f64]| f64::NEG_INFINITY,
    )
    .unwrap();
    let opts = ContinuousAisOptions {
        particles: 4,
        steps: 5,
        ..Default::default()
    };
    assert!(matches!(
        continuous_ais(&dead, &opts, None),
        Err(Error::AllWeightsZero { count: 4, .. })
    ));
    assert_eq!(hmc.dim(), 3);
}

/// `time_limit` bounds the whole call: steps are fitted to the budget, cut batches are dropped,
/// and the result says so; without a limit the same options run exactly as asked.
#[test]
fn continuous_ais_time_limit_bounds_the_call() {
    let g = correlated_gaussian(200, 11);
    let opts = ContinuousAisOptions {
        particles: 64,
        steps: 2_000_000,
        base_sd: 2.0,
        time_limit: Some(std::time::Duration::from_millis(800)),
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let r = continuous_ais(&g, &opts, None).unwrap();
    let wall = t.elapsed().as_secs_f64();
    assert!(wall < 0.8 + 1.0, "took {wall} s for a 0.8 s budget");
    assert!(r.time_limited);
    assert!(
        r.betas.len() - 1 < opts.steps,
        "{} steps",
        r.betas.len() - 1
    );
    assert!(r.log_weights.len() >= 2 && r.log_weights.len() <= opts.particles);
    assert!(r.log_z.is_finite() && r.std_err.is_finite());
    // a generous budget for a small run changes nothing but raises the steps
    let small = ContinuousAisOptions {
        particles: 8,
        steps: 20,
        base_sd: 2.0,
        ..Default::default()
    };
    let plain = continuous_ais(&g, &small, None).unwrap();
    assert!(!plain.time_limited);
    assert_eq!(plain.betas.len(), 21);
    assert_eq!(plain.log_weights.len(), 8);
}
