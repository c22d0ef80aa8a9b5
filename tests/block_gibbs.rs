//! Blocked Gibbs (`sample::block`): exact block draws leave the tempered target invariant, and
//! AIS with it is unbiased on a model with deterministic (noisy-OR chain) structure.
//!
//! # Statistical tests and their level
//!
//! Every run is seeded and nothing is retried. Distribution checks are Pearson chi-square tests
//! of the counts of N states against the exact tempered target (computed by enumeration) at
//! alpha = 0.001 (critical value from the Wilson-Hilferty approximation). The unbiasedness test
//! checks that the mean of N i.i.d. ratios `w_i / Z` lies within 3.29 standard errors of 1
//! (two-sided alpha = 0.001).

use pgmkit::infer::ais::{ais, AisOptions, Base, Kernel, Schedule};
use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::rng::chain_rng;
use pgmkit::sample::block::{BlockGibbs, BlockOptions};
use pgmkit::sample::{TemperedBase, Tempering, Transition};
use pgmkit::{Evidence, FactorGraph, FactorGraphBuilder};
use rand::Rng;

/// A miniature Promedus: diseases d0..d3 with priors; two symptoms, each a chain of
/// deterministic OR gates with noisy links (`y_k = y_(k+1) OR (d_k AND noise)`, the way the
/// UAI Promedus networks write noisy-OR), sharing disease d1; both symptoms observed positive.
/// Variables: d0..d3 = 0..3, chain a: a0 (root, observed), a1, a2; chain b: b0 (observed), b1.
fn noisy_or_chains() -> (FactorGraph, Evidence) {
    let mut b = FactorGraphBuilder::new();
    let d: Vec<_> = (0..4)
        .map(|i| b.add_variable_card(format!("d{i}"), 2).unwrap())
        .collect();
    let a: Vec<_> = (0..3)
        .map(|i| b.add_variable_card(format!("a{i}"), 2).unwrap())
        .collect();
    let c: Vec<_> = (0..2)
        .map(|i| b.add_variable_card(format!("b{i}"), 2).unwrap())
        .collect();
    for (i, &v) in d.iter().enumerate() {
        let p = 0.1 + 0.15 * i as f64;
        b.add_factor(&[v], vec![1.0 - p, p]).unwrap();
    }
    // first link of a chain: y = noisy(d) (scope order y, d; y fastest is the last var, so we
    // give scope [d, y])
    let first = |q: f64| vec![1.0, 0.0, 1.0 - q, q];
    // y_k given (d_k, y_next): scope [d, next, y]
    let link = |q: f64| {
        let mut t = vec![0.0; 8];
        for dd in 0..2 {
            for nx in 0..2 {
                let p1 = if nx == 1 {
                    1.0
                } else if dd == 1 {
                    q
                } else {
                    0.0
                };
                t[dd * 4 + nx * 2] = 1.0 - p1;
                t[dd * 4 + nx * 2 + 1] = p1;
            }
        }
        t
    };
    // chain a: a2 = noisy(d2); a1 = a2 OR noisy(d1); a0 = a1 OR noisy(d0)
    b.add_factor(&[d[2], a[2]], first(0.8)).unwrap();
    b.add_factor(&[d[1], a[2], a[1]], link(0.7)).unwrap();
    b.add_factor(&[d[0], a[1], a[0]], link(0.9)).unwrap();
    // chain b: b1 = noisy(d3); b0 = b1 OR noisy(d1)
    b.add_factor(&[d[3], c[1]], first(0.6)).unwrap();
    b.add_factor(&[d[1], c[1], c[0]], link(0.5)).unwrap();
    let fg = b.build().unwrap();
    let mut ev = Evidence::new(fg.num_vars());
    ev.set(fg.vars(), a[0], 1).unwrap();
    ev.set(fg.vars(), c[0], 1).unwrap();
    (fg, ev)
}

/// A non-uniform fully factorised base.
fn base(fg: &FactorGraph) -> Vec<Vec<f64>> {
    (0..fg.num_vars())
        .map(|i| {
            let p = 0.2 + 0.07 * (i % 5) as f64;
            vec![(1.0 - p).ln(), p.ln()]
        })
        .collect()
}

/// Every state of the binary model consistent with the evidence, with its tempered log mass.
fn tempered_states(fg: &FactorGraph, ev: &Evidence, t: &Tempering<'_>) -> Vec<(Vec<usize>, f64)> {
    let n = fg.num_vars();
    let mut out = Vec::new();
    for code in 0..(1usize << n) {
        let x: Vec<usize> = (0..n).map(|i| (code >> i) & 1).collect();
        if ev.iter().any(|(v, s)| x[v.index()] != s) {
            continue;
        }
        let lp = fg.log_potential(&x);
        if lp == f64::NEG_INFINITY {
            continue;
        }
        let lb: f64 = t.base.factorised().map_or(0.0, |b| {
            (0..n)
                .filter(|&i| ev.get(pgmkit::VarId(i as u32)).is_none())
                .map(|i| b[i][x[i]])
                .sum()
        });
        out.push((x, t.beta * lp + (1.0 - t.beta) * lb));
    }
    out
}

