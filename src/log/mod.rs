//! The append-only log: the store's truth.
//!
//! Each writer appends to its own stream, `log/<stream id>/`, a run of
//! segment files `<20-digit number>.seg`, each a header followed by frames.
//! A frame carries one record as opaque bytes with a type tag: the log frames,
//! checksums, compresses, appends, reads back and recovers, and knows nothing
//! of what the records mean. The byte layouts and the crash analysis are in
//! `docs/format.md`.
//!
//! - [`frame`]: one record's bytes on disk;
//! - [`segment`]: the segment header, file names, the walk over frames;
//! - [`writer`]: [`StreamWriter`], appending, rotating, syncing;
//! - [`reader`]: [`StreamReader`], iterating frames across segments;
//! - [`recovery`]: cutting a torn tail when a writer opens.

pub mod frame;
pub mod reader;
pub mod recovery;
pub mod segment;
pub mod writer;

pub use frame::{COMPRESS_THRESHOLD, FLAG_LZ4, FRAME_HEADER_LEN, MAX_PAYLOAD_LEN};
pub use reader::{Frame, StreamReader, list_streams, stream_dir};
pub use recovery::{Recovery, TornTail};
pub use segment::{FORMAT_VERSION, SEGMENT_HEADER_LEN, SEGMENT_MAGIC, segment_file_name};
pub use writer::{Appended, Position, StreamWriter, SyncHandle};

/// Runs the frame and segment decoders over arbitrary bytes, for fuzzing.
///
/// Must never panic, whatever `data` holds. Reads `data` as a bare run of
/// frames, probes its first offsets the way recovery probes behind a damaged
/// frame, then reads it as a segment. Returns the number of frames that
/// decode after a valid segment header (0 without one), so tests can check
/// the decoders' answers, not only that they return.
pub fn fuzz_decode(data: &[u8]) -> usize {
    std::hint::black_box(walk(data, 0));
    for at in 0..data.len().min(512) {
        std::hint::black_box(frame::decode(&data[at..]).is_ok());
    }
    std::hint::black_box(frame::decode(&with_valid_crc(data)).is_ok());

    match segment::SegmentHeader::decode(data) {
        Ok(_) => walk(data, SEGMENT_HEADER_LEN),
        Err(_) => 0,
    }
}

/// `data` as the type, flags and stored payload of a frame with a correct
/// length and CRC, so that a fuzzer reaches the flags and lz4 checks.
fn with_valid_crc(data: &[u8]) -> Vec<u8> {
    let body = &data[..data.len().min(MAX_PAYLOAD_LEN)];
    let stored_len = body.len().saturating_sub(2) as u32;
    let mut bytes = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
    bytes.extend_from_slice(&stored_len.to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// Walks frames from `offset` the way the reader does; counts the good ones.
fn walk(data: &[u8], mut offset: usize) -> usize {
    let mut frames = 0;
    while let segment::Step::Frame(_, end) = segment::next_frame(data, offset) {
        frames += 1;
        offset = end;
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real segment with small, compressed and incompressible frames, and
    /// the offsets where its frames end. Written once per test binary.
    fn seed_segment() -> (Vec<u8>, Vec<usize>) {
        static SEED: std::sync::OnceLock<(Vec<u8>, Vec<usize>)> = std::sync::OnceLock::new();
        SEED.get_or_init(write_seed_segment).clone()
    }

    fn write_seed_segment() -> (Vec<u8>, Vec<usize>) {
        let tmp = tempfile::tempdir().unwrap();
        let (mut writer, _) = StreamWriter::open(tmp.path(), 5, 1 << 20).unwrap();
        let mut ends = Vec::new();
        let payloads: [Vec<u8>; 4] = [
            b"small".to_vec(),
            "repeat ".repeat(200).into_bytes(),
            (0..700u32).map(|i| (i * i % 253) as u8).collect(),
            Vec::new(),
        ];
        for (i, payload) in payloads.iter().enumerate() {
            ends.push(writer.append(i as u8, payload).unwrap().end.offset as usize);
        }
        writer.sync().unwrap();
        let bytes = std::fs::read(tmp.path().join(segment_file_name(1))).unwrap();
        (bytes, ends)
    }

    #[test]
    fn fuzz_decode_counts_whole_frames_of_every_truncation() {
        let (bytes, ends) = seed_segment();
        assert_eq!(fuzz_decode(&bytes), ends.len());
        for cut in 0..bytes.len() {
            let whole = if cut < SEGMENT_HEADER_LEN {
                0
            } else {
                ends.iter().filter(|&&end| end <= cut).count()
            };
            assert_eq!(fuzz_decode(&bytes[..cut]), whole, "cut at {cut}");
        }
    }

    #[test]
    fn fuzz_decode_survives_bit_flips_and_garbage() {
        let (bytes, ends) = seed_segment();
        for at in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut damaged = bytes.clone();
                damaged[at] ^= bit;
                let before = ends.iter().filter(|&&end| end <= at).count();
                let expected = if at < SEGMENT_HEADER_LEN { 0 } else { before };
                assert_eq!(fuzz_decode(&damaged), expected, "flip at {at}");
            }
        }
        for garbage in [vec![0u8; 100], vec![0xffu8; 100], b"RUNSLOG\0".repeat(9)] {
            assert_eq!(fuzz_decode(&garbage), 0);
        }
    }

    proptest::proptest! {
        /// Random edits of a real segment: whatever they do, decoding never
        /// panics and never finds more frames than were written.
        #[test]
        fn fuzz_decode_never_panics_on_edited_segments(
            edits in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 0..8),
            cut in 0usize..4096,
            insert_at in proptest::option::of(0usize..4096),
        ) {
            let (mut bytes, ends) = seed_segment();
            for (at, value) in edits {
                let len = bytes.len();
                bytes[at % len] = value;
            }
            if let Some(at) = insert_at {
                let at = at % bytes.len();
                bytes.splice(at..at, [0xa5u8; 7]);
            }
            bytes.truncate(cut.max(SEGMENT_HEADER_LEN));
            proptest::prop_assert!(fuzz_decode(&bytes) <= ends.len());
        }

        /// Arbitrary bytes behind a valid header reach the frame decoder.
        #[test]
        fn fuzz_decode_never_panics_on_garbage(tail in proptest::collection::vec(
            proptest::num::u8::ANY, 0..2048,
        )) {
            let header = segment::SegmentHeader { stream_id: 1, segment: 1 };
            let mut bytes = header.encode().to_vec();
            bytes.extend_from_slice(&tail);
            fuzz_decode(&bytes);
            fuzz_decode(&tail);
        }
    }

    #[test]
    fn fuzz_decode_reaches_the_lz4_checks() {
        let mut frame = Vec::new();
        frame::encode(3, &"lz4 ".repeat(300).into_bytes(), &mut frame).unwrap();
        let body = &frame[8..];
        let rebuilt = with_valid_crc(body);
        assert_eq!(rebuilt, frame);
        assert!(frame::decode(&rebuilt).is_ok());

        let mut broken = body.to_vec();
        broken[6] ^= 0xff;
        let rebuilt = with_valid_crc(&broken);
        assert!(matches!(
            frame::decode(&rebuilt),
            Err(frame::DecodeError::Corrupt(_))
        ));
    }
}
