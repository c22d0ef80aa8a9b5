//! What every kind of shard shares: the fingerprint of a model and its evidence (or of a
//! file's bytes), exact f64s in JSON, and the check that the shards' ranges tile the run.
//! The shards themselves: [`crate::infer::ais::shard`] (AIS, reverse AIS, BDMC by particle
//! range) and [`crate::impute::shard`] (imputation by row range).

use std::ops::Range;

use crate::error::{Error, Result};
use crate::model::FactorGraph;
use crate::var::Evidence;

/// The 64-bit FNV-1a state of `bytes` after `h`.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// A shard read from its file's JSON text (`what`: "AIS", "MCMC", ...), with its `format` tag
/// (read by `tag`) checked against `format`. Errors: [`Error::InvalidArgument`] when the text
/// is not such a shard.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    format: &str,
    what: &str,
    tag: fn(&T) -> &str,
) -> Result<T> {
    let s: T = serde_json::from_str(text).map_err(|e| {
        Error::InvalidArgument(format!("not a pgmkit {what} shard ({format}): {e}"))
    })?;
    if tag(&s) != format {
        return Err(Error::InvalidArgument(format!(
            "not a pgmkit {what} shard: format '{}' (expected '{format}')",
            tag(&s)
        )));
    }
    Ok(s)
}

/// A 64-bit FNV-1a fingerprint (16 hex digits) of the model's variables (names, states), its
/// factors (scopes and the bits of every log value) and the evidence: equal for the same
/// model and evidence read from any file, different (but for a 2^-64 chance) otherwise.
///
/// Cost: one pass over the tables.
pub fn fingerprint(fg: &FactorGraph, ev: &Evidence) -> String {
    let mut h = FNV_START;
    let mut eat = |bytes: &[u8]| h = fnv(h, bytes);
    for v in fg.vars() {
        eat(v.name.as_bytes());
        eat(&[0xff]);
        for s in &v.states {
            eat(s.as_bytes());
            eat(&[0xfe]);
        }
    }
    for f in fg.factors() {
        eat(&[0xfd]);
        for v in f.scope() {
            eat(&v.0.to_le_bytes());
        }
        for x in f.log_values() {
            eat(&x.to_bits().to_le_bytes());
        }
    }
    for (v, s) in ev.iter() {
        eat(&v.0.to_le_bytes());
        eat(&(s as u64).to_le_bytes());
    }
    format!("{h:016x}")
}

/// The 64-bit FNV-1a fingerprint (16 hex digits) of a file's bytes.
pub fn bytes_fingerprint(bytes: &[u8]) -> String {
    format!("{:016x}", fnv(FNV_START, bytes))
}

/// The order (by start) of `ranges` when they tile `0..total` exactly, else
/// [`Error::ShardMismatch`] (`what: "ranges"`) naming the first shard of a gap or an overlap.
/// `unit` names what the ranges count ("particle", "row").
pub fn tiling(ranges: &[Range<usize>], total: usize, unit: &str) -> Result<Vec<usize>> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i].start);
    let mut next = 0;
    let bad = |shard, detail| Error::ShardMismatch {
        shard,
        what: "ranges",
        detail,
    };
    for &i in &order {
        let r = &ranges[i];
        if r.start > next {
            return Err(bad(
                i,
                format!(
                    "starts at {unit} {} but {unit}s {next}..{} are in no shard",
                    r.start, r.start
                ),
            ));
        }
        if r.start < next {
            return Err(bad(
                i,
                format!(
                    "covers {unit}s {}..{} which another shard covers too",
                    r.start,
                    next.min(r.end)
                ),
            ));
        }
        next = r.end;
    }
    if next != total {
        return Err(bad(
            order.last().copied().unwrap_or(0),
            format!("ends at {unit} {next}, and {unit}s {next}..{total} of the run's {total} are in no shard"),
        ));
    }
    Ok(order)
}

/// f64s as the hex of their bits (`#[serde(with = "crate::shard::f64_bits")]`): exact, and
/// `-inf` / NaN survive JSON.
pub mod f64_bits {
    use serde::{Deserialize, Deserializer, Serializer};

    /// The values as hex strings of their bits.
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| format!("{:016x}", x.to_bits())))
    }

    /// The values from hex strings of their bits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let v: Vec<String> = Vec::deserialize(d)?;
        v.iter()
            .map(|h| {
                u64::from_str_radix(h, 16)
                    .map(f64::from_bits)
                    .map_err(|_| serde::de::Error::custom(format!("'{h}' is not a 64-bit hex")))
            })
            .collect()
    }
}
