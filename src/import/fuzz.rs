//! Entry points for the fuzz targets (`fuzz/fuzz_targets/`), public so the
//! cargo-fuzz package can call them and plain tests can replay a corpus.

use std::path::Path;

use super::jsonl::{self, JsonLine};
use super::mlflow_dir;
use crate::model::{Experiment, LifecycleStage, RunRecord};

/// Fuzzing entry: any bytes as one JSON Lines line must parse or fail
/// cleanly, and a run that parses must survive write + read unchanged.
/// Returns `Err` only when that round trip breaks.
pub fn fuzz_jsonl_line(data: &[u8]) -> std::result::Result<(), String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let Ok(Some(JsonLine::Run(line))) = jsonl::parse_line(text) else {
        return Ok(());
    };
    let experiment = fuzz_experiment();
    let Ok(first) = line.complete(|_| Ok(experiment.clone())) else {
        return Ok(());
    };
    let written = run_line_text(&first)?;
    let again = match jsonl::parse_line(&written) {
        Ok(Some(JsonLine::Run(line))) => line
            .complete(|_| Ok(experiment.clone()))
            .map_err(|e| e.to_string())?,
        other => return Err(format!("written line did not read back: {other:?}")),
    };
    match run_line_text(&again)? == written {
        true => Ok(()),
        false => Err(format!("round trip changed the run: {written}")),
    }
}

fn fuzz_experiment() -> Experiment {
    Experiment {
        experiment_id: "1".into(),
        name: "fuzz".into(),
        artifact_location: "/tmp/fuzz".into(),
        lifecycle_stage: LifecycleStage::Active,
        creation_time: None,
        last_update_time: None,
        tags: Default::default(),
    }
}

fn run_line_text(run: &RunRecord) -> std::result::Result<String, String> {
    let mut out = Vec::new();
    jsonl::write_run(&mut out, run).map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// Fuzzing entry: any bytes as a metric file must parse or fail cleanly,
/// and parsed points written back as lines must parse to the same points.
pub fn fuzz_metric_line(data: &[u8]) -> std::result::Result<(), String> {
    let Ok(points) = mlflow_dir::parse_metric_file(data, Path::new("<fuzz>")) else {
        return Ok(());
    };
    for p in points {
        let line = format!("{} {:?} {}", p.timestamp, p.value, p.step);
        let back = mlflow_dir::parse_metric_line(&line)?;
        let same_value =
            back.value.to_bits() == p.value.to_bits() || (back.value.is_nan() && p.value.is_nan());
        if back.step != p.step || back.timestamp != p.timestamp || !same_value {
            return Err(format!("'{line}' read back as {back:?}, not {p:?}"));
        }
    }
    Ok(())
}
