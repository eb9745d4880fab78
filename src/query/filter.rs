//! The filter language of `search_runs` (and of `search_experiments`):
//! parsing to a typed AST with MLflow's acceptance rules and messages.
//!
//! The checks run in MLflow's order, so a filter with several faults gets
//! the message MLflow gives: structure ("Invalid clause(s)", "multiple
//! expression") for the whole filter first, then per clause the identifier,
//! entity, key, IS NULL applicability and value; comparators are checked
//! last, after every clause parsed (the SQL store checks them while building
//! its query). Every message ends with the character position of the fault.

use super::group::{GroupKind, Node, statements};
use super::lexer::Kind;
use crate::error::{Error, Result};

/// A parsed run filter: every clause must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    pub clauses: Vec<Clause>,
}

/// One `target op value` comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub target: Target,
    pub op: Comparator,
    pub value: Value,
}

/// What a clause compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Metric(String),
    Param(String),
    Tag(String),
    Attribute(Attribute),
    Dataset(DatasetField),
}

/// Searchable run attributes, aliases resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attribute {
    RunId,
    RunName,
    Status,
    UserId,
    ArtifactUri,
    StartTime,
    EndTime,
}

impl Attribute {
    /// Keys accepted in filters (case-sensitive), with their meaning.
    const SEARCH_KEYS: [(&'static str, Attribute); 12] = [
        ("run_id", Attribute::RunId),
        ("run_name", Attribute::RunName),
        ("status", Attribute::Status),
        ("user_id", Attribute::UserId),
        ("artifact_uri", Attribute::ArtifactUri),
        ("start_time", Attribute::StartTime),
        ("end_time", Attribute::EndTime),
        ("created", Attribute::StartTime),
        ("Created", Attribute::StartTime),
        ("run name", Attribute::RunName),
        ("Run name", Attribute::RunName),
        ("Run Name", Attribute::RunName),
    ];

    /// Resolves a filter key (aliases included).
    pub fn for_search(key: &str) -> Option<Attribute> {
        Self::SEARCH_KEYS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, a)| *a)
    }

    /// Resolves an order_by key: the spaced run-name aliases are not accepted.
    pub fn for_order(key: &str) -> Option<Attribute> {
        Self::SEARCH_KEYS[..9]
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, a)| *a)
    }

    /// The valid filter keys, as listed in MLflow's message.
    pub fn search_keys() -> Vec<&'static str> {
        Self::SEARCH_KEYS.iter().map(|(k, _)| *k).collect()
    }

    /// The valid order_by keys, as listed in MLflow's message.
    pub fn order_keys() -> Vec<&'static str> {
        Self::SEARCH_KEYS[..9].iter().map(|(k, _)| *k).collect()
    }

    /// start_time and end_time compare as numbers; the rest as strings.
    pub fn is_numeric(self) -> bool {
        matches!(self, Attribute::StartTime | Attribute::EndTime)
    }
}

/// Dataset fields a filter can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatasetField {
    Name,
    Digest,
    Context,
}

/// The comparison of a clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Comparator {
    /// Maps MLflow's upper-cased comparator text.
    fn parse(text: &str) -> Option<Comparator> {
        Some(match text {
            "=" => Comparator::Eq,
            "!=" => Comparator::Ne,
            "<" => Comparator::Lt,
            "<=" => Comparator::Le,
            ">" => Comparator::Gt,
            ">=" => Comparator::Ge,
            "LIKE" => Comparator::Like,
            "ILIKE" => Comparator::ILike,
            "IN" => Comparator::In,
            "NOT IN" => Comparator::NotIn,
            "IS NULL" => Comparator::IsNull,
            "IS NOT NULL" => Comparator::IsNotNull,
            _ => return None,
        })
    }
}

/// A clause's literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// For IS NULL / IS NOT NULL.
    None,
    Number(Number),
    Text(String),
    List(Vec<String>),
}

/// A numeric literal: integer tokens stay integers (for time attributes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    /// Decimal or exponent literals; overflow gives ±inf.
    Float(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// The entity part of an identifier, aliases resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

impl Entity {
    /// MLflow's canonical name, used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Entity::Metric => "metric",
            Entity::Param => "parameter",
            Entity::Tag => "tag",
            Entity::Attribute => "attribute",
            Entity::Dataset => "dataset",
        }
    }

    /// Resolves an entity prefix (case-sensitive; backticks allowed).
    fn parse(text: &str) -> Option<Entity> {
        Some(match trim_backticks(text) {
            "metric" | "metrics" => Entity::Metric,
            "param" | "params" | "parameter" | "parameters" => Entity::Param,
            "tag" | "tags" => Entity::Tag,
            "attribute" | "attributes" | "attr" | "run" => Entity::Attribute,
            "dataset" | "datasets" => Entity::Dataset,
            _ => return None,
        })
    }
}

