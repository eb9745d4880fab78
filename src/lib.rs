//! runstore: an embedded, append-only storage engine for machine-learning
//! experiment tracking that keeps MLflow's data model and answers MLflow's
//! search language with MLflow's results.
//!
//! The log is the truth: every change is a typed, checksummed record in a
//! writer's stream of segment files. The catalog, indexes and metric columns
//! are derived from it, checkpointed with the log position they reflect, and
//! rebuilt from it when missing. See `docs/architecture.md`.

pub mod error;
mod fsio;
pub mod model;
mod parallel;

pub mod catalog;
pub mod index;
pub mod log;
pub mod query;
pub mod series;
pub mod store;

pub mod import;
pub mod workload;

pub mod cli;

pub use error::{Error, ErrorCode, Result};
pub use model::{
    Dataset, DatasetInput, Experiment, InputTag, LifecycleStage, Metric, MetricMap, MetricPoint,
    NewRun, Param, Run, RunInfo, RunRecord, RunStatus, RunTag, StringMap, ViewType,
};
pub use query::{ExperimentPage, ExperimentSearchRequest, IdPage, SearchPage, SearchRequest};
pub use series::{Columns, MetricHistory};
pub use store::{Durability, Options, Store};

/// Fault injection for crash tests (`tests/fault_injection.rs`): not part
/// of the API.
#[doc(hidden)]
pub use fsio::testing;
