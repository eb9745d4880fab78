//! One run of a run image as a single contiguous record: what `get_run`
//! and a search page need of a run, read with one or two cache misses
//! instead of one per column and per value dictionary.
//!
//! ```text
//! u32 T, then T bytes of text: every string of the record end to end
//!   (run id, run name, user id, artifact URI, param values, tag values,
//!   inputs JSON), valid UTF-8 as a whole
//! u32 × 4 lengths of run id, run name, user id, artifact URI
//! u64 × 4 clocks (name, status, end time, lifecycle)
//! u32 n, then n × (u32 key | u64 clock | u32 length)       params
//! u32 n, then n × (u32 key | u64 clock | u32 length)       tags
//! u32 n, then n × (u32 key | i64 step | i64 ts | f64 v)    latest metrics
//! u32 length of the inputs JSON (0 when none)
//! ```
//!
//! A deleted tag's tombstone has length `u32::MAX` and no text. Params and
//! tags are listed in their keys' name order, the order a shown run lists
//! them in. Numbers are little-endian. The text comes first and in one
//! piece so that a reader checks it as UTF-8 once, not once per string:
//! building a page of runs reads about seventy strings a run.

use super::runs::FieldClocks;
use crate::model::MetricPoint;

const TOMBSTONE_LEN: u32 = u32::MAX;

/// Builds one run's record: strings go to the text, everything else to
/// the fixed part, joined by [`RowWriter::finish`]. Reused across runs.
#[derive(Default)]
pub(super) struct RowWriter {
    text: Vec<u8>,
    fixed: Vec<u8>,
}

impl RowWriter {
    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.text.extend_from_slice(s.as_bytes());
    }

    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.u32(TOMBSTONE_LEN),
        }
    }

    pub fn u32(&mut self, v: u32) {
        self.fixed.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.fixed.extend_from_slice(&v.to_le_bytes());
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

    /// Appends the record to `out` and starts the next one.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.text.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.text);
        out.extend_from_slice(&self.fixed);
        self.text.clear();
        self.fixed.clear();
    }
}

/// A cursor over one record: the fixed part, and the text that its string
/// lengths cut in order. Every read is checked; a damaged record reads as
/// ending early.
#[derive(Clone)]
struct Cursor<'a> {
    fixed: &'a [u8],
    at: usize,
    text: &'a str,
    text_at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.fixed.get(self.at..end)?;
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

    /// The next `len` bytes of text (`get` refuses a cut inside a
    /// character).
    fn cut(&mut self, len: u32) -> Option<&'a str> {
        let end = self.text_at.checked_add(len as usize)?;
        let s = self.text.get(self.text_at..end)?;
        self.text_at = end;
        Some(s)
    }

    /// Moves to the end of the fixed part: after damage, every later read
    /// of the record fails rather than reading from inside an entry.
    fn exhaust(&mut self) {
        self.at = self.fixed.len();
    }

    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        match self.u32()? {
            TOMBSTONE_LEN => Some(None),
            len => self.cut(len).map(Some),
        }
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

/// The entries of a params or tags list, in order; ends early on damage.
#[derive(Clone)]
pub struct Entries<'a> {
    cursor: Cursor<'a>,
    left: u32,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.left == 0 {
            return None;
        }
        let c = &mut self.cursor;
        let entry = (|| {
            let key = c.u32()?;
            let clock = c.u64()?;
            Some((key, c.opt_str()?, clock))
        })();
        match entry {
            Some(_) => self.left -= 1,
            None => {
                self.left = 0;
                self.cursor.exhaust();
            }
        }
        entry
    }
}

impl<'a> Entries<'a> {
    /// The list starting at `cursor`.
    fn at(mut cursor: Cursor<'a>) -> Entries<'a> {
        let left = cursor.u32().unwrap_or(0);
        Entries { cursor, left }
    }

    /// The cursor after the list (at the end of the record if the list
    /// is damaged: `next` leaves it there).
    fn skip(mut self) -> Cursor<'a> {
        while self.next().is_some() {}
        self.cursor
    }

