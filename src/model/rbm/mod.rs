//! Restricted Boltzmann machines with binary visible and hidden units.
//!
//! `E(v, h) = -b·v - c·h - hᵀ W v`, `p(v, h) = exp(-E) / Z`; summing out the hidden layer gives
//! the free energy `F(v) = -b·v - Σ_j softplus(c_j + W_j v)` and `p(v) = exp(-F(v)) / Z`. The
//! weights are stored hidden-major: `weights[j][i]` couples hidden unit `j` and visible unit `i`,
//! as scikit-learn's `BernoulliRBM.components_` (with `intercept_visible_` = `b`,
//! `intercept_hidden_` = `c`), so a machine trained there loads unchanged
//! ([`crate::io::rbm_json`]).
//!
//! `ln Z` exactly by summing over the smaller layer ([`Rbm::log_z_exact`], up to
//! [`MAX_EXACT_UNITS`] units), or by annealed importance sampling from a base-rate model
//! ([`crate::infer::rbm::rbm_ais`]).
//!
//! ```
//! use pgmkit::model::rbm::Rbm;
//! let rbm = Rbm::new(
//!     vec!["a".into(), "b".into()],
//!     vec![0.5, -0.25],
//!     vec![0.1],
//!     vec![vec![1.0, -2.0]],
//! ).unwrap();
//! // Z = Σ_v exp(b·v) (1 + exp(c + W v)), four visible states
//! let z: f64 = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
//!     .iter()
//!     .map(|&(a, b)| (0.5 * a - 0.25 * b) as f64)
//!     .zip([0.1, 1.1, -1.9, -0.9])
//!     .map(|(e, x): (f64, f64)| e.exp() * (1.0 + x.exp()))
//!     .sum();
//! assert!((rbm.log_z_exact().unwrap() - z.ln()).abs() < 1e-12);
//! ```

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::model::{FactorGraph, FactorGraphBuilder};
use crate::num;

mod kernel;
pub(crate) use kernel::{
    add_product, add_rows, bernoulli_in_place, dot_rows, layer_probabilities, sigmoid_in_place, Mat,
};

/// The weight between unit `a` of the summed layer and unit `k` of the other.
type Coupling<'a> = Box<dyn Fn(usize, usize) -> f64 + Sync + 'a>;

/// Weights above which a machine keeps one layout only (the hidden inputs then come from dot
/// products): 2^16 weights, 512 KiB.
pub const LARGE_WEIGHTS: usize = 1 << 16;

/// Largest smaller layer [`Rbm::log_z_exact`] sums over (2^30 states).
pub const MAX_EXACT_UNITS: usize = 30;

/// Largest smaller layer [`Rbm::exact_samples`] draws from (its 2^22 terms held in memory).
pub const MAX_EXACT_DRAW_UNITS: usize = 22;

/// The exact sum over the smaller layer A (`m` units): `Σ_a exp(bias_A·a) Π_k (1 +
/// exp(bias_B_k + Σ_a coupling(a, k)))`, in blocks that fix the high bits of `a` while a Gray
/// code walks the low `block_bits` (fixed blocks: the same sums for any number of threads).
struct LayerSum<'a> {
    m: usize,
    bias_a: &'a [f64],
    bias_b: &'a [f64],
    coupling: Coupling<'a>,
    a_is_hidden: bool,
    block_bits: usize,
}

