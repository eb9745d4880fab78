//! The filter language of `search_experiments` (SEMANTICS section 8): the
//! same parser and checks as run filters, with experiment targets.

use super::filter::{
    Allowed, Comparator, Entity, RawComparison, Value, check_comparator, comparisons, error_at,
    expect_identifier, list_value, number_value, single_statement, split_identifier, text_value,
};
use super::group::GroupKind;
use crate::error::Result;

/// A parsed experiment filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExperimentFilter {
    pub clauses: Vec<ExperimentClause>,
}

/// One clause of an experiment filter.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentClause {
    pub target: ExperimentTarget,
    pub op: Comparator,
    pub value: Value,
}

/// What an experiment clause compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExperimentTarget {
    Name,
    ExperimentId,
    CreationTime,
    LastUpdateTime,
    Tag(String),
}

const ENTITIES: &str = "('attribute', 'tag', 'tags')";
const KEYS: &str = "['name', 'creation_time', 'last_update_time', 'experiment_id']";

/// Parses a `search_experiments` filter (SEMANTICS section 8).
pub fn parse_experiment_filter(text: Option<&str>) -> Result<ExperimentFilter> {
    let Some(src) = text.filter(|t| !t.is_empty()) else {
        return Ok(ExperimentFilter::default());
    };
    let statement = single_statement(src)?;
    let raws = comparisons(src, &statement)?;
    let mut parsed = Vec::new();
    for raw in &raws {
        parsed.push(clause(src, raw)?);
    }
    let mut clauses = Vec::new();
    for ((target, value, allowed), raw) in parsed.into_iter().zip(&raws) {
        let op = check_comparator(src, &raw.op, allowed)?;
        clauses.push(ExperimentClause { target, op, value });
    }
    Ok(ExperimentFilter { clauses })
}

fn clause(src: &str, raw: &RawComparison<'_>) -> Result<(ExperimentTarget, Value, Allowed)> {
    let left = expect_identifier(src, raw.left)?;
    let at = raw.left.start();
    if let Some((prefix, _)) = left.split_once('.')
        && !["attribute", "attributes", "tag", "tags"].contains(&prefix)
    {
        let msg = format!("Invalid entity type '{prefix}'. Valid entity types are {ENTITIES}");
        return Err(error_at(src, at, msg));
    }
    let (entity, key) = split_identifier(src, at, left, ENTITIES)?;
    let target = match (entity, key.as_str()) {
        (Entity::Tag, _) => ExperimentTarget::Tag(key.clone()),
        (Entity::Attribute, "name") => ExperimentTarget::Name,
        (Entity::Attribute, "experiment_id") => ExperimentTarget::ExperimentId,
        (Entity::Attribute, "creation_time") => ExperimentTarget::CreationTime,
        (Entity::Attribute, "last_update_time") => ExperimentTarget::LastUpdateTime,
        (Entity::Attribute, _) => {
            let msg = format!("Invalid attribute key '{key}' specified. Valid keys are '{KEYS}'");
            return Err(error_at(src, at, msg));
        }
        _ => {
            let msg = format!(
                "Invalid entity type '{}'. Valid values are {ENTITIES}",
                entity.name()
            );
            return Err(error_at(src, at, msg));
        }
    };
    let Some(right) = raw.right else {
        if entity != Entity::Tag {
            let msg = format!(
                "IS NULL / IS NOT NULL is only supported for tags, not for 'attribute' '{key}'"
            );
            return Err(error_at(src, raw.op.1, msg));
        }
        return Ok((target, Value::None, Allowed::TextWithNull));
    };
    let text_msg = "Expected a quoted string value for attributes.";
    let (value, allowed) = match &target {
        ExperimentTarget::Tag(_) => {
            let msg = "Expected a quoted string value for tag (e.g. 'my-value').";
            (
                Value::Text(text_value(src, right, msg)?),
                Allowed::TextWithNull,
            )
        }
        ExperimentTarget::Name => (
            Value::Text(text_value(src, right, text_msg)?),
            Allowed::Text,
        ),
        ExperimentTarget::ExperimentId => {
            let value = if right.is_group(GroupKind::Parenthesis) {
                Value::List(list_value(src, right)?)
            } else {
                Value::Text(text_value(src, right, text_msg)?)
            };
            (value, Allowed::TextWithList)
        }
        ExperimentTarget::CreationTime | ExperimentTarget::LastUpdateTime => {
            let what = format!("Expected numeric value type for numeric attribute: {key}.");
            (
                Value::Number(number_value(src, right, &what)?),
                Allowed::Numeric,
            )
        }
    };
    Ok((target, value, allowed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiment_filters() {
        let f = parse_experiment_filter(Some("name LIKE 'a%' AND tags.t IS NULL")).unwrap();
        assert_eq!(f.clauses[0].target, ExperimentTarget::Name);
        assert_eq!(f.clauses[1].op, Comparator::IsNull);
        assert!(parse_experiment_filter(Some("metrics.a > 1")).is_err());
    }

    #[test]
    fn experiment_entities_are_attribute_or_tag() {
        let msg = |f: &str| parse_experiment_filter(Some(f)).unwrap_err().to_string();
        assert!(msg("run.name = 'a'").starts_with("Invalid entity type 'run'"));
        assert!(msg("params.p = 'a'").starts_with("Invalid entity type 'params'"));
        assert!(msg("attributes.lifecycle_stage = 'a'").starts_with("Invalid attribute key"));
        let ok = parse_experiment_filter(Some("experiment_id IN ('1', '2') AND creation_time > 5"));
        assert_eq!(
            ok.unwrap().clauses[1].target,
            ExperimentTarget::CreationTime
        );
    }
}
