//! The index of one param or tag key: its distinct values, which runs have
//! the key, and a roaring posting list per value.
//!
//! A key whose values are mostly distinct (a seed, a free-text note) would
//! cost a bitmap per run; past a cardinality threshold the postings give way
//! to a value-id column by run ordinal: equality and LIKE then match the
//! distinct values once and scan the column, four bytes per run.

use std::collections::HashMap;

use roaring::RoaringBitmap;

use super::Dict;
use super::Ordinal;

/// Postings are kept while distinct values stay under this many, or under
/// one value per `HIGH_CARDINALITY_RATIO` runs having the key.
const MIN_POSTING_VALUES: usize = 4096;
const HIGH_CARDINALITY_RATIO: u64 = 4;

/// Whether a key with `distinct` values over `runs` runs keeps postings
/// (else a value-id column).
pub(crate) fn keeps_postings(distinct: usize, runs: u64) -> bool {
    distinct <= MIN_POSTING_VALUES || distinct <= (runs / HIGH_CARDINALITY_RATIO) as usize
}

/// Index of one string-valued key.
#[derive(Debug, Default, Clone)]
pub struct StringIndex {
    values: Dict,
    present: RoaringBitmap,
    /// `None` once the key turned out to be high-cardinality.
    postings: Option<HashMap<u32, RoaringBitmap>>,
    /// Value id by run ordinal (`NO_VALUE` where absent), kept instead of
    /// the postings for high-cardinality keys.
    column: Vec<u32>,
}

/// Column entry of a run without the key.
const NO_VALUE: u32 = u32::MAX;

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
        match &mut self.postings {
            Some(postings) => postings.entry(id).or_default().insert(ord),
            None => self.set_column(ord, id),
        };
        self.drop_postings_if_high_cardinality();
        id
    }

    fn set_column(&mut self, ord: Ordinal, id: u32) -> bool {
        let i = ord as usize;
        if self.column.len() <= i {
            self.column.resize(i + 1, NO_VALUE);
        }
        self.column[i] = id;
        true
    }

    /// Records that run `ord` no longer has value id `value`.
    pub fn remove(&mut self, ord: Ordinal, value: u32) {
        self.present.remove(ord);
        match &mut self.postings {
            Some(postings) => {
                if let Some(bitmap) = postings.get_mut(&value) {
                    bitmap.remove(ord);
                }
            }
            None => {
                if let Some(slot) = self.column.get_mut(ord as usize) {
                    *slot = NO_VALUE;
                }
            }
        }
    }

    /// Turns the postings into the column once values are mostly distinct.
    fn drop_postings_if_high_cardinality(&mut self) {
        if keeps_postings(self.values.len(), self.present.len()) {
            return;
        }
        let Some(postings) = self.postings.take() else {
            return;
        };
        for (id, bitmap) in postings {
            for ord in bitmap {
                self.set_column(ord, id);
            }
        }
    }

    /// Runs among `within` whose value id satisfies `keep` (a scan of the
    /// column, or a union of postings).
    pub fn select_ids(&self, within: &RoaringBitmap, keep: impl Fn(u32) -> bool) -> RoaringBitmap {
        match &self.postings {
            Some(postings) => {
                let mut out = RoaringBitmap::new();
                for (&id, bitmap) in postings {
                    if keep(id) {
                        out |= bitmap;
                    }
                }
                out & within
            }
            None => {
                let hits = (within & &self.present).into_iter().filter(|&ord| {
                    let id = self.column.get(ord as usize).copied().unwrap_or(NO_VALUE);
                    id != NO_VALUE && keep(id)
                });
                RoaringBitmap::from_sorted_iter(hits).unwrap_or_default()
            }
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
        values + postings + self.column.capacity() * 4 + self.present.serialized_size()
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
    fn unique_values_move_to_the_column_and_still_answer() {
        let mut idx = StringIndex::new();
        for ord in 0..20_000u32 {
            idx.insert(ord, &format!("note {}", ord % 10_000), None);
        }
        assert!(!idx.has_postings());
        assert_eq!(idx.present().len(), 20_000);
        let seven = idx.value_id("note 7").unwrap();
        let all: RoaringBitmap = (0..20_000).collect();
        let hits = idx.select_ids(&all, |id| id == seven);
        assert_eq!(hits.iter().collect::<Vec<_>>(), vec![7, 10_007]);

        // Changes after the switch keep the column exact.
        idx.insert(20_000, "note 7", None);
        idx.remove(7, seven);
        let hits = idx.select_ids(&all, |id| id == seven);
        assert_eq!(hits.iter().collect::<Vec<_>>(), vec![10_007]);
        let everywhere: RoaringBitmap = (0..=20_000).collect();
        assert_eq!(idx.select_ids(&everywhere, |id| id == seven).len(), 2);
    }
}
