//! `pgmkit._pgmkit`: the Python extension module of pgmkit. It converts Python values to the
//! library's types and back and calls the library; every decision (which method, what a
//! default is, what an error means) is the library's. The public Python API is the `pgmkit`
//! package (python/pgmkit), which adds DataFrames and docs over this module.

mod convert;
mod run;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use numpy::{IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArray1};
use pgmkit::data::Dataset;
use pgmkit::infer::ais::AisResult;
use pgmkit::infer::logz::{self, LogZMethod, LogZOptions, RunDetail};
use pgmkit::infer::map::{self, MapMethod, MapOptions};
use pgmkit::infer::marginals::{self, MarginalsMethod, MarginalsOptions};
use pgmkit::io::LoadOptions;
use pgmkit::limits::Deadline;
use pgmkit::sample::ancestral::{Codes, ForwardSampler};
use pgmkit::{BayesNet, Evidence, FactorGraph, Model, VarId};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use convert::{estimate, py_err, IntoPy};
use run::detached;

/// Factors as (scope names, flat log values).
type Factors<'py> = Vec<(Vec<String>, Bound<'py, PyArray1<f64>>)>;

/// A loaded or built model (Bayesian network or Markov network). Immutable: every query leaves
/// it as it is, so one model can serve many threads.
#[pyclass(module = "pgmkit._pgmkit", name = "Model", frozen)]
struct PyModel {
    inner: Arc<Model>,
}

fn seconds(t: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    match t {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(PyValueError::new_err(format!(
            "{what} must be a positive number of seconds, got {s}"
        ))),
    }
}

fn memory(limit: Option<f64>) -> PyResult<f64> {
    match limit {
        None => Ok(pgmkit::limits::default_memory_limit()),
        Some(b) if b.is_finite() && b > 0.0 => Ok(b),
        Some(b) => Err(PyValueError::new_err(format!(
            "memory_limit must be a positive number of bytes, got {b}"
        ))),
    }
}

fn positive(v: usize, what: &str) -> PyResult<usize> {
    if v == 0 {
        Err(PyValueError::new_err(format!("{what} must be at least 1")))
    } else {
        Ok(v)
    }
}

fn bayes(m: &Model, what: &str) -> PyResult<BayesNet> {
    match m {
        Model::Bayes(b) => Ok(b.clone()),
        Model::Markov(_) => Err(PyTypeError::new_err(format!(
            "{what} needs a Bayesian network; this model is a Markov network"
        ))),
    }
}

/// Columns of state codes (one uint16 array per variable, 65535 = missing) as a dataset.
fn dataset(py: Python<'_>, m: &Model, cols: Vec<PyReadonlyArray1<'_, u16>>) -> PyResult<Dataset> {
    let cols: Vec<Vec<u16>> = cols
        .iter()
        .map(|c| c.as_slice().map(|s| s.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| PyValueError::new_err(format!("data columns must be contiguous: {e}")))?;
    Dataset::from_columns(m.vars(), cols).py(py)
}

fn columns_out<'py>(py: Python<'py>, d: &Dataset) -> Vec<Bound<'py, PyArray1<u16>>> {
    d.columns()
        .iter()
        .map(|c| c.clone().into_pyarray(py))
        .collect()
}

#[pymethods]
impl PyModel {
    /// Variable names, in model order.
    #[getter]
    fn variables(&self) -> Vec<String> {
        self.inner.vars().iter().map(|v| v.name.clone()).collect()
    }

