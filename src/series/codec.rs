//! The block codec of sealed series files: one series in, one byte block out.
//!
//! Three encodings, chosen per block:
//!
//! - `Raw`: steps, timestamps and values as three little-endian 8-byte
//!   arrays. Biggest, but a reader can borrow it straight from the map.
//! - `Packed`: steps and timestamps as deltas with a frame of reference,
//!   bit-packed at the narrowest width that holds them; values as `f32`
//!   when every value is exactly an `f32` (the usual case: frameworks log
//!   float32 tensors), else as `f64`, split into byte streams so that the
//!   nearly constant sign/exponent bytes sit next to each other.
//! - `PackedLz4`: `Packed` compressed with lz4 when that is smaller; the
//!   byte streams above are what gives lz4 something to find.
//! - `PackedLz4Parts`: a long series as independent `PackedLz4` blocks of
//!   [`PART_POINTS`] points (the last holds the rest) behind a table of
//!   their lengths. A part's packed form fits in a core's cache between
//!   lz4 and the unpacking, and the parts decode on several cores.
//! - `RawIndexed`: `Raw` followed by the table of each chunk's extremes
//!   (`extremes.rs`), for hot series long enough that a plot should not
//!   read them whole.
//!
//! Arithmetic is wrapping everywhere, so any `i64` history (negative,
//! repeated, or jumping across the whole range) round-trips exactly, and
//! values are handled as bits, so NaN payloads survive.

mod bits;
#[cfg(test)]
mod reference;

use std::cell::Cell;

use super::extremes;
use super::file::u32_at;
use crate::model::MetricPoint;
use bits::{CHUNK, Unpacker};

/// How one block is laid out. The discriminant is the byte stored in the
/// file's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Raw = 0,
    Packed = 1,
    PackedLz4 = 2,
    PackedLz4Parts = 3,
    RawIndexed = 4,
}

impl Encoding {
    /// Every encoding, for tests and for callers that want to force one.
    pub const ALL: [Encoding; 5] = [
        Encoding::Raw,
        Encoding::Packed,
        Encoding::PackedLz4,
        Encoding::PackedLz4Parts,
        Encoding::RawIndexed,
    ];

    /// The encoding stored as `byte`, if any.
    pub fn from_byte(byte: u8) -> Option<Encoding> {
        match byte {
            0 => Some(Encoding::Raw),
            1 => Some(Encoding::Packed),
            2 => Some(Encoding::PackedLz4),
            3 => Some(Encoding::PackedLz4Parts),
            4 => Some(Encoding::RawIndexed),
            _ => None,
        }
    }

    /// Whether blocks start with the three columns, readable in place.
    pub fn is_raw(self) -> bool {
        matches!(self, Encoding::Raw | Encoding::RawIndexed)
    }

    /// How a hot series of `count` points is stored: raw, with the table of
    /// extremes once it is long enough for a plot to skip most of it.
    pub fn hot(count: usize) -> Encoding {
        if count >= extremes::INDEX_FROM {
            Encoding::RawIndexed
        } else {
            Encoding::Raw
        }
    }
}

/// Why a block failed to decode, and where inside the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub reason: &'static str,
}

fn fail<T>(offset: usize, reason: &'static str) -> Result<T, DecodeError> {
    Err(DecodeError { offset, reason })
}

/// Points per part of a `PackedLz4Parts` block: 64 Ki points pack into
/// about 300 KB, which stays in a core's cache.
pub const PART_POINTS: usize = 1 << 16;

/// Bytes of a raw block of `count` points.
pub fn raw_len(count: usize) -> Option<usize> {
    count.checked_mul(24)
}

/// Appends `points` to `out` in `encoding`.
pub fn encode(points: &[MetricPoint], encoding: Encoding, out: &mut Vec<u8>) {
    match encoding {
        Encoding::Raw => encode_raw(points, out),
        Encoding::Packed => encode_packed(points, out),
        Encoding::PackedLz4 => encode_lz4(points, out),
        Encoding::PackedLz4Parts => encode_parts(points, out),
        Encoding::RawIndexed => {
            encode_raw(points, out);
            extremes::encode(points, out);
        }
    }
}

fn encode_lz4(points: &[MetricPoint], out: &mut Vec<u8>) {
    let mut packed = Vec::new();
    encode_packed(points, &mut packed);
    out.extend_from_slice(&lz4_flex::block::compress_prepend_size(&packed));
}

