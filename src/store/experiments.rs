//! Experiment calls: create, import, rename, delete, restore, tags, reads.

use super::Store;
use super::record::{ExperimentRec, Op};
use super::state::State;
use crate::error::{Error, Result};
use crate::model::{
    Experiment, LifecycleStage, now_ms, validate_experiment_id, validate_experiment_name,
    validate_experiment_tag,
};
use crate::query::{ExperimentPage, ExperimentSearchRequest, search_experiments_naive};

/// Longest artifact location MLflow accepts by default.
const MAX_ARTIFACT_LOCATION_LEN: usize = 2048;
/// Imported experiment ids at or above this (the file store's random
/// 18-digit ids) do not move the counter for new ids.
const SEQUENTIAL_ID_LIMIT: u64 = 1_000_000_000;

fn experiment_not_found(id: &str) -> Error {
    Error::not_found(format!("No Experiment with id={id} exists"))
}

fn name_taken(state: &State, name: &str) -> Result<()> {
    let Some(e) = state.table.experiment_ordinal_by_name(name) else {
        return Ok(());
    };
    let existing = &state.table.experiment(e).experiment;
    let deleted = if existing.lifecycle_stage == LifecycleStage::Deleted {
        " in deleted state"
    } else {
        ""
    };
    Err(Error::ResourceAlreadyExists(format!(
        "Experiment(name={name}) already exists{deleted}. Error: name must be unique"
    )))
}

/// An existing experiment's ordinal, or RESOURCE_DOES_NOT_EXIST.
fn existing(state: &State, id: &str) -> Result<u32> {
    state
        .table
        .experiment_ordinal(id)
        .ok_or_else(|| experiment_not_found(id))
}

fn require_active(state: &State, e: u32) -> Result<()> {
    let experiment = &state.table.experiment(e).experiment;
    if experiment.lifecycle_stage != LifecycleStage::Active {
        return Err(Error::invalid(format!(
            "The experiment {} must be in the 'active' state. Current state is deleted.",
            experiment.experiment_id
        )));
    }
    Ok(())
}

/// The next sequential id: one past the largest small numeric id in use.
fn next_experiment_id(state: &State) -> String {
    let largest = state
        .table
        .experiments()
        .iter()
        .filter_map(|e| e.experiment.experiment_id.parse::<u64>().ok())
        .filter(|&id| id < SEQUENTIAL_ID_LIMIT)
        .max();
    largest.map_or(0, |id| id + 1).to_string()
}

impl Store {
    pub(super) fn create_default_experiment(&self) -> Result<()> {
        let location = self.default_artifact_location("0");
        self.commit_exclusive(|state| {
            if state.table.experiment_ordinal("0").is_some() {
                return Ok((None, ()));
            }
            let now = now_ms();
            let rec = ExperimentRec {
                experiment_id: "0".into(),
                name: "Default".into(),
                artifact_location: location.clone(),
                deleted: false,
                creation_time: Some(now),
                last_update_time: Some(now),
                tags: vec![],
            };
            Ok((Some(Op::PutExperiment(rec)), ()))
        })
    }

