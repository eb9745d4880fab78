//! Crash and damage tests of the log: cut the last segment at every byte of
//! its last records, flip bytes in every region of every segment, and check
//! that recovery and reading either give back exactly what was written
//! before the damage, or report corruption naming the damaged file.

use std::path::{Path, PathBuf};

use runstore::Error;
use runstore::log::{
    FLAG_LZ4, Position, SEGMENT_HEADER_LEN, StreamReader, StreamWriter, segment_file_name,
};

const STREAM: u64 = 42;
const SEGMENT_SIZE: u64 = 8 * 1024;

/// One record as appended: where it went and what it held.
#[derive(Debug, Clone)]
struct Written {
    start: Position,
    end: Position,
    record_type: u8,
    payload: Vec<u8>,
}

/// A small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next() >> 24) as u8).collect()
    }
}

/// Small records, compressible large ones and incompressible large ones.
fn payload(rng: &mut Rng, i: usize) -> Vec<u8> {
    match rng.below(10) {
        0..=5 => {
            let len = rng.below(60);
            rng.bytes(len)
        }
        6 | 7 => format!("metric loss step {i} value 0.125; ")
            .repeat(20 + rng.below(60))
            .into_bytes(),
        _ => {
            let len = 520 + rng.below(1000);
            rng.bytes(len)
        }
    }
}

fn append(writer: &mut StreamWriter, record_type: u8, payload: Vec<u8>) -> Written {
    let appended = writer.append(record_type, &payload).unwrap();
    Written {
        start: appended.start,
        end: appended.end,
        record_type,
        payload,
    }
}

/// Writes a few hundred records across several segments, ending with four
/// records of chosen sizes (small, compressible, small, incompressible).
fn build_stream(dir: &Path) -> Vec<Written> {
    let (mut writer, _) = StreamWriter::open(dir, STREAM, SEGMENT_SIZE).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut written = Vec::new();
    for i in 0..300 {
        let record_type = (i % 5) as u8;
        written.push(append(&mut writer, record_type, payload(&mut rng, i)));
    }
    written.push(append(&mut writer, 1, b"the fourth-last record".to_vec()));
    written.push(append(
        &mut writer,
        2,
        "compress me ".repeat(70).into_bytes(),
    ));
    written.push(append(&mut writer, 3, b"the second-last record".to_vec()));
    written.push(append(&mut writer, 4, rng.bytes(700)));
    writer.sync().unwrap();

    assert!(
        writer.position().segment >= 5,
        "the stream should span several segments"
    );
    written
}

/// A scratch folder, in memory where the system offers one: these tests
/// check logic, not the disk, and thousands of fsyncs on a busy disk are slow.
fn scratch_dir() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm").unwrap_or_else(|_| tempfile::tempdir().unwrap())
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(segment_file_name(number))
}

/// Reads the stream from `from` until its end or its first error.
fn read_from(dir: &Path, from: Position) -> (Vec<runstore::log::Frame>, Option<Error>) {
    let mut frames = Vec::new();
    for item in StreamReader::open(dir, STREAM, from).unwrap() {
        match item {
            Ok(frame) => frames.push(frame),
            Err(e) => return (frames, Some(e)),
        }
    }
    (frames, None)
}

/// Asserts that `frames` are exactly `expected`, positions included.
fn assert_frames(frames: &[runstore::log::Frame], expected: &[&Written], context: &str) {
    assert_eq!(frames.len(), expected.len(), "{context}: frame count");
    for (frame, want) in frames.iter().zip(expected) {
        assert_eq!(frame.position, want.start, "{context}");
        assert_eq!(frame.end, want.end, "{context}");
        assert_eq!(frame.record_type, want.record_type, "{context}");
        assert_eq!(frame.payload, want.payload, "{context}");
    }
}

