//! Forward (ancestral) sampling of Bayesian networks.
//!
//! [`ForwardSampler`] precomputes, for every variable, the strides of its parents into its CPT
//! and one row of integer thresholds per parent configuration (the cumulative distribution of
//! the child scaled to `2^63`). Drawing a variable is then: the row index from the parents'
//! states (already drawn, in topological order), one 64-bit random number `u`, and the number of
//! thresholds `<= u` (a branch-free count for small cardinalities, a binary search for large
//! ones). Nothing is allocated per row and no floating point is involved.
//!
//! # Streams and value stability
//!
//! Rows are produced in blocks of [`BLOCK_ROWS`]; block `b` is drawn, row after row, with
//! [`chain_rng`]`(seed, b)` through [`ForwardSampler::sample_row`]. So the output for a seed never
//! depends on the number of rayon threads, [`ForwardSampler::sample_codes`] and
//! [`ForwardSampler::write_csv`] give the same rows, and row `i` can be reproduced alone by
//! replaying its block. One draw uses the top 63 bits of one `next_u64()`; variables with a single
//! state consume no random numbers.
//!
//! Each CPT column is divided by its own sum before sampling (the builder accepts columns that
//! sum to 1 within a tolerance), so the sampler draws from the normalised model.
//!
//! ```
//! use pgmkit::sample::ancestral::ForwardSampler;
//! use pgmkit::BayesNetBuilder;
//!
//! let mut b = BayesNetBuilder::new();
//! let rain = b.add_variable("rain", ["no", "yes"]).unwrap();
//! let wet = b.add_variable("wet", ["no", "yes"]).unwrap();
//! b.set_cpd(rain, &[], vec![0.8, 0.2]).unwrap();
//! b.set_cpd(wet, &[rain], vec![0.9, 0.1, 0.2, 0.8]).unwrap();
//! let bn = b.build().unwrap();
//!
//! let sampler = ForwardSampler::new(&bn).unwrap();
//! // In memory: one compact code per variable and row.
//! let s = sampler.sample_codes(10_000, 42).unwrap();
//! let rain_yes = s.counts()[rain.index()][1] as f64 / 10_000.0;
//! assert!((rain_yes - 0.2).abs() < 0.02);
//!
//! // Streamed as CSV (header = variable names, cells = state names).
//! let mut csv = Vec::new();
//! sampler.write_csv(3, 42, &mut csv).unwrap();
//! let text = String::from_utf8(csv).unwrap();
//! assert_eq!(text.lines().next(), Some("rain,wet"));
//! assert_eq!(text.lines().count(), 4);
//! ```

use std::io::Write;

use rand::Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::model::BayesNet;
use crate::num;
use crate::rng::chain_rng;
use crate::var::{Evidence, VarId, Variable};

/// Rows per block: block `b` of the output is drawn with [`chain_rng`]`(seed, b)`.
///
/// Part of the value-stable definition of the sample stream (changing it changes every seeded
/// output).
pub const BLOCK_ROWS: usize = 1024;

/// `2^63`: thresholds live in `[0, 2^63]` and a draw is `next_u64() >> 1` in `[0, 2^63)`.
const ONE: u64 = 1 << 63;

/// Above this many thresholds per row a binary search replaces the linear count.
const LINEAR_MAX: usize = 16;

/// Memory the CSV writer may hold in formatted, not yet written blocks (approximate).
const CSV_BATCH_BYTES: usize = 256 << 20;

/// Marker of a free (not clamped) variable.
const FREE: u32 = u32::MAX;

// ---------------------------------------------------------------------------------------------
// state codes

/// An integer type that stores state indices (`u8`, `u16`, `usize`).
pub(crate) trait Code: Copy + Default + Send + Sync + 'static {
    fn from_usize(s: usize) -> Self;
    fn to_usize(self) -> usize;
}

impl Code for u8 {
    #[inline(always)]
    fn from_usize(s: usize) -> Self {
        s as u8
    }
    #[inline(always)]
    fn to_usize(self) -> usize {
        self as usize
    }
}

impl Code for u16 {
    #[inline(always)]
    fn from_usize(s: usize) -> Self {
        s as u16
    }
    #[inline(always)]
    fn to_usize(self) -> usize {
        self as usize
    }
}

