//! Appending frames to one stream, rotating segments at a size limit.
//!
//! Durability steps, in the order recovery relies on them:
//! 1. a frame is written with one `write_all` at the end of the active segment;
//! 2. [`StreamWriter::sync`] (or a [`SyncHandle`]) fsyncs it;
//! 3. rotation first fsyncs the full segment, then creates the next one, writes
//!    and fsyncs its header, then fsyncs the folder. So every segment but the
//!    last is complete on disk, and a header is durable before any frame
//!    follows it.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::frame::{self, FRAME_HEADER_LEN};
use super::recovery::{self, Recovery};
use super::segment::{SEGMENT_HEADER_LEN, SegmentHeader, segment_file_name};
use crate::error::{Error, Result};
use crate::fsio::{self, File};

/// A place in a stream: a segment number and a byte offset in its file.
///
/// Positions order like the log: by segment, then by offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

impl Position {
    /// The beginning of any stream: a reader from here starts at the first
    /// frame of the first segment.
    pub const START: Position = Position {
        segment: 0,
        offset: 0,
    };
}

/// Where an appended frame landed: `start` is its first byte, `end` the
/// first byte after it (the position of the next frame in the same segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub start: Position,
    pub end: Position,
}

/// The segment being appended to, shared with sync handles.
#[derive(Debug)]
struct ActiveSegment {
    number: u64,
    path: PathBuf,
    file: File,
}

/// Set once a write or fsync failed; shared by the writer and its handles.
#[derive(Debug, Default)]
struct Poison(AtomicBool);

impl Poison {
    fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn check(&self, dir: &Path) -> Result<()> {
        if self.0.load(Ordering::SeqCst) {
            return Err(Error::InvalidState(format!(
                "an earlier write or fsync of log stream {} failed and may have lost data; \
                 reopen the store",
                dir.display()
            )));
        }
        Ok(())
    }
}

/// The single appender of one stream of segments.
///
/// It takes no file lock: the store must make sure that only one writer, in
/// one process, appends to a stream.
#[derive(Debug)]
pub struct StreamWriter {
    dir: PathBuf,
    stream_id: u64,
    segment_size: u64,
    active: Arc<ActiveSegment>,
    offset: u64,
    poison: Arc<Poison>,
    scratch: Vec<u8>,
}

impl StreamWriter {
    /// Opens (creating if needed) the stream in `stream_dir`, recovers its
    /// last segment, and positions at its end.
    ///
    /// `segment_size` is the size at which a new segment is started; a frame
    /// larger than it gets a segment of its own.
    pub fn open(
        stream_dir: &Path,
        stream_id: u64,
        segment_size: u64,
    ) -> Result<(StreamWriter, Recovery)> {
        let minimum = (SEGMENT_HEADER_LEN + FRAME_HEADER_LEN) as u64;
        if segment_size < minimum {
            return Err(Error::invalid(format!(
                "log segment size {segment_size} is below the minimum of {minimum} bytes"
            )));
        }
        create_stream_dir(stream_dir)?;

        let recovery = recovery::recover(stream_dir, stream_id)?;
        let active = match recovery.end {
            Some(end) => open_segment(stream_dir, end.segment)?,
            None => create_segment(stream_dir, stream_id, 1)?,
        };
        let offset = recovery
            .end
            .map_or(SEGMENT_HEADER_LEN as u64, |end| end.offset);

        let writer = StreamWriter {
            dir: stream_dir.to_path_buf(),
            stream_id,
            segment_size,
            active: Arc::new(active),
            offset,
            poison: Arc::default(),
            scratch: Vec::new(),
        };
        Ok((writer, recovery))
    }

