//! Per-row component inference against the junction-tree engine: marginal log-likelihood and
//! per-cell posteriors of rows with many missing cells, through both enumeration and variable
//! elimination (bucket tree); expected counts agree between the two paths.

use std::path::Path;

use pgmkit::data::{Dataset, MISSING};
use pgmkit::infer::exact::{bn_log_evidence, bn_marginals, ExactOptions};
use pgmkit::io::{bif::parse_bif, read_text, LoadOptions};
use pgmkit::learn::{RowEngine, RowOptions};
use pgmkit::sample::ancestral::forward_sample;
use pgmkit::{BayesNet, Evidence, VarId};

fn net(name: &str) -> BayesNet {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/bif/{name}.bif"));
    parse_bif(&read_text(&p).unwrap(), &LoadOptions::default()).unwrap()
}

#[test]
fn rows_match_the_junction_tree_on_both_paths() {
    for name in ["alarm", "insurance", "asia"] {
        let bn = net(name);
        let full = Dataset::from_samples(&forward_sample(&bn, 40, 9).unwrap());
        let (masked, _) = full.mask_mcar(0.5, 4).unwrap();
        let enum_eng = RowEngine::new(
            &bn,
            RowOptions {
                enumeration_limit: 1 << 16,
                ..RowOptions::default()
            },
        )
        .unwrap();
        let ve_eng = RowEngine::new(
            &bn,
            RowOptions {
                enumeration_limit: 1,
                ..RowOptions::default()
            },
        )
        .unwrap();
        let n = bn.num_vars();
        let mut row = vec![0u16; n];
        for r in 0..masked.num_rows() {
            masked.row_into(r, &mut row);
            let ev = Evidence::from_options(
                row.iter()
                    .map(|&x| (x != MISSING).then_some(x as usize))
                    .collect(),
            );
            let want = bn_log_evidence(&bn, &ev, &ExactOptions::default())
                .unwrap()
                .log_z;
            let marg = bn_marginals(&bn, &ev, &ExactOptions::default()).unwrap();
            let mut counts_a: Vec<Vec<f64>> =
                bn.cpds().iter().map(|c| vec![0.0; c.probs.len()]).collect();
            let mut counts_b = counts_a.clone();
            for (eng, counts) in [(&enum_eng, &mut counts_a), (&ve_eng, &mut counts_b)] {
                let post = eng.posterior(&row).unwrap();
                assert!(
                    (post.log_lik - want).abs() < 1e-9 * want.abs().max(1.0),
                    "{name} row {r}: {} vs {want}",
                    post.log_lik
                );
                for (v, p) in post.cell_marginals(eng).unwrap() {
                    let q = marg.marginal(VarId(v as u32));
                    for (a, b) in p.iter().zip(&q) {
                        assert!(
                            (a - b).abs() < 1e-9,
                            "{name} row {r} var {v}: {p:?} vs {q:?}"
                        );
                    }
                }
                post.add_counts(eng, &row, counts, 1.0).unwrap();
            }
            for (a, b) in counts_a.iter().flatten().zip(counts_b.iter().flatten()) {
                assert!(
                    (a - b).abs() < 1e-9,
                    "{name} row {r}: counts differ {a} vs {b}"
                );
            }
        }
    }
}