    /// "bayes" or "markov".
    #[getter]
    fn kind(&self) -> &'static str {
        match &*self.inner {
            Model::Bayes(_) => "bayes",
            Model::Markov(_) => "markov",
        }
    }

    /// State names of `var`.
    fn states(&self, py: Python<'_>, var: &str) -> PyResult<Vec<String>> {
        let v = self.inner.var_id(var).py(py)?;
        Ok(self.inner.vars()[v.index()].states.clone())
    }

    /// Parents of `var` (Bayesian networks).
    fn parents(&self, py: Python<'_>, var: &str) -> PyResult<Vec<String>> {
        let bn = bayes(&self.inner, "parents")?;
        let v = bn.var_id(var).py(py)?;
        Ok(bn
            .parents(v)
            .iter()
            .map(|p| bn.var(*p).name.clone())
            .collect())
    }

    /// `(parents, probs)` of `var`'s CPD: probs flat with the parents in the given order (first
    /// slowest) and the child fastest.
    fn cpd<'py>(
        &self,
        py: Python<'py>,
        var: &str,
    ) -> PyResult<(Vec<String>, Bound<'py, PyArray1<f64>>)> {
        let bn = bayes(&self.inner, "cpd")?;
        let v = bn.var_id(var).py(py)?;
        let c = bn.cpd(v);
        Ok((
            c.parents.iter().map(|p| bn.var(*p).name.clone()).collect(),
            c.probs.clone().into_pyarray(py),
        ))
    }

    /// The factors as `(scope names, log values)` pairs, log values flat row-major over the
    /// scope (last variable fastest); a Bayesian network gives one factor per CPD.
    fn factors<'py>(&self, py: Python<'py>) -> PyResult<Factors<'py>> {
        let fg = self.inner.to_factor_graph();
        let vars = fg.vars();
        Ok(fg
            .factors()
            .iter()
            .map(|f| {
                (
                    f.scope()
                        .iter()
                        .map(|v| vars[v.index()].name.clone())
                        .collect(),
                    f.log_values().to_vec().into_pyarray(py),
                )
            })
            .collect())
    }

    /// Write the model to `path` (the format from its extension), atomically.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let m = Arc::clone(&self.inner);
        let p = path.clone();
        py.detach(move || pgmkit::io::save_model(&m, &p))
            .map_err(|e| py_err(py, e, Some(&path)))
    }

    /// The text `save` would write for a file of extension `ext`.
    fn to_text(&self, py: Python<'_>, ext: &str) -> PyResult<String> {
        let path = PathBuf::from(format!("model.{}", ext.trim_start_matches('.')));
        pgmkit::io::model_text(&self.inner, &path).py(py)
    }

    /// log Z (a Markov network) or log P(evidence) (a Bayesian network): a dict of the estimate's
    /// fields plus `method`, `seconds`, `runs`, `notes`.
    #[pyo3(signature = (evidence=None, method="exact", seed=0, time_limit=None, particles=None,
                        steps=None, samples=None, memory_limit=None, diagnostics=false,
                        progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn log_z<'py>(
        &self,
        py: Python<'py>,
        evidence: Option<&Bound<'py, PyDict>>,
        method: &str,
        seed: u64,
        time_limit: Option<f64>,
        particles: Option<usize>,
        steps: Option<usize>,
        samples: Option<usize>,
        memory_limit: Option<f64>,
        diagnostics: bool,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let ev = convert::evidence(py, &self.inner, evidence)?;
        let m = LogZMethod::from_name(method).ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown log Z method '{method}' (expected one of: {})",
                LogZMethod::ALL.map(LogZMethod::name).join(", ")
            ))
        })?;
        let mut opts = LogZOptions {
            seed,
            time_limit: seconds(time_limit, "time_limit")?,
            ..Default::default()
        };
        opts.exact.memory_limit = memory(memory_limit)?;
        opts.ais.seed = seed;
        opts.ais.memory_limit = opts.exact.memory_limit;
        opts.ais.diagnostics = diagnostics;
        if let Some(p) = particles {
            opts.ais.particles = positive(p, "particles")?;
        }
        if let Some(s) = steps {
            opts.ais.steps = positive(s, "steps")?;
        }
        if let Some(s) = samples {
            opts.lw_samples = positive(s, "samples")?;
        }
        let model = Arc::clone(&self.inner);
        let r = detached(py, progress, move |p| {
            logz::log_z(&model, &ev, m, &opts, Some(&|ph| p.phase(ph)))
        })?
        .py(py)?;
        let d = estimate(py, &r.estimate)?;
        d.set_item("method", r.method.name())?;
        d.set_item("seconds", r.seconds)?;
        let runs = PyList::empty(py);
        for run in &r.runs {
            let e = estimate(py, &run.estimate)?;
            e.set_item("method", run.method.name())?;
            e.set_item("seconds", run.seconds)?;
            runs.append(e)?;
        }
        d.set_item("runs", runs)?;
        // the (first) AIS run's weights and path statistics, for plots
        let (mut fw, mut rw): (Option<&AisResult>, Option<&AisResult>) = (None, None);
        for run in &r.runs {
            match &run.detail {
                RunDetail::Ais(a) if a.reverse => rw = rw.or(Some(a.as_ref())),
                RunDetail::Ais(a) => fw = fw.or(Some(a.as_ref())),
                RunDetail::Bdmc { bdmc, .. } => {
                    fw = fw.or(Some(&bdmc.forward));
                    rw = rw.or(Some(&bdmc.reverse));
                }
                _ => {}
            }
        }
        d.set_item(
            "log_weights",
            fw.map(|a| a.log_weights.clone().into_pyarray(py)),
        )?;
        d.set_item(
            "reverse_log_weights",
            rw.map(|a| a.log_weights.clone().into_pyarray(py)),
        )?;
        d.set_item(
            "per_temperature",
            fw.map(|a| {
                a.per_temperature
                    .iter()
                    .map(|t| (t.beta, t.log_z, t.ess, t.log_weight_var))
                    .collect::<Vec<_>>()
            }),
        )?;
        d.set_item("notes", r.notes.clone())?;
        d.set_item(
            "skipped",
            r.skipped
                .iter()
                .map(|s| (s.method.name(), s.reason.clone()))
                .collect::<Vec<_>>(),
        )?;
        Ok(d)
    }

    /// One shard of an AIS / reverse AIS / BDMC run: particles `start..end` of the
    /// `particles`-particle run, as the shard's JSON text (for [`merge`]).
    #[pyo3(signature = (start, end, method="ais", evidence=None, seed=0, particles=None,
                        steps=None, memory_limit=None, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn ais_shard<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        end: usize,
        method: &str,
        evidence: Option<&Bound<'py, PyDict>>,
        seed: u64,
        particles: Option<usize>,
        steps: Option<usize>,
        memory_limit: Option<f64>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<String> {
        use pgmkit::infer::ais::shard::{self, ShardMethod};
        let ev = convert::evidence(py, &self.inner, evidence)?;
        let method = match method {
            "ais" => ShardMethod::Ais,
            "rais" => ShardMethod::Rais,
            "bdmc" => ShardMethod::Bdmc,
            m => {
                return Err(PyValueError::new_err(format!(
                    "shards split the AIS methods (ais, rais, bdmc), not '{m}'"
                )))
            }
        };
        let mut opts = LogZOptions {
            seed,
            ..Default::default()
        };
        opts.exact.memory_limit = memory(memory_limit)?;
        opts.ais.seed = seed;
        opts.ais.memory_limit = opts.exact.memory_limit;
        if let Some(p) = particles {
            opts.ais.particles = positive(p, "particles")?;
        }
        if let Some(s) = steps {
            opts.ais.steps = positive(s, "steps")?;
        }
        opts.ais.particle_range = Some(start..end);
        let model = Arc::clone(&self.inner);
        let vars: Vec<(String, Vec<String>)> = model
            .vars()
            .iter()
            .map(|v| (v.name.clone(), v.states.clone()))
            .collect();
        let units = (end.saturating_sub(start) * opts.ais.steps * opts.ais.sweeps) as u64;
        let s = detached(py, progress, move |p| {
            p.start(&format!("{} shard", method.name()), units);
            let fg = model.to_factor_graph();
            let mut s = shard::run(
                &fg,
                &ev,
                method,
                &opts.ais,
                &opts.exact,
                Some(&|k| p.advance(k)),
            )?;
            s.evidence = named_evidence(&vars, &ev);
            Ok(s)
        })?
        .py(py)?;
        Ok(s.to_json())
    }

    /// Posterior marginals: a dict with `probs` (one list per variable), `kind`, `method`,
    /// `log_z` (a dict or None), `mcse`, `rhat`, `ess`, `samples`, `seconds`.
    #[pyo3(signature = (evidence=None, method="exact", seed=0, samples=None, chains=None,
                        draws=None, burn_in=None, time_limit=None, memory_limit=None,
                        progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn marginals<'py>(
        &self,
        py: Python<'py>,
        evidence: Option<&Bound<'py, PyDict>>,
        method: &str,
        seed: u64,
        samples: Option<usize>,
        chains: Option<usize>,
        draws: Option<usize>,
        burn_in: Option<usize>,
        time_limit: Option<f64>,
        memory_limit: Option<f64>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let ev = convert::evidence(py, &self.inner, evidence)?;
        let m = MarginalsMethod::from_name(method).ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown marginals method '{method}' (expected exact, lw, mcmc, gibbs, block, \
                 chromatic, mh, mf, bp or trw)"
            ))
        })?;
        let mut opts = MarginalsOptions {
            seed,
            ..Default::default()
        };
        opts.exact.memory_limit = memory(memory_limit)?;
        opts.chains.seed = seed;
        opts.chains.time_limit = seconds(time_limit, "time_limit")?;
        if let Some(t) = opts.chains.time_limit {
            opts.stop = opts.stop.with_max_time(t);
        }
        if let Some(s) = samples {
            opts.lw_samples = positive(s, "samples")?;
        }
        if let Some(c) = chains {
            opts.chains.chains = positive(c, "chains")?;
        }
        if let Some(d) = draws {
            opts.chains.draws = positive(d, "draws")?;
        }
        if let Some(b) = burn_in {
            opts.chains.warmup = b;
        }
        let model = Arc::clone(&self.inner);
        let t = std::time::Instant::now();
        let r = detached(py, progress, move |p| {
            marginals::marginals(&model, &ev, m, &opts, Some(&|ph| p.phase(ph)))
        })?
        .py(py)?;
        marginals_dict(py, &self.inner, r, t.elapsed().as_secs_f64())
    }

    /// One shard of an MCMC run: chains `start..end` of the `chains`-chain run of `method`
    /// (an MCMC method), as the shard's JSON text (for [`PyModel::merge_chains`]).
    #[pyo3(signature = (start, end, method="gibbs", evidence=None, seed=0, chains=None,
                        draws=None, burn_in=None, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn mcmc_shard<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        end: usize,
        method: &str,
        evidence: Option<&Bound<'py, PyDict>>,
        seed: u64,
        chains: Option<usize>,
        draws: Option<usize>,
        burn_in: Option<usize>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<String> {
        use pgmkit::sample::chains::shard;
        let ev = convert::evidence(py, &self.inner, evidence)?;
        let Some(MarginalsMethod::Mcmc(kernel)) = MarginalsMethod::from_name(method) else {
            return Err(PyValueError::new_err(format!(
                "chain shards split the MCMC methods (mcmc, gibbs, block, chromatic, mh), not \
                 '{method}'"
            )));
        };
        let mut opts = MarginalsOptions::default();
        opts.chains.seed = seed;
        if let Some(c) = chains {
            opts.chains.chains = positive(c, "chains")?;
        }
        if let Some(d) = draws {
            opts.chains.draws = positive(d, "draws")?;
        }
        if let Some(b) = burn_in {
            opts.chains.warmup = b;
        }
        opts.chains.chain_range = Some(start..end);
        let model = Arc::clone(&self.inner);
        let vars: Vec<(String, Vec<String>)> = model
            .vars()
            .iter()
            .map(|v| (v.name.clone(), v.states.clone()))
            .collect();
        let units = opts.chains.total_sweeps() / opts.chains.chains as u64
            * end.saturating_sub(start) as u64;
        let s = detached(py, progress, move |p| {
            p.start(&format!("{} shard", kernel.name()), units);
            let fg = model.to_factor_graph();
            let mut s = shard::run(
                &fg,
                &ev,
                kernel,
                &opts.kernel,
                &opts.chains,
                Some(&|k| p.advance(k)),
            )?;
            s.evidence = named_evidence(&vars, &ev);
            Ok(s)
        })?
        .py(py)?;
        Ok(s.to_json())
    }

    /// Merge the shards (JSON texts) of one MCMC run of this model: the dict of
    /// [`PyModel::marginals`] for the whole run.
    fn merge_chains<'py>(
        &self,
        py: Python<'py>,
        shards: Vec<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        use pgmkit::sample::chains::shard::{self, McmcShard};
        let parsed = shards
            .iter()
            .map(|t| McmcShard::from_json(t))
            .collect::<pgmkit::Result<Vec<_>>>()
            .py(py)?;
        let Some(s0) = parsed.first() else {
            return Err(PyValueError::new_err("no shard to merge"));
        };
        let vars = self.inner.vars();
        let mut ev = pgmkit::Evidence::new(vars.len());
        for (name, state) in &s0.evidence {
            let v = vars.iter().position(|x| &x.name == name).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "the shards' evidence names '{name}', which this model does not have"
                ))
            })?;
            let k = vars[v].state_index(state).py(py)?;
            ev.set(vars, pgmkit::VarId::from(v), k).py(py)?;
        }
        let t = std::time::Instant::now();
        let fg = self.inner.to_factor_graph();
        let summary = shard::merge(&fg, &ev, &parsed).py(py)?;
        let m = marginals::Marginals::from_chains(
            s0.kernel,
            s0.kernel.resolve_on(&fg),
            s0.warmup,
            s0.thin,
            summary,
        );
        let d = marginals_dict(py, &self.inner, m, t.elapsed().as_secs_f64())?;
        d.set_item("shards", parsed.len())?;
        d.set_item("fingerprint", &s0.fingerprint)?;
        Ok(d)
    }

    /// The model's graph in Graphviz DOT (observed variables shaded; with `marginals`, the exact
    /// posterior of each variable in its label).
    #[pyo3(signature = (evidence=None, marginals=false))]
    fn to_dot<'py>(
        &self,
        py: Python<'py>,
        evidence: Option<&Bound<'py, PyDict>>,
        marginals: bool,
    ) -> PyResult<String> {
        let ev = convert::evidence(py, &self.inner, evidence)?;
        let post = if marginals {
            let opts = pgmkit::infer::exact::ExactOptions::default();
            let m = Arc::clone(&self.inner);
            let ev2 = ev.clone();
            Some(
                detached(py, None, move |_| match &*m {
                    Model::Bayes(bn) => pgmkit::infer::exact::bn_marginals(bn, &ev2, &opts),
                    Model::Markov(fg) => pgmkit::infer::exact::marginals(fg, &ev2, &opts),
                })?
                .py(py)?,
            )
        } else {
            None
        };
        Ok(pgmkit::io::dot::to_dot(&self.inner, &ev, post.as_ref()))
    }

    /// The most probable explanation (or marginal MAP over `query`): a dict with `assignment`
    /// (state index per variable of `free`), `free`, `log_value`, `log_probability`,
    /// `upper_bound`, `gap`, `optimal`, `method`, `kind`, `proof`, `seconds`.
    #[pyo3(signature = (evidence=None, method="auto", query=None, seed=0, chains=None,
                        sweeps=None, max_sweeps=None, probability=false, time_limit=None,
                        memory_limit=None, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn map<'py>(
        &self,
        py: Python<'py>,
        evidence: Option<&Bound<'py, PyDict>>,
        method: &str,
        query: Option<Vec<String>>,
        seed: u64,
        chains: Option<usize>,
        sweeps: Option<usize>,
        max_sweeps: Option<usize>,
        probability: bool,
        time_limit: Option<f64>,
        memory_limit: Option<f64>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let ev = convert::evidence(py, &self.inner, evidence)?;
        let m = MapMethod::from_name(method).ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown MAP method '{method}' (expected exact, dual, anneal or auto)"
            ))
        })?;
        let mut opts = MapOptions {
            probability,
            deadline: Deadline::after(seconds(time_limit, "time_limit")?),
            ..Default::default()
        };
        opts.exact.memory_limit = memory(memory_limit)?;
        opts.anneal.seed = seed;
        opts.anneal.memory_limit = opts.exact.memory_limit;
        if let Some(c) = chains {
            opts.anneal.chains = positive(c, "chains")?;
        }
        if let Some(s) = sweeps {
            opts.anneal.sweeps = positive(s, "sweeps")?;
        }
        if let Some(s) = max_sweeps {
            opts.dual.max_sweeps = positive(s, "max_sweeps")?;
        }
        if let Some(q) = query {
            opts.query = Some(
                q.iter()
                    .map(|n| self.inner.var_id(n))
                    .collect::<pgmkit::Result<Vec<VarId>>>()
                    .py(py)?,
            );
        }
        let model = Arc::clone(&self.inner);
        let r = detached(py, progress, move |_| map::map(&model, &ev, m, &opts))?.py(py)?;
        let vars = self.inner.vars();
        let d = PyDict::new(py);
        let assignment = PyDict::new(py);
        for v in &r.free {
            let var = &vars[v.index()];
            assignment.set_item(&var.name, &var.states[r.assignment[v.index()]])?;
        }
        d.set_item("assignment", assignment)?;
        d.set_item("log_value", r.log_value)?;
        d.set_item("log_probability", r.log_probability)?;
        let fin = |x: f64| x.is_finite().then_some(x);
        d.set_item("upper_bound", fin(r.upper_bound))?;
        d.set_item("gap", fin(r.gap))?;
        d.set_item("optimal", r.optimal)?;
        d.set_item("method", r.method)?;
        d.set_item("kind", convert::enum_name(&r.kind))?;
        d.set_item("proof", r.proof.as_ref().map(convert::enum_name))?;
        d.set_item("time_limited", r.time_limited)?;
        d.set_item("seconds", r.seconds)?;
        Ok(d)
    }

    /// `n` rows as state codes: `(codes, log_weights, chain)` where codes is an (n, variables)
    /// uint8 or uint16 array; `log_weights` (lw) and `chain` (MCMC) are arrays or None.
    #[pyo3(signature = (n, seed=0, method=None, evidence=None, chains=None, burn_in=None,
                        thin=None, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn sample_codes<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
        method: Option<&str>,
        evidence: Option<&Bound<'py, PyDict>>,
        chains: Option<usize>,
        burn_in: Option<usize>,
        thin: Option<usize>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyAny>, Py<PyAny>, Py<PyAny>)> {
        let ev = convert::evidence(py, &self.inner, evidence)?;
        let method = method.unwrap_or(match &*self.inner {
            Model::Bayes(_) => "forward",
            Model::Markov(_) => "gibbs",
        });
        let model = Arc::clone(&self.inner);
        let nv = model.vars().len();
        match method {
            "forward" => {
                let bn = bayes(&model, "forward sampling")?;
                if !ev.is_empty() {
                    return Err(PyValueError::new_err(
                        "forward sampling draws from the prior and cannot condition on \
                         evidence; use method='lw' (weighted rows) or method='gibbs' (draws \
                         from the posterior)",
                    ));
                }
                let s = detached(py, progress, move |_| {
                    ForwardSampler::new(&bn)?.sample_codes(n, seed)
                })?
                .py(py)?;
                let codes = codes_array(py, s.codes(), n, nv)?;
                Ok((codes, py.None(), py.None()))
            }
            "lw" | "likelihood-weighting" => {
                let bn = bayes(&model, "likelihood weighting")?;
                let s = detached(py, progress, move |_| {
                    pgmkit::sample::weighting::LikelihoodWeighting::new(&bn, &ev)?
                        .sample_weighted(n, seed)
                })?
                .py(py)?;
                let codes = codes_array(py, s.samples.codes(), n, nv)?;
                let w = s.log_weights.into_pyarray(py).into_any();
                Ok((codes, w.unbind(), py.None()))
            }
            m => {
                let kernel = match MarginalsMethod::from_name(m) {
                    Some(MarginalsMethod::Mcmc(k)) => k,
                    _ => {
                        return Err(PyValueError::new_err(format!(
                            "unknown sampling method '{m}' (expected forward, lw, gibbs, block, \
                             chromatic or mh)"
                        )))
                    }
                };
                let c = positive(chains.unwrap_or(4), "chains")?;
                let cfg = pgmkit::sample::chains::ChainConfig {
                    chains: c,
                    warmup: burn_in.unwrap_or(1000),
                    draws: n.div_ceil(c).max(1),
                    thin: positive(thin.unwrap_or(1), "thin")?,
                    seed,
                    max_trace_bytes: 1 << 31,
                    ..Default::default()
                };
                let fg = model.to_factor_graph();
                let total = cfg.total_sweeps();
                let s = detached(py, progress, move |p| {
                    p.start(&format!("{} sampling", kernel.name()), total);
                    pgmkit::sample::chains::run_mcmc(
                        &fg,
                        &ev,
                        kernel,
                        &Default::default(),
                        &cfg,
                        Some(&|k| p.advance(k)),
                    )
                })?
                .py(py)?;
                let traces = s.traces.as_ref().ok_or_else(|| {
                    PyValueError::new_err("the chain runner kept no draws (too many for memory)")
                })?;
                let mut out = vec![0u16; n * nv];
                let mut chain = vec![0u32; n];
                let mut r = 0;
                'outer: for ci in 0..traces.num_chains() {
                    for di in 0..traces.num_draws() {
                        if r == n {
                            break 'outer;
                        }
                        for i in 0..nv {
                            out[r * nv + i] = traces.state(ci, di, i) as u16;
                        }
                        chain[r] = ci as u32;
                        r += 1;
                    }
                }
                let codes = out.into_pyarray(py).reshape([n, nv])?.into_any();
                let ch = chain.into_pyarray(py).into_any();
                Ok((codes, py.None(), ch.unbind()))
            }
        }
    }

    /// Scores of the rows (columns of codes, 65535 = missing): a dict with `per_row` (array),
    /// `total_log_lik`, `mean_log_lik`, `bits_per_row`, `perplexity_per_var`, `impossible_rows`,
    /// and for a Markov network `log_z` and `mean_std_err`.
    fn score<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<PyReadonlyArray1<'py, u16>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let data = dataset(py, &self.inner, columns)?;
        let model = Arc::clone(&self.inner);
        let d = PyDict::new(py);
        let s = match &*model {
            Model::Bayes(bn) => {
                let bn = bn.clone();
                detached(py, None, move |_| {
                    pgmkit::score::score(&bn, &data, &Default::default())
                })?
                .py(py)?
            }
            Model::Markov(_) => {
                let m2 = Arc::clone(&model);
                let ms = detached(py, None, move |_| {
                    let z = logz::log_z(
                        &m2,
                        &Evidence::new(m2.vars().len()),
                        LogZMethod::Auto,
                        &LogZOptions::default(),
                        None,
                    )?;
                    pgmkit::score::score_markov(&m2.to_factor_graph(), &data, &z.estimate)
                })?
                .py(py)?;
                d.set_item("log_z", estimate(py, &ms.log_z)?)?;
                d.set_item("mean_std_err", ms.mean_std_err)?;
                ms.score
            }
        };
        d.set_item("rows", s.rows)?;
        d.set_item("missing_cells", s.missing_cells)?;
        d.set_item("total_log_lik", s.total_log_lik)?;
        d.set_item("mean_log_lik", s.mean_log_lik)?;
        d.set_item("bits_per_row", s.bits_per_row)?;
        d.set_item("perplexity_per_var", s.perplexity_per_var)?;
        d.set_item(
            "impossible_rows",
            s.impossible_rows.iter().map(|r| r - 1).collect::<Vec<_>>(),
        )?;
        d.set_item("per_row", s.per_row.into_pyarray(py))?;
        Ok(d)
    }

    /// Completed copies of the data (columns of codes, 65535 = missing): a list of `multiple`
    /// lists of uint16 columns, and the rows left missing as (row, why) pairs.
    #[pyo3(signature = (columns, method="mode", multiple=1, seed=0, impossible="error",
                        progress=None))]
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn impute<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<PyReadonlyArray1<'py, u16>>,
        method: &str,
        multiple: usize,
        seed: u64,
        impossible: &str,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Vec<Vec<Bound<'py, PyArray1<u16>>>>, Vec<(usize, String)>)> {
        use pgmkit::impute::{ImpossibleRows, ImputeMethod, ImputeOptions};
        let bn = bayes(&self.inner, "impute")?;
        let data = dataset(py, &self.inner, columns)?;
        let opts = ImputeOptions {
            method: match method {
                "mode" => ImputeMethod::Mode,
                "sample" => ImputeMethod::Sample,
                "map" => ImputeMethod::Map,
                m => {
                    return Err(PyValueError::new_err(format!(
                        "unknown imputation method '{m}' (expected mode, sample or map)"
                    )))
                }
            },
            imputations: positive(multiple, "multiple")?,
            seed,
            impossible: match impossible {
                "error" => ImpossibleRows::Error,
                "leave" => ImpossibleRows::LeaveMissing,
                m => {
                    return Err(PyValueError::new_err(format!(
                        "impossible must be 'error' or 'leave', got '{m}'"
                    )))
                }
            },
            ..Default::default()
        };
        let rows = data.num_rows() as u64;
        let r = detached(py, progress, move |p| {
            p.start("impute", rows);
            pgmkit::impute::impute(&bn, &data, &opts, Some(&|k| p.advance(k)))
        })?
        .py(py)?;
        Ok((
            r.completed.iter().map(|d| columns_out(py, d)).collect(),
            r.impossible_rows,
        ))
    }

    /// The same network with its CPDs fitted to the data (columns of codes, 65535 = missing):
    /// maximum likelihood (or with a prior) on complete data, EM with holes.
    #[pyo3(signature = (columns, prior="none", pseudo_count=1.0, seed=0, progress=None))]
    fn fit<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<PyReadonlyArray1<'py, u16>>,
        prior: &str,
        pseudo_count: f64,
        seed: u64,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyModel> {
        let bn = bayes(&self.inner, "fit")?;
        let data = dataset(py, &self.inner, columns)?;
        let prior = parse_prior(prior, pseudo_count)?;
        let r = detached(py, progress, move |_| {
            if data.num_missing() == 0 {
                pgmkit::learn::fit_complete(&bn, &data, &prior)
            } else {
                let opts = pgmkit::learn::em::EmOptions {
                    prior,
                    seed,
                    ..Default::default()
                };
                pgmkit::learn::em::em(&bn, &data, &opts, None).map(|r| r.model)
            }
        })?
        .py(py)?;
        Ok(PyModel {
            inner: Arc::new(Model::Bayes(r)),
        })
    }
}

