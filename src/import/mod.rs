//! Import from MLflow (file store, SQLite) and JSON Lines; export to JSON Lines.
//!
//! The readers turn each source into model values one run at a time; the
//! drivers here hand them to the store's public API, so an embedding
//! application could do the same. See `docs/import.md`.

pub mod jsonl;
pub mod mlflow_dir;
pub mod mlflow_sqlite;
pub mod truth;
mod yaml;

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{Experiment, RunRecord};
use crate::store::Store;

pub use jsonl::{JsonLine, JsonlReader, RunLine};
pub use mlflow_dir::MlflowDir;
pub use mlflow_sqlite::{ArtifactRoot, MlflowSqlite};
pub use truth::{diff_json, truth_json};

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
    if let (true, Some(name)) = (
        record.info.run_name.is_empty(),
        record.tags.get("mlflow.runName"),
    ) {
        record.info.run_name = name.clone();
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
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Record a bad run (or line) in `skipped` and go on, instead of stopping.
    pub skip_bad: bool,
    /// Skip a run whose id the store already has, instead of failing.
    pub skip_existing: bool,
    /// Copy artifact files into the store.
    pub copy_artifacts: bool,
    /// Where the artifacts of an SQLite database are (see [`ArtifactRoot`]).
    pub artifact_root: ArtifactRoot,
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
}

/// Imports `source` into `store`; `progress` gets the number of runs read so far.
///
/// By default the first bad run stops the import with its error, and nothing
/// of that run is kept (each run is written by one `import_run`). With
/// `skip_bad` the run is listed in `skipped` instead.
pub fn import(
    store: &Store,
    source: &Path,
    kind: SourceKind,
    opts: &ImportOptions,
    progress: &dyn Fn(u64),
) -> Result<ImportSummary> {
    let mut job = Job {
        store,
        opts,
        progress,
        summary: ImportSummary::default(),
        seen: 0,
    };
    match kind {
        SourceKind::MlflowDir => job.import_dir(source)?,
        SourceKind::MlflowSqlite => job.import_sqlite(source)?,
        SourceKind::JsonLines => job.import_jsonl(source)?,
    }
    Ok(job.summary)
}

/// Writes every experiment, then every run, as JSON Lines; returns the run count.
/// Artifacts are not part of the format.
pub fn export_jsonl(store: &Store, out: &mut dyn Write) -> Result<u64> {
    let io = |e| Error::io("<export output>", e);
    for experiment in store.list_experiments()? {
        jsonl::write_experiment(out, &experiment).map_err(io)?;
    }
    let mut runs = 0;
    for run_id in store.run_ids()? {
        jsonl::write_run(out, &store.run_record(&run_id)?).map_err(io)?;
        runs += 1;
    }
    Ok(runs)
}

/// State of one import.
struct Job<'a> {
    store: &'a Store,
    opts: &'a ImportOptions,
    progress: &'a dyn Fn(u64),
    summary: ImportSummary,
    seen: u64,
}

