//! The reference evaluator: a plain scan over runs (or experiments) that
//! applies MLflow's filter, sort and paging rules one by one. It is the
//! oracle for property tests and serves the store until indexes land; the
//! per-value pieces (`compare_*`, [`sort_value`], [`compare_sort_values`])
//! are public so an index planner evaluates exactly the same rules.

use std::cmp::Ordering;

use super::experiment_filter::{ExperimentTarget, parse_experiment_filter};
use super::filter::{
    Attribute, Clause, Comparator, DatasetField, Number, Target, Value, parse_filter,
};
use super::like::{ilike, like};
use super::order::{ExperimentOrderKey, OrderKey, parse_experiment_order_by, parse_order_by};
use super::request::{
    DEFAULT_MAX_RESULTS, ExperimentPage, ExperimentSearchRequest, MAX_MAX_RESULTS, SearchPage,
    SearchRequest,
};
use super::token::{encode_token, experiment_query_hash, resume_offset, run_query_hash};
use crate::error::{Error, Result};
use crate::model::{Experiment, Run};

/// The tag the SQL store reads for `attributes.run_name` filters.
pub const RUN_NAME_TAG: &str = "mlflow.runName";

/// Checks `max_results` (1..=50000, default 1000) with MLflow's messages.
pub fn validate_max_results(max_results: Option<i64>) -> Result<usize> {
    let n = max_results.unwrap_or(DEFAULT_MAX_RESULTS);
    if n <= 0 {
        return Err(Error::invalid(format!(
            "Invalid value for request parameter max_results. It must be a positive integer, \
             but got value {n}"
        )));
    }
    if n > MAX_MAX_RESULTS {
        return Err(Error::invalid(format!(
            "Invalid value for request parameter max_results. It must be at most \
             {MAX_MAX_RESULTS}, but got value {n}"
        )));
    }
    Ok(n as usize)
}

/// `search_runs` over a slice of runs.
pub fn search_runs_naive(runs: &[Run], req: &SearchRequest) -> Result<SearchPage> {
    let max_results = validate_max_results(req.max_results)?;
    let filter = parse_filter(req.filter.as_deref())?;
    let order = parse_order_by(&req.order_by)?;
    let query = run_query_hash(req);
    let offset = resume_offset(req.page_token.as_deref(), &query)?;

    let mut hits: Vec<&Run> = runs
        .iter()
        .filter(|r| {
            req.experiment_ids.is_empty() || req.experiment_ids.contains(&r.info.experiment_id)
        })
        .filter(|r| req.view_type.admits(r.info.lifecycle_stage))
        .filter(|r| filter.clauses.iter().all(|c| clause_matches(r, c)))
        .collect();
    hits.sort_by(|a, b| compare_runs(a, b, &order));

    let (page, next) = paginate(&hits, offset, max_results);
    Ok(SearchPage {
        runs: page.iter().map(|r| (*r).clone()).collect(),
        next_page_token: next.map(|n| encode_token(n, &query)),
    })
}

/// The window at `offset` and the offset of the next page when rows remain.
pub fn paginate<T>(rows: &[T], offset: usize, max_results: usize) -> (&[T], Option<usize>) {
    let start = offset.min(rows.len());
    let end = start.saturating_add(max_results).min(rows.len());
    let next = (end < rows.len()).then_some(end);
    (&rows[start..end], next)
}

/// Whether one clause holds for `run` (SEMANTICS 3.5-3.7 and 6.3).
pub fn clause_matches(run: &Run, clause: &Clause) -> bool {
    let op = clause.op;
    match &clause.target {
        Target::Metric(key) => match (run.metrics.get(key), &clause.value) {
            (Some(point), Value::Number(n)) => compare_metric(op, point.value, n.as_f64()),
            _ => false,
        },
        Target::Param(key) => compare_optional_str(op, run.params.get(key), &clause.value),
        Target::Tag(key) => compare_optional_str(op, run.tags.get(key), &clause.value),
        Target::Attribute(a) if a.is_numeric() => {
            let stored = match a {
                Attribute::StartTime => Some(run.info.start_time),
                _ => run.info.end_time,
            };
            match (stored, &clause.value) {
                (Some(s), Value::Number(n)) => compare_time(op, s, *n),
                _ => false,
            }
        }
        Target::Attribute(a) => {
            let stored = match a {
                Attribute::RunId => Some(run.info.run_id.as_str()),
                Attribute::RunName => run.tags.get(RUN_NAME_TAG),
                Attribute::Status => Some(run.info.status.as_str()),
                Attribute::UserId => Some(run.info.user_id.as_str()),
                _ => Some(run.info.artifact_uri.as_str()),
            };
            stored.is_some_and(|s| compare_str(op, s, &clause.value))
        }
        Target::Dataset(field) => run.inputs.iter().any(|input| {
            let stored = match field {
                DatasetField::Name => Some(input.dataset.name.as_str()),
                DatasetField::Digest => Some(input.dataset.digest.as_str()),
                DatasetField::Context => input.context(),
            };
            stored.is_some_and(|s| compare_str(op, s, &clause.value))
        }),
    }
}