/// The part count, each part's length, then the parts (see the module
/// documentation).
fn encode_parts(points: &[MetricPoint], out: &mut Vec<u8>) {
    let parts: Vec<Vec<u8>> = points
        .chunks(PART_POINTS)
        .map(|part| {
            let mut block = Vec::new();
            encode_lz4(part, &mut block);
            block
        })
        .collect();
    out.extend_from_slice(&(parts.len() as u32).to_le_bytes());
    for part in &parts {
        out.extend_from_slice(&(part.len() as u32).to_le_bytes());
    }
    for part in &parts {
        out.extend_from_slice(part);
    }
}

/// Appends `points` to `out` in whichever encoding is smallest, and says
/// which. A series longer than a part is compressed in parts.
pub fn encode_smallest(points: &[MetricPoint], out: &mut Vec<u8>) -> Encoding {
    let mut packed = Vec::new();
    encode_packed(points, &mut packed);
    let (compressed, lz4) = if points.len() > PART_POINTS {
        let mut parts = Vec::new();
        encode_parts(points, &mut parts);
        (parts, Encoding::PackedLz4Parts)
    } else {
        let block = lz4_flex::block::compress_prepend_size(&packed);
        (block, Encoding::PackedLz4)
    };
    let raw = points.len() * 24;

    if raw <= packed.len().min(compressed.len()) {
        encode_raw(points, out);
        Encoding::Raw
    } else if packed.len() <= compressed.len() {
        out.extend_from_slice(&packed);
        Encoding::Packed
    } else {
        out.extend_from_slice(&compressed);
        lz4
    }
}

/// Replaces the contents of `out` with the `count` points of `block`
/// (emptied on an error). The points are written over `out`'s own: a
/// buffer kept from an earlier read of the same length is not filled twice.
pub fn decode(
    encoding: Encoding,
    block: &[u8],
    count: usize,
    out: &mut Vec<MetricPoint>,
) -> Result<(), DecodeError> {
    // No encoding holds more than 64 points per byte (lz4 expands at most
    // 256 times, a packed point takes at least 4 bytes): a damaged count
    // fails here, before it can size the output.
    if count > block.len().saturating_mul(64) {
        out.clear();
        return fail(0, "point count impossible for the block's length");
    }
    out.truncate(count);
    out.resize(count, ZERO);

    let decoded = match encoding {
        Encoding::Raw => decode_raw(block, out),
        Encoding::Packed => decode_packed(block, out),
        Encoding::PackedLz4 => decode_lz4(block, out),
        Encoding::PackedLz4Parts => decode_parts(block, out),
        Encoding::RawIndexed => decode_raw_indexed(block, out),
    };
    if decoded.is_err() {
        out.clear();
    }
    decoded
}

/// What `decode` writes over.
const ZERO: MetricPoint = MetricPoint {
    step: 0,
    timestamp: 0,
    value: 0.0,
};

fn decode_lz4(block: &[u8], out: &mut [MetricPoint]) -> Result<(), DecodeError> {
    with_scratch(|scratch| {
        let packed = decompress(block, out.len(), scratch)?;
        decode_packed(packed, out)
    })
}

/// The parts of a `PackedLz4Parts` block, checked to tile it, each decoded
/// into its own stretch of `out`, on as many cores as repay the threads.
fn decode_parts(block: &[u8], out: &mut [MetricPoint]) -> Result<(), DecodeError> {
    let parts = out.len().div_ceil(PART_POINTS);
    let Some(declared) = block.get(..4).map(|b| u32_at(b, 0) as usize) else {
        return fail(0, "parts block shorter than its part count");
    };
    if declared != parts {
        return fail(0, "part count does not match the point count");
    }
    let Some(table) = block.get(4..4 + 4 * parts) else {
        return fail(4, "part table past the block end");
    };

    let mut jobs = Vec::with_capacity(parts);
    let mut at = 4 + 4 * parts;
    for ((i, len), slots) in table
        .chunks_exact(4)
        .enumerate()
        .zip(out.chunks_mut(PART_POINTS))
    {
        let end = at.saturating_add(u32_at(len, 0) as usize);
        let Some(part) = block.get(at..end) else {
            return fail(4 + 4 * i, "part past the block end");
        };
        jobs.push((at, part, slots));
        at = end;
    }
    if at != block.len() {
        return fail(at, "bytes after the last part");
    }

    crate::parallel::each(jobs, |(at, part, slots)| {
        decode_lz4(part, slots).map_err(|e| DecodeError {
            offset: at + e.offset,
            reason: e.reason,
        })
    })
}

