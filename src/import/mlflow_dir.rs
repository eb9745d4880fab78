//! Reader of an MLflow file store (`mlruns/`), one experiment and one run at
//! a time, so that a store of any size is read in bounded memory.
//!
//! Layout and quirks follow MLflow 3's `FileStore`: experiment and run
//! `meta.yaml`, one file per param and tag (keys with `/` are sub-folders),
//! one text line per metric point, dataset inputs as edges into the
//! experiment's `datasets/`, deleted experiments moved under `.trash/`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::yaml::{self, Yaml};
use super::{ArtifactFile, SourceRun};
use crate::error::{Error, Result};
use crate::model::{
    Dataset, DatasetInput, Experiment, InputTag, LifecycleStage, MetricPoint, RunInfo, RunRecord,
    RunStatus,
};

/// Folder names inside an experiment that hold no run.
const RESERVED_IN_EXPERIMENT: [&str; 4] = ["tags", "datasets", "traces", "models"];

/// Folder names at the root that are no experiment.
const RESERVED_AT_ROOT: [&str; 2] = [".trash", "models"];

/// An open `mlruns` folder.
#[derive(Debug, Clone)]
pub struct MlflowDir {
    root: PathBuf,
}

/// An experiment read from its folder, with where its runs live.
#[derive(Debug, Clone)]
pub struct ExperimentDir {
    pub experiment: Experiment,
    pub dir: PathBuf,
    /// Whether the folder sits under `.trash/` (a deleted experiment).
    pub in_trash: bool,
}

impl MlflowDir {
    /// Opens `root`; fails if it is not a folder.
    pub fn open(root: impl AsRef<Path>) -> Result<MlflowDir> {
        let root = root.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(Error::invalid(format!(
                "{} is not an MLflow file store folder",
                root.display()
            )));
        }
        Ok(MlflowDir { root })
    }

    /// Folders of every experiment, live ones first, then those in `.trash/`,
    /// each group sorted by name.
    pub fn experiment_dirs(&self) -> Result<Vec<PathBuf>> {
        let mut dirs = sorted_subdirs(&self.root)?;
        dirs.retain(|d| !RESERVED_AT_ROOT.contains(&file_name(d).as_str()));
        let trash = self.root.join(".trash");
        if trash.is_dir() {
            dirs.extend(sorted_subdirs(&trash)?);
        }
        Ok(dirs)
    }

    /// Reads one experiment folder (its `meta.yaml` and `tags/`).
    pub fn read_experiment(&self, dir: &Path) -> Result<ExperimentDir> {
        let in_trash = dir.parent().is_some_and(|p| p.ends_with(".trash"));
        let meta_path = dir.join("meta.yaml");
        let meta = read_meta(&meta_path)?;

        let experiment_id = required(&meta, "experiment_id", &meta_path)?;
        if experiment_id != file_name(dir) {
            return Err(bad(
                &meta_path,
                "experiment_id differs from the folder name",
            ));
        }
        let lifecycle = match optional(&meta, "lifecycle_stage") {
            Some(s) => LifecycleStage::parse(&s).map_err(|e| bad(&meta_path, e))?,
            None if in_trash => LifecycleStage::Deleted,
            None => LifecycleStage::Active,
        };

        let mut tags = yaml_tags(&meta, "tags", &meta_path)?;
        tags.extend(read_key_files(&dir.join("tags"))?);
        let experiment = Experiment {
            experiment_id,
            name: required(&meta, "name", &meta_path)?,
            artifact_location: optional(&meta, "artifact_location").unwrap_or_default(),
            lifecycle_stage: lifecycle,
            creation_time: optional_int(&meta, "creation_time", &meta_path)?,
            last_update_time: optional_int(&meta, "last_update_time", &meta_path)?,
            tags,
        };
        Ok(ExperimentDir {
            experiment,
            dir: dir.to_path_buf(),
            in_trash,
        })
    }

    /// Folders of the runs of an experiment, sorted by name.
    pub fn run_dirs(&self, experiment: &ExperimentDir) -> Result<Vec<PathBuf>> {
        let mut dirs = sorted_subdirs(&experiment.dir)?;
        dirs.retain(|d| !RESERVED_IN_EXPERIMENT.contains(&file_name(d).as_str()));
        Ok(dirs)
    }

    /// Reads one whole run: meta, params, tags, metric points, inputs, artifacts.
    ///
    /// Runs of a trashed experiment list no artifacts, as in MLflow: their
    /// `artifact_uri` still names the folder the experiment was moved from.
    pub fn read_run(&self, experiment: &ExperimentDir, dir: &Path) -> Result<SourceRun> {
        let info = read_run_info(&dir.join("meta.yaml"), experiment, dir)?;
        let mut record = RunRecord {
            info,
            params: read_key_files(&dir.join("params"))?,
            tags: read_key_files(&dir.join("tags"))?,
            metrics: read_metrics(&dir.join("metrics"))?,
            inputs: read_inputs(&dir.join("inputs"), &experiment.dir.join("datasets"))?,
        };
        super::name_from_tag(&mut record);
        let artifacts = match experiment.in_trash {
            true => Vec::new(),
            false => list_artifacts(&dir.join("artifacts"))?,
        };
        Ok(SourceRun { record, artifacts })
    }
}

