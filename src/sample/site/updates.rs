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

/// Binary variables with precomputed thresholds: one table lookup per update, indexed by
/// the neighbours' states (beta = 1, no base).
pub(crate) struct BinTable<'a> {
    pub(crate) bin: &'a Binary,
    pub(crate) thr: &'a Thresholds,
}

impl SiteUpdate for BinTable<'_> {
    #[inline(always)]
    fn draw<S, R>(&self, i: usize, x: &S, rng: &mut R, _: &mut [f64]) -> Option<usize>
    where
        S: StateView + ?Sized,
        R: RngCore + ?Sized,
    {
        let b = self.bin;
        let nb = &b.nbr[b.start[i] as usize..b.start[i + 1] as usize];
        let mut cfg = 0usize;
        for (k, &j) in nb.iter().enumerate() {
            cfg |= (x.get(j as usize) & 1) << k;
        }
        let r = rng.next_u64();
        let th = self.thr.hi[self.thr.off[i] as usize + cfg];
        Some(below(r, th, || b.threshold(i, cfg)) as usize)
    }

    #[inline(always)]
    fn prefetch(&self, i: usize) {
        if let Some(o) = self.thr.off.get(i) {
            prefetch_line(self.thr.hi.as_ptr().wrapping_add(*o as usize));
        }
    }
}

/// A tempered site target: `beta` times the model's log weight plus `1 - beta` times a
/// factorised base (`base[i][v]`; none: uniform, zero), as single-site updates read it.
#[derive(Clone, Copy)]
pub(crate) struct Temper<'a> {
    pub(crate) beta: f64,
    pub(crate) base: Option<&'a [Vec<f64>]>,
}

impl<'a> Temper<'a> {
    /// The model itself.
    pub(crate) const MODEL: Temper<'static> = Temper {
        beta: 1.0,
        base: None,
    };

    /// The site view of a [`crate::sample::Tempering`].
    pub(crate) fn of(t: &crate::sample::Tempering<'a>) -> Self {
        Temper {
            beta: t.beta,
            base: t.base.factorised(),
        }
    }

    /// `beta * model + (1 - beta) * base`, with `base()` the base's log weight (read only when
    /// beta < 1).
    #[inline(always)]
    pub(crate) fn mix(&self, model: f64, base: impl FnOnce(&'a [Vec<f64>]) -> f64) -> f64 {
        let q = || self.base.map_or(0.0, base);
        if self.beta == 1.0 {
            model
        } else if self.beta == 0.0 {
            q()
        } else {
            self.beta * model + (1.0 - self.beta) * q()
        }
    }
}

/// Binary variables by their log-odds, summed over the neighbours' couplings and tempered.
pub(crate) struct BinOdds<'a> {
    pub(crate) bin: &'a Binary,
    pub(crate) t: Temper<'a>,
}

impl SiteUpdate for BinOdds<'_> {
    #[inline(always)]
    fn draw<S, R>(&self, i: usize, x: &S, rng: &mut R, _: &mut [f64]) -> Option<usize>
    where
        S: StateView + ?Sized,
        R: RngCore + ?Sized,
    {
        let b = self.bin;
        let r = b.start[i] as usize..b.start[i + 1] as usize;
        let a = if self.t.beta == 0.0 {
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
        let a = self.t.mix(a, |q| q[i][1] - q[i][0]);
        Some((num::uniform(rng) < sigmoid(a)) as usize)
    }
}

/// Any variable, by the product of its factors' probabilities (beta = 1, no base); falls
/// back to [`LogUpd`] on underflow.
pub(crate) struct ProbUpd<'a>(pub(crate) &'a Local);

impl ProbUpd<'_> {
    /// Unnormalised conditional weights of variable `i` into `w` (one per state; a
    /// fixed-size array when the number of states is known, so they stay in registers).
    #[inline(always)]
    pub(crate) fn weights<S: StateView + ?Sized>(&self, i: usize, x: &S, w: &mut [f64]) {
        let l = self.0;
        let c = w.len();
        w.fill(1.0);
        for e in l.nbs(i) {
            let b = l.base(e, x);
            let st = e.stride as usize;
            let t = &l.prob_tab[b..=b + (c - 1) * st];
            for (v, o) in w.iter_mut().enumerate() {
                // SAFETY: v * st <= (c - 1) * st < t.len()
                *o *= unsafe { *t.get_unchecked(v * st) };
            }
        }
    }

    /// A draw from the conditional of variable `i` with weights in `w`, `None` on underflow.
    #[inline(always)]
    pub(crate) fn draw_in<S: StateView + ?Sized, R: RngCore + ?Sized>(
        &self,
        i: usize,
        x: &S,
        rng: &mut R,
        w: &mut [f64],
    ) -> Option<usize> {
        self.weights(i, x, w);
        let s: f64 = w.iter().sum();
        (s > 0.0).then(|| num::draw_linear(w.iter().copied(), s, rng))
    }
}

impl SiteUpdate for ProbUpd<'_> {
    #[inline(always)]
    fn draw<S, R>(&self, i: usize, x: &S, rng: &mut R, w: &mut [f64]) -> Option<usize>
    where
        S: StateView + ?Sized,
        R: RngCore + ?Sized,
    {
        let l = self.0;
        let c = l.cards[i];
        let drawn = match c {
            2 => {
                let mut w = [0.0; 2];
                self.weights(i, x, &mut w);
                let s = w[0] + w[1];
                (s > 0.0).then(|| (num::uniform(rng) * s >= w[0]) as usize)
            }
            3 => self.draw_in(i, x, rng, &mut [0.0; 3]),
            4 => self.draw_in(i, x, rng, &mut [0.0; 4]),
            _ => self.draw_in(i, x, rng, &mut w[..c]),
        };
        // underflow (or a state of probability zero): redo it in log space
        drawn.or_else(|| {
            LogUpd {
                l,
                t: Temper::MODEL,
            }
            .draw(i, x, rng, w)
        })
    }
}

/// Any variable, by its tempered log conditional (the general rule, and the fallback).
pub(crate) struct LogUpd<'a> {
    pub(crate) l: &'a Local,
    pub(crate) t: Temper<'a>,
}

impl SiteUpdate for LogUpd<'_> {
    #[inline(always)]
    fn draw<S, R>(&self, i: usize, x: &S, rng: &mut R, w: &mut [f64]) -> Option<usize>
    where
        S: StateView + ?Sized,
        R: RngCore + ?Sized,
    {
        let c = self.l.cards[i];
        let w = &mut w[..c];
        self.l.log_cond(i, x, self.t, w);
        let m = w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            // every state has probability zero: the rest of the state is invalid; stay put
            return None;
        }
        let mut s = 0.0;
        for l in w.iter_mut() {
            *l = num::exp(*l - m);
            s += *l;
        }
        Some(num::draw_linear(w.iter().copied(), s, rng))
    }
}
