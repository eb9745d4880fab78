//! The redb catalog: experiments, run ids → ordinals, key dictionaries and
//! the manifest (which checkpoint files are current and which log position
//! of every writer stream they reflect).
//!
//! The catalog is derived state. It is written in one redb transaction at
//! checkpoint, so it is always either the old or the new checkpoint; if it
//! is missing the store rebuilds everything from the log.

use std::collections::BTreeMap;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::error::{Error, Result};
use crate::index::RunTable;
use crate::log::Position;
use crate::model::Experiment;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const POSITIONS: TableDefinition<u64, (u64, u64)> = TableDefinition::new("positions");
const EXPERIMENTS: TableDefinition<&str, &str> = TableDefinition::new("experiments");
const RUN_IDS: TableDefinition<&str, u32> = TableDefinition::new("run_ids");
const PARAM_KEYS: TableDefinition<u32, &str> = TableDefinition::new("param_keys");
const TAG_KEYS: TableDefinition<u32, &str> = TableDefinition::new("tag_keys");
const METRIC_KEYS: TableDefinition<u32, &str> = TableDefinition::new("metric_keys");

/// Version of the catalog's table layout.
const CATALOG_VERSION: u32 = 1;

/// What a checkpoint reflects and where its files are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    /// Number of the checkpoint; file names carry it.
    pub checkpoint: u64,
    /// Largest hybrid-logical-clock value applied.
    pub hlc: u64,
    /// The snapshot file under `index/`, if any.
    pub snapshot: Option<String>,
    /// The sealed series file under `series/`, if any.
    pub series: Option<String>,
    /// For each writer stream, the log position the checkpoint covers.
    pub positions: BTreeMap<u64, Position>,
}

fn db_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::corrupt(path, 0, format!("catalog: {e}"))
}

/// Writes the catalog for a checkpoint in one transaction.
pub fn write(path: &Path, manifest: &Manifest, table: &RunTable) -> Result<()> {
    let db = Database::create(path).map_err(|e| db_err(path, e))?;
    let txn = db.begin_write().map_err(|e| db_err(path, e))?;
    {
        write_meta(&txn, manifest).map_err(|e| db_err(path, e))?;
        write_experiments(&txn, table).map_err(|e| db_err(path, e))?;
        write_runs_and_keys(&txn, table).map_err(|e| db_err(path, e))?;
    }
    txn.commit().map_err(|e| db_err(path, e))?;
    Ok(())
}

fn write_meta(txn: &redb::WriteTransaction, m: &Manifest) -> std::result::Result<(), redb::Error> {
    let mut meta = txn.open_table(META)?;
    meta.insert("version", CATALOG_VERSION.to_le_bytes().as_slice())?;
    meta.insert("checkpoint", m.checkpoint.to_le_bytes().as_slice())?;
    meta.insert("hlc", m.hlc.to_le_bytes().as_slice())?;
    let snapshot = m.snapshot.clone().unwrap_or_default();
    meta.insert("snapshot", snapshot.as_bytes())?;
    let series = m.series.clone().unwrap_or_default();
    meta.insert("series", series.as_bytes())?;

    let mut positions = txn.open_table(POSITIONS)?;
    positions.retain(|_, _| false)?;
    for (stream, p) in &m.positions {
        positions.insert(*stream, (p.segment, p.offset))?;
    }
    Ok(())
}

fn write_experiments(
    txn: &redb::WriteTransaction,
    table: &RunTable,
) -> std::result::Result<(), redb::Error> {
    let mut experiments = txn.open_table(EXPERIMENTS)?;
    experiments.retain(|_, _| false)?;
    for row in table.experiments() {
        let e = &row.experiment;
        let json = serde_json::to_string(e).unwrap_or_default();
        experiments.insert(e.experiment_id.as_str(), json.as_str())?;
    }
    Ok(())
}

fn write_runs_and_keys(
    txn: &redb::WriteTransaction,
    table: &RunTable,
) -> std::result::Result<(), redb::Error> {
    // Run ids live in the checkpoint's run image (sorted, searched in
    // place); a table of them here cost a write per run every checkpoint.
    // Catalogs written before had one: it goes.
    txn.delete_table(RUN_IDS)?;
    for (def, dict) in [
        (PARAM_KEYS, table.param_keys()),
        (TAG_KEYS, table.tag_keys()),
        (METRIC_KEYS, table.metric_keys()),
    ] {
        let mut keys = txn.open_table(def)?;
        keys.retain(|_, _| false)?;
        for (id, key) in dict.iter() {
            keys.insert(id, key)?;
        }
    }
    Ok(())
}

/// Whether an error only says that another process has the catalog open
/// right now (its checkpoint is in progress): worth a retry.
pub fn is_busy(error: &Error) -> bool {
    matches!(error, Error::Corruption { reason, .. } if reason.contains("already open"))
}

