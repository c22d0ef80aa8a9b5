//! Sampling: forward (ancestral) sampling and likelihood weighting of Bayesian networks, and MCMC
//! (Gibbs, Metropolis-Hastings) on any discrete factor graph, run on parallel chains.
//!
//! MCMC kernels implement [`Transition`]; they target the tempered distribution
//! `p_beta(x) ∝ p0(x)^(1-beta) * p~(x)^beta` described by [`Tempering`], so that annealed
//! importance sampling can reuse them unchanged (beta = 1 and no base is the model itself).

pub mod ancestral;
pub mod anneal;
pub mod block;
pub mod chains;
pub mod continuous;
pub mod gibbs;
pub mod kernel;
pub mod mh;
pub(crate) mod site;
pub mod start;
pub mod weighting;

use rand::Rng;

/// The base `p0` of a tempered target.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum TemperedBase<'a> {
    /// Uniform: a constant, which drops out of every conditional.
    #[default]
    Uniform,
    /// Fully factorised: per variable, normalised log probabilities of its states.
    Factorised(&'a [Vec<f64>]),
    /// A product of tables in the shapes of the model's own factors: their log values, all
    /// factors one after the other, each in the factor's row-major order (the network base of
    /// AIS). Only kernels that work on whole factors take it ([`block::BlockGibbs`]); the
    /// single-site kernels panic on it.
    Factors(&'a [f64]),
}

impl<'a> TemperedBase<'a> {
    /// The per-variable log probabilities of a factorised base.
    pub fn factorised(&self) -> Option<&'a [Vec<f64>]> {
        match *self {
            TemperedBase::Factorised(b) => Some(b),
            _ => None,
        }
    }
}

/// The tempered target `p_beta(x) ∝ p0(x)^(1-beta) p~(x)^beta`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tempering<'a> {
    /// Inverse temperature in [0, 1].
    pub beta: f64,
    /// The base distribution `p0`.
    pub base: TemperedBase<'a>,
}

impl Tempering<'static> {
    /// The model itself (beta = 1).
    pub const TARGET: Tempering<'static> = Tempering {
        beta: 1.0,
        base: TemperedBase::Uniform,
    };
}

impl<'a> Tempering<'a> {
    /// `beta` with a uniform base.
    pub fn uniform(beta: f64) -> Self {
        Tempering {
            beta,
            base: TemperedBase::Uniform,
        }
    }

    /// `beta` with a fully factorised base (log probabilities per variable and state).
    pub fn factorised(beta: f64, base: &'a [Vec<f64>]) -> Self {
        Tempering {
            beta,
            base: TemperedBase::Factorised(base),
        }
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Single-site updates (or proposals) made.
    pub updates: u64,
    /// Proposals accepted (Metropolis-Hastings) or state changes (Gibbs).
    pub accepted: u64,
}

/// An MCMC transition kernel on the joint state of a discrete model.
///
/// A kernel owns what it precomputed from a model (neighbourhoods, evidence clamps) and is
/// shared read-only by all chains; the chain state is a `&mut [usize]`, one state index per
/// model variable. Observed (clamped) variables are never changed.
///
/// A kernel targets one tempered distribution at a time: [`Transition::prepare`] turns a
/// [`Tempering`] into what the kernel needs at that temperature (the single-site kernels: the
/// tempering itself; blocked Gibbs: its tempered tables), once, and every sweep of every chain
/// or particle at that temperature shares it. For the single-site kernels the prepared value *is*
/// the tempering, so `kernel.sweep(&mut x, &Tempering::TARGET, &mut rng)` works as written.
pub trait Transition: Send + Sync {
    /// What [`Transition::prepare`] precomputes for one tempered target.
    type Prepared<'t>: Sync
    where
        Self: 't;

    /// Number of model variables the state must have.
    fn num_vars(&self) -> usize;

    /// Precompute the kernel at `temp`. Panics if beta is outside [0, 1] or the base does not
    /// fit the kernel (see [`TemperedBase`]).
    fn prepare<'t>(&'t self, temp: &Tempering<'t>) -> Self::Prepared<'t>;

    /// One sweep (about one update per free variable), leaving `p_beta` of the prepared
    /// tempering invariant.
    fn sweep<R: Rng + ?Sized>(
        &self,
        state: &mut [usize],
        prep: &Self::Prepared<'_>,
        rng: &mut R,
    ) -> SweepStats;

    /// One sweep, then the state it leaves added to `tally` (what the chain runner does for
    /// every draw). Same draws as [`Transition::sweep`]; kernels may override it to count while
    /// they sweep (the chromatic Gibbs sweep counts each variable in the thread that updated it).
    fn sweep_tally<R: Rng + ?Sized>(
        &self,
        state: &mut [usize],
        prep: &Self::Prepared<'_>,
        rng: &mut R,
        tally: &mut StateTally<'_>,
    ) -> SweepStats {
        let s = self.sweep(state, prep, rng);
        tally.add_state(state);
        s
    }

