//! Single-site Gibbs sampling on any discrete factor graph, including a chromatic (graph-coloured)
//! parallel sweep, and the search for a start state of positive probability.
//!
//! # How an update works
//!
//! [`Gibbs::new`] reduces every factor by the evidence (observed variables, and variables with a
//! single state, are clamped and disappear from the scopes), merges each factor into a factor whose
//! scope contains it (so a unary potential costs nothing extra), and stores for every free variable
//! its *neighbourhood*: the factors that mention it, with the variable's stride in each and the
//! `(variable, stride)` pairs of the other scope members. Updating `x_i` sums (or multiplies) the
//! relevant table entries of all states of `x_i` by stride arithmetic and draws from the result; no
//! memory is allocated per update (the scratch buffer belongs to the sweep).
//!
//! Three update paths are chosen automatically ([`UpdatePath`]):
//!
//! - **binary threshold tables** (binary pairwise models, `beta = 1`): for each variable with at
//!   most [`MAX_TABLE_DEGREE`] neighbours, the conditional probability of state 1 for every
//!   configuration of its neighbours is precomputed (in `f64`) as a 64-bit threshold `T`; an
//!   update gathers the neighbour bits and takes state 1 iff one random `u64` is below `T` (no
//!   `exp` on the hot path; the probability is exact to `2^-64`). Only the high 32 bits of `T`
//!   are stored; the rest is recomputed on the rare (`2^-32`) tie of the high halves;
//! - **binary log-odds** (binary pairwise models at any temperature): the conditional log-odds is
//!   a constant plus one coupling per neighbour in state 1, then one `exp`;
//! - **general**: at `beta = 1` the conditional is a product of factor entries kept as
//!   probabilities scaled by each factor's maximum (no `exp`; on underflow it falls back to logs);
//!   at other temperatures the log entries are summed, tempered and exponentiated.
//!
//! # Tempering
//!
//! The target is `p_beta(x) ∝ p0(x)^(1-beta) p~(x)^beta` ([`Tempering`]): the conditional of
//! `x_i` is `beta * (sum of its factor logs) + (1 - beta) * base_i(x_i)`. At `beta = 0` the model
//! is ignored (also where it is zero); at `beta = 1` the base is ignored.
//!
//! # Chromatic sweeps
//!
//! With [`Scan::Chromatic`] the interaction graph of the free variables (two variables interact
//! when they share a factor) is coloured greedily in variable order, so no two variables of one
//! colour share a factor; each colour class is then updated in parallel (rayon) in fixed chunks of
//! [`GibbsOptions::chunk_size`] variables. One `u64` is drawn from the chain's RNG per sweep and
//! chunk `k` of colour `c` uses the stream `chain_rng(that u64, c << 32 | k)`, so the result does
//! not depend on the number of threads. The systematic scan visits the same colour classes one
//! after the other (on a grid, the checkerboard order).
//!
//! # Zero probabilities and ergodicity
//!
//! Zero potentials (deterministic CPT entries, hard constraints) are handled exactly: an update
//! never moves to a state of probability zero, and [`StartSearch`] finds a start state of
//! positive probability (or proves there is none). But a single-site sampler cannot cross a
//! region of probability zero: when a deterministic relation ties variables together (in ASIA,
//! `either = lung OR tub` with `xray` and `dysp` observed, the state `tub = lung = either = no`
//! cannot be left one variable at a time), the chain is reducible and its marginals depend on where
//! it started. Run several chains from dispersed starts and check R-hat
//! ([`crate::sample::chains`]), which flags it.
//!
//! ```
//! use pgmkit::model::{ising_grid, Boundary};
//! use pgmkit::sample::gibbs::{Gibbs, GibbsOptions, Scan};
//! use pgmkit::sample::{Tempering, Transition};
//! use pgmkit::Evidence;
//!
//! let g = ising_grid(8, 8, Boundary::Periodic, |_, _| 0.3, |_| 0.0).unwrap();
//! let ev = Evidence::new(g.num_vars());
//! let opts = GibbsOptions { scan: Scan::Chromatic, ..GibbsOptions::default() };
//! let gibbs = Gibbs::new(&g, &ev, &opts).unwrap();
//! assert_eq!(gibbs.num_colours(), 2);
//! let mut rng = pgmkit::rng::chain_rng(7, 0);
//! let mut x = vec![0usize; 64];
//! let stats = gibbs.sweep(&mut x, &Tempering::TARGET, &mut rng);
//! assert_eq!(stats.updates, 64);
//! ```

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rand::{Rng, RngCore};
use rayon::prelude::*;

use super::{SharedTally, StateTally, SweepStats, Tempering, Transition};
use crate::error::{Error, Result};
use crate::factor::index::strides;
use crate::factor::TableFactor;
use crate::infer::exact::{self, ExactOptions};
use crate::model::FactorGraph;
use crate::num;
use crate::rng::chain_rng;
use crate::var::{Evidence, VarId};

/// Largest number of neighbours for which a binary variable gets a precomputed threshold table
/// (`2^degree` entries).
pub const MAX_TABLE_DEGREE: usize = 8;

/// Largest total number of threshold-table entries (4 bytes each) a kernel precomputes: 64 MiB,
/// enough for a 1000 x 1000 grid.
pub const MAX_TABLE_ENTRIES: usize = 1 << 24;

/// Order in which a sweep visits the free variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scan {
    /// Every free variable once, in a fixed order: colour class by colour class (the classes of
    /// [`Scan::Chromatic`]), ascending within a class; on a grid, the checkerboard order. Any fixed
    /// order leaves the target invariant; this one has no two consecutive updates depend on each
    /// other, so the CPU overlaps them.
    #[default]
    Systematic,
    /// As many updates as free variables, each at a variable drawn uniformly.
    Random,
    /// Colour classes in turn; the variables of a class are updated in parallel (rayon).
    Chromatic,
}

/// Options of [`Gibbs`] (and of [`crate::sample::mh::MetropolisHastings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GibbsOptions {
    /// Scan order.
    pub scan: Scan,
    /// Variables per parallel chunk of a colour class ([`Scan::Chromatic`]); fixed, so results do
    /// not depend on the number of threads. Default 256.
    pub chunk_size: usize,
    /// Use precomputed threshold tables for binary pairwise models at `beta = 1` (default true).
    pub threshold_tables: bool,
}

impl Default for GibbsOptions {
    fn default() -> Self {
        GibbsOptions {
            scan: Scan::Systematic,
            chunk_size: 256,
            threshold_tables: true,
        }
    }
}

/// Which update code a sweep runs (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdatePath {
    /// Binary pairwise model, `beta = 1`: precomputed conditional thresholds per neighbour
    /// configuration.
    BinaryTable,
    /// Binary pairwise model: conditional log-odds and one `exp`.
    BinaryLogOdds,
    /// Any model at `beta = 1`: products of scaled factor probabilities.
    GeneralProb,
    /// Any model, any temperature: sums of factor logs, tempered.
    GeneralLog,
}

// ---------------------------------------------------------------------------------------------
// State access shared by sequential (Cell) and parallel (SharedState) sweeps
// ---------------------------------------------------------------------------------------------

/// Read/write access to the chain state during a sweep.
pub(crate) trait StateView {
    fn get(&self, i: usize) -> usize;
    fn set(&self, i: usize, v: usize);
}

impl StateView for [Cell<usize>] {
    #[inline(always)]
    fn get(&self, i: usize) -> usize {
        debug_assert!(i < self.len());
        // SAFETY: every variable index stored in a kernel is < num_vars, and each sweep asserts
        // that the state has exactly num_vars entries.
        unsafe { self.get_unchecked(i).get() }
    }
    #[inline(always)]
    fn set(&self, i: usize, v: usize) {
        debug_assert!(i < self.len());
        // SAFETY: as in `get`.
        unsafe { self.get_unchecked(i).set(v) }
    }
}

/// The chain state shared by the threads of a chromatic sweep.
///
/// During the update of one colour class, each variable of the class is read and written by the
/// one thread whose chunk holds it, and the variables it reads (its neighbours) belong to other
/// colour classes, which nobody writes meanwhile (the colouring is proper). So no memory location
/// is written by one thread while another accesses it: plain loads and stores are race-free.
pub(crate) struct SharedState<'a> {
    ptr: *mut usize,
    len: usize,
    _borrow: std::marker::PhantomData<&'a mut [usize]>,
}

