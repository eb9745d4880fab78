//! The command line, as clap parses it. The names and flags here are a
//! contract that scripts rely on: change them only by adding.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// runstore: an embedded store for ML experiment tracking with MLflow's data
/// model and search language.
#[derive(Debug, Parser)]
#[command(name = "runstore", version)]
pub struct Cli {
    /// Folder of the store (required by every command but `quickstart`).
    #[arg(long, global = true, env = "RUNSTORE_PATH")]
    pub store: Option<PathBuf>,

    /// Output format; defaults to `table` on a terminal and `json` otherwise.
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,

    #[command(subcommand)]
    pub command: Command,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// MLflow's REST JSON shapes, for programs.
    Json,
    /// One run id per line (`search` only).
    Ids,
}

/// Which runs or experiments a listing sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum View {
    Active,
    Deleted,
    All,
}

/// The kinds of import source, named as on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum From {
    MlflowDir,
    MlflowSqlite,
    Jsonl,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Search runs with MLflow's filter and order_by language.
    Search {
        /// Experiment id or name (repeatable); all experiments when absent.
        #[arg(long = "experiment")]
        experiments: Vec<String>,
        /// MLflow filter, e.g. "metrics.auc > 0.9 and tags.team = 'x'".
        #[arg(long)]
        filter: Option<String>,
        /// MLflow order_by clause, e.g. "metrics.auc DESC" (repeatable).
        #[arg(long = "order-by")]
        order_by: Vec<String>,
        #[arg(long, value_enum, default_value = "active")]
        view: View,
        #[arg(long)]
        max_results: Option<i64>,
        #[arg(long)]
        page_token: Option<String>,
    },

    /// Import MLflow file stores, MLflow SQLite databases or JSON Lines.
    Import {
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        /// Kind of every source; guessed from each source when absent.
        #[arg(long, value_enum)]
        from: Option<From>,
        /// Skip bad runs (listed in the summary) instead of stopping.
        #[arg(long)]
        skip_bad: bool,
        /// Skip runs whose id the store already has instead of failing.
        #[arg(long)]
        skip_existing: bool,
        /// Do not copy artifact files.
        #[arg(long)]
        no_artifacts: bool,
        /// ORIGINAL=LOCAL: where the artifacts recorded under ORIGINAL are now.
        #[arg(long)]
        artifact_root: Option<String>,
        /// Checkpoint whenever what the import holds in memory since the
        /// last checkpoint passes this many MiB (an estimate).
        #[arg(long, value_name = "MIB", default_value_t = 2048,
              value_parser = clap::value_parser!(u64).range(1..))]
        memory_budget: u64,
    },

    /// Write every experiment and run as JSON Lines.
    Export {
        /// File to write; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },

    /// Show one run.
    Show { run_id: String },

    /// Show the history of one metric of a run.
    History {
        run_id: String,
        key: String,
        /// Downsample to about this many points, keeping each bucket's
        /// extremes; at least 2 (the first and last points are always kept).
        #[arg(long, value_parser = clap::value_parser!(u64).range(2..))]
        max_points: Option<u64>,
    },

    /// Params and latest metrics of runs side by side; `*` marks rows that differ.
    Compare {
        #[arg(required = true)]
        run_ids: Vec<String>,
    },

    /// List experiments.
    Experiments {
        #[arg(long, value_enum, default_value = "active")]
        view: View,
    },

    /// Soft-delete a run.
    Delete { run_id: String },

    /// Restore a soft-deleted run.
    Restore { run_id: String },

    /// Write the catalog and snapshot so the next open replays less log.
    Checkpoint,

    /// Read and verify every record and checkpoint file.
    Check,

    /// Counts and sizes.
    Stats,

    /// Rewrite the log as the current state, dropping superseded records.
    /// Needs the store to itself.
    Compact,

    /// Remove soft-deleted runs and deleted experiments for good, from every
    /// file, artifacts included (MLflow's gc). Needs the store to itself.
    Purge,

    /// Plot one metric of one or more runs to a PNG or SVG file.
    Plot {
        #[arg(required = true)]
        run_ids: Vec<String>,
        #[arg(long)]
        metric: String,
        /// Output file; the extension (.png or .svg) picks the format.
        #[arg(long)]
        out: PathBuf,
    },

    /// Write a deterministic benchmark workload as JSON Lines.
    Generate {
        /// Runs to generate.
        #[arg(long, default_value_t = 10_000)]
        runs: u64,
        /// Seed of the generator: the same seed gives the same bytes.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 10)]
        experiments: u32,
        #[arg(long, default_value_t = 20)]
        params: u32,
        #[arg(long, default_value_t = 10)]
        tags: u32,
        #[arg(long, default_value_t = 5)]
        metrics: u32,
        /// Points per metric per run.
        #[arg(long, default_value_t = 20)]
        steps: u32,
        /// File to write; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },

    /// Generate (or reuse) a workload, ingest it, run the standard queries,
    /// verify every answer against a naive scan, and report the figures.
    Bench {
        #[arg(long, default_value_t = 10_000)]
        runs: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Points per metric per run.
        #[arg(long, default_value_t = 20)]
        steps: u32,
        /// Timed executions of each query.
        #[arg(long, default_value_t = 20)]
        repeats: u32,
        /// Folder for the workload, the expected answers and the store.
        #[arg(long, default_value = "bench-data")]
        dir: PathBuf,
        /// Generate the workload anew even if the folder has one.
        #[arg(long)]
        fresh: bool,
        /// Search the store an earlier run left in the folder (same
        /// workload) instead of ingesting anew: for repeating the queries
        /// of a big benchmark.
        #[arg(long, conflicts_with = "fresh")]
        keep_store: bool,
    },

    /// Ingest throughput with several writer processes on one store: for
    /// each count, that many processes each log the same work at once.
    BenchWriters {
        /// Process counts to measure, e.g. 1,2,4,8.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4, 8])]
        writers: Vec<u32>,
        /// Batches of 1,000 points each process logs.
        #[arg(long, default_value_t = 200)]
        batches: u32,
    },

    /// One writer process of `bench-writers` (internal).
    #[command(hide = true)]
    IngestWorker {
        #[arg(long)]
        batches: u32,
    },

    /// Import the shipped example store into a fresh store and tour it.
    Quickstart {
        /// MLflow file store to import instead of the shipped fixture.
        #[arg(long)]
        fixture: Option<PathBuf>,
    },
}