/// Upper alpha = 0.001 point of chi-square with `df` degrees of freedom (Wilson-Hilferty).
fn chi2_crit(df: f64) -> f64 {
    let z = 3.0902;
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

/// Pearson chi-square of `n` states drawn by `draw(j)` against the exact target.
fn chi_square(
    states: &[(Vec<usize>, f64)],
    n: usize,
    mut draw: impl FnMut(usize) -> Vec<usize>,
) -> (f64, f64) {
    let lz = states.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = states.iter().map(|s| (s.1 - lz).exp()).collect();
    let tot: f64 = w.iter().sum();
    let mut counts = vec![0usize; states.len()];
    for j in 0..n {
        let x = draw(j);
        let k = states
            .iter()
            .position(|s| s.0 == x)
            .unwrap_or_else(|| panic!("drew a state of probability zero: {x:?}"));
        counts[k] += 1;
    }
    let chi: f64 = counts
        .iter()
        .zip(&w)
        .map(|(&c, &wi)| {
            let e = n as f64 * wi / tot;
            (c as f64 - e).powi(2) / e
        })
        .sum();
    (chi, chi2_crit(states.len() as f64 - 1.0))
}

/// Exact draw from the enumerated target.
fn exact_draw<R: Rng>(states: &[(Vec<usize>, f64)], rng: &mut R) -> Vec<usize> {
    let lz = states.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
    let tot: f64 = states.iter().map(|s| (s.1 - lz).exp()).sum();
    let u = rng.random::<f64>() * tot;
    let mut acc = 0.0;
    for s in states {
        acc += (s.1 - lz).exp();
        if u < acc {
            return s.0.clone();
        }
    }
    states.last().unwrap().0.clone()
}

/// With one block holding every free variable, one sweep from any valid state is an exact
/// draw of the tempered target: this checks the bucket elimination and backward sampling.
#[test]
fn one_block_sweep_is_an_exact_draw() {
    let (fg, ev) = noisy_or_chains();
    let k = BlockGibbs::new(&fg, &ev, &BlockOptions::default()).unwrap();
    assert_eq!(k.blocks().len(), 1, "blocks {:?}", k.blocks());
    let b = base(&fg);
    for (beta, with_base) in [(1.0, false), (0.6, true)] {
        let t = if with_base {
            Tempering::factorised(beta, &b)
        } else {
            Tempering::uniform(beta)
        };
        let states = tempered_states(&fg, &ev, &t);
        let start = states[0].0.clone();
        let prep = k.prepare(&t);
        let (chi, crit) = chi_square(&states, 60_000, |j| {
            let mut x = start.clone();
            k.sweep(&mut x, &prep, &mut chain_rng(1, j as u64));
            x
        });
        assert!(chi <= crit, "beta {beta}: chi-square {chi:.1} > {crit:.1}");
    }
}

/// With small blocks (several blocks, messages between buckets of partial chains), one sweep
/// from exact draws of the tempered target gives the target again (stationarity), for the
/// systematic and the random scan.
#[test]
fn small_blocks_leave_the_tempered_target_invariant() {
    let (fg, ev) = noisy_or_chains();
    let b = base(&fg);
    for random_scan in [false, true] {
        let o = BlockOptions {
            max_table: 4,
            max_block: 3,
            bridge_max: 4,
            covers: 2,
            random_scan,
        };
        let k = BlockGibbs::new(&fg, &ev, &o).unwrap();
        let nb = k.blocks().len();
        assert!(
            nb > 2 && k.blocks().iter().any(|b| b.len() > 1),
            "{:?}",
            k.blocks()
        );
        let t = Tempering::factorised(0.7, &b);
        let states = tempered_states(&fg, &ev, &t);
        let prep = k.prepare(&t);
        let (chi, crit) = chi_square(&states, 60_000, |j| {
            let mut r = chain_rng(2, j as u64);
            let mut x = exact_draw(&states, &mut r);
            k.sweep(&mut x, &prep, &mut r);
            x
        });
        assert!(
            chi <= crit,
            "random scan {random_scan}: chi-square {chi:.1} > {crit:.1}"
        );
    }
}

/// The mean of the AIS weights with blocked Gibbs (the default kernel on models with zeros) is
/// an unbiased estimate of Z = P(evidence): mean(w / Z) within 3.29 standard errors of 1.
#[test]
fn ais_with_block_gibbs_is_unbiased_on_noisy_or_chains() {
    let (fg, ev) = noisy_or_chains();
    let exact = exact::log_z(&fg, &ev, &ExactOptions::default())
        .unwrap()
        .log_z;
    for (kernel, base) in [
        (Kernel::Auto, Base::Auto),
        (Kernel::BlockGibbs, Base::Network),
        (Kernel::BlockGibbs, Base::Uniform),
    ] {
        let opts = AisOptions {
            particles: 20_000,
            steps: 6,
            schedule: Schedule::Linear,
            kernel,
            base,
            seed: 21,
            ..AisOptions::default()
        };
        let r = ais(&fg, &ev, &opts, None).unwrap();
        // a Bayesian network with zeros: the default base is the network itself
        let used = if base == Base::Uniform {
            Base::Uniform
        } else {
            Base::Network
        };
        assert_eq!(r.base, used);
        let ratios: Vec<f64> = r.log_weights.iter().map(|l| (l - exact).exp()).collect();
        let n = ratios.len() as f64;
        let mean = ratios.iter().sum::<f64>() / n;
        let var = ratios.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let se = (var / n).sqrt();
        assert!(
            var > 1e-4,
            "the weights should vary on a short path (var {var})"
        );
        assert!(
            (mean - 1.0).abs() <= 3.29 * se,
            "{kernel:?} {base:?}: mean of Z-hat/Z = {mean:.4} +- {se:.4}"
        );
    }
}

/// Blocked Gibbs results do not depend on the number of threads.
#[test]
fn block_gibbs_ais_is_thread_count_invariant() {
    let (fg, ev) = noisy_or_chains();
    let opts = AisOptions {
        particles: 16,
        steps: 40,
        kernel: Kernel::BlockGibbs,
        seed: 4,
        ..AisOptions::default()
    };
    let run = |t: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap()
            .install(|| ais(&fg, &ev, &opts, None).unwrap())
    };
    let (a, b) = (run(1), run(2));
    let bits = |r: &pgmkit::infer::ais::AisResult| -> Vec<u64> {
        r.log_weights.iter().map(|l| l.to_bits()).collect()
    };
    assert_eq!(bits(&a), bits(&b));
}

