//! MLflow's recorded search cases (`tests/data/search_cases.json`): loading
//! the datasets as runstore records, turning a case into a `SearchRequest`,
//! and checking a result against what MLflow 3.18 answered.
//!
//! `run_dataset_cases` takes any search function, so the same cases can run
//! through the naive evaluator or through a `Store` filled with the dataset.

use std::collections::BTreeMap;

use runstore::model::CONTEXT_TAG;
use runstore::query::token::decode_token;
use runstore::{
    Dataset, DatasetInput, Experiment, InputTag, LifecycleStage, MetricPoint, Result, Run, RunInfo,
    RunRecord, RunStatus, SearchPage, SearchRequest, StringMap, ViewType,
};
use serde_json::Value as Json;

/// Every dataset and case of the file.
pub struct Cases {
    pub datasets: BTreeMap<String, CaseData>,
    pub cases: Vec<Case>,
}

/// One dataset: its experiments and runs.
pub struct CaseData {
    pub key: String,
    pub experiments: Vec<Experiment>,
    pub runs: Vec<RunRecord>,
}

/// What MLflow answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    Ids {
        ids: Vec<String>,
        next_offset: Option<usize>,
    },
    Error {
        code: String,
        message_contains: String,
    },
}

/// One case.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub dataset: String,
    pub request: SearchRequest,
    pub expected: Expected,
}

/// Loads `tests/data/search_cases.json`.
pub fn load() -> Cases {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/search_cases.json");
    let text = std::fs::read_to_string(path).unwrap();
    let json: Json = serde_json::from_str(&text).unwrap();

    let datasets = json["datasets"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, d)| (key.clone(), dataset(key, d)))
        .collect();
    let cases = json["cases"].as_array().unwrap().iter().map(case).collect();
    Cases { datasets, cases }
}

/// `E3` -> `"3"`.
pub fn experiment_id(key: &str) -> String {
    key.trim_start_matches('E').to_string()
}

fn artifact_root(exp_key: &str) -> String {
    format!("file:///tmp/{}", exp_key.to_lowercase())
}

fn dataset(key: &str, d: &Json) -> CaseData {
    let experiments = d["experiments"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, name)| Experiment {
            experiment_id: experiment_id(k),
            name: name.as_str().unwrap().to_string(),
            artifact_location: artifact_root(k),
            lifecycle_stage: LifecycleStage::Active,
            creation_time: Some(0),
            last_update_time: Some(0),
            tags: BTreeMap::new(),
        })
        .collect();
    let runs = d["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(run_record)
        .collect();
    CaseData {
        key: key.to_string(),
        experiments,
        runs,
    }
}

fn strings(j: &Json) -> BTreeMap<String, String> {
    j.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn metric_value(j: &Json) -> f64 {
    match j.as_str() {
        Some("nan") => f64::NAN,
        Some("inf") => f64::INFINITY,
        Some("-inf") => f64::NEG_INFINITY,
        Some(other) => panic!("unknown metric value {other}"),
        None => j.as_f64().unwrap(),
    }
}

fn run_record(r: &Json) -> RunRecord {
    let id = r["id"].as_str().unwrap().to_string();
    let exp = r["exp"].as_str().unwrap();
    let name = r["name"].as_str().unwrap().to_string();
    let deleted = r["deleted"].as_bool().unwrap_or(false);

    let mut tags = strings(&r["tags"]);
    let deleted_tags: Vec<&str> = r["deleted_tags"]
        .as_array()
        .map(|a| a.iter().map(|t| t.as_str().unwrap()).collect())
        .unwrap_or_default();
    if !deleted_tags.contains(&"mlflow.runName") {
        tags.insert("mlflow.runName".into(), name.clone());
    }

    let metrics = r["metrics"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, history)| {
            let points = history
                .as_array()
                .unwrap()
                .iter()
                .map(|p| MetricPoint {
                    step: p[0].as_i64().unwrap(),
                    timestamp: p[1].as_i64().unwrap(),
                    value: metric_value(&p[2]),
                })
                .collect();
            (k.clone(), points)
        })
        .collect();

    let inputs = r["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| DatasetInput {
            dataset: Dataset {
                name: d[0].as_str().unwrap().to_string(),
                digest: d[1].as_str().unwrap().to_string(),
                source_type: "code".into(),
                source: "{}".into(),
                schema: None,
                profile: None,
            },
            tags: d[2]
                .as_str()
                .map(|c| InputTag {
                    key: CONTEXT_TAG.into(),
                    value: c.to_string(),
                })
                .into_iter()
                .collect(),
        })
        .collect();

    RunRecord {
        info: RunInfo {
            artifact_uri: format!("{}/{id}/artifacts", artifact_root(exp)),
            run_id: id,
            experiment_id: experiment_id(exp),
            run_name: name,
            user_id: r["user"].as_str().unwrap().to_string(),
            status: RunStatus::parse(r["status"].as_str().unwrap()).unwrap(),
            start_time: r["start"].as_i64().unwrap(),
            end_time: r["end"].as_i64(),
            lifecycle_stage: if deleted {
                LifecycleStage::Deleted
            } else {
                LifecycleStage::Active
            },
            deleted_time: deleted.then_some(0),
        },
        params: strings(&r["params"]),
        tags,
        metrics,
        inputs,
    }
}

