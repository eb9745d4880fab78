//! `Store::metric_history_ref`: which histories are lent from the mapped
//! series file (a RUNNING run's series, sealed raw and in history order,
//! with any later points after them) and which are owned, and that both
//! read the same points as `metric_history`.

use runstore::{Durability, Metric, MetricPoint, NewRun, Options, RunStatus, Store};

fn options() -> Options {
    Options {
        durability: Durability::None,
        ..Options::default()
    }
}

fn new_run(store: &Store) -> String {
    let run = NewRun {
        experiment_id: "0".into(),
        start_time: Some(1),
        ..NewRun::default()
    };
    store.create_run(run).expect("create run").run_id
}

/// Logs points `steps` of "loss" at timestamp 1000 + step.
fn log(store: &Store, run: &str, steps: std::ops::Range<i64>) {
    let metrics: Vec<Metric> = steps
        .map(|s| Metric::new("loss", s as f64 * 0.5, 1000 + s, s))
        .collect();
    store.log_batch(run, &metrics, &[], &[]).expect("log");
}

fn steps_of(points: impl IntoIterator<Item = MetricPoint>) -> Vec<i64> {
    points.into_iter().map(|p| p.step).collect()
}

#[test]
fn a_running_runs_sealed_series_is_lent_and_later_points_follow_it() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = Store::open(dir.path(), options()).expect("store");
    let run = new_run(&store);
    log(&store, &run, 0..1000);
    store.checkpoint().expect("checkpoint");

    let history = store.metric_history_ref(&run, "loss").expect("history");
    assert!(history.is_lent());
    let sealed = history.sealed().expect("sealed columns");
    assert_eq!(sealed.len(), 1000);
    assert_eq!(sealed.steps[999], 999);
    assert_eq!(sealed.values[10], 5.0);
    assert!(history.unsealed().is_empty());

    log(&store, &run, 1000..1010);
    let history = store.metric_history_ref(&run, "loss").expect("history");
    assert!(history.is_lent());
    assert_eq!(history.sealed().map(|c| c.len()), Some(1000));
    assert_eq!(
        steps_of(history.unsealed().to_vec()),
        (1000..1010).collect::<Vec<_>>()
    );
    assert_eq!(
        history.to_vec(),
        store.metric_history(&run, "loss").expect("owned")
    );
}

#[test]
fn a_point_that_sorts_before_the_sealed_ones_makes_the_history_owned() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = Store::open(dir.path(), options()).expect("store");
    let run = new_run(&store);
    log(&store, &run, 10..20);
    store.checkpoint().expect("checkpoint");
    log(&store, &run, 0..1);

    let history = store.metric_history_ref(&run, "loss").expect("history");
    assert!(!history.is_lent());
    let mut want: Vec<i64> = vec![0];
    want.extend(10..20);
    assert_eq!(steps_of(history.iter()), want);
    assert_eq!(history.len(), 11);
}

#[test]
fn a_sealed_series_out_of_history_order_is_owned_and_sorted() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = Store::open(dir.path(), options()).expect("store");
    let run = new_run(&store);
    log(&store, &run, 5..10);
    log(&store, &run, 0..5);
    store.checkpoint().expect("checkpoint");

    let history = store.metric_history_ref(&run, "loss").expect("history");
    assert!(!history.is_lent());
    assert_eq!(steps_of(history.iter()), (0..10).collect::<Vec<_>>());
}

#[test]
fn a_finished_runs_series_is_compressed_and_decoded() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = Store::open(dir.path(), options()).expect("store");
    let run = new_run(&store);
    log(&store, &run, 0..1000);
    store
        .update_run_info(&run, Some(RunStatus::Finished), Some(5000), None)
        .expect("finish");
    store.checkpoint().expect("checkpoint");

    let history = store.metric_history_ref(&run, "loss").expect("history");
    assert!(!history.is_lent());
    assert_eq!(steps_of(history.iter()), (0..1000).collect::<Vec<_>>());

    let series_bytes: u64 = std::fs::read_dir(dir.path().join("series"))
        .expect("series folder")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .sum();
    assert!(
        series_bytes < 1000 * 24 / 2,
        "a finished run's 1000 points take {series_bytes} B: not compressed"
    );
}

#[test]
fn a_lent_history_outlives_later_checkpoints_and_compaction() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = Store::open(dir.path(), options()).expect("store");
    let run = new_run(&store);
    log(&store, &run, 0..100);
    store.checkpoint().expect("checkpoint");
    let history = store.metric_history_ref(&run, "loss").expect("history");
    assert!(history.is_lent());

    log(&store, &run, 100..200);
    store.checkpoint().expect("second checkpoint");
    let (store, _) = store.compact().expect("compact");
    drop(store);

    assert_eq!(steps_of(history.iter()), (0..100).collect::<Vec<_>>());
    assert_eq!(history.sealed().map(|c| c.values[99]), Some(49.5));
}
