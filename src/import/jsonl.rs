//! The JSON Lines interchange format (`docs/import.md`, "JSON Lines").
//!
//! Reading is split in two steps because two things need the store: which
//! experiment a run's `"experiment": NAME` means, and the artifact location
//! a run without `artifact_uri` inherits. [`parse_line`] turns one line into
//! a [`JsonLine`] with optional fields left open; [`RunLine::complete`]
//! fills them in against an experiment the caller looked up.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::{
    Dataset, DatasetInput, Experiment, InputTag, LifecycleStage, MetricPoint, RunInfo, RunRecord,
    RunStatus, new_run_id, random_run_name,
};

/// One parsed line.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonLine {
    Experiment(ExperimentLine),
    Run(Box<RunLine>),
}

/// An experiment line; a missing id is assigned by the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentLine {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_stage: Option<LifecycleStage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<i64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// How a run line names its experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExperimentRef {
    Id(String),
    Name(String),
}

/// A run line as written, before defaults that need the store are applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_stage: Option<LifecycleStage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub start_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    /// When a deleted run was deleted (an extension export writes to keep it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_uri: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub metrics: BTreeMap<String, Vec<PointLine>>,
    #[serde(default)]
    pub inputs: Vec<InputLine>,
}

/// One metric point; the value may be `"NaN"`, `"Infinity"` or `"-Infinity"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointLine {
    pub step: i64,
    pub timestamp: i64,
    pub value: JsonFloat,
}

/// A float that writes non-finite values as the format's strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JsonFloat(pub f64);

impl Serialize for JsonFloat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            v if v.is_nan() => s.serialize_str("NaN"),
            v if v == f64::INFINITY => s.serialize_str("Infinity"),
            v if v == f64::NEG_INFINITY => s.serialize_str("-Infinity"),
            v => s.serialize_f64(v),
        }
    }
}

impl<'de> Deserialize<'de> for JsonFloat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_f64()
                .map(JsonFloat)
                .ok_or_else(|| serde::de::Error::custom("number out of range")),
            Value::String(s) => match s.as_str() {
                "NaN" => Ok(JsonFloat(f64::NAN)),
                "Infinity" => Ok(JsonFloat(f64::INFINITY)),
                "-Infinity" => Ok(JsonFloat(f64::NEG_INFINITY)),
                other => Err(serde::de::Error::custom(format!(
                    "metric value '{other}' is not a number, \"NaN\", \"Infinity\" or \"-Infinity\""
                ))),
            },
            other => Err(serde::de::Error::custom(format!(
                "metric value {other} is not a number"
            ))),
        }
    }
}

/// A dataset input. `context` is shorthand for the `mlflow.data.context` tag;
/// `tags` lists every input tag in order (export writes only `tags`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputLine {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<InputTag>,
}

impl ExperimentLine {
    /// The experiment with every field filled; `experiment_id` must be known.
    pub fn into_experiment(self, experiment_id: String) -> Experiment {
        Experiment {
            experiment_id,
            name: self.name,
            artifact_location: self.artifact_location.unwrap_or_default(),
            lifecycle_stage: self.lifecycle_stage.unwrap_or(LifecycleStage::Active),
            creation_time: self.creation_time,
            last_update_time: self.last_update_time,
            tags: self.tags,
        }
    }
}

impl RunLine {
    /// The experiment the line names; with both fields, `experiment_id` is
    /// looked up and `experiment` must be its name.
    pub fn experiment_ref(&self) -> Option<ExperimentRef> {
        match (&self.experiment_id, &self.experiment) {
            (Some(id), _) => Some(ExperimentRef::Id(id.clone())),
            (None, Some(name)) => Some(ExperimentRef::Name(name.clone())),
            (None, None) => None,
        }
    }

    /// Fills in the format's defaults against the run's experiment,
    /// which `lookup` finds (or creates) from the line's reference.
    pub fn complete(
        self,
        lookup: impl FnOnce(&ExperimentRef) -> Result<Experiment>,
    ) -> Result<RunRecord> {
        let reference = self
            .experiment_ref()
            .ok_or_else(|| Error::invalid("run line names no experiment_id or experiment"))?;
        let experiment = lookup(&reference)?;
        if let Some(name) = self.experiment.as_ref().filter(|n| **n != experiment.name) {
            return Err(Error::invalid(format!(
                "experiment_id {} names '{}', not '{name}'",
                experiment.experiment_id, experiment.name
            )));
        }

        let run_id = self.run_id.unwrap_or_else(new_run_id);
        let run_name = self
            .run_name
            .or_else(|| self.tags.get("mlflow.runName").cloned())
            .unwrap_or_else(random_run_name);
        let status = self.status.unwrap_or(match self.end_time {
            Some(_) => RunStatus::Finished,
            None => RunStatus::Running,
        });
        let artifact_uri = self.artifact_uri.unwrap_or_else(|| {
            let root = experiment.artifact_location.trim_end_matches('/');
            format!("{root}/{run_id}/artifacts")
        });
        let info = RunInfo {
            run_id,
            experiment_id: experiment.experiment_id,
            run_name,
            user_id: self.user_id.unwrap_or_default(),
            status,
            start_time: self.start_time,
            end_time: self.end_time,
            lifecycle_stage: self.lifecycle_stage.unwrap_or(LifecycleStage::Active),
            artifact_uri,
            deleted_time: self.deleted_time,
        };
        Ok(RunRecord {
            info,
            params: self.params,
            tags: self.tags,
            metrics: self
                .metrics
                .into_iter()
                .map(|(key, points)| (key, points.into_iter().map(PointLine::point).collect()))
                .collect(),
            inputs: self.inputs.into_iter().map(InputLine::into_input).collect(),
        })
    }
}

