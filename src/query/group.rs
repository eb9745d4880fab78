//! Groups tokens into statements, parentheses, identifiers, operations and
//! comparisons, following the grouping passes of sqlparse that decide what
//! MLflow sees as a "comparison" and what it rejects as an invalid clause.

use super::lexer::{Kind, Token, tokenize};

/// What a group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// `metrics.acc`, `` `a b` ``, `"x"`, `metrics.acc DESC`.
    Identifier,
    /// `( ... )`.
    Parenthesis,
    /// `a - b`.
    Operation,
    /// `left op right`.
    Comparison,
}

/// A token or a group of nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    Leaf(Token<'a>),
    Group {
        kind: GroupKind,
        /// The source text the group covers.
        text: &'a str,
        start: usize,
        children: Vec<Node<'a>>,
    },
}

impl<'a> Node<'a> {
    /// Byte offset of the node in the source.
    pub fn start(&self) -> usize {
        match self {
            Node::Leaf(t) => t.start,
            Node::Group { start, .. } => *start,
        }
    }

    /// The source text the node covers.
    pub fn text(&self) -> &'a str {
        match self {
            Node::Leaf(t) => t.text,
            Node::Group { text, .. } => text,
        }
    }

    /// The token kind if this is a single token.
    pub fn leaf_kind(&self) -> Option<Kind> {
        match self {
            Node::Leaf(t) => Some(t.kind),
            Node::Group { .. } => None,
        }
    }

    /// The group kind if this is a group.
    pub fn group_kind(&self) -> Option<GroupKind> {
        match self {
            Node::Leaf(_) => None,
            Node::Group { kind, .. } => Some(*kind),
        }
    }

    pub fn is_whitespace(&self) -> bool {
        self.leaf_kind() == Some(Kind::Whitespace)
    }

    pub fn is_group(&self, kind: GroupKind) -> bool {
        self.group_kind() == Some(kind)
    }

    /// Whether this is the keyword `word` (normalized, upper case).
    pub fn is_keyword(&self, word: &str) -> bool {
        matches!(self, Node::Leaf(t) if t.is_keyword(word))
    }

    /// The children that are not whitespace.
    pub fn solid_children(&self) -> Vec<&Node<'a>> {
        match self {
            Node::Leaf(_) => Vec::new(),
            Node::Group { children, .. } => {
                children.iter().filter(|c| !c.is_whitespace()).collect()
            }
        }
    }

    /// Every token under this node, in order.
    pub fn leaves(&self) -> Vec<Token<'a>> {
        match self {
            Node::Leaf(t) => vec![*t],
            Node::Group { children, .. } => children.iter().flat_map(Node::leaves).collect(),
        }
    }

    fn is_number(&self) -> bool {
        matches!(
            self.leaf_kind(),
            Some(Kind::Integer | Kind::Float | Kind::Hexadecimal)
        )
    }
}

/// Splits `src` into statements at `;` (which stays with its statement, as
/// do the spaces and line comments after it) and groups each one. A
/// statement of only whitespace is dropped, so `"   "` has no statement.
pub fn statements(src: &str) -> Vec<Vec<Node<'_>>> {
    let mut statements = Vec::new();
    let mut current = Vec::new();
    let mut after_semicolon = false;
    for token in tokenize(src) {
        let trailing = matches!(token.kind, Kind::Whitespace)
            || (token.kind == Kind::Comment && !token.text.starts_with("/*"));
        if after_semicolon && !trailing {
            statements.push(std::mem::take(&mut current));
            after_semicolon = false;
        }
        current.push(token);
        if token.kind == Kind::Punct && token.text == ";" {
            after_semicolon = true;
        }
    }
    if current.iter().any(|t| t.kind != Kind::Whitespace) {
        statements.push(current);
    }
    statements
        .into_iter()
        .map(|tokens| group(src, tokens))
        .collect()
}

/// Runs the grouping passes over one statement's tokens.
pub fn group<'a>(src: &'a str, tokens: Vec<Token<'a>>) -> Vec<Node<'a>> {
    let nodes = parentheses(src, tokens);
    let nodes = periods(src, nodes);
    let nodes: Vec<Node<'a>> = nodes.into_iter().map(|n| lone_identifier(src, n)).collect();
    let nodes = binary(
        src,
        nodes,
        GroupKind::Identifier,
        is_order_keyword,
        order_operands,
    );
    let nodes = binary(
        src,
        nodes,
        GroupKind::Operation,
        is_operator,
        operation_operand,
    );
    let nodes = binary(
        src,
        nodes,
        GroupKind::Comparison,
        is_comparison,
        comparison_operand,
    );
    aliases(src, nodes)
}

/// Builds a group over `children` (which must be non-empty and contiguous).
fn make_group<'a>(src: &'a str, kind: GroupKind, children: Vec<Node<'a>>) -> Node<'a> {
    let start = children.first().map_or(0, Node::start);
    let end = children
        .last()
        .map_or(start, |n| n.start() + n.text().len());
    Node::Group {
        kind,
        text: &src[start..end],
        start,
        children,
    }
}

