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
    FLAG_DELETED, FLAG_DELETED_TIME, FLAG_END, KeySecs, Meta, MetricSecs, PointSecs, SlotSecs,
    StrSecs, TOMBSTONE,
};
use super::image::{ImageWriter, StringsBuilder};
use super::strings::keeps_postings;
use super::{Ordinal, RunTable};
use crate::error::{Error, Result};
use crate::model::LifecycleStage;

/// Writes `table` as an image at `path` (durably, via a temporary name).
/// Returns the bytes written.
pub fn write_image(table: &RunTable, path: &Path) -> Result<u64> {
    let mut out = ImageWriter::create(path)?;
    let n = table.len() as u32;

    let run_ids = write_run_ids(&mut out, table, n)?;
    let columns = write_attributes(&mut out, table, n)?;
    let (params, param_keys) = write_slots(&mut out, table, n, Part::Params)?;
    let (tags, tag_keys) = write_slots(&mut out, table, n, Part::Tags)?;
    let (metrics, metric_keys) = write_metrics(&mut out, table, n)?;

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
        end_time: columns.end_time,
        deleted_time: columns.deleted_time,
        run_name: columns.run_name,
        user_id: columns.user_id,
        artifact_uri: columns.artifact_uri,
        clocks: columns.clocks,
        inputs: columns.inputs,
        params,
        tags,
        metrics,
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
    let (offsets, blob) = b.write(out)?;
    Ok(StrSecs { offsets, blob })
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
    end_time: u32,
    deleted_time: u32,
    run_name: StrSecs,
    user_id: StrSecs,
    artifact_uri: StrSecs,
    clocks: u32,
    inputs: StrSecs,
}

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
    let inputs: Vec<Vec<u8>> = (0..n)
        .map(|ord| {
            let inputs = run(ord).inputs_ref();
            if inputs.is_empty() {
                Ok(Vec::new())
            } else {
                serde_json::to_vec(&*inputs)
                    .map_err(|e| Error::Internal(format!("cannot encode inputs: {e}")))
            }
        })
        .collect::<Result<_>>()?;
    Ok(Columns {
        experiment: u32_section(out, (0..n).map(|o| run(o).experiment()))?,
        flags: out.section(&flags)?,
        start_time: u64_section(out, (0..n).map(|o| run(o).start_time() as u64))?,
        end_time: u64_section(out, (0..n).map(|o| run(o).end_time().unwrap_or(0) as u64))?,
        deleted_time: u64_section(
            out,
            (0..n).map(|o| run(o).deleted_time().unwrap_or(0) as u64),
        )?,
        run_name: strings_section(out, (0..n).map(|o| run(o).run_name()))?,
        user_id: strings_section(out, (0..n).map(|o| run(o).user_id()))?,
        artifact_uri: strings_section(out, (0..n).map(|o| run(o).artifact_uri()))?,
        clocks: u64_section(
            out,
            (0..n).flat_map(|o| {
                let c = run(o).clocks();
                [c.name, c.status, c.end_time, c.lifecycle]
            }),
        )?,
        inputs: strings_section(out, inputs.iter())?,
    })
}

#[derive(Clone, Copy)]
enum Part {
    Params,
    Tags,
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

/// Params or tags of every run, streamed as 16-byte slots (key, value id,
/// clock), then each key's dictionary and index.
fn write_slots(
    out: &mut ImageWriter,
    table: &RunTable,
    n: u32,
    part: Part,
) -> Result<(SlotSecs, Vec<KeySecs>)> {
    let names = match part {
        Part::Params => table.param_keys(),
        Part::Tags => table.tag_keys(),
    };
    let mut keys: Vec<KeyBuild<'_>> = (0..names.len()).map(|_| KeyBuild::default()).collect();
    let mut offsets = Vec::with_capacity(n as usize + 1);
    let mut count = 0u64;
    offsets.push(0u64);
    out.begin();
    for ord in 0..n {
        let slots = match part {
            Part::Params => table.param_slots(ord),
            Part::Tags => table.tag_slots(ord),
        };
        for (k, value, clock) in slots {
            let Some(key) = keys.get_mut(k as usize) else {
                continue;
            };
            let id = match value {
                Some(v) => {
                    let next = key.values.len() as u32;
                    let id = *key.ids.entry(v).or_insert(next);
                    if id == next {
                        key.values.push(v);
                    }
                    key.present.insert(ord);
                    key.entries.push((ord, id));
                    id
                }
                None => TOMBSTONE,
            };
            let mut slot = [0u8; 16];
            slot[..4].copy_from_slice(&k.to_le_bytes());
            slot[4..8].copy_from_slice(&id.to_le_bytes());
            slot[8..].copy_from_slice(&clock.to_le_bytes());
            out.put(&slot)?;
            count += 1;
        }
        offsets.push(count);
    }
    let entries = out.end()?;
    let secs = SlotSecs {
        offsets: u64_section(out, offsets.into_iter())?,
        entries,
    };

    let mut key_secs = Vec::with_capacity(keys.len());
    for (k, key) in keys.into_iter().enumerate() {
        key_secs.push(write_key(out, names.resolve(k as u32), key, n)?);
    }
    Ok((secs, key_secs))
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
        let (offsets, blob) = b.write(out)?;
        (Some(StrSecs { offsets, blob }), None)
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

/// Latest points of every run, streamed as 32-byte entries (key, 0, step,
/// timestamp, value), then each metric key's latest-value column.
fn write_metrics(
    out: &mut ImageWriter,
    table: &RunTable,
    n: u32,
) -> Result<(PointSecs, Vec<MetricSecs>)> {
    let key_count = table.metric_keys().len();
    let mut by_key: Vec<Vec<(Ordinal, u64)>> = vec![Vec::new(); key_count];
    let mut offsets = Vec::with_capacity(n as usize + 1);
    let mut count = 0u64;
    offsets.push(0u64);
    out.begin();
    for ord in 0..n {
        for (k, point) in table.metrics_of(ord) {
            let Some(column) = by_key.get_mut(k as usize) else {
                continue;
            };
            column.push((ord, point.value.to_bits()));
            let mut entry = [0u8; 32];
            entry[..4].copy_from_slice(&k.to_le_bytes());
            entry[8..16].copy_from_slice(&point.step.to_le_bytes());
            entry[16..24].copy_from_slice(&point.timestamp.to_le_bytes());
            entry[24..].copy_from_slice(&point.value.to_le_bytes());
            out.put(&entry)?;
            count += 1;
        }
        offsets.push(count);
    }
    let entries = out.end()?;
    let secs = PointSecs {
        offsets: u64_section(out, offsets.into_iter())?,
        entries,
    };
    let mut key_secs = Vec::with_capacity(key_count);
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
    Ok((secs, key_secs))
}
