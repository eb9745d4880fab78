//! A checkpointed run table read in place from its mapped image.
//!
//! At a checkpoint every run goes into an image (`image.rs`) as columns by
//! ordinal: attributes, params and tags as (key, value id, clock) runs per
//! ordinal, latest metric points, and per key its sorted value dictionary
//! with roaring postings or a value-id column. Opening a store maps the
//! image and reads only its small meta section, so open time does not grow
//! with the number of runs; searches read the columns where they lie.
//!
//! Nothing here changes: runs written after the checkpoint live in the
//! run table's in-memory part, which shadows the frozen copy of any run it
//! changed (see `runs.rs`).

use std::path::Path;
use std::sync::OnceLock;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::Ordinal;
use super::image::{Bytes, Image, Strings, U32s, U64s};
use super::runs::{FieldClocks, Slot};
use crate::error::{Error, Result};
use crate::model::{DatasetInput, Experiment, LifecycleStage, MetricPoint, RunStatus};

/// Section numbers of a [`Strings`] pair.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct StrSecs {
    pub offsets: u32,
    pub blob: u32,
}

/// Params or tags of every run: `offsets` (u64, runs + 1) into 16-byte
/// entries, sorted by key id within a run: key id u32, value id u32
/// (`TOMBSTONE` for a deleted tag), clock u64.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct SlotSecs {
    pub offsets: u32,
    pub entries: u32,
}

/// Latest metric points of every run: `offsets` (u64, runs + 1) into
/// 32-byte entries: key id u32, 0 u32, step i64, timestamp i64, value f64.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct PointSecs {
    pub offsets: u32,
    pub entries: u32,
}

const SLOT_LEN: usize = 16;
const POINT_LEN: usize = 32;

/// One param or tag key: values in id order, ids sorted by value, the runs
/// having the key, and postings (serialized roaring bitmaps by value id) or
/// a value-id column by ordinal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct KeySecs {
    pub name: String,
    pub values: StrSecs,
    pub sorted: u32,
    pub present: u32,
    pub postings: Option<StrSecs>,
    pub column: Option<u32>,
}

/// One metric key: latest value (f64) and presence (u8) by ordinal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct MetricSecs {
    pub name: String,
    pub latest: u32,
    pub has: u32,
    pub present: u32,
}

/// The meta section: where everything is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Meta {
    pub runs: u32,
    pub experiments: Vec<Experiment>,
    /// Serialized roaring bitmap of each experiment's runs.
    pub experiment_runs: Vec<u32>,
    pub deleted: u32,
    pub run_ids: StrSecs,
    /// Ordinals sorted by run id.
    pub run_ids_sorted: u32,
    pub experiment: u32,
    /// One byte per run: status code (bits 0–2), deleted (bit 3), has an
    /// end time (bit 4), has a deleted time (bit 5).
    pub flags: u32,
    pub start_time: u32,
    pub end_time: u32,
    pub deleted_time: u32,
    pub run_name: StrSecs,
    pub user_id: StrSecs,
    pub artifact_uri: StrSecs,
    /// Four u64 per run: name, status, end time, lifecycle.
    pub clocks: u32,
    /// JSON of each run's dataset inputs (empty when it has none).
    pub inputs: StrSecs,
    pub params: SlotSecs,
    pub tags: SlotSecs,
    pub metrics: PointSecs,
    pub param_keys: Vec<KeySecs>,
    pub tag_keys: Vec<KeySecs>,
    pub metric_keys: Vec<MetricSecs>,
}

pub(super) const TOMBSTONE: u32 = u32::MAX;
pub(super) const FLAG_DELETED: u8 = 1 << 3;
pub(super) const FLAG_END: u8 = 1 << 4;
pub(super) const FLAG_DELETED_TIME: u8 = 1 << 5;

/// A mapped run-table image.
#[derive(Debug)]
pub struct Frozen {
    image: Image,
    meta: Meta,
    /// Presence bitmaps, decoded on first use: params, tags, metrics.
    present: [Vec<OnceLock<RoaringBitmap>>; 3],
}

