//! Commands about runs: search, show, history, compare, delete, restore, plot.

use std::collections::{BTreeMap, BTreeSet};

use super::args::{Command, View};
use super::{CliError, Context, Format, json, plot, table};
use crate::error::{Error, ErrorCode};
use crate::model::{Run, StringMap, ViewType};
use crate::query::{SearchPage, SearchRequest};
use crate::store::Store;

pub fn run(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Search {
            experiments,
            filter,
            order_by,
            view,
            max_results,
            page_token,
        } => {
            let store = ctx.open_read()?;
            let request = SearchRequest {
                experiment_ids: experiment_ids(&store, &experiments)?,
                filter,
                order_by,
                view_type: view_type(view),
                max_results,
                page_token,
            };
            if ctx.format() == Format::Ids {
                // Ids need no run built.
                let page = store.search_run_ids(&request)?;
                say!(
                    "{}",
                    page.run_ids
                        .iter()
                        .map(|id| id.clone() + "\n")
                        .collect::<String>()
                );
                // Standard output stays one id a line; the way on goes to
                // standard error, so a cut list does not pass for a whole one.
                if let Some(token) = &page.next_page_token {
                    eprintln!("more runs follow: --page-token {token}");
                }
                return Ok(());
            }
            let page = store.search_runs(&request)?;
            say!("{}", search_output(&page, &request.order_by, ctx.format()));
            Ok(())
        }
        Command::Show { run_id } => show(ctx, &run_id),
        Command::History {
            run_id,
            key,
            max_points,
        } => history(ctx, &run_id, &key, max_points),
        Command::Compare { run_ids } => {
            let store = ctx.open_read()?;
            let format = ctx.table_or_json()?;
            say!("{}", compare(&store, &run_ids, format)?);
            Ok(())
        }
        Command::Delete { run_id } => {
            ctx.open_write()?.delete_run(&run_id)?;
            sayln!("deleted run {run_id}");
            Ok(())
        }
        Command::Restore { run_id } => {
            ctx.open_write()?.restore_run(&run_id)?;
            sayln!("restored run {run_id}");
            Ok(())
        }
        Command::Plot {
            run_ids,
            metric,
            out,
        } => {
            let store = ctx.open_read()?;
            let lines = plot_lines(&store, &run_ids, &metric)?;
            plot::plot(&lines, &metric, &out)?;
            sayln!("wrote {}", out.display());
            Ok(())
        }
        other => Err(CliError::Usage(format!("not a run command: {other:?}"))),
    }
}

/// Maps the command line's view names to the library's.
pub fn view_type(view: View) -> ViewType {
    match view {
        View::Active => ViewType::ActiveOnly,
        View::Deleted => ViewType::DeletedOnly,
        View::All => ViewType::All,
    }
}

