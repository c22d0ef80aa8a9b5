//! Autocovariances of chains: a radix-2 FFT, the full autocovariance of one chain, and the
//! lag-by-lag autocovariances of several chains that the ESS estimators ask for.

use super::*;

/// A radix-2 FFT of size `n` with its twiddle factors laid out per stage: the stage combining
/// blocks of `2h` uses `exp(-2 pi i k / 2h)`, `k < h`, stored contiguously at `tw[h-1 .. 2h-1]`.
pub(super) struct Fft {
    n: usize,
    tw_re: Vec<f64>,
    tw_im: Vec<f64>,
}

impl Fft {
    pub(super) fn new(n: usize) -> Fft {
        debug_assert!(n.is_power_of_two());
        let mut tw_re = Vec::with_capacity(n);
        let mut tw_im = Vec::with_capacity(n);
        let mut h = 1;
        while h < n {
            for k in 0..h {
                let (s, c) = (-std::f64::consts::PI * k as f64 / h as f64).sin_cos();
                tw_re.push(c);
                tw_im.push(s);
            }
            h <<= 1;
        }
        Fft { n, tw_re, tw_im }
    }

    /// In-place iterative radix-2 complex FFT (`inverse` uses the conjugate twiddles, unscaled).
    pub(super) fn run(&self, re: &mut [f64], im: &mut [f64], inverse: bool) {
        let n = self.n;
        debug_assert!(re.len() == n && im.len() == n);
        let mut j = 0usize;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let sign = if inverse { -1.0 } else { 1.0 };
        let mut half = 1;
        while half < n {
            let len = 2 * half;
            let twr = &self.tw_re[half - 1..len - 1];
            let twi = &self.tw_im[half - 1..len - 1];
            for (bre, bim) in re.chunks_exact_mut(len).zip(im.chunks_exact_mut(len)) {
                let (lo_re, hi_re) = bre.split_at_mut(half);
                let (lo_im, hi_im) = bim.split_at_mut(half);
                for ((((lr, li), hr), hi), (&wr, &wi)) in lo_re
                    .iter_mut()
                    .zip(lo_im.iter_mut())
                    .zip(hi_re.iter_mut())
                    .zip(hi_im.iter_mut())
                    .zip(twr.iter().zip(twi))
                {
                    let wi = sign * wi;
                    let xr = *hr * wr - *hi * wi;
                    let xi = *hr * wi + *hi * wr;
                    *hr = *lr - xr;
                    *hi = *li - xi;
                    *lr += xr;
                    *li += xi;
                }
            }
            half = len;
        }
    }
}

/// Biased autocovariances of two equally long sequences with one complex FFT pair: the
/// sequences are packed as real and imaginary parts, their power spectra separated by conjugate
/// symmetry and transformed back together. With an FFT of size `P >= n`, the lags `0..=P-n` are
/// exact (no wrap-around); that many (at most `n`) are returned.
pub(super) fn autocovariance_pair(x: &[f64], y: &[f64], fft: &Fft) -> (Vec<f64>, Vec<f64>) {
    let n = x.len();
    debug_assert_eq!(n, y.len());
    let size = fft.n;
    debug_assert!(size >= n);
    let (mx, my) = (mean(x), mean(y));
    let mut re = vec![0.0; size];
    let mut im = vec![0.0; size];
    for k in 0..n {
        re[k] = x[k] - mx;
        im[k] = y[k] - my;
    }
    fft.run(&mut re, &mut im, false);
    // X_k = (F_k + conj F_{-k}) / 2, Y_k = (F_k - conj F_{-k}) / 2i; |X_k|^2 and |Y_k|^2 are
    // real and even, so the inverse transform of |X|^2 + i |Y|^2 carries both autocovariances.
    let mut pr = vec![0.0; size];
    let mut pi = vec![0.0; size];
    for k in 0..size {
        let m = (size - k) % size;
        let (ar, ai) = (re[k], im[k]);
        let (br, bi) = (re[m], -im[m]);
        let (xr, xi) = (0.5 * (ar + br), 0.5 * (ai + bi));
        let (yr, yi) = (0.5 * (ai - bi), -0.5 * (ar - br));
        pr[k] = xr * xr + xi * xi;
        pi[k] = yr * yr + yi * yi;
    }
    fft.run(&mut pr, &mut pi, true);
    let scale = 1.0 / (size as f64 * n as f64);
    let valid = (size - n + 1).min(n);
    pr.truncate(valid);
    pi.truncate(valid);
    pr.iter_mut().for_each(|v| *v *= scale);
    pi.iter_mut().for_each(|v| *v *= scale);
    (pr, pi)
}

