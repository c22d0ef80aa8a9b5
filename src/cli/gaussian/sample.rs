//! `pgmkit sample` on Gaussian models: exact draws streamed as numeric CSV (row blocks with their
//! own random streams, so the rows depend neither on the thread count nor on the chunking).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use nalgebra::DMatrix;
use pgmkit::gaussian::{GaussianModel, MvNormal, SAMPLE_CHUNK};
use pgmkit::rng::chain_rng;
use rayon::prelude::*;

use super::{evidence, load};
use crate::cli::args::GlobalArgs;
use crate::cli::output;

/// Rows per random stream when sampling a conditional (thread-count invariant).
const BLOCK: usize = 64;

/// A sampler of rows from the model given the evidence (observed columns hold their value):
/// ancestral for a BN without evidence, exact Cholesky draws otherwise. Row blocks draw from
/// `chain_rng(seed, block)`, so the rows do not depend on the number of threads, nor on the
/// chunks they are asked for in (chunks start at multiples of [`SAMPLE_CHUNK`]).
enum Drawer<'a> {
    /// The model itself.
    Joint(&'a GaussianModel),
    /// The free variables of a conditioned Gaussian BN (dense conditional).
    BnConditional(Vec<usize>, MvNormal),
    /// The free variables of a conditioned GMRF (`None`: nothing is free).
    MrfConditional(Vec<usize>, Option<pgmkit::gaussian::Gmrf>),
}

impl<'a> Drawer<'a> {
    fn new(g: &'a GaussianModel, ev: &[(usize, f64)]) -> anyhow::Result<Drawer<'a>> {
        if ev.is_empty() {
            return Ok(Drawer::Joint(g));
        }
        Ok(match g {
            GaussianModel::Bn(bn) => {
                let c = bn.condition(ev)?;
                let mvn = MvNormal::new(c.mean.clone(), c.cov.clone())?;
                Drawer::BnConditional(c.free, mvn)
            }
            GaussianModel::Mrf(m) => {
                let c = m.condition(ev)?;
                Drawer::MrfConditional(c.free, c.gmrf)
            }
        })
    }

    /// Rows per random stream: chunks must start at multiples of it.
    fn block(&self) -> usize {
        match self {
            Drawer::Joint(GaussianModel::Bn(_)) => pgmkit::gaussian::bn::SAMPLE_BLOCK,
            Drawer::Joint(GaussianModel::Mrf(_)) => pgmkit::gaussian::gmrf::SAMPLE_BLOCK,
            Drawer::BnConditional(..) => BLOCK,
            Drawer::MrfConditional(..) => pgmkit::gaussian::gmrf::SAMPLE_BLOCK,
        }
    }

    /// Rows `first..first + rows` (`first` a multiple of [`Self::block`]) over all `n` columns,
    /// row-major.
    fn chunk(
        &self,
        n: usize,
        ev: &[(usize, f64)],
        first: usize,
        rows: usize,
        seed: u64,
    ) -> Vec<f64> {
        let row_major = |m: DMatrix<f64>| -> Vec<f64> { m.transpose().as_slice().to_vec() };
        let (free, draws) = match self {
            Drawer::Joint(GaussianModel::Mrf(g)) => {
                return g.sample_rows(first / pgmkit::gaussian::gmrf::SAMPLE_BLOCK, rows, seed)
            }
            Drawer::Joint(g) => return row_major(g.sample_chunk(first, rows, seed)),
            Drawer::BnConditional(free, mvn) => {
                let na = free.len();
                let mut data = vec![0.0; rows * na];
                if na > 0 {
                    data.par_chunks_mut(BLOCK * na)
                        .enumerate()
                        .for_each(|(b, chunk)| {
                            let mut rng = chain_rng(seed, (first / BLOCK + b) as u64);
                            for row in chunk.chunks_mut(na) {
                                row.copy_from_slice(&mvn.sample(&mut rng));
                            }
                        });
                }
                (free, data)
            }
            Drawer::MrfConditional(free, cg) => {
                let d = match cg {
                    Some(cg) => {
                        cg.sample_rows(first / pgmkit::gaussian::gmrf::SAMPLE_BLOCK, rows, seed)
                    }
                    None => Vec::new(),
                };
                (free, d)
            }
        };
        let na = free.len();
        let mut out = vec![0.0; rows * n];
        for (r, row) in out.chunks_mut(n.max(1)).enumerate() {
            for &(i, v) in ev {
                row[i] = v;
            }
            for (k, &i) in free.iter().enumerate() {
                row[i] = draws[r * na + k];
            }
        }
        out
    }
}

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
    ev: &[(usize, f64)],
    rows: usize,
    seed: u64,
) -> anyhow::Result<()> {
    let drawer = Drawer::new(g, ev)?;
    let n = g.dim();
    let mut header = csv::Writer::from_writer(&mut *out);
    header.write_record(names)?;
    header.flush()?;
    drop(header);
    if let Drawer::Joint(GaussianModel::Mrf(gm)) = &drawer {
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
        let data = drawer.chunk(n, ev, first, k, seed);
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
