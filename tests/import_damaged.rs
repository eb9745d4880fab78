//! Damaged copies of the fixtures (made in a temp folder): each gives the
//! documented error naming the file (and line), never a panic, and spoils
//! only the run it belongs to.

mod common;

use common::files::copy_tree;

use std::fs;
use std::path::{Path, PathBuf};

use runstore::Error;
use runstore::import::mlflow_sqlite::ArtifactRoot;
use runstore::import::{MlflowDir, MlflowSqlite};

const EXPERIMENT: &str = "652311652605842708";
const BASELINE: &str = "452ce97a8adc4a14b735db0a686e04cd";

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fixtures")
        .join(path)
}

/// A fresh copy of `feature/mlruns` and the baseline run's folder in it.
fn damaged_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("feature/mlruns"), &dir.path().join("mlruns"));
    let run = dir.path().join("mlruns").join(EXPERIMENT).join(BASELINE);
    (dir, run)
}

/// Reads the baseline run of the copy; also checks every other run still reads.
fn read_baseline(run_dir: &Path) -> Result<(), Error> {
    let root = run_dir.parent().unwrap().parent().unwrap();
    let store = MlflowDir::open(root).unwrap();
    let experiment = store.read_experiment(run_dir.parent().unwrap()).unwrap();
    for other in store.run_dirs(&experiment).unwrap() {
        if other != run_dir {
            store.read_run(&experiment, &other).unwrap();
        }
    }
    store.read_run(&experiment, run_dir).map(|_| ())
}

