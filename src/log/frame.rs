//! One record on disk: a checksummed, optionally compressed frame.
//!
//! ```text
//! offset  size  field
//!      0     4  stored payload length, u32 LE (bytes after the 10-byte head)
//!      4     4  CRC32 (crc32fast, IEEE), u32 LE, over bytes 8 .. 10 + length
//!      8     1  record type (opaque to the log)
//!      9     1  flags: bit 0 = payload is lz4_flex size-prepended block
//!     10     n  stored payload
//! ```
//!
//! Decoding tells an *incomplete* frame (the bytes end before the frame does:
//! possibly a torn write) from a *corrupt* one (the bytes are all there but do
//! not check out), so that recovery can decide what is a torn tail.

use crate::error::{Error, Result};

/// Bytes before the payload: length, CRC, type, flags.
pub const FRAME_HEADER_LEN: usize = 10;

/// Largest stored or decompressed payload accepted; guards against garbage lengths.
pub const MAX_PAYLOAD_LEN: usize = 256 * 1024 * 1024;

/// Payloads at least this long are compressed when that makes them smaller.
pub const COMPRESS_THRESHOLD: usize = 512;

/// Flag bit: the stored payload is lz4_flex's size-prepended block format.
pub const FLAG_LZ4: u8 = 0b0000_0001;

/// Every flag bit this version understands; any other bit set is corruption.
const KNOWN_FLAGS: u8 = FLAG_LZ4;

/// Where the CRC-covered bytes start (type, flags, payload).
const CRC_START: usize = 8;

/// A decoded frame: its type and its payload, already decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame {
    pub record_type: u8,
    pub payload: Vec<u8>,
}

/// Why bytes did not decode into a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes end before the frame does; more bytes could complete it.
    Incomplete,
    /// The frame is all there but damaged (length, CRC, flags or lz4).
    Corrupt(String),
}

/// Appends the frame for `(record_type, payload)` to `out`.
///
/// Compresses payloads of at least [`COMPRESS_THRESHOLD`] bytes when lz4 makes
/// them smaller. Fails only for payloads over [`MAX_PAYLOAD_LEN`].
pub fn encode(record_type: u8, payload: &[u8], out: &mut Vec<u8>) -> Result<()> {
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(Error::invalid(format!(
            "log record of {} bytes exceeds the maximum of {MAX_PAYLOAD_LEN} bytes",
            payload.len()
        )));
    }

    let compressed = (payload.len() >= COMPRESS_THRESHOLD)
        .then(|| lz4_flex::block::compress_prepend_size(payload))
        .filter(|c| c.len() < payload.len());
    let (flags, stored) = match &compressed {
        Some(c) => (FLAG_LZ4, c.as_slice()),
        None => (0, payload),
    };

    // The length fits in u32: it is at most MAX_PAYLOAD_LEN (compression only shrinks).
    let len = stored.len() as u32;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[record_type, flags]);
    crc.update(stored);

    out.reserve(FRAME_HEADER_LEN + stored.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&[record_type, flags]);
    out.extend_from_slice(stored);
    Ok(())
}

/// Checks the frame at the start of `bytes` without decompressing it.
///
/// Returns the frame's total length on disk. Cheap enough to probe many
/// offsets, which recovery does to find out whether anything valid follows
/// a damaged frame.
pub fn check(bytes: &[u8]) -> Result<usize, DecodeError> {
    let Some(head) = bytes.get(..FRAME_HEADER_LEN) else {
        return Err(DecodeError::Incomplete);
    };
    let len = read_u32(head, 0) as usize;
    if len > MAX_PAYLOAD_LEN {
        return Err(DecodeError::Corrupt(format!(
            "frame length {len} exceeds the maximum of {MAX_PAYLOAD_LEN}"
        )));
    }

    let total = FRAME_HEADER_LEN + len;
    let Some(covered) = bytes.get(CRC_START..total) else {
        return Err(DecodeError::Incomplete);
    };
    let flags = head[9];
    if flags & !KNOWN_FLAGS != 0 {
        return Err(DecodeError::Corrupt(format!(
            "unknown frame flags {flags:#04x}"
        )));
    }

    let expected = read_u32(head, 4);
    let actual = crc32fast::hash(covered);
    if expected != actual {
        return Err(DecodeError::Corrupt(format!(
            "frame checksum mismatch: stored {expected:#010x}, computed {actual:#010x}"
        )));
    }
    Ok(total)
}

