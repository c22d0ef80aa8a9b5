//! Training restricted Boltzmann machines ([`Rbm`]) by contrastive divergence (CD-k, Hinton
//! 2002) or persistent contrastive divergence (PCD, Tieleman 2008), with mini-batches,
//! momentum and weight decay; block Gibbs on both layers as matrix products.
//!
//! ```
//! use pgmkit::learn::rbm::{train_rbm, RbmTrainOptions};
//! // two visible units that are always equal
//! let data: Vec<Vec<f64>> = (0..200).map(|i| vec![(i % 2) as f64; 2]).collect();
//! let opts = RbmTrainOptions { hidden: 2, epochs: 50, ..Default::default() };
//! let t = train_rbm(vec!["a".into(), "b".into()], &data, &opts).unwrap();
//! // the learned machine prefers the equal states
//! let f = |v: &[f64]| t.rbm.free_energy(v);
//! assert!(f(&[1.0, 1.0]) < f(&[1.0, 0.0]) && f(&[0.0, 0.0]) < f(&[0.0, 1.0]));
//! ```

use std::time::Instant;

use nalgebra::DMatrix;
use rand::Rng;

use crate::error::{Error, Result};
use crate::model::rbm::{sigmoid, Rbm};
use crate::rng::{chain_rng, EngineRng};

/// How the negative phase is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RbmMethod {
    /// CD-k: `k` block Gibbs steps from the batch's data.
    Cd {
        /// Gibbs steps.
        k: usize,
    },
    /// PCD: one block Gibbs step of persistent chains (one per batch row) per update.
    Pcd,
}

/// Options of [`train_rbm`].
#[derive(Debug, Clone, PartialEq)]
pub struct RbmTrainOptions {
    /// Hidden units (default 20).
    pub hidden: usize,
    /// Passes over the data (default 20).
    pub epochs: usize,
    /// Rows per update (default 10, as scikit-learn's `BernoulliRBM`).
    pub batch: usize,
    /// Learning rate (default 0.1).
    pub rate: f64,
    /// Momentum (default 0.5).
    pub momentum: f64,
    /// Weight decay (L2 on the weights, default 0).
    pub weight_decay: f64,
    /// Negative phase (default PCD).
    pub method: RbmMethod,
    /// Standard deviation of the initial weights (default 0.01).
    pub init_sd: f64,
    /// Seed of the initial weights, the batch order and the Gibbs draws.
    pub seed: u64,
}

impl Default for RbmTrainOptions {
    fn default() -> Self {
        RbmTrainOptions {
            hidden: 20,
            epochs: 20,
            batch: 10,
            rate: 0.1,
            momentum: 0.5,
            weight_decay: 0.0,
            method: RbmMethod::Pcd,
            init_sd: 0.01,
            seed: 0,
        }
    }
}

/// The result of [`train_rbm`].
#[derive(Debug, Clone)]
pub struct RbmTraining {
    /// The trained machine.
    pub rbm: Rbm,
    /// Epochs run.
    pub epochs: usize,
    /// Wall-clock seconds of the training.
    pub seconds: f64,
}

/// Bernoulli draws of a matrix of probabilities, in place.
fn bernoulli(p: &mut DMatrix<f64>, rng: &mut EngineRng) {
    for x in p.iter_mut() {
        *x = f64::from(u8::from(rng.random::<f64>() < *x));
    }
}

/// `σ(X Mᵀ + 1 biasᵀ)` for `X` (B x n) and `M` (m x n): B x m.
fn activate(x: &DMatrix<f64>, m_t: &DMatrix<f64>, bias: &[f64]) -> DMatrix<f64> {
    let mut a = x * m_t;
    for mut row in a.row_iter_mut() {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = sigmoid(*v + b);
        }
    }
    a
}

