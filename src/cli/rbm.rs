//! Restricted Boltzmann machines on the command line (`pgmkit-rbm` JSON): `learn --rbm`,
//! `logz`, `score` and `sample`. The work is the library's ([`pgmkit::learn::rbm`],
//! [`pgmkit::infer::rbm`], [`pgmkit::score::score_rbm`]); this file reads the 0/1 CSV and
//! formats.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use pgmkit::infer::rbm::{rbm_ais, rbm_log_z, RbmAisOptions};
use pgmkit::io::rbm_json::{read_rbm, write_rbm};
use pgmkit::learn::rbm::{train_rbm_with_progress, RbmMethod, RbmTrainOptions};
use pgmkit::model::rbm::Rbm;
use pgmkit::score::score_rbm;

use super::args::GlobalArgs;
use super::output::{self, OrderedMap};

/// Whether a model file is an RBM JSON file.
pub fn is_rbm(path: &Path) -> bool {
    pgmkit::io::rbm_json::is_rbm_path(path)
}

fn load(path: &Path) -> anyhow::Result<(Rbm, f64)> {
    let t = Instant::now();
    let rbm = read_rbm(path).map_err(|e| super::args::file_error(path, e))?;
    Ok((rbm, t.elapsed().as_secs_f64()))
}

/// Rows of 0/1 values from a CSV ([`pgmkit::data::binary::read_binary_csv`]), errors naming the
/// file: the rows, the names and the number of columns set aside.
fn read_rows(
    path: &Path,
    columns: Option<&[String]>,
    ignore: &[String],
) -> anyhow::Result<(Vec<Vec<f64>>, Vec<String>, usize)> {
    let r = pgmkit::data::csv::open_maybe_gz(path)?;
    let t = pgmkit::data::binary::read_binary_csv(r, columns, ignore)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok((t.rows, t.names, t.ignored))
}

