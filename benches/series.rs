//! `metric_history` of one 100,000-point series (logged in batches of 1,000
//! as a training loop would).
//!
//! `cargo bench --bench series`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use runstore::{Metric, NewRun, Options, Store};

const POINTS: i64 = 100_000;

fn series(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("s"), Options::default()).expect("open");
    let run = store
        .create_run(NewRun {
            experiment_id: "0".into(),
            ..NewRun::default()
        })
        .expect("run")
        .run_id;
    for first in (0..POINTS).step_by(1000) {
        let batch: Vec<Metric> = (first..first + 1000)
            .map(|step| {
                Metric::new(
                    "loss",
                    1.0 / (1.0 + step as f64),
                    1_700_000_000_000 + step,
                    step,
                )
            })
            .collect();
        store.log_batch(&run, &batch, &[], &[]).expect("log");
    }

    let mut group = c.benchmark_group("series");
    group.throughput(Throughput::Elements(POINTS as u64));
    group.bench_function("metric_history 100k points", |b| {
        b.iter(|| {
            let points = store.metric_history(&run, "loss").expect("history");
            assert_eq!(points.len(), POINTS as usize);
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = series
}
criterion_main!(benches);
