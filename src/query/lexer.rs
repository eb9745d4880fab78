//! A tokenizer for filter and order_by strings that splits text the way
//! MLflow's SQL tokenizer (sqlparse 0.6) does.
//!
//! MLflow accepts or rejects a filter by looking at sqlparse's tokens, so the
//! exact token boundaries decide which filters parse and which error is
//! raised. The rules below follow sqlparse's regular expressions in their
//! order, including the quirks that matter (`12a` splits into `1` and `2a`,
//! `in`/`from`/`as`/... are always keywords, a word before `.` is a name).

/// What a token is, in sqlparse's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Spaces, tabs, newlines.
    Whitespace,
    /// `-- ...`, `# ...` or `/* ... */`.
    Comment,
    /// A bare word that is not a keyword, or a placeholder.
    Name,
    /// A word in backticks (or square brackets): a name with any characters.
    QuotedName,
    /// A SQL keyword; `NOT NULL` is one keyword.
    Keyword,
    /// `ASC`, `DESC` (optionally with `NULLS FIRST/LAST`).
    OrderKeyword,
    Integer,
    Float,
    Hexadecimal,
    /// `'...'`.
    SingleString,
    /// `"..."`.
    DoubleString,
    /// One of `; : ( ) [ ] , .`.
    Punct,
    /// `=`, `!=`, `<=`, `LIKE`, `NOT LIKE`, ... (any run of `<>=~!`).
    Comparison,
    /// Arithmetic and other operators (`-`, `+`, `/`, `*`, ...).
    Operator,
    /// A character no rule accepts (an unclosed quote, for instance).
    Error,
}

/// One token: its kind and where it sits in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
    /// Byte offset of the token in the source.
    pub start: usize,
}

impl Token<'_> {
    /// The byte offset just past the token.
    pub fn end(&self) -> usize {
        self.start + self.text.len()
    }

    /// Whether this is the keyword `word` (case-insensitive, inner spaces
    /// collapsed, so `not   null` is `NOT NULL`).
    pub fn is_keyword(&self, word: &str) -> bool {
        self.kind == Kind::Keyword && normalized(self.text) == word
    }
}

/// Upper case with runs of whitespace collapsed to one space.
pub fn normalized(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// Words that sqlparse always lexes as keywords, even after a dot.
const ALWAYS_KEYWORDS: [&str; 6] = ["CASE", "IN", "VALUES", "USING", "FROM", "AS"];

/// Other words sqlparse classifies as keywords (a practical subset of its
/// list: the SQL reserved words a filter could plausibly contain).
const KEYWORDS: &[&str] = &[
    "ADD",
    "ALL",
    "ALTER",
    "AND",
    "ANY",
    "ASC",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CAST",
    "CHECK",
    "COLLATE",
    "COLUMN",
    "COMMIT",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DISTINCT",
    "DROP",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXISTS",
    "FALSE",
    "FOR",
    "FOREIGN",
    "FULL",
    "GROUP",
    "HAVING",
    "IF",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTO",
    "IS",
    "JOIN",
    "LIMIT",
    "NATURAL",
    "NOT",
    "NULL",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "PRIMARY",
    "REFERENCES",
    "RETURN",
    "ROLLBACK",
    "SELECT",
    "SET",
    "SOME",
    "TABLE",
    "THEN",
    "TRUE",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "WHEN",
    "WHERE",
    "WITH",
];

/// Splits `src` into tokens; never fails (unknown characters become
/// [`Kind::Error`] tokens, as in sqlparse).
pub fn tokenize(src: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < src.len() {
        let (kind, len) = next_token(src, pos);
        let one_char = char_len(src, pos);
        let len = if kind == Kind::Error {
            one_char
        } else {
            len.max(one_char)
        };
        tokens.push(Token {
            kind,
            text: &src[pos..pos + len],
            start: pos,
        });
        pos += len;
    }
    tokens
}

/// Byte length of the character at `pos`.
fn char_len(src: &str, pos: usize) -> usize {
    src[pos..].chars().next().map_or(1, char::len_utf8)
}

/// Python's `\w`: Unicode letters and digits plus underscore.
pub fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// sqlparse's `[A-ZÀ-Ü]` under IGNORECASE.
fn is_name_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || ('\u{C0}'..='\u{DC}').contains(&c)
        || ('\u{E0}'..='\u{FC}').contains(&c)
}