/// The run as `get_run` shows it: the latest point of each metric.
pub fn to_run(record: &RunRecord) -> Run {
    let metrics = record
        .metrics
        .iter()
        .filter_map(|(k, points)| {
            let latest = points.iter().max_by(|a, b| a.latest_cmp(b))?;
            Some((k.clone(), *latest))
        })
        .collect();
    Run {
        info: record.info.clone(),
        params: StringMap::from(&record.params),
        tags: StringMap::from(&record.tags),
        metrics,
        inputs: record.inputs.clone(),
    }
}

impl CaseData {
    /// Every run of the dataset as a `Run`.
    pub fn runs(&self) -> Vec<Run> {
        self.runs.iter().map(to_run).collect()
    }
}

fn case(c: &Json) -> Case {
    let expected = match c.get("expected_error").filter(|e| !e.is_null()) {
        Some(e) => Expected::Error {
            code: e["code"].as_str().unwrap().to_string(),
            message_contains: e["message_contains"].as_str().unwrap().to_string(),
        },
        None => Expected::Ids {
            ids: c["expected_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_string())
                .collect(),
            next_offset: c["expected_next_page_token"]["offset"]
                .as_u64()
                .map(|n| n as usize),
        },
    };
    let request = SearchRequest {
        experiment_ids: c["experiments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| experiment_id(e.as_str().unwrap()))
            .collect(),
        filter: c["filter"].as_str().map(str::to_string),
        order_by: c["order_by"]
            .as_array()
            .map(|a| a.iter().map(|o| o.as_str().unwrap().to_string()).collect())
            .unwrap_or_default(),
        view_type: ViewType::parse(c["view_type"].as_str().unwrap()).unwrap(),
        max_results: c["max_results"].as_i64(),
        page_token: c["page_token"].as_str().map(str::to_string),
    };
    Case {
        id: c["id"].as_str().unwrap().to_string(),
        dataset: c["dataset"].as_str().unwrap().to_string(),
        request,
        expected,
    }
}

/// Compares a search result with MLflow's answer: ids in order, the offset
/// of the next token (ours or MLflow's form), or the error code and text.
pub fn check_case(case: &Case, result: Result<SearchPage>) -> Result<(), String> {
    match (&case.expected, result) {
        (Expected::Ids { ids, next_offset }, Ok(page)) => {
            let got: Vec<&str> = page.runs.iter().map(|r| r.info.run_id.as_str()).collect();
            if got != *ids {
                return Err(format!("ids {got:?}, expected {ids:?}"));
            }
            let next = match &page.next_page_token {
                Some(t) => Some(
                    decode_token(t)
                        .map_err(|e| format!("bad token: {e}"))?
                        .offset,
                ),
                None => None,
            };
            if next != *next_offset {
                return Err(format!("next offset {next:?}, expected {next_offset:?}"));
            }
            Ok(())
        }
        (Expected::Ids { ids, .. }, Err(e)) => Err(format!("error {e}, expected ids {ids:?}")),
        (
            Expected::Error {
                code,
                message_contains,
            },
            Err(e),
        ) => {
            if e.code().as_str() != code {
                return Err(format!("code {} ({e}), expected {code}", e.code()));
            }
            if !e.to_string().contains(message_contains.as_str()) {
                return Err(format!(
                    "message {e:?}, expected to contain {message_contains:?}"
                ));
            }
            Ok(())
        }
        (Expected::Error { code, .. }, Ok(page)) => {
            let got: Vec<&str> = page.runs.iter().map(|r| r.info.run_id.as_str()).collect();
            Err(format!("ids {got:?}, expected error {code}"))
        }
    }
}

/// Runs every case of `dataset` through `search`; returns one line per
/// failing case (`C123: reason`).
pub fn run_dataset_cases(
    cases: &Cases,
    dataset: &str,
    search: impl Fn(&SearchRequest) -> Result<SearchPage>,
) -> Vec<String> {
    cases
        .cases
        .iter()
        .filter(|c| c.dataset == dataset)
        .filter_map(|c| {
            check_case(c, search(&c.request))
                .err()
                .map(|why| format!("{}: {why}", c.id))
        })
        .collect()
}
