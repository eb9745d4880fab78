//! Commands about the whole store: import, export, experiments, and the
//! maintenance commands.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::args::{Command, From};
use super::runs::view_type;
use super::{CliError, Context, Format, json, table};
use crate::error::Error;
use crate::import::{self, ArtifactRoot, ImportOptions, ImportSummary, SourceKind};
use crate::store::Store;

pub fn run(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Import {
            sources,
            from,
            skip_bad,
            skip_existing,
            no_artifacts,
            artifact_root,
            memory_budget,
        } => {
            let opts = ImportOptions {
                skip_bad,
                skip_existing,
                copy_artifacts: !no_artifacts,
                artifact_root: parse_artifact_root(artifact_root.as_deref())?,
                memory_budget: memory_budget.saturating_mul(1 << 20),
            };
            let format = ctx.table_or_json()?;
            let store = ctx.open_write()?;
            let report = import_all(&store, &sources, from, &opts)?;
            store.close()?;
            say!("{}", report.render(format));
            Ok(())
        }
        Command::Export { out } => export(ctx, out),
        Command::Experiments { view } => {
            let format = ctx.table_or_json()?;
            let store = ctx.open_read()?;
            let view = view_type(view);
            let all = store.list_experiments()?;
            let shown = all.iter().filter(|e| view.admits(e.lifecycle_stage));
            let body = json::ExperimentsJson {
                experiments: shown.map(json::experiment).collect(),
            };
            match format {
                Format::Json => sayln!("{}", json::to_text(&body)),
                _ => say!("{}", experiments_table(&body)),
            }
            Ok(())
        }
        Command::Checkpoint => {
            ctx.open_write()?.checkpoint()?;
            sayln!("checkpoint written");
            Ok(())
        }
        Command::Check => check(ctx),
        Command::Stats => stats(ctx),
        Command::Compact | Command::Purge => {
            let format = ctx.table_or_json()?;
            let options = crate::Options {
                create: false,
                ..crate::Options::default()
            };
            let store = Store::open(ctx.store_path()?, options)?;
            let (store, report) = match command {
                Command::Purge => store.purge()?,
                _ => store.compact()?,
            };
            store.close()?;
            let fields = serde_json::json!({
                "experiments_removed": report.experiments_removed,
                "runs_removed": report.runs_removed,
                "log_bytes_before": report.log_bytes_before,
                "log_bytes_after": report.log_bytes_after,
            });
            match format {
                Format::Json => say!("{fields}\n"),
                _ => say!(
                    "removed {} experiments and {} runs; log {} -> {} bytes\n",
                    report.experiments_removed,
                    report.runs_removed,
                    report.log_bytes_before,
                    report.log_bytes_after
                ),
            }
            Ok(())
        }
        other => Err(CliError::Usage(format!("not a store command: {other:?}"))),
    }
}

/// Parses `ORIGINAL=LOCAL`.
fn parse_artifact_root(arg: Option<&str>) -> Result<ArtifactRoot, CliError> {
    let Some(arg) = arg else {
        return Ok(ArtifactRoot::default());
    };
    match arg.split_once('=') {
        Some((original, local)) if !original.is_empty() && !local.is_empty() => Ok(ArtifactRoot {
            original: Some(original.to_string()),
            local: Some(PathBuf::from(local)),
        }),
        _ => Err(CliError::Usage(format!(
            "--artifact-root must be ORIGINAL=LOCAL, got '{arg}'"
        ))),
    }
}

/// What `import` did over all its sources, with its speed.
pub struct ImportReport {
    pub summary: ImportSummary,
    pub seconds: f64,
}

/// Imports every source in turn, with a spinner when stderr is a terminal.
pub fn import_all(
    store: &Store,
    sources: &[PathBuf],
    from: Option<From>,
    opts: &ImportOptions,
) -> Result<ImportReport, CliError> {
    let started = Instant::now();
    let mut total = ImportSummary::default();
    for source in sources {
        let kind = match from {
            Some(From::MlflowDir) => SourceKind::MlflowDir,
            Some(From::MlflowSqlite) => SourceKind::MlflowSqlite,
            Some(From::Jsonl) => SourceKind::JsonLines,
            None => import::detect(source)?,
        };
        let bar = spinner(source);
        let progress = |runs: u64| bar.set_position(runs);
        let result = import::import(store, source, kind, opts, &progress);
        bar.finish_and_clear();

        let summary = result?;
        total.experiments += summary.experiments;
        total.runs += summary.runs;
        total.points += summary.points;
        total.artifacts += summary.artifacts;
        total.skipped.extend(summary.skipped);
        total.checkpoints += summary.checkpoints;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(ImportReport {
        summary: total,
        seconds,
    })
}

/// A run counter on a terminal; hidden (and silent) otherwise.
fn spinner(source: &Path) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}: {pos} runs ({per_sec})") {
        bar.set_style(style);
    }
    bar.set_message(format!("importing {}", source.display()));
    bar
}

