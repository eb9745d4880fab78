//! Metric histories: every point of every (run, key) series.
//!
//! At checkpoint, histories are sealed into a columnar, memory-mapped file
//! (`file.rs`, encoded by `codec.rs`); points logged since live in memory
//! (`SeriesStore`, the tail); `Histories` joins the two.

mod codec;
mod extremes;
mod file;
mod histories;
mod history;
mod sample;
mod summary;
mod writer;

use std::collections::HashMap;

pub use codec::Encoding;
pub use extremes::Extremes;
pub use file::{Columns, SeriesFile, SeriesRef, fuzz_series_file};
pub use histories::Histories;
pub use history::MetricHistory;
pub use sample::{downsample, downsample_in_step_order, downsample_with_extremes};
pub use summary::SeriesSummary;
pub use writer::{FileStats, RAW_UP_TO, SeriesFileWriter};

use crate::model::MetricPoint;

/// Identifies one series: (run ordinal, metric key id).
pub type SeriesId = (u32, u32);

/// One series: its points in logging order and its largest timestamp,
/// which makes the duplicate check cheap for the usual, increasing case.
#[derive(Debug, Default, Clone)]
struct Series {
    points: Vec<MetricPoint>,
    max_timestamp: i64,
}

/// All metric histories of a store, in memory.
#[derive(Debug, Default, Clone)]
pub struct SeriesStore {
    series: HashMap<SeriesId, Series>,
    points: u64,
}

impl SeriesStore {
    /// Appends `point` unless the series already holds the exact same record
    /// (MLflow's SQL store keeps exact duplicates once; NaN equals NaN here).
    /// Returns whether the point was added.
    pub fn append_unique(&mut self, id: SeriesId, point: MetricPoint) -> bool {
        let series = self.series.entry(id).or_default();
        let maybe_duplicate = !series.points.is_empty() && point.timestamp <= series.max_timestamp;
        if maybe_duplicate && series.points.iter().any(|p| p.same_record(&point)) {
            return false;
        }
        Self::push(series, point);
        self.points += 1;
        true
    }

    /// Appends `point` even if an equal one exists (import keeps what the
    /// source holds).
    pub fn append(&mut self, id: SeriesId, point: MetricPoint) {
        Self::push(self.series.entry(id).or_default(), point);
        self.points += 1;
    }

    /// Makes room for exactly `additional` more points of a series that
    /// holds at least one.
    pub fn reserve(&mut self, id: SeriesId, additional: usize) {
        if let Some(series) = self.series.get_mut(&id) {
            series.points.reserve_exact(additional);
        }
    }

    fn push(series: &mut Series, point: MetricPoint) {
        if series.points.is_empty() || point.timestamp > series.max_timestamp {
            series.max_timestamp = point.timestamp;
        }
        if series.points.len() == series.points.capacity() {
            // Grow by half, not by double: a tail holds millions of short
            // series until the next checkpoint, and doubling leaves a third
            // of their memory empty on average.
            let more = (series.points.len() / 2).max(4);
            series.points.reserve_exact(more);
        }
        series.points.push(point);
    }

    /// The points of a series in logging order (empty if none).
    pub fn points(&self, id: SeriesId) -> &[MetricPoint] {
        self.series.get(&id).map_or(&[], |s| &s.points)
    }

    /// Drops the first `n` points of each series named (a checkpoint sealed
    /// them into a file).
    pub fn drop_prefixes(&mut self, covered: &HashMap<SeriesId, usize>) {
        for (id, &n) in covered {
            let Some(series) = self.series.get_mut(id) else {
                continue;
            };
            let n = n.min(series.points.len());
            series.points.drain(..n);
            self.points -= n as u64;
            if series.points.is_empty() {
                self.series.remove(id);
            }
        }
    }

    /// Removes a series (purge).
    pub fn remove(&mut self, id: SeriesId) {
        if let Some(s) = self.series.remove(&id) {
            self.points -= s.points.len() as u64;
        }
    }

    /// Number of series held.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series is held.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Total number of points held.
    pub fn total_points(&self) -> u64 {
        self.points
    }

    /// Every series id, unordered.
    pub fn ids(&self) -> impl Iterator<Item = SeriesId> + '_ {
        self.series.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(step: i64, timestamp: i64, value: f64) -> MetricPoint {
        MetricPoint {
            step,
            timestamp,
            value,
        }
    }

    #[test]
    fn exact_duplicates_collapse_including_nan() {
        let mut s = SeriesStore::default();
        assert!(s.append_unique((0, 0), p(3, 1000, 0.5)));
        assert!(!s.append_unique((0, 0), p(3, 1000, 0.5)));
        assert!(s.append_unique((0, 1), p(0, 1000, f64::NAN)));
        assert!(!s.append_unique((0, 1), p(0, 1000, f64::NAN)));
        assert!(s.append_unique((0, 0), p(3, 1000, 0.6)));
        assert_eq!(s.points((0, 0)).len(), 2);
        assert_eq!(s.total_points(), 3);
    }

    #[test]
    fn plain_append_keeps_duplicates_in_order() {
        let mut s = SeriesStore::default();
        s.append((1, 1), p(0, 5, 1.0));
        s.append((1, 1), p(0, 5, 1.0));
        s.append((1, 1), p(-1, 2, 2.0));
        let steps: Vec<i64> = s.points((1, 1)).iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![0, 0, -1]);
    }
}
