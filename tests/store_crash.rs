//! A real store cut and damaged on disk: the last segment cut at every byte
//! of its last records, and bytes flipped in every file. Open must recover
//! or fail with a typed error; it must never panic, and whatever it returns
//! must be a prefix of what was written, never different data.

mod common;

use common::files::{copy_tree, files_under};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use runstore::{Durability, Metric, MetricPoint, NewRun, Options, Param, RunTag, Store};

type Histories = BTreeMap<String, Vec<MetricPoint>>;

fn options() -> Options {
    Options {
        durability: Durability::None,
        segment_size: 16 << 10,
        ..Options::default()
    }
}

/// A store with a checkpoint and more log after it; returns every run's
/// history as written.
fn build(root: &Path) -> Histories {
    let store = Store::open(root, options()).unwrap();
    let e = store.create_experiment("crash", None, &[]).unwrap();
    let mut runs = Vec::new();
    for i in 0..6 {
        let run = store
            .create_run(NewRun {
                experiment_id: e.clone(),
                ..NewRun::default()
            })
            .unwrap()
            .run_id;
        store
            .log_param(&run, Param::new("i", i.to_string()))
            .unwrap();
        runs.push(run);
    }
    for round in 0..12i64 {
        if round == 6 {
            store.checkpoint().unwrap();
        }
        for run in &runs {
            let batch: Vec<Metric> = (0..10)
                .map(|s| Metric::new("m", (round * 10 + s) as f64, 5, round * 10 + s))
                .collect();
            store
                .log_batch(run, &batch, &[], &[RunTag::new("round", round.to_string())])
                .unwrap();
        }
    }
    let histories = runs
        .iter()
        .map(|r| (r.clone(), store.metric_history(r, "m").unwrap()))
        .collect();
    drop(store);
    histories
}

/// Opens the damaged copy; if it opens, everything it holds must be a
/// prefix of what was written.
fn open_and_compare(root: &Path, written: &Histories, what: &str) -> Result<(), runstore::Error> {
    let store = Store::open(root, options())?;
    for run in store.run_ids()? {
        let Some(original) = written.get(&run) else {
            panic!("{what}: a run that was never written: {run}");
        };
        let history = store.metric_history(&run, "m")?;
        assert!(history.len() <= original.len(), "{what}: {run} grew");
        assert_eq!(
            &history[..],
            &original[..history.len()],
            "{what}: {run} differs"
        );
        store.get_run(&run)?;
    }
    store.search_runs(&runstore::SearchRequest::default())?;
    Ok(())
}

fn last_segment(root: &Path) -> PathBuf {
    files_under(&root.join("log"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .max()
        .unwrap()
}

#[test]
fn cutting_the_last_segment_anywhere_recovers_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original");
    let written = build(&original);
    let segment = last_segment(&original);
    let len = std::fs::metadata(&segment).unwrap().len();
    let relative = segment.strip_prefix(&original).unwrap().to_path_buf();

    // Every byte offset of the last ~1.5 KiB: a few whole records.
    let start = len.saturating_sub(1536);
    for cut in start..len {
        let copy = dir.path().join(format!("cut-{cut}"));
        copy_tree(&original, &copy);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(copy.join(&relative))
            .unwrap();
        file.set_len(cut).unwrap();
        drop(file);
        if let Err(e) = open_and_compare(&copy, &written, &format!("cut at {cut}")) {
            panic!("cut at {cut} did not recover: {e}");
        }
        std::fs::remove_dir_all(&copy).unwrap();
    }
}

#[test]
fn flipped_bytes_anywhere_give_typed_errors_or_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original");
    let written = build(&original);
    let mut outcomes = (0, 0);
    for file in files_under(&original) {
        let relative = file.strip_prefix(&original).unwrap().to_path_buf();
        if relative.starts_with("locks") || relative.ends_with("LOCK") {
            continue;
        }
        let len = std::fs::metadata(&file).unwrap().len();
        // About 40 spots per file, always including the first and last bytes.
        let stride = (len / 40).max(1);
        let spots = (0..len).step_by(stride as usize).chain(len.checked_sub(1));
        for at in spots {
            let copy = dir.path().join("flip");
            copy_tree(&original, &copy);
            let target = copy.join(&relative);
            let mut bytes = std::fs::read(&target).unwrap();
            bytes[at as usize] ^= 0x5a;
            std::fs::write(&target, bytes).unwrap();
            let what = format!("{} byte {at}", relative.display());
            match open_and_compare(&copy, &written, &what) {
                Ok(()) => outcomes.0 += 1,
                Err(_) => outcomes.1 += 1,
            }
            std::fs::remove_dir_all(&copy).unwrap();
        }
    }
    assert!(outcomes.1 > 0, "no flip was detected: {outcomes:?}");
}
