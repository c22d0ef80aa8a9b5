//! Blocked Gibbs: every block of variables is drawn *exactly* from its tempered conditional.
//!
//! Single-site Gibbs is reducible on models with deterministic structure: when a zero entry of
//! a factor ties several variables (an OR gate, a Mendelian inheritance table, a hard clause),
//! moving one of them needs the others to move at the same time. [`BlockGibbs`] partitions the
//! free variables into blocks, grown by merging the variables of the factors that contain zeros
//! (in factor order) while the block's conditional stays cheap to sample: the merge is kept only
//! if variable elimination over the block (greedy min-weight order on the block's interaction
//! graph, every factor that touches the block counted) has no bucket table larger than
//! [`BlockOptions::max_table`] entries and the block has at most [`BlockOptions::max_block`]
//! variables. Free variables in no zero factor are blocks of one.
//!
//! A block update conditions every factor touching the block on the variables outside it,
//! eliminates the block's variables in the planned order (log-space bucket elimination: each
//! bucket table is the sum of its reduced factors times beta, its incoming messages and, for a
//! non-uniform base, `(1 - beta)` times the base term of its variable), and then draws the
//! variables backwards, each from its bucket given the variables drawn after it. That is an
//! exact draw from `p_beta(x_B | x_rest)`, so the update leaves `p_beta` invariant; a sweep
//! visits the blocks in order (systematic scan) or, for the reversible kernel that reverse AIS
//! needs, draws as many blocks uniformly at random.
//!
//! The plan (blocks, orders, strides) depends on the factor scopes only, so a kernel for a
//! model with other factor values (the softened models of AIS) shares it ([`BlockGibbs::with_values`]).
//! A block update allocates nothing: the bucket tables live in a per-thread scratch buffer that
//! is fully overwritten before it is read (results do not depend on the thread).

mod partition;

use std::cell::RefCell;
use std::sync::Arc;

use rand::Rng;

use crate::error::{Error, Result};
use crate::model::FactorGraph;
use crate::num;
use crate::sample::{SweepStats, TemperedBase, Tempering, Transition};
use crate::var::Evidence;
pub use partition::*;

/// Options of [`BlockGibbs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockOptions {
    /// Largest bucket table (entries) a block's elimination may create (default 64).
    pub max_table: usize,
    /// Most variables in one block (default 512).
    pub max_block: usize,
    /// Most variables of a bridge block: after the partition, every factor with zeros whose
    /// variables lie in different blocks seeds one more block, grown breadth-first along the
    /// factors with zeros (within the table limit); 0 or 1 = no bridges (default 32).
    pub bridge_max: usize,
    /// Partitions (covers) of the free variables, all visited by a sweep: each further cover
    /// merges first the factors with zeros that every earlier cover cut between blocks, so
    /// that a boundary of one cover lies inside a block of another (default 3).
    pub covers: usize,
    /// Random scan over blocks (a reversible kernel) instead of the systematic block order.
    pub random_scan: bool,
}

impl Default for BlockOptions {
    fn default() -> Self {
        BlockOptions {
            max_table: 64,
            max_block: 512,
            bridge_max: 32,
            covers: 3,
            random_scan: false,
        }
    }
}

/// Most digits (variables) of one bucket table (bounded by `max_table`, since every free
/// variable has at least two states).
const MAX_DIGITS: usize = 24;

/// A factor's share of one bucket.
#[derive(Debug, Clone)]
struct FacUse {
    /// Offset of the factor's values in the flat value array.
    off: usize,
    /// Variables of the factor outside the block, with their strides in the factor table.
    outside: Vec<(u32, usize)>,
    /// Offset (from `off` plus the outside part) of each bucket table entry.
    idx: Vec<u32>,
}

/// A message from an earlier bucket.
#[derive(Debug, Clone)]
struct MsgUse {
    /// Offset of the message in the scratch buffer.
    off: usize,
    /// Offset (from `off`) of each bucket table entry.
    idx: Vec<u32>,
}

/// One variable's bucket: table over `sep` (slow digits, in order) then `var` (fastest).
#[derive(Debug, Clone)]
struct Bucket {
    var: u32,
    card: usize,
    sep: Vec<u32>,
    /// Cards of the digits: sep then var.
    cards: Vec<usize>,
    /// Strides of the sep digits in the bucket's message (row-major over `sep`).
    sep_strides: Vec<usize>,
    size: usize,
    table_off: usize,
    /// Offset of this bucket's message (over `sep`; unused when `sep` is empty).
    msg_off: usize,
    facs: Vec<FacUse>,
    msgs: Vec<MsgUse>,
}

