//! Arguments shared by several subcommands, and the helpers that turn them into library values.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use pgmkit::infer::exact::ExactOptions;
use pgmkit::infer::logz::LogZMethod;
use pgmkit::io::{LoadOptions, ModelFormat};
use pgmkit::model::Model;
use pgmkit::sample::block::BlockOptions;
use pgmkit::sample::chains::ChainConfig;
use pgmkit::sample::gibbs::{GibbsOptions, Scan};
use pgmkit::sample::kernel::{Kernel, KernelOptions};
use pgmkit::{Evidence, Variable};

/// Options accepted by every subcommand (before or after its name).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Divide every CPT column by its sum when loading (for files whose columns do not sum to 1
    /// within the tolerance 1e-5); by default probabilities are used exactly as written
    #[arg(long, global = true)]
    pub renormalize: bool,

    /// Number of worker threads, 1 to 1024 [default: one per CPU, or RAYON_NUM_THREADS]
    #[arg(long, global = true, value_name = "T", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,

    /// Print only the results: no headers, notes, timings or progress
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Progress on stderr: a bar on a terminal, plain lines every few seconds otherwise (auto);
    /// always a bar, always plain lines, or nothing
    #[arg(long, global = true, value_enum, default_value_t = ProgressArg::Auto, value_name = "HOW")]
    pub progress: ProgressArg,
}

/// How long work reports progress (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    /// A bar when stderr is a terminal, else plain lines
    Auto,
    /// A redrawn bar (terminals only)
    Bar,
    /// One plain line every few seconds (logs, batch jobs)
    Plain,
    /// No progress output
    None,
}

/// Every inference method of the CLI, the identity the shared option checks speak of: the
/// library's log Z methods ([`LogZMethod`]) and MCMC kernels ([`Kernel`]), whose docs say what
/// each is. Each command parses its own method enum ([`LogZArg`], [`MarginalsMethod`]), so clap
/// rejects a method the command cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    // the log Z methods (LogZMethod's names), then the MCMC kernels (Kernel's names)
    Exact,
    Lw,
    Ais,
    Rais,
    Bdmc,
    Mf,
    Bp,
    Trw,
    Auto,
    All,
    Gibbs,
    Mh,
    Block,
}

/// `logz --method`: the library's log Z methods ([`LogZMethod`]), their names, aliases and help
/// texts taken from it, so that a new method needs no line here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogZArg(pub LogZMethod);

impl ValueEnum for LogZArg {
    fn value_variants<'a>() -> &'a [Self] {
        const ALL: [LogZArg; LogZMethod::ALL.len()] = {
            let mut a = [LogZArg(LogZMethod::Exact); LogZMethod::ALL.len()];
            let mut i = 0;
            while i < a.len() {
                a[i] = LogZArg(LogZMethod::ALL[i]);
                i += 1;
            }
            a
        };
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(
            clap::builder::PossibleValue::new(self.0.name())
                .help(self.0.description())
                .aliases(self.0.aliases().iter().copied()),
        )
    }
}

impl From<LogZArg> for Method {
    fn from(m: LogZArg) -> Method {
        Method::from_log_z(m.0)
    }
}

