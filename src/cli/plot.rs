//! `--plot FILE.svg`: pictures of a run, drawn with plotters' SVG backend (pure Rust, no
//! system libraries) and written atomically.
//!
//! - [`ais`]: the log-weight histogram (forward; for BDMC also the reverse side), and along the
//!   temperatures the ESS, the log Z increments and the log-weight variance;
//! - [`mcmc`]: for the worst-mixing variables (highest split-R-hat) every chain's running mean
//!   of the indicator of the variable's most probable state, and the R-hat of every variable.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use pgmkit::infer::ais::AisResult;
use pgmkit::infer::marginals::Marginals;
use pgmkit::Variable;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing the plot: {e}")
}

/// The palette of the series (chains, runs).
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn write(path: &Path, svg: &str) -> anyhow::Result<()> {
    pgmkit::io::write_atomic(path, svg.as_bytes())?;
    Ok(())
}

/// A tick label: integers without a fraction, other values to 4 significant decimals.
fn tick(v: &f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let t = format!("{v:.4}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Finite (min, max) of the values, widened when flat.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * lo.abs().max(1.0) {
        let pad = 0.5 * lo.abs().max(1.0) * 1e-3 + 0.5;
        return (lo - pad, hi + pad);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// A panel with a note instead of data.
fn note(area: &Area, title: &str, text: &str) -> anyhow::Result<()> {
    area.titled(title, ("sans-serif", 18))
        .map_err(err)?
        .draw(&Text::new(text.to_string(), (20, 40), ("sans-serif", 14)))
        .map_err(err)?;
    Ok(())
}

/// Line series over x, one per (label, points), with a legend.
fn lines(
    area: &Area,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> anyhow::Result<()> {
    let (x0, x1) = span(series.iter().flat_map(|s| s.1.iter().map(|p| p.0)));
    let (y0, y1) = span(series.iter().flat_map(|s| s.1.iter().map(|p| p.1)));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .light_line_style(WHITE)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .draw()
        .map_err(err)?;
    for (i, (label, pts)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                pts.iter()
                    .copied()
                    .filter(|p| p.0.is_finite() && p.1.is_finite()),
                c.stroke_width(2),
            ))
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
    }
    if series.len() > 1 || series.iter().any(|s| !s.0.is_empty()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

/// Histograms of several samples on one axis (counts per bin), with a vertical mark each.
fn histograms(
    area: &Area,
    title: &str,
    x_desc: &str,
    samples: &[(String, Vec<f64>, f64)],
) -> anyhow::Result<()> {
    const BINS: usize = 30;
    let (x0, x1) = span(samples.iter().flat_map(|s| s.1.iter().copied()));
    let width = (x1 - x0) / BINS as f64;
    let counts: Vec<Vec<u32>> = samples
        .iter()
        .map(|(_, v, _)| {
            let mut c = vec![0u32; BINS];
            for x in v.iter().filter(|x| x.is_finite()) {
                let b = (((x - x0) / width) as usize).min(BINS - 1);
                c[b] += 1;
            }
            c
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, 0.0..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("particles")
        .light_line_style(WHITE)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .draw()
        .map_err(err)?;
    for (i, ((label, _, mark), c)) in samples.iter().zip(&counts).enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(c.iter().enumerate().map(|(b, &n)| {
                let l = x0 + b as f64 * width;
                Rectangle::new([(l, 0.0), (l + width, n as f64)], color.mix(0.45).filled())
            }))
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        if mark.is_finite() {
            chart
                .draw_series(LineSeries::new(
                    vec![(*mark, 0.0), (*mark, top)],
                    color.stroke_width(2),
                ))
                .map_err(err)?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// The AIS picture of a forward run, a reverse run or both (BDMC).
pub fn ais(
    path: &Path,
    title: &str,
    forward: Option<&AisResult>,
    reverse: Option<&AisResult>,
) -> anyhow::Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 800)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled(title, ("sans-serif", 22)).map_err(err)?;
        let panels = root.split_evenly((2, 2));
        let mut hist = Vec::new();
        if let Some(f) = forward {
            hist.push((
                format!("forward ln w (log Z {:.4})", f.log_z),
                f.log_weights.clone(),
                f.log_z,
            ));
        }
        if let Some(r) = reverse {
            // -ln w_rev: its log-mean-exp bounds log Z from above
            hist.push((
                format!("reverse -ln w (upper {:.4})", r.log_z),
                r.log_weights.iter().map(|w| -w).collect(),
                r.log_z,
            ));
        }
        histograms(&panels[0], "log weights", "ln w", &hist)?;
        match forward.filter(|f| !f.per_temperature.is_empty()) {
            Some(f) => {
                let pt = &f.per_temperature;
                lines(
                    &panels[1],
                    "ESS along the path",
                    "beta",
                    "ESS",
                    &[(
                        format!("ESS (of {} particles)", f.log_weights.len()),
                        pt.iter().map(|t| (t.beta, t.ess)).collect(),
                    )],
                )?;
                let incs: Vec<(f64, f64)> = pt
                    .windows(2)
                    .map(|w| (w[1].beta, w[1].log_z - w[0].log_z))
                    .collect();
                lines(
                    &panels[2],
                    "log Z increments",
                    "beta",
                    "increment of the running log Z",
                    &[("between checkpoints".to_string(), incs)],
                )?;
                lines(
                    &panels[3],
                    "log-weight variance",
                    "beta",
                    "var ln w",
                    &[(
                        "variance".to_string(),
                        pt.iter().map(|t| (t.beta, t.log_weight_var)).collect(),
                    )],
                )?;
            }
            None => {
                for (p, t) in panels[1..].iter().zip([
                    "ESS along the path",
                    "log Z increments",
                    "log-weight variance",
                ]) {
                    note(
                        p,
                        t,
                        "per-temperature statistics are kept for forward runs only",
                    )?;
                }
            }
        }
        root.present().map_err(err)?;
    }
    write(path, &svg)
}

/// The MCMC picture: running means of the worst-mixing variables, and every R-hat.
pub fn mcmc(path: &Path, title: &str, vars: &[Variable], m: &Marginals) -> anyhow::Result<()> {
    let Some(traces) = &m.traces else {
        anyhow::bail!("--plot needs the chains' draws (MCMC with diagnostics)");
    };
    let rhat: Vec<(usize, f64)> = m
        .rhat
        .as_ref()
        .map(|r| {
            r.iter()
                .enumerate()
                .filter_map(|(i, x)| x.map(|x| (i, x)))
                .collect()
        })
        .unwrap_or_default();
    let mut worst = rhat.clone();
    worst.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    worst.truncate(4);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 1100)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled(title, ("sans-serif", 22)).map_err(err)?;
        let (top, bottom) = root.split_vertically(800);
        let panels = top.split_evenly((2, 2));
        let draws = traces.num_draws();
        let step = (draws / 400).max(1);
        for (k, panel) in panels.iter().enumerate() {
            let Some(&(v, r)) = worst.get(k) else {
                note(panel, "running means", "no other unobserved variable")?;
                continue;
            };
            let probs = &m.probs[v];
            let s = (0..probs.len())
                .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
                .unwrap_or(0);
            let series: Vec<(String, Vec<(f64, f64)>)> = (0..traces.num_chains())
                .map(|c| {
                    let mut hits = 0usize;
                    let mut pts = Vec::new();
                    for d in 0..draws {
                        hits += usize::from(traces.state(c, d, v) == s);
                        if (d + 1) % step == 0 || d + 1 == draws {
                            pts.push(((d + 1) as f64, hits as f64 / (d + 1) as f64));
                        }
                    }
                    (format!("chain {c}"), pts)
                })
                .collect();
            lines(
                panel,
                &format!(
                    "{} = {}: running mean (R-hat {r:.3})",
                    vars[v].name, vars[v].states[s]
                ),
                "draw",
                "fraction of draws in the state",
                &series,
            )?;
        }
        if rhat.is_empty() {
            note(&bottom, "split R-hat", "no R-hat (too few draws)")?;
        } else {
            let (y0, y1) = span(rhat.iter().map(|r| r.1).chain([1.0]));
            let mut chart = ChartBuilder::on(&bottom)
                .caption(
                    "split R-hat of every unobserved variable",
                    ("sans-serif", 18),
                )
                .margin(8)
                .x_label_area_size(36)
                .y_label_area_size(56)
                .build_cartesian_2d(0.0..rhat.len() as f64, y0..y1)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("variable (model order)")
                .y_desc("R-hat")
                .light_line_style(WHITE)
                .x_label_formatter(&tick)
                .y_label_formatter(&tick)
                .draw()
                .map_err(err)?;
            chart
                .draw_series(
                    rhat.iter().enumerate().map(|(i, &(_, r))| {
                        Circle::new((i as f64 + 0.5, r), 3, COLORS[0].filled())
                    }),
                )
                .map_err(err)?
                .label("R-hat")
                .legend(|(x, y)| Circle::new((x + 6, y), 3, COLORS[0].filled()));
            chart
                .draw_series(LineSeries::new(
                    vec![(0.0, 1.01), (rhat.len() as f64, 1.01)],
                    COLORS[1].stroke_width(1),
                ))
                .map_err(err)?
                .label("1.01")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], COLORS[1]));
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK.mix(0.3))
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    write(path, &svg)
}
