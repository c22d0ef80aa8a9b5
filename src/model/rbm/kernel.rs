//! The RBM's hot loops, shared by sampling, AIS and training (one copy of each):
//!
//! - [`add_product`]: a batch of layer inputs from the other layer's states, `c += a b`, each
//!   row of `c` a sum of rows of `b` (the weights laid out by the other layer's units), in
//!   register blocks of 16 columns; long rows of zero states are skipped (sparse 0/1 states);
//!   [`add_rows`] is the one-row case;
//! - [`sigmoid_in_place`]: the logistic function over a slice, by a polynomial `exp` (Cody-Waite
//!   reduction, degree-12 Taylor polynomial by Estrin's scheme, within 3 ulp) written so that the compiler
//!   vectorises it; an AVX2 copy of the same code is chosen at run time where the CPU has it.
//!   The code has no fused multiply-adds (Rust never contracts), so both copies give the same
//!   bits and a seed gives the same draws on every x86-64 machine;
//! - [`bernoulli_in_place`]: 0/1 draws of probabilities.

/// A function with a second copy compiled for AVX2, chosen at run time where the CPU has it
/// (the same code, so the same bits: Rust never contracts `a * b + c` into a fused op).
macro_rules! with_avx2 {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn generic($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            fn avx2($($arg: $ty),*) {
                generic($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above)
                unsafe { avx2($($arg),*) };
                return;
            }
            generic($($arg),*)
        }
    };
}

/// Rows of `b` at least this long are skipped when their coefficient is zero (sparse 0/1
/// states) and streamed whole into the output row; shorter ones are added whatever their
/// coefficient, in register blocks. Adding `0 * row` changes no value and each output sums its
/// terms in the same order either way, so both give the same sums.
const SPARSE_ROW: usize = 64;

/// A matrix operand: its values and (row, column) strides.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    /// The values.
    pub data: &'a [f64],
    /// Distance between rows.
    pub rs: usize,
    /// Distance between columns.
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f64], cols: usize) -> Mat<'a> {
        Mat {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [f64], cols: usize) -> Mat<'a> {
        Mat {
            data,
            rs: 1,
            cs: cols,
        }
    }
}

/// Columns of `c` one register block of [`add_product`] holds.
const BLOCK: usize = 16;

with_avx2! {
    /// `c += a b` with `a` `m x k` (any strides), `b` row-major `k x n` and `c` row-major `m x
    /// n`, `m = c.len() / n`: each row of `c` gains `Σ_p a_rp b_p` in the order `p = 0..k`;
    /// short rows (`n < 64`) in blocks of 16 columns held in registers, long ones by streaming
    /// the rows of `b` with a non-zero coefficient (no product is packed; the sizes here are a
    /// batch of rows times a layer). `O(m k n)`, `O(m * active * n)` for long rows.
    ///
    /// Panics when an operand is smaller than its dimensions say (a bug of the caller).
    pub(crate) fn add_product(a: Mat<'_>, k: usize, b: &[f64], n: usize, c: &mut [f64]) {
        if n == 0 {
            return;
        }
        assert!(b.len() >= k * n, "product operand too small");
        if n >= SPARSE_ROW {
            // long rows: stream the rows of the non-zero coefficients (gathered without a
            // branch, so that 0/1 states cost no mispredictions) whole into `cr` (in L1)
            let mut active = vec![(0usize, 0.0f64); k];
            for (r, cr) in c.chunks_exact_mut(n).enumerate() {
                let mut used = 0;
                for p in 0..k {
                    let s = a.data[r * a.rs + p * a.cs];
                    active[used] = (p, s);
                    used += usize::from(s != 0.0);
                }
                for &(p, s) in &active[..used] {
                    for (x, y) in cr.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                        *x += s * y;
                    }
                }
            }
            return;
        }
        for (r, cr) in c.chunks_exact_mut(n).enumerate() {
            let coef = |p: usize| a.data[r * a.rs + p * a.cs];
            let mut jb = 0;
            while jb < n {
                jb += match n - jb {
                    w if w >= BLOCK => block::<BLOCK>(&coef, k, b, n, jb, cr),
                    w if w >= 8 => block::<8>(&coef, k, b, n, jb, cr),
                    w if w >= 4 => block::<4>(&coef, k, b, n, jb, cr),
                    _ => block::<1>(&coef, k, b, n, jb, cr),
                };
            }
        }
    }
}

