//! The index of one param or tag key: its distinct values, which runs have
//! the key, and a roaring posting list per value.
//!
//! A key whose values are mostly distinct (a seed, a free-text note) would
//! cost a bitmap per run; past a cardinality threshold the postings are
//! dropped and equality is answered by scanning the runs that have the key.

use std::collections::HashMap;

use roaring::RoaringBitmap;

use super::Dict;
use super::Ordinal;

/// Postings are kept while distinct values stay under this many, or under
/// one value per `HIGH_CARDINALITY_RATIO` runs having the key.
const MIN_POSTING_VALUES: usize = 4096;
const HIGH_CARDINALITY_RATIO: u64 = 4;

/// Index of one string-valued key.
#[derive(Debug, Default, Clone)]
pub struct StringIndex {
    values: Dict,
    present: RoaringBitmap,
    /// `None` once the key turned out to be high-cardinality.
    postings: Option<HashMap<u32, RoaringBitmap>>,
}

impl StringIndex {
    /// A fresh index that keeps postings.
    pub fn new() -> StringIndex {
        StringIndex {
            postings: Some(HashMap::new()),
            ..StringIndex::default()
        }
    }

    /// Records that run `ord` now has `value` (replacing `old`, its previous
    /// value id if it had one); returns the value id.
    pub fn insert(&mut self, ord: Ordinal, value: &str, old: Option<u32>) -> u32 {
        if let Some(old) = old {
            self.remove(ord, old);
        }
        let id = self.values.intern(value);
        self.present.insert(ord);
        if let Some(postings) = &mut self.postings {
            postings.entry(id).or_default().insert(ord);
        }
        self.drop_postings_if_high_cardinality();
        id
    }

    /// Records that run `ord` no longer has value id `value`.
    pub fn remove(&mut self, ord: Ordinal, value: u32) {
        self.present.remove(ord);
        if let Some(bitmap) = self.postings.as_mut().and_then(|p| p.get_mut(&value)) {
            bitmap.remove(ord);
        }
    }

    fn drop_postings_if_high_cardinality(&mut self) {
        let distinct = self.values.len();
        let limit = (self.present.len() / HIGH_CARDINALITY_RATIO) as usize;
        if distinct > MIN_POSTING_VALUES && distinct > limit {
            self.postings = None;
        }
    }

    /// Runs that have the key, whatever the value.
    pub fn present(&self) -> &RoaringBitmap {
        &self.present
    }

    /// The value dictionary of this key.
    pub fn values(&self) -> &Dict {
        &self.values
    }

    /// The id of `value` if some run ever had it.
    pub fn value_id(&self, value: &str) -> Option<u32> {
        self.values.get(value)
    }

    /// Runs whose value is `value_id`, when postings are kept for this key.
    pub fn postings(&self, value_id: u32) -> Option<RoaringBitmap> {
        let postings = self.postings.as_ref()?;
        Some(postings.get(&value_id).cloned().unwrap_or_default())
    }

    /// Whether equality can be answered from postings.
    pub fn has_postings(&self) -> bool {
        self.postings.is_some()
    }

    /// Approximate heap bytes held, for `stats`.
    pub fn heap_bytes(&self) -> usize {
        let values: usize = self.values.iter().map(|(_, s)| s.len() + 48).sum();
        let postings: usize = self
            .postings
            .iter()
            .flat_map(|p| p.values())
            .map(|b| b.serialized_size() + 40)
            .sum();
        values + postings + self.present.serialized_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replace_and_remove_keep_postings_exact() {
        let mut idx = StringIndex::new();
        let a = idx.insert(1, "a", None);
        idx.insert(2, "a", None);
        let b = idx.insert(3, "b", None);
        assert_eq!(
            idx.postings(a).unwrap().iter().collect::<Vec<_>>(),
            vec![1, 2]
        );

        let b2 = idx.insert(2, "b", Some(a));
        assert_eq!(b, b2);
        assert_eq!(idx.postings(a).unwrap().iter().collect::<Vec<_>>(), vec![1]);
        assert_eq!(
            idx.postings(b).unwrap().iter().collect::<Vec<_>>(),
            vec![2, 3]
        );

        idx.remove(3, b);
        assert_eq!(idx.present().iter().collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn unique_values_drop_postings() {
        let mut idx = StringIndex::new();
        for ord in 0..20_000u32 {
            idx.insert(ord, &format!("note {ord}"), None);
        }
        assert!(!idx.has_postings());
        assert_eq!(idx.present().len(), 20_000);
        assert_eq!(idx.value_id("note 7"), Some(7));
    }
}
