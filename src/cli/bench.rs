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
        } => {
            let opts = BenchOptions {
                runs,
                seed,
                dir,
                reuse: !fresh,
                repeats,
                steps,
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