/// `marginals --method`: the methods that estimate posterior marginals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MarginalsMethod {
    /// Exact: variable elimination / junction tree over a min-fill-type elimination order
    /// (barren variables pruned first for a Bayesian network); refuses models whose tables would
    /// exceed --memory-limit
    Exact,

    /// Likelihood weighting (Bayesian networks only): --samples weighted forward samples with the
    /// evidence clamped; log P(e) with its standard error, weighted marginals with MCSE
    #[value(alias = "likelihood-weighting")]
    Lw,

    /// Single-site Gibbs sampling on --chains parallel chains (any model): marginals with MCSE,
    /// split-R-hat and ESS
    Gibbs,

    /// Single-site Metropolis-Hastings (uniform proposals of another state) on --chains
    /// parallel chains (any model): marginals with MCSE, split-R-hat and ESS
    #[value(alias = "metropolis")]
    Mh,

    /// Blocked Gibbs on --chains parallel chains (any model): blocks of variables tied by zero
    /// entries drawn exactly from their conditional, so chains cross deterministic relations;
    /// marginals with MCSE, split-R-hat and ESS
    #[value(alias = "block-gibbs")]
    Block,

    /// Naive mean field: a deterministic lower bound on log Z (the ELBO) and marginals
    #[value(alias = "mean-field")]
    Mf,

    /// Loopy belief propagation: the Bethe approximation of log Z (no bound) and marginals
    #[value(alias = "loopy-bp")]
    Bp,

    /// Tree-reweighted BP: a deterministic upper bound on log Z and pseudo-marginals (pairwise
    /// models, or models that evidence makes pairwise)
    Trw,
}

impl From<MarginalsMethod> for Method {
    fn from(m: MarginalsMethod) -> Method {
        match m {
            MarginalsMethod::Exact => Method::Exact,
            MarginalsMethod::Lw => Method::Lw,
            MarginalsMethod::Gibbs => Method::Gibbs,
            MarginalsMethod::Mh => Method::Mh,
            MarginalsMethod::Block => Method::Block,
            MarginalsMethod::Mf => Method::Mf,
            MarginalsMethod::Bp => Method::Bp,
            MarginalsMethod::Trw => Method::Trw,
        }
    }
}

impl Method {
    /// The name used on the command line and in JSON output (the library's names).
    pub fn name(self) -> &'static str {
        match (self.log_z(), self.kernel()) {
            (Some(m), _) => m.name(),
            (None, Some(k)) => k.name(),
            (None, None) => unreachable!("every method estimates log Z or runs a kernel"),
        }
    }

    /// The method of a library log Z method.
    pub fn from_log_z(m: LogZMethod) -> Method {
        match m {
            LogZMethod::Exact => Method::Exact,
            LogZMethod::Lw => Method::Lw,
            LogZMethod::Ais => Method::Ais,
            LogZMethod::Rais => Method::Rais,
            LogZMethod::Bdmc => Method::Bdmc,
            LogZMethod::Mf => Method::Mf,
            LogZMethod::Bp => Method::Bp,
            LogZMethod::Trw => Method::Trw,
            LogZMethod::Auto => Method::Auto,
            LogZMethod::All => Method::All,
        }
    }

    /// The library's log Z method of a log Z method (`None` for the MCMC methods).
    pub fn log_z(self) -> Option<LogZMethod> {
        Some(match self {
            Method::Exact => LogZMethod::Exact,
            Method::Lw => LogZMethod::Lw,
            Method::Ais => LogZMethod::Ais,
            Method::Rais => LogZMethod::Rais,
            Method::Bdmc => LogZMethod::Bdmc,
            Method::Mf => LogZMethod::Mf,
            Method::Bp => LogZMethod::Bp,
            Method::Trw => LogZMethod::Trw,
            Method::Auto => LogZMethod::Auto,
            Method::All => LogZMethod::All,
            Method::Gibbs | Method::Mh | Method::Block => return None,
        })
    }

    /// The MCMC method of a kernel (the inverse of [`Method::kernel`]; Gibbs for the others).
    pub fn from_kernel(k: Kernel) -> Method {
        match k {
            Kernel::MetropolisHastings => Method::Mh,
            Kernel::BlockGibbs => Method::Block,
            _ => Method::Gibbs,
        }
    }

    /// The MCMC kernel of an MCMC method.
    pub fn kernel(self) -> Option<Kernel> {
        match self {
            Method::Gibbs => Some(Kernel::Gibbs),
            Method::Mh => Some(Kernel::MetropolisHastings),
            Method::Block => Some(Kernel::BlockGibbs),
            _ => None,
        }
    }

    /// True for the methods that run AIS (and so take the AIS options).
    pub fn uses_ais(self) -> bool {
        matches!(
            self,
            Method::Ais | Method::Rais | Method::Bdmc | Method::Auto | Method::All
        )
    }

    /// True for the methods that run a variational algorithm (and so take --tol, --max-iters).
    pub fn uses_variational(self) -> bool {
        matches!(
            self,
            Method::Mf | Method::Bp | Method::Trw | Method::Auto | Method::All
        )
    }
}

