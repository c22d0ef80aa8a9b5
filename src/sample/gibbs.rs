//! Single-site Gibbs sampling on any discrete factor graph, including a chromatic (graph-coloured)
//! parallel sweep, and the search for a start state of positive probability.
//!
//! # How an update works
//!
//! [`Gibbs::new`] reduces every factor by the evidence (observed variables, and variables with a
//! single state, are clamped and disappear from the scopes), merges each factor into a factor whose
//! scope contains it (so a unary potential costs nothing extra), and stores for every free variable
//! its *neighbourhood*: the factors that mention it, with the variable's stride in each and the
//! `(variable, stride)` pairs of the other scope members. Updating `x_i` sums (or multiplies) the
//! relevant table entries of all states of `x_i` by stride arithmetic and draws from the result; no
//! memory is allocated per update (the scratch buffer belongs to the sweep).
//!
//! Three update paths are chosen automatically ([`UpdatePath`]):
//!
//! - **binary threshold tables** (binary pairwise models, `beta = 1`): for each variable with at
//!   most [`MAX_TABLE_DEGREE`] neighbours, the conditional probability of state 1 for every
//!   configuration of its neighbours is precomputed (in `f64`) as a 64-bit threshold `T`; an
//!   update gathers the neighbour bits and takes state 1 iff one random `u64` is below `T` (no
//!   `exp` on the hot path; the probability is exact to `2^-64`). Only the high 32 bits of `T`
//!   are stored; the rest is recomputed on the rare (`2^-32`) tie of the high halves;
//! - **binary log-odds** (binary pairwise models at any temperature): the conditional log-odds is
//!   a constant plus one coupling per neighbour in state 1, then one `exp`;
//! - **general**: at `beta = 1` the conditional is a product of factor entries kept as
//!   probabilities scaled by each factor's maximum (no `exp`; on underflow it falls back to logs);
//!   at other temperatures the log entries are summed, tempered and exponentiated.
//!
//! # Tempering
//!
//! The target is `p_beta(x) ∝ p0(x)^(1-beta) p~(x)^beta` ([`Tempering`]): the conditional of
//! `x_i` is `beta * (sum of its factor logs) + (1 - beta) * base_i(x_i)`. At `beta = 0` the model
//! is ignored (also where it is zero); at `beta = 1` the base is ignored.
//!
//! # Chromatic sweeps
//!
//! With [`Scan::Chromatic`] the interaction graph of the free variables (two variables interact
//! when they share a factor) is coloured greedily in variable order, so no two variables of one
//! colour share a factor; each colour class is then updated in parallel (rayon) in fixed chunks of
//! [`GibbsOptions::chunk_size`] variables. One `u64` is drawn from the chain's RNG per sweep and
//! chunk `k` of colour `c` uses the stream `chain_rng(that u64, c << 32 | k)`, so the result does
//! not depend on the number of threads. The systematic scan visits the same colour classes one
//! after the other (on a grid, the checkerboard order).
//!
//! # Zero probabilities and ergodicity
//!
//! Zero potentials (deterministic CPT entries, hard constraints) are handled exactly: an update
//! never moves to a state of probability zero, and [`StartSearch`](crate::sample::start::StartSearch) finds a start state of
//! positive probability (or proves there is none). But a single-site sampler cannot cross a
//! region of probability zero: when a deterministic relation ties variables together (in ASIA,
//! `either = lung OR tub` with `xray` and `dysp` observed, the state `tub = lung = either = no`
//! cannot be left one variable at a time), the chain is reducible and its marginals depend on where
//! it started. Run several chains from dispersed starts and check R-hat
//! ([`crate::sample::chains`]), which flags it.
//!
//! ```
//! use pgmkit::model::{ising_grid, Boundary};
//! use pgmkit::sample::gibbs::{Gibbs, GibbsOptions, Scan};
//! use pgmkit::sample::{Tempering, Transition};
//! use pgmkit::Evidence;
//!
//! let g = ising_grid(8, 8, Boundary::Periodic, |_, _| 0.3, |_| 0.0).unwrap();
//! let ev = Evidence::new(g.num_vars());
//! let opts = GibbsOptions { scan: Scan::Chromatic, ..GibbsOptions::default() };
//! let gibbs = Gibbs::new(&g, &ev, &opts).unwrap();
//! assert_eq!(gibbs.num_colours(), 2);
//! let mut rng = pgmkit::rng::chain_rng(7, 0);
//! let mut x = vec![0usize; 64];
//! let stats = gibbs.sweep(&mut x, &Tempering::TARGET, &mut rng);
//! assert_eq!(stats.updates, 64);
//! ```