fn encode_raw(points: &[MetricPoint], out: &mut Vec<u8>) {
    out.reserve(points.len() * 24);
    out.extend(points.iter().flat_map(|p| p.step.to_le_bytes()));
    out.extend(points.iter().flat_map(|p| p.timestamp.to_le_bytes()));
    out.extend(points.iter().flat_map(|p| p.value.to_bits().to_le_bytes()));
}

/// Bytes of a `RawIndexed` block of `count` points.
pub fn raw_indexed_len(count: usize) -> Option<usize> {
    raw_len(count)?.checked_add(extremes::table_len(count))
}

/// The columns of a `RawIndexed` block; its table is checked as well.
fn decode_raw_indexed(block: &[u8], out: &mut [MetricPoint]) -> Result<(), DecodeError> {
    let count = out.len();
    if raw_indexed_len(count) != Some(block.len()) {
        return fail(0, "raw block length does not match its point count");
    }
    let (columns, table) = block.split_at(count * 24);
    if let Err((at, reason)) = extremes::Extremes::parse(table, count) {
        return fail(count * 24 + at, reason);
    }
    decode_raw(columns, out)
}

fn decode_raw(block: &[u8], out: &mut [MetricPoint]) -> Result<(), DecodeError> {
    let count = out.len();
    if raw_len(count) != Some(block.len()) {
        return fail(0, "raw block length does not match its point count");
    }
    let (steps, rest) = block.split_at(count * 8);
    let (timestamps, values) = rest.split_at(count * 8);

    let columns = words(steps).zip(words(timestamps)).zip(words(values));
    for (slot, ((step, timestamp), value)) in out.iter_mut().zip(columns) {
        *slot = MetricPoint {
            step: step as i64,
            timestamp: timestamp as i64,
            value: f64::from_bits(value),
        };
    }
    Ok(())
}

/// The little-endian words of `column`, whose length is a multiple of 8.
fn words(column: &[u8]) -> impl Iterator<Item = u64> + '_ {
    column
        .as_chunks::<8>()
        .0
        .iter()
        .map(|w| u64::from_le_bytes(*w))
}

/// Flag bit of a packed block: values are stored as 4-byte `f32`s.
const VALUES_F32: u8 = 1;

/// Bytes of an integer column header: base, reference, width.
const COLUMN_HEADER: usize = 17;

fn encode_packed(points: &[MetricPoint], out: &mut Vec<u8>) {
    let narrow: Option<Vec<u32>> = points.iter().map(|p| f32_bits(p.value)).collect();
    out.push(if narrow.is_some() { VALUES_F32 } else { 0 });

    encode_ints(points.iter().map(|p| p.step), points.len(), out);
    encode_ints(points.iter().map(|p| p.timestamp), points.len(), out);

    match narrow {
        Some(bits) => split_streams(
            &bits.iter().map(|b| b.to_le_bytes()).collect::<Vec<_>>(),
            out,
        ),
        None => {
            let bytes: Vec<[u8; 8]> = points
                .iter()
                .map(|p| p.value.to_bits().to_le_bytes())
                .collect();
            split_streams(&bytes, out)
        }
    }
}

fn decode_packed(block: &[u8], out: &mut [MetricPoint]) -> Result<(), DecodeError> {
    let count = out.len();
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

    if value_width == 4 {
        decode_points(split::<4>(values, count), steps, timestamps, out, widen_f32);
    } else {
        decode_points(split::<8>(values, count), steps, timestamps, out, widen_f64);
    }
    Ok(())
}

/// Points decoded a chunk at a time, small enough to stay in L1 cache, so
/// that the output is written once, front to back. The first point holds
/// the columns' bases; chunks of deltas follow, each starting on a byte.
fn decode_points<const W: usize>(
    streams: [&[u8]; W],
    mut steps: IntColumn<'_>,
    mut timestamps: IntColumn<'_>,
    out: &mut [MetricPoint],
    widen: fn(&[[u8; W]], &mut [f64]),
) {
    let Some((first, rest)) = out.split_first_mut() else {
        return;
    };
    let mut bytes = [[0u8; W]; CHUNK];
    let mut values = [0f64; CHUNK];
    transpose(&streams, 0, &mut bytes[..1]);
    widen(&bytes[..1], &mut values[..1]);
    *first = MetricPoint {
        step: steps.current,
        timestamp: timestamps.current,
        value: values[0],
    };

    for (i, slots) in rest.chunks_mut(CHUNK).enumerate() {
        let len = slots.len();
        let step = &steps.next_chunk()[..len];
        let timestamp = &timestamps.next_chunk()[..len];
        transpose(&streams, 1 + i * CHUNK, &mut bytes[..len]);
        widen(&bytes[..len], &mut values[..len]);
        let points = step.iter().zip(timestamp).zip(&values[..len]);
        for (slot, ((&step, &timestamp), &value)) in slots.iter_mut().zip(points) {
            *slot = MetricPoint {
                step,
                timestamp,
                value,
            };
        }
    }
}

