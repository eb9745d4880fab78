//! The run table: one row per run by ordinal, the experiments, and the
//! per-key indexes kept in step with every change.
//!
//! These are mutation primitives; MLflow's rules are checked by the store
//! before a record is logged, so applying a logged record never fails.

use std::collections::HashMap;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::{Dict, MetricIndex, Ordinal, StringIndex};
use crate::model::{
    DatasetInput, Experiment, LifecycleStage, MetricPoint, Run, RunInfo, RunStatus,
};

/// The id of `key` in `keys`, with an index for it in `indexes`.
fn intern_key(keys: &mut Dict, indexes: &mut Vec<StringIndex>, key: &str) -> u32 {
    let k = keys.intern(key);
    if indexes.len() <= k as usize {
        indexes.resize_with(k as usize + 1, StringIndex::new);
    }
    k
}

/// A tag key, its value (`None` once deleted) and the clock that decided it.
pub type TagClock<'a> = (&'a str, Option<&'a str>, u64);

/// Writes `value` (or a tombstone) into the slot of key `k`, if the clock
/// rule lets it, keeping the key's index in step.
fn write_slot(
    slots: &mut Vec<Slot>,
    index: &mut StringIndex,
    ord: Ordinal,
    k: u32,
    value: Option<&str>,
    clock: u64,
    wins: Wins,
) {
    match find_slot(slots, k) {
        Ok(i) => {
            let old = slots[i];
            if !wins.replaces(old.clock, clock) {
                return;
            }
            if let Some(old_value) = old.value {
                index.remove(ord, old_value);
            }
            slots[i] = Slot {
                key: k,
                value: value.map(|v| index.insert(ord, v, None)),
                clock,
            };
        }
        Err(i) => {
            let value = value.map(|v| index.insert(ord, v, None));
            slots.insert(
                i,
                Slot {
                    key: k,
                    value,
                    clock,
                },
            );
        }
    }
}

/// A param or tag of a run: interned key and value, and the clock of the
/// write that decided it. A deleted tag stays as a tombstone (`value:
/// None`) so that an older write arriving later from another writer's stream
/// cannot bring it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub key: u32,
    pub value: Option<u32>,
    pub clock: u64,
}

/// Clocks of the writes that decided a run's mutable fields: with several
/// writer streams, the write with the larger clock wins whatever order the
/// records are applied in (params: the smaller clock, the first write).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldClocks {
    pub name: u64,
    pub status: u64,
    pub end_time: u64,
    pub lifecycle: u64,
}

/// One run, with interned params and tags and its latest metric points.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub run_id: Arc<str>,
    /// Ordinal of its experiment in [`RunTable::experiments`].
    pub experiment: u32,
    pub run_name: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub lifecycle: LifecycleStage,
    pub artifact_uri: String,
    pub deleted_time: Option<i64>,
    /// Params, sorted by key id.
    pub params: Vec<Slot>,
    /// Tags (and tombstones of deleted tags), sorted by key id.
    pub tags: Vec<Slot>,
    pub clocks: FieldClocks,
    /// (metric key id, latest point by MLflow's rule), sorted by key id.
    pub metrics: Vec<(u32, MetricPoint)>,
    pub inputs: Vec<DatasetInput>,
}

/// An experiment and the runs in it.
#[derive(Debug, Clone)]
pub struct ExperimentRow {
    pub experiment: Experiment,
    pub runs: RoaringBitmap,
}

/// Every run and experiment with their indexes.
#[derive(Debug, Default, Clone)]
pub struct RunTable {
    rows: Vec<RunRow>,
    /// Start time by ordinal, apart from the rows: the default order's key,
    /// read for every matching run of a search.
    start_times: Vec<i64>,
    by_id: HashMap<Arc<str>, Ordinal>,
    experiments: Vec<ExperimentRow>,
    experiment_by_id: HashMap<String, u32>,
    experiment_by_name: HashMap<String, u32>,
    deleted: RoaringBitmap,
    param_keys: Dict,
    tag_keys: Dict,
    metric_keys: Dict,
    params: Vec<StringIndex>,
    tags: Vec<StringIndex>,
    metrics: Vec<MetricIndex>,
}