fn parse_prior(prior: &str, pseudo_count: f64) -> PyResult<pgmkit::learn::Prior> {
    use pgmkit::learn::Prior;
    Ok(match prior {
        "none" | "mle" => Prior::None,
        "dirichlet" | "laplace" => Prior::Dirichlet(pseudo_count),
        "bdeu" => Prior::BDeu(pseudo_count),
        p => {
            return Err(PyValueError::new_err(format!(
                "unknown prior '{p}' (expected none, dirichlet or bdeu)"
            )))
        }
    })
}

fn codes_array<'py>(
    py: Python<'py>,
    codes: &Codes,
    n: usize,
    nv: usize,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match codes {
        Codes::U8(c) => c.clone().into_pyarray(py).reshape([n, nv])?.into_any(),
        Codes::U16(c) => c.clone().into_pyarray(py).reshape([n, nv])?.into_any(),
    })
}

/// Load a model file (BIF, UAI, libDAI .fg, XMLBIF, Hugin .net), the format from the extension.
#[pyfunction]
#[pyo3(signature = (path, renormalize=false))]
fn load(py: Python<'_>, path: PathBuf, renormalize: bool) -> PyResult<PyModel> {
    let opts = LoadOptions {
        renormalize,
        ..Default::default()
    };
    let p = path.clone();
    let m = py
        .detach(move || pgmkit::io::load_model(&p, &opts))
        .map_err(|e| py_err(py, e, Some(&path)))?;
    Ok(PyModel { inner: Arc::new(m) })
}

