//! Resource limits shared by every method: memory checked before allocating, and wall-clock
//! deadlines.
//!
//! Every allocation whose size comes from the input (a count option, a size in a file) is
//! checked with [`check_alloc`] before it is made, so that an absurd value gives
//! [`Error::AllocationTooLarge`] at once instead of an abort. Sizes are multiplied in `f64`, which
//! cannot overflow. A [`Deadline`] turns an optional time budget into an instant that long work
//! checks between units of work; it saturates instead of panicking on a huge budget.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Largest default memory limit of every method, in bytes (12 GiB; the CLI's `--memory-limit`).
pub const DEFAULT_MEMORY_LIMIT: f64 = 12.0 * (1u64 << 30) as f64;

/// The default memory limit on this machine: [`DEFAULT_MEMORY_LIMIT`], or less when the
/// process may not use that much: half its address-space limit (`ulimit -v`) and three quarters
/// of the physical memory, where the system says (Linux `/proc`). Read once per process.
pub fn default_memory_limit() -> f64 {
    static LIMIT: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        let mut limit = DEFAULT_MEMORY_LIMIT;
        if let Ok(text) = std::fs::read_to_string("/proc/self/limits") {
            // "Max address space   <soft>   <hard>   bytes"
            if let Some(line) = text.lines().find(|l| l.starts_with("Max address space")) {
                let soft = line
                    .split_whitespace()
                    .nth(3)
                    .and_then(|x| x.parse::<f64>().ok());
                if let Some(bytes) = soft {
                    limit = limit.min(0.5 * bytes);
                }
            }
        }
        if let Ok(text) = std::fs::read_to_string("/proc/meminfo") {
            let kib = text
                .lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|x| x.parse::<f64>().ok());
            if let Some(kib) = kib {
                limit = limit.min(0.75 * kib * 1024.0);
            }
        }
        limit.max(64.0 * (1 << 20) as f64)
    })
}

/// Check that `count` items of `item_bytes` bytes each fit in `limit` bytes; `what` names the
/// allocation in the error (e.g. "particle states").
///
/// ```
/// use pgmkit::limits::check_alloc;
/// assert!(check_alloc("rows", 1000, 8, 1e6).is_ok());
/// assert!(check_alloc("rows", usize::MAX, 8, 1e6).is_err());
/// ```
pub fn check_alloc(what: &str, count: usize, item_bytes: usize, limit: f64) -> Result<()> {
    check_bytes(what, count as f64 * item_bytes as f64, limit)
}

/// Check that an allocation of `bytes` bytes fits in `limit`.
pub fn check_bytes(what: &str, bytes: f64, limit: f64) -> Result<()> {
    if bytes.is_nan() || bytes > limit {
        return Err(Error::AllocationTooLarge {
            what: what.to_string(),
            bytes,
            limit,
        });
    }
    Ok(())
}

/// The end of a time budget (or none). Copy it into long-running work and ask
/// [`Deadline::passed`] between units of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline.
    pub const NONE: Deadline = Deadline(None);

    /// The deadline `limit` from now (`None`: no deadline). A budget too large to represent
    /// (e.g. `Duration::MAX`) is no deadline.
    pub fn after(limit: Option<Duration>) -> Deadline {
        Deadline::from(Instant::now(), limit)
    }

    /// The deadline `limit` after `start`.
    pub fn from(start: Instant, limit: Option<Duration>) -> Deadline {
        Deadline(limit.and_then(|l| start.checked_add(l)))
    }

    /// Whether there is a deadline at all.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// True once the deadline has passed (never without one).
    pub fn passed(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }

    /// Time left (zero once passed); `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The earlier of this deadline and `share` of the time left from now (`share` in (0, 1]):
    /// the deadline of one phase of a multi-phase run.
    pub fn share(&self, share: f64) -> Deadline {
        match self.remaining() {
            None => Deadline::NONE,
            Some(left) => Deadline::after(Some(left.mul_f64(share.clamp(0.0, 1.0)))),
        }
    }
}

/// Largest time budget accepted anywhere, in seconds (about 31 years): larger values are
/// refused as certainly mistaken rather than overflowing a clock.
pub const MAX_SECONDS: f64 = 1e9;

/// A time budget in seconds as a [`Duration`]: positive, finite and at most [`MAX_SECONDS`].
pub fn seconds(what: &str, s: f64) -> Result<Duration> {
    if !(s.is_finite() && s > 0.0 && s <= MAX_SECONDS) {
        return Err(Error::InvalidArgument(format!(
            "{what} must be a positive number of seconds at most {MAX_SECONDS:e} (got {s})"
        )));
    }
    Ok(Duration::from_secs_f64(s))
}

/// A count for people: `1,234,567` (exponent form from 10^15 on).
///
/// ```
/// assert_eq!(pgmkit::limits::human_count(1234567.0), "1,234,567");
/// ```
pub fn human_count(x: f64) -> String {
    if x.is_finite() && x < 1e15 {
        let n = x.round() as u64;
        let digits = n.to_string();
        let mut s = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                s.push(',');
            }
            s.push(ch);
        }
        s
    } else {
        format!("{x:.3e}")
    }
}

/// Bytes for people: `4.0 KiB`, `1.5 GiB`.
///
/// ```
/// assert_eq!(pgmkit::limits::human_bytes(1536.0), "1.5 KiB");
/// ```
pub fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if !b.is_finite() {
        return format!("{b} B");
    }
    let mut x = b;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{x:.0} B")
    } else if x < 1e4 {
        format!("{x:.1} {}", UNITS[u])
    } else {
        format!("{b:.3e} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_saturate() {
        assert!(!Deadline::after(Some(Duration::MAX)).passed());
        assert!(!Deadline::NONE.passed());
        assert!(Deadline::after(Some(Duration::ZERO)).passed());
        assert_eq!(
            Deadline::after(Some(Duration::ZERO)).remaining(),
            Some(Duration::ZERO)
        );
        assert!(Deadline::NONE.share(0.5).remaining().is_none());
    }

    #[test]
    fn seconds_are_checked() {
        assert!(seconds("--time-limit", 1e20).is_err());
        assert!(seconds("--time-limit", f64::NAN).is_err());
        assert!(seconds("--time-limit", -1.0).is_err());
        assert_eq!(seconds("t", 2.5).unwrap(), Duration::from_millis(2500));
    }

    #[test]
    fn allocations_are_checked() {
        assert!(check_alloc("x", usize::MAX, usize::MAX, DEFAULT_MEMORY_LIMIT).is_err());
        assert!(check_alloc("x", 10, 8, 100.0).is_ok());
    }
}
