//! order_by parsing (SEMANTICS 4.1): one key per string,
//! `identifier [ASC|DESC]`, duplicates rejected with INTERNAL_ERROR as
//! MLflow's SQL store does.

use super::experiment_filter::ExperimentTarget;
use super::filter::{Attribute, Entity, Target, split_identifier};
use super::group::{GroupKind, statements};
use crate::error::{Error, Result};

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    pub target: Target,
    pub ascending: bool,
}

/// One sort key of an experiment search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentOrderKey {
    pub target: ExperimentTarget,
    pub ascending: bool,
}

const ENTITIES: &str = "['metric', 'parameter', 'tag', 'attribute']";

/// Parses run-search order_by clauses, in order.
pub fn parse_order_by(clauses: &[String]) -> Result<Vec<OrderKey>> {
    let mut keys: Vec<OrderKey> = Vec::new();
    for clause in clauses {
        let (identifier, ascending) = split_direction(clause)?;
        let (entity, key) = split_identifier(clause, 0, &identifier, ENTITIES)?;
        let target = match entity {
            Entity::Metric => Target::Metric(key),
            Entity::Param => Target::Param(key),
            Entity::Tag => Target::Tag(key),
            Entity::Attribute => match Attribute::for_order(&key) {
                Some(a) => Target::Attribute(a),
                None => return Err(invalid_key(&key, &Attribute::order_keys())),
            },
            Entity::Dataset => {
                return Err(Error::invalid(format!(
                    "Invalid identifier type 'dataset' in order_by clause '{clause}': \
                     datasets cannot be ordered by"
                )));
            }
        };
        if keys.iter().any(|k| k.target == target) {
            return Err(duplicate(clauses));
        }
        keys.push(OrderKey { target, ascending });
    }
    Ok(keys)
}

/// Parses experiment-search order_by clauses (attributes only).
pub fn parse_experiment_order_by(clauses: &[String]) -> Result<Vec<ExperimentOrderKey>> {
    let valid = ["name", "experiment_id", "creation_time", "last_update_time"];
    let mut keys: Vec<ExperimentOrderKey> = Vec::new();
    for clause in clauses {
        let (identifier, ascending) = split_direction(clause)?;
        let (entity, key) = split_identifier(clause, 0, &identifier, "['attribute']")?;
        let target = match (entity, key.as_str()) {
            (Entity::Attribute, "name") => ExperimentTarget::Name,
            (Entity::Attribute, "experiment_id") => ExperimentTarget::ExperimentId,
            (Entity::Attribute, "creation_time") => ExperimentTarget::CreationTime,
            (Entity::Attribute, "last_update_time") => ExperimentTarget::LastUpdateTime,
            _ => return Err(invalid_key(&key, &valid)),
        };
        if keys.iter().any(|k| k.target == target) {
            return Err(duplicate(clauses));
        }
        keys.push(ExperimentOrderKey { target, ascending });
    }
    Ok(keys)
}

fn invalid_key(key: &str, valid: &[&str]) -> Error {
    Error::invalid(format!(
        "Invalid attribute key '{key}' specified. Valid keys are '{valid:?}'"
    ))
}

fn duplicate(clauses: &[String]) -> Error {
    Error::Internal(format!("`order_by` contains duplicate fields: {clauses:?}"))
}

/// Checks the clause is one identifier with an optional direction and
/// returns the identifier text and whether it sorts ascending. Like MLflow,
/// the text is split shell-style (backticks read as double quotes); with a
/// direction, the identifier is the first word with its quotes removed.
fn split_direction(clause: &str) -> Result<(String, bool)> {
    let unparseable = || {
        Error::invalid(format!(
            "Invalid order_by clause '{clause}'. Could not be parsed."
        ))
    };
    let mut all = statements(clause);
    if all.len() != 1 {
        return Err(unparseable());
    }
    let statement = all.remove(0);
    let [node] = statement.as_slice() else {
        return Err(unparseable());
    };
    if !node.is_group(GroupKind::Identifier) {
        return Err(unparseable());
    }

    let text = node.text();
    let words = shell_words(&text.replace('`', "\"")).ok_or_else(unparseable)?;
    match words.as_slice() {
        [_] => Ok((text.to_string(), true)),
        [_, direction] => {
            let ascending = match direction.to_ascii_lowercase().as_str() {
                "asc" => true,
                "desc" => false,
                _ => {
                    return Err(Error::invalid(format!(
                        "Invalid ordering key in order_by clause '{clause}'."
                    )));
                }
            };
            Ok((words[0].clone(), ascending))
        }
        _ => Err(unparseable()),
    }
}

/// Splits like a POSIX shell: whitespace separates words, quotes group;
/// `None` for an unclosed quote.
fn shell_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                let next = chars.next()?;
                let w = word.get_or_insert_with(String::new);
                if !matches!(next, '"' | '\\' | '$' | '`') {
                    w.push('\\');
                }
                w.push(next);
            }
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, '\\') => word.get_or_insert_with(String::new).push(chars.next()?),
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    if quote.is_some() {
        return None;
    }
    words.extend(word);
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(clauses: &[&str]) -> Result<Vec<OrderKey>> {
        parse_order_by(&clauses.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn message(clause: &str) -> String {
        keys(&[clause]).unwrap_err().to_string()
    }

    #[test]
    fn parses_keys_and_directions() {
        let k = keys(&[
            "metrics.`Mean Square Error` DESC",
            "tags.mlflow.runName",
            "status aSc",
        ])
        .unwrap();
        assert_eq!(k[0].target, Target::Metric("Mean Square Error".into()));
        assert!(!k[0].ascending);
        assert_eq!(k[1].target, Target::Tag("mlflow.runName".into()));
        assert_eq!(
            k[2],
            OrderKey {
                target: Target::Attribute(Attribute::Status),
                ascending: true
            }
        );
        assert!(!keys(&["metrics.acc \t DESC"]).unwrap()[0].ascending);
    }

    #[test]
    fn rejects_malformed_clauses() {
        assert!(message("params.lr ").starts_with("Invalid order_by clause"));
        assert!(message("").starts_with("Invalid order_by clause"));
        assert!(message("metrics.a, metrics.b").starts_with("Invalid order_by clause"));
        assert!(message("metrics.a DESC NULLS LAST").starts_with("Invalid order_by clause"));
        assert!(message("metrics.a ASCENDING").starts_with("Invalid ordering key"));
        assert!(message("attributes.`Run name`").starts_with("Invalid attribute key"));
        assert!(message("dataset.name").starts_with("Invalid identifier type 'dataset'"));
        assert!(message("timestamp").starts_with("Invalid attribute key"));
    }

    #[test]
    fn duplicates_are_internal_errors() {
        let err = keys(&["start_time", "created DESC"]).unwrap_err();
        assert_eq!(err.code(), crate::error::ErrorCode::InternalError);
    }
}