/// Columns `jb..jb + W` of one row `cr` of [`add_product`], accumulated in `W` registers over
/// the coefficients `coef(p)`, `p = 0..k`, in order.
#[inline(always)]
fn block<const W: usize>(
    coef: &impl Fn(usize) -> f64,
    k: usize,
    b: &[f64],
    n: usize,
    jb: usize,
    cr: &mut [f64],
) -> usize {
    let mut acc: [f64; W] = cr[jb..jb + W].try_into().expect("a block");
    for p in 0..k {
        let s = coef(p);
        let row: &[f64; W] = b[p * n + jb..p * n + jb + W].try_into().expect("a block");
        for t in 0..W {
            acc[t] += s * row[t];
        }
    }
    cr[jb..jb + W].copy_from_slice(&acc);
    W
}

with_avx2! {
    /// `out[j] = bias[j] + rows_j · x` for the rows of `rows` (`bias.len()` rows of `x.len()`
    /// values): one layer's inputs as dot products over a row-major weight matrix, each in 16
    /// independent sums (vector lanes). Reads the matrix once, in order: the choice for
    /// matrices too large for the cache to hold two layouts.
    pub(crate) fn dot_rows(bias: &[f64], rows: &[f64], x: &[f64], out: &mut [f64]) {
        let n = x.len();
        for ((o, &b0), row) in out.iter_mut().zip(bias).zip(rows.chunks_exact(n.max(1))) {
            let mut acc = [0.0f64; BLOCK];
            let (rc, xc) = (row.chunks_exact(BLOCK), x.chunks_exact(BLOCK));
            let tail: f64 = rc.remainder().iter().zip(xc.remainder()).map(|(a, b)| a * b).sum();
            for (r, v) in rc.zip(xc) {
                for t in 0..BLOCK {
                    acc[t] += r[t] * v[t];
                }
            }
            let mut w = BLOCK;
            while w > 1 {
                w /= 2;
                for t in 0..w {
                    acc[t] += acc[t + w];
                }
            }
            *o = b0 + (acc[0] + tail);
        }
    }
}

/// `out = bias + Σ_k state[k] * rows[k]`, where `rows` holds `state.len()` rows of
/// `bias.len()` values ([`add_product`] of one row). Exact for 0/1 states (a multiplication by
/// one).
pub(crate) fn add_rows(bias: &[f64], rows: &[f64], state: &[f64], out: &mut [f64]) {
    out.copy_from_slice(bias);
    add_product(
        Mat::rows(state, state.len()),
        state.len(),
        rows,
        bias.len(),
        out,
    );
}

/// `out[r] = σ(bias + Σ_p x_rp w_p)` for the rows of `x` (row-major, `k` columns each), with
/// `w` row-major `k x bias.len()`: one layer's probabilities given states of the other.
pub(crate) fn layer_probabilities(x: &[f64], k: usize, w: &[f64], bias: &[f64], out: &mut [f64]) {
    let n = bias.len();
    for row in out.chunks_exact_mut(n.max(1)) {
        row.copy_from_slice(bias);
    }
    add_product(Mat::rows(x, k), k, w, n, out);
    sigmoid_in_place(out);
}

/// `e^x` for `x` in `[-708, 708]` (clamped), within 3 ulp; branch-free so that a loop over it
/// vectorises.
#[inline(always)]
fn exp_poly(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 split so that n * LN2_HI is exact for |n| < 2^11 (Cephes)
    const LN2_HI: f64 = 0.693_145_751_953_125;
    const LN2_LO: f64 = 1.428_606_820_309_417_2e-6;
    // 1.5 * 2^52: adding it rounds to an integer held in the low mantissa bits
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    // 1/k! for k = 0..=12
    const C: [f64; 13] = [
        1.0,
        1.0,
        0.5,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
    ];
    let x = x.clamp(-708.0, 708.0);
    let t = x * LOG2E + SHIFT;
    let n = t - SHIFT;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // the Taylor polynomial by Estrin's scheme (short dependency chains)
    let (r2, pair) = (r * r, |k: usize| C[k] + C[k + 1] * r);
    let r4 = r2 * r2;
    let lo = (pair(0) + r2 * pair(2)) + r4 * (pair(4) + r2 * pair(6));
    let hi = (pair(8) + r2 * pair(10)) + r4 * C[12];
    let p = lo + (r4 * r4) * hi;
    // 2^n: the low bits of t hold n (offset by 2^51); n + 1023 is in [1, 2046]
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    p * scale
}

