//! MLflow's search language: filter and order_by parsing, evaluation over
//! the indexes, ordering and paging.
//!
//! `lexer` and `group` reproduce the tokenizer MLflow relies on, `filter`
//! and `order` turn text into typed clauses, `like` and `token` hold the
//! value rules, and `naive` is the reference evaluator. See `docs/search.md`.

pub mod experiment_filter;
pub mod filter;
mod group;
pub mod lexer;
pub mod like;
pub mod naive;
pub mod order;
pub mod plan;
mod request;
pub mod token;
mod walk;

pub use experiment_filter::{
    ExperimentClause, ExperimentFilter, ExperimentTarget, parse_experiment_filter,
};
pub use filter::{
    Attribute, Clause, Comparator, DatasetField, Filter, Number, Target, Value, parse_filter,
};
pub use naive::{search_experiments_naive, search_runs_naive};
pub use order::{OrderKey, parse_order_by};
pub use request::*;

/// Parses arbitrary bytes as a filter and as an order_by clause; used by the
/// fuzz target. It must never panic, whatever the input.
pub fn fuzz_filter(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = parse_filter(Some(&text));
    let _ = parse_experiment_filter(Some(&text));
    let _ = parse_order_by(&[text.to_string()]);
    let _ = token::decode_token(&text);
    let _ = like::like(&text, &text);
}