/// The stored value as MLflow's SQL store sees it: ±inf were written as
/// ±f64::MAX, so filters and sorting use the clamped value (NaN stays NaN).
pub fn sql_metric_value(stored: f64) -> f64 {
    if stored.is_infinite() {
        f64::MAX.copysign(stored)
    } else {
        stored
    }
}

/// A metric comparison with IEEE semantics (NaN satisfies only `!=`); the
/// stored value is clamped, the literal is not (`< 1e400` matches +inf).
pub fn compare_metric(op: Comparator, stored: f64, literal: f64) -> bool {
    let stored = sql_metric_value(stored);
    match op {
        Comparator::Eq => stored == literal,
        Comparator::Ne => stored != literal,
        Comparator::Lt => stored < literal,
        Comparator::Le => stored <= literal,
        Comparator::Gt => stored > literal,
        Comparator::Ge => stored >= literal,
        _ => false,
    }
}

/// A time attribute against an integer (exact) or decimal literal.
pub fn compare_time(op: Comparator, stored: i64, literal: Number) -> bool {
    let ord = match literal {
        Number::Int(i) => Some(stored.cmp(&i)),
        Number::Float(f) => (stored as f64).partial_cmp(&f),
    };
    let Some(ord) = ord else {
        return op == Comparator::Ne;
    };
    match op {
        Comparator::Eq => ord == Ordering::Equal,
        Comparator::Ne => ord != Ordering::Equal,
        Comparator::Lt => ord == Ordering::Less,
        Comparator::Le => ord != Ordering::Greater,
        Comparator::Gt => ord == Ordering::Greater,
        Comparator::Ge => ord != Ordering::Less,
        _ => false,
    }
}

/// A string comparison: byte-exact `=`/`!=`/IN, SQLite LIKE/ILIKE.
pub fn compare_str(op: Comparator, stored: &str, value: &Value) -> bool {
    match (op, value) {
        (Comparator::Eq, Value::Text(v)) => stored == v,
        (Comparator::Ne, Value::Text(v)) => stored != v,
        (Comparator::Like, Value::Text(v)) => like(stored, v),
        (Comparator::ILike, Value::Text(v)) => ilike(stored, v),
        (Comparator::In, Value::List(vs)) => vs.iter().any(|v| v == stored),
        (Comparator::NotIn, Value::List(vs)) => !vs.iter().any(|v| v == stored),
        _ => false,
    }
}

/// A param or tag clause: a missing key matches only IS NULL.
pub fn compare_optional_str(op: Comparator, stored: Option<&str>, value: &Value) -> bool {
    match (op, stored) {
        (Comparator::IsNull, s) => s.is_none(),
        (Comparator::IsNotNull, s) => s.is_some(),
        (_, Some(s)) => compare_str(op, s, value),
        (_, None) => false,
    }
}

/// A value a run sorts by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortValue<'a> {
    Real(f64),
    Int(i64),
    Text(&'a str),
    /// A metric whose latest value is NaN: after every real value.
    NaN,
    /// No such key (or a null end_time): after everything.
    Missing,
}

impl SortValue<'_> {
    /// Real values first, then NaN, then missing, in both directions.
    fn group(&self) -> u8 {
        match self {
            SortValue::NaN => 1,
            SortValue::Missing => 2,
            _ => 0,
        }
    }
}