// SAFETY: see the type docs: concurrent accesses through a SharedState never touch the same
// location when one of them is a write.
unsafe impl Sync for SharedState<'_> {}

impl<'a> SharedState<'a> {
    fn new(s: &'a mut [usize]) -> Self {
        SharedState {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            _borrow: std::marker::PhantomData,
        }
    }

    /// A copy of the view for one task: a local the compiler can keep in registers (a view
    /// reached through a shared closure would be reloaded after every store through it).
    #[inline(always)]
    fn local(&self) -> SharedState<'_> {
        SharedState {
            ptr: self.ptr,
            len: self.len,
            _borrow: std::marker::PhantomData,
        }
    }
}

impl StateView for SharedState<'_> {
    #[inline(always)]
    fn get(&self, i: usize) -> usize {
        debug_assert!(i < self.len);
        // SAFETY: i < len (kernel invariant, see the Cell view); race-freedom: see the type docs.
        unsafe { self.ptr.add(i).read() }
    }
    #[inline(always)]
    fn set(&self, i: usize, v: usize) {
        debug_assert!(i < self.len);
        // SAFETY: as in `get`.
        unsafe { self.ptr.add(i).write(v) }
    }
}

/// A uniform draw in [0, 1) with 53 random bits.
#[inline(always)]
pub(crate) fn unif<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// A uniform index in `0..n` (multiply-shift; bias below `n / 2^64`).
#[inline(always)]
pub(crate) fn pick_index<R: RngCore + ?Sized>(rng: &mut R, n: usize) -> usize {
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}

