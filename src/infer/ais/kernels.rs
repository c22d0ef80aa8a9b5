//! The transition kernels of an AIS run at each path point, and the swarm of particles advanced
//! together step by step.

use rayon::prelude::*;

use super::path::*;
use crate::error::Result;
use crate::model::FactorGraph;
use crate::sample::block::{BlockGibbs, BlockOptions};
use crate::sample::chains::Progress;
use crate::sample::kernel::{AnyKernel, Kernel, KernelOptions};
use crate::sample::Transition;
use crate::var::Evidence;

/// Kernels by zero penalty (one for the model itself, one per softened model in use).
pub(crate) struct Kernels<'a> {
    pub(crate) fg: &'a FactorGraph,
    pub(crate) ev: &'a Evidence,
    pub(crate) setup: &'a PathSetup,
    /// The kernel type, with [`Kernel::Auto`] resolved.
    pub(crate) kind: Kernel,
    pub(crate) reversible: bool,
    pub(crate) hard: Option<AnyKernel>,
    pub(crate) soft: Option<(f64, AnyKernel)>,
    /// The first-phase kernel (penalty SOFT_PENALTY_START) is kept: it serves many steps.
    pub(crate) start: Option<AnyKernel>,
    /// Blocked Gibbs: the kernel of the model itself, whose plan the softened kernels share.
    pub(crate) block: Option<BlockGibbs>,
}

impl<'a> Kernels<'a> {
    pub(crate) fn new(
        fg: &'a FactorGraph,
        ev: &'a Evidence,
        setup: &'a PathSetup,
        kind: Kernel,
        reversible: bool,
    ) -> Self {
        Kernels {
            fg,
            ev,
            setup,
            kind: setup.kernel(kind),
            reversible,
            hard: None,
            soft: None,
            start: None,
            block: None,
        }
    }

    /// A kernel for the model `fg` (the model itself or a softened copy of it).
    pub(crate) fn build(&mut self, fg: &FactorGraph) -> Result<AnyKernel> {
        if self.kind != Kernel::BlockGibbs {
            let opts = KernelOptions {
                reversible: self.reversible,
                ..KernelOptions::default()
            };
            return self.kind.build(fg, self.ev, &opts);
        }
        if self.block.is_none() {
            let mut o = BlockOptions {
                random_scan: self.reversible,
                ..BlockOptions::default()
            };
            // with the network base, the blocks that follow the network's deterministic parts
            // do the work; one partition without bridges is enough besides them
            let extra = match &self.setup.net {
                Some(nb) => {
                    o.covers = 1;
                    o.bridge_max = 0;
                    nb.root_blocks(self.fg, self.ev)
                }
                None => Vec::new(),
            };
            self.block = Some(BlockGibbs::with_extra_blocks(self.fg, self.ev, &o, &extra)?);
        }
        Ok(AnyKernel::BlockGibbs(
            self.block.as_ref().unwrap().with_values(fg)?,
        ))
    }

    pub(crate) fn get(&mut self, penalty: f64) -> Result<&AnyKernel> {
        if !penalty.is_finite() {
            if self.hard.is_none() {
                let fg = self.fg;
                self.hard = Some(self.build(fg)?);
            }
            return Ok(self.hard.as_ref().unwrap());
        }
        if penalty == SOFT_PENALTY_START {
            if self.start.is_none() {
                let soft = self.setup.softened(self.fg, penalty)?;
                self.start = Some(self.build(&soft)?);
            }
            return Ok(self.start.as_ref().unwrap());
        }
        if self.soft.as_ref().is_none_or(|(p, _)| *p != penalty) {
            let soft = self.setup.softened(self.fg, penalty)?;
            let k = self.build(&soft)?;
            self.soft = Some((penalty, k));
        }
        Ok(&self.soft.as_ref().unwrap().1)
    }
}

/// Particles advanced together, step by step.
pub(crate) struct Swarm {
    pub(crate) xs: Vec<Vec<usize>>,
    pub(crate) rngs: Vec<crate::rng::EngineRng>,
    pub(crate) lw: Vec<f64>,
    pub(crate) updates: u64,
}

impl Swarm {
    pub(crate) fn parts(&self, setup: &PathSetup, fg: &FactorGraph) -> Vec<Parts> {
        self.xs.par_iter().map(|x| setup.parts(fg, x)).collect()
    }

    /// Add `ln f_to(x) - ln f_from(x)` to every live particle.
    pub(crate) fn reweight(&mut self, parts: &[Parts], from: Point, to: Point) {
        for (l, p) in self.lw.iter_mut().zip(parts) {
            if *l > f64::NEG_INFINITY {
                *l += to.log_f(p) - from.log_f(p);
                if l.is_nan() {
                    *l = f64::NEG_INFINITY;
                }
            }
        }
    }

    pub(crate) fn transition(
        &mut self,
        kernels: &mut Kernels<'_>,
        at: Point,
        sweeps: usize,
        progress: Option<Progress<'_>>,
    ) -> Result<()> {
        let setup = kernels.setup;
        let k = kernels.get(at.penalty)?;
        let t = setup.tempering(at.beta);
        let prep = k.prepare(&t);
        let u: u64 = self
            .xs
            .par_iter_mut()
            .zip(self.rngs.par_iter_mut())
            .zip(self.lw.par_iter())
            .map(|((x, r), &l)| {
                if l > f64::NEG_INFINITY {
                    k.sweeps(x, &prep, r, sweeps, None).updates
                } else {
                    0
                }
            })
            .sum();
        self.updates += u;
        if let Some(p) = progress {
            p((sweeps * self.xs.len()) as u64);
        }
        Ok(())
    }
}
