//! One run of a run image as a single contiguous record: what `get_run`
//! and a search page need of a run, read with one or two cache misses
//! instead of one per column and per value dictionary.
//!
//! ```text
//! str run_id | str run_name | str user_id | str artifact_uri
//! u64 × 4 clocks (name, status, end time, lifecycle)
//! u32 n, then n × (u32 key | u64 clock | str value)       params
//! u32 n, then n × (u32 key | u64 clock | opt-str value)   tags
//! u32 n, then n × (u32 key | i64 step | i64 ts | f64 v)   latest metrics
//! str inputs (JSON, empty when none)
//! ```
//!
//! `str` is a u32 length then the bytes; `opt-str` uses `u32::MAX` as the
//! length of a deleted tag's tombstone. Keys are ids of the image's key
//! dictionaries, sorted within each list. Numbers are little-endian.

use super::runs::FieldClocks;
use crate::model::MetricPoint;

const TOMBSTONE_LEN: u32 = u32::MAX;

/// Appends one run's record to `out`.
pub(super) struct RowWriter<'o> {
    out: &'o mut Vec<u8>,
}

impl<'o> RowWriter<'o> {
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        RowWriter { out }
    }

    pub fn str(&mut self, s: &str) {
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
    }

    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.u32(TOMBSTONE_LEN),
        }
    }

    pub fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn clocks(&mut self, c: FieldClocks) {
        for v in [c.name, c.status, c.end_time, c.lifecycle] {
            self.u64(v);
        }
    }

    pub fn point(&mut self, key: u32, p: MetricPoint) {
        self.u32(key);
        self.u64(p.step as u64);
        self.u64(p.timestamp as u64);
        self.u64(p.value.to_bits());
    }
}

/// A cursor over one record; every read is checked, and a damaged record
/// reads as ending early.
#[derive(Clone)]
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn u32(&mut self) -> Option<u32> {
        let mut le = [0u8; 4];
        le.copy_from_slice(self.take(4)?);
        Some(u32::from_le_bytes(le))
    }

    fn u64(&mut self) -> Option<u64> {
        let mut le = [0u8; 8];
        le.copy_from_slice(self.take(8)?);
        Some(u64::from_le_bytes(le))
    }

    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        let len = self.u32()?;
        if len == TOMBSTONE_LEN {
            return Some(None);
        }
        let bytes = self.take(len as usize)?;
        std::str::from_utf8(bytes).ok().map(Some)
    }

    fn str(&mut self) -> Option<&'a str> {
        self.opt_str()?
    }
}

/// A run's record, its fixed part read; the lists are read on demand.
#[derive(Clone)]
pub struct Row<'a> {
    pub run_id: &'a str,
    pub run_name: &'a str,
    pub user_id: &'a str,
    pub artifact_uri: &'a str,
    pub clocks: FieldClocks,
    /// Where the params list starts.
    lists: Cursor<'a>,
}

/// One param or tag: key id, value (`None` for a deleted tag), clock.
pub type Entry<'a> = (u32, Option<&'a str>, u64);