/// Parse model text of the format of extension `ext` (`bif`, `uai`, `fg`, `xml`, `net`).
#[pyfunction]
#[pyo3(signature = (text, ext, renormalize=false))]
fn loads(py: Python<'_>, text: &str, ext: &str, renormalize: bool) -> PyResult<PyModel> {
    use pgmkit::io::{self, ModelFormat};
    let opts = LoadOptions {
        renormalize,
        ..Default::default()
    };
    let path = PathBuf::from(format!("model.{}", ext.trim_start_matches('.')));
    let m = match ModelFormat::from_path(&path).py(py)? {
        ModelFormat::Bif => io::bif::parse_bif(text, &opts).map(Model::Bayes),
        ModelFormat::Uai => io::uai::parse_uai(text, &opts),
        ModelFormat::Fg => io::fg::parse_fg(text).map(Model::Markov),
        ModelFormat::XmlBif => io::xmlbif::parse_xmlbif(text, &opts).map(Model::Bayes),
        ModelFormat::Net => io::net::parse_net(text, &opts).map(Model::Bayes),
    }
    .py(py)?;
    Ok(PyModel { inner: Arc::new(m) })
}

/// A Bayesian network from variables `[(name, states)]` and CPDs `[(child, parents, probs)]`
/// (probs flat, parents first-slowest, child fastest).
#[pyfunction]
#[pyo3(signature = (variables, cpds, renormalize=false))]
fn bayes_net(
    py: Python<'_>,
    variables: Vec<(String, Vec<String>)>,
    cpds: Vec<(String, Vec<String>, Vec<f64>)>,
    renormalize: bool,
) -> PyResult<PyModel> {
    let mut b = pgmkit::BayesNetBuilder::new().renormalize(renormalize);
    for (name, states) in variables {
        b.add_variable(name, states).py(py)?;
    }
    for (child, parents, probs) in cpds {
        let c = b.var_id(&child).py(py)?;
        let ps = parents
            .iter()
            .map(|p| b.var_id(p))
            .collect::<pgmkit::Result<Vec<_>>>()
            .py(py)?;
        b.set_cpd(c, &ps, probs).py(py)?;
    }
    let bn = b.build().py(py)?;
    Ok(PyModel {
        inner: Arc::new(Model::Bayes(bn)),
    })
}

