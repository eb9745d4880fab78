//! Run calls: create, import, update, delete, restore, log_batch, tags,
//! inputs, and the reads that return runs and histories.

use std::collections::{BTreeMap, HashSet};

use super::Store;
use super::record::{InputRec, Op, RunRec, SeriesRec};
use super::state::{RUN_NAME_TAG, State};
use crate::error::{Error, Result};
use crate::index::Ordinal;
use crate::model::{
    DatasetInput, LifecycleStage, Metric, MetricPoint, NewRun, Param, Run, RunInfo, RunRecord,
    RunStatus, RunTag, new_run_id, now_ms, random_run_name, validate_batch_counts, validate_input,
    validate_metric, validate_param, validate_run_id, validate_tag,
};
use crate::series::MetricHistory;

/// Most runs one `import_runs` call takes.
pub const MAX_IMPORT_RUNS: usize = 10_000;
/// Most metric points one `import_runs` call takes.
pub const MAX_IMPORT_POINTS: usize = 8_000_000;

/// The system tag holding the creating user.
const USER_TAG: &str = "mlflow.user";

fn run_not_found(run_id: &str) -> Error {
    Error::not_found(format!("Run with id={run_id} not found"))
}

/// An existing run's ordinal, or RESOURCE_DOES_NOT_EXIST.
pub(super) fn existing_run(state: &State, run_id: &str) -> Result<Ordinal> {
    state
        .table
        .ordinal(run_id)
        .ok_or_else(|| run_not_found(run_id))
}

fn require_active_run(state: &State, ord: Ordinal, run_id: &str) -> Result<()> {
    if !state.is_active(ord) {
        return Err(Error::invalid(format!(
            "The run {run_id} must be in the 'active' state. Current state is deleted."
        )));
    }
    Ok(())
}

/// Groups metric points by key, keeping logging order within each key.
fn group_metrics(metrics: &[Metric]) -> Vec<SeriesRec> {
    let mut order: Vec<&str> = Vec::new();
    let mut by_key: BTreeMap<&str, Vec<MetricPoint>> = BTreeMap::new();
    for m in metrics {
        let points = by_key.entry(&m.key).or_insert_with(|| {
            order.push(&m.key);
            Vec::new()
        });
        points.push(m.point());
    }
    order
        .into_iter()
        .map(|key| SeriesRec::from_points(key, &by_key[key]))
        .collect()
}

/// MLflow's checks on a batch, in MLflow's order, up to the point where the
/// run itself is needed.
fn validate_batch_items(metrics: &[Metric], params: &[Param], tags: &[RunTag]) -> Result<()> {
    for m in metrics {
        validate_metric(m)?;
    }
    for p in params {
        validate_param(p)?;
    }
    for t in tags {
        validate_tag(t)?;
    }
    validate_batch_counts(metrics.len(), params.len(), tags.len())?;

    let mut seen = HashSet::new();
    let duplicates: Vec<&str> = params
        .iter()
        .filter(|p| !seen.insert(p.key.as_str()))
        .map(|p| p.key.as_str())
        .collect();
    if !duplicates.is_empty() {
        return Err(Error::invalid(format!(
            "Duplicate parameter keys have been submitted: {duplicates:?}. Please ensure the \
             request contains only one param value per param key."
        )));
    }
    Ok(())
}

/// Params are write-once: the same value again is fine, another is not.
fn check_param_conflicts(
    state: &State,
    ord: Ordinal,
    run_id: &str,
    params: &[Param],
) -> Result<()> {
    for p in params {
        if let Some(old) = state.table.param(ord, &p.key).filter(|old| *old != p.value) {
            return Err(Error::invalid(format!(
                "Changing param values is not allowed. Param with key='{}' was already \
                 logged with value='{old}' for run ID='{run_id}'. Attempted logging new \
                 value '{}'.",
                p.key, p.value
            )));
        }
    }
    Ok(())
}

/// The name a new run gets: the argument, else the tag, else a random one.
fn choose_run_name(new_run: &NewRun) -> Result<String> {
    let argument = new_run.run_name.as_deref().filter(|n| !n.is_empty());
    let tag = new_run
        .tags
        .iter()
        .rev()
        .find(|t| t.key == RUN_NAME_TAG)
        .map(|t| t.value.as_str())
        .filter(|n| !n.is_empty());
    match (argument, tag) {
        (Some(a), Some(t)) if a != t => Err(Error::invalid(format!(
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with \
             different values (run_name='{a}', mlflow.runName='{t}')."
        ))),
        (Some(a), _) => Ok(a.to_string()),
        (None, Some(t)) => Ok(t.to_string()),
        (None, None) => Ok(random_run_name()),
    }
}