/// Builds MLflow's INVALID_PARAMETER_VALUE error with the character
/// position of the byte offset `at` in `src` appended.
pub(crate) fn error_at(src: &str, at: usize, msg: impl Into<String>) -> Error {
    let pos = src.get(..at).map_or(at, |s| s.chars().count());
    Error::invalid(format!("{} (at position {pos})", msg.into()))
}

/// Removes one pair of enclosing backticks.
fn trim_backticks(text: &str) -> &str {
    match text.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
        Some(inner) => inner,
        None => text,
    }
}

/// Removes one pair of enclosing single or double quotes, if present.
fn strip_quotes(text: &str) -> Option<&str> {
    for q in ['\'', '"'] {
        if text.len() >= 2 && text.starts_with(q) && text.ends_with(q) {
            return Some(&text[1..text.len() - 1]);
        }
    }
    None
}

/// Splits an identifier at its first dot into entity and unquoted key; no
/// dot means an attribute. Checks the entity, not the key.
pub(crate) fn split_identifier(
    src: &str,
    at: usize,
    text: &str,
    valid_entities: &str,
) -> Result<(Entity, String)> {
    let (entity, key) = match text.split_once('.') {
        Some((entity, key)) => {
            let resolved = Entity::parse(entity).ok_or_else(|| {
                let e = trim_backticks(entity);
                error_at(
                    src,
                    at,
                    format!("Invalid entity type '{e}'. Valid values are {valid_entities}"),
                )
            })?;
            (resolved, key)
        }
        None => (Entity::Attribute, text),
    };
    let key = strip_quotes(key).unwrap_or(key);
    Ok((entity, trim_backticks(key).to_string()))
}

const RUN_ENTITIES: &str = "['metric', 'parameter', 'tag', 'attribute', 'dataset']";

/// A comparison as the structure pass found it.
pub(crate) struct RawComparison<'a> {
    pub left: &'a Node<'a>,
    /// The comparator, upper-cased, and where it starts.
    pub op: (String, usize),
    /// `None` for IS NULL / IS NOT NULL.
    pub right: Option<&'a Node<'a>>,
}

/// Top-level items after IN / NOT IN / IS [NOT] NULL were joined.
enum Item<'a> {
    Comparison(RawComparison<'a>),
    Other(&'a Node<'a>),
}

/// Parses a run filter; `None` or `""` is the empty filter.
pub fn parse_filter(text: Option<&str>) -> Result<Filter> {
    let Some(src) = text.filter(|t| !t.is_empty()) else {
        return Ok(Filter::default());
    };
    let statement = single_statement(src)?;
    let raws = comparisons(src, &statement)?;

    let mut parsed = Vec::new();
    for raw in &raws {
        parsed.push(run_clause(src, raw)?);
    }
    let mut clauses = Vec::new();
    for ((target, value, valid), raw) in parsed.into_iter().zip(&raws) {
        let op = check_comparator(src, &raw.op, valid)?;
        if matches!(value, Value::List(_)) != matches!(op, Comparator::In | Comparator::NotIn) {
            return Err(error_at(
                src,
                raw.op.1,
                format!("Invalid comparator '{}'", raw.op.0),
            ));
        }
        clauses.push(Clause { target, op, value });
    }
    Ok(Filter { clauses })
}

/// The one statement of a non-empty filter.
pub(crate) fn single_statement(src: &str) -> Result<Vec<Node<'_>>> {
    let mut all = statements(src);
    match all.len() {
        0 => Err(error_at(
            src,
            0,
            format!("Invalid filter '{src}'. Could not be parsed."),
        )),
        1 => Ok(all.remove(0)),
        _ => {
            let at = all[1].first().map_or(0, Node::start);
            Err(error_at(
                src,
                at,
                format!(
                    "Search filter contained multiple expression '{src}'. \
                     Provide AND-ed expression list."
                ),
            ))
        }
    }
}

