//! The annealing path: base log probabilities, the clamped template, the two-phase softened
//! path of models with zeros (DESIGN-NOTES note 11) and the energy parts of a state.

use std::time::Duration;

use rand::Rng;

use super::network_base::*;
use super::*;
use crate::error::{Error, Result};
use crate::infer::variational::MeanField;
use crate::model::FactorGraph;
use crate::num;
use crate::sample::gibbs::{Gibbs, GibbsOptions};
use crate::sample::kernel::Kernel;
use crate::sample::{TemperedBase, Tempering};
use crate::stop::StopRule;
use crate::var::Evidence;

// ---------------------------------------------------------------------------------------------
// Set-up shared by forward and reverse runs
// ---------------------------------------------------------------------------------------------

/// The path: base log probabilities, the clamped template state, the free variables.
pub(crate) struct PathSetup {
    /// Normalised base log probabilities per variable (clamped variables: zeros, unused).
    pub(crate) base_lp: Vec<Vec<f64>>,
    /// Uniform base: the kernel needs no base term (a constant drops out of the conditionals).
    pub(crate) uniform: bool,
    pub(crate) base: Base,
    /// Evidence and one-state variables at their state, free variables at 0.
    pub(crate) template: Vec<usize>,
    pub(crate) free: Vec<usize>,
    /// Per factor: the smallest finite log entry (the soft value of its zeros is this minus the
    /// penalty); `None` when the model has no zero entries (the path is then a plain geometric one).
    pub(crate) fac_min: Option<Vec<f64>>,
    /// The network base ([`Base::Network`]), when used.
    pub(crate) net: Option<NetBase>,
    /// The network base's log values in the layout of the model's factors (what the tempering
    /// of a network-base path carries, [`TemperedBase::Factors`]).
    pub(crate) net_vals: Option<Vec<f64>>,
    /// Whether the model has zero entries (any factor, not only those the path softens).
    pub(crate) model_zeros: bool,
}