/// `pgmkit learn --rbm`.
pub fn learn(
    global: &GlobalArgs,
    a: &super::learn::LearnArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if a.out.extension().is_none_or(|e| e != "json") {
        anyhow::bail!("--out {}: an RBM is written as .json", a.out.display());
    }
    pgmkit::io::outputs::check_outputs(
        &[("the data", a.data.as_path())],
        &[("--out", a.out.as_path())],
    )?;
    let ignore: Vec<String> = a
        .ignore
        .as_deref()
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
        .unwrap_or_default();
    let t = Instant::now();
    let (rows, names, _) = read_rows(&a.data, None, &ignore)?;
    let read_s = t.elapsed().as_secs_f64();
    let chosen = a.method.unwrap_or(super::learn::LearnMethod::Pcd);
    let method = match chosen {
        super::learn::LearnMethod::Cd => RbmMethod::Cd { k: a.cd_k },
        super::learn::LearnMethod::Pcd => RbmMethod::Pcd,
        m => anyhow::bail!(
            "--method {}: an RBM is trained by cd or pcd",
            format!("{m:?}").to_lowercase()
        ),
    };
    let opts = RbmTrainOptions {
        hidden: a.hidden,
        epochs: a.epochs,
        batch: a.batch.unwrap_or(10),
        rate: a.rate,
        method,
        seed: a.seed,
        // the exact (or AIS) log Z of the result comes after: training gets 3/4 of the budget
        deadline: super::command_deadline(a.time_limit.map(std::time::Duration::from_secs_f64))
            .share(0.75),
        ..RbmTrainOptions::default()
    };
    let bar = super::progress::Bar::new(global, opts.epochs as u64, "training the RBM", "epochs");
    let tick = |k: u64| bar.inc(k);
    let t = train_rbm_with_progress(names, &rows, &opts, Some(&tick));
    bar.finish();
    let t = t?;
    write_rbm(&t.rbm, &a.out)?;
    // the log-likelihood of the result, unless the time limit has passed (the exact sum is
    // not interruptible)
    let deadline = super::command_deadline(a.time_limit.map(std::time::Duration::from_secs_f64));
    let (small, large) = {
        let (v, h) = (t.rbm.num_visible(), t.rbm.num_hidden());
        (v.min(h), v.max(h))
    };
    // about 15 ns per term and unit of the exact sum, spread over the threads
    let exact_s = if small <= pgmkit::model::rbm::MAX_EXACT_UNITS {
        2f64.powi(small as i32) * large as f64 * 15e-9 / rayon::current_num_threads() as f64
    } else {
        0.0
    };
    let short = deadline
        .remaining()
        .is_some_and(|left| left.as_secs_f64() < exact_s);
    let scored = if deadline.passed() || short {
        None
    } else {
        let lz = rbm_log_z(
            &t.rbm,
            &Rbm::base_rate_bias(&rows, t.rbm.num_visible()),
            &RbmAisOptions {
                seed: a.seed,
                deadline,
                ..Default::default()
            },
        )?;
        let s = score_rbm(&t.rbm, &rows, &lz)?;
        Some((lz, s))
    };
    if a.json {
        let mut m: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        let mut push = |k: &str, v: serde_json::Value| m.0.push((k.to_string(), v));
        push("data", a.data.display().to_string().into());
        push("out", a.out.display().to_string().into());
        push("method", format!("{chosen:?}").to_lowercase().into());
        push("visible", t.rbm.num_visible().into());
        push("hidden", t.rbm.num_hidden().into());
        push("rows", rows.len().into());
        push("epochs", t.epochs.into());
        push("train_seconds", t.seconds.into());
        push("seconds_per_epoch", (t.seconds / t.epochs as f64).into());
        match &scored {
            Some((lz, s)) => {
                push("log_z", super::score::json_f64(lz.log_z));
                push("log_z_kind", serde_json::to_value(lz.kind)?);
                push(
                    "train_log_likelihood",
                    super::score::json_f64(s.score.mean_log_lik),
                );
            }
            None => {
                push("log_z", serde_json::Value::Null);
                push("log_z_kind", "skipped (time limit)".into());
                push("train_log_likelihood", serde_json::Value::Null);
            }
        }
        push("read_seconds", read_s.into());
        return output::write_json(out, &m);
    }
    if !global.quiet {
        writeln!(
            out,
            "trained an RBM ({} visible, {} hidden) on {} rows by {} in {} ({} per epoch)",
            t.rbm.num_visible(),
            t.rbm.num_hidden(),
            rows.len(),
            format!("{chosen:?}").to_lowercase(),
            output::duration(t.seconds),
            output::duration(t.seconds / t.epochs as f64)
        )?;
        match &scored {
            Some((lz, s)) => writeln!(
                out,
                "training log-likelihood {:.4} nats per row (ln Z {:.4}, {}); wrote {}",
                s.score.mean_log_lik,
                lz.log_z,
                super::approx::kind_text(lz.kind),
                a.out.display()
            )?,
            None => writeln!(
                out,
                "too little of the time limit left for ln Z: no log-likelihood; wrote {}",
                a.out.display()
            )?,
        }
    }
    Ok(())
}

/// Start states drawn for the pilot that sets the base-rate model of `logz` (which has no
/// data): their unit means give the base's visible biases.
const PILOT_STATES: usize = 100;

