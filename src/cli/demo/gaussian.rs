//! The Gaussian section of the demo: exact log Z of a 100x100 GMRF lattice (sparse Cholesky),
//! and log Z of an energy model built in code by continuous AIS against its closed form.

use std::io::Write;

use pgmkit::gaussian::{Gmrf, LN_2PI};
use pgmkit::model::Boundary;
use pgmkit::sample::continuous::{continuous_ais, AisMove, ContinuousAisOptions, FnEnergy};

use super::{heading, Timings};
use crate::cli::output;
use pgmkit::num;

/// Side of the demo lattice, its precision `d I - c A`.
const SIDE: usize = 100;
const DIAG: f64 = 4.5;
const COUPLING: f64 = 1.0;

pub(super) fn section(out: &mut dyn Write, timings: &mut Timings) -> anyhow::Result<()> {
    heading(out, "Continuous models: a Gaussian MRF and an energy model")?;
    let n = SIDE * SIDE;
    let h: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.37).sin()).collect();
    let g = timings.time("GMRF log Z", || {
        Gmrf::lattice(SIDE, SIDE, Boundary::Free, DIAG, COUPLING, h)
    })?;
    // closed form of ln det for the open lattice: eigenvalues d - 2c cos(πi/(S+1)) - 2c cos(πj/(S+1))
    let pi = std::f64::consts::PI;
    let mut log_det = 0.0;
    for i in 1..=SIDE {
        for j in 1..=SIDE {
            let (a, b) = (
                pi * i as f64 / (SIDE + 1) as f64,
                pi * j as f64 / (SIDE + 1) as f64,
            );
            log_det += (DIAG - 2.0 * COUPLING * (a.cos() + b.cos())).ln();
        }
    }
    let secs = timings.0.last().map_or(0.0, |t| t.1);
    writeln!(
        out,
        "{SIDE}x{SIDE} lattice GMRF (precision {DIAG} I - A, 10 000 variables): exact log Z = {:.6} \
         by sparse Cholesky in {}",
        g.log_z(),
        output::duration(secs)
    )?;
    writeln!(
        out,
        "  log det of the precision {:.6}, closed form (lattice eigenvalues) {:.6}",
        g.log_det_precision(),
        log_det
    )?;

    // an energy model built in code: two Gaussian bumps in 10 dimensions, ln Z = c
    let (dim, w, m, s1, s2, c) = (10usize, 0.5f64, 1.0f64, 1.0f64, 0.8f64, 3.0f64);
    let comp = move |x: &[f64], mu: f64, s: f64, wt: f64| {
        let q: f64 = x.iter().map(|v| (v - mu) * (v - mu)).sum();
        wt.ln() - 0.5 * dim as f64 * (LN_2PI + 2.0 * s.ln()) - 0.5 * q / (s * s)
    };
    let log_p = move |x: &[f64]| {
        let (a, b) = (comp(x, m, s1, w), comp(x, -m, s2, 1.0 - w));
        let hi = a.max(b);
        c + hi + (num::exp(a - hi) + num::exp(b - hi)).ln()
    };
    let energy = FnEnergy::new(dim, log_p, move |x: &[f64], g: &mut [f64]| {
        let (a, b) = (comp(x, m, s1, w), comp(x, -m, s2, 1.0 - w));
        let hi = a.max(b);
        let (ea, eb) = (num::exp(a - hi), num::exp(b - hi));
        let (ra, rb) = (ea / (ea + eb), eb / (ea + eb));
        for (gi, v) in g.iter_mut().zip(x) {
            *gi = -ra * (v - m) / (s1 * s1) - rb * (v + m) / (s2 * s2);
        }
        c + hi + (ea + eb).ln()
    })?;
    let opts = ContinuousAisOptions {
        particles: 256,
        steps: 1500,
        kernel: AisMove::Hmc { leapfrog_steps: 3 },
        base_sd: 2.0,
        seed: 1,
        ..Default::default()
    };
    let r = timings.time("energy AIS", || continuous_ais(&energy, &opts, None))?;
    writeln!(
        out,
        "Energy model in code (mixture of two Gaussians in {dim} dimensions, weights {w}/{}): AIS with HMC,",
        1.0 - w
    )?;
    writeln!(
        out,
        "  {} particles x {} steps: log Z = {:.4} ± {:.4}, closed form {c} (error {:+.4}, {:.1} standard errors)",
        opts.particles,
        opts.steps,
        r.log_z,
        r.std_err,
        r.log_z - c,
        (r.log_z - c) / r.std_err
    )?;
    writeln!(
        out,
        "  (CLI: pgmkit logz MODEL.json for Gaussian BN / GMRF JSON files; --method ais on a GMRF)"
    )?;
    Ok(())
}
