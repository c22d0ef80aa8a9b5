//! Cutting the free variables into blocks whose bucket elimination fits the table limit, and
//! compiling each block's elimination plan.

use std::collections::BTreeSet;

use super::*;
use crate::factor::elim::{min_weight_order, InteractionGraph};
use crate::model::FactorGraph;

// ---------------------------------------------------------------------------------------------
// Planning
// ---------------------------------------------------------------------------------------------

/// Partition the free variables into blocks (see the module docs).
pub(crate) fn partition(
    fg: &FactorGraph,
    cards: &[usize],
    clamped: &[Option<usize>],
    opts: &BlockOptions,
) -> Vec<Vec<u32>> {
    let n = cards.len();
    let var_factors = fg.var_factors();
    let zero_factors: Vec<usize> = (0..fg.factors().len())
        .filter(|&k| fg.factors()[k].log_values().contains(&f64::NEG_INFINITY))
        .collect();
    // one partition per cover; each later cover merges first the zero factors that every
    // earlier cover cut
    let mut cut_everywhere: Vec<bool> = vec![true; fg.factors().len()];
    let mut blocks: Vec<Vec<u32>> = Vec::new();
    let mut seen: std::collections::HashSet<Vec<u32>> = std::collections::HashSet::new();
    for cover in 0..opts.covers.max(1) {
        let order: Vec<usize> = if cover == 0 {
            zero_factors.clone()
        } else {
            let first = zero_factors.iter().copied().filter(|&k| cut_everywhere[k]);
            let rest = zero_factors.iter().copied().filter(|&k| !cut_everywhere[k]);
            first.chain(rest).collect()
        };
        let (members, bo) = merge_pass(fg, cards, clamped, &var_factors, &order, opts);
        for &k in &zero_factors {
            let ids: BTreeSet<usize> = fg.factors()[k]
                .scope()
                .iter()
                .filter(|v| clamped[v.index()].is_none())
                .map(|v| bo[v.index()])
                .collect();
            if ids.len() < 2 {
                cut_everywhere[k] = false;
            }
        }
        for mut m in members {
            if m.is_empty() || clamped[m[0] as usize].is_some() || (cover > 0 && m.len() < 2) {
                continue;
            }
            m.sort_unstable();
            if seen.insert(m.clone()) {
                blocks.push(m);
            }
        }
        if !cut_everywhere.iter().any(|&c| c) {
            break;
        }
    }
    if opts.bridge_max < 2 {
        return blocks;
    }
    // bridges: a block grown breadth-first along the zero factors around every zero factor
    // that every cover cuts
    let has_zero: Vec<bool> = fg
        .factors()
        .iter()
        .map(|f| f.log_values().contains(&f64::NEG_INFINITY))
        .collect();
    let mut bridges = Vec::new();
    let mut in_block = vec![false; n];
    for (k, f) in fg.factors().iter().enumerate() {
        if !has_zero[k] {
            continue;
        }
        let seed: Vec<u32> = f
            .scope()
            .iter()
            .filter(|v| clamped[v.index()].is_none())
            .map(|v| v.0)
            .collect();
        if !cut_everywhere[k]
            || seed.len() > opts.bridge_max
            || elimination(fg, cards, &var_factors, &seed, opts.max_table).is_none()
        {
            continue;
        }
        let mut block = seed.clone();
        for &v in &block {
            in_block[v as usize] = true;
        }
        let mut queue: std::collections::VecDeque<u32> = seed.into_iter().collect();
        'grow: while let Some(v) = queue.pop_front() {
            for &k2 in &var_factors[v as usize] {
                if !has_zero[k2] {
                    continue;
                }
                for w in fg.factors()[k2].scope() {
                    if block.len() >= opts.bridge_max {
                        break 'grow;
                    }
                    if in_block[w.index()] || clamped[w.index()].is_some() {
                        continue;
                    }
                    block.push(w.0);
                    if elimination(fg, cards, &var_factors, &block, opts.max_table).is_some() {
                        in_block[w.index()] = true;
                        queue.push_back(w.0);
                    } else {
                        block.pop();
                    }
                }
            }
        }
        for &v in &block {
            in_block[v as usize] = false;
        }
        bridges.push(block);
    }
    blocks.extend(bridges);
    blocks
}