    /// `n` sweeps; with a tally, the state after each sweep is added to it. Same draws as `n`
    /// calls of [`Transition::sweep`] (or [`Transition::sweep_tally`]); kernels may override it to
    /// avoid synchronising between sweeps (the chromatic Gibbs sweep runs them as a pipeline).
    fn sweeps<R: Rng + ?Sized>(
        &self,
        state: &mut [usize],
        prep: &Self::Prepared<'_>,
        rng: &mut R,
        n: usize,
        mut tally: Option<&mut StateTally<'_>>,
    ) -> SweepStats {
        let mut total = SweepStats::default();
        for _ in 0..n {
            let s = match tally.as_deref_mut() {
                Some(t) => self.sweep_tally(state, prep, rng, t),
                None => self.sweep(state, prep, rng),
            };
            total.updates += s.updates;
            total.accepted += s.accepted;
        }
        total
    }
}

/// Per-variable state counts that a sweep adds its final state to.
///
/// Two layouts: [`StateTally::binary`] keeps one counter per variable (how often it was in
/// state 1; every variable must be binary), [`StateTally::offsets`] one counter per variable and
/// state, variable `i`'s states at `counts[offsets[i]..offsets[i + 1]]`.
#[derive(Debug)]
pub struct StateTally<'a> {
    counts: &'a mut [u64],
    offsets: Option<&'a [usize]>,
}

impl<'a> StateTally<'a> {
    /// One counter per (binary) variable: the number of draws in state 1.
    pub fn binary(counts: &'a mut [u64]) -> Self {
        StateTally {
            counts,
            offsets: None,
        }
    }

    /// One counter per variable and state; `offsets` has `num_vars + 1` entries and
    /// `counts.len() == offsets[num_vars]`.
    ///
    /// # Panics
    /// If the lengths do not fit.
    pub fn offsets(counts: &'a mut [u64], offsets: &'a [usize]) -> Self {
        assert_eq!(
            offsets.last().copied(),
            Some(counts.len()),
            "tally offsets do not fit the counts"
        );
        StateTally {
            counts,
            offsets: Some(offsets),
        }
    }

    /// Number of variables tallied.
    pub fn num_vars(&self) -> usize {
        match self.offsets {
            None => self.counts.len(),
            Some(o) => o.len() - 1,
        }
    }

    /// Add the state of every variable.
    ///
    /// # Panics
    /// If `state` has the wrong length or a state is out of range.
    pub fn add_state(&mut self, state: &[usize]) {
        assert_eq!(
            state.len(),
            self.num_vars(),
            "tally of a state of the wrong length"
        );
        match self.offsets {
            None => {
                for (k, &v) in self.counts.iter_mut().zip(state) {
                    *k += v as u64;
                }
            }
            Some(off) => {
                for (i, &v) in state.iter().enumerate() {
                    assert!(off[i] + v < off[i + 1], "state out of range in a tally");
                    self.counts[off[i] + v] += 1;
                }
            }
        }
    }

    /// Add state `v` of variable `i`.
    #[inline(always)]
    pub fn add(&mut self, i: usize, v: usize) {
        match self.offsets {
            None => self.counts[i] += v as u64,
            Some(off) => self.counts[off[i] + v] += 1,
        }
    }

    /// A view that threads updating disjoint sets of variables can add through at once.
    pub(crate) fn shared(&mut self) -> SharedTally<'_> {
        SharedTally {
            ptr: self.counts.as_mut_ptr(),
            len: self.counts.len(),
            offsets: self.offsets,
            _borrow: std::marker::PhantomData,
        }
    }
}

/// [`StateTally`] shared by the threads of a chromatic sweep: each variable is added by the one
/// thread that updated it (colour classes are cut into disjoint chunks), and the counters of
/// different variables are disjoint, so no counter is touched by two threads.
pub(crate) struct SharedTally<'a> {
    ptr: *mut u64,
    len: usize,
    offsets: Option<&'a [usize]>,
    _borrow: std::marker::PhantomData<&'a mut [u64]>,
}

// SAFETY: see the type docs: concurrent adds never touch the same counter.
unsafe impl Sync for SharedTally<'_> {}

impl SharedTally<'_> {
    /// A copy of the view for one task (kept in registers; see `gibbs::SharedState::local`).
    #[inline(always)]
    pub(crate) fn local(&self) -> SharedTally<'_> {
        SharedTally {
            ptr: self.ptr,
            len: self.len,
            offsets: self.offsets,
            _borrow: std::marker::PhantomData,
        }
    }

    /// Add state `v` of variable `i`; the caller is the only one adding variable `i` meanwhile.
    #[inline(always)]
    pub(crate) fn add(&self, i: usize, v: usize) {
        let k = match self.offsets {
            None => i,
            Some(off) => off[i] + v,
        };
        assert!(k < self.len, "tally index out of range");
        let add = if self.offsets.is_none() { v as u64 } else { 1 };
        // SAFETY: k < len; race-freedom: see the type docs.
        unsafe { *self.ptr.add(k) += add }
    }
}
