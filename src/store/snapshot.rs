//! Checkpoint snapshot of the run table and every metric history.
//!
//! Layout: magic `RSSNAP01` (8 bytes), payload length (u64 LE), CRC32 of the
//! payload (u32 LE), payload = lz4 (size-prepended) of the rkyv encoding of
//! [`Snapshot`]. Written to a temporary name, synced, renamed, then the
//! folder synced; the manifest names it only after that.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use rkyv::rancor;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

use super::record::{ExperimentRec, InputRec, RunRec};
use super::state::State;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"RSSNAP01";
const HEADER_LEN: usize = 20;

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
#[derive(Debug, Archive, Serialize, Deserialize)]
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
        .map(|ord| {
            let run = table.run(ord);
            let mut rec = RunRec::from_record(&crate::model::RunRecord {
                info: run.info,
                params: run.params,
                tags: run.tags,
                metrics: Default::default(),
                inputs: vec![],
            });
            rec.inputs = run.inputs.iter().map(InputRec::from).collect();
            rec
        })
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

/// Writes a snapshot durably to `path`.
pub fn write(path: &Path, snapshot: &Snapshot) -> Result<u64> {
    let encoded = rkyv::to_bytes::<rancor::Error>(snapshot)
        .map_err(|e| Error::Internal(format!("cannot encode snapshot: {e}")))?;
    let payload = lz4_flex::compress_prepend_size(&encoded);
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);

    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(bytes.len() as u64)
}

/// Reads and verifies a snapshot.
pub fn read(path: &Path) -> Result<Snapshot> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(Error::corrupt(
            path,
            0,
            "not a runstore snapshot (bad magic)",
        ));
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default()) as usize;
    let crc = u32::from_le_bytes(bytes[16..20].try_into().unwrap_or_default());
    let payload = &bytes[HEADER_LEN..];
    if payload.len() != len {
        return Err(Error::corrupt(
            path,
            8,
            "snapshot length does not match the file",
        ));
    }
    if crc32fast::hash(payload) != crc {
        return Err(Error::corrupt(
            path,
            HEADER_LEN as u64,
            "snapshot checksum mismatch",
        ));
    }
    let raw = lz4_flex::decompress_size_prepended(payload)
        .map_err(|e| Error::corrupt(path, HEADER_LEN as u64, format!("lz4: {e}")))?;
    let mut aligned = AlignedVec::<16>::with_capacity(raw.len());
    aligned.extend_from_slice(&raw);
    rkyv::from_bytes::<Snapshot, rancor::Error>(&aligned)
        .map_err(|e| Error::corrupt(path, HEADER_LEN as u64, format!("snapshot: {e}")))
}

/// fsyncs a folder so a rename or new file in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}
