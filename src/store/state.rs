//! The in-memory state of a store and how a logged record changes it.
//!
//! `apply` is deterministic and never fails: every rule was checked before
//! the record was logged, so replaying the log rebuilds exactly the state
//! that the writer had. A record that refers to something missing (possible
//! only if files were edited by hand) is skipped with a warning.

use std::collections::BTreeMap;

use crate::index::{Ordinal, RunTable};
use crate::log::Position;
use crate::model::{LifecycleStage, MetricPoint, RunStatus};
use crate::series::Histories;

use super::record::{Entry, ExperimentRec, InputRec, Op, RunRec, SeriesRec, stage};

/// Everything a reader needs: runs, experiments, indexes and histories.
#[derive(Debug, Default)]
pub struct State {
    pub table: RunTable,
    pub series: Histories,
    /// Largest hybrid-logical-clock value applied.
    pub hlc: u64,
    /// Number of records applied: a cached search result is valid while it
    /// stays the same.
    pub version: u64,
    /// For each writer stream, the log position up to which its records
    /// are applied.
    pub applied: BTreeMap<u64, Position>,
}

impl State {
    /// Applies one logged record. Its clock decides conflicts with records
    /// of other writer streams (see `docs/concurrency.md`), so the result
    /// does not depend on the order records of different streams arrive in.
    pub fn apply(&mut self, entry: &Entry) {
        self.hlc = self.hlc.max(entry.hlc);
        self.version += 1;
        let clock = entry.hlc;
        match &entry.op {
            Op::PutExperiment(rec) => self.put_experiment(rec),
            Op::RenameExperiment {
                experiment_id,
                name,
                time,
            } => self.rename_experiment(experiment_id, name, *time),
            Op::SetExperimentLifecycle {
                experiment_id,
                deleted,
                time,
            } => self.set_experiment_lifecycle(experiment_id, *deleted, *time, clock),
            Op::SetExperimentTag {
                experiment_id,
                key,
                value,
            } => self.set_experiment_tag(experiment_id, key, value),
            Op::PutRuns {
                runs,
                keep_duplicates,
            } => {
                for run in runs {
                    self.put_run(run, *keep_duplicates, clock);
                }
            }
            Op::UpdateRun {
                run_id,
                status,
                end_time,
                run_name,
            } => self.update_run(run_id, *status, *end_time, run_name.as_deref(), clock),
            Op::SetRunLifecycle {
                run_id,
                deleted,
                time,
            } => self.set_run_lifecycle(run_id, *deleted, *time, clock),
            Op::LogBatch {
                run_id,
                metrics,
                params,
                tags,
            } => self.log_batch(run_id, metrics, params, tags, clock),
            Op::DeleteTag { run_id, key } => self.delete_tag(run_id, key, clock),
            Op::LogInputs { run_id, inputs } => self.log_inputs(run_id, inputs),
        }
    }

    fn run_ordinal(&self, run_id: &str) -> Option<Ordinal> {
        let ord = self.table.ordinal(run_id);
        if ord.is_none() {
            tracing::warn!(run_id, "log record names an unknown run; skipped");
        }
        ord
    }

    fn experiment_ordinal(&self, experiment_id: &str) -> Option<u32> {
        let e = self.table.experiment_ordinal(experiment_id);
        if e.is_none() {
            tracing::warn!(
                experiment_id,
                "log record names an unknown experiment; skipped"
            );
        }
        e
    }

    fn put_experiment(&mut self, rec: &ExperimentRec) {
        self.table.put_experiment(rec.into());
    }

    fn rename_experiment(&mut self, id: &str, name: &str, time: i64) {
        if let Some(e) = self.experiment_ordinal(id) {
            self.table.rename_experiment(e, name);
            self.table.experiment_mut(e).last_update_time = Some(time);
        }
    }

    /// Deleting an experiment deletes all of its runs; restoring it restores
    /// all of them, including runs deleted one by one before (MLflow's SQL
    /// store does the same).
    fn set_experiment_lifecycle(&mut self, id: &str, deleted: bool, time: i64, clock: u64) {
        let Some(e) = self.experiment_ordinal(id) else {
            return;
        };
        let experiment = self.table.experiment_mut(e);
        experiment.lifecycle_stage = stage(deleted);
        experiment.last_update_time = Some(time);

        let runs = self.table.experiment(e).runs.clone();
        for ord in runs {
            let already = self.table.get(ord).lifecycle() == stage(deleted);
            if !already {
                let time = deleted.then_some(time);
                self.table.set_lifecycle(ord, stage(deleted), time, clock);
            }
        }
    }

    fn set_experiment_tag(&mut self, id: &str, key: &str, value: &str) {
        if let Some(e) = self.experiment_ordinal(id) {
            let experiment = self.table.experiment_mut(e);
            experiment.tags.insert(key.to_string(), value.to_string());
        }
    }

