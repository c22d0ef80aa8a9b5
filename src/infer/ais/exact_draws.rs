//! Exact draws from the model under evidence (for reverse AIS and BDMC).

use rand::Rng;
use rayon::prelude::*;

use super::*;
use crate::error::{Error, Result};
use crate::limits::Deadline;
use crate::model::FactorGraph;
use crate::num;
use crate::rng::chain_rng;
use crate::sample::block::BlockGibbs;
use crate::sample::{Tempering, Transition};
use crate::var::Evidence;

/// `n` exact independent draws from the model under evidence (draw j uses
/// `chain_rng(seed, j)`-style streams; parallel over draws, the same for any thread count).
///
/// When a greedy elimination of all free variables keeps every bucket table within 2^20
/// entries, the draws come from one bucket-elimination plan (forward filtering, backward
/// sampling: [`BlockGibbs::joint`]), each draw costing about the size of that plan. Otherwise the
/// free variables are drawn one after the other from their exact marginal given the evidence and
/// the variables drawn before: n * (free variables) exact marginal computations, meant for
/// models whose junction tree is small. Errors as [`crate::infer::exact::marginals`] (e.g.
/// [`Error::TooLarge`], [`Error::ZeroProbabilityEvidence`]).
pub fn exact_samples(
    fg: &FactorGraph,
    ev: &Evidence,
    n: usize,
    seed: u64,
    exact_opts: &crate::infer::exact::ExactOptions,
) -> Result<Vec<Vec<usize>>> {
    exact_samples_until(fg, ev, n, seed, exact_opts, Deadline::NONE)
}

/// Largest bucket table of the one-plan exact sampler of [`exact_samples`].
pub(crate) const JOINT_SAMPLER_TABLE: usize = 1 << 20;

/// As [`exact_samples`], but stops at `deadline`: the draws finished by then (a prefix of the
/// `n` draws [`exact_samples`] gives). [`Error::TimeLimit`] when not one draw finished.
pub fn exact_samples_until(
    fg: &FactorGraph,
    ev: &Evidence,
    n: usize,
    seed: u64,
    exact_opts: &crate::infer::exact::ExactOptions,
    deadline: Deadline,
) -> Result<Vec<Vec<usize>>> {
    crate::limits::check_alloc(
        &format!("{n} exact samples of {} variables", fg.num_vars()),
        n,
        fg.num_vars().saturating_mul(8).saturating_add(24),
        exact_opts.memory_limit,
    )?;
    let out_of_time = || Error::TimeLimit {
        what: "one exact sample of the model was drawn".into(),
        limit_seconds: 0.0,
    };
    if let Some(joint) = BlockGibbs::joint(fg, ev, JOINT_SAMPLER_TABLE)? {
        let template: Vec<usize> = (0..fg.num_vars())
            .map(|i| ev.get(crate::var::VarId(i as u32)).unwrap_or(0))
            .collect();
        let temp = Tempering::TARGET;
        let tables = joint.prepare(&temp);
        let draws: Vec<Option<Vec<usize>>> = (0..n)
            .into_par_iter()
            .map(|j| {
                if deadline.passed() {
                    return None;
                }
                let mut rng = chain_rng(seed, REVERSE_STREAM * 2 + j as u64);
                let mut x = template.clone();
                joint.sweep(&mut x, &tables, &mut rng);
                Some(x)
            })
            .collect();
        let draws: Vec<Vec<usize>> = draws.into_iter().map_while(|d| d).collect();
        if draws.is_empty() && n > 0 {
            return Err(out_of_time());
        }
        if draws
            .iter()
            .any(|x| fg.log_potential(x) == f64::NEG_INFINITY)
        {
            // only a state of probability zero is left alone by a bucket draw: the evidence
            // (or the model) has no state of positive probability; let exact inference say so
            crate::infer::exact::log_z(fg, ev, exact_opts)?;
            return Err(Error::ZeroProbabilityEvidence);
        }
        return Ok(draws);
    }
    use crate::infer::exact;
    // first call: checks width and evidence, and gives the first variable's marginal
    let post0 = exact::marginals(fg, ev, exact_opts)?;
    let free: Vec<usize> = (0..fg.num_vars())
        .filter(|&i| ev.get(crate::var::VarId(i as u32)).is_none())
        .collect();
    let draws: Vec<Option<Vec<usize>>> = (0..n)
        .into_par_iter()
        .map(|j| {
            let mut rng = chain_rng(seed, REVERSE_STREAM * 2 + j as u64);
            let mut cur: Vec<Option<usize>> = (0..fg.num_vars())
                .map(|i| ev.get(crate::var::VarId(i as u32)))
                .collect();
            let mut post = post0.clone();
            for (idx, &i) in free.iter().enumerate() {
                if deadline.passed() {
                    return Ok(None);
                }
                if idx > 0 {
                    post = exact::marginals(fg, &Evidence::from_options(cur.clone()), exact_opts)?;
                }
                let p = num::exp_all(&post.log_marginals[i]);
                let u: f64 = rng.random::<f64>() * p.iter().sum::<f64>();
                let mut acc = 0.0;
                let mut s = p.len() - 1;
                for (k, &q) in p.iter().enumerate() {
                    acc += q;
                    if u < acc && q > 0.0 {
                        s = k;
                        break;
                    }
                }
                cur[i] = Some(s);
            }
            Ok(Some(cur.into_iter().map(|s| s.unwrap_or(0)).collect()))
        })
        .collect::<Result<_>>()?;
    let draws: Vec<Vec<usize>> = draws.into_iter().map_while(|d| d).collect();
    if draws.is_empty() && n > 0 {
        return Err(out_of_time());
    }
    Ok(draws)
}