/// Draw a state from non-negative weights with a positive finite `sum`; never returns a state of
/// weight zero.
#[inline(always)]
fn pick_weighted<R: RngCore + ?Sized>(w: &[f64], sum: f64, rng: &mut R) -> usize {
    let u = unif(rng) * sum;
    let mut acc = 0.0;
    for (v, &p) in w.iter().enumerate() {
        acc += p;
        if u < acc {
            return v;
        }
    }
    // rounding left u at or above the running sum: take the last state of positive weight
    w.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

/// One site update rule (Gibbs conditional, Metropolis step, ...).
pub(crate) trait SiteUpdate: Sync {
    /// Update variable `i`; returns whether its state changed.
    fn update<S: StateView + ?Sized, R: RngCore + ?Sized>(
        &self,
        i: usize,
        x: &S,
        rng: &mut R,
        scratch: &mut [f64],
    ) -> bool;

    /// Hint that variable `i` will be updated soon (default: nothing).
    #[inline(always)]
    fn prefetch(&self, _i: usize) {}
}

/// How many updates ahead [`SiteUpdate::prefetch`] is called in the fixed-order scans.
const PREFETCH_AHEAD: usize = 32;

/// Ask the CPU to bring the cache line at `p` into cache (no effect on other architectures).
#[inline(always)]
fn prefetch_line<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// How a sweep visits variables.
#[derive(Clone, Copy)]
pub(crate) enum Plan<'a> {
    Systematic(&'a [u32]),
    Random(&'a [u32]),
    Chromatic(&'a [Vec<u32>], usize),
}

/// Run one sweep of `u` under `plan` and, with a tally, add the final state to it: `(tally,
/// clamped)` where `clamped` lists the variables no update touches. A chromatic sweep counts
/// each variable in the chunk that updated it (so in parallel, while its state is in cache).
pub(crate) fn drive_tally<U: SiteUpdate, R: RngCore + ?Sized>(
    u: &U,
    plan: Plan<'_>,
    state: &mut [usize],
    scratch_len: usize,
    rng: &mut R,
    tally: Option<(&mut StateTally<'_>, &[u32])>,
) -> SweepStats {
    let (mut tally, clamped) = match tally {
        Some((t, c)) => (Some(t), c),
        None => (None, &[][..]),
    };
    if let (Some(t), Plan::Systematic(_) | Plan::Random(_)) = (tally.as_deref_mut(), plan) {
        let s = drive_tally(u, plan, state, scratch_len, rng, None);
        t.add_state(state);
        return s;
    }
    match plan {
        Plan::Systematic(free) => {
            let x = Cell::from_mut(state).as_slice_of_cells();
            let mut scratch = vec![0.0; scratch_len];
            let mut acc = 0u64;
            for &j in free.iter().take(PREFETCH_AHEAD) {
                u.prefetch(j as usize);
            }
            for (k, &i) in free.iter().enumerate() {
                if let Some(&j) = free.get(k + PREFETCH_AHEAD) {
                    u.prefetch(j as usize);
                }
                acc += u.update(i as usize, x, rng, &mut scratch) as u64;
            }
            SweepStats {
                updates: free.len() as u64,
                accepted: acc,
            }
        }
        Plan::Random(free) => {
            let x = Cell::from_mut(state).as_slice_of_cells();
            let mut scratch = vec![0.0; scratch_len];
            let mut acc = 0u64;
            let n = free.len();
            for _ in 0..n {
                let i = free[pick_index(rng, n)] as usize;
                acc += u.update(i, x, rng, &mut scratch) as u64;
            }
            SweepStats {
                updates: n as u64,
                accepted: acc,
            }
        }
        Plan::Chromatic(classes, chunk) => {
            let shared = tally.map(StateTally::shared);
            let tl = shared.as_ref();
            let seed = rng.next_u64();
            let chunk = chunk.max(1);
            let threads = rayon::current_num_threads();
            let mut stats = SweepStats::default();
            let add = |p: (u64, u64), q: (u64, u64)| (p.0 + q.0, p.1 + q.1);
            for (c, class) in classes.iter().enumerate() {
                // The chunks (and so the random streams) are fixed; only how they are grouped
                // into tasks depends on the number of threads: one run of consecutive chunks
                // per thread, so each thread keeps working on the same part of the model (and
                // of the precomputed tables) from sweep to sweep, in its own cache.
                let nchunks = class.len().div_ceil(chunk);
                let (n, a) = if threads == 1 || nchunks == 1 {
                    let x = Cell::from_mut(&mut *state).as_slice_of_cells();
                    class
                        .chunks(chunk)
                        .enumerate()
                        .map(|(k, vars)| run_chunk(u, x, seed, c, k, vars, scratch_len, tl))
                        .fold((0, 0), add)
                } else {
                    let x = SharedState::new(state);
                    let x = &x;
                    class
                        .par_chunks(chunk)
                        .enumerate()
                        .with_min_len(nchunks.div_ceil(threads))
                        .map(|(k, vars)| run_chunk(u, x, seed, c, k, vars, scratch_len, tl))
                        .reduce(|| (0, 0), add)
                };
                stats.updates += n;
                stats.accepted += a;
            }
            if let Some(t) = tl {
                for &i in clamped {
                    t.add(i as usize, state[i as usize]);
                }
            }
            stats
        }
    }
}

/// Variables per pipeline block at least (a block is scheduled as one unit; smaller blocks
/// would spend more on synchronisation than on updates).
const PIPE_MIN_BLOCK: usize = 1024;
/// Blocks per colour class at most.
const PIPE_MAX_BLOCKS: usize = 16;
/// Idle polls of a participant before it takes blocks of a participant that has not started.
const PIPE_JOIN_WAIT: u32 = 256;
/// Idle polls of a participant before it takes blocks of a running participant (whose thread
/// may have been descheduled when the machine has more work than cores).
const PIPE_STEAL_AFTER: u32 = 512;
/// Idle polls of a participant before it starts yielding its thread between polls.
const PIPE_YIELD_AFTER: u32 = 1 << 14;

/// The blocks of a chromatic sweep and which blocks interact, for running several sweeps as a
/// pipeline (no barrier between colour classes or sweeps).
///
/// A block is a run of consecutive chunks of one colour class (each chunk keeps its own stream
/// `chain_rng(seed_s, class << 32 | k)`, so blocks only decide scheduling, never draws). Block
/// `b` may update its variables for sweep `s` once every interacting block of an earlier class
/// has finished sweep `s` and every interacting block of a later class has finished sweep
/// `s - 1`. That is the order of sequential class-by-class sweeps, so the states are identical
/// whatever the number of threads and however blocks are scheduled.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    /// `(class, first chunk, number of chunks, index of the block within its class)`.
    blocks: Vec<(u32, u32, u32, u32)>,
    /// Interacting blocks `(h, earlier)` of every block, `earlier` when `h`'s class comes first.
    deps_start: Vec<u32>,
    deps: Vec<(u32, bool)>,
    /// Number of blocks of every class.
    class_blocks: Vec<u32>,
    chunk: usize,
}

impl Pipeline {
    /// Build the block dependency graph of `local`'s colour classes cut into `chunk`-variable
    /// chunks.
    ///
    /// Complexity: O(sum of neighbourhood sizes) time, O(blocks + block adjacencies) memory.
    pub(crate) fn new(local: &Local, chunk: usize) -> Pipeline {
        let chunk = chunk.max(1);
        let mut block_of = vec![u32::MAX; local.n];
        let mut blocks = Vec::new();
        let mut class_blocks = Vec::new();
        for (c, class) in local.classes.iter().enumerate() {
            let nchunks = class.len().div_ceil(chunk);
            let nb = (class.len() / PIPE_MIN_BLOCK)
                .clamp(1, PIPE_MAX_BLOCKS)
                .min(nchunks);
            class_blocks.push(nb as u32);
            for j in 0..nb {
                let (k0, k1) = (j * nchunks / nb, (j + 1) * nchunks / nb);
                let b = blocks.len() as u32;
                let (a, e) = (k0 * chunk, (k1 * chunk).min(class.len()));
                for &v in &class[a..e] {
                    block_of[v as usize] = b;
                }
                blocks.push((c as u32, k0 as u32, (k1 - k0) as u32, j as u32));
            }
        }
        let mut deps_start = vec![0u32];
        let mut deps = Vec::new();
        let mut seen = vec![u32::MAX; blocks.len()];
        for (b, &(c, k0, nk, _)) in blocks.iter().enumerate() {
            let class = &local.classes[c as usize];
            let a = k0 as usize * chunk;
            let e = ((k0 + nk) as usize * chunk).min(class.len());
            for &v in &class[a..e] {
                for j in local.neighbours(v as usize) {
                    let h = block_of[j as usize];
                    if h == u32::MAX || h as usize == b || seen[h as usize] == b as u32 {
                        continue;
                    }
                    seen[h as usize] = b as u32;
                    deps.push((h, blocks[h as usize].0 < c));
                }
            }
            deps_start.push(deps.len() as u32);
        }
        Pipeline {
            blocks,
            deps_start,
            deps,
            class_blocks,
            chunk,
        }
    }

    /// Block `b` may start sweep `s`: its interacting blocks are far enough along.
    #[inline]
    fn ready(&self, stage: &[AtomicU64], b: usize, s: u64) -> bool {
        let d = &self.deps[self.deps_start[b] as usize..self.deps_start[b + 1] as usize];
        d.iter().all(|&(h, earlier)| {
            let need = if earlier { 2 * (s + 1) } else { 2 * s };
            stage[h as usize].load(Ordering::Acquire) >= need
        })
    }
}

/// `n` sweeps of `u` under `plan`, each followed by adding the state to the tally (if any).
///
/// A chromatic plan with a [`Pipeline`] of more than one block on more than one thread runs the
/// sweeps as a pipeline (see [`Pipeline`]); everything else runs sweep by sweep. One `u64` is
/// drawn from `rng` per sweep either way, so both give the same states.
///
/// Every participant first works on its own share of the blocks (the same part of every class,
/// so it stays in its own cache) and takes other blocks only after idling; a block is claimed
/// before it runs, so a participant never waits for one that nobody is running and the sweeps
/// finish even if only the calling thread ever takes part.
#[allow(clippy::too_many_arguments)]
pub(crate) fn drive_sweeps<U: SiteUpdate, R: RngCore + ?Sized>(
    u: &U,
    plan: Plan<'_>,
    pipe: Option<&Pipeline>,
    state: &mut [usize],
    scratch_len: usize,
    rng: &mut R,
    n: usize,
    mut tally: Option<(&mut StateTally<'_>, &[u32])>,
) -> SweepStats {
    let threads = rayon::current_num_threads();
    let (pipe, classes) = match (plan, pipe) {
        (Plan::Chromatic(classes, chunk), Some(p))
            if threads > 1 && p.blocks.len() > 1 && n > 0 && chunk.max(1) == p.chunk =>
        {
            (p, classes)
        }
        _ => {
            let mut total = SweepStats::default();
            for _ in 0..n {
                let t = tally.as_mut().map(|(t, c)| (&mut **t, *c));
                let s = drive_tally(u, plan, state, scratch_len, rng, t);
                total.updates += s.updates;
                total.accepted += s.accepted;
            }
            return total;
        }
    };
    let seeds: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
    let nblocks = pipe.blocks.len();
    let stage: Vec<AtomicU64> = (0..nblocks).map(|_| AtomicU64::new(0)).collect();
    let last = 2 * n as u64;
    let updates = AtomicU64::new(0);
    let accepted = AtomicU64::new(0);
    let joined = AtomicUsize::new(0);
    let (shared, clamped) = match tally.as_mut() {
        Some((t, c)) => (Some(t.shared()), *c),
        None => (None, &[][..]),
    };
    {
        let x = SharedState::new(state);
        // Claim block `b` for its next sweep if it is ready, and run it.
        let try_run = |b: usize| -> Option<(u64, u64)> {
            let st = stage[b].load(Ordering::Acquire);
            if st % 2 == 1 || st >= last {
                return None;
            }
            let s = st / 2;
            if !pipe.ready(&stage, b, s)
                || stage[b]
                    .compare_exchange(st, st + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                return None;
            }
            let (c, k0, nk, _) = pipe.blocks[b];
            let class = &classes[c as usize];
            let (up, acc) = run_block(
                u,
                &x,
                seeds[s as usize],
                c as usize,
                k0 as usize..(k0 + nk) as usize,
                pipe.chunk,
                class,
                scratch_len,
                shared.as_ref(),
            );
            stage[b].store(st + 2, Ordering::Release);
            Some((up, acc))
        };
        let work = |me: usize| {
            let home: Vec<usize> = (0..nblocks)
                .filter(|&b| {
                    let (c, _, _, j) = pipe.blocks[b];
                    (j as usize * threads) / pipe.class_blocks[c as usize] as usize == me
                })
                .collect();
            joined.fetch_add(1, Ordering::AcqRel);
            let (mut up, mut acc) = (0u64, 0u64);
            let mut idle = 0u32;
            // Own blocks in the order of sequential sweeps: (sweep, class, block). Every
            // dependency of a block lies earlier in that order, so running the own blocks in it
            // never waits for work that comes later; a cursor makes choosing the next block O(1).
            let (mut s, mut k) = (if home.is_empty() { n as u64 } else { 0 }, 0usize);
            loop {
                let mut ran = None;
                // skip own blocks already run (taken by another participant)
                while s < n as u64 && stage[home[k]].load(Ordering::Acquire) > 2 * s {
                    k += 1;
                    if k == home.len() {
                        k = 0;
                        s += 1;
                    }
                }
                if s < n as u64 {
                    ran = try_run(home[k]);
                }
                // another participant's blocks: at once while some participant has not started
                // yet, else only after a long wait (its thread may have been descheduled)
                let steal_after = if joined.load(Ordering::Acquire) < threads {
                    PIPE_JOIN_WAIT
                } else {
                    PIPE_STEAL_AFTER
                };
                if ran.is_none() && (idle >= steal_after || s >= n as u64) {
                    ran = (0..nblocks).find_map(&try_run);
                }
                match ran {
                    Some((nu, na)) => {
                        up += nu;
                        acc += na;
                        idle = 0;
                    }
                    None => {
                        if s >= n as u64 && stage.iter().all(|t| t.load(Ordering::Acquire) >= last)
                        {
                            break;
                        }
                        idle = idle.saturating_add(1);
                        if idle < PIPE_YIELD_AFTER {
                            std::hint::spin_loop();
                        } else {
                            std::thread::yield_now();
                        }
                    }
                }
            }
            updates.fetch_add(up, Ordering::Relaxed);
            accepted.fetch_add(acc, Ordering::Relaxed);
        };
        rayon::scope(|sc| {
            for t in 1..threads {
                let work = &work;
                sc.spawn(move |_| work(t));
            }
            work(0);
        });
    }
    if let Some(t) = shared.as_ref() {
        for _ in 0..n {
            for &i in clamped {
                t.add(i as usize, state[i as usize]);
            }
        }
    }
    SweepStats {
        updates: updates.into_inner(),
        accepted: accepted.into_inner(),
    }
}

/// Chunks `ks` (of `chunk` variables) of colour class `c` (variables `class`), in order: one
/// pipeline block. A function of its own so that the kernel and the views arrive as arguments
/// (which the compiler knows no store through the state can change) rather than through the
/// shared closure of the pipeline.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn run_block<U: SiteUpdate>(
    u: &U,
    x: &SharedState<'_>,
    seed: u64,
    c: usize,
    ks: std::ops::Range<usize>,
    chunk: usize,
    class: &[u32],
    scratch_len: usize,
    tally: Option<&SharedTally<'_>>,
) -> (u64, u64) {
    let x = x.local();
    let tally = tally.map(SharedTally::local);
    let (mut up, mut acc) = (0, 0);
    for k in ks {
        let a = k * chunk;
        let vars = &class[a..(a + chunk).min(class.len())];
        let (nu, na) = run_chunk(u, &x, seed, c, k, vars, scratch_len, tally.as_ref());
        up += nu;
        acc += na;
    }
    (up, acc)
}

/// Update the variables of chunk `k` of colour class `c` in order, with the chunk's own stream
/// `chain_rng(seed, c << 32 | k)`; returns (updates, changes).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn run_chunk<U: SiteUpdate, S: StateView + ?Sized>(
    u: &U,
    x: &S,
    seed: u64,
    c: usize,
    k: usize,
    vars: &[u32],
    scratch_len: usize,
    tally: Option<&SharedTally<'_>>,
) -> (u64, u64) {
    let mut r = chain_rng(seed, ((c as u64) << 32) | k as u64);
    let mut scratch = vec![0.0; scratch_len];
    let mut acc = 0u64;
    for &j in vars.iter().take(PREFETCH_AHEAD) {
        u.prefetch(j as usize);
    }
    for (k, &i) in vars.iter().enumerate() {
        if let Some(&j) = vars.get(k + PREFETCH_AHEAD) {
            u.prefetch(j as usize);
        }
        acc += u.update(i as usize, x, &mut r, &mut scratch) as u64;
        if let Some(t) = tally {
            t.add(i as usize, x.get(i as usize));
        }
    }
    (vars.len() as u64, acc)
}

// ---------------------------------------------------------------------------------------------
// Precomputed local structure
// ---------------------------------------------------------------------------------------------

/// One factor in the neighbourhood of a variable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nb {
    /// Offset of the factor's table in the arenas.
    pub(crate) tab: u32,
    /// Stride of the variable in the table.
    pub(crate) stride: u32,
    /// Range `oth..oth+noth` of the other scope members in `Local::others`.
    pub(crate) oth: u32,
    pub(crate) noth: u32,
    /// Index of the factor.
    pub(crate) fac: u32,
}

/// A factor of the reduced, merged model.
#[derive(Debug, Clone, Copy)]
struct Fac {
    tab: u32,
    len: u32,
    /// Range of `(var, stride)` pairs in `Local::fvars`.
    vs: u32,
    ve: u32,
}

/// Binary pairwise representation: `logit p(x_i = 1 | rest) = c_i + sum_k w_k x_{j_k}`.
#[derive(Debug, Clone)]
struct Binary {
    c: Vec<f64>,
    start: Vec<u32>,
    nbr: Vec<u32>,
    w: Vec<f64>,
    /// Threshold tables.
    thr: Option<Thresholds>,
}

/// Per variable, `2^degree` 64-bit thresholds `T` (state 1 iff a random `u64` is below `T`), of
/// which only the high 32 bits are stored; the low bits are recomputed (with the same
/// floating-point operations, so bit for bit) only when the high bits of the draw equal the high
/// bits of `T`, which happens with probability `2^-32`. Half the cache footprint of full
/// thresholds, the same decisions (exact to `2^-64`).
#[derive(Debug, Clone)]
struct Thresholds {
    off: Vec<u32>,
    hi: Vec<u32>,
}

impl Binary {
    /// The 64-bit threshold of variable `i` when its neighbours are in configuration `cfg`
    /// (bit `k` = state of the `k`-th neighbour).
    #[inline(never)]
    fn threshold(&self, i: usize, cfg: usize) -> u64 {
        let ws = &self.w[self.start[i] as usize..self.start[i + 1] as usize];
        let mut a = self.c[i];
        for (k, wk) in ws.iter().enumerate() {
            if cfg >> k & 1 == 1 {
                a += wk;
            }
        }
        threshold(sigmoid(a))
    }
}

/// What Gibbs and Metropolis kernels precompute from a model and its evidence.
#[derive(Debug, Clone)]
pub(crate) struct Local {
    pub(crate) n: usize,
    pub(crate) cards: Vec<usize>,
    /// Clamped state (evidence, or the single state of a one-state variable).
    pub(crate) fixed: Vec<Option<usize>>,
    /// Free variables, ascending.
    pub(crate) free: Vec<u32>,
    /// Clamped variables, ascending (the complement of `free`).
    pub(crate) clamped: Vec<u32>,
    /// Colour classes of the free variables (greedy, in variable order).
    pub(crate) classes: Vec<Vec<u32>>,
    /// The systematic-scan order: the colour classes one after the other.
    pub(crate) order: Vec<u32>,
    pub(crate) max_card: usize,
    facs: Vec<Fac>,
    fvars: Vec<(u32, u32)>,
    pub(crate) log_tab: Vec<f64>,
    prob_tab: Vec<f64>,
    nb_start: Vec<u32>,
    pub(crate) nb: Vec<Nb>,
    pub(crate) others: Vec<(u32, u32)>,
    bin: Option<Binary>,
}

/// `b ⊆ a` for sorted scopes.
fn is_subset(b: &[VarId], a: &[VarId]) -> bool {
    let mut j = 0;
    for v in b {
        while j < a.len() && a[j] < *v {
            j += 1;
        }
        if j == a.len() || a[j] != *v {
            return false;
        }
        j += 1;
    }
    true
}

fn threshold(p1: f64) -> u64 {
    if p1 >= 1.0 {
        u64::MAX
    } else if p1 > 0.0 {
        (p1 * 18_446_744_073_709_551_616.0) as u64
    } else {
        0
    }
}

#[inline(always)]
fn sigmoid(a: f64) -> f64 {
    1.0 / (1.0 + num::exp(-a))
}

impl Local {
    /// Precompute the neighbourhoods of `fg` under `ev`.
    pub(crate) fn new(fg: &FactorGraph, ev: &Evidence) -> Result<Local> {
        let n = fg.num_vars();
        if n >= u32::MAX as usize {
            return Err(Error::InvalidModel(format!(
                "{n} variables are more than MCMC kernels support"
            )));
        }
        let cards = fg.cards();
        let mut fixed: Vec<Option<usize>> = vec![None; n];
        for (i, v) in ev.as_slice().iter().enumerate() {
            if let Some(s) = *v {
                if i >= n {
                    return Err(Error::UnknownVariable(format!("#{i}")));
                }
                if s >= cards[i] {
                    let var = fg.var(VarId(i as u32));
                    return Err(Error::UnknownState {
                        var: var.name.clone(),
                        state: s.to_string(),
                        states: var.states.clone(),
                    });
                }
                fixed[i] = Some(s);
            }
        }
        for i in 0..n {
            if cards[i] == 1 {
                fixed[i] = Some(0);
            }
        }
        let clamp = Evidence::from_options(fixed.clone());
        // reduce by the evidence; constant factors only matter when they are zero
        let mut facs: Vec<TableFactor> = Vec::with_capacity(fg.factors().len());
        for f in fg.factors() {
            let r = f.reduce(&clamp);
            if r.scope().is_empty() {
                if r.log_values()[0] == f64::NEG_INFINITY {
                    return Err(Error::ZeroProbabilityEvidence);
                }
                continue;
            }
            facs.push(r);
        }
        // merge each factor into a (later) factor whose scope contains it
        let m = facs.len();
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by_key(|&k| (facs[k].scope().len(), k));
        let mut rank = vec![0usize; m];
        for (r, &k) in order.iter().enumerate() {
            rank[k] = r;
        }
        let mut var_facs: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (k, f) in facs.iter().enumerate() {
            for v in f.scope() {
                var_facs[v.index()].push(k as u32);
            }
        }
        let mut alive = vec![true; m];
        for &k in &order {
            let scope = facs[k].scope();
            // the smallest later factor containing this scope (all candidates mention scope[0])
            let host = var_facs[scope[0].index()]
                .iter()
                .map(|&g| g as usize)
                .filter(|&g| {
                    g != k && alive[g] && rank[g] > rank[k] && is_subset(scope, facs[g].scope())
                })
                .min_by_key(|&g| (facs[g].len(), rank[g]));
            if let Some(g) = host {
                let merged = facs[g].product(&facs[k]);
                debug_assert_eq!(merged.scope(), facs[g].scope());
                facs[g] = merged;
                alive[k] = false;
            }
        }
        let facs: Vec<TableFactor> = facs
            .into_iter()
            .zip(&alive)
            .filter_map(|(f, &a)| a.then_some(f))
            .collect();

        // arenas
        let total: usize = facs.iter().map(|f| f.len()).sum();
        if total >= u32::MAX as usize {
            return Err(Error::InvalidModel(format!(
                "the factor tables have {total} entries, more than MCMC kernels support"
            )));
        }
        let mut log_tab = Vec::with_capacity(total);
        let mut prob_tab = Vec::with_capacity(total);
        let mut fac_info = Vec::with_capacity(facs.len());
        let mut fvars = Vec::new();
        for f in &facs {
            let mx = f
                .log_values()
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            if mx == f64::NEG_INFINITY {
                // a factor that is zero everywhere (after the evidence): Z = 0
                return Err(Error::ZeroProbabilityEvidence);
            }
            let tab = log_tab.len() as u32;
            log_tab.extend_from_slice(f.log_values());
            prob_tab.extend(f.log_values().iter().map(|&l| num::exp(l - mx)));
            let st = strides(f.cards());
            let vs = fvars.len() as u32;
            for (v, s) in f.scope().iter().zip(st) {
                fvars.push((v.0, s as u32));
            }
            fac_info.push(Fac {
                tab,
                len: f.len() as u32,
                vs,
                ve: fvars.len() as u32,
            });
        }
        // neighbourhoods
        let mut deg = vec![0u32; n + 1];
        for f in &fac_info {
            for &(v, _) in &fvars[f.vs as usize..f.ve as usize] {
                deg[v as usize] += 1;
            }
        }
        let mut nb_start = vec![0u32; n + 1];
        for i in 0..n {
            nb_start[i + 1] = nb_start[i] + deg[i];
        }
        let mut fill = nb_start.clone();
        let placeholder = Nb {
            tab: 0,
            stride: 0,
            oth: 0,
            noth: 0,
            fac: 0,
        };
        let mut nb = vec![placeholder; nb_start[n] as usize];
        let mut others = Vec::new();
        for (k, f) in fac_info.iter().enumerate() {
            let sc = &fvars[f.vs as usize..f.ve as usize];
            for (p, &(v, s)) in sc.iter().enumerate() {
                let oth = others.len() as u32;
                for (q, &pair) in sc.iter().enumerate() {
                    if q != p {
                        others.push(pair);
                    }
                }
                let slot = &mut fill[v as usize];
                nb[*slot as usize] = Nb {
                    tab: f.tab,
                    stride: s,
                    oth,
                    noth: (sc.len() - 1) as u32,
                    fac: k as u32,
                };
                *slot += 1;
            }
        }
        let free: Vec<u32> = (0..n as u32)
            .filter(|&i| fixed[i as usize].is_none())
            .collect();
        let clamped: Vec<u32> = (0..n as u32)
            .filter(|&i| fixed[i as usize].is_some())
            .collect();
        let max_card = free.iter().map(|&i| cards[i as usize]).max().unwrap_or(1);
        let mut local = Local {
            n,
            cards,
            fixed,
            free,
            clamped,
            classes: Vec::new(),
            order: Vec::new(),
            max_card,
            facs: fac_info,
            fvars,
            log_tab,
            prob_tab,
            nb_start,
            nb,
            others,
            bin: None,
        };
        local.bin = local.binary();
        local.classes = local.colour_classes();
        local.order = local.classes.concat();
        Ok(local)
    }

    /// The binary pairwise representation, if every free variable is binary, every factor has at
    /// most two variables and every entry is finite.
    fn binary(&self) -> Option<Binary> {
        if self.free.iter().any(|&i| self.cards[i as usize] != 2)
            || self.facs.iter().any(|f| f.ve - f.vs > 2)
            || self.log_tab.iter().any(|v| !v.is_finite())
        {
            return None;
        }
        let n = self.n;
        let mut c = vec![0.0; n];
        let mut start = vec![0u32; n + 1];
        let mut nbr = Vec::new();
        let mut w = Vec::new();
        for i in 0..n {
            if self.fixed[i].is_none() {
                for e in self.nbs(i) {
                    let (b, s) = (e.tab as usize, e.stride as usize);
                    let t = &self.log_tab;
                    if e.noth == 0 {
                        c[i] += t[b + s] - t[b];
                    } else {
                        let (j, sj) = self.others[e.oth as usize];
                        let sj = sj as usize;
                        let d0 = t[b + s] - t[b];
                        let d1 = t[b + sj + s] - t[b + sj];
                        c[i] += d0;
                        nbr.push(j);
                        w.push(d1 - d0);
                    }
                }
            }
            start[i + 1] = nbr.len() as u32;
        }
        let mut bin = Binary {
            c,
            start,
            nbr,
            w,
            thr: None,
        };
        let max_deg = (0..n)
            .map(|i| (bin.start[i + 1] - bin.start[i]) as usize)
            .max()
            .unwrap_or(0);
        if max_deg <= MAX_TABLE_DEGREE {
            let entries: usize = self
                .free
                .iter()
                .map(|&i| 1usize << (bin.start[i as usize + 1] - bin.start[i as usize]))
                .sum();
            if entries <= MAX_TABLE_ENTRIES {
                let mut off = vec![0u32; n];
                let mut hi = Vec::with_capacity(entries);
                for &i in &self.free {
                    let i = i as usize;
                    off[i] = hi.len() as u32;
                    let d = bin.start[i + 1] - bin.start[i];
                    for cfg in 0..1usize << d {
                        hi.push((bin.threshold(i, cfg) >> 32) as u32);
                    }
                }
                bin.thr = Some(Thresholds { off, hi });
            }
        }
        Some(bin)
    }

    #[inline(always)]
    pub(crate) fn nbs(&self, i: usize) -> &[Nb] {
        &self.nb[self.nb_start[i] as usize..self.nb_start[i + 1] as usize]
    }

    /// Flat index of the factor entry with the variable of `e` at state 0.
    #[inline(always)]
    pub(crate) fn base<S: StateView + ?Sized>(&self, e: &Nb, x: &S) -> usize {
        let mut b = e.tab as usize;
        for &(j, s) in &self.others[e.oth as usize..(e.oth + e.noth) as usize] {
            b += x.get(j as usize) * s as usize;
        }
        b
    }

    /// Interacting free variables of `i` (with repetitions).
    fn neighbours(&self, i: usize) -> impl Iterator<Item = u32> + '_ {
        self.nbs(i).iter().flat_map(move |e| {
            self.others[e.oth as usize..(e.oth + e.noth) as usize]
                .iter()
                .map(|&(j, _)| j)
        })
    }

    /// Greedy colouring of the free variables in variable order.
    pub(crate) fn colour_classes(&self) -> Vec<Vec<u32>> {
        let mut colour = vec![u32::MAX; self.n];
        let mut stamp: Vec<u32> = Vec::new();
        let mut classes: Vec<Vec<u32>> = Vec::new();
        for &i in &self.free {
            let i = i as usize;
            for j in self.neighbours(i) {
                let c = colour[j as usize];
                if c != u32::MAX {
                    stamp[c as usize] = i as u32 + 1;
                }
            }
            let c = (0..stamp.len())
                .find(|&c| stamp[c] != i as u32 + 1)
                .unwrap_or(stamp.len());
            if c == stamp.len() {
                stamp.push(0);
                classes.push(Vec::new());
            }
            colour[i] = c as u32;
            classes[c].push(i as u32);
        }
        classes
    }

    /// The visiting plan of a scan.
    pub(crate) fn plan(&self, opts: &GibbsOptions) -> Plan<'_> {
        match opts.scan {
            Scan::Systematic => Plan::Systematic(&self.order),
            Scan::Random => Plan::Random(&self.free),
            Scan::Chromatic => Plan::Chromatic(&self.classes, opts.chunk_size),
        }
    }

    /// Which path a sweep at `temp` takes.
    pub(crate) fn path(&self, temp: &Tempering<'_>, tables: bool) -> UpdatePath {
        let target = temp.beta == 1.0;
        match &self.bin {
            Some(b) if target && tables && b.thr.is_some() => UpdatePath::BinaryTable,
            Some(_) => UpdatePath::BinaryLogOdds,
            None if target => UpdatePath::GeneralProb,
            None => UpdatePath::GeneralLog,
        }
    }

    /// Panics with a clear message when a sweep is called with a state or temperature that does
    /// not fit the kernel (a programming error; the chain runner validates user input).
    pub(crate) fn check_sweep(&self, state: &[usize], temp: &Tempering<'_>) {
        assert_eq!(
            state.len(),
            self.n,
            "MCMC state has {} entries but the model has {} variables",
            state.len(),
            self.n
        );
        assert!(
            (0.0..=1.0).contains(&temp.beta),
            "inverse temperature {} is outside [0, 1]",
            temp.beta
        );
        if let Some(b) = temp.base {
            assert_eq!(b.len(), self.n, "tempering base has the wrong length");
        }
    }

    /// Tempered log conditional of all states of `i` into `buf` (sums of factor logs).
    #[inline(always)]
    pub(crate) fn log_cond<S: StateView + ?Sized>(
        &self,
        i: usize,
        x: &S,
        beta: f64,
        base: Option<&[Vec<f64>]>,
        buf: &mut [f64],
    ) {
        let c = buf.len();
        if beta == 0.0 {
            match base {
                Some(b) => buf.copy_from_slice(&b[i][..c]),
                None => buf.fill(0.0),
            }
            return;
        }
        buf.fill(0.0);
        for e in self.nbs(i) {
            let b = self.base(e, x);
            let s = e.stride as usize;
            for (v, out) in buf.iter_mut().enumerate() {
                *out += self.log_tab[b + v * s];
            }
        }
        if beta != 1.0 {
            buf.iter_mut().for_each(|l| *l *= beta);
            if let Some(bs) = base {
                let w = 1.0 - beta;
                for (l, &q) in buf.iter_mut().zip(&bs[i][..c]) {
                    *l += w * q;
                }
            }
        }
    }

    /// Number of factors that are zero at `x` (only the free variables and evidence matter).
    fn zero_factors(&self, x: &[usize]) -> usize {
        self.facs
            .iter()
            .filter(|f| self.fac_log(f, x) == f64::NEG_INFINITY)
            .count()
    }

    fn fac_log(&self, f: &Fac, x: &[usize]) -> f64 {
        let mut b = f.tab as usize;
        for &(v, s) in &self.fvars[f.vs as usize..f.ve as usize] {
            b += x[v as usize] * s as usize;
        }
        debug_assert!(b < (f.tab + f.len) as usize);
        self.log_tab[b]
    }

    /// Zero-temperature repair / focused random walk: look for a state where no factor is zero.
    fn local_search<R: Rng + ?Sized>(&self, rng: &mut R, restarts: usize) -> Option<Vec<usize>> {
        let nf = self.free.len();
        let max_steps = 200 * nf + 10_000;
        let mut zc = vec![0usize; self.max_card];
        for _ in 0..restarts {
            let mut x: Vec<usize> = (0..self.n)
                .map(|i| match self.fixed[i] {
                    Some(s) => s,
                    None => pick_index(rng, self.cards[i]),
                })
                .collect();
            // violated factors: list with positions
            let mut pos = vec![u32::MAX; self.facs.len()];
            let mut viol: Vec<u32> = Vec::new();
            for (k, f) in self.facs.iter().enumerate() {
                if self.fac_log(f, &x) == f64::NEG_INFINITY {
                    pos[k] = viol.len() as u32;
                    viol.push(k as u32);
                }
            }
            let set_var = |x: &mut Vec<usize>,
                           i: usize,
                           v: usize,
                           pos: &mut Vec<u32>,
                           viol: &mut Vec<u32>| {
                x[i] = v;
                for e in self.nbs(i) {
                    let k = e.fac as usize;
                    let z = self.fac_log(&self.facs[k], x) == f64::NEG_INFINITY;
                    if z && pos[k] == u32::MAX {
                        pos[k] = viol.len() as u32;
                        viol.push(k as u32);
                    } else if !z && pos[k] != u32::MAX {
                        let p = pos[k] as usize;
                        let last = *viol.last().expect("non-empty");
                        viol.swap_remove(p);
                        if p < viol.len() {
                            pos[last as usize] = p as u32;
                        }
                        pos[k] = u32::MAX;
                    }
                }
            };
            // the state of `i` with the fewest zero factors around it (ties at random)
            let best_state = |x: &Vec<usize>, i: usize, rng: &mut R, zc: &mut [usize]| {
                let c = self.cards[i];
                let zc = &mut zc[..c];
                zc.fill(0);
                for e in self.nbs(i) {
                    let mut b = e.tab as usize;
                    for &(j, s) in &self.others[e.oth as usize..(e.oth + e.noth) as usize] {
                        b += x[j as usize] * s as usize;
                    }
                    for (v, z) in zc.iter_mut().enumerate() {
                        if self.log_tab[b + v * e.stride as usize] == f64::NEG_INFINITY {
                            *z += 1;
                        }
                    }
                }
                let best = *zc.iter().min().expect("card >= 1");
                let ties = zc.iter().filter(|&&z| z == best).count();
                let mut pick = pick_index(rng, ties);
                for (v, &z) in zc.iter().enumerate() {
                    if z == best {
                        if pick == 0 {
                            return v;
                        }
                        pick -= 1;
                    }
                }
                unreachable!("a tie was counted")
            };
            // a few greedy sweeps, then a focused random walk
            for _ in 0..3 {
                if viol.is_empty() {
                    break;
                }
                for &i in &self.free {
                    let v = best_state(&x, i as usize, rng, &mut zc);
                    set_var(&mut x, i as usize, v, &mut pos, &mut viol);
                }
            }
            let mut steps = 0;
            while !viol.is_empty() && steps < max_steps {
                steps += 1;
                let f = self.facs[viol[pick_index(rng, viol.len())] as usize];
                let sc = &self.fvars[f.vs as usize..f.ve as usize];
                let i = sc[pick_index(rng, sc.len())].0 as usize;
                let v = if unif(rng) < 0.2 {
                    pick_index(rng, self.cards[i])
                } else {
                    best_state(&x, i, rng, &mut zc)
                };
                set_var(&mut x, i, v, &mut pos, &mut viol);
            }
            if viol.is_empty() {
                debug_assert_eq!(self.zero_factors(&x), 0);
                return Some(x);
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Update rules
// ---------------------------------------------------------------------------------------------

/// `r < T` where `th` holds the high 32 bits of `T` and `full()` computes all of `T` (called
/// only when the high halves tie).
#[inline(always)]
fn below(r: u64, th: u32, full: impl FnOnce() -> u64) -> bool {
    let rh = (r >> 32) as u32;
    if rh != th {
        rh < th
    } else {
        r < full()
    }
}

struct BinTable<'a> {
    bin: &'a Binary,
    thr: &'a Thresholds,
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

struct BinOdds<'a> {
    bin: &'a Binary,
    beta: f64,
    base: Option<&'a [Vec<f64>]>,
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
        let new = (unif(rng) < sigmoid(a)) as usize;
        let old = x.get(i);
        x.set(i, new);
        old != new
    }
}

struct ProbUpd<'a>(&'a Local);

