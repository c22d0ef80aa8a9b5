//! Command-line interface of `pgmkit` (clap derive). Only the binary uses this module.
//!
//! Layout: [`args`] holds the argument structs shared by several subcommands (model, evidence,
//! method, memory limit) and the loading helpers; one module per subcommand does the work and the
//! printing; [`demo`] is what `pgmkit` without arguments runs.
//!
//! Adding an inference method = one [`args::Method`] value plus one arm in the `match` of
//! `logz::estimate` and `marginals::compute` (the log Z methods beyond exact build one
//! [`approx::Row`] each, in [`approx`], which `--method all` and `auto` reuse); a sampler for `pgmkit sample` = one
//! `sample::SampleMethod` value and one arm in `sample::run`. Long runs show a progress bar on
//! stderr ([`progress`]); timings in JSON are the fields whose names end in `seconds` (everything
//! else is identical for a seed whatever `--threads`).

mod approx;
mod args;
mod classify;
mod convert;
mod data_args;
mod demo;
mod dot;
mod eval_impute;
mod gaussian;
mod gaussian_data;
mod impute;
mod info;
mod kl;
mod learn;
mod logz;
mod map;
mod marginals;
mod merge;
mod output;
mod plot;
mod progress;
mod rbm;
mod sample;
mod score;
mod structure;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// pgmkit: a probabilistic graphical model engine.
#[derive(Debug, Parser)]
#[command(
    name = "pgmkit",
    version,
    about = "pgmkit: probabilistic graphical models (Bayesian networks, Markov random fields, factor graphs)",
    long_about = "pgmkit: probabilistic graphical models.\n\n\
        Loads Bayesian networks (BIF, UAI BAYES) and Markov networks / factor graphs (UAI MARKOV, \
        libDAI .fg), computes log Z / log P(evidence) exactly, by annealed importance sampling \
        (AIS, reverse AIS, BDMC bounds), variationally (mean-field lower bound, loopy BP, TRW \
        upper bound) or by likelihood weighting, computes posterior marginals exactly, by \
        sampling (likelihood weighting, Gibbs, Metropolis-Hastings) or variationally, draws \
        samples as CSV, and converts between formats. Run without arguments for a short demo \
        (the ALARM network, then log Z of a 100x100 Ising grid).",
    after_help = "Examples:\n  \
        pgmkit info tests/data/bif/alarm.bif\n  \
        pgmkit logz tests/data/bif/alarm.bif --evidence BP=HIGH,HRBP=HIGH,HREKG=HIGH\n  \
        pgmkit logz tests/data/uai/Grids_12.uai --evidence tests/data/uai/Grids_12.uai.evid --json\n  \
        pgmkit marginals tests/data/bif/asia.bif -e xray=yes,dysp=yes\n  \
        pgmkit marginals tests/data/bif/alarm.bif -e BP=HIGH --method gibbs --json\n  \
        pgmkit logz tests/data/bif/asia.bif -e lung=yes,dysp=yes --method lw --samples 100000\n  \
        pgmkit logz tests/data/fg/ising_10x10_open.fg --method ais --particles 256 --json\n  \
        pgmkit logz tests/data/fg/ising_10x10_open.fg --method all\n  \
        pgmkit logz tests/data/fg/ising_100x100_periodic.fg --method auto --time-limit 20\n  \
        pgmkit marginals tests/data/fg/ising_10x10_open.fg --method bp --json\n  \
        pgmkit sample tests/data/bif/alarm.bif --n 100000 --out alarm.csv\n  \
        pgmkit convert tests/data/bif/asia.bif asia.uai\n  \
        pgmkit impute tests/data/bif/alarm.bif --data holes.csv --out filled.csv --learn em\n  \
        pgmkit score tests/data/bif/alarm.bif --data tests/data/samples/alarm_10k.csv.gz --outliers 5\n  \
        pgmkit            (no arguments: the ALARM demo)"
)]
pub struct Cli {
    #[command(flatten)]
    global: args::GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Describe a model: format, kind, variables and states, factors/arcs, parameters, and the cost
    /// of exact inference (elimination width, largest clique table)
    Info(info::InfoArgs),
    /// Compute log Z, the log partition function (for a Bayesian network: log P(evidence)):
    /// exactly, by AIS / reverse AIS / BDMC, variationally (mf, bp, trw), or all side by side
    #[command(name = "logz")]
    LogZ(logz::LogZArgs),
    /// Compute the posterior marginal distribution of every variable given the evidence (exactly;
    /// by likelihood weighting, Gibbs or Metropolis-Hastings with Monte Carlo standard errors; or
    /// by mean field, loopy BP or TRW)
    Marginals(marginals::MarginalsArgs),
    /// Draw samples from a model and write them as CSV (forward sampling, likelihood weighting,
    /// Gibbs or Metropolis-Hastings chains)
    #[command(
        after_help = "Output: a CSV header of variable names, then N rows of state names \
        (observed variables show their observed state). lw adds a last column log_weight (natural \
        log). gibbs/mh add a first column chain (0-based) and write the rows chain-major: each of \
        the C chains keeps ceil(N / C) draws after burn-in and thinning, and the last chain is cut \
        so that exactly N rows are written.\n\n\
        Examples:\n  \
        pgmkit sample tests/data/bif/alarm.bif --n 100000 --out alarm.csv\n  \
        pgmkit sample tests/data/bif/asia.bif --n 1000 --method lw -e xray=yes\n  \
        pgmkit sample tests/data/fg/ising_10x10_open.fg --n 4000 --chains 4 --burn-in 500"
    )]
    Sample(sample::SampleArgs),
    /// Convert a model file to another format (chosen from the extensions: .bif, .uai, .fg, .xml / .xmlbif / .bifxml, .net)
    Convert(convert::ConvertArgs),
    /// Fill the missing cells of a CSV from a Bayesian network (per-cell posterior mode, exact
    /// joint draws, or M completed datasets), optionally learning its parameters by EM first
    Impute(impute::ImputeArgs),
    /// Score data under a model: log-likelihood, bits per row, perplexity, outliers (Bayesian
    /// networks: rows with holes by their marginal likelihood; Markov networks and RBMs: complete
    /// rows, log Z exact or by AIS; Gaussian models: log densities)
    Score(score::ScoreArgs),
    /// KL divergence KL(P || Q) between two Bayesian networks over the same variables
    Kl(kl::KlArgs),
    /// Hide cells of complete data at random, impute them, and report accuracy, log-score,
    /// baseline, oracle and coverage
    EvalImpute(eval_impute::EvalImputeArgs),
    /// Learn an undirected model from complete data: the tables of MODEL's factors by exact
    /// maximum likelihood, pseudo-likelihood or PCD (L2 / L1 penalties), or an RBM (--rbm) by
    /// CD-k or PCD
    Learn(learn::LearnArgs),
    /// The most probable explanation: the joint state of every unobserved variable that
    /// maximises the model's probability given the evidence (exact max-product)
    Map(map::MapArgs),
    /// Write the model's graph in Graphviz DOT (observed variables shaded; with --marginals,
    /// each variable's posterior in its label)
    Dot(dot::DotArgs),
    /// Merge the shards of one AIS / reverse AIS / BDMC run (`logz --particle-range A..B
    /// --shard-out FILE`, e.g. the tasks of a Slurm array, Ray or Dask) into the result of the
    /// whole run, bit for bit as one process computes it; shards of another model, seed or
    /// settings are refused
    Merge(merge::MergeArgs),
    /// Classify the rows of a CSV with a Bayesian network: the posterior of --target given
    /// each row's other cells, accuracy, log loss, confusion matrix, ROC AUC
    Classify(classify::ClassifyArgs),
    /// Run the built-in demo on the ALARM network (what `pgmkit` with no arguments does)
    Demo,
}

