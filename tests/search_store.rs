//! MLflow's recorded search cases through the store's indexed search, and a
//! property test holding the indexed search to the reference evaluator.

mod common;

use std::collections::BTreeMap;

use common::cases::{self, CaseData, run_dataset_cases};
use common::prop::cases as prop_cases;
use proptest::prelude::*;
use runstore::query::search_runs_naive;
use runstore::{
    Durability, Experiment, LifecycleStage, Metric, MetricPoint, Options, Param, RunInfo,
    RunRecord, RunStatus, RunTag, SearchRequest, Store, ViewType,
};

fn store_with(dir: &std::path::Path, experiments: &[Experiment], runs: &[RunRecord]) -> Store {
    let options = Options {
        durability: Durability::None,
        ..Options::default()
    };
    let store = Store::open(dir, options).unwrap();
    for e in experiments {
        store.import_experiment(e).unwrap();
    }
    store.import_runs(runs).unwrap();
    store
}

/// A store whose first `frozen` runs went through a checkpoint (so they are
/// read from its image) before the rest were imported; then some of the
/// frozen runs are changed, so that their live copies shadow the image.
fn store_with_checkpoint(
    dir: &std::path::Path,
    experiments: &[Experiment],
    runs: &[RunRecord],
    frozen: usize,
    touch: u64,
) -> Store {
    let store = store_with(dir, experiments, &runs[..frozen]);
    store.checkpoint().unwrap();
    store.import_runs(&runs[frozen..]).unwrap();
    for (i, run) in runs[..frozen].iter().enumerate() {
        let id = &run.info.run_id;
        let pick = (touch.rotate_left(i as u32 % 64) ^ i as u64) % 9;
        // Writes to deleted runs are refused, as in MLflow; that is fine.
        let _ = match pick {
            0 => store.set_tag(id, RunTag::new("t", "x")),
            1 => store.delete_tag(id, "t"),
            2 => store.delete_run(id),
            3 => store.restore_run(id),
            4 => store.log_metric(id, Metric::new("m", 0.5, 2, 10)),
            5 => store.log_param(id, Param::new("p", "b")),
            _ => Ok(()),
        };
    }
    store
}

fn load_dataset(dir: &std::path::Path, data: &CaseData) -> Store {
    store_with(dir, &data.experiments, &data.runs)
}