/// The value of `target` that `run` sorts by (run_name from the RunInfo).
pub fn sort_value<'a>(run: &'a Run, target: &Target) -> SortValue<'a> {
    let text = |s: Option<&'a str>| s.map_or(SortValue::Missing, SortValue::Text);
    match target {
        Target::Metric(key) => match run.metrics.get(key) {
            Some(p) if p.value.is_nan() => SortValue::NaN,
            Some(p) => SortValue::Real(sql_metric_value(p.value)),
            None => SortValue::Missing,
        },
        Target::Param(key) => text(run.params.get(key)),
        Target::Tag(key) => text(run.tags.get(key)),
        Target::Attribute(a) => match a {
            Attribute::RunId => SortValue::Text(&run.info.run_id),
            Attribute::RunName => SortValue::Text(&run.info.run_name),
            Attribute::Status => SortValue::Text(run.info.status.as_str()),
            Attribute::UserId => SortValue::Text(&run.info.user_id),
            Attribute::ArtifactUri => SortValue::Text(&run.info.artifact_uri),
            Attribute::StartTime => SortValue::Int(run.info.start_time),
            Attribute::EndTime => run.info.end_time.map_or(SortValue::Missing, SortValue::Int),
        },
        Target::Dataset(_) => SortValue::Missing,
    }
}