/// The look-ahead class `[_A-ZÀ-Ü]` that stops numbers running into words.
fn blocks_number(c: Option<char>) -> bool {
    c.is_some_and(|c| c == '_' || is_name_letter(c))
}

/// The token starting at byte `pos`: its kind and byte length.
fn next_token(src: &str, pos: usize) -> (Kind, usize) {
    let rest = &src[pos..];
    let prev = src[..pos].chars().next_back();
    let first = rest.chars().next().unwrap_or(' ');

    if rest.starts_with("--") || rest.starts_with("# ") {
        let len = rest.find('\n').map_or(rest.len(), |i| i + 1);
        return (Kind::Comment, len);
    }
    if let Some(body) = rest.strip_prefix("/*")
        && let Some(end) = body.find("*/")
    {
        return (Kind::Comment, end + 4);
    }
    if first.is_whitespace() {
        let len = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        return (Kind::Whitespace, len);
    }
    if rest.starts_with(":=") || rest.starts_with("::") {
        return (Kind::Operator, 2);
    }
    if first == '*' {
        return (Kind::Operator, 1);
    }
    if first == '`' {
        return quoted(rest, '`', false).map_or((Kind::Error, 1), |n| (Kind::QuotedName, n));
    }
    if let Some(len) = placeholder(rest, prev) {
        return (Kind::Name, len);
    }
    if let Some(token) = word_or_number(rest, prev) {
        return token;
    }
    if first == '\'' {
        return quoted(rest, '\'', true).map_or((Kind::Error, 1), |n| (Kind::SingleString, n));
    }
    if first == '"' {
        return quoted(rest, '"', true).map_or((Kind::Error, 1), |n| (Kind::DoubleString, n));
    }
    if first == '['
        && !prev.is_some_and(|p| is_word(p) || p == ']' || p == ')')
        && let Some(end) = rest[1..].find(['[', ']'])
        && end > 0
        && rest[1 + end..].starts_with(']')
    {
        return (Kind::QuotedName, end + 2);
    }
    if ";:()[],.".contains(first) {
        return (Kind::Punct, 1);
    }
    operator(rest)
}

/// `?`, `%s`, `$name`, `:name` (sqlparse placeholders).
fn placeholder(rest: &str, prev: Option<char>) -> Option<usize> {
    if rest.starts_with('?') {
        return Some(1);
    }
    if rest.starts_with("%s") {
        return Some(2);
    }
    let first = rest.chars().next()?;
    let after_word = prev.is_some_and(is_word);
    if "$:".contains(first) && !after_word {
        let n = word_len(&rest[1..]);
        if n > 0 {
            return Some(1 + n);
        }
    }
    None
}

/// Length of the leading run of `\w` characters.
fn word_len(s: &str) -> usize {
    s.find(|c: char| !is_word(c)).unwrap_or(s.len())
}

/// Words, keywords and numbers, tried in sqlparse's rule order.
fn word_or_number(rest: &str, prev: Option<char>) -> Option<(Kind, usize)> {
    let first = rest.chars().next()?;
    let starts_number = first.is_ascii_digit() || first == '-' || first == '.';
    if !is_word(first) && !starts_number {
        return None;
    }

    if is_name_letter(first) {
        let n = word_len(rest);
        let word = rest[..n].to_ascii_uppercase();
        if ALWAYS_KEYWORDS.contains(&word.as_str()) {
            return Some((Kind::Keyword, n));
        }
        let after = rest[n..].trim_start_matches(char::is_whitespace);
        if after.starts_with('.') || prev == Some('.') || rest[n..].starts_with('(') {
            return Some((Kind::Name, n));
        }
    }
    if starts_number && let Some(token) = number(rest) {
        return Some(token);
    }
    if !is_word(first) {
        return None;
    }
    if let Some(token) = multi_word(rest) {
        return Some(token);
    }

    let n = rest
        .find(|c: char| !(is_word(c) || c == '$' || c == '#'))
        .unwrap_or(rest.len());
    let word = rest[..n].to_ascii_uppercase();
    let kind = match word.as_str() {
        "ASC" | "DESC" => Kind::OrderKeyword,
        w if KEYWORDS.contains(&w) => Kind::Keyword,
        _ => Kind::Name,
    };
    Some((kind, n))
}

