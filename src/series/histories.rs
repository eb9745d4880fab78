//! Every metric history of a store: a sealed, memory-mapped series file
//! written at the last checkpoint, plus the points logged since, in memory.
//! A read concatenates the two; a checkpoint writes a new file holding both
//! and drops the tail it covered.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::{Encoding, MetricHistory, SeriesFile, SeriesFileWriter, SeriesId, SeriesStore};
use crate::error::Result;
use crate::model::MetricPoint;

/// Sealed file plus in-memory tail.
///
/// The tail is shared copy-on-write: a checkpoint takes a
/// [`snapshot`](Histories::snapshot) to write from outside the state's lock,
/// and only a write landing while it is held pays for copying the tail. A
/// deep copy at every checkpoint would double the memory of everything
/// logged since the last one.
#[derive(Debug, Default)]
pub struct Histories {
    sealed: Option<Arc<SeriesFile>>,
    tail: Arc<SeriesStore>,
    /// Largest sealed timestamp of series the tail has touched, read once
    /// per series: a new point after it cannot duplicate a sealed one.
    sealed_max_timestamp: HashMap<SeriesId, Option<i64>>,
}

impl Histories {
    /// Histories whose sealed part is `file`.
    pub fn with_sealed(file: Option<Arc<SeriesFile>>) -> Histories {
        Histories {
            sealed: file,
            ..Histories::default()
        }
    }

    /// The sealed file, if a checkpoint wrote one.
    pub fn sealed(&self) -> Option<&Arc<SeriesFile>> {
        self.sealed.as_ref()
    }

    /// The sealed file and the tail as they are now, sharing the tail's
    /// memory (not the duplicate-check cache, which a writer of a series
    /// file has no use for).
    pub fn snapshot(&self) -> Histories {
        Histories {
            sealed: self.sealed.clone(),
            tail: Arc::clone(&self.tail),
            sealed_max_timestamp: HashMap::new(),
        }
    }

    /// Every point of a series in logging order: sealed, then tail.
    pub fn points(&self, id: SeriesId) -> Result<Vec<MetricPoint>> {
        let mut out = Vec::new();
        if let Some(sealed) = self.sealed.as_ref().and_then(|f| f.series(id.0, id.1)) {
            sealed.read_into(&mut out)?;
        }
        out.extend_from_slice(self.tail.points(id));
        Ok(out)
    }

    /// Every point of a series in MLflow's history order, with the sealed
    /// part lent from the file when it is raw and already in that order.
    pub fn history(&self, id: SeriesId) -> Result<MetricHistory> {
        let sealed = self.sealed.as_ref();
        let raw = sealed
            .and_then(|file| Some((file, file.series(id.0, id.1)?)))
            .filter(|(_, series)| series.encoding().is_raw());
        if let Some((file, series)) = raw
            && let Some(lent) = MetricHistory::lent(file, series.index(), self.sorted_tail(id))?
        {
            return Ok(lent);
        }

        let mut points = Vec::new();
        self.history_into(id, &mut points)?;
        Ok(MetricHistory::owned(points))
    }

    /// Every point of a series in MLflow's history order, copied or decoded
    /// over the contents of `out`, whose allocation a caller reading many
    /// histories keeps from one read to the next.
    pub fn history_into(&self, id: SeriesId, out: &mut Vec<MetricPoint>) -> Result<()> {
        let tail = self.tail.points(id);
        let sealed = self.sealed.as_ref().and_then(|f| f.series(id.0, id.1));
        let ordered = match sealed {
            Some(series) => series.read_history_into(out)?,
            None => {
                out.clear();
                true
            }
        };

        let tail_start = out.len();
        out.extend_from_slice(tail);
        let tail_sorted = out[tail_start..].is_sorted_by(|a, b| a.history_cmp(b).is_le());
        let joins = match (tail_start.checked_sub(1).map(|i| &out[i]), tail.first()) {
            (Some(last), Some(first)) => last.history_cmp(first).is_le(),
            _ => true,
        };
        if !(ordered && tail_sorted && joins) {
            out.sort_by(MetricPoint::history_cmp);
        }
        Ok(())
    }

