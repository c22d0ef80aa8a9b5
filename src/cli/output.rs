//! Small output helpers: JSON objects that keep their key order, and number formatting.

use std::io::Write;

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

/// Write `value` as pretty JSON followed by a newline.
pub fn write_json<T: Serialize>(out: &mut dyn Write, value: &T) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
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

/// A possibly huge count (table entries are f64 in the library): exact below 1e15, else `1.2e18`.
pub fn count(x: f64) -> String {
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
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = b;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{x:.0} B")
    } else if x.is_finite() {
        format!("{x:.1} {}", UNITS[u])
    } else {
        format!("{b:.3e} B")
    }
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
    }

    #[test]
    fn ordered_map_keeps_order() {
        let m = OrderedMap(vec![("b".to_string(), 1), ("a".to_string(), 2)]);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"b":1,"a":2}"#);
    }
}
