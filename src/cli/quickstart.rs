//! `quickstart`: import the shipped example store into a fresh store and
//! show what the other commands print, so a new user sees runstore work in
//! one command.

use std::path::{Path, PathBuf};

use super::{CliError, Context, Format, admin, runs, table};
use crate::error::Error;
use crate::import::ImportOptions;
use crate::model::Run;
use crate::query::SearchRequest;
use crate::store::{Options, Store};

/// The MLflow file store shipped with the sources.
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/fixtures/public/mlruns"
);

/// Searches that return runs on the shipped fixture: (filter, order_by, max_results).
const SEARCHES: [(&str, &str, i64); 3] = [
    ("metrics.auc > 0.9", "", 5),
    (
        "tags.subject = 'math' and attributes.status = 'FINISHED'",
        "",
        5,
    ),
    ("", "metrics.auc DESC", 5),
];

pub fn run(ctx: &Context, fixture: Option<PathBuf>) -> Result<(), CliError> {
    let store_path = fresh_store_path(ctx.store.as_deref())?;
    let fixture = fixture.unwrap_or_else(|| PathBuf::from(FIXTURE));

    sayln!("== creating a store in {}", store_path.display());
    let store = Store::open(&store_path, Options::default())?;
    let sources = [fixture.clone()];
    let report = admin::import_all(&store, &sources, None, &ImportOptions::default())?;
    sayln!("== runstore import {}", fixture.display());
    say!("{}", report.render(Format::Table));

    for (filter, order_by, max) in SEARCHES {
        search(&store, filter, order_by, max)?;
    }

    let sample = sample_runs(&store)?;
    if let [a, b, ..] = sample.as_slice() {
        let (a, b) = (a.info.run_id.clone(), b.info.run_id.clone());
        sayln!("\n== runstore compare {a} {b}");
        say!("{}", runs::compare(&store, &[a, b], Format::Table)?);
    }
    if let Some((run, key)) = run_with_longest_history(&store, &sample)? {
        sayln!("\n== runstore history {run} {key} --max-points 12");
        let points = store.metric_history_sampled(&run, &key, None, 12)?;
        let rows: Vec<Vec<String>> = points
            .iter()
            .map(|p| vec![p.step.to_string(), table::number(p.value)])
            .collect();
        say!("{}", table::render(&["step", &key], &rows));
    }

    store.close()?;
    let path = store_path.display();
    sayln!("\nTry it yourself:\n  export RUNSTORE_PATH={path}");
    sayln!("  cargo run --release -- search --filter \"metrics.accuracy > 0.8\"");
    sayln!("  cargo run --release -- experiments");
    Ok(())
}

/// `--store` if it is new or empty, else a new folder under the temp dir.
fn fresh_store_path(asked: Option<&Path>) -> Result<PathBuf, CliError> {
    let Some(path) = asked else {
        let name = format!("runstore-quickstart-{}", uuid::Uuid::new_v4().simple());
        return Ok(std::env::temp_dir().join(name));
    };
    let empty = match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(Error::io(path, e).into()),
    };
    match empty {
        true => Ok(path.to_path_buf()),
        false => Err(CliError::Usage(format!(
            "quickstart needs a new or empty store folder; {} is not empty",
            path.display()
        ))),
    }
}

/// Prints one search as the `search` command would, or its error line:
/// the tour goes on either way.
fn search(store: &Store, filter: &str, order_by: &str, max: i64) -> Result<(), CliError> {
    let mut command = String::from("runstore search");
    if !filter.is_empty() {
        command += &format!(" --filter \"{filter}\"");
    }
    if !order_by.is_empty() {
        command += &format!(" --order-by \"{order_by}\"");
    }
    sayln!("\n== {command} --max-results {max}");

    let request = SearchRequest {
        filter: Some(filter.to_string()).filter(|f| !f.is_empty()),
        order_by: [order_by]
            .iter()
            .filter(|o| !o.is_empty())
            .map(|o| o.to_string())
            .collect(),
        max_results: Some(max),
        ..SearchRequest::default()
    };
    match store.search_runs(&request) {
        Ok(page) => say!(
            "{}",
            runs::search_output(&page, &request.order_by, Format::Table)
        ),
        Err(e) => sayln!("{}", CliError::from(e).line()),
    }
    Ok(())
}

/// Runs that have an `auc`, both from the experiment of the first one.
fn sample_runs(store: &Store) -> Result<Vec<Run>, CliError> {
    let mut picked: Vec<Run> = Vec::new();
    for id in store.run_ids()? {
        let run = store.get_run(&id)?;
        let same_experiment = picked
            .first()
            .is_none_or(|first| first.info.experiment_id == run.info.experiment_id);
        if run.metrics.contains_key("auc") && same_experiment {
            picked.push(run);
        }
    }
    Ok(picked)
}

/// The (run, metric) pair among `runs` with the most points.
fn run_with_longest_history(
    store: &Store,
    runs: &[Run],
) -> Result<Option<(String, String)>, CliError> {
    let mut best: Option<(usize, String, String)> = None;
    for run in runs {
        for key in run.metrics.keys() {
            let len = store.metric_history(&run.info.run_id, key)?.len();
            if best.as_ref().is_none_or(|(n, _, _)| len > *n) {
                best = Some((len, run.info.run_id.clone(), key.to_string()));
            }
        }
    }
    Ok(best.map(|(_, run, key)| (run, key)))
}
