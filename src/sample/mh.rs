//! Metropolis-Hastings with single-site proposals.
//!
//! Each update picks a variable (by the scan of [`GibbsOptions`]), proposes one of its *other*
//! states uniformly at random (a symmetric proposal), and accepts with probability
//! `min(1, p_beta(x') / p_beta(x))`. The ratio needs only the factors around the variable; it is
//! computed from the same precomputed neighbourhoods as [`crate::sample::gibbs::Gibbs`]. For a
//! binary variable the proposal is the flip. `SweepStats::accepted` counts accepted proposals.
//!
//! ```
//! use pgmkit::model::{ising_grid, Boundary};
//! use pgmkit::sample::gibbs::GibbsOptions;
//! use pgmkit::sample::mh::MetropolisHastings;
//! use pgmkit::sample::{Tempering, Transition};
//! use pgmkit::Evidence;
//!
//! let g = ising_grid(4, 4, Boundary::Free, |_, _| 0.2, |_| 0.0).unwrap();
//! let mh = MetropolisHastings::new(&g, &Evidence::new(16), &GibbsOptions::default()).unwrap();
//! let mut x = vec![0usize; 16];
//! let s = mh.sweep(&mut x, &Tempering::TARGET, &mut pgmkit::rng::chain_rng(1, 0));
//! assert_eq!(s.updates, 16);
//! assert!(s.accepted <= 16);
//! ```

use rand::{Rng, RngCore};

use super::gibbs::GibbsOptions;
use super::site::{pick_index, Local, Site, SiteUpdate, StateView};
use super::{StateTally, SweepStats, Tempering};
use crate::error::Result;
use crate::model::FactorGraph;
use crate::num;
use crate::var::Evidence;

/// Single-site Metropolis-Hastings kernel with uniform proposals over the other states.
/// Implements [`Transition`]; scans as [`crate::sample::gibbs::Gibbs`] (systematic, random or
/// chromatic).
#[derive(Debug, Clone)]
pub struct MetropolisHastings {
    site: Site,
}

impl MetropolisHastings {
    /// Precompute the kernel of `fg` under `ev` (`opts.threshold_tables` is ignored).
    ///
    /// Errors as [`crate::sample::gibbs::Gibbs::new`].
    pub fn new(fg: &FactorGraph, ev: &Evidence, opts: &GibbsOptions) -> Result<MetropolisHastings> {
        Ok(MetropolisHastings {
            site: Site::new(fg, ev, opts)?,
        })
    }

    /// Free variables, ascending.
    pub fn free_vars(&self) -> &[u32] {
        &self.site.local.free
    }
}

struct MhUpd<'a> {
    l: &'a Local,
    beta: f64,
    base: Option<&'a [Vec<f64>]>,
}

impl MhUpd<'_> {
    #[inline(always)]
    fn tempered(&self, i: usize, v: usize, model: f64) -> f64 {
        let q = || self.base.map_or(0.0, |b| b[i][v]);
        if self.beta == 1.0 {
            model
        } else if self.beta == 0.0 {
            q()
        } else {
            self.beta * model + (1.0 - self.beta) * q()
        }
    }
}

impl SiteUpdate for MhUpd<'_> {
    #[inline(always)]
    fn update<S: StateView + ?Sized, R: RngCore + ?Sized>(
        &self,
        i: usize,
        x: &S,
        rng: &mut R,
        _: &mut [f64],
    ) -> bool {
        let l = self.l;
        let c = l.cards[i];
        let old = x.get(i);
        let r = pick_index(rng, c - 1);
        let new = r + (r >= old) as usize;
        let (mut lo, mut ln) = (0.0, 0.0);
        if self.beta != 0.0 {
            for e in l.nbs(i) {
                let b = l.base(e, x);
                let s = e.stride as usize;
                lo += l.log_tab[b + old * s];
                ln += l.log_tab[b + new * s];
            }
        }
        let to = self.tempered(i, old, lo);
        let tn = self.tempered(i, new, ln);
        let accept = if tn == f64::NEG_INFINITY {
            false
        } else if to == f64::NEG_INFINITY || tn >= to {
            true
        } else {
            num::uniform(rng) < num::exp(tn - to)
        };
        if accept {
            x.set(i, new);
        }
        accept
    }
}

super::site::site_transition!(MetropolisHastings);

impl MetropolisHastings {
    fn sweep_with<R: Rng + ?Sized>(
        &self,
        state: &mut [usize],
        temp: &Tempering<'_>,
        rng: &mut R,
        n: usize,
        tally: Option<&mut StateTally<'_>>,
    ) -> SweepStats {
        let l = &self.site.local;
        l.check_sweep(state, temp);
        let u = MhUpd {
            l,
            beta: temp.beta,
            base: temp.base.factorised(),
        };
        self.site.drive(&u, state, 0, rng, n, tally)
    }
}
