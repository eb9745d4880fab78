//! LIKE and ILIKE exactly as SQLite evaluates them for MLflow's SQL store.
//!
//! `%` matches any run of characters (newlines included), `_` exactly one
//! character (a Unicode scalar), everything else itself; the pattern covers
//! the whole value and there is no escape character. ILIKE folds ASCII
//! letters only, as SQLite's `lower()` does, so `ä` does not match `Ä`.

/// A LIKE or ILIKE pattern prepared once for many values: a search
/// checks every distinct value of a key against the same pattern.
pub struct LikePattern<'p> {
    pattern: &'p str,
    fold_case: bool,
    /// Pieces between `%`s (lowercased for ILIKE) when there is no `_`.
    pieces: Option<Vec<String>>,
    /// Finder of the longest piece, run before the full match.
    longest: Option<memchr::memmem::Finder<'static>>,
    /// Whether the pattern is `%piece%`: then finding the piece is the
    /// whole match.
    contains_only: bool,
}

impl<'p> LikePattern<'p> {
    pub fn new(pattern: &'p str, fold_case: bool) -> LikePattern<'p> {
        let pieces = (!pattern.contains('_')).then(|| {
            pattern
                .split('%')
                .map(|p| {
                    if fold_case {
                        p.to_ascii_lowercase()
                    } else {
                        p.to_string()
                    }
                })
                .collect::<Vec<_>>()
        });
        let longest = pieces
            .as_ref()
            .and_then(|p| p.iter().max_by_key(|p| p.len()))
            .filter(|p| !p.is_empty() && !fold_case)
            .map(|p| memchr::memmem::Finder::new(p.as_bytes()).into_owned());
        let contains_only = !fold_case
            && pieces
                .as_ref()
                .is_some_and(|p| p.len() == 3 && p[0].is_empty() && p[2].is_empty());
        LikePattern {
            pattern,
            fold_case,
            pieces,
            longest,
            contains_only,
        }
    }

    /// A substring every matching value contains, byte for byte (so that
    /// many values can be searched at once); `None` when there is none
    /// worth searching for.
    pub fn required_bytes(&self) -> Option<&[u8]> {
        self.longest.as_ref().map(|f| f.needle())
    }

    /// Whether containing [`required_bytes`](Self::required_bytes) is the
    /// whole match (the pattern is `%piece%`).
    pub fn needle_decides(&self) -> bool {
        self.contains_only
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        if let Some(finder) = &self.longest {
            let found = finder.find(value.as_bytes()).is_some();
            if !found || self.contains_only {
                return found;
            }
        }
        match (&self.pieces, self.fold_case) {
            (Some(pieces), false) => pieces_match_prepared(value, pieces),
            (Some(pieces), true) => pieces_match_prepared(&value.to_ascii_lowercase(), pieces),
            (None, false) => matches(value, self.pattern, |a, b| a == b),
            (None, true) => matches(value, self.pattern, |a, b| a.eq_ignore_ascii_case(&b)),
        }
    }
}

/// [`pieces_match`] over pieces split once.
fn pieces_match_prepared(value: &str, pieces: &[String]) -> bool {
    let (first, last) = (&pieces[0], &pieces[pieces.len() - 1]);
    if pieces.len() == 1 {
        return value == first;
    }
    if value.len() < first.len() + last.len()
        || !value.starts_with(first.as_str())
        || !value.ends_with(last.as_str())
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece.as_str()) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `value` matches `pattern` (case-sensitive LIKE).
pub fn like(value: &str, pattern: &str) -> bool {
    match pieces_match(value, pattern) {
        Some(answer) => answer,
        None => matches(value, pattern, |a, b| a == b),
    }
}

/// Whether `value` matches `pattern` ignoring ASCII letter case.
pub fn ilike(value: &str, pattern: &str) -> bool {
    if !pattern.contains('_') {
        let (value, pattern) = (value.to_ascii_lowercase(), pattern.to_ascii_lowercase());
        if let Some(answer) = pieces_match(&value, &pattern) {
            return answer;
        }
    }
    matches(value, pattern, |a, b| a.eq_ignore_ascii_case(&b))
}

/// The common case without `_`: the literal pieces between `%`s must appear
/// in order, the first at the start and the last at the end. Substring
/// search, no allocation. `None` when the pattern has a `_`.
fn pieces_match(value: &str, pattern: &str) -> Option<bool> {
    if pattern.contains('_') {
        return None;
    }
    let pieces: Vec<&str> = pattern.split('%').collect();
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if pieces.len() == 1 {
        return Some(value == pattern);
    }
    if value.len() < first.len() + last.len() || !value.starts_with(first) {
        return Some(false);
    }
    if !value.ends_with(last) {
        return Some(false);
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return Some(false),
        }
    }
    Some(true)
}