/// Joins IN / NOT IN / IS [NOT] NULL, rejects anything at the top level but
/// comparisons, whitespace and AND, and returns the comparisons in order.
pub(crate) fn comparisons<'a>(
    src: &str,
    statement: &'a [Node<'a>],
) -> Result<Vec<RawComparison<'a>>> {
    let items = join_comparisons(statement);
    let invalid: Vec<&Node<'_>> = items
        .iter()
        .filter_map(|item| match item {
            Item::Other(node) if !node.is_keyword("AND") => Some(*node),
            _ => None,
        })
        .collect();
    if let Some(first) = invalid.first() {
        let list: Vec<String> = invalid.iter().map(|n| format!("'{}'", n.text())).collect();
        let msg = format!("Invalid clause(s) in filter string: {}", list.join(", "));
        return Err(error_at(src, first.start(), msg));
    }
    Ok(items
        .into_iter()
        .filter_map(|item| match item {
            Item::Comparison(c) => Some(c),
            Item::Other(_) => None,
        })
        .collect())
}

/// Recognises the comparisons among the non-whitespace top-level nodes.
fn join_comparisons<'a>(statement: &'a [Node<'a>]) -> Vec<Item<'a>> {
    let solid: Vec<&Node<'_>> = statement.iter().filter(|n| !n.is_whitespace()).collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < solid.len() {
        let (item, used) = join_at(&solid[i..]);
        items.push(item);
        i += used;
    }
    items
}

/// The item starting at `nodes[0]` and how many nodes it used.
fn join_at<'a>(nodes: &[&'a Node<'a>]) -> (Item<'a>, usize) {
    let first = nodes[0];
    if first.is_group(GroupKind::Comparison) {
        let parts = first.solid_children();
        if let [left, op, right] = parts.as_slice() {
            let op = (op.text().to_uppercase(), op.start());
            let raw = RawComparison {
                left,
                op,
                right: Some(right),
            };
            return (Item::Comparison(raw), 1);
        }
    }
    if !first.is_group(GroupKind::Identifier) {
        return (Item::Other(first), 1);
    }
    let at = |i: usize| nodes.get(i).copied();
    let is_paren = |n: Option<&Node<'_>>| n.is_some_and(|n| n.is_group(GroupKind::Parenthesis));
    let kw = |i: usize, w: &str| at(i).is_some_and(|n| n.is_keyword(w));
    let start = |i: usize| at(i).map_or(0, Node::start);

    let joined = if kw(1, "IN") && is_paren(at(2)) {
        Some(("IN", 3, at(2)))
    } else if kw(1, "NOT") && kw(2, "IN") && is_paren(at(3)) {
        Some(("NOT IN", 4, at(3)))
    } else if kw(1, "IS") && kw(2, "NULL") {
        Some(("IS NULL", 3, None))
    } else if kw(1, "IS") && kw(2, "NOT NULL") {
        Some(("IS NOT NULL", 3, None))
    } else {
        None
    };
    match joined {
        Some((op, used, right)) => {
            let op = (op.to_string(), start(1));
            (
                Item::Comparison(RawComparison {
                    left: first,
                    op,
                    right,
                }),
                used,
            )
        }
        None => (Item::Other(first), 1),
    }
}

/// The allowed comparators of a clause, by MLflow's sets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Allowed {
    Numeric,
    Text,
    TextWithNull,
    TextWithList,
}

impl Allowed {
    fn names(self) -> &'static [&'static str] {
        match self {
            Allowed::Numeric => &["=", "!=", "<", "<=", ">", ">="],
            Allowed::Text => &["=", "!=", "LIKE", "ILIKE"],
            Allowed::TextWithNull => &["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"],
            Allowed::TextWithList => &["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"],
        }
    }
}

pub(crate) fn check_comparator(
    src: &str,
    op: &(String, usize),
    allowed: Allowed,
) -> Result<Comparator> {
    let names = allowed.names();
    match Comparator::parse(&op.0) {
        Some(c) if names.contains(&op.0.as_str()) => Ok(c),
        _ => Err(error_at(
            src,
            op.1,
            format!("Invalid comparator '{}' not one of '{names:?}'", op.0),
        )),
    }
}

