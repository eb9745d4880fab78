//! The workload generator and the ground-truth scan of the benchmark suite.

use std::io::Write;
use std::path::{Path, PathBuf};

use runstore::import::{ImportOptions, SourceKind, import};
use runstore::workload::{
    Condition, Expected, Query, QueryKind, WorkloadSpec, generate, generate_file, ground_truth,
    standard_queries,
};
use runstore::{Options, Store};

fn spec(seed: u64, runs: u64) -> WorkloadSpec {
    WorkloadSpec {
        seed,
        runs,
        steps: 5,
        ..WorkloadSpec::default()
    }
}

fn bytes(spec: &WorkloadSpec) -> Vec<u8> {
    let mut out = Vec::new();
    generate(spec, &mut out).unwrap();
    out
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

fn run_ids(expected: Expected) -> Vec<String> {
    match expected {
        Expected::RunIds(ids) => ids,
        other => panic!("not a search answer: {other:?}"),
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_others() {
    let a = bytes(&spec(7, 200));
    assert_eq!(a, bytes(&spec(7, 200)));
    assert_ne!(a, bytes(&spec(8, 200)));
    assert!(a.len() > 200 * 500, "{} bytes", a.len());
}

#[test]
fn the_summary_counts_what_was_written() {
    let mut out = Vec::new();
    let summary = generate(&spec(1, 50), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(summary.bytes, text.len() as u64);
    assert_eq!(summary.runs, 50);
    assert_eq!(summary.experiments, 10);
    assert_eq!(text.lines().count(), 60);
    assert_eq!(text.matches("\"step\":").count() as u64, summary.points);
}

#[test]
fn the_generated_file_imports_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.jsonl");
    let summary = generate_file(&spec(3, 300), &path).unwrap();

    let store = Store::open(dir.path().join("store"), Options::default()).unwrap();
    let imported = import(
        &store,
        &path,
        SourceKind::JsonLines,
        &ImportOptions::default(),
        &|_| {},
    )
    .unwrap();

    assert_eq!(imported.runs, 300);
    assert_eq!(imported.points, summary.points);
    assert!(imported.skipped.is_empty());
    let stats = store.stats().unwrap();
    assert_eq!(stats.runs, 300);
    assert_eq!(stats.params, 300 * 20);
    assert_eq!(stats.tags, 300 * 10);
    assert!(stats.deleted_runs > 0 && stats.deleted_runs < 15);
}

#[test]
fn standard_filters_select_between_a_thousandth_and_thirty_percent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.jsonl");
    generate_file(&spec(42, 10_000), &path).unwrap();

    let queries = standard_queries(&path).unwrap();
    let filtered: Vec<&Query> = queries
        .iter()
        .filter(
            |q| matches!(&q.kind, QueryKind::Search { conditions, .. } if !conditions.is_empty()),
        )
        .collect();
    assert_eq!(filtered.len(), 4);
    for query in filtered {
        // Count every match, not just the first page.
        let mut every_page = query.clone();
        if let QueryKind::Search { all_pages, .. } = &mut every_page.kind {
            *all_pages = true;
        }
        let hits = run_ids(ground_truth(&path, &every_page).unwrap()).len();
        eprintln!("{}: {hits} of 10000 runs", query.name);
        assert!((10..=3_000).contains(&hits), "{}: {hits} runs", query.name);
    }

    let paging = queries.iter().find(|q| q.name == "page_all_1000").unwrap();
    let all = run_ids(ground_truth(&path, paging).unwrap()).len();
    assert!((9_800..10_000).contains(&all), "{all} active runs");

    let history = queries
        .iter()
        .find(|q| q.name == "history_100_runs")
        .unwrap();
    match ground_truth(&path, history).unwrap() {
        Expected::Histories(h) => {
            assert_eq!(h.len(), 100);
            assert!(h.iter().all(|points| (1..=5).contains(&points.len())));
        }
        other => panic!("{other:?}"),
    }
}

/// A run line of experiment 1; `rest` is the JSON after `start_time`.
fn line(id: &str, start: i64, rest: &str) -> String {
    format!("{{\"experiment_id\":\"1\",\"run_id\":\"{id}\",\"start_time\":{start}{rest}}}\n")
}

/// A metric `m` from `(step, timestamp, value)` points.
fn m(points: &[(i64, i64, &str)]) -> String {
    let points: Vec<String> = points
        .iter()
        .map(|(s, t, v)| format!("{{\"step\":{s},\"timestamp\":{t},\"value\":{v}}}"))
        .collect();
    format!(",\"metrics\":{{\"m\":[{}]}}", points.join(","))
}

/// Eight runs with hand-checked places under `metrics.m DESC`.
fn small() -> String {
    let mut text =
        String::from("{\"kind\":\"experiment\",\"experiment_id\":\"1\",\"name\":\"e\"}\n");
    let a_metric = m(&[(0, 1, "0.9"), (1, 2, "0.2")]);
    text += &line(
        "a",
        100,
        &format!(",\"tags\":{{\"note\":\"big drift here\"}}{a_metric}"),
    );
    text += &line("b", 100, &m(&[(0, 1, "\"NaN\"")]));
    text += &line("c", 300, ",\"tags\":{\"note\":\"drifting\"}");
    text += &line("d", 200, &m(&[(2, 1, "0.7"), (2, 1, "0.5")]));
    text += &line("e", 50, &m(&[(0, 1, "0.2")]));
    let deleted = format!(",\"lifecycle_stage\":\"deleted\"{}", m(&[(0, 1, "5.0")]));
    text += &line("f", 400, &deleted);
    text += &line("g", 100, &m(&[(0, 1, "\"NaN\"")]));
    text += &line("h", 100, ",\"tags\":{\"note\":\"Drift\"}");
    text
}

fn search(conditions: Vec<Condition>, order_by_desc: Option<&str>, page_size: i64) -> Query {
    Query {
        name: "q".into(),
        kind: QueryKind::Search {
            conditions,
            order_by_desc: order_by_desc.map(String::from),
            page_size,
            all_pages: false,
        },
    }
}

#[test]
fn ground_truth_orders_real_then_nan_then_missing_with_mlflow_tie_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "small.jsonl", &small());

    // d: latest of two points at (2, 1) is the greater value, 0.7.
    // a: latest is step 1 (0.2), tied with e (0.2): a starts later.
    // b, g: NaN, same start time, by run_id. c, h: missing, c starts later.
    // f is deleted.
    let ordered = search(vec![], Some("m"), 100);
    let want = ["d", "a", "e", "b", "g", "c", "h"];
    assert_eq!(run_ids(ground_truth(&path, &ordered).unwrap()), want);

    let top2 = search(vec![], Some("m"), 2);
    assert_eq!(run_ids(ground_truth(&path, &top2).unwrap()), ["d", "a"]);

    // Default order: start_time DESC, then run_id ASC.
    let default = search(vec![], None, 100);
    let want = ["c", "d", "a", "b", "g", "h", "e"];
    assert_eq!(run_ids(ground_truth(&path, &default).unwrap()), want);
}