    fn put_run(&mut self, rec: &RunRec, keep_duplicates: bool, clock: u64) {
        if self.table.ordinal(&rec.run_id).is_some() {
            tracing::warn!(
                run_id = rec.run_id,
                "log record creates an existing run; skipped"
            );
            return;
        }
        let Some(ord) = self.table.insert_run(&rec.info()) else {
            tracing::warn!(
                run_id = rec.run_id,
                "run names an unknown experiment; skipped"
            );
            return;
        };
        self.table
            .reserve_row(ord, rec.params.len(), rec.tags.len(), rec.metrics.len());
        for (key, value) in &rec.params {
            self.table.set_param(ord, key, value, clock);
        }
        for (key, value) in &rec.tags {
            self.table.set_tag(ord, key, value, clock);
        }
        self.add_series(ord, &rec.metrics, keep_duplicates);
        let inputs: Vec<_> = rec.inputs.iter().map(Into::into).collect();
        self.table.add_inputs(ord, &inputs);
    }

    fn add_series(&mut self, ord: Ordinal, metrics: &[SeriesRec], keep_duplicates: bool) {
        for series in metrics {
            let mut points = series.points();
            let Some(first) = points.next() else {
                continue;
            };
            self.add_point(ord, &series.key, first, keep_duplicates);
            // The series' length is known: its tail takes that much and no
            // more, where growing by steps would leave room unused until the
            // next checkpoint.
            if let Some(k) = self.table.metric_keys().get(&series.key) {
                self.series.reserve((ord, k), points.size_hint().0);
            }
            for point in points {
                self.add_point(ord, &series.key, point, keep_duplicates);
            }
        }
    }

    fn add_point(&mut self, ord: Ordinal, key: &str, point: MetricPoint, keep_duplicates: bool) {
        self.table.offer_metric(ord, key, point);
        let Some(k) = self.table.metric_keys().get(key) else {
            return;
        };
        if keep_duplicates {
            self.series.append((ord, k), point);
        } else {
            self.series.append_unique((ord, k), point);
        }
    }

    fn update_run(
        &mut self,
        run_id: &str,
        status: Option<u8>,
        end_time: Option<i64>,
        run_name: Option<&str>,
        clock: u64,
    ) {
        let Some(ord) = self.run_ordinal(run_id) else {
            return;
        };
        if let Some(status) = status.and_then(|s| RunStatus::from_code(s as i64).ok()) {
            self.table.set_status(ord, status, clock);
        }
        if let Some(end_time) = end_time {
            self.table.set_end_time(ord, end_time, clock);
        }
        if let Some(name) = run_name.filter(|n| !n.is_empty()) {
            self.table.set_run_name(ord, name, clock);
            self.table.set_tag(ord, RUN_NAME_TAG, name, clock);
        }
    }

    fn set_run_lifecycle(&mut self, run_id: &str, deleted: bool, time: i64, clock: u64) {
        if let Some(ord) = self.run_ordinal(run_id) {
            let time = deleted.then_some(time);
            self.table.set_lifecycle(ord, stage(deleted), time, clock);
        }
    }

    /// Params first, then metrics, then tags, as MLflow applies a batch; a
    /// `mlflow.runName` tag renames the run.
    fn log_batch(
        &mut self,
        run_id: &str,
        metrics: &[SeriesRec],
        params: &[(String, String)],
        tags: &[(String, String)],
        clock: u64,
    ) {
        let Some(ord) = self.run_ordinal(run_id) else {
            return;
        };
        for (key, value) in params {
            self.table.set_param(ord, key, value, clock);
        }
        self.add_series(ord, metrics, false);
        for (key, value) in tags {
            self.table.set_tag(ord, key, value, clock);
            if key == RUN_NAME_TAG {
                self.table.set_run_name(ord, value, clock);
            }
        }
    }

    fn delete_tag(&mut self, run_id: &str, key: &str, clock: u64) {
        if let Some(ord) = self.run_ordinal(run_id) {
            self.table.delete_tag(ord, key, clock);
        }
    }

    fn log_inputs(&mut self, run_id: &str, inputs: &[InputRec]) {
        if let Some(ord) = self.run_ordinal(run_id) {
            let inputs: Vec<_> = inputs.iter().map(Into::into).collect();
            self.table.add_inputs(ord, &inputs);
        }
    }

    /// Run `ord` whole, every history in logging order (export, compaction).
    pub fn run_record(&self, ord: Ordinal) -> crate::error::Result<crate::model::RunRecord> {
        let run = self.table.run(ord);
        let metrics = self
            .table
            .metrics_of(ord)
            .iter()
            .map(|&(k, _)| {
                let key = self.table.metric_keys().resolve(k).to_string();
                Ok((key, self.series.points((ord, k))?))
            })
            .collect::<crate::error::Result<_>>()?;
        Ok(crate::model::RunRecord {
            info: run.info,
            params: run.params.to_btree(),
            tags: run.tags.to_btree(),
            metrics,
            inputs: run.inputs,
        })
    }

    /// Whether run `ord` accepts data (MLflow: only active runs do).
    pub fn is_active(&self, ord: Ordinal) -> bool {
        self.table.get(ord).lifecycle() == LifecycleStage::Active
    }
}

/// The system tag that mirrors a run's name.
pub const RUN_NAME_TAG: &str = "mlflow.runName";