impl ProbUpd<'_> {
    /// Unnormalised conditional weights of a variable with `C` states (kept in registers).
    #[inline(always)]
    fn weights<const C: usize, S: StateView + ?Sized>(&self, i: usize, x: &S) -> [f64; C] {
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
    fn draw_fixed<const C: usize, S: StateView + ?Sized, R: RngCore + ?Sized>(
        &self,
        i: usize,
        x: &S,
        rng: &mut R,
    ) -> Option<usize> {
        let w = self.weights::<C, S>(i, x);
        let s: f64 = w.iter().sum();
        (s > 0.0).then(|| pick_weighted(&w, s, rng))
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
                (s > 0.0).then(|| (unif(rng) * s >= p0) as usize)
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
                (s > 0.0).then(|| pick_weighted(w, s, rng))
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

struct LogUpd<'a> {
    l: &'a Local,
    beta: f64,
    base: Option<&'a [Vec<f64>]>,
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
        let new = pick_weighted(w, s, rng);
        let old = x.get(i);
        x.set(i, new);
        old != new
    }
}

// ---------------------------------------------------------------------------------------------
// The Gibbs kernel
// ---------------------------------------------------------------------------------------------

/// Single-site Gibbs sampler for a discrete factor graph under evidence (observed variables are
/// clamped and never change). Implements [`Transition`]; see the module docs for the update paths
/// and the chromatic parallel sweep.
#[derive(Debug, Clone)]
pub struct Gibbs {
    local: Local,
    opts: GibbsOptions,
    /// Chunk dependencies for pipelined chromatic sweeps (chromatic scan only).
    pipe: Option<Pipeline>,
}

