//! Writing a run table (both parts) as a checkpoint image that
//! [`Frozen`](super::frozen::Frozen) reads in place.
//!
//! Value ids are assigned afresh per key, in the order values are first
//! met; each key keeps roaring postings unless its values are mostly
//! distinct, when a value-id column by ordinal replaces them (the rule of
//! [`StringIndex`](super::StringIndex), applied once to the whole table).

use std::collections::HashMap;
use std::path::Path;

use roaring::RoaringBitmap;

use super::frozen::{
    FLAG_DELETED, FLAG_DELETED_TIME, FLAG_END, KeySecs, Meta, MetricSecs, StrSecs, TOMBSTONE,
};
use super::image::{ImageWriter, StringsBuilder, offsets_bytes};
use super::row::RowWriter;
use super::strings::keeps_postings;
use super::{Dict, Ordinal, RunTable};
use crate::error::{Error, Result};
use crate::model::LifecycleStage;

/// Writes `table` as an image at `path` (durably, via a temporary name).
/// Returns the bytes written.
pub fn write_image(table: &RunTable, path: &Path) -> Result<u64> {
    let mut out = ImageWriter::create(path)?;
    let n = table.len() as u32;

    let run_ids = write_run_ids(&mut out, table, n)?;
    let columns = write_attributes(&mut out, table, n)?;
    let rows = write_rows(&mut out, table, n)?;
    let param_keys = write_keys(&mut out, table.param_keys(), rows.params, n)?;
    let tag_keys = write_keys(&mut out, table.tag_keys(), rows.tags, n)?;
    let metric_keys = write_metric_columns(&mut out, table, rows.metrics, n)?;

    let mut experiment_runs = Vec::new();
    for row in table.experiments() {
        experiment_runs.push(bitmap_section(&mut out, &row.runs)?);
    }
    let deleted = bitmap_section(&mut out, table.deleted())?;

    let meta = Meta {
        runs: n,
        experiments: table
            .experiments()
            .iter()
            .map(|e| e.experiment.clone())
            .collect(),
        experiment_runs,
        deleted,
        run_ids: run_ids.0,
        run_ids_sorted: run_ids.1,
        experiment: columns.experiment,
        flags: columns.flags,
        start_time: columns.start_time,
        by_start: columns.by_start,
        end_time: columns.end_time,
        deleted_time: columns.deleted_time,
        rows: rows.secs,
        param_keys,
        tag_keys,
        metric_keys,
    };
    let meta = serde_json::to_vec(&meta)
        .map_err(|e| Error::Internal(format!("cannot encode run image meta: {e}")))?;
    out.finish(&meta)
}

fn strings_section(
    out: &mut ImageWriter,
    values: impl Iterator<Item = impl AsRef<[u8]>>,
) -> Result<StrSecs> {
    let mut b = StringsBuilder::default();
    for v in values {
        b.push(v.as_ref());
    }
    let (offsets, blob, wide) = b.write(out)?;
    Ok(StrSecs {
        offsets,
        blob,
        wide,
    })
}

fn bitmap_section(out: &mut ImageWriter, bitmap: &RoaringBitmap) -> Result<u32> {
    let mut bytes = Vec::with_capacity(bitmap.serialized_size());
    bitmap
        .serialize_into(&mut bytes)
        .map_err(|e| Error::Internal(format!("cannot serialize a bitmap: {e}")))?;
    out.section(&bytes)
}

fn u32_section(out: &mut ImageWriter, values: impl Iterator<Item = u32>) -> Result<u32> {
    let bytes: Vec<u8> = values.flat_map(u32::to_le_bytes).collect();
    out.section(&bytes)
}

fn u64_section(out: &mut ImageWriter, values: impl Iterator<Item = u64>) -> Result<u32> {
    let bytes: Vec<u8> = values.flat_map(u64::to_le_bytes).collect();
    out.section(&bytes)
}

/// Run ids in ordinal order, and ordinals sorted by id.
fn write_run_ids(out: &mut ImageWriter, table: &RunTable, n: u32) -> Result<(StrSecs, u32)> {
    let ids = strings_section(out, (0..n).map(|ord| table.get(ord).run_id()))?;
    let mut sorted: Vec<Ordinal> = (0..n).collect();
    sorted.sort_unstable_by(|&a, &b| table.get(a).run_id().cmp(table.get(b).run_id()));
    Ok((ids, u32_section(out, sorted.into_iter())?))
}

struct Columns {
    experiment: u32,
    flags: u32,
    start_time: u32,
    by_start: u32,
    end_time: u32,
    deleted_time: u32,
}