impl Code for usize {
    #[inline(always)]
    fn from_usize(s: usize) -> Self {
        s
    }
    #[inline(always)]
    fn to_usize(self) -> usize {
        self
    }
}

/// The code width needed for a model: 1 (u8), 2 (u16), or an error beyond 65536 states.
pub(crate) fn code_width(cards: &[usize]) -> Result<usize> {
    let max = cards.iter().copied().max().unwrap_or(1);
    if max <= 1 << 8 {
        Ok(1)
    } else if max <= 1 << 16 {
        Ok(2)
    } else {
        Err(Error::InvalidArgument(format!(
            "a variable has {max} states; compact sample codes hold at most 65536"
        )))
    }
}

/// Compact state codes of many rows, row-major (`rows x vars`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Codes {
    /// One byte per cell: used when every variable has at most 256 states.
    U8(Vec<u8>),
    /// Two bytes per cell: used when some variable has 257 to 65536 states.
    U16(Vec<u16>),
}

/// Sampled rows held in memory as compact state codes.
///
/// Row `r`, variable `v` is at `r * num_vars() + v` of [`codes`](Self::codes); the cell is the
/// 0-based state index. Codes are `u8` when every variable has at most 256 states, `u16`
/// otherwise (models with a variable of more than 65536 states cannot be sampled to codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Samples {
    cards: Vec<usize>,
    rows: usize,
    codes: Codes,
}

