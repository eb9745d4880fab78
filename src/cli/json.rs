//! MLflow's REST JSON shapes, so programs written against an MLflow server
//! can read runstore's output unchanged.
//!
//! Typed structs rather than `serde_json::Value` keep the field order of
//! MLflow's captured responses; empty lists and absent values are left out,
//! as protobuf's JSON printer does.

use serde::{Serialize, Serializer};

use crate::model::{Dataset, DatasetInput, Experiment, MetricPoint, Run};
use crate::query::SearchPage;

/// A double as MLflow writes it: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
#[derive(Debug, Clone, Copy)]
pub struct Double(pub f64);

/// Equal values are equal, and so are two NaNs: a metric that is NaN in
/// two runs does not differ between them.
impl PartialEq for Double {
    fn eq(&self, other: &Double) -> bool {
        self.0 == other.0 || self.0.is_nan() && other.0.is_nan()
    }
}

impl Serialize for Double {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            v if v.is_nan() => s.serialize_str("NaN"),
            v if v == f64::INFINITY => s.serialize_str("Infinity"),
            v if v == f64::NEG_INFINITY => s.serialize_str("-Infinity"),
            v => s.serialize_f64(v),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct MetricJson {
    pub key: String,
    pub value: Double,
    pub timestamp: i64,
    pub step: i64,
}

impl MetricJson {
    pub fn new(key: &str, point: &MetricPoint) -> MetricJson {
        MetricJson {
            key: key.to_string(),
            value: Double(point.value),
            timestamp: point.timestamp,
            step: point.step,
        }
    }
}

/// `RunInfo`, in the order MLflow's server prints it (by proto field number).
#[derive(Debug, Serialize)]
pub struct RunInfoJson {
    pub run_uuid: String,
    pub experiment_id: String,
    pub run_name: String,
    pub user_id: String,
    pub status: &'static str,
    pub start_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: &'static str,
    pub run_id: String,
}

#[derive(Debug, Serialize)]
pub struct RunDataJson {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Serialize)]
pub struct DatasetJson {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DatasetInputJson {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    pub dataset: DatasetJson,
}

#[derive(Debug, Serialize)]
pub struct RunInputsJson {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dataset_inputs: Vec<DatasetInputJson>,
}

/// MLflow's `Run` message.
#[derive(Debug, Serialize)]
pub struct RunJson {
    pub info: RunInfoJson,
    pub data: RunDataJson,
    pub inputs: RunInputsJson,
}

/// The body of `runs/get`.
#[derive(Debug, Serialize)]
pub struct GetRunJson {
    pub run: RunJson,
}

/// The body of `runs/search`.
#[derive(Debug, Serialize)]
pub struct SearchRunsJson {
    pub runs: Vec<RunJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// The body of `metrics/get-history`.
#[derive(Debug, Serialize)]
pub struct HistoryJson {
    pub metrics: Vec<MetricJson>,
}

/// MLflow's `Experiment` message.
#[derive(Debug, Serialize)]
pub struct ExperimentJson {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// The body of `experiments/search`.
#[derive(Debug, Serialize)]
pub struct ExperimentsJson {
    pub experiments: Vec<ExperimentJson>,
}

fn key_values<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<KeyValue> {
    pairs
        .into_iter()
        .map(|(key, value)| KeyValue {
            key: key.to_string(),
            value: value.to_string(),
        })
        .collect()
}

fn dataset(d: &Dataset) -> DatasetJson {
    DatasetJson {
        name: d.name.clone(),
        digest: d.digest.clone(),
        source_type: d.source_type.clone(),
        source: d.source.clone(),
        schema: d.schema.clone(),
        profile: d.profile.clone(),
    }
}

fn dataset_input(input: &DatasetInput) -> DatasetInputJson {
    DatasetInputJson {
        tags: key_values(
            input
                .tags
                .iter()
                .map(|t| (t.key.as_str(), t.value.as_str())),
        ),
        dataset: dataset(&input.dataset),
    }
}

/// A run in MLflow's `Run` shape.
pub fn run(run: &Run) -> RunJson {
    let info = &run.info;
    RunJson {
        info: RunInfoJson {
            run_uuid: info.run_id.clone(),
            experiment_id: info.experiment_id.clone(),
            run_name: info.run_name.clone(),
            user_id: info.user_id.clone(),
            status: info.status.as_str(),
            start_time: info.start_time,
            end_time: info.end_time,
            artifact_uri: info.artifact_uri.clone(),
            lifecycle_stage: info.lifecycle_stage.as_str(),
            run_id: info.run_id.clone(),
        },
        data: RunDataJson {
            metrics: run
                .metrics
                .iter()
                .map(|(k, p)| MetricJson::new(k, p))
                .collect(),
            params: key_values(&run.params),
            tags: key_values(&run.tags),
        },
        inputs: RunInputsJson {
            dataset_inputs: run.inputs.iter().map(dataset_input).collect(),
        },
    }
}

/// A page of runs in the shape of `runs/search`.
pub fn search_page(page: &SearchPage) -> SearchRunsJson {
    SearchRunsJson {
        runs: page.runs.iter().map(run).collect(),
        next_page_token: page.next_page_token.clone(),
    }
}

/// A metric history in the shape of `metrics/get-history`.
pub fn history(key: &str, points: &[MetricPoint]) -> HistoryJson {
    HistoryJson {
        metrics: points.iter().map(|p| MetricJson::new(key, p)).collect(),
    }
}

/// An experiment in MLflow's `Experiment` shape.
pub fn experiment(e: &Experiment) -> ExperimentJson {
    ExperimentJson {
        experiment_id: e.experiment_id.clone(),
        name: e.name.clone(),
        artifact_location: e.artifact_location.clone(),
        lifecycle_stage: e.lifecycle_stage.as_str(),
        last_update_time: e.last_update_time,
        creation_time: e.creation_time,
        tags: key_values(e.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    }
}

/// Pretty JSON text of any of these shapes.
pub fn to_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