    fn default_artifact_location(&self, id: &str) -> String {
        let root = self
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.root.clone());
        format!("file://{}/artifacts/{id}", root.display())
    }

    /// Creates an experiment; returns its id. Names are unique among all
    /// experiments, deleted ones included (as in MLflow).
    pub fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<String> {
        validate_experiment_name(name)?;
        for (k, v) in tags {
            validate_experiment_tag(k, v)?;
        }
        if let Some(location) = artifact_location {
            check_artifact_location(location)?;
        }
        self.commit_exclusive(|state| {
            name_taken(state, name)?;
            let id = next_experiment_id(state);
            Ok((
                Some(self.new_experiment_op(&id, name, artifact_location, tags)),
                id,
            ))
        })
    }

    fn new_experiment_op(
        &self,
        id: &str,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> Op {
        let now = now_ms();
        Op::PutExperiment(ExperimentRec {
            experiment_id: id.to_string(),
            name: name.to_string(),
            artifact_location: artifact_location
                .map(str::to_string)
                .unwrap_or_else(|| self.default_artifact_location(id)),
            deleted: false,
            creation_time: Some(now),
            last_update_time: Some(now),
            tags: tags.to_vec(),
        })
    }

    /// Returns the id of the experiment named `name`, creating it if needed.
    /// Safe against races between threads of this process.
    pub fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        validate_experiment_name(name)?;
        self.commit_exclusive(|state| {
            if let Some(e) = state.table.experiment_ordinal_by_name(name) {
                let id = state.table.experiment(e).experiment.experiment_id.clone();
                return Ok((None, id));
            }
            let id = next_experiment_id(state);
            Ok((Some(self.new_experiment_op(&id, name, None, &[])), id))
        })
    }

    /// Writes an experiment exactly as given (import): id, name, times,
    /// lifecycle and tags. An experiment with the same id is replaced; a
    /// name held by another experiment is RESOURCE_ALREADY_EXISTS.
    /// An empty artifact location gets the store's default one.
    pub fn import_experiment(&self, experiment: &Experiment) -> Result<()> {
        validate_experiment_id(&experiment.experiment_id)?;
        validate_experiment_name(&experiment.name)?;
        let mut experiment = experiment.clone();
        if experiment.artifact_location.is_empty() {
            experiment.artifact_location =
                self.default_artifact_location(&experiment.experiment_id);
        }
        let experiment = &experiment;
        self.commit_exclusive(|state| {
            if let Some(e) = state.table.experiment_ordinal_by_name(&experiment.name) {
                let holder = &state.table.experiment(e).experiment;
                if holder.experiment_id != experiment.experiment_id {
                    name_taken(state, &experiment.name)?;
                }
            }
            Ok((Some(Op::PutExperiment(experiment.into())), ()))
        })
    }

    pub fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let state = self.read();
        let e = existing(&state, experiment_id)?;
        Ok(state.table.experiment(e).experiment.clone())
    }

    pub fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let state = self.read();
        let e = state
            .table
            .experiment_ordinal_by_name(name)
            .ok_or_else(|| {
                Error::not_found(format!("Could not find experiment with name '{name}'"))
            })?;
        Ok(state.table.experiment(e).experiment.clone())
    }

    /// Every experiment, numeric ids by value first, then the others by text.
    pub fn list_experiments(&self) -> Result<Vec<Experiment>> {
        let state = self.read();
        let mut all: Vec<Experiment> = state
            .table
            .experiments()
            .iter()
            .map(|e| e.experiment.clone())
            .collect();
        all.sort_by(|a, b| id_order(&a.experiment_id).cmp(&id_order(&b.experiment_id)));
        Ok(all)
    }

    /// Renames an active experiment.
    pub fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        validate_experiment_name(new_name)?;
        self.commit_exclusive(|state| {
            let e = existing(state, experiment_id)?;
            require_active(state, e)?;
            if state.table.experiment(e).experiment.name == new_name {
                return Ok((None, ()));
            }
            name_taken(state, new_name)?;
            let op = Op::RenameExperiment {
                experiment_id: experiment_id.to_string(),
                name: new_name.to_string(),
                time: now_ms(),
            };
            Ok((Some(op), ()))
        })
    }

    /// Soft-deletes an experiment and every run in it. Deleting a deleted
    /// experiment changes nothing.
    pub fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        self.set_experiment_lifecycle(experiment_id, true)
    }

    /// Restores an experiment and every run in it, including runs that
    /// were deleted one by one before (MLflow's SQL store does the same).
    pub fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        self.set_experiment_lifecycle(experiment_id, false)
    }

    fn set_experiment_lifecycle(&self, experiment_id: &str, deleted: bool) -> Result<()> {
        self.commit_exclusive(|state| {
            let e = existing(state, experiment_id)?;
            let current = state.table.experiment(e).experiment.lifecycle_stage;
            if (current == LifecycleStage::Deleted) == deleted {
                return Ok((None, ()));
            }
            let op = Op::SetExperimentLifecycle {
                experiment_id: experiment_id.to_string(),
                deleted,
                time: now_ms(),
            };
            Ok((Some(op), ()))
        })
    }

    /// Sets a tag on an active experiment.
    pub fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        validate_experiment_tag(key, value)?;
        self.commit_exclusive(|state| {
            let e = existing(state, experiment_id)?;
            require_active(state, e)?;
            let op = Op::SetExperimentTag {
                experiment_id: experiment_id.to_string(),
                key: key.to_string(),
                value: value.to_string(),
            };
            Ok((Some(op), ()))
        })
    }

    /// MLflow's `search_experiments`.
    pub fn search_experiments(&self, request: &ExperimentSearchRequest) -> Result<ExperimentPage> {
        self.refresh()?;
        let experiments: Vec<Experiment> = {
            let state = self.read();
            let rows = state.table.experiments();
            rows.iter().map(|e| e.experiment.clone()).collect()
        };
        search_experiments_naive(&experiments, request)
    }
}

/// Sort key for experiment ids: numbers by value, before any other text.
fn id_order(id: &str) -> (u8, u128, &str) {
    match id.parse::<u128>() {
        Ok(n) => (0, n, ""),
        Err(_) => (1, 0, id),
    }
}

fn check_artifact_location(location: &str) -> Result<()> {
    if location.starts_with("runs:") {
        return Err(Error::invalid(
            "Artifact location cannot be a runs:/ URI. Given: ".to_string() + location,
        ));
    }
    crate::model::check_len("artifact_location", location, MAX_ARTIFACT_LOCATION_LEN)
}