impl Gibbs {
    /// Precompute the kernel of `fg` under `ev`.
    ///
    /// Errors: evidence naming a variable or state the model does not have; evidence that makes a
    /// factor zero everywhere ([`Error::ZeroProbabilityEvidence`]); a zero chunk size.
    pub fn new(fg: &FactorGraph, ev: &Evidence, opts: &GibbsOptions) -> Result<Gibbs> {
        if opts.chunk_size == 0 {
            return Err(Error::InvalidArgument(
                "the chunk size of a chromatic sweep must be at least 1".into(),
            ));
        }
        let local = Local::new(fg, ev)?;
        let pipe =
            matches!(opts.scan, Scan::Chromatic).then(|| Pipeline::new(&local, opts.chunk_size));
        Ok(Gibbs {
            local,
            opts: *opts,
            pipe,
        })
    }

    /// The options the kernel was built with.
    pub fn options(&self) -> &GibbsOptions {
        &self.opts
    }

    /// Free (unobserved, more than one state) variables, ascending: one sweep updates each once
    /// (systematic and chromatic scans) or makes as many random-site updates (random scan).
    pub fn free_vars(&self) -> &[u32] {
        &self.local.free
    }

    /// Number of colours of the interaction graph of the free variables (greedy colouring in
    /// variable order).
    pub fn num_colours(&self) -> usize {
        self.local.classes.len()
    }