impl<'a> Row<'a> {
    /// Reads the fixed part of `bytes`; `None` if it is damaged.
    pub fn parse(bytes: &'a [u8]) -> Option<Row<'a>> {
        let mut c = Cursor { bytes, at: 0 };
        let (run_id, run_name, user_id, artifact_uri) = (c.str()?, c.str()?, c.str()?, c.str()?);
        let clocks = FieldClocks {
            name: c.u64()?,
            status: c.u64()?,
            end_time: c.u64()?,
            lifecycle: c.u64()?,
        };
        Some(Row {
            run_id,
            run_name,
            user_id,
            artifact_uri,
            clocks,
            lists: c,
        })
    }

    /// Reads a list of params or tags, calling `each` per entry; returns
    /// the cursor after it.
    fn entries(mut c: Cursor<'a>, mut each: impl FnMut(Entry<'a>)) -> Option<Cursor<'a>> {
        let n = c.u32()?;
        for _ in 0..n {
            let key = c.u32()?;
            let clock = c.u64()?;
            let value = c.opt_str()?;
            each((key, value, clock));
        }
        Some(c)
    }

    fn after_params(&self) -> Option<Cursor<'a>> {
        Self::entries(self.lists.clone(), |_| {})
    }

    fn after_tags(&self) -> Option<Cursor<'a>> {
        Self::entries(self.after_params()?, |_| {})
    }

    pub fn params(&self) -> Vec<Entry<'a>> {
        let mut out = Vec::with_capacity(32);
        let _ = Self::entries(self.lists.clone(), |e| out.push(e));
        out
    }

    pub fn tags(&self) -> Vec<Entry<'a>> {
        let mut out = Vec::with_capacity(16);
        if let Some(c) = self.after_params() {
            let _ = Self::entries(c, |e| out.push(e));
        }
        out
    }

    /// The value of param key `key`.
    pub fn param(&self, key: u32) -> Option<&'a str> {
        let mut found = None;
        let _ = Self::entries(self.lists.clone(), |(k, v, _)| {
            if k == key {
                found = v;
            }
        });
        found
    }

    /// The value of tag key `key` (`None` if absent or deleted).
    pub fn tag(&self, key: u32) -> Option<&'a str> {
        let mut found = None;
        let _ = Self::entries(self.after_params()?, |(k, v, _)| {
            if k == key {
                found = v;
            }
        });
        found
    }

    /// Latest metric points by key id, and the cursor after them.
    fn read_metrics(&self) -> Option<(Vec<(u32, MetricPoint)>, Cursor<'a>)> {
        let mut c = self.after_tags()?;
        let n = c.u32()?;
        let mut out = Vec::with_capacity(n.min(64) as usize);
        for _ in 0..n {
            let key = c.u32()?;
            let point = MetricPoint {
                step: c.u64()? as i64,
                timestamp: c.u64()? as i64,
                value: f64::from_bits(c.u64()?),
            };
            out.push((key, point));
        }
        Some((out, c))
    }

    pub fn metrics(&self) -> Vec<(u32, MetricPoint)> {
        self.read_metrics().map(|(m, _)| m).unwrap_or_default()
    }

    /// The dataset inputs' JSON (empty when the run has none).
    pub fn inputs_json(&self) -> &'a str {
        self.read_metrics()
            .and_then(|(_, mut c)| c.str())
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_reads_back_and_damage_reads_short() {
        let mut bytes = Vec::new();
        let mut w = RowWriter::new(&mut bytes);
        for s in ["r1", "name", "ann", "file:///x"] {
            w.str(s);
        }
        w.clocks(FieldClocks {
            name: 1,
            status: 2,
            end_time: 3,
            lifecycle: 4,
        });
        w.u32(2);
        for (k, v) in [(0u32, "a"), (3, "bé")] {
            w.u32(k);
            w.u64(9);
            w.str(v);
        }
        w.u32(1);
        w.u32(5);
        w.u64(7);
        w.opt_str(None);
        w.u32(1);
        let point = MetricPoint {
            step: -1,
            timestamp: 2,
            value: f64::NAN,
        };
        w.point(4, point);
        w.str("[]");

        let row = Row::parse(&bytes).unwrap();
        assert_eq!((row.run_id, row.user_id), ("r1", "ann"));
        assert_eq!(row.clocks.end_time, 3);
        assert_eq!(row.params(), vec![(0, Some("a"), 9), (3, Some("bé"), 9)]);
        assert_eq!(row.param(3), Some("bé"));
        assert_eq!(row.tags(), vec![(5, None, 7)]);
        assert_eq!(row.tag(5), None);
        let metrics = row.metrics();
        assert_eq!(metrics[0].0, 4);
        assert!(metrics[0].1.value.is_nan());
        assert_eq!(row.inputs_json(), "[]");

        for cut in 0..bytes.len() {
            if let Some(row) = Row::parse(&bytes[..cut]) {
                assert!(row.params().len() <= 2);
                assert!(row.metrics().len() <= 1);
            }
        }
    }
}
