//! Segment files: the header that opens each one, their names, and the walk
//! over the frames they hold.
//!
//! ```text
//! offset  size  field
//!      0     8  magic b"RUNSLOG\0"
//!      8     4  format version, u32 LE (currently 1)
//!     12     8  stream id, u64 LE
//!     20     8  segment number, u64 LE
//!     28     4  CRC32 of bytes 0 .. 28, u32 LE
//!     32        first frame
//! ```
//!
//! A segment is named `<20-digit zero-padded number>.seg`; numbers start at 1
//! and a stream's segments are consecutive.

use std::path::{Path, PathBuf};

use super::frame::{self, DecodeError, DecodedFrame};
use crate::error::{Error, Result};

/// Identifies a runstore log segment.
pub const SEGMENT_MAGIC: [u8; 8] = *b"RUNSLOG\0";

/// The segment format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Size of the segment header; the first frame starts here.
pub const SEGMENT_HEADER_LEN: usize = 32;

/// File extension of segment files.
pub const SEGMENT_EXTENSION: &str = "seg";

/// Digits in a segment or stream number as it appears in a name.
const NAME_DIGITS: usize = 20;

/// What the header of a segment says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub stream_id: u64,
    pub segment: u64,
}

impl SegmentHeader {
    /// The header's bytes, CRC included.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut out = [0u8; SEGMENT_HEADER_LEN];
        out[..8].copy_from_slice(&SEGMENT_MAGIC);
        out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[12..20].copy_from_slice(&self.stream_id.to_le_bytes());
        out[20..28].copy_from_slice(&self.segment.to_le_bytes());
        let crc = crc32fast::hash(&out[..28]);
        out[28..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads the header at the start of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, DecodeError> {
        let Some(head) = bytes.get(..SEGMENT_HEADER_LEN) else {
            return Err(DecodeError::Incomplete);
        };
        if head[..8] != SEGMENT_MAGIC {
            return Err(DecodeError::Corrupt(
                "not a runstore log segment (bad magic)".into(),
            ));
        }

        let stored = u32::from_le_bytes([head[28], head[29], head[30], head[31]]);
        let actual = crc32fast::hash(&head[..28]);
        if stored != actual {
            return Err(DecodeError::Corrupt(format!(
                "segment header checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"
            )));
        }

        let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if version != FORMAT_VERSION {
            return Err(DecodeError::Corrupt(format!(
                "segment format version {version}, this build reads version {FORMAT_VERSION}"
            )));
        }
        Ok(SegmentHeader {
            stream_id: read_u64(head, 12),
            segment: read_u64(head, 20),
        })
    }
}

/// Checks that `bytes` (the whole file at `path`) opens with the header of
/// segment `number` of stream `stream_id`.
pub(crate) fn check_header(bytes: &[u8], path: &Path, stream_id: u64, number: u64) -> Result<()> {
    let header = SegmentHeader::decode(bytes).map_err(|e| match e {
        DecodeError::Incomplete => Error::corrupt(path, 0, "segment shorter than its header"),
        DecodeError::Corrupt(reason) => Error::corrupt(path, 0, reason),
    })?;

    let expected = SegmentHeader {
        stream_id,
        segment: number,
    };
    if header != expected {
        return Err(Error::corrupt(
            path,
            0,
            format!(
                "header names stream {} segment {}, expected stream {stream_id} segment {number}",
                header.stream_id, header.segment
            ),
        ));
    }
    Ok(())
}

/// The file name of segment `number`.
pub fn segment_file_name(number: u64) -> String {
    format!("{number:0NAME_DIGITS$}.{SEGMENT_EXTENSION}")
}

/// Parses a 20-digit decimal name (a segment's stem, a stream's folder).
pub(crate) fn parse_number(name: &str) -> Option<u64> {
    let all_digits = name.len() == NAME_DIGITS && name.bytes().all(|b| b.is_ascii_digit());
    all_digits.then(|| name.parse().ok()).flatten()
}

/// The segments of the stream in `dir`, by number, checked to be consecutive.
///
/// Files not ending in `.seg` are ignored; a `.seg` file with a malformed
/// name, or a missing number between the first and the last, is corruption.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut segments = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(SEGMENT_EXTENSION) {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let Some(number) = parse_number(stem) else {
            return Err(Error::corrupt(&path, 0, "malformed segment file name"));
        };
        segments.push((number, path));
    }
    segments.sort();

    for pair in segments.windows(2) {
        if pair[1].0 != pair[0].0 + 1 {
            return Err(Error::corrupt(
                &pair[1].1,
                0,
                format!("segment {} is missing before this one", pair[0].0 + 1),
            ));
        }
    }
    Ok(segments)
}

/// What the walk over a segment finds at one offset.
#[derive(Debug)]
pub(crate) enum Step {
    /// The bytes end exactly here.
    End,
    /// A valid frame, and the offset where it ends.
    Frame(DecodedFrame, usize),
    /// A bad or incomplete frame, and no valid frame starts anywhere after
    /// it: what a crash in the middle of appending leaves (a torn tail).
    Tail(String),
    /// A bad or incomplete frame followed by a valid one: real damage.
    Damaged(String),
}