impl Store {
    /// Creates a run in an active experiment, RUNNING, with MLflow's rules
    /// for its name and the `mlflow.runName` tag.
    pub fn create_run(&self, new_run: NewRun) -> Result<RunInfo> {
        for t in &new_run.tags {
            validate_tag(t)?;
        }
        let run_name = choose_run_name(&new_run)?;
        self.commit(|state| {
            let e = state
                .table
                .experiment_ordinal(&new_run.experiment_id)
                .ok_or_else(|| {
                    Error::not_found(format!(
                        "No Experiment with id={} exists",
                        new_run.experiment_id
                    ))
                })?;
            let experiment = &state.table.experiment(e).experiment;
            if experiment.lifecycle_stage != LifecycleStage::Active {
                return Err(Error::invalid(format!(
                    "The experiment {} must be in the 'active' state. Current state is deleted.",
                    experiment.experiment_id
                )));
            }

            let run_id = new_run_id();
            let mut tags: Vec<(String, String)> = new_run
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            if !tags.iter().any(|(k, _)| k == RUN_NAME_TAG) {
                tags.push((RUN_NAME_TAG.to_string(), run_name.clone()));
            }
            let user_id = new_run.user_id.clone().unwrap_or_else(|| {
                let from_tag = tags.iter().find(|(k, _)| k == USER_TAG);
                from_tag.map_or_else(|| "unknown".to_string(), |(_, v)| v.clone())
            });
            let rec = RunRec {
                run_id: run_id.clone(),
                experiment_id: new_run.experiment_id.clone(),
                run_name: run_name.clone(),
                user_id,
                status: RunStatus::Running as u8,
                start_time: new_run.start_time.unwrap_or_else(now_ms),
                end_time: None,
                deleted: false,
                deleted_time: None,
                artifact_uri: format!("{}/{run_id}/artifacts", experiment.artifact_location),
                params: vec![],
                tags,
                metrics: vec![],
                inputs: vec![],
            };
            let info = rec.info();
            let op = Op::PutRuns {
                runs: vec![rec],
                keep_duplicates: false,
            };
            Ok((Some(op), info))
        })
    }

    /// Writes whole runs exactly as given (import), in one record: all of
    /// them or none. Exact duplicate metric points are kept, as the source
    /// had them.
    /// One call writes at most [`MAX_IMPORT_RUNS`] runs and
    /// [`MAX_IMPORT_POINTS`] points (one log record must stay well within
    /// what a frame and its encoding can hold); split larger imports.
    pub fn import_runs(&self, runs: &[RunRecord]) -> Result<()> {
        let points: usize = runs
            .iter()
            .flat_map(|r| r.metrics.values())
            .map(Vec::len)
            .sum();
        if runs.len() > MAX_IMPORT_RUNS || points > MAX_IMPORT_POINTS {
            return Err(Error::invalid(format!(
                "An import batch can contain at most {MAX_IMPORT_RUNS} runs and \
                 {MAX_IMPORT_POINTS} metric points. Got {} runs and {points} points.",
                runs.len()
            )));
        }
        for run in runs {
            validate_run_id(&run.info.run_id)?;
        }
        self.commit(|state| {
            let mut seen = HashSet::new();
            for run in runs {
                let id = &run.info.run_id;
                if state.table.ordinal(id).is_some() || !seen.insert(id.as_str()) {
                    return Err(Error::ResourceAlreadyExists(format!(
                        "Run with id={id} already exists"
                    )));
                }
                if state
                    .table
                    .experiment_ordinal(&run.info.experiment_id)
                    .is_none()
                {
                    return Err(Error::not_found(format!(
                        "No Experiment with id={} exists",
                        run.info.experiment_id
                    )));
                }
            }
            let op = Op::PutRuns {
                runs: runs.iter().map(RunRec::from_record).collect(),
                keep_duplicates: true,
            };
            Ok((Some(op), ()))
        })
    }

    /// Writes one whole run exactly as given (import): all or nothing.
    pub fn import_run(&self, run: &RunRecord) -> Result<()> {
        self.import_runs(std::slice::from_ref(run))
    }