impl Job<'_> {
    fn import_dir(&mut self, root: &Path) -> Result<()> {
        let dir = MlflowDir::open(root)?;
        for exp_dir in dir.experiment_dirs()? {
            let experiment = match dir.read_experiment(&exp_dir) {
                Ok(e) => e,
                Err(e) => {
                    self.bad(exp_dir.display().to_string(), e)?;
                    continue;
                }
            };
            self.experiment(&experiment.experiment)?;
            for run_dir in dir.run_dirs(&experiment)? {
                let run = dir.read_run(&experiment, &run_dir);
                self.run(run_dir.display().to_string(), run)?;
            }
        }
        Ok(())
    }

    fn import_sqlite(&mut self, path: &Path) -> Result<()> {
        let db = MlflowSqlite::open(path, self.opts.artifact_root.clone())?;
        for experiment in db.experiments()? {
            self.experiment(&experiment)?;
        }
        for run_id in db.run_ids()? {
            let run = db.read_run(&run_id);
            self.run(run_id, run)?;
        }
        Ok(())
    }

    fn import_jsonl(&mut self, path: &Path) -> Result<()> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        for item in JsonlReader::new(BufReader::new(file), path) {
            let (line_no, line) = match item {
                Ok(parsed) => parsed,
                Err(e) => {
                    self.bad(path.display().to_string(), e)?;
                    continue;
                }
            };
            let what = format!("{}:{line_no}", path.display());
            match line {
                JsonLine::Experiment(line) => match line.experiment_id.clone() {
                    Some(id) => self.experiment(&line.into_experiment(id))?,
                    None => {
                        let tags: Vec<(String, String)> = line.tags.into_iter().collect();
                        let location = line.artifact_location.as_deref();
                        self.store.create_experiment(&line.name, location, &tags)?;
                        self.summary.experiments += 1;
                    }
                },
                JsonLine::Run(run) => {
                    let record = run.complete(|r| self.lookup(r));
                    let run = record.map(|record| SourceRun {
                        record,
                        artifacts: Vec::new(),
                    });
                    self.run(what, run)?;
                }
            }
        }
        Ok(())
    }

    /// The experiment a JSON Lines run names; a new name is created.
    fn lookup(&self, reference: &jsonl::ExperimentRef) -> Result<Experiment> {
        match reference {
            jsonl::ExperimentRef::Id(id) => self.store.get_experiment(id),
            jsonl::ExperimentRef::Name(name) => {
                let id = self.store.get_or_create_experiment(name)?;
                self.store.get_experiment(&id)
            }
        }
    }

    /// Writes an experiment unless the store has it already under that name.
    fn experiment(&mut self, experiment: &Experiment) -> Result<()> {
        match self.store.get_experiment(&experiment.experiment_id) {
            Ok(existing) if existing.name == experiment.name => Ok(()),
            Ok(existing) => Err(Error::ResourceAlreadyExists(format!(
                "experiment id {} is already used by '{}'",
                experiment.experiment_id, existing.name
            ))),
            Err(Error::ResourceDoesNotExist(_)) => {
                self.store.import_experiment(experiment)?;
                self.summary.experiments += 1;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Writes one run read from `what`, or records why not.
    fn run(&mut self, what: String, run: Result<SourceRun>) -> Result<()> {
        self.seen += 1;
        (self.progress)(self.seen);
        let run = match run {
            Ok(run) => run,
            Err(e) => return self.bad(what, e),
        };

        let run_id = &run.record.info.run_id;
        match self.store.get_run(run_id) {
            Err(Error::ResourceDoesNotExist(_)) => {}
            Err(e) => return Err(e),
            Ok(_) if self.opts.skip_existing => {
                self.summary
                    .skipped
                    .push((what, format!("run {run_id} exists")));
                return Ok(());
            }
            Ok(_) => {
                return Err(Error::ResourceAlreadyExists(format!(
                    "run {run_id} already exists in the store"
                )));
            }
        }

        self.store.import_run(&run.record)?;
        self.summary.runs += 1;
        self.summary.points += run
            .record
            .metrics
            .values()
            .map(|p| p.len() as u64)
            .sum::<u64>();
        if self.opts.copy_artifacts {
            for artifact in &run.artifacts {
                let bytes =
                    std::fs::read(&artifact.source).map_err(|e| Error::io(&artifact.source, e))?;
                self.store.log_artifact(run_id, &artifact.path, &bytes)?;
                self.summary.artifacts += 1;
            }
        }
        Ok(())
    }

    /// Stops on a bad item, or records it when `skip_bad` is set.
    fn bad(&mut self, what: String, error: Error) -> Result<()> {
        match self.opts.skip_bad {
            true => {
                self.summary.skipped.push((what, error.to_string()));
                Ok(())
            }
            false => Err(error),
        }
    }
}

/// Fuzzing entry: any bytes as one JSON Lines line must parse or fail
/// cleanly, and a run that parses must survive write + read unchanged.
/// Returns `Err` only when that round trip breaks.
pub fn fuzz_jsonl_line(data: &[u8]) -> std::result::Result<(), String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let Ok(Some(JsonLine::Run(line))) = jsonl::parse_line(text) else {
        return Ok(());
    };
    let experiment = fuzz_experiment();
    let Ok(first) = line.complete(|_| Ok(experiment.clone())) else {
        return Ok(());
    };
    let written = run_line_text(&first)?;
    let again = match jsonl::parse_line(&written) {
        Ok(Some(JsonLine::Run(line))) => line
            .complete(|_| Ok(experiment.clone()))
            .map_err(|e| e.to_string())?,
        other => return Err(format!("written line did not read back: {other:?}")),
    };
    match run_line_text(&again)? == written {
        true => Ok(()),
        false => Err(format!("round trip changed the run: {written}")),
    }
}

fn fuzz_experiment() -> Experiment {
    Experiment {
        experiment_id: "1".into(),
        name: "fuzz".into(),
        artifact_location: "/tmp/fuzz".into(),
        lifecycle_stage: crate::model::LifecycleStage::Active,
        creation_time: None,
        last_update_time: None,
        tags: Default::default(),
    }
}

fn run_line_text(run: &RunRecord) -> std::result::Result<String, String> {
    let mut out = Vec::new();
    jsonl::write_run(&mut out, run).map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// Fuzzing entry: any bytes as a metric file must parse or fail cleanly,
/// and parsed points written back as lines must parse to the same points.
pub fn fuzz_metric_line(data: &[u8]) -> std::result::Result<(), String> {
    let Ok(points) = mlflow_dir::parse_metric_file(data, Path::new("<fuzz>")) else {
        return Ok(());
    };
    for p in points {
        let line = format!("{} {:?} {}", p.timestamp, p.value, p.step);
        let back = mlflow_dir::parse_metric_line(&line)?;
        let same_value =
            back.value.to_bits() == p.value.to_bits() || (back.value.is_nan() && p.value.is_nan());
        if back.step != p.step || back.timestamp != p.timestamp || !same_value {
            return Err(format!("'{line}' read back as {back:?}, not {p:?}"));
        }
    }
    Ok(())
}
