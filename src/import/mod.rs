//! Import from MLflow (file store, SQLite) and JSON Lines; export to JSON Lines.
//!
//! The readers turn each source into model values one run at a time; the
//! drivers (`driver.rs`) hand them to the store's public API, so an
//! embedding application could do the same. See `docs/import.md`.

mod driver;
mod fuzz;
pub mod jsonl;
pub mod mlflow_dir;
pub mod mlflow_sqlite;
pub mod truth;
mod yaml;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::RunRecord;

pub use driver::{ImportTarget, export_jsonl, import, import_into};
pub use fuzz::{fuzz_jsonl_line, fuzz_metric_line};
pub use jsonl::{JsonLine, JsonlReader, RunLine};
pub use mlflow_dir::MlflowDir;
pub use mlflow_sqlite::{ArtifactRoot, MlflowSqlite};
pub use truth::{diff_json, store_truth_json, truth_json};

/// A run as a reader found it, with the files of its artifacts.
#[derive(Debug, Clone)]
pub struct SourceRun {
    pub record: RunRecord,
    pub artifacts: Vec<ArtifactFile>,
}

impl SourceRun {
    /// `(relative path, size)` of every artifact, in listing order.
    pub fn artifact_sizes(&self) -> Vec<(String, u64)> {
        self.artifacts
            .iter()
            .map(|a| (a.path.clone(), a.size))
            .collect()
    }
}

/// MLflow's rule for a run whose `run_name` is empty: the `mlflow.runName` tag.
fn name_from_tag(record: &mut RunRecord) {
    if record.info.run_name.is_empty() {
        let tag = record.tags.get("mlflow.runName");
        record.info.run_name = tag.cloned().unwrap_or_default();
    }
}

/// One artifact file: where it goes in the run and where it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    /// Path relative to the run's artifact root, `/`-separated.
    pub path: String,
    /// The file to copy from.
    pub source: PathBuf,
    pub size: u64,
}

/// The kinds of source `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    MlflowDir,
    MlflowSqlite,
    JsonLines,
}

/// Guesses the kind of `path`: a folder of experiments is an `mlruns` file
/// store, a file with SQLite's magic header an MLflow database, and a
/// `.jsonl` / `.json` file JSON Lines.
pub fn detect(path: &Path) -> Result<SourceKind> {
    if path.is_dir() {
        let looks_like_mlruns = path.join("0").join("meta.yaml").is_file()
            || MlflowDir::open(path)?
                .experiment_dirs()?
                .iter()
                .any(|d| d.join("meta.yaml").is_file());
        return match looks_like_mlruns {
            true => Ok(SourceKind::MlflowDir),
            false => Err(Error::invalid(format!(
                "{} holds no MLflow experiment folder",
                path.display()
            ))),
        };
    }

    let mut header = [0u8; 16];
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let read = file.read(&mut header).map_err(|e| Error::io(path, e))?;
    if read == 16 && &header == b"SQLite format 3\0" {
        return Ok(SourceKind::MlflowSqlite);
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") | Some("json") => Ok(SourceKind::JsonLines),
        _ => Err(Error::invalid(format!(
            "cannot tell what {} is: not a folder, an SQLite file or .jsonl",
            path.display()
        ))),
    }
}

/// What `import` does with bad, existing and artifact data.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Record a bad run (or line) in `skipped` and go on, instead of stopping.
    pub skip_bad: bool,
    /// Skip a run whose id the store already has, instead of failing.
    pub skip_existing: bool,
    /// Copy artifact files into the store.
    pub copy_artifacts: bool,
    /// Where the artifacts of an SQLite database are (see [`ArtifactRoot`]).
    pub artifact_root: ArtifactRoot,
    /// Checkpoint whenever the memory the store holds for what was written
    /// since its last checkpoint passes this many bytes (the store's own
    /// estimate, [`Store::held_since_checkpoint`](crate::Store::held_since_checkpoint)).
    /// The store keeps everything written since a checkpoint in memory, so
    /// this bounds an import's memory, at the price of a checkpoint (a
    /// rewrite of the store's derived files) each time it is reached.
    pub memory_budget: u64,
}

/// The default [`ImportOptions::memory_budget`]: 2 GiB.
pub const DEFAULT_MEMORY_BUDGET: u64 = 2 << 30;

impl Default for ImportOptions {
    /// Stop at the first bad or existing run; copy artifacts.
    fn default() -> ImportOptions {
        ImportOptions {
            skip_bad: false,
            skip_existing: false,
            copy_artifacts: true,
            artifact_root: ArtifactRoot::default(),
            memory_budget: DEFAULT_MEMORY_BUDGET,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub experiments: u64,
    pub runs: u64,
    pub points: u64,
    pub artifacts: u64,
    /// What was skipped (a path, run id or line) and why.
    pub skipped: Vec<(String, String)>,
    /// Checkpoints taken along the way to keep within
    /// [`ImportOptions::memory_budget`] (the closing one not counted).
    pub checkpoints: u64,
}
