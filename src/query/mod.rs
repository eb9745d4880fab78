//! MLflow's search language: filter and order_by parsing, evaluation over
//! the indexes, ordering and paging.

mod request;

pub use request::*;