/// Keywords spanning several words: `NOT NULL`, `[NOT] LIKE`/`ILIKE`,
/// `ASC/DESC NULLS FIRST/LAST`.
fn multi_word(rest: &str) -> Option<(Kind, usize)> {
    let words = leading_words(rest, 4);
    let upper: Vec<String> = words.iter().map(|(w, _)| w.to_ascii_uppercase()).collect();
    let up: Vec<&str> = upper.iter().map(String::as_str).collect();
    let end = |i: usize| words[i].1;
    match up.as_slice() {
        ["NOT", "NULL", ..] => Some((Kind::Keyword, end(1))),
        ["NOT", "LIKE" | "ILIKE" | "RLIKE" | "REGEXP", ..] => Some((Kind::Comparison, end(1))),
        ["LIKE" | "ILIKE" | "RLIKE" | "REGEXP", ..] => Some((Kind::Comparison, end(0))),
        ["ASC" | "DESC", "NULLS", "FIRST" | "LAST", ..] => Some((Kind::OrderKeyword, end(2))),
        ["NULLS", "FIRST" | "LAST", ..] => Some((Kind::OrderKeyword, end(1))),
        _ => None,
    }
}

/// Up to `max` whitespace-separated words at the start of `rest`, each with
/// the byte offset where it ends; stops at the first non-word character.
fn leading_words(rest: &str, max: usize) -> Vec<(&str, usize)> {
    let mut words = Vec::new();
    let mut pos = 0;
    while words.len() < max {
        let n = word_len(&rest[pos..]);
        if n == 0 {
            break;
        }
        words.push((&rest[pos..pos + n], pos + n));
        let after = &rest[pos + n..];
        let gap = after.len() - after.trim_start_matches(char::is_whitespace).len();
        if gap == 0 {
            break;
        }
        pos += n + gap;
    }
    words
}

/// Hexadecimal, exponent floats, plain floats and integers, with sqlparse's
/// look-ahead (a number may not run into a letter) and its backtracking.
fn number(rest: &str) -> Option<(Kind, usize)> {
    let bytes = rest.as_bytes();
    let sign = usize::from(bytes.first() == Some(&b'-'));
    let digits = |from: usize| {
        bytes[from.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let char_at = |i: usize| rest.get(i..).and_then(|s| s.chars().next());

    let int_len = digits(sign);
    if int_len > 0 && rest[sign + int_len..].len() >= 2 {
        let tail = &rest[sign..];
        if (tail.starts_with("0x") || tail.starts_with("0X")) && int_len == 1 {
            let hex = tail[2..].bytes().take_while(u8::is_ascii_hexdigit).count();
            if hex > 0 {
                return Some((Kind::Hexadecimal, sign + 2 + hex));
            }
        }
    }
    if int_len > 0 {
        let mut end = sign + int_len;
        if bytes.get(end) == Some(&b'.') && digits(end + 1) > 0 {
            end += 1 + digits(end + 1);
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            let exp_sign = usize::from(bytes.get(end + 1) == Some(&b'-'));
            let exp = digits(end + 1 + exp_sign);
            if exp > 0 {
                return Some((Kind::Float, end + 1 + exp_sign + exp));
            }
        }
    }

    // `\d+\.\d*` or `\.\d+`, then not followed by a letter (with backtracking).
    let frac_start = sign + int_len;
    if bytes.get(frac_start) == Some(&b'.') {
        let frac = digits(frac_start + 1);
        let end = frac_start + 1 + frac;
        if int_len > 0 || frac > 0 {
            if !blocks_number(char_at(end)) {
                return Some((Kind::Float, end));
            }
            let min_frac = if int_len > 0 { 0 } else { 1 };
            if frac > min_frac {
                return Some((Kind::Float, end - 1));
            }
        }
    }
    if int_len > 0 {
        let end = sign + int_len;
        if !blocks_number(char_at(end)) {
            return Some((Kind::Integer, end));
        }
        if int_len > 1 {
            return Some((Kind::Integer, end - 1));
        }
    }
    None
}

/// The length of a quoted token starting with `quote`: doubled quotes (and,
/// for strings, backslash-quote) stay inside. When the text never closes,
/// sqlparse's regex backtracks to the last quote that can close it.
fn quoted(rest: &str, quote: char, backslash: bool) -> Option<usize> {
    let mut chars = rest.char_indices().skip(1).peekable();
    let mut last_close = None;
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, c)| c);
        if c == quote && next == Some(quote) {
            last_close = Some(i + 1);
            chars.next();
        } else if backslash && c == '\\' && next == Some(quote) {
            if let Some((j, _)) = chars.next() {
                last_close = Some(j + 1);
            }
        } else if c == quote {
            return Some(i + 1);
        }
    }
    last_close
}

