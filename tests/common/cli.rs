//! Running the `pgmkit` binary from the CLI test files.
#![allow(dead_code)]

use std::process::{Command, Output};

use serde_json::Value;

/// Run the binary with `args` from the crate root.
pub fn pgmkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgmkit"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the pgmkit binary")
}

/// Lossy UTF-8 text of an output stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Run and require success; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = pgmkit(args);
    assert!(
        out.status.success(),
        "pgmkit {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Run, require success and parse stdout as JSON.
pub fn json(args: &[&str]) -> Value {
    let stdout = ok(args);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("pgmkit {args:?}: bad JSON ({e}):\n{stdout}"))
}