impl Samples {
    pub(crate) fn new(cards: Vec<usize>, rows: usize, codes: Codes) -> Self {
        debug_assert_eq!(
            match &codes {
                Codes::U8(c) => c.len(),
                Codes::U16(c) => c.len(),
            },
            rows * cards.len()
        );
        Samples { cards, rows, codes }
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// Number of variables (columns), in model order.
    pub fn num_vars(&self) -> usize {
        self.cards.len()
    }

    /// Cardinality of every variable.
    pub fn cards(&self) -> &[usize] {
        &self.cards
    }

    /// The raw codes, row-major.
    pub fn codes(&self) -> &Codes {
        &self.codes
    }

    /// State of variable `var` in row `row`. Panics when out of range.
    #[inline]
    pub fn get(&self, row: usize, var: VarId) -> usize {
        assert!(row < self.rows && var.index() < self.cards.len());
        let i = row * self.cards.len() + var.index();
        match &self.codes {
            Codes::U8(c) => c[i] as usize,
            Codes::U16(c) => c[i] as usize,
        }
    }

    /// Copy row `row` into `out` (one state index per variable). Panics when `row` is out of
    /// range or `out.len() != num_vars()`.
    pub fn row_into(&self, row: usize, out: &mut [usize]) {
        let n = self.cards.len();
        assert!(row < self.rows && out.len() == n);
        match &self.codes {
            Codes::U8(c) => out
                .iter_mut()
                .zip(&c[row * n..(row + 1) * n])
                .for_each(|(o, &x)| *o = x as usize),
            Codes::U16(c) => out
                .iter_mut()
                .zip(&c[row * n..(row + 1) * n])
                .for_each(|(o, &x)| *o = x as usize),
        }
    }

    /// Count of every state of every variable: `counts()[v][s]`.
    pub fn counts(&self) -> Vec<Vec<u64>> {
        fn go<T: Code>(cards: &[usize], codes: &[T]) -> Vec<Vec<u64>> {
            let mut out: Vec<Vec<u64>> = cards.iter().map(|&k| vec![0; k]).collect();
            if cards.is_empty() {
                return out;
            }
            for row in codes.chunks_exact(cards.len()) {
                for (c, &x) in out.iter_mut().zip(row) {
                    c[x.to_usize()] += 1;
                }
            }
            out
        }
        match &self.codes {
            Codes::U8(c) => go(&self.cards, c),
            Codes::U16(c) => go(&self.cards, c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the precomputed plan shared by forward sampling, likelihood weighting and rejection sampling

/// One variable's step of the plan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    /// The variable (index into the row).
    var: u32,
    /// Thresholds per CPT row (cardinality - 1).
    k1: u32,
    /// Range of this node's parents in `pvars` / `pstrides`.
    p0: u32,
    p1: u32,
    /// Offset of row 0 of the thresholds (free) or of the log-likelihoods (clamped).
    off: usize,
    /// Observed state, or [`FREE`].
    clamp: u32,
}

/// Flat sampling tables of a Bayesian network (optionally with clamped evidence variables).
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    nodes: Vec<Node>,
    pvars: Vec<u32>,
    pstrides: Vec<u32>,
    thr: Vec<u64>,
    loglik: Vec<f64>,
    cards: Vec<usize>,
}

impl Plan {
    /// Build the tables; variables observed in `evidence` are clamped and contribute
    /// `ln P(e_v | parents)` to the row's log weight.
    pub(crate) fn new(bn: &BayesNet, evidence: Option<&[Option<usize>]>) -> Result<Self> {
        let vars = bn.vars();
        if vars.is_empty() {
            return Err(Error::InvalidArgument(
                "the network has no variables to sample".into(),
            ));
        }
        let cards: Vec<usize> = vars.iter().map(|v| v.card()).collect();
        if cards.iter().any(|&k| k > u32::MAX as usize) {
            return Err(Error::InvalidArgument(
                "a variable has too many states to sample".into(),
            ));
        }
        let mut plan = Plan {
            nodes: Vec::with_capacity(vars.len()),
            pvars: Vec::new(),
            pstrides: Vec::new(),
            thr: Vec::new(),
            loglik: Vec::new(),
            cards,
        };
        for &v in bn.topological_order() {
            let cpd = bn.cpd(v);
            let k = plan.cards[v.index()];
            let rows = cpd.probs.len() / k;
            if rows > u32::MAX as usize {
                return Err(Error::InvalidArgument(format!(
                    "the CPT of '{}' has too many parent configurations to sample",
                    vars[v.index()].name
                )));
            }
            let p0 = plan.pvars.len();
            let mut stride = rows;
            for p in &cpd.parents {
                stride /= plan.cards[p.index()];
                plan.pvars.push(p.0);
                plan.pstrides.push(stride as u32);
            }
            let clamp = evidence.and_then(|e| e.get(v.index()).copied().flatten());
            let off;
            match clamp {
                Some(e) => {
                    off = plan.loglik.len();
                    for col in cpd.probs.chunks_exact(k) {
                        let total: f64 = col.iter().sum();
                        check_total(total, &vars[v.index()])?;
                        plan.loglik.push(num::ln(col[e] / total));
                    }
                }
                None => {
                    off = plan.thr.len();
                    for col in cpd.probs.chunks_exact(k) {
                        let total: f64 = col.iter().sum();
                        check_total(total, &vars[v.index()])?;
                        push_thresholds(col, total, &mut plan.thr);
                    }
                }
            }
            plan.nodes.push(Node {
                var: v.0,
                k1: (k - 1) as u32,
                p0: p0 as u32,
                p1: plan.pvars.len() as u32,
                off,
                clamp: clamp.map_or(FREE, |e| e as u32),
            });
        }
        Ok(plan)
    }

    pub(crate) fn cards(&self) -> &[usize] {
        &self.cards
    }

    pub(crate) fn num_vars(&self) -> usize {
        self.cards.len()
    }

    /// Draw one row into `row` (indexed by variable); returns the log weight (the sum of
    /// `ln P(e_v | parents)` over clamped variables; 0 when `WEIGHTED` is false or nothing is
    /// clamped). `WEIGHTED = false` ignores clamps (pure forward sampling).
    #[inline]
    pub(crate) fn fill<const WEIGHTED: bool, R: Rng + ?Sized, T: Code>(
        &self,
        rng: &mut R,
        row: &mut [T],
    ) -> f64 {
        assert_eq!(
            row.len(),
            self.cards.len(),
            "row length != number of variables"
        );
        let mut lw = 0.0;
        let pvars = &self.pvars[..];
        let pstrides = &self.pstrides[..];
        for node in &self.nodes {
            let (p0, p1) = (node.p0 as usize, node.p1 as usize);
            let mut r = 0usize;
            for (&pv, &ps) in pvars[p0..p1].iter().zip(&pstrides[p0..p1]) {
                r += row[pv as usize].to_usize() * ps as usize;
            }
            let s = if WEIGHTED && node.clamp != FREE {
                lw += self.loglik[node.off + r];
                node.clamp as usize
            } else {
                let k1 = node.k1 as usize;
                match k1 {
                    0 => 0,
                    1 => {
                        let u = rng.next_u64() >> 1;
                        (u >= self.thr[node.off + r]) as usize
                    }
                    _ => {
                        let u = rng.next_u64() >> 1;
                        let start = node.off + r * k1;
                        let t = &self.thr[start..start + k1];
                        if k1 <= LINEAR_MAX {
                            t.iter().map(|&x| (u >= x) as usize).sum()
                        } else {
                            t.partition_point(|&x| x <= u)
                        }
                    }
                }
            };
            row[node.var as usize] = T::from_usize(s);
        }
        lw
    }
}

fn check_total(total: f64, var: &Variable) -> Result<()> {
    if total.is_finite() && total > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidModel(format!(
            "a CPT column of '{}' sums to {total}; it cannot be sampled",
            var.name
        )))
    }
}

/// Append the `k - 1` thresholds of one CPT column: `t_j = 2^63 * P(X <= j)`, with
/// `t_j = 2^63` (never reached by a draw) from the last state of positive probability on.
/// A state of probability zero gets `t_j = t_{j-1}` exactly, so it is never drawn.
fn push_thresholds(col: &[f64], total: f64, out: &mut Vec<u64>) {
    let k = col.len();
    let last = col.iter().rposition(|&p| p > 0.0).unwrap_or(k - 1);
    let mut c = 0.0f64;
    for (j, &p) in col[..k - 1].iter().enumerate() {
        c += p;
        let t = if j >= last {
            ONE
        } else {
            // f64 -> u64 conversion saturates; clamp to 2^63 for safety.
            (((c / total) * ONE as f64) as u64).min(ONE)
        };
        out.push(t);
    }
}

/// Check evidence against a network: known variables, states in range.
pub(crate) fn check_evidence(bn: &BayesNet, ev: &Evidence) -> Result<Vec<Option<usize>>> {
    ev.check(bn.vars())?;
    let mut out = vec![None; bn.num_vars()];
    for (v, s) in ev.iter() {
        out[v.index()] = Some(s);
    }
    Ok(out)
}

/// Number of blocks for `n` rows.
#[inline]
pub(crate) fn num_blocks(n: usize) -> usize {
    n.div_ceil(BLOCK_ROWS)
}

/// Rows in block `b` of `n` rows.
#[inline]
pub(crate) fn block_len(n: usize, b: usize) -> usize {
    BLOCK_ROWS.min(n - b * BLOCK_ROWS)
}

pub(crate) fn check_n(n: usize) -> Result<()> {
    if n == 0 {
        Err(Error::InvalidArgument(
            "the number of samples must be at least 1 (got 0)".into(),
        ))
    } else {
        Ok(())
    }
}

/// `n * nv` cells, or an error when that overflows.
pub(crate) fn num_cells(n: usize, nv: usize) -> Result<usize> {
    n.checked_mul(nv).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{n} rows of {nv} variables do not fit in memory; stream them with write_csv"
        ))
    })
}

