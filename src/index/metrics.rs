//! The latest-value column of one metric key.

use roaring::RoaringBitmap;

use super::Ordinal;

/// Latest value per run for one metric key, dense by ordinal, with a
/// presence bitmap (NaN is a legal value, so it cannot mark absence).
#[derive(Debug, Default, Clone)]
pub struct MetricIndex {
    present: RoaringBitmap,
    latest: Vec<f64>,
    /// Presence again, one byte per run: an O(1) check for sorting, where
    /// every run is looked up.
    has: Vec<bool>,
}

impl MetricIndex {
    /// Sets the latest value of run `ord`.
    pub fn set(&mut self, ord: Ordinal, value: f64) {
        let i = ord as usize;
        if self.latest.len() <= i {
            self.latest.resize(i + 1, 0.0);
            self.has.resize(i + 1, false);
        }
        self.latest[i] = value;
        self.has[i] = true;
        self.present.insert(ord);
    }

    /// Forgets the value of run `ord`.
    pub fn remove(&mut self, ord: Ordinal) {
        self.present.remove(ord);
        if let Some(has) = self.has.get_mut(ord as usize) {
            *has = false;
        }
    }

    /// Runs that logged this key.
    pub fn present(&self) -> &RoaringBitmap {
        &self.present
    }

    /// The latest value of run `ord`, if it has one.
    pub fn get(&self, ord: Ordinal) -> Option<f64> {
        let i = ord as usize;
        match self.has.get(i) {
            Some(true) => self.latest.get(i).copied(),
            _ => None,
        }
    }

    /// Runs among `candidates` whose latest value satisfies `keep`.
    pub fn select(&self, candidates: &RoaringBitmap, keep: impl Fn(f64) -> bool) -> RoaringBitmap {
        let within = candidates & &self.present;
        let hits = within
            .iter()
            .filter(|&ord| self.latest.get(ord as usize).is_some_and(|&v| keep(v)));
        RoaringBitmap::from_sorted_iter(hits).unwrap_or_default()
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.latest.capacity() * 8 + self.has.capacity() + self.present.serialized_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_respects_presence_and_predicate() {
        let mut m = MetricIndex::default();
        m.set(0, 1.0);
        m.set(2, f64::NAN);
        m.set(5, 3.0);
        let all: RoaringBitmap = (0..10).collect();
        let big = m.select(&all, |v| v > 0.5);
        assert_eq!(big.iter().collect::<Vec<_>>(), vec![0, 5]);
        assert_eq!(m.get(1), None);
        assert!(m.get(2).unwrap().is_nan());
        m.remove(5);
        assert_eq!(m.select(&all, |v| v > 0.5).len(), 1);
    }
}
