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
use crate::model::rbm::{dot, sigmoid, Rbm};
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

/// `out[r][j] = σ(bias_j + W_j · x_r)` for the rows of `x` (`m x n`, row-major) and `W`
/// (`k x n`, row-major): the hidden probabilities given visible rows.
fn up(x: &[f64], n: usize, w: &[f64], bias: &[f64], out: &mut [f64]) {
    let k = bias.len();
    for (xr, or) in x.chunks_exact(n).zip(out.chunks_exact_mut(k)) {
        for (j, o) in or.iter_mut().enumerate() {
            *o = sigmoid(bias[j] + dot(&w[j * n..(j + 1) * n], xr));
        }
    }
}

/// `out[r][i] = σ(bias_i + Σ_j h_rj W_ji)` for 0/1 hidden rows `h` (`m x k`): the visible
/// probabilities given hidden rows.
fn down(h: &[f64], k: usize, w: &[f64], bias: &[f64], out: &mut [f64]) {
    let n = bias.len();
    for (hr, or) in h.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
        or.copy_from_slice(bias);
        for (j, &hj) in hr.iter().enumerate() {
            if hj != 0.0 {
                for (o, wi) in or.iter_mut().zip(&w[j * n..(j + 1) * n]) {
                    *o += wi;
                }
            }
        }
        for o in or.iter_mut() {
            *o = sigmoid(*o);
        }
    }
}

/// Bernoulli draws of probabilities, in place.
fn bernoulli(p: &mut [f64], rng: &mut EngineRng) {
    for x in p.iter_mut() {
        *x = f64::from(u8::from(rng.random::<f64>() < *x));
    }
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
    // W (H x V, row-major), biases, and their velocities
    let mut w: Vec<f64> = (0..nh * nv)
        .map(|_| rand_distr::Distribution::sample(&normal, &mut rng))
        .collect();
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
    let mut v0 = vec![0.0; bsz * nv];
    let mut ph0 = vec![0.0; bsz * nh];
    let mut h = vec![0.0; bsz * nh];
    let mut vn = vec![0.0; bsz * nv];
    let mut phn = vec![0.0; bsz * nh];
    let mut gw = vec![0.0; nh * nv];
    let mut hc = vec![0.0; bsz * nh];
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
            for (r, &row) in rows.iter().enumerate() {
                v0[r * nv..(r + 1) * nv].copy_from_slice(&data[row]);
            }
            let (v0, ph0, h, vn, phn) = (
                &v0[..m * nv],
                &mut ph0[..m * nh],
                &mut h[..m * nh],
                &mut vn[..m * nv],
                &mut phn[..m * nh],
            );
            up(v0, nv, &w, &c, ph0);
            match opts.method {
                RbmMethod::Cd { k } => {
                    h.copy_from_slice(ph0);
                    bernoulli(h, &mut grng);
                    for step in 0..k {
                        down(h, nh, &w, &b, vn);
                        bernoulli(vn, &mut grng);
                        up(vn, nv, &w, &c, phn);
                        if step + 1 < k {
                            h.copy_from_slice(phn);
                            bernoulli(h, &mut grng);
                        }
                    }
                }
                RbmMethod::Pcd => {
                    // every chain steps; a short last batch uses the first m of them
                    up(&chains, nv, &w, &c, &mut hc);
                    bernoulli(&mut hc, &mut grng);
                    down(&hc, nh, &w, &b, &mut chains);
                    bernoulli(&mut chains, &mut grng);
                    vn.copy_from_slice(&chains[..m * nv]);
                    up(vn, nv, &w, &c, phn);
                }
            }
            let scale = 1.0 / m as f64;
            gw.iter_mut().for_each(|g| *g = 0.0);
            for r in 0..m {
                let (p0, pn) = (&ph0[r * nh..(r + 1) * nh], &phn[r * nh..(r + 1) * nh]);
                let (x0, xn) = (&v0[r * nv..(r + 1) * nv], &vn[r * nv..(r + 1) * nv]);
                for j in 0..nh {
                    let g = &mut gw[j * nv..(j + 1) * nv];
                    let (a, z) = (p0[j], pn[j]);
                    for ((gi, &xi), &yi) in g.iter_mut().zip(x0).zip(xn) {
                        *gi += a * xi - z * yi;
                    }
                }
            }
            for ((vwk, wk), gk) in vw.iter_mut().zip(w.iter_mut()).zip(&gw) {
                *vwk = opts.momentum * *vwk + opts.rate * (gk * scale - opts.weight_decay * *wk);
                *wk += *vwk;
            }
            for i in 0..nv {
                let g: f64 = (0..m).map(|r| v0[r * nv + i] - vn[r * nv + i]).sum::<f64>() * scale;
                vb[i] = opts.momentum * vb[i] + opts.rate * g;
                b[i] += vb[i];
            }
            for j in 0..nh {
                let g: f64 = (0..m)
                    .map(|r| ph0[r * nh + j] - phn[r * nh + j])
                    .sum::<f64>()
                    * scale;
                vc[j] = opts.momentum * vc[j] + opts.rate * g;
                c[j] += vc[j];
            }
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
