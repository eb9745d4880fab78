//! The benchmark commands through the binary: `generate`, `bench` and
//! `bench-writers`, checking what they print.

mod cli_common;

use cli_common::run;

#[test]
fn generate_is_deterministic_and_importable() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    for out in [&a, &b] {
        let out = out.to_str().unwrap();
        run(
            None,
            &["generate", "--runs", "50", "--seed", "7", "--out", out],
        )
        .ok();
    }
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap());
    let runs = bytes
        .split(|&c| c == b'\n')
        .filter(|l| l.starts_with(b"{\"kind\":\"run\""))
        .count();
    assert_eq!(runs, 50);

    let store = dir.path().join("store");
    let summary = run(
        Some(&store),
        &["--format", "json", "import", a.to_str().unwrap()],
    )
    .ok();
    assert_eq!(summary.json()["runs"], 50);
}

#[test]
fn bench_verifies_every_query_and_reports_figures() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bench");
    let args = [
        "--format",
        "json",
        "bench",
        "--runs",
        "300",
        "--repeats",
        "2",
        "--dir",
    ];
    let mut args: Vec<&str> = args.to_vec();
    args.push(data.to_str().unwrap());
    let report = run(None, &args).ok().json();
    let queries = report["queries"].as_array().unwrap();
    assert!(queries.len() >= 8);
    assert!(queries.iter().all(|q| q["verified"] == true), "{report}");
    assert!(report["ingest_points_per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_writers_counts_every_point_of_every_process() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("writers");
    let args = [
        "--format",
        "json",
        "bench-writers",
        "--writers",
        "1,3",
        "--batches",
        "4",
    ];
    let rows = run(Some(&root), &args).ok().json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["writers"], 1);
    assert_eq!(rows[1]["points"], 3 * 4 * 1000);
}
