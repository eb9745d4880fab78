//! Where each chunk of a raw series has its smallest and its largest value.
//!
//! A plot downsamples a series into step buckets and keeps each bucket's
//! first, last, minimum and maximum point (`sample.rs`). The first and last
//! are found by their steps; the minimum and maximum need every value of
//! the bucket, unless the series carries this table: for every
//! [`CHUNK`] points, the position of the first smallest and of the last
//! largest value that is not NaN. A bucket then reads only the chunks its
//! edges cut, and takes whole chunks' extremes from the table.
//!
//! Hot series (runs still RUNNING, the ones a dashboard redraws) are stored
//! raw with this table after their columns (`Encoding::RawIndexed`).

use std::ops::Range;

use super::file::u32_at;
use crate::model::MetricPoint;

/// Points per chunk of the table.
pub const CHUNK: usize = 256;

/// Series at least this long carry a table; shorter ones are read whole.
pub const INDEX_FROM: usize = 4 * CHUNK;

/// Flag: steps never decrease in logging order, so a step range is a
/// range of positions.
const STEPS_SORTED: u32 = 1;

/// A chunk with no value that is not NaN.
const NONE: u32 = u32::MAX;

/// Offsets of a chunk's two positions within its 8 bytes of the table.
const MIN_SLOT: usize = 0;
const MAX_SLOT: usize = 4;

/// Bytes of the table of a series of `count` points: the chunk size and
/// the flags, then two positions per chunk.
pub fn table_len(count: usize) -> usize {
    8 + 8 * count.div_ceil(CHUNK)
}

/// Appends the table of `points` to `out`.
pub fn encode(points: &[MetricPoint], out: &mut Vec<u8>) {
    let sorted = points.windows(2).all(|w| w[0].step <= w[1].step);
    out.extend_from_slice(&(CHUNK as u32).to_le_bytes());
    out.extend_from_slice(&(if sorted { STEPS_SORTED } else { 0 }).to_le_bytes());
    for chunk in points.chunks(CHUNK) {
        let found = Extreme::of(chunk.iter().map(|p| p.value).enumerate());
        let position = |at: Option<usize>| at.map_or(NONE, |i| i as u32);
        out.extend_from_slice(&position(found.min.map(|m| m.0)).to_le_bytes());
        out.extend_from_slice(&position(found.max.map(|m| m.0)).to_le_bytes());
    }
}

/// The first smallest and the last largest value seen, NaN skipped, by
/// total order (so -0.0 is below 0.0): the minimum and maximum a bucket
/// keeps, as `sample::downsample` picks them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extreme {
    pub min: Option<(usize, f64)>,
    pub max: Option<(usize, f64)>,
}

impl Extreme {
    /// The extremes of `(position, value)` pairs taken in position order.
    pub fn of(values: impl Iterator<Item = (usize, f64)>) -> Extreme {
        let mut found = Extreme::default();
        for (at, value) in values {
            found.see_min(at, value);
            found.see_max(at, value);
        }
        found
    }

    /// A candidate minimum at a position after every one seen so far.
    pub fn see_min(&mut self, at: usize, value: f64) {
        if !value.is_nan() && self.min.is_none_or(|(_, m)| value.total_cmp(&m).is_lt()) {
            self.min = Some((at, value));
        }
    }

    /// A candidate maximum at a position after every one seen so far.
    pub fn see_max(&mut self, at: usize, value: f64) {
        if !value.is_nan() && self.max.is_none_or(|(_, m)| value.total_cmp(&m).is_ge()) {
            self.max = Some((at, value));
        }
    }
}

/// A checked table over a series of `count` points.
#[derive(Debug, Clone, Copy)]
pub struct Extremes<'a> {
    positions: &'a [u8],
    count: usize,
    steps_sorted: bool,
}

