//! The keyed maps a shown run carries: its params and tags (text to text)
//! and its latest metrics (text to point).
//!
//! Search pages are built a thousand runs at a time, and a run has dozens
//! of params and tags. A `BTreeMap<String, String>` costs one allocation
//! per key, one per value and more for its nodes: about seventy for a
//! typical run, which made allocating most of the cost of a page. These
//! maps keep every string of the map in one buffer and the entries, sorted
//! by key, in one vector: two allocations a map, however many entries.
//!
//! They are maps to read. Inserting keeps the entries sorted (appending
//! when keys come in order, which is how runs are built) and a replaced or
//! removed string leaves its old bytes in the buffer until the map is
//! dropped; a shown run is rarely changed, so that is the right trade.

use std::collections::BTreeMap;
use std::fmt;

use super::MetricPoint;

/// Where a string lies in a map's buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

/// The string at `span` of `text`. Spans come only from `push_text`, so
/// they always lie on character boundaries; the empty fallback is never
/// taken but keeps reading free of panics.
fn text_at(text: &str, span: Span) -> &str {
    text.get(span.start..span.end).unwrap_or_default()
}

/// Keys in one buffer, entries sorted by key: the part both maps share.
/// `V` is what an entry holds beside its key.
#[derive(Clone)]
struct Sorted<V> {
    text: String,
    entries: Vec<(Span, V)>,
}

impl<V> Default for Sorted<V> {
    fn default() -> Self {
        Sorted {
            text: String::new(),
            entries: Vec::new(),
        }
    }
}

impl<V> Sorted<V> {
    fn with_capacity(entries: usize, text: usize) -> Self {
        Sorted {
            text: String::with_capacity(text),
            entries: Vec::with_capacity(entries),
        }
    }

    /// Copies `s` into the buffer.
    fn push_text(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        Span {
            start,
            end: self.text.len(),
        }
    }

    fn text_at(&self, span: Span) -> &str {
        text_at(&self.text, span)
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(span, _)| self.text_at(*span).cmp(key))
    }

    fn get(&self, key: &str) -> Option<&V> {
        let i = self.position(key).ok()?;
        self.entries.get(i).map(|(_, v)| v)
    }

    /// Sets `key` to `value`, returning the value it replaces.
    fn insert(&mut self, key: &str, value: V) -> Option<V> {
        let after_last = self
            .entries
            .last()
            .is_none_or(|(last, _)| self.text_at(*last) < key);
        let position = if after_last {
            Err(self.entries.len())
        } else {
            self.position(key)
        };
        match position {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                let span = self.push_text(key);
                self.entries.insert(i, (span, value));
                None
            }
        }
    }

    fn remove(&mut self, key: &str) -> Option<V> {
        let i = self.position(key).ok()?;
        Some(self.entries.remove(i).1)
    }

    fn iter(&self) -> MapIter<'_, V> {
        MapIter {
            text: &self.text,
            entries: self.entries.iter(),
        }
    }
}

/// Entries of a map in key order, each key with what it holds.
pub struct MapIter<'a, V> {
    text: &'a str,
    entries: std::slice::Iter<'a, (Span, V)>,
}

impl<'a, V> Iterator for MapIter<'a, V> {
    type Item = (&'a str, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let (key, v) = self.entries.next()?;
        Some((text_at(self.text, *key), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl<V> DoubleEndedIterator for MapIter<'_, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (key, v) = self.entries.next_back()?;
        Some((text_at(self.text, *key), v))
    }
}

impl<V> ExactSizeIterator for MapIter<'_, V> {}

/// A [`StringMap`]'s `(key, value)` pairs in key order.
pub struct StringIter<'a> {
    inner: MapIter<'a, Span>,
}

impl<'a> Iterator for StringIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let (key, value) = self.inner.next()?;
        Some((key, text_at(self.inner.text, *value)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for StringIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (key, value) = self.inner.next_back()?;
        Some((key, text_at(self.inner.text, *value)))
    }
}

impl ExactSizeIterator for StringIter<'_> {}

/// A run's params or tags: text keys to text values, in key order.
#[derive(Clone, Default)]
pub struct StringMap {
    inner: Sorted<Span>,
}

impl StringMap {
    pub fn new() -> StringMap {
        StringMap::default()
    }

