//! MLflow's data model: experiments, runs, params, tags, metric points and
//! dataset inputs, with the rules MLflow enforces on them.
//!
//! Nothing here touches a file; the types are shared by every layer above.

mod maps;
mod names;
mod types;
mod validate;

pub use maps::{MapIter, MetricMap, StringIter, StringMap};
pub use names::{new_run_id, random_run_name};
pub use types::*;
pub use validate::*;
