//! The kernel registry: [`Kernel`], the one choice of MCMC kernel that the chain runner, AIS
//! (forward, reverse, BDMC) and the command line share, and [`AnyKernel`], a built kernel of any
//! registered type, itself a [`Transition`].
//!
//! A new discrete kernel is one file in `src/sample/` with a type implementing [`Transition`],
//! plus its entry here: a value of [`Kernel`] (with its name in [`Kernel::ALL`] and
//! [`Kernel::name`]), its arm in [`Kernel::build`], and its line in the `registry!` list, which
//! writes the [`AnyKernel`] variant and its delegation. Chains (`marginals`, `sample`) and AIS
//! (`logz`) then reach it by name, and one row in the MCMC conformance test checks it against
//! exact marginals.
//!
//! ```
//! use pgmkit::model::{ising_grid, Boundary};
//! use pgmkit::sample::kernel::{Kernel, KernelOptions};
//! use pgmkit::sample::{Tempering, Transition};
//! use pgmkit::Evidence;
//!
//! let g = ising_grid(4, 4, Boundary::Free, |_, _| 0.3, |_| 0.0).unwrap();
//! let ev = Evidence::new(16);
//! let kind: Kernel = "block".parse().unwrap();
//! let k = kind.build(&g, &ev, &KernelOptions::default()).unwrap();
//! let prep = k.prepare(&Tempering::TARGET);
//! let mut x = vec![0; 16];
//! let s = k.sweep(&mut x, &prep, &mut pgmkit::rng::chain_rng(1, 0));
//! assert_eq!(s.updates, 16);
//! ```

use std::fmt;
use std::str::FromStr;

use rand::Rng;

use super::block::{BlockGibbs, BlockOptions};
use super::gibbs::{Gibbs, GibbsOptions, Scan};
use super::mh::MetropolisHastings;
use super::{StateTally, SweepStats, Tempering, Transition};
use crate::error::Result;
use crate::model::FactorGraph;
use crate::var::Evidence;

/// Which MCMC kernel moves a chain or an AIS particle.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum Kernel {
    /// The default: [`Kernel::BlockGibbs`] on models with zero entries (single-site kernels
    /// cannot cross deterministic relations), single-site Gibbs ([`Kernel::Gibbs`]) on the
    /// others.
    #[default]
    Auto,
    /// Single-site Gibbs ([`Gibbs`]), in the scan of [`KernelOptions::gibbs`] (systematic by
    /// default).
    Gibbs,
    /// Single-site Gibbs in the chromatic scan: each colour class updated in parallel (large
    /// grids with few chains or particles).
    ChromaticGibbs,
    /// Blocked Gibbs ([`BlockGibbs`]): blocks of variables tied by zero entries drawn exactly
    /// from their tempered conditional.
    BlockGibbs,
    /// Single-site Metropolis-Hastings ([`MetropolisHastings`]): uniform proposals of another
    /// state.
    MetropolisHastings,
}

impl Kernel {
    /// Every kernel choice, in the order the command line lists them.
    pub const ALL: [Kernel; 5] = [
        Kernel::Auto,
        Kernel::Gibbs,
        Kernel::BlockGibbs,
        Kernel::ChromaticGibbs,
        Kernel::MetropolisHastings,
    ];

    /// The name used on the command line and in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Auto => "auto",
            Kernel::Gibbs => "gibbs",
            Kernel::ChromaticGibbs => "chromatic",
            Kernel::BlockGibbs => "block",
            Kernel::MetropolisHastings => "mh",
        }
    }

    /// One line on what the kernel does (the command line's help text).
    pub fn description(self) -> &'static str {
        match self {
            Kernel::Auto => {
                "blocked Gibbs on models with zero entries, single-site Gibbs on the others"
            }
            Kernel::Gibbs => "single-site Gibbs (systematic scan unless --scan says otherwise)",
            Kernel::ChromaticGibbs => {
                "chromatic Gibbs: the variables of one colour updated in parallel (large grids)"
            }
            Kernel::BlockGibbs => {
                "blocked Gibbs: blocks tied by zero entries drawn exactly from their conditional"
            }
            Kernel::MetropolisHastings => "single-site Metropolis-Hastings",
        }
    }

    /// The names of [`Kernel::ALL`].
    pub fn names() -> [&'static str; 5] {
        Kernel::ALL.map(Kernel::name)
    }

    /// The kernel [`Kernel::Auto`] stands for on a model with (or without) zero entries; any
    /// other choice is itself.
    pub fn resolve(self, has_zeros: bool) -> Kernel {
        match (self, has_zeros) {
            (Kernel::Auto, true) => Kernel::BlockGibbs,
            (Kernel::Auto, false) => Kernel::Gibbs,
            (k, _) => k,
        }
    }

    /// [`Kernel::resolve`] on the zeros of `fg` (looked at only for [`Kernel::Auto`]).
    pub fn resolve_on(self, fg: &FactorGraph) -> Kernel {
        match self {
            Kernel::Auto => self.resolve(
                fg.factors()
                    .iter()
                    .any(|f| f.log_values().contains(&f64::NEG_INFINITY)),
            ),
            k => k,
        }
    }

    /// Build the kernel for `fg` under `ev` ([`Kernel::Auto`] resolved on the model's zeros).
    ///
    /// Errors as the kernel's constructor ([`Gibbs::new`], [`MetropolisHastings::new`],
    /// [`BlockGibbs::new`]).
    pub fn build(self, fg: &FactorGraph, ev: &Evidence, opts: &KernelOptions) -> Result<AnyKernel> {
        let kind = self.resolve_on(fg);
        let mut gibbs = opts.gibbs;
        if opts.reversible {
            gibbs.scan = Scan::Random;
        } else if kind == Kernel::ChromaticGibbs {
            gibbs.scan = Scan::Chromatic;
        }
        Ok(match kind {
            Kernel::Gibbs | Kernel::ChromaticGibbs | Kernel::Auto => {
                AnyKernel::Gibbs(Gibbs::new(fg, ev, &gibbs)?)
            }
            Kernel::MetropolisHastings => {
                AnyKernel::MetropolisHastings(MetropolisHastings::new(fg, ev, &gibbs)?)
            }
            Kernel::BlockGibbs => {
                let mut block = opts.block;
                block.random_scan |= opts.reversible;
                AnyKernel::BlockGibbs(BlockGibbs::new(fg, ev, &block)?)
            }
        })
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a kernel (see [`Kernel::names`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKernel(pub String);

impl fmt::Display for UnknownKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown kernel '{}' (expected one of: {})",
            self.0,
            Kernel::names().join(", ")
        )
    }
}