/// Default number of weighted samples of likelihood weighting.
pub const DEFAULT_LW_SAMPLES: usize = 10_000;

/// Order of the single-site updates of an MCMC sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanArg {
    /// Every free variable once per sweep, in a fixed order
    Systematic,
    /// As many updates per sweep as free variables, each at a uniformly drawn variable
    Random,
    /// Graph-coloured: the variables of one colour are updated in parallel (large grids)
    Chromatic,
}

/// Chain settings of the MCMC methods (gibbs, mh, block). Every value is optional so that giving one to
/// a method it does not apply to is an error instead of being ignored.
#[derive(Debug, Clone, Default, Args)]
pub struct McmcArgs {
    /// gibbs/mh/block: number of chains, run in parallel [default: 4]
    #[arg(long, value_name = "C")]
    pub chains: Option<usize>,

    /// gibbs/mh/block: sweeps discarded at the start of every chain [default: 1000]
    #[arg(long, value_name = "B", visible_alias = "warmup")]
    pub burn_in: Option<usize>,

    /// gibbs/mh/block: keep every K-th sweep as a draw [default: 1]
    #[arg(long, value_name = "K")]
    pub thin: Option<usize>,

    /// gibbs/mh/block: order of the updates in a sweep (block: systematic or random over the
    /// blocks) [default: systematic]
    #[arg(long, value_enum, value_name = "ORDER")]
    pub scan: Option<ScanArg>,
}

impl McmcArgs {
    /// Error when a chain setting was given but `method` does not run chains.
    pub fn only_for_mcmc(&self, method: &str) -> anyhow::Result<()> {
        let given = [
            ("--chains", self.chains.is_some()),
            ("--burn-in", self.burn_in.is_some()),
            ("--thin", self.thin.is_some()),
            ("--scan", self.scan.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            anyhow::bail!(
                "{flag} applies to the MCMC methods (gibbs, mh, block), not to --method {method}"
            );
        }
        Ok(())
    }

    /// Number of chains (checked to be at least 1).
    pub fn num_chains(&self) -> anyhow::Result<usize> {
        let c = self.chains.unwrap_or(4);
        if c == 0 {
            anyhow::bail!("--chains must be at least 1 (got 0)");
        }
        Ok(c)
    }

    /// The chain-runner configuration for `draws` draws per chain (`draws >= 1`).
    pub fn config(&self, chains: usize, draws: usize, seed: u64) -> anyhow::Result<ChainConfig> {
        let thin = self.thin.unwrap_or(1);
        if thin == 0 {
            anyhow::bail!("--thin must be at least 1 (got 0)");
        }
        Ok(ChainConfig {
            chains,
            warmup: self.burn_in.unwrap_or(1000),
            draws,
            thin,
            seed,
            ..ChainConfig::default()
        })
    }

    /// The options of `kernel` (an MCMC method's kernel): the scan order, which blocked Gibbs
    /// takes as systematic or random over its blocks.
    pub fn kernel_options(&self, kernel: Kernel) -> anyhow::Result<KernelOptions> {
        let scan = match self.scan.unwrap_or(ScanArg::Systematic) {
            ScanArg::Systematic => Scan::Systematic,
            ScanArg::Random => Scan::Random,
            ScanArg::Chromatic => Scan::Chromatic,
        };
        if kernel == Kernel::BlockGibbs && scan == Scan::Chromatic {
            anyhow::bail!(
                "--scan chromatic applies to the single-site methods (gibbs, mh), not to \
                 --method block (its scans: systematic, random)"
            );
        }
        Ok(KernelOptions {
            gibbs: GibbsOptions {
                scan,
                ..GibbsOptions::default()
            },
            block: BlockOptions {
                random_scan: scan == Scan::Random,
                ..BlockOptions::default()
            },
            reversible: false,
        })
    }
}

/// A count that must be at least 1 (checked at run time so that the error is one `error:` line
/// with exit code 1, like every other bad value).
pub fn at_least_one(flag: &str, n: usize) -> anyhow::Result<usize> {
    if n == 0 {
        anyhow::bail!("{flag} must be at least 1 (got 0)");
    }
    Ok(n)
}

/// The Bayesian network of a model, or an error saying that `what` needs one.
pub fn require_bayes<'a>(
    loaded: &'a Loaded,
    what: &str,
    instead: &str,
) -> anyhow::Result<&'a pgmkit::BayesNet> {
    match &loaded.model {
        Model::Bayes(bn) => Ok(bn),
        Model::Markov(_) => anyhow::bail!(
            "{what} needs a Bayesian network, but {} is a Markov network; use {instead}",
            loaded.path.display()
        ),
    }
}