#[derive(Debug, Clone)]
pub(crate) struct BlockPlan {
    /// Buckets in elimination order.
    buckets: Vec<Bucket>,
    scratch: usize,
}

/// The structure shared by kernels of models with the same scopes.
#[derive(Debug)]
struct Plan {
    n: usize,
    cards: Vec<usize>,
    clamped: Vec<Option<usize>>,
    fac_len: Vec<usize>,
    blocks: Vec<BlockPlan>,
    free: usize,
}

/// Blocked Gibbs kernel (see the module docs).
#[derive(Debug, Clone)]
pub struct BlockGibbs {
    plan: Arc<Plan>,
    vals: Arc<Vec<f64>>,
    random_scan: bool,
}

/// Smallest largest entry of a linear bucket table; below it the block is redone in log space.
const LINEAR_FLOOR: f64 = 1e-250;

/// The arithmetic of a bucket pass: products of the linear tables ([`Linear`]) or sums of their
/// logs ([`Log`]); messages are kept in the same form as the tables.
trait Arith {
    /// Sums of logs (else linear products).
    const LOG: bool;
    /// The neutral table entry.
    const ONE: f64;
    /// A linear table value in this form.
    fn lift(v: f64) -> f64;
    /// The product of two values in this form.
    fn combine(a: f64, b: f64) -> f64;
}

struct Linear;
struct Log;

impl Arith for Linear {
    const LOG: bool = false;
    const ONE: f64 = 1.0;
    #[inline(always)]
    fn lift(v: f64) -> f64 {
        v
    }
    #[inline(always)]
    fn combine(a: f64, b: f64) -> f64 {
        a * b
    }
}

impl Arith for Log {
    const LOG: bool = true;
    const ONE: f64 = 0.0;
    #[inline(always)]
    fn lift(v: f64) -> f64 {
        num::ln(v)
    }
    #[inline(always)]
    fn combine(a: f64, b: f64) -> f64 {
        a + b
    }
}

/// Blocked Gibbs prepared at one temperature ([`Transition::prepare`]): every factor's tempered
/// table in linear form, and the factorised base raised to `1 - beta`; shared by all the chains
/// or particles at that temperature.
#[derive(Debug, Clone)]
pub struct BlockPrepared {
    pv: Vec<f64>,
    pb: Option<Vec<Vec<f64>>>,
}

