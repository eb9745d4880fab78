//! The typed records of the log: one per committed change.
//!
//! Records are the on-disk schema, kept apart from the model types so that
//! the API can evolve without changing the format. They carry string ids,
//! not ordinals, so a log can be replayed into any fresh state. Encoded with
//! rkyv; the archive format is pinned by the crate's rkyv features
//! (little-endian, aligned, 32-bit relative pointers).

use rkyv::rancor;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{
    Dataset, DatasetInput, Experiment, InputTag, LifecycleStage, MetricPoint, RunInfo, RunStatus,
};

/// A record as logged: the operation and the hybrid logical clock value that
/// orders it against records of other writer streams.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub struct Entry {
    pub hlc: u64,
    pub op: Op,
}

/// Every kind of change.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub enum Op {
    /// Creates an experiment, or replaces it whole (import).
    PutExperiment(ExperimentRec),
    RenameExperiment {
        experiment_id: String,
        name: String,
        time: i64,
    },
    /// Deletes or restores an experiment and, with it, all of its runs.
    SetExperimentLifecycle {
        experiment_id: String,
        deleted: bool,
        time: i64,
    },
    SetExperimentTag {
        experiment_id: String,
        key: String,
        value: String,
    },
    /// Creates runs with whatever data they carry (create_run or import).
    /// `keep_duplicates` keeps exact duplicate points, as an import must.
    PutRuns {
        runs: Vec<RunRec>,
        keep_duplicates: bool,
    },
    UpdateRun {
        run_id: String,
        status: Option<u8>,
        end_time: Option<i64>,
        run_name: Option<String>,
    },
    SetRunLifecycle {
        run_id: String,
        deleted: bool,
        time: i64,
    },
    LogBatch {
        run_id: String,
        metrics: Vec<SeriesRec>,
        params: Vec<(String, String)>,
        tags: Vec<(String, String)>,
    },
    DeleteTag {
        run_id: String,
        key: String,
    },
    LogInputs {
        run_id: String,
        inputs: Vec<InputRec>,
    },
}

impl Op {
    /// The record type byte of the frame: lets a reader or a person with a
    /// hex dump tell records apart without decoding them.
    pub fn type_code(&self) -> u8 {
        match self {
            Op::PutExperiment(_) => 1,
            Op::RenameExperiment { .. } => 2,
            Op::SetExperimentLifecycle { .. } => 3,
            Op::SetExperimentTag { .. } => 4,
            Op::PutRuns { .. } => 5,
            Op::UpdateRun { .. } => 6,
            Op::SetRunLifecycle { .. } => 7,
            Op::LogBatch { .. } => 8,
            Op::DeleteTag { .. } => 9,
            Op::LogInputs { .. } => 10,
        }
    }
}

/// An experiment, whole.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub struct ExperimentRec {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub deleted: bool,
    pub creation_time: Option<i64>,
    pub last_update_time: Option<i64>,
    pub tags: Vec<(String, String)>,
}

/// The points of one metric key, stored column by column (they compress
/// far better that way).
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub struct SeriesRec {
    pub key: String,
    pub steps: Vec<i64>,
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

/// A dataset input with its tags.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub struct InputRec {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    pub schema: Option<String>,
    pub profile: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// A run with its info and any data it is created with.
#[derive(Debug, Clone, PartialEq, Archive, Serialize, Deserialize)]
pub struct RunRec {
    pub run_id: String,
    pub experiment_id: String,
    pub run_name: String,
    pub user_id: String,
    pub status: u8,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub deleted: bool,
    pub deleted_time: Option<i64>,
    pub artifact_uri: String,
    pub params: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    pub metrics: Vec<SeriesRec>,
    pub inputs: Vec<InputRec>,
}

/// Encodes an entry to its payload bytes.
pub fn encode(entry: &Entry) -> Result<AlignedVec> {
    rkyv::to_bytes::<rancor::Error>(entry)
        .map_err(|e| Error::Internal(format!("cannot encode log record: {e}")))
}

/// Decodes and validates payload bytes. `payload` need not be aligned.
pub fn decode(payload: &[u8]) -> std::result::Result<Entry, String> {
    let mut aligned = AlignedVec::<16>::with_capacity(payload.len());
    aligned.extend_from_slice(payload);
    rkyv::from_bytes::<Entry, rancor::Error>(&aligned).map_err(|e| e.to_string())
}

/// Decodes arbitrary bytes as a record and, when that works, encodes the
/// result again; used by the fuzz target. It must never panic.
pub fn fuzz_record(data: &[u8]) -> bool {
    match decode(data) {
        Ok(entry) => encode(&entry).is_ok(),
        Err(_) => false,
    }
}

// ---- conversions between records and model types ----

fn pairs<'a>(map: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<(String, String)> {
    map.into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl From<&Experiment> for ExperimentRec {
    fn from(e: &Experiment) -> ExperimentRec {
        ExperimentRec {
            experiment_id: e.experiment_id.clone(),
            name: e.name.clone(),
            artifact_location: e.artifact_location.clone(),
            deleted: e.lifecycle_stage == LifecycleStage::Deleted,
            creation_time: e.creation_time,
            last_update_time: e.last_update_time,
            tags: pairs(&e.tags),
        }
    }
}

impl From<&ExperimentRec> for Experiment {
    fn from(r: &ExperimentRec) -> Experiment {
        Experiment {
            experiment_id: r.experiment_id.clone(),
            name: r.name.clone(),
            artifact_location: r.artifact_location.clone(),
            lifecycle_stage: stage(r.deleted),
            creation_time: r.creation_time,
            last_update_time: r.last_update_time,
            tags: r.tags.iter().cloned().collect(),
        }
    }
}

/// The lifecycle stage for a `deleted` flag.
pub fn stage(deleted: bool) -> LifecycleStage {
    if deleted {
        LifecycleStage::Deleted
    } else {
        LifecycleStage::Active
    }
}

impl SeriesRec {
    /// Builds a series record from points of one key.
    pub fn from_points(key: &str, points: &[MetricPoint]) -> SeriesRec {
        SeriesRec {
            key: key.to_string(),
            steps: points.iter().map(|p| p.step).collect(),
            timestamps: points.iter().map(|p| p.timestamp).collect(),
            values: points.iter().map(|p| p.value).collect(),
        }
    }

    /// The points, in order. Columns of unequal length are cut to the shortest
    /// (the encoder never writes such a record).
    pub fn points(&self) -> impl Iterator<Item = MetricPoint> + '_ {
        self.steps
            .iter()
            .zip(&self.timestamps)
            .zip(&self.values)
            .map(|((&step, &timestamp), &value)| MetricPoint {
                step,
                timestamp,
                value,
            })
    }
}

