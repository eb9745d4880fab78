//! Model-based property test of the storage core: random operations, with
//! reopens, checkpoints and simulated crashes, applied both to a store and to
//! a small in-memory reference that spells out MLflow's rules naively.
//! Every read must agree; after a crash the store must hold exactly the
//! state after some prefix of the acknowledged operations, and that prefix
//! must include every operation that was synced.

mod common;

use common::prop::cases;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use runstore::{
    Durability, LifecycleStage, Metric, MetricPoint, NewRun, Options, Param, RunTag, Store,
};

const KEYS: [&str; 3] = ["a", "b", "c/d"];
const VALUES: [f64; 5] = [0.0, 1.0, -1.0, f64::NAN, f64::INFINITY];

#[derive(Debug, Clone)]
enum Action {
    CreateRun {
        exp: usize,
    },
    LogMetrics {
        run: usize,
        points: Vec<(usize, i64, i64, usize)>,
    },
    LogParam {
        run: usize,
        key: usize,
        value: usize,
    },
    SetTag {
        run: usize,
        key: usize,
        value: usize,
    },
    DeleteTag {
        run: usize,
        key: usize,
    },
    DeleteRun {
        run: usize,
    },
    RestoreRun {
        run: usize,
    },
    DeleteExperiment {
        exp: usize,
    },
    RestoreExperiment {
        exp: usize,
    },
    Checkpoint,
    Compact,
    Purge,
    Reopen,
    Crash {
        cut: u16,
    },
}

fn action() -> impl Strategy<Value = Action> {
    let run = 0usize..6;
    prop_oneof![
        3 => (0usize..3).prop_map(|exp| Action::CreateRun { exp }),
        4 => (run.clone(), prop::collection::vec((0usize..3, -2i64..4, 0i64..4, 0usize..5), 1..6))
            .prop_map(|(run, points)| Action::LogMetrics { run, points }),
        2 => (run.clone(), 0usize..3, 0usize..2)
            .prop_map(|(run, key, value)| Action::LogParam { run, key, value }),
        2 => (run.clone(), 0usize..4, 0usize..3)
            .prop_map(|(run, key, value)| Action::SetTag { run, key, value }),
        1 => (run.clone(), 0usize..4).prop_map(|(run, key)| Action::DeleteTag { run, key }),
        1 => run.clone().prop_map(|run| Action::DeleteRun { run }),
        1 => run.prop_map(|run| Action::RestoreRun { run }),
        1 => (1usize..3).prop_map(|exp| Action::DeleteExperiment { exp }),
        1 => (1usize..3).prop_map(|exp| Action::RestoreExperiment { exp }),
        1 => Just(Action::Checkpoint),
        1 => Just(Action::Compact),
        1 => Just(Action::Purge),
        1 => Just(Action::Reopen),
        1 => any::<u16>().prop_map(|cut| Action::Crash { cut }),
    ]
}

/// The reference: MLflow's rules written as plainly as possible.
#[derive(Debug, Clone, Default, PartialEq)]
struct ModelRun {
    id: String,
    exp: usize,
    name: String,
    deleted: bool,
    params: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    points: BTreeMap<String, Vec<MetricPoint>>,
}

#[derive(Debug, Clone, Default)]
struct Model {
    exp_deleted: [bool; 3],
    exp_purged: [bool; 3],
    runs: Vec<ModelRun>,
}

fn tag_key(k: usize) -> &'static str {
    ["t1", "t2", "t3", "mlflow.runName"][k]
}

