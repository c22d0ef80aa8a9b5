//! Arguments shared by the data commands (impute, score, eval-impute): reading a CSV against a
//! model, and the EM settings.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use pgmkit::data::csv::{read_csv_path, CsvOptions, CsvTable, ExtraColumns};
use pgmkit::learn::{EmOptions, Prior, RowOptions};
use pgmkit::stop::StopRule;
use pgmkit::BayesNet;

/// How to read the data file.
#[derive(Debug, Clone, Args)]
pub struct CsvArgs {
    /// Cell texts that mean "missing", comma-separated (an empty item is the empty cell). A
    /// marker that is also a state of the column's variable is that state, never a hole
    #[arg(long, value_name = "LIST", default_value = ",NA,?,NaN")]
    pub missing: String,

    /// Variables that may have no column or an all-missing column (latent, learned by EM),
    /// comma-separated
    #[arg(long, value_name = "VAR,...")]
    pub latent: Option<String>,

    /// Refuse header columns that are not model variables [default: pass them through unchanged]
    #[arg(long)]
    pub reject_extra_columns: bool,
}

/// How to read a table for learning from data alone (no latent-variable list: `learn --latent`
/// is the latent class model).
#[derive(Debug, Clone, Args)]
pub struct TableArgs {
    /// Cell texts that mean "missing", comma-separated (an empty item is the empty cell)
    #[arg(long, value_name = "LIST", default_value = ",NA,?,NaN")]
    pub missing: String,

    /// Refuse header columns that are not model variables [default: pass them through unchanged]
    #[arg(long)]
    pub reject_extra_columns: bool,
}

impl TableArgs {
    /// Reader options.
    pub fn options(&self, keep_text: bool) -> CsvOptions {
        CsvArgs {
            missing: self.missing.clone(),
            latent: None,
            reject_extra_columns: self.reject_extra_columns,
        }
        .options(keep_text)
    }
}

impl CsvArgs {
    /// Reader options.
    pub fn options(&self, keep_text: bool) -> CsvOptions {
        CsvOptions {
            missing_markers: self.missing.split(',').map(str::to_string).collect(),
            extra_columns: if self.reject_extra_columns {
                ExtraColumns::Reject
            } else {
                ExtraColumns::PassThrough
            },
            latent: self
                .latent
                .as_deref()
                .map(|l| l.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default(),
            keep_text,
        }
    }

    /// Read `path` against the network (checking that every latent name is a variable).
    pub fn read(&self, path: &Path, bn: &BayesNet, keep_text: bool) -> anyhow::Result<CsvTable> {
        let opts = self.options(keep_text);
        for l in &opts.latent {
            bn.var_id(l)?;
        }
        Ok(read_csv_path(path, bn.vars(), &opts)?)
    }
}

/// Parameter learning from the data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Learn {
    /// Expectation-maximisation (exact per-row E-step) from the incomplete data
    Em,
}

/// EM settings.
#[derive(Debug, Clone, Args)]
pub struct EmArgs {
    /// EM: largest number of iterations
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub max_iters: usize,

    /// EM: stop when the relative change of the observed-data log-likelihood is at most this
    #[arg(long, value_name = "TOL", default_value_t = 1e-6)]
    pub tol: f64,

    /// EM: wall-clock budget in seconds (the whole command, loading included)
    #[arg(long, value_name = "SECONDS", value_parser = super::args::parse_seconds)]
    pub time_limit: Option<f64>,

    /// EM: extra random restarts (re-draw the CPTs of latent families; keep the best run)
    #[arg(long, value_name = "R", default_value_t = 0)]
    pub restarts: usize,

    /// EM: Dirichlet pseudo-count added to every CPT cell (MAP-EM) [default: none, maximum likelihood]
    #[arg(long, value_name = "ALPHA", conflicts_with = "bdeu")]
    pub prior_count: Option<f64>,

    /// EM: BDeu prior with this equivalent sample size (MAP-EM)
    #[arg(long, value_name = "ESS")]
    pub bdeu: Option<f64>,

    /// Components of missing cells with at most this many joint states are enumerated; larger
    /// ones use variable elimination
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub enum_limit: usize,

    /// EM: rows too large for exact inference get a stochastic E-step, a Gibbs chain of this many
    /// sweeps (0 = fail instead)
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub gibbs_sweeps: usize,
}

impl EmArgs {
    /// Per-row inference options.
    pub fn row_options(&self) -> RowOptions {
        RowOptions {
            enumeration_limit: self.enum_limit.max(1),
            ..RowOptions::default()
        }
    }

    /// EM options with `seed`.
    pub fn options(&self, seed: u64) -> anyhow::Result<EmOptions> {
        let mut stop = StopRule::new(self.max_iters, self.tol);
        if let Some(t) = self.time_limit {
            let limit = pgmkit::limits::seconds("--time-limit", t)?;
            let left = super::command_deadline(Some(limit))
                .remaining()
                .unwrap_or(limit);
            stop = stop.with_max_time(left);
        }
        let prior = match (self.prior_count, self.bdeu) {
            (Some(a), _) => Prior::Dirichlet(a),
            (_, Some(e)) => Prior::BDeu(e),
            _ => Prior::None,
        };
        Ok(EmOptions {
            stop,
            prior,
            restarts: self.restarts,
            seed,
            row: self.row_options(),
            gibbs_sweeps: self.gibbs_sweeps,
            ..EmOptions::default()
        })
    }
}

/// `OUT.csv` -> `OUT_k.csv` (the k-th of several completed datasets).
pub fn numbered(path: &Path, k: usize) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(e) => format!("{stem}_{k}.{}", e.to_string_lossy()),
        None => format!("{stem}_{k}"),
    };
    path.with_file_name(name)
}
