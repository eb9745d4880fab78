//! Ingest throughput: metric points in batches of 1,000, and run creation
//! with 15 params and 8 tags each, under group commit from one thread.
//!
//! `cargo bench --bench ingest`

use std::collections::BTreeMap;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use runstore::{
    Durability, LifecycleStage, Metric, NewRun, Options, RunInfo, RunRecord, RunStatus, Store,
};

fn options() -> Options {
    Options {
        durability: Durability::Group { interval_ms: 0 },
        ..Options::default()
    }
}

fn points_in_batches_of_1000(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("s"), options()).expect("open");
    let run = store
        .create_run(NewRun {
            experiment_id: "0".into(),
            ..NewRun::default()
        })
        .expect("run")
        .run_id;
    let mut step = 0i64;
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("log_batch 1000 points", |b| {
        b.iter(|| {
            let batch: Vec<Metric> = (0..1000)
                .map(|i| {
                    step += 1;
                    Metric::new(
                        if i % 2 == 0 { "loss" } else { "acc" },
                        step as f64 * 0.5,
                        step,
                        step,
                    )
                })
                .collect();
            store.log_batch(&run, &batch, &[], &[]).expect("log");
        })
    });
    group.finish();
}

fn run_record(i: u64) -> RunRecord {
    let params: BTreeMap<String, String> = (0..15)
        .map(|p| (format!("param_{p}"), format!("{}", (i * 7 + p) % 50)))
        .collect();
    let tags: BTreeMap<String, String> = (0..8)
        .map(|t| (format!("tag_{t}"), format!("value-{}", (i + t) % 10)))
        .collect();
    RunRecord {
        info: RunInfo {
            run_id: runstore::model::new_run_id(),
            experiment_id: "0".into(),
            run_name: format!("run-{i}"),
            user_id: "bench".into(),
            status: RunStatus::Finished,
            start_time: 1_700_000_000_000 + i as i64,
            end_time: Some(1_700_000_100_000 + i as i64),
            lifecycle_stage: LifecycleStage::Active,
            artifact_uri: String::new(),
            deleted_time: None,
        },
        params,
        tags,
        metrics: BTreeMap::new(),
        inputs: vec![],
    }
}

fn runs_with_15_params_and_8_tags(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("s"), options()).expect("open");
    let mut next = 0u64;
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000 runs, 15 params + 8 tags, one commit", |b| {
        b.iter_batched(
            || {
                let runs: Vec<RunRecord> = (next..next + 1000).map(run_record).collect();
                next += 1000;
                runs
            },
            |runs| store.import_runs(&runs).expect("import"),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = points_in_batches_of_1000, runs_with_15_params_and_8_tags
}
criterion_main!(benches);