fn csv_err(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => Error::io("<output>", e),
        other => Error::io("<output>", std::io::Error::other(format!("{other:?}"))),
    }
}

/// A CSV writer over an in-memory buffer (no header; the caller writes it once).
pub(crate) fn block_writer(capacity: usize) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(capacity))
}

/// Finish a block writer and return its bytes.
pub(crate) fn finish_block(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>> {
    w.into_inner()
        .map_err(|e| Error::io("<output>", e.into_error()))
}

/// Write one CSV record of cells.
pub(crate) fn write_record<'a>(
    w: &mut csv::Writer<Vec<u8>>,
    cells: impl IntoIterator<Item = &'a [u8]>,
) -> Result<()> {
    w.write_record(cells).map_err(csv_err)
}

/// Stream `n` rows as CSV: the header, then blocks formatted in parallel (bounded batches of
/// blocks, about [`CSV_BATCH_BYTES`] at most) and written in block order, so the bytes never
/// depend on the number of threads. `block(b, rows)` returns the formatted bytes of block `b`.
pub(crate) fn stream_csv<W: Write>(
    n: usize,
    header: &[&str],
    row_bytes: usize,
    mut w: W,
    block: impl Fn(usize, usize) -> Result<Vec<u8>> + Sync,
) -> Result<()> {
    check_n(n)?;
    let mut hw = block_writer(256);
    write_record(&mut hw, header.iter().map(|h| h.as_bytes()))?;
    let head = finish_block(hw)?;
    w.write_all(&head).map_err(|e| Error::io("<output>", e))?;
    let nblocks = num_blocks(n);
    let block_bytes = BLOCK_ROWS.saturating_mul(row_bytes.max(1));
    let batch = (2 * rayon::current_num_threads())
        .min(CSV_BATCH_BYTES / block_bytes)
        .max(1);
    let mut b0 = 0;
    while b0 < nblocks {
        let b1 = (b0 + batch).min(nblocks);
        let bufs: Vec<Result<Vec<u8>>> = (b0..b1)
            .into_par_iter()
            .map(|b| block(b, block_len(n, b)))
            .collect();
        for buf in bufs {
            w.write_all(&buf?).map_err(|e| Error::io("<output>", e))?;
        }
        b0 = b1;
    }
    w.flush().map_err(|e| Error::io("<output>", e))
}