/// `pgmkit logz rbm.json`: exact (the sum over the smaller layer), ais, rais, bdmc, or auto.
/// The annealing path starts from the base-rate model of draws of the machine itself (exact
/// draws when the smaller layer is small, else Gibbs chains): `logz` has no data.
pub fn logz(
    _global: &GlobalArgs,
    a: &super::logz::LogZArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    use pgmkit::infer::logz::LogZMethod;
    use pgmkit::infer::rbm::{rbm_bdmc, rbm_reverse_ais, rbm_start_states, StartStates};
    let (rbm, load_s) = load(&a.query.model)?;
    let t = Instant::now();
    for (flag, given) in [
        ("--schedule", a.ais.schedule.is_some()),
        ("--base", a.ais.base.is_some()),
        ("--kernel", a.ais.kernel.is_some()),
    ] {
        if given {
            anyhow::bail!(
                "{flag} does not apply to an RBM (its path starts from the base-rate model and \
                 moves by block Gibbs)"
            );
        }
    }
    let positive = |flag: &str, v: Option<usize>, d: usize| -> anyhow::Result<usize> {
        match v {
            Some(0) => anyhow::bail!("{flag} must be at least 1"),
            Some(n) => Ok(n),
            None => Ok(d),
        }
    };
    let d = RbmAisOptions::default();
    let opts = RbmAisOptions {
        particles: positive("--particles", a.ais.particles, d.particles)?,
        steps: a
            .ais
            .steps
            .map(|s| positive("--steps", Some(s), 1))
            .transpose()?,
        sweeps: positive("--sweeps", a.ais.sweeps, d.sweeps)?,
        start_sweeps: positive("--start-sweeps", a.ais.start_sweeps, d.start_sweeps)?,
        seed: a.run.seed,
        deadline: super::command_deadline(a.iter.time_limit()),
    };
    let method = a.method.0;
    let exact_fits = rbm.num_visible().min(rbm.num_hidden()) <= pgmkit::model::rbm::MAX_EXACT_UNITS;
    let annealed = match method {
        LogZMethod::Exact => false,
        LogZMethod::Auto => !exact_fits,
        LogZMethod::Ais | LogZMethod::Rais | LogZMethod::Bdmc => true,
        m => anyhow::bail!(
            "--method {}: an RBM takes exact, ais, rais, bdmc or auto",
            m.name()
        ),
    };
    let mut extra: Vec<(&str, serde_json::Value)> = Vec::new();
    let starts_text = |k: StartStates| match k {
        StartStates::Exact => "exact draws".to_string(),
        StartStates::Gibbs { sweeps } => format!("block Gibbs chains of {sweeps} sweeps"),
        _ => "draws".to_string(),
    };
    let (est, what) = if !annealed {
        (
            pgmkit::estimate::LogZEstimate::exact(rbm.log_z_exact()?),
            "exact",
        )
    } else {
        let uniform = vec![0.0; rbm.num_visible()];
        let (pilot, pilot_kind) = rbm_start_states(
            &rbm,
            &uniform,
            PILOT_STATES,
            opts.start_sweeps,
            opts.seed ^ 0x9E37_79B9_7F4A_7C15,
        )?;
        let base = Rbm::base_rate_bias(&pilot, rbm.num_visible());
        extra.push((
            "base",
            format!("base rates of {PILOT_STATES} {}", starts_text(pilot_kind)).into(),
        ));
        match method {
            LogZMethod::Rais => {
                let (starts, kind) =
                    rbm_start_states(&rbm, &base, opts.particles, opts.start_sweeps, opts.seed)?;
                let r = rbm_reverse_ais(&rbm, &base, &starts, &opts)?;
                extra.push(("starts", starts_text(kind).into()));
                extra.push(("particles", r.log_weights.len().into()));
                extra.push(("steps", r.steps.into()));
                (r.estimate(), "rais")
            }
            LogZMethod::Bdmc => {
                let r = rbm_bdmc(&rbm, &base, &opts)?;
                extra.push(("starts", starts_text(r.starts).into()));
                extra.push(("gap", super::score::json_f64(r.gap())));
                extra.push(("particles", r.forward.log_weights.len().into()));
                extra.push(("reversed", r.reverse.log_weights.len().into()));
                extra.push(("steps", r.forward.steps.into()));
                (r.estimate(), "bdmc")
            }
            _ => {
                let r = rbm_ais(&rbm, &base, &opts)?;
                extra.push(("particles", r.log_weights.len().into()));
                extra.push(("steps", r.steps.into()));
                (
                    r.estimate(),
                    if method == LogZMethod::Auto {
                        "auto"
                    } else {
                        "ais"
                    },
                )
            }
        }
    };
    let secs = t.elapsed().as_secs_f64();
    let opt = |x: Option<f64>| x.map_or(serde_json::Value::Null, super::score::json_f64);
    if a.run.json {
        let mut m: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        let mut push = |k: &str, v: serde_json::Value| m.0.push((k.to_string(), v));
        push("model", a.query.model.display().to_string().into());
        push("model_kind", "rbm".into());
        push("method", what.into());
        push("log_z", super::score::json_f64(est.log_z));
        push("log10_z", super::score::json_f64(est.log10_z()));
        push("kind", serde_json::to_value(est.kind)?);
        push("std_err", opt(est.std_err));
        push("lower", opt(est.lower));
        push("upper", opt(est.upper));
        push("ess", est.ess.map_or(serde_json::Value::Null, Into::into));
        for (k, v) in extra {
            push(k, v);
        }
        push("seconds", secs.into());
        push("load_seconds", load_s.into());
        return output::write_json(out, &m);
    }
    writeln!(
        out,
        "model       {} (RBM: {} visible, {} hidden)",
        a.query.model.display(),
        rbm.num_visible(),
        rbm.num_hidden()
    )?;
    writeln!(
        out,
        "method      {what} ({})",
        super::approx::kind_text(est.kind)
    )?;
    match est.std_err {
        Some(se) => writeln!(out, "log Z       {:.10} ± {se:.6}", est.log_z)?,
        None => writeln!(out, "log Z       {:.10}", est.log_z)?,
    }
    if annealed {
        if let (Some(lo), Some(hi)) = (est.lower, est.upper) {
            writeln!(out, "sandwich    [{lo:.6}, {hi:.6}], width {:.6}", hi - lo)?;
        }
    }
    for (k, v) in extra.iter().filter(|(k, _)| *k != "gap") {
        let text = v.as_str().map_or(v.to_string(), str::to_string);
        writeln!(out, "{:<12}{text}", k.replace('_', " "))?;
    }
    writeln!(out, "time        {}", output::duration(secs))?;
    Ok(())
}