    /// The colour classes (variables ascending within a class); the systematic scan visits them
    /// one after the other, the chromatic scan updates each in parallel.
    pub fn colour_classes(&self) -> &[Vec<u32>] {
        &self.local.classes
    }

    /// The update path a sweep at `temp` uses.
    pub fn update_path(&self, temp: &Tempering<'_>) -> UpdatePath {
        self.local.path(temp, self.opts.threshold_tables)
    }

    fn plan(&self) -> Plan<'_> {
        self.local.plan(&self.opts)
    }
}

impl Transition for Gibbs {
    fn num_vars(&self) -> usize {
        self.local.n
    }

    /// One sweep. Panics if `state.len() != num_vars()` or `temp.beta` is outside [0, 1].
    fn sweep<R: Rng + ?Sized>(
        &self,
        state: &mut [usize],
        temp: &Tempering<'_>,
        rng: &mut R,
    ) -> SweepStats {
        self.sweep_with(state, temp, rng, 1, None)
    }

    /// One sweep, counting the final state into `tally` (a chromatic sweep counts each variable
    /// in the thread that updated it).
    fn sweep_tally<R: Rng + ?Sized>(
        &self,
        state: &mut [usize],
        temp: &Tempering<'_>,
        rng: &mut R,
        tally: &mut StateTally<'_>,
    ) -> SweepStats {
        assert_eq!(tally.num_vars(), self.local.n, "tally of the wrong size");
        self.sweep_with(state, temp, rng, 1, Some(tally))
    }