impl Frozen {
    /// Maps the image at `path`, verifies its checksums, and checks that
    /// every section the meta names exists with the size its kind needs.
    ///
    /// Verifying reads the whole image once (CRC32 runs at several GB/s),
    /// so that no damaged byte is ever served as data: the readers below
    /// return values, not errors.
    pub fn open(path: &Path) -> Result<Frozen> {
        let image = Image::open(path)?;
        image.check()?;
        let meta: Meta = serde_json::from_slice(image.meta()?)
            .map_err(|e| Error::corrupt(path, 0, format!("run image meta: {e}")))?;
        let present = [
            meta.param_keys.iter().map(|_| OnceLock::new()).collect(),
            meta.tag_keys.iter().map(|_| OnceLock::new()).collect(),
            meta.metric_keys.iter().map(|_| OnceLock::new()).collect(),
        ];
        let frozen = Frozen {
            image,
            meta,
            present,
        };
        frozen.check_shape()?;
        Ok(frozen)
    }

    /// Verifies every byte of the image against its checksums again (a
    /// file can be damaged after it was opened).
    pub fn check(&self) -> Result<()> {
        self.image.check()
    }

    pub fn path(&self) -> &Path {
        self.image.path()
    }

    /// Number of runs (ordinals `0..len`).
    pub fn len(&self) -> u32 {
        self.meta.runs
    }

    pub fn is_empty(&self) -> bool {
        self.meta.runs == 0
    }

    pub fn experiments(&self) -> &[Experiment] {
        &self.meta.experiments
    }

    /// The runs of experiment `e`, and the soft-deleted runs.
    pub fn experiment_runs(&self, e: usize) -> Result<RoaringBitmap> {
        let section = self
            .meta
            .experiment_runs
            .get(e)
            .copied()
            .unwrap_or(u32::MAX);
        self.bitmap(section)
    }

    pub fn deleted(&self) -> Result<RoaringBitmap> {
        self.bitmap(self.meta.deleted)
    }

    pub fn param_key_names(&self) -> impl Iterator<Item = &str> {
        self.meta.param_keys.iter().map(|k| k.name.as_str())
    }

    pub fn tag_key_names(&self) -> impl Iterator<Item = &str> {
        self.meta.tag_keys.iter().map(|k| k.name.as_str())
    }

    pub fn metric_key_names(&self) -> impl Iterator<Item = &str> {
        self.meta.metric_keys.iter().map(|k| k.name.as_str())
    }

    fn bytes(&self, section: u32) -> &[u8] {
        // Sections were checked to exist at open.
        self.image.section(section).unwrap_or(&[])
    }

