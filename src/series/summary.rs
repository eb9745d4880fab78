//! Per-series summaries kept in a series file's directory, so that search
//! and downsampling can answer from them without touching the points.

use crate::model::MetricPoint;

/// What a reader can learn about a series without decoding it.
#[derive(Debug, Clone, Copy)]
pub struct SeriesSummary {
    pub count: u64,
    /// Smallest value, NaNs ignored; NaN when there is no other value.
    pub min: f64,
    /// Largest value, NaNs ignored; NaN when there is no other value.
    pub max: f64,
    /// First point in logging order.
    pub first: Option<MetricPoint>,
    /// Last point in logging order.
    pub last: Option<MetricPoint>,
    /// MLflow's latest point ([`MetricPoint::latest_cmp`]); among points
    /// that compare equal, the one logged last.
    pub latest: Option<MetricPoint>,
}

impl SeriesSummary {
    /// Summarises `points` (in logging order).
    pub fn of(points: &[MetricPoint]) -> SeriesSummary {
        let (mut min, mut max) = (f64::NAN, f64::NAN);
        for v in points.iter().map(|p| p.value).filter(|v| !v.is_nan()) {
            if min.is_nan() || v < min {
                min = v;
            }
            if max.is_nan() || v > max {
                max = v;
            }
        }

        SeriesSummary {
            count: points.len() as u64,
            min,
            max,
            first: points.first().copied(),
            last: points.last().copied(),
            latest: points.iter().copied().max_by(|a, b| a.latest_cmp(b)),
        }
    }

    /// Whether two summaries hold the same bits (NaN payloads included).
    pub fn same_bits(&self, other: &SeriesSummary) -> bool {
        let point = |a: Option<MetricPoint>, b: Option<MetricPoint>| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.step == b.step
                    && a.timestamp == b.timestamp
                    && a.value.to_bits() == b.value.to_bits()
            }
            _ => false,
        };
        self.count == other.count
            && self.min.to_bits() == other.min.to_bits()
            && self.max.to_bits() == other.max.to_bits()
            && point(self.first, other.first)
            && point(self.last, other.last)
            && point(self.latest, other.latest)
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
    fn min_max_ignore_nan_and_latest_follows_the_rule() {
        let points = [
            p(2, 10, f64::NAN),
            p(1, 50, -3.0),
            p(2, 10, 4.0),
            p(0, 99, 7.0),
        ];
        let s = SeriesSummary::of(&points);
        assert_eq!((s.count, s.min, s.max), (4, -3.0, 7.0));
        assert_eq!(s.first.unwrap().step, 2);
        assert_eq!(s.last.unwrap().value, 7.0);
        assert_eq!(s.latest.unwrap().value, 4.0);
    }

    #[test]
    fn all_nan_and_empty_have_nan_bounds() {
        let s = SeriesSummary::of(&[p(0, 0, f64::NAN)]);
        assert!(s.min.is_nan() && s.max.is_nan());
        assert!(s.latest.unwrap().value.is_nan());
        let e = SeriesSummary::of(&[]);
        assert!(e.first.is_none() && e.latest.is_none() && e.count == 0);
    }
}
