//! Convergence diagnostics of a chain run from its traces: split-R-hat, ESS and MCSE per state
//! (computed in blocks of variables, in parallel).

use rayon::prelude::*;

use super::*;
use crate::diagnostics::{split_ess, split_rhat};
use crate::model::FactorGraph;
use crate::var::{Evidence, VarId};

/// Variables per block when the (draw-major) traces are transposed for the diagnostics.
pub(crate) const DIAG_BLOCK: usize = 64;

impl Traces {
    /// Copy the states of variables `v0..v0 + out.len() / draws` of `chain` into `out`,
    /// variable-major (`out[k * draws + d]`), reading the draw-major trace row by row.
    pub(crate) fn column_block(&self, chain: usize, v0: usize, out: &mut [u32]) {
        let draws = self.draws;
        let width = out.len() / draws.max(1);
        let n = self.num_vars;
        macro_rules! copy {
            ($d:expr) => {
                for (d, row) in $d[chain].chunks_exact(n).enumerate() {
                    for (k, &v) in row[v0..v0 + width].iter().enumerate() {
                        out[k * draws + d] = v as u32;
                    }
                }
            };
        }
        match &self.data {
            TraceData::U8(t) => copy!(t),
            TraceData::U16(t) => copy!(t),
            TraceData::U32(t) => copy!(t),
        }
    }
}

/// Per-variable diagnostics of one block: (per-state MCSE, split-R-hat, ESS).
pub(crate) type VarDiag = (Vec<f64>, Option<f64>, Option<f64>);

pub(crate) fn diagnose(
    fg: &FactorGraph,
    ev: &Evidence,
    t: &Traces,
    marginals: &[Vec<f64>],
    deadline: crate::limits::Deadline,
) -> Option<Diagnostics> {
    let n = fg.num_vars();
    let chains = t.num_chains();
    let draws = t.num_draws();
    let total = (chains * draws) as f64;
    let blocks: Vec<Vec<VarDiag>> = (0..n.div_ceil(DIAG_BLOCK))
        .into_par_iter()
        .map(|b| {
            if deadline.passed() {
                return None;
            }
            let v0 = b * DIAG_BLOCK;
            let v1 = (v0 + DIAG_BLOCK).min(n);
            let cols: Vec<Vec<u32>> = (0..chains)
                .map(|c| {
                    let mut out = vec![0u32; (v1 - v0) * draws];
                    t.column_block(c, v0, &mut out);
                    out
                })
                .collect();
            let mut ind: Vec<Vec<f64>> = vec![vec![0.0; draws]; chains];
            (v0..v1)
                .map(|i| {
                    let card = marginals[i].len();
                    if card <= 1 || ev.get(VarId(i as u32)).is_some() {
                        return (vec![0.0; card], None, None);
                    }
                    let k = i - v0;
                    let mut mcse = vec![0.0; card];
                    let mut rhat: Option<f64> = None;
                    let mut ess: Option<f64> = None;
                    // a binary variable has one indicator (the other is its complement)
                    let first = if card == 2 { 1 } else { 0 };
                    for s in first..card {
                        for (row, col) in ind.iter_mut().zip(&cols) {
                            let col = &col[k * draws..(k + 1) * draws];
                            for (v, &st) in row.iter_mut().zip(col) {
                                *v = (st as usize == s) as u8 as f64;
                            }
                        }
                        let refs: Vec<&[f64]> = ind.iter().map(|r| r.as_slice()).collect();
                        let r = split_rhat(&refs);
                        let e = split_ess(&refs);
                        let p = marginals[i][s];
                        mcse[s] = match e {
                            Some(e) if p > 0.0 && p < 1.0 => {
                                (p * (1.0 - p) * total / (total - 1.0)).sqrt() / e.sqrt()
                            }
                            _ => 0.0,
                        };
                        if let Some(r) = r {
                            rhat = Some(rhat.map_or(r, |a: f64| a.max(r)));
                        }
                        if let Some(e) = e {
                            ess = Some(ess.map_or(e, |a: f64| a.min(e)));
                        }
                    }
                    if card == 2 {
                        mcse[0] = mcse[1];
                    }
                    (mcse, rhat, ess)
                })
                .collect::<Vec<VarDiag>>()
                .into()
        })
        .collect::<Option<Vec<_>>>()?;
    let per_var = blocks.into_iter().flatten();
    let mut d = Diagnostics {
        mcse: Vec::with_capacity(n),
        rhat: Vec::with_capacity(n),
        ess: Vec::with_capacity(n),
        max_rhat: None,
        min_ess: None,
    };
    for (m, r, e) in per_var {
        if let Some(r) = r {
            d.max_rhat = Some(d.max_rhat.map_or(r, |a| a.max(r)));
        }
        if let Some(e) = e {
            d.min_ess = Some(d.min_ess.map_or(e, |a| a.min(e)));
        }
        d.mcse.push(m);
        d.rhat.push(r);
        d.ess.push(e);
    }
    Some(d)
}