impl std::error::Error for UnknownKernel {}

impl FromStr for Kernel {
    type Err = UnknownKernel;

    /// A name of [`Kernel::names`].
    fn from_str(s: &str) -> std::result::Result<Kernel, UnknownKernel> {
        Kernel::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownKernel(s.to_string()))
    }
}

/// Options of [`Kernel::build`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KernelOptions {
    /// The single-site kernels' options (scan, chunk size, threshold tables).
    pub gibbs: GibbsOptions,
    /// Blocked Gibbs's options.
    pub block: BlockOptions,
    /// A reversible kernel (what reverse AIS needs): random scan for every kernel.
    pub reversible: bool,
}

/// The built kernels: `registry!(Variant(Type), ...)` writes [`AnyKernel`], its prepared form
/// [`AnyPrepared`] and the [`Transition`] impl that delegates to the kernel inside.
macro_rules! registry {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// A built kernel of any registered type ([`Kernel::build`]); a [`Transition`] itself.
        #[derive(Debug, Clone)]
        pub enum AnyKernel {
            $(
                #[doc = concat!("A [`", stringify!($ty), "`].")]
                $variant($ty),
            )*
        }

        /// [`AnyKernel`] prepared at one temperature: the prepared form of the kernel inside.
        pub enum AnyPrepared<'t> {
            $(
                #[doc = concat!("Of a [`", stringify!($ty), "`].")]
                $variant(<$ty as Transition>::Prepared<'t>),
            )*
        }

        impl Transition for AnyKernel {
            type Prepared<'t> = AnyPrepared<'t>;

            fn num_vars(&self) -> usize {
                match self {
                    $(AnyKernel::$variant(k) => k.num_vars(),)*
                }
            }

            fn prepare<'t>(&'t self, temp: &Tempering<'t>) -> AnyPrepared<'t> {
                match self {
                    $(AnyKernel::$variant(k) => AnyPrepared::$variant(k.prepare(temp)),)*
                }
            }

            /// One sweep of the kernel inside. Panics if `prep` was prepared by a kernel of
            /// another type.
            fn sweep<R: Rng + ?Sized>(
                &self,
                state: &mut [usize],
                prep: &AnyPrepared<'_>,
                rng: &mut R,
            ) -> SweepStats {
                match (self, prep) {
                    $((AnyKernel::$variant(k), AnyPrepared::$variant(p)) => k.sweep(state, p, rng),)*
                    #[allow(unreachable_patterns)]
                    _ => panic!("a kernel swept with another kernel's preparation"),
                }
            }

            fn sweep_tally<R: Rng + ?Sized>(
                &self,
                state: &mut [usize],
                prep: &AnyPrepared<'_>,
                rng: &mut R,
                tally: &mut StateTally<'_>,
            ) -> SweepStats {
                match (self, prep) {
                    $((AnyKernel::$variant(k), AnyPrepared::$variant(p)) => {
                        k.sweep_tally(state, p, rng, tally)
                    })*
                    #[allow(unreachable_patterns)]
                    _ => panic!("a kernel swept with another kernel's preparation"),
                }
            }

            fn sweeps<R: Rng + ?Sized>(
                &self,
                state: &mut [usize],
                prep: &AnyPrepared<'_>,
                rng: &mut R,
                n: usize,
                tally: Option<&mut StateTally<'_>>,
            ) -> SweepStats {
                match (self, prep) {
                    $((AnyKernel::$variant(k), AnyPrepared::$variant(p)) => {
                        k.sweeps(state, p, rng, n, tally)
                    })*
                    #[allow(unreachable_patterns)]
                    _ => panic!("a kernel swept with another kernel's preparation"),
                }
            }
        }
    };
}

registry!(
    Gibbs(Gibbs),
    MetropolisHastings(MetropolisHastings),
    BlockGibbs(BlockGibbs),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in Kernel::ALL {
            assert_eq!(k.name().parse::<Kernel>().unwrap(), k);
            assert_eq!(k.to_string(), k.name());
        }
        let e = "nuts".parse::<Kernel>().unwrap_err();
        assert!(
            e.to_string().contains("auto, gibbs, block, chromatic, mh"),
            "{e}"
        );
    }

    #[test]
    fn auto_resolves_on_zeros() {
        assert_eq!(Kernel::Auto.resolve(true), Kernel::BlockGibbs);
        assert_eq!(Kernel::Auto.resolve(false), Kernel::Gibbs);
        assert_eq!(
            Kernel::MetropolisHastings.resolve(true),
            Kernel::MetropolisHastings
        );
    }
}
