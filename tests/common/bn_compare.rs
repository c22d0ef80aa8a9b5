//! Comparing two Bayesian networks over the same variables and states, matched by name (the
//! format tests: a network read from another engine's file against the BIF original).
#![allow(dead_code)]

use pgmkit::BayesNet;

/// (ln P under `a`, ln P under `b`) of each row of a forward sample of `a` (seeded), variables
/// and states of `b` matched to `a`'s by name.
pub fn log_probs_by_name(a: &BayesNet, b: &BayesNet, rows: usize, seed: u64) -> Vec<(f64, f64)> {
    let s = pgmkit::sample::ancestral::forward_sample(a, rows, seed).unwrap();
    let map: Vec<(usize, Vec<usize>)> = a
        .vars()
        .iter()
        .map(|v| {
            let j = b.vars().iter().position(|w| w.name == v.name).unwrap();
            let st = v
                .states
                .iter()
                .map(|x| b.vars()[j].states.iter().position(|y| y == x).unwrap())
                .collect();
            (j, st)
        })
        .collect();
    let mut x = vec![0; a.num_vars()];
    (0..rows)
        .map(|r| {
            s.row_into(r, &mut x);
            let mut y = vec![0; b.num_vars()];
            for (i, (j, st)) in map.iter().enumerate() {
                y[*j] = st[x[i]];
            }
            (a.log_prob(&x), b.log_prob(&y))
        })
        .collect()
}