/// Train an RBM over visible units `names` on `data` (rows of 0/1 values). Rows are visited
/// in a fresh order each epoch (`chain_rng(seed, epoch)`); every draw comes from streams of the
/// seed, so the result is reproducible.
///
/// Errors: no rows, a row of the wrong length or with a value other than 0 or 1, no hidden
/// unit, a zero batch or epoch count, a rate, momentum or decay out of range.
pub fn train_rbm(
    names: Vec<String>,
    data: &[Vec<f64>],
    opts: &RbmTrainOptions,
) -> Result<RbmTraining> {
    let t0 = Instant::now();
    let nv = names.len();
    if data.is_empty() {
        return Err(Error::InvalidArgument("no rows to train on".into()));
    }
    for (r, row) in data.iter().enumerate() {
        crate::error::check_dim(&format!("values of row {}", r + 1), nv, row.len())?;
        if let Some(x) = row.iter().find(|x| **x != 0.0 && **x != 1.0) {
            return Err(Error::InvalidArgument(format!(
                "row {}: an RBM's visible units are binary, found {x}",
                r + 1
            )));
        }
    }
    if opts.hidden == 0 || opts.batch == 0 || opts.epochs == 0 {
        return Err(Error::InvalidArgument(
            "training needs at least one hidden unit, one row per batch and one epoch".into(),
        ));
    }
    if let RbmMethod::Cd { k: 0 } = opts.method {
        return Err(Error::InvalidArgument("CD-k needs k >= 1".into()));
    }
    if !(opts.rate > 0.0
        && opts.rate.is_finite()
        && (0.0..1.0).contains(&opts.momentum)
        && opts.weight_decay >= 0.0
        && opts.weight_decay.is_finite()
        && opts.init_sd >= 0.0
        && opts.init_sd.is_finite())
    {
        return Err(Error::InvalidArgument(format!(
            "RBM training needs a positive rate, a momentum in [0, 1) and a non-negative decay and \
             initial sd (got {}, {}, {}, {})",
            opts.rate, opts.momentum, opts.weight_decay, opts.init_sd
        )));
    }
    let nh = opts.hidden;
    let mut rng = chain_rng(opts.seed, u64::MAX);
    let normal = rand_distr::Normal::new(0.0, opts.init_sd.max(f64::MIN_POSITIVE))
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    // W (H x V), and its transpose kept in step for the products
    let mut w = DMatrix::from_fn(nh, nv, |_, _| {
        rand_distr::Distribution::sample(&normal, &mut rng)
    });
    let mut b = vec![0.0; nv];
    let mut c = vec![0.0; nh];
    let (mut vw, mut vb, mut vc) = (DMatrix::zeros(nh, nv), vec![0.0; nv], vec![0.0; nh]);
    let bsz = opts.batch.min(data.len());
    // persistent chains: one per batch row, started at data rows
    let mut chains = DMatrix::from_fn(bsz, nv, |r, i| data[r % data.len()][i]);
    let mut order: Vec<usize> = (0..data.len()).collect();
    for epoch in 0..opts.epochs {
        let mut erng = chain_rng(opts.seed, epoch as u64);
        for k in (1..order.len()).rev() {
            let j = erng.random_range(0..=k);
            order.swap(k, j);
        }
        for (bi, rows) in order.chunks(bsz).enumerate() {
            let m = rows.len();
            let mut grng = chain_rng(opts.seed, ((epoch as u64) << 32) | bi as u64 | (1 << 63));
            let v0 = DMatrix::from_fn(m, nv, |r, i| data[rows[r]][i]);
            let wt = w.transpose();
            let ph0 = activate(&v0, &wt, &c);
            let (vn, phn) = match opts.method {
                RbmMethod::Cd { k } => {
                    let mut h = ph0.clone();
                    bernoulli(&mut h, &mut grng);
                    let mut v = DMatrix::zeros(m, nv);
                    let mut ph = ph0.clone();
                    for step in 0..k {
                        v = activate(&h, &w, &b);
                        bernoulli(&mut v, &mut grng);
                        ph = activate(&v, &wt, &c);
                        if step + 1 < k {
                            h = ph.clone();
                            bernoulli(&mut h, &mut grng);
                        }
                    }
                    (v, ph)
                }
                RbmMethod::Pcd => {
                    let mut h = activate(&chains, &wt, &c);
                    bernoulli(&mut h, &mut grng);
                    let mut v = activate(&h, &w, &b);
                    bernoulli(&mut v, &mut grng);
                    chains = v;
                    let ph = activate(&chains, &wt, &c);
                    // a short last batch uses the first rows of the chains
                    let v = chains.rows(0, m).into_owned();
                    let ph = ph.rows(0, m).into_owned();
                    (v, ph)
                }
            };
            let scale = 1.0 / m as f64;
            let gw =
                (ph0.transpose() * &v0 - phn.transpose() * &vn) * scale - &w * opts.weight_decay;
            vw = &vw * opts.momentum + gw * opts.rate;
            w += &vw;
            for i in 0..nv {
                let g = (v0.column(i).sum() - vn.column(i).sum()) * scale;
                vb[i] = opts.momentum * vb[i] + opts.rate * g;
                b[i] += vb[i];
            }
            for j in 0..nh {
                let g = (ph0.column(j).sum() - phn.column(j).sum()) * scale;
                vc[j] = opts.momentum * vc[j] + opts.rate * g;
                c[j] += vc[j];
            }
        }
    }
    if let Some(x) = w.iter().chain(&b).chain(&c).find(|x| !x.is_finite()) {
        return Err(Error::InvalidNumber {
            what: "an RBM parameter after training (lower the rate)".into(),
            value: *x,
        });
    }
    let weights: Vec<Vec<f64>> = (0..nh)
        .map(|j| w.row(j).iter().copied().collect())
        .collect();
    Ok(RbmTraining {
        rbm: Rbm::new(names, b, c, weights)?,
        epochs: opts.epochs,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
