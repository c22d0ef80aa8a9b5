//! `pgmkit learn MODEL --data D.csv --out LEARNED`: fit the parameters of an undirected model
//! (its factor scopes from MODEL) to complete data, by exact maximum likelihood or maximum
//! pseudo-likelihood ([`pgmkit::learn::markov`]).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use pgmkit::factor::loglinear::LogLinear;
use pgmkit::infer::exact::ExactOptions;
use pgmkit::io::ModelFormat;
use pgmkit::learn::markov::{fit, objective, MarkovLearnOptions, MarkovMethod, PcdOptions};
use pgmkit::model::{FactorGraph, Model};
use serde::Serialize;

use super::args::{self, GlobalArgs};
use super::data_args::TableArgs;
use super::output::{self, OrderedMap};

/// `learn --method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LearnMethod {
    /// Exact maximum likelihood (the gradient from exact factor marginals; the model's width
    /// must fit in --memory-limit)
    Exact,
    /// Maximum pseudo-likelihood (local conditionals; any size)
    Pl,
    /// Maximum composite likelihood (each factor's scope given the rest; any size)
    Cl,
    /// Stochastic maximum likelihood by persistent contrastive divergence (Gibbs chains; any
    /// size): --chains, --steps, --rate, --batch, --seed; with --rbm, PCD training of the RBM
    Pcd,
    /// With --rbm: contrastive divergence CD-k (--cd-k)
    Cd,
}

/// `learn --params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Params {
    /// Ising parameters (a field per one-variable factor, a coupling per two-variable factor)
    /// when every variable is binary and every factor has at most two variables, else one per
    /// table entry
    Auto,
    /// One parameter per table entry (over-complete: the L2 penalty makes the fit unique)
    Entry,
    /// Ising couplings and fields over spins s = 2x - 1
    Ising,
    /// Potts couplings J [a == b] and per-state fields (pairwise factors over variables with as
    /// many states)
    Potts,
}

/// Arguments of `pgmkit learn`.
#[derive(Debug, Args)]
#[command(
    after_help = "The factor scopes come from MODEL; its tables are the starting point. \
    LEARNED is written in its extension's format (.uai or .fg), atomically.\n\n\
    Examples:\n  \
    pgmkit sample tests/data/fg/ising_10x10_open.fg --n 20000 --method gibbs --out grid.csv\n  \
    pgmkit learn tests/data/fg/ising_10x10_open.fg --data grid.csv --out learned.fg --method pl"
)]
pub struct LearnArgs {
    /// Model giving the factor scopes (.uai, .fg; a Bayesian network is learned as its factor
    /// graph); not with --rbm
    #[arg(value_name = "MODEL", required_unless_present_any = ["rbm", "structure", "classifier", "latent"])]
    pub model: Option<PathBuf>,

    /// Learn a Bayesian network's structure and parameters from the data alone (--score,
    /// --max-parents, --tabu, --restarts, --seed, --ignore); LEARNED is .bif
    #[arg(long, value_enum, value_name = "ALGO", conflicts_with_all = ["model", "rbm"])]
    pub structure: Option<super::structure::StructureAlgo>,

    /// Learn a generative classifier of --target from the data alone: nb (naive Bayes), tan or
    /// stan (selective tree-augmented naive Bayes); LEARNED is .bif (use it with `pgmkit classify`)
    #[arg(long, value_enum, value_name = "KIND", conflicts_with_all = ["model", "rbm", "structure"], requires = "target")]
    pub classifier: Option<super::structure::ClassifierArg>,

    /// Fit a latent class model from the data alone: a hidden root with K states (or `auto`: K
    /// chosen by BIC up to --max-classes) over every column, by EM with --restarts random
    /// starts; LEARNED is .bif, its first variable the latent class
    #[arg(long, value_name = "K|auto", conflicts_with_all = ["model", "rbm", "structure", "classifier"])]
    pub latent: Option<String>,