/// The mixed target `prod_k exp((1 - beta) a_k + beta m_k)` of a kernel with a factor base
/// (what AIS uses with the network base): one sweep from exact draws leaves it invariant.
#[test]
fn factor_base_target_is_invariant() {
    let (fg, ev) = noisy_or_chains();
    // a: the model's values with every entry perturbed (zeros stay zeros)
    let mut a = Vec::new();
    for (k, f) in fg.factors().iter().enumerate() {
        for (i, &l) in f.log_values().iter().enumerate() {
            a.push(if l == f64::NEG_INFINITY {
                l
            } else {
                0.3 * ((i * 7 + k * 3) % 5) as f64 - 0.6
            });
        }
    }
    for (max_table, bridge_max) in [(64, 32), (4, 4), (4, 0)] {
        let o = BlockOptions {
            max_table,
            max_block: 3,
            bridge_max,
            covers: 2,
            random_scan: false,
        };
        let k = BlockGibbs::new(&fg, &ev, &o).unwrap();
        let beta = 0.45;
        let t = Tempering {
            beta,
            base: TemperedBase::Factors(&a),
        };
        let prep = k.prepare(&t);
        let n = fg.num_vars();
        let mut states = Vec::new();
        for code in 0..(1usize << n) {
            let x: Vec<usize> = (0..n).map(|i| (code >> i) & 1).collect();
            if ev.iter().any(|(v, s)| x[v.index()] != s) {
                continue;
            }
            let mut off = 0;
            let mut l = 0.0;
            for f in fg.factors() {
                let m = f.log_value(&x);
                // flat index of x in f
                let mut idx = 0;
                for (v, &c) in f.scope().iter().zip(f.cards()) {
                    idx = idx * c + x[v.index()];
                }
                let b = a[off + idx];
                off += f.len();
                l += if m == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
                    f64::NEG_INFINITY
                } else {
                    (1.0 - beta) * b + beta * m
                };
            }
            if l > f64::NEG_INFINITY {
                states.push((x, l));
            }
        }
        let (chi, crit) = chi_square(&states, 60_000, |j| {
            let mut r = chain_rng(3, j as u64);
            let mut x = exact_draw(&states, &mut r);
            k.sweep(&mut x, &prep, &mut r);
            x
        });
        assert!(
            chi <= crit,
            "max_table {max_table}, bridges {bridge_max}: chi-square {chi:.1} > {crit:.1}"
        );
    }
}
