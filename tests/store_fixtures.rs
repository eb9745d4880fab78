//! Each MLflow fixture imported into a fresh store and read back through
//! the store's public API must equal the truth file MLflow's own client
//! produced, field by field; so must an export → import round trip.

use std::path::{Path, PathBuf};

use runstore::import::{self, ImportOptions, diff_json, store_truth_json};
use runstore::{Durability, Options, Store};
use serde_json::Value;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fixtures")
        .join(path)
}

fn truth(path: &str) -> Value {
    let text = std::fs::read_to_string(fixture(path)).unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    value
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k == "experiments" || k == "runs");
    value
}

fn options() -> Options {
    Options {
        durability: Durability::None,
        ..Options::default()
    }
}

fn imported(source: &str) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store"), options()).unwrap();
    let path = fixture(source);
    let kind = import::detect(&path).unwrap();
    import::import(&store, &path, kind, &ImportOptions::default(), &|_| {}).unwrap();
    (dir, store)
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

fn check_fixture(source: &str, truth_file: &str) {
    let (dir, store) = imported(source);
    let expected = truth(truth_file);
    assert_same(&expected, &store_truth_json(&store).unwrap());

    // The same after a checkpoint and a reopen, and after a reopen from the log alone.
    store.close().unwrap();
    let store = Store::open(dir.path().join("store"), options()).unwrap();
    assert_same(&expected, &store_truth_json(&store).unwrap());
    drop(store);
    std::fs::remove_file(dir.path().join("store/catalog.redb")).unwrap();
    let store = Store::open(dir.path().join("store"), options()).unwrap();
    assert_same(&expected, &store_truth_json(&store).unwrap());
}

#[test]
fn feature_mlruns_imports_exactly() {
    check_fixture("feature/mlruns", "feature/mlruns.truth.json");
}

#[test]
fn feature_sqlite_imports_exactly() {
    check_fixture("feature/mlflow.db", "feature/mlflow.db.truth.json");
}

#[test]
fn public_mlruns_imports_exactly() {
    check_fixture("public/mlruns", "public/mlruns.truth.json");
}

#[test]
fn public_sqlite_imports_exactly() {
    check_fixture("public/mlflow.db", "public/mlflow.db.truth.json");
}

#[test]
fn export_then_import_gives_an_equal_store() {
    let (dir, store) = imported("public/mlruns");
    let mut jsonl = Vec::new();
    import::export_jsonl(&store, &mut jsonl).unwrap();
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, &jsonl).unwrap();

    let copy = Store::open(dir.path().join("copy"), options()).unwrap();
    let opts = ImportOptions {
        copy_artifacts: false,
        ..ImportOptions::default()
    };
    import::import(&copy, &file, import::SourceKind::JsonLines, &opts, &|_| {}).unwrap();

    let mut original = store_truth_json(&store).unwrap();
    let mut round_trip = store_truth_json(&copy).unwrap();
    // Artifacts are files, not part of the JSON Lines interchange.
    for doc in [&mut original, &mut round_trip] {
        for run in doc["runs"].as_array_mut().unwrap() {
            run.as_object_mut().unwrap().remove("artifacts");
        }
    }
    assert_same(&original, &round_trip);
}
