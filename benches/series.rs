//! Metric histories through the store:
//! - `metric_history` of one 100,000-point series still in the log tail
//!   (logged in batches of 1,000 as a training loop would);
//! - one 1,000,000-point series after a checkpoint: lent in place while its
//!   run is RUNNING (`metric_history_ref`), decoded once it has finished;
//! - the histories of one key for 100 runs of 1,000 points
//!   (`metric_histories_ref`), running and finished.
//!
//! `cargo bench --bench series`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use runstore::{Metric, NewRun, Options, RunStatus, Store};

fn new_run(store: &Store) -> String {
    let run = NewRun {
        experiment_id: "0".into(),
        ..NewRun::default()
    };
    store.create_run(run).expect("run").run_id
}

/// Logs `points` points of "loss" (float32 values) in batches of 1,000.
fn log_curve(store: &Store, run: &str, points: i64) {
    for first in (0..points).step_by(1000) {
        let batch: Vec<Metric> = (first..(first + 1000).min(points))
            .map(|step| {
                let value = f64::from(1.0f32 / (1.0 + step as f32));
                Metric::new("loss", value, 1_700_000_000_000 + step, step)
            })
            .collect();
        store.log_batch(run, &batch, &[], &[]).expect("log");
    }
}

fn finish(store: &Store, run: &str) {
    store
        .update_run_info(run, Some(RunStatus::Finished), Some(1), None)
        .expect("finish");
}

fn tail(c: &mut Criterion) {
    const POINTS: i64 = 100_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("s"), Options::default()).expect("open");
    let run = new_run(&store);
    log_curve(&store, &run, POINTS);

    let mut group = c.benchmark_group("series");
    group.throughput(Throughput::Elements(POINTS as u64));
    group.bench_function("metric_history 100k points in the tail", |b| {
        b.iter(|| {
            let points = store.metric_history(&run, "loss").expect("history");
            assert_eq!(points.len(), POINTS as usize);
        })
    });
    group.finish();
}

fn sealed(c: &mut Criterion) {
    const POINTS: i64 = 1_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("s"), Options::default()).expect("open");
    let running = new_run(&store);
    let finished = new_run(&store);
    log_curve(&store, &running, POINTS);
    log_curve(&store, &finished, POINTS);
    finish(&store, &finished);
    store.checkpoint().expect("checkpoint");

    let mut group = c.benchmark_group("series");
    group.throughput(Throughput::Elements(POINTS as u64));
    group.bench_function("metric_history_ref 1M points, running run (lent)", |b| {
        b.iter(|| {
            let history = store.metric_history_ref(&running, "loss").expect("history");
            assert!(history.is_lent());
            let sum: f64 = history.sealed().map_or(0.0, |c| c.values.iter().sum());
            assert!(sum > 0.0);
        })
    });
    group.bench_function(
        "metric_history_ref 1M points, finished run (decoded)",
        |b| {
            b.iter(|| {
                let history = store
                    .metric_history_ref(&finished, "loss")
                    .expect("history");
                assert_eq!(history.len(), POINTS as usize);
            })
        },
    );
    for (name, run) in [
        ("running run (table)", &running),
        ("finished run (decoded)", &finished),
    ] {
        let name = format!("metric_history_sampled 1M points to 1000, {name}");
        group.bench_function(name, |b| {
            b.iter(|| {
                let points = store
                    .metric_history_sampled(run, "loss", None, 1000)
                    .expect("sampled");
                assert!(points.len() <= 1000 && points.len() > 250);
            })
        });
    }
    group.bench_function(
        "metric_history_into 1M points, finished run (reused buffer)",
        |b| {
            let mut points = Vec::new();
            b.iter(|| {
                store
                    .metric_history_into(&finished, "loss", &mut points)
                    .expect("history");
                assert_eq!(points.len(), POINTS as usize);
            })
        },
    );
    group.finish();
}

fn many_runs(c: &mut Criterion) {
    const RUNS: usize = 100;
    const POINTS: i64 = 1000;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("s"), Options::default()).expect("open");
    let runs: Vec<String> = (0..2 * RUNS).map(|_| new_run(&store)).collect();
    for run in &runs {
        log_curve(&store, run, POINTS);
    }
    for run in &runs[RUNS..] {
        finish(&store, run);
    }
    store.checkpoint().expect("checkpoint");

    let mut group = c.benchmark_group("series");
    group.throughput(Throughput::Elements(RUNS as u64 * POINTS as u64));
    for (name, ids) in [("running", &runs[..RUNS]), ("finished", &runs[RUNS..])] {
        group.bench_function(
            format!("metric_histories_ref 100 x 1000 points, {name}"),
            |b| {
                b.iter(|| {
                    let histories = store.metric_histories_ref(ids, "loss").expect("histories");
                    assert_eq!(histories.len(), RUNS);
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = tail, sealed, many_runs
}
criterion_main!(benches);