#[test]
fn ground_truth_filters_like_mlflow() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "small.jsonl", &small());
    let s = String::from;

    // LIKE is case-sensitive and a substring match; h has "Drift".
    let like = search(
        vec![Condition::TagContains(s("note"), s("drift"))],
        None,
        100,
    );
    assert_eq!(run_ids(ground_truth(&path, &like).unwrap()), ["c", "a"]);

    // NaN fails every comparison; a missing metric too; the deleted f is out.
    let below = search(vec![Condition::MetricLt(s("m"), 0.6)], None, 100);
    assert_eq!(run_ids(ground_truth(&path, &below).unwrap()), ["a", "e"]);
    let above = search(vec![Condition::MetricGt(s("m"), 0.6)], None, 100);
    assert_eq!(run_ids(ground_truth(&path, &above).unwrap()), ["d"]);

    assert_eq!(
        Condition::TagContains(s("note"), s("drift")).to_filter(),
        "tags.note LIKE '%drift%'"
    );
    let both = search(
        vec![
            Condition::MetricGt(s("auc"), 0.9),
            Condition::ParamEq(s("lr"), s("0.01")),
        ],
        Some("auc"),
        10,
    );
    let request = both.request().unwrap();
    let filter = request.filter.unwrap();
    assert_eq!(filter, "metrics.auc > 0.9 AND params.lr = '0.01'");
    assert_eq!(request.order_by, ["metrics.auc DESC"]);
    assert_eq!(request.max_results, Some(10));
}

#[test]
fn ground_truth_reports_a_damaged_line_with_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        dir.path(),
        "bad.jsonl",
        "{\"kind\":\"experiment\",\"name\":\"e\"}\n{oops\n",
    );
    let err = ground_truth(&path, &search(vec![], None, 10)).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}
