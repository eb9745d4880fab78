//! The first, straightforward decoder of packed blocks, kept as the
//! reference the fast decoder is tested against: one value unpacked at a
//! time, a fresh buffer for every lz4 block.

use super::{
    COLUMN_HEADER, DecodeError, Encoding, PART_POINTS, VALUES_F32, f64_from_f32_bits, fail, raw_len,
};
use crate::model::MetricPoint;

/// Replaces the contents of `out` with the `count` points of `block`.
pub fn decode(
    encoding: Encoding,
    block: &[u8],
    count: usize,
    out: &mut Vec<MetricPoint>,
) -> Result<(), DecodeError> {
    out.clear();
    if count > block.len().saturating_mul(64) {
        return fail(0, "point count impossible for the block's length");
    }
    match encoding {
        Encoding::Raw => decode_raw(block, count, out),
        Encoding::Packed => decode_packed(block, count, out),
        Encoding::PackedLz4 => decode_lz4(block, count, out),
        Encoding::PackedLz4Parts => decode_parts(block, count, out),
        Encoding::RawIndexed => {
            let table = crate::series::extremes::table_len(count);
            if block.len() != count * 24 + table {
                return fail(0, "raw block length does not match its point count");
            }
            let (columns, table) = block.split_at(count * 24);
            if let Err((at, reason)) = crate::series::extremes::Extremes::parse(table, count) {
                return fail(count * 24 + at, reason);
            }
            decode_raw(columns, count, out)
        }
    }
}

fn decode_lz4(block: &[u8], count: usize, out: &mut Vec<MetricPoint>) -> Result<(), DecodeError> {
    let packed = decompress(block, count)?;
    decode_packed(&packed, count, out)
}

/// The part table read and checked to tile the block, then one part after
/// another, each through `decode_lz4`.
fn decode_parts(block: &[u8], count: usize, out: &mut Vec<MetricPoint>) -> Result<(), DecodeError> {
    let word = |at: usize| {
        block
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let Some(parts) = word(0) else {
        return fail(0, "parts block shorter than its part count");
    };
    if parts != count.div_ceil(PART_POINTS) {
        return fail(0, "part count does not match the point count");
    }
    if block.len() < 4 + 4 * parts {
        return fail(4, "part table past the block end");
    }

    let mut spans = Vec::new();
    let mut at = 4 + 4 * parts;
    for i in 0..parts {
        let end = at.saturating_add(word(4 + 4 * i).unwrap_or(0));
        if end > block.len() {
            return fail(4 + 4 * i, "part past the block end");
        }
        spans.push(at..end);
        at = end;
    }
    if at != block.len() {
        return fail(at, "bytes after the last part");
    }

    for (i, span) in spans.into_iter().enumerate() {
        let points = (count - i * PART_POINTS).min(PART_POINTS);
        let mut decoded = Vec::new();
        let start = span.start;
        decode_lz4(&block[span], points, &mut decoded).map_err(|e| DecodeError {
            offset: start + e.offset,
            reason: e.reason,
        })?;
        out.extend(decoded);
    }
    Ok(())
}

fn decode_raw(block: &[u8], count: usize, out: &mut Vec<MetricPoint>) -> Result<(), DecodeError> {
    if raw_len(count) != Some(block.len()) {
        return fail(0, "raw block length does not match its point count");
    }
    let (steps, rest) = block.split_at(count * 8);
    let (timestamps, values) = rest.split_at(count * 8);

    out.reserve(count);
    let word = |column: &[u8], i: usize| le_u64(&column[i * 8..]);
    for i in 0..count {
        out.push(MetricPoint {
            step: word(steps, i) as i64,
            timestamp: word(timestamps, i) as i64,
            value: f64::from_bits(word(values, i)),
        });
    }
    Ok(())
}

fn decode_packed(
    block: &[u8],
    count: usize,
    out: &mut Vec<MetricPoint>,
) -> Result<(), DecodeError> {
    let Some((&flags, _)) = block.split_first() else {
        return fail(0, "packed block is empty");
    };
    if flags & !VALUES_F32 != 0 {
        return fail(0, "unknown flags in packed block");
    }
    let value_width = if flags & VALUES_F32 != 0 { 4 } else { 8 };

    let mut at = 1;
    let steps = IntColumn::parse(block, &mut at, count)?;
    let timestamps = IntColumn::parse(block, &mut at, count)?;
    let values = &block[at..];
    if Some(values.len()) != count.checked_mul(value_width) {
        return fail(at, "value streams do not match the point count");
    }

    out.reserve(count);
    let (mut steps, mut timestamps) = (steps, timestamps);
    if value_width == 4 {
        let streams = split::<4>(values, count);
        decode_chunks(&streams, &mut steps, &mut timestamps, out, |b| {
            f64_from_f32_bits(b as u32)
        });
    } else {
        let streams = split::<8>(values, count);
        decode_chunks(&streams, &mut steps, &mut timestamps, out, f64::from_bits);
    }
    Ok(())
}

/// Points decoded in chunks small enough to stay in L1 cache, so that the
/// output is written once, front to back.
fn decode_chunks<const W: usize>(
    streams: &[&[u8]; W],
    steps: &mut IntColumn<'_>,
    timestamps: &mut IntColumn<'_>,
    out: &mut Vec<MetricPoint>,
    widen: impl Fn(u64) -> f64,
) {
    const CHUNK: usize = 128;
    let count = streams.first().map_or(0, |s| s.len());
    let mut values = [0u64; CHUNK];
    let mut step = [0i64; CHUNK];
    let mut timestamp = [0i64; CHUNK];
    for start in (0..count).step_by(CHUNK) {
        let len = (count - start).min(CHUNK);
        unsplit(streams, start, &mut values[..len]);
        steps.fill(&mut step[..len]);
        timestamps.fill(&mut timestamp[..len]);
        out.extend((0..len).map(|j| MetricPoint {
            step: step[j],
            timestamp: timestamp[j],
            value: widen(values[j]),
        }));
    }
}

/// Unpacks an lz4 block whose declared size is bounded both by what lz4 can
/// expand (so a damaged length cannot make us allocate gigabytes) and by
/// the largest packed block of `count` points.
fn decompress(block: &[u8], count: usize) -> Result<Vec<u8>, DecodeError> {
    let Some(size) = block
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    else {
        return fail(0, "lz4 block shorter than its size prefix");
    };
    let size = size as usize;
    let max_packed = count
        .saturating_mul(24)
        .saturating_add(1 + 2 * COLUMN_HEADER);
    if size > block.len().saturating_mul(256) || size > max_packed {
        return fail(0, "lz4 block declares an impossible size");
    }

    let mut packed = vec![0; size];
    match lz4_flex::block::decompress_into(&block[4..], &mut packed) {
        Ok(n) if n == size => Ok(packed),
        Ok(_) => fail(4, "lz4 block is shorter than declared"),
        Err(_) => fail(4, "lz4 block does not decompress"),
    }
}

/// A parsed integer column of a packed block, decoded front to back.
struct IntColumn<'a> {
    reference: i64,
    width: usize,
    packed: &'a [u8],
    /// Index of the next value to decode.
    next: usize,
    /// The last value decoded (the base before the first).
    current: i64,
}

