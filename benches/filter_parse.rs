//! Filter parsing (`parse_filter`) of a few typical filters, from one
//! clause to an IN list.
//!
//! `cargo bench --bench filter_parse`

use criterion::{Criterion, criterion_group, criterion_main};
use runstore::query::filter::parse_filter;

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

fn filter_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("filter_parse");
    for (name, filter) in FILTERS {
        group.bench_function(name, |b| {
            b.iter(|| parse_filter(std::hint::black_box(Some(filter))).expect("parse"))
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
