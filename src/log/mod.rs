//! Stand-in for the append-only log while the real one is built on its own
//! branch: one segment per stream, frames of length, CRC32, type, payload.
//! Replaced wholesale by the log work.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where a frame starts or ends in a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// One record read back.
#[derive(Debug, Clone)]
pub struct Frame {
    pub position: Position,
    pub end: Position,
    pub record_type: u8,
    pub payload: Vec<u8>,
}

/// What recovery did on open.
#[derive(Debug, Clone, Default)]
pub struct Recovery {
    pub truncated_bytes: u64,
}

fn segment_path(dir: &Path) -> PathBuf {
    dir.join("00000000000000000001.seg")
}

/// Appends frames to one stream.
pub struct StreamWriter {
    file: File,
    path: PathBuf,
    end: u64,
}

impl StreamWriter {
    pub fn open(
        dir: &Path,
        _stream_id: u64,
        _segment_size: u64,
    ) -> Result<(StreamWriter, Recovery)> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = segment_path(dir);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let end = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        Ok((StreamWriter { file, path, end }, Recovery::default()))
    }

    pub fn append(&mut self, record_type: u8, payload: &[u8]) -> Result<Position> {
        let start = self.end;
        let mut buf = Vec::with_capacity(payload.len() + 9);
        buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(&[record_type]);
        h.update(payload);
        buf.extend_from_slice(&h.finalize().to_le_bytes());
        buf.push(record_type);
        buf.extend_from_slice(payload);
        self.file
            .write_all(&buf)
            .map_err(|e| Error::io(&self.path, e))?;
        self.end += buf.len() as u64;
        Ok(Position {
            segment: 1,
            offset: start,
        })
    }

    pub fn sync(&mut self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }

    pub fn position(&self) -> Position {
        Position {
            segment: 1,
            offset: self.end,
        }
    }
}

/// Reads the frames of one stream from a position.
pub struct StreamReader {
    frames: std::vec::IntoIter<Frame>,
}

impl StreamReader {
    pub fn open(dir: &Path, from: Position) -> Result<StreamReader> {
        let path = segment_path(dir);
        let mut bytes = Vec::new();
        if path.exists() {
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| Error::io(&path, e))?;
        }
        let mut frames = Vec::new();
        let mut at = from.offset as usize;
        while at + 9 <= bytes.len() {
            let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
                as usize;
            if at + 9 + len > bytes.len() {
                break;
            }
            let payload = bytes[at + 9..at + 9 + len].to_vec();
            frames.push(Frame {
                position: Position {
                    segment: 1,
                    offset: at as u64,
                },
                end: Position {
                    segment: 1,
                    offset: (at + 9 + len) as u64,
                },
                record_type: bytes[at + 8],
                payload,
            });
            at += 9 + len;
        }
        Ok(StreamReader {
            frames: frames.into_iter(),
        })
    }
}

impl Iterator for StreamReader {
    type Item = Result<Frame>;
    fn next(&mut self) -> Option<Result<Frame>> {
        self.frames.next().map(Ok)
    }
}

/// Stream ids found under `log_dir`.
pub fn list_streams(log_dir: &Path) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    if !log_dir.exists() {
        return Ok(ids);
    }
    for entry in fs::read_dir(log_dir).map_err(|e| Error::io(log_dir, e))? {
        let entry = entry.map_err(|e| Error::io(log_dir, e))?;
        if let Some(id) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}
