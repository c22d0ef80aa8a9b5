//! `pgmkit sample MODEL --n N`: draw rows from a model and write them as CSV.
//!
//! - `forward`: ancestral samples of a Bayesian network (no evidence), streamed in blocks;
//! - `lw`: likelihood-weighted rows of a Bayesian network under the evidence, with a final
//!   `log_weight` column (natural log), streamed;
//! - `gibbs` / `mh`: MCMC draws of any model under the evidence: a first `chain` column (0-based),
//!   rows chain-major (all draws of chain 0, then chain 1, ...). Each of the `C` chains keeps
//!   `ceil(N / C)` draws (after burn-in and thinning) and the last chain is cut so that exactly
//!   `N` rows are written; the draws are held in memory until written.
//!
//! Cells are state names; observed variables appear with their observed state. With `--out` the
//! file is written to a temporary file and renamed into place when complete; without it the CSV
//! goes to stdout.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use pgmkit::model::Model;
use pgmkit::sample::ancestral::ForwardSampler;
use pgmkit::sample::chains::{run_mcmc, ChainSummary};
use pgmkit::sample::kernel::Kernel;
use pgmkit::sample::weighting::LikelihoodWeighting;

use super::args::{self, GlobalArgs, McmcArgs};
use super::output;
use super::progress::{Bar, LineCounter};

/// Largest memory the MCMC draws of `sample` may hold before they are written.
const MAX_TRACE_BYTES: usize = 1 << 30;

/// Above this split-R-hat the summary warns that the chains have not mixed.
const RHAT_WARN: f64 = 1.01;

/// How `sample` draws rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SampleMethod {
    /// Forward (ancestral) sampling of a Bayesian network: independent exact draws from the
    /// prior; no evidence
    Forward,
    /// Likelihood weighting (Bayesian networks): forward draws with the evidence clamped, and a
    /// final log_weight column
    #[value(alias = "likelihood-weighting")]
    Lw,
    /// Gibbs sampling (any model, any evidence): MCMC draws from the posterior, first column
    /// `chain`
    Gibbs,
    /// Metropolis-Hastings (any model, any evidence): MCMC draws, first column `chain`
    #[value(alias = "metropolis")]
    Mh,
    /// Blocked Gibbs (any model, any evidence; crosses deterministic relations): MCMC draws,
    /// first column `chain`
    #[value(alias = "block-gibbs")]
    Block,
}

impl SampleMethod {
    fn name(self) -> &'static str {
        match self {
            SampleMethod::Forward => "forward",
            SampleMethod::Lw => "lw",
            SampleMethod::Gibbs => "gibbs",
            SampleMethod::Mh => "mh",
            SampleMethod::Block => "block",
        }
    }
}

/// Arguments of `pgmkit sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Model file: .bif (Bayesian network), .uai (UAI MARKOV or BAYES) or .fg (libDAI factor graph)
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,

    /// Number of rows to write (for gibbs/mh: over all chains)
    #[arg(long, short = 'n', value_name = "N")]
    pub n: usize,

    /// Sampling method [default: forward for a Bayesian network, gibbs for a Markov network]
    #[arg(long, short, value_enum)]
    pub method: Option<SampleMethod>,

    /// Evidence (lw, gibbs, mh): a UAI .evid file, or VAR=STATE,... (states by name or by
    /// 0-based index; UAI variables are named 0, 1, 2, ...)
    #[arg(long, short, value_name = "FILE.evid | VAR=STATE,...")]
    pub evidence: Option<String>,

    /// Seed of the random streams; the same seed gives the same rows for any --threads
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,

    /// Write the CSV to this file (atomically: a temporary file renamed into place) instead of
    /// stdout
    #[arg(long, short, value_name = "FILE.csv")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub mcmc: McmcArgs,
}

/// What was written, for the summary.
struct Written {
    method: SampleMethod,
    rows: usize,
    vars: usize,
    seconds: f64,
    /// MCMC: the run, its burn-in and thinning.
    chains: Option<(ChainSummary, usize, usize)>,
}

/// Most rows `sample` writes in one run.
const MAX_ROWS: usize = 1_000_000_000_000;