    fn strings(&self, s: StrSecs) -> Strings<'_> {
        Strings::new(self.bytes(s.offsets), self.bytes(s.blob))
    }

    fn bitmap(&self, section: u32) -> Result<RoaringBitmap> {
        let bytes = self.image.section(section)?;
        RoaringBitmap::deserialize_from(bytes).map_err(|e| {
            Error::corrupt(
                self.path(),
                self.image.offset(section),
                format!("run image bitmap: {e}"),
            )
        })
    }

    // ---- runs ----

    /// The ordinal of `run_id`, by binary search over the sorted ids.
    pub fn lookup(&self, run_id: &str) -> Option<Ordinal> {
        let ids = self.strings(self.meta.run_ids);
        let sorted = U32s::new(self.bytes(self.meta.run_ids_sorted));
        let (mut lo, mut hi) = (0usize, sorted.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let ord = sorted.get(mid)?;
            match ids.get(ord as usize).cmp(run_id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(ord),
            }
        }
        None
    }

    pub fn run_id(&self, ord: Ordinal) -> &str {
        self.strings(self.meta.run_ids).get(ord as usize)
    }

    pub fn experiment(&self, ord: Ordinal) -> u32 {
        U32s::new(self.bytes(self.meta.experiment))
            .get(ord as usize)
            .unwrap_or(0)
    }

    fn flags(&self, ord: Ordinal) -> u8 {
        Bytes::new(self.bytes(self.meta.flags))
            .get(ord as usize)
            .unwrap_or(0)
    }

    pub fn status(&self, ord: Ordinal) -> RunStatus {
        RunStatus::from_code(i64::from(self.flags(ord) & 7)).unwrap_or(RunStatus::Running)
    }

    pub fn lifecycle(&self, ord: Ordinal) -> LifecycleStage {
        if self.flags(ord) & FLAG_DELETED != 0 {
            LifecycleStage::Deleted
        } else {
            LifecycleStage::Active
        }
    }

    pub fn start_time(&self, ord: Ordinal) -> i64 {
        U64s::new(self.bytes(self.meta.start_time))
            .get_i64(ord as usize)
            .unwrap_or(0)
    }

    pub fn end_time(&self, ord: Ordinal) -> Option<i64> {
        (self.flags(ord) & FLAG_END != 0)
            .then(|| U64s::new(self.bytes(self.meta.end_time)).get_i64(ord as usize))
            .flatten()
    }

    pub fn deleted_time(&self, ord: Ordinal) -> Option<i64> {
        (self.flags(ord) & FLAG_DELETED_TIME != 0)
            .then(|| U64s::new(self.bytes(self.meta.deleted_time)).get_i64(ord as usize))
            .flatten()
    }

    pub fn run_name(&self, ord: Ordinal) -> &str {
        self.strings(self.meta.run_name).get(ord as usize)
    }

    pub fn user_id(&self, ord: Ordinal) -> &str {
        self.strings(self.meta.user_id).get(ord as usize)
    }

    pub fn artifact_uri(&self, ord: Ordinal) -> &str {
        self.strings(self.meta.artifact_uri).get(ord as usize)
    }

    pub fn clocks(&self, ord: Ordinal) -> FieldClocks {
        let c = U64s::new(self.bytes(self.meta.clocks));
        let at = |i: usize| c.get(ord as usize * 4 + i).unwrap_or(0);
        FieldClocks {
            name: at(0),
            status: at(1),
            end_time: at(2),
            lifecycle: at(3),
        }
    }

    pub fn inputs(&self, ord: Ordinal) -> Vec<DatasetInput> {
        let bytes = self.strings(self.meta.inputs).bytes(ord as usize);
        match bytes {
            Some(b) if !b.is_empty() => serde_json::from_slice(b).unwrap_or_else(|e| {
                tracing::warn!(ord, error = %e, "damaged dataset inputs in the run image");
                Vec::new()
            }),
            _ => Vec::new(),
        }
    }

    /// The entry range of run `ord` in a [`SlotSecs`] or [`PointSecs`],
    /// clamped to the `limit` entries there are (offsets are not trusted).
    fn slot_range(&self, offsets: u32, ord: Ordinal, limit: usize) -> std::ops::Range<usize> {
        let offsets = U64s::new(self.bytes(offsets));
        let start = (offsets.get(ord as usize).unwrap_or(0) as usize).min(limit);
        let end = (offsets.get(ord as usize + 1).unwrap_or(0) as usize).min(limit);
        start..end.max(start)
    }

    fn slots(&self, secs: SlotSecs, ord: Ordinal) -> impl Iterator<Item = Slot> + '_ {
        let entries = self.bytes(secs.entries);
        self.slot_range(secs.offsets, ord, entries.len() / SLOT_LEN)
            .filter_map(move |i| slot_at(entries, i))
    }

    /// Params of run `ord` by key id, with frozen value ids.
    pub fn params(&self, ord: Ordinal) -> impl Iterator<Item = Slot> + '_ {
        self.slots(self.meta.params, ord)
    }

    /// Tags of run `ord` (deleted ones as tombstones) by key id.
    pub fn tags(&self, ord: Ordinal) -> impl Iterator<Item = Slot> + '_ {
        self.slots(self.meta.tags, ord)
    }

    fn slot_value(&self, secs: SlotSecs, ord: Ordinal, key: u32) -> Option<u32> {
        let entries = self.bytes(secs.entries);
        let range = self.slot_range(secs.offsets, ord, entries.len() / SLOT_LEN);
        let (mut lo, mut hi) = (range.start, range.end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let slot = slot_at(entries, mid)?;
            match slot.key.cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return slot.value,
            }
        }
        None
    }

    /// The value of param key `key` of run `ord`.
    pub fn param(&self, ord: Ordinal, key: u32) -> Option<&str> {
        let value = self.slot_value(self.meta.params, ord, key)?;
        Some(self.param_key(key)?.value(value))
    }

    /// The value of tag key `key` of run `ord`.
    pub fn tag(&self, ord: Ordinal, key: u32) -> Option<&str> {
        let value = self.slot_value(self.meta.tags, ord, key)?;
        Some(self.tag_key(key)?.value(value))
    }

    /// The latest point of each metric of run `ord`, by key id.
    pub fn metrics(&self, ord: Ordinal) -> Vec<(u32, MetricPoint)> {
        let m = self.meta.metrics;
        let entries = self.bytes(m.entries);
        self.slot_range(m.offsets, ord, entries.len() / POINT_LEN)
            .filter_map(|i| {
                let e = entries.get(i.checked_mul(POINT_LEN)?..(i + 1) * POINT_LEN)?;
                let k = U32s::new(&e[..4]).get(0)?;
                let words = U64s::new(&e[8..]);
                let point = MetricPoint {
                    step: words.get_i64(0)?,
                    timestamp: words.get_i64(1)?,
                    value: words.get_f64(2)?,
                };
                Some((k, point))
            })
            .collect()
    }

    // ---- per-key indexes ----

    fn key(&self, which: usize, secs: Option<&KeySecs>, k: u32) -> Option<FrozenKey<'_>> {
        let secs = secs?;
        Some(FrozenKey {
            frozen: self,
            values: self.strings(secs.values),
            sorted: U32s::new(self.bytes(secs.sorted)),
            present: (self.present[which].get(k as usize)?, secs.present),
            postings: secs.postings.map(|p| self.strings(p)),
            column: secs.column.map(|c| U32s::new(self.bytes(c))),
        })
    }

    pub fn param_key(&self, k: u32) -> Option<FrozenKey<'_>> {
        self.key(0, self.meta.param_keys.get(k as usize), k)
    }

    pub fn tag_key(&self, k: u32) -> Option<FrozenKey<'_>> {
        self.key(1, self.meta.tag_keys.get(k as usize), k)
    }

    pub fn metric_key(&self, k: u32) -> Option<FrozenMetric<'_>> {
        let secs = self.meta.metric_keys.get(k as usize)?;
        Some(FrozenMetric {
            latest: U64s::new(self.bytes(secs.latest)),
            has: Bytes::new(self.bytes(secs.has)),
            present: self.lazy_bitmap(2, k, secs.present),
        })
    }

    /// A presence bitmap, decoded once; a damaged one reads as empty (and
    /// fails `check`).
    fn lazy_bitmap(&self, which: usize, k: u32, section: u32) -> &RoaringBitmap {
        static EMPTY: OnceLock<RoaringBitmap> = OnceLock::new();
        match self.present[which].get(k as usize) {
            Some(cell) => cell.get_or_init(|| {
                self.bitmap(section).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "damaged presence bitmap in the run image");
                    RoaringBitmap::new()
                })
            }),
            None => EMPTY.get_or_init(RoaringBitmap::new),
        }
    }

    /// Mapped bytes of the image.
    pub fn mapped_bytes(&self) -> u64 {
        std::fs::metadata(self.path()).map_or(0, |m| m.len())
    }

    /// The last of `n + 1` offsets (the entry count), 0 if unreadable.
    fn last_offset(&self, offsets: u32, n: usize) -> usize {
        let bytes = self.image.section(offsets).unwrap_or(&[]);
        U64s::new(bytes).get(n).unwrap_or(0) as usize
    }

    /// Checks that every section the meta names exists with a size that
    /// fits its kind, so that reads later need no checks beyond `get`.
    fn check_shape(&self) -> Result<()> {
        let m = &self.meta;
        let n = m.runs as usize;
        let mut fixed = vec![
            (m.run_ids_sorted, 4 * n),
            (m.experiment, 4 * n),
            (m.flags, n),
            (m.start_time, 8 * n),
            (m.end_time, 8 * n),
            (m.deleted_time, 8 * n),
            (m.clocks, 32 * n),
        ];
        for s in [m.run_ids, m.run_name, m.user_id, m.artifact_uri, m.inputs] {
            fixed.push((s.offsets, 8 * (n + 1)));
        }
        for s in [m.params, m.tags] {
            fixed.push((s.offsets, 8 * (n + 1)));
            fixed.push((s.entries, SLOT_LEN * self.last_offset(s.offsets, n)));
        }
        fixed.push((m.metrics.offsets, 8 * (n + 1)));
        fixed.push((
            m.metrics.entries,
            POINT_LEN * self.last_offset(m.metrics.offsets, n),
        ));
        for k in &m.metric_keys {
            fixed.push((k.latest, 8 * n));
            fixed.push((k.has, n));
        }
        for k in m.param_keys.iter().chain(&m.tag_keys) {
            if let Some(c) = k.column {
                fixed.push((c, 4 * n));
            }
        }
        for (section, len) in fixed {
            let bytes = self.image.section(section)?;
            if bytes.len() != len {
                return Err(Error::corrupt(
                    self.path(),
                    self.image.offset(section),
                    format!(
                        "run image section {section} has {} bytes, not {len}",
                        bytes.len()
                    ),
                ));
            }
        }
        if m.experiments.len() != m.experiment_runs.len() {
            return Err(Error::corrupt(
                self.path(),
                0,
                "run image experiments disagree",
            ));
        }
        for section in m.experiment_runs.iter().chain([&m.deleted]) {
            self.image.section(*section)?;
        }
        for k in m.param_keys.iter().chain(&m.tag_keys) {
            for s in [k.values.offsets, k.values.blob, k.sorted, k.present] {
                self.image.section(s)?;
            }
            if let Some(p) = k.postings {
                self.image.section(p.offsets)?;
                self.image.section(p.blob)?;
            }
        }
        Ok(())
    }
}

