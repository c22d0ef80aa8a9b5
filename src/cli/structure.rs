//! `pgmkit learn --structure hc --data D.csv --out model.bif`: a Bayesian network's structure
//! and parameters from a table alone. The work is the library's
//! ([`pgmkit::learn::structure`]); this file reads the CSV (its variables discovered from the
//! cells), calls the search and writes the network.

use std::io::Write;
use std::time::Instant;

use pgmkit::data::csv::{discover_variables, read_csv_path};
use pgmkit::learn::latent::{latent_class, latent_class_auto, LatentOptions};
use pgmkit::learn::structure::{
    chow_liu, hill_climb, naive_bayes, network_until, pc_stable, selective_tan, structure_score,
    tan, PcOptions, StructureFit, StructureOptions, StructureScore,
};
use pgmkit::learn::Prior;
use pgmkit::model::Model;

use super::args::GlobalArgs;
use super::output::{self, OrderedMap};

/// Structure-search algorithms of `learn --structure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StructureAlgo {
    /// Greedy hill climbing over arc additions, deletions and reversals, with a tabu list
    /// (--tabu) and random restarts (--restarts); `tabu` is the same search
    #[value(alias = "tabu")]
    Hc,
    /// The Chow-Liu tree (maximum mutual-information spanning tree, rooted at the first column)
    ChowLiu,
    /// PC-stable: G² conditional independence tests at --alpha, v-structures and Meek's
    /// rules; writes a DAG of the learned equivalence class (the JSON lists the CPDAG's
    /// undirected edges)
    Pc,
}

/// Generative classifiers of `learn --classifier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClassifierArg {
    /// Naive Bayes: the target is the only parent of every other variable
    Nb,
    /// Tree-augmented naive Bayes: naive Bayes plus a conditional mutual-information tree
    Tan,
    /// Selective TAN: TAN with the tree's arcs and the class's arcs kept only where they raise
    /// BIC (less estimation noise on small data)
    Stan,
}

/// Network scores of `--score`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScoreArg {
    /// Bayesian information criterion
    Bic,
    /// Akaike information criterion
    Aic,
    /// Bayesian Dirichlet equivalent uniform (--ess)
    Bdeu,
    /// Cooper & Herskovits' K2
    K2,
}

/// The table of `--data`: its variables discovered from the cells (less `--ignore`), the
/// rows, and the seconds it took.
fn read_table(
    a: &super::learn::LearnArgs,
) -> anyhow::Result<(Vec<pgmkit::Variable>, pgmkit::data::Dataset, f64)> {
    let t = Instant::now();
    let ignore: Vec<String> = a
        .ignore
        .as_deref()
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
        .unwrap_or_default();
    let mut copts = a.csv.options(false);
    copts.extra_columns = pgmkit::data::csv::ExtraColumns::PassThrough;
    let mut vars =
        discover_variables(&a.data, &copts).map_err(|e| super::args::file_error(&a.data, e))?;
    if let Some(name) = ignore.iter().find(|n| !vars.iter().any(|v| &v.name == *n)) {
        anyhow::bail!("--ignore {name}: the data has no such column");
    }
    vars.retain(|v| !ignore.contains(&v.name));
    let table =
        read_csv_path(&a.data, &vars, &copts).map_err(|e| super::args::file_error(&a.data, e))?;
    Ok((vars, table.data, t.elapsed().as_secs_f64()))
}

/// The CPTs' prior: `--prior-count`, else `default` pseudo-counts (0: maximum likelihood).
fn prior_of(a: &super::learn::LearnArgs, default: f64) -> anyhow::Result<Prior> {
    match a.prior_count {
        Some(x) if !(x.is_finite() && x >= 0.0) => {
            anyhow::bail!("--prior-count must be a finite number >= 0, got {x}")
        }
        Some(x) if x > 0.0 => Ok(Prior::Dirichlet(x)),
        Some(_) => Ok(Prior::None),
        None if default > 0.0 => Ok(Prior::Dirichlet(default)),
        None => Ok(Prior::None),
    }
}

/// Check that `--out` is a .bif path distinct from the data.
fn check_bif_out(
    a: &super::learn::LearnArgs,
    extra: &[(&str, &std::path::Path)],
) -> anyhow::Result<()> {
    let format = pgmkit::io::ModelFormat::from_path(&a.out)?;
    if format != pgmkit::io::ModelFormat::Bif {
        anyhow::bail!(
            "--out {}: a learned Bayesian network is written as .bif",
            a.out.display()
        );
    }
    let mut outs = vec![("--out", a.out.as_path())];
    outs.extend_from_slice(extra);
    pgmkit::io::outputs::check_outputs(&[("the data", a.data.as_path())], &outs)?;
    Ok(())
}

