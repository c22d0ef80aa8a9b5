//! Print the exact-inference conformance table on the UAI 2014 instances of tests/data/uai:
//! instance, width, largest table, seconds, |log10 Z - reference|, max marginal error.
//!
//! `cargo run --release --example uai_conformance [--no-mar] [NAME_FILTER]`
#[path = "../tests/common/uai.rs"]
mod uai_common;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let with_mar = !args.iter().any(|a| a == "--no-mar");
    let filter = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_default();
    println!("| instance | vars | width | largest table | seconds | log10 Z | abs error | max marginal error |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let (mut n, mut ok) = (0, 0);
    for a in uai_common::answers()
        .iter()
        .filter(|a| a.status == "exact-verified" && a.name.contains(&filter))
    {
        let o = uai_common::run_instance(a, with_mar);
        n += 1;
        let z = match &o.log10_z {
            Ok(z) => format!("{z:.10}"),
            Err(e) => format!("TooLarge ({e})"),
        };
        if o.error <= 1e-6 && o.mar_error.is_none_or(|m| m <= 1e-6) {
            ok += 1;
        }
        println!(
            "| {} | {} | {} | {:.3e} | {:.3} | {} | {:.1e} | {} |",
            o.name,
            a.nvars,
            o.width,
            o.largest_table,
            o.seconds,
            z,
            o.error,
            o.mar_error.map_or("-".into(), |m| format!("{m:.1e}"))
        );
    }
    println!("\n{ok} of {n} instances within 1e-6 (log10 Z and marginals)");
}
