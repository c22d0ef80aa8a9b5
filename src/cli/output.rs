//! Small output helpers: JSON objects that keep their key order, and number formatting.

use std::io::Write;
use std::path::Path;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// A JSON object whose keys keep the order they were pushed in (serde_json's own map sorts them).
#[derive(Debug, Clone)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Columns are aligned to names of at most this many characters; longer names simply push their
/// line to the right. (It also keeps every width far below `format!`'s limit of 65,535.)
pub const MAX_ALIGN: usize = 64;

/// The column width for aligning `names`: the longest name, capped at [`MAX_ALIGN`].
pub fn align_width<'a>(names: impl IntoIterator<Item = &'a str>) -> usize {
    names
        .into_iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_ALIGN)
}

/// Write `value` as pretty JSON followed by a newline.
pub fn write_json<T: Serialize>(out: &mut dyn Write, value: &T) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Write a file atomically, streaming: `write` gets a buffered writer on a temporary file in the
/// same directory as `path`; only when `write` succeeds is the file flushed, synced and renamed
/// over `path`. On any error the temporary file is removed and `path` is left as it was.
/// (For a byte buffer already in memory, `pgmkit::io::write_atomic` does the same.)
pub fn write_file_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    // the library's streaming writer, keeping `write`'s own error (and its context chain)
    let mut failed = None;
    let res = pgmkit::data::csv::write_atomic_with(path, |w| {
        write(w).map_err(|e| {
            let msg = format!("{e:#}");
            failed = Some(e);
            pgmkit::Error::InvalidArgument(msg)
        })
    });
    match (res, failed) {
        (Err(_), Some(e)) => Err(e.context(format!("writing {}", path.display()))),
        (res, _) => Ok(res?),
    }
}

/// A duration for people: `850 us`, `12.3 ms`, `1.42 s`.
pub fn duration(seconds: f64) -> String {
    if seconds < 1e-3 {
        format!("{:.0} us", seconds * 1e6)
    } else if seconds < 1.0 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{seconds:.2} s")
    }
}

/// A rate for people: `850`, `12.3k`, `45.6M`.
pub fn rate(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// A possibly huge count (table entries are f64 in the library): exact below 1e15, else `1.2e18`.
pub fn count(x: f64) -> String {
    pgmkit::limits::human_count(x)
}

/// Bytes for people: `4.0 KiB`, `1.5 GiB`.
pub fn bytes(b: f64) -> String {
    pgmkit::limits::human_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sizes() {
        assert_eq!(count(0.0), "0");
        assert_eq!(count(1234567.0), "1,234,567");
        assert_eq!(count(1e18), "1.000e18");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(duration(0.0123), "12.3 ms");
        assert_eq!(rate(850.0), "850");
        assert_eq!(rate(45.6e6), "45.6M");
    }

    #[test]
    fn atomic_file_is_written_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("pgmkit-cli-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.csv");
        write_file_atomic(&path, |w| Ok(w.write_all(b"a,b\n")?)).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a,b\n");
        let err = write_file_atomic(&path, |w| {
            w.write_all(b"partial")?;
            anyhow::bail!("boom")
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"a,b\n", "old file kept");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn ordered_map_keeps_order() {
        let m = OrderedMap(vec![("b".to_string(), 1), ("a".to_string(), 2)]);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"b":1,"a":2}"#);
    }
}

/// Append `v` exactly as `{:?}` writes it (the shortest decimal that reads back to the same
/// `f64`; exponent form below 1e-4 and from 1e16), by ryu where that is the same text: several
/// times faster, for writing millions of draws. The two differ only on an exact tie between two
/// shortest candidates (ryu rounds it to even, `{:?}` up), which needs the exact binary value to
/// have at most 18 significant decimal digits; such values, and the ranges where `{:?}` uses
/// another notation, go through `{:?}`.
pub fn push_f64(out: &mut String, v: f64) {
    let a = v.abs();
    if v.is_finite() && (a == 0.0 || (1e-4..1e16).contains(&a) || a < 1e-5) && tie_free(v) {
        out.push_str(ryu::Buffer::new().format_finite(v));
    } else {
        use std::fmt::Write as _;
        write!(out, "{v:?}").expect("writing to a String");
    }
}

/// True when the exact decimal expansion of `v` (finite, non-zero or zero) has more than 19
/// significant digits, or `v` is an integer below 2^53: then no shortest decimal can be an
/// exact tie (a tie is a value with one digit more than the shortest form, the last a 5).
fn tie_free(v: f64) -> bool {
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, e) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), biased - 1075)
    };
    if m == 0 {
        return true;
    }
    let e = e + m.trailing_zeros() as i32;
    if e >= 0 {
        return v.abs() < 9_007_199_254_740_992.0;
    }
    // -e fractional digits exactly; significant digits = that + floor(log10 |v|) + 1 (the
    // estimate can be off by one at a power of ten, hence the margin of one). First a lower
    // bound from the binary exponent, which settles almost every draw without a logarithm:
    // |v| >= 2^p, so floor(log10 |v|) >= floor(p log10 2) >= ((p * 78913) >> 18) - 1 (78913 /
    // 2^18 is log10 2 less 8e-7, which for |p| <= 1023 moves the floor up by one at most).
    if biased != 0 {
        let p = biased - 1023;
        let lb = ((p * 78913) >> 18) - 1;
        if -e + lb + 1 > 19 {
            return true;
        }
    }
    let digits = -e + v.abs().log10().floor() as i32 + 1;
    digits > 19
}

#[cfg(test)]
mod push_f64_tests {
    use super::push_f64;
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, StandardNormal};

    /// Draws of the kind `sample` writes: the same text as `{:?}`.
    #[test]
    fn push_f64_writes_draws_as_debug_does() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        let mut s = String::new();
        for k in 0..1_000_000 {
            let z: f64 = StandardNormal.sample(&mut rng);
            let v = z * 10f64.powi((k % 21) - 10) + if k % 3 == 0 { 7.25 } else { 0.0 };
            s.clear();
            push_f64(&mut s, v);
            assert_eq!(s, format!("{v:?}"));
        }
        for v in [
            0.0, -0.0, 1.0, -2.5, 1e-4, 9.99e-5, 1e-5, 1e-7, 1e15, 1e16, 1e300, 5e-324,
        ] {
            s.clear();
            push_f64(&mut s, v);
            assert_eq!(s, format!("{v:?}"));
        }
        // any bit pattern, and values with few fractional bits (where ties live)
        for _ in 0..1_000_000 {
            for v in [
                f64::from_bits(rng.random::<u64>()),
                (rng.random::<u32>() as f64) / 2f64.powi(rng.random_range(0..40)),
                rng.random::<f64>() * 10f64.powi(rng.random_range(-30..30)),
            ] {
                s.clear();
                push_f64(&mut s, v);
                assert_eq!(s, format!("{v:?}"), "bits {:x}", v.to_bits());
            }
        }
    }
}