use rand::Rng;

use super::site::*;
use super::{SweepStats, Tempering};
use crate::error::Result;
use crate::model::FactorGraph;
use crate::var::Evidence;

/// Largest number of neighbours for which a binary variable gets a precomputed threshold table
/// (`2^degree` entries).
pub const MAX_TABLE_DEGREE: usize = 8;

/// Largest total number of threshold-table entries (4 bytes each) a kernel precomputes: 64 MiB,
/// enough for a 1000 x 1000 grid.
pub const MAX_TABLE_ENTRIES: usize = 1 << 24;

/// Order in which a sweep visits the free variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scan {
    /// Every free variable once, in a fixed order: colour class by colour class (the classes of
    /// [`Scan::Chromatic`]), ascending within a class; on a grid, the checkerboard order. Any fixed
    /// order leaves the target invariant; this one has no two consecutive updates depend on each
    /// other, so the CPU overlaps them.
    #[default]
    Systematic,
    /// As many updates as free variables, each at a variable drawn uniformly.
    Random,
    /// Colour classes in turn; the variables of a class are updated in parallel (rayon).
    Chromatic,
}

/// Options of [`Gibbs`] (and of [`crate::sample::mh::MetropolisHastings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GibbsOptions {
    /// Scan order.
    pub scan: Scan,
    /// Variables per parallel chunk of a colour class ([`Scan::Chromatic`]); fixed, so results do
    /// not depend on the number of threads. Default 256.
    pub chunk_size: usize,
    /// Use precomputed threshold tables for binary pairwise models at `beta = 1` (default true).
    pub threshold_tables: bool,
}

impl Default for GibbsOptions {
    fn default() -> Self {
        GibbsOptions {
            scan: Scan::Systematic,
            chunk_size: 256,
            threshold_tables: true,
        }
    }
}

/// Which update code a sweep runs (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdatePath {
    /// Binary pairwise model, `beta = 1`: precomputed conditional thresholds per neighbour
    /// configuration.
    BinaryTable,
    /// Binary pairwise model: conditional log-odds and one `exp`.
    BinaryLogOdds,
    /// Any model at `beta = 1`: products of scaled factor probabilities.
    GeneralProb,
    /// Any model, any temperature: sums of factor logs, tempered.
    GeneralLog,
}

// ---------------------------------------------------------------------------------------------
// The Gibbs kernel
// ---------------------------------------------------------------------------------------------

/// Single-site Gibbs sampler for a discrete factor graph under evidence (observed variables are
/// clamped and never change). Implements [`Transition`](crate::sample::Transition); see the module docs for the update paths
/// and the chromatic parallel sweep.
#[derive(Debug, Clone)]
pub struct Gibbs {
    site: Site,
}

impl Gibbs {
    /// Precompute the kernel of `fg` under `ev`.
    ///
    /// Errors: evidence naming a variable or state the model does not have; evidence that makes a
    /// factor zero everywhere ([`Error::ZeroProbabilityEvidence`](crate::Error::ZeroProbabilityEvidence)); a zero chunk size.
    pub fn new(fg: &FactorGraph, ev: &Evidence, opts: &GibbsOptions) -> Result<Gibbs> {
        Ok(Gibbs {
            site: Site::new(fg, ev, opts)?,
        })
    }

    /// The options the kernel was built with.
    pub fn options(&self) -> &GibbsOptions {
        &self.site.opts
    }

    /// Free (unobserved, more than one state) variables, ascending: one sweep updates each once
    /// (systematic and chromatic scans) or makes as many random-site updates (random scan).
    pub fn free_vars(&self) -> &[u32] {
        &self.site.local.free
    }

    /// Number of colours of the interaction graph of the free variables (greedy colouring in
    /// variable order).
    pub fn num_colours(&self) -> usize {
        self.site.local.classes.len()
    }

    /// The colour classes (variables ascending within a class); the systematic scan visits them
    /// one after the other, the chromatic scan updates each in parallel.
    pub fn colour_classes(&self) -> &[Vec<u32>] {
        &self.site.local.classes
    }