/// `sum_i a_i b_i` with four accumulators (a fixed summation order, so results are reproducible).
pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let chunks = n / 4;
    for k in 0..chunks {
        for j in 0..4 {
            acc[j] += a[4 * k + j] * b[4 * k + j];
        }
    }
    let mut tail = 0.0;
    for k in 4 * chunks..n {
        tail += a[k] * b[k];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// The biased autocovariance `acov[t] = (1/n) sum_{i < n-t} (x_i - mean)(x_{i+t} - mean)` for
/// every lag `t` in `0..n` (computed with an FFT, `O(n log n)`).
pub fn autocovariance(x: &[f64]) -> Vec<f64> {
    if x.is_empty() {
        return Vec::new();
    }
    let fft = Fft::new((2 * x.len()).next_power_of_two());
    autocovariance_pair(x, x, &fft).0
}

/// Autocovariances of several equally long chains computed lag by lag on demand: direct sums for
/// the first [`DIRECT_LAGS`] lags (cheap when the chains mix well and Geyer's sequence stops
/// early), then FFTs of all chains padded just enough for the lags asked for (at least twice the
/// lag requested), padded further if Geyer's sequence runs on.
pub(super) struct ChainAcov {
    /// Centred chains.
    centred: Vec<Vec<f64>>,
    /// Chain means.
    pub(super) means: Vec<f64>,
    /// `vals[c][t]`.
    pub(super) vals: Vec<Vec<f64>>,
    pub(super) fft_mode: bool,
}

impl ChainAcov {
    pub(super) fn new(chains: &[&[f64]]) -> Self {
        let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
        ChainAcov {
            centred: chains
                .iter()
                .zip(&means)
                .map(|(c, m)| c.iter().map(|v| v - m).collect())
                .collect(),
            means,
            vals: vec![Vec::new(); chains.len()],
            fft_mode: false,
        }
    }

    /// Autocovariance of chain `c` at lag `t`.
    pub(super) fn get(&mut self, c: usize, t: usize) -> f64 {
        let n = self.centred[c].len();
        if t >= n {
            return 0.0;
        }
        if t < self.vals[c].len() {
            return self.vals[c][t];
        }
        // Direct sums while they are cheap and the chain decorrelates fast enough for Geyer's
        // sequence to stop early; otherwise straight to the FFT (the choice affects only speed).
        let slow = t >= 8 && self.vals[c].len() >= 8 && self.vals[c][7] > 0.5 * self.vals[c][0];
        if !self.fft_mode && t < DIRECT_LAGS && !slow {
            let x = &self.centred[c];
            while self.vals[c].len() <= t {
                let lag = self.vals[c].len();
                self.vals[c].push(dot(&x[..n - lag], &x[lag..]) / n as f64);
            }
            return self.vals[c][t];
        }
        // lags 0..=P-n are exact with an FFT of size P
        let want = (2 * t).max(1024).min(n);
        let fft = Fft::new((n + want).next_power_of_two());
        let mut k = 0;
        while k < self.centred.len() {
            let x = &self.centred[k];
            let y = self.centred.get(k + 1).unwrap_or(x);
            let (a, b) = autocovariance_pair(x, y, &fft);
            self.vals[k] = a;
            if k + 1 < self.centred.len() {
                self.vals[k + 1] = b;
            }
            k += 2;
        }
        self.fft_mode = true;
        self.vals[c][t]
    }

    /// Mean over chains of the autocovariance at lag `t`.
    pub(super) fn mean_at(&mut self, t: usize) -> f64 {
        let m = self.centred.len();
        (0..m).map(|c| self.get(c, t)).sum::<f64>() / m as f64
    }
}
