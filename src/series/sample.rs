//! Downsampling a series for plotting without losing a spike.
//!
//! The step range is cut into buckets of equal width; each bucket keeps its
//! first, last, minimum and maximum points (fewer when they coincide), so the
//! envelope of the curve survives any reduction.

use crate::model::MetricPoint;

/// Each bucket keeps at most this many points.
const POINTS_PER_BUCKET: usize = 4;

/// At most `max_points` points of `points` (taken in step order, ties in
/// the order given): all of them if they fit, else first, last, min and max
/// of each of `max_points / 4` equal-width step buckets. `max_points` below
/// 4 is treated as 4. NaN values never count as a minimum or maximum; a
/// bucket's first and last point are kept whatever their value.
pub fn downsample(points: &[MetricPoint], max_points: usize) -> Vec<MetricPoint> {
    let max_points = max_points.max(POINTS_PER_BUCKET);
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|p| p.step);
    if sorted.len() <= max_points {
        return sorted;
    }
    let buckets = (max_points / POINTS_PER_BUCKET) as i128;
    let (first, last) = (
        sorted[0].step as i128,
        sorted[sorted.len() - 1].step as i128,
    );
    let width = last - first + 1;

    let mut out = Vec::with_capacity(max_points);
    let mut start = 0;
    while start < sorted.len() {
        let bucket = (sorted[start].step as i128 - first) * buckets / width;
        let end = start
            + sorted[start..]
                .iter()
                .take_while(|p| (p.step as i128 - first) * buckets / width == bucket)
                .count();
        keep_extremes(&sorted[start..end], &mut out);
        start = end;
    }
    out
}

/// Pushes the first, minimum, maximum and last points of a bucket, each
/// once, in their order within the bucket.
fn keep_extremes(bucket: &[MetricPoint], out: &mut Vec<MetricPoint>) {
    let finite = || bucket.iter().enumerate().filter(|(_, p)| !p.value.is_nan());
    let min = finite()
        .min_by(|a, b| a.1.value.total_cmp(&b.1.value))
        .map(|(i, _)| i);
    let max = finite()
        .max_by(|a, b| a.1.value.total_cmp(&b.1.value))
        .map(|(i, _)| i);
    let mut keep: Vec<usize> = [Some(0), min, max, Some(bucket.len() - 1)]
        .into_iter()
        .flatten()
        .collect();
    keep.sort_unstable();
    keep.dedup();
    out.extend(keep.into_iter().map(|i| bucket[i]));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Vec<MetricPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| MetricPoint {
                step: i as i64,
                timestamp: i as i64,
                value,
            })
            .collect()
    }

    #[test]
    fn small_series_come_back_whole_in_step_order() {
        let mut points = series(&[1.0, 2.0, 3.0]);
        points.reverse();
        let out = downsample(&points, 10);
        assert_eq!(
            out.iter().map(|p| p.step).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn a_spike_survives_and_the_budget_holds() {
        let mut values = vec![1.0; 10_000];
        values[4321] = 1e9;
        values[777] = -5.0;
        let out = downsample(&series(&values), 100);
        assert!(out.len() <= 100, "{}", out.len());
        assert!(out.iter().any(|p| p.value == 1e9));
        assert!(out.iter().any(|p| p.value == -5.0));
        assert_eq!(out.first().map(|p| p.step), Some(0));
        assert_eq!(out.last().map(|p| p.step), Some(9_999));
    }

    #[test]
    fn nan_is_never_an_extreme_but_ends_are_kept() {
        let values = [f64::NAN, 3.0, 1.0, 2.0, f64::NAN, 5.0, 0.5, 4.0, 2.0];
        let out = downsample(&series(&values), 4);
        let steps: Vec<i64> = out.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![0, 5, 6, 8]);
    }

    #[test]
    fn extreme_steps_do_not_overflow() {
        let points = vec![
            MetricPoint {
                step: i64::MIN,
                timestamp: 0,
                value: 1.0,
            },
            MetricPoint {
                step: 0,
                timestamp: 0,
                value: 2.0,
            },
            MetricPoint {
                step: i64::MAX,
                timestamp: 0,
                value: 3.0,
            },
            MetricPoint {
                step: 5,
                timestamp: 0,
                value: 9.0,
            },
            MetricPoint {
                step: 6,
                timestamp: 0,
                value: -9.0,
            },
        ];
        let out = downsample(&points, 4);
        assert!(out.len() <= 4);
        assert!(out.iter().any(|p| p.value == 9.0) && out.iter().any(|p| p.value == -9.0));
    }
}
