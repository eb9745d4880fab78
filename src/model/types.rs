//! Plain data types of the tracking model.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{MetricMap, StringMap};
use crate::error::{Error, Result};

/// Status of a run, with MLflow's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    Running = 1,
    Scheduled = 2,
    Finished = 3,
    Failed = 4,
    Killed = 5,
}

impl RunStatus {
    /// Every status, in MLflow's numbering order.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Running,
        RunStatus::Scheduled,
        RunStatus::Finished,
        RunStatus::Failed,
        RunStatus::Killed,
    ];

    /// The upper-case name MLflow stores and compares.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Parses the upper-case name.
    pub fn parse(s: &str) -> Result<RunStatus> {
        RunStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| Error::invalid(format!("Invalid run status '{s}'")))
    }

    /// Maps MLflow's integer code (file store `meta.yaml`).
    pub fn from_code(code: i64) -> Result<RunStatus> {
        RunStatus::ALL
            .into_iter()
            .find(|st| *st as i64 == code)
            .ok_or_else(|| Error::invalid(format!("Invalid run status code {code}")))
    }

    /// FINISHED, FAILED and KILLED end a run.
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

/// Soft-delete state of a run or experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    Active,
    Deleted,
}

impl LifecycleStage {
    /// MLflow's lower-case spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }

    /// Parses `active` or `deleted`.
    pub fn parse(s: &str) -> Result<LifecycleStage> {
        match s {
            "active" => Ok(LifecycleStage::Active),
            "deleted" => Ok(LifecycleStage::Deleted),
            other => Err(Error::invalid(format!("Invalid lifecycle stage '{other}'"))),
        }
    }
}

/// Which runs a search sees, by lifecycle stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    /// Whether a run or experiment in `stage` is visible.
    pub fn admits(self, stage: LifecycleStage) -> bool {
        match self {
            ViewType::ActiveOnly => stage == LifecycleStage::Active,
            ViewType::DeletedOnly => stage == LifecycleStage::Deleted,
            ViewType::All => true,
        }
    }

    /// Parses MLflow's names (`ACTIVE_ONLY`, ...) and the short forms `active`, `deleted`, `all`.
    pub fn parse(s: &str) -> Result<ViewType> {
        match s {
            "ACTIVE_ONLY" | "active" => Ok(ViewType::ActiveOnly),
            "DELETED_ONLY" | "deleted" => Ok(ViewType::DeletedOnly),
            "ALL" | "all" => Ok(ViewType::All),
            other => Err(Error::invalid(format!("Invalid view type '{other}'"))),
        }
    }
}

/// An experiment: a named group of runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: LifecycleStage,
    pub creation_time: Option<i64>,
    pub last_update_time: Option<i64>,
    pub tags: BTreeMap<String, String>,
}

/// The fixed and lifecycle fields of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub experiment_id: String,
    pub run_name: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub lifecycle_stage: LifecycleStage,
    pub artifact_uri: String,
    /// When the run was soft-deleted; kept for purge, not shown by MLflow.
    pub deleted_time: Option<i64>,
}

/// One logged metric value, as `log_batch` takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricPoint {
    pub step: i64,
    pub timestamp: i64,
    pub value: f64,
}

impl MetricPoint {
    /// MLflow's "latest" order: by step, then timestamp, then value, where a
    /// NaN value counts as 0 (the SQL store compares its stored placeholder).
    pub fn latest_cmp(&self, other: &MetricPoint) -> Ordering {
        let rank = |v: f64| if v.is_nan() { 0.0 } else { v };
        self.step
            .cmp(&other.step)
            .then(self.timestamp.cmp(&other.timestamp))
            .then(rank(self.value).total_cmp(&rank(other.value)))
    }

    /// Whether two points are the same record for duplicate collapsing
    /// (NaN equals NaN here, unlike IEEE).
    pub fn same_record(&self, other: &MetricPoint) -> bool {
        self.step == other.step
            && self.timestamp == other.timestamp
            && (self.value.to_bits() == other.value.to_bits()
                || (self.value.is_nan() && other.value.is_nan())
                || self.value == other.value)
    }

    /// History order: timestamp, then step. Used with a stable sort, so
    /// points equal in both keep their logging order. (MLflow's SQL store
    /// also orders such ties by value; its file store keeps file order. A
    /// stable sort reproduces what either store returned once imported.)
    pub fn history_cmp(&self, other: &MetricPoint) -> Ordering {
        self.timestamp
            .cmp(&other.timestamp)
            .then(self.step.cmp(&other.step))
    }
}

/// A metric point with its key, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
}

impl Metric {
    /// Builds a metric point.
    pub fn new(key: impl Into<String>, value: f64, timestamp: i64, step: i64) -> Metric {
        Metric {
            key: key.into(),
            value,
            timestamp,
            step,
        }
    }

    /// The point without its key.
    pub fn point(&self) -> MetricPoint {
        MetricPoint {
            step: self.step,
            timestamp: self.timestamp,
            value: self.value,
        }
    }
}

/// A write-once string parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    pub key: String,
    pub value: String,
}

impl Param {
    /// Builds a param.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Param {
        Param {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A mutable string tag of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTag {
    pub key: String,
    pub value: String,
}

impl RunTag {
    /// Builds a tag.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> RunTag {
        RunTag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A dataset as MLflow describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    pub schema: Option<String>,
    pub profile: Option<String>,
}

/// A tag on a dataset input (`mlflow.data.context` holds the context).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTag {
    pub key: String,
    pub value: String,
}

/// The key of the input tag that holds a dataset's context.
pub const CONTEXT_TAG: &str = "mlflow.data.context";

/// A dataset used by a run, with its input tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInput {
    pub dataset: Dataset,
    pub tags: Vec<InputTag>,
}

impl DatasetInput {
    /// The context (`training`, `eval`, ...) if the input has one.
    pub fn context(&self) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == CONTEXT_TAG)
            .map(|t| t.value.as_str())
    }
}

/// A run as `get_run` returns it: info, params, tags, latest metrics, inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub info: RunInfo,
    pub params: StringMap,
    pub tags: StringMap,
    /// Latest value of each metric key by MLflow's rule, with its step and time.
    pub metrics: MetricMap,
    pub inputs: Vec<DatasetInput>,
}

/// A whole run with its full metric histories: the unit of import and export.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub info: RunInfo,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Every point of every metric key, in logging order.
    pub metrics: BTreeMap<String, Vec<MetricPoint>>,
    pub inputs: Vec<DatasetInput>,
}

/// What `create_run` needs; everything optional follows MLflow's defaults.
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    pub experiment_id: String,
    pub user_id: Option<String>,
    pub start_time: Option<i64>,
    pub run_name: Option<String>,
    pub tags: Vec<RunTag>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
