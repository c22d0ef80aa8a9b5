//! `--plot FILE.svg` on `logz` (AIS, reverse AIS, BDMC) and `marginals` (MCMC): well-formed
//! SVG with the expected series, written only where asked, refused where it cannot apply.

use std::process::Command;

fn pgmkit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pgmkit"))
        .args(args)
        .output()
        .unwrap()
}

/// Every text of the SVG, after checking it is well-formed XML with an <svg> root.
fn svg_texts(path: &std::path::Path) -> (Vec<String>, usize) {
    use quick_xml::events::Event;
    let text = std::fs::read_to_string(path).unwrap();
    let mut r = quick_xml::Reader::from_str(&text);
    let (mut depth, mut root, mut texts, mut lines) = (0i64, None, Vec::new(), 0usize);
    loop {
        match r
            .read_event()
            .unwrap_or_else(|e| panic!("{}: not XML: {e}", path.display()))
        {
            Event::Start(e) => {
                if root.is_none() {
                    root = Some(String::from_utf8_lossy(e.name().as_ref()).to_string());
                }
                depth += 1;
            }
            Event::End(_) => depth -= 1,
            Event::Empty(e) if e.name().as_ref() == b"polyline" || e.name().as_ref() == b"path" => {
                lines += 1;
            }
            Event::Text(t) => {
                let s = String::from_utf8_lossy(t.as_ref()).trim().to_string();
                if !s.is_empty() {
                    texts.push(s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        assert!(depth >= 0, "{}: unbalanced", path.display());
    }
    assert_eq!(depth, 0, "{}: unclosed elements", path.display());
    assert_eq!(root.as_deref(), Some("svg"));
    (texts, lines)
}

fn has(texts: &[String], needle: &str) -> bool {
    texts.iter().any(|t| t.contains(needle))
}

#[test]
fn logz_plots_of_ais_rais_and_bdmc() {
    let dir = std::env::temp_dir().join(format!("pgmkit-plots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = "tests/data/fg/ising_10x10_open.fg";
    for method in ["ais", "rais", "bdmc", "auto"] {
        let p = dir.join(format!("{method}.svg"));
        let o = pgmkit(&[
            "logz",
            model,
            "--method",
            method,
            "--particles",
            "16",
            "--steps",
            "60",
            "--plot",
            p.to_str().unwrap(),
            "-q",
        ]);
        if method == "auto" {
            // exact inference fits: no AIS run to draw, said so, no file
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success() && err.contains("no AIS run"), "{err}");
            assert!(!p.exists());
            continue;
        }
        assert!(
            o.status.success(),
            "{method}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let (texts, lines) = svg_texts(&p);
        assert!(has(&texts, "log weights"), "{method}: {texts:?}");
        assert_eq!(has(&texts, "forward ln w"), method != "rais", "{method}");
        assert_eq!(has(&texts, "reverse -ln w"), method != "ais", "{method}");
        for series in [
            "ESS along the path",
            "log Z increments",
            "log-weight variance",
        ] {
            assert!(has(&texts, series), "{method}: {series}");
        }
        if method == "rais" {
            assert!(has(&texts, "forward runs only"));
        } else {
            assert!(has(&texts, "ESS (of 16 particles)") && has(&texts, "between checkpoints"));
            assert!(lines >= 3, "{method}: {lines} lines");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn marginals_plot_of_mcmc_chains() {
    let dir = std::env::temp_dir().join(format!("pgmkit-plots-m-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("mcmc.svg");
    let o = pgmkit(&[
        "marginals",
        "tests/data/bif/alarm.bif",
        "-e",
        "BP=HIGH",
        "--method",
        "gibbs",
        "--samples",
        "300",
        "--burn-in",
        "100",
        "--plot",
        p.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (texts, lines) = svg_texts(&p);
    for c in 0..4 {
        assert!(has(&texts, &format!("chain {c}")), "{texts:?}");
    }
    assert!(has(&texts, "running mean (R-hat"));
    assert!(has(&texts, "split R-hat of every unobserved variable"));
    assert!(lines >= 16, "{lines}");
    // refused: a method without chains, and a plot over the model
    let o = pgmkit(&[
        "marginals",
        "tests/data/bif/asia.bif",
        "--plot",
        p.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let o = pgmkit(&[
        "marginals",
        "tests/data/bif/asia.bif",
        "--method",
        "gibbs",
        "--plot",
        "tests/data/bif/asia.bif",
    ]);
    assert!(!o.status.success());
    let o = pgmkit(&[
        "logz",
        "tests/data/bif/asia.bif",
        "--plot",
        p.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    std::fs::remove_dir_all(&dir).ok();
}
