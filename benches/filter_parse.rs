//! Filter parsing, measured through `search_runs` on a store of 100 runs
//! with filters that match nothing, so parsing and planning dominate.
//!
//! `cargo bench --bench filter_parse`

use criterion::{Criterion, criterion_group, criterion_main};
use runstore::import::{ImportOptions, SourceKind, import};
use runstore::workload::{WorkloadSpec, generate_file};
use runstore::{Options, SearchRequest, Store};

const FILTERS: [(&str, &str); 5] = [
    ("one param", "params.model_type = 'NoSuchModel'"),
    (
        "three clauses",
        "metrics.auc > 2 AND tags.team = 'nobody' AND params.learning_rate = '9'",
    ),
    ("like", "tags.note LIKE '%zzzz%'"),
    (
        "attributes",
        "attributes.run_name ILIKE 'zz%' AND attributes.status = 'SCHEDULED'",
    ),
    (
        "run_id in",
        "attributes.run_id IN ('a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7')",
    ),
];

fn small_store(dir: &std::path::Path) -> Store {
    let spec = WorkloadSpec {
        runs: 100,
        steps: 2,
        ..WorkloadSpec::default()
    };
    let workload = dir.join("w.jsonl");
    generate_file(&spec, &workload).expect("generate");
    let store = Store::open(dir.join("store"), Options::default()).expect("open");
    import(
        &store,
        &workload,
        SourceKind::JsonLines,
        &ImportOptions::default(),
        &|_| {},
    )
    .expect("import");
    store
}

fn filter_parse(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = small_store(dir.path());
    let mut group = c.benchmark_group("filter_parse");
    for (name, filter) in FILTERS {
        let request = SearchRequest {
            filter: Some(filter.into()),
            ..SearchRequest::default()
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let page = store
                    .search_runs(std::hint::black_box(&request))
                    .expect("search");
                assert!(page.runs.is_empty());
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = filter_parse
}
criterion_main!(benches);
