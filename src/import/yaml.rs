//! A reader for the small YAML subset MLflow's `meta.yaml` files use.
//!
//! MLflow writes them with PyYAML's safe dumper in block style: one
//! `key: value` per line at the top level, keys sorted, a nested mapping only
//! for `tags:`, and `[]` / `{}` for empty collections. Scalars are plain,
//! single-quoted or double-quoted, and long ones are folded onto indented
//! continuation lines. Reading that by hand keeps a YAML crate out of the
//! build and lets every failure name its line.

use std::collections::BTreeMap;

/// One value of a `meta.yaml` mapping.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    /// `null`, `~` or nothing after the colon.
    Null,
    /// A scalar, quoted or not (a number stays text; callers parse it).
    Scalar(String),
    /// A nested mapping (`tags:` of a deleted experiment, of an input).
    Map(BTreeMap<String, Yaml>),
    /// A sequence; MLflow only writes empty legacy ones (`tags: []`).
    List(Vec<Yaml>),
}

impl Yaml {
    /// The text of a scalar; `None` for null and collections.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Yaml::Scalar(text) => Some(text),
            _ => None,
        }
    }
}

/// A parse failure: the 1-based line and what was wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub line: usize,
    pub reason: String,
}

/// A line of the document with its indentation.
struct Line<'a> {
    number: usize,
    indent: usize,
    text: &'a str,
}

/// Parses a whole document into its top-level mapping.
pub fn parse(doc: &str) -> Result<BTreeMap<String, Yaml>, YamlError> {
    let lines: Vec<Line> = doc
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .map(|(i, l)| Line {
            number: i + 1,
            indent: l.len() - l.trim_start_matches(' ').len(),
            text: l.trim_start_matches(' ').trim_end(),
        })
        .collect();
    let mut content = lines.iter().filter(|l| !l.text.is_empty());
    if content.next().is_some_and(|l| l.text == "{}") && content.next().is_none() {
        return Ok(BTreeMap::new());
    }
    let mut pos = 0;
    let map = parse_map(&lines, &mut pos, 0)?;
    skip_empty(&lines, &mut pos);
    match lines.get(pos) {
        Some(l) => Err(err(l.number, "unexpected indentation")),
        None => Ok(map),
    }
}

fn err(line: usize, reason: impl Into<String>) -> YamlError {
    YamlError {
        line,
        reason: reason.into(),
    }
}

/// Parses `key: value` lines at exactly `indent`, stopping at a shallower line.
fn parse_map(
    lines: &[Line],
    pos: &mut usize,
    indent: usize,
) -> Result<BTreeMap<String, Yaml>, YamlError> {
    let mut map = BTreeMap::new();
    skip_empty(lines, pos);
    while let Some(line) = lines.get(*pos) {
        if line.indent < indent {
            break;
        }
        if line.indent > indent {
            return Err(err(line.number, "unexpected indentation"));
        }
        let (key, rest) = split_key(line)?;
        *pos += 1;

        let value = if rest.is_empty() {
            parse_block(lines, pos, indent)?
        } else {
            let continuation = take_continuation(lines, pos, indent);
            parse_scalar(rest, &continuation, line.number)?
        };
        if map.insert(key, value).is_some() {
            return Err(err(line.number, "duplicate key"));
        }
        skip_empty(lines, pos);
    }
    Ok(map)
}

/// Splits `key: rest` (the key may itself be quoted).
fn split_key<'a>(line: &Line<'a>) -> Result<(String, &'a str), YamlError> {
    let text = line.text;
    if text.starts_with('\'') || text.starts_with('"') {
        let close = closing_quote(text).ok_or_else(|| err(line.number, "unclosed quoted key"))?;
        let key = parse_scalar(&text[..=close], &[], line.number)?;
        let rest = text[close + 1..]
            .strip_prefix(':')
            .ok_or_else(|| err(line.number, "expected ':' after key"))?;
        return Ok((key.as_str().unwrap_or_default().to_string(), rest.trim()));
    }
    let colon = text
        .find(": ")
        .or_else(|| text.ends_with(':').then(|| text.len() - 1))
        .ok_or_else(|| err(line.number, "expected 'key: value'"))?;
    Ok((text[..colon].to_string(), text[colon + 1..].trim()))
}

