//! The options shared by `logz` and `marginals`: AIS settings and iteration / time limits.

use std::time::Duration;

use clap::{Args, ValueEnum};
use pgmkit::infer::ais::{AisOptions, Base, Schedule};
use pgmkit::infer::variational::StopRule;
use pgmkit::sample::kernel::Kernel;

use crate::cli::args::Method;

// ------------------------------------------------------------------------------- arguments

/// Spacing of the AIS inverse temperatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleArg {
    /// beta_k = k / K
    Linear,
    /// Sigmoidal spacing (steepness 4), denser at both ends
    Sigmoid,
    /// A pilot run of 16 particles places the betas so that the conditional ESS of each step
    /// stays at 0.999; the curve is then fixed for the main run (the estimate stays unbiased)
    Adaptive,
}

/// Base distribution of the AIS path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BaseArg {
    /// The network (evidence likelihood annealed in) for Bayesian networks with zeros under
    /// blocked Gibbs, uniform otherwise (default)
    Auto,
    /// Uniform over the states of every free variable
    Uniform,
    /// The Bayesian network with the evidence clamped (needs the block kernel)
    Network,
    /// The naive mean-field solution (mixed with 0.1% of uniform); falls back to uniform when
    /// mean field fails
    #[value(alias = "mean-field")]
    Mf,
}

/// `--kernel`: the library's kernel choice, parsed by its names (clap lists them with their
/// descriptions and rejects any other value).
pub fn kernel_parser() -> impl clap::builder::TypedValueParser<Value = Kernel> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(
        Kernel::ALL.map(|k| PossibleValue::new(k.name()).help(k.description())),
    )
    .map(|s| s.parse::<Kernel>().expect("clap passes only listed names"))
}

/// Options of the AIS methods (ais, rais, bdmc; also auto and all). Every value is optional so
/// that giving one to a method that does not run AIS is an error instead of being ignored.
#[derive(Debug, Clone, Default, Args)]
pub struct AisArgs {
    /// ais/rais/bdmc: number of particles (independent annealing runs) [default: 128]
    #[arg(long, value_name = "N")]
    pub particles: Option<usize>,

    /// ais/rais/bdmc: number of intermediate distributions K [default: 1000]
    #[arg(long, value_name = "K")]
    pub steps: Option<usize>,

    /// ais/rais/bdmc: MCMC sweeps per intermediate distribution [default: 1]
    #[arg(long, value_name = "M")]
    pub sweeps: Option<usize>,

    /// rais/bdmc on an RBM: block Gibbs sweeps of each chain that gives the reverse run a start
    /// state, when exact draws do not fit [default: 1000]
    #[arg(long, value_name = "N")]
    pub start_sweeps: Option<usize>,

    /// ais/rais/bdmc: spacing of the inverse temperatures [default: adaptive]
    #[arg(long, value_enum, value_name = "SPACING")]
    pub schedule: Option<ScheduleArg>,

    /// ais/rais/bdmc: distribution the annealing path starts from [default: auto]
    #[arg(long, value_enum, value_name = "BASE")]
    pub base: Option<BaseArg>,

    /// ais/rais/bdmc: MCMC kernel moving the particles (rais and the reverse half of bdmc
    /// always use a random-scan kernel, which is reversible) [default: auto]
    #[arg(long, value_parser = kernel_parser(), value_name = "KERNEL")]
    pub kernel: Option<Kernel>,
}

