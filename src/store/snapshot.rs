//! Checkpoint snapshot of the run table and every metric history.
//!
//! Layout: magic `RSSNAP02` (8 bytes), then sections, each: payload length
//! (u64 LE), CRC32 of the payload (u32 LE), payload = lz4 (size-prepended)
//! of the rkyv encoding of a [`Snapshot`] part of at most 1,024 runs (the
//! first part also holds the experiments and metric keys). Written to a
//! temporary name, synced, renamed, then the
//! folder synced; the manifest names it only after that.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use rkyv::rancor;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

use super::record::{ExperimentRec, RunRec};
use super::state::State;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"RSSNAP02";
/// Length (u64) and CRC32 (u32) before each section.
const SECTION_HEAD_LEN: usize = 12;

/// Everything a checkpoint needs to rebuild the state, but the metric
/// histories, which go to the series file of the same checkpoint.
#[derive(Debug, Archive, Serialize, Deserialize)]
pub struct Snapshot {
    pub experiments: Vec<ExperimentRec>,
    /// Metric keys in id order: the series file names series by key id.
    pub metric_keys: Vec<String>,
    /// Every run in ordinal order (ordinals name series too), without
    /// metric points.
    pub runs: Vec<RunRec>,
    /// Latest point of each metric of each run, in the same order:
    /// (key id, step, timestamp, value).
    pub latest: Vec<Vec<(u32, i64, i64, f64)>>,
    /// The clocks that decided each run's fields, in the same order, so
    /// that records of other writers replayed after the checkpoint are
    /// judged as they would have been live.
    pub clocks: Vec<RunClocks>,
}

/// Clocks of one run's fields, params and tags (deleted tags included).
#[derive(Debug, Clone, Archive, Serialize, Deserialize)]
pub struct RunClocks {
    pub name: u64,
    pub status: u64,
    pub end_time: u64,
    pub lifecycle: u64,
    pub params: Vec<(String, u64)>,
    pub tags: Vec<(String, Option<String>, u64)>,
}

/// Captures the state as a snapshot.
pub fn capture(state: &State) -> Snapshot {
    let table = &state.table;
    let experiments = table
        .experiments()
        .iter()
        .map(|e| ExperimentRec::from(&e.experiment))
        .collect();
    let runs = (0..table.len() as u32)
        .map(|ord| RunRec::from_run(table.run(ord)))
        .collect();
    let latest = table
        .rows()
        .iter()
        .map(|row| {
            row.metrics
                .iter()
                .map(|&(k, p)| (k, p.step, p.timestamp, p.value))
                .collect()
        })
        .collect();
    let metric_keys = table
        .metric_keys()
        .iter()
        .map(|(_, k)| k.to_string())
        .collect();
    let clocks = (0..table.len() as u32)
        .map(|ord| {
            let c = table.row(ord).clocks;
            let (params, tags) = table.slots(ord);
            RunClocks {
                name: c.name,
                status: c.status,
                end_time: c.end_time,
                lifecycle: c.lifecycle,
                params: params
                    .into_iter()
                    .map(|(k, c)| (k.to_string(), c))
                    .collect(),
                tags: tags
                    .into_iter()
                    .map(|(k, v, c)| (k.to_string(), v.map(str::to_string), c))
                    .collect(),
            }
        })
        .collect();
    Snapshot {
        experiments,
        metric_keys,
        runs,
        latest,
        clocks,
    }
}

/// Runs per section: keeps every rkyv archive far below the 2 GiB its
/// 32-bit relative pointers can span.
const RUNS_PER_SECTION: usize = 1024;

