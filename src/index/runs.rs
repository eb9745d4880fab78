//! The run table: every run by ordinal, the experiments, and the per-key
//! indexes kept in step with every change.
//!
//! Runs live in two parts. The frozen part is the last checkpoint's image,
//! mapped and read in place (`frozen.rs`), ordinals `0..base_len`. The live
//! part holds runs created since (ordinals from `base_len` on) and a copy of
//! every frozen run changed since: such a run is *shadowed*, and every read
//! of it, by ordinal or through an index, goes to its live copy. A
//! checkpoint folds both parts into a new image.
//!
//! These are mutation primitives; MLflow's rules are checked by the store
//! before a record is logged, so applying a logged record never fails.

use std::collections::HashMap;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::frozen::Frozen;
use super::row::{Entry, Row};
use super::view::{KeyView, MetricView, RunRef};
use super::{Dict, MetricIndex, Ordinal, StringIndex};
use crate::error::Result;
use crate::model::{
    DatasetInput, Experiment, LifecycleStage, MetricMap, MetricPoint, Run, RunInfo, RunStatus,
    StringMap,
};

/// The id of `key` in `keys`, with an index for it in `indexes`.
fn intern_key(keys: &mut Dict, indexes: &mut Vec<StringIndex>, key: &str) -> u32 {
    let k = keys.intern(key);
    if indexes.len() <= k as usize {
        indexes.resize_with(k as usize + 1, StringIndex::new);
    }
    k
}