    /// Entries not yet read.
    pub fn remaining(&self) -> usize {
        self.left as usize
    }

    /// The tags, read on from the end of the params (what is left of
    /// them is skipped); empty if the record is damaged.
    pub fn then_tags(self) -> Entries<'a> {
        Entries::at(self.skip())
    }

    /// The latest metrics, read on from the end of the tags; empty if the
    /// record is damaged.
    pub fn then_metrics(self) -> Points<'a> {
        Points::at(self.skip())
    }
}

/// The latest metric points of a record by key id; ends early on damage.
pub struct Points<'a> {
    cursor: Cursor<'a>,
    left: u32,
}

impl Iterator for Points<'_> {
    type Item = (u32, MetricPoint);

    fn next(&mut self) -> Option<(u32, MetricPoint)> {
        if self.left == 0 {
            return None;
        }
        let c = &mut self.cursor;
        let entry = (|| {
            let key = c.u32()?;
            let point = MetricPoint {
                step: c.u64()? as i64,
                timestamp: c.u64()? as i64,
                value: f64::from_bits(c.u64()?),
            };
            Some((key, point))
        })();
        match entry {
            Some(_) => self.left -= 1,
            None => {
                self.left = 0;
                self.cursor.exhaust();
            }
        }
        entry
    }
}

impl<'a> Points<'a> {
    fn at(mut cursor: Cursor<'a>) -> Points<'a> {
        let left = cursor.u32().unwrap_or(0);
        Points { cursor, left }
    }

    /// Points not yet read.
    pub fn remaining(&self) -> usize {
        self.left as usize
    }

    /// The dataset inputs' JSON, read on from the end of the metrics
    /// (empty when the run has none or the record is damaged).
    pub fn then_inputs_json(mut self) -> &'a str {
        // On damage `next` leaves the cursor at the end, where this read fails.
        while self.next().is_some() {}
        self.cursor.opt_str().flatten().unwrap_or("")
    }
}

impl<'a> Row<'a> {
    /// Reads the text and the fixed part of `bytes`; `None` if damaged.
    pub fn parse(bytes: &'a [u8]) -> Option<Row<'a>> {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        let text = std::str::from_utf8(rest.get(..len)?).ok()?;
        let mut c = Cursor {
            fixed: rest.get(len..)?,
            at: 0,
            text,
            text_at: 0,
        };
        let lengths = [c.u32()?, c.u32()?, c.u32()?, c.u32()?];
        let [run_id, run_name, user_id, artifact_uri] = lengths.map(|n| c.cut(n));
        let clocks = FieldClocks {
            name: c.u64()?,
            status: c.u64()?,
            end_time: c.u64()?,
            lifecycle: c.u64()?,
        };
        Some(Row {
            run_id: run_id?,
            run_name: run_name?,
            user_id: user_id?,
            artifact_uri: artifact_uri?,
            clocks,
            lists: c,
        })
    }

    /// The params, in key name order.
    pub fn params(&self) -> Entries<'a> {
        Entries::at(self.lists.clone())
    }

    /// The tags (tombstones included), in key name order.
    pub fn tags(&self) -> Entries<'a> {
        self.params().then_tags()
    }

    /// The value of param key `key`.
    pub fn param(&self, key: u32) -> Option<&'a str> {
        self.params().find(|&(k, _, _)| k == key)?.1
    }

    /// The value of tag key `key` (`None` if absent or deleted).
    pub fn tag(&self, key: u32) -> Option<&'a str> {
        self.tags().find(|&(k, _, _)| k == key)?.1
    }

    pub fn metrics(&self) -> Vec<(u32, MetricPoint)> {
        self.tags().then_metrics().collect()
    }

    /// The dataset inputs' JSON (empty when the run has none).
    pub fn inputs_json(&self) -> &'a str {
        self.tags().then_metrics().then_inputs_json()
    }
}