/// A Markov network from variables `[(name, states)]` and factors `[(scope, values, log)]`
/// (values flat row-major over the scope, last variable fastest; `log`: values are log
/// potentials).
#[pyfunction]
fn factor_graph(
    py: Python<'_>,
    variables: Vec<(String, Vec<String>)>,
    factors: Vec<(Vec<String>, Vec<f64>, bool)>,
) -> PyResult<PyModel> {
    let mut b = pgmkit::FactorGraphBuilder::new();
    for (name, states) in variables {
        b.add_variable(name, states).py(py)?;
    }
    for (scope, values, log) in factors {
        let ids = scope
            .iter()
            .map(|n| b.var_id(n))
            .collect::<pgmkit::Result<Vec<_>>>()
            .py(py)?;
        if log {
            b.add_log_factor(&ids, values).py(py)?;
        } else {
            b.add_factor(&ids, values).py(py)?;
        }
    }
    let fg: FactorGraph = b.build().py(py)?;
    Ok(PyModel {
        inner: Arc::new(Model::Markov(fg)),
    })
}

fn boundary(periodic: bool) -> pgmkit::Boundary {
    if periodic {
        pgmkit::Boundary::Periodic
    } else {
        pgmkit::Boundary::Free
    }
}

/// Ising grid: couplings per edge `(i, j)` from `coupling` (a list of (i, j, J) or a constant)
/// and fields per site.
#[pyfunction]
#[pyo3(signature = (rows, cols, coupling, field, periodic=false))]
fn ising_grid(
    py: Python<'_>,
    rows: usize,
    cols: usize,
    coupling: &Bound<'_, PyAny>,
    field: &Bound<'_, PyAny>,
    periodic: bool,
) -> PyResult<PyModel> {
    let j = edge_values(coupling)?;
    let h = site_values(field, rows * cols)?;
    let g = pgmkit::model::ising_grid(rows, cols, boundary(periodic), j, |i| h[i]).py(py)?;
    Ok(PyModel {
        inner: Arc::new(Model::Markov(g)),
    })
}

