//! `pgmkit convert IN OUT`: rewrite a model in another format.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use pgmkit::io::ModelFormat;
use pgmkit::model::Model;

use super::args::{self, GlobalArgs};
use super::output;

/// Arguments of `pgmkit convert`.
#[derive(Debug, Args)]
#[command(
    after_help = "Formats come from the extensions: .bif, XMLBIF (.xml, .xmlbif, .bifxml) and Hugin \
    .net (Bayesian networks only), .uai, .fg; an RBM (pgmkit-rbm JSON) converts to .uai or .fg as \
    the Markov network of its units.\n\
    Supported: between the Bayesian network formats and UAI (UAI -> them for UAI BAYES only), \
    .fg -> UAI, and any model -> .fg.\n\
    UAI names variables and states by number, so names are lost when writing UAI.\n\
    The output is written to a temporary file and renamed into place."
)]
pub struct ConvertArgs {
    /// Input model (.bif, .uai, .fg, XMLBIF .xml / .xmlbif / .bifxml, or Hugin .net)
    #[arg(value_name = "IN")]
    pub input: PathBuf,

    /// Output file (.bif, .uai, .fg, XMLBIF .xml / .xmlbif / .bifxml, or Hugin .net); replaced if it exists
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
}

pub fn run(global: &GlobalArgs, a: &ConvertArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    // Check the output format before the (possibly long) load.
    let out_format = ModelFormat::from_path(&a.output)?;
    pgmkit::io::outputs::check_outputs(
        &[("the input", a.input.as_path())],
        &[("the output", a.output.as_path())],
    )?;
    if super::rbm::is_rbm(&a.input) {
        // an RBM exports as the Markov network over its visible and hidden units
        if out_format == ModelFormat::Bif {
            anyhow::bail!("an RBM is a Markov network: write .uai or .fg");
        }
        let rbm =
            pgmkit::io::rbm_json::read_rbm(&a.input).map_err(|e| args::file_error(&a.input, e))?;
        let model = Model::Markov(rbm.to_factor_graph()?);
        pgmkit::io::save_model(&model, &a.output)?;
        if !global.quiet {
            writeln!(
                out,
                "wrote {} ({}: the Markov network of an RBM, {} visible and {} hidden units) from {}",
                a.output.display(),
                args::format_name(out_format),
                rbm.num_visible(),
                rbm.num_hidden(),
                a.input.display()
            )?;
        }
        return Ok(());
    }
    let loaded = args::load(&a.input, global)?;
    if out_format == ModelFormat::Bif {
        if let Model::Markov(_) = loaded.model {
            anyhow::bail!(
                "cannot convert '{}' to BIF: it is a Markov network and BIF holds Bayesian networks only (write .uai or .fg instead)",
                a.input.display()
            );
        }
    }
    let t = Instant::now();
    pgmkit::io::save_model(&loaded.model, &a.output)?;
    let write_seconds = t.elapsed().as_secs_f64();
    if !global.quiet {
        writeln!(
            out,
            "wrote {} ({}: {}, {} variables) from {} ({}) in {}",
            a.output.display(),
            args::format_name(out_format),
            args::kind_name(&loaded.model),
            loaded.model.vars().len(),
            a.input.display(),
            args::format_name(loaded.format),
            output::duration(loaded.load_seconds + write_seconds)
        )?;
        if out_format == ModelFormat::Uai && loaded.format != ModelFormat::Uai {
            writeln!(
                out,
                "note: UAI files name variables 0, 1, 2, ... and states 0, 1, ...; the names are not kept"
            )?;
        }
    }
    Ok(())
}
