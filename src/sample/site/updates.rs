//! The Gibbs update rules: binary threshold tables, binary log-odds, general products of
//! scaled probabilities, general tempered logs.

use rand::RngCore;

use super::drive::*;
use super::neighbourhood::*;
use super::state::*;
use crate::num;

// ---------------------------------------------------------------------------------------------
// Update rules
// ---------------------------------------------------------------------------------------------

/// `r < T` where `th` holds the high 32 bits of `T` and `full()` computes all of `T` (called
/// only when the high halves tie).
#[inline(always)]
pub(crate) fn below(r: u64, th: u32, full: impl FnOnce() -> u64) -> bool {
    let rh = (r >> 32) as u32;
    if rh != th {
        rh < th
    } else {
        r < full()
    }
}

pub(crate) struct BinTable<'a> {
    pub(crate) bin: &'a Binary,
    pub(crate) thr: &'a Thresholds,
}

impl SiteUpdate for BinTable<'_> {
    #[inline(always)]
    fn update<S: StateView + ?Sized, R: RngCore + ?Sized>(
        &self,
        i: usize,
        x: &S,
        rng: &mut R,
        _: &mut [f64],
    ) -> bool {
        let b = self.bin;
        let nb = &b.nbr[b.start[i] as usize..b.start[i + 1] as usize];
        let mut cfg = 0usize;
        for (k, &j) in nb.iter().enumerate() {
            cfg |= (x.get(j as usize) & 1) << k;
        }
        let r = rng.next_u64();
        let th = self.thr.hi[self.thr.off[i] as usize + cfg];
        let new = below(r, th, || b.threshold(i, cfg)) as usize;
        let old = x.get(i);
        x.set(i, new);
        old != new
    }

    #[inline(always)]
    fn prefetch(&self, i: usize) {
        if let Some(o) = self.thr.off.get(i) {
            prefetch_line(self.thr.hi.as_ptr().wrapping_add(*o as usize));
        }
    }
}

pub(crate) struct BinOdds<'a> {
    pub(crate) bin: &'a Binary,
    pub(crate) beta: f64,
    pub(crate) base: Option<&'a [Vec<f64>]>,
}

impl SiteUpdate for BinOdds<'_> {
    #[inline(always)]
    fn update<S: StateView + ?Sized, R: RngCore + ?Sized>(
        &self,
        i: usize,
        x: &S,
        rng: &mut R,
        _: &mut [f64],
    ) -> bool {
        let b = self.bin;
        let r = b.start[i] as usize..b.start[i + 1] as usize;
        let a = if self.beta == 0.0 {
            0.0
        } else {
            let mut a = b.c[i];
            for (&j, &w) in b.nbr[r.clone()].iter().zip(&b.w[r]) {
                if x.get(j as usize) & 1 == 1 {
                    a += w;
                }
            }
            a
        };
        let a = if self.beta == 1.0 {
            a
        } else {
            let d = self.base.map_or(0.0, |q| q[i][1] - q[i][0]);
            if self.beta == 0.0 {
                d
            } else {
                self.beta * a + (1.0 - self.beta) * d
            }
        };
        let new = (num::uniform(rng) < sigmoid(a)) as usize;
        let old = x.get(i);
        x.set(i, new);
        old != new
    }
}

pub(crate) struct ProbUpd<'a>(pub(crate) &'a Local);

impl ProbUpd<'_> {
    /// Unnormalised conditional weights of a variable with `C` states (kept in registers).
    #[inline(always)]
    pub(crate) fn weights<const C: usize, S: StateView + ?Sized>(
        &self,
        i: usize,
        x: &S,
    ) -> [f64; C] {
        let l = self.0;
        let mut w = [1.0f64; C];
        for e in l.nbs(i) {
            let b = l.base(e, x);
            let st = e.stride as usize;
            let t = &l.prob_tab[b..=b + (C - 1) * st];
            for (v, o) in w.iter_mut().enumerate() {
                // SAFETY: v * st <= (C - 1) * st < t.len()
                *o *= unsafe { *t.get_unchecked(v * st) };
            }
        }
        w
    }

    /// A draw from the conditional of a variable with `C >= 3` states, `None` on underflow.
    #[inline(always)]
    pub(crate) fn draw_fixed<const C: usize, S: StateView + ?Sized, R: RngCore + ?Sized>(
        &self,
        i: usize,
        x: &S,
        rng: &mut R,
    ) -> Option<usize> {
        let w = self.weights::<C, S>(i, x);
        let s: f64 = w.iter().sum();
        (s > 0.0).then(|| num::draw_linear(w.iter().copied(), s, rng))
    }
}

impl SiteUpdate for ProbUpd<'_> {
    #[inline(always)]
    fn update<S: StateView + ?Sized, R: RngCore + ?Sized>(
        &self,
        i: usize,
        x: &S,
        rng: &mut R,
        scratch: &mut [f64],
    ) -> bool {
        let l = self.0;
        let c = l.cards[i];
        let drawn = match c {
            2 => {
                let [p0, p1] = self.weights::<2, S>(i, x);
                let s = p0 + p1;
                (s > 0.0).then(|| (num::uniform(rng) * s >= p0) as usize)
            }
            3 => self.draw_fixed::<3, S, R>(i, x, rng),
            4 => self.draw_fixed::<4, S, R>(i, x, rng),
            _ => {
                let w = &mut scratch[..c];
                w.fill(1.0);
                for e in l.nbs(i) {
                    let b = l.base(e, x);
                    let st = e.stride as usize;
                    for (v, o) in w.iter_mut().enumerate() {
                        *o *= l.prob_tab[b + v * st];
                    }
                }
                let s: f64 = w.iter().sum();
                (s > 0.0).then(|| num::draw_linear(w.iter().copied(), s, rng))
            }
        };
        let Some(new) = drawn else {
            // underflow (or a state of probability zero): redo it in log space
            return LogUpd {
                l,
                beta: 1.0,
                base: None,
            }
            .update(i, x, rng, scratch);
        };
        let old = x.get(i);
        x.set(i, new);
        old != new
    }
}

pub(crate) struct LogUpd<'a> {
    pub(crate) l: &'a Local,
    pub(crate) beta: f64,
    pub(crate) base: Option<&'a [Vec<f64>]>,
}

impl SiteUpdate for LogUpd<'_> {
    #[inline(always)]
    fn update<S: StateView + ?Sized, R: RngCore + ?Sized>(
        &self,
        i: usize,
        x: &S,
        rng: &mut R,
        scratch: &mut [f64],
    ) -> bool {
        let c = self.l.cards[i];
        let w = &mut scratch[..c];
        self.l.log_cond(i, x, self.beta, self.base, w);
        let m = w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            // every state has probability zero: the rest of the state is invalid; stay put
            return false;
        }
        let mut s = 0.0;
        for l in w.iter_mut() {
            *l = num::exp(*l - m);
            s += *l;
        }
        let new = num::draw_linear(w.iter().copied(), s, rng);
        let old = x.get(i);
        x.set(i, new);
        old != new
    }
}
