//! Reading a stream's frames in order, across its segment files.
//!
//! The reader never modifies a file. A torn tail at the very end of the last
//! segment (what a crash, or a writer in the middle of an append, leaves) is
//! the end of the stream; any other damage is [`Error::Corruption`].

use std::path::{Path, PathBuf};

use super::Position;
use super::segment::{self, SEGMENT_HEADER_LEN, Step};
use crate::error::{Error, Result};

/// One record read back from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Where the frame starts.
    pub position: Position,
    /// Where the next frame of the same segment would start.
    pub end: Position,
    pub record_type: u8,
    /// The payload as given to `append`, decompressed.
    pub payload: Vec<u8>,
}

/// Iterates the frames of one stream from a position.
///
/// The segment list is taken when the reader opens; each segment file is read
/// whole when the reader reaches it. To follow a live writer, open a new
/// reader from the `end` of the last frame seen. After the first error the
/// iterator yields nothing more.
#[derive(Debug)]
pub struct StreamReader {
    stream_id: u64,
    segments: Vec<(u64, PathBuf)>,
    /// Index into `segments` of the segment to read next or being read.
    next: usize,
    /// Where to start in the first segment read.
    start_offset: u64,
    current: Option<Loaded>,
    finished: bool,
}

/// A segment's bytes and the reading position in them.
#[derive(Debug)]
struct Loaded {
    number: u64,
    path: PathBuf,
    bytes: Vec<u8>,
    offset: usize,
    is_last: bool,
}

impl StreamReader {
    /// Opens the stream in `stream_dir` for reading from `from`
    /// ([`Position::START`] for the beginning).
    ///
    /// A position must name an existing segment (or the one right after the
    /// last, at its start) and a frame boundary; otherwise it is corruption.
    pub fn open(stream_dir: &Path, stream_id: u64, from: Position) -> Result<StreamReader> {
        let segments = if stream_dir.is_dir() {
            segment::list_segments(stream_dir)?
        } else {
            Vec::new()
        };
        let start = first_to_read(&segments, from).ok_or_else(|| {
            let reason = format!("log position {from:?} is not in this stream");
            Error::corrupt(stream_dir, from.offset, reason)
        })?;

        Ok(StreamReader {
            stream_id,
            next: start.unwrap_or(segments.len()),
            segments,
            start_offset: from.offset,
            current: None,
            finished: start.is_none(),
        })
    }

    /// Reads the next segment file, positioned at its first frame to read.
    fn load_next(&mut self) -> Result<Option<Loaded>> {
        let Some((number, path)) = self.segments.get(self.next).cloned() else {
            return Ok(None);
        };
        let is_last = self.next + 1 == self.segments.len();
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;

        // A last segment with only part of a header is a rotation a crash
        // interrupted; the writer's recovery removes it.
        let partial =
            bytes.len() <= SEGMENT_HEADER_LEN && segment::SegmentHeader::decode(&bytes).is_err();
        if is_last && partial {
            return Ok(None);
        }
        segment::check_header(&bytes, &path, self.stream_id, number)?;

        let start = std::mem::take(&mut self.start_offset).max(SEGMENT_HEADER_LEN as u64);
        if start > bytes.len() as u64 {
            return Err(Error::corrupt(
                &path,
                start,
                "log position past the end of the segment",
            ));
        }
        self.next += 1;
        Ok(Some(Loaded {
            number,
            path,
            bytes,
            offset: start as usize,
            is_last,
        }))
    }

    /// The next frame, or `None` at the end of the stream.
    fn read_next(&mut self) -> Result<Option<Frame>> {
        loop {
            let Some(loaded) = &mut self.current else {
                match self.load_next()? {
                    Some(loaded) => self.current = Some(loaded),
                    None => return Ok(None),
                }
                continue;
            };

            let at = loaded.offset;
            match segment::next_frame(&loaded.bytes, at) {
                Step::Frame(decoded, end) => {
                    loaded.offset = end;
                    let position = |offset: usize| Position {
                        segment: loaded.number,
                        offset: offset as u64,
                    };
                    return Ok(Some(Frame {
                        position: position(at),
                        end: position(end),
                        record_type: decoded.record_type,
                        payload: decoded.payload,
                    }));
                }
                Step::End => self.current = None,
                Step::Tail(_) if loaded.is_last => return Ok(None),
                Step::Tail(reason) | Step::Damaged(reason) => {
                    return Err(Error::corrupt(&loaded.path, at as u64, reason));
                }
            }
        }
    }
}

impl Iterator for StreamReader {
    type Item = Result<Frame>;