pub fn run(global: &GlobalArgs, a: &SampleArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let n = args::at_least_one("--n", a.n)?;
    if n > MAX_ROWS {
        anyhow::bail!(
            "--n {n} is more rows than one run writes (at most {MAX_ROWS}); split the work over \
             several runs with different --seed values"
        );
    }
    if let Some(p) = &a.out {
        let mut inputs = vec![("the model", a.model.as_path())];
        if let Some(e) = a
            .evidence
            .as_deref()
            .filter(|e| std::path::Path::new(e).is_file())
        {
            inputs.push(("the evidence file", std::path::Path::new(e)));
        }
        pgmkit::io::outputs::check_outputs(&inputs, &[("--out", p.as_path())])?;
    }
    if super::rbm::is_rbm(&a.model) {
        return super::rbm::sample(global, a, out);
    }
    if super::gaussian::is_gaussian(&a.model) {
        if a.method.is_some_and(|m| m != SampleMethod::Forward) {
            anyhow::bail!(
                "Gaussian models are sampled exactly (--method forward: ancestral for a Bayesian \
                 network, Cholesky draws for a GMRF or under evidence)"
            );
        }
        a.mcmc.only_for_mcmc("forward")?;
        let ev = a.evidence.as_deref();
        let dest = a.out.as_deref();
        return super::gaussian::sample(global, &a.model, ev, n, a.seed, dest, out);
    }
    let loaded = args::load(&a.model, global)?;
    let vars = loaded.model.vars();
    let ev = args::evidence(a.evidence.as_deref(), vars)?;
    let method = a.method.unwrap_or(match loaded.model {
        Model::Bayes(_) => SampleMethod::Forward,
        Model::Markov(_) => SampleMethod::Gibbs,
    });
    if !matches!(
        method,
        SampleMethod::Gibbs | SampleMethod::Mh | SampleMethod::Block
    ) {
        a.mcmc.only_for_mcmc(method.name())?;
    }

    let t = Instant::now();
    // a sampler that streams its rows to the output, with a progress bar over the rows
    let mut stream_rows = |label: &str,
                           write: &mut dyn FnMut(&mut dyn Write, &Bar) -> anyhow::Result<()>|
     -> anyhow::Result<Written> {
        let bar = Bar::new(global, n as u64, label, "rows");
        emit(a, out, |w| write(w, &bar))?;
        bar.finish();
        Ok(Written {
            method,
            rows: n,
            vars: vars.len(),
            seconds: t.elapsed().as_secs_f64(),
            chains: None,
        })
    };
    let written = match method {
        SampleMethod::Forward => {
            let bn = args::require_bayes(
                &loaded,
                "forward sampling",
                "--method gibbs or mh (MCMC draws)",
            )?;
            if !ev.is_empty() {
                anyhow::bail!(
                    "forward sampling draws from the prior and cannot condition on evidence; use \
                     --method lw (weighted rows) or --method gibbs (draws from the posterior)"
                );
            }
            let sampler = ForwardSampler::new(bn)?;
            stream_rows("forward sampling", &mut |w, bar| {
                Ok(sampler.write_csv(n, a.seed, LineCounter::new(w, bar))?)
            })?
        }
        SampleMethod::Lw => {
            let bn = args::require_bayes(
                &loaded,
                "likelihood weighting (--method lw)",
                "--method gibbs or mh (MCMC draws under the evidence)",
            )?;
            let lw = LikelihoodWeighting::new(bn, &ev)?;
            stream_rows("likelihood weighting", &mut |w, bar| {
                Ok(lw.write_csv(n, a.seed, LineCounter::new(w, bar))?)
            })?
        }
        SampleMethod::Gibbs | SampleMethod::Mh | SampleMethod::Block => {
            let kernel = match method {
                SampleMethod::Mh => Kernel::MetropolisHastings,
                SampleMethod::Block => Kernel::BlockGibbs,
                _ => Kernel::Gibbs,
            };
            let chains = a.mcmc.num_chains()?.min(n);
            let draws = n.div_ceil(chains);
            let mut cfg = a.mcmc.config(chains, draws, a.seed)?;
            let max_card = vars.iter().map(|v| v.card()).max().unwrap_or(1);
            let width = if max_card <= 1 << 8 {
                1.0
            } else if max_card <= 1 << 16 {
                2.0
            } else {
                4.0
            };
            let bytes = (chains * draws) as f64 * vars.len() as f64 * width;
            if bytes > MAX_TRACE_BYTES as f64 {
                anyhow::bail!(
                    "sample --method {} holds the draws in memory before writing them: {n} rows \
                     of {} variables need {} but the limit is {}; draw fewer rows per run (with \
                     different --seed values)",
                    method.name(),
                    vars.len(),
                    output::bytes(bytes),
                    output::bytes(MAX_TRACE_BYTES as f64)
                );
            }
            cfg.max_trace_bytes = MAX_TRACE_BYTES;
            let fg = loaded.model.to_factor_graph();
            let bar = Bar::new(
                global,
                cfg.total_sweeps(),
                &format!("{} ({chains} chains)", method.name()),
                "sweeps",
            );
            let progress = |k: u64| bar.inc(k);
            let s = run_mcmc(
                &fg,
                &ev,
                kernel,
                &a.mcmc.kernel_options(kernel)?,
                &cfg,
                Some(&progress),
            )?;
            bar.finish();
            emit(a, out, |w| write_chains_csv(&s, vars, n, w))?;
            Written {
                method,
                rows: n,
                vars: vars.len(),
                seconds: t.elapsed().as_secs_f64(),
                chains: Some((s, cfg.warmup, cfg.thin)),
            }
        }
    };
    summary(global, a, &written, out)
}

