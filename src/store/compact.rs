//! Compaction and purge: rewriting the log as the store's current state.
//!
//! The log is append-only, so superseded records (an old tag value, a
//! deleted tag, a status that changed) and everything about deleted runs
//! stay in it. Compaction writes a new log holding just the current state —
//! one record per experiment, runs in batches with their whole histories —
//! and swaps it in. Purge (MLflow calls it `gc`) is a compaction that leaves
//! out soft-deleted runs and deleted experiments with their runs, and
//! removes their artifacts: afterwards no byte of their values is in any
//! file of the store, log segments, catalog, snapshot and series included.
//!
//! Both need the store to themselves: every open handle holds a shared lock
//! on `locks/open`, and a rewrite takes it exclusively.
//!
//! Steps, and what a crash between them leaves:
//! 1. write the new log under `log.new/` and fsync it — crash: `log.new` is
//!    garbage, removed on the next open;
//! 2. write the marker `REWRITE` (under a temporary name, fsynced, renamed
//!    into place, so it exists whole or not at all) — from here the rewrite
//!    is decided;
//! 3. remove the derived files (catalog, snapshots, series files), which
//!    hold old values too;
//! 4. rename `log` to `log.old` and `log.new` to `log`;
//! 5. remove `log.old` and the purged runs' artifacts; remove the marker.
//!
//! An open that finds the marker finishes steps 3–5 first (`recover`), then
//! rebuilds the derived state from the new log.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::Path;

use super::open::sync_dir;
use super::record::{Entry, ExperimentRec, Op, RunRec};
use super::{Options, Store, failpoint, open, streams};
use crate::error::{Error, Result};
use crate::fsio;
use crate::log::StreamWriter;
use crate::model::{LifecycleStage, now_ms};

const MARKER: &str = "REWRITE";
/// The marker while it is written.
const MARKER_TMP: &str = "REWRITE.tmp";
/// Runs per record in the rewritten log.
const RUNS_PER_RECORD: usize = 256;

/// What a compaction or purge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    pub experiments_removed: u64,
    pub runs_removed: u64,
    pub log_bytes_before: u64,
    pub log_bytes_after: u64,
}

impl Store {
    /// Rewrites the log as the current state, dropping superseded records.
    /// Consumes the handle and returns a fresh one. Fails if any other
    /// handle (in any process) has the store open.
    pub fn compact(self) -> Result<(Store, CompactReport)> {
        self.rewrite(false)
    }

    /// Removes soft-deleted runs, and deleted experiments with all their
    /// runs, from every file of the store, artifacts included (MLflow's
    /// `gc`). Consumes the handle and returns a fresh one. Fails if any
    /// other handle has the store open.
    pub fn purge(self) -> Result<(Store, CompactReport)> {
        self.rewrite(true)
    }

    fn rewrite(self, purge: bool) -> Result<(Store, CompactReport)> {
        if self.writer.is_none() {
            return Err(Error::InvalidState("the store is open read-only".into()));
        }
        self.refresh()?;
        let root = self.root.clone();
        let options = self.options.clone();
        let plan = Plan::of(&self, purge)?;
        drop(self);

        let exclusive = streams::try_exclusive_open(&root)?.ok_or_else(|| {
            Error::InvalidState(format!(
                "{} is open elsewhere; compact and purge need the store to themselves",
                root.display()
            ))
        })?;
        let mut report = plan.report.clone();
        report.log_bytes_before = open::folder_size(&streams::log_dir(&root));
        plan.write_new_log(&root, &options)?;
        failpoint::hit("rewrite:new-log-written");
        decide(&root, &plan.removed_runs)?;
        failpoint::hit("rewrite:decided");
        recover(&root)?;
        report.log_bytes_after = open::folder_size(&streams::log_dir(&root));
        drop(exclusive);

        let store = Store::open(&root, options)?;
        store.checkpoint()?;
        Ok((store, report))
    }
}

/// The records of the new log, and what is left out.
struct Plan {
    records: Vec<Op>,
    removed_runs: Vec<String>,
    report: CompactReport,
}

impl Plan {
    fn of(store: &Store, purge: bool) -> Result<Plan> {
        let state = store.read();
        let table = &state.table;
        let mut records = Vec::new();
        let mut report = CompactReport::default();
        let mut gone_experiments = HashSet::new();
        for row in table.experiments() {
            let e = &row.experiment;
            if purge && e.lifecycle_stage == LifecycleStage::Deleted {
                gone_experiments.insert(e.experiment_id.clone());
                report.experiments_removed += 1;
                continue;
            }
            records.push(Op::PutExperiment(ExperimentRec::from(e)));
        }

        let mut removed_runs = Vec::new();
        let mut batch = Vec::new();
        for ord in 0..table.len() as u32 {
            let info = table.info(ord);
            let deleted = info.lifecycle_stage == LifecycleStage::Deleted;
            if purge && (deleted || gone_experiments.contains(&info.experiment_id)) {
                removed_runs.push(info.run_id);
                continue;
            }
            batch.push(RunRec::from_record(&state.run_record(ord)?));
            if batch.len() == RUNS_PER_RECORD {
                records.push(put_runs(std::mem::take(&mut batch)));
            }
        }
        if !batch.is_empty() {
            records.push(put_runs(batch));
        }
        report.runs_removed = removed_runs.len() as u64;
        Ok(Plan {
            records,
            removed_runs,
            report,
        })
    }

