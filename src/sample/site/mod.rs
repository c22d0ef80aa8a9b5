//! The single-site machinery shared by [`crate::sample::gibbs::Gibbs`] and
//! [`crate::sample::mh::MetropolisHastings`]: state views ([`state`]), precomputed
//! neighbourhoods ([`neighbourhood`]), update rules ([`updates`]), the sweep driver ([`drive`])
//! and the chromatic pipeline ([`pipeline`]). See [`crate::sample::gibbs`] for how an update works.

pub(crate) mod drive;
pub(crate) mod neighbourhood;
pub(crate) mod pipeline;
pub(crate) mod state;
pub(crate) mod updates;

pub(crate) use drive::*;
pub(crate) use neighbourhood::*;
pub(crate) use pipeline::*;
pub(crate) use state::*;
pub(crate) use updates::*;

use rand::RngCore;

use crate::error::{Error, Result};
use crate::model::FactorGraph;
use crate::sample::gibbs::{GibbsOptions, Scan};
use crate::sample::{StateTally, SweepStats};
use crate::var::Evidence;

/// What every single-site kernel holds: the compiled neighbourhoods, its options and (chromatic
/// scan) the chunk pipeline. Gibbs and Metropolis-Hastings differ only in their update rules.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub(crate) local: Local,
    pub(crate) opts: GibbsOptions,
    /// Chunk dependencies for pipelined chromatic sweeps (chromatic scan only).
    pub(crate) pipe: Option<Pipeline>,
}

impl Site {
    /// Compile the neighbourhoods of `fg` under `ev`. Errors: those of `Local::new`; a zero
    /// chunk size.
    pub(crate) fn new(fg: &FactorGraph, ev: &Evidence, opts: &GibbsOptions) -> Result<Site> {
        if opts.chunk_size == 0 {
            return Err(Error::InvalidArgument(
                "the chunk size of a chromatic sweep must be at least 1".into(),
            ));
        }
        let local = Local::new(fg, ev)?;
        let pipe =
            matches!(opts.scan, Scan::Chromatic).then(|| Pipeline::new(&local, opts.chunk_size));
        Ok(Site {
            local,
            opts: *opts,
            pipe,
        })
    }

    /// The sweeps of `run` with the update rule `u` in the kernel's scan (see `drive_sweeps`);
    /// `scratch_len` is the scratch space `u` needs.
    pub(crate) fn drive<U: SiteUpdate, R: RngCore + ?Sized>(
        &self,
        u: &U,
        scratch_len: usize,
        run: Run<'_, '_, R>,
    ) -> SweepStats {
        let l = &self.local;
        drive_sweeps(
            u,
            l.plan(&self.opts),
            self.pipe.as_ref(),
            run.state,
            scratch_len,
            run.rng,
            run.n,
            run.tally.map(|t| (t, &l.clamped[..])),
        )
    }
}

/// What a call of the [`Transition`](crate::sample::Transition) methods asks of a site kernel:
/// `n` sweeps of `state` with `rng`, tallying the state after each when `tally` is given.
pub(crate) struct Run<'a, 't, R: ?Sized> {
    pub(crate) state: &'a mut [usize],
    pub(crate) rng: &'a mut R,
    pub(crate) n: usize,
    pub(crate) tally: Option<&'a mut StateTally<'t>>,
}

/// The [`Transition`](crate::sample::Transition) impl of a single-site kernel: a type with a
/// `site: Site` field and a method `sweep_with(&self, &Tempering, Run) -> SweepStats` that picks
/// its update rule for the tempering and runs it by [`Site::drive`]. The impl checks the state
/// and the tempering first. Gibbs and Metropolis-Hastings share it.
macro_rules! site_transition {
    ($kernel:ty) => {
        impl $crate::sample::Transition for $kernel {
            /// The tempering itself: a single-site update reads beta and the base directly.
            type Prepared<'t> = $crate::sample::Tempering<'t>;

            fn num_vars(&self) -> usize {
                self.site.local.n
            }

            /// The tempering itself (checked at every sweep: beta in [0, 1], a uniform or
            /// factorised base).
            fn prepare<'t>(
                &'t self,
                temp: &$crate::sample::Tempering<'t>,
            ) -> $crate::sample::Tempering<'t> {
                *temp
            }

            /// One sweep. Panics if `state.len() != num_vars()` or `temp.beta` is outside
            /// [0, 1].
            fn sweep<R: rand::Rng + ?Sized>(
                &self,
                state: &mut [usize],
                temp: &$crate::sample::Tempering<'_>,
                rng: &mut R,
            ) -> $crate::sample::SweepStats {
                $crate::sample::Transition::sweeps(self, state, temp, rng, 1, None)
            }

            /// One sweep, counting the final state into `tally` (a chromatic sweep counts each
            /// variable in the thread that updated it).
            fn sweep_tally<R: rand::Rng + ?Sized>(
                &self,
                state: &mut [usize],
                temp: &$crate::sample::Tempering<'_>,
                rng: &mut R,
                tally: &mut $crate::sample::StateTally<'_>,
            ) -> $crate::sample::SweepStats {
                $crate::sample::Transition::sweeps(self, state, temp, rng, 1, Some(tally))
            }

            /// `n` sweeps, tallying the state after each; chromatic sweeps on more than one
            /// thread run as a pipeline without barriers (same draws as `n` single sweeps).
            fn sweeps<R: rand::Rng + ?Sized>(
                &self,
                state: &mut [usize],
                temp: &$crate::sample::Tempering<'_>,
                rng: &mut R,
                n: usize,
                tally: Option<&mut $crate::sample::StateTally<'_>>,
            ) -> $crate::sample::SweepStats {
                if let Some(t) = &tally {
                    assert_eq!(t.num_vars(), self.site.local.n, "tally of the wrong size");
                }
                self.site.local.check_sweep(state, temp);
                let run = $crate::sample::site::Run {
                    state,
                    rng,
                    n,
                    tally,
                };
                self.sweep_with(temp, run)
            }
        }
    };
}
pub(crate) use site_transition;