    /// Appends one frame; starts a new segment first if this one would
    /// exceed the segment size. Not durable until a sync.
    pub fn append(&mut self, record_type: u8, payload: &[u8]) -> Result<Appended> {
        self.poison.check(&self.dir)?;
        self.scratch.clear();
        frame::encode(record_type, payload, &mut self.scratch)?;

        let len = self.scratch.len() as u64;
        let has_frames = self.offset > SEGMENT_HEADER_LEN as u64;
        if has_frames && self.offset + len > self.segment_size {
            self.poison_on_error(|w| w.rotate())?;
        }

        let start = self.position();
        self.poison_on_error(|w| {
            (&w.active.file)
                .write_all(&w.scratch)
                .map_err(|e| Error::io(&w.active.path, e))
        })?;
        self.offset += len;
        Ok(Appended {
            start,
            end: self.position(),
        })
    }

    /// Makes every frame appended so far durable.
    pub fn sync(&mut self) -> Result<()> {
        self.sync_handle().sync()
    }

    /// A handle that fsyncs the active segment from another thread, for
    /// group commit.
    ///
    /// It covers every frame appended before it was taken: earlier segments
    /// were fsynced when they were sealed. Frames appended after a later
    /// rotation are in a new file it does not cover, so take a fresh handle
    /// after the appends a sync should cover. A failed sync poisons the writer.
    pub fn sync_handle(&self) -> SyncHandle {
        SyncHandle {
            dir: self.dir.clone(),
            segment: Arc::clone(&self.active),
            poison: Arc::clone(&self.poison),
        }
    }

    /// The end of the log: where the next frame will start (unless it rotates).
    pub fn position(&self) -> Position {
        Position {
            segment: self.active.number,
            offset: self.offset,
        }
    }

    /// The stream this writer appends to.
    pub fn stream_id(&self) -> u64 {
        self.stream_id
    }

    /// Seals the active segment and starts the next one.
    fn rotate(&mut self) -> Result<()> {
        // The sealed segment must be complete on disk before the next one
        // exists: recovery only ever repairs the last segment.
        fsync(&self.active)?;

        let next = create_segment(&self.dir, self.stream_id, self.active.number + 1)?;
        tracing::debug!(path = %next.path.display(), "started log segment");
        self.active = Arc::new(next);
        self.offset = SEGMENT_HEADER_LEN as u64;
        Ok(())
    }

    /// Runs a write step; any failure poisons the writer for good.
    fn poison_on_error(&mut self, step: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let result = step(self);
        if let Err(e) = &result {
            tracing::error!(stream = %self.dir.display(), error = %e, "log write failed");
            self.poison.set();
        }
        result
    }
}

/// Fsyncs one segment of a stream without borrowing its writer.
#[derive(Debug, Clone)]
pub struct SyncHandle {
    dir: PathBuf,
    segment: Arc<ActiveSegment>,
    poison: Arc<Poison>,
}

impl SyncHandle {
    /// Fsyncs the segment this handle was taken on (see
    /// [`StreamWriter::sync_handle`] for what that covers).
    pub fn sync(&self) -> Result<()> {
        self.poison.check(&self.dir)?;
        let result = fsync(&self.segment);
        if let Err(e) = &result {
            tracing::error!(stream = %self.dir.display(), error = %e, "log fsync failed");
            self.poison.set();
        }
        result
    }

    /// The number of the segment this handle syncs.
    pub fn segment(&self) -> u64 {
        self.segment.number
    }
}

fn fsync(segment: &ActiveSegment) -> Result<()> {
    segment
        .file
        .sync_data()
        .map_err(|e| Error::io(&segment.path, e))
}

/// Creates the stream folder (and missing ancestors) and makes every new
/// folder entry durable by fsyncing the folder that holds it.
fn create_stream_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let created: Vec<&Path> = dir.ancestors().take_while(|d| !d.is_dir()).collect();
    fsio::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;

    for new_dir in created {
        match new_dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => recovery::sync_dir(parent)?,
            _ => {}
        }
    }
    Ok(())
}

/// Opens an existing segment for appending at its end.
fn open_segment(dir: &Path, number: u64) -> Result<ActiveSegment> {
    let path = dir.join(segment_file_name(number));
    let file =
        fsio::open(&path, OpenOptions::new().append(true)).map_err(|e| Error::io(&path, e))?;
    Ok(ActiveSegment { number, path, file })
}