impl<'a> Extremes<'a> {
    /// The table in `bytes` for a series of `count` points; every position
    /// is checked to lie inside its chunk, so reads need no further check.
    pub fn parse(bytes: &'a [u8], count: usize) -> Result<Extremes<'a>, (usize, &'static str)> {
        if bytes.len() != table_len(count) {
            return Err((0, "extremes table does not match the point count"));
        }
        if u32_at(bytes, 0) as usize != CHUNK {
            return Err((0, "unknown extremes chunk size"));
        }
        let flags = u32_at(bytes, 4);
        if flags & !STEPS_SORTED != 0 {
            return Err((4, "unknown extremes flags"));
        }
        let table = Extremes {
            positions: &bytes[8..],
            count,
            steps_sorted: flags & STEPS_SORTED != 0,
        };
        for chunk in 0..count.div_ceil(CHUNK) {
            let len = table.chunk(chunk).len();
            for slot in [MIN_SLOT, MAX_SLOT] {
                if table.position(chunk, slot).is_some_and(|p| p >= len) {
                    return Err((8 + 8 * chunk + slot, "extremes position outside its chunk"));
                }
            }
        }
        Ok(table)
    }

    /// Whether steps never decrease in logging order.
    pub fn steps_sorted(&self) -> bool {
        self.steps_sorted
    }

    /// The position within chunk `chunk` stored in `slot`, if any.
    fn position(&self, chunk: usize, slot: usize) -> Option<usize> {
        let position = u32_at(self.positions, 8 * chunk + slot);
        (position != NONE).then_some(position as usize)
    }

    /// The positions of the series that chunk `chunk` covers.
    fn chunk(&self, chunk: usize) -> Range<usize> {
        let start = chunk * CHUNK;
        start..(start + CHUNK).min(self.count)
    }

    /// The extremes of `values[range]`, `values` being the whole series:
    /// chunks that lie inside the range from the table, the rest read.
    pub fn within(&self, values: &[f64], range: Range<usize>) -> Extreme {
        let mut found = Extreme::default();
        let end = range.end.min(self.count);
        let mut at = range.start;
        while at < end {
            let chunk = at / CHUNK;
            let span = self.chunk(chunk);
            if at == span.start && span.end <= end {
                let value = |slot| {
                    let i = span.start + self.position(chunk, slot)?;
                    Some((i, *values.get(i)?))
                };
                if let Some((i, v)) = value(MIN_SLOT) {
                    found.see_min(i, v);
                }
                if let Some((i, v)) = value(MAX_SLOT) {
                    found.see_max(i, v);
                }
                at = span.end;
            } else {
                let stop = span.end.min(end);
                for (i, &value) in values.iter().enumerate().take(stop).skip(at) {
                    found.see_min(i, value);
                    found.see_max(i, value);
                }
                at = stop;
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[f64]) -> Vec<MetricPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| MetricPoint {
                step: i as i64,
                timestamp: 0,
                value,
            })
            .collect()
    }

    #[test]
    fn any_range_gives_the_extremes_of_reading_it_whole() {
        let values: Vec<f64> = (0..1000)
            .map(|i| match i % 97 {
                0 => f64::NAN,
                1 => 7.0,
                k => ((i * 31) % 53) as f64 - f64::from(k as u8 % 3),
            })
            .collect();
        let mut table = Vec::new();
        encode(&points(&values), &mut table);
        let extremes = Extremes::parse(&table, values.len()).unwrap();
        for (start, end) in [
            (0, 1000),
            (0, 256),
            (3, 700),
            (255, 257),
            (512, 768),
            (999, 1000),
        ] {
            let got = extremes.within(&values, start..end);
            let want = Extreme::of((start..end).map(|i| (i, values[i])));
            assert_eq!(
                got.min.map(|m| m.0),
                want.min.map(|m| m.0),
                "{start}..{end}"
            );
            assert_eq!(
                got.max.map(|m| m.0),
                want.max.map(|m| m.0),
                "{start}..{end}"
            );
        }
    }

    #[test]
    fn damaged_tables_are_refused() {
        let mut table = Vec::new();
        encode(&points(&[1.0; 300]), &mut table);
        assert!(Extremes::parse(&table, 300).is_ok());
        assert!(Extremes::parse(&table, 600).is_err());
        assert!(Extremes::parse(&table[..table.len() - 1], 300).is_err());

        let damaged = |at: usize, byte: u8| {
            let mut t = table.clone();
            t[at] = byte;
            Extremes::parse(&t, 300).map(|_| ()).unwrap_err().1
        };
        assert_eq!(damaged(1, 0), "unknown extremes chunk size");
        assert_eq!(damaged(4, 3), "unknown extremes flags");
        // The second chunk holds 44 points: position 44 is outside it.
        assert_eq!(damaged(16, 44), "extremes position outside its chunk");
    }
}
