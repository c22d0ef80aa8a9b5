//! The sweep driver: [`SiteUpdate`] (one update rule), scan plans, and the loops that run a
//! sweep or many (sequential, random, chromatic in parallel chunks, pipelined).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rand::RngCore;
use rayon::prelude::*;

use super::pipeline::*;
use super::state::*;
use crate::rng::chain_rng;
use crate::sample::{SharedTally, StateTally, SweepStats};

/// One site update rule (Gibbs conditional, Metropolis step, ...).
pub(crate) trait SiteUpdate: Sync {
    /// The new state of variable `i` (`None`: it stays), given the others in `x`; `w` is
    /// scratch space of the length the sweep was given.
    fn draw<S, R>(&self, i: usize, x: &S, rng: &mut R, w: &mut [f64]) -> Option<usize>
    where
        S: StateView + ?Sized,
        R: RngCore + ?Sized;

    /// Update variable `i` by [`SiteUpdate::draw`]; returns whether its state changed.
    #[inline(always)]
    fn update<S, R>(&self, i: usize, x: &S, rng: &mut R, w: &mut [f64]) -> bool
    where
        S: StateView + ?Sized,
        R: RngCore + ?Sized,
    {
        let Some(new) = self.draw(i, x, rng, w) else {
            return false;
        };
        let old = x.get(i);
        x.set(i, new);
        old != new
    }

    /// Hint that variable `i` will be updated soon (default: nothing).
    #[inline(always)]
    fn prefetch(&self, _i: usize) {}
}

/// How many updates ahead [`SiteUpdate::prefetch`] is called in the fixed-order scans.
pub(crate) const PREFETCH_AHEAD: usize = 32;

/// Ask the CPU to bring the cache line at `p` into cache (no effect on other architectures).
#[inline(always)]
pub(crate) fn prefetch_line<T>(p: *const T) {
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
pub(crate) fn run_block<U: SiteUpdate>(
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
pub(crate) fn run_chunk<U: SiteUpdate, S: StateView + ?Sized>(
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
