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

/// The series file of the store in `dir` (the newest checkpoint's).
fn series_file(dir: &std::path::Path) -> runstore::series::SeriesFile {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("series"))
        .expect("series folder")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    runstore::series::SeriesFile::open(files.last().expect("a series file")).expect("open")
}

/// What `metric_history_sampled` must give: the plain sampler over every
/// point of the history in the step range.
fn sampled_from_everything(
    store: &Store,
    run: &str,
    steps: Option<std::ops::RangeInclusive<i64>>,
    max_points: usize,
) -> Vec<MetricPoint> {
    let mut points = store.metric_history(run, "loss").expect("history");
    if let Some(range) = &steps {
        points.retain(|p| range.contains(&p.step));
    }
    runstore::series::downsample(&points, max_points)
}

#[test]
fn a_long_running_series_is_sampled_from_its_table_of_extremes_as_from_every_point() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = Store::open(dir.path(), options()).expect("store");
    let run = new_run(&store);
    let metrics: Vec<Metric> = (0..5000i64)
        .map(|s| {
            let value = match s % 1000 {
                17 => f64::NAN,
                400 => 50.0,
                _ => ((s * 37) % 101) as f64 * 0.25,
            };
            Metric::new("loss", value, 1000 + s, s / 3)
        })
        .collect();
    for batch in metrics.chunks(1000) {
        store.log_batch(&run, batch, &[], &[]).expect("log");
    }
    store.checkpoint().expect("checkpoint");

    let file = series_file(dir.path());
    let (_, _, series) = file.iter().next().expect("one series");
    assert_eq!(series.encoding(), runstore::series::Encoding::RawIndexed);
    assert!(series.extremes().expect("table").is_some());

    let ranges = [
        None,
        Some(0..=1666),
        Some(100..=900),
        Some(-5..=3),
        Some(2000..=9000),
    ];
    for steps in ranges {
        for max_points in [0, 7, 40, 1000, 6000] {
            let got = store
                .metric_history_sampled(&run, "loss", steps.clone(), max_points)
                .expect("sampled");
            let want = sampled_from_everything(&store, &run, steps.clone(), max_points);
            assert_eq!(got.len(), want.len(), "{steps:?} {max_points}");
            for (g, w) in got.iter().zip(&want) {
                assert!(g.same_record(w), "{steps:?} {max_points}: {g:?} {w:?}");
            }
        }
    }

    // A point logged after the checkpoint: the table no longer covers the
    // history, and the answer still includes the new point.
    log(&store, &run, 6000..6001);
    let got = store
        .metric_history_sampled(&run, "loss", None, 40)
        .expect("sampled");
    assert_eq!(got.last().map(|p| p.step), Some(6000));
}