    /// An empty map with room for `entries` entries of `text` bytes in all,
    /// keys and values together.
    pub fn with_capacity(entries: usize, text: usize) -> StringMap {
        StringMap {
            inner: Sorted::with_capacity(entries, text),
        }
    }

    pub fn len(&self) -> usize {
        self.inner.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        let span = *self.inner.get(key)?;
        Some(self.inner.text_at(span))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.inner.position(key).is_ok()
    }

    /// Sets `key` to `value`; true when the key was new. Keys given in
    /// ascending order are appended without a search.
    pub fn insert(&mut self, key: &str, value: &str) -> bool {
        let span = self.inner.push_text(value);
        self.inner.insert(key, span).is_none()
    }

    /// Removes `key`; true when it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        self.inner.remove(key).is_some()
    }

    /// `(key, value)` pairs in key order.
    pub fn iter(&self) -> StringIter<'_> {
        StringIter {
            inner: self.inner.iter(),
        }
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.iter().map(|(_, v)| v)
    }

    /// The same entries as a map of owned strings.
    pub fn to_btree(&self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl PartialEq for StringMap {
    fn eq(&self, other: &StringMap) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for StringMap {}

impl fmt::Debug for StringMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Later entries win over earlier ones with the same key, as when
/// collecting into a `BTreeMap`.
impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for StringMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> StringMap {
        let mut map = StringMap::new();
        map.extend(iter);
        map
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Extend<(K, V)> for StringMap {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k.as_ref(), v.as_ref());
        }
    }
}

impl From<&BTreeMap<String, String>> for StringMap {
    fn from(map: &BTreeMap<String, String>) -> StringMap {
        let text = map.iter().map(|(k, v)| k.len() + v.len()).sum();
        let mut out = StringMap::with_capacity(map.len(), text);
        out.extend(map);
        out
    }
}

impl From<BTreeMap<String, String>> for StringMap {
    fn from(map: BTreeMap<String, String>) -> StringMap {
        StringMap::from(&map)
    }
}

