//! In-memory indexes over runs, by dense run ordinal: string dictionaries,
//! roaring postings for params and tags, latest-value columns for metrics,
//! and the run table with attribute columns and lifecycle bitmaps.
//!
//! Everything here is derived from the log. A checkpoint freezes the run
//! table into an image (`freeze.rs`, `image.rs`) that the next open maps
//! and reads in place (`frozen.rs`); what changes after it is kept in
//! memory beside it (`runs.rs`, `view.rs`).

mod dict;
mod freeze;
mod frozen;
mod image;
mod metrics;
mod row;
mod runs;
mod strings;
mod view;

pub use dict::Dict;
pub use freeze::write_image;
pub use frozen::Frozen;
pub use image::is_other_version as image_is_other_version;
pub use metrics::MetricIndex;
pub use row::{encode_row, fuzz_row};
pub use runs::{ExperimentRow, FieldClocks, RunRow, RunTable, Slot};
pub use strings::StringIndex;
pub use view::{KeyView, MetricView, RunRef};

/// Dense ordinal of a run inside one store.
pub type Ordinal = u32;
