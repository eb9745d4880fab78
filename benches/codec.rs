//! Log record codec: encode and decode of a 1,000-point metric batch and of
//! a run created with 20 params and 10 tags.
//!
//! `cargo bench --bench codec`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use runstore::store::record::{Entry, Op, RunRec, SeriesRec, decode, encode};

fn batch_of_1000_points() -> Entry {
    let series = SeriesRec {
        key: "loss".into(),
        steps: (0..1000).collect(),
        timestamps: (0..1000).map(|i| 1_700_000_000_000 + i * 250).collect(),
        values: (0..1000).map(|i| 1.0 / (1.0 + i as f64)).collect(),
    };
    Entry {
        hlc: 42,
        op: Op::LogBatch {
            run_id: "0123456789abcdef0123456789abcdef".into(),
            metrics: vec![series],
            params: vec![],
            tags: vec![],
        },
    }
}

fn run_with_params_and_tags() -> Entry {
    let run = RunRec {
        run_id: "0123456789abcdef0123456789abcdef".into(),
        experiment_id: "1".into(),
        run_name: "quick-fox-7".into(),
        user_id: "ana".into(),
        status: 3,
        start_time: 1_700_000_000_000,
        end_time: Some(1_700_000_900_000),
        deleted: false,
        deleted_time: None,
        artifact_uri: "file:///tmp/mlruns/1/0123/artifacts".into(),
        params: (0..20)
            .map(|i| (format!("param_{i}"), format!("{}", i * 7)))
            .collect(),
        tags: (0..10)
            .map(|i| (format!("tag_{i}"), format!("value-{i}")))
            .collect(),
        metrics: vec![],
        inputs: vec![],
    };
    Entry {
        hlc: 43,
        op: Op::PutRuns {
            runs: vec![run],
            keep_duplicates: false,
        },
    }
}

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    for (name, entry) in [
        ("log_batch 1000 points", batch_of_1000_points()),
        (
            "put_runs 1 run, 20 params + 10 tags",
            run_with_params_and_tags(),
        ),
    ] {
        let bytes = encode(&entry).expect("encode");
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("encode {name}"), |b| {
            b.iter(|| encode(std::hint::black_box(&entry)).expect("encode"))
        });
        group.bench_function(format!("decode {name}"), |b| {
            b.iter(|| decode(std::hint::black_box(&bytes)).expect("decode"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = codec
}
criterion_main!(benches);
