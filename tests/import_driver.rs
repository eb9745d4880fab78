//! The import driver's rules, against a small in-memory target standing in
//! for the store: counts, progress, stop or skip on bad and existing runs,
//! experiment names resolved for JSON Lines.

mod common;

use common::files::copy_tree;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use runstore::import::{ImportOptions, ImportTarget, SourceKind, import_into};
use runstore::{Error, Experiment, LifecycleStage, Result, RunRecord};

#[derive(Default)]
struct Memory {
    experiments: RefCell<BTreeMap<String, Experiment>>,
    runs: RefCell<BTreeMap<String, RunRecord>>,
    artifacts: RefCell<Vec<(String, String, usize)>>,
}

impl ImportTarget for Memory {
    fn get_experiment(&self, id: &str) -> Result<Experiment> {
        let found = self.experiments.borrow().get(id).cloned();
        found.ok_or_else(|| Error::not_found(format!("no experiment {id}")))
    }

    fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        let existing = self
            .experiments
            .borrow()
            .values()
            .find(|e| e.name == name)
            .cloned();
        match existing {
            Some(e) => Ok(e.experiment_id),
            None => self.create_experiment(name, None, &[]),
        }
    }

    fn create_experiment(
        &self,
        name: &str,
        location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String> {
        let id = format!("new{}", self.experiments.borrow().len());
        self.import_experiment(&Experiment {
            experiment_id: id.clone(),
            name: name.into(),
            artifact_location: location.map_or(format!("mem://{id}"), str::to_string),
            lifecycle_stage: LifecycleStage::Active,
            creation_time: None,
            last_update_time: None,
            tags: tags.iter().cloned().collect(),
        })?;
        Ok(id)
    }

    fn import_experiment(&self, e: &Experiment) -> Result<()> {
        self.experiments
            .borrow_mut()
            .insert(e.experiment_id.clone(), e.clone());
        Ok(())
    }

    fn has_run(&self, run_id: &str) -> Result<bool> {
        Ok(self.runs.borrow().contains_key(run_id))
    }

    fn import_run(&self, run: &RunRecord) -> Result<()> {
        self.runs
            .borrow_mut()
            .insert(run.info.run_id.clone(), run.clone());
        Ok(())
    }

    fn log_artifact(&self, run_id: &str, path: &str, bytes: &[u8]) -> Result<()> {
        self.artifacts
            .borrow_mut()
            .push((run_id.into(), path.into(), bytes.len()));
        Ok(())
    }
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fixtures")
        .join(path)
}

fn run_import(
    target: &Memory,
    source: &Path,
    kind: SourceKind,
    opts: &ImportOptions,
) -> Result<(runstore::import::ImportSummary, Vec<u64>)> {
    let seen = RefCell::new(Vec::new());
    let summary = import_into(target, source, kind, opts, &|n| seen.borrow_mut().push(n))?;
    Ok((summary, seen.into_inner()))
}

#[test]
fn a_file_store_import_counts_what_it_wrote() {
    let memory = Memory::default();
    let opts = ImportOptions::default();
    let (summary, progress) = run_import(
        &memory,
        &fixture("feature/mlruns"),
        SourceKind::MlflowDir,
        &opts,
    )
    .unwrap();

    assert_eq!(
        (summary.experiments, summary.runs, summary.points),
        (3, 6, 25)
    );
    assert_eq!(summary.artifacts, 2);
    assert!(summary.skipped.is_empty());
    assert_eq!(progress, vec![1, 2, 3, 4, 5, 6]);
    let artifacts = memory.artifacts.borrow();
    assert!(artifacts.contains(&(
        "452ce97a8adc4a14b735db0a686e04cd".into(),
        "notes/hello.txt".into(),
        15
    )));
}

#[test]
fn a_sqlite_import_finds_artifacts_next_to_the_database() {
    let memory = Memory::default();
    let opts = ImportOptions::default();
    let (summary, _) = run_import(
        &memory,
        &fixture("feature/mlflow.db"),
        SourceKind::MlflowSqlite,
        &opts,
    )
    .unwrap();
    assert_eq!(
        (summary.experiments, summary.runs, summary.points),
        (3, 6, 25)
    );
    assert_eq!(summary.artifacts, 2);
    assert_eq!(
        memory.experiments.borrow()["2"].lifecycle_stage,
        LifecycleStage::Deleted
    );
}