/// Writes a snapshot durably to `path`, as sections of at most
/// `RUNS_PER_SECTION` runs (the first also holds experiments and keys).
pub fn write(path: &Path, snapshot: &Snapshot) -> Result<u64> {
    let tmp = path.with_extension("tmp");
    let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut out = std::io::BufWriter::new(file);
    let mut written = MAGIC.len() as u64;
    out.write_all(MAGIC).map_err(|e| Error::io(&tmp, e))?;

    let sections = snapshot.runs.len().div_ceil(RUNS_PER_SECTION).max(1);
    for i in 0..sections {
        let range = i * RUNS_PER_SECTION..((i + 1) * RUNS_PER_SECTION).min(snapshot.runs.len());
        let section = Snapshot {
            experiments: if i == 0 {
                snapshot.experiments.clone()
            } else {
                Vec::new()
            },
            metric_keys: if i == 0 {
                snapshot.metric_keys.clone()
            } else {
                Vec::new()
            },
            runs: snapshot.runs[range.clone()].to_vec(),
            latest: snapshot.latest[range.clone()].to_vec(),
            clocks: snapshot.clocks[range].to_vec(),
        };
        let encoded = rkyv::to_bytes::<rancor::Error>(&section)
            .map_err(|e| Error::Internal(format!("cannot encode snapshot: {e}")))?;
        let payload = lz4_flex::compress_prepend_size(&encoded);
        let mut head = Vec::with_capacity(12);
        head.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        head.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.write_all(&head)
            .and_then(|_| out.write_all(&payload))
            .map_err(|e| Error::io(&tmp, e))?;
        written += (head.len() + payload.len()) as u64;
    }

    let file = out
        .into_inner()
        .map_err(|e| Error::io(&tmp, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(written)
}

/// Reads and verifies a snapshot, every section of it.
pub fn read(path: &Path) -> Result<Snapshot> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(Error::corrupt(
            path,
            0,
            "not a runstore snapshot (bad magic)",
        ));
    }
    let mut whole = Snapshot {
        experiments: Vec::new(),
        metric_keys: Vec::new(),
        runs: Vec::new(),
        latest: Vec::new(),
        clocks: Vec::new(),
    };
    let mut at = MAGIC.len();
    while at < bytes.len() {
        let (section, next) = read_section(path, &bytes, at)?;
        whole.experiments.extend(section.experiments);
        whole.metric_keys.extend(section.metric_keys);
        whole.runs.extend(section.runs);
        whole.latest.extend(section.latest);
        whole.clocks.extend(section.clocks);
        at = next;
    }
    if whole.latest.len() != whole.runs.len() || whole.clocks.len() != whole.runs.len() {
        return Err(Error::corrupt(
            path,
            0,
            "snapshot sections disagree on the run count",
        ));
    }
    Ok(whole)
}

/// One section at `at`: its snapshot part and where the next one starts.
fn read_section(path: &Path, bytes: &[u8], at: usize) -> Result<(Snapshot, usize)> {
    let head = bytes
        .get(at..at + SECTION_HEAD_LEN)
        .ok_or_else(|| Error::corrupt(path, at as u64, "snapshot section header cut short"))?;
    let len = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(head[8..12].try_into().unwrap_or_default());
    let start = at + SECTION_HEAD_LEN;
    let end = usize::try_from(len)
        .ok()
        .and_then(|len| start.checked_add(len))
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| Error::corrupt(path, at as u64, "snapshot section runs past the file"))?;
    let payload = &bytes[start..end];
    if crc32fast::hash(payload) != crc {
        return Err(Error::corrupt(
            path,
            at as u64,
            "snapshot checksum mismatch",
        ));
    }
    let raw = lz4_flex::decompress_size_prepended(payload)
        .map_err(|e| Error::corrupt(path, start as u64, format!("lz4: {e}")))?;
    let mut aligned = AlignedVec::<16>::with_capacity(raw.len());
    aligned.extend_from_slice(&raw);
    let section = rkyv::from_bytes::<Snapshot, rancor::Error>(&aligned)
        .map_err(|e| Error::corrupt(path, start as u64, format!("snapshot: {e}")))?;
    Ok((section, end))
}

/// fsyncs a folder so a rename or new file in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}
