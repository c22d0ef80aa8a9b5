//! Gaussian models on the command line: `info`, `logz`, `marginals` and `sample` hand a model
//! file over to this module when it is a Gaussian model (a `.json` file, or text starting with
//! `{`): a linear-Gaussian Bayesian network in the bnlearn/pgmpy JSON layout, or a Gaussian MRF
//! in the `pgmkit-gmrf` JSON layout (see `pgmkit::io::gaussian_json`). Evidence is
//! `VAR=VALUE,...` with real values.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use pgmkit::gaussian::GaussianModel;
use pgmkit::io::gaussian_json::{self as gio, GaussianFile};
use pgmkit::sample::continuous::{continuous_ais, ContinuousAisOptions};
use pgmkit::Evidence;
use serde::Serialize;

mod sample;
pub use sample::sample;

use super::args::{GlobalArgs, Method};
use super::output::{self, OrderedMap};

/// Whether `path` names a Gaussian model file (checked before the discrete loaders run).
pub fn is_gaussian(path: &Path) -> bool {
    gio::is_gaussian_path(path)
}

/// A Gaussian model read from a file.
pub struct LoadedGaussian {
    pub path: PathBuf,
    pub file: GaussianFile,
    pub load_seconds: f64,
}

impl LoadedGaussian {
    fn names(&self) -> &[String] {
        &self.file.names
    }

    fn model(&self) -> &GaussianModel {
        &self.file.model
    }

    fn kind_id(&self) -> &'static str {
        match self.model() {
            GaussianModel::Bn(_) => "gaussian_bayesian_network",
            GaussianModel::Mrf(_) => "gaussian_mrf",
        }
    }

    fn kind_name(&self) -> &'static str {
        match self.model() {
            GaussianModel::Bn(_) => "Gaussian Bayesian network (linear-Gaussian CPDs)",
            GaussianModel::Mrf(_) => "Gaussian Markov random field (information form)",
        }
    }

    fn format_name(&self) -> &'static str {
        match self.model() {
            GaussianModel::Bn(_) => "Gaussian BN JSON",
            GaussianModel::Mrf(_) => "GMRF JSON",
        }
    }
}

/// Read a Gaussian model file.
pub fn load(path: &Path) -> anyhow::Result<LoadedGaussian> {
    let t = Instant::now();
    let file = gio::read_gaussian(path).map_err(|e| super::args::file_error(path, e))?;
    Ok(LoadedGaussian {
        path: path.to_path_buf(),
        file,
        load_seconds: t.elapsed().as_secs_f64(),
    })
}

/// Evidence `VAR=VALUE,...` on the variables of a Gaussian model
/// ([`Evidence::parse_values`]). No value = no evidence.
pub fn evidence(spec: Option<&str>, file: &GaussianFile) -> anyhow::Result<Evidence<f64>> {
    Evidence::parse_values(&file.names, spec.unwrap_or("")).map_err(|e| match e {
        pgmkit::Error::UnknownVariable(name) => {
            let shown: Vec<&str> = file.names.iter().take(8).map(String::as_str).collect();
            anyhow::anyhow!(
                "evidence on unknown variable '{name}' (the model has {} variables: {}{})",
                file.names.len(),
                shown.join(", "),
                if file.names.len() > 8 { ", ..." } else { "" }
            )
        }
        e => e.into(),
    })
}

fn evidence_map(ev: &Evidence<f64>, names: &[String]) -> OrderedMap<f64> {
    OrderedMap(
        ev.iter()
            .map(|(i, v)| (names[i.index()].clone(), v))
            .collect(),
    )
}

