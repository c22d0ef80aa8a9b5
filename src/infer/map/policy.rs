//! The one MAP entry point: which method runs, and the report every caller (the command
//! line, Python) formats.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::infer::exact::{self, ExactOptions, MpeProof};
use crate::limits::Deadline;
use crate::model::Model;
use crate::var::{Evidence, VarId};

use super::{map_anneal, map_dual, AnnealOptions, DualOptions, MapResult};

/// A method of [`map`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MapMethod {
    /// Exact max-product on the junction tree (the memory guard of exact inference applies).
    Exact,
    /// Any size: an upper bound from the LP dual (MPLP with tightening) and the best assignment
    /// decoded from it plus iterated conditional modes.
    Dual,
    /// Any size: simulated annealing with the MCMC kernels, then iterated conditional modes; no
    /// bound.
    Anneal,
    /// Exact when the junction tree fits in the memory limit, else the dual for the bound (half
    /// the time budget) followed by annealing from its assignment.
    #[default]
    Auto,
}

impl MapMethod {
    /// Every method, in the order the command line lists them.
    pub const ALL: [MapMethod; 4] = [
        MapMethod::Exact,
        MapMethod::Dual,
        MapMethod::Anneal,
        MapMethod::Auto,
    ];

    /// The name on the command line, in JSON and in Python.
    pub fn name(self) -> &'static str {
        match self {
            MapMethod::Exact => "exact",
            MapMethod::Dual => "dual",
            MapMethod::Anneal => "anneal",
            MapMethod::Auto => "auto",
        }
    }

    /// The method of a name of [`MapMethod::name`].
    pub fn from_name(name: &str) -> Option<MapMethod> {
        MapMethod::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// What a [`MapReport`] maximised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MapKind {
    /// The most probable explanation: the joint state of every unobserved variable.
    Mpe,
    /// Marginal MAP: the joint state of the query variables, the other unobserved ones summed
    /// out.
    MarginalMap,
}

/// Options of [`map`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MapOptions {
    /// Exact inference (memory limit, elimination heuristic).
    pub exact: ExactOptions,
    /// The dual (its `deadline` is replaced by the share of [`MapOptions::deadline`] it gets).
    pub dual: DualOptions,
    /// Annealing (its `deadline` is replaced as the dual's).
    pub anneal: AnnealOptions,
    /// Marginal MAP: maximise over these variables only, summing over the other unobserved
    /// ones (exact only).
    pub query: Option<Vec<VarId>>,
    /// Also compute ln P(x | e) for a Markov network (one more exact pass for its log Z; a
    /// Bayesian network always gets it where the method is exact).
    pub probability: bool,
    /// One deadline for the whole call.
    pub deadline: Deadline,
}

/// The outcome of [`map`].
#[derive(Debug, Clone, PartialEq)]
pub struct MapReport {
    /// What was maximised.
    pub kind: MapKind,
    /// The method that ran: `exact`, `dual`, `anneal` or `dual+anneal`.
    pub method: &'static str,
    /// The variables the answer is about, in model order: the query variables for marginal
    /// MAP, else every unobserved variable.
    pub free: Vec<VarId>,
    /// State of every variable (observed ones at their evidence; for marginal MAP only the
    /// query variables' states mean anything).
    pub assignment: Vec<usize>,
    /// ln of the unnormalised probability at the assignment (for a Bayesian network ln P(x, e);
    /// for marginal MAP the sum over the other unobserved variables).
    pub log_value: f64,
    /// ln P(x | e), when the normaliser is known (Bayesian networks with exact methods, Markov
    /// networks with [`MapOptions::probability`]).
    pub log_probability: Option<f64>,
    /// ln of an upper bound on the maximum (`+inf` when the method gives none).
    pub upper_bound: f64,
    /// `upper_bound - log_value`, nats (>= 0; `+inf` without a bound).
    pub gap: f64,
    /// Whether the assignment is proven optimal.
    pub optimal: bool,
    /// What proves an exact answer optimal (`None` for the approximate methods).
    pub proof: Option<MpeProof>,
    /// Dual sweeps run (0 for exact and anneal).
    pub sweeps: usize,
    /// Whether the deadline cut the search.
    pub time_limited: bool,
    /// Wall-clock seconds of the call.
    pub seconds: f64,
}