/// A model file plus the evidence and exact-inference limits to use with it.
#[derive(Debug, Clone, Args)]
pub struct ModelQuery {
    /// Model file: .bif, XMLBIF .xml / .xmlbif / .bifxml or Hugin .net (Bayesian network), .uai
    /// (UAI MARKOV or BAYES) or .fg (libDAI factor graph)
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,

    /// Evidence: a UAI .evid file, or VAR=STATE,... (states by name or by 0-based index; UAI
    /// variables are named 0, 1, 2, ...)
    #[arg(long, short, value_name = "FILE.evid | VAR=STATE,...")]
    pub evidence: Option<String>,

    /// Largest memory exact inference may use for its tables, in GiB
    /// [default: 12, or less when the machine's memory or `ulimit -v` allows less]
    #[arg(long, value_name = "GB", value_parser = parse_positive_f64, allow_negative_numbers = true)]
    pub memory_limit: Option<f64>,
}

impl ModelQuery {
    /// Exact-inference options from the arguments.
    pub fn exact_options(&self) -> ExactOptions {
        ExactOptions {
            memory_limit: self.memory_limit_bytes(),
            ..ExactOptions::default()
        }
    }

    /// `--memory-limit` in bytes (the library's default when not given).
    pub fn memory_limit_bytes(&self) -> f64 {
        self.memory_limit
            .map_or_else(pgmkit::limits::default_memory_limit, |g| {
                g * (1u64 << 30) as f64
            })
    }
}

/// A `--time-limit` value: positive seconds, at most [`pgmkit::limits::MAX_SECONDS`].
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    let x = s
        .trim()
        .parse::<f64>()
        .map_err(|e| format!("'{s}' is not a number of seconds: {e}"))?;
    pgmkit::limits::seconds("the time limit", x)
        .map(|_| x)
        .map_err(|e| match e {
            pgmkit::Error::InvalidArgument(m) => m,
            e => e.to_string(),
        })
}

fn parse_positive_f64(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        Ok(_) => Err(format!("'{s}' is not a positive number")),
        Err(e) => Err(format!("'{s}' is not a number: {e}")),
    }
}

/// A model read from a file, with how long reading it took.
pub struct Loaded {
    pub path: PathBuf,
    pub format: ModelFormat,
    pub model: Model,
    pub load_seconds: f64,
}

/// Human name of a file format.
pub fn format_name(f: ModelFormat) -> &'static str {
    match f {
        ModelFormat::Bif => "BIF",
        ModelFormat::Uai => "UAI",
        ModelFormat::Fg => "libDAI .fg",
        ModelFormat::XmlBif => "XMLBIF",
        ModelFormat::Net => "Hugin .net",
    }
}

/// "Bayesian network" or "Markov network".
pub fn kind_name(m: &Model) -> &'static str {
    match m {
        Model::Bayes(_) => "Bayesian network",
        Model::Markov(_) => "Markov network",
    }
}