/// Bytes of a CSV row estimated from the longest state name of every variable.
pub(crate) fn row_bytes(vars: &[Variable]) -> usize {
    vars.iter()
        .map(|v| v.states.iter().map(|s| s.len()).max().unwrap_or(0) + 1)
        .sum()
}

// ---------------------------------------------------------------------------------------------
// the public forward sampler

/// Forward (ancestral) sampler of a [`BayesNet`]: precomputed tables, shared read-only by all
/// threads (`Send + Sync`).
///
/// See the [module documentation](self) for the stream definition.
#[derive(Debug, Clone)]
pub struct ForwardSampler {
    plan: Plan,
    vars: Vec<Variable>,
}

impl ForwardSampler {
    /// Precompute the sampling tables of `bn`.
    ///
    /// Errors: [`Error::InvalidArgument`] for a network without variables;
    /// [`Error::InvalidModel`] for a CPT column that does not sum to a positive number.
    pub fn new(bn: &BayesNet) -> Result<Self> {
        Ok(ForwardSampler {
            plan: Plan::new(bn, None)?,
            vars: bn.vars().to_vec(),
        })
    }

    /// Number of variables (the length of a row).
    pub fn num_vars(&self) -> usize {
        self.plan.num_vars()
    }

    /// The variables, in model order (the columns of every row).
    pub fn vars(&self) -> &[Variable] {
        &self.vars
    }