impl LayerSum<'_> {
    fn blocks(&self) -> u64 {
        1u64 << (self.m - self.block_bits)
    }

    /// The state (bits of A) of term `idx` of the concatenated blocks.
    fn state_of(&self, idx: u64) -> u64 {
        let g = idx & ((1u64 << self.block_bits) - 1);
        (idx >> self.block_bits << self.block_bits) | (g ^ (g >> 1))
    }

    /// The log terms of block `blk`, in Gray-code order. `O(2^block_bits * other)`.
    fn block_terms(&self, blk: u64) -> Vec<f64> {
        let (m, other) = (self.m, self.bias_b.len());
        let high = blk << self.block_bits;
        let mut state: Vec<bool> = (0..m).map(|a| (high >> a) & 1 == 1).collect();
        let mut field: Vec<f64> = (0..other)
            .map(|k| {
                self.bias_b[k]
                    + (0..m)
                        .filter(|&a| state[a])
                        .map(|a| (self.coupling)(a, k))
                        .sum::<f64>()
            })
            .collect();
        let mut lin: f64 = (0..m).filter(|&a| state[a]).map(|a| self.bias_a[a]).sum();
        let term = |field: &[f64], lin: f64| -> f64 {
            lin + field.iter().map(|&f| softplus(f)).sum::<f64>()
        };
        let mut terms = Vec::with_capacity(1 << self.block_bits);
        terms.push(term(&field, lin));
        for g in 1u64..(1u64 << self.block_bits) {
            let a = g.trailing_zeros() as usize;
            let sign = if state[a] { -1.0 } else { 1.0 };
            state[a] = !state[a];
            lin += sign * self.bias_a[a];
            for (k, f) in field.iter_mut().enumerate() {
                *f += sign * (self.coupling)(a, k);
            }
            terms.push(term(&field, lin));
        }
        terms
    }
}

/// A restricted Boltzmann machine (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Rbm {
    names: Vec<String>,
    b: Vec<f64>,
    c: Vec<f64>,
    /// `H x V`, row-major: `w[j * V + i]`
    w: Vec<f64>,
    /// The same weights visible-major (`V x H`, `wt[i * H + j]`): the rows the hidden inputs
    /// of a 0/1 visible state sum ([`add_rows`]); empty above [`LARGE_WEIGHTS`] weights.
    wt: Vec<f64>,
}

/// The state of a block Gibbs chain: the visible state `v`, its hidden inputs `x = c + W v`,
/// and scratch for the hidden state and the visible inputs.
pub(crate) struct Chain {
    /// Visible state (0/1).
    pub v: Vec<f64>,
    h: Vec<f64>,
    /// Hidden inputs of `v`.
    pub x: Vec<f64>,
    u: Vec<f64>,
}

/// The transpose of a row-major `rows x cols` matrix.
pub(crate) fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; a.len()];
    transpose_into(a, rows, cols, &mut t);
    t
}

/// `t <- aᵀ` for a row-major `rows x cols` matrix `a`.
pub(crate) fn transpose_into(a: &[f64], rows: usize, cols: usize, t: &mut [f64]) {
    for (r, row) in a.chunks_exact(cols.max(1)).take(rows).enumerate() {
        for (c, &x) in row.iter().enumerate() {
            t[c * rows + r] = x;
        }
    }
}

/// `ln(1 + e^x)` without overflow.
#[inline]
pub(crate) fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + num::ln_1p(num::exp(-x))
    } else {
        num::ln_1p(num::exp(x))
    }
}

/// The logistic function.
#[inline]
pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + num::exp(-x))
}