thread_local! {
    /// This thread's buffer for the packed form of lz4 blocks, kept between
    /// reads so that decoding a big series does not allocate and zero
    /// megabytes each time.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Largest scratch buffer kept for the next read (a 1,000,000-point float32
/// curve needs 4.4 MB); a bigger one is freed after use.
const SCRATCH_KEEP: usize = 16 << 20;

/// Runs `f` with this thread's scratch buffer (a new one if the thread is
/// shutting down).
fn with_scratch<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    let mut scratch = SCRATCH.try_with(Cell::take).unwrap_or_default();
    let result = f(&mut scratch);
    if scratch.capacity() <= SCRATCH_KEEP {
        let _ = SCRATCH.try_with(|cell| cell.set(scratch));
    }
    result
}

/// Unpacks an lz4 block into `scratch` and returns the packed block. Its
/// declared size is bounded both by what lz4 can expand (so a damaged
/// length cannot make us allocate gigabytes) and by the largest packed
/// block of `count` points.
fn decompress<'s>(
    block: &[u8],
    count: usize,
    scratch: &'s mut Vec<u8>,
) -> Result<&'s [u8], DecodeError> {
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

    // The buffer holds an earlier block's bytes, but none can show through:
    // lz4 writes its output front to back, so `n == size` means every byte
    // was written, and match copies only read what this block wrote
    // (lz4_flex checks their offsets since 0.12.1, RUSTSEC-2026-0041).
    if scratch.len() < size {
        scratch.resize(size, 0);
    }
    let packed = &mut scratch[..size];
    match lz4_flex::block::decompress_into(&block[4..], packed) {
        Ok(n) if n == size => Ok(packed),
        Ok(_) => fail(4, "lz4 block is shorter than declared"),
        Err(_) => fail(4, "lz4 block does not decompress"),
    }
}

/// Column of `n` integers: the first value, then the deltas between
/// neighbours minus their minimum (the reference), packed at `width` bits.
fn encode_ints(values: impl Iterator<Item = i64> + Clone, n: usize, out: &mut Vec<u8>) {
    let mut it = values.clone();
    let Some(base) = it.next() else { return };
    let deltas: Vec<i64> = values
        .clone()
        .zip(it)
        .map(|(a, b)| b.wrapping_sub(a))
        .collect();
    let reference = deltas.iter().copied().min().unwrap_or(0);
    let offsets: Vec<u64> = deltas
        .iter()
        .map(|d| d.wrapping_sub(reference) as u64)
        .collect();
    let width = offsets
        .iter()
        .map(|o| 64 - o.leading_zeros())
        .max()
        .unwrap_or(0);

    out.extend_from_slice(&base.to_le_bytes());
    out.extend_from_slice(&reference.to_le_bytes());
    out.push(width as u8);
    bits::pack(&offsets, width, out);
    debug_assert_eq!(offsets.len(), n.saturating_sub(1));
}

/// A parsed integer column of a packed block, decoded a chunk at a time.
struct IntColumn<'a> {
    packed: Unpacker<'a>,
    /// Index of the next delta to decode: a multiple of [`CHUNK`].
    next: usize,
    /// The last value decoded: the base before any delta.
    current: i64,
    /// The current chunk's deltas.
    deltas: [i64; CHUNK],
    /// At width 0, where every delta is the reference, what each chunk adds
    /// to the value before it: 1, 2, 3, ... times the reference.
    ramp: [i64; CHUNK],
    /// The current chunk's values.
    values: [i64; CHUNK],
}

