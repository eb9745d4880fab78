//! One metric history as a reader gets it: lent from the sealed file where
//! it can be, owned where it must be.
//!
//! A sealed raw block whose points are already in MLflow's history order is
//! lent as three column slices of the mapped file, with no copy. Points
//! logged since the checkpoint (the tail, usually few) follow it, owned.
//! When the tail does not sort after the sealed points, or the block is
//! compressed or out of order, the history is merged into one owned,
//! sorted vector instead.

use std::sync::Arc;

use super::{Columns, SeriesFile};
use crate::model::MetricPoint;

/// Every point of one metric of one run, in MLflow's history order: by
/// timestamp, then step, points equal in both in the order they were
/// logged. Holds the sealed file open, not the store's lock.
#[derive(Debug, Clone)]
pub struct MetricHistory {
    sealed: Option<Lent>,
    points: Vec<MetricPoint>,
}

/// The sealed part, lent from a file: the file and the slot of the series.
/// The slot's block was verified raw and in history order when this was
/// made; the file never changes while it is mapped.
#[derive(Debug, Clone)]
struct Lent {
    file: Arc<SeriesFile>,
    slot: usize,
    len: usize,
}

impl MetricHistory {
    /// A history held entirely in memory; `points` must be sorted.
    pub(crate) fn owned(points: Vec<MetricPoint>) -> MetricHistory {
        MetricHistory {
            sealed: None,
            points,
        }
    }

    /// The sealed series in `slot` of `file`, lent, followed by `after`.
    /// `None` unless the block is raw and in history order and `after`
    /// (sorted) does not sort before its last point.
    pub(crate) fn lent(
        file: &Arc<SeriesFile>,
        slot: usize,
        after: Vec<MetricPoint>,
    ) -> crate::error::Result<Option<MetricHistory>> {
        let Some(columns) = file.at(slot).map(|s| s.history_columns()).transpose()? else {
            return Ok(None);
        };
        let Some(columns) = columns else {
            return Ok(None);
        };
        let last = columns.point(columns.len().wrapping_sub(1));
        let joins = match (last, after.first()) {
            (Some(last), Some(first)) => last.history_cmp(first).is_le(),
            _ => true,
        };
        if !joins {
            return Ok(None);
        }
        let sealed = Lent {
            file: Arc::clone(file),
            slot,
            len: columns.len(),
        };
        Ok(Some(MetricHistory {
            sealed: Some(sealed),
            points: after,
        }))
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.sealed.as_ref().map_or(0, |s| s.len) + self.points.len()
    }

    /// Whether the history holds no point.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The leading points as columns borrowed from the mapped series file,
    /// when the history starts with a sealed, raw, ordered block.
    pub fn sealed(&self) -> Option<Columns<'_>> {
        let lent = self.sealed.as_ref()?;
        // Made from this very block after its CRC and order checks, which
        // the file remembers, so this is a directory read and cannot fail.
        lent.file.at(lent.slot)?.history_columns().ok().flatten()
    }

    /// The points after [`MetricHistory::sealed`] (all of them when
    /// nothing is lent), owned.
    pub fn unsealed(&self) -> &[MetricPoint] {
        &self.points
    }

    /// Every point, in order.
    pub fn iter(&self) -> impl Iterator<Item = MetricPoint> + '_ {
        let sealed = self.sealed();
        let lent = (0..sealed.map_or(0, |c| c.len())).filter_map(move |i| sealed?.point(i));
        lent.chain(self.points.iter().copied())
    }

    /// Every point, copied into one vector.
    pub fn to_vec(&self) -> Vec<MetricPoint> {
        let mut out = Vec::with_capacity(self.len());
        if let Some(columns) = self.sealed() {
            let zipped = columns
                .steps
                .iter()
                .zip(columns.timestamps)
                .zip(columns.values);
            out.extend(zipped.map(|((&step, &timestamp), &value)| MetricPoint {
                step,
                timestamp,
                value,
            }));
        }
        out.extend_from_slice(&self.points);
        out
    }

    /// Whether the leading points are lent from the file rather than copied.
    pub fn is_lent(&self) -> bool {
        self.sealed.is_some()
    }
}
