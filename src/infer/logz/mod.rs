//! One entry point for the log partition function: [`log_z`] runs any log Z method, including
//! the policies `auto` (exact when it fits, else AIS with the mean-field lower and TRW upper
//! bounds) and `all` (every method that applies, side by side), and returns a [`LogZReport`]
//! with every run's [`LogZEstimate`] and details, the methods skipped and why, and notes.
//!
//! Under a time limit ([`LogZOptions::time_limit`]) the whole call is one budget: `auto` gives
//! AIS 70% of what is left, mean field half the rest and TRW the remainder; `all` gives the AIS
//! family 60% after exact, then mean field, BP and TRW a share each of what is left.
//!
//! ```
//! use pgmkit::infer::logz::{log_z, LogZMethod, LogZOptions};
//! use pgmkit::model::{ising_grid, Boundary, Model};
//! use pgmkit::Evidence;
//!
//! let g = ising_grid(4, 4, Boundary::Free, |_, _| 0.3, |_| 0.1).unwrap();
//! let model = Model::Markov(g);
//! let ev = Evidence::new(16);
//! let r = log_z(&model, &ev, LogZMethod::Auto, &LogZOptions::default(), None).unwrap();
//! // a 4x4 grid fits: auto is exact
//! assert_eq!(r.runs[0].method, LogZMethod::Exact);
//! assert!(r.estimate.log_z.is_finite());
//! ```

mod policy;
mod runs;

use std::cell::OnceCell;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::ais::{AisOptions, AisResult, Bdmc};
use super::exact::{self, ExactOptions};
use super::variational::VariationalResult;
use super::LogZEstimate;
use crate::error::{Error, Result};
use crate::limits::{human_bytes, human_count, Deadline};
use crate::model::{FactorGraph, Model};
use crate::stop::StopRule;
use crate::var::Evidence;
use policy::*;
pub use runs::variational;
use runs::*;

/// A method of [`log_z`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogZMethod {
    /// Exact inference (pruned log P(e) for a Bayesian network).
    Exact,
    /// Likelihood weighting (Bayesian networks).
    Lw,
    /// Annealed importance sampling: a stochastic estimate.
    Ais,
    /// Reverse AIS from exact samples: a stochastic upper bound.
    Rais,
    /// Bidirectional Monte Carlo: forward and reverse AIS, a stochastic sandwich.
    Bdmc,
    /// Naive mean field: a lower bound.
    Mf,
    /// Loopy belief propagation: the Bethe approximation.
    Bp,
    /// Tree-reweighted BP: an upper bound (pairwise models).
    Trw,
    /// Exact when it fits, else AIS with the mean-field and TRW bounds.
    Auto,
    /// Every method that applies.
    All,
}

impl LogZMethod {
    /// Every method.
    pub const ALL: [LogZMethod; 10] = [
        LogZMethod::Exact,
        LogZMethod::Lw,
        LogZMethod::Ais,
        LogZMethod::Rais,
        LogZMethod::Bdmc,
        LogZMethod::Mf,
        LogZMethod::Bp,
        LogZMethod::Trw,
        LogZMethod::Auto,
        LogZMethod::All,
    ];