impl From<&DatasetInput> for InputRec {
    fn from(i: &DatasetInput) -> InputRec {
        InputRec {
            name: i.dataset.name.clone(),
            digest: i.dataset.digest.clone(),
            source_type: i.dataset.source_type.clone(),
            source: i.dataset.source.clone(),
            schema: i.dataset.schema.clone(),
            profile: i.dataset.profile.clone(),
            tags: i
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect(),
        }
    }
}

impl From<&InputRec> for DatasetInput {
    fn from(r: &InputRec) -> DatasetInput {
        DatasetInput {
            dataset: Dataset {
                name: r.name.clone(),
                digest: r.digest.clone(),
                source_type: r.source_type.clone(),
                source: r.source.clone(),
                schema: r.schema.clone(),
                profile: r.profile.clone(),
            },
            tags: r
                .tags
                .iter()
                .map(|(key, value)| InputTag {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }
}

impl RunRec {
    /// The info part as the model has it.
    pub fn info(&self) -> RunInfo {
        RunInfo {
            run_id: self.run_id.clone(),
            experiment_id: self.experiment_id.clone(),
            run_name: self.run_name.clone(),
            user_id: self.user_id.clone(),
            status: RunStatus::from_code(self.status as i64).unwrap_or(RunStatus::Running),
            start_time: self.start_time,
            end_time: self.end_time,
            lifecycle_stage: stage(self.deleted),
            artifact_uri: self.artifact_uri.clone(),
            deleted_time: self.deleted_time,
        }
    }

    /// A run record of a run's current info, params, tags and inputs,
    /// without metric points (a checkpoint keeps those elsewhere).
    pub fn from_run(run: crate::model::Run) -> RunRec {
        RunRec::from_record(&crate::model::RunRecord {
            info: run.info,
            params: run.params.to_btree(),
            tags: run.tags.to_btree(),
            metrics: Default::default(),
            inputs: run.inputs,
        })
    }

    /// A run record from the model's whole-run form.
    pub fn from_record(run: &crate::model::RunRecord) -> RunRec {
        let info = &run.info;
        RunRec {
            run_id: info.run_id.clone(),
            experiment_id: info.experiment_id.clone(),
            run_name: info.run_name.clone(),
            user_id: info.user_id.clone(),
            status: info.status as u8,
            start_time: info.start_time,
            end_time: info.end_time,
            deleted: info.lifecycle_stage == LifecycleStage::Deleted,
            deleted_time: info.deleted_time,
            artifact_uri: info.artifact_uri.clone(),
            params: pairs(&run.params),
            tags: pairs(&run.tags),
            metrics: run
                .metrics
                .iter()
                .map(|(k, pts)| SeriesRec::from_points(k, pts))
                .collect(),
            inputs: run.inputs.iter().map(InputRec::from).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_through_bytes() {
        let entry = Entry {
            hlc: 42,
            op: Op::LogBatch {
                run_id: "abc".into(),
                metrics: vec![SeriesRec {
                    key: "loss".into(),
                    steps: vec![0, 1],
                    timestamps: vec![10, 20],
                    values: vec![f64::NAN, f64::INFINITY],
                }],
                params: vec![("lr".into(), "0.1".into())],
                tags: vec![],
            },
        };
        let bytes = encode(&entry).unwrap();
        // Decode from a deliberately misaligned copy.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&bytes);
        let back = decode(&shifted[1..]).unwrap();
        let Op::LogBatch { metrics, .. } = &back.op else {
            panic!("wrong op");
        };
        assert!(metrics[0].values[0].is_nan());
        assert_eq!(metrics[0].values[1], f64::INFINITY);
        assert_eq!(back.hlc, 42);
    }

    #[test]
    fn garbage_does_not_decode() {
        assert!(decode(&[1, 2, 3]).is_err());
        assert!(decode(&[0xff; 64]).is_err());
    }
}
