//! The `bench` runner end to end on a small workload, and the history
//! queries checked through the store against the ground truth.

use runstore::import::{ImportOptions, SourceKind, import};
use runstore::workload::bench::{execute, same_answer};
use runstore::workload::{
    BenchOptions, Expected, WorkloadSpec, generate_file, ground_truths, run_bench, standard_queries,
};
use runstore::{Options, Store};

#[test]
fn run_bench_verifies_every_standard_query_and_reports_figures() {
    let dir = tempfile::tempdir().unwrap();
    let opts = BenchOptions {
        runs: 400,
        seed: 5,
        dir: dir.path().to_path_buf(),
        reuse: false,
        repeats: 3,
        steps: 4,
        keep_store: false,
    };
    let report = run_bench(&opts, &|_| {}).unwrap();

    assert_eq!(report.runs, 400);
    assert_eq!(report.queries.len(), 8);
    assert!(report.queries.iter().all(|q| q.verified));
    let page_all = report
        .queries
        .iter()
        .find(|q| q.name == "page_all_1000")
        .unwrap();
    assert!(
        (390..400).contains(&page_all.results),
        "{}",
        page_all.results
    );
    let top10 = report
        .queries
        .iter()
        .find(|q| q.name == "top10_auc")
        .unwrap();
    assert_eq!(top10.results, 10);
    assert!(report.disk_bytes_per_point > 0.0 && report.ingest_points_per_sec > 0.0);
    assert!(report.peak_rss_bytes.unwrap_or(0) > 1 << 20);

    let json = serde_json::to_string(&report).unwrap();
    let back: runstore::workload::BenchReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    assert!(report.to_string().contains("page_all_1000"));
    assert!(dir.path().join("expected.json").is_file());

    // A second run reuses the workload file (same shape, same answers).
    let reused = run_bench(
        &BenchOptions {
            reuse: true,
            dir: opts.dir.clone(),
            ..opts
        },
        &|_| {},
    )
    .unwrap();
    assert_eq!(reused.workload_bytes, report.workload_bytes);

    // A third searches the store the second left, without ingesting.
    let kept = run_bench(
        &BenchOptions {
            reuse: true,
            keep_store: true,
            ..opts
        },
        &|_| {},
    )
    .unwrap();
    assert_eq!(kept.runs, 400);
    assert_eq!(kept.ingest_secs, 0.0);
    assert!(kept.queries.iter().all(|q| q.verified));
}

#[test]
fn histories_through_the_store_equal_the_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let workload = dir.path().join("w.jsonl");
    let spec = WorkloadSpec {
        runs: 150,
        steps: 6,
        ..WorkloadSpec::default()
    };
    generate_file(&spec, &workload).unwrap();
    let store = Store::open(dir.path().join("store"), Options::default()).unwrap();
    let opts = ImportOptions::default();
    import(&store, &workload, SourceKind::JsonLines, &opts, &|_| {}).unwrap();

    let queries = standard_queries(&workload).unwrap();
    let expected = ground_truths(&workload, &queries).unwrap();
    let history = queries
        .iter()
        .position(|q| q.name == "history_100_runs")
        .unwrap();
    let answer = execute(&store, &queries[history]).unwrap();
    assert!(same_answer(&answer, &expected[history]));

    // A different answer is caught.
    let Expected::Histories(mut wrong) = answer else {
        panic!("not histories")
    };
    wrong[3].pop();
    assert!(!same_answer(
        &Expected::Histories(wrong),
        &expected[history]
    ));
}