    /// The name used on the command line and in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            LogZMethod::Exact => "exact",
            LogZMethod::Lw => "lw",
            LogZMethod::Ais => "ais",
            LogZMethod::Rais => "rais",
            LogZMethod::Bdmc => "bdmc",
            LogZMethod::Mf => "mf",
            LogZMethod::Bp => "bp",
            LogZMethod::Trw => "trw",
            LogZMethod::Auto => "auto",
            LogZMethod::All => "all",
        }
    }

    /// The method of a name or alias ([`LogZMethod::name`], [`LogZMethod::aliases`]).
    pub fn from_name(name: &str) -> Option<LogZMethod> {
        LogZMethod::ALL
            .into_iter()
            .find(|m| m.name() == name || m.aliases().contains(&name))
    }

    /// Other names accepted for the method (on the command line).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            LogZMethod::Lw => &["likelihood-weighting"],
            LogZMethod::Mf => &["mean-field"],
            LogZMethod::Bp => &["loopy-bp"],
            _ => &[],
        }
    }

    /// What the method computes, in a sentence (the command line's help text).
    pub fn description(self) -> &'static str {
        match self {
            LogZMethod::Exact => {
                "Exact: variable elimination / junction tree over a min-fill-type elimination \
                 order (barren variables pruned first for a Bayesian network); refuses models \
                 whose tables would exceed --memory-limit"
            }
            LogZMethod::Lw => {
                "Likelihood weighting (Bayesian networks only): --samples weighted forward \
                 samples with the evidence clamped; log P(e) with its standard error"
            }
            LogZMethod::Ais => {
                "Annealed importance sampling (any model): log Z with a standard error (a \
                 stochastic estimate, a lower bound in expectation)"
            }
            LogZMethod::Rais => {
                "Reverse AIS from exact samples (needs the exact width to fit): a stochastic \
                 upper bound on log Z"
            }
            LogZMethod::Bdmc => {
                "Bidirectional Monte Carlo: forward AIS (stochastic lower bound) and reverse AIS \
                 from exact samples (stochastic upper bound); needs the exact width to fit"
            }
            LogZMethod::Mf => "Naive mean field: a deterministic lower bound on log Z (the ELBO)",
            LogZMethod::Bp => {
                "Loopy belief propagation: the Bethe approximation of log Z (no bound)"
            }
            LogZMethod::Trw => {
                "Tree-reweighted BP: a deterministic upper bound on log Z (pairwise models, or \
                 models that evidence makes pairwise)"
            }
            LogZMethod::Auto => {
                "Exact when it fits in --memory-limit, else AIS (estimate) with the mean-field \
                 lower bound and the TRW upper bound (pairwise models)"
            }
            LogZMethod::All => {
                "Every method that applies, side by side (with the error against exact when \
                 exact is feasible); those that do not apply are listed with the reason"
            }
        }
    }

    /// True for the methods that run AIS (and so use [`LogZOptions::ais`]).
    pub fn uses_ais(self) -> bool {
        matches!(
            self,
            LogZMethod::Ais
                | LogZMethod::Rais
                | LogZMethod::Bdmc
                | LogZMethod::Auto
                | LogZMethod::All
        )
    }

    /// True for the methods that run a variational algorithm (and so use [`LogZOptions::stop`]).
    pub fn uses_variational(self) -> bool {
        matches!(
            self,
            LogZMethod::Mf | LogZMethod::Bp | LogZMethod::Trw | LogZMethod::Auto | LogZMethod::All
        )
    }
}

impl fmt::Display for LogZMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LogZMethod {
    type Err = Error;

    /// A name of [`LogZMethod::name`] or one of its [`LogZMethod::aliases`].
    fn from_str(s: &str) -> Result<LogZMethod> {
        LogZMethod::ALL
            .into_iter()
            .find(|m| m.name() == s || m.aliases().contains(&s))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown log Z method '{s}' (expected one of: {})",
                    LogZMethod::ALL.map(LogZMethod::name).join(", ")
                ))
            })
    }
}

/// Options of [`log_z`].
#[derive(Debug, Clone, PartialEq)]
pub struct LogZOptions {
    /// Exact inference (memory limit, elimination heuristic).
    pub exact: ExactOptions,
    /// AIS, reverse AIS and BDMC (its seed also seeds the exact samples of reverse AIS).
    pub ais: AisOptions,
    /// The variational methods' stop rule (its `max_time` is replaced by the share of
    /// `time_limit` a method gets when a time limit is set).
    pub stop: StopRule,
    /// Seed of likelihood weighting, of TRW's spanning trees and of the exact samples of
    /// reverse AIS.
    pub seed: u64,
    /// Weighted samples of likelihood weighting (default 10,000).
    pub lw_samples: usize,
    /// One budget for the whole call (default none).
    pub time_limit: Option<Duration>,
}

impl Default for LogZOptions {
    fn default() -> Self {
        LogZOptions {
            exact: ExactOptions::default(),
            ais: AisOptions::default(),
            stop: StopRule::new(1000, 1e-9),
            seed: 0,
            lw_samples: 10_000,
            time_limit: None,
        }
    }
}

/// What [`log_z`] reports while it works: a phase starts (with its amount of work in progress
/// units, or `None` for a phase without a measure), advances, or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase<'a> {
    /// A phase starts: a short label ("ais 128x1000") and its work in units ("sweeps"), if
    /// known.
    Start {
        /// What runs.
        label: &'a str,
        /// Progress units of the whole phase (AIS: sweeps over the particles).
        units: Option<u64>,
    },
    /// `k` more units done (called from any thread).
    Advance(u64),
    /// The phase ended.
    End,
}

