//! `pgmkit sample` on Gaussian models: exact draws streamed as numeric CSV (row blocks with their
//! own random streams, so the rows depend neither on the thread count nor on the chunking).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use pgmkit::gaussian::{ConditionalDraws, GaussianModel, SAMPLE_CHUNK};
use pgmkit::rng::chain_rng;
use pgmkit::Evidence;
use rayon::prelude::*;

use super::{evidence, load};
use crate::cli::args::GlobalArgs;
use crate::cli::output;

/// Variables from which a GMRF's draws are streamed row by row ([`write_wide_gmrf`]).
const WIDE: usize = 1 << 16;

/// One row as CSV text (a number never needs quoting), into `line`.
fn format_row(line: &mut String, row: &[f64]) {
    line.clear();
    line.reserve(row.len() * 24);
    for (j, v) in row.iter().enumerate() {
        if j > 0 {
            line.push(',');
        }
        output::push_f64(line, *v);
    }
    line.push('\n');
}

/// The draws of a wide GMRF (at least [`WIDE`] variables), row by row with two row buffers:
/// the next row is drawn while the last one is formatted (in parallel when there are two
/// threads). The same rows as the chunked path: row `r` continues the stream
/// `chain_rng(seed, r / SAMPLE_BLOCK)`.
fn write_wide_gmrf(
    out: &mut dyn Write,
    g: &pgmkit::gaussian::Gmrf,
    rows: usize,
    seed: u64,
) -> anyhow::Result<()> {
    let block = pgmkit::gaussian::gmrf::SAMPLE_BLOCK;
    let n = g.dim();
    let (mut cur, mut next) = (vec![0.0; n], vec![0.0; n]);
    let mut scratch = Vec::new();
    let mut line = String::new();
    let mut rng = chain_rng(seed, 0);
    if rows > 0 {
        g.sample_into(&mut rng, &mut cur, &mut scratch);
    }
    for r in 0..rows {
        let more = r + 1 < rows;
        rayon::join(
            || format_row(&mut line, &cur),
            || {
                if more {
                    if (r + 1) % block == 0 {
                        rng = chain_rng(seed, ((r + 1) / block) as u64);
                    }
                    g.sample_into(&mut rng, &mut next, &mut scratch);
                }
            },
        );
        out.write_all(line.as_bytes())?;
        std::mem::swap(&mut cur, &mut next);
    }
    out.flush()?;
    Ok(())
}

/// Draw `rows` rows and write them as CSV with a header (values in the shortest form that
/// reads back to the same `f64`), streaming: at most [`SAMPLE_CHUNK`] rows are in memory.
fn write_draws(
    out: &mut dyn Write,
    g: &GaussianModel,
    names: &[String],
    ev: &Evidence<f64>,
    rows: usize,
    seed: u64,
) -> anyhow::Result<()> {
    let drawer = ConditionalDraws::new(g, ev)?;
    let n = g.dim();
    let mut header = csv::Writer::from_writer(&mut *out);
    header.write_record(names)?;
    header.flush()?;
    drop(header);
    if let Some(gm) = drawer.joint_gmrf() {
        if n >= WIDE {
            return write_wide_gmrf(out, gm, rows, seed);
        }
    }
    // rows per chunk: SAMPLE_CHUNK, fewer for wide models (about 2^22 values in memory), always
    // a multiple of the sampling block so that the draws do not depend on the chunking
    let block = drawer.block();
    let chunk = ((1usize << 22) / n.max(1) / block * block).clamp(block, SAMPLE_CHUNK);
    let mut lines: Vec<String> = Vec::new();
    let mut first = 0;
    while first < rows {
        let k = chunk.min(rows - first);
        let data = drawer.chunk(first, k, seed);
        // rows formatted in parallel, in groups of about 2^22 values (a number never needs CSV
        // quoting), into buffers reused from group to group; written in order
        let group = ((1usize << 22) / n.max(1))
            .max(rayon::current_num_threads())
            .min(k.max(1));
        let mut r0 = 0;
        while r0 < k {
            let g = group.min(k - r0);
            lines.resize_with(g, String::new);
            lines
                .par_iter_mut()
                .enumerate()
                .for_each(|(i, line)| format_row(line, &data[(r0 + i) * n..(r0 + i + 1) * n]));
            for line in &lines[..g] {
                out.write_all(line.as_bytes())?;
            }
            r0 += g;
        }
        first += k;
    }
    out.flush()?;
    Ok(())
}

pub fn sample(
    global: &GlobalArgs,
    model: &Path,
    ev_spec: Option<&str>,
    n: usize,
    seed: u64,
    out_path: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let g = load(model)?;
    let ev = evidence(ev_spec, &g.file)?;
    let t = Instant::now();
    let names = g.names();
    match out_path {
        Some(p) => {
            output::write_file_atomic(p, |w| write_draws(w, g.model(), names, &ev, n, seed))?;
            if !global.quiet {
                let how = match (g.model(), ev.is_empty()) {
                    (GaussianModel::Bn(_), true) => "ancestral sampling",
                    _ => "exact Gaussian draws",
                };
                writeln!(
                    out,
                    "wrote {n} rows x {} variables to {} ({how}, seed {seed}, {})",
                    names.len(),
                    p.display(),
                    output::duration(t.elapsed().as_secs_f64())
                )?;
            }
            Ok(())
        }
        None => write_draws(out, g.model(), names, &ev, n, seed),
    }
}
