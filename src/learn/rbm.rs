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

use rand::Rng;

use crate::error::{Error, Result};
use crate::model::rbm::{
    add_product, bernoulli_in_place, layer_probabilities, transpose, transpose_into, Mat, Rbm,
};
use crate::rng::chain_rng;

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
    /// Deadline (default none): training stops after the epoch that passes it.
    pub deadline: crate::limits::Deadline,
    /// Return the average of the parameters over the second half of the updates (Polyak
    /// averaging; default true): it removes most of the noise a constant rate leaves in the
    /// last updates of PCD.
    pub average: bool,
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
            deadline: crate::limits::Deadline::NONE,
            average: true,
        }
    }
}

/// The result of [`train_rbm`].
#[derive(Debug, Clone)]
pub struct RbmTraining {
    /// The trained machine.
    pub rbm: Rbm,
    /// Epochs run (fewer than asked when the deadline passed).
    pub epochs: usize,
    /// Wall-clock seconds of the training.
    pub seconds: f64,
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
    train_rbm_with_progress(names, data, opts, None)
}

/// [`train_rbm`], calling `progress(1)` after every epoch (for a display; it never changes the
/// result).
pub fn train_rbm_with_progress(
    names: Vec<String>,
    data: &[Vec<f64>],
    opts: &RbmTrainOptions,
    progress: Option<crate::sample::chains::Progress<'_>>,
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
    // W (H x V, row-major), biases, and their velocities
    let mut w: Vec<f64> = (0..nh * nv)
        .map(|_| rand_distr::Distribution::sample(&normal, &mut rng))
        .collect();
    // visible-major copy of the weights (the rows the hidden inputs sum)
    let mut wt = transpose(&w, nh, nv);
    let mut b = vec![0.0; nv];
    let mut c = vec![0.0; nh];
    let (mut vw, mut vb, mut vc) = (vec![0.0; nh * nv], vec![0.0; nv], vec![0.0; nh]);
    let bsz = opts.batch.min(data.len());
    // persistent chains: one per batch row, started at data rows
    let mut chains: Vec<f64> = (0..bsz)
        .flat_map(|r| data[r % data.len()].iter().copied())
        .collect();
    let mut order: Vec<usize> = (0..data.len()).collect();
    // buffers, reused by every batch
    // a batch's rows: data then negative rows (X, 2m x V), and their hidden probabilities,
    // the negative ones negated (P, 2m x H), so that the weight gradient is one product Pᵀ X
    let mut xs = vec![0.0; 2 * bsz * nv];
    let mut ps = vec![0.0; 2 * bsz * nh];
    let mut h = vec![0.0; bsz * nh];
    let mut gw = vec![0.0; nh * nv];
    // PCD: persistent chains (one per batch row, started at data rows) and their hidden states
    let mut hc = vec![0.0; bsz * nh];
    let mut hp = vec![0.0; bsz * nh];
    if opts.method == RbmMethod::Pcd {
        let mut rng = chain_rng(opts.seed, u64::MAX - 1);
        layer_probabilities(&chains, nv, &wt, &c, &mut hc);
        bernoulli_in_place(&mut hc, &mut rng);
    }
    let mut epochs = 0;
    let (mut aw, mut ab, mut ac) = (vec![0.0; nh * nv], vec![0.0; nv], vec![0.0; nh]);
    let mut averaged = 0usize;
    for epoch in 0..opts.epochs {
        if epoch > 0 && opts.deadline.passed() {
            break;
        }
        epochs = epoch + 1;
        let mut erng = chain_rng(opts.seed, epoch as u64);
        for k in (1..order.len()).rev() {
            let j = erng.random_range(0..=k);
            order.swap(k, j);
        }
        for (bi, rows) in order.chunks(bsz).enumerate() {
            let m = rows.len();
            let mut grng = chain_rng(opts.seed, ((epoch as u64) << 32) | bi as u64 | (1 << 63));
            let (xs, ps) = (&mut xs[..2 * m * nv], &mut ps[..2 * m * nh]);
            let (v0, vn) = xs.split_at_mut(m * nv);
            let (ph0, phn) = ps.split_at_mut(m * nh);
            for (r, &row) in rows.iter().enumerate() {
                v0[r * nv..(r + 1) * nv].copy_from_slice(&data[row]);
            }
            layer_probabilities(v0, nv, &wt, &c, ph0);
            match opts.method {
                RbmMethod::Cd { k } => {
                    let h = &mut h[..m * nh];
                    h.copy_from_slice(ph0);
                    bernoulli_in_place(h, &mut grng);
                    for step in 0..k {
                        layer_probabilities(h, nh, &w, &b, vn);
                        bernoulli_in_place(vn, &mut grng);
                        layer_probabilities(vn, nv, &wt, &c, phn);
                        if step + 1 < k {
                            h.copy_from_slice(phn);
                            bernoulli_in_place(h, &mut grng);
                        }
                    }
                }
                RbmMethod::Pcd => {
                    // every chain steps (v | h, then the hidden probabilities and the next h);
                    // a short last batch uses the first m of them
                    layer_probabilities(&hc, nh, &w, &b, &mut chains);
                    bernoulli_in_place(&mut chains, &mut grng);
                    layer_probabilities(&chains, nv, &wt, &c, &mut hp);
                    vn.copy_from_slice(&chains[..m * nv]);
                    phn.copy_from_slice(&hp[..m * nh]);
                    hc.copy_from_slice(&hp);
                    bernoulli_in_place(&mut hc, &mut grng);
                }
            }
            let scale = 1.0 / m as f64;
            for i in 0..nv {
                let g: f64 = (0..m).map(|r| v0[r * nv + i] - vn[r * nv + i]).sum::<f64>() * scale;
                vb[i] = opts.momentum * vb[i] + opts.rate * g;
                b[i] += vb[i];
            }
            phn.iter_mut().for_each(|p| *p = -*p);
            for j in 0..nh {
                let g: f64 = (0..2 * m).map(|r| ps[r * nh + j]).sum::<f64>() * scale;
                vc[j] = opts.momentum * vc[j] + opts.rate * g;
                c[j] += vc[j];
            }
            // the weight gradient (H x V): P0ᵀ X0 - Pnᵀ Xn in one product
            gw.iter_mut().for_each(|g| *g = 0.0);
            add_product(Mat::transposed(ps, nh), 2 * m, xs, nv, &mut gw);
            for ((vwk, wk), gk) in vw.iter_mut().zip(w.iter_mut()).zip(&gw) {
                *vwk = opts.momentum * *vwk + opts.rate * (gk * scale - opts.weight_decay * *wk);
                *wk += *vwk;
            }
            transpose_into(&w, nh, nv, &mut wt);
            if opts.average && 2 * epoch >= opts.epochs {
                averaged += 1;
                let k = 1.0 / averaged as f64;
                for (a, x) in aw.iter_mut().zip(&w) {
                    *a += (x - *a) * k;
                }
                for (a, x) in ab.iter_mut().zip(&b) {
                    *a += (x - *a) * k;
                }
                for (a, x) in ac.iter_mut().zip(&c) {
                    *a += (x - *a) * k;
                }
            }
        }
        if let Some(p) = progress {
            p(1);
        }
    }
    if averaged > 0 {
        w = aw;
        b = ab;
        c = ac;
    }
    if let Some(x) = w.iter().chain(&b).chain(&c).find(|x| !x.is_finite()) {
        return Err(Error::InvalidNumber {
            what: "an RBM parameter after training (lower the rate)".into(),
            value: *x,
        });
    }
    let weights: Vec<Vec<f64>> = w.chunks(nv).map(<[f64]>::to_vec).collect();
    Ok(RbmTraining {
        rbm: Rbm::new(names, b, c, weights)?,
        epochs,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