/// Parentheses nested deeper than this stay plain tokens, so hostile input
/// cannot build a tree deep enough to overflow the stack when walked or
/// dropped. No valid filter nests at all, except one level for IN lists.
const MAX_NESTING: usize = 32;

/// Matches `(` with `)`; an unmatched parenthesis stays a plain token.
fn parentheses<'a>(src: &'a str, tokens: Vec<Token<'a>>) -> Vec<Node<'a>> {
    let mut stack: Vec<Vec<Node<'a>>> = vec![Vec::new()];
    for token in tokens {
        let punct = |s: &str| token.kind == Kind::Punct && token.text == s;
        if punct("(") && stack.len() <= MAX_NESTING {
            stack.push(vec![Node::Leaf(token)]);
        } else if punct(")") && stack.len() > 1 {
            let mut inner = stack.pop().unwrap_or_default();
            inner.push(Node::Leaf(token));
            let paren = make_group(src, GroupKind::Parenthesis, inner);
            push_top(&mut stack, paren);
        } else {
            push_top(&mut stack, Node::Leaf(token));
        }
    }
    while stack.len() > 1 {
        let open = stack.pop().unwrap_or_default();
        for node in open {
            push_top(&mut stack, node);
        }
    }
    stack.pop().unwrap_or_default()
}

fn push_top<'a>(stack: &mut [Vec<Node<'a>>], node: Node<'a>) {
    if let Some(top) = stack.last_mut() {
        top.push(node);
    }
}