/// Puts back the last two segments (appends after an interrupted rotation
/// go to the one before the last) and removes any segment created after them.
fn restore(dir: &Path, last: u64, original: &[u8], before_last: &[u8]) {
    std::fs::write(segment_path(dir, last - 1), before_last).unwrap();
    std::fs::write(segment_path(dir, last), original).unwrap();
    let mut next = last + 1;
    while segment_path(dir, next).exists() {
        std::fs::remove_file(segment_path(dir, next)).unwrap();
        next += 1;
    }
}

#[test]
fn cut_at_every_byte_of_the_last_records_recovers_what_was_whole() {
    let tmp = scratch_dir();
    let dir = tmp.path();
    let written = build_stream(dir);
    let last = written.last().unwrap().end.segment;
    let original = std::fs::read(segment_path(dir, last)).unwrap();
    let before_last = std::fs::read(segment_path(dir, last - 1)).unwrap();

    // Cut inside the header (a rotation the crash interrupted), and anywhere
    // from the start of the fourth-last record to the very end.
    let in_last: Vec<&Written> = written.iter().filter(|w| w.start.segment == last).collect();
    assert!(
        in_last.len() >= 4,
        "the chosen last records should share a segment"
    );
    let first_cut = in_last[in_last.len() - 4].start.offset as usize;
    let cuts = (0..=SEGMENT_HEADER_LEN).chain(first_cut..=original.len());
    let read_start = Position {
        segment: last - 1,
        offset: 0,
    };
    let mut boundaries: Vec<u64> = in_last.iter().map(|w| w.end.offset).collect();
    boundaries.insert(0, SEGMENT_HEADER_LEN as u64);
    let mut cases = 0;

    for cut in cuts {
        // Zeros after the cut stand for a size made durable without its data;
        // the header is fsynced before any frame, so never inside the header.
        let zero_fills: &[bool] = if cut < SEGMENT_HEADER_LEN {
            &[false]
        } else {
            &[false, true]
        };
        for &zero_fill in zero_fills {
            cases += 1;
            // A crash may leave the file's new size without its data: zeros.
            let mut torn = original[..cut].to_vec();
            if zero_fill {
                torn.resize(original.len(), 0);
            }
            std::fs::write(segment_path(dir, last), &torn).unwrap();
            let context = format!("cut at {cut}, zero fill {zero_fill}");

            let cut_at = Position {
                segment: last,
                offset: cut as u64,
            };
            let kept: Vec<&Written> = written
                .iter()
                .filter(|w| {
                    w.start.segment >= last - 1 && (w.end.segment < last || w.end <= cut_at)
                })
                .collect();

            // A read-only reader sees the torn tail as the end of the stream.
            let (frames, error) = read_from(dir, read_start);
            assert!(error.is_none(), "{context}: {error:?}");
            assert_frames(&frames, &kept, &context);

            // The writer cuts it off and reports what it did.
            let (mut writer, recovery) = StreamWriter::open(dir, STREAM, SEGMENT_SIZE).unwrap();
            let whole = boundaries
                .iter()
                .copied()
                .filter(|&b| b <= cut as u64)
                .max();
            let cut_is_clean = !zero_fill || cut == original.len();
            match whole {
                None => {
                    assert_eq!(recovery.removed_segment, Some(segment_path(dir, last)));
                    assert_eq!(recovery.torn_tail, None, "{context}");
                }
                Some(whole) if whole == cut as u64 && cut_is_clean => {
                    assert_eq!(recovery.torn_tail, None, "{context}");
                    assert_eq!(recovery.end, Some(cut_at), "{context}");
                }
                Some(whole) => {
                    let tail = recovery.torn_tail.clone().unwrap();
                    assert_eq!(tail.offset, whole, "{context}");
                    assert_eq!(
                        tail.offset + tail.dropped_bytes,
                        torn.len() as u64,
                        "{context}"
                    );
                }
            }

            // Appending afterwards works and reads back after what was kept.
            let after = append(&mut writer, 9, format!("after {context}").into_bytes());
            drop(writer);
            let mut expected = kept.clone();
            expected.push(&after);
            let (frames, error) = read_from(dir, read_start);
            assert!(error.is_none(), "{context}: {error:?}");
            assert_frames(&frames, &expected, &context);

            restore(dir, last, &original, &before_last);
        }
    }
    assert!(cases > 1000, "only {cases} cuts were tried");
}

