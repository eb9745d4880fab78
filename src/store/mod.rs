//! The store: the write path, snapshots for readers, checkpoints.
//!
//! This file is the public contract; the bodies are filled in by the
//! storage-core work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{
    DatasetInput, Experiment, Metric, MetricPoint, NewRun, Param, Run, RunInfo, RunRecord,
    RunStatus, RunTag,
};
use crate::query::{ExperimentPage, ExperimentSearchRequest, SearchPage, SearchRequest};

/// When a commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync before every commit returns.
    SyncEach,
    /// fsync at most every `interval_ms`; callers wait for the fsync that covers them.
    Group { interval_ms: u64 },
    /// Leave flushing to the operating system.
    None,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct Options {
    pub durability: Durability,
    /// Size at which a log segment is sealed and a new one started.
    pub segment_size: u64,
    /// Open without taking the writer lock; every write fails.
    pub read_only: bool,
    /// Create the store if the folder holds none.
    pub create: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::Group { interval_ms: 5 },
            segment_size: 64 << 20,
            read_only: false,
            create: true,
        }
    }
}

/// A file (or folder) of a run's artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactInfo {
    /// Path relative to the run's artifact root, `/`-separated.
    pub path: String,
    pub is_dir: bool,
    /// Size in bytes; `None` for folders.
    pub file_size: Option<u64>,
}

/// An open runstore.
pub struct Store {
    path: PathBuf,
}

fn unfinished() -> Error {
    Error::InvalidState("not implemented yet".into())
}

#[allow(unused_variables)]
impl Store {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Store> {
        let _ = options;
        Ok(Store {
            path: path.as_ref().to_path_buf(),
        })
    }

    /// The folder of the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    // ---- experiments ----

    /// Creates an experiment; returns its id.
    pub fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String> {
        Err(unfinished())
    }

    /// Returns the experiment named `name`, creating it if needed; race-free.
    pub fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        Err(unfinished())
    }

    /// Writes an experiment exactly as given (import): id, times, lifecycle.
    pub fn import_experiment(&self, experiment: &Experiment) -> Result<()> {
        Err(unfinished())
    }

    pub fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        Err(unfinished())
    }

    pub fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        Err(unfinished())
    }

    /// Every experiment, in id order (numeric ids by value).
    pub fn list_experiments(&self) -> Result<Vec<Experiment>> {
        Err(unfinished())
    }

    pub fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        Err(unfinished())
    }

    /// Soft-deletes an experiment and every run in it.
    pub fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        Err(unfinished())
    }

    /// Restores an experiment and every run in it.
    pub fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        Err(unfinished())
    }

    pub fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        Err(unfinished())
    }

    pub fn search_experiments(&self, request: &ExperimentSearchRequest) -> Result<ExperimentPage> {
        Err(unfinished())
    }

    // ---- runs ----

    pub fn create_run(&self, new_run: NewRun) -> Result<RunInfo> {
        Err(unfinished())
    }

    /// Writes a whole run in one record (import): all or nothing.
    pub fn import_run(&self, run: &RunRecord) -> Result<()> {
        Err(unfinished())
    }

    pub fn update_run_info(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        Err(unfinished())
    }

    pub fn delete_run(&self, run_id: &str) -> Result<()> {
        Err(unfinished())
    }

    pub fn restore_run(&self, run_id: &str) -> Result<()> {
        Err(unfinished())
    }

    /// Logs metrics, params and tags in one atomic batch.
    pub fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> Result<()> {
        Err(unfinished())
    }

    pub fn log_metric(&self, run_id: &str, metric: Metric) -> Result<()> {
        self.log_batch(run_id, &[metric], &[], &[])
    }

    pub fn log_param(&self, run_id: &str, param: Param) -> Result<()> {
        self.log_batch(run_id, &[], &[param], &[])
    }

    pub fn set_tag(&self, run_id: &str, tag: RunTag) -> Result<()> {
        self.log_batch(run_id, &[], &[], &[tag])
    }

    pub fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        Err(unfinished())
    }

    pub fn log_inputs(&self, run_id: &str, inputs: &[DatasetInput]) -> Result<()> {
        Err(unfinished())
    }

    pub fn get_run(&self, run_id: &str) -> Result<Run> {
        Err(unfinished())
    }

    /// Every point of one metric, in MLflow's history order.
    pub fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        Err(unfinished())
    }

    /// The whole run with full histories, as export writes it.
    pub fn run_record(&self, run_id: &str) -> Result<RunRecord> {
        Err(unfinished())
    }

    /// Ids of every run (any lifecycle), in creation order.
    pub fn run_ids(&self) -> Result<Vec<String>> {
        Err(unfinished())
    }

    pub fn search_runs(&self, request: &SearchRequest) -> Result<SearchPage> {
        Err(unfinished())
    }

    // ---- artifacts ----

    /// Stores `bytes` as the artifact `path` of a run.
    pub fn log_artifact(&self, run_id: &str, path: &str, bytes: &[u8]) -> Result<()> {
        Err(unfinished())
    }

    /// Immediate children of `dir` ("" for the root), sorted by path.
    pub fn list_artifacts(&self, run_id: &str, dir: &str) -> Result<Vec<ArtifactInfo>> {
        Err(unfinished())
    }

    pub fn read_artifact(&self, run_id: &str, path: &str) -> Result<Vec<u8>> {
        Err(unfinished())
    }

    // ---- maintenance ----

    /// Writes derived state up to the current log position.
    pub fn checkpoint(&self) -> Result<()> {
        Err(unfinished())
    }

    /// Checkpoints and releases the store.
    pub fn close(self) -> Result<()> {
        Err(unfinished())
    }

    /// Reads and verifies every byte of every file.
    pub fn check(&self) -> Result<()> {
        Err(unfinished())
    }
}

#[allow(dead_code)]
type Unused = BTreeMap<(), ()>;
