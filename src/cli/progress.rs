//! Progress display on stderr (indicatif) for long sampling runs.
//!
//! A bar is drawn only when stderr is a terminal and `--quiet` is not given, and only once a run
//! has lasted [`SHOW_AFTER`] (so quick runs never flash a bar); it is cleared when the run ends,
//! successfully or not. Progress never influences results: the library calls back with counts,
//! and the bar only displays them.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::GlobalArgs;

/// A run shorter than this shows no bar.
const SHOW_AFTER: Duration = Duration::from_millis(300);

/// A progress bar (or spinner) on stderr that may be hidden.
pub struct Bar {
    pb: ProgressBar,
    /// Whether the bar may be drawn at all (stderr is a terminal, not `--quiet`).
    visible: bool,
    /// Whether the bar has been attached to stderr.
    shown: AtomicBool,
    start: Instant,
}

/// True when progress may be drawn: stderr is a terminal and `--quiet` was not given.
pub fn enabled(global: &GlobalArgs) -> bool {
    !global.quiet && std::io::stderr().is_terminal()
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
            visible: enabled(global),
            shown: AtomicBool::new(false),
            start: Instant::now(),
        }
    }

    /// A spinner for work that reports no progress, labelled `what`; shown at once (it ticks on
    /// its own).
    pub fn spinner(global: &GlobalArgs, what: &str) -> Bar {
        let visible = enabled(global);
        let pb = if visible {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            pb.set_style(style);
        }
        pb.set_message(what.to_string());
        if visible {
            pb.enable_steady_tick(Duration::from_millis(120));
        }
        Bar {
            pb,
            visible,
            shown: AtomicBool::new(visible),
            start: Instant::now(),
        }
    }

    /// Count `k` more units done (callable from any thread).
    pub fn inc(&self, k: u64) {
        self.pb.inc(k);
        if self.visible
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