/// Orders two sort values of one key: real values in the requested
/// direction, then NaN, then missing (the last two ways regardless of it).
pub fn compare_sort_values(a: SortValue<'_>, b: SortValue<'_>, ascending: bool) -> Ordering {
    let by_group = a.group().cmp(&b.group());
    if by_group != Ordering::Equal {
        return by_group;
    }
    let ord = match (a, b) {
        // partial_cmp, not total_cmp: -0.0 ties with 0.0 as in SQLite.
        (SortValue::Real(x), SortValue::Real(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (SortValue::Int(x), SortValue::Int(y)) => x.cmp(&y),
        (SortValue::Text(x), SortValue::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => Ordering::Equal,
    };
    if ascending { ord } else { ord.reverse() }
}

/// The full run order: the keys, then start_time DESC unless a key already
/// sorts by it, then run_id ASC.
pub fn compare_runs(a: &Run, b: &Run, keys: &[OrderKey]) -> Ordering {
    let start = Target::Attribute(Attribute::StartTime);
    let by_keys = keys.iter().fold(Ordering::Equal, |ord, key| {
        ord.then_with(|| {
            compare_sort_values(
                sort_value(a, &key.target),
                sort_value(b, &key.target),
                key.ascending,
            )
        })
    });
    let by_start = if keys.iter().any(|k| k.target == start) {
        Ordering::Equal
    } else {
        b.info.start_time.cmp(&a.info.start_time)
    };
    by_keys
        .then(by_start)
        .then_with(|| a.info.run_id.cmp(&b.info.run_id))
}

/// `search_experiments` over a slice of experiments (SEMANTICS section 8).
pub fn search_experiments_naive(
    exps: &[Experiment],
    req: &ExperimentSearchRequest,
) -> Result<ExperimentPage> {
    let max_results = validate_max_results(req.max_results)?;
    let filter = parse_experiment_filter(req.filter.as_deref())?;
    let order = parse_experiment_order_by(&req.order_by)?;
    let query = experiment_query_hash(req);
    let offset = resume_offset(req.page_token.as_deref(), &query)?;

    let mut hits: Vec<&Experiment> = exps
        .iter()
        .filter(|e| req.view_type.admits(e.lifecycle_stage))
        .filter(|e| {
            filter
                .clauses
                .iter()
                .all(|c| experiment_matches(e, &c.target, c.op, &c.value))
        })
        .collect();
    hits.sort_by(|a, b| compare_experiments(a, b, &order));

    let (page, next) = paginate(&hits, offset, max_results);
    Ok(ExperimentPage {
        experiments: page.iter().map(|e| (*e).clone()).collect(),
        next_page_token: next.map(|n| encode_token(n, &query)),
    })
}

fn experiment_matches(
    exp: &Experiment,
    target: &ExperimentTarget,
    op: Comparator,
    value: &Value,
) -> bool {
    let time = |t: Option<i64>| match (t, value) {
        (Some(t), Value::Number(n)) => compare_time(op, t, *n),
        _ => false,
    };
    match target {
        ExperimentTarget::Name => compare_str(op, &exp.name, value),
        ExperimentTarget::ExperimentId => compare_str(op, &exp.experiment_id, value),
        ExperimentTarget::CreationTime => time(exp.creation_time),
        ExperimentTarget::LastUpdateTime => time(exp.last_update_time),
        ExperimentTarget::Tag(key) => {
            compare_optional_str(op, exp.tags.get(key).map(String::as_str), value)
        }
    }
}

fn experiment_sort_value<'a>(exp: &'a Experiment, target: &ExperimentTarget) -> SortValue<'a> {
    match target {
        ExperimentTarget::Name => SortValue::Text(&exp.name),
        ExperimentTarget::ExperimentId => match exp.experiment_id.parse::<i64>() {
            Ok(id) => SortValue::Int(id),
            Err(_) => SortValue::Text(&exp.experiment_id),
        },
        ExperimentTarget::CreationTime => {
            exp.creation_time.map_or(SortValue::Missing, SortValue::Int)
        }
        ExperimentTarget::LastUpdateTime => exp
            .last_update_time
            .map_or(SortValue::Missing, SortValue::Int),
        ExperimentTarget::Tag(key) => exp
            .tags
            .get(key)
            .map_or(SortValue::Missing, |s| SortValue::Text(s)),
    }
}

/// Default creation_time DESC then experiment_id ASC; with explicit keys,
/// experiment_id DESC ends the order unless a key already names it.
fn compare_experiments(a: &Experiment, b: &Experiment, keys: &[ExperimentOrderKey]) -> Ordering {
    let default;
    let keys = if keys.is_empty() {
        default = [
            ExperimentOrderKey {
                target: ExperimentTarget::CreationTime,
                ascending: false,
            },
            ExperimentOrderKey {
                target: ExperimentTarget::ExperimentId,
                ascending: true,
            },
        ];
        &default[..]
    } else {
        keys
    };
    let id = ExperimentTarget::ExperimentId;
    let tie = ExperimentOrderKey {
        target: id.clone(),
        ascending: false,
    };
    let tail = (!keys.iter().any(|k| k.target == id)).then_some(&tie);
    keys.iter().chain(tail).fold(Ordering::Equal, |ord, key| {
        ord.then_with(|| {
            compare_sort_values(
                experiment_sort_value(a, &key.target),
                experiment_sort_value(b, &key.target),
                key.ascending,
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_comparisons_follow_ieee_and_clamp_inf() {
        assert!(compare_metric(Comparator::Ne, f64::NAN, 1.0));
        assert!(!compare_metric(Comparator::Eq, f64::NAN, 1.0));
        assert!(!compare_metric(Comparator::Lt, f64::NAN, 1.0));
        assert!(compare_metric(Comparator::Eq, f64::INFINITY, f64::MAX));
        assert!(compare_metric(Comparator::Lt, f64::INFINITY, f64::INFINITY));
        assert!(compare_metric(
            Comparator::Gt,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY
        ));
    }

    #[test]
    fn time_comparisons_keep_integers_exact() {
        assert!(compare_time(Comparator::Gt, 3000, Number::Float(2000.5)));
        assert!(!compare_time(Comparator::Gt, 2000, Number::Float(2000.5)));
        assert!(compare_time(
            Comparator::Eq,
            i64::MAX,
            Number::Int(i64::MAX)
        ));
        assert!(!compare_time(
            Comparator::Eq,
            i64::MAX,
            Number::Int(i64::MAX - 1)
        ));
    }

    #[test]
    fn nan_and_missing_sort_last_both_ways() {
        for asc in [true, false] {
            let real = SortValue::Real(-1.0);
            assert_eq!(
                compare_sort_values(real, SortValue::NaN, asc),
                Ordering::Less
            );
            assert_eq!(
                compare_sort_values(SortValue::NaN, SortValue::Missing, asc),
                Ordering::Less
            );
        }
        let zeros = compare_sort_values(SortValue::Real(-0.0), SortValue::Real(0.0), true);
        assert_eq!(zeros, Ordering::Equal);
        let (a, b) = (SortValue::Text("B"), SortValue::Text("a"));
        assert_eq!(compare_sort_values(a, b, true), Ordering::Less);
    }

    #[test]
    fn pages_and_next_offsets() {
        let rows = [1, 2, 3, 4];
        assert_eq!(paginate(&rows, 0, 2), (&rows[..2], Some(2)));
        assert_eq!(paginate(&rows, 2, 2), (&rows[2..], None));
        assert_eq!(paginate(&rows, 10, 2), (&rows[4..], None));
    }

    #[test]
    fn max_results_limits() {
        assert_eq!(validate_max_results(None).unwrap(), 1000);
        assert!(
            validate_max_results(Some(0))
                .unwrap_err()
                .to_string()
                .contains("positive")
        );
        assert!(
            validate_max_results(Some(50001))
                .unwrap_err()
                .to_string()
                .contains("50000")
        );
    }
}