#[inline(always)]
fn sigmoid_generic(x: &mut [f64]) {
    for v in x.iter_mut() {
        *v = 1.0 / (1.0 + exp_poly(-*v));
    }
}

with_avx2! {
    /// `x <- σ(x) = 1 / (1 + e^{-x})` over a slice (see the module docs).
    pub(crate) fn sigmoid_in_place(x: &mut [f64]) {
        sigmoid_generic(x)
    }
}

/// `p <- 1{u < p}` with `u` uniform on `[0, 1)`, one draw per entry in order.
#[inline]
pub(crate) fn bernoulli_in_place<R: rand::RngCore + ?Sized>(p: &mut [f64], rng: &mut R) {
    for x in p.iter_mut() {
        *x = f64::from(u8::from(crate::num::uniform(rng) < *x));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_poly_is_within_three_ulp_of_libm() {
        let mut worst = 0.0f64;
        let mut x = -708.0;
        while x <= 708.0 {
            let (a, b) = (exp_poly(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        assert!(worst < 6.7e-16, "relative error {worst:e}");
        assert_eq!(exp_poly(0.0), 1.0);
        assert!(exp_poly(-1e9) > 0.0 && exp_poly(1e9).is_finite());
    }

    #[test]
    fn sigmoid_paths_agree_bit_for_bit() {
        let xs: Vec<f64> = (0..1001).map(|k| (k as f64 - 500.0) * 0.731).collect();
        let mut a = xs.clone();
        sigmoid_in_place(&mut a);
        let mut b = xs.clone();
        sigmoid_generic(&mut b);
        let mut c = xs.clone();
        for x in c.iter_mut() {
            sigmoid_generic(std::slice::from_mut(x));
        }
        assert_eq!(b, c);
        assert_eq!(a, b);
        for (s, x) in a.iter().zip(&xs) {
            let want = 1.0 / (1.0 + (-x).exp());
            assert!(
                (s - want).abs() <= 1e-15 * want.max(1e-300),
                "{x}: {s} vs {want}"
            );
        }
    }

    #[test]
    fn dot_rows_are_dot_products() {
        let (n, k) = (37, 3);
        let rows: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let x: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        let mut out = vec![0.0; k];
        dot_rows(&[0.5, -1.0, 2.0], &rows, &x, &mut out);
        for j in 0..k {
            let want: f64 = [0.5, -1.0, 2.0][j]
                + rows[j * n..(j + 1) * n]
                    .iter()
                    .zip(&x)
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
            assert!((out[j] - want).abs() < 1e-12);
        }
    }

    #[test]
    fn add_rows_sums_active_rows() {
        let rows = [1.0, 2.0, 10.0, 20.0, 100.0, 200.0];
        let mut out = [0.0; 2];
        add_rows(&[0.5, 0.25], &rows, &[1.0, 0.0, 1.0], &mut out);
        assert_eq!(out, [101.5, 202.25]);
        add_rows(&[0.0, 0.0], &rows, &[0.0, 0.5, 0.0], &mut out);
        assert_eq!(out, [5.0, 10.0]);
        // long rows skip zero states: the same sums
        let long: Vec<f64> = (0..3 * SPARSE_ROW).map(|k| k as f64 * 0.37 - 5.0).collect();
        let bias = vec![0.125; SPARSE_ROW];
        let mut a = vec![0.0; SPARSE_ROW];
        add_rows(&bias, &long, &[1.0, 0.0, 1.0], &mut a);
        for (k, x) in a.iter().enumerate() {
            assert_eq!(*x, 0.125 + long[k] + long[2 * SPARSE_ROW + k]);
        }
    }
}