    /// Updates status, end time and name of an active run. An empty name
    /// leaves the name as it is; a new name also sets `mlflow.runName`.
    pub fn update_run_info(
        &self,
        run_id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        self.commit(|state| {
            let ord = existing_run(state, run_id)?;
            require_active_run(state, ord, run_id)?;
            let op = Op::UpdateRun {
                run_id: run_id.to_string(),
                status: status.map(|s| s as u8),
                end_time,
                run_name: run_name.filter(|n| !n.is_empty()).map(str::to_string),
            };
            Ok((Some(op), ()))
        })?;
        self.run_info(run_id)
    }

    fn run_info(&self, run_id: &str) -> Result<RunInfo> {
        let state = self.read();
        let ord = existing_run(&state, run_id)?;
        Ok(state.table.info(ord))
    }

    /// Soft-deletes a run; deleting a deleted run changes nothing.
    pub fn delete_run(&self, run_id: &str) -> Result<()> {
        self.set_run_lifecycle(run_id, true)
    }

    /// Restores a soft-deleted run; restoring an active run changes nothing.
    pub fn restore_run(&self, run_id: &str) -> Result<()> {
        self.set_run_lifecycle(run_id, false)
    }

    fn set_run_lifecycle(&self, run_id: &str, deleted: bool) -> Result<()> {
        self.commit(|state| {
            let ord = existing_run(state, run_id)?;
            let is_deleted = state.table.get(ord).lifecycle() == LifecycleStage::Deleted;
            if is_deleted == deleted {
                return Ok((None, ()));
            }
            let op = Op::SetRunLifecycle {
                run_id: run_id.to_string(),
                deleted,
                time: now_ms(),
            };
            Ok((Some(op), ()))
        })
    }