/// `pgmkit score rbm.json --data D.csv`: ln Z by the auto policy (AIS from the data's base
/// rates when the exact sum is too large).
pub fn score(
    global: &GlobalArgs,
    a: &super::score::ScoreArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (rbm, _) = load(&a.model)?;
    let t = Instant::now();
    let (rows, _, ignored) = read_rows(&a.data, Some(rbm.names()), &[])?;
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let lz = rbm_log_z(
        &rbm,
        &Rbm::base_rate_bias(&rows, rbm.num_visible()),
        &RbmAisOptions {
            seed: a.seed,
            ..Default::default()
        },
    )?;
    let ms = score_rbm(&rbm, &rows, &lz)?;
    let score_s = t.elapsed().as_secs_f64();
    let extra = vec![
        ("model_kind".to_string(), "rbm".into()),
        ("log_z".to_string(), super::score::json_f64(lz.log_z)),
        ("log_z_kind".to_string(), serde_json::to_value(lz.kind)?),
        (
            "log_z_std_err".to_string(),
            lz.std_err
                .map_or(serde_json::Value::Null, super::score::json_f64),
        ),
        (
            "mean_log_likelihood_std_err".to_string(),
            super::score::json_f64(ms.mean_std_err),
        ),
        ("ignored_columns".to_string(), ignored.into()),
    ];
    super::score::report(
        global, a, out, &a.model, &ms.score, read_s, score_s, false, extra,
    )?;
    if !a.json {
        writeln!(
            out,
            "log Z:                {:.6} ({}); mean log-likelihood ± {:.6}",
            lz.log_z,
            super::approx::kind_text(lz.kind),
            ms.mean_std_err
        )?;
        if ignored > 0 && !global.quiet {
            writeln!(
                out,
                "note: {ignored} column(s) of the data are not visible units and were ignored"
            )?;
        }
    }
    Ok(())
}

