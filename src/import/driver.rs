//! The import and export drivers: readers on one side, the store's public
//! API on the other.
//!
//! The drivers talk to the store through [`ImportTarget`], a handful of
//! calls `Store` implements, so that their rules (stop or skip on a bad run,
//! skip or refuse an existing one, resolve experiment names) can be tested
//! against a small in-memory target.

use std::collections::HashSet;
use std::io::{BufReader, Write};
use std::path::Path;

use super::jsonl::{self, ExperimentRef, JsonLine, JsonlReader};
use super::{ImportOptions, ImportSummary, MlflowDir, MlflowSqlite, SourceKind, SourceRun};
use crate::error::{Error, Result};
use crate::model::{Experiment, RunRecord};
use crate::store::Store;

/// What an import needs from a store.
pub trait ImportTarget {
    /// The experiment with this id, or `Error::ResourceDoesNotExist`.
    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment>;
    /// The id of the experiment named `name`, created if needed.
    fn get_or_create_experiment(&self, name: &str) -> Result<String>;
    /// Creates an experiment with a new id.
    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String>;
    /// Writes an experiment exactly as given.
    fn import_experiment(&self, experiment: &Experiment) -> Result<()>;
    /// Whether a run with this id exists (any lifecycle stage).
    fn has_run(&self, run_id: &str) -> Result<bool>;
    /// Writes a whole run, all or nothing.
    fn import_run(&self, run: &RunRecord) -> Result<()>;
    /// Writes whole runs in one commit, all or nothing.
    fn import_runs(&self, runs: &[RunRecord]) -> Result<()> {
        runs.iter().try_for_each(|run| self.import_run(run))
    }
    /// Stores one artifact file of a run.
    fn log_artifact(&self, run_id: &str, path: &str, bytes: &[u8]) -> Result<()>;
    /// Memory held for what was written since the last checkpoint (an
    /// estimate); 0 for a target that holds nothing.
    fn held_since_checkpoint(&self) -> u64 {
        0
    }
    /// Makes what was written durable in derived form and releases the
    /// memory it held.
    fn checkpoint(&self) -> Result<()> {
        Ok(())
    }
}