    fn next(&mut self) -> Option<Result<Frame>> {
        if self.finished {
            return None;
        }
        let item = self.read_next().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.finished = true;
        }
        item
    }
}

/// The index in `segments` of the segment to start reading at, `Some(None)`
/// if `from` is the end of the stream (the start of the segment after the
/// last), and `None` if `from` is not in the stream.
fn first_to_read(segments: &[(u64, PathBuf)], from: Position) -> Option<Option<usize>> {
    if from == Position::START {
        return Some(Some(0));
    }
    if let Some(index) = segments
        .iter()
        .position(|(number, _)| *number == from.segment)
    {
        return Some(Some(index));
    }

    let after_last = segments.last().map_or(1, |(number, _)| number + 1);
    let at_its_start = from.offset <= SEGMENT_HEADER_LEN as u64;
    (from.segment == after_last && at_its_start).then_some(None)
}

/// The stream ids that have a folder in `log_dir` (20-digit decimal names),
/// sorted. A missing `log_dir` has no streams.
pub fn list_streams(log_dir: &Path) -> Result<Vec<u64>> {
    if !log_dir.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(log_dir).map_err(|e| Error::io(log_dir, e))?;
    let mut streams = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(log_dir, e))?;
        let is_dir = entry
            .file_type()
            .map_err(|e| Error::io(entry.path(), e))?
            .is_dir();
        let id = entry.file_name().to_str().and_then(segment::parse_number);
        if let (true, Some(id)) = (is_dir, id) {
            streams.push(id);
        }
    }
    streams.sort_unstable();
    Ok(streams)
}

/// The folder of stream `stream_id` under `log_dir`.
pub fn stream_dir(log_dir: &Path, stream_id: u64) -> PathBuf {
    log_dir.join(format!("{stream_id:020}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::StreamWriter;

    #[test]
    fn list_streams_finds_only_numbered_folders() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["00000000000000000003", "00000000000000000001", "scratch"] {
            std::fs::create_dir(tmp.path().join(name)).unwrap();
        }
        std::fs::write(tmp.path().join("00000000000000000002"), b"a file").unwrap();
        assert_eq!(list_streams(tmp.path()).unwrap(), [1, 3]);
        assert_eq!(
            list_streams(&tmp.path().join("missing")).unwrap(),
            Vec::<u64>::new()
        );
        assert!(stream_dir(tmp.path(), 3).ends_with("00000000000000000003"));
    }

    #[test]
    fn reads_from_any_frame_boundary() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut writer, _) = StreamWriter::open(tmp.path(), 1, 120).unwrap();
        let appended: Vec<_> = (0..10u8)
            .map(|i| writer.append(i, &[i; 30]).unwrap())
            .collect();
        assert!(appended[9].start.segment > 1);

        for (i, from) in appended.iter().enumerate() {
            let types: Vec<u8> = StreamReader::open(tmp.path(), 1, from.start)
                .unwrap()
                .map(|f| f.unwrap().record_type)
                .collect();
            assert_eq!(types, (i as u8..10).collect::<Vec<_>>());
        }
        let end = writer.position();
        assert_eq!(StreamReader::open(tmp.path(), 1, end).unwrap().count(), 0);
    }

    #[test]
    fn positions_outside_the_stream_are_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut writer, _) = StreamWriter::open(tmp.path(), 1, 1 << 20).unwrap();
        writer.append(1, b"only").unwrap();

        let next_segment = Position {
            segment: 2,
            offset: 0,
        };
        assert_eq!(
            StreamReader::open(tmp.path(), 1, next_segment)
                .unwrap()
                .count(),
            0
        );

        let far = Position {
            segment: 9,
            offset: 40,
        };
        let err = StreamReader::open(tmp.path(), 1, far).unwrap_err();
        assert!(matches!(err, Error::Corruption { .. }), "{err}");

        let past_end = Position {
            segment: 1,
            offset: 4000,
        };
        let mut reader = StreamReader::open(tmp.path(), 1, past_end).unwrap();
        assert!(matches!(
            reader.next(),
            Some(Err(Error::Corruption { offset: 4000, .. }))
        ));
        assert!(reader.next().is_none());
    }

    #[test]
    fn wrong_stream_id_is_corruption() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut writer, _) = StreamWriter::open(tmp.path(), 1, 1 << 20).unwrap();
        writer.append(1, b"x").unwrap();
        let mut reader = StreamReader::open(tmp.path(), 2, Position::START).unwrap();
        assert!(matches!(
            reader.next(),
            Some(Err(Error::Corruption { offset: 0, .. }))
        ));
    }
}
