//! `search_runs`: MLflow's filter and ordering over the store's indexes.

use super::Store;
use crate::error::Result;
use crate::query::{SearchPage, SearchRequest, plan};

impl Store {
    /// MLflow's `search_runs`, with MLflow's results, answered from the
    /// indexes under one read view.
    pub fn search_runs(&self, request: &SearchRequest) -> Result<SearchPage> {
        plan::search_runs(&self.read().table, request)
    }
}
