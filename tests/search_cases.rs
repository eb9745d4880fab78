//! MLflow's recorded search cases and the search-related field reports,
//! run through the naive evaluator.

mod common;

use std::collections::BTreeMap;

use common::cases::{self, run_dataset_cases};
use runstore::query::{fuzz_filter, search_experiments_naive, search_runs_naive};
use runstore::{
    ErrorCode, Experiment, LifecycleStage, MetricMap, MetricPoint, Run, RunInfo, RunStatus,
    SearchRequest, StringMap,
};

#[test]
fn every_mlflow_case_passes() {
    let all = cases::load();
    assert_eq!(all.cases.len(), 222);
    assert!(
        all.cases
            .iter()
            .all(|c| all.datasets.contains_key(&c.dataset))
    );
    let mut failures = Vec::new();
    for (key, data) in &all.datasets {
        let runs = data.runs();
        failures.extend(run_dataset_cases(&all, key, |req| {
            search_runs_naive(&runs, req)
        }));
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A bare active run of experiment "1".
fn run(id: &str, start: i64) -> Run {
    Run {
        info: RunInfo {
            run_id: id.into(),
            experiment_id: "1".into(),
            run_name: id.into(),
            user_id: "u".into(),
            status: RunStatus::Running,
            start_time: start,
            end_time: None,
            lifecycle_stage: LifecycleStage::Active,
            artifact_uri: format!("file:///tmp/1/{id}/artifacts"),
            deleted_time: None,
        },
        params: StringMap::new(),
        tags: StringMap::new(),
        metrics: MetricMap::new(),
        inputs: Vec::new(),
    }
}

fn metric(run: &mut Run, key: &str, value: f64) {
    let point = MetricPoint {
        step: 0,
        timestamp: 1,
        value,
    };
    run.metrics.insert(key, point);
}

fn ids(runs: &[Run], filter: &str, order_by: &[&str]) -> Vec<String> {
    let req = SearchRequest {
        filter: Some(filter.into()),
        order_by: order_by.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let page = search_runs_naive(runs, &req).unwrap();
    page.runs.into_iter().map(|r| r.info.run_id).collect()
}

#[test]
fn b01_quoted_metric_keys_with_spaces() {
    let mut r1 = run("r1", 1);
    let mut r2 = run("r2", 2);
    metric(&mut r1, "avg model score", 0.7);
    metric(&mut r2, "avg model score", 0.3);
    let runs = [r1, r2];
    assert_eq!(ids(&runs, "metrics.`avg model score` > 0.5", &[]), ["r1"]);
    assert_eq!(ids(&runs, "metrics.\"avg model score\" > 0.5", &[]), ["r1"]);
}

#[test]
fn b03_quotes_inside_filter_literals() {
    let mut r1 = run("r1", 1);
    r1.params.insert("p", "it's");
    let runs = [r1];
    assert_eq!(ids(&runs, "params.p = \"it's\"", &[]), ["r1"]);
    assert!(ids(&runs, "params.p = 'it''s'", &[]).is_empty());
    assert!(ids(&runs, "params.p = 'it\\'s'", &[]).is_empty());
    assert_eq!(ids(&runs, "params.p LIKE 'it_s'", &[]), ["r1"]);

    let exp = |id: &str, name: &str| Experiment {
        experiment_id: id.into(),
        name: name.into(),
        artifact_location: String::new(),
        lifecycle_stage: LifecycleStage::Active,
        creation_time: Some(1),
        last_update_time: Some(1),
        tags: BTreeMap::new(),
    };
    let exps = [exp("1", "it's"), exp("2", "x' OR name = 'y"), exp("3", "y")];
    let search = |filter: &str| {
        let req = runstore::ExperimentSearchRequest {
            filter: Some(filter.into()),
            ..Default::default()
        };
        let page = search_experiments_naive(&exps, &req).unwrap();
        page.experiments
            .into_iter()
            .map(|e| e.experiment_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(search("name = \"it's\""), ["1"]);
    assert_eq!(search("name = \"x' OR name = 'y\""), ["2"]);
}

#[test]
fn b05_like_wildcards_are_sql_wildcards() {
    let runs: Vec<Run> = ["50%", "500", "a_b", "axb"]
        .iter()
        .enumerate()
        .map(|(i, note)| {
            let mut r = run(&format!("r{i}"), 10 - i as i64);
            r.tags.insert("note", note);
            r
        })
        .collect();
    assert_eq!(ids(&runs, "tags.note LIKE 'a_b'", &[]), ["r2", "r3"]);
    assert_eq!(ids(&runs, "tags.note LIKE '50%'", &[]), ["r0", "r1"]);
    assert_eq!(ids(&runs, "tags.note = 'a_b'", &[]), ["r2"]);
    assert_eq!(
        ids(&runs, "tags.note LIKE '%\\%'", &[]),
        Vec::<String>::new()
    );
}

#[test]
fn b07_metric_keys_are_case_sensitive() {
    let mut r1 = run("r1", 1);
    metric(&mut r1, "loss", 1.0);
    metric(&mut r1, "Loss", 2.0);
    let runs = [r1];
    assert_eq!(ids(&runs, "metrics.loss = 1", &[]), ["r1"]);
    assert!(ids(&runs, "metrics.Loss = 1", &[]).is_empty());
    assert_eq!(ids(&runs, "metrics.Loss = 2", &[]), ["r1"]);
}

#[test]
fn b11_runs_missing_the_order_key_come_last() {
    let mut runs: Vec<Run> = (1..=5).map(|i| run(&format!("r{i}"), i)).collect();
    runs[0].params.insert("p", "b");
    runs[2].params.insert("p", "a");
    assert_eq!(
        ids(&runs, "", &["params.p ASC"]),
        ["r3", "r1", "r5", "r4", "r2"]
    );
    assert_eq!(
        ids(&runs, "", &["params.p DESC"]),
        ["r1", "r3", "r5", "r4", "r2"]
    );
}

#[test]
fn b15_tokens_are_bound_to_their_query() {
    let mut runs: Vec<Run> = (0..150).map(|i| run(&format!("a{i:03}"), i)).collect();
    for i in 0..5 {
        let mut r = run(&format!("b{i}"), i);
        r.info.experiment_id = "2".into();
        runs.push(r);
    }
    let req = |exp: &str, token: Option<String>| SearchRequest {
        experiment_ids: vec![exp.into()],
        max_results: Some(100),
        page_token: token,
        ..Default::default()
    };

    let first = search_runs_naive(&runs, &req("1", None)).unwrap();
    assert_eq!(first.runs.len(), 100);
    let token = first.next_page_token.unwrap();

    let err = search_runs_naive(&runs, &req("2", Some(token.clone()))).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameterValue);
    assert_eq!(
        search_runs_naive(&runs, &req("2", None))
            .unwrap()
            .runs
            .len(),
        5
    );

    let second = search_runs_naive(&runs, &req("1", Some(token))).unwrap();
    assert_eq!(second.runs.len(), 50);
    assert!(second.next_page_token.is_none());
}

/// Seeds: every filter and order_by of the cases, each prefix of them, and
/// copies with single bytes flipped; `fuzz_filter` must not panic on any.
#[test]
fn fuzz_filter_survives_the_seed_corpus() {
    let all = cases::load();
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for case in &all.cases {
        seeds.extend(case.request.filter.iter().map(|f| f.as_bytes().to_vec()));
        seeds.extend(case.request.order_by.iter().map(|o| o.as_bytes().to_vec()));
    }
    let mut inputs = Vec::new();
    for seed in &seeds {
        for end in 0..=seed.len() {
            inputs.push(seed[..end].to_vec());
        }
        for i in 0..seed.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut mutated = seed.clone();
                mutated[i] ^= flip;
                inputs.push(mutated);
            }
        }
    }
    assert!(inputs.len() > 10_000);
    for input in &inputs {
        fuzz_filter(input);
    }
}
