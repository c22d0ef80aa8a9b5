//! Shards of an AIS, reverse AIS or BDMC run: the run split by particle range into parts that
//! separate processes or machines compute (a Slurm job array, Ray, Dask), and merged back into
//! exactly the result of one run over all particles.
//!
//! Every particle `i` draws from its own stream `(seed, i)` and the path (the pilot's schedule
//! included) depends on the options only, so the particles `a..b` of a run are the same
//! whether they run alone ([`AisOptions::particle_range`]) or with the others. A shard keeps
//! its particles' log weights bit for bit, the path, the options and a fingerprint of the
//! model and evidence; [`merge`] checks that the shards are parts of one run (same model,
//! evidence, options, path and program version; particle ranges that tile `0..particles`),
//! lays their log weights side by side and computes the estimate with the same code as one
//! run: the same log Z, standard error and ESS, bit for bit.
//!
//! ```
//! use pgmkit::infer::ais::{ais, shard, AisOptions};
//! use pgmkit::model::{ising_grid, Boundary};
//! use pgmkit::Evidence;
//! let g = ising_grid(4, 4, Boundary::Free, |_, _| 0.3, |_| 0.0).unwrap();
//! let ev = Evidence::new(16);
//! let opts = AisOptions { particles: 8, steps: 50, ..Default::default() };
//! let whole = ais(&g, &ev, &opts, None).unwrap();
//! let parts: Vec<_> = [0..3, 3..8]
//!     .into_iter()
//!     .map(|r| {
//!         let o = AisOptions { particle_range: Some(r), ..opts.clone() };
//!         shard::run(&g, &ev, shard::ShardMethod::Ais, &o, &Default::default(), None).unwrap()
//!     })
//!     .collect();
//! let merged = shard::merge(&parts).unwrap();
//! assert_eq!(merged.forward.unwrap().log_z.to_bits(), whole.log_z.to_bits());
//! ```

use serde::{Deserialize, Serialize};

use super::{ais, bdmc, exact_samples, reverse_ais, AisOptions, AisResult, Base, Bdmc};
use crate::error::{Error, Result};
use crate::infer::exact::ExactOptions;
use crate::model::FactorGraph;
use crate::sample::anneal::weights::{replicates, weight_stats};
use crate::sample::chains::Progress;
use crate::sample::kernel::Kernel;
use crate::var::Evidence;

pub use crate::shard::fingerprint;

/// The `format` of a shard file.
pub const FORMAT: &str = "pgmkit-ais-shard";

/// Which run a shard is part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardMethod {
    /// Forward AIS.
    Ais,
    /// Reverse AIS from exact draws.
    Rais,
    /// Both (BDMC).
    Bdmc,
}

impl ShardMethod {
    /// `ais`, `rais` or `bdmc`.
    pub fn name(self) -> &'static str {
        match self {
            ShardMethod::Ais => "ais",
            ShardMethod::Rais => "rais",
            ShardMethod::Bdmc => "bdmc",
        }
    }
}

/// One direction of a shard: its particles' log weights and what the run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRun {
    /// Log weight of every particle of the shard's range, in particle order (as the bits of
    /// the f64, so that a file keeps them exactly, `-inf` included).
    #[serde(with = "crate::shard::f64_bits")]
    pub log_weights: Vec<f64>,
    /// The path's betas (the same in every shard of a run).
    #[serde(with = "crate::shard::f64_bits")]
    pub betas: Vec<f64>,
    /// The base the path started from ([`Base::Auto`] resolved).
    pub base: Base,
    /// The kernel that ran ([`Kernel::Auto`] resolved).
    pub kernel: Kernel,
    /// Single-site updates made (the pilot's included).
    pub updates: u64,
    /// Particles that reached a zero-probability state.
    pub dead: usize,
    /// Wall-clock seconds of the shard.
    pub seconds: f64,
}

impl ShardRun {
    fn of(r: &AisResult) -> ShardRun {
        ShardRun {
            log_weights: r.log_weights.clone(),
            betas: r.betas.clone(),
            base: r.base,
            kernel: r.kernel,
            updates: r.updates,
            dead: r.dead,
            seconds: r.seconds,
        }
    }
}