impl PointLine {
    fn point(self) -> MetricPoint {
        MetricPoint {
            step: self.step,
            timestamp: self.timestamp,
            value: self.value.0,
        }
    }
}

impl InputLine {
    fn into_input(self) -> DatasetInput {
        let mut tags = self.tags;
        let has_context = tags.iter().any(|t| t.key == crate::model::CONTEXT_TAG);
        if let (Some(context), false) = (self.context, has_context) {
            let key = crate::model::CONTEXT_TAG.to_string();
            tags.insert(
                0,
                InputTag {
                    key,
                    value: context,
                },
            );
        }
        DatasetInput {
            dataset: Dataset {
                name: self.name,
                digest: self.digest,
                source_type: self.source_type,
                source: self.source,
                schema: self.schema,
                profile: self.profile,
            },
            tags,
        }
    }
}

/// Parses one line; blank lines give `None`. Errors name only the reason;
/// [`JsonlReader`] adds path and line.
pub fn parse_line(line: &str) -> std::result::Result<Option<JsonLine>, String> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let Value::Object(object) = &value else {
        return Err("a line must be a JSON object".into());
    };
    let kind = match object.get("kind") {
        None => "run",
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => return Err(format!("kind must be a string, not {other}")),
    };
    match kind {
        "experiment" => serde_json::from_value(value)
            .map(|e| Some(JsonLine::Experiment(e)))
            .map_err(|e| e.to_string()),
        "run" => {
            let run: RunLine = serde_json::from_value(value).map_err(|e| e.to_string())?;
            if run.experiment_ref().is_none() {
                return Err("a run line needs experiment_id or experiment".into());
            }
            Ok(Some(JsonLine::Run(Box::new(run))))
        }
        other => Err(format!("unknown kind '{other}'")),
    }
}

/// Reads a JSON Lines stream line by line, yielding `(line number, line)`.
pub struct JsonlReader<R> {
    input: R,
    path: PathBuf,
    line_no: u64,
    offset: u64,
    buf: String,
}

impl<R: BufRead> JsonlReader<R> {
    /// `path` is only used to name the input in errors.
    pub fn new(input: R, path: impl AsRef<Path>) -> JsonlReader<R> {
        JsonlReader {
            input,
            path: path.as_ref().to_path_buf(),
            line_no: 0,
            offset: 0,
            buf: String::new(),
        }
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<(u64, JsonLine)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            let start = self.offset;
            let read = match self.input.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(n) => n,
                Err(e) => {
                    let reason = format!("line {}: {e}", self.line_no + 1);
                    return Some(Err(Error::bad_input(&self.path, start, reason)));
                }
            };
            self.line_no += 1;
            self.offset += read as u64;
            match parse_line(&self.buf) {
                Ok(None) => continue,
                Ok(Some(line)) => return Some(Ok((self.line_no, line))),
                Err(reason) => {
                    let reason = format!("line {}: {reason}", self.line_no);
                    return Some(Err(Error::bad_input(&self.path, start, reason)));
                }
            }
        }
    }
}

/// Writes an experiment line with every field filled.
pub fn write_experiment(out: &mut dyn Write, experiment: &Experiment) -> std::io::Result<()> {
    let line = ExperimentLine {
        kind: "experiment".into(),
        experiment_id: Some(experiment.experiment_id.clone()),
        name: experiment.name.clone(),
        artifact_location: Some(experiment.artifact_location.clone()),
        lifecycle_stage: Some(experiment.lifecycle_stage),
        creation_time: experiment.creation_time,
        last_update_time: experiment.last_update_time,
        tags: experiment.tags.clone(),
    };
    write_json(out, &line)
}

/// Writes a run line with every field filled, so reading it back gives `run`.
pub fn write_run(out: &mut dyn Write, run: &RunRecord) -> std::io::Result<()> {
    let info = &run.info;
    let line = RunLine {
        kind: Some("run".into()),
        experiment_id: Some(info.experiment_id.clone()),
        experiment: None,
        run_id: Some(info.run_id.clone()),
        run_name: Some(info.run_name.clone()),
        status: Some(info.status),
        lifecycle_stage: Some(info.lifecycle_stage),
        user_id: Some(info.user_id.clone()),
        start_time: info.start_time,
        end_time: info.end_time,
        deleted_time: info.deleted_time,
        artifact_uri: Some(info.artifact_uri.clone()),
        params: run.params.clone(),
        tags: run.tags.clone(),
        metrics: run
            .metrics
            .iter()
            .map(|(key, points)| (key.clone(), points.iter().map(point_line).collect()))
            .collect(),
        inputs: run.inputs.iter().map(input_line).collect(),
    };
    write_json(out, &line)
}

fn point_line(p: &MetricPoint) -> PointLine {
    PointLine {
        step: p.step,
        timestamp: p.timestamp,
        value: JsonFloat(p.value),
    }
}

fn input_line(input: &DatasetInput) -> InputLine {
    let d = &input.dataset;
    InputLine {
        name: d.name.clone(),
        digest: d.digest.clone(),
        source_type: d.source_type.clone(),
        source: d.source.clone(),
        schema: d.schema.clone(),
        profile: d.profile.clone(),
        context: None,
        tags: input.tags.clone(),
    }
}

fn write_json(out: &mut dyn Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}
