//! The standard queries of the benchmark and their ground truth.
//!
//! Filters are built from [`Condition`]s rather than parsed, so the ground
//! truth is a plain scan of the workload file that evaluates a handful of
//! obvious predicates and sorts with MLflow's order: it shares no code with
//! the engine it checks.

use std::cmp::Ordering;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::import::jsonl::{JsonLine, JsonlReader, PointLine, RunLine};
use crate::model::{LifecycleStage, MetricPoint};
use crate::query::SearchRequest;

/// One clause of a filter, in the few forms the standard queries use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    /// `params.KEY = 'VALUE'`
    ParamEq(String, String),
    /// `tags.KEY = 'VALUE'`
    TagEq(String, String),
    /// `tags.KEY LIKE '%WORD%'`
    TagContains(String, String),
    /// `metrics.KEY > X` on the latest value
    MetricGt(String, f64),
    /// `metrics.KEY < X` on the latest value
    MetricLt(String, f64),
}

/// What a query asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QueryKind {
    /// `search_runs` over every experiment: the conditions ANDed, ordered by
    /// `order_by_desc` (a metric, descending) or MLflow's default order.
    /// With `all_pages`, every page of `page_size` runs is fetched.
    Search {
        conditions: Vec<Condition>,
        order_by_desc: Option<String>,
        page_size: i64,
        all_pages: bool,
    },
    /// `metric_history(run, key)` for each run.
    History { run_ids: Vec<String>, key: String },
}

/// A named standard query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Query {
    pub name: String,
    pub kind: QueryKind,
}

/// The right answer to a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Run ids in result order (all pages concatenated).
    RunIds(Vec<String>),
    /// One history per run, in MLflow's history order (timestamp, step, value).
    Histories(Vec<Vec<MetricPoint>>),
}

impl Condition {
    /// The clause in MLflow's filter language.
    pub fn to_filter(&self) -> String {
        match self {
            Condition::ParamEq(k, v) => format!("params.{k} = '{v}'"),
            Condition::TagEq(k, v) => format!("tags.{k} = '{v}'"),
            Condition::TagContains(k, w) => format!("tags.{k} LIKE '%{w}%'"),
            Condition::MetricGt(k, x) => format!("metrics.{k} > {x}"),
            Condition::MetricLt(k, x) => format!("metrics.{k} < {x}"),
        }
    }

    /// Whether `run` satisfies the clause. A missing key never does; a NaN
    /// latest value fails every comparison (IEEE).
    pub fn matches(&self, run: &RunLine) -> bool {
        match self {
            Condition::ParamEq(k, v) => run.params.get(k) == Some(v),
            Condition::TagEq(k, v) => run.tags.get(k) == Some(v),
            Condition::TagContains(k, w) => run.tags.get(k).is_some_and(|t| t.contains(w)),
            Condition::MetricGt(k, x) => latest(run, k).is_some_and(|v| v > *x),
            Condition::MetricLt(k, x) => latest(run, k).is_some_and(|v| v < *x),
        }
    }
}

impl Query {
    /// The first page's request (`None` for history queries).
    pub fn request(&self) -> Option<SearchRequest> {
        let QueryKind::Search {
            conditions,
            order_by_desc,
            page_size,
            ..
        } = &self.kind
        else {
            return None;
        };
        let filter: Vec<String> = conditions.iter().map(Condition::to_filter).collect();
        Some(SearchRequest {
            filter: (!filter.is_empty()).then(|| filter.join(" AND ")),
            order_by: order_by_desc
                .iter()
                .map(|k| format!("metrics.{k} DESC"))
                .collect(),
            max_results: Some(*page_size),
            ..SearchRequest::default()
        })
    }
}

