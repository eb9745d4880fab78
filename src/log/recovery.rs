//! Bringing a stream back to a clean end after a crash.
//!
//! Only the last segment can hold the traces of an interrupted append: the
//! writer fsyncs a segment before it starts the next one. Recovery therefore
//! checks the last segment only (cheap open) and repairs exactly two things:
//!
//! - an interrupted rotation: a last segment no longer than a header whose
//!   header does not check out is removed (it never held a frame, because the
//!   writer fsyncs the header before appending);
//! - a torn tail: from the first frame that fails to decode, if no valid frame
//!   starts anywhere after it, the file is cut there (see
//!   [`segment::next_frame`](super::segment)).
//!
//! Everything else that fails to check is [`Error::Corruption`].

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use super::Position;
use super::segment::{self, SEGMENT_HEADER_LEN, SegmentHeader, Step};
use crate::error::{Error, Result};
use crate::fsio;

/// What recovery found and repaired when a writer opened its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The end of the stream after repair; `None` when it has no segment yet.
    pub end: Option<Position>,
    /// Valid frames found in the last segment.
    pub frames_in_last_segment: u64,
    /// The torn tail cut off the last segment, if there was one.
    pub torn_tail: Option<TornTail>,
    /// A segment holding only part of its header, removed.
    pub removed_segment: Option<PathBuf>,
}

/// Bytes cut off the end of a segment because a crash left them half written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub path: PathBuf,
    /// Where the file now ends: the start of the first bad frame.
    pub offset: u64,
    pub dropped_bytes: u64,
    /// Why the first dropped frame did not decode.
    pub reason: String,
}

/// Recovers the stream of `stream_id` in `dir` (which must exist).
pub(crate) fn recover(dir: &Path, stream_id: u64) -> Result<Recovery> {
    let mut recovery = Recovery::default();
    let mut segments = segment::list_segments(dir)?;

    if let Some((_, path)) = segments.last()
        && is_interrupted_rotation(path)?
    {
        remove_segment(dir, path)?;
        recovery.removed_segment = Some(path.clone());
        segments.pop();
    }

    let Some((number, path)) = segments.last() else {
        return Ok(recovery);
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    segment::check_header(&bytes, path, stream_id, *number)?;

    let mut offset = SEGMENT_HEADER_LEN;
    loop {
        match segment::next_frame(&bytes, offset) {
            Step::End => break,
            Step::Frame(_, end) => {
                recovery.frames_in_last_segment += 1;
                offset = end;
            }
            Step::Tail(reason) => {
                recovery.torn_tail = Some(cut_tail(path, offset, bytes.len(), reason)?);
                break;
            }
            Step::Damaged(reason) => return Err(Error::corrupt(path, offset as u64, reason)),
        }
    }

    recovery.end = Some(Position {
        segment: *number,
        offset: offset as u64,
    });
    Ok(recovery)
}

/// Whether `path` is a segment whose creation a crash interrupted: no longer
/// than a header, and that header does not check out.
fn is_interrupted_rotation(path: &Path) -> Result<bool> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if len > SEGMENT_HEADER_LEN as u64 {
        return Ok(false);
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(SegmentHeader::decode(&bytes).is_err())
}

/// Removes a segment that never held a frame, and makes the removal durable.
fn remove_segment(dir: &Path, path: &Path) -> Result<()> {
    tracing::warn!(
        path = %path.display(),
        "removing a log segment whose creation was interrupted (partial header, no frames)"
    );
    fsio::remove_file(path).map_err(|e| Error::io(path, e))?;
    sync_dir(dir)
}

/// Cuts the segment at `path` down to `offset` bytes, durably.
fn cut_tail(path: &Path, offset: usize, len: usize, reason: String) -> Result<TornTail> {
    let dropped = (len - offset) as u64;
    tracing::warn!(
        path = %path.display(),
        offset,
        dropped_bytes = dropped,
        reason = %reason,
        "cutting a torn tail off the log (an append interrupted by a crash)"
    );

    let file = fsio::open(path, OpenOptions::new().write(true)).map_err(|e| Error::io(path, e))?;
    file.set_len(offset as u64)
        .map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))?;

    Ok(TornTail {
        path: path.to_path_buf(),
        offset: offset as u64,
        dropped_bytes: dropped,
        reason,
    })
}

/// Fsyncs a directory so that entries created or removed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fsio::sync_dir(dir).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{StreamReader, StreamWriter, segment_file_name};

    fn stream_with(frames: usize) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let (mut writer, _) = StreamWriter::open(tmp.path(), 3, 1 << 20).unwrap();
        for i in 0..frames {
            writer.append(1, format!("record {i}").as_bytes()).unwrap();
        }
        writer.sync().unwrap();
        tmp
    }

    fn count(dir: &Path) -> usize {
        let frames = StreamReader::open(dir, 3, Position::START).unwrap();
        frames.collect::<Result<Vec<_>>>().unwrap().len()
    }

    #[test]
    fn zero_filled_tail_is_cut() {
        let tmp = stream_with(5);
        let path = tmp.path().join(segment_file_name(1));
        let len = std::fs::metadata(&path).unwrap().len();
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(len + 4096).unwrap();

        assert_eq!(count(tmp.path()), 5);
        let recovery = recover(tmp.path(), 3).unwrap();
        let torn = recovery.torn_tail.unwrap();
        assert_eq!((torn.offset, torn.dropped_bytes), (len, 4096));
        assert_eq!(recovery.frames_in_last_segment, 5);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    }

    #[test]
    fn partial_header_segment_is_removed() {
        let tmp = stream_with(2);
        let partial = tmp.path().join(segment_file_name(2));
        std::fs::write(&partial, b"RUN").unwrap();
        assert_eq!(count(tmp.path()), 2);

        let recovery = recover(tmp.path(), 3).unwrap();
        assert_eq!(recovery.removed_segment, Some(partial.clone()));
        assert_eq!(recovery.end.unwrap().segment, 1);
        assert!(!partial.exists());
    }

    #[test]
    fn bad_header_with_frames_after_it_is_corruption() {
        let tmp = stream_with(2);
        let path = tmp.path().join(segment_file_name(1));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[0] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = recover(tmp.path(), 3).unwrap_err();
        assert!(matches!(&err, Error::Corruption { path: p, offset: 0, .. } if *p == path));
    }

    #[test]
    fn damage_before_a_valid_frame_is_corruption_and_left_alone() {
        let tmp = stream_with(3);
        let path = tmp.path().join(segment_file_name(1));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[SEGMENT_HEADER_LEN + 12] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();

        let err = recover(tmp.path(), 3).unwrap_err();
        let expected_offset = SEGMENT_HEADER_LEN as u64;
        assert!(matches!(err, Error::Corruption { offset, .. } if offset == expected_offset));
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}
