//! `search_runs`: MLflow's filter and ordering over the store's indexes.

use super::Store;
use crate::error::Result;
use crate::query::{SearchPage, SearchRequest, plan};

impl Store {
    /// MLflow's `search_runs`, with MLflow's results, answered from the
    /// indexes under one read view.
    /// Catches up with other writer processes first. The full order of the
    /// last search paged through is kept while the store does not change,
    /// so each further page costs its own runs only.
    pub fn search_runs(&self, request: &SearchRequest) -> Result<SearchPage> {
        self.refresh()?;
        let state = self.read();
        let mut cache = self.search_cache.lock().unwrap_or_else(|p| p.into_inner());
        let current = cache
            .as_ref()
            .filter(|(version, _)| *version == state.version);
        let (page, ordered) = plan::search_runs(&state.table, request, current.map(|(_, o)| o))?;
        if let Some(ordered) = ordered {
            *cache = Some((state.version, ordered));
        }
        Ok(page)
    }
}
