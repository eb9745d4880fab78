//! Writer streams and the files that coordinate processes: each writer
//! process appends to a stream of its own, claimed with a lock file;
//! store-wide decisions (experiment names and ids) and checkpoints take
//! short store-wide locks. Reading merges every stream by record clock.
//!
//! Locks are `File::lock`/`try_lock` (advisory, released by the operating
//! system when the process dies), on files under `STORE/locks/`.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use super::commit::MAX_STREAM;
use super::record::{self, Entry};
use crate::error::{Error, Result};
use crate::log::{self, Position, StreamReader};

pub(crate) fn log_dir(root: &Path) -> PathBuf {
    root.join("log")
}

pub(crate) fn stream_dir(root: &Path, stream: u64) -> PathBuf {
    log::stream_dir(&log_dir(root), stream)
}

pub(crate) fn segment_path(root: &Path, stream: u64, segment: u64) -> PathBuf {
    stream_dir(root, stream).join(log::segment_file_name(segment))
}

fn locks_dir(root: &Path) -> PathBuf {
    root.join("locks")
}

fn lock_file(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Takes the lock at `path`, waiting for it. Released when the file drops.
pub(crate) fn wait_lock(path: &Path) -> Result<File> {
    let file = lock_file(path)?;
    file.lock().map_err(|e| Error::io(path, e))?;
    Ok(file)
}

/// The store-wide lock for decisions that need one answer across
/// processes: experiment names and ids.
pub(crate) fn store_lock(root: &Path) -> Result<File> {
    wait_lock(&root.join("LOCK"))
}

/// The lock that lets one process at a time checkpoint.
pub(crate) fn checkpoint_lock(root: &Path) -> Result<File> {
    wait_lock(&locks_dir(root).join("checkpoint"))
}

/// The lock every open handle holds shared; a log rewrite holds it
/// exclusively.
fn open_lock_path(root: &Path) -> PathBuf {
    locks_dir(root).join("open")
}

/// Takes the shared open lock (waiting while a rewrite runs).
pub(crate) fn shared_open(root: &Path) -> Result<File> {
    let path = open_lock_path(root);
    let file = lock_file(&path)?;
    file.lock_shared().map_err(|e| Error::io(&path, e))?;
    Ok(file)
}

/// Takes the open lock exclusively, waiting for it (recovery of an
/// interrupted rewrite).
pub(crate) fn exclusive_open(root: &Path) -> Result<File> {
    wait_lock(&open_lock_path(root))
}

/// Takes the open lock exclusively if no handle has the store open.
pub(crate) fn try_exclusive_open(root: &Path) -> Result<Option<File>> {
    try_lock(&open_lock_path(root))
}

/// Takes `path`'s lock if nobody holds it.
fn try_lock(path: &Path) -> Result<Option<File>> {
    let file = lock_file(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

/// Claims a writer stream for this store handle: the lowest existing stream
/// nobody holds (its previous writer is gone; its torn tail, if any, is
/// recovered by the caller), else a new one. Returns the id and the lock.
pub(crate) fn claim_stream(root: &Path) -> Result<(u64, File)> {
    let locks = locks_dir(root);
    loop {
        let existing = log::list_streams(&log_dir(root))?;
        for &id in &existing {
            if let Some(lock) = try_lock(&locks.join(format!("stream-{id}")))? {
                return Ok((id, lock));
            }
        }
        let next = existing.last().map_or(1, |last| last + 1);
        if next > MAX_STREAM {
            return Err(Error::InvalidState(format!(
                "all {MAX_STREAM} writer streams of {} are in use",
                root.display()
            )));
        }
        let dir = stream_dir(root, next);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(&dir, e)),
        }
        if let Some(lock) = try_lock(&locks.join(format!("stream-{next}")))? {
            return Ok((next, lock));
        }
    }
}

/// Whether `stream` holds anything past `from` (a cheap look at its last
/// segment's length).
fn has_news(root: &Path, stream: u64, from: Position) -> bool {
    if from == Position::START {
        return true;
    }
    let dir = stream_dir(root, stream);
    let last = fs::read_dir(&dir).ok().and_then(|entries| {
        entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
            .map(|e| e.path())
            .max()
    });
    let Some(last) = last else {
        return false;
    };
    let segment = segment_path(root, stream, from.segment);
    if last != segment {
        return true;
    }
    fs::metadata(&last).is_ok_and(|m| m.len() > from.offset)
}

/// Decoded entries of one stream with the position after each.
type Entries = std::iter::Peekable<Box<dyn Iterator<Item = Result<(Position, Entry)>>>>;

fn decoded(root: &Path, stream: u64, reader: StreamReader) -> Entries {
    let root = root.to_path_buf();
    let entries = reader.map(move |frame| {
        let frame = frame?;
        let entry = record::decode(&frame.payload).map_err(|reason| {
            Error::corrupt(
                segment_path(&root, stream, frame.position.segment),
                frame.position.offset,
                format!("log record does not decode: {reason}"),
            )
        })?;
        Ok((frame.end, entry))
    });
    let boxed: Box<dyn Iterator<Item = Result<(Position, Entry)>>> = Box::new(entries);
    boxed.peekable()
}

/// Feeds `apply` every record written after `from` (per stream; streams
/// missing there are read from their start) in clock order across streams,
/// skipping stream `skip`. Returns the number of records.
pub(crate) fn merge_new(
    root: &Path,
    from: &std::collections::BTreeMap<u64, Position>,
    skip: Option<u64>,
    mut apply: impl FnMut(u64, Position, &Entry),
) -> Result<u64> {
    let mut streams = Vec::new();
    for stream in log::list_streams(&log_dir(root))? {
        let start = from.get(&stream).copied().unwrap_or(Position::START);
        if Some(stream) == skip || !has_news(root, stream, start) {
            continue;
        }
        let reader = StreamReader::open(&stream_dir(root, stream), stream, start)?;
        streams.push((stream, decoded(root, stream, reader)));
    }

    let mut count = 0;
    loop {
        let mut best: Option<(u64, usize)> = None;
        for (i, (_, entries)) in streams.iter_mut().enumerate() {
            match entries.peek() {
                Some(Ok((_, entry))) if best.is_none_or(|(hlc, _)| entry.hlc < hlc) => {
                    best = Some((entry.hlc, i));
                }
                Some(Err(_)) => {
                    if let Some(Err(e)) = entries.next() {
                        return Err(e);
                    }
                }
                _ => {}
            }
        }
        let Some((_, i)) = best else {
            return Ok(count);
        };
        let stream = streams[i].0;
        if let Some(Ok((end, entry))) = streams[i].1.next() {
            apply(stream, end, &entry);
            count += 1;
        }
    }
}