    /// --latent auto: the largest number of classes tried
    #[arg(long, value_name = "K", default_value_t = 10)]
    pub max_classes: usize,

    /// --latent: write p(class | row) of every row (CSV: row, one column per class, the most
    /// probable class)
    #[arg(long, value_name = "FILE.csv", requires = "latent")]
    pub posteriors: Option<PathBuf>,

    /// --structure, --classifier, --latent: Dirichlet pseudo-count added to every CPT cell of the
    /// written network [default: none (maximum likelihood) for --structure and --latent, 1
    /// (Laplace) for --classifier]
    #[arg(long, value_name = "ALPHA")]
    pub prior_count: Option<f64>,

    /// --classifier: the class variable (a column of the data)
    #[arg(long, value_name = "VAR")]
    pub target: Option<String>,

    /// --structure hc: arcs never added, e.g. "A->B,C->D"
    #[arg(long, value_name = "ARCS")]
    pub forbid: Option<String>,

    /// --structure hc: arcs always present, e.g. "A->B"
    #[arg(long, value_name = "ARCS")]
    pub require: Option<String>,

    /// --structure pc: significance level of the G² independence tests
    #[arg(long, value_name = "A", default_value_t = 0.05)]
    pub alpha: f64,

    /// --structure: the network score
    #[arg(long, value_enum, default_value_t = super::structure::ScoreArg::Bic)]
    pub score: super::structure::ScoreArg,

    /// --structure: equivalent sample size of the BDeu score
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    pub ess: f64,

    /// --structure: most parents of a variable
    #[arg(long, value_name = "K", default_value_t = 4)]
    pub max_parents: usize,

    /// --structure: non-improving tabu steps after a local optimum (0: plain greedy ascent)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub tabu: usize,

    /// --structure: random restarts from the best network found; --latent: extra random EM
    /// starts
    #[arg(long, value_name = "R", default_value_t = 10)]
    pub restarts: usize,

    /// --structure: random arc reversals and deletions that perturb the best network before
    /// each restart [default: the number of variables, at least 10]
    #[arg(long, value_name = "N")]
    pub perturb: Option<usize>,

    /// Train a restricted Boltzmann machine on 0/1 data instead (--hidden, --epochs, --method
    /// cd|pcd, --batch, --rate, --seed, --ignore); LEARNED is RBM JSON
    #[arg(long, conflicts_with = "model")]
    pub rbm: bool,

    /// --rbm: hidden units
    #[arg(long, value_name = "H", default_value_t = 20)]
    pub hidden: usize,

    /// --rbm: passes over the data
    #[arg(long, value_name = "E", default_value_t = 20)]
    pub epochs: usize,

    /// --rbm: Gibbs steps of CD-k
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub cd_k: usize,

    /// --rbm: columns of the data that are not visible units (e.g. a label), comma-separated
    #[arg(long, value_name = "COLS")]
    pub ignore: Option<String>,

    /// Complete data: CSV (or .csv.gz), header = variable names, cells = state names; columns
    /// that are not model variables are ignored
    #[arg(long, short, value_name = "D.csv")]
    pub data: PathBuf,

    /// Where to write the learned model (.uai or .fg)
    #[arg(long, short, value_name = "LEARNED")]
    pub out: PathBuf,

    /// Objective [default: pl; with --rbm, pcd]
    #[arg(long, short, value_enum)]
    pub method: Option<LearnMethod>,

    /// Parametrisation of the tables
    #[arg(long, value_enum, default_value_t = Params::Auto)]
    pub params: Params,

    /// L2 penalty (l2/2 |θ|² per row)
    #[arg(long, value_name = "X", default_value_t = 1e-4)]
    pub l2: f64,

    /// L1 penalty (l1 |θ|₁ per row): sparse parameters (OWL-QN for exact and pl)
    #[arg(long, value_name = "X", default_value_t = 0.0)]
    pub l1: f64,

