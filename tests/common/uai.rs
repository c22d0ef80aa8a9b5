//! Shared helpers for the UAI conformance test and the `uai_conformance` example: read
//! answers.tsv, run exact inference on one instance, compare with the published answers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::io::{load_model, read_text, uai, LoadOptions};
use pgmkit::{Error, Model};

/// The folder holding the UAI instances.
pub fn uai_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/uai")
}

/// One row of answers.tsv.
#[derive(Debug, Clone)]
pub struct Answer {
    pub name: String,
    pub status: String,
    pub family: String,
    pub nvars: usize,
    pub width: usize,
    pub log10_z: f64,
    pub has_mar: bool,
}

/// All rows of answers.tsv.
pub fn answers() -> Vec<Answer> {
    let text = std::fs::read_to_string(uai_dir().join("answers.tsv")).expect("answers.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (ci, cs, cf, cn, cw, cz, cm) = (
        col("name"),
        col("status"),
        col("family"),
        col("nvars"),
        col("width"),
        col("recomputed_log10Z"),
        col("has_MAR"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Answer {
                name: f[ci].to_string(),
                status: f[cs].to_string(),
                family: f[cf].to_string(),
                nvars: f[cn].parse().unwrap(),
                width: f[cw].parse().unwrap_or(0),
                log10_z: f[cz].parse().unwrap_or(f64::NAN),
                has_mar: f[cm] == "True",
            }
        })
        .collect()
}

/// Published marginals: one vector per variable.
pub fn read_mar(path: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).expect("MAR file");
    let mut toks = text.split_whitespace();
    assert_eq!(toks.next(), Some("MAR"));
    let n: usize = toks.next().unwrap().parse().unwrap();
    (0..n)
        .map(|_| {
            let k: usize = toks.next().unwrap().parse().unwrap();
            (0..k)
                .map(|_| toks.next().unwrap().parse().unwrap())
                .collect()
        })
        .collect()
}

/// Result of one instance.
#[derive(Debug)]
pub struct Outcome {
    pub name: String,
    pub width: usize,
    pub largest_table: f64,
    pub seconds: f64,
    pub log10_z: Result<f64, String>,
    pub error: f64,
    /// largest |p - published p| over all marginals, if computed
    pub mar_error: Option<f64>,
}

/// The factor graph of instance `name` and its evidence (none without an .evid file).
pub fn load_instance(name: &str) -> (pgmkit::model::FactorGraph, pgmkit::Evidence) {
    let dir = uai_dir();
    let model_path = dir.join(format!("{name}.uai"));
    let model = load_model(&model_path, &LoadOptions::default()).expect("model loads");
    let fg = match &model {
        Model::Markov(m) => m.clone(),
        Model::Bayes(b) => b.to_factor_graph(),
    };
    let ev_text = read_text(&dir.join(format!("{name}.uai.evid"))).unwrap_or_else(|_| "0".into());
    let ev = uai::parse_evid(&ev_text, fg.vars()).expect("evidence parses");
    (fg, ev)
}

/// Run exact log Z (and marginals if `with_mar` and published) on one instance.
pub fn run_instance(a: &Answer, with_mar: bool) -> Outcome {
    let dir = uai_dir();
    let (fg, ev) = load_instance(&a.name);
    let opts = ExactOptions::default();
    let t0 = Instant::now();
    // too large for the memory limit: planning says so (with the first clique over it)
    let plan = match exact::plan(&fg, &ev, &opts) {
        Ok(p) => (p.width, p.max_clique_entries),
        Err(Error::TooLarge {
            width,
            largest_table,
            ..
        }) => (width, largest_table),
        Err(e) => panic!("{}: plan: {e}", a.name),
    };
    let res = exact::log_z(&fg, &ev, &opts);
    let mut seconds = t0.elapsed().as_secs_f64();
    let log10_z = match res {
        Ok(z) => Ok(z.log10_z()),
        Err(e @ Error::TooLarge { .. }) => Err(e.to_string()),
        Err(e) => panic!("{}: unexpected error {e}", a.name),
    };
    let error = log10_z.as_ref().map_or(f64::NAN, |z| (z - a.log10_z).abs());
    let mut mar_error = None;
    if with_mar && a.has_mar && log10_z.is_ok() {
        let mar_path = dir.join(format!("{}.uai.MAR", a.name));
        let published = read_mar(&mar_path);
        let t1 = Instant::now();
        let post = exact::marginals(&fg, &ev, &opts).expect("marginals");
        seconds += t1.elapsed().as_secs_f64();
        let mut worst = 0.0f64;
        for (v, pm) in published.iter().enumerate() {
            let got = post.marginal(pgmkit::VarId(v as u32));
            assert_eq!(got.len(), pm.len(), "{} var {v}: cardinality", a.name);
            for (g, p) in got.iter().zip(pm) {
                worst = worst.max((g - p).abs());
            }
        }
        mar_error = Some(worst);
    }
    Outcome {
        name: a.name.clone(),
        width: plan.0,
        largest_table: plan.1,
        seconds,
        log10_z,
        error,
        mar_error,
    }
}