/// Whether variable elimination over `block` (greedy min-weight order) keeps every bucket
/// table within `limit` entries.
pub fn fits(fg: &FactorGraph, block: &[u32], limit: usize) -> bool {
    elimination(fg, &fg.cards(), &fg.var_factors(), block, limit).is_some()
}

/// One partition: blocks merged along the zero factors in `order` (see the module docs);
/// the members of each block id and the block id of every variable.
pub(crate) fn merge_pass(
    fg: &FactorGraph,
    cards: &[usize],
    clamped: &[Option<usize>],
    var_factors: &[Vec<usize>],
    order: &[usize],
    opts: &BlockOptions,
) -> (Vec<Vec<u32>>, Vec<usize>) {
    let n = cards.len();
    let mut block_of: Vec<usize> = (0..n).collect();
    let mut members: Vec<Vec<u32>> = (0..n as u32).map(|i| vec![i]).collect();
    for &k in order {
        let f = &fg.factors()[k];
        let ids: BTreeSet<usize> = f
            .scope()
            .iter()
            .filter(|v| clamped[v.index()].is_none())
            .map(|v| block_of[v.index()])
            .collect();
        if ids.len() < 2 {
            continue;
        }
        let size: usize = ids.iter().map(|&b| members[b].len()).sum();
        if size > opts.max_block {
            continue;
        }
        let merged: Vec<u32> = ids.iter().flat_map(|&b| members[b].clone()).collect();
        if elimination(fg, cards, var_factors, &merged, opts.max_table).is_none() {
            continue;
        }
        let first = *ids.iter().next().unwrap();
        for &b in ids.iter().skip(1) {
            let m = std::mem::take(&mut members[b]);
            for &v in &m {
                block_of[v as usize] = first;
            }
            members[first].extend(m);
        }
    }
    (members, block_of)
}

/// Greedy min-weight elimination order of `block` on the interaction graph of all factors
/// restricted to the block ([`crate::factor::elim::min_weight_order`], ties by position in the
/// block), and its largest bucket table; `None` if a bucket would exceed `limit` entries.
pub(crate) fn elimination(
    fg: &FactorGraph,
    cards: &[usize],
    var_factors: &[Vec<usize>],
    block: &[u32],
    limit: usize,
) -> Option<(Vec<u32>, usize)> {
    let local: std::collections::HashMap<u32, u32> = block
        .iter()
        .enumerate()
        .map(|(i, &v)| (v, i as u32))
        .collect();
    let scopes: Vec<Vec<u32>> = block
        .iter()
        .flat_map(|&v| &var_factors[v as usize])
        .map(|&k| {
            fg.factors()[k]
                .scope()
                .iter()
                .filter_map(|w| local.get(&w.0).copied())
                .collect()
        })
        .collect();
    let g = InteractionGraph::from_cliques(
        block.iter().map(|&v| cards[v as usize] as f64).collect(),
        scopes.iter().map(Vec::as_slice),
    );
    let all: Vec<u32> = (0..block.len() as u32).collect();
    let e = min_weight_order(&g, &all, limit as f64).ok()?;
    let order = e.order.iter().map(|&i| block[i as usize]).collect();
    Some((order, e.max_entries as usize))
}

