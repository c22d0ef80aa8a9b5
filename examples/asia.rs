//! Build the Asia network (Lauritzen & Spiegelhalter 1988) in Rust code and query it exactly.
//!
//! Run with `cargo run --release --example asia`.
use pgmkit::infer::exact::{self, ExactOptions};
use pgmkit::{BayesNetBuilder, Result};

fn main() -> Result<()> {
    let mut b = BayesNetBuilder::new();
    let yes_no = ["yes", "no"];
    let asia = b.add_variable("asia", yes_no)?;
    let tub = b.add_variable("tub", yes_no)?;
    let smoke = b.add_variable("smoke", yes_no)?;
    let lung = b.add_variable("lung", yes_no)?;
    let bronc = b.add_variable("bronc", yes_no)?;
    let either = b.add_variable("either", yes_no)?;
    let xray = b.add_variable("xray", yes_no)?;
    let dysp = b.add_variable("dysp", yes_no)?;
    // CPT layout: parents in the order given (first slowest), child fastest.
    b.set_cpd(asia, &[], vec![0.01, 0.99])?;
    b.set_cpd(tub, &[asia], vec![0.05, 0.95, 0.01, 0.99])?;
    b.set_cpd(smoke, &[], vec![0.5, 0.5])?;
    b.set_cpd(lung, &[smoke], vec![0.1, 0.9, 0.01, 0.99])?;
    b.set_cpd(bronc, &[smoke], vec![0.6, 0.4, 0.3, 0.7])?;
    // either = lung OR tub (deterministic)
    b.set_cpd(
        either,
        &[lung, tub],
        vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0],
    )?;
    b.set_cpd(xray, &[either], vec![0.98, 0.02, 0.05, 0.95])?;
    b.set_cpd(
        dysp,
        &[bronc, either],
        vec![0.9, 0.1, 0.7, 0.3, 0.8, 0.2, 0.1, 0.9],
    )?;
    let bn = b.build()?;

    let ev = bn.evidence("asia=yes,xray=yes,dysp=yes")?;
    let opts = ExactOptions::default();
    let log_pe = exact::bn_log_evidence(&bn, &ev, &opts)?;
    println!(
        "P(asia=yes, xray=yes, dysp=yes) = {:.6e}  (ln = {:.9})",
        log_pe.log_z.exp(),
        log_pe.log_z
    );
    let post = exact::bn_marginals(&bn, &ev, &opts)?;
    for v in [tub, lung, bronc, smoke] {
        println!(
            "P({}=yes | evidence) = {:.6}",
            bn.var(v).name,
            post.marginal(v)[0]
        );
    }
    // impossible evidence is a typed error, not NaN
    let bad = bn.evidence("lung=yes,either=no")?;
    match exact::bn_log_evidence(&bn, &bad, &opts) {
        Err(e) => println!("lung=yes, either=no: {e}"),
        Ok(z) => println!("unexpected: {}", z.log_z),
    }
    Ok(())
}