/// Creates segment `number`: header written and fsynced, folder fsynced.
fn create_segment(dir: &Path, stream_id: u64, number: u64) -> Result<ActiveSegment> {
    let path = dir.join(segment_file_name(number));
    let mut file = fsio::create_new_append(&path).map_err(|e| Error::io(&path, e))?;

    // The header is durable before any frame can follow it, so a last segment
    // with a bad header and frames after it is damage, not a crash.
    let header = SegmentHeader {
        stream_id,
        segment: number,
    };
    file.write_all(&header.encode())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&path, e))?;

    // IMPORTANT: fsync the folder, or the new file may vanish in a crash.
    recovery::sync_dir(dir)?;
    Ok(ActiveSegment { number, path, file })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::StreamReader;

    fn read_all(dir: &Path) -> Vec<(u8, Vec<u8>)> {
        StreamReader::open(dir, 7, Position::START)
            .unwrap()
            .map(|f| f.map(|f| (f.record_type, f.payload)))
            .collect::<Result<_>>()
            .unwrap()
    }

    #[test]
    fn appends_rotate_and_read_back_after_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("stream");
        let (mut writer, recovery) = StreamWriter::open(&dir, 7, 200).unwrap();
        assert_eq!(recovery.end, None);

        let mut expected = Vec::new();
        let mut last_end = writer.position();
        for i in 0..20u8 {
            let payload = vec![i; usize::from(i) * 7];
            let appended = writer.append(i % 3, &payload).unwrap();
            assert!(appended.start >= last_end && appended.end > appended.start);
            assert_eq!(appended.end, writer.position());
            last_end = appended.end;
            expected.push((i % 3, payload));
        }
        writer.sync().unwrap();
        assert!(
            writer.position().segment > 3,
            "small segments should have rotated"
        );
        drop(writer);

        let (mut writer, recovery) = StreamWriter::open(&dir, 7, 200).unwrap();
        assert_eq!(recovery.end, Some(last_end));
        assert_eq!(recovery.torn_tail, None);
        writer.append(9, b"after reopen").unwrap();
        expected.push((9, b"after reopen".to_vec()));
        assert_eq!(read_all(&dir), expected);
    }

    #[test]
    fn oversized_frame_gets_a_segment_of_its_own() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut writer, _) = StreamWriter::open(tmp.path(), 7, 100).unwrap();
        let big: Vec<u8> = (0..300u32).map(|i| (i * 7919 % 251) as u8).collect();
        let first = writer.append(1, &big).unwrap();
        let second = writer.append(1, b"small").unwrap();
        assert_eq!(first.start.segment, 1);
        assert_eq!(second.start.segment, 2);
        assert_eq!(read_all(tmp.path()).len(), 2);
    }

    #[test]
    fn sync_handle_works_from_another_thread() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut writer, _) = StreamWriter::open(tmp.path(), 7, 1 << 20).unwrap();
        writer.append(1, b"x").unwrap();
        let handle = writer.sync_handle();
        std::thread::spawn(move || handle.sync())
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(writer.sync_handle().segment(), 1);
    }

    #[test]
    fn poisoned_writer_refuses_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut writer, _) = StreamWriter::open(tmp.path(), 7, 1 << 20).unwrap();
        let handle = writer.sync_handle();
        writer.poison.set();
        for err in [
            writer.append(1, b"x").unwrap_err(),
            writer.sync().unwrap_err(),
            handle.sync().unwrap_err(),
        ] {
            assert!(matches!(&err, Error::InvalidState(m) if m.contains("reopen the store")));
        }
    }

    #[test]
    fn tiny_segment_size_is_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let err = StreamWriter::open(tmp.path(), 7, 40).unwrap_err();
        assert!(matches!(err, Error::InvalidParameterValue(_)));
    }
}