fn evidence_text(ev: &Evidence<f64>, names: &[String]) -> String {
    if ev.is_empty() {
        return "none".into();
    }
    ev.iter()
        .map(|(i, v)| format!("{}={v}", names[i.index()]))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// info

#[derive(Serialize)]
struct InfoJson {
    model: String,
    format: &'static str,
    kind: &'static str,
    num_variables: usize,
    /// Bayesian network: arcs; GMRF: nonzero off-diagonal precision pairs (edges).
    num_arcs: Option<usize>,
    num_edges: Option<usize>,
    max_parents: Option<usize>,
    /// BN: intercept, coefficients and variance of every CPD; GMRF: h, diagonal and edges.
    parameters: usize,
    /// ln Z with the evidence clamped (GMRF), ln p(evidence) (BN; 0 without evidence).
    log_z: f64,
    evidence: OrderedMap<f64>,
    load_seconds: f64,
    variables: Option<Vec<String>>,
}

pub fn info(
    global: &GlobalArgs,
    model: &Path,
    ev_spec: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let g = load(model)?;
    let ev = evidence(ev_spec, &g.file)?;
    let n = g.names().len();
    let (num_arcs, num_edges, max_parents, parameters) = match g.model() {
        GaussianModel::Bn(bn) => (
            Some(bn.num_arcs()),
            None,
            Some(bn.cpds().iter().map(|c| c.parents.len()).max().unwrap_or(0)),
            bn.cpds().iter().map(|c| c.parents.len() + 2).sum(),
        ),
        GaussianModel::Mrf(m) => {
            let edges = (m.precision_nnz() - n) / 2;
            (None, Some(edges), None, 2 * n + edges)
        }
    };
    let log_z = exact_log_z(&g, &ev)?;
    let j = InfoJson {
        model: g.path.display().to_string(),
        format: g.format_name(),
        kind: g.kind_id(),
        num_variables: n,
        num_arcs,
        num_edges,
        max_parents,
        parameters,
        log_z,
        evidence: evidence_map(&ev, g.names()),
        load_seconds: g.load_seconds,
        variables: (n <= 50).then(|| g.names().to_vec()),
    };
    if json {
        return output::write_json(out, &j);
    }
    writeln!(out, "model       {}", j.model)?;
    writeln!(out, "format      {}", j.format)?;
    writeln!(out, "kind        {}", g.kind_name())?;
    writeln!(out, "variables   {n} (continuous)")?;
    if let Some(a) = num_arcs {
        writeln!(
            out,
            "arcs        {a} (at most {} parents)",
            max_parents.unwrap_or(0)
        )?;
    }
    if let Some(e) = num_edges {
        writeln!(
            out,
            "edges       {e} (nonzero off-diagonal precision pairs)"
        )?;
    }
    writeln!(out, "parameters  {parameters}")?;
    writeln!(out, "evidence    {}", evidence_text(&ev, g.names()))?;
    match g.model() {
        GaussianModel::Bn(_) if ev.is_empty() => {}
        GaussianModel::Bn(_) => writeln!(out, "log p(e)    {log_z:.10}")?,
        GaussianModel::Mrf(_) => writeln!(out, "log Z       {log_z:.10} (exact, Cholesky)")?,
    }
    if !global.quiet {
        if let Some(v) = &j.variables {
            writeln!(out, "names       {}", v.join(", "))?;
        }
        writeln!(out, "seconds     {:.6} (load)", g.load_seconds)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// exact inference

/// The exact `ln Z` (`ln p(e)` for a Bayesian network) given the evidence.
fn exact_log_z(g: &LoadedGaussian, ev: &Evidence<f64>) -> anyhow::Result<f64> {
    Ok(g.model().log_z_given(ev)?)
}

/// Up to this many free variables the AIS base uses the exact largest marginal variance.
const BASE_VARIANCE_DIM: usize = 10_000;

/// About the largest eigenvalue of `Λ^-1` (power iteration from the all-ones vector, 20 solves
/// with the stored factor; the Rayleigh quotient, at most the eigenvalue).
fn largest_covariance_eigenvalue(g: &pgmkit::gaussian::Gmrf) -> anyhow::Result<f64> {
    let n = g.dim();
    let mut x = vec![1.0 / (n as f64).sqrt(); n];
    let mut rq = 0.0;
    for _ in 0..20 {
        let y = g.solve(&x)?;
        rq = x.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>();
        let norm = y.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            break;
        }
        x = y.into_iter().map(|v| v / norm).collect();
    }
    Ok(rq)
}

// ---------------------------------------------------------------------------------------------
// logz

#[derive(Serialize)]
struct LogZJson {
    method: &'static str,
    log_z: f64,
    log10_z: f64,
    std_err: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    seconds: f64,
    kind: &'static str,
    /// ais: particles, steps, effective sample size, seed; exact ln Z for comparison.
    particles: Option<usize>,
    steps: Option<usize>,
    ess: Option<f64>,
    seed: Option<u64>,
    exact_log_z: Option<f64>,
    /// ais under `--time-limit`: whether the budget cut the run (`particles` then counts the
    /// particles that finished).
    #[serde(skip_serializing_if = "Option::is_none")]
    time_limited: Option<bool>,
    model: String,
    model_kind: &'static str,
    evidence: OrderedMap<f64>,
    load_seconds: f64,
}

/// Settings of `logz` that Gaussian models use.
pub struct LogZSettings<'a> {
    pub evidence: Option<&'a str>,
    pub method: Method,
    pub particles: Option<usize>,
    pub steps: Option<usize>,
    pub seed: u64,
    pub json: bool,
    /// The command's time limit (`--time-limit`), counted from its start.
    pub time_limit: Option<std::time::Duration>,
}

pub fn logz(
    global: &GlobalArgs,
    model: &Path,
    s: &LogZSettings,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let g = load(model)?;
    let ev = evidence(s.evidence, &g.file)?;
    let t = Instant::now();
    // a GMRF is conditioned once, for the exact answer and for AIS
    let cond = match g.model() {
        GaussianModel::Mrf(m) => Some(m.condition(&ev)?),
        GaussianModel::Bn(_) => None,
    };
    let exact = match &cond {
        Some(c) => c.log_z,
        None => exact_log_z(&g, &ev)?,
    };
    let exact_seconds = t.elapsed().as_secs_f64();
    let mut j = LogZJson {
        method: "exact",
        log_z: exact,
        log10_z: exact / std::f64::consts::LN_10,
        std_err: None,
        lower: None,
        upper: None,
        seconds: exact_seconds,
        kind: "exact",
        particles: None,
        steps: None,
        ess: None,
        seed: None,
        exact_log_z: None,
        time_limited: None,
        model: g.path.display().to_string(),
        model_kind: g.kind_id(),
        evidence: evidence_map(&ev, g.names()),
        load_seconds: g.load_seconds,
    };
    match s.method {
        Method::Exact => {}
        Method::Ais => {
            let Some(c) = &cond else {
                anyhow::bail!(
                    "--method ais on a Gaussian model needs a GMRF (a Gaussian Bayesian network is \
                     normalised: use --method exact)"
                );
            };
            let Some(target) = &c.gmrf else {
                anyhow::bail!("--method ais: every variable is observed, nothing to anneal");
            };
            let d = ContinuousAisOptions::default();
            let particles = s.particles.unwrap_or(d.particles);
            let steps = s.steps.unwrap_or(d.steps);
            if particles < 2 {
                anyhow::bail!("--particles must be at least 2 (got {particles})");
            }
            if steps < 1 {
                anyhow::bail!("--steps must be at least 1 (got 0)");
            }
            // base N(0, s^2 I) with s^2 the largest marginal variance; beyond
            // BASE_VARIANCE_DIM variables (where the marginal variances cost several
            // factorisations) about the largest eigenvalue of the covariance, an upper bound
            // on it, from a few power iterations of one solve each
            let var = if target.dim() <= BASE_VARIANCE_DIM {
                target.variances().iter().fold(0.0f64, |a, &v| a.max(v))
            } else {
                largest_covariance_eigenvalue(target)?
            };
            let sd = var.sqrt().max(1e-6);
            let opts = ContinuousAisOptions {
                particles,
                steps,
                base_sd: sd,
                seed: s.seed,
                time_limit: super::command_deadline(s.time_limit).remaining(),
                ..d
            };
            let t = Instant::now();
            let r = continuous_ais(target, &opts, None)?;
            let constant = c.log_z - target.log_z();
            j.method = "ais";
            j.kind = "stochastic";
            j.log_z = r.log_z + constant;
            j.log10_z = j.log_z / std::f64::consts::LN_10;
            j.std_err = Some(r.std_err);
            j.seconds = t.elapsed().as_secs_f64();
            j.particles = Some(r.log_weights.len());
            j.steps = Some(r.betas.len() - 1);
            j.time_limited = s.time_limit.map(|_| r.time_limited);
            j.ess = Some(r.ess);
            j.seed = Some(s.seed);
            j.exact_log_z = Some(exact);
        }
        other => anyhow::bail!(
            "--method {} does not apply to Gaussian models; use --method exact (or ais on a GMRF)",
            other.name()
        ),
    }
    if s.json {
        return output::write_json(out, &j);
    }
    if global.quiet {
        writeln!(out, "{}", j.log_z)?;
        return Ok(());
    }
    let (what, what10) = match g.model() {
        GaussianModel::Bn(_) => ("log p(e)", "log10 p(e)"),
        GaussianModel::Mrf(_) => ("log Z", "log10 Z"),
    };
    writeln!(out, "model       {}", j.model)?;
    writeln!(out, "evidence    {}", evidence_text(&ev, g.names()))?;
    let how = if j.kind == "exact" {
        "exact, Cholesky"
    } else {
        "stochastic, continuous AIS with HMC"
    };
    writeln!(out, "method      {} ({how})", j.method)?;
    writeln!(out, "{what:<12}{:.10}", j.log_z)?;
    writeln!(out, "{what10:<12}{:.10}", j.log10_z)?;
    if let Some(se) = j.std_err {
        writeln!(out, "{:<12}{se:.3e}", "std err")?;
        if let (Some(p), Some(k)) = (j.particles, j.steps) {
            writeln!(out, "{:<12}{p} particles x {k} steps", "ran")?;
        }
        if j.time_limited == Some(true) {
            writeln!(
                out,
                "note: the time limit cut the run; the estimate uses what ran (above); without a \
                 time limit the run is reproducible",
            )?;
        }
        writeln!(
            out,
            "{:<12}{exact:.10} (difference {:+.3e})",
            "exact",
            j.log_z - exact
        )?;
    }
    writeln!(
        out,
        "seconds     {:.6} (inference; load {:.6})",
        j.seconds, j.load_seconds
    )?;
    if matches!(g.model(), GaussianModel::Bn(_)) && ev.is_empty() {
        writeln!(
            out,
            "note: a Gaussian Bayesian network is normalised (log p = 0 without evidence)"
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// marginals

#[derive(Serialize)]
struct MarginalJson {
    mean: f64,
    variance: f64,
    observed: bool,
}

#[derive(Serialize)]
struct MarginalsJson {
    method: &'static str,
    log_z: f64,
    seconds: f64,
    model: String,
    model_kind: &'static str,
    evidence: OrderedMap<f64>,
    marginals: OrderedMap<MarginalJson>,
    load_seconds: f64,
}

pub fn marginals(
    global: &GlobalArgs,
    model: &Path,
    ev_spec: Option<&str>,
    method: Method,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if method != Method::Exact {
        anyhow::bail!(
            "--method {} does not apply to Gaussian models; their marginals are exact (--method exact)",
            method.name()
        );
    }
    let g = load(model)?;
    let ev = evidence(ev_spec, &g.file)?;
    let t = Instant::now();
    let post = g.model().posterior(&ev)?;
    let log_z = post.log_z;
    let seconds = t.elapsed().as_secs_f64();
    let names = g.names();
    if json {
        let j = MarginalsJson {
            method: "exact",
            log_z,
            seconds,
            model: g.path.display().to_string(),
            model_kind: g.kind_id(),
            evidence: evidence_map(&ev, names),
            marginals: OrderedMap(
                names
                    .iter()
                    .enumerate()
                    .map(|(i, nm)| {
                        (
                            nm.clone(),
                            MarginalJson {
                                mean: post.means[i],
                                variance: post.variances[i],
                                observed: post.observed[i],
                            },
                        )
                    })
                    .collect(),
            ),
            load_seconds: g.load_seconds,
        };
        return output::write_json(out, &j);
    }
    let w = super::output::align_width(names.iter().map(|s| s.as_str())).max(8);
    if !global.quiet {
        writeln!(out, "model       {}", g.path.display())?;
        writeln!(out, "evidence    {}", evidence_text(&ev, names))?;
        writeln!(out, "method      exact (posterior means and variances)")?;
        writeln!(out)?;
        writeln!(
            out,
            "{:<w$}  {:>16}  {:>16}  {:>12}",
            "variable", "mean", "variance", "sd"
        )?;
    }
    for (i, nm) in names.iter().enumerate() {
        if post.observed[i] {
            writeln!(
                out,
                "{nm:<w$}  {:>16}  {:>16}  {:>12}",
                format!("{:.8}", post.means[i]),
                "observed",
                "-"
            )?;
        } else {
            writeln!(
                out,
                "{nm:<w$}  {:>16.8}  {:>16.8}  {:>12.6}",
                post.means[i],
                post.variances[i],
                post.variances[i].sqrt()
            )?;
        }
    }
    if !global.quiet {
        writeln!(out)?;
        let what = match g.model() {
            GaussianModel::Bn(_) => "log p(e)",
            GaussianModel::Mrf(_) => "log Z",
        };
        writeln!(out, "{what:<12}{log_z:.10}")?;
        writeln!(
            out,
            "seconds     {seconds:.6} (inference; load {:.6})",
            g.load_seconds
        )?;
    }
    Ok(())
}