/// Decodes the frame at `offset` in a segment's bytes, classifying failures.
///
/// The torn-tail rule: a frame that fails to decode (incomplete or corrupt)
/// is a tail only if no offset after its start holds a frame that checks out.
/// Anything valid after it means the damage is not the crash's last write.
pub(crate) fn next_frame(bytes: &[u8], offset: usize) -> Step {
    let Some(rest) = bytes.get(offset..) else {
        return Step::Damaged("offset past the end of the segment".into());
    };
    if rest.is_empty() {
        return Step::End;
    }

    let reason = match frame::decode(rest) {
        Ok((frame, used)) => return Step::Frame(frame, offset + used),
        Err(DecodeError::Incomplete) => "incomplete frame".to_string(),
        Err(DecodeError::Corrupt(reason)) => reason,
    };
    if valid_frame_after(bytes, offset) {
        Step::Damaged(reason)
    } else {
        Step::Tail(reason)
    }
}

/// Checksum work allowed when probing, per byte left in the segment.
const PROBE_WORK_PER_BYTE: usize = 16;

/// Whether a frame that checks out starts at any offset after `offset`.
///
/// Most offsets fail on the length bound or the flags before any CRC. The
/// CRC work is bounded; past the bound the answer is "yes", which reports
/// damage rather than risk cutting frames that might be valid.
fn valid_frame_after(bytes: &[u8], offset: usize) -> bool {
    let rest = bytes.len().saturating_sub(offset);
    let mut budget = rest.saturating_mul(PROBE_WORK_PER_BYTE).max(1 << 20);
    for at in offset + 1..bytes.len() {
        let candidate = &bytes[at..];
        let Some(cost) = frame::checksum_cost(candidate) else {
            continue;
        };
        if cost > budget {
            return true;
        }
        budget -= cost;
        if frame::check(candidate).is_ok() {
            return true;
        }
    }
    false
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let header = SegmentHeader {
            stream_id: 9,
            segment: 12,
        };
        assert_eq!(SegmentHeader::decode(&header.encode()), Ok(header));
    }

    #[test]
    fn header_damage_is_detected_everywhere() {
        let bytes = SegmentHeader {
            stream_id: 1,
            segment: 1,
        }
        .encode();
        for at in 0..bytes.len() {
            let mut damaged = bytes;
            damaged[at] ^= 1;
            assert!(matches!(
                SegmentHeader::decode(&damaged),
                Err(DecodeError::Corrupt(_))
            ));
        }
        assert_eq!(
            SegmentHeader::decode(&bytes[..31]),
            Err(DecodeError::Incomplete)
        );
    }

    #[test]
    fn header_of_another_segment_is_corruption() {
        let bytes = SegmentHeader {
            stream_id: 1,
            segment: 2,
        }
        .encode();
        let err = check_header(&bytes, Path::new("x.seg"), 1, 3).unwrap_err();
        assert!(matches!(err, Error::Corruption { offset: 0, .. }), "{err}");
        assert!(check_header(&bytes, Path::new("x.seg"), 1, 2).is_ok());
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_file_name(1), "00000000000000000001.seg");
        assert_eq!(parse_number("00000000000000000042"), Some(42));
        assert_eq!(parse_number("42"), None);
        assert_eq!(parse_number("0000000000000000004x"), None);
        assert_eq!(parse_number("99999999999999999999"), None);
    }

    #[test]
    fn gap_in_numbering_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        for n in [1, 2, 4] {
            std::fs::write(dir.path().join(segment_file_name(n)), b"").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"").unwrap();
        let err = list_segments(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("00000000000000000004.seg"),
            "{err}"
        );

        std::fs::write(dir.path().join(segment_file_name(3)), b"").unwrap();
        let numbers: Vec<u64> = list_segments(dir.path())
            .unwrap()
            .iter()
            .map(|s| s.0)
            .collect();
        assert_eq!(numbers, [1, 2, 3, 4]);
    }

    fn frames(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            frame::encode(1, p, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn torn_last_frame_is_a_tail() {
        let bytes = frames(&[b"one", b"two"]);
        let Step::Frame(_, end) = next_frame(&bytes, 0) else {
            panic!("first frame should decode")
        };
        assert!(matches!(
            next_frame(&bytes[..bytes.len() - 1], end),
            Step::Tail(_)
        ));
        let mut zeroed = bytes.clone();
        zeroed.extend_from_slice(&[0u8; 64]);
        let Step::Frame(_, end2) = next_frame(&zeroed, end) else {
            panic!("second frame should decode")
        };
        assert!(matches!(next_frame(&zeroed, end2), Step::Tail(_)));
    }

    #[test]
    fn bad_frame_followed_by_valid_one_is_damage() {
        let mut bytes = frames(&[b"one", b"two"]);
        bytes[12] ^= 0xff;
        assert!(matches!(next_frame(&bytes, 0), Step::Damaged(_)));
    }

    #[test]
    fn probing_gives_up_as_damage_when_too_costly() {
        // Every aligned offset reads as a 64 KiB frame with known flags: an
        // unbounded probe would checksum gigabytes.
        let bytes = [0u8, 0, 1, 0].repeat(64 * 1024);
        let started = std::time::Instant::now();
        assert!(matches!(next_frame(&bytes, 0), Step::Damaged(_)));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