    /// Logs metrics, params and tags in one atomic batch, checked in
    /// MLflow's order; a batch that breaks any rule changes nothing.
    /// Exact duplicate metric points (including NaN) are stored once.
    pub fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[RunTag],
    ) -> Result<()> {
        validate_run_id(run_id)?;
        validate_batch_items(metrics, params, tags)?;
        if metrics.is_empty() && params.is_empty() && tags.is_empty() {
            let state = self.read();
            existing_run(&state, run_id)?;
            return Ok(());
        }
        self.commit(|state| {
            let ord = existing_run(state, run_id)?;
            require_active_run(state, ord, run_id)?;
            check_param_conflicts(state, ord, run_id, params)?;
            let op = Op::LogBatch {
                run_id: run_id.to_string(),
                metrics: group_metrics(metrics),
                params: params
                    .iter()
                    .map(|p| (p.key.clone(), p.value.clone()))
                    .collect(),
                tags: tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect(),
            };
            Ok((Some(op), ()))
        })
    }

    pub fn log_metric(&self, run_id: &str, metric: Metric) -> Result<()> {
        self.log_batch(run_id, &[metric], &[], &[])
    }

    pub fn log_param(&self, run_id: &str, param: Param) -> Result<()> {
        self.log_batch(run_id, &[], &[param], &[])
    }

    pub fn set_tag(&self, run_id: &str, tag: RunTag) -> Result<()> {
        self.log_batch(run_id, &[], &[], &[tag])
    }

    /// Deletes a tag of an active run; a missing tag is RESOURCE_DOES_NOT_EXIST.
    /// Deleting `mlflow.runName` leaves the run's name as it is.
    pub fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.commit(|state| {
            let ord = existing_run(state, run_id)?;
            require_active_run(state, ord, run_id)?;
            if state.table.tag(ord, key).is_none() {
                return Err(Error::not_found(format!(
                    "No tag with name: {key} in run with id {run_id}"
                )));
            }
            let op = Op::DeleteTag {
                run_id: run_id.to_string(),
                key: key.to_string(),
            };
            Ok((Some(op), ()))
        })
    }

    /// Logs dataset inputs; an input already logged (same name and digest)
    /// keeps its first tags.
    pub fn log_inputs(&self, run_id: &str, inputs: &[DatasetInput]) -> Result<()> {
        for input in inputs {
            validate_input(input)?;
        }
        self.commit(|state| {
            let ord = existing_run(state, run_id)?;
            require_active_run(state, ord, run_id)?;
            let op = Op::LogInputs {
                run_id: run_id.to_string(),
                inputs: inputs.iter().map(InputRec::from).collect(),
            };
            Ok((Some(op), ()))
        })
    }

    /// A run with its latest metric values (deleted runs too).
    pub fn get_run(&self, run_id: &str) -> Result<Run> {
        let state = self.read();
        let ord = existing_run(&state, run_id)?;
        Ok(state.table.run(ord))
    }

    /// Every point of one metric, in MLflow's history order: by timestamp,
    /// then step, points equal in both in the order they were logged. An
    /// unknown key gives an empty history.
    pub fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        Ok(self.metric_history_ref(run_id, key)?.to_vec())
    }

    /// [`Store::metric_history`] without the copy: a sealed series of a run
    /// still RUNNING at the last checkpoint (stored raw, see
    /// `docs/architecture.md`) is lent as column slices of the mapped series
    /// file, followed by the points logged since. Other series are decoded
    /// into an owned vector. The result holds the file open, not the store.
    pub fn metric_history_ref(&self, run_id: &str, key: &str) -> Result<MetricHistory> {
        let state = self.read();
        let ord = existing_run(&state, run_id)?;
        match state.table.metric_keys().get(key) {
            Some(k) => state.series.history((ord, k)),
            None => Ok(MetricHistory::owned(Vec::new())),
        }
    }

    /// [`Store::metric_history`] into `out`, whose contents it replaces: a
    /// reader of many long histories keeps one buffer, so a compressed
    /// series is decoded over memory that is already allocated and touched.
    pub fn metric_history_into(
        &self,
        run_id: &str,
        key: &str,
        out: &mut Vec<MetricPoint>,
    ) -> Result<()> {
        let state = self.read();
        let ord = existing_run(&state, run_id)?;
        match state.table.metric_keys().get(key) {
            Some(k) => state.series.history_into((ord, k), out),
            None => {
                out.clear();
                Ok(())
            }
        }
    }

    /// At most `max_points` points of one metric for plotting: the points
    /// with steps in `steps` (all if `None`), reduced so that each of
    /// `max_points / 4` step buckets keeps its first, last, minimum and
    /// maximum point (see [`crate::series::downsample`]). A long series
    /// of a run that was RUNNING at the last checkpoint carries a table of
    /// its chunks' extremes, and is sampled without reading every point.
    pub fn metric_history_sampled(
        &self,
        run_id: &str,
        key: &str,
        steps: Option<std::ops::RangeInclusive<i64>>,
        max_points: usize,
    ) -> Result<Vec<MetricPoint>> {
        let state = self.read();
        let ord = existing_run(&state, run_id)?;
        let Some(k) = state.table.metric_keys().get(key) else {
            return Ok(Vec::new());
        };
        if let Some(sampled) = state.series.sampled((ord, k), steps.as_ref(), max_points)? {
            return Ok(sampled);
        }
        let mut points = state.series.points((ord, k))?;
        if let Some(range) = &steps {
            points.retain(|p| range.contains(&p.step));
        }
        if !points.is_sorted_by_key(|p| p.step) {
            points.sort_by_key(|p| p.step);
        }
        Ok(crate::series::downsample_in_step_order(&points, max_points))
    }

    /// The histories of one key for many runs in one call (what a chart of
    /// many runs needs), under one read view. Unknown runs are an error.
    pub fn metric_histories(
        &self,
        run_ids: &[String],
        key: &str,
    ) -> Result<Vec<(String, Vec<MetricPoint>)>> {
        let histories = self.metric_histories_ref(run_ids, key)?;
        Ok(histories
            .into_iter()
            .map(|(run_id, history)| (run_id, history.to_vec()))
            .collect())
    }

    /// [`Store::metric_histories`] without copies where the series can be
    /// lent (see [`Store::metric_history_ref`]).
    pub fn metric_histories_ref(
        &self,
        run_ids: &[String],
        key: &str,
    ) -> Result<Vec<(String, MetricHistory)>> {
        let state = self.read();
        let k = state.table.metric_keys().get(key);
        run_ids
            .iter()
            .map(|run_id| {
                let ord = existing_run(&state, run_id)?;
                let history = match k {
                    Some(k) => state.series.history((ord, k))?,
                    None => MetricHistory::owned(Vec::new()),
                };
                Ok((run_id.clone(), history))
            })
            .collect()
    }

    /// The whole run with every history in logging order, as export writes it.
    pub fn run_record(&self, run_id: &str) -> Result<RunRecord> {
        let state = self.read();
        let ord = existing_run(&state, run_id)?;
        state.run_record(ord)
    }

    /// Ids of every run (any lifecycle), in the order they were created.
    pub fn run_ids(&self) -> Result<Vec<String>> {
        let state = self.read();
        let table = &state.table;
        Ok((0..table.len() as u32)
            .map(|ord| table.get(ord).run_id().to_string())
            .collect())
    }
}