impl PathSetup {
    pub(crate) fn new(
        fg: &FactorGraph,
        ev: &Evidence,
        base: Base,
        kernel: Kernel,
        time_limit: Option<Duration>,
    ) -> Result<Self> {
        let n = fg.num_vars();
        ev.check_len(n)?;
        let cards = fg.cards();
        let mut template = vec![0usize; n];
        let mut free = Vec::new();
        for i in 0..n {
            match ev.get(crate::var::VarId(i as u32)) {
                Some(s) => {
                    if s >= cards[i] {
                        return Err(Error::InvalidArgument(format!(
                            "evidence state {s} of variable {} is out of range",
                            fg.vars()[i].name
                        )));
                    }
                    template[i] = s
                }
                None if cards[i] > 1 => free.push(i),
                None => {}
            }
        }
        let uniform_lp = |i: usize| vec![-(cards[i] as f64).ln(); cards[i]];
        let mut base_lp: Vec<Vec<f64>> = (0..n).map(|i| vec![0.0; cards[i]]).collect();
        for &i in &free {
            base_lp[i] = uniform_lp(i);
        }
        let mut used = Base::Uniform;
        if base == Base::MeanField && !free.is_empty() {
            let mut mf = MeanField::default();
            let mut stop = StopRule::new(200, 1e-6);
            stop.max_time = Some(time_limit.map_or(Duration::from_secs(10), |t| t / 10));
            mf.stop = stop;
            match mf.run(fg, ev) {
                Ok(r) => {
                    for &i in &free {
                        let q = &r.marginals.log_marginals[i];
                        let u = MF_BASE_UNIFORM_MIX / cards[i] as f64;
                        base_lp[i] = q
                            .iter()
                            .map(|&lq| ((1.0 - MF_BASE_UNIFORM_MIX) * num::exp(lq) + u).ln())
                            .collect();
                        // renormalise exactly
                        let z = num::log_sum_exp(&base_lp[i]);
                        base_lp[i].iter_mut().for_each(|l| *l -= z);
                    }
                    used = Base::MeanField;
                }
                Err(e @ Error::ZeroProbabilityEvidence) => return Err(e),
                Err(_) => {}
            }
        }
        // validates the evidence (a factor zero everywhere under it is a typed error)
        Gibbs::new(fg, ev, &GibbsOptions::default())?;
        let has_zeros = fg
            .factors()
            .iter()
            .any(|f| f.log_values().contains(&f64::NEG_INFINITY));
        let model_zeros = has_zeros;
        let block = kernel.resolve(has_zeros) == Kernel::BlockGibbs;
        let net = match base {
            Base::Network if !block => {
                return Err(Error::InvalidArgument(
                    "the network base needs the blocked Gibbs kernel".into(),
                ))
            }
            Base::Network => Some(NetBase::new(fg, ev).ok_or_else(|| {
                Error::InvalidArgument(
                    "the network base needs a Bayesian network: every factor a table \
                     normalised over one of its variables, each variable the child of exactly \
                     one factor, no cycles"
                        .into(),
                )
            })?),
            Base::Auto if block && has_zeros => NetBase::new(fg, ev),
            _ => None,
        };
        if net.is_some() {
            used = Base::Network;
        }
        // the zeros that the path softens: every zero, or only the evidence factors' zeros
        // when the base is the network (the others are zeros of the base too)
        let has_zeros = match &net {
            Some(nb) => fg
                .factors()
                .iter()
                .zip(&nb.evidence_factor)
                .any(|(f, &e)| e && f.log_values().contains(&f64::NEG_INFINITY)),
            None => has_zeros,
        };
        let fac_min = has_zeros.then(|| {
            fg.factors()
                .iter()
                .map(|f| {
                    f.log_values()
                        .iter()
                        .copied()
                        .filter(|l| l.is_finite())
                        .fold(f64::INFINITY, f64::min)
                        .min(0.0)
                })
                .collect()
        });
        let net_vals = net.as_ref().map(|nb| nb.factor_base(fg));
        Ok(PathSetup {
            base_lp,
            uniform: used != Base::MeanField,
            net,
            net_vals,
            model_zeros,
            base: used,
            template,
            free,
            fac_min,
        })
    }

    /// The kernel type `kind` stands for on this model (the network base always runs blocked
    /// Gibbs: it is the only kernel that targets a base that is not fully factorised).
    pub(crate) fn kernel(&self, kind: Kernel) -> Kernel {
        if self.net.is_some() {
            Kernel::BlockGibbs
        } else {
            kind.resolve(self.model_zeros)
        }
    }

    /// The model with every zero entry of factor f replaced by `fac_min[f] - penalty`.
    pub(crate) fn softened(&self, fg: &FactorGraph, penalty: f64) -> Result<FactorGraph> {
        let mins = self
            .fac_min
            .as_ref()
            .expect("softening a model without zeros");
        let factors = fg
            .factors()
            .iter()
            .zip(mins)
            .enumerate()
            .map(|(k, (f, &m))| {
                let soft = self.net.as_ref().is_none_or(|nb| nb.evidence_factor[k]);
                let vals: Vec<f64> = f
                    .log_values()
                    .iter()
                    .map(|&l| {
                        if l == f64::NEG_INFINITY && soft {
                            m - penalty
                        } else {
                            l
                        }
                    })
                    .collect();
                crate::factor::TableFactor::new(f.scope().to_vec(), f.cards().to_vec(), vals)
            })
            .collect::<Result<Vec<_>>>()?;
        FactorGraph::new(fg.vars().to_vec(), factors)
    }