/// When the command started: `--time-limit` budgets count from here (loading included).
static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The deadline of a `--time-limit` budget for the whole command (counted from its start).
pub fn command_deadline(limit: Option<std::time::Duration>) -> pgmkit::limits::Deadline {
    let start = *START.get_or_init(std::time::Instant::now);
    pgmkit::limits::Deadline::from(start, limit)
}

/// Parse the command line, run, and turn the outcome into an exit code.
pub fn main() -> ExitCode {
    START.get_or_init(std::time::Instant::now);
    // a write beyond the file-size limit (`ulimit -f`) fails with EFBIG, reported as an error
    // (the atomic writers then remove their temporary file), instead of killing the process
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_IGN at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    // negative numbers are values (so `--particles -1` is reported as a bad value, not as an
    // unknown argument)
    let cmd = Cli::command()
        .allow_negative_numbers(true)
        .mut_subcommands(|s| s.allow_negative_numbers(true));
    let cli = match cmd
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version end up here too (exit code 0); usage errors exit with 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(t) = cli.global.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t as usize)
            .build_global()
            .map_err(|e| anyhow::anyhow!("cannot start {t} worker threads: {e}"))?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        None | Some(Command::Demo) => demo::run(&cli.global, &mut out),
        Some(Command::Info(a)) => info::run(&cli.global, &a, &mut out),
        Some(Command::LogZ(a)) => logz::run(&cli.global, &a, &mut out),
        Some(Command::Marginals(a)) => marginals::run(&cli.global, &a, &mut out),
        Some(Command::Map(a)) => map::run(&cli.global, &a, &mut out),
        Some(Command::Sample(a)) => sample::run(&cli.global, &a, &mut out),
        Some(Command::Convert(a)) => convert::run(&cli.global, &a, &mut out),
        Some(Command::Impute(a)) => impute::run(&cli.global, &a, &mut out),
        Some(Command::Score(a)) => score::run(&cli.global, &a, &mut out),
        Some(Command::Kl(a)) => kl::run(&cli.global, &a, &mut out),
        Some(Command::EvalImpute(a)) => eval_impute::run(&cli.global, &a, &mut out),
        Some(Command::Learn(a)) => learn::run(&cli.global, &a, &mut out),
        Some(Command::Classify(a)) => classify::run(&cli.global, &a, &mut out),
        Some(Command::Dot(a)) => dot::run(&cli.global, &a, &mut out),
        Some(Command::Merge(a)) => merge::run(&cli.global, &a, &mut out),
    }?;
    out.flush()?;
    Ok(())
}

/// True when the error is a write to a closed pipe (`pgmkit ... | head`): not worth a message.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(BrokenPipe))
            || c.downcast_ref::<csv::Error>().is_some_and(
                |w| matches!(w.kind(), csv::ErrorKind::Io(io) if io.kind() == BrokenPipe),
            )
    })
}

/// The error and its causes on one line, skipping the causes the message already shows (the
/// library's `Io` error prints its source itself).
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    let mut shown_by_previous = false;
    for cause in e.chain() {
        let text = cause.to_string();
        let skip = text.is_empty() || shown_by_previous;
        shown_by_previous = matches!(
            cause.downcast_ref::<pgmkit::Error>(),
            Some(pgmkit::Error::Io { .. })
        );
        if skip {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn one_line_skips_repeated_sources() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "not there");
        let e: anyhow::Error = pgmkit::Error::io("x.bif", io).into();
        assert_eq!(one_line(&e), "x.bif: not there");
        let e = anyhow::anyhow!("two\nlines");
        assert_eq!(one_line(&e), "two lines");
    }
}
