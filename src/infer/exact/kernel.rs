//! The one table kernel of the exact engine: walk every entry of a "joint" table, multiply the
//! matching entries of several input tables, and write the product and/or add it into an output
//! table over a subset of the variables.
//!
//! Values are linear-space (not logs) here: each table carries its own log scale elsewhere and is
//! kept normalised to a maximum of 1, so products stay in range. The walk is split into an outer
//! odometer and an inner block of up to [`INNER`] entries whose per-input offsets are precomputed,
//! so the hot loop is one gather and one multiply per input and entry. Work is cut into a fixed
//! number of chunks (independent of the number of threads) so the floating-point result is the
//! same whatever `RAYON_NUM_THREADS` is.

use rayon::prelude::*;

use crate::factor::index::unflatten;

const INNER: usize = 4096;
const PAR_MIN: usize = 1 << 15;

/// A table read by the kernel: values plus, for each joint dimension, its stride in this table
/// (0 when the table does not depend on that dimension).
pub(crate) struct Input<'a> {
    pub vals: &'a [f64],
    pub map: Vec<usize>,
}

/// How the kernel folds products into its accumulator.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fold {
    /// Add (sum-product).
    Sum,
    /// Keep the largest (max-product; the accumulator starts at 0).
    Max,
}

/// Run the kernel. `write`, if given, receives the product at every joint entry (its length is the
/// joint size). `acc`, if given, is `(out, map)`: the product is added into `out` at the index
/// given by `map`.
pub(crate) fn run(
    cards: &[usize],
    inputs: &[Input<'_>],
    write: Option<&mut [f64]>,
    acc: Option<(&mut [f64], &[usize])>,
) {
    run_fold(cards, inputs, write, acc, Fold::Sum)
}

/// [`run`] with the accumulator folded by `fold` (max-product for [`Fold::Max`]).
pub(crate) fn run_fold(
    cards: &[usize],
    inputs: &[Input<'_>],
    write: Option<&mut [f64]>,
    acc: Option<(&mut [f64], &[usize])>,
    fold: Fold,
) {
    let d = cards.len();
    let total: usize = cards.iter().product();
    if total == 0 {
        return;
    }
    // inner block: trailing dims whose product <= INNER
    let mut m = 0;
    let mut block = 1usize;
    while m < d && block * cards[d - 1 - m] <= INNER {
        block *= cards[d - 1 - m];
        m += 1;
    }
    if m == 0 && d > 0 {
        // a single huge last dimension: treat it whole as the block
        m = 1;
        block = cards[d - 1];
    }
    let outer_cards = &cards[..d - m];
    let n_outer = total / block;
    // per-input offsets of every inner-block entry, built dimension by dimension (each new
    // dimension becomes the fastest), O(block) per input
    let offsets = |map: &[usize]| -> Vec<usize> {
        let mut off = Vec::with_capacity(block);
        off.push(0usize);
        for k in d - m..d {
            let (card, stride) = (cards[k], map[k]);
            let prev = std::mem::replace(&mut off, Vec::with_capacity(block));
            for &o in &prev {
                for s in 0..card {
                    off.push(o + s * stride);
                }
            }
        }
        off
    };
    let in_off: Vec<Vec<usize>> = inputs.iter().map(|i| offsets(&i.map)).collect();
    let acc_off = acc.as_ref().map(|(_, map)| offsets(map));
    let amap_outer: Option<&[usize]> = acc.as_ref().map(|(_, m)| *m);
    let (acc_out, _) = match acc {
        Some((o, m)) => (Some(o), Some(m)),
        None => (None, None),
    };

    let n_chunks = if total < PAR_MIN {
        1
    } else {
        n_outer.clamp(1, 8)
    };
    let per = n_outer.div_ceil(n_chunks);

    // `aout` may be a window of the output starting at absolute index `a_origin`
    let do_chunk =
        |c: usize, wout: Option<&mut [f64]>, aout: Option<&mut [f64]>, a_origin: usize| {
            let o0 = c * per;
            let o1 = ((c + 1) * per).min(n_outer);
            if o0 >= o1 {
                return;
            }
            let mut counter = vec![0usize; outer_cards.len()];
            unflatten(outer_cards, o0, &mut counter);
            let base_of = |map: &[usize], counter: &[usize]| -> usize {
                counter.iter().zip(map).map(|(s, k)| s * k).sum()
            };
            let mut bases: Vec<usize> = inputs.iter().map(|i| base_of(&i.map, &counter)).collect();
            let amap = amap_outer;
            let mut abase = amap.map_or(0, |mp| base_of(mp, &counter)) - a_origin;
            let mut tmp = vec![0.0f64; block];
            let mut wout = wout;
            let mut aout = aout;
            for o in o0..o1 {
                // product of inputs into tmp
                if inputs.is_empty() {
                    tmp.iter_mut().for_each(|t| *t = 1.0);
                } else {
                    let (v0, off0, b0) = (inputs[0].vals, &in_off[0], bases[0]);
                    for (t, &of) in tmp.iter_mut().zip(off0) {
                        *t = v0[b0 + of];
                    }
                    for j in 1..inputs.len() {
                        let (vj, offj, bj) = (inputs[j].vals, &in_off[j], bases[j]);
                        for (t, &of) in tmp.iter_mut().zip(offj) {
                            *t *= vj[bj + of];
                        }
                    }
                }
                if let Some(w) = wout.as_deref_mut() {
                    let s = (o - o0) * block;
                    w[s..s + block].copy_from_slice(&tmp);
                }
                if let (Some(a), Some(aoff)) = (aout.as_deref_mut(), acc_off.as_ref()) {
                    if fold == Fold::Sum {
                        for (t, &of) in tmp.iter().zip(aoff) {
                            a[abase + of] += *t;
                        }
                    } else {
                        for (t, &of) in tmp.iter().zip(aoff) {
                            let x = &mut a[abase + of];
                            *x = x.max(*t);
                        }
                    }
                }
                // advance outer odometer
                let mut k = outer_cards.len();
                while k > 0 {
                    k -= 1;
                    counter[k] += 1;
                    for (j, inp) in inputs.iter().enumerate() {
                        bases[j] += inp.map[k];
                    }
                    if let Some(mp) = amap {
                        abase += mp[k];
                    }
                    if counter[k] < outer_cards[k] {
                        break;
                    }
                    for (j, inp) in inputs.iter().enumerate() {
                        bases[j] -= inp.map[k] * outer_cards[k];
                    }
                    if let Some(mp) = amap {
                        abase -= mp[k] * outer_cards[k];
                    }
                    counter[k] = 0;
                }
            }
        };

    if n_chunks == 1 {
        do_chunk(0, write, acc_out, 0);
        return;
    }
    let acc_len = acc_out.as_ref().map_or(0, |o| o.len());
    // Fast path: each outer index owns a contiguous, disjoint slice of the output (true when the
    // output's variables are laid out first and cover every outer dimension, as for a separator
    // that is the prefix of a clique), so chunks write straight into their own slices.
    if let (Some(amap), Some(aoff)) = (amap_outer, acc_off.as_ref()) {
        if acc_len % n_outer == 0 {
            let span = acc_len / n_outer;
            let mut expect = span;
            let mut ok = aoff.iter().all(|&x| x < span);
            for k in (0..outer_cards.len()).rev() {
                if !ok || amap[k] != expect {
                    ok = false;
                    break;
                }
                expect *= outer_cards[k];
            }
            if ok {
                let out = acc_out.expect("accumulator present");
                let achunks: Vec<&mut [f64]> = out.chunks_mut(per * span).collect();
                match write {
                    Some(w) => {
                        let wchunks: Vec<&mut [f64]> = w.chunks_mut(per * block).collect();
                        wchunks.into_par_iter().zip(achunks).enumerate().for_each(
                            |(c, (wc, ac))| do_chunk(c, Some(wc), Some(ac), c * per * span),
                        );
                    }
                    None => achunks
                        .into_par_iter()
                        .enumerate()
                        .for_each(|(c, ac)| do_chunk(c, None, Some(ac), c * per * span)),
                }
                return;
            }
        }
    }
    // General accumulation: per-chunk partial sums, reduced in a fixed order. Large outputs are
    // accumulated in one sequential pass instead, since per-chunk copies of them would cost more
    // (allocation, zeroing, page faults) than the parallelism saves.
    if acc_len > (1 << 16) {
        do_chunk_all(write, acc_out, n_chunks, per, block, &do_chunk);
        return;
    }
    let mut partial: Vec<Vec<f64>> = if acc_out.is_some() {
        (0..n_chunks).map(|_| vec![0.0; acc_len]).collect()
    } else {
        Vec::new()
    };
    match write {
        Some(w) => {
            let wchunks: Vec<&mut [f64]> = w.chunks_mut(per * block).collect();
            if acc_out.is_some() {
                wchunks
                    .into_par_iter()
                    .zip(partial.par_iter_mut())
                    .enumerate()
                    .for_each(|(c, (wc, pc))| do_chunk(c, Some(wc), Some(pc), 0));
            } else {
                wchunks
                    .into_par_iter()
                    .enumerate()
                    .for_each(|(c, wc)| do_chunk(c, Some(wc), None, 0));
            }
        }
        None => {
            partial
                .par_iter_mut()
                .enumerate()
                .for_each(|(c, pc)| do_chunk(c, None, Some(pc), 0));
        }
    }
    if let Some(out) = acc_out {
        // fixed-order reduction: deterministic for any thread count
        let f = |o: &mut f64, x: &f64| match fold {
            Fold::Sum => *o += *x,
            Fold::Max => *o = o.max(*x),
        };
        for p in &partial {
            if out.len() >= PAR_MIN {
                out.par_iter_mut()
                    .zip(p.par_iter())
                    .for_each(|(o, x)| f(o, x));
            } else {
                out.iter_mut().zip(p).for_each(|(o, x)| f(o, x));
            }
        }
    }
}

/// A chunk worker: (chunk index, write window, accumulator window, accumulator origin).
type ChunkFn<'a> = dyn Fn(usize, Option<&mut [f64]>, Option<&mut [f64]>, usize) + Sync + 'a;

/// Run every chunk in order on one thread (writes still go to their own slices).
fn do_chunk_all(
    write: Option<&mut [f64]>,
    acc: Option<&mut [f64]>,
    n_chunks: usize,
    per: usize,
    block: usize,
    f: &ChunkFn<'_>,
) {
    let mut acc = acc;
    match write {
        Some(w) => {
            for (c, wc) in w.chunks_mut(per * block).enumerate().take(n_chunks) {
                f(c, Some(wc), acc.as_deref_mut(), 0);
            }
        }
        None => {
            for c in 0..n_chunks {
                f(c, None, acc.as_deref_mut(), 0);
            }
        }
    }
}

/// Scale `vals` so that the maximum is 1; returns ln(max) (or `-inf` if all zero, leaving zeros).
pub(crate) fn normalize_max(vals: &mut [f64]) -> f64 {
    let mx = if vals.len() >= PAR_MIN {
        vals.par_iter().copied().reduce(|| 0.0, f64::max)
    } else {
        vals.iter().copied().fold(0.0, f64::max)
    };
    if mx <= 0.0 || !mx.is_finite() {
        return if mx == 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::NAN
        };
    }
    if mx != 1.0 {
        let inv = 1.0 / mx;
        if vals.len() >= PAR_MIN {
            vals.par_iter_mut().for_each(|v| *v *= inv);
        } else {
            vals.iter_mut().for_each(|v| *v *= inv);
        }
    }
    crate::num::ln(mx)
}
