//! Every fixture store, read by our readers and dumped in the truth-file
//! shape, must equal the truth file MLflow's own client produced.

use std::path::{Path, PathBuf};

use runstore::import::mlflow_sqlite::ArtifactRoot;
use runstore::import::{MlflowDir, MlflowSqlite, SourceKind, detect, diff_json, truth_json};
use serde_json::Value;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fixtures")
        .join(path)
}

fn truth(path: &str) -> Value {
    let text = std::fs::read_to_string(fixture(path)).unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    let object = value.as_object_mut().unwrap();
    object.retain(|k, _| k == "experiments" || k == "runs");
    value
}

fn dump_dir(root: &Path) -> Value {
    let dir = MlflowDir::open(root).unwrap();
    let mut experiments = Vec::new();
    let mut runs = Vec::new();
    for exp_dir in dir.experiment_dirs().unwrap() {
        let exp = dir.read_experiment(&exp_dir).unwrap();
        for run_dir in dir.run_dirs(&exp).unwrap() {
            let run = dir.read_run(&exp, &run_dir).unwrap();
            let sizes = run.artifact_sizes();
            runs.push((run.record, sizes));
        }
        experiments.push(exp.experiment);
    }
    truth_json(&experiments, &runs)
}

fn dump_sqlite(db: &Path) -> Value {
    let db = MlflowSqlite::open(db, ArtifactRoot::default()).unwrap();
    assert_eq!(
        db.alembic_version().unwrap().as_deref(),
        Some("dc11669786a5")
    );
    let runs: Vec<_> = db
        .run_ids()
        .unwrap()
        .iter()
        .map(|id| {
            let run = db.read_run(id).unwrap();
            let sizes = run.artifact_sizes();
            (run.record, sizes)
        })
        .collect();
    truth_json(&db.experiments().unwrap(), &runs)
}

fn assert_same(expected: &Value, actual: &Value) {
    let diffs = diff_json(expected, actual);
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn feature_mlruns_matches_its_truth() {
    assert_same(
        &truth("feature/mlruns.truth.json"),
        &dump_dir(&fixture("feature/mlruns")),
    );
}

#[test]
fn public_mlruns_matches_its_truth() {
    assert_same(
        &truth("public/mlruns.truth.json"),
        &dump_dir(&fixture("public/mlruns")),
    );
}

#[test]
fn feature_sqlite_matches_its_truth() {
    assert_same(
        &truth("feature/mlflow.db.truth.json"),
        &dump_sqlite(&fixture("feature/mlflow.db")),
    );
}

#[test]
fn public_sqlite_matches_its_truth() {
    assert_same(
        &truth("public/mlflow.db.truth.json"),
        &dump_sqlite(&fixture("public/mlflow.db")),
    );
}

#[test]
fn file_store_keeps_infinity_and_sqlite_keeps_its_clamped_max() {
    let dir = dump_dir(&fixture("feature/mlruns"));
    let db = dump_sqlite(&fixture("feature/mlflow.db"));
    let weird = |v: &Value| -> Vec<Value> {
        let runs = v["runs"].as_array().unwrap();
        let run = runs
            .iter()
            .find(|r| r["info"]["run_name"] == "baseline")
            .unwrap();
        run["metric_history"]["weird"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].clone())
            .collect()
    };
    assert_eq!(
        weird(&dir),
        vec![Value::from("NaN"), Value::from("Infinity")]
    );
    assert_eq!(weird(&db), vec![Value::from("NaN"), Value::from(f64::MAX)]);
}

#[test]
fn an_explicit_artifact_root_maps_recorded_uris() {
    let root = ArtifactRoot {
        original: Some("/srv/mlflow-fixtures/feature/db_artifacts".into()),
        local: Some(fixture("feature/db_artifacts")),
    };
    let db = MlflowSqlite::open(fixture("feature/mlflow.db"), root).unwrap();
    let run = db.read_run("8861799b228a4081841911033134e59b").unwrap();
    let expected = vec![
        ("config.json".to_string(), 36),
        ("notes/hello.txt".to_string(), 15),
    ];
    assert_eq!(run.artifact_sizes(), expected);
    assert!(run.artifacts[0].source.is_file());
}

#[test]
fn detect_tells_the_three_kinds_apart() {
    assert_eq!(
        detect(&fixture("public/mlruns")).unwrap(),
        SourceKind::MlflowDir
    );
    assert_eq!(
        detect(&fixture("public/mlflow.db")).unwrap(),
        SourceKind::MlflowSqlite
    );
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("runs.jsonl");
    std::fs::write(&jsonl, "{}\n").unwrap();
    assert_eq!(detect(&jsonl).unwrap(), SourceKind::JsonLines);
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "hello").unwrap();
    assert!(detect(&other).is_err());
    assert!(detect(dir.path()).is_err());
}

#[test]
fn legacy_meta_files_read_with_mlflow_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("0");
    let run = exp.join("abc123");
    std::fs::create_dir_all(run.join("metrics")).unwrap();
    std::fs::create_dir_all(run.join("tags")).unwrap();
    std::fs::write(
        exp.join("meta.yaml"),
        "artifact_location: /old/mlruns/0\nexperiment_id: 0\nlifecycle_stage: active\n\
         name: Default\n",
    )
    .unwrap();
    std::fs::write(
        run.join("meta.yaml"),
        "artifact_uri: /old/mlruns/0/abc123/artifacts\nend_time: null\nentry_point_name: ''\n\
         experiment_id: '0'\nname: ''\nrun_uuid: abc123\nsource_type: 4\nstart_time: 5\n\
         tags: []\nuser_id: someone\n",
    )
    .unwrap();
    std::fs::write(run.join("metrics/loss"), "5 0.25\n6 nan 1\n").unwrap();
    std::fs::write(run.join("tags/mlflow.runName"), "old-run").unwrap();

    assert_eq!(detect(dir.path()).unwrap(), SourceKind::MlflowDir);
    let store = MlflowDir::open(dir.path()).unwrap();
    let experiment = store.read_experiment(&exp).unwrap();
    assert_eq!(experiment.experiment.experiment_id, "0");
    assert_eq!(experiment.experiment.creation_time, None);
    let record = store.read_run(&experiment, &run).unwrap().record;
    assert_eq!(record.info.run_id, "abc123");
    assert_eq!(record.info.status, runstore::RunStatus::Running);
    assert_eq!(
        record.info.lifecycle_stage,
        runstore::LifecycleStage::Active
    );
    assert_eq!(record.info.run_name, "old-run");
    assert_eq!(record.info.end_time, None);
    assert!(record.params.is_empty());
    let loss = &record.metrics["loss"];
    assert_eq!(
        (loss[0].step, loss[0].timestamp, loss[0].value),
        (0, 5, 0.25)
    );
    assert!(loss[1].value.is_nan());
}