fn find<T: Copy>(pairs: &[(u32, T)], key: u32) -> Result<usize, usize> {
    pairs.binary_search_by_key(&key, |(k, _)| *k)
}

fn find_slot(slots: &[Slot], key: u32) -> Result<usize, usize> {
    slots.binary_search_by_key(&key, |s| s.key)
}

/// Who wins when a slot already holds a value: tags and tombstones take the
/// larger clock (last writer), params keep the smaller (first writer).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wins {
    Last,
    First,
}

impl Wins {
    fn replaces(self, old_clock: u64, new_clock: u64) -> bool {
        match self {
            Wins::Last => new_clock >= old_clock,
            Wins::First => new_clock < old_clock,
        }
    }
}

impl RunTable {
    // ---- experiments ----

    /// Inserts or replaces an experiment (matched by id).
    pub fn put_experiment(&mut self, experiment: Experiment) -> u32 {
        if let Some(&e) = self.experiment_by_id.get(&experiment.experiment_id) {
            let old_name = self.experiments[e as usize].experiment.name.clone();
            self.experiment_by_name.remove(&old_name);
            self.experiment_by_name.insert(experiment.name.clone(), e);
            self.experiments[e as usize].experiment = experiment;
            return e;
        }
        let e = self.experiments.len() as u32;
        self.experiment_by_id
            .insert(experiment.experiment_id.clone(), e);
        self.experiment_by_name.insert(experiment.name.clone(), e);
        self.experiments.push(ExperimentRow {
            experiment,
            runs: RoaringBitmap::new(),
        });
        e
    }

    /// Ordinal of the experiment with this id.
    pub fn experiment_ordinal(&self, id: &str) -> Option<u32> {
        self.experiment_by_id.get(id).copied()
    }

    /// Ordinal of the experiment with this name (active or deleted).
    pub fn experiment_ordinal_by_name(&self, name: &str) -> Option<u32> {
        self.experiment_by_name.get(name).copied()
    }

    pub fn experiment(&self, e: u32) -> &ExperimentRow {
        &self.experiments[e as usize]
    }

    pub fn experiment_mut(&mut self, e: u32) -> &mut Experiment {
        &mut self.experiments[e as usize].experiment
    }

    /// Renames experiment `e`, keeping the name map in step.
    pub fn rename_experiment(&mut self, e: u32, name: &str) {
        let row = &mut self.experiments[e as usize].experiment;
        self.experiment_by_name.remove(&row.name);
        row.name = name.to_string();
        self.experiment_by_name.insert(name.to_string(), e);
    }

    pub fn experiments(&self) -> &[ExperimentRow] {
        &self.experiments
    }

    // ---- runs ----

    /// Adds a run; its experiment must exist. Returns its ordinal.
    pub fn insert_run(&mut self, info: &RunInfo) -> Option<Ordinal> {
        let e = self.experiment_ordinal(&info.experiment_id)?;
        let ord = self.rows.len() as Ordinal;
        let run_id: Arc<str> = Arc::from(info.run_id.as_str());
        self.rows.push(RunRow {
            run_id: run_id.clone(),
            experiment: e,
            run_name: info.run_name.clone(),
            user_id: info.user_id.clone(),
            status: info.status,
            start_time: info.start_time,
            end_time: info.end_time,
            lifecycle: LifecycleStage::Active,
            artifact_uri: info.artifact_uri.clone(),
            deleted_time: None,
            params: Vec::new(),
            tags: Vec::new(),
            clocks: FieldClocks::default(),
            metrics: Vec::new(),
            inputs: Vec::new(),
        });
        self.by_id.insert(run_id, ord);
        self.start_times.push(info.start_time);
        self.experiments[e as usize].runs.insert(ord);
        self.set_lifecycle(ord, info.lifecycle_stage, info.deleted_time, 0);
        Some(ord)
    }