/// Machine-readable form of [`kind_name`].
pub fn kind_id(m: &Model) -> &'static str {
    match m {
        Model::Bayes(_) => "bayesian_network",
        Model::Markov(_) => "markov_network",
    }
}

/// Load a model file with the global options.
pub fn load(path: &Path, global: &GlobalArgs) -> anyhow::Result<Loaded> {
    if super::rbm::is_rbm(path) {
        anyhow::bail!(
            "{}: a restricted Boltzmann machine (pgmkit-rbm JSON); RBMs are read by info, logz, \
             score, sample and convert (and written by learn --rbm)",
            path.display()
        );
    }
    if super::gaussian::is_gaussian(path) {
        anyhow::bail!(
            "{}: a Gaussian model (JSON); this command reads discrete models only (.bif, .uai, \
             .fg)",
            path.display()
        );
    }
    let format = ModelFormat::from_path(path).map_err(|e| file_error(path, e))?;
    let opts = LoadOptions {
        renormalize: global.renormalize,
        ..LoadOptions::default()
    };
    let t = Instant::now();
    let model = pgmkit::io::load_model(path, &opts).map_err(|e| file_error(path, e))?;
    Ok(Loaded {
        path: path.to_path_buf(),
        format,
        model,
        load_seconds: t.elapsed().as_secs_f64(),
    })
}

/// An error met while reading `path`, naming the file exactly once (I/O errors already do).
pub fn file_error(path: &Path, e: pgmkit::Error) -> anyhow::Error {
    match e {
        // an I/O error prints the path it met
        pgmkit::Error::Io { .. } => e.into(),
        e => anyhow::Error::new(e).context(path.display().to_string()),
    }
}

/// Evidence from `--evidence`: a `.evid` file when the value names an existing file or ends with
/// `.evid`, else a `VAR=STATE,...` list. No value = no evidence.
pub fn evidence(spec: Option<&str>, vars: &[Variable]) -> anyhow::Result<Evidence> {
    let Some(spec) = spec else {
        return Ok(Evidence::new(vars.len()));
    };
    if spec.trim().is_empty() {
        anyhow::bail!("--evidence is empty; leave it out for no evidence");
    }
    let path = Path::new(spec);
    if spec.ends_with(".evid") || path.is_file() {
        let text = pgmkit::io::read_text(path)?;
        pgmkit::io::uai::parse_evid(&text, vars).map_err(|e| file_error(path, e))
    } else {
        Ok(Evidence::parse_spec(vars, spec)?)
    }
}

/// The observed `(variable name, state name)` pairs, in variable order.
pub fn evidence_pairs(ev: &Evidence, vars: &[Variable]) -> Vec<(String, String)> {
    ev.iter()
        .map(|(v, s)| {
            let var = &vars[v.index()];
            (var.name.clone(), var.states[s].clone())
        })
        .collect()
}

/// `VAR=STATE, ...` (or `none`) for text output.
pub fn evidence_text(ev: &Evidence, vars: &[Variable]) -> String {
    if ev.is_empty() {
        return "none".to_string();
    }
    evidence_pairs(ev, vars)
        .iter()
        .map(|(v, s)| format!("{v}={s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The seed of a stochastic command and the form of its output.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Seed of every random stream of the command (sampling, AIS, the spanning trees of TRW);
    /// the same seed gives the same output for any --threads
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `A..B` (B excluded), as in Rust and Python.
pub fn parse_range(s: &str) -> Result<std::ops::Range<usize>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("'{s}' is not a range A..B (e.g. 0..32)"))?;
    let num = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{t}' in '{s}' is not an index (0, 1, 2, ...)"))
    };
    let (a, b) = (num(a)?, num(b)?);
    if a >= b {
        return Err(format!("the range {a}..{b} is empty (A must be below B)"));
    }
    Ok(a..b)
}