fn corruption(err: Error) -> (PathBuf, u64, String) {
    match err {
        Error::BadInput {
            path,
            offset,
            reason,
        } => (path, offset, reason),
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

#[test]
fn a_truncated_metric_file_names_file_and_line() {
    let (_dir, run) = damaged_copy();
    let loss = run.join("metrics/loss");
    let bytes = fs::read(&loss).unwrap();
    fs::write(&loss, &bytes[..bytes.len() - 3]).unwrap();

    let (path, offset, reason) = corruption(read_baseline(&run).unwrap_err());
    assert_eq!(path, loss);
    assert!(reason.starts_with("line 5: truncated"), "{reason}");
    let line_5_start: usize = bytes
        .split_inclusive(|b| *b == b'\n')
        .take(4)
        .map(<[u8]>::len)
        .sum();
    assert_eq!(offset, line_5_start as u64);
}

#[test]
fn a_bad_metric_line_names_file_and_line() {
    let (_dir, run) = damaged_copy();
    let acc = run.join("metrics/train/acc");
    let mut text = fs::read_to_string(&acc).unwrap();
    text.insert_str(0, "1796314706610 zero 0\n");
    fs::write(&acc, text).unwrap();

    let (path, offset, reason) = corruption(read_baseline(&run).unwrap_err());
    assert_eq!(path, acc);
    assert_eq!(offset, 0);
    assert_eq!(reason, "line 1: bad value 'zero'");
}

#[test]
fn a_metric_line_with_four_fields_is_rejected() {
    let (_dir, run) = damaged_copy();
    let weird = run.join("metrics/weird");
    fs::write(&weird, "1 2.0 3\n1 2.0 3 extra\n").unwrap();

    let (path, offset, reason) = corruption(read_baseline(&run).unwrap_err());
    assert_eq!(path, weird);
    assert_eq!(offset, 8);
    assert!(
        reason.starts_with("line 2: expected 2, 3 or 5 fields"),
        "{reason}"
    );
}

#[test]
fn a_missing_run_meta_is_an_io_error_naming_it() {
    let (_dir, run) = damaged_copy();
    fs::remove_file(run.join("meta.yaml")).unwrap();

    match read_baseline(&run).unwrap_err() {
        Error::Io { path, source } => {
            assert_eq!(path, run.join("meta.yaml"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn a_broken_run_meta_names_its_line() {
    let (_dir, run) = damaged_copy();
    let meta = run.join("meta.yaml");
    let text = fs::read_to_string(&meta).unwrap();
    fs::write(
        &meta,
        text.replace("run_name: baseline", "run_name: 'baseline"),
    )
    .unwrap();

    let (path, _, reason) = corruption(read_baseline(&run).unwrap_err());
    assert_eq!(path, meta);
    assert!(reason.contains("unclosed single-quoted scalar"), "{reason}");
}

#[test]
fn a_bad_status_code_is_rejected() {
    let (_dir, run) = damaged_copy();
    let meta = run.join("meta.yaml");
    let text = fs::read_to_string(&meta).unwrap();
    fs::write(&meta, text.replace("status: 3", "status: 9")).unwrap();

    let (path, _, reason) = corruption(read_baseline(&run).unwrap_err());
    assert_eq!(path, meta);
    assert!(reason.contains("Invalid run status code 9"), "{reason}");
}

#[test]
fn a_non_utf8_param_value_names_the_file_and_byte() {
    let (_dir, run) = damaged_copy();
    let param = run.join("params/optimizer");
    fs::write(&param, b"ad\xffam").unwrap();

    let (path, offset, reason) = corruption(read_baseline(&run).unwrap_err());
    assert_eq!(path, param);
    assert_eq!(offset, 2);
    assert_eq!(reason, "value is not UTF-8");
}

#[test]
fn a_missing_experiment_meta_fails_only_that_experiment() {
    let (dir, _) = damaged_copy();
    let root = dir.path().join("mlruns");
    fs::remove_file(root.join(EXPERIMENT).join("meta.yaml")).unwrap();

    let store = MlflowDir::open(&root).unwrap();
    let results: Vec<_> = store
        .experiment_dirs()
        .unwrap()
        .iter()
        .map(|d| store.read_experiment(d))
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
    let failed: Vec<_> = results.into_iter().filter_map(Result::err).collect();
    assert!(matches!(&failed[..], [Error::Io { path, .. }] if path.ends_with("meta.yaml")));
}

fn open_db(path: &Path) -> Result<MlflowSqlite, Error> {
    MlflowSqlite::open(path, ArtifactRoot::default())
}

#[test]
fn a_garbage_sqlite_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    fs::write(
        &db,
        b"this is not a database at all, just some text\n".repeat(100),
    )
    .unwrap();

    let (path, _, reason) = corruption(open_db(&db).err().unwrap());
    assert_eq!(path, db);
    assert!(
        reason.contains("cannot read MLflow SQLite database"),
        "{reason}"
    );
}

#[test]
fn a_truncated_sqlite_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    let bytes = fs::read(fixture("feature/mlflow.db")).unwrap();
    fs::write(&db, &bytes[..bytes.len() / 3]).unwrap();

    let outcome = open_db(&db).and_then(|db| {
        db.experiments()?;
        for id in db.run_ids()? {
            db.read_run(&id)?;
        }
        Ok(())
    });
    let (path, _, _) = corruption(outcome.unwrap_err());
    assert_eq!(path, db);
}

#[test]
fn an_empty_or_foreign_sqlite_file_is_not_an_mlflow_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT);")
        .unwrap();
    drop(conn);

    let (path, _, reason) = corruption(open_db(&db).err().unwrap());
    assert_eq!(path, db);
    assert!(
        reason.contains("not an MLflow tracking database"),
        "{reason}"
    );
    assert!(open_db(&dir.path().join("missing.db")).is_err());
}

#[test]
fn an_old_schema_without_dataset_tables_reads_without_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mlflow.db");
    fs::copy(fixture("feature/mlflow.db"), &db).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("DROP TABLE input_tags; DROP TABLE inputs; DROP TABLE alembic_version;")
        .unwrap();
    drop(conn);

    let db = open_db(&db).unwrap();
    assert_eq!(db.alembic_version().unwrap(), None);
    let run = db.read_run("8861799b228a4081841911033134e59b").unwrap();
    assert!(run.record.inputs.is_empty());
    assert_eq!(run.record.params.len(), 4);
}