/// The most probable explanation of `model` given `ev` (or marginal MAP over
/// [`MapOptions::query`]) by `method`.
///
/// `auto` plans the junction tree first (without building it): exact when its largest table
/// fits the memory limit, else the dual then annealing. Marginal MAP is exact only.
///
/// Errors: [`Error::InvalidArgument`] for an empty query or marginal MAP with an approximate
/// method; [`Error::TooLarge`] when the exact method does not fit; the methods' own errors
/// ([`Error::ZeroProbabilityEvidence`] when no assignment has positive probability).
///
/// ```
/// use pgmkit::infer::map::{map, MapMethod, MapOptions};
/// use pgmkit::BayesNetBuilder;
/// let mut b = BayesNetBuilder::new();
/// let a = b.add_variable("a", ["no", "yes"]).unwrap();
/// let c = b.add_variable("c", ["no", "yes"]).unwrap();
/// b.set_cpd(a, &[], vec![0.3, 0.7]).unwrap();
/// b.set_cpd(c, &[a], vec![0.9, 0.1, 0.2, 0.8]).unwrap();
/// let bn = b.build().unwrap();
/// let model = pgmkit::Model::Bayes(bn);
/// let r = map(&model, &pgmkit::Evidence::new(2), MapMethod::Auto, &MapOptions::default()).unwrap();
/// assert_eq!(r.assignment, vec![1, 1]); // 0.7 * 0.8 = 0.56 is the largest joint entry
/// assert!((r.log_value - 0.56f64.ln()).abs() < 1e-12 && r.optimal);
/// ```
pub fn map(
    model: &Model,
    ev: &Evidence,
    method: MapMethod,
    opts: &MapOptions,
) -> Result<MapReport> {
    let t0 = Instant::now();
    ev.check(model.vars())?;
    if opts.query.as_ref().is_some_and(|q| q.is_empty()) {
        return Err(Error::InvalidArgument(
            "the marginal MAP query names no variable".into(),
        ));
    }
    let approximate = match method {
        MapMethod::Dual => Some(Approx::Dual),
        MapMethod::Anneal => Some(Approx::Anneal),
        MapMethod::Exact => None,
        MapMethod::Auto => (opts.query.is_none()
            && match exact::plan(&model.to_factor_graph(), ev, &opts.exact) {
                Ok(s) => 8.0 * s.max_clique_entries > opts.exact.memory_limit,
                Err(e) => matches!(e, Error::TooLarge { .. }),
            })
        .then_some(Approx::Both),
    };
    let mut report = match approximate {
        Some(how) => {
            if opts.query.is_some() {
                return Err(Error::InvalidArgument(
                    "marginal MAP (a query) is exact only: use the exact method".into(),
                ));
            }
            approximate_map(model, ev, how, opts)?
        }
        None => exact_map(model, ev, opts)?,
    };
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// The methods beyond exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Approx {
    Dual,
    Anneal,
    /// dual, then anneal from its assignment under its bound
    Both,
}

fn exact_map(model: &Model, ev: &Evidence, opts: &MapOptions) -> Result<MapReport> {
    let o = &opts.exact;
    let (m, log_norm) = match (model, &opts.query) {
        (Model::Bayes(bn), Some(q)) => (
            exact::marginal_map(&bn.to_factor_graph(), ev, q, o)?,
            Some(exact::bn_log_evidence(bn, ev, o)?.log_z),
        ),
        (Model::Markov(fg), Some(q)) => (
            exact::marginal_map(fg, ev, q, o)?,
            opts.probability
                .then(|| exact::log_z(fg, ev, o).map(|z| z.log_z))
                .transpose()?,
        ),
        (Model::Bayes(bn), None) => (
            exact::bn_mpe(bn, ev, o)?,
            Some(exact::bn_log_evidence(bn, ev, o)?.log_z),
        ),
        (Model::Markov(fg), None) => (
            exact::mpe(fg, ev, o)?,
            opts.probability
                .then(|| exact::log_z(fg, ev, o).map(|z| z.log_z))
                .transpose()?,
        ),
    };
    let free = match &opts.query {
        Some(q) => {
            let mut q = q.clone();
            q.sort();
            q.dedup();
            q
        }
        None => unobserved(model, ev),
    };
    Ok(MapReport {
        kind: if opts.query.is_some() {
            MapKind::MarginalMap
        } else {
            MapKind::Mpe
        },
        method: "exact",
        free,
        log_probability: log_norm.map(|z| m.log_value - z),
        upper_bound: m.log_max.max(m.log_value),
        gap: (m.log_max - m.log_value).max(0.0),
        optimal: true,
        proof: Some(m.proof),
        log_value: m.log_value,
        assignment: m.assignment,
        sweeps: 0,
        time_limited: false,
        seconds: 0.0,
    })
}

fn unobserved(model: &Model, ev: &Evidence) -> Vec<VarId> {
    (0..model.vars().len())
        .map(VarId::from)
        .filter(|&v| ev.get(v).is_none())
        .collect()
}

fn approximate_map(
    model: &Model,
    ev: &Evidence,
    how: Approx,
    opts: &MapOptions,
) -> Result<MapReport> {
    let fg = model.to_factor_graph();
    let deadline = opts.deadline;
    let dual_opts = |deadline| DualOptions {
        deadline,
        ..opts.dual.clone()
    };
    let anneal_opts = |deadline| AnnealOptions {
        deadline,
        ..opts.anneal.clone()
    };
    let (r, method): (MapResult, &'static str) = match how {
        Approx::Dual => (map_dual(&fg, ev, &dual_opts(deadline))?, "dual"),
        Approx::Anneal => (
            map_anneal(&fg, ev, None, None, &anneal_opts(deadline))?,
            "anneal",
        ),
        Approx::Both => {
            let d = map_dual(&fg, ev, &dual_opts(deadline.share(0.5)))?;
            if d.optimal {
                (d, "dual")
            } else {
                let s = map_anneal(
                    &fg,
                    ev,
                    Some(&d.assignment),
                    Some(d.upper_bound),
                    &anneal_opts(deadline),
                )?;
                (
                    MapResult {
                        sweeps: d.sweeps,
                        time_limited: d.time_limited || s.time_limited,
                        ..s
                    },
                    "dual+anneal",
                )
            }
        }
    };
    Ok(MapReport {
        kind: MapKind::Mpe,
        method,
        free: unobserved(model, ev),
        assignment: r.assignment,
        log_value: r.log_value,
        log_probability: None,
        upper_bound: r.upper_bound,
        gap: r.gap,
        optimal: r.optimal,
        proof: None,
        sweeps: r.sweeps,
        time_limited: r.time_limited,
        seconds: r.seconds,
    })
}
