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

/// The [`Transition`](crate::sample::Transition) impl of a single-site kernel: a type with a
/// `local: Local` field and a method
/// `sweep_with(&self, state, temp, rng, n, tally: Option<&mut StateTally>) -> SweepStats`
/// that runs `n` sweeps (tallying the state after each). Gibbs and Metropolis-Hastings share it.
macro_rules! site_transition {
    ($kernel:ty) => {
        impl $crate::sample::Transition for $kernel {
            /// The tempering itself: a single-site update reads beta and the base directly.
            type Prepared<'t> = $crate::sample::Tempering<'t>;

            fn num_vars(&self) -> usize {
                self.local.n
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
                self.sweep_with(state, temp, rng, 1, None)
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
                assert_eq!(tally.num_vars(), self.local.n, "tally of the wrong size");
                self.sweep_with(state, temp, rng, 1, Some(tally))
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
                    assert_eq!(t.num_vars(), self.local.n, "tally of the wrong size");
                }
                self.sweep_with(state, temp, rng, n, tally)
            }
        }
    };
}
pub(crate) use site_transition;
