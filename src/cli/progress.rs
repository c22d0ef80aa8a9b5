//! Progress display on stderr for long runs: an indicatif bar on a terminal, plain lines in
//! logs and batch jobs (`--progress auto|bar|plain|none`; `--quiet` is `none`).
//!
//! A bar is drawn only once a run has lasted [`SHOW_AFTER`] (so quick runs never flash a bar);
//! it is cleared when the run ends, successfully or not. Plain mode prints one line at most every
//! [`PLAIN_EVERY`] (`progress: what 1234/10000 sweeps (12%), 3.1 s`), and for work that reports
//! no counts a start line and an end line. Progress never influences results: the library calls
//! back with counts, and the display only shows them.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::{GlobalArgs, ProgressArg};

/// A run shorter than this shows no bar.
const SHOW_AFTER: Duration = Duration::from_millis(300);

/// Plain mode prints at most one line this often.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// The display chosen for this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Hidden,
    Bar,
    Plain,
}

fn mode(global: &GlobalArgs) -> Mode {
    if global.quiet {
        return Mode::Hidden;
    }
    match global.progress {
        ProgressArg::None => Mode::Hidden,
        ProgressArg::Bar => Mode::Bar,
        ProgressArg::Plain => Mode::Plain,
        ProgressArg::Auto if std::io::stderr().is_terminal() => Mode::Bar,
        ProgressArg::Auto => Mode::Plain,
    }
}

/// A progress bar (or spinner) on stderr that may be hidden.
pub struct Bar {
    pb: ProgressBar,
    mode: Mode,
    /// Whether the bar has been attached to stderr.
    shown: AtomicBool,
    start: Instant,
    /// Plain mode: milliseconds since `start` of the last line printed.
    last_line_ms: AtomicU64,
    what: String,
    unit: String,
    /// Whether the work reports counts (a bar) or not (a spinner).
    counted: bool,
    /// Plain-mode spinner: the stop flag of its ticker thread.
    ticker: Option<std::sync::Arc<AtomicBool>>,
}

/// True when progress may be drawn as a bar: stderr is a terminal and progress is on.
pub fn enabled(global: &GlobalArgs) -> bool {
    mode(global) == Mode::Bar && std::io::stderr().is_terminal()
}

impl Bar {
    /// A bar counting up to `len` `unit`s (e.g. "sweeps", "rows"), labelled `what`.
    pub fn new(global: &GlobalArgs, len: u64, what: &str, unit: &str) -> Bar {
        let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        let template = format!(
            "{{msg}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} ({{elapsed}}, eta {{eta}})"
        );
        if let Ok(style) = ProgressStyle::with_template(&template) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(what.to_string());
        Bar {
            pb,
            mode: mode(global),
            shown: AtomicBool::new(false),
            start: Instant::now(),
            last_line_ms: AtomicU64::new(0),
            what: what.to_string(),
            unit: unit.to_string(),
            counted: true,
            ticker: None,
        }
    }

    /// A spinner for work that reports no progress, labelled `what`; shown at once (it ticks on
    /// its own). In plain mode: a start line now and an end line when it finishes.
    pub fn spinner(global: &GlobalArgs, what: &str) -> Bar {
        let mode = mode(global);
        let pb = if mode == Mode::Bar {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            pb.set_style(style);
        }
        pb.set_message(what.to_string());
        if mode == Mode::Bar {
            pb.enable_steady_tick(Duration::from_millis(120));
        }
        let ticker = (mode == Mode::Plain).then(|| {
            // work without counts: a line every PLAIN_EVERY from a small thread of the CLI
            let stop = std::sync::Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            let what = what.to_string();
            let start = Instant::now();
            std::thread::spawn(move || {
                let step = Duration::from_millis(100);
                let mut next = PLAIN_EVERY;
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(step);
                    if start.elapsed() >= next && !flag.load(Ordering::Relaxed) {
                        let _ = writeln!(
                            std::io::stderr().lock(),
                            "progress: {what} (running, {:.0} s)",
                            start.elapsed().as_secs_f64()
                        );
                        next += PLAIN_EVERY;
                    }
                }
            });
            stop
        });
        Bar {
            ticker,
            pb,
            mode,
            shown: AtomicBool::new(mode == Mode::Bar),
            start: Instant::now(),
            last_line_ms: AtomicU64::new(0),
            what: what.to_string(),
            unit: String::new(),
            counted: false,
        }
    }

    /// Plain mode: print a line if the last one is [`PLAIN_EVERY`] old.
    fn plain_line(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        let last = self.last_line_ms.load(Ordering::Relaxed);
        let every = PLAIN_EVERY.as_millis() as u64;
        if now < last + every
            || self
                .last_line_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let pos = self.pb.position();
        let line = match self.pb.length() {
            Some(len) if len > 0 => format!(
                "progress: {} {pos}/{len} {} ({:.0}%), {:.1} s",
                self.what,
                self.unit,
                100.0 * pos as f64 / len as f64,
                now as f64 / 1e3
            ),
            _ => format!(
                "progress: {} {pos} {}, {:.1} s",
                self.what,
                self.unit,
                now as f64 / 1e3
            ),
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// Count `k` more units done (callable from any thread).
    pub fn inc(&self, k: u64) {
        self.pb.inc(k);
        if self.mode == Mode::Plain {
            self.plain_line();
            return;
        }
        if self.mode == Mode::Bar
            && !self.shown.load(Ordering::Relaxed)
            && self.start.elapsed() >= SHOW_AFTER
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.pb.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Remove the bar from the terminal.
    pub fn finish(&self) {
        if !self.pb.is_finished() {
            self.pb.finish_and_clear();
            let took = self.start.elapsed();
            if let Some(t) = &self.ticker {
                t.store(true, Ordering::Relaxed);
            }
            let printed = self.last_line_ms.load(Ordering::Relaxed) > 0
                || (!self.counted && took >= PLAIN_EVERY);
            if self.mode == Mode::Plain && printed {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "progress: {} done in {:.1} s",
                    self.what,
                    took.as_secs_f64()
                );
            }
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A writer that counts the lines passing through it into a [`Bar`] (the first line, a CSV
/// header, is not counted). Rows whose quoted cells contain line breaks would be over-counted;
/// the count is for display only.
pub struct LineCounter<'a, W: std::io::Write> {
    inner: W,
    bar: &'a Bar,
    header_seen: bool,
}

impl<'a, W: std::io::Write> LineCounter<'a, W> {
    pub fn new(inner: W, bar: &'a Bar) -> Self {
        LineCounter {
            inner,
            bar,
            header_seen: false,
        }
    }
}

impl<W: std::io::Write> std::io::Write for LineCounter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(buf)?;
        let mut lines = buf[..k].iter().filter(|&&b| b == b'\n').count() as u64;
        if !self.header_seen && lines > 0 {
            self.header_seen = true;
            lines -= 1;
        }
        if lines > 0 {
            self.bar.inc(lines);
        }
        Ok(k)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn line_counter_skips_the_header_and_passes_bytes_through() {
        let global = GlobalArgs {
            renormalize: false,
            threads: None,
            quiet: true,
            progress: ProgressArg::Auto,
        };
        let bar = Bar::new(&global, 10, "test", "rows");
        let mut out = Vec::new();
        {
            let mut w = LineCounter::new(&mut out, &bar);
            w.write_all(b"a,b\n1,2\n").unwrap();
            w.write_all(b"3,4\n5,6\n").unwrap();
        }
        assert_eq!(out, b"a,b\n1,2\n3,4\n5,6\n");
        assert_eq!(bar.pb.position(), 3);
    }
}
