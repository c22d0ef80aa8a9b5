//! Arguments shared by several subcommands, and the helpers that turn them into library values.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use pgmkit::infer::exact::ExactOptions;
use pgmkit::io::{LoadOptions, ModelFormat};
use pgmkit::model::Model;
use pgmkit::{Evidence, Variable};

/// Options accepted by every subcommand (before or after its name).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Divide every CPT column by its sum when loading (for files whose columns do not sum to 1
    /// within the tolerance 1e-5); by default probabilities are used exactly as written
    #[arg(long, global = true)]
    pub renormalize: bool,

    /// Number of worker threads [default: one per CPU, or RAYON_NUM_THREADS]
    #[arg(long, global = true, value_name = "T", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,

    /// Print only the results: no headers, notes or timings
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// Inference method. Every method is one value here; later methods (sampling, AIS, variational)
/// are added as further values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Exact: variable elimination / junction tree over a min-fill-type elimination order
    /// (barren variables pruned first for a Bayesian network); refuses models whose tables would
    /// exceed --memory-limit
    Exact,
}

impl Method {
    /// The name used on the command line and in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Method::Exact => "exact",
        }
    }
}

/// A model file plus the evidence and exact-inference limits to use with it.
#[derive(Debug, Clone, Args)]
pub struct ModelQuery {
    /// Model file: .bif (Bayesian network), .uai (UAI MARKOV or BAYES) or .fg (libDAI factor graph)
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,

    /// Evidence: a UAI .evid file, or VAR=STATE,... (states by name or by 0-based index; UAI
    /// variables are named 0, 1, 2, ...)
    #[arg(long, short, value_name = "FILE.evid | VAR=STATE,...")]
    pub evidence: Option<String>,

    /// Largest memory exact inference may use for its tables, in GiB
    #[arg(long, value_name = "GB", default_value_t = 12.0, value_parser = parse_positive_f64, allow_negative_numbers = true)]
    pub memory_limit: f64,
}

impl ModelQuery {
    /// Exact-inference options from the arguments.
    pub fn exact_options(&self) -> ExactOptions {
        ExactOptions {
            memory_limit: self.memory_limit * (1u64 << 30) as f64,
            ..ExactOptions::default()
        }
    }
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
    let format = ModelFormat::from_path(path)?;
    let opts = LoadOptions {
        renormalize: global.renormalize,
        ..LoadOptions::default()
    };
    let t = Instant::now();
    let model = pgmkit::io::load_model(path, &opts)?;
    Ok(Loaded {
        path: path.to_path_buf(),
        format,
        model,
        load_seconds: t.elapsed().as_secs_f64(),
    })
}

/// Evidence from `--evidence`: a `.evid` file when the value names an existing file or ends with
/// `.evid`, else a `VAR=STATE,...` list. No value = no evidence.
pub fn evidence(spec: Option<&str>, vars: &[Variable]) -> anyhow::Result<Evidence> {
    let Some(spec) = spec else {
        return Ok(Evidence::new(vars.len()));
    };
    let path = Path::new(spec);
    if spec.ends_with(".evid") || path.is_file() {
        let text = pgmkit::io::read_text(path)?;
        Ok(pgmkit::io::uai::parse_evid(&text, vars)?)
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