thread_local! {
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

impl BlockGibbs {
    /// Plan the blocks of `fg` under `ev` and precompute the kernel.
    ///
    /// Errors: evidence naming a state out of range or for more variables than the model has;
    /// `max_table < 2` or `max_block == 0`.
    pub fn new(fg: &FactorGraph, ev: &Evidence, opts: &BlockOptions) -> Result<BlockGibbs> {
        Self::with_extra_blocks(fg, ev, opts, &[])
    }

    /// As [`BlockGibbs::new`], plus the given blocks (visited after the planned ones, in the
    /// order given). A given block keeps only its free variables; it is dropped when its
    /// elimination would need a bucket table over `max_table * 64` entries.
    pub fn with_extra_blocks(
        fg: &FactorGraph,
        ev: &Evidence,
        opts: &BlockOptions,
        extra: &[Vec<u32>],
    ) -> Result<BlockGibbs> {
        if opts.max_table < 2 || opts.max_block == 0 {
            return Err(Error::InvalidArgument(format!(
                "blocked Gibbs needs max_table >= 2 and max_block >= 1, got {} and {}",
                opts.max_table, opts.max_block
            )));
        }
        let n = fg.num_vars();
        let (cards, clamped) = Self::clamp(fg, ev)?;
        let mut blocks = partition(fg, &cards, &clamped, opts);
        {
            let var_factors = fg.var_factors();
            let limit = opts.max_table.saturating_mul(64).min(1 << 22);
            for b in extra {
                let b: Vec<u32> = b
                    .iter()
                    .copied()
                    .filter(|&v| (v as usize) < n && clamped[v as usize].is_none())
                    .collect();
                if b.len() > 1 && elimination(fg, &cards, &var_factors, &b, limit).is_some() {
                    blocks.push(b);
                }
            }
        }
        Ok(Self::assemble(
            fg,
            cards,
            clamped,
            &blocks,
            opts.random_scan,
        ))
    }

    /// One block of every free variable, so that one sweep is an exact independent draw from
    /// the model under `ev` (forward-filtering backward-sampling by bucket elimination), or
    /// `None` when the elimination (greedy min-weight order) would need a bucket table over
    /// `max_table` entries.
    ///
    /// Errors: as [`BlockGibbs::new`].
    pub fn joint(fg: &FactorGraph, ev: &Evidence, max_table: usize) -> Result<Option<BlockGibbs>> {
        let (cards, clamped) = Self::clamp(fg, ev)?;
        let free: Vec<u32> = (0..fg.num_vars())
            .filter(|&i| clamped[i].is_none())
            .map(|i| i as u32)
            .collect();
        let blocks = if free.is_empty() {
            Vec::new()
        } else {
            let var_factors = fg.var_factors();
            if elimination(fg, &cards, &var_factors, &free, max_table).is_none() {
                return Ok(None);
            }
            vec![free]
        };
        Ok(Some(Self::assemble(fg, cards, clamped, &blocks, false)))
    }

    /// Cardinalities and the clamped state (evidence, and single-state variables) of `ev`.
    fn clamp(fg: &FactorGraph, ev: &Evidence) -> Result<(Vec<usize>, Vec<Option<usize>>)> {
        let n = fg.num_vars();
        ev.check_len(n)?;
        let cards = fg.cards();
        let mut clamped = vec![None; n];
        for (v, s) in ev.iter() {
            if s >= cards[v.index()] {
                return Err(Error::InvalidArgument(format!(
                    "evidence state {s} of variable {} is out of range",
                    fg.vars()[v.index()].name
                )));
            }
            clamped[v.index()] = Some(s);
        }
        for i in 0..n {
            if clamped[i].is_none() && cards[i] == 1 {
                clamped[i] = Some(0);
            }
        }
        Ok((cards, clamped))
    }

    /// The kernel over the given blocks (each eliminated in its greedy min-weight order).
    fn assemble(
        fg: &FactorGraph,
        cards: Vec<usize>,
        clamped: Vec<Option<usize>>,
        blocks: &[Vec<u32>],
        random_scan: bool,
    ) -> BlockGibbs {
        let n = fg.num_vars();
        let mut fac_off = Vec::with_capacity(fg.factors().len());
        let mut fac_len = Vec::with_capacity(fg.factors().len());
        let mut off = 0;
        for f in fg.factors() {
            fac_off.push(off);
            fac_len.push(f.len());
            off += f.len();
        }
        let var_factors = fg.var_factors();
        let plans: Vec<BlockPlan> = blocks
            .iter()
            .map(|b| {
                let order = elimination(fg, &cards, &var_factors, b, usize::MAX)
                    .expect("no table limit")
                    .0;
                build_plan(fg, &cards, &var_factors, &fac_off, &order)
            })
            .collect();
        let free = blocks.iter().map(Vec::len).sum();
        let plan = Plan {
            n,
            cards,
            clamped,

            fac_len,
            blocks: plans,
            free,
        };
        let vals = flat_values(fg);
        BlockGibbs {
            plan: Arc::new(plan),
            vals: Arc::new(vals),
            random_scan,
        }
    }

    /// A kernel with the same plan for a model with the same variables and factor scopes but
    /// other values (e.g. softened zeros). Errors if the factor table sizes differ.
    pub fn with_values(&self, fg: &FactorGraph) -> Result<BlockGibbs> {
        let same = fg.num_vars() == self.plan.n
            && fg.factors().len() == self.plan.fac_len.len()
            && fg
                .factors()
                .iter()
                .zip(&self.plan.fac_len)
                .all(|(f, &l)| f.len() == l);
        if !same {
            return Err(Error::InvalidArgument(
                "blocked Gibbs: the model does not have the factor shapes of the plan".into(),
            ));
        }
        Ok(BlockGibbs {
            plan: self.plan.clone(),
            vals: Arc::new(flat_values(fg)),
            random_scan: self.random_scan,
        })
    }

    /// The blocks (model variable indices, in elimination order), in sweep order.
    pub fn blocks(&self) -> Vec<Vec<u32>> {
        self.plan
            .blocks
            .iter()
            .map(|b| b.buckets.iter().map(|k| k.var).collect())
            .collect()
    }

    /// The tempered tables of `temp` in linear form: every factor raised to beta (with a
    /// [`TemperedBase::Factors`] base, `(1 - beta) a_k + beta m_k` in log space) and scaled to a
    /// largest entry of 1 (zeros stay 0), and a factorised base raised to 1 - beta (a kernel
    /// serves many particles at one temperature, so this is done once per temperature instead
    /// of once per update). Panics if beta is outside [0, 1] or a factor base has the wrong
    /// length.
    fn tables(&self, temp: &Tempering<'_>) -> BlockPrepared {
        assert!(
            (0.0..=1.0).contains(&temp.beta),
            "beta must be in [0, 1], got {}",
            temp.beta
        );
        let beta = temp.beta;
        let mut pv = vec![1.0; self.vals.len()];
        if let TemperedBase::Factors(a) = temp.base {
            assert_eq!(a.len(), self.vals.len(), "factor base of the wrong length");
            // mixed values, then each factor scaled to a largest entry of 1
            for ((o, &m), &b) in pv.iter_mut().zip(self.vals.iter()).zip(a.iter()) {
                let hard = (m == f64::NEG_INFINITY && beta > 0.0)
                    || (b == f64::NEG_INFINITY && beta < 1.0);
                *o = if hard {
                    f64::NEG_INFINITY
                } else {
                    let mut l = 0.0;
                    if beta > 0.0 {
                        l += beta * m;
                    }
                    if beta < 1.0 {
                        l += (1.0 - beta) * b;
                    }
                    l
                };
            }
            let mut start = 0;
            for &len in &self.plan.fac_len {
                let f = &mut pv[start..start + len];
                let mx = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                for o in f.iter_mut() {
                    *o = if *o == f64::NEG_INFINITY || mx == f64::NEG_INFINITY {
                        0.0
                    } else {
                        num::exp(*o - mx)
                    };
                }
                start += len;
            }
        } else if beta > 0.0 {
            let mut start = 0;
            for &len in &self.plan.fac_len {
                let f = &self.vals[start..start + len];
                let m = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                for (o, &l) in pv[start..start + len].iter_mut().zip(f) {
                    *o = if l == f64::NEG_INFINITY || m == f64::NEG_INFINITY {
                        0.0
                    } else {
                        num::exp(beta * (l - m))
                    };
                }
                start += len;
            }
        }
        let pb = temp.base.factorised().filter(|_| beta < 1.0).map(|b| {
            b.iter()
                .map(|lp| {
                    let m = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    lp.iter()
                        .map(|&l| num::exp((1.0 - beta) * (l - m)))
                        .collect()
                })
                .collect()
        });
        BlockPrepared { pv, pb }
    }

    /// One sweep with the prepared tables. Panics as [`Transition::sweep`].
    fn sweep_prepared<R: Rng + ?Sized>(
        &self,
        state: &mut [usize],
        tables: &BlockPrepared,
        rng: &mut R,
    ) -> SweepStats {
        self.check(state);
        assert_eq!(tables.pv.len(), self.vals.len(), "tables of another kernel");
        let nb = self.plan.blocks.len();
        let need = self
            .plan
            .blocks
            .iter()
            .map(|b| b.scratch)
            .max()
            .unwrap_or(0);
        SCRATCH.with(|cell| {
            let mut s = cell.borrow_mut();
            if s.len() < need {
                s.resize(need, 0.0);
            }
            let mut accepted = 0;
            for j in 0..nb {
                let bi = if self.random_scan {
                    rng.random_range(0..nb)
                } else {
                    j
                };
                accepted += if self.forward::<Linear>(bi, state, tables, &mut s) {
                    self.backward(bi, state, rng, &s, false)
                } else {
                    self.update_block_log(bi, state, tables, rng, &mut s)
                };
            }
            SweepStats {
                updates: self.plan.free as u64,
                accepted,
            }
        })
    }

    /// Bucket tables and messages of block `bi` in the arithmetic `A` (linear products, or sums
    /// of logs); in linear form false when a table's largest entry is below [`LINEAR_FLOOR`]
    /// (the caller then redoes the block in log space, before any draw, so the choice does not
    /// depend on the draws).
    fn forward<A: Arith>(
        &self,
        bi: usize,
        x: &[usize],
        tables: &BlockPrepared,
        s: &mut [f64],
    ) -> bool {
        let bp = &self.plan.blocks[bi];
        let pv = &tables.pv[..];
        for b in &bp.buckets {
            let t = b.table_off;
            let (head, tail) = s.split_at_mut(t);
            let tab = &mut tail[..b.size];
            match &tables.pb {
                Some(pb) => {
                    let p = &pb[b.var as usize];
                    for (j, v) in tab.iter_mut().enumerate() {
                        *v = A::lift(p[j % b.card]);
                    }
                }
                None => tab.fill(A::ONE),
            }
            for fu in &b.facs {
                let mut off = fu.off;
                for &(v, st) in &fu.outside {
                    off += x[v as usize] * st;
                }
                let f = &pv[off..];
                for (v, &i) in tab.iter_mut().zip(&fu.idx) {
                    *v = A::combine(*v, A::lift(f[i as usize]));
                }
            }
            for mu in &b.msgs {
                let m = &head[mu.off..];
                for (v, &i) in tab.iter_mut().zip(&mu.idx) {
                    *v = A::combine(*v, m[i as usize]);
                }
            }
            if !A::LOG && tab.iter().copied().fold(0.0, f64::max) < LINEAR_FLOOR {
                return false;
            }
            if !b.sep.is_empty() {
                let nsep = b.size / b.card;
                let msg = &mut head[b.msg_off..b.msg_off + nsep];
                if A::LOG {
                    for (k, o) in msg.iter_mut().enumerate() {
                        *o = num::log_sum_exp(&tab[k * b.card..(k + 1) * b.card]);
                    }
                } else {
                    let mut mm = 0.0f64;
                    for (k, o) in msg.iter_mut().enumerate() {
                        *o = tab[k * b.card..(k + 1) * b.card].iter().sum();
                        mm = mm.max(*o);
                    }
                    let inv = 1.0 / mm;
                    msg.iter_mut().for_each(|o| *o *= inv);
                }
            }
        }
        true
    }

    /// Backward draws of block `bi` from its bucket tables (log or linear form); returns the
    /// variables changed.
    fn backward<R: Rng + ?Sized>(
        &self,
        bi: usize,
        x: &mut [usize],
        rng: &mut R,
        s: &[f64],
        log: bool,
    ) -> u64 {
        let bp = &self.plan.blocks[bi];
        let mut changed = 0;
        for b in bp.buckets.iter().rev() {
            let mut k = 0;
            for (&v, &st) in b.sep.iter().zip(&b.sep_strides) {
                k += x[v as usize] * st;
            }
            let row = b.table_off + k * b.card;
            let ls = &s[row..row + b.card];
            let pick = if log {
                let m = ls.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if m == f64::NEG_INFINITY {
                    // only reachable from a state of probability zero: leave the variable alone
                    continue;
                }
                let total: f64 = ls.iter().map(|&l| num::exp(l - m)).sum();
                num::draw_linear(ls.iter().map(|&l| num::exp(l - m)), total, rng)
            } else {
                let total: f64 = ls.iter().sum();
                if total.is_nan() || total <= 0.0 {
                    continue;
                }
                num::draw_linear(ls.iter().copied(), total, rng)
            };
            if x[b.var as usize] != pick {
                x[b.var as usize] = pick;
                changed += 1;
            }
        }
        changed
    }

    /// Exact draw of block `bi` from its tempered conditional in log space (the logs of the
    /// linear tables: a product that would underflow is a sum here); returns the variables
    /// changed.
    fn update_block_log<R: Rng + ?Sized>(
        &self,
        bi: usize,
        x: &mut [usize],
        tables: &BlockPrepared,
        rng: &mut R,
        s: &mut [f64],
    ) -> u64 {
        self.forward::<Log>(bi, x, tables, s);
        self.backward(bi, x, rng, s, true)
    }

    fn check(&self, state: &[usize]) {
        assert_eq!(state.len(), self.plan.n, "state of the wrong length");
        debug_assert!(state.iter().zip(&self.plan.cards).all(|(s, c)| s < c));
        debug_assert!(self
            .plan
            .clamped
            .iter()
            .zip(state)
            .all(|(c, s)| c.is_none_or(|c| c == *s)));
    }
}

/// Offsets `sum_j digit_j(i) * strides[j]` of every row-major index i over `cards`.
fn gather(strides: &[usize], cards: &[usize]) -> Vec<u32> {
    let size: usize = cards.iter().product();
    (0..size)
        .map(|i| {
            let mut r = i;
            let mut o = 0;
            for j in (0..cards.len()).rev() {
                o += (r % cards[j]) * strides[j];
                r /= cards[j];
            }
            o as u32
        })
        .collect()
}

fn flat_values(fg: &FactorGraph) -> Vec<f64> {
    let mut v = Vec::with_capacity(fg.num_parameters());
    for f in fg.factors() {
        v.extend_from_slice(f.log_values());
    }
    v
}

impl Transition for BlockGibbs {
    type Prepared<'t> = BlockPrepared;

    fn num_vars(&self) -> usize {
        self.plan.n
    }

    /// The tempered tables (see [`BlockPrepared`]). Panics if beta is outside [0, 1] or a
    /// [`TemperedBase::Factors`] base has the wrong length.
    fn prepare<'t>(&'t self, temp: &Tempering<'t>) -> BlockPrepared {
        self.tables(temp)
    }

    /// One sweep: every block once in order, or (random scan) as many blocks drawn uniformly.
    /// Panics if the state has the wrong length.
    fn sweep<R: Rng + ?Sized>(
        &self,
        state: &mut [usize],
        prep: &BlockPrepared,
        rng: &mut R,
    ) -> SweepStats {
        self.sweep_prepared(state, prep, rng)
    }
}