impl PartialEq<BTreeMap<String, String>> for StringMap {
    fn eq(&self, other: &BTreeMap<String, String>) -> bool {
        self.iter()
            .eq(other.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

impl<'a> IntoIterator for &'a StringMap {
    type Item = (&'a str, &'a str);
    type IntoIter = StringIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A run's latest metrics: text keys to points, in key order.
#[derive(Clone, Default)]
pub struct MetricMap {
    inner: Sorted<MetricPoint>,
}

impl MetricMap {
    pub fn new() -> MetricMap {
        MetricMap::default()
    }

    /// An empty map with room for `entries` keys of `text` bytes in all.
    pub fn with_capacity(entries: usize, text: usize) -> MetricMap {
        MetricMap {
            inner: Sorted::with_capacity(entries, text),
        }
    }

    pub fn len(&self) -> usize {
        self.inner.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&MetricPoint> {
        self.inner.get(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.inner.position(key).is_ok()
    }

    /// Sets `key` to `point`, returning the point it replaces.
    pub fn insert(&mut self, key: &str, point: MetricPoint) -> Option<MetricPoint> {
        self.inner.insert(key, point)
    }

    pub fn remove(&mut self, key: &str) -> Option<MetricPoint> {
        self.inner.remove(key)
    }

    /// `(key, point)` pairs in key order.
    pub fn iter(&self) -> MapIter<'_, MetricPoint> {
        self.inner.iter()
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.iter().map(|(k, _)| k)
    }

    /// The same entries as a map with owned keys.
    pub fn to_btree(&self) -> BTreeMap<String, MetricPoint> {
        self.iter().map(|(k, p)| (k.to_string(), *p)).collect()
    }
}

/// Points compare as `MetricPoint` does: a NaN value equals nothing.
impl PartialEq for MetricMap {
    fn eq(&self, other: &MetricMap) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for MetricMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>> FromIterator<(K, MetricPoint)> for MetricMap {
    fn from_iter<I: IntoIterator<Item = (K, MetricPoint)>>(iter: I) -> MetricMap {
        let mut map = MetricMap::new();
        for (k, p) in iter {
            map.insert(k.as_ref(), p);
        }
        map
    }
}

impl<'a> IntoIterator for &'a MetricMap {
    type Item = (&'a str, &'a MetricPoint);
    type IntoIter = MapIter<'a, MetricPoint>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// `map[key]`, as for a `BTreeMap`.
///
/// # Panics
///
/// When `key` is not in the map; use [`StringMap::get`] for a key that
/// may be absent.
impl std::ops::Index<&str> for StringMap {
    type Output = str;

    fn index(&self, key: &str) -> &str {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no entry for key {key:?}"),
        }
    }
}

/// `map[key]`, as for a `BTreeMap`.
///
/// # Panics
///
/// When `key` is not in the map; use [`MetricMap::get`] for a key that
/// may be absent.
impl std::ops::Index<&str> for MetricMap {
    type Output = MetricPoint;

    fn index(&self, key: &str) -> &MetricPoint {
        match self.get(key) {
            Some(point) => point,
            None => panic!("no entry for key {key:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn point(step: i64) -> MetricPoint {
        MetricPoint {
            step,
            timestamp: 0,
            value: step as f64,
        }
    }

    #[test]
    fn keys_in_any_order_read_back_sorted() {
        let mut map = StringMap::new();
        assert!(map.insert("b", "2"));
        assert!(map.insert("c", "3"));
        assert!(map.insert("a", "1"));
        assert!(!map.insert("b", "two"));
        assert_eq!(
            map.iter().collect::<Vec<_>>(),
            [("a", "1"), ("b", "two"), ("c", "3")]
        );
        assert_eq!(map.get("b"), Some("two"));
        assert_eq!(map.get("d"), None);
        assert_eq!(&map["c"], "3");
        assert!(map.remove("a"));
        assert!(!map.remove("a"));
        assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "c"]);
    }

    #[test]
    fn maps_with_the_same_entries_are_equal_whatever_their_history() {
        let mut edited = StringMap::new();
        edited.insert("k", "old");
        edited.insert("gone", "x");
        edited.insert("k", "new");
        edited.remove("gone");
        let fresh: StringMap = [("k", "new")].into_iter().collect();
        assert_eq!(edited, fresh);
        assert_ne!(edited, StringMap::new());
        assert_eq!(format!("{edited:?}"), r#"{"k": "new"}"#);
    }

    #[test]
    fn keys_sort_by_bytes_as_str_does() {
        let map: StringMap = [("é", "1"), ("z", "2"), ("Z", "3"), ("", "4")]
            .into_iter()
            .collect();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["", "Z", "z", "é"]);
        assert_eq!(map.get(""), Some("4"));
    }

    #[test]
    fn metric_maps_keep_points_by_key() {
        let mut map = MetricMap::with_capacity(2, 8);
        assert_eq!(map.insert("loss", point(1)), None);
        assert_eq!(map.insert("acc", point(2)), None);
        assert_eq!(map.insert("loss", point(3)), Some(point(1)));
        assert_eq!(map.keys().collect::<Vec<_>>(), ["acc", "loss"]);
        assert_eq!(map["loss"].step, 3);
        assert_eq!(map.remove("acc"), Some(point(2)));
        assert_eq!(map.len(), 1);
        assert_eq!(map.iter().next_back(), Some(("loss", &point(3))));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(String, String),
        Remove(String),
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = "[a-d]{0,2}";
        prop_oneof![
            3 => (key, "[x-zé]{0,3}").prop_map(|(k, v)| Op::Insert(k, v)),
            1 => key.prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// Any sequence of inserts and removes leaves the map a `BTreeMap`
        /// would hold, read every way.
        #[test]
        fn string_map_matches_btree_map(ops in prop::collection::vec(op(), 0..40)) {
            let mut map = StringMap::new();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        prop_assert_eq!(map.insert(&k, &v), model.insert(k, v).is_none());
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(map.remove(&k), model.remove(&k).is_some());
                    }
                }
            }
            prop_assert_eq!(map.len(), model.len());
            prop_assert!(map == model);
            prop_assert_eq!(map.to_btree(), model.clone());
            prop_assert_eq!(map.iter().rev().count(), model.len());
            for key in ["", "a", "b", "ab", "dd", "e"] {
                prop_assert_eq!(map.get(key), model.get(key).map(String::as_str));
                prop_assert_eq!(map.contains_key(key), model.contains_key(key));
            }
            prop_assert_eq!(&StringMap::from(&model), &map);
        }
    }
}