/// Slot `i` of a 16-byte slot array.
fn slot_at(entries: &[u8], i: usize) -> Option<Slot> {
    let e = entries.get(i.checked_mul(SLOT_LEN)?..(i + 1) * SLOT_LEN)?;
    let value = U32s::new(&e[4..8]).get(0)?;
    Some(Slot {
        key: U32s::new(&e[..4]).get(0)?,
        value: (value != TOMBSTONE).then_some(value),
        clock: U64s::new(&e[8..]).get(0)?,
    })
}

/// The frozen index of one param or tag key.
#[derive(Clone, Copy)]
pub struct FrozenKey<'a> {
    frozen: &'a Frozen,
    values: Strings<'a>,
    sorted: U32s<'a>,
    present: (&'a OnceLock<RoaringBitmap>, u32),
    postings: Option<Strings<'a>>,
    column: Option<U32s<'a>>,
}

impl<'a> FrozenKey<'a> {
    /// The id of `value`, by binary search over the sorted ids.
    pub fn value_id(&self, value: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.sorted.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let id = self.sorted.get(mid)?;
            match self.values.get(id as usize).cmp(value) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(id),
            }
        }
        None
    }

    pub fn value(&self, id: u32) -> &'a str {
        self.values.get(id as usize)
    }

    /// Ids of the values containing `needle` (one search over them all).
    pub fn ids_containing(&self, needle: &[u8]) -> Vec<u32> {
        self.values.containing(needle)
    }

    /// Distinct values, in id order.
    pub fn values(&self) -> impl Iterator<Item = (u32, &'a str)> + '_ {
        (0..self.values.len()).map(|i| (i as u32, self.values.get(i)))
    }

    /// Runs having the key.
    pub fn present(&self) -> &'a RoaringBitmap {
        let (cell, section) = self.present;
        let frozen = self.frozen;
        cell.get_or_init(|| {
            frozen.bitmap(section).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "damaged presence bitmap in the run image");
                RoaringBitmap::new()
            })
        })
    }

    pub fn has_postings(&self) -> bool {
        self.postings.is_some()
    }

    /// Runs whose value is `id`, when the key keeps postings.
    pub fn postings(&self, id: u32) -> Option<RoaringBitmap> {
        let bytes = self.postings?.bytes(id as usize)?;
        match RoaringBitmap::deserialize_unchecked_from(bytes) {
            Ok(bitmap) => Some(bitmap),
            Err(e) => {
                tracing::warn!(error = %e, "damaged postings in the run image");
                Some(RoaringBitmap::new())
            }
        }
    }

    /// Runs among `within` whose value id satisfies `keep`.
    pub fn select_ids(&self, within: &RoaringBitmap, keep: impl Fn(u32) -> bool) -> RoaringBitmap {
        if let Some(postings) = self.postings {
            let mut out = RoaringBitmap::new();
            for id in 0..postings.len() as u32 {
                if keep(id)
                    && let Some(bitmap) = self.postings(id)
                {
                    out |= bitmap;
                }
            }
            return out & within;
        }
        let Some(column) = self.column else {
            return RoaringBitmap::new();
        };
        let having = within & self.present();
        let hits = having.into_iter().filter(|&ord| {
            column
                .get(ord as usize)
                .is_some_and(|id| id != TOMBSTONE && keep(id))
        });
        RoaringBitmap::from_sorted_iter(hits).unwrap_or_default()
    }
}

/// The frozen latest-value column of one metric key.
#[derive(Clone, Copy)]
pub struct FrozenMetric<'a> {
    latest: U64s<'a>,
    has: Bytes<'a>,
    present: &'a RoaringBitmap,
}

impl<'a> FrozenMetric<'a> {
    pub fn get(&self, ord: Ordinal) -> Option<f64> {
        match self.has.get(ord as usize) {
            Some(1) => self.latest.get_f64(ord as usize),
            _ => None,
        }
    }

    pub fn present(&self) -> &'a RoaringBitmap {
        self.present
    }
}