    pub fn ordinal(&self, run_id: &str) -> Option<Ordinal> {
        self.by_id.get(run_id).copied()
    }

    pub fn row(&self, ord: Ordinal) -> &RunRow {
        &self.rows[ord as usize]
    }

    pub fn row_mut(&mut self, ord: Ordinal) -> &mut RunRow {
        &mut self.rows[ord as usize]
    }

    pub fn rows(&self) -> &[RunRow] {
        &self.rows
    }

    /// The start time of run `ord` (from a dense column).
    pub fn start_time(&self, ord: Ordinal) -> i64 {
        self.start_times[ord as usize]
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every ordinal, `0..len`.
    pub fn all(&self) -> RoaringBitmap {
        let mut all = RoaringBitmap::new();
        all.insert_range(0..self.rows.len() as u32);
        all
    }

    /// Soft-deleted runs.
    pub fn deleted(&self) -> &RoaringBitmap {
        &self.deleted
    }

    /// Moves run `ord` to `stage`, unless a later write decided it already.
    pub fn set_lifecycle(
        &mut self,
        ord: Ordinal,
        stage: LifecycleStage,
        time: Option<i64>,
        clock: u64,
    ) {
        let row = &mut self.rows[ord as usize];
        if clock < row.clocks.lifecycle {
            return;
        }
        row.clocks.lifecycle = clock;
        row.lifecycle = stage;
        match stage {
            LifecycleStage::Deleted => {
                row.deleted_time = time;
                self.deleted.insert(ord);
            }
            LifecycleStage::Active => {
                row.deleted_time = None;
                self.deleted.remove(ord);
            }
        }
    }

    // ---- params and tags ----

    pub fn param_keys(&self) -> &Dict {
        &self.param_keys
    }

    pub fn tag_keys(&self) -> &Dict {
        &self.tag_keys
    }

    pub fn metric_keys(&self) -> &Dict {
        &self.metric_keys
    }

    /// Index of a param key, if any run has had it.
    pub fn param_index(&self, key: &str) -> Option<&StringIndex> {
        self.param_keys.get(key).map(|k| &self.params[k as usize])
    }

    pub fn tag_index(&self, key: &str) -> Option<&StringIndex> {
        self.tag_keys.get(key).map(|k| &self.tags[k as usize])
    }

    pub fn metric_index(&self, key: &str) -> Option<&MetricIndex> {
        self.metric_keys.get(key).map(|k| &self.metrics[k as usize])
    }

    /// The value of param `key` of run `ord`.
    pub fn param(&self, ord: Ordinal, key: &str) -> Option<&str> {
        let k = self.param_keys.get(key)?;
        let row = &self.rows[ord as usize];
        let slot = row.params[find_slot(&row.params, k).ok()?];
        Some(self.params[k as usize].values().resolve(slot.value?))
    }

    /// The value of tag `key` of run `ord`.
    pub fn tag(&self, ord: Ordinal, key: &str) -> Option<&str> {
        let k = self.tag_keys.get(key)?;
        let row = &self.rows[ord as usize];
        let slot = row.tags[find_slot(&row.tags, k).ok()?];
        Some(self.tags[k as usize].values().resolve(slot.value?))
    }

    /// The latest point of metric `key` of run `ord`.
    pub fn metric(&self, ord: Ordinal, key: &str) -> Option<MetricPoint> {
        let k = self.metric_keys.get(key)?;
        let row = &self.rows[ord as usize];
        find(&row.metrics, k).ok().map(|i| row.metrics[i].1)
    }

    /// Sets param `key` of run `ord`. Params are write-once (the store
    /// checks); should two writers race, the write with the smaller clock
    /// (the first) is kept.
    pub fn set_param(&mut self, ord: Ordinal, key: &str, value: &str, clock: u64) {
        let k = intern_key(&mut self.param_keys, &mut self.params, key);
        let index = &mut self.params[k as usize];
        let slots = &mut self.rows[ord as usize].params;
        write_slot(slots, index, ord, k, Some(value), clock, Wins::First);
    }

    /// Sets tag `key` of run `ord`, unless a later write (by clock) already
    /// set or deleted it.
    pub fn set_tag(&mut self, ord: Ordinal, key: &str, value: &str, clock: u64) {
        self.write_tag(ord, key, Some(value), clock);
    }

    /// Deletes tag `key` of run `ord` (leaving a tombstone), unless a later
    /// write already set it.
    pub fn delete_tag(&mut self, ord: Ordinal, key: &str, clock: u64) {
        self.write_tag(ord, key, None, clock);
    }

    fn write_tag(&mut self, ord: Ordinal, key: &str, value: Option<&str>, clock: u64) {
        let k = intern_key(&mut self.tag_keys, &mut self.tags, key);
        let index = &mut self.tags[k as usize];
        let slots = &mut self.rows[ord as usize].tags;
        write_slot(slots, index, ord, k, value, clock, Wins::Last);
    }

    /// Every param and tag slot of run `ord` as (key, value or `None` for a
    /// deleted tag, clock), for checkpoints.
    pub fn slots(&self, ord: Ordinal) -> (Vec<(&str, u64)>, Vec<TagClock<'_>>) {
        let row = &self.rows[ord as usize];
        let params = row
            .params
            .iter()
            .map(|s| (self.param_keys.resolve(s.key), s.clock))
            .collect();
        let tags = row
            .tags
            .iter()
            .map(|s| {
                let value = s
                    .value
                    .map(|v| self.tags[s.key as usize].values().resolve(v));
                (self.tag_keys.resolve(s.key), value, s.clock)
            })
            .collect();
        (params, tags)
    }

    /// Puts back the clocks (and tag tombstones) a checkpoint recorded for
    /// run `ord`, after its values were restored.
    pub fn restore_clocks(
        &mut self,
        ord: Ordinal,
        clocks: FieldClocks,
        params: &[(String, u64)],
        tags: &[(String, Option<String>, u64)],
    ) {
        self.rows[ord as usize].clocks = clocks;
        for (key, clock) in params {
            if let Some(k) = self.param_keys.get(key) {
                let row = &mut self.rows[ord as usize];
                if let Ok(i) = find_slot(&row.params, k) {
                    row.params[i].clock = *clock;
                }
            }
        }
        for (key, value, clock) in tags {
            match value {
                Some(value) => self.set_tag(ord, key, value, *clock),
                None => self.delete_tag(ord, key, *clock),
            }
        }
    }

    /// Renames run `ord` (the name a `mlflow.runName` write decides too).
    pub fn set_run_name(&mut self, ord: Ordinal, name: &str, clock: u64) {
        let row = &mut self.rows[ord as usize];
        if clock >= row.clocks.name {
            row.clocks.name = clock;
            row.run_name = name.to_string();
        }
    }

    pub fn set_status(&mut self, ord: Ordinal, status: RunStatus, clock: u64) {
        let row = &mut self.rows[ord as usize];
        if clock >= row.clocks.status {
            row.clocks.status = clock;
            row.status = status;
        }
    }

    pub fn set_end_time(&mut self, ord: Ordinal, end_time: i64, clock: u64) {
        let row = &mut self.rows[ord as usize];
        if clock >= row.clocks.end_time {
            row.clocks.end_time = clock;
            row.end_time = Some(end_time);
        }
    }

    /// Interns metric keys in the order given (restoring a checkpoint, whose
    /// series file names keys by id).
    pub fn intern_metric_keys<'a>(&mut self, keys: impl IntoIterator<Item = &'a str>) {
        for key in keys {
            let k = self.metric_keys.intern(key);
            if self.metrics.len() <= k as usize {
                self.metrics
                    .resize_with(k as usize + 1, MetricIndex::default);
            }
        }
    }