/// Wildcard matching in O(len(value) * len(pattern)) at worst: on a
/// mismatch only the most recent `%` is retried one character further, which
/// is enough because an earlier `%` could only absorb what a later one can.
fn matches(value: &str, pattern: &str, same: impl Fn(char, char) -> bool) -> bool {
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut vi, mut pi) = (0, 0);
    let mut retry: Option<(usize, usize)> = None;

    while vi < v.len() {
        match p.get(pi) {
            Some('%') => {
                retry = Some((pi, vi));
                pi += 1;
            }
            Some(&c) if c == '_' || same(v[vi], c) => {
                vi += 1;
                pi += 1;
            }
            _ => match retry {
                Some((star, from)) => {
                    pi = star + 1;
                    vi = from + 1;
                    retry = Some((star, from + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_value_and_wildcards() {
        assert!(like("LinearRegression", "%Regression"));
        assert!(!like("LinearRegression", "Linear"));
        assert!(like("", "%"));
        assert!(!like("", "_"));
        assert!(like("a\nb", "a_b"));
        assert!(like("abc\n", "abc%"));
        assert!(!like("abc\n", "abc"));
        assert!(like("zeta%_x", "zeta%_x"));
        assert!(like("zetaAB_x", "zeta%_x"));
        assert!(like("é", "_"));
        assert!(like(r"a\b", r"a\b"));
        assert!(!like(r"a%b", r"a\%b"));
    }

    #[test]
    fn case_rules() {
        assert!(!like("Prod", "prod"));
        assert!(ilike("PROD", "prod"));
        assert!(!ilike("Ä", "ä"));
        assert!(ilike("Ä", "Ä"));
    }

    /// An obviously correct (exponential) reference matcher.
    fn reference(v: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('%', rest)) => (0..=v.len()).any(|i| reference(&v[i..], rest)),
            Some((&c, rest)) => {
                v.first().is_some_and(|&x| c == '_' || c == x) && reference(&v[1..], rest)
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_reference(value in "[ab%_\n]{0,8}", pattern in "[ab%_]{0,6}") {
            let v: Vec<char> = value.chars().collect();
            let p: Vec<char> = pattern.chars().collect();
            proptest::prop_assert_eq!(like(&value, &pattern), reference(&v, &p));
        }
    }

    proptest::proptest! {
        #[test]
        fn prepared_patterns_agree(value in "[aAb%_\n]{0,8}", pattern in "[aAb%_]{0,6}") {
            let case = LikePattern::new(&pattern, false);
            let fold = LikePattern::new(&pattern, true);
            proptest::prop_assert_eq!(case.matches(&value), like(&value, &pattern));
            proptest::prop_assert_eq!(fold.matches(&value), ilike(&value, &pattern));
        }
    }

    #[test]
    fn no_exponential_backtracking() {
        let value = "a".repeat(5000);
        let pattern = format!("{}b", "%a".repeat(50));
        assert!(!like(&value, &pattern));
    }
}