impl Model {
    /// Applies an action; returns whether the store must accept it.
    fn apply(&mut self, action: &Action, new_id: Option<String>) -> bool {
        match action {
            Action::CreateRun { exp } => {
                if self.exp_deleted[*exp] || self.exp_purged[*exp] {
                    return false;
                }
                let Some(id) = new_id else { return true };
                let name = format!("run{}", self.runs.len());
                let mut run = ModelRun {
                    id,
                    exp: *exp,
                    name: name.clone(),
                    ..Default::default()
                };
                run.tags.insert("mlflow.runName".into(), name);
                self.runs.push(run);
                true
            }
            Action::LogMetrics { run, points } => self.write(*run, |r| {
                for &(k, step, timestamp, v) in points {
                    let p = MetricPoint {
                        step,
                        timestamp,
                        value: VALUES[v],
                    };
                    let series = r.points.entry(KEYS[k].to_string()).or_default();
                    if !series.iter().any(|q| q.same_record(&p)) {
                        series.push(p);
                    }
                }
                true
            }),
            Action::LogParam { run, key, value } => self.write(*run, |r| {
                let value = value.to_string();
                match r.params.get(KEYS[*key]) {
                    Some(old) => *old == value,
                    None => {
                        r.params.insert(KEYS[*key].to_string(), value);
                        true
                    }
                }
            }),
            Action::SetTag { run, key, value } => self.write(*run, |r| {
                let value = format!("v{value}");
                if tag_key(*key) == "mlflow.runName" {
                    r.name = value.clone();
                }
                r.tags.insert(tag_key(*key).to_string(), value);
                true
            }),
            Action::DeleteTag { run, key } => {
                self.write(*run, |r| r.tags.remove(tag_key(*key)).is_some())
            }
            Action::DeleteRun { run } | Action::RestoreRun { run } => {
                let Some(r) = self.runs.get_mut(*run) else {
                    return false;
                };
                r.deleted = matches!(action, Action::DeleteRun { .. });
                true
            }
            Action::DeleteExperiment { exp } | Action::RestoreExperiment { exp } => {
                if self.exp_purged[*exp] {
                    return false;
                }
                let deleted = matches!(action, Action::DeleteExperiment { .. });
                if self.exp_deleted[*exp] != deleted {
                    self.exp_deleted[*exp] = deleted;
                    for r in self.runs.iter_mut().filter(|r| r.exp == *exp) {
                        r.deleted = deleted;
                    }
                }
                true
            }
            Action::Purge => {
                for e in 0..3 {
                    self.exp_purged[e] |= self.exp_deleted[e];
                }
                // A deleted experiment goes with every run in it, restored or not.
                let purged = self.exp_purged;
                self.runs.retain(|r| !r.deleted && !purged[r.exp]);
                true
            }
            Action::Checkpoint | Action::Compact | Action::Reopen | Action::Crash { .. } => true,
        }
    }

    /// A write to an active run: all or nothing.
    fn write(&mut self, run: usize, f: impl FnOnce(&mut ModelRun) -> bool) -> bool {
        let Some(r) = self.runs.get_mut(run) else {
            return false;
        };
        if r.deleted {
            return false;
        }
        let mut copy = r.clone();
        if !f(&mut copy) {
            return false;
        }
        *r = copy;
        true
    }
}

fn options() -> Options {
    Options {
        durability: Durability::None,
        segment_size: 4096,
        ..Options::default()
    }
}

fn exp_id(ids: &[String], exp: usize) -> &str {
    &ids[exp]
}