/// A progress callback of [`log_z`].
pub type LogZProgress<'a> = &'a (dyn Fn(Phase<'_>) + Sync);

/// The details of one method's run.
#[derive(Debug, Clone)]
pub enum RunDetail {
    /// Exact inference.
    Exact,
    /// Likelihood weighting with this many samples.
    Lw {
        /// Weighted samples drawn.
        samples: usize,
    },
    /// A forward AIS run ([`LogZMethod::Ais`]) or a reverse one ([`LogZMethod::Rais`]).
    Ais(Box<AisResult>),
    /// BDMC: both runs, and the seconds spent drawing the exact samples.
    Bdmc {
        /// The forward and reverse runs.
        bdmc: Box<Bdmc>,
        /// Seconds spent drawing the exact samples (included in the run's `seconds`).
        sample_seconds: f64,
    },
    /// Mean field, BP or TRW.
    Variational(Box<VariationalResult>),
}

/// One method's run: its estimate, time and details.
#[derive(Debug, Clone)]
pub struct MethodRun {
    /// The method (never `Auto` or `All`).
    pub method: LogZMethod,
    /// Its log Z figure.
    pub estimate: LogZEstimate,
    /// Seconds spent in the method.
    pub seconds: f64,
    /// What else the method tells.
    pub detail: RunDetail,
}

/// A method [`LogZMethod::All`] (or `Auto`) did not run or that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The method.
    pub method: LogZMethod,
    /// Why, in words.
    pub reason: String,
}

/// Which method supplied a field of an `auto` estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// The field of [`LogZEstimate`]: `log_z`, `std_err`, `ess`, `lower` or `upper`.
    pub field: &'static str,
    /// The method it comes from.
    pub method: LogZMethod,
}

/// The outcome of [`log_z`].
#[derive(Debug, Clone)]
pub struct LogZReport {
    /// The method asked for.
    pub method: LogZMethod,
    /// The answer: the method's own estimate; for `auto` the combination of its runs (see
    /// [`LogZReport::sources`]); for `all` the exact value when exact inference ran, else the
    /// first run's estimate.
    pub estimate: LogZEstimate,
    /// The runs, in the order they ran (one for a single method).
    pub runs: Vec<MethodRun>,
    /// `auto`: which run supplied which field of `estimate`.
    pub sources: Vec<Source>,
    /// `all` (and `auto`): the methods that did not run or failed, with the reason.
    pub skipped: Vec<Skipped>,
    /// Remarks for the reader (why auto chose what it chose, bounds that disagree, ...).
    pub notes: Vec<String>,
    /// Seconds spent in the whole call.
    pub seconds: f64,
}

impl LogZReport {
    /// The run of `method`, if it ran.
    pub fn run(&self, method: LogZMethod) -> Option<&MethodRun> {
        self.runs.iter().find(|r| r.method == method)
    }

    /// The exact value, when exact inference ran.
    pub fn exact_log_z(&self) -> Option<f64> {
        self.run(LogZMethod::Exact).map(|r| r.estimate.log_z)
    }
}

/// Above this many bits (log2 of table entries) beyond twice the bits the memory limit allows,
/// the quick min-degree plan of [`hopeless_for_exact`] declares exact inference hopeless.
const HOPELESS_MARGIN_BITS: f64 = 10.0;

/// Bytes for people, in exponent form beyond 10^18.
fn big_bytes(b: f64) -> String {
    if b < 1e18 {
        human_bytes(b)
    } else {
        format!("{b:.3e} bytes")
    }
}

/// A short description of an [`Error::TooLarge`] (numbers for people); any other error's text.
pub fn too_large_text(e: &Error) -> String {
    match e {
        Error::TooLarge {
            width,
            largest_table,
            needed,
            limit,
        } => format!(
            "elimination width {width}, largest table {} entries, {} needed > limit {}",
            human_count(*largest_table),
            big_bytes(*needed),
            big_bytes(*limit)
        ),
        e => e.to_string(),
    }
}

/// For `auto` and `all` on a Markov network: a quick min-degree plan (fractions of a second even
/// on 10 000 variables, where the full order search of exact inference takes tens of seconds).
/// Returns the reason when even a much better order could not fit: when the min-degree order
/// needs more than `2 * bits(limit) + 10` bits of table entries (min-degree is rarely worse
/// than the best order by a factor 2 in width). `None`: try exact inference for real (always
/// for a Bayesian network, whose barren-node pruning may make it much smaller).
pub fn hopeless_for_exact(
    model: &Model,
    fg: &FactorGraph,
    ev: &Evidence,
    opts: &ExactOptions,
) -> Option<String> {
    if matches!(model, Model::Bayes(_)) {
        return None;
    }
    let quick = ExactOptions {
        heuristic: exact::OrderHeuristic::MinDegree,
        ..opts.clone()
    };
    let plan = exact::plan(fg, ev, &quick).ok()?;
    let limit_entries = (opts.memory_limit / 8.0).max(2.0);
    let bits = plan.max_clique_entries.log2();
    (bits > 2.0 * limit_entries.log2() + HOPELESS_MARGIN_BITS).then(|| {
        format!(
            "a min-degree elimination order has width {} and a largest table of 2^{bits:.0} \
             entries; the memory limit {} holds 2^{:.0}",
            plan.width,
            big_bytes(opts.memory_limit),
            limit_entries.log2()
        )
    })
}