impl Rbm {
    /// A machine from its parameters: visible unit names, visible biases `b` (V), hidden biases
    /// `c` (H) and weights `weights[j][i]` (H rows of V). Errors: lengths that disagree, a
    /// non-finite number, no visible unit, a repeated or empty name.
    pub fn new(
        names: Vec<String>,
        visible_bias: Vec<f64>,
        hidden_bias: Vec<f64>,
        weights: Vec<Vec<f64>>,
    ) -> Result<Rbm> {
        let v = names.len();
        if v == 0 {
            return Err(Error::InvalidModel("an RBM needs a visible unit".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for n in &names {
            if n.is_empty() || !seen.insert(n.as_str()) {
                return Err(Error::InvalidModel(format!(
                    "visible unit name '{n}' is empty or repeated"
                )));
            }
        }
        crate::error::check_dim(
            "visible biases (one per visible unit)",
            v,
            visible_bias.len(),
        )?;
        crate::error::check_dim(
            "weight rows (one per hidden unit)",
            hidden_bias.len(),
            weights.len(),
        )?;
        // every row checked before the one allocation, whose size the input then bounds
        for (j, row) in weights.iter().enumerate() {
            crate::error::check_dim(&format!("weights of hidden unit {j}"), v, row.len())?;
        }
        let w: Vec<f64> = weights.concat();
        if let Some(x) = visible_bias
            .iter()
            .chain(&hidden_bias)
            .chain(&w)
            .find(|x| !x.is_finite())
        {
            return Err(Error::InvalidNumber {
                what: "an RBM parameter".into(),
                value: *x,
            });
        }
        let wt = if w.len() > LARGE_WEIGHTS {
            Vec::new()
        } else {
            transpose(&w, hidden_bias.len(), v)
        };
        Ok(Rbm {
            names,
            b: visible_bias,
            c: hidden_bias,
            w,
            wt,
        })
    }

    /// A machine with `hidden` hidden units, all parameters 0.
    pub fn zeros(names: Vec<String>, hidden: usize) -> Result<Rbm> {
        let v = names.len();
        Rbm::new(
            names,
            vec![0.0; v],
            vec![0.0; hidden],
            vec![vec![0.0; v]; hidden],
        )
    }

    /// Number of visible units.
    pub fn num_visible(&self) -> usize {
        self.b.len()
    }

    /// Number of hidden units.
    pub fn num_hidden(&self) -> usize {
        self.c.len()
    }

    /// Visible unit names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Visible biases `b`.
    pub fn visible_bias(&self) -> &[f64] {
        &self.b
    }

    /// Hidden biases `c`.
    pub fn hidden_bias(&self) -> &[f64] {
        &self.c
    }

    /// The weights, hidden-major (`H x V`, `[j * V + i]`).
    pub fn weights(&self) -> &[f64] {
        &self.w
    }

    /// The free energy `F(v)` of a visible state (0/1 values). `O(V H)`.
    pub fn free_energy(&self, v: &[f64]) -> f64 {
        let bv: f64 = self.b.iter().zip(v).map(|(b, x)| b * x).sum();
        let mut x = vec![0.0; self.num_hidden()];
        self.hidden_inputs(v, &mut x);
        -bv - x.iter().map(|&xj| softplus(xj)).sum::<f64>()
    }

    /// The hidden inputs `x_j = c_j + W_j · v` of a visible state: sums of the active rows of
    /// the visible-major copy of the weights (`O(active V * H)`), or, for machines of more than
    /// [`LARGE_WEIGHTS`] weights (where two copies would not stay in the cache), dot products
    /// over the hidden-major weights (`O(V H)`).
    pub(crate) fn hidden_inputs(&self, v: &[f64], x: &mut [f64]) {
        if self.wt.is_empty() {
            dot_rows(&self.c, &self.w, v, x);
        } else {
            add_rows(&self.c, &self.wt, v, x);
        }
    }

    /// Exact `ln Z`, summing over the smaller layer: `2^min(V, H)` terms, each `O(max(V, H))` by
    /// a Gray-code walk, in parallel over fixed blocks (the same result for any number of
    /// threads). Errors: [`Error::TooLarge`] when the smaller layer has more than
    /// [`MAX_EXACT_UNITS`] units.
    pub fn log_z_exact(&self) -> Result<f64> {
        let sum = self.smaller_layer(MAX_EXACT_UNITS)?;
        let per_block: Vec<f64> = (0..sum.blocks())
            .into_par_iter()
            .map(|blk| num::log_sum_exp(&sum.block_terms(blk)))
            .collect();
        Ok(num::log_sum_exp(&per_block))
    }

    /// `n` exact draws of the visible layer: the smaller layer's state from its marginal (all
    /// `2^m` terms of [`Rbm::log_z_exact`], by inversion), then the visible units given it when
    /// the smaller layer is the hidden one. Draw `k` uses `chain_rng(seed, k)`. Errors:
    /// [`Error::TooLarge`] when the smaller layer has more than [`MAX_EXACT_DRAW_UNITS`] units.
    /// `O(2^m max(V, H) + n (m + V H))`, memory `O(2^m)`.
    pub fn exact_samples(&self, n: usize, seed: u64) -> Result<Vec<Vec<f64>>> {
        let sum = self.smaller_layer(MAX_EXACT_DRAW_UNITS)?;
        let terms: Vec<f64> = (0..sum.blocks())
            .into_par_iter()
            .flat_map_iter(|blk| sum.block_terms(blk))
            .collect();
        let (top, mut cum) = num::exp_shifted(&terms);
        debug_assert!(top.is_finite());
        for k in 1..cum.len() {
            cum[k] += cum[k - 1];
        }
        let total = *cum.last().expect("at least one term");
        let nv = self.num_visible();
        Ok((0..n)
            .into_par_iter()
            .map(|k| {
                let mut rng = crate::rng::chain_rng(seed, k as u64);
                let u = num::uniform(&mut rng) * total;
                let idx = cum.partition_point(|&c| c <= u).min(cum.len() - 1) as u64;
                let state = sum.state_of(idx);
                if sum.a_is_hidden {
                    let h: Vec<f64> = (0..sum.m)
                        .map(|j| f64::from(u8::from(state >> j & 1 == 1)))
                        .collect();
                    let mut p = vec![0.0; nv];
                    add_rows(&self.b, &self.w, &h, &mut p);
                    sigmoid_in_place(&mut p);
                    bernoulli_in_place(&mut p, &mut rng);
                    p
                } else {
                    (0..nv)
                        .map(|i| f64::from(u8::from(state >> i & 1 == 1)))
                        .collect()
                }
            })
            .collect())
    }

    /// The layer the exact sum runs over (the smaller; the hidden one on a tie).
    fn smaller_layer(&self, max_units: usize) -> Result<LayerSum<'_>> {
        let (nv, nh) = (self.num_visible(), self.num_hidden());
        // sum over layer A (m units) of exp(bias_A·a) Π_k (1 + exp(bias_B_k + (W a)_k))
        let (m, bias_a, bias_b, coupling): (usize, &[f64], &[f64], Coupling<'_>) = if nh <= nv {
            (
                nh,
                &self.c,
                &self.b,
                Box::new(move |a: usize, k: usize| self.w[a * nv + k]),
            )
        } else {
            (
                nv,
                &self.b,
                &self.c,
                Box::new(move |a: usize, k: usize| self.w[k * nv + a]),
            )
        };
        if m > max_units {
            return Err(Error::TooLarge {
                width: m,
                largest_table: 2f64.powi(m as i32),
                needed: 2f64.powi(m as i32),
                limit: 2f64.powi(max_units as i32),
            });
        }
        Ok(LayerSum {
            m,
            bias_a,
            bias_b,
            coupling,
            a_is_hidden: nh <= nv,
            block_bits: m.min(12),
        })
    }

    /// The machine as a factor graph over its visible units (named as here) and hidden units
    /// (`h0`, `h1`, ...): a unary factor per unit and a pairwise factor per weight, for the
    /// generic engine (e.g. a UAI export, or exact inference by the junction tree).
    pub fn to_factor_graph(&self) -> Result<FactorGraph> {
        let (nv, nh) = (self.num_visible(), self.num_hidden());
        let mut b = FactorGraphBuilder::new();
        let vis: Vec<_> = self
            .names
            .iter()
            .map(|n| b.add_variable_card(n.clone(), 2))
            .collect::<Result<_>>()?;
        let hid: Vec<_> = (0..nh)
            .map(|j| b.add_variable_card(format!("h{j}"), 2))
            .collect::<Result<_>>()?;
        for (i, &v) in vis.iter().enumerate() {
            b.add_log_factor(&[v], vec![0.0, self.b[i]])?;
        }
        for (j, &h) in hid.iter().enumerate() {
            b.add_log_factor(&[h], vec![0.0, self.c[j]])?;
        }
        for (j, &h) in hid.iter().enumerate() {
            for (i, &v) in vis.iter().enumerate() {
                let w = self.w[j * nv + i];
                // scope sorted by id: visible ids come first
                b.add_log_factor(&[v, h], vec![0.0, 0.0, 0.0, w])?;
            }
        }
        b.build()
    }

    /// A block Gibbs chain at visible state `v` (0/1 values of the right length).
    pub(crate) fn chain(&self, v: Vec<f64>) -> Chain {
        let (nv, nh) = (self.num_visible(), self.num_hidden());
        let mut x = vec![0.0; nh];
        self.hidden_inputs(&v, &mut x);
        Chain {
            v,
            h: vec![0.0; nh],
            x,
            u: vec![0.0; nv],
        }
    }

    /// One block Gibbs sweep of `ch` at inverse temperature `beta` on the path from a
    /// base-rate model (visible biases `base`) to this machine: `h_j | v ~ σ(β x_j)` with the
    /// hidden inputs `x = c + W v`, then `v_i | h ~ σ((1-β) base_i + β (b_i + Σ_j h_j W_ji))`
    /// (with `beta = 1`, plain block Gibbs); the chain's hidden inputs follow the new `v`.
    pub(crate) fn tempered_sweep<R: rand::RngCore + ?Sized>(
        &self,
        ch: &mut Chain,
        beta: f64,
        base: &[f64],
        rng: &mut R,
    ) {
        let Chain { v, h, x, u } = ch;
        for (hj, xj) in h.iter_mut().zip(x.iter()) {
            *hj = beta * xj;
        }
        sigmoid_in_place(h);
        bernoulli_in_place(h, rng);
        add_rows(&self.b, &self.w, h, u);
        if beta != 1.0 {
            for (ui, bi) in u.iter_mut().zip(base) {
                *ui = (1.0 - beta) * bi + beta * *ui;
            }
        }
        sigmoid_in_place(u);
        for (vi, p) in v.iter_mut().zip(u.iter()) {
            *vi = f64::from(u8::from(num::uniform(rng) < *p));
        }
        self.hidden_inputs(v, x);
    }

    /// `n` visible draws by block Gibbs (`h | v`, then `v | h`): `chains` chains from uniform
    /// random states, `burn_in` sweeps discarded, then every `thin`-th sweep kept, chain-major
    /// (each chain gives `ceil(n / chains)` rows; the last is cut). Chain `k` draws from
    /// `chain_rng(seed, k)`, so the rows do not depend on the number of threads. Errors: no
    /// chain, a zero `thin`.
    pub fn gibbs_samples(
        &self,
        n: usize,
        chains: usize,
        burn_in: usize,
        thin: usize,
        seed: u64,
    ) -> Result<Vec<Vec<u8>>> {
        use rand::Rng;
        if chains == 0 || thin == 0 {
            return Err(Error::InvalidArgument(
                "Gibbs sampling needs at least one chain and a thinning of at least 1".into(),
            ));
        }
        let nv = self.num_visible();
        let per = n.div_ceil(chains);
        let rows: Vec<Vec<Vec<u8>>> = (0..chains)
            .into_par_iter()
            .map(|k| {
                let mut rng = crate::rng::chain_rng(seed, k as u64);
                let v: Vec<f64> = (0..nv)
                    .map(|_| f64::from(u8::from(rng.random::<bool>())))
                    .collect();
                let mut ch = self.chain(v);
                let mut out = Vec::with_capacity(per);
                for _ in 0..burn_in {
                    self.tempered_sweep(&mut ch, 1.0, &self.b, &mut rng);
                }
                while out.len() < per {
                    for _ in 0..thin {
                        self.tempered_sweep(&mut ch, 1.0, &self.b, &mut rng);
                    }
                    out.push(ch.v.iter().map(|&x| x as u8).collect());
                }
                out
            })
            .collect();
        Ok(rows.into_iter().flatten().take(n).collect())
    }

    /// The visible biases of the base-rate model of `data` (rows of 0/1 values): the log-odds
    /// of each unit's mean, smoothed by half a count each way so that no bias is infinite. The
    /// usual base of AIS for RBMs (Salakhutdinov & Murray 2008).
    pub fn base_rate_bias(data: &[Vec<f64>], num_visible: usize) -> Vec<f64> {
        let n = data.len() as f64;
        (0..num_visible)
            .map(|i| {
                let ones: f64 = data.iter().map(|r| r[i]).sum();
                let p = (ones + 0.5) / (n + 1.0);
                num::ln(p / (1.0 - p))
            })
            .collect()
    }
}