/// The fixed-width columns scans and the default order read.
fn write_attributes(out: &mut ImageWriter, table: &RunTable, n: u32) -> Result<Columns> {
    let run = |ord| table.get(ord);
    let flags: Vec<u8> = (0..n)
        .map(|ord| {
            let r = run(ord);
            let mut f = r.status() as u8 & 7;
            if r.lifecycle() == LifecycleStage::Deleted {
                f |= FLAG_DELETED;
            }
            if r.end_time().is_some() {
                f |= FLAG_END;
            }
            if r.deleted_time().is_some() {
                f |= FLAG_DELETED_TIME;
            }
            f
        })
        .collect();
    Ok(Columns {
        experiment: u32_section(out, (0..n).map(|o| run(o).experiment()))?,
        flags: out.section(&flags)?,
        start_time: u64_section(out, (0..n).map(|o| run(o).start_time() as u64))?,
        by_start: u32_section(out, by_start_time(table, n).into_iter())?,
        end_time: u64_section(out, (0..n).map(|o| run(o).end_time().unwrap_or(0) as u64))?,
        deleted_time: u64_section(
            out,
            (0..n).map(|o| run(o).deleted_time().unwrap_or(0) as u64),
        )?,
    })
}

/// Ordinals by start time, latest first (ties in ordinal order): the
/// default order's leading key, walked by first pages of dense searches.
fn by_start_time(table: &RunTable, n: u32) -> Vec<Ordinal> {
    let mut order: Vec<Ordinal> = (0..n).collect();
    order.sort_by_key(|&ord| std::cmp::Reverse(table.start_time(ord)));
    order
}

/// The distinct values of one key as they are met, and who has which.
#[derive(Default)]
struct KeyBuild<'t> {
    ids: HashMap<&'t str, u32>,
    values: Vec<&'t str>,
    present: RoaringBitmap,
    /// (ordinal, value id), in ordinal order.
    entries: Vec<(Ordinal, u32)>,
}

impl<'t> KeyBuild<'t> {
    fn add(&mut self, ord: Ordinal, value: &'t str) {
        let next = self.values.len() as u32;
        let id = *self.ids.entry(value).or_insert(next);
        if id == next {
            self.values.push(value);
        }
        self.present.insert(ord);
        self.entries.push((ord, id));
    }
}

/// What the pass over every run's record gathers for the indexes.
struct Rows<'t> {
    secs: StrSecs,
    params: Vec<KeyBuild<'t>>,
    tags: Vec<KeyBuild<'t>>,
    /// Latest value bits of each metric key: (ordinal, bits).
    metrics: Vec<Vec<(Ordinal, u64)>>,
}

/// Every run's record (`row.rs`), streamed into one section, while each
/// key's values and metric columns are gathered for the index sections.
fn write_rows<'t>(out: &mut ImageWriter, table: &'t RunTable, n: u32) -> Result<Rows<'t>> {
    let mut rows = Rows {
        secs: StrSecs {
            offsets: 0,
            blob: 0,
            wide: false,
        },
        params: (0..table.param_keys().len())
            .map(|_| KeyBuild::default())
            .collect(),
        tags: (0..table.tag_keys().len())
            .map(|_| KeyBuild::default())
            .collect(),
        metrics: vec![Vec::new(); table.metric_keys().len()],
    };
    let mut ends = Vec::with_capacity(n as usize);
    let mut written = 0u64;
    let mut record = Vec::with_capacity(4096);
    let mut w = RowWriter::default();
    let ranks = [
        name_ranks(table.param_keys()),
        name_ranks(table.tag_keys()),
        name_ranks(table.metric_keys()),
    ];
    let by_name = |rank: &[u32], k: u32| rank.get(k as usize).copied().unwrap_or(u32::MAX);
    out.begin();
    for ord in 0..n {
        record.clear();
        let run = table.get(ord);
        for s in [
            run.run_id(),
            run.run_name(),
            run.user_id(),
            run.artifact_uri(),
        ] {
            w.str(s);
        }
        w.clocks(run.clocks());
        for (mut slots, keys, rank, tombstones) in [
            (table.param_slots(ord), &mut rows.params, &ranks[0], false),
            (table.tag_slots(ord), &mut rows.tags, &ranks[1], true),
        ] {
            slots.sort_unstable_by_key(|&(k, _, _)| by_name(rank, k));
            w.u32(slots.len() as u32);
            for (k, value, clock) in slots {
                w.u32(k);
                w.u64(clock);
                if tombstones {
                    w.opt_str(value);
                } else {
                    w.str(value.unwrap_or(""));
                }
                if let (Some(v), Some(key)) = (value, keys.get_mut(k as usize)) {
                    key.add(ord, v);
                }
            }
        }
        let mut metrics = table.metrics_of(ord);
        metrics.sort_unstable_by_key(|&(k, _)| by_name(&ranks[2], k));
        w.u32(metrics.len() as u32);
        for (k, point) in metrics {
            w.point(k, point);
            if let Some(column) = rows.metrics.get_mut(k as usize) {
                column.push((ord, point.value.to_bits()));
            }
        }
        let inputs = run.inputs_ref();
        if inputs.is_empty() {
            w.str("");
        } else {
            let json = serde_json::to_string(&*inputs)
                .map_err(|e| Error::Internal(format!("cannot encode inputs: {e}")))?;
            w.str(&json);
        }
        w.finish(&mut record);
        out.put(&record)?;
        written += record.len() as u64;
        ends.push(written);
    }
    let blob = out.end()?;
    let (offsets, wide) = offsets_bytes(&ends);
    rows.secs = StrSecs {
        offsets: out.section(&offsets)?,
        blob,
        wide,
    };
    Ok(rows)
}