fn read_run_info(meta_path: &Path, experiment: &ExperimentDir, dir: &Path) -> Result<RunInfo> {
    let meta = read_meta(meta_path)?;
    let run_id = optional(&meta, "run_id")
        .or_else(|| optional(&meta, "run_uuid"))
        .ok_or_else(|| bad(meta_path, "missing run_id"))?;
    if run_id != file_name(dir) {
        return Err(bad(meta_path, "run_id differs from the folder name"));
    }
    let experiment_id = &experiment.experiment.experiment_id;
    if optional(&meta, "experiment_id").is_some_and(|id| &id != experiment_id) {
        return Err(bad(
            meta_path,
            "experiment_id differs from its experiment's folder",
        ));
    }

    let status = match optional_int(&meta, "status", meta_path)? {
        Some(code) => RunStatus::from_code(code).map_err(|e| bad(meta_path, e))?,
        None => RunStatus::Running,
    };
    let lifecycle_stage = match optional(&meta, "lifecycle_stage") {
        Some(s) => LifecycleStage::parse(&s).map_err(|e| bad(meta_path, e))?,
        None => LifecycleStage::Active,
    };
    Ok(RunInfo {
        run_id,
        experiment_id: experiment.experiment.experiment_id.clone(),
        run_name: optional(&meta, "run_name").unwrap_or_default(),
        user_id: optional(&meta, "user_id").unwrap_or_default(),
        status,
        start_time: optional_int(&meta, "start_time", meta_path)?.unwrap_or(0),
        end_time: optional_int(&meta, "end_time", meta_path)?,
        lifecycle_stage,
        artifact_uri: optional(&meta, "artifact_uri").unwrap_or_default(),
        deleted_time: optional_int(&meta, "deleted_time", meta_path)?,
    })
}

// ---- meta.yaml helpers ----

fn bad(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::bad_input(path, 0, reason.to_string())
}

fn read_meta(path: &Path) -> Result<BTreeMap<String, Yaml>> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::bad_input(path, e.valid_up_to() as u64, "not UTF-8"))?;
    yaml::parse(text).map_err(|e| {
        let offset = line_offset(text, e.line);
        Error::bad_input(path, offset, format!("line {}: {}", e.line, e.reason))
    })
}

/// Byte offset of the start of 1-based `line`.
fn line_offset(text: &str, line: usize) -> u64 {
    text.split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() as u64)
        .sum()
}

fn optional(meta: &BTreeMap<String, Yaml>, key: &str) -> Option<String> {
    meta.get(key).and_then(Yaml::as_str).map(str::to_string)
}

fn required(meta: &BTreeMap<String, Yaml>, key: &str, path: &Path) -> Result<String> {
    optional(meta, key).ok_or_else(|| bad(path, format!("missing {key}")))
}

fn optional_int(meta: &BTreeMap<String, Yaml>, key: &str, path: &Path) -> Result<Option<i64>> {
    match meta.get(key).and_then(Yaml::as_str) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| bad(path, format!("{key} is not an integer: '{s}'"))),
    }
}

/// A nested `key:` mapping of scalars (experiment or input tags).
fn yaml_tags(
    meta: &BTreeMap<String, Yaml>,
    key: &str,
    path: &Path,
) -> Result<BTreeMap<String, String>> {
    match meta.get(key) {
        None | Some(Yaml::Null) | Some(Yaml::List(_)) => Ok(BTreeMap::new()),
        Some(Yaml::Map(map)) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_str().unwrap_or_default().to_string())))
            .collect(),
        Some(Yaml::Scalar(_)) => Err(bad(path, format!("{key} is not a mapping"))),
    }
}

// ---- params, tags, metrics ----

/// Every file under `dir`, recursively, keyed by its `/`-joined relative path.
fn key_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    if dir.is_dir() {
        walk_files(dir, "", &mut out)?;
    }
    Ok(out)
}

fn walk_files(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    for entry in sorted_entries(dir)? {
        let name = entry
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| bad(&entry, "file name is not UTF-8"))?
            .to_string();
        let key = format!("{prefix}{name}");
        // A symlinked folder is not followed: a link loop must not recurse forever.
        let is_dir = fs::symlink_metadata(&entry)
            .map_err(|e| Error::io(&entry, e))?
            .is_dir();
        if is_dir {
            walk_files(&entry, &format!("{key}/"), out)?;
        } else {
            out.push((key, entry));
        }
    }
    Ok(())
}