/// Resolves each argument as an experiment id, else as an experiment name.
pub fn experiment_ids(store: &Store, args: &[String]) -> Result<Vec<String>, CliError> {
    let mut ids = Vec::with_capacity(args.len());
    for arg in args {
        let id = match store.get_experiment(arg) {
            Ok(e) => e.experiment_id,
            Err(e) if e.code() == ErrorCode::ResourceDoesNotExist => {
                match store.get_experiment_by_name(arg) {
                    Ok(e) => e.experiment_id,
                    // Neither reading found it: say that both were tried.
                    Err(e) if e.code() == ErrorCode::ResourceDoesNotExist => {
                        return Err(Error::not_found(format!(
                            "no experiment has the id or the name '{arg}'"
                        ))
                        .into());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        ids.push(id);
    }
    Ok(ids)
}

/// A search page as MLflow's JSON, run ids, or a table.
pub fn search_output(page: &SearchPage, order_by: &[String], format: Format) -> String {
    match format {
        Format::Json => json::to_text(&json::search_page(page)) + "\n",
        Format::Ids => page
            .runs
            .iter()
            .map(|r| r.info.run_id.clone() + "\n")
            .collect(),
        Format::Table => {
            let mut out = runs_table(&page.runs, order_by);
            if let Some(token) = &page.next_page_token {
                out += &format!("more runs follow: --page-token {token}\n");
            }
            out
        }
    }
}

/// Run id, name, status, start time and up to three metrics: those the
/// ordering names first, then the keys most runs have.
fn runs_table(runs: &[Run], order_by: &[String]) -> String {
    let mut keys: Vec<String> = order_by
        .iter()
        .filter_map(|o| o.strip_prefix("metrics."))
        .map(|o| {
            o.split_whitespace()
                .next()
                .unwrap_or(o)
                .trim_matches('`')
                .to_string()
        })
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for key in runs.iter().flat_map(|r| r.metrics.keys()) {
        *counts.entry(key).or_default() += 1;
    }
    let mut common: Vec<(&str, usize)> = counts.into_iter().collect();
    common.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (key, _) in common {
        if keys.len() < 3 && !keys.iter().any(|k| k == key) {
            keys.push(key.to_string());
        }
    }
    keys.truncate(3);

    let mut header = vec!["run_id", "name", "status", "start_time"];
    header.extend(keys.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let mut row = vec![
                r.info.run_id.clone(),
                r.info.run_name.clone(),
                r.info.status.as_str().to_string(),
                table::time(r.info.start_time),
            ];
            let metric = |k: &String| r.metrics.get(k).map(|p| table::number(p.value));
            row.extend(keys.iter().map(|k| metric(k).unwrap_or_else(|| "-".into())));
            row
        })
        .collect();
    let plural = if runs.len() == 1 { "" } else { "s" };
    format!(
        "{}({} run{plural})\n",
        table::render(&header, &rows),
        runs.len()
    )
}

fn show(ctx: &Context, run_id: &str) -> Result<(), CliError> {
    let store = ctx.open_read()?;
    let run = store.get_run(run_id)?;
    if ctx.table_or_json()? == Format::Json {
        sayln!(
            "{}",
            json::to_text(&json::GetRunJson {
                run: json::run(&run)
            })
        );
        return Ok(());
    }

    let info = &run.info;
    let end = info.end_time.map(table::time).unwrap_or_else(|| "-".into());
    let rows = vec![
        vec!["run_id".into(), info.run_id.clone()],
        vec!["name".into(), info.run_name.clone()],
        vec!["experiment_id".into(), info.experiment_id.clone()],
        vec!["user".into(), info.user_id.clone()],
        vec!["status".into(), info.status.as_str().into()],
        vec![
            "lifecycle_stage".into(),
            info.lifecycle_stage.as_str().into(),
        ],
        vec!["start_time".into(), table::time(info.start_time)],
        vec!["end_time".into(), end],
        vec!["artifact_uri".into(), info.artifact_uri.clone()],
    ];
    say!("{}", table::render(&["field", "value"], &rows));

    let metrics: Vec<Vec<String>> = run
        .metrics
        .iter()
        .map(|(k, p)| vec![k.to_string(), table::number(p.value), p.step.to_string()])
        .collect();
    say!(
        "\n{}",
        table::render(&["metric", "latest", "step"], &metrics)
    );
    say!(
        "\n{}",
        table::render(&["param", "value"], &pairs(&run.params))
    );
    say!("\n{}", table::render(&["tag", "value"], &pairs(&run.tags)));
    Ok(())
}

/// Key-value rows, with multi-line values cut to their first line.
fn pairs(map: &StringMap) -> Vec<Vec<String>> {
    let first_line = |v: &str| match v.lines().count() {
        0 | 1 => v.to_string(),
        _ => format!("{} ...", v.lines().next().unwrap_or("")),
    };
    map.iter()
        .map(|(k, v)| vec![k.to_string(), first_line(v)])
        .collect()
}

fn history(ctx: &Context, run_id: &str, key: &str, max: Option<u64>) -> Result<(), CliError> {
    let store = ctx.open_read()?;
    let points = match max {
        Some(max) => {
            let max = usize::try_from(max).unwrap_or(usize::MAX);
            store.metric_history_sampled(run_id, key, None, max)?
        }
        None => store.metric_history(run_id, key)?,
    };
    if ctx.table_or_json()? == Format::Json {
        sayln!("{}", json::to_text(&json::history(key, &points)));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|p| {
            vec![
                p.step.to_string(),
                table::time(p.timestamp),
                table::number(p.value),
            ]
        })
        .collect();
    say!("{}", table::render(&["step", "timestamp", key], &rows));
    Ok(())
}

/// Params and latest metrics of `run_ids` side by side; `*` marks a row
/// whose values are not all equal (a missing value counts as different).
pub fn compare(store: &Store, run_ids: &[String], format: Format) -> Result<String, CliError> {
    let runs: Vec<Run> = run_ids
        .iter()
        .map(|id| store.get_run(id))
        .collect::<Result<_, Error>>()?;

    let params = rows(
        &runs,
        |r| r.params.keys().collect(),
        |r, key| r.params.get(key).map(str::to_string),
    );
    let metrics = rows(
        &runs,
        |r| r.metrics.keys().collect(),
        |r, key| r.metrics.get(key).map(|p| json::Double(p.value)),
    );
    if format == Format::Json {
        let value = serde_json::json!({
            "run_ids": run_ids,
            "params": compare_json(&params),
            "metrics": compare_json(&metrics),
        });
        return Ok(json::to_text(&value) + "\n");
    }

    let names: Vec<String> = runs.iter().map(column_name).collect();
    let mut header = vec!["", "key"];
    header.extend(names.iter().map(String::as_str));
    let mut all = table_rows("params", &params, String::clone);
    all.extend(table_rows("metrics", &metrics, |d| table::number(d.0)));
    Ok(table::render(&header, &all))
}

/// One compared key: its value in each run, and whether they differ.
struct Row<T> {
    key: String,
    values: Vec<Option<T>>,
    differs: bool,
}

fn rows<'r, T: PartialEq>(
    runs: &'r [Run],
    keys: impl Fn(&'r Run) -> Vec<&'r str>,
    value: impl Fn(&Run, &str) -> Option<T>,
) -> Vec<Row<T>> {
    let keys: BTreeSet<&str> = runs.iter().flat_map(keys).collect();
    keys.into_iter()
        .map(|key| {
            let values: Vec<Option<T>> = runs.iter().map(|r| value(r, key)).collect();
            let differs = values.windows(2).any(|w| w[0] != w[1]);
            Row {
                key: key.to_string(),
                values,
                differs,
            }
        })
        .collect()
}

/// Table cells of compared rows: the `*` mark, `kind.key`, then the values.
fn table_rows<T>(kind: &str, rows: &[Row<T>], show: impl Fn(&T) -> String) -> Vec<Vec<String>> {
    let row = |row: &Row<T>| {
        let mark = if row.differs { "*" } else { " " };
        let mut cells = vec![mark.to_string(), format!("{kind}.{}", row.key)];
        let cell = |v: &Option<T>| v.as_ref().map(&show).unwrap_or_else(|| "-".into());
        cells.extend(row.values.iter().map(cell));
        cells
    };
    rows.iter().map(row).collect()
}

fn compare_json<T: serde::Serialize>(rows: &[Row<T>]) -> Vec<serde_json::Value> {
    let row =
        |r: &Row<T>| serde_json::json!({"key": r.key, "values": r.values, "differs": r.differs});
    rows.iter().map(row).collect()
}

/// A short column title: the run name, else the start of its id.
fn column_name(run: &Run) -> String {
    let id: String = run.info.run_id.chars().take(8).collect();
    match run.info.run_name.is_empty() {
        true => id,
        false => format!("{} ({id})", run.info.run_name),
    }
}

fn plot_lines(store: &Store, run_ids: &[String], metric: &str) -> Result<Vec<plot::Line>, Error> {
    let line = |id: &String| {
        let run = store.get_run(id)?;
        let points = store.metric_history(id, metric)?;
        // A legend entry without a line would leave the reader guessing.
        let label = match points.is_empty() {
            true => format!("{} (no points)", column_name(&run)),
            false => column_name(&run),
        };
        Ok(plot::Line { label, points })
    };
    let lines: Vec<plot::Line> = run_ids.iter().map(line).collect::<Result<_, Error>>()?;
    // An empty chart would look like a success; a key no run has is more
    // likely a typing mistake.
    if lines.iter().all(|l| l.points.is_empty()) {
        return Err(Error::not_found(format!(
            "no run of {} has points of metric '{metric}'",
            run_ids.join(", ")
        )));
    }
    Ok(lines)
}