/// Identifier, entity, key, IS NULL and value checks of one run clause.
fn run_clause(src: &str, raw: &RawComparison<'_>) -> Result<(Target, Value, Allowed)> {
    let left = expect_identifier(src, raw.left)?;
    let at = raw.left.start();
    let (entity, key) = split_identifier(src, at, left, RUN_ENTITIES)?;
    let target = run_target(src, at, entity, key.clone())?;
    let is_null = raw.right.is_none();
    if is_null && !matches!(entity, Entity::Param | Entity::Tag) {
        let msg = format!(
            "IS NULL / IS NOT NULL is only supported for tags and params, not for '{}' '{key}'",
            entity.name()
        );
        return Err(error_at(src, raw.op.1, msg));
    }
    let Some(right) = raw.right else {
        return Ok((target, Value::None, Allowed::TextWithNull));
    };

    let (value, allowed) = match &target {
        Target::Metric(_) => {
            let what = "Expected numeric value type for metric.".to_string();
            (
                Value::Number(number_value(src, right, &what)?),
                Allowed::Numeric,
            )
        }
        Target::Param(_) | Target::Tag(_) => {
            let what = if entity == Entity::Param {
                "parameter"
            } else {
                "tag"
            };
            let msg = format!("Expected a quoted string value for {what} (e.g. 'my-value').");
            (
                Value::Text(text_value(src, right, &msg)?),
                Allowed::TextWithNull,
            )
        }
        Target::Attribute(a) if a.is_numeric() => {
            let what = format!("Expected numeric value type for numeric attribute: {key}.");
            (
                Value::Number(number_value(src, right, &what)?),
                Allowed::Numeric,
            )
        }
        Target::Attribute(a) => {
            let value = if right.is_group(GroupKind::Parenthesis) {
                if *a != Attribute::RunId {
                    return Err(error_at(
                        src,
                        right.start(),
                        "Only ['run_id'] attributes support comparison with a list of quoted \
                         string values.",
                    ));
                }
                Value::List(lowercase_only(list_value(src, right)?))
            } else {
                let msg = "Expected a quoted string value for attributes.";
                Value::Text(text_value(src, right, msg)?)
            };
            (value, Allowed::TextWithList)
        }
        Target::Dataset(_) => {
            let value = if right.is_group(GroupKind::Parenthesis) {
                Value::List(lowercase_only(list_value(src, right)?))
            } else {
                let msg = "Expected a quoted string value for dataset attributes.";
                Value::Text(text_value(src, right, msg)?)
            };
            (value, Allowed::TextWithList)
        }
    };
    Ok((target, value, allowed))
}

/// The left side must be an identifier.
pub(crate) fn expect_identifier<'a>(src: &str, node: &Node<'a>) -> Result<&'a str> {
    if node.is_group(GroupKind::Identifier) {
        return Ok(node.text());
    }
    Err(error_at(
        src,
        node.start(),
        format!(
            "Invalid comparison clause. Expected 'Identifier' found '{}'",
            node.text()
        ),
    ))
}

/// Maps entity and key to a run target, checking attribute and dataset keys.
fn run_target(src: &str, at: usize, entity: Entity, key: String) -> Result<Target> {
    Ok(match entity {
        Entity::Metric => Target::Metric(key),
        Entity::Param => Target::Param(key),
        Entity::Tag => Target::Tag(key),
        Entity::Attribute => match Attribute::for_search(&key) {
            Some(a) => Target::Attribute(a),
            None => {
                let msg = format!(
                    "Invalid attribute key '{key}' specified. Valid keys are '{:?}'",
                    Attribute::search_keys()
                );
                return Err(error_at(src, at, msg));
            }
        },
        Entity::Dataset => Target::Dataset(match key.as_str() {
            "name" => DatasetField::Name,
            "digest" => DatasetField::Digest,
            "context" => DatasetField::Context,
            _ => {
                let msg = format!(
                    "Invalid dataset key '{key}' specified. Valid keys are \
                     '['name', 'digest', 'context']'"
                );
                return Err(error_at(src, at, msg));
            }
        }),
    })
}

/// An integer or decimal token; anything else is an error starting `what`.
pub(crate) fn number_value(src: &str, node: &Node<'_>, what: &str) -> Result<Number> {
    let text = node.text();
    let bad = || error_at(src, node.start(), format!("{what} Found {text}"));
    match node.leaf_kind() {
        Some(Kind::Integer) => Ok(match text.parse::<i64>() {
            Ok(i) => Number::Int(i),
            Err(_) => Number::Float(text.parse::<f64>().map_err(|_| bad())?),
        }),
        Some(Kind::Float) => Ok(Number::Float(text.parse::<f64>().map_err(|_| bad())?)),
        _ => Err(bad()),
    }
}