    /// `(ln p0(x), sum of finite factor logs, sum over zero entries of fac_min, zero entries)`.
    pub(crate) fn parts(&self, fg: &FactorGraph, x: &[usize]) -> Parts {
        let lp0 = match &self.net {
            Some(nb) => nb.log_p0(x),
            None => self.free.iter().map(|&i| self.base_lp[i][x[i]]).sum(),
        };
        let mut fin = 0.0;
        let mut zmin = 0.0;
        let mut nz = 0u32;
        for (k, f) in fg.factors().iter().enumerate() {
            let l = f.log_value(x);
            if l == f64::NEG_INFINITY && self.net.as_ref().is_some_and(|nb| !nb.evidence_factor[k])
            {
                // a zero of the base as well: the path never visits it
                fin = f64::NEG_INFINITY;
            } else if l == f64::NEG_INFINITY {
                nz += 1;
                if let Some(m) = &self.fac_min {
                    zmin += m[k];
                }
            } else {
                fin += l;
            }
        }
        Parts { lp0, fin, zmin, nz }
    }

    pub(crate) fn tempering(&self, beta: f64) -> Tempering<'_> {
        let base = match &self.net_vals {
            Some(a) => TemperedBase::Factors(a),
            None if self.uniform => TemperedBase::Uniform,
            None => TemperedBase::Factorised(&self.base_lp),
        };
        Tempering { beta, base }
    }

    /// An exact draw from the base.
    pub(crate) fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<usize> {
        let mut x = self.template.clone();
        if let Some(nb) = &self.net {
            nb.draw(&mut x, rng);
            return x;
        }
        for &i in &self.free {
            let u: f64 = rng.random();
            let lp = &self.base_lp[i];
            let mut acc = 0.0;
            let mut s = lp.len() - 1;
            for (k, &l) in lp.iter().enumerate() {
                acc += num::exp(l);
                if u < acc {
                    s = k;
                    break;
                }
            }
            x[i] = s;
        }
        x
    }
}

/// Energy parts of one state (see [`PathSetup::parts`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts {
    pub(crate) lp0: f64,
    pub(crate) fin: f64,
    pub(crate) zmin: f64,
    pub(crate) nz: u32,
}

/// Penalty (nats below a factor's smallest entry) of the zeros in the first half of the path of
/// a model with zeros.
pub const SOFT_PENALTY_START: f64 = 3.0;
/// Penalty reached just before the last step, which makes the zeros hard.
pub const SOFT_PENALTY_END: f64 = 40.0;

/// A point of the path: inverse temperature and zero penalty (`INFINITY` = hard zeros).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub(crate) beta: f64,
    pub(crate) penalty: f64,
}

impl Point {
    /// `ln f(x)` at this point.
    pub(crate) fn log_f(&self, p: &Parts) -> f64 {
        let model = if p.nz == 0 {
            p.fin
        } else if self.penalty.is_finite() {
            p.fin + p.zmin - p.nz as f64 * self.penalty
        } else {
            f64::NEG_INFINITY
        };
        if self.beta == 0.0 {
            p.lp0
        } else if self.beta == 1.0 {
            model
        } else {
            (1.0 - self.beta) * p.lp0 + self.beta * model
        }
    }
}

/// Map the path parameter t in [0, 1] to a point: models without zeros anneal beta = t; models
/// with zeros anneal beta from 0 to 1 over t in [0, 1/2] with soft zeros (penalty
/// [`SOFT_PENALTY_START`]), then raise the penalty linearly to [`SOFT_PENALTY_END`] over
/// (1/2, 1), and make the zeros hard at t = 1.
pub(crate) fn point(t: f64, zeros: bool) -> Point {
    if !zeros || t >= 1.0 {
        return Point {
            beta: t.min(1.0),
            penalty: f64::INFINITY,
        };
    }
    if t <= 0.5 {
        Point {
            beta: 2.0 * t,
            penalty: SOFT_PENALTY_START,
        }
    } else {
        Point {
            beta: 1.0,
            penalty: SOFT_PENALTY_START + (SOFT_PENALTY_END - SOFT_PENALTY_START) * (2.0 * t - 1.0),
        }
    }
}