    /// Largest number of L-BFGS iterations
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub max_iters: usize,

    /// Stop when the largest gradient entry (per row) is at most this
    #[arg(long, value_name = "TOL", default_value_t = 1e-5)]
    pub tol: f64,

    /// Wall-clock budget in seconds for the whole command (L-BFGS stops after the iteration
    /// that passes it, PCD after the step; the output then says so)
    #[arg(long, value_name = "SECONDS", value_parser = super::args::parse_seconds)]
    pub time_limit: Option<f64>,

    /// PCD: persistent Gibbs chains
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub chains: usize,

    /// PCD: gradient steps (one Gibbs sweep of every chain each)
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub steps: usize,

    /// PCD: learning rate of step t, RATE / (1 + 10 t / steps)
    #[arg(long, value_name = "RATE", default_value_t = 0.1)]
    pub rate: f64,

    /// PCD: rows of the data term per step [default: all rows]; --rbm: rows per update
    /// [default: 10]
    #[arg(long, value_name = "ROWS")]
    pub batch: Option<usize>,

    /// PCD: seed of the chains and batches (the same output for any --threads)
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,

    #[command(flatten)]
    pub csv: TableArgs,

    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct LearnJson {
    model: String,
    data: String,
    out: String,
    method: &'static str,
    params: &'static str,
    num_params: usize,
    rows: usize,
    /// penalised objective per row (nats) at the result
    objective: f64,
    /// whether --time-limit stopped the fit early
    time_limited: bool,
    /// what `objective` is: log_likelihood (exact) or pseudo_log_likelihood (pl, pcd)
    objective_kind: &'static str,
    /// mean log-likelihood per row of the data under the learned model (exact only)
    log_likelihood: Option<f64>,
    iterations: usize,
    evaluations: usize,
    converged: bool,
    l2: f64,
    parameters: OrderedMap<f64>,
    seconds: f64,
}

pub fn run(global: &GlobalArgs, a: &LearnArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if a.latent.is_some() {
        return super::structure::latent(global, a, out);
    }
    if a.structure.is_some() || a.classifier.is_some() {
        return super::structure::learn(global, a, out);
    }
    let Some(model) = a.model.as_ref().filter(|_| !a.rbm) else {
        return super::rbm::learn(global, a, out);
    };
    let out_format = ModelFormat::from_path(&a.out)?;
    if out_format == ModelFormat::Bif {
        anyhow::bail!(
            "--out {}: a learned undirected model is written as .uai or .fg",
            a.out.display()
        );
    }
    pgmkit::io::outputs::check_outputs(
        &[
            ("the model", model.as_path()),
            ("the data", a.data.as_path()),
        ],
        &[("--out", a.out.as_path())],
    )?;
    let loaded = args::load(model, global)?;
    let fg: FactorGraph = loaded.model.to_factor_graph();
    let t = Instant::now();
    // columns that are not model variables are set aside (unless --reject-extra-columns)
    let table = pgmkit::data::csv::read_csv_path(&a.data, fg.vars(), &a.csv.options(false))?;
    let read_s = t.elapsed().as_secs_f64();
    let binary_pairwise = fg.vars().iter().all(|v| v.card() == 2)
        && fg.factors().iter().all(|f| f.scope().len() <= 2);
    let kind = match a.params {
        Params::Auto if binary_pairwise => Params::Ising,
        Params::Auto => Params::Entry,
        p => p,
    };
    let (ll, start) = match kind {
        Params::Ising => {
            let ll = LogLinear::ising(&fg)?;
            let start = ll.theta_of_ising(&fg)?;
            (ll, start)
        }
        Params::Potts => {
            let ll = LogLinear::potts(&fg)?;
            let start = vec![0.0; ll.num_params()];
            (ll, start)
        }
        _ => LogLinear::per_entry(&fg),
    };
    let method = match a.method.unwrap_or(LearnMethod::Pl) {
        LearnMethod::Exact => MarkovMethod::Exact,
        LearnMethod::Pl => MarkovMethod::PseudoLikelihood,
        LearnMethod::Cl => MarkovMethod::Composite,
        LearnMethod::Pcd => MarkovMethod::Pcd,
        LearnMethod::Cd => anyhow::bail!("--method cd trains an RBM (with --rbm); use pcd"),
    };
    let opts = MarkovLearnOptions {
        method,
        l2: a.l2,
        l1: a.l1,
        max_iters: a.max_iters,
        grad_tol: a.tol,
        exact: ExactOptions::default(),
        deadline: super::command_deadline(a.time_limit.map(std::time::Duration::from_secs_f64)),
        pcd: PcdOptions {
            chains: a.chains,
            steps: a.steps,
            rate: a.rate,
            batch: a.batch,
            seed: a.seed,
            ..PcdOptions::default()
        },
    };
    let bar = super::progress::Bar::spinner(global, &format!("learning by {}", method.name()));
    let f = fit(&ll, &table.data, &start, &opts);
    bar.finish();
    let f = f?;
    let log_likelihood = if method == MarkovMethod::Exact {
        let exact = MarkovLearnOptions {
            l2: 0.0,
            ..opts.clone()
        };
        Some(objective(&ll, &table.data, &f.theta, &exact)?.0)
    } else {
        None
    };
    let t = Instant::now();
    pgmkit::io::save_model(&Model::Markov(f.model.clone()), &a.out)?;
    let write_s = t.elapsed().as_secs_f64();
    let params = match kind {
        Params::Ising => "ising",
        Params::Potts => "potts",
        _ => "entry",
    };
    if a.json {
        let j = LearnJson {
            model: model.display().to_string(),
            data: a.data.display().to_string(),
            out: a.out.display().to_string(),
            method: method.name(),
            params,
            num_params: ll.num_params(),
            rows: table.data.num_rows(),
            objective: f.objective,
            time_limited: f.time_limited,
            objective_kind: if method == MarkovMethod::Exact {
                "log_likelihood"
            } else {
                "pseudo_log_likelihood"
            },
            log_likelihood,
            iterations: f.iterations,
            evaluations: f.evaluations,
            converged: f.converged,
            l2: a.l2,
            parameters: OrderedMap(
                ll.param_names()
                    .iter()
                    .cloned()
                    .zip(f.theta.iter().copied())
                    .collect(),
            ),
            seconds: loaded.load_seconds + read_s + f.seconds + write_s,
        };
        return output::write_json(out, &j);
    }
    if global.quiet {
        return Ok(());
    }
    writeln!(
        out,
        "data: {} rows x {} variables ({})",
        table.data.num_rows(),
        fg.num_vars(),
        a.data.display()
    )?;
    writeln!(
        out,
        "learned {} {} parameters by {} in {} iterations ({} evaluations, {}){}",
        ll.num_params(),
        params,
        match method {
            MarkovMethod::Exact => "exact maximum likelihood",
            MarkovMethod::Pcd => "persistent contrastive divergence",
            _ => "maximum pseudo-likelihood",
        },
        f.iterations,
        f.evaluations,
        output::duration(f.seconds),
        if f.time_limited {
            " (stopped by --time-limit)"
        } else if f.converged {
            ""
        } else {
            " (not converged: raise --max-iters or --tol)"
        }
    )?;
    match log_likelihood {
        Some(l) => writeln!(
            out,
            "log-likelihood per row {l:.6} nats (L2 penalty {})",
            a.l2
        )?,
        None => writeln!(
            out,
            "pseudo-log-likelihood per row {:.6} nats at the result (penalised, L2 {})",
            f.objective, a.l2
        )?,
    }
    writeln!(
        out,
        "wrote {} ({}) in {}",
        a.out.display(),
        args::format_name(out_format),
        output::duration(read_s + write_s)
    )?;
    Ok(())
}