/// Index of the last node of `out` that is not whitespace.
fn last_solid(out: &[Node<'_>]) -> Option<usize> {
    out.iter().rposition(|n| !n.is_whitespace())
}

/// Index of the first node of `nodes` at or after `from` that is not whitespace.
fn next_solid(nodes: &[Node<'_>], from: usize) -> Option<usize> {
    (from..nodes.len()).find(|&i| !nodes[i].is_whitespace())
}

/// `name . name` chains become one identifier (`tags.mlflow.runName`).
fn periods<'a>(src: &'a str, nodes: Vec<Node<'a>>) -> Vec<Node<'a>> {
    let mut out: Vec<Node<'a>> = Vec::new();
    let mut i = 0;
    while i < nodes.len() {
        let node = &nodes[i];
        let is_dot = node.leaf_kind() == Some(Kind::Punct) && node.text() == ".";
        let prev = last_solid(&out).filter(|&p| period_head(&out[p]));
        let (true, Some(p)) = (is_dot, prev) else {
            out.push(node.clone());
            i += 1;
            continue;
        };

        let mut children: Vec<Node<'a>> = flatten_identifier(out.split_off(p));
        children.push(node.clone());
        i += 1;
        if let Some(n) = next_solid(&nodes, i).filter(|&n| period_tail(&nodes[n])) {
            children.extend(nodes[i..=n].iter().cloned());
            i = n + 1;
        }
        out.push(make_group(src, GroupKind::Identifier, children));
    }
    out
}

/// An identifier being extended keeps its tokens flat.
fn flatten_identifier(nodes: Vec<Node<'_>>) -> Vec<Node<'_>> {
    nodes
        .into_iter()
        .flat_map(|n| match n {
            Node::Group {
                kind: GroupKind::Identifier,
                children,
                ..
            } => children,
            other => vec![other],
        })
        .collect()
}

fn period_head(node: &Node<'_>) -> bool {
    node.is_group(GroupKind::Identifier)
        || matches!(
            node.leaf_kind(),
            Some(Kind::Name | Kind::QuotedName | Kind::DoubleString)
        )
}

fn period_tail(node: &Node<'_>) -> bool {
    matches!(
        node.leaf_kind(),
        Some(Kind::Name | Kind::QuotedName | Kind::DoubleString | Kind::SingleString)
    ) || (node.leaf_kind() == Some(Kind::Operator) && node.text() == "*")
}

/// A lone name, quoted name or double-quoted string is an identifier.
fn lone_identifier<'a>(src: &'a str, node: Node<'a>) -> Node<'a> {
    match node.leaf_kind() {
        Some(Kind::Name | Kind::QuotedName | Kind::DoubleString) => {
            make_group(src, GroupKind::Identifier, vec![node])
        }
        _ => node,
    }
}

fn is_order_keyword(node: &Node<'_>) -> bool {
    node.leaf_kind() == Some(Kind::OrderKeyword)
}

/// `identifier ASC` joins into the identifier; nothing is needed after it.
fn order_operands(prev: &Node<'_>, _next: Option<&Node<'_>>) -> (bool, bool) {
    (
        prev.is_group(GroupKind::Identifier) || prev.is_number(),
        true,
    )
}

fn is_operator(node: &Node<'_>) -> bool {
    node.leaf_kind() == Some(Kind::Operator)
}

fn operand(node: &Node<'_>) -> bool {
    node.is_number()
        || matches!(
            node.leaf_kind(),
            Some(Kind::SingleString | Kind::DoubleString | Kind::Name)
        )
        || matches!(
            node.group_kind(),
            Some(GroupKind::Identifier | GroupKind::Parenthesis | GroupKind::Operation)
        )
}

fn operation_operand(prev: &Node<'_>, next: Option<&Node<'_>>) -> (bool, bool) {
    (operand(prev), next.is_some_and(operand))
}

fn is_comparison(node: &Node<'_>) -> bool {
    node.leaf_kind() == Some(Kind::Comparison)
}

fn comparison_operand(prev: &Node<'_>, next: Option<&Node<'_>>) -> (bool, bool) {
    let valid = |n: &Node<'_>| operand(n) || n.is_keyword("NULL");
    (valid(prev), next.is_some_and(valid))
}

/// Groups `prev op next` (whitespace between allowed) where `is_op` picks
/// the operator and `valid` judges the neighbours. When the operands are
/// only `prev` (order keywords), the group ends at the operator.
fn binary<'a>(
    src: &'a str,
    nodes: Vec<Node<'a>>,
    kind: GroupKind,
    is_op: fn(&Node<'_>) -> bool,
    valid: fn(&Node<'_>, Option<&Node<'_>>) -> (bool, bool),
) -> Vec<Node<'a>> {
    let mut out: Vec<Node<'a>> = Vec::new();
    let mut i = 0;
    while i < nodes.len() {
        let node = &nodes[i];
        let prev = last_solid(&out);
        let next = next_solid(&nodes, i + 1);
        if is_op(node)
            && let Some(p) = prev
        {
            let (prev_ok, next_ok) = valid(&out[p], next.map(|n| &nodes[n]));
            if prev_ok && next_ok {
                let unary = kind == GroupKind::Identifier;
                let last = if unary { i } else { next.unwrap_or(i) };
                let mut children = out.split_off(p);
                if unary {
                    children = flatten_identifier(children);
                }
                children.extend(nodes[i..=last].iter().cloned());
                out.push(make_group(src, kind, children));
                i = last + 1;
                continue;
            }
        }
        out.push(node.clone());
        i += 1;
    }
    out
}

/// `x y` where `y` is an identifier becomes one identifier (an SQL alias).
fn aliases<'a>(src: &'a str, nodes: Vec<Node<'a>>) -> Vec<Node<'a>> {
    let mut out: Vec<Node<'a>> = Vec::new();
    for node in nodes {
        let prev = last_solid(&out).filter(|&p| {
            let n = &out[p];
            n.is_number() || n.group_kind().is_some()
        });
        match prev {
            Some(p) if node.is_group(GroupKind::Identifier) => {
                let mut children = out.split_off(p);
                children.push(node);
                out.push(make_group(src, GroupKind::Identifier, children));
            }
            _ => out.push(node),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(src: &str) -> Vec<(Option<GroupKind>, &str)> {
        let mut statements = statements(src);
        assert_eq!(statements.len(), 1, "{src}");
        statements
            .remove(0)
            .into_iter()
            .filter(|n| !n.is_whitespace())
            .map(|n| (n.group_kind(), n.text()))
            .collect()
    }

    #[test]
    fn groups_a_comparison_with_a_dotted_identifier() {
        assert_eq!(
            shape("tags.mlflow.runName = 'a' AND x"),
            vec![
                (Some(GroupKind::Comparison), "tags.mlflow.runName = 'a'"),
                (None, "AND"),
                (Some(GroupKind::Identifier), "x"),
            ]
        );
    }

    #[test]
    fn dashed_key_becomes_an_operation() {
        let nodes = statements("params.a-b = 'x'").remove(0);
        let cmp = nodes[0].solid_children();
        assert!(cmp[0].is_group(GroupKind::Operation));
    }

    #[test]
    fn spaced_key_is_not_a_comparison() {
        let kinds: Vec<_> = shape("params.max depth = '5'")
            .into_iter()
            .map(|s| s.0)
            .collect();
        assert_eq!(
            kinds,
            vec![Some(GroupKind::Identifier), Some(GroupKind::Comparison)]
        );
    }

    #[test]
    fn statements_split_at_semicolons() {
        assert_eq!(statements("a = 1; b = 2").len(), 2);
        assert_eq!(statements("a = 1;").len(), 1);
        assert_eq!(statements("a = 1; -- c").len(), 1);
        assert!(statements("   ").is_empty());
    }

    #[test]
    fn deep_nesting_is_flattened() {
        let deep = format!("{}{}", "(".repeat(100_000), ")".repeat(100_000));
        let nodes = statements(&deep).remove(0);
        assert!(nodes.len() > 1000);
    }

    #[test]
    fn order_keyword_joins_identifier() {
        assert_eq!(
            shape("metrics.`a b`   DESC"),
            vec![(Some(GroupKind::Identifier), "metrics.`a b`   DESC")]
        );
    }
}
