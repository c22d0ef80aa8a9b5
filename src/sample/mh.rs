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
use super::site::{pick_index, Local, Run, Site, SiteUpdate, StateView, Temper};
use super::{SweepStats, Tempering};
use crate::error::Result;
use crate::model::FactorGraph;
use crate::num;
use crate::var::Evidence;

/// Single-site Metropolis-Hastings kernel with uniform proposals over the other states.
/// Implements [`Transition`](crate::sample::Transition); scans as [`crate::sample::gibbs::Gibbs`] (systematic, random or
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
    t: Temper<'a>,
}

impl SiteUpdate for MhUpd<'_> {
    #[inline(always)]
    fn draw<S, R>(&self, i: usize, x: &S, rng: &mut R, _: &mut [f64]) -> Option<usize>
    where
        S: StateView + ?Sized,
        R: RngCore + ?Sized,
    {
        let l = self.l;
        let c = l.cards[i];
        let old = x.get(i);
        let r = pick_index(rng, c - 1);
        let new = r + (r >= old) as usize;
        let (mut lo, mut ln) = (0.0, 0.0);
        if self.t.beta != 0.0 {
            for e in l.nbs(i) {
                let b = l.base(e, x);
                let s = e.stride as usize;
                lo += l.log_tab[b + old * s];
                ln += l.log_tab[b + new * s];
            }
        }
        let to = self.t.mix(lo, |b| b[i][old]);
        let tn = self.t.mix(ln, |b| b[i][new]);
        let accept = if tn == f64::NEG_INFINITY {
            false
        } else if to == f64::NEG_INFINITY || tn >= to {
            true
        } else {
            num::uniform(rng) < num::exp(tn - to)
        };
        accept.then_some(new)
    }
}

super::site::site_transition!(MetropolisHastings);

impl MetropolisHastings {
    fn sweep_with<R: Rng + ?Sized>(&self, temp: &Tempering<'_>, run: Run<'_, '_, R>) -> SweepStats {
        let u = MhUpd {
            l: &self.site.local,
            t: Temper::of(temp),
        };
        self.site.drive(&u, 0, run)
    }
}