/// A single-quoted string or an identifier that is a double-quoted string;
/// the outer quotes are removed and nothing else is unescaped.
pub(crate) fn text_value(src: &str, node: &Node<'_>, what: &str) -> Result<String> {
    let text = node.text();
    let string_like =
        node.leaf_kind() == Some(Kind::SingleString) || node.is_group(GroupKind::Identifier);
    if !string_like {
        return Err(error_at(
            src,
            node.start(),
            format!("{what} Got value {text}"),
        ));
    }
    match strip_quotes(text) {
        Some(inner) => Ok(inner.to_string()),
        None => Err(error_at(
            src,
            node.start(),
            format!(
                "Parameter value is either not quoted or unidentified quote types used for \
                 string value {text}. Use either single or double quotes."
            ),
        )),
    }
}

const LIST_PREFIX: &str = "While parsing a list in the query, expected";

/// A parenthesised list of strings, read like a Python tuple literal
/// (trailing comma allowed, adjacent literals concatenated).
pub(crate) fn list_value(src: &str, paren: &Node<'_>) -> Result<Vec<String>> {
    let leaves = paren.leaves();
    let inner = &leaves[1..leaves.len().saturating_sub(1)];
    let allowed = |k: Kind| {
        matches!(
            k,
            Kind::SingleString | Kind::DoubleString | Kind::Punct | Kind::Whitespace
        )
    };
    if let Some(bad) = inner.iter().find(|t| !allowed(t.kind)) {
        let msg = format!(
            "{LIST_PREFIX} string value, punctuation, or whitespace, but got different type in list"
        );
        return Err(error_at(src, bad.start, msg));
    }
    if !inner
        .iter()
        .any(|t| matches!(t.kind, Kind::SingleString | Kind::DoubleString))
    {
        let msg = format!("{LIST_PREFIX} a non-empty list of string values, but got empty list");
        return Err(error_at(src, paren.start(), msg));
    }
    let text = paren.text();
    python_strings(&text[1..text.len() - 1]).ok_or_else(|| {
        let msg =
            format!("{LIST_PREFIX} a non-empty list of string values, but got ill-formed list");
        error_at(src, paren.start(), msg)
    })
}

/// MLflow drops list items that are not lower case (Python's
/// `str.islower()`: some cased letter and no upper-case one), because run
/// ids are lower-case hex and MySQL's IN ignores case. It applies this to
/// run_id and dataset lists alike, so `dataset.name IN ('Train')` finds
/// nothing and `NOT IN ('R1')` excludes nothing.
fn lowercase_only(items: Vec<String>) -> Vec<String> {
    let is_lower =
        |s: &str| s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase);
    items.into_iter().filter(|s| is_lower(s)).collect()
}

/// Evaluates `'a', "b" 'c',` as Python would: `["a", "bc"]`.
fn python_strings(text: &str) -> Option<Vec<String>> {
    let mut items = Vec::new();
    let mut chars = text.chars().peekable();
    let mut current: Option<String> = None;
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            ',' => items.push(current.take()?),
            '\'' | '"' => {
                let s = python_literal(&mut chars, c)?;
                current.get_or_insert_with(String::new).push_str(&s);
            }
            _ => return None,
        }
    }
    if let Some(last) = current {
        items.push(last);
    }
    (!items.is_empty()).then_some(items)
}