    /// The update path a sweep at `temp` uses.
    pub fn update_path(&self, temp: &Tempering<'_>) -> UpdatePath {
        self.site.local.path(temp, self.site.opts.threshold_tables)
    }
}

super::site::site_transition!(Gibbs);

impl Gibbs {
    fn sweep_with<R: Rng + ?Sized>(&self, temp: &Tempering<'_>, run: Run<'_, '_, R>) -> SweepStats {
        let (site, l) = (&self.site, &self.site.local);
        let t = Temper::of(temp);
        match self.update_path(temp) {
            UpdatePath::BinaryTable => {
                let bin = l.bin.as_ref().expect("binary path");
                let thr = bin.thr.as_ref().expect("threshold tables");
                site.drive(&BinTable { bin, thr }, 0, run)
            }
            UpdatePath::BinaryLogOdds => {
                let bin = l.bin.as_ref().expect("binary path");
                site.drive(&BinOdds { bin, t }, 0, run)
            }
            UpdatePath::GeneralProb => site.drive(&ProbUpd(l), l.max_card, run),
            UpdatePath::GeneralLog => site.drive(&LogUpd { l, t }, l.max_card, run),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ising_grid, Boundary};
    use crate::num;
    use crate::rng::chain_rng;
    use crate::sample::start::{find_start_state, StartSearch};
    use crate::var::VarId;
    use crate::FactorGraphBuilder;
    use std::cell::Cell;

    fn small_model() -> FactorGraph {
        let mut b = FactorGraphBuilder::new();
        let a = b.add_variable_card("a", 3).unwrap();
        let c = b.add_variable_card("c", 2).unwrap();
        let d = b.add_variable_card("d", 4).unwrap();
        b.add_factor(&[a, c], vec![1.0, 2.0, 0.5, 0.0, 3.0, 1.0])
            .unwrap();
        b.add_factor(&[c, d], vec![1.0, 2.0, 3.0, 4.0, 4.0, 3.0, 0.0, 1.0])
            .unwrap();
        b.add_factor(&[a], vec![1.0, 2.0, 3.0]).unwrap();
        b.add_factor(&[a, c, d], (0..24).map(|k| 1.0 + (k % 5) as f64).collect())
            .unwrap();
        b.build().unwrap()
    }

    /// Brute-force conditional of variable i given the rest of x.
    fn brute_conditional(fg: &FactorGraph, x: &[usize], i: usize) -> Vec<f64> {
        let c = fg.cards()[i];
        let mut y = x.to_vec();
        let mut l: Vec<f64> = (0..c)
            .map(|v| {
                y[i] = v;
                fg.log_potential(&y)
            })
            .collect();
        num::log_normalize(&mut l);
        l
    }

    #[test]
    fn merging_keeps_conditionals() {
        let fg = small_model();
        let ev = Evidence::new(3);
        let l = Local::new(&fg, &ev).unwrap();
        // all four factors merge into the one over (a, c, d)
        assert_eq!(l.facs.len(), 1);
        let x = vec![1usize, 0, 2];
        let cells = vec![Cell::new(0usize); 3];
        for (c, &v) in cells.iter().zip(&x) {
            c.set(v);
        }
        for i in 0..3 {
            let mut buf = vec![0.0; fg.cards()[i]];
            l.log_cond(i, cells.as_slice(), Temper::MODEL, &mut buf);
            num::log_normalize(&mut buf);
            let want = brute_conditional(&fg, &x, i);
            for (a, b) in buf.iter().zip(&want) {
                assert!(
                    (num::exp(*a) - num::exp(*b)).abs() < 1e-12,
                    "{buf:?} vs {want:?}"
                );
            }
        }
    }

    #[test]
    fn colouring_is_proper() {
        let g = ising_grid(6, 7, Boundary::Periodic, |_, _| 0.3, |_| 0.1).unwrap();
        let l = Local::new(&g, &Evidence::new(42)).unwrap();
        let classes = l.colour_classes();
        let mut colour = vec![usize::MAX; 42];
        for (c, cl) in classes.iter().enumerate() {
            for &v in cl {
                colour[v as usize] = c;
            }
        }
        assert!(colour.iter().all(|&c| c != usize::MAX));
        for i in 0..42 {
            for j in l.neighbours(i) {
                assert_ne!(colour[i], colour[j as usize]);
            }
        }
        // an odd periodic dimension needs a third colour (greedy may use a fourth)
        assert!((3..=4).contains(&classes.len()));
        let g = ising_grid(6, 8, Boundary::Periodic, |_, _| 0.3, |_| 0.1).unwrap();
        assert_eq!(
            Local::new(&g, &Evidence::new(48))
                .unwrap()
                .colour_classes()
                .len(),
            2
        );
    }

    #[test]
    fn binary_tables_match_conditionals() {
        let g = ising_grid(
            4,
            4,
            Boundary::Free,
            |i, j| 0.1 * (i + j) as f64,
            |i| 0.05 * i as f64,
        )
        .unwrap();
        let l = Local::new(&g, &Evidence::new(16)).unwrap();
        let b = l.bin.as_ref().unwrap();
        let t = b.thr.as_ref().unwrap();
        let x: Vec<usize> = (0..16).map(|k| (k * 7 / 3) % 2).collect();
        for i in 0..16 {
            let want = num::exp(brute_conditional(&g, &x, i)[1]);
            let nb = &b.nbr[b.start[i] as usize..b.start[i + 1] as usize];
            let cfg: usize = nb
                .iter()
                .enumerate()
                .map(|(k, &j)| x[j as usize] << k)
                .sum();
            let th = b.threshold(i, cfg);
            assert_eq!((th >> 32) as u32, t.hi[t.off[i] as usize + cfg]);
            let p = th as f64 / 18_446_744_073_709_551_616.0;
            assert!((p - want).abs() < 1e-12, "site {i}: {p} vs {want}");
        }
    }

    #[test]
    fn split_threshold_comparison_is_exact() {
        let mut rng = chain_rng(5, 5);
        for _ in 0..10_000 {
            let t: u64 = rng.random();
            let near = [
                t,
                t.wrapping_sub(1),
                t.wrapping_add(1),
                t & !0xFFFF_FFFF,
                t | 0xFFFF_FFFF,
                rng.random(),
            ];
            for r in near {
                assert_eq!(below(r, (t >> 32) as u32, || t), r < t, "r {r:x} t {t:x}");
            }
        }
    }

    #[test]
    fn start_search_repairs_and_detects_zero() {
        // x0 != x1, x1 != x2, x0 == x2 on 3-state variables plus an all-different triple
        let mut b = FactorGraphBuilder::new();
        let v: Vec<VarId> = (0..4)
            .map(|i| b.add_variable_card(format!("v{i}"), 3).unwrap())
            .collect();
        let neq: Vec<f64> = (0..9)
            .map(|k| if k / 3 == k % 3 { 0.0 } else { 1.0 })
            .collect();
        let eq: Vec<f64> = (0..9)
            .map(|k| if k / 3 == k % 3 { 1.0 } else { 0.0 })
            .collect();
        b.add_factor(&[v[0], v[1]], neq.clone()).unwrap();
        b.add_factor(&[v[1], v[2]], neq.clone()).unwrap();
        b.add_factor(&[v[0], v[2]], eq).unwrap();
        b.add_factor(&[v[2], v[3]], neq.clone()).unwrap();
        let fg = b.build().unwrap();
        let s = StartSearch::new(&fg, &Evidence::new(4)).unwrap();
        let mut rng = chain_rng(1, 0);
        for _ in 0..20 {
            let x = s.find(&mut rng).unwrap();
            assert!(s.is_valid(&x));
        }
        // a triangle of "different" on 2-state variables has no valid state
        let mut b = FactorGraphBuilder::new();
        let v: Vec<VarId> = (0..3)
            .map(|i| b.add_variable_card(format!("v{i}"), 2).unwrap())
            .collect();
        for (p, q) in [(0, 1), (1, 2), (0, 2)] {
            b.add_factor(&[v[p], v[q]], vec![0.0, 1.0, 1.0, 0.0])
                .unwrap();
        }
        let fg = b.build().unwrap();
        let err = find_start_state(&fg, &Evidence::new(3), &mut rng).unwrap_err();
        assert!(
            matches!(err, crate::Error::ZeroProbabilityEvidence),
            "{err}"
        );
    }
}