#[test]
fn every_mlflow_case_passes_through_the_store() {
    let all = cases::load();
    let mut failures = Vec::new();
    for (key, data) in &all.datasets {
        let dir = tempfile::tempdir().unwrap();
        let store = load_dataset(&dir.path().join("s"), data);
        failures.extend(run_dataset_cases(&all, key, |req| store.search_runs(req)));

        // The same answers after a checkpoint and a reopen.
        store.close().unwrap();
        let store = Store::open(dir.path().join("s"), Options::read_only()).unwrap();
        failures.extend(
            run_dataset_cases(&all, key, |req| store.search_runs(req))
                .into_iter()
                .map(|f| format!("after reopen: {f}")),
        );
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn field_report_b35_paging_through_everything_returns_each_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<RunRecord> = (0..2_500).map(|i| random_run(i, i as u64 * 7919)).collect();
    let store = store_with(
        &dir.path().join("s"),
        &[experiment("1"), experiment("2")],
        &runs,
    );
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = store
            .search_runs(&SearchRequest {
                max_results: Some(1000),
                page_token: token.clone(),
                order_by: vec!["metrics.m DESC".into()],
                view_type: ViewType::All,
                ..SearchRequest::default()
            })
            .unwrap();
        pages += 1;
        seen.extend(page.runs.into_iter().map(|r| r.info.run_id));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(seen.len(), 2_500);
    assert_eq!(unique.len(), 2_500);
}

fn experiment(id: &str) -> Experiment {
    Experiment {
        experiment_id: id.into(),
        name: format!("e{id}"),
        artifact_location: String::new(),
        lifecycle_stage: LifecycleStage::Active,
        creation_time: Some(0),
        last_update_time: Some(0),
        tags: BTreeMap::new(),
    }
}

/// A run whose fields are drawn from small domains (so filters hit), from
/// a seed.
fn random_run(i: usize, seed: u64) -> RunRecord {
    let pick =
        |salt: u64, n: u64| (seed.wrapping_mul(6364136223846793005).wrapping_add(salt) >> 33) % n;
    let values = [0.0, 0.5, 1.0, -1.0, f64::NAN, f64::INFINITY, 2.5];
    let mut params = BTreeMap::new();
    let mut tags = BTreeMap::new();
    let mut metrics = BTreeMap::new();
    if pick(1, 4) != 0 {
        params.insert(
            "p".to_string(),
            ["a", "b", "A", "ab", ""][pick(2, 5) as usize].to_string(),
        );
    }
    if pick(3, 3) != 0 {
        tags.insert(
            "t".to_string(),
            ["x", "y%", "x_y", "X"][pick(4, 4) as usize].to_string(),
        );
    }
    tags.insert("mlflow.runName".to_string(), format!("n{}", pick(5, 6)));
    if pick(6, 5) != 0 {
        let value = values[pick(7, values.len() as u64) as usize];
        let point = MetricPoint {
            step: pick(8, 3) as i64,
            timestamp: 1,
            value,
        };
        metrics.insert("m".to_string(), vec![point]);
    }
    let status = [RunStatus::Running, RunStatus::Finished, RunStatus::Failed][pick(9, 3) as usize];
    RunRecord {
        info: RunInfo {
            run_id: format!("r{i:05}"),
            experiment_id: ["1", "2"][pick(10, 2) as usize].to_string(),
            run_name: format!("n{}", pick(5, 6)),
            user_id: ["alice", "bob"][pick(11, 2) as usize].to_string(),
            status,
            start_time: pick(12, 5) as i64 * 100,
            end_time: (pick(13, 2) == 0).then_some(1000),
            lifecycle_stage: if pick(14, 6) == 0 {
                LifecycleStage::Deleted
            } else {
                LifecycleStage::Active
            },
            artifact_uri: format!("file:///a/{i}"),
            deleted_time: None,
        },
        params,
        tags,
        metrics,
        inputs: vec![],
    }
}

fn clause() -> impl Strategy<Value = String> {
    let text = prop::sample::select(vec![
        "'a'", "'b'", "'A'", "'x'", "'X'", "'%'", "'a%'", "'x_y'", "'_'", "''", "'%a%'", "'%y%'",
        "'%b'", "'%x%y'",
    ]);
    let cmp = prop::sample::select(vec!["=", "!=", "LIKE", "ILIKE"]);
    let num_cmp = prop::sample::select(vec!["=", "!=", "<", "<=", ">", ">="]);
    let num = prop::sample::select(vec!["0", "0.5", "1", "-1", "2.5", "1e400", "-1e400", "100"]);
    prop_oneof![
        (cmp.clone(), text.clone()).prop_map(|(c, v)| format!("params.p {c} {v}")),
        (cmp.clone(), text.clone()).prop_map(|(c, v)| format!("tags.t {c} {v}")),
        (cmp, text).prop_map(|(c, v)| format!("attributes.run_name {c} {v}")),
        (num_cmp.clone(), num.clone()).prop_map(|(c, v)| format!("metrics.m {c} {v}")),
        (num_cmp, num).prop_map(|(c, v)| format!("attributes.start_time {c} {v}")),
        prop::sample::select(vec![
            "params.p IS NULL",
            "params.p IS NOT NULL",
            "tags.t IS NULL",
            "status = 'FINISHED'",
            "status != 'RUNNING'",
            "user_id ILIKE 'A%'",
            "run_id IN ('r00003', 'r00010', 'r00011')",
            "end_time > 10",
        ])
        .prop_map(str::to_string),
    ]
}

fn order_key() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "metrics.m",
        "params.p",
        "tags.t",
        "attributes.run_name",
        "status",
        "end_time",
        "start_time",
        "user_id",
    ]);
    (key, prop::bool::ANY).prop_map(|(k, asc)| format!("{k} {}", if asc { "ASC" } else { "DESC" }))
}

fn views() -> Vec<ViewType> {
    vec![ViewType::ActiveOnly, ViewType::DeletedOnly, ViewType::All]
}

fn experiment_lists() -> Vec<Vec<String>> {
    vec![
        vec![],
        vec!["1".to_string()],
        vec!["2".to_string(), "9".to_string()],
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(prop_cases(200)))]

    #[test]
    fn indexed_search_equals_the_reference_scan(
        seed in any::<u64>(),
        n in 1usize..120,
        clauses in prop::collection::vec(clause(), 0..4),
        order in prop::collection::vec(order_key(), 0..3),
        view in prop::sample::select(views()),
        experiments in prop::sample::select(experiment_lists()),
        max_results in 1i64..50,
        frozen in 0usize..120,
        touch in any::<u64>(),
    ) {
        let runs: Vec<RunRecord> =
            (0..n).map(|i| random_run(i, seed.wrapping_add(i as u64 * 0x9E37_79B9))).collect();
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_checkpoint(
            &dir.path().join("s"),
            &[experiment("1"), experiment("2")],
            &runs,
            frozen.min(n),
            touch,
        );
        let plain: Vec<runstore::Run> =
            runs.iter().map(|r| store.get_run(&r.info.run_id).unwrap()).collect();

        let mut order = order;
        order.dedup_by(|a, b| a.split(' ').next() == b.split(' ').next());
        let mut request = SearchRequest {
            experiment_ids: experiments,
            filter: Some(clauses.join(" AND ")),
            order_by: order,
            view_type: view,
            max_results: Some(max_results),
            page_token: None,
        };
        loop {
            let indexed = store.search_runs(&request);
            let naive = search_runs_naive(&plain, &request);
            match (&indexed, &naive) {
                (Ok(a), Ok(b)) => {
                    let ids = |p: &runstore::SearchPage| {
                        p.runs.iter().map(|r| r.info.run_id.clone()).collect::<Vec<_>>()
                    };
                    prop_assert_eq!(ids(a), ids(b));
                    prop_assert_eq!(&a.next_page_token, &b.next_page_token);
                    // The ids-only search answers the same page.
                    let id_page = store.search_run_ids(&request).unwrap();
                    prop_assert_eq!(&id_page.run_ids, &ids(a));
                    prop_assert_eq!(&id_page.next_page_token, &a.next_page_token);
                    match &a.next_page_token {
                        Some(t) => request.page_token = Some(t.clone()),
                        None => break,
                    }
                }
                (Err(a), Err(b)) => {
                    prop_assert_eq!(a.to_string(), b.to_string());
                    break;
                }
                _ => prop_assert!(
                    false,
                    "indexed {:?} vs naive {:?}",
                    indexed.is_ok(),
                    naive.is_ok()
                ),
            }
        }
    }
}