    /// [`super::downsample`] of the series' points with steps in `steps`,
    /// answered from the sealed block's table of extremes when it has one
    /// and holds every point (nothing logged since the checkpoint, steps in
    /// order): then only the points kept and those of chunks cut by a
    /// bucket's edge are read. `None` when the points must be read whole.
    pub fn sampled(
        &self,
        id: SeriesId,
        steps: Option<&std::ops::RangeInclusive<i64>>,
        max_points: usize,
    ) -> Result<Option<Vec<MetricPoint>>> {
        if !self.tail.points(id).is_empty() {
            return Ok(None);
        }
        let Some(series) = self.sealed.as_ref().and_then(|f| f.series(id.0, id.1)) else {
            return Ok(None);
        };
        let Some(extremes) = series.extremes()?.filter(|e| e.steps_sorted()) else {
            return Ok(None);
        };
        let Some(columns) = series.columns()? else {
            return Ok(None);
        };
        Ok(Some(super::downsample_with_extremes(
            &columns, &extremes, steps, max_points,
        )))
    }

    /// The points logged since the checkpoint, in history order.
    fn sorted_tail(&self, id: SeriesId) -> Vec<MetricPoint> {
        let mut tail = self.tail.points(id).to_vec();
        tail.sort_by(MetricPoint::history_cmp);
        tail
    }

    /// Appends `point` unless the series already holds the exact same
    /// record, sealed part included. Returns whether it was added. A damaged
    /// sealed block counts as holding no duplicate (its reads report the
    /// damage).
    pub fn append_unique(&mut self, id: SeriesId, point: MetricPoint) -> bool {
        if self.duplicates_sealed(id, &point) {
            return false;
        }
        Arc::make_mut(&mut self.tail).append_unique(id, point)
    }

    fn duplicates_sealed(&mut self, id: SeriesId, point: &MetricPoint) -> bool {
        let Some(sealed) = self.sealed.as_ref().and_then(|f| f.series(id.0, id.1)) else {
            return false;
        };
        let mut points = Vec::new();
        let max = *self.sealed_max_timestamp.entry(id).or_insert_with(|| {
            sealed.read_into(&mut points).ok()?;
            points.iter().map(|p| p.timestamp).max()
        });
        if max.is_none_or(|max| point.timestamp > max) {
            return false;
        }
        if points.is_empty() && sealed.read_into(&mut points).is_err() {
            return false;
        }
        points.iter().any(|p| p.same_record(point))
    }

    /// Makes room in the tail for `additional` more points of a series.
    pub fn reserve(&mut self, id: SeriesId, additional: usize) {
        Arc::make_mut(&mut self.tail).reserve(id, additional);
    }

    /// Appends `point` even if an equal one exists.
    pub fn append(&mut self, id: SeriesId, point: MetricPoint) {
        Arc::make_mut(&mut self.tail).append(id, point);
    }

    /// Total number of points.
    pub fn total_points(&self) -> u64 {
        let sealed: u64 = self
            .sealed
            .iter()
            .flat_map(|f| f.iter())
            .map(|(_, _, s)| s.summary().count)
            .sum();
        sealed + self.tail.total_points()
    }

    /// The tail's series and points: what the next checkpoint seals.
    pub fn tail_size(&self) -> (usize, u64) {
        (self.tail.len(), self.tail.total_points())
    }

    /// How many tail points each series holds now: what a checkpoint
    /// taken at this moment covers.
    pub fn tail_lengths(&self) -> HashMap<SeriesId, usize> {
        self.tail
            .ids()
            .map(|id| (id, self.tail.points(id).len()))
            .collect()
    }