/// The standard queries over the workload at `workload` (its first active
/// runs are the subjects of the history queries).
pub fn standard_queries(workload: &Path) -> Result<Vec<Query>> {
    let subjects = first_active_run_ids(workload, 100)?;
    let search = |name: &str, conditions: Vec<Condition>| Query {
        name: name.into(),
        kind: QueryKind::Search {
            conditions,
            order_by_desc: None,
            page_size: 1000,
            all_pages: false,
        },
    };
    let s = |x: &str| x.to_string();

    Ok(vec![
        search(
            "param_eq",
            vec![Condition::ParamEq(s("model_type"), s("GradientBoosting"))],
        ),
        search(
            "metric_range_and_tag",
            vec![
                Condition::MetricGt(s("auc"), 0.9),
                Condition::TagEq(s("team"), s("vision")),
            ],
        ),
        search(
            "tag_param_metric",
            vec![
                Condition::TagEq(s("subject"), s("math")),
                Condition::ParamEq(s("learning_rate"), s("0.01")),
                Condition::MetricLt(s("loss"), 0.3),
            ],
        ),
        search(
            "note_like",
            vec![Condition::TagContains(s("note"), s("drift"))],
        ),
        Query {
            name: "top10_auc".into(),
            kind: QueryKind::Search {
                conditions: vec![],
                order_by_desc: Some(s("auc")),
                page_size: 10,
                all_pages: false,
            },
        },
        Query {
            name: "page_all_1000".into(),
            kind: QueryKind::Search {
                conditions: vec![],
                order_by_desc: None,
                page_size: 1000,
                all_pages: true,
            },
        },
        Query {
            name: "history_one_run".into(),
            kind: QueryKind::History {
                run_ids: subjects.iter().take(1).cloned().collect(),
                key: s("loss"),
            },
        },
        Query {
            name: "history_100_runs".into(),
            kind: QueryKind::History {
                run_ids: subjects,
                key: s("loss"),
            },
        },
    ])
}

/// The expected answer of one query, by a scan of the workload file.
pub fn ground_truth(workload: &Path, query: &Query) -> Result<Expected> {
    let mut all = ground_truths(workload, std::slice::from_ref(query))?;
    all.pop()
        .ok_or_else(|| Error::Internal("no ground truth computed".into()))
}

/// The expected answers of several queries in one scan of the file.
pub fn ground_truths(workload: &Path, queries: &[Query]) -> Result<Vec<Expected>> {
    let mut hits: Vec<Vec<Hit>> = vec![Vec::new(); queries.len()];
    let mut histories: Vec<Vec<Option<Vec<MetricPoint>>>> = queries
        .iter()
        .map(|q| match &q.kind {
            QueryKind::History { run_ids, .. } => vec![None; run_ids.len()],
            QueryKind::Search { .. } => Vec::new(),
        })
        .collect();

    for_each_run(workload, |run| {
        for (i, query) in queries.iter().enumerate() {
            collect(query, run, &mut hits[i], &mut histories[i]);
        }
    })?;

    queries
        .iter()
        .zip(hits)
        .zip(histories)
        .map(|((query, hits), histories)| finish(query, hits, histories))
        .collect()
}

/// A run that passed a search query's filter, with what it sorts by.
#[derive(Debug, Clone)]
struct Hit {
    run_id: String,
    start_time: i64,
    key: SortValue,
}

/// MLflow places real values first (in the requested direction), then NaN,
/// then missing, whatever the direction.
#[derive(Debug, Clone, Copy)]
enum SortValue {
    Real(f64),
    NaN,
    Missing,
}

fn collect(
    query: &Query,
    run: &RunLine,
    hits: &mut Vec<Hit>,
    histories: &mut [Option<Vec<MetricPoint>>],
) {
    let run_id = run.run_id.clone().unwrap_or_default();
    match &query.kind {
        QueryKind::Search {
            conditions,
            order_by_desc,
            ..
        } => {
            let active = run.lifecycle_stage != Some(LifecycleStage::Deleted);
            if active && conditions.iter().all(|c| c.matches(run)) {
                let key = match order_by_desc.as_ref().map(|k| latest(run, k)) {
                    None | Some(None) => SortValue::Missing,
                    Some(Some(v)) if v.is_nan() => SortValue::NaN,
                    Some(Some(v)) => SortValue::Real(v),
                };
                let start_time = run.start_time;
                hits.push(Hit {
                    run_id,
                    start_time,
                    key,
                });
            }
        }
        QueryKind::History { run_ids, key } => {
            for (slot, wanted) in histories.iter_mut().zip(run_ids) {
                if *wanted == run_id {
                    *slot = Some(history(run, key));
                }
            }
        }
    }
}