    /// Offers a new point of metric `key`; it becomes the latest if it wins
    /// MLflow's (step, timestamp, value) order.
    pub fn offer_metric(&mut self, ord: Ordinal, key: &str, point: MetricPoint) {
        let k = self.metric_keys.intern(key);
        if self.metrics.len() <= k as usize {
            self.metrics
                .resize_with(k as usize + 1, MetricIndex::default);
        }
        let row = &mut self.rows[ord as usize];
        match find(&row.metrics, k) {
            Ok(i) => {
                if point.latest_cmp(&row.metrics[i].1).is_gt() {
                    row.metrics[i].1 = point;
                    self.metrics[k as usize].set(ord, point.value);
                }
            }
            Err(i) => {
                row.metrics.insert(i, (k, point));
                self.metrics[k as usize].set(ord, point.value);
            }
        }
    }

    /// Adds dataset inputs to run `ord`; an input already logged (same
    /// name and digest) is left as it was.
    pub fn add_inputs(&mut self, ord: Ordinal, inputs: &[DatasetInput]) {
        let row = &mut self.rows[ord as usize];
        for input in inputs {
            let known = row.inputs.iter().any(|i| {
                i.dataset.name == input.dataset.name && i.dataset.digest == input.dataset.digest
            });
            if !known {
                row.inputs.push(input.clone());
            }
        }
    }

