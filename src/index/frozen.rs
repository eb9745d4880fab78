//! A checkpointed run table read in place from its mapped image.
//!
//! At a checkpoint every run goes into an image (`image.rs`): columns by
//! ordinal for what scans read (start time, flags, experiment), one record
//! per run for what showing a run reads (`row.rs`: names, params, tags,
//! latest metrics, inputs; a page of results then costs a cache miss or two
//! per run, not one per field), and per key its sorted value dictionary
//! with roaring postings or a value-id column. Opening a store maps the
//! image and reads only its small meta section, so open time does not grow
//! with the number of runs; searches read the columns where they lie.
//!
//! Nothing here changes: runs written after the checkpoint live in the
//! run table's in-memory part, which shadows the frozen copy of any run it
//! changed (see `runs.rs`).

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::Ordinal;
use super::image::{Bytes, Image, Strings, U32s, U64s, offset_width};
use super::row::{Entry, Row};
use super::runs::FieldClocks;
use crate::error::{Error, Result};
use crate::model::{DatasetInput, Experiment, LifecycleStage, MetricPoint, RunStatus};

/// Section numbers of a [`Strings`] pair.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct StrSecs {
    pub offsets: u32,
    pub blob: u32,
    /// Offsets are `u64` (blob over 4 GiB) rather than `u32`.
    pub wide: bool,
}

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
    /// Ordinals by start time, latest first.
    pub by_start: u32,
    pub end_time: u32,
    pub deleted_time: u32,
    /// One record per run (`row.rs`): names, clocks, params, tags,
    /// latest metrics and inputs.
    pub rows: StrSecs,
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
    /// Which sections are known to be UTF-8 text, by section number.
    text: Vec<bool>,
    /// The start-time column, copied to the heap at open (8 bytes a run):
    /// the default order reads it for every hit, in ordinal order but far
    /// apart, and a mapped page the kernel has dropped would cost a fault.
    start_times: Vec<i64>,
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
        let mut frozen = Frozen {
            image,
            meta,
            present,
            text: Vec::new(),
            start_times: Vec::new(),
        };
        frozen.check_shape()?;
        frozen.validate_text()?;
        let column = frozen.bytes(frozen.meta.start_time).chunks_exact(8);
        frozen.start_times = column
            .map(|b| {
                let mut le = [0u8; 8];
                le.copy_from_slice(b);
                i64::from_le_bytes(le)
            })
            .collect();
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
        let blob = self.bytes(s.blob);
        if self.text.get(s.blob as usize).copied().unwrap_or(false) {
            // SAFETY: section `s.blob` was checked to be UTF-8 as a whole by
            // `validate_text` at open, and the mapped bytes cannot change
            // while mapped (see `Image::open`). Entries are cut from it with
            // `str::get`, which refuses cuts inside a character.
            let text = unsafe { std::str::from_utf8_unchecked(blob) };
            return Strings::with_text(self.bytes(s.offsets), s.wide, text);
        }
        Strings::new(self.bytes(s.offsets), s.wide, blob)
    }

    /// Checks every string blob the meta names as UTF-8 (one fast pass per
    /// blob, not one per string) and notes which sections passed.
    fn validate_text(&mut self) -> Result<()> {
        let m = &self.meta;
        let mut blobs = vec![m.run_ids];
        for k in m.param_keys.iter().chain(&m.tag_keys) {
            blobs.push(k.values);
        }
        let mut text = vec![false; self.image.sections()];
        for s in blobs {
            let bytes = self.image.section(s.blob)?;
            if let Err(e) = std::str::from_utf8(bytes) {
                return Err(Error::corrupt(
                    self.path(),
                    self.image.offset(s.blob) + e.valid_up_to() as u64,
                    "run image text is not UTF-8",
                ));
            }
            if let Some(flag) = text.get_mut(s.blob as usize) {
                *flag = true;
            }
        }
        self.text = text;
        Ok(())
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

    /// Calls `f(ordinal, start time)` for the runs of ordinals `range`, in
    /// ordinal order.
    pub fn for_each_start_time(&self, range: Range<usize>, mut f: impl FnMut(Ordinal, i64)) {
        let times = self.start_times.get(range.clone()).unwrap_or_default();
        for (i, &t) in range.zip(times) {
            f(i as Ordinal, t);
        }
    }

    /// Ordinals by start time, latest first (ties in ordinal order).
    pub fn by_start_time(&self) -> U32s<'_> {
        U32s::new(self.bytes(self.meta.by_start))
    }

    pub fn start_time(&self, ord: Ordinal) -> i64 {
        self.start_times.get(ord as usize).copied().unwrap_or(0)
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

    /// Loads into the cache what building runs `ords` reads: their
    /// records, flags, times and experiments, each a load that does not
    /// wait on another, so that a page's cache misses overlap instead of
    /// coming one at a time as each run is built. Returns a sum of what it
    /// read, for `black_box`.
    pub fn touch(&self, ords: &[Ordinal]) -> u64 {
        let flags = Bytes::new(self.bytes(self.meta.flags));
        let ends = U64s::new(self.bytes(self.meta.end_time));
        let experiments = U32s::new(self.bytes(self.meta.experiment));
        let mut sum = 0u64;
        for &ord in ords {
            let i = ord as usize;
            sum = sum
                .wrapping_add(u64::from(flags.get(i).unwrap_or(0)))
                .wrapping_add(ends.get(i).unwrap_or(0))
                .wrapping_add(u64::from(experiments.get(i).unwrap_or(0)))
                .wrapping_add(self.start_time(ord) as u64);
        }
        let rows = self.strings(self.meta.rows);
        sum.wrapping_add(rows.touch(ords.iter().map(|&ord| ord as usize)))
    }

    /// The record of run `ord`; `None` only if the image is damaged (which
    /// open's checksum pass rules out).
    pub fn row(&self, ord: Ordinal) -> Option<Row<'_>> {
        Row::parse(self.strings(self.meta.rows).bytes(ord as usize)?)
    }

    pub fn run_name(&self, ord: Ordinal) -> &str {
        self.row(ord).map_or("", |r| r.run_name)
    }

    pub fn user_id(&self, ord: Ordinal) -> &str {
        self.row(ord).map_or("", |r| r.user_id)
    }

    pub fn artifact_uri(&self, ord: Ordinal) -> &str {
        self.row(ord).map_or("", |r| r.artifact_uri)
    }

    pub fn clocks(&self, ord: Ordinal) -> FieldClocks {
        self.row(ord)
            .map_or_else(FieldClocks::default, |r| r.clocks)
    }

    pub fn inputs(&self, ord: Ordinal) -> Vec<DatasetInput> {
        let json = self.row(ord).map_or("", |r| r.inputs_json());
        if json.is_empty() {
            return Vec::new();
        }
        self.parse_inputs(ord, json)
    }

    /// Dataset inputs from their JSON in run `ord`'s record.
    pub fn parse_inputs(&self, ord: Ordinal, json: &str) -> Vec<DatasetInput> {
        serde_json::from_str(json).unwrap_or_else(|e| {
            tracing::warn!(ord, error = %e, "damaged dataset inputs in the run image");
            Vec::new()
        })
    }

    /// Params of run `ord`: (key id, value, clock), in key name order.
    pub fn params(&self, ord: Ordinal) -> Vec<Entry<'_>> {
        self.row(ord)
            .map(|r| r.params().collect())
            .unwrap_or_default()
    }

    /// Tags of run `ord`, deleted ones as `None`, in key name order.
    pub fn tags(&self, ord: Ordinal) -> Vec<Entry<'_>> {
        self.row(ord)
            .map(|r| r.tags().collect())
            .unwrap_or_default()
    }

    /// The value of param key `key` of run `ord`.
    pub fn param(&self, ord: Ordinal, key: u32) -> Option<&str> {
        self.row(ord)?.param(key)
    }

    /// The value of tag key `key` of run `ord`.
    pub fn tag(&self, ord: Ordinal, key: u32) -> Option<&str> {
        self.row(ord)?.tag(key)
    }

    /// The latest point of each metric of run `ord`, by key id (the
    /// record lists them by name).
    pub fn metrics(&self, ord: Ordinal) -> Vec<(u32, MetricPoint)> {
        let mut metrics = self.row(ord).map(|r| r.metrics()).unwrap_or_default();
        metrics.sort_unstable_by_key(|&(k, _)| k);
        metrics
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
            Some(cell) => self.decoded(cell, section),
            None => EMPTY.get_or_init(RoaringBitmap::new),
        }
    }

    /// The bitmap of `section`, decoded into `cell` on first use.
    fn decoded<'s>(&'s self, cell: &'s OnceLock<RoaringBitmap>, section: u32) -> &'s RoaringBitmap {
        cell.get_or_init(|| {
            self.bitmap(section).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "damaged presence bitmap in the run image");
                RoaringBitmap::new()
            })
        })
    }

    /// Heap held beside the map: the start-time copy and the presence
    /// bitmaps decoded so far.
    pub fn heap_bytes(&self) -> usize {
        let bitmaps: usize = self
            .present
            .iter()
            .flatten()
            .filter_map(OnceLock::get)
            .map(RoaringBitmap::serialized_size)
            .sum();
        self.start_times.capacity() * 8 + self.text.capacity() + bitmaps
    }

    /// Mapped bytes of the image.
    pub fn mapped_bytes(&self) -> u64 {
        std::fs::metadata(self.path()).map_or(0, |m| m.len())
    }

    /// Bytes of the image's index sections (value dictionaries, postings,
    /// value-id and latest-value columns, presence, sorted run ids and
    /// lifecycle bitmaps), apart from the runs' own data.
    pub fn index_bytes(&self) -> u64 {
        let m = &self.meta;
        let mut sections = vec![m.run_ids_sorted, m.by_start, m.deleted];
        sections.extend(&m.experiment_runs);
        for k in m.param_keys.iter().chain(&m.tag_keys) {
            sections.extend([k.values.offsets, k.values.blob, k.sorted, k.present]);
            sections.extend(k.postings.iter().flat_map(|p| [p.offsets, p.blob]));
            sections.extend(k.column);
        }
        for k in &m.metric_keys {
            sections.extend([k.latest, k.has, k.present]);
        }
        sections
            .into_iter()
            .map(|s| self.image.section(s).map_or(0, |b| b.len() as u64))
            .sum()
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
            (m.by_start, 4 * n),
            (m.end_time, 8 * n),
            (m.deleted_time, 8 * n),
        ];
        for s in [m.run_ids, m.rows] {
            fixed.push((s.offsets, offset_width(s.wide) * (n + 1)));
        }
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

    /// The value of run `ord` read from the value-id column (`Some(None)`
    /// when the run lacks the key), or `None` when the key keeps postings
    /// instead and cannot answer by run.
    pub fn value_of_run(&self, ord: Ordinal) -> Option<Option<&'a str>> {
        let id = self.column?.get(ord as usize)?;
        Some((id != TOMBSTONE).then(|| self.value(id)))
    }

    /// Ids of the values containing `needle` (one search over them all).
    pub fn ids_containing(&self, needle: &[u8]) -> Vec<u32> {
        self.values.containing(needle)
    }

    /// Number of distinct values.
    pub fn distinct(&self) -> usize {
        self.values.len()
    }

    /// Distinct values, in id order.
    pub fn values(&self) -> impl Iterator<Item = (u32, &'a str)> + '_ {
        (0..self.values.len()).map(|i| (i as u32, self.values.get(i)))
    }

    /// Runs having the key.
    pub fn present(&self) -> &'a RoaringBitmap {
        let (cell, section) = self.present;
        self.frozen.decoded(cell, section)
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
    pub fn select_ids(
        &self,
        within: &RoaringBitmap,
        keep: impl Fn(u32) -> bool + Sync,
    ) -> RoaringBitmap {
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
        // Over most runs, one pass down the column beats walking `within`.
        if within.len().saturating_mul(4) > column.len() as u64 {
            return scan_column(column, keep) & within;
        }
        let having = within & self.present();
        let hits = having.into_iter().filter(|&ord| {
            column
                .get(ord as usize)
                .is_some_and(|id| id != TOMBSTONE && keep(id))
        });
        RoaringBitmap::from_sorted_iter(hits).unwrap_or_default()
    }
}