impl<'a> IntColumn<'a> {
    /// Parses the column of `n` integers at `*at` and moves `*at` past it.
    fn parse(block: &'a [u8], at: &mut usize, n: usize) -> Result<IntColumn<'a>, DecodeError> {
        if n == 0 {
            return Ok(IntColumn::new(0, Unpacker::new(&[], 0, 0)));
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
        let (base, reference) = (le_u64(&header[..8]), le_u64(&header[8..16]));
        let packed = Unpacker::new(packed, width, reference as i64);
        Ok(IntColumn::new(base as i64, packed))
    }

    fn new(base: i64, packed: Unpacker<'a>) -> IntColumn<'a> {
        let mut column = IntColumn {
            packed,
            next: 0,
            current: base,
            deltas: [0; CHUNK],
            ramp: [0; CHUNK],
            values: [0; CHUNK],
        };
        if packed.width() == 0 {
            packed.chunk(0, &mut column.deltas);
            running_sums(0, &column.deltas, &mut column.ramp);
        }
        column
    }

    /// The column's next [`CHUNK`] values after the base; those past its
    /// end are garbage.
    fn next_chunk(&mut self) -> &[i64; CHUNK] {
        let current = self.current;
        if self.packed.width() == 0 {
            // Steps 0, 1, 2, ... and the like: no running sum to wait for,
            // so this loop vectorises.
            for (value, &step) in self.values.iter_mut().zip(&self.ramp) {
                *value = current.wrapping_add(step);
            }
        } else {
            self.packed.chunk(self.next, &mut self.deltas);
            running_sums(current, &self.deltas, &mut self.values);
        }
        self.current = self.values[CHUNK - 1];
        self.next += CHUNK;
        &self.values
    }
}

/// Writes `current` plus the running sums of `deltas` into `values`: one
/// addition per value on the chain from one value to the next.
fn running_sums(mut current: i64, deltas: &[i64; CHUNK], values: &mut [i64; CHUNK]) {
    for (value, &delta) in values.iter_mut().zip(deltas) {
        current = current.wrapping_add(delta);
        *value = current;
    }
}

/// Writes byte `k` of every value, for k = 0, 1, ...: stream after stream.
fn split_streams<const W: usize>(values: &[[u8; W]], out: &mut Vec<u8>) {
    out.reserve(values.len() * W);
    for k in 0..W {
        out.extend(values.iter().map(|v| v[k]));
    }
}

/// The `W` byte streams of `count` values each.
fn split<const W: usize>(streams: &[u8], count: usize) -> [&[u8]; W] {
    std::array::from_fn(|k| &streams[k * count..(k + 1) * count])
}

/// The bytes of values `start .. start + out.len()` back from their
/// streams, in a loop plain enough to vectorise.
fn transpose<const W: usize>(streams: &[&[u8]; W], start: usize, out: &mut [[u8; W]]) {
    let streams = streams.map(|stream| &stream[start..start + out.len()]);
    for (i, bytes) in out.iter_mut().enumerate() {
        *bytes = streams.map(|stream| stream[i]);
    }
}

/// Values stored as `f32` bits. The hardware conversion vectorises but
/// quiets signalling NaNs, so a chunk holding a NaN or an infinity is
/// converted again by hand.
fn widen_f32(bytes: &[[u8; 4]], out: &mut [f64]) {
    let mut special = false;
    for (value, bytes) in out.iter_mut().zip(bytes) {
        let bits = u32::from_le_bytes(*bytes);
        *value = f64::from(f32::from_bits(bits));
        special |= bits & F32_EXPONENT == F32_EXPONENT;
    }
    if special {
        for (value, bytes) in out.iter_mut().zip(bytes) {
            *value = f64_from_f32_bits(u32::from_le_bytes(*bytes));
        }
    }
}

/// Exponent bits of an `f32`; all set for NaN and the infinities.
const F32_EXPONENT: u32 = 0x7f80_0000;

/// Values stored as `f64` bits.
fn widen_f64(bytes: &[[u8; 8]], out: &mut [f64]) {
    for (value, bytes) in out.iter_mut().zip(bytes) {
        *value = f64::from_bits(u64::from_le_bytes(*bytes));
    }
}

/// The `f32` bits that widen back to exactly `value`, NaN payload included,
/// or `None` when `value` is not an `f32`.
fn f32_bits(value: f64) -> Option<u32> {
    if !value.is_nan() {
        let narrow = value as f32;
        return (f64::from(narrow).to_bits() == value.to_bits()).then(|| narrow.to_bits());
    }

    // A NaN's payload is kept by hand: casts may quiet or change payloads.
    let bits = value.to_bits();
    let mantissa = bits & ((1 << 52) - 1);
    if mantissa & ((1 << 29) - 1) != 0 {
        return None;
    }
    let sign = ((bits >> 63) as u32) << 31;
    Some(sign | 0x7f80_0000 | (mantissa >> 29) as u32)
}

/// Inverse of [`f32_bits`].
fn f64_from_f32_bits(bits: u32) -> f64 {
    let narrow = f32::from_bits(bits);
    if !narrow.is_nan() {
        return f64::from(narrow);
    }
    let sign = u64::from(bits >> 31) << 63;
    let mantissa = u64::from(bits & 0x007f_ffff) << 29;
    f64::from_bits(sign | (0x7ff << 52) | mantissa)
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(step: i64, timestamp: i64, value: f64) -> MetricPoint {
        MetricPoint {
            step,
            timestamp,
            value,
        }
    }

    fn same(a: &[MetricPoint], b: &[MetricPoint]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                x.step == y.step
                    && x.timestamp == y.timestamp
                    && x.value.to_bits() == y.value.to_bits()
            })
    }

    fn round_trips_everywhere(points: &[MetricPoint]) {
        for encoding in Encoding::ALL {
            let mut block = Vec::new();
            encode(points, encoding, &mut block);
            let mut back = vec![p(9, 9, 9.0)];
            decode(encoding, &block, points.len(), &mut back).unwrap();
            assert!(same(points, &back), "{encoding:?}");
            agrees_with_reference(encoding, &block, points.len());
        }
        let mut block = Vec::new();
        let encoding = encode_smallest(points, &mut block);
        let mut back = Vec::new();
        decode(encoding, &block, points.len(), &mut back).unwrap();
        assert!(same(points, &back), "smallest {encoding:?}");
    }

    const NAN_PAYLOADS: [u64; 5] = [
        0x7ff8_0000_0000_0000,
        0xfff8_0000_0000_0000,
        0x7ff0_0000_0000_0001,
        0x7ff4_0000_2000_0000,
        0x7fff_ffff_ffff_ffff,
    ];

    #[test]
    fn special_values_round_trip_bit_exactly() {
        let mut points: Vec<_> = NAN_PAYLOADS
            .iter()
            .map(|&b| p(0, 0, f64::from_bits(b)))
            .collect();
        for v in [
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            1e-310,
        ] {
            points.push(p(-5, -5, v));
        }
        round_trips_everywhere(&points);
        round_trips_everywhere(&points[..1]);
        round_trips_everywhere(&[]);
    }

    #[test]
    fn f32_nan_payloads_keep_their_bits() {
        for bits in [
            0x7ff8_0000_0000_0000u64,
            0xfff4_0000_2000_0000,
            0x7ff0_0000_2000_0000,
        ] {
            let narrow = f32_bits(f64::from_bits(bits)).unwrap();
            assert_eq!(f64_from_f32_bits(narrow).to_bits(), bits);
        }
        assert_eq!(f32_bits(f64::from_bits(0x7ff0_0000_0000_0001)), None);
        assert_eq!(f32_bits(0.1), None);
        assert_eq!(f32_bits(0.1f32 as f64), Some(0.1f32.to_bits()));
    }

    #[test]
    fn extreme_integers_wrap_and_return() {
        let points = [
            p(i64::MIN, i64::MAX, 1.0),
            p(i64::MAX, i64::MIN, 2.0),
            p(0, 0, 3.0),
            p(i64::MIN, i64::MIN, 4.0),
        ];
        round_trips_everywhere(&points);
    }

    #[test]
    fn float32_training_curves_pack_small() {
        let points: Vec<_> = (0..10_000)
            .map(|i| {
                p(
                    i,
                    1_700_000_000_000 + i * 5 + (i * 7919) % 4,
                    (1.0 / (1.0 + i as f32)) as f64,
                )
            })
            .collect();
        let mut block = Vec::new();
        let encoding = encode_smallest(&points, &mut block);
        assert_ne!(encoding, Encoding::Raw);
        assert!(block.len() <= 4 * points.len(), "{} bytes", block.len());
        round_trips_everywhere(&points);
    }

    #[test]
    fn a_million_points_round_trip() {
        let points: Vec<_> = (0..1_000_000i64)
            .map(|i| p(i, 1_000 + i * 3, ((i % 977) as f32 * 0.25) as f64))
            .collect();
        round_trips_everywhere(&points);
    }

    #[test]
    fn a_series_in_parts_decodes_as_the_reference_does_when_damaged() {
        let len = 2 * PART_POINTS + 5;
        let points: Vec<_> = (0..len as i64)
            .map(|i| p(i, 10 * i, ((i % 89) as f32 * 0.5) as f64))
            .collect();
        let mut block = Vec::new();
        assert_eq!(
            encode_smallest(&points, &mut block),
            Encoding::PackedLz4Parts
        );

        let part_len = |i: usize| u32_at(&block, 4 + 4 * i) as usize;
        let second = 16 + part_len(0);
        let third = second + part_len(1);
        let places = (0..20).chain([
            second,
            second + 7,
            third - 1,
            third,
            third + 30,
            block.len() - 1,
        ]);
        for at in places {
            let mut damaged = block.clone();
            damaged[at] ^= 0x5a;
            agrees_with_reference(Encoding::PackedLz4Parts, &damaged, len);
        }
        for cut in [0, 3, 4, 15, 16, second, third, block.len() - 1] {
            agrees_with_reference(Encoding::PackedLz4Parts, &block[..cut], len);
        }
        for count in [len - 1, len + 1, PART_POINTS, 3 * PART_POINTS + 1] {
            agrees_with_reference(Encoding::PackedLz4Parts, &block, count);
        }
    }

    #[test]
    fn decoding_writes_over_a_longer_buffer_and_empties_it_on_damage() {
        let points: Vec<_> = (0..300).map(|i| p(i, i, i as f64)).collect();
        for encoding in Encoding::ALL {
            let mut block = Vec::new();
            encode(&points, encoding, &mut block);
            let mut out = vec![p(5, 5, 5.0); 1000];
            decode(encoding, &block, points.len(), &mut out).unwrap();
            assert!(same(&points, &out), "{encoding:?}");
            assert!(decode(encoding, &block[..block.len() - 1], 300, &mut out).is_err());
            assert!(out.is_empty(), "{encoding:?}");
        }
    }

    #[test]
    fn damaged_blocks_are_errors_not_panics() {
        let points: Vec<_> = (0..50).map(|i| p(i, i * 2, i as f64 * 0.1)).collect();
        for encoding in Encoding::ALL {
            let mut block = Vec::new();
            encode(&points, encoding, &mut block);
            let mut out = Vec::new();
            for cut in 0..block.len() {
                assert!(decode(encoding, &block[..cut], points.len(), &mut out).is_err());
            }
            assert!(decode(encoding, &block, points.len() + 1, &mut out).is_err());
            for at in 0..block.len() {
                let mut damaged = block.clone();
                damaged[at] ^= 0x5a;
                agrees_with_reference(encoding, &damaged, points.len());
            }
        }
    }

    /// Decodes `block` with both decoders and checks that they agree: the
    /// same points bit for bit, or the same error.
    fn agrees_with_reference(encoding: Encoding, block: &[u8], count: usize) {
        let mut fast = vec![p(7, 7, 7.0)];
        let mut slow = Vec::new();
        let fast_result = decode(encoding, block, count, &mut fast);
        let slow_result = reference::decode(encoding, block, count, &mut slow);
        assert_eq!(fast_result, slow_result, "{encoding:?}, {count} points");
        if fast_result.is_ok() {
            assert!(same(&fast, &slow), "{encoding:?}, {count} points");
        }
    }

    /// A history whose steps are packed at `width` bits and whose
    /// timestamps at `64 - width`, from a fixed seed.
    fn history_at_width(width: u32, len: usize, narrow: bool) -> Vec<MetricPoint> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(width);
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let offsets = |width: u32, random: &mut dyn FnMut() -> u64| -> Vec<i64> {
            let top = u64::MAX.checked_shr(64 - width).unwrap_or(0);
            let mut value = random() as i64;
            let mut column = vec![value];
            for i in 1..len {
                let offset = match i {
                    1 => 0,
                    2 => top,
                    _ => random() & top,
                };
                value = value.wrapping_add(i64::MIN.wrapping_add(offset as i64));
                column.push(value);
            }
            column
        };
        let steps = offsets(width, &mut random);
        let timestamps = offsets(64 - width, &mut random);
        (0..len)
            .map(|i| {
                let value = f64::from_bits(random());
                let value = if narrow { value as f32 as f64 } else { value };
                p(steps[i], timestamps[i], value)
            })
            .collect()
    }