/// Params or tags: one raw UTF-8 file per key.
fn read_key_files(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    for (key, path) in key_files(dir)? {
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let value = String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to() as u64;
            Error::bad_input(&path, offset, "value is not UTF-8")
        })?;
        values.insert(key, value);
    }
    Ok(values)
}

fn read_metrics(dir: &Path) -> Result<BTreeMap<String, Vec<MetricPoint>>> {
    let mut metrics = BTreeMap::new();
    for (key, path) in key_files(dir)? {
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        metrics.insert(key, parse_metric_file(&bytes, &path)?);
    }
    Ok(metrics)
}

/// Every point of a metric file, in file order (duplicates kept).
pub fn parse_metric_file(bytes: &[u8], path: &Path) -> Result<Vec<MetricPoint>> {
    let mut points = Vec::new();
    let mut offset = 0u64;
    for (index, raw) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        let line_no = index + 1;
        let fail =
            |reason: String| Error::bad_input(path, offset, format!("line {line_no}: {reason}"));
        if !raw.ends_with(b"\n") {
            return Err(fail("truncated line (no newline at end of file)".into()));
        }
        let text = std::str::from_utf8(raw).map_err(|_| fail("not UTF-8".into()))?;
        points.push(parse_metric_line(text.trim_end_matches(['\n', '\r'])).map_err(fail)?);
        offset += raw.len() as u64;
    }
    Ok(points)
}

/// One `ts value [step [dataset_name dataset_digest]]` line.
///
/// The dataset name and digest of a 5-field line have no place in a run
/// record and are dropped, as MLflow's readers do.
pub fn parse_metric_line(line: &str) -> std::result::Result<MetricPoint, String> {
    let fields: Vec<&str> = line.split(' ').collect();
    if !matches!(fields.len(), 2 | 3 | 5) {
        return Err(format!("expected 2, 3 or 5 fields, found {}", fields.len()));
    }
    let timestamp = fields[0]
        .parse()
        .map_err(|_| format!("bad timestamp '{}'", fields[0]))?;
    let value = fields[1]
        .parse::<f64>()
        .map_err(|_| format!("bad value '{}'", fields[1]))?;
    let step = match fields.get(2) {
        Some(s) => s.parse().map_err(|_| format!("bad step '{s}'"))?,
        None => 0,
    };
    Ok(MetricPoint {
        step,
        timestamp,
        value,
    })
}

// ---- dataset inputs ----

/// Dataset inputs: edges under `inputs/<id>/meta.yaml` pointing at
/// `<experiment>/datasets/<source_id>/meta.yaml`, ordered by dataset
/// (name, digest) so the order does not depend on the file system.
fn read_inputs(inputs_dir: &Path, datasets_dir: &Path) -> Result<Vec<DatasetInput>> {
    let mut inputs = Vec::new();
    if !inputs_dir.is_dir() {
        return Ok(inputs);
    }
    for edge_dir in sorted_subdirs(inputs_dir)? {
        let edge_path = edge_dir.join("meta.yaml");
        let edge = read_meta(&edge_path)?;
        if optional(&edge, "source_type").as_deref() != Some("DATASET") {
            continue;
        }
        let source_id = required(&edge, "source_id", &edge_path)?;
        let tags = yaml_tags(&edge, "tags", &edge_path)?
            .into_iter()
            .map(|(key, value)| InputTag { key, value })
            .collect();
        let dataset = read_dataset(&datasets_dir.join(&source_id).join("meta.yaml"))?;
        inputs.push(DatasetInput { dataset, tags });
    }
    inputs.sort_by(|a, b| {
        (&a.dataset.name, &a.dataset.digest).cmp(&(&b.dataset.name, &b.dataset.digest))
    });
    Ok(inputs)
}

fn read_dataset(path: &Path) -> Result<Dataset> {
    let meta = read_meta(path)?;
    Ok(Dataset {
        name: required(&meta, "name", path)?,
        digest: required(&meta, "digest", path)?,
        source_type: optional(&meta, "source_type").unwrap_or_default(),
        source: optional(&meta, "source").unwrap_or_default(),
        schema: optional(&meta, "schema"),
        profile: optional(&meta, "profile"),
    })
}

// ---- artifacts and folders ----

/// Every file under an artifact root, depth first with each folder's
/// entries sorted by name (MLflow's recursive listing order).
pub fn list_artifacts(root: &Path) -> Result<Vec<ArtifactFile>> {
    let mut files = Vec::new();
    for (path, source) in key_files(root)? {
        let size = fs::metadata(&source)
            .map_err(|e| Error::io(&source, e))?
            .len();
        files.push(ArtifactFile { path, source, size });
    }
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        entries.push(entry.map_err(|e| Error::io(dir, e))?.path());
    }
    entries.sort();
    Ok(entries)
}

fn sorted_subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = sorted_entries(dir)?;
    dirs.retain(|p| p.is_dir());
    Ok(dirs)
}