fn finish(
    query: &Query,
    mut hits: Vec<Hit>,
    histories: Vec<Option<Vec<MetricPoint>>>,
) -> Result<Expected> {
    match &query.kind {
        QueryKind::Search {
            page_size,
            all_pages,
            ..
        } => {
            hits.sort_by(mlflow_order_desc);
            if !all_pages {
                hits.truncate(usize::try_from(*page_size).unwrap_or(usize::MAX));
            }
            Ok(Expected::RunIds(
                hits.into_iter().map(|h| h.run_id).collect(),
            ))
        }
        QueryKind::History { run_ids, .. } => {
            let found: Option<Vec<_>> = histories.into_iter().collect();
            found.map(Expected::Histories).ok_or_else(|| {
                Error::not_found(format!("a run of {run_ids:?} is not in the workload"))
            })
        }
    }
}

/// The order key descending (real values, then NaN, then missing), then
/// start_time descending, then run_id ascending.
fn mlflow_order_desc(a: &Hit, b: &Hit) -> Ordering {
    let rank = |v: &SortValue| match v {
        SortValue::Real(_) => 0,
        SortValue::NaN => 1,
        SortValue::Missing => 2,
    };
    let by_key = match (a.key, b.key) {
        (SortValue::Real(x), SortValue::Real(y)) => y.total_cmp(&x),
        (x, y) => rank(&x).cmp(&rank(&y)),
    };
    by_key
        .then(b.start_time.cmp(&a.start_time))
        .then(a.run_id.cmp(&b.run_id))
}

/// The latest value of a metric: the point with the greatest (step,
/// timestamp, value), where a NaN value compares as 0 (MLflow's SQL store
/// compares its stored placeholder).
pub fn latest(run: &RunLine, key: &str) -> Option<f64> {
    let as_zero = |v: f64| if v.is_nan() { 0.0 } else { v };
    let rank = |p: &PointLine| (p.step, p.timestamp);
    run.metrics
        .get(key)?
        .iter()
        .max_by(|a, b| {
            rank(a)
                .cmp(&rank(b))
                .then(as_zero(a.value.0).total_cmp(&as_zero(b.value.0)))
        })
        .map(|p| p.value.0)
}

/// Every point of a metric in MLflow's history order (timestamp, step, value).
fn history(run: &RunLine, key: &str) -> Vec<MetricPoint> {
    let mut points: Vec<MetricPoint> = run
        .metrics
        .get(key)
        .into_iter()
        .flatten()
        .map(|p| MetricPoint {
            step: p.step,
            timestamp: p.timestamp,
            value: p.value.0,
        })
        .collect();
    points.sort_by(|a, b| {
        (a.timestamp, a.step)
            .cmp(&(b.timestamp, b.step))
            .then(a.value.total_cmp(&b.value))
    });
    points
}

/// Calls `visit` with each run line of the file, in file order.
fn for_each_run(workload: &Path, mut visit: impl FnMut(&RunLine)) -> Result<()> {
    let file = File::open(workload).map_err(|e| Error::io(workload, e))?;
    for line in JsonlReader::new(BufReader::new(file), workload) {
        if let (_, JsonLine::Run(run)) = line? {
            visit(&run);
        }
    }
    Ok(())
}

/// The ids of the first `n` active runs of the file.
fn first_active_run_ids(workload: &Path, n: usize) -> Result<Vec<String>> {
    let file = File::open(workload).map_err(|e| Error::io(workload, e))?;
    let mut ids = Vec::new();
    for line in JsonlReader::new(BufReader::new(file), workload) {
        if ids.len() == n {
            break;
        }
        if let (_, JsonLine::Run(run)) = line?
            && run.lifecycle_stage != Some(LifecycleStage::Deleted)
            && let Some(id) = run.run_id
        {
            ids.push(id);
        }
    }
    Ok(ids)
}
