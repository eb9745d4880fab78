//! Search requests and pages, shaped like MLflow's `search_runs` and
//! `search_experiments` arguments.

use crate::model::{Experiment, Run, ViewType};

/// MLflow's default page size.
pub const DEFAULT_MAX_RESULTS: i64 = 1000;
/// MLflow's largest page size.
pub const MAX_MAX_RESULTS: i64 = 50000;

/// Arguments of `search_runs`.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Experiments to search; empty means every experiment.
    pub experiment_ids: Vec<String>,
    /// An MLflow filter string; `None` or `""` means no filter.
    pub filter: Option<String>,
    /// MLflow order_by clauses, one key per string.
    pub order_by: Vec<String>,
    pub view_type: ViewType,
    /// Page size, 1..=50000; `None` means MLflow's default of 1000.
    pub max_results: Option<i64>,
    /// A token from a previous page.
    pub page_token: Option<String>,
}

/// One page of runs.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    pub runs: Vec<Run>,
    /// Present only when more runs follow.
    pub next_page_token: Option<String>,
}

/// One page of a search as run ids only: what a caller that pages
/// through ids needs, without building each run. Its tokens are those of
/// the same search through `search_runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdPage {
    pub run_ids: Vec<String>,
    /// Present only when more runs follow.
    pub next_page_token: Option<String>,
}

/// Arguments of `search_experiments`.
#[derive(Debug, Clone, Default)]
pub struct ExperimentSearchRequest {
    pub filter: Option<String>,
    pub order_by: Vec<String>,
    pub view_type: ViewType,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

/// One page of experiments.
#[derive(Debug, Clone, Default)]
pub struct ExperimentPage {
    pub experiments: Vec<Experiment>,
    pub next_page_token: Option<String>,
}
