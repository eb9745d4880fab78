//! The fixtures' truth-file shape (`fixtures/README.md`), built from model
//! values, and a field-by-field comparison of two such documents.
//!
//! It lets a test (or `runstore check-import`) say exactly which field of
//! which run differs from what MLflow itself returned.

use serde_json::{Map, Value, json};

use crate::model::{DatasetInput, Experiment, MetricPoint, RunRecord};

/// The truth document of `experiments` and `runs`, each run with its
/// artifact files as `(path, size)`. Runs are sorted by id; the `summary`
/// block of the fixtures is not produced.
pub fn truth_json(experiments: &[Experiment], runs: &[(RunRecord, Vec<(String, u64)>)]) -> Value {
    let mut experiments: Vec<&Experiment> = experiments.iter().collect();
    experiments.sort_by(|a, b| a.experiment_id.cmp(&b.experiment_id));
    let mut runs: Vec<&(RunRecord, Vec<(String, u64)>)> = runs.iter().collect();
    runs.sort_by(|a, b| a.0.info.run_id.cmp(&b.0.info.run_id));

    json!({
        "experiments": experiments.into_iter().map(experiment_json).collect::<Vec<_>>(),
        "runs": runs.into_iter().map(|(r, a)| run_json(r, a)).collect::<Vec<_>>(),
    })
}

/// A float as the truth files write it: NaN and infinities as strings.
pub fn float_json(v: f64) -> Value {
    match v {
        v if v.is_nan() => json!("NaN"),
        v if v == f64::INFINITY => json!("Infinity"),
        v if v == f64::NEG_INFINITY => json!("-Infinity"),
        v => json!(v),
    }
}

fn experiment_json(e: &Experiment) -> Value {
    json!({
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage.as_str(),
        "creation_time": e.creation_time,
        "last_update_time": e.last_update_time,
        "tags": e.tags,
    })
}

fn run_json(run: &RunRecord, artifacts: &[(String, u64)]) -> Value {
    let info = &run.info;
    let latest: Map<String, Value> = run
        .metrics
        .iter()
        .filter_map(|(key, points)| {
            let best = points.iter().max_by(|a, b| a.latest_cmp(b))?;
            Some((key.clone(), float_json(best.value)))
        })
        .collect();
    let history: Map<String, Value> = run
        .metrics
        .iter()
        .map(|(key, points)| (key.clone(), points.iter().map(point_json).collect()))
        .collect();

    json!({
        "info": {
            "run_id": info.run_id,
            "experiment_id": info.experiment_id,
            "run_name": info.run_name,
            "user_id": info.user_id,
            "status": info.status.as_str(),
            "start_time": info.start_time,
            "end_time": info.end_time,
            "lifecycle_stage": info.lifecycle_stage.as_str(),
            "artifact_uri": info.artifact_uri,
        },
        "params": run.params,
        "tags": run.tags,
        "metrics": latest,
        "metric_history": history,
        "dataset_inputs": run.inputs.iter().map(input_json).collect::<Vec<_>>(),
        "artifacts": artifacts
            .iter()
            .map(|(path, size)| json!({"path": path, "file_size": size}))
            .collect::<Vec<_>>(),
    })
}

fn point_json(p: &MetricPoint) -> Value {
    json!({"step": p.step, "timestamp": p.timestamp, "value": float_json(p.value)})
}

fn input_json(input: &DatasetInput) -> Value {
    let d = &input.dataset;
    json!({
        "dataset": {
            "name": d.name,
            "digest": d.digest,
            "source_type": d.source_type,
            "source": d.source,
            "schema": d.schema,
            "profile": d.profile,
        },
        "tags": input.tags.iter()
            .map(|t| json!({"key": t.key, "value": t.value}))
            .collect::<Vec<_>>(),
    })
}

/// Every path where `actual` differs from `expected`, with both values.
/// Numbers are equal when they are the same f64 (`1` equals `1.0`).
pub fn diff_json(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_at("$", expected, actual, &mut out);
    out
}

fn diff_at(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                let sub = format!("{path}.{key}");
                match a.get(key) {
                    Some(av) => diff_at(&sub, ev, av, out),
                    None => out.push(format!("{sub}: missing (expected {ev})")),
                }
            }
            for key in a.keys().filter(|k| !e.contains_key(*k)) {
                out.push(format!("{path}.{key}: unexpected field"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                out.push(format!("{path}: {} items, expected {}", a.len(), e.len()));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff_at(&format!("{path}[{i}]"), ev, av, out);
            }
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => {}
        (e, a) if e == a => {}
        (e, a) => out.push(format!("{path}: {a}, expected {e}")),
    }
}

/// The truth document of everything in `store`, read back through the
/// public API: what a fixture import is compared against. Latest metric
/// values come from `get_run` and histories from `metric_history`, so the
/// store's own rules are what is checked.
pub fn store_truth_json(store: &crate::Store) -> crate::Result<Value> {
    let experiments = store.list_experiments()?;
    let mut runs = Vec::new();
    let mut latest = Map::new();
    for run_id in store.run_ids()? {
        let run = store.get_run(&run_id)?;
        let mut record = store.run_record(&run_id)?;
        for (key, points) in record.metrics.iter_mut() {
            *points = store.metric_history(&run_id, key)?;
        }
        let values: Map<String, Value> = run
            .metrics
            .iter()
            .map(|(k, p)| (k.to_string(), float_json(p.value)))
            .collect();
        latest.insert(run_id.clone(), Value::Object(values));
        let artifacts = store
            .list_artifact_files(&run_id)?
            .into_iter()
            .map(|a| (a.path, a.file_size.unwrap_or(0)))
            .collect();
        runs.push((record, artifacts));
    }
    let mut doc = truth_json(&experiments, &runs);
    if let Some(runs) = doc.get_mut("runs").and_then(Value::as_array_mut) {
        for run in runs {
            let id = run["info"]["run_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if let Some(values) = latest.remove(&id) {
                run["metrics"] = values;
            }
        }
    }
    Ok(doc)
}
