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