    // ---- reading whole runs ----

    /// The run as MLflow's `get_run` shows it.
    pub fn run(&self, ord: Ordinal) -> Run {
        let row = &self.rows[ord as usize];
        let params = self.resolve_slots(&row.params, &self.param_keys, &self.params);
        let tags = self.resolve_slots(&row.tags, &self.tag_keys, &self.tags);
        let metrics = row
            .metrics
            .iter()
            .map(|&(k, p)| (self.metric_keys.resolve(k).to_string(), p))
            .collect();
        Run {
            info: self.info(ord),
            params,
            tags,
            metrics,
            inputs: row.inputs.clone(),
        }
    }

    /// Key and value strings of the live (not deleted) slots.
    fn resolve_slots(
        &self,
        slots: &[Slot],
        keys: &Dict,
        indexes: &[StringIndex],
    ) -> std::collections::BTreeMap<String, String> {
        slots
            .iter()
            .filter_map(|slot| {
                let value = indexes[slot.key as usize].values().resolve(slot.value?);
                Some((keys.resolve(slot.key).to_string(), value.to_string()))
            })
            .collect()
    }

    /// The info part of run `ord`.
    pub fn info(&self, ord: Ordinal) -> RunInfo {
        let row = &self.rows[ord as usize];
        RunInfo {
            run_id: row.run_id.to_string(),
            experiment_id: self.experiments[row.experiment as usize]
                .experiment
                .experiment_id
                .clone(),
            run_name: row.run_name.clone(),
            user_id: row.user_id.clone(),
            status: row.status,
            start_time: row.start_time,
            end_time: row.end_time,
            lifecycle_stage: row.lifecycle,
            artifact_uri: row.artifact_uri.clone(),
            deleted_time: row.deleted_time,
        }
    }

    /// Approximate heap bytes of the indexes (not the rows), for `stats`.
    pub fn index_heap_bytes(&self) -> usize {
        let strings: usize = self
            .params
            .iter()
            .chain(&self.tags)
            .map(|i| i.heap_bytes())
            .sum();
        let metrics: usize = self.metrics.iter().map(|m| m.heap_bytes()).sum();
        let experiments: usize = self
            .experiments
            .iter()
            .map(|e| e.runs.serialized_size())
            .sum();
        strings + metrics + experiments + self.deleted.serialized_size() + self.by_id.len() * 48
    }
}
