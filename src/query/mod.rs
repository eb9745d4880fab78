//! MLflow's search language: filter and order_by parsing, evaluation over
//! the indexes, ordering and paging.

mod request;

pub use request::*;

use crate::error::{Error, Result};
use crate::model::{Experiment, Run};

/// Stand-in until the query work lands.
pub fn search_runs_naive(_runs: &[Run], _req: &SearchRequest) -> Result<SearchPage> {
    Err(Error::InvalidState("search is not implemented yet".into()))
}

/// Stand-in until the query work lands.
pub fn search_experiments_naive(
    _exps: &[Experiment],
    _req: &ExperimentSearchRequest,
) -> Result<ExperimentPage> {
    Err(Error::InvalidState("search is not implemented yet".into()))
}