/// `pgmkit sample rbm.json --n N`: block Gibbs chains (visible units as 0/1 CSV).
pub fn sample(
    global: &GlobalArgs,
    a: &super::sample::SampleArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (rbm, _) = load(&a.model)?;
    let chains = a.mcmc.chains.unwrap_or(4);
    let burn = a.mcmc.burn_in.unwrap_or(1000);
    let thin = a.mcmc.thin.unwrap_or(1);
    let t = Instant::now();
    let rows = rbm.gibbs_samples(a.n, chains, burn, thin, a.seed)?;
    let write = |w: &mut dyn Write| -> anyhow::Result<()> {
        writeln!(w, "{}", rbm.names().join(","))?;
        let mut line = String::new();
        for r in &rows {
            line.clear();
            for (i, x) in r.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push(if *x == 1 { '1' } else { '0' });
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        Ok(())
    };
    match &a.out {
        Some(p) => {
            pgmkit::io::outputs::check_outputs(
                &[("the model", a.model.as_path())],
                &[("--out", p.as_path())],
            )?;
            let mut buf: Vec<u8> = Vec::new();
            write(&mut buf)?;
            pgmkit::io::write_atomic(p, &buf)?;
            if !global.quiet {
                writeln!(
                    out,
                    "wrote {} rows x {} visible units to {} (block Gibbs: {chains} chains, {burn} burn-in sweeps, thin {thin}, seed {}) in {}",
                    rows.len(),
                    rbm.num_visible(),
                    p.display(),
                    a.seed,
                    output::duration(t.elapsed().as_secs_f64())
                )?;
            }
        }
        None => write(out)?,
    }
    Ok(())
}

/// `pgmkit info rbm.json`: sizes, parameter ranges and how log Z can be had.
pub fn info(path: &Path, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let (rbm, load_s) = load(path)?;
    let (nv, nh) = (rbm.num_visible(), rbm.num_hidden());
    let range = |x: &[f64]| -> (f64, f64) {
        x.iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    };
    let (wlo, whi) = range(rbm.weights());
    let smaller = nv.min(nh);
    let exact = smaller <= pgmkit::model::rbm::MAX_EXACT_UNITS;
    if json {
        let mut m: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        let mut push = |k: &str, v: serde_json::Value| m.0.push((k.to_string(), v));
        push("model", path.display().to_string().into());
        push("format", "RBM JSON".into());
        push("kind", "rbm".into());
        push("num_visible", nv.into());
        push("num_hidden", nh.into());
        push("parameters", (nv + nh + nv * nh).into());
        push("weight_min", super::score::json_f64(wlo));
        push("weight_max", super::score::json_f64(whi));
        push("exact_log_z", exact.into());
        push("exact_terms_log2", smaller.into());
        push("visible_names", rbm.names().to_vec().into());
        push("load_seconds", load_s.into());
        return output::write_json(out, &m);
    }
    writeln!(out, "model       {} (RBM JSON)", path.display())?;
    writeln!(
        out,
        "kind        restricted Boltzmann machine: {nv} visible, {nh} hidden binary units"
    )?;
    writeln!(
        out,
        "parameters  {} ({nv} visible biases, {nh} hidden biases, {} weights in [{wlo:.4}, {whi:.4}])",
        nv + nh + nv * nh,
        nv * nh
    )?;
    if exact {
        writeln!(
            out,
            "log Z       exact: a sum of 2^{smaller} terms over the smaller layer"
        )?;
    } else {
        writeln!(
            out,
            "log Z       by AIS (the smaller layer has {smaller} units, above the exact sum's {})",
            pgmkit::model::rbm::MAX_EXACT_UNITS
        )?;
    }
    Ok(())
}
