//! Random-walk Metropolis: proposal `y = x + eps z`, `z ~ N(0, I)`; step size tuned during
//! warm-up by dual averaging to a target acceptance (default 0.234). One density evaluation per
//! transition; no gradient needed (the [`Energy`] gradient is never called).

use rand::Rng;
use rand_distr::StandardNormal;

use super::{
    check_step_size, check_target_accept, metropolis, ContinuousTransition, DualAveraging, Energy,
    PointMut, StepStats, TemperedMove,
};
use crate::error::Result;

/// Options of [`RandomWalk`].
#[derive(Debug, Clone, PartialEq)]
pub struct RandomWalkOptions {
    /// Initial step size (default 0.5).
    pub step_size: f64,
    /// Tune the step size during warm-up (default true).
    pub adapt: bool,
    /// Target mean acceptance probability (default 0.234).
    pub target_accept: f64,
}

impl Default for RandomWalkOptions {
    fn default() -> Self {
        RandomWalkOptions {
            step_size: 0.5,
            adapt: true,
            target_accept: 0.234,
        }
    }
}

/// The random-walk Metropolis kernel over an [`Energy`].
#[derive(Debug, Clone)]
pub struct RandomWalk<E> {
    energy: E,
    opts: RandomWalkOptions,
}

/// Per-chain state of [`RandomWalk`].
#[derive(Debug, Clone)]
pub struct RandomWalkChain {
    eps: f64,
    da: DualAveraging,
    /// (point, its log density)
    cache: Option<(Vec<f64>, f64)>,
    y: Vec<f64>,
}

impl<E: Energy> RandomWalk<E> {
    /// Errors: a non-positive step size, a target acceptance outside (0, 1).
    pub fn new(energy: E, opts: RandomWalkOptions) -> Result<Self> {
        check_step_size(opts.step_size)?;
        check_target_accept(opts.target_accept)?;
        Ok(RandomWalk { energy, opts })
    }
}

/// One random-walk Metropolis transition from `x` (log density `ld`, updated on acceptance):
/// the proposal `x + eps z`, `z ~ N(0, I)`, built in `y`. One density evaluation.
fn rw_move<E: Energy + ?Sized, R: Rng + ?Sized>(
    e: &E,
    x: &mut [f64],
    ld: &mut f64,
    eps: f64,
    y: &mut Vec<f64>,
    rng: &mut R,
) -> StepStats {
    y.clear();
    y.extend(
        x.iter()
            .map(|v| v + eps * rng.sample::<f64, _>(StandardNormal)),
    );
    let ly = e.log_density(y);
    let log_ratio = if ly.is_finite() {
        ly - *ld
    } else {
        f64::NEG_INFINITY
    };
    let (prob, accepted) = metropolis(log_ratio, rng);
    if accepted {
        x.copy_from_slice(y);
        *ld = ly;
    }
    StepStats {
        accept_prob: prob,
        accepted,
        evals: 1,
        divergent: false,
    }
}

impl<E: Energy> ContinuousTransition for RandomWalk<E> {
    type ChainState = RandomWalkChain;

    fn dim(&self) -> usize {
        self.energy.dim()
    }

    fn log_target(&self, x: &[f64]) -> f64 {
        self.energy.log_density(x)
    }

    fn init_chain(&self) -> RandomWalkChain {
        RandomWalkChain {
            eps: self.opts.step_size,
            da: DualAveraging::new(self.opts.step_size, self.opts.target_accept),
            cache: None,
            y: Vec::new(),
        }
    }

    fn step<R: Rng + ?Sized>(
        &self,
        x: &mut [f64],
        cs: &mut RandomWalkChain,
        adapt: bool,
        rng: &mut R,
    ) -> StepStats {
        let mut evals = 0;
        let lx = match &cs.cache {
            Some((cx, l)) if cx.as_slice() == &*x => *l,
            _ => {
                evals += 1;
                self.energy.log_density(x)
            }
        };
        let mut lnew = lx;
        let st = rw_move(&self.energy, x, &mut lnew, cs.eps, &mut cs.y, rng);
        evals += st.evals;
        let prob = st.accept_prob;
        match &mut cs.cache {
            Some((cx, l)) => {
                cx.copy_from_slice(x);
                *l = lnew;
            }
            None => cs.cache = Some((x.to_vec(), lnew)),
        }
        if adapt && self.opts.adapt {
            cs.eps = cs.da.update(prob);
        }
        StepStats { evals, ..st }
    }

    fn end_warmup(&self, cs: &mut RandomWalkChain) {
        if self.opts.adapt {
            cs.eps = cs.da.final_step_size();
        }
    }

    fn step_size(&self, cs: &RandomWalkChain) -> Option<f64> {
        Some(cs.eps)
    }
}

impl<E: Energy> TemperedMove for RandomWalk<E> {
    /// The proposal buffer.
    type Scratch = Vec<f64>;

    /// One random-walk transition with proposal scale `eps`; the gradient is not read (and is
    /// left as it was).
    fn tempered_step<T: Energy + ?Sized, R: Rng + ?Sized>(
        &self,
        energy: &T,
        at: PointMut<'_>,
        eps: f64,
        y: &mut Vec<f64>,
        rng: &mut R,
    ) -> StepStats {
        rw_move(energy, at.x, at.ld, eps, y, rng)
    }
}