/// Write the CSV through `write` to `--out` (atomically) or to stdout.
fn emit(
    a: &SampleArgs,
    out: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    match &a.out {
        Some(path) => output::write_file_atomic(path, write),
        None => write(out),
    }
}

/// The MCMC draws as CSV: `chain`, then one column per variable; chain-major; the first `n` rows.
fn write_chains_csv(
    s: &ChainSummary,
    vars: &[pgmkit::Variable],
    n: usize,
    w: &mut dyn Write,
) -> anyhow::Result<()> {
    let traces = s
        .traces
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the chain runner kept no draws"))?;
    let mut wtr = csv::WriterBuilder::new()
        .has_headers(false)
        .buffer_capacity(1 << 16)
        .from_writer(w);
    wtr.write_record(std::iter::once("chain").chain(vars.iter().map(|v| v.name.as_str())))?;
    let chain_names: Vec<String> = (0..traces.num_chains()).map(|c| c.to_string()).collect();
    let mut rows = 0;
    'chains: for (c, cname) in chain_names.iter().enumerate() {
        for d in 0..traces.num_draws() {
            if rows == n {
                break 'chains;
            }
            wtr.write_record(
                std::iter::once(cname.as_bytes()).chain(
                    vars.iter()
                        .enumerate()
                        .map(|(i, v)| v.states[traces.state(c, d, i)].as_bytes()),
                ),
            )?;
            rows += 1;
        }
    }
    wtr.flush()?;
    Ok(())
}

/// A summary of the run: on stdout after `--out` (unless `--quiet`); on stderr when the CSV went
/// to stdout and stderr is a terminal.
fn summary(
    global: &GlobalArgs,
    a: &SampleArgs,
    w: &Written,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if global.quiet || (a.out.is_none() && !super::progress::enabled(global)) {
        return Ok(());
    }
    let mut lines = Vec::new();
    let dest = a
        .out
        .as_ref()
        .map_or("stdout".to_string(), |p| p.display().to_string());
    lines.push(format!(
        "wrote {} rows x {} variables to {dest} ({} sampling, seed {}) in {} ({} variable draws/s)",
        output::count(w.rows as f64),
        w.vars,
        w.method.name(),
        a.seed,
        output::duration(w.seconds),
        output::rate(w.rows as f64 * w.vars as f64 / w.seconds.max(1e-9)),
    ));
    if let Some((s, burn_in, thin)) = &w.chains {
        let mut l = format!(
            "{} chains x {} draws after {} burn-in sweeps (thin {}); {} updates at {}/s; acceptance {:.3}",
            s.chains,
            s.draws,
            burn_in,
            thin,
            output::count(s.updates as f64),
            output::rate(s.updates_per_second()),
            s.acceptance_rate
        );
        if let Some(d) = &s.diagnostics {
            if let Some(r) = d.max_rhat {
                l.push_str(&format!("; max R-hat {r:.3}"));
            }
            if let Some(e) = d.min_ess {
                l.push_str(&format!("; min ESS {e:.0}"));
            }
        }
        lines.push(l);
        if let Some(r) = s
            .diagnostics
            .as_ref()
            .and_then(|d| d.max_rhat)
            .filter(|&r| r > RHAT_WARN)
        {
            lines.push(format!(
                "warning: max R-hat {r:.3} > {RHAT_WARN}: the chains disagree; use a longer --burn-in"
            ));
        }
    }
    let text = lines.join("\n") + "\n";
    if a.out.is_some() {
        out.write_all(text.as_bytes())?;
    } else {
        std::io::stderr().write_all(text.as_bytes())?;
    }
    Ok(())
}