impl<'a> IntColumn<'a> {
    /// Parses the column of `n` integers at `*at` and moves `*at` past it.
    fn parse(block: &'a [u8], at: &mut usize, n: usize) -> Result<IntColumn<'a>, DecodeError> {
        if n == 0 {
            return Ok(IntColumn {
                reference: 0,
                width: 0,
                packed: &[],
                next: 0,
                current: 0,
            });
        }
        let Some(header) = block.get(*at..*at + COLUMN_HEADER) else {
            return fail(*at, "integer column header past the block end");
        };
        let width = header[16] as usize;
        if width > 64 {
            return fail(*at + 16, "integer column width over 64 bits");
        }
        *at += COLUMN_HEADER;

        let bytes = ((n as u128 - 1) * width as u128).div_ceil(8);
        let end = *at as u128 + bytes;
        if end > block.len() as u128 {
            return fail(*at, "packed integers past the block end");
        }
        let packed = &block[*at..end as usize];
        *at = end as usize;
        Ok(IntColumn {
            reference: le_u64(&header[8..16]) as i64,
            width,
            packed,
            next: 0,
            current: le_u64(&header[..8]) as i64,
        })
    }

    /// Writes the column's next `chunk.len()` values into `chunk`.
    fn fill(&mut self, chunk: &mut [i64]) {
        for slot in chunk {
            if self.next > 0 {
                let delta = unpack(self.packed, self.next - 1, self.width) as i64;
                self.current = self
                    .current
                    .wrapping_add(self.reference.wrapping_add(delta));
            }
            *slot = self.current;
            self.next += 1;
        }
    }
}

/// The `index`-th value of `width` bits; `packed` holds at least its bits.
fn unpack(packed: &[u8], index: usize, width: usize) -> u64 {
    if width == 0 {
        return 0;
    }
    let bit = index * width;
    let (byte, shift) = (bit / 8, bit % 8);
    let mask = u64::MAX >> (64 - width);

    // Fast path: one unaligned 8-byte load holds all the bits.
    if shift + width <= 64
        && let Some(word) = packed.get(byte..byte + 8)
    {
        return (le_u64(word) >> shift) & mask;
    }

    let mut window = [0u8; 16];
    let available = packed.len().saturating_sub(byte).min(16);
    window[..available].copy_from_slice(&packed[byte..byte + available]);
    (u128::from_le_bytes(window) >> shift) as u64 & mask
}

/// The `W` byte streams of `count` values each.
fn split<const W: usize>(streams: &[u8], count: usize) -> [&[u8]; W] {
    std::array::from_fn(|k| &streams[k * count..(k + 1) * count])
}

/// Values `start ..` back from their byte streams into `words`, with loops
/// plain enough to vectorise.
fn unsplit<const W: usize>(streams: &[&[u8]; W], start: usize, words: &mut [u64]) {
    words.fill(0);
    for (k, stream) in streams.iter().enumerate() {
        for (word, &byte) in words.iter_mut().zip(&stream[start..]) {
            *word |= u64::from(byte) << (8 * k);
        }
    }
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}