/// Ordinals whose value id in `column` satisfies `keep`, one bit per run
/// gathered eight runs to a byte and handed to roaring whole: pushing the
/// hits one by one costs several times the scan itself.
/// A large column is scanned in parts, one per core.
fn scan_column(column: U32s<'_>, keep: impl Fn(u32) -> bool + Sync) -> RoaringBitmap {
    let hit = |id: &[u8]| {
        let mut le = [0u8; 4];
        le.copy_from_slice(id);
        let id = u32::from_le_bytes(le);
        id != TOMBSTONE && keep(id)
    };
    let byte_of = |ids: &[u8]| {
        ids.chunks_exact(4)
            .enumerate()
            .fold(0u8, |byte, (i, id)| byte | (u8::from(hit(id)) << i))
    };
    let bytes = column.as_bytes();
    let parts = crate::parallel::split(column.len(), 1 << 18, 8, |runs| {
        let part = bytes.get(runs.start * 4..runs.end * 4).unwrap_or(&[]);
        part.chunks(32).map(byte_of).collect::<Vec<u8>>()
    });
    RoaringBitmap::from_lsb0_bytes(0, &parts.concat())
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

    /// Calls `f(ordinal, value)` for the runs of ordinals `range` having
    /// the key, in ordinal order: one pass over the two columns, no bitmap
    /// walked.
    pub fn for_each(&self, range: Range<usize>, mut f: impl FnMut(Ordinal, f64)) {
        let has = self.has.as_slice().get(range.clone()).unwrap_or_default();
        let values = self
            .latest
            .as_bytes()
            .get(range.start.saturating_mul(8)..range.end.saturating_mul(8))
            .unwrap_or_default()
            .chunks_exact(8);
        for (i, (&has, value)) in range.zip(has.iter().zip(values)) {
            if has == 1 {
                let mut le = [0u8; 8];
                le.copy_from_slice(value);
                f(i as Ordinal, f64::from_le_bytes(le));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_scan_keeps_exactly_the_runs_whose_id_passes() {
        for n in [0usize, 1, 7, 8, 9, 31, 64, 65, 200] {
            let ids: Vec<u32> = (0..n as u32)
                .map(|ord| {
                    if ord % 5 == 4 {
                        TOMBSTONE
                    } else {
                        ord * 7 % 11
                    }
                })
                .collect();
            let bytes: Vec<u8> = ids.iter().flat_map(|id| id.to_le_bytes()).collect();
            let keep = |id: u32| id.is_multiple_of(3);

            let got = scan_column(U32s::new(&bytes), keep);
            let want: RoaringBitmap = (0..n as u32)
                .filter(|&ord| ids[ord as usize] != TOMBSTONE && keep(ids[ord as usize]))
                .collect();
            assert_eq!(got, want, "{n} runs");
        }
    }

    #[test]
    fn a_column_scan_in_parts_equals_one_pass() {
        let n = 600_001u32;
        let ids: Vec<u32> = (0..n)
            .map(|ord| ord.wrapping_mul(2_654_435_761) % 1000)
            .collect();
        let bytes: Vec<u8> = ids.iter().flat_map(|id| id.to_le_bytes()).collect();
        let keep = |id: u32| id < 3;

        let got = scan_column(U32s::new(&bytes), keep);
        let want: RoaringBitmap = (0..n).filter(|&ord| keep(ids[ord as usize])).collect();
        assert_eq!(got, want);
    }
}