/// Writes `value` (or a tombstone) into the slot of key `k`, if the clock
/// rule lets it, keeping the key's index in step. Returns whether a slot
/// was added (the key was new to the run).
fn write_slot(
    slots: &mut Vec<Slot>,
    index: &mut StringIndex,
    ord: Ordinal,
    k: u32,
    value: Option<&str>,
    clock: u64,
    wins: Wins,
) -> bool {
    match find_slot(slots, k) {
        Ok(i) => {
            let old = slots[i];
            if !wins.replaces(old.clock, clock) {
                return false;
            }
            if let Some(old_value) = old.value {
                index.remove(ord, old_value);
            }
            slots[i] = Slot {
                key: k,
                value: value.map(|v| index.insert(ord, v, None)),
                clock,
            };
            false
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
            true
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
    /// The checkpointed runs, ordinals `0..base_len`.
    base: Option<Arc<Frozen>>,
    base_len: u32,
    /// Frozen runs changed since the checkpoint; their rows are in
    /// `promoted`, their index entries in the live indexes.
    shadow: RoaringBitmap,
    promoted: HashMap<Ordinal, RunRow>,
    /// Runs created since the checkpoint, ordinal `base_len + i`.
    rows: Vec<RunRow>,
    /// Start time of each run in `rows`, apart from the rows: the default
    /// order's key, read for every matching run of a search.
    start_times: Vec<i64>,
    /// Ids of the runs in `rows` (frozen ids are looked up in the image).
    by_id: HashMap<Arc<str>, Ordinal>,
    experiments: Vec<ExperimentRow>,
    experiment_by_id: HashMap<String, u32>,
    experiment_by_name: HashMap<String, u32>,
    deleted: RoaringBitmap,
    /// Every run not soft-deleted: the candidates of the default view, kept
    /// rather than computed per search (all runs less the deleted ones
    /// costs a pass over a million-run bitmap).
    active: RoaringBitmap,
    /// Key dictionaries of both parts: the image's keys come first, in its
    /// order, so key ids mean the same in both.
    param_keys: Dict,
    tag_keys: Dict,
    metric_keys: Dict,
    /// Live indexes (runs in `rows` and `promoted` only).
    params: Vec<StringIndex>,
    tags: Vec<StringIndex>,
    metrics: Vec<MetricIndex>,
    /// Params and tags (tombstones included) held by live rows: with the
    /// row count, what an estimate of the live part's memory goes by.
    live_slots: usize,
}

fn find<T: Copy>(pairs: &[(u32, T)], key: u32) -> std::result::Result<usize, usize> {
    pairs.binary_search_by_key(&key, |(k, _)| *k)
}

fn find_slot(slots: &[Slot], key: u32) -> std::result::Result<usize, usize> {
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
    /// A table whose runs are those of a checkpoint image.
    pub fn from_frozen(frozen: Arc<Frozen>) -> Result<RunTable> {
        let deleted = frozen.deleted()?;
        let mut active = RoaringBitmap::new();
        active.insert_range(0..frozen.len());
        active -= &deleted;
        let mut table = RunTable {
            base_len: frozen.len(),
            deleted,
            active,
            ..RunTable::default()
        };
        for experiment in frozen.experiments() {
            let e = table.put_experiment(experiment.clone());
            table.experiments[e as usize].runs = frozen.experiment_runs(e as usize)?;
        }
        for key in frozen.param_key_names() {
            intern_key(&mut table.param_keys, &mut table.params, key);
        }
        for key in frozen.tag_key_names() {
            intern_key(&mut table.tag_keys, &mut table.tags, key);
        }
        for key in frozen.metric_key_names() {
            table.intern_metric_key(key);
        }
        table.base = Some(frozen);
        Ok(table)
    }

    /// The checkpoint image the table reads from, if any.
    pub fn frozen(&self) -> Option<&Arc<Frozen>> {
        self.base.as_ref()
    }

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
        let ord = self.len() as Ordinal;
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
        self.active.insert(ord);
        self.set_lifecycle(ord, info.lifecycle_stage, info.deleted_time, 0);
        Some(ord)
    }

    pub fn ordinal(&self, run_id: &str) -> Option<Ordinal> {
        if let Some(&ord) = self.by_id.get(run_id) {
            return Some(ord);
        }
        self.base.as_ref()?.lookup(run_id)
    }

    /// The live row of run `ord`, if it has one (created or changed since
    /// the checkpoint).
    fn live(&self, ord: Ordinal) -> Option<&RunRow> {
        if ord >= self.base_len {
            return self.rows.get((ord - self.base_len) as usize);
        }
        if self.promoted.is_empty() {
            return None;
        }
        self.promoted.get(&ord)
    }

    /// Run `ord`, wherever it lives.
    pub fn get(&self, ord: Ordinal) -> RunRef<'_> {
        match (self.live(ord), &self.base) {
            (Some(row), _) => RunRef::Live(row),
            (None, Some(base)) => RunRef::Frozen(base, ord),
            (None, None) => RunRef::Missing,
        }
    }

    /// Run `ord` as a mutable live row, copying it out of the frozen part
    /// first if needed. `None` for an ordinal that names no run.
    fn live_mut(&mut self, ord: Ordinal) -> Option<&mut RunRow> {
        if ord >= self.base_len {
            return self.rows.get_mut((ord - self.base_len) as usize);
        }
        if !self.promoted.contains_key(&ord) {
            let row = self.promote(ord)?;
            self.promoted.insert(ord, row);
            self.shadow.insert(ord);
        }
        self.promoted.get_mut(&ord)
    }

    /// A live copy of frozen run `ord`, its values entered in the live
    /// indexes.
    fn promote(&mut self, ord: Ordinal) -> Option<RunRow> {
        let base = self.base.clone()?;
        if ord >= base.len() {
            return None;
        }
        let row = base.row(ord)?;
        let mut params = Vec::new();
        for (key, value, clock) in row.params() {
            let index = self.params.get_mut(key as usize)?;
            let value = value.map(|v| index.insert(ord, v, None));
            params.push(Slot { key, value, clock });
        }
        let mut tags = Vec::new();
        for (key, value, clock) in row.tags() {
            let index = self.tags.get_mut(key as usize)?;
            let value = value.map(|v| index.insert(ord, v, None));
            tags.push(Slot { key, value, clock });
        }
        self.live_slots += params.len() + tags.len();
        let mut metrics = row.metrics();
        // Records list keys in name order; live rows find them by id.
        params.sort_unstable_by_key(|s| s.key);
        tags.sort_unstable_by_key(|s| s.key);
        metrics.sort_unstable_by_key(|&(k, _)| k);
        for &(k, point) in &metrics {
            self.metrics.get_mut(k as usize)?.set(ord, point.value);
        }
        Some(RunRow {
            run_id: Arc::from(row.run_id),
            experiment: base.experiment(ord),
            run_name: row.run_name.to_string(),
            user_id: row.user_id.to_string(),
            status: base.status(ord),
            start_time: base.start_time(ord),
            end_time: base.end_time(ord),
            lifecycle: base.lifecycle(ord),
            artifact_uri: row.artifact_uri.to_string(),
            deleted_time: base.deleted_time(ord),
            params,
            tags,
            clocks: row.clocks,
            metrics,
            inputs: base.inputs(ord),
        })
    }

    /// The start time of run `ord` (from a dense column).
    pub fn start_time(&self, ord: Ordinal) -> i64 {
        if ord >= self.base_len {
            return self.start_times[(ord - self.base_len) as usize];
        }
        self.base.as_ref().map_or(0, |b| b.start_time(ord))
    }

    pub fn len(&self) -> usize {
        self.base_len as usize + self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every ordinal, `0..len`.
    pub fn all(&self) -> RoaringBitmap {
        let mut all = RoaringBitmap::new();
        all.insert_range(0..self.len() as u32);
        all
    }

    /// Soft-deleted runs.
    pub fn deleted(&self) -> &RoaringBitmap {
        &self.deleted
    }

    /// Runs not soft-deleted.
    pub fn active(&self) -> &RoaringBitmap {
        &self.active
    }

    /// Moves run `ord` to `stage`, unless a later write decided it already.
    pub fn set_lifecycle(
        &mut self,
        ord: Ordinal,
        stage: LifecycleStage,
        time: Option<i64>,
        clock: u64,
    ) {
        if clock < self.get(ord).clocks().lifecycle {
            return;
        }
        let Some(row) = self.live_mut(ord) else {
            return;
        };
        row.clocks.lifecycle = clock;
        row.lifecycle = stage;
        match stage {
            LifecycleStage::Deleted => {
                row.deleted_time = time;
                self.deleted.insert(ord);
                self.active.remove(ord);
            }
            LifecycleStage::Active => {
                row.deleted_time = None;
                self.deleted.remove(ord);
                self.active.insert(ord);
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
    pub fn param_index(&self, key: &str) -> Option<KeyView<'_>> {
        let k = self.param_keys.get(key)?;
        Some(KeyView::new(
            self.base.as_deref().and_then(|b| b.param_key(k)),
            self.params.get(k as usize),
            &self.shadow,
        ))
    }

    pub fn tag_index(&self, key: &str) -> Option<KeyView<'_>> {
        let k = self.tag_keys.get(key)?;
        Some(KeyView::new(
            self.base.as_deref().and_then(|b| b.tag_key(k)),
            self.tags.get(k as usize),
            &self.shadow,
        ))
    }

    pub fn metric_index(&self, key: &str) -> Option<MetricView<'_>> {
        let k = self.metric_keys.get(key)?;
        Some(MetricView::new(
            self.base.as_deref().and_then(|b| b.metric_key(k)),
            self.metrics.get(k as usize),
            &self.shadow,
            self.base_len,
        ))
    }

    /// The value of param `key` of run `ord`.
    pub fn param(&self, ord: Ordinal, key: &str) -> Option<&str> {
        let k = self.param_keys.get(key)?;
        match self.live(ord) {
            Some(row) => {
                let slot = row.params[find_slot(&row.params, k).ok()?];
                Some(self.params[k as usize].values().resolve(slot.value?))
            }
            None => self.base.as_ref()?.param(ord, k),
        }
    }

    /// The value of tag `key` of run `ord`.
    pub fn tag(&self, ord: Ordinal, key: &str) -> Option<&str> {
        let k = self.tag_keys.get(key)?;
        match self.live(ord) {
            Some(row) => {
                let slot = row.tags[find_slot(&row.tags, k).ok()?];
                Some(self.tags[k as usize].values().resolve(slot.value?))
            }
            None => self.base.as_ref()?.tag(ord, k),
        }
    }

    /// The latest point of metric `key` of run `ord`.
    pub fn metric(&self, ord: Ordinal, key: &str) -> Option<MetricPoint> {
        self.latest_point(ord, self.metric_keys.get(key)?)
    }

    fn latest_point(&self, ord: Ordinal, k: u32) -> Option<MetricPoint> {
        match self.live(ord) {
            Some(row) => find(&row.metrics, k).ok().map(|i| row.metrics[i].1),
            None => self
                .base
                .as_ref()?
                .metrics(ord)
                .into_iter()
                .find(|&(key, _)| key == k)
                .map(|(_, p)| p),
        }
    }

    /// The latest point of every metric of run `ord`, by key id.
    pub fn metrics_of(&self, ord: Ordinal) -> Vec<(u32, MetricPoint)> {
        match self.live(ord) {
            Some(row) => row.metrics.clone(),
            None => self.base.as_ref().map_or_else(Vec::new, |b| b.metrics(ord)),
        }
    }

    /// Params of run `ord` as (key, value, clock).
    pub fn param_slots(&self, ord: Ordinal) -> Vec<(u32, Option<&str>, u64)> {
        match (self.live(ord), &self.base) {
            (Some(row), _) => resolve(&row.params, &self.params),
            (None, Some(base)) => base.params(ord),
            (None, None) => Vec::new(),
        }
    }

    /// Tags of run `ord` as (key, value or `None` when deleted, clock).
    pub fn tag_slots(&self, ord: Ordinal) -> Vec<(u32, Option<&str>, u64)> {
        match (self.live(ord), &self.base) {
            (Some(row), _) => resolve(&row.tags, &self.tags),
            (None, Some(base)) => base.tags(ord),
            (None, None) => Vec::new(),
        }
    }

    /// Sets param `key` of run `ord`. Params are write-once (the store
    /// checks); should two writers race, the write with the smaller clock
    /// (the first) is kept.
    pub fn set_param(&mut self, ord: Ordinal, key: &str, value: &str, clock: u64) {
        let k = intern_key(&mut self.param_keys, &mut self.params, key);
        if self.live_mut(ord).is_none() {
            return;
        }
        let row = live_row_mut(&mut self.rows, &mut self.promoted, self.base_len, ord);
        if let Some(row) = row {
            let index = &mut self.params[k as usize];
            let added = write_slot(
                &mut row.params,
                index,
                ord,
                k,
                Some(value),
                clock,
                Wins::First,
            );
            self.live_slots += usize::from(added);
        }
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
        if self.live_mut(ord).is_none() {
            return;
        }
        let row = live_row_mut(&mut self.rows, &mut self.promoted, self.base_len, ord);
        if let Some(row) = row {
            let index = &mut self.tags[k as usize];
            let added = write_slot(&mut row.tags, index, ord, k, value, clock, Wins::Last);
            self.live_slots += usize::from(added);
        }
    }

    /// The live row of `ord` borrowed from the row fields alone, so that an
    /// index can be borrowed beside it.
    fn live_rows(&mut self, ord: Ordinal) -> Option<&mut RunRow> {
        live_row_mut(&mut self.rows, &mut self.promoted, self.base_len, ord)
    }

    /// Rows held in memory: runs created since the checkpoint and
    /// checkpointed runs changed since.
    pub fn live_len(&self) -> usize {
        self.rows.len() + self.promoted.len()
    }

    /// Params and tags held by the rows of [`RunTable::live_len`].
    pub fn live_slots(&self) -> usize {
        self.live_slots
    }

    /// Makes room in run `ord`'s row for this many more params, tags and
    /// metric keys. A new run's counts are known when it is logged whole
    /// (import, a batch), and its row then holds no unused room until the
    /// next checkpoint, where growing by doubling would.
    pub fn reserve_row(&mut self, ord: Ordinal, params: usize, tags: usize, metrics: usize) {
        if let Some(row) = self.live_rows(ord) {
            row.params.reserve_exact(params);
            row.tags.reserve_exact(tags);
            row.metrics.reserve_exact(metrics);
        }
    }

    /// Renames run `ord` (the name a `mlflow.runName` write decides too).
    pub fn set_run_name(&mut self, ord: Ordinal, name: &str, clock: u64) {
        if clock < self.get(ord).clocks().name {
            return;
        }
        if let Some(row) = self.live_mut(ord) {
            row.clocks.name = clock;
            row.run_name = name.to_string();
        }
    }

    pub fn set_status(&mut self, ord: Ordinal, status: RunStatus, clock: u64) {
        if clock < self.get(ord).clocks().status {
            return;
        }
        if let Some(row) = self.live_mut(ord) {
            row.clocks.status = clock;
            row.status = status;
        }
    }

    pub fn set_end_time(&mut self, ord: Ordinal, end_time: i64, clock: u64) {
        if clock < self.get(ord).clocks().end_time {
            return;
        }
        if let Some(row) = self.live_mut(ord) {
            row.clocks.end_time = clock;
            row.end_time = Some(end_time);
        }
    }

    fn intern_metric_key(&mut self, key: &str) -> u32 {
        let k = self.metric_keys.intern(key);
        if self.metrics.len() <= k as usize {
            self.metrics
                .resize_with(k as usize + 1, MetricIndex::default);
        }
        k
    }

    /// Offers a new point of metric `key`; it becomes the latest if it wins
    /// MLflow's (step, timestamp, value) order.
    pub fn offer_metric(&mut self, ord: Ordinal, key: &str, point: MetricPoint) {
        let k = self.intern_metric_key(key);
        let wins = match self.latest_point(ord, k) {
            Some(latest) => point.latest_cmp(&latest).is_gt(),
            None => true,
        };
        if !wins || self.live_mut(ord).is_none() {
            return;
        }
        let Some(row) = self.live_rows(ord) else {
            return;
        };
        match find(&row.metrics, k) {
            Ok(i) => row.metrics[i].1 = point,
            Err(i) => row.metrics.insert(i, (k, point)),
        }
        self.metrics[k as usize].set(ord, point.value);
    }

    /// Adds dataset inputs to run `ord`; an input already logged (same
    /// name and digest) is left as it was.
    pub fn add_inputs(&mut self, ord: Ordinal, inputs: &[DatasetInput]) {
        if inputs.is_empty() {
            return;
        }
        let Some(row) = self.live_mut(ord) else {
            return;
        };
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

    /// Loads into the cache what building frozen runs `ords` reads (see
    /// [`Frozen::touch`]); a sum of what it read, for `black_box`.
    pub fn touch(&self, ords: &[Ordinal]) -> u64 {
        self.base.as_ref().map_or(0, |base| base.touch(ords))
    }

    /// The run as MLflow's `get_run` shows it.
    pub fn run(&self, ord: Ordinal) -> Run {
        if self.live(ord).is_none()
            && let Some(base) = &self.base
            && let Some(row) = base.row(ord)
        {
            return self.frozen_run(base, ord, &row);
        }
        let metrics = self.metrics_of(ord);
        Run {
            info: self.info(ord),
            params: string_map(&mut self.param_slots(ord).into_iter(), &self.param_keys),
            tags: string_map(&mut self.tag_slots(ord).into_iter(), &self.tag_keys),
            metrics: metric_map(metrics.iter().copied(), metrics.len(), &self.metric_keys),
            inputs: self.get(ord).inputs(),
        }
    }

    /// A frozen run from its record, its lists read in one pass.
    fn frozen_run(&self, base: &Frozen, ord: Ordinal, row: &Row<'_>) -> Run {
        let mut params = row.params();
        let param_map = string_map(&mut params, &self.param_keys);
        let mut tags = params.then_tags();
        let tag_map = string_map(&mut tags, &self.tag_keys);
        let mut metrics = tags.then_metrics();
        let count = metrics.remaining();
        let metric_map = metric_map(metrics.by_ref(), count, &self.metric_keys);
        let inputs = match metrics.then_inputs_json() {
            "" => Vec::new(),
            json => base.parse_inputs(ord, json),
        };
        Run {
            info: self.frozen_info(base, ord, row),
            params: param_map,
            tags: tag_map,
            metrics: metric_map,
            inputs,
        }
    }

    /// The info of a frozen run, its record read once.
    fn frozen_info(&self, base: &Frozen, ord: Ordinal, row: &Row<'_>) -> RunInfo {
        RunInfo {
            run_id: row.run_id.to_string(),
            experiment_id: self.experiment_id(base.experiment(ord)),
            run_name: row.run_name.to_string(),
            user_id: row.user_id.to_string(),
            status: base.status(ord),
            start_time: base.start_time(ord),
            end_time: base.end_time(ord),
            lifecycle_stage: base.lifecycle(ord),
            artifact_uri: row.artifact_uri.to_string(),
            deleted_time: base.deleted_time(ord),
        }
    }

    /// The id of experiment ordinal `e` ("" for none, a damaged image).
    fn experiment_id(&self, e: u32) -> String {
        self.experiments
            .get(e as usize)
            .map_or_else(String::new, |e| e.experiment.experiment_id.clone())
    }

    /// The info part of run `ord`.
    pub fn info(&self, ord: Ordinal) -> RunInfo {
        if self.live(ord).is_none()
            && let Some(base) = &self.base
            && let Some(row) = base.row(ord)
        {
            return self.frozen_info(base, ord, &row);
        }
        let run = self.get(ord);
        RunInfo {
            run_id: run.run_id().to_string(),
            experiment_id: self.experiment_id(run.experiment()),
            run_name: run.run_name().to_string(),
            user_id: run.user_id().to_string(),
            status: run.status(),
            start_time: run.start_time(),
            end_time: run.end_time(),
            lifecycle_stage: run.lifecycle(),
            artifact_uri: run.artifact_uri().to_string(),
            deleted_time: run.deleted_time(),
        }
    }

    /// Approximate heap bytes of the indexes and of the runs changed since
    /// the checkpoint (not the mapped image), for `stats`.
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
        let live_rows = (self.rows.len() + self.promoted.len()) * std::mem::size_of::<RunRow>();
        strings
            + metrics
            + experiments
            + live_rows
            + self.deleted.serialized_size()
            + self.active.serialized_size()
            + self.shadow.serialized_size()
            + self.by_id.len() * 48
            + self.start_times.capacity() * 8
            + self.base.as_ref().map_or(0, |b| b.heap_bytes())
    }

    /// Bytes of the mapped checkpoint image, and of its index sections.
    pub fn mapped_bytes(&self) -> (u64, u64) {
        self.base
            .as_ref()
            .map_or((0, 0), |b| (b.mapped_bytes(), b.index_bytes()))
    }
}

/// The live row of `ord` among `rows` (created since the checkpoint) and
/// `promoted` (changed since).
fn live_row_mut<'a>(
    rows: &'a mut [RunRow],
    promoted: &'a mut HashMap<Ordinal, RunRow>,
    base_len: u32,
    ord: Ordinal,
) -> Option<&'a mut RunRow> {
    if ord >= base_len {
        rows.get_mut((ord - base_len) as usize)
    } else {
        promoted.get_mut(&ord)
    }
}