/// Runs an action on the store; Ok(created run id) or Err(()) on rejection.
fn perform(
    store: &Store,
    exps: &[String],
    model: &Model,
    a: &Action,
) -> Result<Option<String>, ()> {
    let run_id = |run: usize| model.runs.get(run).map(|r| r.id.clone()).ok_or(());
    let r = match a {
        Action::CreateRun { exp } => {
            let name = format!("run{}", model.runs.len());
            let info = store.create_run(NewRun {
                experiment_id: exp_id(exps, *exp).to_string(),
                run_name: Some(name),
                start_time: Some(1),
                ..NewRun::default()
            });
            return info.map(|i| Some(i.run_id)).map_err(|_| ());
        }
        Action::LogMetrics { run, points } => {
            let metrics: Vec<Metric> = points
                .iter()
                .map(|&(k, s, t, v)| Metric::new(KEYS[k], VALUES[v], t, s))
                .collect();
            store.log_batch(&run_id(*run)?, &metrics, &[], &[])
        }
        Action::LogParam { run, key, value } => {
            store.log_param(&run_id(*run)?, Param::new(KEYS[*key], value.to_string()))
        }
        Action::SetTag { run, key, value } => store.set_tag(
            &run_id(*run)?,
            RunTag::new(tag_key(*key), format!("v{value}")),
        ),
        Action::DeleteTag { run, key } => store.delete_tag(&run_id(*run)?, tag_key(*key)),
        Action::DeleteRun { run } => store.delete_run(&run_id(*run)?),
        Action::RestoreRun { run } => store.restore_run(&run_id(*run)?),
        Action::DeleteExperiment { exp } => store.delete_experiment(exp_id(exps, *exp)),
        Action::RestoreExperiment { exp } => store.restore_experiment(exp_id(exps, *exp)),
        Action::Checkpoint => store.checkpoint(),
        Action::Compact | Action::Purge | Action::Reopen | Action::Crash { .. } => Ok(()),
    };
    r.map(|_| None).map_err(|_| ())
}

fn same_point(a: &MetricPoint, b: &MetricPoint) -> bool {
    a.step == b.step
        && a.timestamp == b.timestamp
        && (a.value.to_bits() == b.value.to_bits() || (a.value.is_nan() && b.value.is_nan()))
}

fn check(store: &Store, model: &Model) -> Result<(), String> {
    let ids = store.run_ids().map_err(|e| e.to_string())?;
    let expected: Vec<String> = model.runs.iter().map(|r| r.id.clone()).collect();
    if ids != expected {
        return Err(format!("run ids {ids:?} != {expected:?}"));
    }
    for m in &model.runs {
        let run = store.get_run(&m.id).map_err(|e| e.to_string())?;
        let deleted = run.info.lifecycle_stage == LifecycleStage::Deleted;
        if run.info.run_name != m.name || deleted != m.deleted {
            return Err(format!("info of {}: {:?} vs {m:?}", m.id, run.info));
        }
        if run.params != m.params || run.tags != m.tags {
            return Err(format!(
                "params/tags of {}: {:?} {:?} vs {m:?}",
                m.id, run.params, run.tags
            ));
        }
        for (key, points) in &m.points {
            // The first point logged among equals stays latest (a later one must be greater).
            let latest = points
                .iter()
                .copied()
                .reduce(|a, b| if b.latest_cmp(&a).is_gt() { b } else { a });
            let got = run.metrics.get(key).copied();
            if !matches!((latest, got), (Some(a), Some(b)) if same_point(&a, &b)) {
                return Err(format!("latest {key} of {}: {got:?} vs {latest:?}", m.id));
            }
            let mut want = points.clone();
            want.sort_by(|a, b| a.history_cmp(b));
            let history = store
                .metric_history(&m.id, key)
                .map_err(|e| e.to_string())?;
            let equal = history.len() == want.len()
                && history.iter().zip(&want).all(|(a, b)| same_point(a, b));
            if !equal {
                return Err(format!(
                    "history {key} of {}: {history:?} vs {want:?}",
                    m.id
                ));
            }
        }
        if run.metrics.len() != m.points.len() {
            return Err(format!(
                "metric keys of {}: {:?}",
                m.id,
                run.metrics.keys().collect::<Vec<_>>()
            ));
        }
    }
    Ok(())
}

/// The newest segment file of the store's stream, and its length.
fn last_segment(root: &Path) -> Option<(PathBuf, u64)> {
    let mut segs: Vec<PathBuf> = Vec::new();
    for stream in std::fs::read_dir(root.join("log")).ok()?.flatten() {
        for seg in std::fs::read_dir(stream.path()).ok()?.flatten() {
            if seg.path().extension().is_some_and(|e| e == "seg") {
                segs.push(seg.path());
            }
        }
    }
    segs.sort();
    let last = segs.pop()?;
    let len = std::fs::metadata(&last).ok()?.len();
    Some((last, len))
}

