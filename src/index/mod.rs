//! In-memory indexes over runs, by dense run ordinal: string dictionaries,
//! roaring postings for params and tags, latest-value columns for metrics,
//! and the run table with attribute columns and lifecycle bitmaps.
//!
//! Everything here is derived from the log and rebuilt or loaded from a
//! checkpoint on open; nothing here touches a file.

mod dict;
mod metrics;
mod runs;
mod strings;

pub use dict::Dict;
pub use metrics::MetricIndex;
pub use runs::{ExperimentRow, FieldClocks, RunRow, RunTable, Slot};
pub use strings::StringIndex;

/// Dense ordinal of a run inside one store.
pub type Ordinal = u32;
