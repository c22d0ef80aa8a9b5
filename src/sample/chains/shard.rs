//! Shards of an MCMC run: its chains split by range ([`ChainConfig::chain_range`]) over
//! processes or machines, and merged back into exactly the summary of the whole run (the same
//! marginals, MCSE, R-hat and ESS, bit for bit). Chain `c` draws from the stream `(seed, c)`
//! wherever it runs; a shard keeps each of its chains' counts and draws, and [`merge`]
//! summarises the chains of all shards with the code of one run.
//!
//! ```
//! use pgmkit::model::{ising_grid, Boundary};
//! use pgmkit::sample::chains::{run_mcmc, shard, ChainConfig};
//! use pgmkit::sample::kernel::Kernel;
//! use pgmkit::Evidence;
//! let g = ising_grid(3, 3, Boundary::Free, |_, _| 0.3, |_| 0.1).unwrap();
//! let ev = Evidence::new(9);
//! let cfg = ChainConfig { chains: 4, warmup: 50, draws: 200, seed: 2, ..Default::default() };
//! let whole = run_mcmc(&g, &ev, Kernel::Gibbs, &Default::default(), &cfg, None).unwrap();
//! let parts: Vec<_> = [0..1, 1..4]
//!     .into_iter()
//!     .map(|r| {
//!         let c = ChainConfig { chain_range: Some(r), ..cfg.clone() };
//!         shard::run(&g, &ev, Kernel::Gibbs, &Default::default(), &c, None).unwrap()
//!     })
//!     .collect();
//! let merged = shard::merge(&g, &ev, &parts).unwrap();
//! assert_eq!(merged.marginals, whole.marginals);
//! assert_eq!(merged.diagnostics, whole.diagnostics);
//! ```

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::Progress;
use super::{chain_outs, summarize, trace_width, ChainConfig, ChainOut, ChainSummary, TraceChain};
use crate::error::{Error, Result};
use crate::model::FactorGraph;
use crate::sample::kernel::{Kernel, KernelOptions};
use crate::sample::Tempering;
use crate::var::Evidence;

/// The `format` of an MCMC shard file.
pub const FORMAT: &str = "pgmkit-mcmc-shard";

/// One chain of a shard: what the run keeps of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainPart {
    /// State counts over its draws (per variable and state; per variable for binary models).
    pub counts: Vec<u64>,
    /// Its draws, `draws x variables` states (with diagnostics).
    pub trace: Option<Vec<u32>>,
    /// Single-site updates, warm-up included.
    pub updates: u64,
    /// Updates after warm-up.
    pub sampled_updates: u64,
    /// Accepted proposals (or state changes) after warm-up.
    pub accepted: u64,
    /// Sweeps made.
    pub sweeps: u64,
    /// Draws made.
    pub draws: usize,
    /// The state after its last sweep.
    pub final_state: Vec<usize>,
}

/// A part of an MCMC run (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McmcShard {
    /// Always [`FORMAT`].
    pub format: String,
    /// The pgmkit version that computed it.
    pub version: String,
    /// [`crate::shard::fingerprint`] of the model and evidence.
    pub fingerprint: String,
    /// The kernel asked for.
    pub kernel: Kernel,
    /// The run's options (chain range and time limit aside) and the kernel's, as text.
    pub settings: String,
    /// Chains of the whole run.
    pub chains: usize,
    /// First chain of the shard.
    pub start: usize,
    /// One past its last chain.
    pub end: usize,
    /// Its chains, in order.
    pub parts: Vec<ChainPart>,
    /// For people (and for `pgmkit merge` to find it): the model file.
    pub model: String,
    /// For people: the evidence as (variable, state) pairs.
    pub evidence: Vec<(String, String)>,
    /// Draws per chain asked for.
    pub draws: usize,
    /// Warm-up sweeps per chain.
    pub warmup: usize,
    /// Sweeps per draw.
    pub thin: usize,
    /// The run's seed.
    pub seed: u64,
}

impl McmcShard {
    /// The shard as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a shard serialises")
    }

    /// A shard from JSON text. Errors: [`Error::InvalidArgument`] when it is not one.
    pub fn from_json(text: &str) -> Result<McmcShard> {
        crate::shard::from_json(text, FORMAT, "MCMC", |s: &McmcShard| &s.format)
    }
}

/// The options that decide the chains, as text: everything but the range and time limit.
fn settings(kernel: Kernel, kopts: &KernelOptions, cfg: &ChainConfig) -> String {
    let c = ChainConfig {
        chain_range: None,
        time_limit: None,
        max_trace_bytes: 0,
        ..cfg.clone()
    };
    format!("{kernel:?} {kopts:?} {c:?}")
}