impl AisArgs {
    /// Error when an AIS setting was given but `method` runs no AIS.
    pub fn only_for_ais(&self, method: Method) -> anyhow::Result<()> {
        if method.uses_ais() {
            return Ok(());
        }
        let given = [
            ("--particles", self.particles.is_some()),
            ("--steps", self.steps.is_some()),
            ("--sweeps", self.sweeps.is_some()),
            ("--start-sweeps", self.start_sweeps.is_some()),
            ("--schedule", self.schedule.is_some()),
            ("--base", self.base.is_some()),
            ("--kernel", self.kernel.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            anyhow::bail!(
                "{flag} applies to the AIS methods (ais, rais, bdmc, auto, all), not to --method {}",
                method.name()
            );
        }
        Ok(())
    }

    /// The library options (checked), starting from `AisOptions::default()`.
    pub fn options(&self, seed: u64, time_limit: Option<Duration>) -> anyhow::Result<AisOptions> {
        if self.start_sweeps.is_some() {
            anyhow::bail!(
                "--start-sweeps applies to RBMs (pgmkit-rbm JSON); a factor graph's reverse AIS \
                 starts from exact draws"
            );
        }
        let d = AisOptions::default();
        let particles = at_least("--particles", self.particles.unwrap_or(d.particles), 2)?;
        let steps = at_least("--steps", self.steps.unwrap_or(d.steps), 1)?;
        let sweeps = at_least("--sweeps", self.sweeps.unwrap_or(d.sweeps), 1)?;
        let schedule = match self.schedule {
            None => d.schedule,
            Some(ScheduleArg::Linear) => Schedule::Linear,
            Some(ScheduleArg::Sigmoid) => Schedule::Sigmoid { delta: 4.0 },
            Some(ScheduleArg::Adaptive) => match d.schedule {
                s @ Schedule::Adaptive { .. } => s,
                _ => Schedule::Adaptive { target_cess: 0.999 },
            },
        };
        let base = match self.base {
            None => d.base,
            Some(BaseArg::Auto) => Base::Auto,
            Some(BaseArg::Uniform) => Base::Uniform,
            Some(BaseArg::Network) => Base::Network,
            Some(BaseArg::Mf) => Base::MeanField,
        };
        let kernel = self.kernel.unwrap_or(d.kernel);
        Ok(AisOptions {
            particles,
            steps,
            sweeps,
            schedule,
            base,
            kernel,
            seed,
            time_limit,
            ..d
        })
    }
}

/// Stopping options of the iterative methods (mf, bp, trw) and the time budget of every
/// approximate method.
#[derive(Debug, Clone, Default, Args)]
pub struct IterArgs {
    /// mf/bp/trw: convergence tolerance on the largest change of a marginal over one sweep
    /// [default: 1e-9]
    #[arg(long, value_name = "TOL", value_parser = parse_non_negative_f64)]
    pub tol: Option<f64>,

    /// mf/bp/trw: largest number of sweeps [default: 10000]
    #[arg(long, value_name = "N")]
    pub max_iters: Option<usize>,

    /// Wall-clock budget of each approximate method run, in seconds. AIS: the number of steps
    /// is raised (never lowered) to use the budget and no new batch of particles starts once it
    /// is spent (the result then depends on the machine's speed); mf/bp/trw: stop after the
    /// sweep that passes it (the TRW bound stays a certified upper bound)
    #[arg(long, value_name = "SECONDS", value_parser = crate::cli::args::parse_seconds)]
    pub time_limit: Option<f64>,
}

impl IterArgs {
    /// Error when --tol or --max-iters was given but `method` runs no variational algorithm,
    /// or --time-limit to a method that takes none.
    pub fn check_for(&self, method: Method) -> anyhow::Result<()> {
        if !method.uses_variational() {
            let given = [
                ("--tol", self.tol.is_some()),
                ("--max-iters", self.max_iters.is_some()),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
                anyhow::bail!(
                    "{flag} applies to the variational methods (mf, bp, trw, auto, all), not to \
                     --method {}",
                    method.name()
                );
            }
        }
        if self.time_limit.is_some() && matches!(method, Method::Exact | Method::Lw) {
            anyhow::bail!(
                "--time-limit applies to the approximate methods (ais, rais, bdmc, mf, bp, trw, \
                 gibbs, mh, auto, all), not to --method {}",
                method.name()
            );
        }
        Ok(())
    }

    /// The time budget.
    pub fn time_limit(&self) -> Option<Duration> {
        self.time_limit.map(Duration::from_secs_f64)
    }

    /// The stop rule (checked).
    pub fn stop_rule(&self) -> anyhow::Result<StopRule> {
        let d = StopRule::default();
        let max_iters = at_least("--max-iters", self.max_iters.unwrap_or(d.max_iters), 1)?;
        // the budget counts from the start of the command
        let stop = StopRule {
            max_iters,
            tol: self.tol.unwrap_or(d.tol),
            max_time: crate::cli::command_deadline(self.time_limit()).remaining(),
        };
        stop.validate()?;
        Ok(stop)
    }
}

pub(crate) fn parse_non_negative_f64(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        Ok(_) => Err(format!("'{s}' is not a finite number >= 0")),
        Err(e) => Err(format!("'{s}' is not a number: {e}")),
    }
}

/// A count that must be at least `min` (a run-time check: one `error:` line, exit code 1).
pub fn at_least(flag: &str, n: usize, min: usize) -> anyhow::Result<usize> {
    if n < min {
        anyhow::bail!("{flag} must be at least {min} (got {n})");
    }
    Ok(n)
}