    #[test]
    fn every_width_and_chunk_edge_decodes_as_the_reference_does() {
        for width in 0..=64 {
            for len in [1, 2, 3, 128, 129, 130, 257, 1000] {
                for narrow in [true, false] {
                    let points = history_at_width(width, len, narrow);
                    let mut block = Vec::new();
                    encode(&points, Encoding::Packed, &mut block);
                    if len > 2 {
                        assert_eq!(u32::from(block[17]), width);
                    }
                    assert_eq!(block[0] == VALUES_F32, narrow);
                    round_trips_everywhere(&points);
                }
            }
        }
    }

    /// `len` values whose deltas are `reference` plus offsets of exactly
    /// `width` bits: one offset is 0 and one has bit `width - 1` set, and
    /// `reference` leaves room for the largest, so the encoder picks `width`.
    fn column_of_width(width: u32) -> impl Strategy<Value = Vec<i64>> {
        let top = if width == 0 {
            0
        } else {
            u64::MAX >> (64 - width)
        };
        let room = i64::MAX as i128 - top as i128;
        (
            any::<i64>(),
            (i64::MIN as i128..=room).prop_map(|r| r as i64),
            prop::collection::vec(0..=top, 2..600),
        )
            .prop_map(move |(base, reference, mut offsets)| {
                offsets[0] = 0;
                offsets[1] |= top ^ (top >> 1);
                let mut value = base;
                let mut column = vec![base];
                column.extend(offsets.iter().map(|&offset| {
                    value = value.wrapping_add(reference.wrapping_add(offset as i64));
                    value
                }));
                column
            })
    }