/// Index of the quote closing the scalar that opens `text`.
fn closing_quote(text: &str) -> Option<usize> {
    let quote = text.chars().next()?;
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match (quote, bytes[i]) {
            ('\'', b'\'') if bytes.get(i + 1) == Some(&b'\'') => i += 2,
            ('"', b'\\') => i += 2,
            (q, b) if b == q as u8 => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn skip_empty(lines: &[Line], pos: &mut usize) {
    while lines.get(*pos).is_some_and(|l| l.text.is_empty()) {
        *pos += 1;
    }
}

/// The more-indented lines (and empty lines between them) that continue a
/// folded scalar.
fn take_continuation<'a>(lines: &[Line<'a>], pos: &mut usize, indent: usize) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut end = *pos;
    while let Some(l) = lines
        .get(end)
        .filter(|l| l.indent > indent || l.text.is_empty())
    {
        end += 1;
        if !l.text.is_empty() {
            out.extend(lines[*pos..end].iter().map(|l| l.text));
            *pos = end;
        }
    }
    out
}

/// The value of a key with nothing after its colon: a nested mapping, a
/// block sequence, or null.
fn parse_block(lines: &[Line], pos: &mut usize, indent: usize) -> Result<Yaml, YamlError> {
    skip_empty(lines, pos);
    let Some(next) = lines.get(*pos) else {
        return Ok(Yaml::Null);
    };
    let is_item = next.text == "-" || next.text.starts_with("- ");
    if is_item && next.indent >= indent {
        let item_indent = next.indent;
        let mut items = Vec::new();
        while let Some(l) = lines.get(*pos).filter(|l| l.indent == item_indent) {
            let Some(rest) = l.text.strip_prefix('-') else {
                break;
            };
            *pos += 1;
            let continuation = take_continuation(lines, pos, item_indent);
            items.push(parse_scalar(rest.trim(), &continuation, l.number)?);
        }
        return Ok(Yaml::List(items));
    }
    if next.indent > indent {
        return parse_map(lines, pos, next.indent).map(Yaml::Map);
    }
    Ok(Yaml::Null)
}

/// Parses a scalar that starts with `first` and goes on over `more` lines.
fn parse_scalar(first: &str, more: &[&str], number: usize) -> Result<Yaml, YamlError> {
    match first.chars().next() {
        Some('\'') => single_quoted(&join_folded(first, more), number),
        Some('"') => double_quoted(first, more, number),
        Some('[') | Some('{') if more.is_empty() => flow_empty(first, number),
        _ => {
            let text = join_folded(first, more);
            let text = text.trim_end();
            match text {
                "" | "null" | "~" | "Null" | "NULL" => Ok(Yaml::Null),
                _ => Ok(Yaml::Scalar(text.to_string())),
            }
        }
    }
}

/// `[]` and `{}`; MLflow writes no other flow collection.
fn flow_empty(text: &str, number: usize) -> Result<Yaml, YamlError> {
    match text {
        "[]" => Ok(Yaml::List(Vec::new())),
        "{}" => Ok(Yaml::Map(BTreeMap::new())),
        _ => Err(err(number, format!("unsupported flow collection '{text}'"))),
    }
}

/// Joins folded lines: a single break becomes a space, and each empty line
/// between two parts becomes a newline.
fn join_folded(first: &str, more: &[&str]) -> String {
    let mut out = first.to_string();
    let mut breaks = 0;
    for part in more {
        if part.is_empty() {
            breaks += 1;
            continue;
        }
        match breaks {
            0 => out.push(' '),
            n => out.extend(std::iter::repeat_n('\n', n)),
        }
        breaks = 0;
        out.push_str(part);
    }
    out
}

fn single_quoted(text: &str, number: usize) -> Result<Yaml, YamlError> {
    let inner = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .ok_or_else(|| err(number, "unclosed single-quoted scalar"))?;
    if inner.replace("''", "").contains('\'') {
        return Err(err(number, "stray quote in single-quoted scalar"));
    }
    Ok(Yaml::Scalar(inner.replace("''", "'")))
}