/// Bucket plan of a block eliminated in `order`.
pub(crate) fn build_plan(
    fg: &FactorGraph,
    cards: &[usize],
    var_factors: &[Vec<usize>],
    fac_off: &[usize],
    order: &[u32],
) -> BlockPlan {
    let m = order.len();
    let pos: std::collections::HashMap<u32, usize> =
        order.iter().enumerate().map(|(i, &v)| (v, i)).collect();
    // factors touching the block, each assigned to its earliest-eliminated block variable
    let mut assigned: Vec<Vec<usize>> = vec![Vec::new(); m];
    let mut seen = BTreeSet::new();
    for &v in order {
        for &k in &var_factors[v as usize] {
            if seen.insert(k) {
                let first = fg.factors()[k]
                    .scope()
                    .iter()
                    .filter_map(|w| pos.get(&w.0).copied())
                    .min()
                    .unwrap();
                assigned[first].push(k);
            }
        }
    }
    // symbolic elimination: scopes (as elimination positions)
    let mut incoming: Vec<Vec<(usize, Vec<usize>)>> = vec![Vec::new(); m]; // (from bucket, sep)
    let mut seps: Vec<Vec<usize>> = Vec::with_capacity(m);
    for i in 0..m {
        let mut sc: BTreeSet<usize> = BTreeSet::new();
        for &k in &assigned[i] {
            for w in fg.factors()[k].scope() {
                if let Some(&p) = pos.get(&w.0) {
                    sc.insert(p);
                }
            }
        }
        for (_, sep) in &incoming[i] {
            sc.extend(sep.iter().copied());
        }
        sc.remove(&i);
        let sep: Vec<usize> = sc.into_iter().collect();
        debug_assert!(sep.iter().all(|&p| p > i));
        if let Some(&to) = sep.first() {
            incoming[to].push((i, sep.clone()));
        }
        seps.push(sep);
    }
    // layout: tables and messages in one buffer, each bucket's message before any later table
    let mut off = 0;
    let mut buckets: Vec<Bucket> = Vec::with_capacity(m);
    let mut msg_offs = vec![0usize; m];
    for i in 0..m {
        let var = order[i];
        let card = cards[var as usize];
        let sep_vars: Vec<u32> = seps[i].iter().map(|&p| order[p]).collect();
        let mut dcards: Vec<usize> = sep_vars.iter().map(|&v| cards[v as usize]).collect();
        dcards.push(card);
        let size: usize = dcards.iter().product();
        let nsep = size / card;
        let mut sep_strides = vec![0usize; sep_vars.len()];
        let mut st = 1;
        for j in (0..sep_vars.len()).rev() {
            sep_strides[j] = st;
            st *= dcards[j];
        }
        // digit index of each elimination position in this bucket
        let digit_of = |p: usize| -> Option<usize> {
            if p == i {
                Some(sep_vars.len())
            } else {
                seps[i].iter().position(|&q| q == p)
            }
        };
        let facs = assigned[i]
            .iter()
            .map(|&k| {
                let f = &fg.factors()[k];
                let fc = f.cards();
                let mut fstr = vec![0usize; fc.len()];
                let mut st = 1;
                for j in (0..fc.len()).rev() {
                    fstr[j] = st;
                    st *= fc[j];
                }
                let mut strides = vec![0usize; dcards.len()];
                let mut outside = Vec::new();
                for (j, w) in f.scope().iter().enumerate() {
                    match pos.get(&w.0) {
                        Some(&p) => {
                            let d = digit_of(p).expect("factor scope inside the bucket");
                            strides[d] += fstr[j];
                        }
                        None => outside.push((w.0, fstr[j])),
                    }
                }
                let idx = gather(&strides, &dcards);
                FacUse {
                    off: fac_off[k],
                    outside,
                    idx,
                }
            })
            .collect();
        let msgs = incoming[i]
            .iter()
            .map(|(from, sep)| {
                // strides of the message over its own sep (row-major)
                let mc: Vec<usize> = sep.iter().map(|&p| cards[order[p] as usize]).collect();
                let mut strides = vec![0usize; dcards.len()];
                let mut st = 1;
                for j in (0..sep.len()).rev() {
                    let d = digit_of(sep[j]).expect("message scope inside the bucket");
                    strides[d] += st;
                    st *= mc[j];
                }
                let idx = gather(&strides, &dcards);
                MsgUse {
                    off: msg_offs[*from],
                    idx,
                }
            })
            .collect();
        msg_offs[i] = off;
        let msg_off = off;
        off += if sep_vars.is_empty() { 0 } else { nsep };
        let table_off = off;
        off += size;
        buckets.push(Bucket {
            var,
            card,
            sep: sep_vars,
            cards: dcards,
            sep_strides,
            size,
            table_off,
            msg_off,
            facs,
            msgs,
        });
    }
    debug_assert!(buckets.iter().all(|b| b.cards.len() <= MAX_DIGITS));
    BlockPlan {
        buckets,
        scratch: off,
    }
}
