//! Generative classification with a Bayesian network: the posterior of a target variable for
//! every row given the row's other observed cells (missing cells summed out, exactly, by the
//! per-row engine [`crate::learn::RowEngine`]), and how well it predicts the rows' labels:
//! accuracy, log loss, the confusion matrix and, for a binary target, the area under the ROC
//! curve.
//!
//! ```
//! use pgmkit::classify::classify;
//! use pgmkit::data::Dataset;
//! use pgmkit::learn::RowOptions;
//! use pgmkit::BayesNetBuilder;
//! // class c -> feature f, f copies c with probability 0.8
//! let mut b = BayesNetBuilder::new();
//! let c = b.add_variable("c", ["no", "yes"]).unwrap();
//! let f = b.add_variable("f", ["no", "yes"]).unwrap();
//! b.set_cpd(c, &[], vec![0.5, 0.5]).unwrap();
//! b.set_cpd(f, &[c], vec![0.8, 0.2, 0.2, 0.8]).unwrap();
//! let bn = b.build().unwrap();
//! let d = Dataset::from_rows(bn.vars(), &[vec![1, 1], vec![0, 1], vec![0, 0]]).unwrap();
//! let r = classify(&bn, &d, c, RowOptions::default()).unwrap();
//! assert!((r.probs[0][1] - 0.8).abs() < 1e-12);
//! assert_eq!(r.predicted, vec![1, 1, 0]);
//! assert_eq!(r.accuracy, Some(2.0 / 3.0));
//! ```

use rayon::prelude::*;

use crate::data::{Dataset, MISSING};
use crate::error::{Error, Result};
use crate::learn::{RowEngine, RowOptions};
use crate::model::BayesNet;
use crate::var::VarId;

/// The result of [`classify`].
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// The target variable.
    pub target: VarId,
    /// Per row, the posterior of the target's states.
    pub probs: Vec<Vec<f64>>,
    /// Per row, the most probable state (the first on ties).
    pub predicted: Vec<usize>,
    /// Rows whose target cell is observed (the metrics are over these).
    pub labelled: usize,
    /// Share of labelled rows predicted right (`None` without a labelled row).
    pub accuracy: Option<f64>,
    /// Mean of `-ln p(label)` over labelled rows, nats (infinite when a label has
    /// probability zero).
    pub log_loss: Option<f64>,
    /// `confusion[true][predicted]` counts over labelled rows.
    pub confusion: Vec<Vec<usize>>,
    /// For a binary target, the ROC AUC of `p(state 1)` (ties counted half; `None` without
    /// both classes among the labels).
    pub auc: Option<f64>,
}

/// Classify every row of `data` (see the module docs). Rows are independent and their
/// results are kept in order, so the output does not depend on the number of threads.
/// Errors: data of another shape, a target out of range, a row whose other observed cells
/// have probability zero ([`Error::InvalidArgument`] naming the row and why), a component too
/// large for exact per-row inference ([`Error::TooLarge`]).
pub fn classify(
    bn: &BayesNet,
    data: &Dataset,
    target: VarId,
    opts: RowOptions,
) -> Result<Classification> {
    let t = target.index();
    if t >= bn.num_vars() {
        return Err(Error::InvalidArgument(format!(
            "target {t} is not one of the {} variables",
            bn.num_vars()
        )));
    }
    crate::error::check_dim(
        "data columns (one per variable)",
        bn.num_vars(),
        data.num_vars(),
    )?;
    let eng = RowEngine::new(bn, opts)?;
    let card = bn.vars()[t].card();
    let names: Vec<String> = bn.vars().iter().map(|v| v.name.clone()).collect();
    let rows: Vec<(Option<usize>, Vec<f64>)> = (0..data.num_rows())
        .into_par_iter()
        .map(|r| {
            let mut row = vec![0u16; data.num_vars()];
            data.row_into(r, &mut row);
            let label = (row[t] != MISSING).then_some(row[t] as usize);
            row[t] = MISSING;
            let post = eng.posterior(&row)?;
            if !post.is_possible() {
                return Err(Error::InvalidArgument(format!(
                    "row {}: the observed cells have probability zero under the model ({})",
                    r + 1,
                    eng.explain_zero(&row, &names)
                )));
            }
            let p = post
                .cell_marginals(&eng)?
                .into_iter()
                .find(|(v, _)| *v == t)
                .map(|(_, p)| p)
                .unwrap_or_else(|| vec![1.0 / card as f64; card]);
            Ok((label, p))
        })
        .collect::<Result<_>>()?;
    let argmax = |p: &[f64]| {
        p.iter()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |b, (i, &x)| if x > b.1 { (i, x) } else { b },
            )
            .0
    };
    let predicted: Vec<usize> = rows.iter().map(|(_, p)| argmax(p)).collect();
    let mut confusion = vec![vec![0usize; card]; card];
    let (mut labelled, mut right, mut loss) = (0usize, 0usize, 0.0f64);
    for ((label, p), &pred) in rows.iter().zip(&predicted) {
        if let Some(l) = *label {
            labelled += 1;
            right += usize::from(l == pred);
            loss -= p[l].ln();
            confusion[l][pred] += 1;
        }
    }
    let auc = (card == 2).then(|| binary_auc(&rows)).flatten();
    Ok(Classification {
        target,
        predicted,
        labelled,
        accuracy: (labelled > 0).then(|| right as f64 / labelled as f64),
        log_loss: (labelled > 0).then(|| loss / labelled as f64),
        confusion,
        auc,
        probs: rows.into_iter().map(|(_, p)| p).collect(),
    })
}

