//! AIS accuracy table over the exact-verified UAI 2014 instances with at most 1000 variables.
//!
//! For each instance: AIS with default settings (`AisOptions::default()`, a 60 s time limit),
//! |log10 Z-hat - log10 Z|, the standard error (log10), whether the exact value lies within 3
//! standard errors, and the time. Prints a markdown table and a summary.
//!
//! Run: `cargo run --release --example ais_conformance [-- NAME_FILTER]`
//! (about 10-30 minutes on 2 cores for all instances).

#[path = "../tests/common/uai.rs"]
mod uai_common;

use std::time::Duration;

use pgmkit::infer::ais::{ais, AisOptions, Base, Kernel};
use pgmkit::io::{load_model, read_text, uai, LoadOptions};
use pgmkit::num::ln_to_log10;
use pgmkit::Model;

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    let budget: f64 = std::env::var("AIS_BUDGET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60.0);
    let dir = uai_common::uai_dir();
    let rows: Vec<_> = uai_common::answers()
        .into_iter()
        .filter(|a| a.status == "exact-verified" && a.nvars <= 1000 && a.name.contains(&filter))
        .collect();
    println!("| instance | vars | log10 Z | AIS log10 Z | abs err | std err | within 3 se | dead | seconds |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut errs = Vec::new();
    let mut within = 0;
    for a in &rows {
        let model = load_model(
            &dir.join(format!("{}.uai", a.name)),
            &LoadOptions::default(),
        )
        .expect("model loads");
        let fg = match &model {
            Model::Markov(m) => m.clone(),
            Model::Bayes(b) => b.to_factor_graph(),
        };
        let ev_text =
            read_text(&dir.join(format!("{}.uai.evid", a.name))).unwrap_or_else(|_| "0".into());
        let ev = uai::parse_evid(&ev_text, fg.vars()).expect("evidence parses");
        let mut opts = AisOptions {
            time_limit: Some(Duration::from_secs_f64(budget)),
            ..AisOptions::default()
        };
        if let Ok(b) = std::env::var("AIS_BASE") {
            opts.base = if b == "uniform" {
                Base::Uniform
            } else {
                Base::MeanField
            };
        }
        if let Ok(k) = std::env::var("AIS_KERNEL") {
            opts.kernel = match k.as_str() {
                "gibbs" => Kernel::Gibbs,
                "block" => Kernel::BlockGibbs,
                _ => Kernel::Auto,
            };
        }
        if let Some(k) = std::env::var("AIS_STEPS").ok().and_then(|v| v.parse().ok()) {
            opts.steps = k;
        }
        if let Some(k) = std::env::var("AIS_PARTICLES")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            opts.particles = k;
        }
        match ais(&fg, &ev, &opts, None) {
            Ok(r) => {
                let z = ln_to_log10(r.log_z);
                let se = ln_to_log10(r.std_err);
                let err = (z - a.log10_z).abs();
                let ok = err <= 3.0 * se;
                within += ok as usize;
                errs.push(err);
                println!(
                    "| {} | {} | {:.4} | {:.4} | {:.2e} | {:.2e} | {} | {} | {:.1} |",
                    a.name,
                    a.nvars,
                    a.log10_z,
                    z,
                    err,
                    se,
                    if ok { "yes" } else { "no" },
                    r.dead,
                    r.seconds
                );
            }
            Err(e) => {
                errs.push(f64::INFINITY);
                println!(
                    "| {} | {} | {:.4} | error: {e} | | | no | | |",
                    a.name, a.nvars, a.log10_z
                );
            }
        }
    }
    errs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let med = if errs.is_empty() {
        f64::NAN
    } else {
        errs[errs.len() / 2]
    };
    println!(
        "\n{} instances; median |error| (log10) {:.3e}; exact within 3 std errs: {}/{}",
        rows.len(),
        med,
        within,
        rows.len()
    );
}
