//! Continuous data: numeric CSV, EM for a Gaussian BN from incomplete rows (monotone
//! log-likelihood), conditional-Gaussian imputation. Acceptance on ecoli70 and arth150: 5,000
//! rows, 20% of the cells masked; figures print with `--nocapture`.

use std::path::Path;

use nalgebra::DMatrix;
use pgmkit::gaussian::data::{
    em_gaussian, impute_gaussian, log_likelihood, read_numeric_csv, GaussianEmOptions,
    MISSING_MARKERS,
};
use pgmkit::io::gaussian_json::read_gbn;
use pgmkit::rng::chain_rng;
use rand::Rng;

fn to_csv(names: &[String], d: &DMatrix<f64>) -> String {
    let mut s = names.join(",");
    s.push('\n');
    for r in 0..d.nrows() {
        let cells: Vec<String> = d
            .row(r)
            .iter()
            .map(|v| {
                if v.is_finite() {
                    format!("{v:?}")
                } else {
                    "NA".into()
                }
            })
            .collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    s
}

fn acceptance(file: &str) {
    let truth = read_gbn(Path::new(file)).unwrap();
    let names = truth.names().to_vec();
    let full = truth.sample_n(5000, 11);
    let mut rng = chain_rng(12, 0);
    let mut masked = full.clone();
    for v in masked.iter_mut() {
        if rng.random::<f64>() < 0.2 {
            *v = f64::NAN;
        }
    }
    // through numeric CSV with NA markers
    let text = to_csv(&names, &masked);
    let table = read_numeric_csv(text.as_bytes(), &names, &MISSING_MARKERS).unwrap();
    let data = table.data;
    assert_eq!(data.nrows(), 5000);
    for (a, b) in data.iter().zip(masked.iter()) {
        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
    }

    let t = std::time::Instant::now();
    let fit = em_gaussian(&truth, &data, &GaussianEmOptions::default()).unwrap();
    let em_s = t.elapsed().as_secs_f64();
    for w in fit.trace.windows(2) {
        assert!(
            w[1] >= w[0] - 1e-8 * w[0].abs(),
            "log-likelihood decreased: {w:?}"
        );
    }
    let imp = impute_gaussian(&fit.model, &data, 20, 5).unwrap();
    let oracle = impute_gaussian(&truth, &data, 0, 5).unwrap();
    let n = data.ncols();
    let col_mean: Vec<f64> = (0..n)
        .map(|j| {
            let c: Vec<f64> = data
                .column(j)
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            c.iter().sum::<f64>() / c.len() as f64
        })
        .collect();
    let (mut se_em, mut se_or, mut se_base, mut logs, mut cover, mut cells) =
        (0.0, 0.0, 0.0, 0.0, 0usize, 0usize);
    let t19 = 2.093; // t quantile 0.975 with 19 degrees of freedom
    for r in 0..data.nrows() {
        for j in 0..n {
            if data[(r, j)].is_finite() {
                // observed cells unchanged (bitwise) in the mean and every draw
                assert_eq!(imp.mean[(r, j)].to_bits(), data[(r, j)].to_bits());
                assert!(imp
                    .draws
                    .iter()
                    .all(|d| d[(r, j)].to_bits() == data[(r, j)].to_bits()));
                continue;
            }
            let x = full[(r, j)];
            cells += 1;
            se_em += (imp.mean[(r, j)] - x).powi(2);
            se_or += (oracle.mean[(r, j)] - x).powi(2);
            se_base += (col_mean[j] - x).powi(2);
            let (m, s) = (imp.mean[(r, j)], imp.sd[(r, j)]);
            logs += -0.5 * ((2.0 * std::f64::consts::PI * s * s).ln() + (x - m).powi(2) / (s * s));
            let vals: Vec<f64> = imp.draws.iter().map(|d| d[(r, j)]).collect();
            let dm = vals.iter().sum::<f64>() / 20.0;
            let dsd = (vals.iter().map(|v| (v - dm).powi(2)).sum::<f64>() / 19.0).sqrt();
            let half = t19 * dsd * (1.0 + 1.0 / 20.0f64).sqrt();
            if (x - dm).abs() <= half {
                cover += 1;
            }
        }
    }
    let c = cells as f64;
    let (rmse_em, rmse_or, rmse_base) =
        ((se_em / c).sqrt(), (se_or / c).sqrt(), (se_base / c).sqrt());
    let coverage = cover as f64 / c;
    let ll_true = log_likelihood(&truth, &data).unwrap();
    println!(
        "{file}: {} masked cells; EM {} evaluations ({}converged) in {em_s:.2} s, log-lik {:.1} \
         (true network {:.1}); RMSE EM {rmse_em:.4}, oracle {rmse_or:.4} (ratio {:.4}), column-mean \
         baseline {rmse_base:.4}; log-score {:.4}; 95% coverage from 20 draws {coverage:.4}",
        cells,
        fit.trace.len(),
        if fit.converged { "" } else { "not " },
        fit.trace.last().unwrap(),
        ll_true,
        rmse_em / rmse_or,
        logs / c
    );
    assert!(
        rmse_em <= 1.02 * rmse_or,
        "EM RMSE {rmse_em} vs oracle {rmse_or}"
    );
    assert!(
        rmse_em < 0.9 * rmse_base,
        "EM RMSE {rmse_em} vs baseline {rmse_base}"
    );
    assert!((0.93..=0.97).contains(&coverage), "coverage {coverage}");
    assert_eq!(imp.mean.nrows(), 5000);
}

#[test]
fn em_and_imputation_acceptance_ecoli70() {
    acceptance("tests/data/gbn/ecoli70.json");
}

#[test]
fn em_and_imputation_acceptance_arth150() {
    acceptance("tests/data/gbn/arth150.json");
}

#[test]
fn numeric_csv_errors_name_row_and_column() {
    let names = vec!["a".to_string(), "b".to_string()];
    let e = read_numeric_csv("a,b\n1,2\n3,x\n".as_bytes(), &names, &MISSING_MARKERS).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("row 2") && msg.contains("column 2") && msg.contains("'x'"),
        "{msg}"
    );
    let t = read_numeric_csv("b,a\nNA,1\n?,\n".as_bytes(), &names, &MISSING_MARKERS).unwrap();
    assert_eq!(t.data[(0, 0)], 1.0);
    assert!(t.data[(0, 1)].is_nan() && t.data[(1, 0)].is_nan() && t.data[(1, 1)].is_nan());
    let e = read_numeric_csv("a\n1\n".as_bytes(), &names, &MISSING_MARKERS).unwrap_err();
    assert!(e.to_string().contains("b"), "{e}");
}