/// Potts grid with `q` states: `J` per edge as for [`ising_grid`], no fields.
#[pyfunction]
#[pyo3(signature = (rows, cols, q, coupling, periodic=false))]
fn potts_grid(
    py: Python<'_>,
    rows: usize,
    cols: usize,
    q: usize,
    coupling: &Bound<'_, PyAny>,
    periodic: bool,
) -> PyResult<PyModel> {
    let j = edge_values(coupling)?;
    let g = pgmkit::model::potts_grid(rows, cols, q, boundary(periodic), j, |_, _| 0.0).py(py)?;
    Ok(PyModel {
        inner: Arc::new(Model::Markov(g)),
    })
}

/// A coupling given as a number (every edge) or a dict {(i, j): J} (missing edges: 0).
fn edge_values(c: &Bound<'_, PyAny>) -> PyResult<Box<dyn Fn(usize, usize) -> f64>> {
    if let Ok(v) = c.extract::<f64>() {
        return Ok(Box::new(move |_, _| v));
    }
    let d: std::collections::HashMap<(usize, usize), f64> = c.extract().map_err(|_| {
        PyTypeError::new_err("coupling must be a number or a dict {(i, j): J} over site indices")
    })?;
    Ok(Box::new(move |a, b| {
        d.get(&(a, b))
            .or_else(|| d.get(&(b, a)))
            .copied()
            .unwrap_or(0.0)
    }))
}

