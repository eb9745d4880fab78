//! `generate` and `bench`: thin wrappers over `runstore::workload`.

use std::io::Write;

use super::args::Command;
use super::{CliError, Context, Format};
use crate::error::Error;
use crate::workload::{self, BenchOptions, WorkloadSpec};

pub fn run(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Generate {
            runs,
            seed,
            experiments,
            params,
            tags,
            metrics,
            steps,
            out,
        } => {
            let spec = WorkloadSpec {
                seed,
                runs,
                experiments,
                params,
                tags,
                metrics,
                steps,
            };
            let summary = match out {
                Some(path) => workload::generate_file(&spec, &path)?,
                None => {
                    let stdout = std::io::stdout();
                    let mut lock = std::io::BufWriter::new(stdout.lock());
                    let summary = workload::generate(&spec, &mut lock)?;
                    lock.flush()
                        .map_err(|e| Error::io("<standard output>", e))?;
                    summary
                }
            };
            eprintln!(
                "generated {} experiments, {} runs, {} points ({} bytes)",
                summary.experiments, summary.runs, summary.points, summary.bytes
            );
            Ok(())
        }
        Command::Bench {
            runs,
            seed,
            steps,
            repeats,
            dir,
            fresh,
            keep_store,
        } => {
            let opts = BenchOptions {
                runs,
                seed,
                dir,
                reuse: !fresh,
                repeats,
                steps,
                keep_store,
            };
            let format = ctx.table_or_json()?;
            let report = workload::run_bench(&opts, &|step| eprintln!("{step}"))?;
            match format {
                Format::Json => say!(
                    "{}\n",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                ),
                _ => say!("{report}\n"),
            }
            Ok(())
        }
        _ => Err(CliError::Usage("not a benchmark command".into())),
    }
}

/// `bench-writers` and its worker processes.
pub fn writers(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::BenchWriters { writers, batches } => {
            let root = ctx.store_path()?.to_path_buf();
            let format = ctx.table_or_json()?;
            let mut rows = Vec::new();
            for count in writers {
                let (seconds, points) = run_writers(&root, count, batches)?;
                rows.push(serde_json::json!({
                    "writers": count,
                    "points": points,
                    "seconds": seconds,
                    "points_per_sec": points as f64 / seconds,
                }));
            }
            match format {
                Format::Json => say!("{}\n", serde_json::Value::Array(rows)),
                _ => {
                    say!("writers  points      seconds  points/s\n");
                    for r in &rows {
                        say!(
                            "{:>7}  {:>10}  {:>7.2}  {:>10.0}\n",
                            r["writers"].as_u64().unwrap_or(0),
                            r["points"].as_u64().unwrap_or(0),
                            r["seconds"].as_f64().unwrap_or(0.0),
                            r["points_per_sec"].as_f64().unwrap_or(0.0)
                        );
                    }
                }
            }
            Ok(())
        }
        Command::IngestWorker { batches } => {
            let store = ctx.open_write()?;
            let experiment = store.get_or_create_experiment("bench-writers")?;
            let run = store
                .create_run(crate::NewRun {
                    experiment_id: experiment,
                    ..crate::NewRun::default()
                })?
                .run_id;
            for b in 0..batches as i64 {
                let points: Vec<crate::Metric> = (0..1000)
                    .map(|i| {
                        let step = b * 1000 + i;
                        crate::Metric::new("loss", 1.0 / (step + 1) as f64, step, step)
                    })
                    .collect();
                store.log_batch(&run, &points, &[], &[])?;
            }
            Ok(())
        }
        _ => Err(CliError::Usage("not a writers benchmark command".into())),
    }
}

/// Starts `count` worker processes on a fresh store under `root` and waits
/// for all of them; returns the wall time and the points written.
fn run_writers(root: &std::path::Path, count: u32, batches: u32) -> Result<(f64, u64), CliError> {
    let store_path = root.join(format!("writers-{count}"));
    if store_path.exists() {
        std::fs::remove_dir_all(&store_path).map_err(|e| Error::io(&store_path, e))?;
    }
    crate::Store::open(&store_path, crate::Options::default())?.close()?;
    let exe = std::env::current_exe().map_err(|e| Error::io("<runstore executable>", e))?;

    let started = std::time::Instant::now();
    let children: Vec<std::process::Child> = (0..count)
        .map(|_| {
            std::process::Command::new(&exe)
                .arg("--store")
                .arg(&store_path)
                .args(["ingest-worker", "--batches", &batches.to_string()])
                .spawn()
                .map_err(|e| Error::io(&exe, e))
        })
        .collect::<Result<_, _>>()?;
    for mut child in children {
        let status = child.wait().map_err(|e| Error::io(&exe, e))?;
        if !status.success() {
            return Err(CliError::Usage(format!(
                "a writer process failed: {status}"
            )));
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let store = crate::Store::open(&store_path, crate::Options::read_only())?;
    let points = store.stats()?.metric_points;
    let expected = u64::from(count) * u64::from(batches) * 1000;
    if points != expected {
        return Err(CliError::Usage(format!(
            "{points} points stored, {expected} written"
        )));
    }
    Ok((seconds, points))
}