    /// Points whose steps and timestamps are packed at any two widths, with
    /// values that are all `f32` or not.
    fn history_of_widths() -> impl Strategy<Value = (Vec<MetricPoint>, u32, u32)> {
        (0..=64u32, 0..=64u32, any::<bool>())
            .prop_flat_map(|(step_width, time_width, narrow)| {
                let values = prop::collection::vec(value(), 600);
                let columns = (column_of_width(step_width), column_of_width(time_width));
                (columns, values, Just((step_width, time_width, narrow)))
            })
            .prop_map(
                |((steps, timestamps), values, (step_width, time_width, narrow))| {
                    let points = steps
                        .into_iter()
                        .zip(timestamps)
                        .zip(values)
                        .map(|((step, timestamp), v)| {
                            p(step, timestamp, if narrow { v as f32 as f64 } else { v })
                        })
                        .collect();
                    (points, step_width, time_width)
                },
            )
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            any::<f32>().prop_map(f64::from),
            prop::sample::select(NAN_PAYLOADS.to_vec()).prop_map(f64::from_bits),
            prop::sample::select(vec![f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0]),
        ]
    }

    fn history() -> impl Strategy<Value = Vec<MetricPoint>> {
        let point = (-3i64..1000, 0i64..20, value(), any::<bool>());
        (
            prop::collection::vec(point, 0..300),
            any::<i64>(),
            any::<bool>(),
        )
            .prop_map(|(raw, start, narrow)| {
                let mut ts = start;
                raw.into_iter()
                    .map(|(step, dt, v, wild)| {
                        ts = ts.wrapping_add(dt);
                        let v = if narrow { v as f32 as f64 } else { v };
                        p(
                            if wild {
                                step.wrapping_mul(1 << 40)
                            } else {
                                step
                            },
                            ts,
                            v,
                        )
                    })
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn random_histories_round_trip_in_every_encoding(points in history()) {
            round_trips_everywhere(&points);
        }

        #[test]
        fn every_width_decodes_as_the_reference_does(
            (points, step_width, time_width) in history_of_widths(),
        ) {
            let mut block = Vec::new();
            encode(&points, Encoding::Packed, &mut block);
            prop_assert_eq!(block[17], step_width as u8);
            let step_bits = (points.len() - 1) * step_width as usize;
            let time_header = 1 + COLUMN_HEADER + step_bits.div_ceil(8);
            prop_assert_eq!(block[time_header + 16], time_width as u8);
            round_trips_everywhere(&points);
        }

        #[test]
        fn damaged_blocks_decode_as_the_reference_does(
            (points, _, _) in history_of_widths(),
            lz4 in any::<bool>(),
            cut in any::<prop::sample::Index>(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 0..4),
            count_change in -1i64..=1,
        ) {
            let encoding = if lz4 { Encoding::PackedLz4 } else { Encoding::Packed };
            let mut block = Vec::new();
            encode(&points, encoding, &mut block);
            for (at, flip) in flips {
                let at = at.index(block.len());
                block[at] ^= flip;
            }
            let count = (points.len() as i64 + count_change) as usize;
            agrees_with_reference(encoding, &block, count);
            agrees_with_reference(encoding, &block[..cut.index(block.len())], count);
        }
    }
}