/// A part of an AIS / reverse AIS / BDMC run (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AisShard {
    /// Always [`FORMAT`].
    pub format: String,
    /// The pgmkit version that computed it (shards of different versions are not merged).
    pub version: String,
    /// The run it is part of.
    pub method: ShardMethod,
    /// [`fingerprint`] of the model and evidence.
    pub fingerprint: String,
    /// The run's options, `particle_range` set to this shard's particles.
    pub options: AisOptions,
    /// The forward run (ais, bdmc).
    pub forward: Option<ShardRun>,
    /// The reverse run (rais, bdmc).
    pub reverse: Option<ShardRun>,
    /// For people: the model file and evidence as given (not compared by [`merge`]).
    pub model: String,
    /// For people: the evidence as (variable, state) pairs.
    pub evidence: Vec<(String, String)>,
}

impl AisShard {
    /// The shard as JSON text (the shard file).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a shard serialises")
    }

    /// A shard from JSON text.
    ///
    /// Errors: [`Error::InvalidArgument`] when the text is not a pgmkit AIS shard.
    pub fn from_json(text: &str) -> Result<AisShard> {
        crate::shard::from_json(text, FORMAT, "AIS", |s: &AisShard| &s.format)
    }
}

/// Run the shard `opts.particle_range` (all particles when `None`) of `method` on `fg` under
/// `ev`. Reverse runs start from exact draws of the model: all `particles` of them are drawn
/// (with `opts.seed` and `exact_opts`, as one run of [`crate::infer::logz::log_z`] does) and
/// the shard's range used.
///
/// Errors: those of [`ais`], [`reverse_ais`] and exact sampling.
pub fn run(
    fg: &FactorGraph,
    ev: &Evidence,
    method: ShardMethod,
    opts: &AisOptions,
    exact_opts: &ExactOptions,
    progress: Option<Progress<'_>>,
) -> Result<AisShard> {
    let exact = || exact_samples(fg, ev, opts.particles, opts.seed, exact_opts);
    let (forward, reverse) = match method {
        ShardMethod::Ais => (Some(ais(fg, ev, opts, progress)?), None),
        ShardMethod::Rais => (None, Some(reverse_ais(fg, ev, opts, &exact()?, progress)?)),
        ShardMethod::Bdmc => {
            let b = bdmc(fg, ev, opts, Some(&exact()?), progress)?;
            (Some(b.forward), Some(b.reverse))
        }
    };
    Ok(AisShard {
        format: FORMAT.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        method,
        fingerprint: fingerprint(fg, ev),
        options: opts.clone(),
        forward: forward.as_ref().map(ShardRun::of),
        reverse: reverse.as_ref().map(ShardRun::of),
        model: String::new(),
        evidence: Vec::new(),
    })
}

/// What [`merge`] gives: the runs of the whole (forward, reverse, both for BDMC) as one
/// process would have computed them, and the method.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The method of the shards.
    pub method: ShardMethod,
    /// The run's options (`particle_range` cleared).
    pub options: AisOptions,
    /// The forward run (ais, bdmc).
    pub forward: Option<AisResult>,
    /// The reverse run (rais, bdmc).
    pub reverse: Option<AisResult>,
    /// Shards merged.
    pub shards: usize,
}

impl Merged {
    /// The BDMC sandwich, for BDMC shards.
    pub fn bdmc(&self) -> Option<Bdmc> {
        let (f, r) = (self.forward.clone()?, self.reverse.clone()?);
        Some(Bdmc {
            lower: f.log_z,
            upper: r.log_z,
            seconds: f.seconds + r.seconds,
            forward: f,
            reverse: r,
        })
    }
}

fn mismatch(shard: usize, what: &'static str, detail: String) -> Error {
    Error::ShardMismatch {
        shard,
        what,
        detail,
    }
}

/// The options with the shard-specific fields cleared: what must be equal across the shards.
fn run_options(o: &AisOptions) -> AisOptions {
    AisOptions {
        particle_range: None,
        memory_limit: 0.0,
        diagnostics: false,
        ..o.clone()
    }
}

