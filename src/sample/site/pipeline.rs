//! The chromatic pipeline: colour-class blocks and their dependencies, so that several sweeps
//! run without a barrier between classes, with the same states as class-by-class sweeps.

use std::sync::atomic::{AtomicU64, Ordering};

use super::neighbourhood::*;

/// Variables per pipeline block at least (a block is scheduled as one unit; smaller blocks
/// would spend more on synchronisation than on updates).
pub(crate) const PIPE_MIN_BLOCK: usize = 1024;
/// Blocks per colour class at most.
pub(crate) const PIPE_MAX_BLOCKS: usize = 16;
/// Idle polls of a participant before it takes blocks of a participant that has not started.
pub(crate) const PIPE_JOIN_WAIT: u32 = 256;
/// Idle polls of a participant before it takes blocks of a running participant (whose thread
/// may have been descheduled when the machine has more work than cores).
pub(crate) const PIPE_STEAL_AFTER: u32 = 512;
/// Idle polls of a participant before it starts yielding its thread between polls.
pub(crate) const PIPE_YIELD_AFTER: u32 = 1 << 14;

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
    pub(crate) blocks: Vec<(u32, u32, u32, u32)>,
    /// Interacting blocks `(h, earlier)` of every block, `earlier` when `h`'s class comes first.
    pub(crate) deps_start: Vec<u32>,
    pub(crate) deps: Vec<(u32, bool)>,
    /// Number of blocks of every class.
    pub(crate) class_blocks: Vec<u32>,
    pub(crate) chunk: usize,
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
    pub(crate) fn ready(&self, stage: &[AtomicU64], b: usize, s: u64) -> bool {
        let d = &self.deps[self.deps_start[b] as usize..self.deps_start[b + 1] as usize];
        d.iter().all(|&(h, earlier)| {
            let need = if earlier { 2 * (s + 1) } else { 2 * s };
            stage[h as usize].load(Ordering::Acquire) >= need
        })
    }
}