fn site_values(f: &Bound<'_, PyAny>, n: usize) -> PyResult<Vec<f64>> {
    if let Ok(v) = f.extract::<f64>() {
        return Ok(vec![v; n]);
    }
    let v: Vec<f64> = f
        .extract()
        .map_err(|_| PyTypeError::new_err("field must be a number or a sequence of numbers"))?;
    if v.len() != n {
        return Err(PyValueError::new_err(format!(
            "field has {} values for {n} sites",
            v.len()
        )));
    }
    Ok(v)
}

/// A network learned from data: structure by hill climbing (score `bic`, `aic`, `bdeu`, `k2`),
/// then its CPDs fitted (EM where the data has holes). `variables` are `[(name, states)]`,
/// `columns` the codes per variable (65535 = missing).
#[pyfunction]
#[pyo3(signature = (variables, columns, score="bic", max_parents=4, prior="none",
                    pseudo_count=1.0, seed=0, time_limit=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn learn_structure<'py>(
    py: Python<'py>,
    variables: Vec<(String, Vec<String>)>,
    columns: Vec<PyReadonlyArray1<'py, u16>>,
    score: &str,
    max_parents: usize,
    prior: &str,
    pseudo_count: f64,
    seed: u64,
    time_limit: Option<f64>,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<PyModel> {
    use pgmkit::learn::structure::{self, StructureOptions, StructureScore};
    let vars: Vec<pgmkit::Variable> = variables
        .into_iter()
        .map(|(n, s)| pgmkit::Variable::new(n, s))
        .collect();
    let cols: Vec<Vec<u16>> = columns
        .iter()
        .map(|c| c.as_slice().map(|s| s.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| PyValueError::new_err(format!("data columns must be contiguous: {e}")))?;
    let data = Dataset::from_columns(&vars, cols).py(py)?;
    let score = match score {
        "bic" => StructureScore::Bic,
        "aic" => StructureScore::Aic,
        "k2" => StructureScore::K2,
        "bdeu" => StructureScore::BDeu { ess: pseudo_count },
        s => {
            return Err(PyValueError::new_err(format!(
                "unknown score '{s}' (expected bic, aic, bdeu or k2)"
            )))
        }
    };
    let prior = parse_prior(prior, pseudo_count)?;
    let deadline = Deadline::after(seconds(time_limit, "time_limit")?);
    let opts = StructureOptions {
        score,
        max_parents,
        seed,
        deadline,
        ..Default::default()
    };
    let bn = detached(py, progress, move |_| {
        let fit = structure::hill_climb(&data, &opts)?;
        structure::network_until(&vars, &fit.parents, &data, &prior, deadline)
    })?
    .py(py)?;
    Ok(PyModel {
        inner: Arc::new(Model::Bayes(bn)),
    })
}

/// The dict of a [`marginals::Marginals`] for the Python layer.
fn marginals_dict<'py>(
    py: Python<'py>,
    inner: &Model,
    r: marginals::Marginals,
    seconds: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("probs", r.probs)?;
    d.set_item(
        "kind",
        match r.kind {
            marginals::MarginalsKind::Exact => "exact",
            marginals::MarginalsKind::Stochastic => "stochastic",
            marginals::MarginalsKind::Approximate => "approximate",
        },
    )?;
    d.set_item("method", r.method.name())?;
    d.set_item(
        "log_z",
        r.log_z.as_ref().map(|e| estimate(py, e)).transpose()?,
    )?;
    d.set_item("mcse", r.mcse)?;
    d.set_item("rhat", r.rhat)?;
    d.set_item("ess", r.ess)?;
    d.set_item("samples", r.samples)?;
    if let Some(mc) = &r.mcmc {
        let i = PyDict::new(py);
        i.set_item("kernel", mc.kernel.name())?;
        i.set_item("chains", mc.chains)?;
        i.set_item("draws_per_chain", mc.draws_per_chain)?;
        i.set_item("burn_in", mc.burn_in)?;
        i.set_item("acceptance_rate", mc.acceptance_rate)?;
        i.set_item("max_rhat", mc.max_rhat)?;
        i.set_item("min_ess", mc.min_ess)?;
        i.set_item("time_limited", mc.time_limited)?;
        d.set_item("mcmc", i)?;
    } else {
        d.set_item("mcmc", py.None())?;
    }
    d.set_item(
        "traces",
        r.traces
            .as_ref()
            .map(|tr| {
                let (c, n, v) = (tr.num_chains(), tr.num_draws(), inner.vars().len());
                let mut flat = Vec::with_capacity(c * n * v);
                for ci in 0..c {
                    for di in 0..n {
                        for vi in 0..v {
                            flat.push(tr.state(ci, di, vi) as u32);
                        }
                    }
                }
                flat.into_pyarray(py)
                    .reshape([c, n, v])
                    .map(|a| a.into_any())
            })
            .transpose()?,
    )?;
    d.set_item("seconds", seconds)?;
    Ok(d)
}

