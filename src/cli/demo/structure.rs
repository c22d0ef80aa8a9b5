//! The structure-learning section of the demo: ALARM's structure recovered from its own forward
//! samples by hill climbing and PC-stable, from holey rows by structural EM, a TAN classifier of
//! HYPOVOLEMIA against the true network, and latent classes found by BIC.

use std::io::Write;

use pgmkit::classify::{adjusted_rand_index, classify};
use pgmkit::data::Dataset;
use pgmkit::impute::{evaluate, EvalOptions};
use pgmkit::learn::latent::{latent_class_auto, LatentOptions};
use pgmkit::learn::structure::{
    hill_climb, network, parents_of, pc_stable, selective_tan, shd, structural_em, structure_score,
    tan, PcOptions, SemOptions, StructureOptions, StructureScore,
};
use pgmkit::learn::{em, EmOptions, Prior};
use pgmkit::sample::ancestral::forward_sample;
use pgmkit::{BayesNet, BayesNetBuilder};

use super::{heading, Timings, SEED};
use crate::cli::output;

/// Rows of the complete table the searches learn from.
const ROWS: usize = 10_000;
/// Rows of the holey table of structural EM (a fifth of the cells hidden).
const HOLEY_ROWS: usize = 5_000;

pub(super) fn section(
    out: &mut dyn Write,
    bn: &BayesNet,
    timings: &mut Timings,
) -> anyhow::Result<()> {
    heading(
        out,
        "From a table to a model: structure, classifiers, latent classes",
    )?;
    let truth = parents_of(bn);
    let data = Dataset::from_samples(&forward_sample(bn, ROWS, SEED + 7)?);
    let true_bic = structure_score(&data, &truth, StructureScore::Bic)?;
    writeln!(
        out,
        "{ROWS} forward samples of ALARM; the true DAG (46 arcs) scores BIC {true_bic:.1}"
    )?;
    let hc = timings.time("hill climbing", || {
        hill_climb(&data, &StructureOptions::default())
    })?;
    writeln!(
        out,
        "  hill climbing (BIC, tabu 10, 10 restarts): BIC {:.1} ({:+.3}% vs the true DAG), {} arcs, \
         SHD {} to the truth, {}",
        hc.score,
        100.0 * (hc.score - true_bic) / true_bic.abs(),
        hc.parents.iter().map(Vec::len).sum::<usize>(),
        shd(&hc.parents, &truth),
        output::duration(hc.seconds)
    )?;
    let t0 = std::time::Instant::now();
    let pc = timings.time("PC-stable", || {
        pc_stable(
            &data,
            &PcOptions {
                alpha: 0.01,
                ..Default::default()
            },
        )
    })?;
    {
        let dag = &pc.dag;
        writeln!(
            out,
            "  PC-stable (G² tests at alpha 0.01): {} edges ({} left undirected), DAG SHD {}, {} \
             tests, {}",
            pc.arcs.len() + pc.edges.len(),
            pc.edges.len(),
            shd(dag, &truth),
            pc.tests,
            output::duration(t0.elapsed().as_secs_f64())
        )?;
    }
    // structural EM on holey rows, against EM on the true structure
    let full = Dataset::from_samples(&forward_sample(bn, HOLEY_ROWS, SEED)?);
    let (masked, _) = full.mask_mcar(0.2, SEED)?;
    let sem = timings.time("structural EM", || {
        structural_em(bn.vars(), &masked, &SemOptions::default())
    })?;
    let known = em(bn, &masked, &EmOptions::default(), None)?;
    let ev = |m: &BayesNet| evaluate(m, None, &full, &masked, &EvalOptions::default());
    let (a, b) = (ev(&sem.model)?, ev(&known.model)?);
    writeln!(
        out,
        "  structural EM, {HOLEY_ROWS} rows with 20% of cells hidden and no model: {} arcs, SHD {}, \
         {}; hidden cells right {:.1}% (EM on the true structure {:.1}%)",
        sem.parents.iter().map(Vec::len).sum::<usize>(),
        shd(&sem.parents, &truth),
        output::duration(sem.seconds),
        100.0 * a.accuracy,
        100.0 * b.accuracy
    )?;
    writeln!(
        out,
        "  (CLI: pgmkit learn --structure hc|pc|chow-liu --data D.csv --out M.bif; pgmkit impute \
         --data holes.csv --out filled.csv)"
    )?;
    // classifiers of HYPOVOLEMIA, tested on fresh rows
    let test = Dataset::from_samples(&forward_sample(bn, ROWS, SEED + 8)?);
    let target = bn.var_id("HYPOVOLEMIA")?;
    let acc = |m: &BayesNet| -> pgmkit::Result<f64> {
        Ok(classify(m, &test, target, Default::default())?
            .accuracy
            .unwrap_or(f64::NAN))
    };
    let fit = |p: Vec<Vec<usize>>| network(bn.vars(), &p, &data, &Prior::Dirichlet(1.0));
    let t = timings.time("TAN", || -> pgmkit::Result<(f64, f64)> {
        Ok((
            acc(&fit(tan(&data, target.index())?)?)?,
            acc(&fit(selective_tan(&data, target.index())?)?)?,
        ))
    })?;
    writeln!(
        out,
        "  HYPOVOLEMIA from the other 36 variables on {ROWS} fresh rows: TAN {:.2}%, selective TAN \
         {:.2}%, the true network {:.2}% (CLI: learn --classifier nb|tan|stan; classify)",
        100.0 * t.0,
        100.0 * t.1,
        100.0 * acc(bn)?
    )?;
    // latent classes: three hidden groups behind ten answers
    let mut b = BayesNetBuilder::new();
    let z = b.add_variable("group", ["a", "b", "c"])?;
    b.set_cpd(z, &[], vec![0.5, 0.3, 0.2])?;
    for j in 0..10 {
        let x = b.add_variable(format!("q{j}"), ["0", "1", "2"])?;
        let col: Vec<f64> = (0..9)
            .map(|i| if i % 3 == (j + i / 3) % 3 { 0.7 } else { 0.15 })
            .collect();
        b.set_cpd(x, &[z], col)?;
    }
    let lc = b.build()?;
    let rows = Dataset::from_samples(&forward_sample(&lc, 5000, SEED)?);
    let groups: Vec<usize> = rows.column(z).iter().map(|&c| c as usize).collect();
    let obs = Dataset::from_columns(&lc.vars()[1..], rows.columns()[1..].to_vec())?;
    let (fit, tried) = timings.time("latent classes", || {
        latent_class_auto(&lc.vars()[1..], &obs, 6, &LatentOptions::default())
    })?;
    writeln!(
        out,
        "  latent classes: 5000 rows of 10 answers from 3 hidden groups; BIC picks K = {} of {} tried, \
         adjusted Rand index {:.3} to the true groups (CLI: learn --latent auto)",
        fit.classes,
        tried.len(),
        adjusted_rand_index(&groups, &fit.assignments())
    )?;
    Ok(())
}