    /// Writes a series file holding every series: the sealed part and the
    /// first `covered` tail points of each. Series for which `hot` holds are
    /// written raw, to be lent to readers in place; the others (cold) in
    /// whichever encoding is smallest. Returns the file opened.
    pub fn write_file(
        &self,
        path: &Path,
        covered: &HashMap<SeriesId, usize>,
        hot: impl Fn(SeriesId) -> bool,
    ) -> Result<Arc<SeriesFile>> {
        let mut ids: Vec<SeriesId> = covered.keys().copied().collect();
        if let Some(sealed) = &self.sealed {
            ids.extend(sealed.iter().map(|(run, key, _)| (run, key)));
        }
        ids.sort_unstable();
        ids.dedup();
        // Cold series in their smallest encoding, short ones included: reads
        // of short series cost little either way.
        let mut writer = SeriesFileWriter::create(path)?
            .raw_up_to(0)
            .expect_series(ids.len());
        let mut buffer = Vec::new();
        for &id in &ids {
            buffer.clear();
            if let Some(sealed) = self.sealed.as_ref().and_then(|f| f.series(id.0, id.1)) {
                sealed.read_into(&mut buffer)?;
            }
            let take = covered.get(&id).copied().unwrap_or(0);
            buffer.extend_from_slice(&self.tail.points(id)[..take]);
            if hot(id) {
                writer.add_encoded(id.0, id.1, &buffer, Encoding::hot(buffer.len()))?;
            } else {
                writer.add(id.0, id.1, &buffer)?;
            }
        }
        writer.finish()?;
        Ok(Arc::new(SeriesFile::open(path)?))
    }

    /// Switches to a file written by [`Histories::write_file`]: the tail
    /// keeps only the points logged after the ones it covered.
    pub fn seal(&mut self, file: Arc<SeriesFile>, covered: &HashMap<SeriesId, usize>) {
        Arc::make_mut(&mut self.tail).drop_prefixes(covered);
        self.sealed = Some(file);
        self.sealed_max_timestamp.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(step: i64) -> MetricPoint {
        MetricPoint {
            step,
            timestamp: step,
            value: step as f64,
        }
    }

    #[test]
    fn a_snapshot_keeps_its_points_while_the_tail_goes_on() {
        let mut live = Histories::default();
        live.append((0, 0), p(0));
        let snapshot = live.snapshot();

        live.append((0, 0), p(1));
        live.append((1, 0), p(2));

        assert_eq!(snapshot.points((0, 0)).unwrap(), vec![p(0)]);
        assert!(snapshot.points((1, 0)).unwrap().is_empty());
        assert_eq!(live.points((0, 0)).unwrap(), vec![p(0), p(1)]);
        assert_eq!(live.points((1, 0)).unwrap(), vec![p(2)]);
    }

    #[test]
    fn a_snapshot_shares_the_tail_until_a_write() {
        let mut live = Histories::default();
        live.append((0, 0), p(0));
        let before = Arc::as_ptr(&live.tail);

        let snapshot = live.snapshot();
        assert!(Arc::ptr_eq(&live.tail, &snapshot.tail));
        drop(snapshot);

        // With the snapshot gone, writing takes the tail back uncopied.
        live.append((0, 0), p(1));
        assert_eq!(Arc::as_ptr(&live.tail), before);
    }

    #[test]
    fn a_series_file_written_from_a_snapshot_holds_the_covered_points() {
        let dir = tempfile::tempdir().unwrap();
        let mut live = Histories::default();
        for step in 0..5 {
            live.append((0, 0), p(step));
        }
        live.append((2, 1), p(9));
        let covered = live.tail_lengths();
        let snapshot = live.snapshot();

        live.append((0, 0), p(5));
        let file = snapshot
            .write_file(&dir.path().join("s.bin"), &covered, |_| false)
            .unwrap();
        drop(snapshot);
        live.seal(file, &covered);

        let all: Vec<_> = (0..6).map(p).collect();
        assert_eq!(live.points((0, 0)).unwrap(), all);
        assert_eq!(live.points((2, 1)).unwrap(), vec![p(9)]);
        assert_eq!(live.tail.points((0, 0)), &[p(5)]);
        assert_eq!(live.total_points(), 7);
    }
}