    /// Writes the records as stream 1 under `log.new/`, durably.
    fn write_new_log(&self, root: &Path, options: &Options) -> Result<()> {
        let new_log = root.join("log.new");
        if new_log.exists() {
            fsio::remove_dir_all(&new_log).map_err(|e| Error::io(&new_log, e))?;
        }
        let dir = crate::log::stream_dir(&new_log, 1);
        let (mut writer, _) = StreamWriter::open(&dir, 1, options.segment_size)?;
        let hlc = super::commit::next_hlc(0, 1);
        for op in &self.records {
            let entry = Entry {
                hlc,
                op: op.clone(),
            };
            let payload = super::record::encode(&entry)?;
            writer.append(op.type_code(), &payload)?;
        }
        writer.sync()?;
        sync_dir(&new_log)?;
        sync_dir(root)
    }
}

fn put_runs(runs: Vec<RunRec>) -> Op {
    Op::PutRuns {
        runs,
        keep_duplicates: true,
    }
}

/// Writes the marker that commits the rewrite. It lists the runs whose
/// artifacts go, so a crash cannot leave them behind. Its presence decides
/// the rewrite, so it appears by rename, whole: a marker cut short by a
/// crash or a failed write would decide a rewrite whose list of artifacts
/// cannot be read, and no open could finish it.
fn decide(root: &Path, removed_runs: &[String]) -> Result<()> {
    let marker = root.join(MARKER);
    let tmp = root.join(MARKER_TMP);
    let text = serde_json::json!({ "time": now_ms(), "remove_artifacts": removed_runs });
    let mut file = fsio::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(text.to_string().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    fsio::rename(&tmp, &marker).map_err(|e| Error::io(&marker, e))?;
    sync_dir(root)
}

/// Removes the new log (and a half-written marker) of a rewrite that died
/// before deciding.
pub(super) fn drop_undecided(root: &Path) -> Result<()> {
    if root.join(MARKER).exists() {
        return Ok(());
    }
    let new_log = root.join("log.new");
    if new_log.exists() {
        fsio::remove_dir_all(&new_log).map_err(|e| Error::io(&new_log, e))?;
    }
    let tmp = root.join(MARKER_TMP);
    if tmp.exists() {
        fsio::remove_file(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    Ok(())
}

/// Finishes a decided rewrite (or drops an undecided one's leftovers).
/// Called by a writable open that finds the marker (holding the store to
/// itself), and by the rewrite itself.
pub(super) fn recover(root: &Path) -> Result<()> {
    let marker = root.join(MARKER);
    let new_log = root.join("log.new");
    if !marker.exists() {
        return drop_undecided(root);
    }
    tracing::info!(store = %root.display(), "finishing a log rewrite");
    remove_derived(root)?;
    failpoint::hit("rewrite:derived-removed");
    let log = streams::log_dir(root);
    let old_log = root.join("log.old");
    if new_log.exists() {
        if log.exists() && !old_log.exists() {
            fsio::rename(&log, &old_log).map_err(|e| Error::io(&log, e))?;
        }
        failpoint::hit("rewrite:old-log-moved");
        fsio::rename(&new_log, &log).map_err(|e| Error::io(&new_log, e))?;
        sync_dir(root)?;
    }
    failpoint::hit("rewrite:logs-swapped");
    if old_log.exists() {
        fsio::remove_dir_all(&old_log).map_err(|e| Error::io(&old_log, e))?;
    }
    remove_artifacts(root, &marker)?;
    fsio::remove_file(&marker).map_err(|e| Error::io(&marker, e))?;
    sync_dir(root)
}

/// Removes the artifact folders of the runs the marker lists.
fn remove_artifacts(root: &Path, marker: &Path) -> Result<()> {
    let text = fs::read_to_string(marker).map_err(|e| Error::io(marker, e))?;
    let listed: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::corrupt(marker, 0, format!("rewrite marker: {e}")))?;
    let runs = listed["remove_artifacts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for run_id in runs.iter().filter_map(|v| v.as_str()) {
        let dir = root.join("artifacts").join(run_id);
        let inside = !run_id.is_empty() && !run_id.contains(['/', '\\', '.']);
        if inside && dir.exists() {
            fsio::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
    }
    Ok(())
}

/// Removes the catalog and checkpoint files: derived state that may hold
/// values the rewrite removed. The next open rebuilds them from the log.
fn remove_derived(root: &Path) -> Result<()> {
    let catalog = open::catalog_path(root);
    if catalog.exists() {
        fsio::remove_file(&catalog).map_err(|e| Error::io(&catalog, e))?;
    }
    for dir in ["index", "series"] {
        let dir = root.join(dir);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            fsio::remove_file(&entry.path()).map_err(|e| Error::io(entry.path(), e))?;
        }
        sync_dir(&dir)?;
    }
    Ok(())
}
