//! `search_runs`: MLflow's filter and ordering over the store's indexes.

use super::Store;
use crate::error::Result;
use crate::query::{SearchPage, SearchRequest, search_runs_naive};

impl Store {
    /// MLflow's `search_runs`, with MLflow's results.
    pub fn search_runs(&self, request: &SearchRequest) -> Result<SearchPage> {
        let runs: Vec<_> = {
            let state = self.read();
            (0..state.table.len() as u32)
                .map(|ord| state.table.run(ord))
                .collect()
        };
        search_runs_naive(&runs, request)
    }
}
