//! An import that outgrows its memory budget checkpoints along the way; the
//! store it leaves must equal one imported in a single stretch.

use std::path::Path;

use runstore::import::{self, ImportOptions, ImportSummary, SourceKind, store_truth_json};
use runstore::workload::{WorkloadSpec, generate_file};
use runstore::{Durability, Options, Store};

fn options() -> Options {
    Options {
        durability: Durability::None,
        ..Options::default()
    }
}

/// Imports the JSON Lines `file` into `store` within `budget`.
fn import_within(store: &Store, file: &Path, budget: u64) -> ImportSummary {
    let opts = ImportOptions {
        memory_budget: budget,
        ..ImportOptions::default()
    };
    import::import(store, file, SourceKind::JsonLines, &opts, &|_| {}).unwrap()
}

/// Imports `file` into a new store at `dir` with `budget`; returns the
/// store, reopened, and the import's checkpoint count.
fn import_with_budget(dir: &Path, file: &Path, budget: u64) -> (Store, u64) {
    let store = Store::open(dir, options()).unwrap();
    let summary = import_within(&store, file, budget);
    assert_eq!(summary.runs, 1_200);
    store.close().unwrap();
    (Store::open(dir, options()).unwrap(), summary.checkpoints)
}

/// The store as MLflow's client reads it, less what differs between two
/// stores for reasons other than their content: the folder named in
/// artifact locations, and when each created its Default experiment.
fn comparable(store: &Store, folder: &str) -> String {
    let mut doc = store_truth_json(store).unwrap();
    for experiment in doc["experiments"].as_array_mut().unwrap() {
        if experiment["experiment_id"] == "0" {
            let fields = experiment.as_object_mut().unwrap();
            fields.remove("creation_time");
            fields.remove("last_update_time");
        }
    }
    doc.to_string().replace(&format!("/{folder}/"), "/STORE/")
}

#[test]
fn checkpoints_within_the_budget_leave_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("workload.jsonl");
    let spec = WorkloadSpec {
        runs: 1_200,
        experiments: 3,
        params: 4,
        tags: 3,
        metrics: 2,
        steps: 5,
        ..WorkloadSpec::default()
    };
    generate_file(&spec, &file).unwrap();

    let (whole, none) = import_with_budget(&dir.path().join("whole"), &file, u64::MAX);
    // One byte: a checkpoint after every batch of runs written.
    let (stepped, taken) = import_with_budget(&dir.path().join("stepped"), &file, 1);

    assert_eq!(none, 0);
    assert!(taken >= 2, "only {taken} checkpoints");
    assert_eq!(whole.held_since_checkpoint(), 0, "whole");
    assert_eq!(stepped.held_since_checkpoint(), 0);
    assert_eq!(comparable(&whole, "whole"), comparable(&stepped, "stepped"));
}

/// Imports 50 generated runs with `params` params each into a new store
/// at `dir`, without checkpointing.
fn held_after_import(dir: &Path, params: u32) -> Store {
    let file = dir.join(format!("workload-{params}.jsonl"));
    let spec = WorkloadSpec {
        runs: 50,
        params,
        steps: 10,
        ..WorkloadSpec::default()
    };
    generate_file(&spec, &file).unwrap();
    let store = Store::open(dir.join(format!("s{params}")), options()).unwrap();
    assert_eq!(store.held_since_checkpoint(), 0);
    import_within(&store, &file, u64::MAX);
    store
}

#[test]
fn the_estimate_grows_with_what_is_written_and_a_checkpoint_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let light = held_after_import(dir.path(), 4);
    let heavy = held_after_import(dir.path(), 200);

    for (store, params) in [(&light, 4), (&heavy, 200)] {
        let points = store.stats().unwrap().metric_points;
        let held = store.held_since_checkpoint();
        // Every row, param and point counted (tags and series on top).
        let floor = 50 * (1024 + params * 32) + points * 24;
        assert!(held >= floor, "{params} params: {held} < {floor}");
    }

    heavy.checkpoint().unwrap();
    assert_eq!(heavy.held_since_checkpoint(), 0);
}