/// [`write`], waiting (up to a few seconds) while another process has the
/// catalog open.
pub fn write_waiting(path: &Path, manifest: &Manifest, table: &RunTable) -> Result<()> {
    let mut attempt = 0;
    loop {
        match write(path, manifest, table) {
            Err(e) if is_busy(&e) && attempt < 500 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Reads the manifest; `None` when there is no catalog yet.
pub fn read_manifest(path: &Path) -> Result<Option<Manifest>> {
    if !path.exists() {
        return Ok(None);
    }
    let db = redb::ReadOnlyDatabase::open(path).map_err(|e| db_err(path, e))?;
    let txn = db.begin_read().map_err(|e| db_err(path, e))?;
    let meta = txn.open_table(META).map_err(|e| db_err(path, e))?;
    let get_u64 = |key: &str| -> Result<u64> {
        let value = meta.get(key).map_err(|e| db_err(path, e))?;
        let bytes = value.map(|v| v.value().to_vec()).unwrap_or_default();
        let arr: [u8; 8] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| db_err(path, format!("meta '{key}' is not 8 bytes")))?;
        Ok(u64::from_le_bytes(arr))
    };
    let checkpoint = get_u64("checkpoint")?;
    let hlc = get_u64("hlc")?;
    let text = |key: &str| -> Result<Option<String>> {
        let value = meta.get(key).map_err(|e| db_err(path, e))?;
        Ok(value
            .map(|v| String::from_utf8_lossy(v.value()).into_owned())
            .filter(|s| !s.is_empty()))
    };
    let snapshot = text("snapshot")?;
    let series = text("series")?;

    let positions_table = txn.open_table(POSITIONS).map_err(|e| db_err(path, e))?;
    let mut positions = BTreeMap::new();
    for item in positions_table.iter().map_err(|e| db_err(path, e))? {
        let (k, v) = item.map_err(|e| db_err(path, e))?;
        let (segment, offset) = v.value();
        positions.insert(k.value(), Position { segment, offset });
    }
    Ok(Some(Manifest {
        checkpoint,
        hlc,
        snapshot,
        series,
        positions,
    }))
}

/// Reads the experiments recorded in the catalog.
pub fn read_experiments(path: &Path) -> Result<Vec<Experiment>> {
    let db = redb::ReadOnlyDatabase::open(path).map_err(|e| db_err(path, e))?;
    let txn = db.begin_read().map_err(|e| db_err(path, e))?;
    let table = txn.open_table(EXPERIMENTS).map_err(|e| db_err(path, e))?;
    let mut out = Vec::new();
    for item in table.iter().map_err(|e| db_err(path, e))? {
        let (_, v) = item.map_err(|e| db_err(path, e))?;
        let e: Experiment = serde_json::from_str(v.value()).map_err(|e| db_err(path, e))?;
        out.push(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LifecycleStage, RunInfo, RunStatus};

    #[test]
    fn manifest_and_experiments_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.redb");
        let mut table = RunTable::default();
        table.put_experiment(Experiment {
            experiment_id: "0".into(),
            name: "Default".into(),
            artifact_location: "a".into(),
            lifecycle_stage: LifecycleStage::Active,
            creation_time: Some(1),
            last_update_time: None,
            tags: [("k".to_string(), "v".to_string())].into(),
        });
        table.insert_run(&RunInfo {
            run_id: "r1".into(),
            experiment_id: "0".into(),
            run_name: "n".into(),
            user_id: "u".into(),
            status: RunStatus::Running,
            start_time: 5,
            end_time: None,
            lifecycle_stage: LifecycleStage::Active,
            artifact_uri: "x".into(),
            deleted_time: None,
        });
        let manifest = Manifest {
            checkpoint: 3,
            hlc: 99,
            snapshot: Some("runs-3.img".into()),
            series: Some("series-3.bin".into()),
            positions: [(
                1,
                Position {
                    segment: 2,
                    offset: 77,
                },
            )]
            .into(),
        };
        write(&path, &manifest, &table).unwrap();
        assert_eq!(read_manifest(&path).unwrap(), Some(manifest));
        let exps = read_experiments(&path).unwrap();
        assert_eq!(exps.len(), 1);
        assert_eq!(exps[0].tags["k"], "v");
    }

    #[test]
    fn missing_catalog_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_manifest(&dir.path().join("nope.redb")).unwrap(), None);
    }

    #[test]
    fn garbage_catalog_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.redb");
        std::fs::write(&path, b"not a database at all").unwrap();
        assert!(matches!(
            read_manifest(&path),
            Err(Error::Corruption { .. })
        ));
    }
}