impl ImportTarget for Store {
    fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        Store::get_experiment(self, experiment_id)
    }

    fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        Store::get_or_create_experiment(self, name)
    }

    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String> {
        Store::create_experiment(self, name, artifact_location, tags)
    }

    fn import_experiment(&self, experiment: &Experiment) -> Result<()> {
        Store::import_experiment(self, experiment)
    }

    fn has_run(&self, run_id: &str) -> Result<bool> {
        match self.get_run(run_id) {
            Ok(_) => Ok(true),
            Err(Error::ResourceDoesNotExist(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn import_run(&self, run: &RunRecord) -> Result<()> {
        Store::import_run(self, run)
    }

    fn import_runs(&self, runs: &[RunRecord]) -> Result<()> {
        Store::import_runs(self, runs)
    }

    fn log_artifact(&self, run_id: &str, path: &str, bytes: &[u8]) -> Result<()> {
        Store::log_artifact(self, run_id, path, bytes)
    }

    fn held_since_checkpoint(&self) -> u64 {
        Store::held_since_checkpoint(self)
    }

    fn checkpoint(&self) -> Result<()> {
        Store::checkpoint(self)
    }
}

/// Imports `source` into `store`; `progress` gets the number of runs read so far.
///
/// By default the first bad run stops the import with its error, and nothing
/// of that run is kept (each run is written by one `import_run`). With
/// `skip_bad` the run is listed in `skipped` instead. A run id the store
/// already has is an error, or skipped with `skip_existing`.
pub fn import(
    store: &Store,
    source: &Path,
    kind: SourceKind,
    opts: &ImportOptions,
    progress: &dyn Fn(u64),
) -> Result<ImportSummary> {
    import_into(store, source, kind, opts, progress)
}

/// [`import`] into any [`ImportTarget`].
pub fn import_into(
    target: &dyn ImportTarget,
    source: &Path,
    kind: SourceKind,
    opts: &ImportOptions,
    progress: &dyn Fn(u64),
) -> Result<ImportSummary> {
    let mut job = Job {
        target,
        opts,
        progress,
        summary: ImportSummary::default(),
        seen: 0,
        pending: Vec::new(),
        pending_ids: HashSet::new(),
        pending_points: 0,
    };
    let outcome = match kind {
        SourceKind::MlflowDir => job.import_dir(source),
        SourceKind::MlflowSqlite => job.import_sqlite(source),
        SourceKind::JsonLines => job.import_jsonl(source),
    };
    // What was read before a failure is kept, as if written one by one.
    job.flush()?;
    outcome?;
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
    target: &'a dyn ImportTarget,
    opts: &'a ImportOptions,
    progress: &'a dyn Fn(u64),
    summary: ImportSummary,
    seen: u64,
    /// Runs read but not yet written: they go to the store in one commit.
    pending: Vec<SourceRun>,
    pending_ids: HashSet<String>,
    pending_points: u64,
}

/// A commit holds at most this many runs, or about this many points.
const BATCH_RUNS: usize = 500;
const BATCH_POINTS: u64 = 500_000;

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
            self.run(format!("{}: run {run_id}", path.display()), run)?;
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
                        // A name the store has already is that experiment (an
                        // import run again after it stopped half way).
                        match self.target.create_experiment(&line.name, location, &tags) {
                            Ok(_) => self.summary.experiments += 1,
                            Err(Error::ResourceAlreadyExists(_)) => {}
                            Err(e) => return Err(e),
                        }
                    }
                },
                JsonLine::Run(run) => {
                    let run = run.complete(|r| self.lookup(r)).map(|record| SourceRun {
                        record,
                        artifacts: Vec::new(),
                    });
                    self.run(what, run)?;
                }
            }
        }
        Ok(())
    }

    /// The experiment a JSON Lines run names; an unknown name is created.
    fn lookup(&self, reference: &ExperimentRef) -> Result<Experiment> {
        match reference {
            ExperimentRef::Id(id) => self.target.get_experiment(id),
            ExperimentRef::Name(name) => {
                let id = self.target.get_or_create_experiment(name)?;
                self.target.get_experiment(&id)
            }
        }
    }

    /// Writes an experiment. One the store has already under the same id and
    /// name takes the source's metadata (times, location, tags): that is how
    /// the store's own `Default` experiment becomes the source's.
    fn experiment(&mut self, experiment: &Experiment) -> Result<()> {
        self.flush()?;
        match self.target.get_experiment(&experiment.experiment_id) {
            Ok(existing) if existing == *experiment => Ok(()),
            Ok(existing) if existing.name == experiment.name => {
                self.target.import_experiment(experiment)
            }
            Ok(existing) => Err(Error::ResourceAlreadyExists(format!(
                "experiment id {} is already used by '{}'",
                experiment.experiment_id, existing.name
            ))),
            Err(Error::ResourceDoesNotExist(_)) => {
                self.target.import_experiment(experiment)?;
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
        if self.pending_ids.contains(run_id) || self.target.has_run(run_id)? {
            if !self.opts.skip_existing {
                let msg = format!("run {run_id} already exists in the store");
                return Err(Error::ResourceAlreadyExists(msg));
            }
            self.summary
                .skipped
                .push((what, format!("run {run_id} already exists")));
            return Ok(());
        }

        let points: u64 = run.record.metrics.values().map(|p| p.len() as u64).sum();
        self.pending_ids.insert(run_id.clone());
        self.pending_points += points;
        self.pending.push(run);
        if self.pending.len() >= BATCH_RUNS || self.pending_points >= BATCH_POINTS {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the pending runs in one commit, then their artifacts.
    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let runs = std::mem::take(&mut self.pending);
        self.pending_ids.clear();
        self.pending_points = 0;
        let records: Vec<RunRecord> = runs.iter().map(|r| r.record.clone()).collect();
        self.target.import_runs(&records)?;
        for run in &runs {
            self.summary.runs += 1;
            self.summary.points += run
                .record
                .metrics
                .values()
                .map(|p| p.len() as u64)
                .sum::<u64>();
            if self.opts.copy_artifacts {
                self.copy_artifacts(run)?;
            }
        }
        if self.target.held_since_checkpoint() >= self.opts.memory_budget {
            self.target.checkpoint()?;
            self.summary.checkpoints += 1;
        }
        Ok(())
    }

    fn copy_artifacts(&mut self, run: &SourceRun) -> Result<()> {
        for artifact in &run.artifacts {
            let bytes =
                std::fs::read(&artifact.source).map_err(|e| Error::io(&artifact.source, e))?;
            self.target
                .log_artifact(&run.record.info.run_id, &artifact.path, &bytes)?;
            self.summary.artifacts += 1;
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