/// Room for a map's keys, which the records hold as ids: a guess that
/// covers typical key names, so that most maps are built without growing.
const KEY_BYTES_GUESS: usize = 24;

/// The params or tags `entries` (key id, value or tombstone, clock) as a
/// shown run has them: tombstones left out, keys by name. Records list
/// keys in name order, so the map is built by appending.
fn string_map<'a>(
    entries: &mut (impl Iterator<Item = Entry<'a>> + Clone),
    keys: &Dict,
) -> StringMap {
    let (count, value_bytes) = entries
        .clone()
        .fold((0, 0), |(n, bytes), (_, v, _)| match v {
            Some(v) => (n + 1, bytes + v.len()),
            None => (n, bytes),
        });
    let mut map = StringMap::with_capacity(count, value_bytes + count * KEY_BYTES_GUESS);
    for (k, v, _) in entries {
        if let Some(v) = v {
            map.insert(keys.resolve(k), v);
        }
    }
    map
}

/// Latest metric points by key id as a shown run has them, keys by name.
fn metric_map(
    points: impl Iterator<Item = (u32, MetricPoint)>,
    count: usize,
    keys: &Dict,
) -> MetricMap {
    let mut map = MetricMap::with_capacity(count, count * KEY_BYTES_GUESS);
    for (k, point) in points {
        map.insert(keys.resolve(k), point);
    }
    map
}

/// Key ids, value strings and clocks of live slots.
fn resolve<'a>(slots: &[Slot], indexes: &'a [StringIndex]) -> Vec<(u32, Option<&'a str>, u64)> {
    slots
        .iter()
        .map(|s| {
            let value = s
                .value
                .zip(indexes.get(s.key as usize))
                .map(|(v, index)| index.values().resolve(v));
            (s.key, value, s.clock)
        })
        .collect()
}