/// Double-quoted scalars: escapes, and a trailing `\` that joins lines without a space.
fn double_quoted(first: &str, more: &[&str], number: usize) -> Result<Yaml, YamlError> {
    let mut raw = first.to_string();
    let mut breaks = 0;
    for part in more {
        if part.is_empty() {
            breaks += 1;
            continue;
        }
        if breaks == 0 && raw.ends_with('\\') && !raw.ends_with("\\\\") {
            raw.pop();
        } else if breaks == 0 {
            raw.push(' ');
        } else {
            raw.extend(std::iter::repeat_n("\\n", breaks));
        }
        breaks = 0;
        raw.push_str(part);
    }
    let inner = raw
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or_else(|| err(number, "unclosed double-quoted scalar"))?;
    let text = unescape(inner).map_err(|reason| err(number, reason))?;
    Ok(Yaml::Scalar(text))
}

fn unescape(inner: &str) -> Result<String, String> {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Err("stray quote in double-quoted scalar".into()),
            '\\' => out.push(escape(&mut chars)?),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn escape(chars: &mut std::str::Chars) -> Result<char, String> {
    let hex = |chars: &mut std::str::Chars, n: usize| -> Result<char, String> {
        let digits: String = chars.by_ref().take(n).collect();
        u32::from_str_radix(&digits, 16)
            .ok()
            .filter(|_| digits.len() == n)
            .and_then(char::from_u32)
            .ok_or_else(|| format!("bad escape digits '{digits}'"))
    };
    Ok(match chars.next() {
        Some('0') => '\0',
        Some('a') => '\x07',
        Some('b') => '\x08',
        Some('t') | Some('\t') => '\t',
        Some('n') => '\n',
        Some('v') => '\x0b',
        Some('f') => '\x0c',
        Some('r') => '\r',
        Some('e') => '\x1b',
        Some(' ') => ' ',
        Some('"') => '"',
        Some('/') => '/',
        Some('\\') => '\\',
        Some('N') => '\u{85}',
        Some('_') => '\u{a0}',
        Some('L') => '\u{2028}',
        Some('P') => '\u{2029}',
        Some('x') => hex(chars, 2)?,
        Some('u') => hex(chars, 4)?,
        Some('U') => hex(chars, 8)?,
        other => return Err(format!("unknown escape '\\{}'", other.unwrap_or(' '))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(map: &BTreeMap<String, Yaml>, key: &str) -> String {
        map[key].as_str().unwrap().to_string()
    }

    #[test]
    fn reads_an_experiment_meta_with_tags() {
        let doc = "artifact_location: file:///x/1\ncreation_time: 17\n\
                   effective_trace_archival_retention: null\nexperiment_id: '941'\n\
                   name: scratch\ntags:\n  team: la\n  temporary: 'yes'\nworkspace: default\n";
        let map = parse(doc).unwrap();
        assert_eq!(text(&map, "experiment_id"), "941");
        assert_eq!(map["effective_trace_archival_retention"], Yaml::Null);
        let Yaml::Map(tags) = &map["tags"] else {
            panic!("tags is not a map")
        };
        assert_eq!(text(tags, "temporary"), "yes");
        assert_eq!(text(&map, "workspace"), "default");
    }

    #[test]
    fn folds_long_quoted_scalars() {
        let doc = "schema: '{\"a\": 1, \"name\": \"mean concave\n  points\", \"b\":\n  true}'\n\
                   x: \"a\\\n  b\\u00e9\"\nn: ''\ntags: []\nm: 'one\n\n  two'\n";
        let map = parse(doc).unwrap();
        assert_eq!(
            text(&map, "schema"),
            "{\"a\": 1, \"name\": \"mean concave points\", \"b\": true}"
        );
        assert_eq!(text(&map, "x"), "ab\u{e9}");
        assert_eq!(text(&map, "n"), "");
        assert_eq!(map["tags"], Yaml::List(vec![]));
        assert_eq!(text(&map, "m"), "one\ntwo");
    }

    #[test]
    fn names_the_line_of_a_broken_document() {
        let e = parse("a: 1\nb: 'open\nc: 2\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("a: 1\nno colon here\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_text(doc in "(?s).{0,200}") {
            let _ = parse(&doc);
        }

        #[test]
        fn never_panics_on_yaml_like_text(doc in "([a-z_ ]{0,6}(: |:|- )['\"a-z\\ ]{0,8}\n){0,8}") {
            let _ = parse(&doc);
        }
    }
}