/// Merge the shards (JSON texts) of one AIS / reverse AIS / BDMC run: the estimate dict of
/// the whole run (as `Model.log_z` gives it) plus `shards`, `particles`, `steps` and
/// `fingerprint`.
#[pyfunction]
fn merge<'py>(py: Python<'py>, shards: Vec<String>) -> PyResult<Bound<'py, PyDict>> {
    use pgmkit::infer::ais::shard::{self, AisShard, ShardMethod};
    let parsed = shards
        .iter()
        .map(|t| AisShard::from_json(t))
        .collect::<pgmkit::Result<Vec<_>>>()
        .py(py)?;
    let fingerprint = parsed.first().map(|s| s.fingerprint.clone());
    let m = shard::merge(&parsed).py(py)?;
    let (method, est, res) = match m.method {
        ShardMethod::Ais => {
            let f = m.forward.clone().expect("a forward run");
            ("ais", f.estimate(), f)
        }
        ShardMethod::Rais => {
            let r = m.reverse.clone().expect("a reverse run");
            ("rais", r.estimate(), r)
        }
        ShardMethod::Bdmc => {
            let b = m.bdmc().expect("both runs");
            ("bdmc", b.estimate(), b.forward)
        }
    };
    let d = estimate(py, &est)?;
    d.set_item("method", method)?;
    d.set_item("seconds", res.seconds)?;
    d.set_item("shards", m.shards)?;
    d.set_item("particles", res.log_weights.len())?;
    d.set_item("steps", res.betas.len().saturating_sub(1))?;
    d.set_item("fingerprint", fingerprint)?;
    Ok(d)
}

/// The code of a missing cell in the data columns.
const MISSING: u16 = pgmkit::data::MISSING;

#[pymodule]
fn _pgmkit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(loads, m)?)?;
    m.add_function(wrap_pyfunction!(bayes_net, m)?)?;
    m.add_function(wrap_pyfunction!(factor_graph, m)?)?;
    m.add_function(wrap_pyfunction!(ising_grid, m)?)?;
    m.add_function(wrap_pyfunction!(potts_grid, m)?)?;
    m.add_function(wrap_pyfunction!(learn_structure, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    m.add("MISSING", MISSING)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// Evidence as (variable, state) names, for the people who read a shard file.
fn named_evidence(vars: &[(String, Vec<String>)], ev: &Evidence) -> Vec<(String, String)> {
    ev.iter()
        .map(|(v, st)| {
            let (n, states) = &vars[v.index()];
            (n.clone(), states[st].clone())
        })
        .collect()
}