/// Run the chains `cfg.chain_range` (all when `None`) of the run and keep them as a shard.
///
/// Errors: those of [`super::run_mcmc`]; [`Error::InvalidArgument`] with diagnostics off (a
/// shard keeps the draws, which the merged diagnostics need).
pub fn run(
    fg: &FactorGraph,
    ev: &Evidence,
    kernel: Kernel,
    kopts: &KernelOptions,
    cfg: &ChainConfig,
    progress: Option<Progress<'_>>,
) -> Result<McmcShard> {
    if !cfg.diagnostics {
        return Err(Error::InvalidArgument(
            "an MCMC shard keeps the chains' draws: it needs diagnostics on".into(),
        ));
    }
    let k = kernel.build(fg, ev, kopts)?;
    let outs = chain_outs(
        &k,
        fg,
        ev,
        cfg,
        &Tempering::TARGET,
        progress,
        Instant::now(),
    )?;
    let range = cfg.chain_range.clone().unwrap_or(0..cfg.chains);
    let parts = outs
        .into_iter()
        .map(|o| ChainPart {
            counts: o.counts,
            trace: o.trace.map(|t| match t {
                TraceChain::U8(t) => t.into_iter().map(u32::from).collect(),
                TraceChain::U16(t) => t.into_iter().map(u32::from).collect(),
                TraceChain::U32(t) => t,
            }),
            updates: o.updates,
            sampled_updates: o.sampled_updates,
            accepted: o.accepted,
            sweeps: o.sweeps,
            draws: o.draws,
            final_state: o.final_state,
        })
        .collect();
    Ok(McmcShard {
        format: FORMAT.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        fingerprint: crate::shard::fingerprint(fg, ev),
        kernel,
        settings: settings(kernel, kopts, cfg),
        chains: cfg.chains,
        start: range.start,
        end: range.end,
        parts,
        model: String::new(),
        evidence: Vec::new(),
        draws: cfg.draws,
        warmup: cfg.warmup,
        thin: cfg.thin,
        seed: cfg.seed,
    })
}

/// Merge the shards of one run of `fg` under `ev` into its summary, exactly as one
/// [`super::run_mcmc`] computes it (the wall-clock fields aside).
///
/// Errors: [`Error::ShardMismatch`] when the shards are not parts of one run (another model or
/// evidence, other options, kernel or version; chain ranges with a gap or an overlap; chains
/// that do not fit the model).
pub fn merge(fg: &FactorGraph, ev: &Evidence, shards: &[McmcShard]) -> Result<ChainSummary> {
    let Some(first) = shards.first() else {
        return Err(Error::InvalidArgument("no shard to merge".into()));
    };
    let mismatch = |shard, what, detail: String| Error::ShardMismatch {
        shard,
        what,
        detail,
    };
    let fp = crate::shard::fingerprint(fg, ev);
    for (i, s) in shards.iter().enumerate() {
        if s.version != first.version {
            return Err(mismatch(
                i,
                "version",
                format!("was computed by pgmkit {}", s.version),
            ));
        }
        if s.fingerprint != fp {
            return Err(mismatch(
                i,
                "model",
                "ran on another model or evidence than the one given".into(),
            ));
        }
        if s.settings != first.settings || s.chains != first.chains || s.draws != first.draws {
            return Err(mismatch(
                i,
                if s.kernel != first.kernel {
                    "method"
                } else {
                    "settings"
                },
                format!(
                    "ran with other options: {} against {}",
                    s.settings, first.settings
                ),
            ));
        }
    }
    let ranges: Vec<_> = shards.iter().map(|s| s.start..s.end).collect();
    let order = crate::shard::tiling(&ranges, first.chains, "chain")?;
    let cards = fg.cards();
    let n = cards.len();
    let width = trace_width(&cards);
    let counts_len = if cards.iter().all(|&c| c == 2) {
        n
    } else {
        cards.iter().sum()
    };
    let mut outs = Vec::with_capacity(first.chains);
    for &i in &order {
        let s = &shards[i];
        if s.parts.len() != s.end - s.start {
            return Err(mismatch(
                i,
                "ranges",
                "holds another number of chains than its range".into(),
            ));
        }
        for p in &s.parts {
            let ok = p.counts.len() == counts_len
                && p.final_state.len() == n
                && p.trace.as_ref().is_some_and(|t| {
                    t.len() == p.draws * n
                        && t.chunks(n.max(1))
                            .all(|row| row.iter().zip(&cards).all(|(&x, &c)| (x as usize) < c))
                });
            if !ok {
                return Err(mismatch(
                    i,
                    "model",
                    "holds chains that do not fit the model".into(),
                ));
            }
            let t = p.trace.clone().expect("checked");
            outs.push(ChainOut {
                counts: p.counts.clone(),
                trace: Some(match width {
                    1 => TraceChain::U8(t.into_iter().map(|x| x as u8).collect()),
                    2 => TraceChain::U16(t.into_iter().map(|x| x as u16).collect()),
                    _ => TraceChain::U32(t),
                }),
                updates: p.updates,
                sampled_updates: p.sampled_updates,
                accepted: p.accepted,
                sweeps: p.sweeps,
                draws: p.draws,
                final_state: p.final_state.clone(),
            });
        }
    }
    // what the summary reads of the options: the draws asked for, diagnostics, no time limit
    let whole = ChainConfig {
        chains: first.chains,
        draws: first.draws,
        diagnostics: true,
        ..ChainConfig::default()
    };
    summarize(outs, fg, ev, &whole, Instant::now())
}