#[test]
fn a_write_between_pages_is_seen_by_the_next_page() {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<RunRecord> = (0..30).map(|i| random_run(i, i as u64 * 31)).collect();
    let store = store_with(
        &dir.path().join("s"),
        &[experiment("1"), experiment("2")],
        &runs,
    );
    let request = |token: Option<String>| SearchRequest {
        max_results: Some(10),
        view_type: ViewType::All,
        order_by: vec!["attributes.run_name ASC".into()],
        page_token: token,
        ..SearchRequest::default()
    };
    let first = store.search_runs(&request(None)).unwrap();
    let token = first.next_page_token.clone();
    // Page 2 twice: the second answer comes from the kept order.
    let second = store.search_runs(&request(token.clone())).unwrap();
    let again = store.search_runs(&request(token.clone())).unwrap();
    let ids = |p: &runstore::SearchPage| {
        p.runs
            .iter()
            .map(|r| r.info.run_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&second), ids(&again));

    // A run sorting first appears, so page 2 now starts one run earlier.
    let mut early = random_run(99, 7);
    early.info.run_name = "a-first".into();
    store.import_run(&early).unwrap();
    let after = store.search_runs(&request(token)).unwrap();
    let plain: Vec<runstore::Run> = store
        .run_ids()
        .unwrap()
        .iter()
        .map(|id| store.get_run(id).unwrap())
        .collect();
    let expected = search_runs_naive(&plain, &request(first.next_page_token)).unwrap();
    assert_eq!(ids(&after), ids(&expected));
    assert_ne!(ids(&after), ids(&second));
}

/// Keys with a value per run (a seed, a free-text note) keep a value-id
/// column instead of postings; searched in the run image, with some runs
/// changed after the checkpoint, they must agree with the reference scan.
#[test]
fn high_cardinality_keys_in_the_run_image_agree_with_the_scan() {
    let words = ["alpha", "drift", "gamma", "delta", "echo", "fox", "golf"];
    let runs: Vec<RunRecord> = (0..6000)
        .map(|i| {
            let mut run = random_run(i, i as u64 * 7919);
            run.params
                .insert("seed".into(), (i * 31 % 6007).to_string());
            let note = format!("note {i} {} {}", words[i % 7], words[(i / 7) % 7]);
            run.tags.insert("note".into(), note);
            run
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_checkpoint(
        &dir.path().join("s"),
        &[experiment("1"), experiment("2")],
        &runs,
        5000,
        0x5eed,
    );
    for run in runs.iter().step_by(97).take(20) {
        let _ = store.set_tag(&run.info.run_id, RunTag::new("note", "note changed drift"));
    }
    let plain: Vec<runstore::Run> = runs
        .iter()
        .map(|r| store.get_run(&r.info.run_id).unwrap())
        .collect();
    for filter in [
        "tags.note LIKE '%drift%'",
        "tags.note LIKE '%drift'",
        "tags.note LIKE 'note 1%'",
        "tags.note ILIKE '%DRIFT%'",
        "tags.note = 'note 17 delta gamma'",
        "tags.note = 'note changed drift'",
        "tags.note != 'note 17 delta gamma'",
        "params.seed = '42'",
        "params.seed LIKE '4_'",
        "params.seed = '31' AND tags.note LIKE '%drift%'",
    ] {
        for view_type in [ViewType::All, ViewType::ActiveOnly] {
            let request = SearchRequest {
                filter: Some(filter.to_string()),
                view_type,
                max_results: Some(50_000),
                ..SearchRequest::default()
            };
            let indexed = store.search_run_ids(&request).unwrap().run_ids;
            let naive: Vec<String> = search_runs_naive(&plain, &request)
                .unwrap()
                .runs
                .into_iter()
                .map(|r| r.info.run_id)
                .collect();
            assert_eq!(indexed, naive, "{filter} ({view_type:?})");
            if view_type == ViewType::All {
                assert!(!indexed.is_empty(), "{filter} found nothing");
            }
        }
    }
}
