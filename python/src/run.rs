//! Heavy work off the interpreter: a worker thread runs the library call while the calling
//! thread, detached from the interpreter, waits for it, and every `POLL` looks for Ctrl-C
//! (`check_signals`) and reports progress to a Python callback.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pgmkit::infer::logz::Phase;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// How often the waiting thread looks for signals and reports progress.
const POLL: Duration = Duration::from_millis(50);

/// What the library reported of the current phase (shared with the worker thread).
#[derive(Default)]
pub struct Progress {
    label: Mutex<String>,
    total: AtomicU64,
    done: AtomicU64,
}

impl Progress {
    /// The library's phase callback.
    pub fn phase(&self, p: Phase<'_>) {
        match p {
            Phase::Start { label, units } => {
                if let Ok(mut l) = self.label.lock() {
                    *l = label.to_string();
                }
                self.total.store(units.unwrap_or(0), Ordering::Relaxed);
                self.done.store(0, Ordering::Relaxed);
            }
            Phase::Advance(k) => {
                self.done.fetch_add(k, Ordering::Relaxed);
            }
            Phase::End => {}
        }
    }

    /// A unit count without phases (rows, sweeps): `k` more done.
    pub fn advance(&self, k: u64) {
        self.done.fetch_add(k, Ordering::Relaxed);
    }

    /// Start a phase of `total` units (0: unknown) named `label`.
    pub fn start(&self, label: &str, total: u64) {
        self.phase(Phase::Start {
            label,
            units: (total > 0).then_some(total),
        });
    }

    fn report(&self, py: Python<'_>, cb: &Bound<'_, PyAny>) -> PyResult<()> {
        let label = self.label.lock().map(|l| l.clone()).unwrap_or_default();
        let total = self.total.load(Ordering::Relaxed);
        let done = self.done.load(Ordering::Relaxed);
        let total: Option<u64> = (total > 0).then_some(total);
        cb.call1((label, done, total)).map(|_| ())?;
        let _ = py;
        Ok(())
    }
}

/// Run `work` on a worker thread with the interpreter released; Ctrl-C raises
/// `KeyboardInterrupt` at once (the abandoned work finishes on its thread and is dropped), and
/// `progress(label, done, total)` is called every 50 ms while it runs and once at the end.
pub fn detached<T, F>(
    py: Python<'_>,
    progress: Option<&Bound<'_, PyAny>>,
    work: F,
) -> PyResult<pgmkit::Result<T>>
where
    T: Send + 'static,
    F: FnOnce(&Progress) -> pgmkit::Result<T> + Send + 'static,
{
    let prog = Arc::new(Progress::default());
    let (tx, rx) = mpsc::channel();
    let p2 = Arc::clone(&prog);
    std::thread::Builder::new()
        .name("pgmkit-worker".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&p2)));
            let _ = tx.send(r);
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a worker thread: {e}")))?;
    let mut rx = rx;
    loop {
        let (back, got) = py.detach(move || {
            let got = rx.recv_timeout(POLL);
            (rx, got)
        });
        rx = back;
        match got {
            Ok(Ok(r)) => {
                if let Some(cb) = progress {
                    prog.report(py, cb)?;
                }
                return Ok(r);
            }
            Ok(Err(_)) => {
                return Err(PyRuntimeError::new_err(
                    "pgmkit panicked (a bug: please report it with the model and the call)",
                ))
            }
            Err(RecvTimeoutError::Timeout) => {
                py.check_signals()?;
                if let Some(cb) = progress {
                    prog.report(py, cb)?;
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err("the pgmkit worker thread died"))
            }
        }
    }
}
