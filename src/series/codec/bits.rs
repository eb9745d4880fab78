//! Bit-unpacking of the integer columns of packed blocks: deltas stored as
//! a frame of reference (their minimum) plus offsets of `width` bits.
//!
//! Deltas are unpacked [`CHUNK`] at a time by a kernel compiled once per
//! width, so that every shift, mask and byte offset is a constant: a group
//! of 8 values of `W` bits fills exactly `W` bytes, and a chunk starts on a
//! group boundary. Unpacking one value at a time with a width only known at
//! run time cost most of a decode.

/// Values unpacked per call; a multiple of 8 so that chunks start on a byte.
pub const CHUNK: usize = 128;

/// Bytes a kernel may read past the chunk's own: a load at any value's first
/// byte stays inside the slice.
const SLACK: usize = 16;

/// Unpacks the chunk whose bits start at the first byte of its argument,
/// which holds at least [`window_len`] bytes, adding the reference.
type Kernel = fn(&[u8], i64, &mut [i64; CHUNK]);

macro_rules! kernels {
    ($($width:literal)*) => { [$(unpack_chunk::<$width> as Kernel),*] };
}

/// The kernel for each width 0..=64.
const KERNELS: [Kernel; 65] = kernels!(
    0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
    32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60
    61 62 63 64
);

/// Deltas packed at one width, unpacked a chunk at a time.
#[derive(Clone, Copy)]
pub struct Unpacker<'a> {
    packed: &'a [u8],
    width: usize,
    reference: i64,
    kernel: Kernel,
}

impl<'a> Unpacker<'a> {
    /// Deltas of `reference` plus offsets of `width` bits (at most 64)
    /// packed in `packed`, least significant bit first.
    pub fn new(packed: &'a [u8], width: usize, reference: i64) -> Unpacker<'a> {
        Unpacker {
            packed,
            width,
            reference,
            kernel: KERNELS[width],
        }
    }

    /// Bits per value.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Deltas `first .. first + CHUNK` into `out`, `first` being a multiple
    /// of [`CHUNK`]. Deltas past the end of `packed` come out as garbage:
    /// the caller knows how many it asked for.
    pub fn chunk(&self, first: usize, out: &mut [i64; CHUNK]) {
        debug_assert_eq!(first % CHUNK, 0);
        let start = (first / 8 * self.width).min(self.packed.len());
        let len = window_len(self.width);
        match self.packed.get(start..start + len) {
            Some(window) => (self.kernel)(window, self.reference, out),
            None => {
                // The last chunk: copy what is left into a zeroed window.
                let mut padded = [0u8; CHUNK / 8 * 64 + SLACK];
                let rest = &self.packed[start..];
                padded[..rest.len()].copy_from_slice(rest);
                (self.kernel)(&padded[..len], self.reference, out)
            }
        }
    }
}

/// Bytes a chunk of `width`-bit values spans, with the slack its loads need.
fn window_len(width: usize) -> usize {
    CHUNK / 8 * width + SLACK
}

/// Unpacks [`CHUNK`] offsets of `W` bits from `window` (at least
/// [`window_len`]`(W)` bytes), group of 8 after group of 8, and adds
/// `reference` to each.
fn unpack_chunk<const W: usize>(window: &[u8], reference: i64, out: &mut [i64; CHUNK]) {
    if W == 0 {
        out.fill(reference);
        return;
    }
    let mask = u64::MAX >> (64 - W);
    for (g, values) in out.as_chunks_mut::<8>().0.iter_mut().enumerate() {
        // The group's W bytes and the slack: every offset below is a constant.
        let group = &window[g * W..g * W + W + SLACK];
        for (j, value) in values.iter_mut().enumerate() {
            let (byte, shift) = (j * W / 8, j * W % 8);
            // A value that spans more than 8 bytes needs a 16-byte load.
            let bits = if shift + W <= 64 {
                le_u64(&group[byte..byte + 8]) >> shift
            } else {
                (le_u128(&group[byte..byte + 16]) >> shift) as u64
            };
            *value = reference.wrapping_add((bits & mask) as i64);
        }
    }
}

fn le_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
}

fn le_u128(bytes: &[u8]) -> u128 {
    u128::from_le_bytes(bytes.try_into().expect("16 bytes"))
}

/// Writes each value's low `width` bits, least significant bit first.
pub fn pack(values: &[u64], width: u32, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let mut acc: u128 = 0;
    let mut bits = 0;
    for &v in values {
        acc |= (v as u128) << bits;
        bits += width;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}