/// Estimate log Z (ln P(evidence) for a Bayesian network) of `model` under `ev` by `method`.
///
/// A single method runs with the whole budget and reports one run. `auto` and `all` are
/// policies over the methods (see the module docs). `progress` hears of every phase.
///
/// Errors: those of the method run (a single method, or the parts of `auto` that must succeed:
/// exact inference failing other than by size, AIS); `all` reports failed methods as skipped
/// instead and fails only when nothing ran.
pub fn log_z(
    model: &Model,
    ev: &Evidence,
    method: LogZMethod,
    opts: &LogZOptions,
    progress: Option<LogZProgress<'_>>,
) -> Result<LogZReport> {
    let t = Instant::now();
    let c = Ctx {
        model,
        ev,
        opts,
        deadline: Deadline::after(opts.time_limit),
        progress,
        fg: OnceCell::new(),
    };
    let mut report = LogZReport {
        method,
        estimate: LogZEstimate::exact(f64::NAN),
        runs: Vec::new(),
        sources: Vec::new(),
        skipped: Vec::new(),
        notes: Vec::new(),
        seconds: 0.0,
    };
    match method {
        LogZMethod::Auto => auto(&c, &mut report)?,
        LogZMethod::All => all(&c, &mut report)?,
        m => {
            let r = single(&c, m)?;
            report.estimate = r.estimate.clone();
            report.runs.push(r);
        }
    }
    report.seconds = t.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ising_grid, Boundary};

    fn grid() -> (Model, Evidence) {
        let g = ising_grid(3, 3, Boundary::Free, |_, _| 0.4, |_| 0.1).unwrap();
        (Model::Markov(g), Evidence::new(9))
    }

    #[test]
    fn names_round_trip() {
        for m in LogZMethod::ALL {
            assert_eq!(m.name().parse::<LogZMethod>().unwrap(), m);
        }
        assert!(matches!(
            "gibbs".parse::<LogZMethod>(),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn all_runs_every_method_that_applies_and_agrees_with_exact() {
        let (m, ev) = grid();
        let opts = LogZOptions {
            ais: AisOptions {
                particles: 32,
                steps: 200,
                ..AisOptions::default()
            },
            ..LogZOptions::default()
        };
        let r = log_z(&m, &ev, LogZMethod::All, &opts, None).unwrap();
        let ran: Vec<_> = r.runs.iter().map(|x| x.method).collect();
        use LogZMethod::*;
        assert_eq!(ran, [Exact, Ais, Rais, Bdmc, Mf, Bp, Trw]);
        assert_eq!(r.skipped.len(), 1);
        assert_eq!(r.skipped[0].method, Lw);
        let z = r.exact_log_z().unwrap();
        assert_eq!(r.estimate.log_z, z);
        let mf = r.run(Mf).unwrap().estimate.log_z;
        let trw = r.run(Trw).unwrap().estimate.log_z;
        assert!(mf <= z + 1e-9 && z <= trw + 1e-9, "{mf} {z} {trw}");
        let ais = &r.run(Ais).unwrap().estimate;
        assert!((ais.log_z - z).abs() < 5.0 * ais.std_err.unwrap() + 1e-3);
    }

    #[test]
    fn auto_is_exact_when_it_fits() {
        let (m, ev) = grid();
        let r = log_z(&m, &ev, LogZMethod::Auto, &LogZOptions::default(), None).unwrap();
        assert_eq!(r.runs.len(), 1);
        assert_eq!(r.sources[0].method, LogZMethod::Exact);
        assert_eq!(r.estimate, r.runs[0].estimate);
    }

    #[test]
    fn auto_without_room_for_exact_brackets_ais() {
        let (m, ev) = grid();
        let opts = LogZOptions {
            exact: ExactOptions {
                memory_limit: 8.0,
                ..ExactOptions::default()
            },
            ais: AisOptions {
                particles: 16,
                steps: 100,
                ..AisOptions::default()
            },
            ..LogZOptions::default()
        };
        let r = log_z(&m, &ev, LogZMethod::Auto, &opts, None).unwrap();
        let ran: Vec<_> = r.runs.iter().map(|x| x.method).collect();
        assert_eq!(ran, [LogZMethod::Ais, LogZMethod::Mf, LogZMethod::Trw]);
        let e = &r.estimate;
        assert!(e.lower.unwrap() <= e.upper.unwrap());
        assert_eq!(e.bound_kind, Some(crate::infer::BoundKind::Deterministic));
    }
}
