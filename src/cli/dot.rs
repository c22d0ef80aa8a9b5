//! `pgmkit dot MODEL [-e EVIDENCE] [--marginals] [--out FILE]`: the model's graph in Graphviz
//! DOT ([`pgmkit::io::dot::to_dot`]).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use pgmkit::infer::exact;
use pgmkit::model::Model;

use super::args::{self, GlobalArgs, ModelQuery};

/// Arguments of `pgmkit dot`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    pgmkit dot tests/data/bif/asia.bif -e xray=yes --marginals --out asia.dot\n  \
    dot -Tsvg asia.dot -o asia.svg")]
pub struct DotArgs {
    #[command(flatten)]
    pub query: ModelQuery,

    /// Label every unobserved variable with its exact posterior marginal (its most probable
    /// states)
    #[arg(long)]
    pub marginals: bool,

    /// Write the DOT text to this file (atomically) instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, a: &DotArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(o) = &a.out {
        pgmkit::io::outputs::check_outputs(
            &[("the model", a.query.model.as_path())],
            &[("--out", o.as_path())],
        )?;
    }
    let loaded = args::load(&a.query.model, global)?;
    let vars = loaded.model.vars().to_vec();
    let ev = args::evidence(a.query.evidence.as_deref(), &vars)?;
    let post = if a.marginals {
        let opts = a.query.exact_options();
        Some(match &loaded.model {
            Model::Bayes(bn) => exact::bn_marginals(bn, &ev, &opts)?,
            Model::Markov(fg) => exact::marginals(fg, &ev, &opts)?,
        })
    } else {
        None
    };
    let text = pgmkit::io::dot::to_dot(&loaded.model, &ev, post.as_ref());
    match &a.out {
        Some(path) => {
            pgmkit::io::write_atomic(path, text.as_bytes())?;
            if !global.quiet {
                writeln!(
                    out,
                    "wrote {} (Graphviz DOT, {} variables)",
                    path.display(),
                    vars.len()
                )?;
            }
        }
        None => out.write_all(text.as_bytes())?,
    }
    Ok(())
}