/// Merge the shards of one run into its result (see the module docs): the same log Z,
/// standard error and ESS, bit for bit, as the run over all particles in one process.
///
/// Errors: [`Error::ShardMismatch`] when the shards are not parts of one run (another model
/// or evidence, other options or seed, another method or pgmkit version, a different path) or
/// their particle ranges leave a gap or overlap; [`Error::AllWeightsZero`] when every particle
/// is dead.
///
/// Cost: linear in the number of particles.
pub fn merge(shards: &[AisShard]) -> Result<Merged> {
    let Some(first) = shards.first() else {
        return Err(Error::InvalidArgument("no shard to merge".into()));
    };
    let want = run_options(&first.options);
    for (i, s) in shards.iter().enumerate().skip(1) {
        if s.version != first.version {
            return Err(mismatch(
                i,
                "version",
                format!(
                    "was computed by pgmkit {} and shard 0 by {}",
                    s.version, first.version
                ),
            ));
        }
        if s.fingerprint != first.fingerprint {
            return Err(mismatch(
                i,
                "model",
                format!(
                    "is of another model or evidence (fingerprint {} against {})",
                    s.fingerprint, first.fingerprint
                ),
            ));
        }
        if s.method != first.method {
            return Err(mismatch(
                i,
                "method",
                format!(
                    "is a {} shard and shard 0 a {} one",
                    s.method.name(),
                    first.method.name()
                ),
            ));
        }
        let o = run_options(&s.options);
        if o.seed != want.seed {
            return Err(mismatch(
                i,
                "seed",
                format!("has seed {} and shard 0 seed {}", o.seed, want.seed),
            ));
        }
        if o != want {
            return Err(mismatch(
                i,
                "settings",
                format!("ran with other options: {o:?} against {want:?}"),
            ));
        }
    }
    // the ranges must tile 0..particles
    let n = want.particles;
    let range = |s: &AisShard| s.options.particle_range.clone().unwrap_or(0..n);
    let ranges: Vec<_> = shards.iter().map(range).collect();
    let order = crate::shard::tiling(&ranges, n, "particle")?;
    let side = |get: fn(&AisShard) -> Option<&ShardRun>,
                reverse: bool|
     -> Result<Option<AisResult>> {
        let Some(r0) = get(first) else {
            return Ok(None);
        };
        let mut lw = Vec::with_capacity(n);
        let (mut updates, mut dead, mut seconds) = (0u64, 0usize, 0.0f64);
        for &i in &order {
            let s = &shards[i];
            let r = get(s)
                .ok_or_else(|| mismatch(i, "method", "lacks a run the others have".to_string()))?;
            if r.betas.len() != r0.betas.len()
                || r.betas
                    .iter()
                    .zip(&r0.betas)
                    .any(|(a, b)| a.to_bits() != b.to_bits())
                || r.base != r0.base
                || r.kernel != r0.kernel
            {
                return Err(mismatch(
                    i,
                    "path",
                    "annealed along another path (betas, base or kernel) than shard 0".into(),
                ));
            }
            if r.log_weights.len() != range(s).len() {
                return Err(mismatch(
                    i,
                    "ranges",
                    format!(
                        "holds {} log weights for a range of {} particles",
                        r.log_weights.len(),
                        range(s).len()
                    ),
                ));
            }
            lw.extend_from_slice(&r.log_weights);
            updates += r.updates;
            dead += r.dead;
            seconds += r.seconds;
        }
        Ok(Some(finish(
            lw, r0, &want, updates, dead, seconds, reverse,
        )?))
    };
    Ok(Merged {
        method: first.method,
        forward: side(|s| s.forward.as_ref(), false)?,
        reverse: side(|s| s.reverse.as_ref(), true)?,
        options: AisOptions {
            particle_range: None,
            ..first.options.clone()
        },
        shards: shards.len(),
    })
}

/// The result of a run from all its log weights, as [`ais`] and [`reverse_ais`] compute it.
fn finish(
    log_weights: Vec<f64>,
    r0: &ShardRun,
    opts: &AisOptions,
    updates: u64,
    dead: usize,
    seconds: f64,
    reverse: bool,
) -> Result<AisResult> {
    if !reverse && dead == log_weights.len() {
        return Err(Error::AllWeightsZero {
            method: "AIS",
            count: log_weights.len(),
            what: "particles",
            hint: "they ended on states of probability zero; try more steps or particles".into(),
        });
    }
    let (lme, std_err, ess, log_weight_var, mean_log_weight) = weight_stats(&log_weights);
    let reps = replicates(&log_weights, opts.replicates);
    Ok(AisResult {
        log_z: if reverse { -lme } else { lme },
        std_err,
        ess,
        log_weight_var,
        mean_log_weight,
        log_weights,
        dead,
        replicate_log_z: if reverse {
            reps.into_iter().map(|l| -l).collect()
        } else {
            reps
        },
        betas: r0.betas.clone(),
        per_temperature: Vec::new(),
        base: r0.base,
        kernel: r0.kernel,
        updates,
        seconds,
        time_limited: false,
        reverse,
    })
}
