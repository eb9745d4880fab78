//! The workload generator: a seeded, streaming writer of the JSON Lines
//! interchange format with distributions shaped like a real tracking server.
//!
//! Every value comes from one SplitMix64 stream in a fixed order, and maps
//! are `BTreeMap`s, so a seed always gives the same bytes. One run is built,
//! written and dropped at a time, so a million runs need no more memory than
//! one.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::rng::Rng;
use crate::error::{Error, Result};
use crate::import::jsonl::{ExperimentLine, JsonFloat, PointLine, RunLine};
use crate::model::{LifecycleStage, RunStatus};

/// The shape of a workload. `params`, `tags` and `metrics` count keys per
/// run; the first keys have realistic names and distributions (the standard
/// queries use them), the rest are filler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    pub seed: u64,
    pub runs: u64,
    pub experiments: u32,
    pub params: u32,
    pub tags: u32,
    pub metrics: u32,
    /// Points per metric of a run that finished (failed runs log fewer).
    pub steps: u32,
}

impl Default for WorkloadSpec {
    /// The benchmark shape: 10,000 runs, 20 params, 10 tags, 5 metrics.
    fn default() -> WorkloadSpec {
        WorkloadSpec {
            seed: 42,
            runs: 10_000,
            experiments: 10,
            params: 20,
            tags: 10,
            metrics: 5,
            steps: 20,
        }
    }
}

/// What `generate` wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub experiments: u64,
    pub runs: u64,
    pub points: u64,
    pub bytes: u64,
}

/// Model types, most popular first (drawn with Zipf weights).
pub const MODEL_TYPES: [&str; 8] = [
    "RandomForest",
    "GradientBoosting",
    "LogisticRegression",
    "XGBoost",
    "LightGBM",
    "MLP",
    "LinearSVC",
    "KNN",
];
pub const LEARNING_RATES: [&str; 5] = ["0.1", "0.03", "0.01", "0.003", "0.001"];
/// Teams, biggest first (Zipf weights).
pub const TEAMS: [&str; 6] = ["recsys", "vision", "nlp", "forecasting", "ads", "infra"];
pub const SUBJECTS: [&str; 8] = [
    "math",
    "reading",
    "science",
    "history",
    "art",
    "music",
    "biology",
    "chemistry",
];
/// Words of the free-text `note` tag; no word contains another.
pub const NOTE_WORDS: [&str; 40] = [
    "baseline",
    "retry",
    "sweep",
    "ablation",
    "drift",
    "holdout",
    "warmup",
    "cosine",
    "tuned",
    "quick",
    "overnight",
    "rerun",
    "leak",
    "fixed",
    "smoke",
    "final",
    "candidate",
    "nightly",
    "debug",
    "pruned",
    "distilled",
    "augmented",
    "balanced",
    "weighted",
    "frozen",
    "shuffled",
    "seeded",
    "calibrated",
    "ensemble",
    "stacked",
    "sparse",
    "dense",
    "noisy",
    "clean",
    "large",
    "small",
    "legacy",
    "patched",
    "manual",
    "auto",
];
const OPTIMIZERS: [&str; 4] = ["adam", "sgd", "adamw", "rmsprop"];
const DATASETS: [&str; 5] = [
    "students-2024",
    "students-2025",
    "clicks",
    "images",
    "ledger",
];
const STAGES: [&str; 3] = ["dev", "staging", "prod"];
const USERS: [&str; 12] = [
    "ana", "bo", "chen", "dara", "eli", "fay", "gus", "hana", "ivo", "jun", "kai", "lea",
];

/// 2025-01-01T00:00:00Z in milliseconds; start times spread over that year.
const YEAR_START_MS: i64 = 1_735_689_600_000;
const YEAR_MS: u64 = 365 * 24 * 3600 * 1000;

