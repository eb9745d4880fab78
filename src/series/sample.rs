//! Downsampling a series for plotting without losing a spike.
//!
//! The step range is cut into buckets of equal width; each bucket keeps its
//! first, last, minimum and maximum points (fewer when they coincide), so the
//! envelope of the curve survives any reduction.

use std::ops::{Range, RangeInclusive};

use super::extremes::{Extreme, Extremes};
use super::file::Columns;
use crate::model::MetricPoint;

/// Each bucket keeps at most this many points.
const POINTS_PER_BUCKET: usize = 4;

/// At most `max_points` points of `points` (taken in step order, ties in
/// the order given): all of them if they fit, else first, last, min and max
/// of each of `max_points / 4` equal-width step buckets. `max_points` below
/// 4 is treated as 4. NaN values never count as a minimum or maximum; a
/// bucket's first and last point are kept whatever their value.
pub fn downsample(points: &[MetricPoint], max_points: usize) -> Vec<MetricPoint> {
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|p| p.step);
    downsample_in_step_order(&sorted, max_points)
}

/// [`downsample`] of points already in step order (the usual case, which
/// a caller that owns its points checks and sorts in place, saving the
/// copy). Bucket edges are found by binary search: the bucket of a step is
/// a wide division, too slow to do for every point of a long series.
pub fn downsample_in_step_order(sorted: &[MetricPoint], max_points: usize) -> Vec<MetricPoint> {
    let max_points = max_points.max(POINTS_PER_BUCKET);
    if sorted.len() <= max_points {
        return sorted.to_vec();
    }
    let buckets = (max_points / POINTS_PER_BUCKET) as i128;
    let (first, last) = (
        sorted[0].step as i128,
        sorted[sorted.len() - 1].step as i128,
    );
    let width = last - first + 1;
    let bucket_of = |step: i64| (step as i128 - first) * buckets / width;

    let mut out = Vec::with_capacity(max_points);
    let mut start = 0;
    while start < sorted.len() {
        let bucket = bucket_of(sorted[start].step);
        let end = start + sorted[start..].partition_point(|p| bucket_of(p.step) == bucket);
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

/// The positions a bucket over `bucket` keeps, as `keep_extremes` picks
/// them: its first and last, and its minimum and maximum when it has
/// values that are not NaN; each once, in order.
fn kept_positions(bucket: Range<usize>, found: Extreme) -> Vec<usize> {
    let ends = [bucket.start, bucket.end - 1];
    let extremes = [found.min, found.max].into_iter().flatten().map(|(i, _)| i);
    let mut keep: Vec<usize> = ends.into_iter().chain(extremes).collect();
    keep.sort_unstable();
    keep.dedup();
    keep
}

/// [`downsample`] of the points of a raw series whose steps never decrease
/// (`extremes.steps_sorted()`), restricted to steps in `steps`, without
/// reading every point: a step range and each bucket's edges are found by
/// binary search on the steps, and a bucket's minimum and maximum come from
/// `extremes` for the chunks it holds whole. Gives exactly what
/// [`downsample`] gives for the same points.
pub fn downsample_with_extremes(
    columns: &Columns<'_>,
    extremes: &Extremes<'_>,
    steps: Option<&RangeInclusive<i64>>,
    max_points: usize,
) -> Vec<MetricPoint> {
    let all = columns.steps;
    let (lo, hi) = match steps {
        Some(range) => (
            all.partition_point(|&s| s < *range.start()),
            all.partition_point(|&s| s <= *range.end()),
        ),
        None => (0, all.len()),
    };
    let hi = hi.max(lo);
    let point = |i: usize| columns.point(i);
    let max_points = max_points.max(POINTS_PER_BUCKET);
    if hi - lo <= max_points {
        return (lo..hi).filter_map(point).collect();
    }

    let buckets = (max_points / POINTS_PER_BUCKET) as i128;
    let (first, last) = (all[lo] as i128, all[hi - 1] as i128);
    let width = last - first + 1;
    if width <= 0 {
        // The table said the steps were in order and they are not (a file
        // made to lie): read the points after all.
        let points: Vec<MetricPoint> = (lo..hi).filter_map(point).collect();
        return downsample(&points, max_points);
    }
    let bucket_of = |step: i64| (step as i128 - first) * buckets / width;

    let mut out = Vec::with_capacity(max_points);
    let mut start = lo;
    while start < hi {
        let bucket = bucket_of(all[start]);
        // At least one point, should steps out of order mislead the search.
        let end = start
            + all[start..hi]
                .partition_point(|&s| bucket_of(s) == bucket)
                .max(1);
        let found = extremes.within(columns.values, start..end);
        out.extend(
            kept_positions(start..end, found)
                .into_iter()
                .filter_map(point),
        );
        start = end;
    }
    out
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

    use crate::series::extremes::{self, Extremes};
    use proptest::prelude::*;

    /// Steps that never decrease (repeats included), values with NaN,
    /// infinities, signed zeros and many ties.
    fn sorted_series() -> impl Strategy<Value = Vec<MetricPoint>> {
        let value = prop_oneof![
            4 => (0i32..20).prop_map(|v| f64::from(v) * 0.5),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(-0.0),
            1 => Just(0.0),
        ];
        let point = (0i64..4, value);
        (0usize..3000, any::<i64>().prop_map(|s| s >> 8)).prop_flat_map(move |(len, start)| {
            proptest::collection::vec(point.clone(), len).prop_map(move |deltas| {
                let mut step = start;
                deltas
                    .into_iter()
                    .enumerate()
                    .map(|(i, (delta, value))| {
                        step += delta;
                        MetricPoint {
                            step,
                            timestamp: i as i64,
                            value,
                        }
                    })
                    .collect()
            })
        })
    }

    #[test]
    fn a_table_that_lies_about_step_order_cannot_make_sampling_panic() {
        // The last step is one below the first: a step width of zero.
        let points: Vec<MetricPoint> = (0..2000i64)
            .map(|i| MetricPoint {
                step: match i {
                    0 => 10,
                    1999 => 9,
                    _ => (i * 7919) % 1000 - 500,
                },
                timestamp: i,
                value: (i % 13) as f64,
            })
            .collect();
        let mut table = Vec::new();
        extremes::encode(&points, &mut table);
        table[4] = 1;
        let extremes = Extremes::parse(&table, points.len()).unwrap();
        let steps: Vec<i64> = points.iter().map(|p| p.step).collect();
        let timestamps: Vec<i64> = points.iter().map(|p| p.timestamp).collect();
        let values: Vec<f64> = points.iter().map(|p| p.value).collect();
        let columns = Columns {
            steps: &steps,
            timestamps: &timestamps,
            values: &values,
        };
        let empty = RangeInclusive::new(400, -400);
        for range in [None, Some(-100..=100), Some(empty)] {
            for max_points in [0, 9, 100, 5000] {
                let got = downsample_with_extremes(&columns, &extremes, range.as_ref(), max_points);
                assert!(got.len() <= points.len());
            }
        }
    }

    /// The sampler as first written: every point's bucket computed, every
    /// bucket scanned. Kept as the reference the others are checked against.
    fn naive(points: &[MetricPoint], max_points: usize) -> Vec<MetricPoint> {
        let max_points = max_points.max(POINTS_PER_BUCKET);
        let mut sorted = points.to_vec();
        sorted.sort_by_key(|p| p.step);
        if sorted.len() <= max_points {
            return sorted;
        }
        let buckets = (max_points / POINTS_PER_BUCKET) as i128;
        let first = sorted[0].step as i128;
        let width = sorted[sorted.len() - 1].step as i128 - first + 1;
        let bucket_of = |p: &MetricPoint| (p.step as i128 - first) * buckets / width;
        let mut out = Vec::new();
        let mut start = 0;
        while start < sorted.len() {
            let bucket = bucket_of(&sorted[start]);
            let len = sorted[start..]
                .iter()
                .take_while(|p| bucket_of(p) == bucket)
                .count();
            keep_extremes(&sorted[start..start + len], &mut out);
            start += len;
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The plain sampler and the table-assisted one give exactly the
        /// naive answer, bit for bit, for any step range and budget.
        #[test]
        fn sampling_with_the_table_equals_sampling_every_point(
            points in sorted_series(),
            max_points in 0usize..200,
            range in proptest::option::of((0usize..3000, 0usize..3000)),
        ) {
            let mut table = Vec::new();
            extremes::encode(&points, &mut table);
            let extremes = Extremes::parse(&table, points.len()).unwrap();
            prop_assert!(extremes.steps_sorted());

            let steps: Vec<i64> = points.iter().map(|p| p.step).collect();
            let timestamps: Vec<i64> = points.iter().map(|p| p.timestamp).collect();
            let values: Vec<f64> = points.iter().map(|p| p.value).collect();
            let columns = Columns { steps: &steps, timestamps: &timestamps, values: &values };

            let bound = |i: usize| steps.get(i).copied().unwrap_or(i as i64);
            let range = range.map(|(a, b)| bound(a)..=bound(b));
            let kept: Vec<MetricPoint> = points
                .iter()
                .filter(|p| range.as_ref().is_none_or(|r| r.contains(&p.step)))
                .copied()
                .collect();
            let want = naive(&kept, max_points);
            let plain = downsample(&kept, max_points);
            let got = downsample_with_extremes(&columns, &extremes, range.as_ref(), max_points);
            let bits = |v: &[MetricPoint]| -> Vec<(i64, i64, u64)> {
                v.iter().map(|p| (p.step, p.timestamp, p.value.to_bits())).collect()
            };
            prop_assert_eq!(bits(&plain), bits(&want));
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