/// The rest of a Python string literal opened by `quote`, escapes applied.
fn python_literal(chars: &mut impl Iterator<Item = char>, quote: char) -> Option<String> {
    let mut out = String::new();
    loop {
        match chars.next()? {
            c if c == quote => return Some(out),
            '\n' => return None,
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                '\n' => {}
                c @ ('\\' | '\'' | '"') => out.push(c),
                c => {
                    out.push('\\');
                    out.push(c);
                }
            },
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(filter: &str) -> Clause {
        let mut f = parse_filter(Some(filter)).unwrap();
        assert_eq!(f.clauses.len(), 1, "{filter}");
        f.clauses.remove(0)
    }

    fn message(filter: &str) -> String {
        parse_filter(Some(filter)).unwrap_err().to_string()
    }

    #[test]
    fn parses_each_entity() {
        assert_eq!(
            one("metrics.acc > 0.5").target,
            Target::Metric("acc".into())
        );
        assert_eq!(
            one("params.`max depth` = '5'").value,
            Value::Text("5".into())
        );
        assert_eq!(
            one("tags.mlflow.runName = 'a'").target,
            Target::Tag("mlflow.runName".into())
        );
        assert_eq!(
            one("attributes.`Run name` = 'a'").target,
            Target::Attribute(Attribute::RunName)
        );
        assert_eq!(
            one("dataset.context = 'x'").target,
            Target::Dataset(DatasetField::Context)
        );
        assert_eq!(one("params.lr IS NOT NULL").op, Comparator::IsNotNull);
    }

    #[test]
    fn numbers_keep_integer_or_float() {
        assert_eq!(
            one("start_time > 2000").value,
            Value::Number(Number::Int(2000))
        );
        assert_eq!(
            one("start_time > 2000.5").value,
            Value::Number(Number::Float(2000.5))
        );
        assert_eq!(
            one("metrics.x < 1e400").value,
            Value::Number(Number::Float(f64::INFINITY))
        );
        assert_eq!(
            one("metrics.x > -1e400").value,
            Value::Number(Number::Float(f64::NEG_INFINITY))
        );
    }

    #[test]
    fn lists_read_like_python_tuples() {
        let list = |f: &str| one(f).value;
        let v = |xs: &[&str]| Value::List(xs.iter().map(|s| s.to_string()).collect());
        assert_eq!(list("run_id IN ('r1',)"), v(&["r1"]));
        assert_eq!(list("run_id IN ('r' '1', \"r2\")"), v(&["r1", "r2"]));
        assert!(message("run_id IN ()").contains("got empty list"));
        assert!(message("run_id IN (1, 2)").contains("different type in list"));
        assert_eq!(list("run_id IN ('R1', 'r2', '123')"), v(&["r2"]));
        assert_eq!(list("dataset.name NOT IN ('Train')"), v(&[]));
    }

    #[test]
    fn strings_are_not_unescaped() {
        assert_eq!(one("params.q = 'it''s'").value, Value::Text("it''s".into()));
        assert_eq!(
            one(r"params.q = 'it\'s'").value,
            Value::Text(r"it\'s".into())
        );
    }

    #[test]
    fn errors_carry_the_position() {
        let msg = message("params.lr = 'x' AND foo = 'y'");
        assert!(msg.starts_with("Invalid attribute key 'foo'"), "{msg}");
        assert!(msg.ends_with("(at position 20)"), "{msg}");
        assert!(message("metrics.acc LIKE 1").starts_with("Invalid comparator 'LIKE'"));
        assert!(message("metrics.acc LIKE '1'").starts_with("Expected numeric value type"));
    }

    #[test]
    fn acceptance_rules_of_the_spec() {
        let accepted = [
            "metrics.acc>=-1",
            "params.a='x'AND params.b='y'",
            "metrics.1acc > 0",
            "params.select = 'x'",
            "params.`from` = 'x'",
            "metrics.acc > 0.8 AND AND",
            "AND metrics.acc > 1.",
            "metrics.acc > -.5",
            "params.\"a-b\" = 'x'",
            "tags.t = \"it's\"",
            "run_id IN ('r' '1')",
            "dataset.context NOT IN ('a', \"b\",)",
        ];
        for f in accepted {
            assert!(
                parse_filter(Some(f)).is_ok(),
                "{f}: {:?}",
                parse_filter(Some(f))
            );
        }
        let rejected = [
            ("metrics.acc > 1e", "Expected numeric value type for metric"),
            (
                "metrics.acc > inf",
                "Expected numeric value type for metric",
            ),
            (
                "metrics.acc > 0x10",
                "Expected numeric value type for metric",
            ),
            ("metrics.acc = +1", "Invalid clause(s)"),
            (
                "params.a = NULL",
                "Expected a quoted string value for parameter",
            ),
            ("params.from = 'x'", "Invalid clause(s)"),
            ("tags.env = 'prod' -- c", "Invalid clause(s)"),
            ("params.lr NOT LIKE 'x'", "Invalid comparator 'NOT LIKE'"),
            ("attributes.run_id IN 'r1'", "Invalid clause(s)"),
            (
                "dataset.name IS NULL",
                "IS NULL / IS NOT NULL is only supported",
            ),
            (
                "metrics.acc IS NOT NULL",
                "IS NULL / IS NOT NULL is only supported",
            ),
            ("`metrics.acc` > 1", "Invalid entity type"),
            ("METRICS.acc > 1", "Invalid entity type"),
            ("attribute.status = true", "Invalid clause(s)"),
            ("params.x == 'a'", "Invalid comparator '=='"),
            ("a = 1; ", "Invalid clause(s)"),
            ("\t\n", "Invalid filter"),
        ];
        for (f, needle) in rejected {
            let msg = message(f);
            assert!(msg.starts_with(needle), "{f}: {msg}");
            assert!(msg.contains("(at position "), "{f}: {msg}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "[a-z.`'\"()=<>!%_ ,;0-9eE+-]{0,40}") {
            crate::query::fuzz_filter(text.as_bytes());
        }
    }
}
