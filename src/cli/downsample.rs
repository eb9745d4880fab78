//! Shrinking a long metric history for display without hiding its spikes.

use crate::model::MetricPoint;

/// Keeps about `max_points` points of `points`: the history is cut into
/// equal buckets and each keeps its first, last, lowest and highest point
/// (in their original order), so every peak and trough survives.
///
/// With `max_points` below 4 the buckets still keep up to 4 points each; a
/// history no longer than `max_points` is returned whole.
pub fn downsample(points: &[MetricPoint], max_points: usize) -> Vec<MetricPoint> {
    if points.len() <= max_points {
        return points.to_vec();
    }
    let buckets = (max_points / 4).max(1);
    let size = points.len().div_ceil(buckets);

    let mut kept = Vec::with_capacity(buckets * 4);
    for bucket in points.chunks(size) {
        let mut picks = vec![
            0,
            bucket.len() - 1,
            extreme(bucket, true),
            extreme(bucket, false),
        ];
        picks.sort_unstable();
        picks.dedup();
        kept.extend(picks.into_iter().map(|i| bucket[i]));
    }
    kept
}

/// Index of the lowest (or highest) value; NaN never wins.
fn extreme(bucket: &[MetricPoint], lowest: bool) -> usize {
    let mut best = 0;
    for (i, p) in bucket.iter().enumerate() {
        let current = bucket[best].value;
        let better = if lowest {
            p.value < current
        } else {
            p.value > current
        };
        if better || current.is_nan() && !p.value.is_nan() {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Vec<MetricPoint> {
        let point = |(i, v): (usize, &f64)| MetricPoint {
            step: i as i64,
            timestamp: 1000 + i as i64,
            value: *v,
        };
        values.iter().enumerate().map(point).collect()
    }

    #[test]
    fn short_histories_are_untouched() {
        let s = series(&[1.0, 2.0, 3.0]);
        assert_eq!(downsample(&s, 3), s);
    }

    #[test]
    fn buckets_keep_first_last_min_max_in_order() {
        let s = series(&[5.0, 9.0, 1.0, 4.0, 3.0, 0.0, 8.0, 7.0]);
        let kept = downsample(&s, 4);
        let steps: Vec<i64> = kept.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![0, 1, 5, 7]);
    }

    #[test]
    fn spikes_survive_heavy_downsampling() {
        let mut values = vec![1.0; 1000];
        values[637] = 100.0;
        values[222] = -50.0;
        let kept = downsample(&series(&values), 20);
        assert!(kept.len() <= 20);
        assert!(kept.iter().any(|p| p.value == 100.0));
        assert!(kept.iter().any(|p| p.value == -50.0));
        assert!(kept.windows(2).all(|w| w[0].step < w[1].step));
    }
}
