//! A process killed at every step of a checkpoint, a compaction and a
//! purge (failpoints abort it there): the store must open to the same
//! content — for a purge, to the content before or after it, never a mix —
//! and finishing the interrupted work must then succeed.
//! The test binary re-executes itself as the process that dies.

mod common;

use common::files::copy_tree;
use common::stores::fill_history_store;

use std::path::{Path, PathBuf};
use std::process::Command;

use runstore::import::{diff_json, store_truth_json};
use runstore::{Durability, Options, Store};

const CHECKPOINT_STEPS: [&str; 4] = [
    "checkpoint:series-written",
    "checkpoint:snapshot-written",
    "checkpoint:catalog-written",
    "checkpoint:old-snapshot-removed",
];

const REWRITE_STEPS: [&str; 5] = [
    "rewrite:new-log-written",
    "rewrite:decided",
    "rewrite:derived-removed",
    "rewrite:old-log-moved",
    "rewrite:logs-swapped",
];

fn options() -> Options {
    Options {
        durability: Durability::SyncEach,
        segment_size: 8 << 10,
        ..Options::default()
    }
}

/// What the dying process does.
#[test]
fn dying_process() {
    let Ok(work) = std::env::var("RUNSTORE_CRASH_WORK") else {
        return;
    };
    let root = PathBuf::from(std::env::var("RUNSTORE_PATH").unwrap());
    let store = Store::open(&root, options()).unwrap();
    match work.as_str() {
        "checkpoint" => store.checkpoint().map(|_| ()),
        "compact" => store.compact().map(|_| ()),
        "purge" => store.purge().map(|_| ()),
        other => panic!("unknown work {other}"),
    }
    .unwrap();
}

/// A store with a checkpoint, a tail after it, a deleted run and artifacts.
fn build(root: &Path) {
    let store = Store::open(root, options()).unwrap();
    fill_history_store(&store, 4, false);
}

fn truth(root: &Path) -> serde_json::Value {
    let store = Store::open(root, options()).unwrap();
    store_truth_json(&store).unwrap()
}

/// Runs `work` in a child process that dies at `step`.
fn die_at(root: &Path, work: &str, step: &str) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "dying_process",
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ])
        .env("RUNSTORE_CRASH_WORK", work)
        .env("RUNSTORE_PATH", root)
        .env("RUNSTORE_FAILPOINT", step)
        .output()
        .unwrap()
        .status;
    assert!(!status.success(), "{work} did not stop at {step}");
}

#[test]
fn a_crash_at_any_step_opens_to_the_same_content() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original");
    build(&original);
    let before = truth(&original);

    let purged = dir.path().join("purged");
    copy_tree(&original, &purged);
    let (store, _) = Store::open(&purged, options()).unwrap().purge().unwrap();
    drop(store);
    let after_purge = truth(&purged);
    assert_ne!(before, after_purge);

    let cases = CHECKPOINT_STEPS
        .iter()
        .map(|s| ("checkpoint", *s))
        .chain(REWRITE_STEPS.iter().map(|s| ("compact", *s)))
        .chain(REWRITE_STEPS.iter().map(|s| ("purge", *s)));
    for (work, step) in cases {
        let copy_root = dir
            .path()
            .join(format!("{work}-{}", step.replace(':', "-")));
        copy_tree(&original, &copy_root);
        die_at(&copy_root, work, step);

        let reopened = truth(&copy_root);
        let same = diff_json(&before, &reopened).is_empty();
        let purged_already = work == "purge" && diff_json(&after_purge, &reopened).is_empty();
        assert!(
            same || purged_already,
            "{work} killed at {step}: {:?}",
            diff_json(&before, &reopened)
        );

        // The interrupted work can be done again, to the expected end.
        let store = Store::open(&copy_root, options()).unwrap();
        let (store, expected) = match work {
            "purge" => (store.purge().unwrap().0, &after_purge),
            "compact" => (store.compact().unwrap().0, &before),
            _ => {
                store.checkpoint().unwrap();
                (store, &before)
            }
        };
        let done = store_truth_json(&store).unwrap();
        assert!(diff_json(expected, &done).is_empty(), "{work} after {step}");
        if work == "purge" {
            let artifacts = copy_root.join("artifacts");
            let left = std::fs::read_dir(&artifacts).unwrap().count();
            assert_eq!(left, 3, "{step}: artifacts of purged runs must go");
        }
    }
}