/// Where to flip bytes in a segment: every header field, and every field of
/// its first, a middle and its last frame.
fn flip_offsets(frames: &[&Written]) -> Vec<(usize, &'static str)> {
    let mut offsets = vec![
        (0, "header magic"),
        (8, "header version"),
        (12, "header stream id"),
        (20, "header segment number"),
        (29, "header crc"),
    ];
    let picks = [0, frames.len() / 2, frames.len() - 1];
    for frame in picks.iter().map(|&i| frames[i]) {
        let start = frame.start.offset as usize;
        let end = frame.end.offset as usize;
        offsets.extend([
            (start, "frame length (low byte)"),
            (start + 3, "frame length (high byte)"),
            (start + 5, "frame crc"),
            (start + 8, "frame type"),
            (start + 9, "frame flags"),
        ]);
        if end > start + 10 {
            offsets.extend([
                (start + 10, "payload start"),
                ((start + 10 + end) / 2, "payload middle"),
                (end - 1, "payload end"),
            ]);
        }
    }
    offsets
}

#[test]
fn flipped_byte_anywhere_is_recovered_only_in_the_tail_else_reported() {
    let tmp = scratch_dir();
    let dir = tmp.path();
    let written = build_stream(dir);
    let last = written.last().unwrap().end.segment;
    assert!(
        written
            .iter()
            .any(|w| w.payload.len() >= 600 && w.end.offset - w.start.offset < 600),
        "some records should be stored compressed (flag {FLAG_LZ4})"
    );

    for segment in 1..=last {
        let path = segment_path(dir, segment);
        let original = std::fs::read(&path).unwrap();
        let frames: Vec<&Written> = written
            .iter()
            .filter(|w| w.start.segment == segment)
            .collect();
        let last_frame_start = frames.last().unwrap().start.offset as usize;

        for (at, region) in flip_offsets(&frames) {
            let mut damaged = original.clone();
            damaged[at] ^= 0x5a;
            std::fs::write(&path, &damaged).unwrap();
            let context = format!("segment {segment}, byte {at} ({region})");

            // Only the last frame of the last segment may be taken for a torn write.
            let in_tail = segment == last && at >= last_frame_start;
            let before_damage: Vec<&Written> = written
                .iter()
                .filter(|w| {
                    w.start.segment < segment
                        || w.end.segment == segment && w.end.offset <= at as u64
                })
                .collect();

            let (read, error) = read_from(dir, Position::START);
            if in_tail {
                assert!(error.is_none(), "{context}: {error:?}");
                assert_frames(&read, &before_damage, &context);
            } else {
                let error = error.unwrap_or_else(|| panic!("{context}: damage not reported"));
                assert!(
                    matches!(&error, Error::Corruption { path: p, .. } if *p == path),
                    "{context}: {error}"
                );
                assert_frames(&read, &before_damage[..read.len()], &context);
            }

            // The writer checks only the last segment when it opens.
            let opened = StreamWriter::open(dir, STREAM, SEGMENT_SIZE);
            match opened {
                Ok((_, recovery)) => {
                    assert!(
                        segment < last || in_tail,
                        "{context}: damage went unnoticed"
                    );
                    assert_eq!(recovery.torn_tail.is_some(), in_tail, "{context}");
                }
                Err(error) => {
                    assert!(segment == last && !in_tail, "{context}: {error}");
                    assert!(
                        matches!(&error, Error::Corruption { path: p, .. } if *p == path),
                        "{context}: {error}"
                    );
                }
            }

            std::fs::write(&path, &original).unwrap();
        }
    }
}