/// Writes the workload of `spec` to `out`: experiment lines, then run lines.
pub fn generate(spec: &WorkloadSpec, out: &mut dyn Write) -> Result<Summary> {
    let mut out = Counting {
        inner: BufWriter::new(out),
        bytes: 0,
    };
    let mut summary = Summary::default();
    let io = |e| Error::io("<workload output>", e);

    for e in 1..=spec.experiments.max(1) {
        write_line(&mut out, &experiment_line(e)).map_err(io)?;
        summary.experiments += 1;
    }

    let mut rng = Rng::new(spec.seed);
    for index in 0..spec.runs {
        let run = run_line(spec, &mut rng, index);
        summary.points += run.metrics.values().map(|p| p.len() as u64).sum::<u64>();
        write_line(&mut out, &run).map_err(io)?;
        summary.runs += 1;
    }

    out.flush().map_err(io)?;
    summary.bytes = out.bytes;
    Ok(summary)
}

/// Writes the workload to `path` (through a temporary file, so a crash
/// never leaves a half workload that `reuse` would pick up).
pub fn generate_file(spec: &WorkloadSpec, path: &Path) -> Result<Summary> {
    let tmp = path.with_extension("jsonl.partial");
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let summary = generate(spec, &mut file)?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    Ok(summary)
}

fn write_line(out: &mut dyn Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

fn experiment_line(e: u32) -> ExperimentLine {
    ExperimentLine {
        kind: "experiment".into(),
        experiment_id: Some(e.to_string()),
        name: format!("bench-{e:03}"),
        artifact_location: None,
        lifecycle_stage: None,
        creation_time: Some(YEAR_START_MS),
        last_update_time: Some(YEAR_START_MS),
        tags: BTreeMap::new(),
    }
}

/// One run. Its hidden `quality` in [0, 1) drives every metric, so the
/// metrics of a run agree with each other as they do in real training.
fn run_line(spec: &WorkloadSpec, rng: &mut Rng, index: u64) -> RunLine {
    let run_id = format!(
        "{:016x}{:08x}{:08x}",
        rng.next_u64(),
        rng.next_u64() as u32,
        index as u32
    );
    let experiment = 1 + rng.below(u64::from(spec.experiments.max(1)));
    let start_time = YEAR_START_MS + rng.below(YEAR_MS) as i64;
    let interval = 1_000 + rng.below(59_000) as i64;
    let quality = rng.unit();

    let status = match rng.unit() {
        x if x < 0.90 => RunStatus::Finished,
        x if x < 0.97 => RunStatus::Failed,
        _ => RunStatus::Killed,
    };
    let steps = match status {
        RunStatus::Finished => spec.steps.max(1),
        _ => 1 + rng.below(u64::from(spec.steps.max(1))) as u32,
    };
    let end_time = start_time + (i64::from(steps) + 1) * interval;
    let deleted = rng.chance(0.01);
    let user = rng.pick(&USERS);
    let run_name = format!("{}-{}", rng.pick(&NOTE_WORDS), index);

    let params = params(spec.params, rng);
    let tags = tags(spec.tags, rng, &run_name, user);
    let metrics = metrics(spec.metrics, rng, quality, steps, start_time, interval);

    RunLine {
        kind: Some("run".into()),
        experiment_id: Some(experiment.to_string()),
        experiment: None,
        run_id: Some(run_id),
        run_name: Some(run_name),
        status: Some(status),
        lifecycle_stage: Some(match deleted {
            true => LifecycleStage::Deleted,
            false => LifecycleStage::Active,
        }),
        user_id: Some(user.to_string()),
        start_time,
        end_time: Some(end_time),
        deleted_time: deleted.then_some(end_time),
        artifact_uri: None,
        params,
        tags,
        metrics,
        inputs: Vec::new(),
    }
}

/// The first `count` of: model_type, learning_rate, max_depth, n_estimators,
/// batch_size, optimizer, dropout, seed, subsample, then filler `pNN`.
fn params(count: u32, rng: &mut Rng) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    for i in 0..count {
        let (key, value) = match i {
            0 => ("model_type".into(), rng.zipf(&MODEL_TYPES).into()),
            1 => ("learning_rate".into(), rng.pick(&LEARNING_RATES).into()),
            2 => ("max_depth".into(), (2 + rng.below(11)).to_string()),
            3 => (
                "n_estimators".into(),
                ["50", "100", "200", "500"][rng.below(4) as usize].into(),
            ),
            4 => ("batch_size".into(), (16u64 << rng.below(6)).to_string()),
            5 => ("optimizer".into(), rng.zipf(&OPTIMIZERS).into()),
            6 => ("dropout".into(), format!("0.{}", rng.below(6))),
            7 => ("seed".into(), rng.below(1_000_000).to_string()),
            8 => ("subsample".into(), format!("0.{}", 5 + rng.below(5))),
            n => (format!("p{n:02}"), rng.below(u64::from(n) + 3).to_string()),
        };
        params.insert(key, value);
    }
    params
}