/// How many bytes [`check`] would checksum for the frame at the start of
/// `bytes`, or `None` if it fails before the checksum (length, presence,
/// flags). Lets a caller bound the work of probing many offsets.
pub fn checksum_cost(bytes: &[u8]) -> Option<usize> {
    let head = bytes.get(..FRAME_HEADER_LEN)?;
    let len = read_u32(head, 0) as usize;
    let fits = len <= MAX_PAYLOAD_LEN && FRAME_HEADER_LEN + len <= bytes.len();
    (fits && head[9] & !KNOWN_FLAGS == 0).then_some(len + 2)
}

/// Decodes the frame at the start of `bytes`; returns it and the bytes it used.
pub fn decode(bytes: &[u8]) -> Result<(DecodedFrame, usize), DecodeError> {
    let total = check(bytes)?;
    let record_type = bytes[8];
    let flags = bytes[9];
    let stored = &bytes[FRAME_HEADER_LEN..total];

    let payload = if flags & FLAG_LZ4 != 0 {
        decompress(stored)?
    } else {
        stored.to_vec()
    };
    Ok((
        DecodedFrame {
            record_type,
            payload,
        },
        total,
    ))
}

/// Undoes lz4_flex's size-prepended block format, bounding the allocation.
fn decompress(stored: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let Some(size_bytes) = stored.get(..4) else {
        return Err(DecodeError::Corrupt(
            "lz4 payload shorter than its size".into(),
        ));
    };
    let size = read_u32(size_bytes, 0) as usize;
    if size > MAX_PAYLOAD_LEN {
        return Err(DecodeError::Corrupt(format!(
            "lz4 payload claims {size} bytes, over the maximum of {MAX_PAYLOAD_LEN}"
        )));
    }

    let payload = lz4_flex::block::decompress(&stored[4..], size)
        .map_err(|e| DecodeError::Corrupt(format!("lz4 payload does not decompress: {e}")))?;
    if payload.len() != size {
        return Err(DecodeError::Corrupt(format!(
            "lz4 payload decompressed to {} bytes, expected {size}",
            payload.len()
        )));
    }
    Ok(payload)
}

/// Reads a little-endian u32 at `at`; callers guarantee `bytes` is long enough.
fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(record_type: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(record_type, payload, &mut out).unwrap();
        out
    }

    #[test]
    fn small_payload_round_trips_uncompressed() {
        let bytes = encoded(7, b"hello");
        assert_eq!(bytes.len(), FRAME_HEADER_LEN + 5);
        assert_eq!(bytes[9], 0);
        let (frame, used) = decode(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(frame.record_type, 7);
        assert_eq!(frame.payload, b"hello");
    }

    #[test]
    fn empty_payload_round_trips() {
        let bytes = encoded(0, b"");
        let (frame, used) = decode(&bytes).unwrap();
        assert_eq!(
            (frame.record_type, frame.payload.len(), used),
            (0, 0, FRAME_HEADER_LEN)
        );
    }

    #[test]
    fn large_repetitive_payload_is_compressed() {
        let payload = vec![42u8; 4096];
        let bytes = encoded(3, &payload);
        assert_eq!(bytes[9], FLAG_LZ4);
        assert!(bytes.len() < 1000);
        let (frame, _) = decode(&bytes).unwrap();
        assert_eq!(frame.payload, payload);
    }

    #[test]
    fn incompressible_payload_is_stored_plain() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let payload: Vec<u8> = (0..2000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 32) as u8
            })
            .collect();
        let bytes = encoded(3, &payload);
        assert_eq!(bytes[9], 0);
        assert_eq!(decode(&bytes).unwrap().0.payload, payload);
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let bytes = encoded(1, &[9u8; 100]);
        for cut in 0..bytes.len() {
            assert_eq!(
                decode(&bytes[..cut]),
                Err(DecodeError::Incomplete),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let bytes = encoded(1, &vec![5u8; 3000]);
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            assert!(decode(&damaged).is_err(), "flip at {at} went unnoticed");
        }
    }

    #[test]
    fn garbage_length_is_corrupt_not_incomplete() {
        let mut bytes = encoded(1, b"x");
        bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&bytes), Err(DecodeError::Corrupt(_))));
    }

    #[test]
    fn unknown_flag_is_corrupt_even_with_valid_crc() {
        let mut bytes = encoded(1, b"abc");
        bytes[9] = 0x80;
        let crc = crc32fast::hash(&bytes[8..]);
        bytes[4..8].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(decode(&bytes), Err(DecodeError::Corrupt(_))));
    }

    #[test]
    fn bad_lz4_with_valid_crc_is_corrupt() {
        let mut bytes = encoded(1, b"abcdefgh");
        bytes[9] = FLAG_LZ4;
        let crc = crc32fast::hash(&bytes[8..]);
        bytes[4..8].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(decode(&bytes), Err(DecodeError::Corrupt(_))));
    }
}