/// Operators: sqlparse's special two-character ones, comparison runs of
/// `<>=~!`, other runs of `+/@#%^&|-`; anything else is an error character.
fn operator(rest: &str) -> (Kind, usize) {
    for special in [
        "->>", "#>>", "->", "#>", "@>", "<@", "?|", "?&", "#-", "-", "?",
    ] {
        if rest.starts_with(special) {
            return (Kind::Operator, special.len());
        }
    }
    let run = |set: &str| rest.find(|c: char| !set.contains(c)).unwrap_or(rest.len());
    let cmp = run("<>=~!");
    if cmp > 0 {
        return (Kind::Comparison, cmp);
    }
    let op = run("+/@#%^&|-");
    if op > 0 {
        return (Kind::Operator, op);
    }
    (Kind::Error, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, &str)> {
        tokenize(src)
            .into_iter()
            .filter(|t| t.kind != Kind::Whitespace)
            .map(|t| (t.kind, t.text))
            .collect()
    }

    #[test]
    fn splits_a_simple_comparison() {
        assert_eq!(
            kinds("metrics.acc>=-1"),
            vec![
                (Kind::Name, "metrics"),
                (Kind::Punct, "."),
                (Kind::Name, "acc"),
                (Kind::Comparison, ">="),
                (Kind::Integer, "-1"),
            ]
        );
    }

    #[test]
    fn numbers_follow_sqlparse() {
        assert_eq!(kinds("1e400"), vec![(Kind::Float, "1e400")]);
        assert_eq!(kinds(".5"), vec![(Kind::Float, ".5")]);
        assert_eq!(kinds("1."), vec![(Kind::Float, "1.")]);
        assert_eq!(kinds("0x10"), vec![(Kind::Hexadecimal, "0x10")]);
        assert_eq!(kinds("1acc"), vec![(Kind::Name, "1acc")]);
        assert_eq!(kinds("12a"), vec![(Kind::Integer, "1"), (Kind::Name, "2a")]);
        assert_eq!(kinds("1e"), vec![(Kind::Name, "1e")]);
    }

    #[test]
    fn strings_keep_doubled_and_escaped_quotes() {
        assert_eq!(kinds("'it''s'"), vec![(Kind::SingleString, "'it''s'")]);
        assert_eq!(kinds(r"'it\'s'"), vec![(Kind::SingleString, r"'it\'s'")]);
        assert_eq!(kinds("\"it's\""), vec![(Kind::DoubleString, "\"it's\"")]);
        assert_eq!(kinds("'LR")[0], (Kind::Error, "'"));
        assert_eq!(kinds("'a''")[0], (Kind::SingleString, "'a'"));
    }

    #[test]
    fn keywords_and_names() {
        assert_eq!(kinds("from.x")[0], (Kind::Keyword, "from"));
        assert_eq!(kinds("select.x")[0], (Kind::Name, "select"));
        assert_eq!(kinds("x.select")[2], (Kind::Name, "select"));
        assert_eq!(kinds("not  null"), vec![(Kind::Keyword, "not  null")]);
        assert_eq!(kinds("NOT LIKE"), vec![(Kind::Comparison, "NOT LIKE")]);
        assert_eq!(kinds("desc"), vec![(Kind::OrderKeyword, "desc")]);
        assert_eq!(kinds("`a b`"), vec![(Kind::QuotedName, "`a b`")]);
        assert_eq!(kinds("`a"), vec![(Kind::Error, "`"), (Kind::Name, "a")]);
    }

    #[test]
    fn comments_and_operators() {
        assert_eq!(kinds("-- x")[0].0, Kind::Comment);
        assert_eq!(kinds("/* x */")[0].0, Kind::Comment);
        assert_eq!(kinds("<>")[0], (Kind::Comparison, "<>"));
        assert_eq!(kinds("a-b")[1], (Kind::Operator, "-"));
        assert_eq!(kinds("+1")[0], (Kind::Operator, "+"));
    }
}