/// Fuzz entry point: parses `data` as a run's record and reads it both
/// ways a reader does, each list from the start and all lists in one pass.
/// Never panics; returns the number of entries read, and panics only if
/// the two ways disagree (a reader bug the fuzzer should report).
pub fn fuzz_row(data: &[u8]) -> usize {
    let Some(row) = Row::parse(data) else {
        return 0;
    };
    let params: Vec<Entry<'_>> = row.params().collect();
    let tags: Vec<Entry<'_>> = row.tags().collect();
    let metrics = row.metrics();
    let inputs = row.inputs_json();

    let mut list = row.params();
    let params_in_pass: Vec<Entry<'_>> = list.by_ref().collect();
    let mut list = list.then_tags();
    let tags_in_pass: Vec<Entry<'_>> = list.by_ref().collect();
    let mut points = list.then_metrics();
    let metrics_in_pass: Vec<(u32, MetricPoint)> = points.by_ref().collect();
    assert_eq!(params, params_in_pass);
    assert_eq!(tags, tags_in_pass);
    let bits = |m: &[(u32, MetricPoint)]| -> Vec<(u32, i64, i64, u64)> {
        m.iter()
            .map(|(k, p)| (*k, p.step, p.timestamp, p.value.to_bits()))
            .collect()
    };
    assert_eq!(bits(&metrics), bits(&metrics_in_pass));
    assert_eq!(inputs, points.then_inputs_json());
    params.len() + tags.len() + metrics.len()
}

/// A record of a run as the image writes it, for tests and the fuzz
/// corpus: `params` and `tags` as (key id, value or tombstone), `metrics`
/// as (key id, point), `inputs_json` empty when the run has none.
pub fn encode_row(
    strings: [&str; 4],
    params: &[(u32, Option<&str>)],
    tags: &[(u32, Option<&str>)],
    metrics: &[(u32, MetricPoint)],
    inputs_json: &str,
) -> Vec<u8> {
    let mut w = RowWriter::default();
    for s in strings {
        w.str(s);
    }
    w.clocks(FieldClocks::default());
    for list in [params, tags] {
        w.u32(list.len() as u32);
        for &(key, value) in list {
            w.u32(key);
            w.u64(1);
            w.opt_str(value);
        }
    }
    w.u32(metrics.len() as u32);
    for &(key, point) in metrics {
        w.point(key, point);
    }
    w.str(inputs_json);
    let mut out = Vec::new();
    w.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_reads_back_and_damage_reads_short() {
        let mut bytes = Vec::new();
        let mut w = RowWriter::default();
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
        w.finish(&mut bytes);

        let row = Row::parse(&bytes).unwrap();
        assert_eq!((row.run_id, row.user_id), ("r1", "ann"));
        assert_eq!(row.clocks.end_time, 3);
        let params: Vec<Entry<'_>> = row.params().collect();
        assert_eq!(params, vec![(0, Some("a"), 9), (3, Some("bé"), 9)]);
        assert_eq!(row.param(3), Some("bé"));
        assert_eq!(row.tags().collect::<Vec<_>>(), vec![(5, None, 7)]);
        assert_eq!(row.tag(5), None);
        let metrics = row.metrics();
        assert_eq!(metrics[0].0, 4);
        assert!(metrics[0].1.value.is_nan());
        assert_eq!(row.inputs_json(), "[]");

        for cut in 0..bytes.len() {
            if let Some(row) = Row::parse(&bytes[..cut]) {
                assert!(row.params().count() <= 2);
                assert!(row.metrics().len() <= 1);
            }
        }

        // Damage inside the params list: reading on in one pass finds
        // nothing after it, not entries read from the middle of one.
        let mut broken = bytes.clone();
        let text_len = 4 + u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let second_length = text_len + 16 + 32 + 4 + 16 + 12;
        broken[second_length..second_length + 4].copy_from_slice(&u32::MAX.to_le_bytes()[..]);
        broken[second_length] = 0xf0; // a length far past the text
        let row = Row::parse(&broken).unwrap();
        let mut params = row.params();
        assert_eq!(params.by_ref().count(), 1);
        let mut tags = params.then_tags();
        assert_eq!(tags.by_ref().count(), 0);
        let mut metrics = tags.then_metrics();
        assert_eq!(metrics.by_ref().count(), 0);
        assert_eq!(metrics.then_inputs_json(), "");
    }
}
