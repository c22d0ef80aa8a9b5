//! Parameter estimation for a Bayesian network of known structure from counts: maximum
//! likelihood, or Bayesian (posterior mean under a Dirichlet prior: a constant pseudo-count per
//! cell, or BDeu).

use crate::data::{Dataset, MISSING};
use crate::error::{Error, Result};
use crate::model::{BayesNet, BayesNetBuilder};

/// The prior of the CPT columns.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Prior {
    /// None: maximum likelihood (a column without any count becomes uniform).
    #[default]
    None,
    /// The same pseudo-count `alpha > 0` added to every cell (`alpha = 1` is Laplace).
    Dirichlet(f64),
    /// BDeu with equivalent sample size `ess > 0`: pseudo-count `ess / (q_i r_i)` per cell, where
    /// `q_i` is the number of parent configurations and `r_i` the number of states.
    BDeu(f64),
}

impl Prior {
    /// The pseudo-count of one cell of a CPT with `len` entries and `card` child states.
    pub fn pseudo_count(&self, len: usize, card: usize) -> f64 {
        match *self {
            Prior::None => 0.0,
            Prior::Dirichlet(a) => a,
            Prior::BDeu(ess) => ess / (len as f64 / card as f64) / card as f64,
        }
    }

    /// Check the prior's parameter.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Prior::Dirichlet(a) | Prior::BDeu(a) if !(a.is_finite() && a > 0.0) => Err(
                Error::InvalidArgument(format!("a prior pseudo-count must be > 0, got {a}")),
            ),
            _ => Ok(()),
        }
    }

    /// ln of the (unnormalised) Dirichlet prior density at `probs`: `sum (alpha - 1) ln p`.
    /// Zero for [`Prior::None`]. EM with a prior increases log-likelihood plus this.
    pub fn log_density(&self, bn: &BayesNet) -> f64 {
        if *self == Prior::None {
            return 0.0;
        }
        let mut s = 0.0;
        for c in bn.cpds() {
            let k = bn.var(c.child).card();
            let a = self.pseudo_count(c.probs.len(), k);
            if a != 1.0 {
                for &p in &c.probs {
                    s += (a - 1.0) * crate::num::ln(p);
                }
            }
        }
        s
    }
}

/// Counts of every family configuration in complete data: one table per CPD, laid out like it.
/// Errors when a cell is missing (use [`super::em`](mod@super::em) for incomplete data).
pub fn family_counts(bn: &BayesNet, data: &Dataset) -> Result<Vec<Vec<f64>>> {
    check_shape(bn, data)?;
    let mut counts: Vec<Vec<f64>> = bn.cpds().iter().map(|c| vec![0.0; c.probs.len()]).collect();
    for (i, c) in bn.cpds().iter().enumerate() {
        let mut fam: Vec<usize> = c.parents.iter().map(|p| p.index()).collect();
        fam.push(c.child.index());
        let cols: Vec<&[u16]> = fam.iter().map(|&v| data.columns()[v].as_slice()).collect();
        let cards: Vec<usize> = fam.iter().map(|&v| bn.vars()[v].card()).collect();
        for r in 0..data.num_rows() {
            let mut idx = 0;
            for (col, &k) in cols.iter().zip(&cards) {
                let x = col[r];
                if x == MISSING {
                    return Err(Error::InvalidArgument(format!(
                        "row {} has a missing cell ('{}'); maximum-likelihood counting needs \
                         complete data (use EM)",
                        r + 1,
                        bn.vars()[fam[cols.iter().position(|c| c[r] == MISSING).unwrap_or(0)]].name
                    )));
                }
                idx = idx * k + x as usize;
            }
            counts[i][idx] += 1.0;
        }
    }
    Ok(counts)
}

pub(crate) fn check_shape(bn: &BayesNet, data: &Dataset) -> Result<()> {
    if data.cards()
        != bn
            .vars()
            .iter()
            .map(|v| v.card())
            .collect::<Vec<_>>()
            .as_slice()
    {
        return Err(Error::InvalidArgument(
            "the dataset's variables do not match the network's".into(),
        ));
    }
    Ok(())
}

/// Normalised CPTs from counts and a prior (a column with no mass at all becomes uniform).
pub fn probs_from_counts(bn: &BayesNet, counts: &[Vec<f64>], prior: &Prior) -> Vec<Vec<f64>> {
    bn.cpds()
        .iter()
        .zip(counts)
        .map(|(c, n)| {
            let k = bn.var(c.child).card();
            let a = prior.pseudo_count(c.probs.len(), k);
            let mut p = Vec::with_capacity(n.len());
            for col in n.chunks(k) {
                let s: f64 = col.iter().sum::<f64>() + a * k as f64;
                if s > 0.0 {
                    p.extend(col.iter().map(|&x| (x + a) / s));
                } else {
                    p.extend(std::iter::repeat_n(1.0 / k as f64, k));
                }
            }
            p
        })
        .collect()
}

/// A copy of `bn` (same variables, parents and parent order) with new CPT probabilities.
pub fn with_probs(bn: &BayesNet, probs: Vec<Vec<f64>>) -> Result<BayesNet> {
    let mut b = BayesNetBuilder::new().tolerance(1e-9);
    for v in bn.vars() {
        b.add_variable(v.name.clone(), v.states.iter().cloned())?;
    }
    for (c, p) in bn.cpds().iter().zip(probs) {
        b.set_cpd(c.child, &c.parents, p)?;
    }
    b.build()
}

/// Fit the CPTs of `bn`'s structure to complete data (maximum likelihood with [`Prior::None`],
/// posterior mean otherwise).
///
/// ```
/// use pgmkit::data::Dataset;
/// use pgmkit::learn::{fit_complete, Prior};
/// use pgmkit::BayesNetBuilder;
/// let mut b = BayesNetBuilder::new();
/// let a = b.add_variable("a", ["0", "1"]).unwrap();
/// b.set_cpd(a, &[], vec![0.5, 0.5]).unwrap();
/// let bn = b.build().unwrap();
/// let d = Dataset::from_columns(bn.vars(), vec![vec![0, 1, 1, 1]]).unwrap();
/// assert_eq!(fit_complete(&bn, &d, &Prior::None).unwrap().cpd(a).probs, vec![0.25, 0.75]);
/// assert_eq!(fit_complete(&bn, &d, &Prior::Dirichlet(1.0)).unwrap().cpd(a).probs, vec![2.0 / 6.0, 4.0 / 6.0]);
/// ```
pub fn fit_complete(bn: &BayesNet, data: &Dataset, prior: &Prior) -> Result<BayesNet> {
    prior.validate()?;
    let counts = family_counts(bn, data)?;
    with_probs(bn, probs_from_counts(bn, &counts, prior))
}