/// `pgmkit learn --latent K|auto`: a latent class model ([`pgmkit::learn::latent`]).
pub fn latent(
    global: &GlobalArgs,
    a: &super::learn::LearnArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let spec = a.latent.as_deref().unwrap_or_default().trim();
    let classes: Option<usize> = if spec.eq_ignore_ascii_case("auto") {
        None
    } else {
        match spec.parse::<usize>() {
            Ok(k) if k >= 1 => Some(k),
            _ => anyhow::bail!("--latent takes a number of classes >= 1 or `auto`, got '{spec}'"),
        }
    };
    if classes.is_none() && a.max_classes == 0 {
        anyhow::bail!("--max-classes must be at least 1");
    }
    let extra: Vec<(&str, &std::path::Path)> = a
        .posteriors
        .iter()
        .map(|p| ("--posteriors", p.as_path()))
        .collect();
    check_bif_out(a, &extra)?;
    let prior = prior_of(a, 0.0)?;
    let (vars, data, read_s) = read_table(a)?;
    let deadline = super::command_deadline(a.time_limit.map(std::time::Duration::from_secs_f64));
    let mut stop = pgmkit::stop::StopRule::new(200, 1e-6);
    if let Some(left) = deadline.remaining() {
        stop = stop.with_max_time(left);
    }
    let opts = LatentOptions {
        classes: classes.unwrap_or(1),
        em: pgmkit::learn::EmOptions {
            stop,
            prior,
            restarts: a.restarts,
            seed: a.seed,
            ..Default::default()
        },
        ..Default::default()
    };
    let t = Instant::now();
    let bar = super::progress::Bar::new(
        global,
        classes.map_or(a.max_classes, |_| 1) as u64,
        "latent classes",
        "fits",
    );
    let (fit, tried) = match classes {
        Some(_) => {
            let f = latent_class(&vars, &data, &opts)?;
            let tried = vec![(f.classes, f.bic)];
            (f, tried)
        }
        None => latent_class_auto(&vars, &data, a.max_classes, &opts)?,
    };
    bar.finish();
    let fit_s = t.elapsed().as_secs_f64();
    let mut staged = pgmkit::io::outputs::Staged::new();
    let text = pgmkit::io::model_text(&Model::Bayes(fit.model.clone()), &a.out)?;
    staged.write(&a.out, |w| {
        w.write_all(text.as_bytes())
            .map_err(|e| pgmkit::Error::io(&a.out, e))
    })?;
    let z = fit.assignments();
    let states = &fit.model.vars()[0].states;
    if let Some(p) = &a.posteriors {
        staged.write(p, |w| {
            let mut line = String::from("row");
            for s in states {
                line.push(',');
                line.push_str(s);
            }
            line.push_str(",class\n");
            w.write_all(line.as_bytes())
                .map_err(|e| pgmkit::Error::io(p, e))?;
            for (r, (probs, &k)) in fit.posteriors.iter().zip(&z).enumerate() {
                let mut line = (r + 1).to_string();
                for x in probs {
                    line.push_str(&format!(",{x}"));
                }
                line.push(',');
                line.push_str(&states[k]);
                line.push('\n');
                w.write_all(line.as_bytes())
                    .map_err(|e| pgmkit::Error::io(p, e))?;
            }
            Ok(())
        })?;
    }
    staged.commit()?;
    let mut sizes = vec![0usize; fit.classes];
    for &k in &z {
        sizes[k] += 1;
    }
    if a.json {
        let mut m: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        let mut push = |k: &str, v: serde_json::Value| m.0.push((k.to_string(), v));
        push("data", a.data.display().to_string().into());
        push("out", a.out.display().to_string().into());
        push("algorithm", "latent-class".into());
        push("classes", fit.classes.into());
        push("log_likelihood", super::score::json_f64(fit.log_lik));
        push("bic", super::score::json_f64(fit.bic));
        push("free_params", fit.free_params.into());
        push("iterations", fit.iterations.into());
        push("class_sizes", sizes.clone().into());
        let by: Vec<serde_json::Value> = tried
            .iter()
            .map(|&(k, b)| serde_json::json!([k, super::score::json_f64(b)]))
            .collect();
        push("bic_by_classes", by.into());
        push("variables", vars.len().into());
        push("rows", data.num_rows().into());
        push("missing_cells", data.num_missing().into());
        push("fit_seconds", fit_s.into());
        push("read_seconds", read_s.into());
        return output::write_json(out, &m);
    }
    writeln!(
        out,
        "latent class model: {} classes over {} variables from {} rows ({} missing cells)",
        fit.classes,
        vars.len(),
        data.num_rows(),
        data.num_missing()
    )?;
    if tried.len() > 1 {
        let list: Vec<String> = tried
            .iter()
            .map(|(k, b)| format!("K={k}: {b:.2}"))
            .collect();
        writeln!(out, "BIC by number of classes: {}", list.join(", "))?;
    }
    writeln!(
        out,
        "log-likelihood {:.4}, BIC {:.4} ({} free parameters), {} EM iterations, {}",
        fit.log_lik,
        fit.bic,
        fit.free_params,
        fit.iterations,
        output::duration(fit_s)
    )?;
    let sz: Vec<String> = states
        .iter()
        .zip(&sizes)
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    writeln!(out, "rows by most probable class: {}", sz.join(", "))?;
    writeln!(out, "wrote {}", a.out.display())?;
    if let Some(p) = &a.posteriors {
        writeln!(out, "wrote {}", p.display())?;
    }
    Ok(())
}

