//! Writes a sealed series file: under a temporary name, fsynced, then
//! renamed into place, so that a reader sees the whole file or none of it.

use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::codec::{self, Encoding};
use super::file::{ENTRY_LEN, Entry, FOOTER_LEN, HEADER_LEN, MAGIC, VERSION};
use super::summary::SeriesSummary;
use crate::error::{Error, Result};
use crate::fsio::{self, File};
use crate::model::MetricPoint;

/// Series of at most this many points are stored raw by default: they are
/// small either way, and raw blocks can be borrowed without decoding.
pub const RAW_UP_TO: usize = 32;

/// What [`SeriesFileWriter::finish`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    pub series: u64,
    pub points: u64,
    /// Size of the whole file.
    pub file_bytes: u64,
    /// Bytes of the blocks alone (no header, padding, directory or footer).
    pub block_bytes: u64,
    /// Number of blocks per encoding: raw, packed, packed + lz4.
    pub raw_blocks: u64,
    pub packed_blocks: u64,
    pub lz4_blocks: u64,
}

impl FileStats {
    /// Block bytes per point (0 for an empty file).
    pub fn block_bytes_per_point(&self) -> f64 {
        if self.points == 0 {
            0.0
        } else {
            self.block_bytes as f64 / self.points as f64
        }
    }
}

/// Builds one series file; series must come in (run, key) order.
pub struct SeriesFileWriter {
    path: PathBuf,
    temp_path: PathBuf,
    out: Option<BufWriter<File>>,
    offset: u64,
    /// The directory, encoded as it is added to: 128 bytes a series, where
    /// decoded entries would take more and be encoded again at the end.
    directory: Vec<u8>,
    /// (run, key) of the last series added, for the order check.
    last: Option<(u32, u32)>,
    series: usize,
    stats: FileStats,
    raw_up_to: usize,
    block: Vec<u8>,
}

impl SeriesFileWriter {
    /// Starts a file that will appear at `path` when finished.
    pub fn create(path: impl AsRef<Path>) -> Result<SeriesFileWriter> {
        let path = path.as_ref().to_path_buf();
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        let temp_path = path.with_file_name(name);

        let file = fsio::create(&temp_path).map_err(|e| Error::io(&temp_path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&[0; HEADER_LEN])
            .map_err(|e| Error::io(&temp_path, e))?;
        Ok(SeriesFileWriter {
            path,
            temp_path,
            out: Some(out),
            offset: HEADER_LEN as u64,
            directory: Vec::new(),
            last: None,
            series: 0,
            stats: FileStats::default(),
            raw_up_to: RAW_UP_TO,
            block: Vec::new(),
        })
    }

    /// Stores series of at most `points` points raw (borrowable); longer
    /// ones in their smallest encoding. `usize::MAX` makes every block raw.
    pub fn raw_up_to(mut self, points: usize) -> SeriesFileWriter {
        self.raw_up_to = points;
        self
    }

    /// Makes room in the directory for `series` series up front, when the
    /// caller knows how many it will add.
    pub fn expect_series(mut self, series: usize) -> SeriesFileWriter {
        self.directory
            .reserve_exact(series.saturating_mul(ENTRY_LEN));
        self
    }

    /// Adds a series in the default choice of encoding.
    pub fn add(&mut self, run: u32, key: u32, points: &[MetricPoint]) -> Result<()> {
        let forced = (points.len() <= self.raw_up_to).then_some(Encoding::Raw);
        self.add_block(run, key, points, forced)
    }

    /// Adds a series in the given encoding (hot series: `Encoding::hot`).
    pub fn add_encoded(
        &mut self,
        run: u32,
        key: u32,
        points: &[MetricPoint],
        encoding: Encoding,
    ) -> Result<()> {
        self.add_block(run, key, points, Some(encoding))
    }

    fn add_block(
        &mut self,
        run: u32,
        key: u32,
        points: &[MetricPoint],
        forced: Option<Encoding>,
    ) -> Result<()> {
        if self.last.is_some_and(|last| last >= (run, key)) {
            return Err(Error::invalid(format!(
                "series ({run}, {key}) added out of (run, key) order"
            )));
        }
        if self.series >= u32::MAX as usize {
            return Err(Error::invalid("too many series for one file"));
        }

        self.block.clear();
        let encoding = match forced {
            Some(encoding) => {
                codec::encode(points, encoding, &mut self.block);
                encoding
            }
            None => codec::encode_smallest(points, &mut self.block),
        };

        let offset = self.offset.next_multiple_of(8);
        let padding = (offset - self.offset) as usize;
        self.write(&[0; 8][..padding])?;
        let block = std::mem::take(&mut self.block);
        let written = self.write(&block);
        self.block = block;
        written?;

        self.count(encoding, points.len());
        let entry = Entry {
            run,
            key,
            offset,
            len: self.block.len() as u64,
            encoding,
            crc: crc32fast::hash(&self.block),
            summary: SeriesSummary::of(points),
        };
        self.directory.extend_from_slice(&entry.encode());
        self.last = Some((run, key));
        self.series += 1;
        Ok(())
    }

    fn count(&mut self, encoding: Encoding, points: usize) {
        let stats = &mut self.stats;
        stats.series += 1;
        stats.points += points as u64;
        stats.block_bytes += self.block.len() as u64;
        match encoding {
            Encoding::Raw | Encoding::RawIndexed => stats.raw_blocks += 1,
            Encoding::Packed => stats.packed_blocks += 1,
            Encoding::PackedLz4 | Encoding::PackedLz4Parts => stats.lz4_blocks += 1,
        }
    }

    /// Writes the directory, footer and header, makes the file durable and
    /// moves it to its final name.
    pub fn finish(mut self) -> Result<FileStats> {
        let dir_offset = self.offset.next_multiple_of(8);
        let padding = (dir_offset - self.offset) as usize;
        self.write(&[0; 8][..padding])?;

        let directory = std::mem::take(&mut self.directory);
        let series = self.series as u32;
        let mut footer = Vec::with_capacity(FOOTER_LEN);
        footer.extend_from_slice(&dir_offset.to_le_bytes());
        footer.extend_from_slice(&series.to_le_bytes());
        footer.extend_from_slice(&crc32fast::hash(&directory).to_le_bytes());
        footer.extend_from_slice(&MAGIC);
        self.write(&directory)?;
        self.write(&footer)?;

        let header = header(series, self.stats.points);
        let temp = self.temp_path.clone();
        let io = |e| Error::io(&temp, e);
        let out = self
            .out
            .take()
            .ok_or_else(|| Error::InvalidState("writer closed".into()))?;
        let mut file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(&header).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);

        fsio::rename(&self.temp_path, &self.path).map_err(io)?;
        sync_parent(&self.path)?;
        self.stats.file_bytes = self.offset;
        Ok(self.stats)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| Error::InvalidState("writer closed".into()))?;
        out.write_all(bytes)
            .map_err(|e| Error::io(&self.temp_path, e))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }
}

impl Drop for SeriesFileWriter {
    /// An unfinished file is removed: it was never visible under its name.
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = fsio::remove_file(&self.temp_path);
        }
    }
}

fn header(series: u32, points: u64) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&series.to_le_bytes());
    header[16..24].copy_from_slice(&points.to_le_bytes());
    let crc = crc32fast::hash(&header[..24]);
    header[24..28].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Makes the rename durable: fsync of the folder that holds `path`.
fn sync_parent(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fsio::sync_dir(parent).map_err(|e| Error::io(parent, e))
}
