//! `search_runs`: MLflow's filter and ordering over the store's indexes.

use super::Store;
use crate::error::Result;
use crate::index::RunTable;
use crate::query::plan::Ordered;
use crate::query::{IdPage, SearchPage, SearchRequest, plan};

impl Store {
    /// MLflow's `search_runs`, with MLflow's results, answered from the
    /// indexes under one read view.
    /// Catches up with other writer processes first. The full order of the
    /// last search paged through is kept while the store does not change,
    /// so each further page costs its own runs only.
    pub fn search_runs(&self, request: &SearchRequest) -> Result<SearchPage> {
        self.with_search_cache(|table, cache| plan::search_runs(table, request, cache))
    }

    /// The same search as [`search_runs`](Self::search_runs), answering run
    /// ids only: no run is built, so a page costs the search alone. Page
    /// tokens are interchangeable between the two.
    pub fn search_run_ids(&self, request: &SearchRequest) -> Result<IdPage> {
        self.with_search_cache(|table, cache| plan::search_run_ids(table, request, cache))
    }

    /// Runs a search under one read view, with the full order of the last
    /// search paged through while the store has not changed.
    fn with_search_cache<T>(
        &self,
        search: impl FnOnce(&RunTable, Option<&Ordered>) -> Result<(T, Option<Ordered>)>,
    ) -> Result<T> {
        self.refresh()?;
        let state = self.read();
        let mut cache = self.search_cache.lock().unwrap_or_else(|p| p.into_inner());
        let current = cache
            .as_ref()
            .filter(|(version, _)| *version == state.version);
        let (page, ordered) = search(&state.table, current.map(|(_, o)| o))?;
        if let Some(ordered) = ordered {
            *cache = Some((state.version, ordered));
        }
        Ok(page)
    }
}