/// `pgmkit learn --structure`.
pub fn learn(
    _global: &GlobalArgs,
    a: &super::learn::LearnArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    check_bif_out(a, &[])?;
    if !(a.ess > 0.0 && a.ess.is_finite()) {
        anyhow::bail!("--ess must be positive, got {}", a.ess);
    }
    let (vars, data, read_s) = read_table(a)?;
    let score = match a.score {
        ScoreArg::Bic => StructureScore::Bic,
        ScoreArg::Aic => StructureScore::Aic,
        ScoreArg::Bdeu => StructureScore::BDeu { ess: a.ess },
        ScoreArg::K2 => StructureScore::K2,
    };
    let deadline = super::command_deadline(a.time_limit.map(std::time::Duration::from_secs_f64));
    let arcs_of = |flag: &str, text: &Option<String>| -> anyhow::Result<Vec<(usize, usize)>> {
        let Some(text) = text else {
            return Ok(Vec::new());
        };
        text.split(',')
            .filter(|x| !x.trim().is_empty())
            .map(|item| {
                let Some((u, v)) = item.split_once("->") else {
                    anyhow::bail!("{flag} {item}: write an arc as FROM->TO");
                };
                let find = |name: &str| {
                    vars.iter()
                        .position(|x| x.name == name.trim())
                        .ok_or_else(|| {
                            anyhow::anyhow!("{flag} {item}: no column '{}'", name.trim())
                        })
                };
                let (a, b) = (find(u)?, find(v)?);
                if a == b {
                    anyhow::bail!("{flag} {item}: an arc joins two different columns");
                }
                Ok((a, b))
            })
            .collect()
    };
    let forbidden = arcs_of("--forbid", &a.forbid)?;
    let required = arcs_of("--require", &a.require)?;
    if (!forbidden.is_empty() || !required.is_empty()) && a.structure != Some(StructureAlgo::Hc) {
        anyhow::bail!("--forbid and --require apply to --structure hc");
    }
    let opts = StructureOptions {
        score,
        max_parents: a.max_parents,
        tabu: a.tabu,
        restarts: a.restarts,
        perturb: a.perturb,
        forbidden,
        required,
        seed: a.seed,
        // the parameters are fitted after the search: the search gets 80% of the budget
        deadline: deadline.share(0.8),
        ..Default::default()
    };
    let t = Instant::now();
    let mut cpdag_edges: Option<Vec<(usize, usize)>> = None;
    let mut consistent: Option<bool> = None;
    let (algorithm, fit) = match (a.structure, a.classifier) {
        (Some(StructureAlgo::Hc), _) => ("hc", hill_climb(&data, &opts)?),
        (Some(StructureAlgo::Pc), _) => {
            if !(a.alpha > 0.0 && a.alpha < 1.0) {
                anyhow::bail!("--alpha must be in (0, 1), got {}", a.alpha);
            }
            let pc = pc_stable(
                &data,
                &PcOptions {
                    alpha: a.alpha,
                    deadline: deadline.share(0.8),
                    ..Default::default()
                },
            )?;
            let parents = pc.dag.clone();
            cpdag_edges = Some(pc.edges.clone());
            consistent = Some(pc.consistent);
            let fit = StructureFit {
                score: structure_score(&data, &parents, score)?,
                parents,
                steps: pc.tests,
                restarts: 0,
                families: 0,
                time_limited: pc.time_limited,
                seconds: t.elapsed().as_secs_f64(),
            };
            ("pc", fit)
        }
        (algo, cls) => {
            let parents = match (algo, cls) {
                (Some(_), _) => chow_liu(&data, 0)?,
                (None, cls) => {
                    let name = a.target.as_deref().unwrap_or_default();
                    let Some(target) = vars.iter().position(|v| v.name == name) else {
                        anyhow::bail!("--target {name}: the data has no such column");
                    };
                    match cls {
                        Some(ClassifierArg::Tan) => tan(&data, target)?,
                        Some(ClassifierArg::Stan) => selective_tan(&data, target)?,
                        _ => naive_bayes(vars.len(), target),
                    }
                }
            };
            let name = match (algo, cls) {
                (Some(_), _) => "chow-liu",
                (None, Some(ClassifierArg::Tan)) => "tan",
                (None, Some(ClassifierArg::Stan)) => "stan",
                _ => "nb",
            };
            let fit = StructureFit {
                score: structure_score(&data, &parents, score)?,
                parents,
                steps: 0,
                restarts: 0,
                families: vars.len(),
                time_limited: false,
                seconds: t.elapsed().as_secs_f64(),
            };
            (name, fit)
        }
    };
    let t = Instant::now();
    let prior = prior_of(a, if a.classifier.is_some() { 1.0 } else { 0.0 })?;
    let bn = network_until(&vars, &fit.parents, &data, &prior, deadline)?;
    let fit_s = t.elapsed().as_secs_f64();
    let arcs: usize = fit.parents.iter().map(Vec::len).sum();
    pgmkit::io::save_model(&Model::Bayes(bn), &a.out)?;
    if a.json {
        let mut m: OrderedMap<serde_json::Value> = OrderedMap(Vec::new());
        let mut push = |k: &str, v: serde_json::Value| m.0.push((k.to_string(), v));
        push("data", a.data.display().to_string().into());
        push("out", a.out.display().to_string().into());
        push("algorithm", algorithm.into());
        push("score_kind", score.name().into());
        push("score", super::score::json_f64(fit.score));
        push("variables", vars.len().into());
        push("rows", data.num_rows().into());
        push("missing_cells", data.num_missing().into());
        push("arcs", arcs.into());
        let list: Vec<serde_json::Value> = fit
            .parents
            .iter()
            .enumerate()
            .flat_map(|(v, ps)| {
                let vars = &vars;
                ps.iter().map(move |&p| {
                    serde_json::Value::from(vec![vars[p].name.clone(), vars[v].name.clone()])
                })
            })
            .collect();
        push("arc_list", list.into());
        if let Some(edges) = &cpdag_edges {
            let e: Vec<serde_json::Value> = edges
                .iter()
                .map(|&(x, y)| vec![vars[x].name.clone(), vars[y].name.clone()].into())
                .collect();
            push("undirected_edges", e.into());
        }
        if let Some(c) = consistent {
            push("consistent_extension", c.into());
        }
        push("steps", fit.steps.into());
        push("restarts", fit.restarts.into());
        push("families_scored", fit.families.into());
        push("time_limited", fit.time_limited.into());
        push("search_seconds", fit.seconds.into());
        push("fit_seconds", fit_s.into());
        push("read_seconds", read_s.into());
        return output::write_json(out, &m);
    }
    writeln!(
        out,
        "learned a Bayesian network over {} variables from {} rows ({} missing cells): {arcs} arcs",
        vars.len(),
        data.num_rows(),
        data.num_missing()
    )?;
    if algorithm == "hc" {
        writeln!(
            out,
            "{} score {:.4} after {} moves ({} restarts, {} families scored) in {}{}",
            score.name().to_uppercase(),
            fit.score,
            fit.steps,
            fit.restarts,
            fit.families,
            output::duration(fit.seconds),
            if fit.time_limited {
                " (time limit reached)"
            } else {
                ""
            }
        )?;
    } else {
        writeln!(
            out,
            "{algorithm}: {} score {:.4}, structure in {}",
            score.name().to_uppercase(),
            fit.score,
            output::duration(fit.seconds)
        )?;
    }
    if consistent == Some(false) {
        writeln!(
            out,
            "note: the independence tests gave conflicting v-structures, so the CPDAG has no \
             consistent DAG; the written DAG orients every edge, keeping the CPDAG's arcs where \
             they form no cycle"
        )?;
    }
    writeln!(out, "wrote {}", a.out.display())?;
    Ok(())
}
