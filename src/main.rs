//! The `pgmkit` command-line program: a thin layer over the library.
//!
//! All parsing of arguments, printing and exit codes live here (and in `src/cli/`); the library
//! itself never prints. Runtime errors print one `error: ...` line on stderr and exit with 1;
//! usage errors are reported by clap (exit code 2).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
