//! The run-search benchmark suite: a deterministic workload generator, the
//! standard queries with their ground truth, and the `bench` runner.
//!
//! `runstore generate` and `runstore bench` are thin wrappers over
//! [`generate`] and [`run_bench`]. See `docs/benchmarks.md`.

pub mod bench;
pub mod generate;
pub mod queries;
mod rng;

pub use bench::{BenchOptions, BenchReport, QueryFigures, run_bench};
pub use generate::{Summary, WorkloadSpec, generate, generate_file};
pub use queries::{
    Condition, Expected, Query, QueryKind, ground_truth, ground_truths, standard_queries,
};