/// The first `count` of: mlflow.runName, mlflow.user, team, subject, grade,
/// note, dataset, stage, git_commit, priority, then filler `tNN`.
fn tags(count: u32, rng: &mut Rng, run_name: &str, user: &str) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    for i in 0..count {
        let (key, value) = match i {
            0 => ("mlflow.runName".into(), run_name.into()),
            1 => ("mlflow.user".into(), user.into()),
            2 => ("team".into(), rng.zipf(&TEAMS).into()),
            3 => ("subject".into(), rng.pick(&SUBJECTS).into()),
            4 => ("grade".into(), (1 + rng.below(12)).to_string()),
            5 => ("note".into(), note(rng)),
            6 => ("dataset".into(), rng.zipf(&DATASETS).into()),
            7 => ("stage".into(), rng.zipf(&STAGES).into()),
            8 => (
                "git_commit".into(),
                format!("{:010x}", rng.next_u64() >> 24),
            ),
            9 => (
                "priority".into(),
                ["low", "medium", "high"][rng.below(3) as usize].into(),
            ),
            n => (format!("t{n:02}"), format!("value-{}", rng.below(20))),
        };
        tags.insert(key, value);
    }
    tags
}

/// Three to six words of the vocabulary.
fn note(rng: &mut Rng) -> String {
    let words = 3 + rng.below(4);
    let picked: Vec<&str> = (0..words).map(|_| rng.pick(&NOTE_WORDS)).collect();
    picked.join(" ")
}

/// The first `count` of: loss (falls), auc, accuracy, f1 (rise), val_loss,
/// then filler `mNN`. About 1% of runs diverge (last loss NaN) and about 2%
/// never evaluated (no auc, accuracy or f1).
fn metrics(
    count: u32,
    rng: &mut Rng,
    quality: f64,
    steps: u32,
    start_time: i64,
    interval: i64,
) -> BTreeMap<String, Vec<PointLine>> {
    let diverged = rng.chance(0.01);
    let evaluated = !rng.chance(0.02);
    let mut metrics = BTreeMap::new();
    for i in 0..count {
        let key = match i {
            0 => "loss".to_string(),
            1 => "auc".into(),
            2 => "accuracy".into(),
            3 => "f1".into(),
            4 => "val_loss".into(),
            n => format!("m{n:02}"),
        };
        if (1..=3).contains(&i) && !evaluated {
            continue;
        }
        let points = (0..steps)
            .map(|t| {
                let progress = f64::from(t) / f64::from(steps.max(2) - 1);
                let value = match i {
                    0 if diverged && t + 1 == steps => f64::NAN,
                    0 | 4 => falling(quality, progress) + rng.noise(0.005),
                    1..=3 => rising(quality, progress) + rng.noise(0.005),
                    _ => rng.unit(),
                };
                PointLine {
                    step: i64::from(t),
                    timestamp: start_time + (i64::from(t) + 1) * interval,
                    value: JsonFloat(round6(value)),
                }
            })
            .collect();
        metrics.insert(key, points);
    }
    metrics
}

/// A loss curve: from about 1.1 down to 0.1 + 0.335 * (1 - quality).
fn falling(quality: f64, progress: f64) -> f64 {
    0.1 + (1.0 - quality) * (0.3 + 0.7 * (-3.0 * progress).exp())
}

/// A score curve: from 0.5 up to about 0.5 + 0.43 * quality.
fn rising(quality: f64, progress: f64) -> f64 {
    0.5 + 0.45 * quality * (1.0 - (-3.0 * progress).exp())
}

/// Six decimals, as a logger would print them (NaN stays NaN).
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Counts the bytes written through it.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