    /// Draw one full sample into `out` (one state index per variable, model order) using `rng`.
    ///
    /// Panics if `out.len() != num_vars()`.
    ///
    /// ```
    /// # use pgmkit::BayesNetBuilder;
    /// # use pgmkit::sample::ancestral::ForwardSampler;
    /// # let mut b = BayesNetBuilder::new();
    /// # let a = b.add_variable("a", ["x", "y"]).unwrap();
    /// # b.set_cpd(a, &[], vec![0.5, 0.5]).unwrap();
    /// # let bn = b.build().unwrap();
    /// let sampler = ForwardSampler::new(&bn).unwrap();
    /// let mut rng = pgmkit::rng::chain_rng(7, 0);
    /// let mut row = vec![0; sampler.num_vars()];
    /// sampler.sample_row(&mut rng, &mut row);
    /// // Row 0 of sample_codes(_, 7) is the same draw.
    /// assert_eq!(sampler.sample_codes(1, 7).unwrap().get(0, a), row[0]);
    /// ```
    #[inline]
    pub fn sample_row<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [usize]) {
        self.plan.fill::<false, R, usize>(rng, out);
    }

    /// Draw `n` rows in memory as compact codes (see [`Samples`]), in parallel over blocks of
    /// [`BLOCK_ROWS`] rows; identical for any number of threads.
    ///
    /// Errors: [`Error::InvalidArgument`] when `n == 0`, when `n * num_vars()` overflows, or when
    /// a variable has more than 65536 states.
    pub fn sample_codes(&self, n: usize, seed: u64) -> Result<Samples> {
        self.sample_codes_from(0, n, seed)
    }

    /// Rows `first_block * BLOCK_ROWS ..` (`n` of them) of the rows [`Self::sample_codes`]
    /// draws: for consumers that stream many rows in chunks of whole blocks.
    ///
    /// Errors: as [`Self::sample_codes`].
    pub fn sample_codes_from(&self, first_block: usize, n: usize, seed: u64) -> Result<Samples> {
        check_n(n)?;
        let nv = self.num_vars();
        let cells = num_cells(n, nv)?;
        let codes = match code_width(self.plan.cards())? {
            1 => Codes::U8(self.fill_codes::<u8>(first_block, cells, seed)),
            _ => Codes::U16(self.fill_codes::<u16>(first_block, cells, seed)),
        };
        Ok(Samples::new(self.plan.cards().to_vec(), n, codes))
    }

    fn fill_codes<T: Code>(&self, first_block: usize, cells: usize, seed: u64) -> Vec<T> {
        let nv = self.num_vars();
        let mut codes = vec![T::default(); cells];
        codes
            .par_chunks_mut(BLOCK_ROWS * nv)
            .enumerate()
            .for_each(|(b, chunk)| {
                let mut rng = chain_rng(seed, (first_block + b) as u64);
                for row in chunk.chunks_exact_mut(nv) {
                    self.plan.fill::<false, _, T>(&mut rng, row);
                }
            });
        codes
    }

    /// Stream `n` rows as CSV to `w`: a header of variable names (model order), then one line per
    /// row with state names. Blocks are drawn and formatted in parallel in bounded batches and
    /// written in order, so memory stays bounded for any `n` and the bytes are identical for any
    /// number of threads (and equal to [`sample_codes`](Self::sample_codes) with the same seed).
    ///
    /// `w` is written through directly (wrap a file in a `BufWriter` or not: blocks are written
    /// whole) and flushed at the end. Errors: [`Error::InvalidArgument`] when `n == 0`;
    /// [`Error::Io`] (path `<output>`) when writing fails.
    pub fn write_csv<W: Write>(&self, n: usize, seed: u64, w: W) -> Result<()> {
        let nv = self.num_vars();
        let header: Vec<&str> = self.vars.iter().map(|v| v.name.as_str()).collect();
        let rb = row_bytes(&self.vars);
        stream_csv(n, &header, rb, w, |b, rows| {
            let mut rng = chain_rng(seed, b as u64);
            let mut row = vec![0usize; nv];
            let mut wtr = block_writer(rows * rb);
            for _ in 0..rows {
                self.plan.fill::<false, _, usize>(&mut rng, &mut row);
                write_record(
                    &mut wtr,
                    row.iter()
                        .zip(&self.vars)
                        .map(|(&s, v)| v.states[s].as_bytes()),
                )?;
            }
            finish_block(wtr)
        })
    }
}

/// Forward-sample `n` rows of `bn` in memory: shorthand for
/// [`ForwardSampler::new`]`(bn)?.`[`sample_codes`](ForwardSampler::sample_codes)`(n, seed)`.
pub fn forward_sample(bn: &BayesNet, n: usize, seed: u64) -> Result<Samples> {
    ForwardSampler::new(bn)?.sample_codes(n, seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BayesNetBuilder;

    #[test]
    fn thresholds_skip_zero_states() {
        let mut t = Vec::new();
        push_thresholds(&[0.0, 0.5, 0.0, 0.5, 0.0], 1.0, &mut t);
        assert_eq!(t, vec![0, ONE / 2, ONE / 2, ONE]);
        // state 0 (p = 0) is never drawn: u >= 0 always; state 4 never: t_3 = 2^63 > u.
        let draw = |u: u64| t.iter().filter(|&&x| u >= x).count();
        assert_eq!(draw(0), 1);
        assert_eq!(draw(ONE / 2 - 1), 1);
        assert_eq!(draw(ONE / 2), 3);
        assert_eq!(draw(ONE - 1), 3);
    }

    #[test]
    fn large_cardinality_uses_binary_search_consistently() {
        let k = 40;
        let mut b = BayesNetBuilder::new();
        let a = b.add_variable("a", (0..k).map(|i| i.to_string())).unwrap();
        let mut p = vec![0.0; k];
        p[3] = 0.25;
        p[17] = 0.5;
        p[39] = 0.25;
        b.set_cpd(a, &[], p).unwrap();
        let bn = b.build().unwrap();
        let s = forward_sample(&bn, 40_000, 1).unwrap();
        let c = s.counts();
        assert_eq!(c[0].iter().sum::<u64>(), 40_000);
        for (i, &x) in c[0].iter().enumerate() {
            if ![3, 17, 39].contains(&i) {
                assert_eq!(x, 0, "state {i}");
            }
        }
        assert!((c[0][17] as f64 / 40_000.0 - 0.5).abs() < 0.02);
    }
}