#[test]
fn existing_runs_are_an_error_unless_skipped() {
    let memory = Memory::default();
    let source = fixture("feature/mlruns");
    let opts = ImportOptions::default();
    run_import(&memory, &source, SourceKind::MlflowDir, &opts).unwrap();

    let err = run_import(&memory, &source, SourceKind::MlflowDir, &opts).unwrap_err();
    assert!(matches!(err, Error::ResourceAlreadyExists(_)), "{err:?}");

    let opts = ImportOptions {
        skip_existing: true,
        ..ImportOptions::default()
    };
    let (summary, _) = run_import(&memory, &source, SourceKind::MlflowDir, &opts).unwrap();
    assert_eq!((summary.experiments, summary.runs), (0, 0));
    assert_eq!(summary.skipped.len(), 6);
}

#[test]
fn a_bad_run_stops_the_import_or_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    copy_tree(&fixture("feature/mlruns"), &root);
    let bad_run = "452ce97a8adc4a14b735db0a686e04cd";
    let loss = root
        .join("652311652605842708")
        .join(bad_run)
        .join("metrics/loss");
    fs::write(&loss, "1 0.5 0\n2 half 1\n").unwrap();

    let memory = Memory::default();
    let err = run_import(
        &memory,
        &root,
        SourceKind::MlflowDir,
        &ImportOptions::default(),
    );
    assert!(
        matches!(err, Err(Error::BadInput { ref path, .. }) if *path == loss),
        "{err:?}"
    );
    assert!(!memory.runs.borrow().contains_key(bad_run));

    let memory = Memory::default();
    let opts = ImportOptions {
        skip_bad: true,
        ..ImportOptions::default()
    };
    let (summary, _) = run_import(&memory, &root, SourceKind::MlflowDir, &opts).unwrap();
    assert_eq!(summary.runs, 5);
    assert_eq!(summary.skipped.len(), 1);
    let (what, why) = &summary.skipped[0];
    assert!(what.ends_with(bad_run), "{what}");
    assert!(why.contains("line 2: bad value 'half'"), "{why}");
    assert!(!memory.runs.borrow().contains_key(bad_run));
}

#[test]
fn json_lines_resolve_experiments_by_name_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.jsonl");
    let lines = [
        r#"{"kind":"experiment","name":"retention","artifact_location":"s3://r","tags":{"t":"1"}}"#,
        r#"{"experiment":"retention","run_id":"a1","start_time":1,"end_time":2}"#,
        r#"{"experiment":"fresh","run_id":"b2","start_time":1}"#,
        r#"{"experiment_id":"404","run_id":"c3","start_time":1}"#,
        r#"{"experiment_id":"new0","run_id":"d4","start_time":1,"bogus":1}"#,
    ];
    fs::write(&path, lines.join("\n")).unwrap();

    let memory = Memory::default();
    let err = run_import(
        &memory,
        &path,
        SourceKind::JsonLines,
        &ImportOptions::default(),
    );
    assert!(
        matches!(err, Err(Error::ResourceDoesNotExist(_))),
        "{err:?}"
    );

    let memory = Memory::default();
    let opts = ImportOptions {
        skip_bad: true,
        ..ImportOptions::default()
    };
    let (summary, _) = run_import(&memory, &path, SourceKind::JsonLines, &opts).unwrap();
    assert_eq!(summary.runs, 2);
    let skipped: Vec<&str> = summary.skipped.iter().map(|(w, _)| w.as_str()).collect();
    assert!(skipped[0].ends_with("runs.jsonl:4"), "{skipped:?}");
    assert!(
        summary.skipped[1]
            .1
            .contains("line 5: unknown field `bogus`"),
        "{skipped:?}"
    );

    let runs = memory.runs.borrow();
    assert_eq!(runs["a1"].info.experiment_id, "new0");
    assert_eq!(runs["a1"].info.artifact_uri, "s3://r/a1/artifacts");
    assert_eq!(runs["b2"].info.experiment_id, "new1");
    assert_eq!(memory.experiments.borrow()["new1"].name, "fresh");
}

#[test]
fn an_experiment_id_taken_by_another_name_is_refused() {
    let memory = Memory::default();
    memory.create_experiment("someone else", None, &[]).unwrap();
    memory.experiments.borrow_mut().insert(
        "0".into(),
        Experiment {
            experiment_id: "0".into(),
            name: "not Default".into(),
            artifact_location: String::new(),
            lifecycle_stage: LifecycleStage::Active,
            creation_time: None,
            last_update_time: None,
            tags: BTreeMap::new(),
        },
    );
    let err = run_import(
        &memory,
        &fixture("feature/mlruns"),
        SourceKind::MlflowDir,
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::ResourceAlreadyExists(_)), "{err:?}");
}
