//! Latent class models: recovery of a known K = 3 model over 10 observed variables (5,000 rows),
//! by the library and by `pgmkit learn --latent`.

use pgmkit::classify::adjusted_rand_index;
use pgmkit::data::Dataset;
use pgmkit::learn::latent::{latent_class, latent_class_auto, LatentOptions};
use pgmkit::sample::ancestral::forward_sample;
use pgmkit::{BayesNet, BayesNetBuilder, VarId, Variable};

#[path = "common/cli.rs"]
mod cli_common;
use cli_common::json;

/// The true model: class prior (0.5, 0.3, 0.2); observed x_j (3 states) prefers state
/// (j + k) mod 3 in class k with probability 0.7 (0.15 for each other state).
fn truth() -> BayesNet {
    let mut b = BayesNetBuilder::new();
    let z = b.add_variable("z", ["a", "b", "c"]).unwrap();
    b.set_cpd(z, &[], vec![0.5, 0.3, 0.2]).unwrap();
    for j in 0..10 {
        let x = b.add_variable(format!("x{j}"), ["s0", "s1", "s2"]).unwrap();
        let mut t = Vec::new();
        for k in 0..3 {
            for s in 0..3 {
                t.push(if s == (j + k) % 3 { 0.7 } else { 0.15 });
            }
        }
        b.set_cpd(x, &[z], t).unwrap();
    }
    b.build().unwrap()
}

/// 5,000 rows: the observed columns, their variables, and the true classes.
fn data() -> (Dataset, Vec<Variable>, Vec<usize>) {
    let bn = truth();
    let all = Dataset::from_samples(&forward_sample(&bn, 5000, 11).unwrap());
    let classes: Vec<usize> = all.column(VarId(0)).iter().map(|&c| c as usize).collect();
    let vars: Vec<Variable> = bn.vars()[1..].to_vec();
    let obs = Dataset::from_columns(&vars, all.columns()[1..].to_vec()).unwrap();
    (obs, vars, classes)
}

#[test]
fn three_classes_are_recovered() {
    let (obs, vars, classes) = data();
    let fit = latent_class(
        &vars,
        &obs,
        &LatentOptions {
            classes: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let ari = adjusted_rand_index(&classes, &fit.assignments());
    eprintln!("K = 3: ARI {ari:.4}, log-likelihood {:.2}", fit.log_lik);
    assert!(ari >= 0.9, "ARI {ari}");
    for p in &fit.posteriors {
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
    // holes change nothing essential: a fifth of the cells masked
    let (holey, _) = obs.mask_mcar(0.2, 5).unwrap();
    let fit = latent_class(
        &vars,
        &holey,
        &LatentOptions {
            classes: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let ari = adjusted_rand_index(&classes, &fit.assignments());
    eprintln!("K = 3, 20% holes: ARI {ari:.4}");
    assert!(ari >= 0.8, "ARI with holes {ari}");
}

#[test]
fn bic_chooses_three_classes() {
    let (obs, vars, _) = data();
    let (fit, tried) = latent_class_auto(&vars, &obs, 8, &LatentOptions::default()).unwrap();
    eprintln!("BIC by K: {tried:?}");
    assert_eq!(fit.classes, 3, "{tried:?}");
}

#[test]
fn cli_latent_classes_with_posteriors() {
    let (obs, vars, classes) = data();
    let dir = std::env::temp_dir().join(format!("pgmkit-latent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("lc.csv");
    let mut text = vars
        .iter()
        .map(|v| v.name.clone())
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    for r in 0..obs.num_rows() {
        let cells: Vec<String> = (0..vars.len())
            .map(|j| {
                // a few holes
                if (r * 7 + j) % 31 == 0 {
                    String::new()
                } else {
                    vars[j].states[obs.get(r, VarId(j as u32)).unwrap()].clone()
                }
            })
            .collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    std::fs::write(&csv, text).unwrap();
    let out = dir.join("lc.bif");
    let post = dir.join("post.csv");
    let j = json(&[
        "learn",
        "--latent",
        "auto",
        "--data",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--posteriors",
        post.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(j["classes"], 3, "{j}");
    assert!(j["bic_by_classes"].as_array().unwrap().len() >= 3);
    // the model loads and has the latent variable first
    let m = pgmkit::io::load_model(&out, &pgmkit::io::LoadOptions::default()).unwrap();
    let pgmkit::model::Model::Bayes(bn) = m else {
        panic!("a Bayesian network")
    };
    assert_eq!(bn.num_vars(), 11);
    assert_eq!(bn.vars()[0].name, "class");
    // posteriors: header row,c1,c2,c3,class; one line per row; probabilities sum to 1
    let text = std::fs::read_to_string(&post).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "row,c1,c2,c3,class");
    let mut assigned = Vec::new();
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0], (i + 1).to_string());
        let p: Vec<f64> = f[1..4].iter().map(|x| x.parse().unwrap()).collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-6);
        assigned.push(f[4][1..].parse::<usize>().unwrap() - 1);
    }
    assert_eq!(assigned.len(), 5000);
    assert!(adjusted_rand_index(&classes, &assigned) >= 0.9);
    std::fs::remove_dir_all(&dir).ok();
}
