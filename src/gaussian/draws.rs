//! Exact draws from a Gaussian model given evidence, in row blocks with their own random
//! streams ([`ConditionalDraws`]).

use nalgebra::DMatrix;
use rayon::prelude::*;

use super::{bn, gmrf, GaussianModel, Gmrf, MvNormal};
use crate::error::Result;
use crate::rng::chain_rng;
use crate::var::Evidence;

/// Rows per random stream when sampling a conditional (thread-count invariant).
pub const CONDITIONAL_BLOCK: usize = 64;

/// A sampler of rows from the model given the evidence (observed columns hold their value):
/// ancestral for a BN without evidence, exact Cholesky draws otherwise. Row blocks draw from
/// `chain_rng(seed, block)`, so the rows do not depend on the number of threads, nor on the
/// chunks they are asked for in (chunks start at multiples of [`SAMPLE_CHUNK`](super::SAMPLE_CHUNK)).
pub struct ConditionalDraws<'a> {
    kind: Kind<'a>,
    ev: Evidence<f64>,
    n: usize,
}

enum Kind<'a> {
    /// The model itself.
    Joint(&'a GaussianModel),
    /// The free variables of a conditioned Gaussian BN (dense conditional).
    BnConditional(Vec<usize>, MvNormal),
    /// The free variables of a conditioned GMRF (`None`: nothing is free).
    MrfConditional(Vec<usize>, Option<Gmrf>),
}

impl<'a> ConditionalDraws<'a> {
    /// The sampler of `g` given `ev`. Errors as
    /// [`GaussianBn::condition`](super::GaussianBn::condition) / [`Gmrf::condition`].
    pub fn new(g: &'a GaussianModel, ev: &Evidence<f64>) -> Result<ConditionalDraws<'a>> {
        ev.check_len(g.dim())?;
        let kind = if ev.is_empty() {
            Kind::Joint(g)
        } else {
            match g {
                GaussianModel::Bn(bn) => {
                    let c = bn.condition(ev)?;
                    let mvn = MvNormal::new(c.mean.clone(), c.cov.clone())?;
                    Kind::BnConditional(c.free, mvn)
                }
                GaussianModel::Mrf(m) => {
                    let c = m.condition(ev)?;
                    Kind::MrfConditional(c.free, c.gmrf)
                }
            }
        };
        Ok(ConditionalDraws {
            kind,
            ev: ev.clone(),
            n: g.dim(),
        })
    }

    /// The GMRF itself when there is no evidence (a caller may stream its rows one by one).
    pub fn joint_gmrf(&self) -> Option<&'a Gmrf> {
        match self.kind {
            Kind::Joint(GaussianModel::Mrf(g)) => Some(g),
            _ => None,
        }
    }

    /// Rows per random stream: chunks must start at multiples of it.
    pub fn block(&self) -> usize {
        match self.kind {
            Kind::Joint(GaussianModel::Bn(_)) => bn::SAMPLE_BLOCK,
            Kind::Joint(GaussianModel::Mrf(_)) => gmrf::SAMPLE_BLOCK,
            Kind::BnConditional(..) => CONDITIONAL_BLOCK,
            Kind::MrfConditional(..) => gmrf::SAMPLE_BLOCK,
        }
    }

    /// Rows `first..first + rows` (`first` a multiple of [`Self::block`]) over all the model's
    /// columns, row-major.
    pub fn chunk(&self, first: usize, rows: usize, seed: u64) -> Vec<f64> {
        let n = self.n;
        let row_major = |m: DMatrix<f64>| -> Vec<f64> { m.transpose().as_slice().to_vec() };
        let (free, draws) = match &self.kind {
            Kind::Joint(GaussianModel::Mrf(g)) => {
                return g.sample_rows(first / gmrf::SAMPLE_BLOCK, rows, seed)
            }
            Kind::Joint(g) => return row_major(g.sample_chunk(first, rows, seed)),
            Kind::BnConditional(free, mvn) => {
                let na = free.len();
                let mut data = vec![0.0; rows * na];
                if na > 0 {
                    data.par_chunks_mut(CONDITIONAL_BLOCK * na)
                        .enumerate()
                        .for_each(|(b, chunk)| {
                            let mut rng = chain_rng(seed, (first / CONDITIONAL_BLOCK + b) as u64);
                            for row in chunk.chunks_mut(na) {
                                row.copy_from_slice(&mvn.sample(&mut rng));
                            }
                        });
                }
                (free, data)
            }
            Kind::MrfConditional(free, cg) => {
                let d = match cg {
                    Some(cg) => cg.sample_rows(first / gmrf::SAMPLE_BLOCK, rows, seed),
                    None => Vec::new(),
                };
                (free, d)
            }
        };
        let na = free.len();
        let mut out = vec![0.0; rows * n];
        for (r, row) in out.chunks_mut(n.max(1)).enumerate() {
            for (i, v) in self.ev.iter() {
                row[i.index()] = v;
            }
            for (k, &i) in free.iter().enumerate() {
                row[i] = draws[r * na + k];
            }
        }
        out
    }
}