/// Each key id's place in name order: records list params, tags and
/// metrics in it, the order a shown run's maps have.
fn name_ranks(keys: &Dict) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..keys.len() as u32).collect();
    ids.sort_unstable_by(|&a, &b| keys.resolve(a).cmp(keys.resolve(b)));
    let mut ranks = vec![0; ids.len()];
    for (rank, id) in ids.into_iter().enumerate() {
        ranks[id as usize] = rank as u32;
    }
    ranks
}

/// The sections of every key of one kind (params or tags), by key id.
fn write_keys(
    out: &mut ImageWriter,
    names: &Dict,
    keys: Vec<KeyBuild<'_>>,
    n: u32,
) -> Result<Vec<KeySecs>> {
    keys.into_iter()
        .enumerate()
        .map(|(k, key)| write_key(out, names.resolve(k as u32), key, n))
        .collect()
}

/// One key's sections: values, sorted ids, presence, and postings or a
/// value-id column.
fn write_key(out: &mut ImageWriter, name: &str, key: KeyBuild<'_>, n: u32) -> Result<KeySecs> {
    let mut sorted: Vec<u32> = (0..key.values.len() as u32).collect();
    sorted.sort_unstable_by(|&a, &b| key.values[a as usize].cmp(key.values[b as usize]));
    let (postings, column) = if keeps_postings(key.values.len(), key.present.len()) {
        let mut bitmaps = vec![Vec::new(); key.values.len()];
        for &(ord, id) in &key.entries {
            if let Some(b) = bitmaps.get_mut(id as usize) {
                b.push(ord);
            }
        }
        let mut b = StringsBuilder::default();
        for ords in bitmaps {
            let bitmap = RoaringBitmap::from_sorted_iter(ords).unwrap_or_default();
            let mut bytes = Vec::with_capacity(bitmap.serialized_size());
            bitmap
                .serialize_into(&mut bytes)
                .map_err(|e| Error::Internal(format!("cannot serialize postings: {e}")))?;
            b.push(&bytes);
        }
        let (offsets, blob, wide) = b.write(out)?;
        let secs = StrSecs {
            offsets,
            blob,
            wide,
        };
        (Some(secs), None)
    } else {
        let mut column = vec![TOMBSTONE; n as usize];
        for &(ord, id) in &key.entries {
            column[ord as usize] = id;
        }
        (None, Some(u32_section(out, column.into_iter())?))
    };
    Ok(KeySecs {
        name: name.to_string(),
        values: strings_section(out, key.values.iter())?,
        sorted: u32_section(out, sorted.into_iter())?,
        present: bitmap_section(out, &key.present)?,
        postings,
        column,
    })
}

/// Each metric key's latest-value column, presence bytes and bitmap.
fn write_metric_columns(
    out: &mut ImageWriter,
    table: &RunTable,
    by_key: Vec<Vec<(Ordinal, u64)>>,
    n: u32,
) -> Result<Vec<MetricSecs>> {
    let mut key_secs = Vec::with_capacity(by_key.len());
    for (k, entries) in by_key.into_iter().enumerate() {
        let mut latest = vec![0u64; n as usize];
        let mut has = vec![0u8; n as usize];
        let mut present = RoaringBitmap::new();
        for (ord, bits) in entries {
            latest[ord as usize] = bits;
            has[ord as usize] = 1;
            present.insert(ord);
        }
        key_secs.push(MetricSecs {
            name: table.metric_keys().resolve(k as u32).to_string(),
            latest: u64_section(out, latest.into_iter())?,
            has: out.section(&has)?,
            present: bitmap_section(out, &present)?,
        });
    }
    Ok(key_secs)
}