/// ROC AUC of `p[1]` for labelled binary rows (Mann-Whitney with average ranks for ties).
fn binary_auc(rows: &[(Option<usize>, Vec<f64>)]) -> Option<f64> {
    let mut s: Vec<(f64, usize)> = rows
        .iter()
        .filter_map(|(l, p)| l.map(|l| (p[1], l)))
        .collect();
    let pos = s.iter().filter(|x| x.1 == 1).count();
    let neg = s.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    s.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < s.len() {
        let mut j = i;
        while j < s.len() && s[j].0 == s[i].0 {
            j += 1;
        }
        let avg = (i + j + 1) as f64 / 2.0; // ranks i+1..=j
        rank_sum += avg * s[i..j].iter().filter(|x| x.1 == 1).count() as f64;
        i = j;
    }
    Some((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg) as f64)
}

/// The adjusted Rand index of two partitions of the same items (Hubert & Arabie 1985): 1 for
/// the same partition up to relabelling, about 0 for independent ones. Labels are any
/// integers; O(n + a b) for `a` and `b` distinct labels. Two partitions that are both a single
/// cluster (or both all singletons) give 1.
///
/// ```
/// use pgmkit::classify::adjusted_rand_index;
/// assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[5, 5, 2, 2]), 1.0);
/// assert!(adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]) < 0.0);
/// ```
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    assert_eq!(a.len(), b.len(), "two labellings of the same items");
    let relabel = |x: &[usize]| -> (Vec<usize>, usize) {
        let mut seen = std::collections::HashMap::new();
        let codes = x
            .iter()
            .map(|&l| {
                let k = seen.len();
                *seen.entry(l).or_insert(k)
            })
            .collect();
        (codes, seen.len())
    };
    let (ca, na) = relabel(a);
    let (cb, nb) = relabel(b);
    let mut table = vec![0u64; na * nb];
    for (&x, &y) in ca.iter().zip(&cb) {
        table[x * nb + y] += 1;
    }
    let pairs = |n: u64| (n * n.saturating_sub(1)) as f64 / 2.0;
    let index: f64 = table.iter().map(|&n| pairs(n)).sum();
    let rows: f64 = (0..na)
        .map(|i| pairs(table[i * nb..(i + 1) * nb].iter().sum()))
        .sum();
    let cols: f64 = (0..nb)
        .map(|j| pairs((0..na).map(|i| table[i * nb + j]).sum()))
        .sum();
    let total = pairs(a.len() as u64);
    let expected = if total > 0.0 {
        rows * cols / total
    } else {
        0.0
    };
    let max = 0.5 * (rows + cols);
    if max == expected {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_half() {
        let r = |l: usize, p: f64| (Some(l), vec![1.0 - p, p]);
        assert_eq!(binary_auc(&[r(0, 0.1), r(1, 0.9)]), Some(1.0));
        assert_eq!(binary_auc(&[r(0, 0.9), r(1, 0.1)]), Some(0.0));
        assert_eq!(binary_auc(&[r(0, 0.5), r(1, 0.5)]), Some(0.5));
        assert_eq!(binary_auc(&[r(1, 0.5)]), None);
    }
}