fn run_scenario(actions: Vec<Action>) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path().join("store");
    let mut store = Some(Store::open(&root, options()).map_err(|e| e.to_string())?);
    let s = |store: &Option<Store>| -> Result<(), String> {
        store
            .as_ref()
            .map(|_| ())
            .ok_or_else(|| "no store".to_string())
    };
    s(&store)?;
    let mut exps = vec!["0".to_string()];
    for name in ["e1", "e2"] {
        let st = store.as_ref().ok_or("no store")?;
        exps.push(
            st.create_experiment(name, None, &[])
                .map_err(|e| e.to_string())?,
        );
    }
    store
        .as_ref()
        .ok_or("no store")?
        .checkpoint()
        .map_err(|e| e.to_string())?;

    let mut model = Model::default();
    // Model states after each acknowledged write, with the log end after it.
    let mut history: Vec<(Model, Option<(PathBuf, u64)>)> =
        vec![(model.clone(), last_segment(&root))];
    let mut synced_len = last_segment(&root);

    for action in &actions {
        match action {
            Action::Reopen => {
                drop(store.take());
                store = Some(Store::open(&root, options()).map_err(|e| e.to_string())?);
            }
            Action::Compact | Action::Purge => {
                let old = store.take().ok_or("no store")?;
                let rewritten = match action {
                    Action::Purge => old.purge(),
                    _ => old.compact(),
                };
                store = Some(rewritten.map_err(|e| e.to_string())?.0);
                model.apply(action, None);
                // The log was rewritten (and synced): a new base for crashes.
                history = vec![(model.clone(), last_segment(&root))];
                synced_len = last_segment(&root);
            }
            Action::Crash { cut } => {
                drop(store.take());
                model = crash(&root, &history, &synced_len, *cut)?;
                store = Some(Store::open(&root, options()).map_err(|e| e.to_string())?);
                // Recovery may have cut a torn record off: that is the new end.
                history = vec![(model.clone(), last_segment(&root))];
                synced_len = last_segment(&root);
            }
            _ => {
                let st = store.as_ref().ok_or("no store")?;
                let outcome = perform(st, &exps, &model, action);
                let new_id = outcome.clone().ok().flatten();
                let accepted = model.clone().apply(action, new_id.clone());
                if accepted != outcome.is_ok() {
                    return Err(format!(
                        "{action:?}: store {outcome:?}, model accepts {accepted}"
                    ));
                }
                if outcome.is_ok() {
                    model.apply(action, new_id);
                    history.push((model.clone(), last_segment(&root)));
                }
                if matches!(action, Action::Checkpoint) {
                    synced_len = last_segment(&root);
                }
            }
        }
        check(store.as_ref().ok_or("no store")?, &model)?;
    }
    Ok(())
}

/// Cuts the last segment somewhere after its synced length and returns the
/// model state the store must come back with: the last state whose log end
/// is at or before the cut.
fn crash(
    root: &Path,
    history: &[(Model, Option<(PathBuf, u64)>)],
    synced: &Option<(PathBuf, u64)>,
    cut: u16,
) -> Result<Model, String> {
    let Some((seg, len)) = last_segment(root) else {
        return Ok(history[history.len() - 1].0.clone());
    };
    let floor = match synced {
        Some((p, l)) if *p == seg => *l,
        _ => 0,
    };
    let at = floor + (len - floor) * u64::from(cut) / u64::from(u16::MAX);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .map_err(|e| e.to_string())?;
    file.set_len(at).map_err(|e| e.to_string())?;

    let survivor = history
        .iter()
        .rev()
        .find(|(_, end)| match end {
            Some((p, l)) if *p == seg => *l <= at,
            Some((p, _)) => *p < seg,
            None => true,
        })
        .ok_or("no surviving state")?;
    Ok(survivor.0.clone())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(48)))]

    #[test]
    fn store_agrees_with_the_model(actions in prop::collection::vec(action(), 1..40)) {
        if let Err(e) = run_scenario(actions) {
            prop_assert!(false, "{}", e);
        }
    }
}