impl ImportReport {
    fn per_second(&self, count: u64) -> f64 {
        count as f64 / self.seconds.max(1e-9)
    }

    /// The summary as JSON or as a few lines for people.
    pub fn render(&self, format: Format) -> String {
        let s = &self.summary;
        if format == Format::Json {
            let skipped: Vec<_> = s
                .skipped
                .iter()
                .map(|(what, why)| serde_json::json!({"source": what, "reason": why}))
                .collect();
            let value = serde_json::json!({
                "experiments": s.experiments,
                "runs": s.runs,
                "points": s.points,
                "artifacts": s.artifacts,
                "skipped": skipped,
                "seconds": self.seconds,
                "runs_per_second": self.per_second(s.runs),
                "points_per_second": self.per_second(s.points),
            });
            return json::to_text(&value) + "\n";
        }

        let mut out = format!(
            "imported {} experiments, {} runs, {} metric points, {} artifacts in {:.2}s\n\
             ({:.0} runs/s, {:.0} points/s)\n",
            s.experiments,
            s.runs,
            s.points,
            s.artifacts,
            self.seconds,
            self.per_second(s.runs),
            self.per_second(s.points),
        );
        out += &format!("skipped {}\n", s.skipped.len());
        for (what, why) in &s.skipped {
            out += &format!("  {what}: {why}\n");
        }
        out
    }
}

fn export(ctx: &Context, out: Option<PathBuf>) -> Result<(), CliError> {
    let store = ctx.open_read()?;
    let Some(path) = out else {
        let mut stdout = std::io::stdout().lock();
        import::export_jsonl(&store, &mut stdout)?;
        return stdout
            .flush()
            .map_err(|e| Error::io("<standard output>", e).into());
    };

    let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut writer = BufWriter::new(file);
    let runs = import::export_jsonl(&store, &mut writer)?;
    writer.flush().map_err(|e| Error::io(&path, e))?;
    sayln!("exported {runs} runs to {}", path.display());
    Ok(())
}

fn experiments_table(body: &json::ExperimentsJson) -> String {
    let rows: Vec<Vec<String>> = body
        .experiments
        .iter()
        .map(|e| {
            vec![
                e.experiment_id.clone(),
                e.name.clone(),
                e.lifecycle_stage.to_string(),
                e.artifact_location.clone(),
            ]
        })
        .collect();
    let header = [
        "experiment_id",
        "name",
        "lifecycle_stage",
        "artifact_location",
    ];
    table::render(&header, &rows)
}

fn check(ctx: &Context) -> Result<(), CliError> {
    let format = ctx.table_or_json()?;
    let report = ctx.open_read()?.check()?;
    let fields = [
        ("streams", report.streams),
        ("records", report.records),
        ("log_bytes", report.log_bytes),
        ("snapshot_bytes", report.snapshot_bytes),
    ];
    say!(
        "{}",
        key_numbers(
            &fields,
            format,
            "ok: every record and checkpoint file verified"
        )
    );
    Ok(())
}

fn stats(ctx: &Context) -> Result<(), CliError> {
    let format = ctx.table_or_json()?;
    let s = ctx.open_read()?.stats()?;
    let per_point = match s.metric_points {
        0 => 0,
        n => s.log_bytes / n,
    };
    let fields = [
        ("experiments", s.experiments),
        ("runs", s.runs),
        ("deleted_runs", s.deleted_runs),
        ("metric_points", s.metric_points),
        ("params", s.params),
        ("tags", s.tags),
        ("log_bytes", s.log_bytes),
        ("checkpoint_bytes", s.checkpoint_bytes),
        ("artifact_bytes", s.artifact_bytes),
        ("index_heap_bytes", s.index_heap_bytes),
        ("index_mapped_bytes", s.index_mapped_bytes),
        ("run_image_bytes", s.run_image_bytes),
        ("log_bytes_per_point", per_point),
    ];
    say!("{}", key_numbers(&fields, format, ""));
    Ok(())
}

/// Named counts as a JSON object or a two-column table (with a last line).
fn key_numbers(fields: &[(&str, u64)], format: Format, footer: &str) -> String {
    if format == Format::Json {
        let map: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).into()))
            .collect();
        return json::to_text(&map) + "\n";
    }
    let rows: Vec<Vec<String>> = fields
        .iter()
        .map(|(k, v)| vec![k.to_string(), v.to_string()])
        .collect();
    let mut out = table::render(&["what", "value"], &rows);
    if !footer.is_empty() {
        out += footer;
        out += "\n";
    }
    out
}
