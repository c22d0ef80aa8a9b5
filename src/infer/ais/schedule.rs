//! Schedules: fixed spacings of the path parameter, and the adaptive pilot that places the
//! temperatures at equal conditional-ESS increments.

use super::kernels::*;
use super::path::*;
use super::*;
use crate::error::Result;
use crate::limits::Deadline;
use crate::model::FactorGraph;
use crate::num;
use crate::rng::chain_rng;
use crate::sample::anneal::weights::*;
use crate::sample::anneal::*;

/// Largest number of pilot steps of the adaptive schedule.
pub(crate) const MAX_PILOT_STEPS: usize = 20_000;
/// Pilot particles of the adaptive schedule.
pub(crate) const PILOT_PARTICLES: usize = 16;

/// The adaptive pilot: the curve of path parameters it chose (`None` for fixed schedules or
/// when the pilot failed) and the updates it made.
pub(crate) fn choose_path(
    fg: &FactorGraph,
    setup: &PathSetup,
    kernels: &mut Kernels<'_>,
    opts: &AisOptions,
    deadline: Deadline,
) -> Result<(Option<Vec<f64>>, u64)> {
    let target = match opts.schedule {
        Schedule::Adaptive { target_cess } => target_cess,
        _ => return Ok((None, 0)),
    };
    let zeros = setup.fac_min.is_some();
    let p = PILOT_PARTICLES;
    let mut rngs: Vec<_> = (0..p)
        .map(|i| chain_rng(opts.seed, PILOT_STREAM + i as u64))
        .collect();
    let xs: Vec<Vec<usize>> = rngs.iter_mut().map(|r| setup.draw(r)).collect();
    let mut sw = Swarm {
        xs,
        rngs,
        lw: vec![0.0; p],
        updates: 0,
    };
    let mut ts = vec![0.0];
    let mut t = 0.0;
    while t < 1.0 && ts.len() <= MAX_PILOT_STEPS && !deadline.passed() {
        let parts = sw.parts(setup, fg);
        let z = num::log_sum_exp(&sw.lw);
        if z == f64::NEG_INFINITY {
            break;
        }
        let norm: Vec<f64> = sw.lw.iter().map(|l| l - z).collect();
        let from = point(t, zeros);
        let inc = |t2: f64| -> Vec<f64> {
            let to = point(t2, zeros);
            parts
                .iter()
                .zip(&norm)
                .map(|(pp, &l)| {
                    if l == f64::NEG_INFINITY {
                        0.0
                    } else {
                        let d = to.log_f(pp) - from.log_f(pp);
                        if d.is_nan() {
                            f64::NEG_INFINITY
                        } else {
                            d
                        }
                    }
                })
                .collect()
        };
        let next = if cess(&norm, &inc(1.0)) >= target {
            1.0
        } else {
            // stay within the current phase (the penalty jumps at t = 1/2 and 1)
            let hi0 = if zeros && t < 0.5 { 0.5 } else { 1.0 };
            let (mut lo, mut hi) = (t, hi0);
            if cess(&norm, &inc(hi0)) >= target {
                lo = hi0;
            } else {
                for _ in 0..50 {
                    let mid = 0.5 * (lo + hi);
                    if cess(&norm, &inc(mid)) >= target {
                        lo = mid
                    } else {
                        hi = mid
                    }
                }
            }
            let min_step = 1e-9_f64.max((hi0 - t) * 1e-6);
            if lo - t < min_step {
                (t + min_step).min(hi0)
            } else {
                lo
            }
        };
        let to = point(next, zeros);
        sw.reweight(&parts, from, to);
        t = next;
        ts.push(t);
        if t < 1.0 {
            sw.transition(kernels, to, opts.sweeps, None)?;
        }
    }
    if *ts.last().unwrap() < 1.0 {
        // pilot failed (all particles dead, too many steps, or out of time): sigmoid spacing
        return Ok((None, sw.updates));
    }
    Ok((Some(ts), sw.updates))
}