    /// `n` sweeps, tallying the state after each; chromatic sweeps on more than one thread run
    /// as a pipeline without barriers (same draws as `n` single sweeps).
    fn sweeps<R: Rng + ?Sized>(
        &self,
        state: &mut [usize],
        temp: &Tempering<'_>,
        rng: &mut R,
        n: usize,
        tally: Option<&mut StateTally<'_>>,
    ) -> SweepStats {
        if let Some(t) = &tally {
            assert_eq!(t.num_vars(), self.local.n, "tally of the wrong size");
        }
        self.sweep_with(state, temp, rng, n, tally)
    }
}

impl Gibbs {
    fn sweep_with<R: Rng + ?Sized>(
        &self,
        state: &mut [usize],
        temp: &Tempering<'_>,
        rng: &mut R,
        n: usize,
        tally: Option<&mut StateTally<'_>>,
    ) -> SweepStats {
        let l = &self.local;
        l.check_sweep(state, temp);
        let plan = self.plan();
        let tally = tally.map(|t| (t, &l.clamped[..]));
        match self.update_path(temp) {
            UpdatePath::BinaryTable => {
                let b = l.bin.as_ref().expect("binary path");
                let u = BinTable {
                    bin: b,
                    thr: b.thr.as_ref().expect("threshold tables"),
                };
                drive_sweeps(&u, plan, self.pipe.as_ref(), state, 0, rng, n, tally)
            }
            UpdatePath::BinaryLogOdds => {
                let u = BinOdds {
                    bin: l.bin.as_ref().expect("binary path"),
                    beta: temp.beta,
                    base: temp.base,
                };
                drive_sweeps(&u, plan, self.pipe.as_ref(), state, 0, rng, n, tally)
            }
            UpdatePath::GeneralProb => drive_sweeps(
                &ProbUpd(l),
                plan,
                self.pipe.as_ref(),
                state,
                l.max_card,
                rng,
                n,
                tally,
            ),
            UpdatePath::GeneralLog => {
                let u = LogUpd {
                    l,
                    beta: temp.beta,
                    base: temp.base,
                };
                drive_sweeps(
                    &u,
                    plan,
                    self.pipe.as_ref(),
                    state,
                    l.max_card,
                    rng,
                    n,
                    tally,
                )
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Start states
// ---------------------------------------------------------------------------------------------

/// Finds start states of positive probability for MCMC on a factor graph under evidence.
///
/// A uniform random state (observed variables at their evidence) is repaired by a few greedy
/// sweeps (each variable takes the state that makes the fewest of its factors zero) and then a
/// focused random walk (a variable of a zero factor is reset, to its best state or, with
/// probability 0.2, at random), with restarts. If that fails and the model is small enough for
/// exact inference, the exact partition function decides: zero gives
/// [`Error::ZeroProbabilityEvidence`]; otherwise variables are fixed one by one to states that
/// keep it positive. Otherwise the error asks for a start state (for a Bayesian network, a forward
/// sample consistent with the evidence works).
#[derive(Debug, Clone)]
pub struct StartSearch<'a> {
    fg: &'a FactorGraph,
    local: Local,
}

/// Restarts of the local search.
const SEARCH_RESTARTS: usize = 8;
/// Memory limit of the exact fallback of the start search.
const SEARCH_EXACT_MEMORY: f64 = 256.0 * 1024.0 * 1024.0;

impl<'a> StartSearch<'a> {
    /// Prepare a search on `fg` under `ev` (errors as [`Gibbs::new`]).
    pub fn new(fg: &'a FactorGraph, ev: &Evidence) -> Result<StartSearch<'a>> {
        Ok(StartSearch {
            fg,
            local: Local::new(fg, ev)?,
        })
    }

    /// True if `x` has positive probability under the model and agrees with the evidence.
    pub fn is_valid(&self, x: &[usize]) -> bool {
        x.len() == self.local.n
            && x.iter().zip(&self.local.cards).all(|(&s, &c)| s < c)
            && self
                .local
                .fixed
                .iter()
                .zip(x)
                .all(|(f, &s)| f.is_none_or(|f| f == s))
            && self.local.zero_factors(x) == 0
    }

    /// A state of positive probability that agrees with the evidence.
    pub fn find<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Vec<usize>> {
        if let Some(x) = self.local.local_search(rng, SEARCH_RESTARTS) {
            return Ok(x);
        }
        self.exact_fallback(rng)
    }

    fn exact_fallback<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Vec<usize>> {
        let l = &self.local;
        let opts = ExactOptions {
            memory_limit: SEARCH_EXACT_MEMORY,
            ..ExactOptions::default()
        };
        let mut fixed = l.fixed.clone();
        let positive = |fixed: &Vec<Option<usize>>| -> Result<bool> {
            match exact::log_z(self.fg, &Evidence::from_options(fixed.clone()), &opts) {
                Ok(z) => Ok(z.log_z > f64::NEG_INFINITY),
                Err(Error::ZeroProbabilityEvidence) => Ok(false),
                Err(e) => Err(e),
            }
        };
        match positive(&fixed) {
            Ok(true) => {}
            Ok(false) => return Err(Error::ZeroProbabilityEvidence),
            Err(Error::TooLarge { .. }) => {
                return Err(Error::InvalidModel(format!(
                    "no state of positive probability was found ({SEARCH_RESTARTS} restarts of \
                     local search over {} free variables) and the model is too large to settle \
                     it exactly; pass a start state (for a Bayesian network, a forward sample \
                     that agrees with the evidence)",
                    l.free.len()
                )))
            }
            Err(e) => return Err(e),
        }
        for &i in &l.free {
            let i = i as usize;
            let c = l.cards[i];
            let off = pick_index(rng, c);
            let mut found = false;
            for k in 0..c {
                fixed[i] = Some((off + k) % c);
                if positive(&fixed)? {
                    found = true;
                    break;
                }
            }
            if !found {
                return Err(Error::InvalidModel(
                    "exact decimation found no state of positive probability".into(),
                ));
            }
        }
        let x: Vec<usize> = fixed.iter().map(|s| s.unwrap_or(0)).collect();
        debug_assert!(self.is_valid(&x));
        Ok(x)
    }
}

/// A start state of positive probability for `fg` under `ev` (see [`StartSearch`]).
pub fn find_start_state<R: Rng + ?Sized>(
    fg: &FactorGraph,
    ev: &Evidence,
    rng: &mut R,
) -> Result<Vec<usize>> {
    StartSearch::new(fg, ev)?.find(rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ising_grid, Boundary};
    use crate::FactorGraphBuilder;

    fn small_model() -> FactorGraph {
        let mut b = FactorGraphBuilder::new();
        let a = b.add_variable_card("a", 3).unwrap();
        let c = b.add_variable_card("c", 2).unwrap();
        let d = b.add_variable_card("d", 4).unwrap();
        b.add_factor(&[a, c], vec![1.0, 2.0, 0.5, 0.0, 3.0, 1.0])
            .unwrap();
        b.add_factor(&[c, d], vec![1.0, 2.0, 3.0, 4.0, 4.0, 3.0, 0.0, 1.0])
            .unwrap();
        b.add_factor(&[a], vec![1.0, 2.0, 3.0]).unwrap();
        b.add_factor(&[a, c, d], (0..24).map(|k| 1.0 + (k % 5) as f64).collect())
            .unwrap();
        b.build().unwrap()
    }

    /// Brute-force conditional of variable i given the rest of x.
    fn brute_conditional(fg: &FactorGraph, x: &[usize], i: usize) -> Vec<f64> {
        let c = fg.cards()[i];
        let mut y = x.to_vec();
        let mut l: Vec<f64> = (0..c)
            .map(|v| {
                y[i] = v;
                fg.log_potential(&y)
            })
            .collect();
        num::log_normalize(&mut l);
        l
    }

    #[test]
    fn merging_keeps_conditionals() {
        let fg = small_model();
        let ev = Evidence::new(3);
        let l = Local::new(&fg, &ev).unwrap();
        // all four factors merge into the one over (a, c, d)
        assert_eq!(l.facs.len(), 1);
        let x = vec![1usize, 0, 2];
        let cells = vec![Cell::new(0usize); 3];
        for (c, &v) in cells.iter().zip(&x) {
            c.set(v);
        }
        for i in 0..3 {
            let mut buf = vec![0.0; fg.cards()[i]];
            l.log_cond(i, cells.as_slice(), 1.0, None, &mut buf);
            num::log_normalize(&mut buf);
            let want = brute_conditional(&fg, &x, i);
            for (a, b) in buf.iter().zip(&want) {
                assert!((a.exp() - b.exp()).abs() < 1e-12, "{buf:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn colouring_is_proper() {
        let g = ising_grid(6, 7, Boundary::Periodic, |_, _| 0.3, |_| 0.1).unwrap();
        let l = Local::new(&g, &Evidence::new(42)).unwrap();
        let classes = l.colour_classes();
        let mut colour = vec![usize::MAX; 42];
        for (c, cl) in classes.iter().enumerate() {
            for &v in cl {
                colour[v as usize] = c;
            }
        }
        assert!(colour.iter().all(|&c| c != usize::MAX));
        for i in 0..42 {
            for j in l.neighbours(i) {
                assert_ne!(colour[i], colour[j as usize]);
            }
        }
        // an odd periodic dimension needs a third colour (greedy may use a fourth)
        assert!((3..=4).contains(&classes.len()));
        let g = ising_grid(6, 8, Boundary::Periodic, |_, _| 0.3, |_| 0.1).unwrap();
        assert_eq!(
            Local::new(&g, &Evidence::new(48))
                .unwrap()
                .colour_classes()
                .len(),
            2
        );
    }

    #[test]
    fn binary_tables_match_conditionals() {
        let g = ising_grid(
            4,
            4,
            Boundary::Free,
            |i, j| 0.1 * (i + j) as f64,
            |i| 0.05 * i as f64,
        )
        .unwrap();
        let l = Local::new(&g, &Evidence::new(16)).unwrap();
        let b = l.bin.as_ref().unwrap();
        let t = b.thr.as_ref().unwrap();
        let x: Vec<usize> = (0..16).map(|k| (k * 7 / 3) % 2).collect();
        for i in 0..16 {
            let want = brute_conditional(&g, &x, i)[1].exp();
            let nb = &b.nbr[b.start[i] as usize..b.start[i + 1] as usize];
            let cfg: usize = nb
                .iter()
                .enumerate()
                .map(|(k, &j)| x[j as usize] << k)
                .sum();
            let th = b.threshold(i, cfg);
            assert_eq!((th >> 32) as u32, t.hi[t.off[i] as usize + cfg]);
            let p = th as f64 / 18_446_744_073_709_551_616.0;
            assert!((p - want).abs() < 1e-12, "site {i}: {p} vs {want}");
        }
    }

    #[test]
    fn split_threshold_comparison_is_exact() {
        let mut rng = chain_rng(5, 5);
        for _ in 0..10_000 {
            let t: u64 = rng.random();
            let near = [
                t,
                t.wrapping_sub(1),
                t.wrapping_add(1),
                t & !0xFFFF_FFFF,
                t | 0xFFFF_FFFF,
                rng.random(),
            ];
            for r in near {
                assert_eq!(below(r, (t >> 32) as u32, || t), r < t, "r {r:x} t {t:x}");
            }
        }
    }

    #[test]
    fn start_search_repairs_and_detects_zero() {
        // x0 != x1, x1 != x2, x0 == x2 on 3-state variables plus an all-different triple
        let mut b = FactorGraphBuilder::new();
        let v: Vec<VarId> = (0..4)
            .map(|i| b.add_variable_card(format!("v{i}"), 3).unwrap())
            .collect();
        let neq: Vec<f64> = (0..9)
            .map(|k| if k / 3 == k % 3 { 0.0 } else { 1.0 })
            .collect();
        let eq: Vec<f64> = (0..9)
            .map(|k| if k / 3 == k % 3 { 1.0 } else { 0.0 })
            .collect();
        b.add_factor(&[v[0], v[1]], neq.clone()).unwrap();
        b.add_factor(&[v[1], v[2]], neq.clone()).unwrap();
        b.add_factor(&[v[0], v[2]], eq).unwrap();
        b.add_factor(&[v[2], v[3]], neq.clone()).unwrap();
        let fg = b.build().unwrap();
        let s = StartSearch::new(&fg, &Evidence::new(4)).unwrap();
        let mut rng = chain_rng(1, 0);
        for _ in 0..20 {
            let x = s.find(&mut rng).unwrap();
            assert!(s.is_valid(&x));
        }
        // a triangle of "different" on 2-state variables has no valid state
        let mut b = FactorGraphBuilder::new();
        let v: Vec<VarId> = (0..3)
            .map(|i| b.add_variable_card(format!("v{i}"), 2).unwrap())
            .collect();
        for (p, q) in [(0, 1), (1, 2), (0, 2)] {
            b.add_factor(&[v[p], v[q]], vec![0.0, 1.0, 1.0, 0.0])
                .unwrap();
        }
        let fg = b.build().unwrap();
        let err = find_start_state(&fg, &Evidence::new(3), &mut rng).unwrap_err();
        assert!(matches!(err, Error::ZeroProbabilityEvidence), "{err}");
    }
}
