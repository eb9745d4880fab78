//! Purge erases deleted runs and experiments from every file of the store;
//! compaction keeps everything; an interrupted rewrite is finished on open.

mod common;

use common::files::copy_tree;

use runstore::{Durability, Metric, NewRun, Options, Param, RunTag, Store};

const MARKER: &str = "zq-erase-me-7Hk2";

fn options() -> Options {
    Options {
        durability: Durability::SyncEach,
        segment_size: 8 << 10,
        ..Options::default()
    }
}

fn run(store: &Store, exp: &str, name: &str) -> String {
    let new = NewRun {
        experiment_id: exp.into(),
        run_name: Some(name.into()),
        ..NewRun::default()
    };
    store.create_run(new).unwrap().run_id
}

/// Every file under `dir` that contains `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// A store with a kept run, a deleted run and a deleted experiment (with a
/// run), the deleted ones carrying the marker; checkpointed midway so the
/// marker is in the log, a snapshot, a series file and the catalog.
fn build(root: &std::path::Path) -> (Store, String, String, String) {
    let store = Store::open(root, options()).unwrap();
    let kept = run(&store, "0", "kept");
    store
        .log_batch(
            &kept,
            &[Metric::new("loss", 0.5, 1, 0)],
            &[Param::new("p", "keep")],
            &[],
        )
        .unwrap();

    let doomed = run(&store, "0", "doomed");
    let secret = format!("{MARKER}-param");
    store
        .log_batch(
            &doomed,
            &[Metric::new("loss", 0.25, 1, 0)],
            &[Param::new("secret", &secret)],
            &[RunTag::new("note", format!("{MARKER}-tag"))],
        )
        .unwrap();
    store
        .log_artifact(
            &doomed,
            "notes/secret.txt",
            format!("{MARKER}-artifact").as_bytes(),
        )
        .unwrap();

    let exp = store
        .create_experiment(&format!("{MARKER}-experiment"), None, &[])
        .unwrap();
    store
        .set_experiment_tag(&exp, "owner", &format!("{MARKER}-exp-tag"))
        .unwrap();
    let inside = run(&store, &exp, "inside");
    store
        .log_param(&inside, Param::new("secret", format!("{MARKER}-inside")))
        .unwrap();
    store.checkpoint().unwrap();
    store
        .set_tag(&doomed, RunTag::new("later", format!("{MARKER}-later")))
        .unwrap();

    store.delete_run(&doomed).unwrap();
    store.delete_experiment(&exp).unwrap();
    (store, kept, doomed, inside)
}

#[test]
fn purge_leaves_no_byte_of_an_erased_value_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let (store, kept, doomed, inside) = build(&root);
    assert!(!files_containing(&root, MARKER.as_bytes()).is_empty());

    let (store, report) = store.purge().unwrap();
    assert_eq!(report.runs_removed, 2);
    assert_eq!(report.experiments_removed, 1);
    let left = files_containing(&root, MARKER.as_bytes());
    assert!(left.is_empty(), "the marker is still in {left:?}");

    for gone in [&doomed, &inside] {
        assert!(store.get_run(gone).is_err());
    }
    let run = store.get_run(&kept).unwrap();
    assert_eq!(run.params.get("p"), Some("keep"));
    assert_eq!(store.metric_history(&kept, "loss").unwrap().len(), 1);

    // The store stays usable, and stays purged after a reopen.
    store
        .log_metric(&kept, Metric::new("loss", 0.4, 2, 1))
        .unwrap();
    store.close().unwrap();
    let store = Store::open(&root, options()).unwrap();
    assert_eq!(store.run_ids().unwrap(), vec![kept.clone()]);
    assert_eq!(store.metric_history(&kept, "loss").unwrap().len(), 2);
}

#[test]
fn compaction_keeps_everything_and_shrinks_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = Store::open(&root, options()).unwrap();
    let r = run(&store, "0", "r");
    for i in 0..200 {
        store
            .set_tag(&r, RunTag::new("status", format!("step {i}")))
            .unwrap();
    }
    store.log_metric(&r, Metric::new("m", 1.0, 1, 1)).unwrap();
    let before = store.get_run(&r).unwrap();
    let (store, report) = store.compact().unwrap();
    assert!(
        report.log_bytes_after < report.log_bytes_before,
        "{report:?}"
    );
    assert_eq!(store.get_run(&r).unwrap(), before);
    drop(store);
    assert_eq!(
        Store::open(&root, options()).unwrap().get_run(&r).unwrap(),
        before
    );
}

#[test]
fn a_rewrite_needs_the_store_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = Store::open(&root, options()).unwrap();
    let reader = Store::open(&root, Options::read_only()).unwrap();
    let err = store.purge().err().unwrap();
    assert_eq!(err.code(), runstore::ErrorCode::InvalidState);
    drop(reader);
    let store = Store::open(&root, options()).unwrap();
    store.purge().unwrap();
}

#[test]
fn an_interrupted_purge_is_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let (store, kept, doomed, _) = build(&root);
    let (store, _) = store.purge().unwrap();
    drop(store);

    // Pretend the process died right after deciding a rewrite: the old log
    // is still in place, the new one beside it, the marker written.
    let backup = dir.path().join("backup");
    copy_tree(&root, &backup);
    std::fs::rename(root.join("log"), root.join("log.new")).unwrap();
    copy_tree(&backup.join("log"), &root.join("log"));
    std::fs::write(root.join("REWRITE"), br#"{"remove_artifacts": []}"#).unwrap();

    let store = Store::open(&root, options()).unwrap();
    assert!(!root.join("REWRITE").exists());
    assert!(store.get_run(&doomed).is_err());
    assert_eq!(store.get_run(&kept).unwrap().params.get("p"), Some("keep"));

    // A rewrite that was not decided yet is dropped.
    drop(store);
    copy_tree(&root.join("log"), &root.join("log.new"));
    let store = Store::open(&root, options()).unwrap();
    assert!(!root.join("log.new").exists());
    assert_eq!(store.run_ids().unwrap(), vec![kept]);
}
