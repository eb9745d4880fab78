//! The standard queries of the benchmark suite on a 10,000-run generated
//! store (5 points per metric), each answer checked once against the
//! ground truth before it is timed. The store is checkpointed first, so
//! the searches read its run image, as they would for most of a big store.
//!
//! `cargo bench --bench search`

use criterion::{Criterion, criterion_group, criterion_main};
use runstore::import::{ImportOptions, SourceKind, import};
use runstore::workload::bench::{execute, same_answer};
use runstore::workload::{WorkloadSpec, generate_file, ground_truths, standard_queries};
use runstore::{Options, Store};

fn search(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = WorkloadSpec {
        runs: 10_000,
        steps: 5,
        ..WorkloadSpec::default()
    };
    let workload = dir.path().join("w.jsonl");
    generate_file(&spec, &workload).expect("generate");
    let store = Store::open(dir.path().join("store"), Options::default()).expect("open");
    import(
        &store,
        &workload,
        SourceKind::JsonLines,
        &ImportOptions::default(),
        &|_| {},
    )
    .expect("import");
    // A large store is mostly checkpointed: search its run image.
    store.checkpoint().expect("checkpoint");

    let queries = standard_queries(&workload).expect("queries");
    let expected = ground_truths(&workload, &queries).expect("ground truth");
    let mut group = c.benchmark_group("search 10k runs");
    for (query, expected) in queries.iter().zip(&expected) {
        let answer = execute(&store, query).expect("query");
        assert!(same_answer(&answer, expected), "{} is wrong", query.name);
        group.bench_function(&query.name, |b| {
            b.iter(|| execute(&store, std::hint::black_box(query)).expect("query"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = search
}
criterion_main!(benches);
