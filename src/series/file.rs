//! Sealed series files: written once, then memory-mapped and read in place.
//!
//! Byte map (all integers little-endian; see `docs/format.md`):
//!
//! ```text
//! header    32 B   magic "rsSERIES", version u32, series u32, points u64,
//!                  CRC32 of bytes 0..24 u32, zero u32
//! blocks           one per series, in directory order, each starting on an
//!                  8-byte boundary, zero padding between them
//! directory 128 B per series, sorted by (run, key)
//! footer    24 B   directory offset u64, series u32, directory CRC32 u32,
//!                  magic "rsSERIES"
//! ```
//!
//! Opening checks the header, the footer, the directory's CRC and that the
//! blocks tile the data region exactly; it reads no block. A block's CRC is
//! checked when the block is first read.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use memmap2::Mmap;

use super::codec::{self, Encoding};
use super::extremes::Extremes;
use super::summary::SeriesSummary;
use crate::error::{Error, Result};
use crate::model::MetricPoint;

pub(crate) const MAGIC: [u8; 8] = *b"rsSERIES";
/// The version written. Version 1 files, which lack the encoding in parts,
/// are read as well.
pub(crate) const VERSION: u32 = 2;
pub(crate) const HEADER_LEN: usize = 32;
pub(crate) const FOOTER_LEN: usize = 24;
pub(crate) const ENTRY_LEN: usize = 128;

/// A block whose CRC has not been checked yet.
const BLOCK_UNCHECKED: u8 = 0;
/// A block whose CRC matched.
const BLOCK_VERIFIED: u8 = 1;
/// A block whose CRC matched and whose points are in MLflow's history
/// order (by timestamp, then step): a raw one's columns can be lent as they
/// are, a decoded one needs no sort.
const BLOCK_IN_HISTORY_ORDER: u8 = 2;
/// A block whose CRC matched and whose points are known not to be in
/// history order.
const BLOCK_OUT_OF_ORDER: u8 = 3;

/// One directory slot, decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub run: u32,
    pub key: u32,
    pub offset: u64,
    pub len: u64,
    pub encoding: Encoding,
    pub crc: u32,
    pub summary: SeriesSummary,
}

impl Entry {
    /// The 128 bytes of this entry.
    pub fn encode(&self) -> [u8; ENTRY_LEN] {
        let s = &self.summary;
        let mut out = [0u8; ENTRY_LEN];
        put(&mut out, 0, &self.run.to_le_bytes());
        put(&mut out, 4, &self.key.to_le_bytes());
        put(&mut out, 8, &self.offset.to_le_bytes());
        put(&mut out, 16, &self.len.to_le_bytes());
        put(&mut out, 24, &s.count.to_le_bytes());
        out[32] = self.encoding as u8;
        put(&mut out, 36, &self.crc.to_le_bytes());
        put(&mut out, 40, &s.min.to_bits().to_le_bytes());
        put(&mut out, 48, &s.max.to_bits().to_le_bytes());
        for (at, point) in [(56, s.first), (80, s.last), (104, s.latest)] {
            let point = point.unwrap_or(MetricPoint {
                step: 0,
                timestamp: 0,
                value: 0.0,
            });
            put(&mut out, at, &point.step.to_le_bytes());
            put(&mut out, at + 8, &point.timestamp.to_le_bytes());
            put(&mut out, at + 16, &point.value.to_bits().to_le_bytes());
        }
        out
    }

    /// Decodes a slot; `None` names the reason it is invalid.
    fn decode(b: &[u8]) -> Result<Entry, &'static str> {
        if b.len() != ENTRY_LEN {
            return Err("directory entry is cut short");
        }
        let encoding = Encoding::from_byte(b[32]).ok_or("unknown block encoding")?;
        if b[33..36] != [0, 0, 0] {
            return Err("reserved directory bytes are not zero");
        }
        let count = u64_at(b, 24);
        let point = |at: usize| {
            (count > 0).then(|| MetricPoint {
                step: u64_at(b, at) as i64,
                timestamp: u64_at(b, at + 8) as i64,
                value: f64::from_bits(u64_at(b, at + 16)),
            })
        };
        Ok(Entry {
            run: u32_at(b, 0),
            key: u32_at(b, 4),
            offset: u64_at(b, 8),
            len: u64_at(b, 16),
            encoding,
            crc: u32_at(b, 36),
            summary: SeriesSummary {
                count,
                min: f64::from_bits(u64_at(b, 40)),
                max: f64::from_bits(u64_at(b, 48)),
                first: point(56),
                last: point(80),
                latest: point(104),
            },
        })
    }
}

/// The bytes of an open file: a map of the file, or an owned copy (fuzzing,
/// tests) held in `u64`s so that it is as aligned as a map.
enum Backing {
    Map(Mmap),
    Owned { words: Vec<u64>, len: usize },
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Map(map) => map,
            Backing::Owned { words, len } => {
                // SAFETY: every bit pattern is a valid `u8` and `u8` needs no
                // alignment, so `align_to` puts the whole slice in the middle
                // part; nothing here can break that.
                let (_, bytes, _) = unsafe { words.align_to::<u8>() };
                &bytes[..*len]
            }
        }
    }
}

/// An open, sealed series file.
pub struct SeriesFile {
    path: PathBuf,
    backing: Backing,
    series: usize,
    dir_offset: usize,
    /// What is known of each block (one of the `BLOCK_*` states), so that
    /// borrowing the columns of a hot series pays for its CRC check and its
    /// order check once per open.
    verified: Box<[AtomicU8]>,
}

impl std::fmt::Debug for SeriesFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesFile")
            .field("path", &self.path)
            .field("series", &self.series)
            .finish()
    }
}

impl SeriesFile {
    /// Maps the file at `path` and checks its frame and directory.
    pub fn open(path: impl AsRef<Path>) -> Result<SeriesFile> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io(path, e))?;

        // SAFETY: a mapped file must not change while mapped. Series files
        // are sealed: written under a temporary name, renamed into place and
        // never written again by runstore. Only an outside process writing
        // or truncating the file could break this.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        Self::parse(path.to_path_buf(), Backing::Map(map))
    }

    /// Parses a file image held in memory (`path` only names it in errors).
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: &[u8]) -> Result<SeriesFile> {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut le = [0u8; 8];
            le[..chunk.len()].copy_from_slice(chunk);
            *word = u64::from_le_bytes(le);
        }
        let backing = Backing::Owned {
            words,
            len: bytes.len(),
        };
        Self::parse(path.into(), backing)
    }

    fn parse(path: PathBuf, backing: Backing) -> Result<SeriesFile> {
        let bytes = backing.bytes();
        let corrupt = |offset: usize, reason: &str| Error::corrupt(&path, offset as u64, reason);
        if bytes.len() < HEADER_LEN + FOOTER_LEN {
            return Err(corrupt(bytes.len(), "file shorter than header and footer"));
        }

        let (series, points) = check_header(bytes).map_err(|(at, why)| corrupt(at, why))?;
        let footer_at = bytes.len() - FOOTER_LEN;
        let footer = &bytes[footer_at..];
        if footer[16..24] != MAGIC {
            return Err(corrupt(footer_at + 16, "bad footer magic"));
        }
        if u32_at(footer, 8) as usize != series {
            return Err(corrupt(
                footer_at + 8,
                "footer and header disagree on series count",
            ));
        }

        let dir_offset = u64_at(footer, 0);
        let dir_len = series * ENTRY_LEN;
        if dir_offset.checked_add(dir_len as u64) != Some(footer_at as u64)
            || dir_offset < HEADER_LEN as u64
            || !dir_offset.is_multiple_of(8)
        {
            return Err(corrupt(footer_at, "directory offset does not fit the file"));
        }
        let dir_offset = dir_offset as usize;
        let directory = &bytes[dir_offset..footer_at];
        if crate::parallel::crc32(directory) != u32_at(footer, 12) {
            return Err(corrupt(dir_offset, "directory CRC mismatch"));
        }

        check_directory(directory, dir_offset, points).map_err(|(at, why)| corrupt(at, why))?;
        let verified = (0..series)
            .map(|_| AtomicU8::new(BLOCK_UNCHECKED))
            .collect();
        Ok(SeriesFile {
            path,
            backing,
            series,
            dir_offset,
            verified,
        })
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of series in the file.
    pub fn len(&self) -> usize {
        self.series
    }

    /// Whether the file holds no series.
    pub fn is_empty(&self) -> bool {
        self.series == 0
    }

    /// The series of (`run`, `key`), found by binary search.
    pub fn series(&self, run: u32, key: u32) -> Option<SeriesRef<'_>> {
        let (mut low, mut high) = (0, self.series);
        while low < high {
            let mid = low + (high - low) / 2;
            let slot = self.slot(mid);
            match (u32_at(slot, 0), u32_at(slot, 4)).cmp(&(run, key)) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return self.at(mid),
            }
        }
        None
    }

    /// Every series in (run, key) order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32, SeriesRef<'_>)> + '_ {
        (0..self.series).filter_map(|i| self.at(i).map(|s| (s.run(), s.key(), s)))
    }

    /// Verifies every byte: every block's CRC, that every block decodes to
    /// its summary, and that the padding between blocks is zero.
    pub fn check(&self) -> Result<()> {
        let bytes = self.backing.bytes();
        let mut points = Vec::new();
        let mut expected_at = HEADER_LEN;
        for i in 0..self.series {
            let series = self
                .at(i)
                .ok_or_else(|| self.corrupt(self.slot_offset(i), "bad entry"))?;
            let start = series.entry.offset as usize;
            if !all_zero(bytes.get(expected_at..start)) {
                return Err(self.corrupt(expected_at, "padding between blocks is not zero"));
            }

            series.read_into(&mut points)?;
            if !SeriesSummary::of(&points).same_bits(&series.entry.summary) {
                return Err(self.corrupt(self.slot_offset(i), "summary does not match points"));
            }
            expected_at = start + series.entry.len as usize;
        }
        if !all_zero(bytes.get(expected_at..self.dir_offset)) {
            return Err(self.corrupt(expected_at, "padding before directory is not zero"));
        }
        Ok(())
    }

    fn slot_offset(&self, index: usize) -> usize {
        self.dir_offset + index * ENTRY_LEN
    }

    fn slot(&self, index: usize) -> &[u8] {
        let at = self.slot_offset(index);
        self.backing.bytes().get(at..at + ENTRY_LEN).unwrap_or(&[])
    }

    /// The series in slot `index`; `None` only if the directory, checked at
    /// open, were somehow invalid.
    pub(crate) fn at(&self, index: usize) -> Option<SeriesRef<'_>> {
        let entry = Entry::decode(self.slot(index)).ok()?;
        let start = usize::try_from(entry.offset).ok()?;
        let end = start.checked_add(usize::try_from(entry.len).ok()?)?;
        let block = self.backing.bytes().get(start..end)?;
        Some(SeriesRef {
            file: self,
            index,
            entry,
            block,
        })
    }

    fn corrupt(&self, offset: usize, reason: &str) -> Error {
        Error::corrupt(&self.path, offset as u64, reason)
    }
}

/// Checks the header; returns (series, points) or (offset, reason).
fn check_header(bytes: &[u8]) -> Result<(usize, u64), (usize, &'static str)> {
    if bytes[..8] != MAGIC {
        return Err((0, "bad header magic"));
    }
    if crc32fast::hash(&bytes[..24]) != u32_at(bytes, 24) {
        return Err((24, "header CRC mismatch"));
    }
    if !(1..=VERSION).contains(&u32_at(bytes, 8)) {
        return Err((8, "unsupported series file version"));
    }
    if u32_at(bytes, 28) != 0 {
        return Err((28, "reserved header bytes are not zero"));
    }
    Ok((u32_at(bytes, 12) as usize, u64_at(bytes, 16)))
}

/// Checks, without reading blocks, that entries are sorted and unique and
/// that their blocks tile the data region in order, 8-byte aligned. A large
/// directory is checked in parts on several cores, then the parts' edges
/// against each other.
fn check_directory(
    directory: &[u8],
    dir_offset: usize,
    points: u64,
) -> Result<(), (usize, &'static str)> {
    let entries = directory.len() / ENTRY_LEN;
    let parts = crate::parallel::split(entries, 1 << 16, 1, |range| {
        check_entries(directory, dir_offset, range)
    });

    let mut previous: Option<(u32, u32)> = None;
    let mut expected_at = HEADER_LEN as u64;
    let mut total: u64 = 0;
    for part in parts {
        let Some(part) = part? else {
            continue;
        };
        if previous.is_some_and(|p| p >= part.first_key) {
            return Err((part.first_at, "directory is not sorted by (run, key)"));
        }
        if part.first_offset != expected_at.next_multiple_of(8) {
            return Err((part.first_at + 8, "block does not follow the previous one"));
        }
        previous = Some(part.last_key);
        expected_at = part.end;
        total = total.saturating_add(part.points);
    }
    if expected_at.next_multiple_of(8) != dir_offset as u64 {
        return Err((dir_offset, "blocks do not end where the directory starts"));
    }
    if total != points {
        return Err((16, "header point count does not match the directory"));
    }
    Ok(())
}

/// What a run of directory entries checked on its own leaves for its
/// neighbours to agree with.
struct DirectoryPart {
    /// File offset of the part's first entry.
    first_at: usize,
    first_key: (u32, u32),
    first_offset: u64,
    last_key: (u32, u32),
    /// Where the part's last block ends.
    end: u64,
    points: u64,
}

/// Checks entries `range` among themselves: sorted, unique, tiling from
/// the first one's block on, known encodings, raw lengths. `None` for an
/// empty range.
fn check_entries(
    directory: &[u8],
    dir_offset: usize,
    range: std::ops::Range<usize>,
) -> Result<Option<DirectoryPart>, (usize, &'static str)> {
    let mut part: Option<DirectoryPart> = None;
    for i in range {
        let at = dir_offset + i * ENTRY_LEN;
        let slot = directory
            .get(i * ENTRY_LEN..(i + 1) * ENTRY_LEN)
            .unwrap_or(&[]);
        let entry = Entry::decode(slot).map_err(|why| (at, why))?;
        let count = entry.summary.count as usize;
        let raw_len = match entry.encoding {
            Encoding::Raw => codec::raw_len(count),
            Encoding::RawIndexed => codec::raw_indexed_len(count),
            _ => Some(entry.len as usize),
        };
        if raw_len != Some(entry.len as usize) {
            return Err((at + 16, "raw block length does not match its count"));
        }
        let key = (entry.run, entry.key);
        let end = entry
            .offset
            .checked_add(entry.len)
            .ok_or((at + 16, "block too long"))?;

        match part.as_mut() {
            None => {
                part = Some(DirectoryPart {
                    first_at: at,
                    first_key: key,
                    first_offset: entry.offset,
                    last_key: key,
                    end,
                    points: entry.summary.count,
                });
            }
            Some(p) => {
                if p.last_key >= key {
                    return Err((at, "directory is not sorted by (run, key)"));
                }
                if entry.offset != p.end.next_multiple_of(8) {
                    return Err((at + 8, "block does not follow the previous one"));
                }
                p.last_key = key;
                p.end = end;
                p.points = p.points.saturating_add(entry.summary.count);
            }
        }
    }
    Ok(part)
}

/// One series of an open file.
#[derive(Clone, Copy)]
pub struct SeriesRef<'a> {
    file: &'a SeriesFile,
    index: usize,
    entry: Entry,
    block: &'a [u8],
}

impl std::fmt::Debug for SeriesRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesRef")
            .field("entry", &self.entry)
            .finish()
    }
}

/// The columns of a raw block, borrowed from the file.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    pub steps: &'a [i64],
    pub timestamps: &'a [i64],
    pub values: &'a [f64],
}

impl Columns<'_> {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Point `i`, if any.
    pub fn point(&self, i: usize) -> Option<MetricPoint> {
        Some(MetricPoint {
            step: *self.steps.get(i)?,
            timestamp: *self.timestamps.get(i)?,
            value: *self.values.get(i)?,
        })
    }
}

impl<'a> SeriesRef<'a> {
    /// Run ordinal.
    pub fn run(&self) -> u32 {
        self.entry.run
    }

    /// Metric key id.
    pub fn key(&self) -> u32 {
        self.entry.key
    }

    /// Count, bounds, first, last and latest point, from the directory.
    pub fn summary(&self) -> SeriesSummary {
        self.entry.summary
    }

    /// How the block is stored.
    pub fn encoding(&self) -> Encoding {
        self.entry.encoding
    }

    /// Bytes the block takes in the file.
    pub fn block_len(&self) -> u64 {
        self.entry.len
    }

    /// The columns borrowed from the file when the block is raw, `None`
    /// when it is compressed (use [`SeriesRef::read_into`]) or on a
    /// big-endian machine. The block's CRC is checked on the first call per
    /// open file; later calls cost a directory lookup and nothing more.
    pub fn columns(&self) -> Result<Option<Columns<'a>>> {
        if !self.entry.encoding.is_raw() || cfg!(target_endian = "big") {
            return Ok(None);
        }
        self.verify()?;
        match self.raw_columns() {
            Some(columns) => Ok(Some(columns)),
            None => Err(self.corrupt(0, "raw block is misaligned or cut short")),
        }
    }

    /// The table of each chunk's extremes of a `RawIndexed` block, checked
    /// (with the block's CRC on the first read); `None` for other blocks.
    pub fn extremes(&self) -> Result<Option<Extremes<'a>>> {
        if self.entry.encoding != Encoding::RawIndexed {
            return Ok(None);
        }
        self.verify()?;
        let count = self.entry.summary.count as usize;
        let columns = count.saturating_mul(24);
        let table = self.block.get(columns..).unwrap_or_default();
        match Extremes::parse(table, count) {
            Ok(table) => Ok(Some(table)),
            Err((at, reason)) => Err(self.corrupt(columns + at, reason)),
        }
    }

    /// The three columns of a raw block as slices of the file, unchecked;
    /// `None` when the block is not raw, is misaligned or is cut short.
    fn raw_columns(&self) -> Option<Columns<'a>> {
        if !self.entry.encoding.is_raw() || cfg!(target_endian = "big") {
            return None;
        }
        let n = self.entry.summary.count as usize;
        let column = |i: usize| {
            self.block
                .get(i * n * 8..(i + 1) * n * 8)
                .and_then(as_words)
        };
        Some(Columns {
            steps: words_as_i64(column(0)?),
            timestamps: words_as_i64(column(1)?),
            values: words_as_f64(column(2)?),
        })
    }

    /// Replaces the contents of `out` with the points, in logging order,
    /// after checking the block's CRC.
    pub fn read_into(&self, out: &mut Vec<MetricPoint>) -> Result<()> {
        self.verify()?;
        let count = usize::try_from(self.entry.summary.count)
            .map_err(|_| self.corrupt(0, "point count too large"))?;
        codec::decode(self.entry.encoding, self.block, count, out)
            .map_err(|e| self.corrupt(e.offset, e.reason))
    }

    /// Replaces the contents of `out` with the series' points, as
    /// `read_into`, and says whether they are in MLflow's history order.
    /// The order of a block is learnt on its first read and remembered
    /// while the file is open, so a reader sorts only a history that needs
    /// it.
    pub fn read_history_into(&self, out: &mut Vec<MetricPoint>) -> Result<bool> {
        self.read_into(out)?;

        let state = &self.file.verified[self.index];
        match state.load(Ordering::Acquire) {
            BLOCK_IN_HISTORY_ORDER => Ok(true),
            BLOCK_OUT_OF_ORDER => Ok(false),
            _ => {
                let ordered = out.is_sorted_by(|a, b| a.history_cmp(b).is_le());
                let known = if ordered {
                    BLOCK_IN_HISTORY_ORDER
                } else {
                    BLOCK_OUT_OF_ORDER
                };
                state.store(known, Ordering::Release);
                Ok(ordered)
            }
        }
    }

    /// The columns borrowed from the file when the block is raw and its
    /// points are already in MLflow's history order (by timestamp, then
    /// step: the usual case, as points are logged as time goes on), `None`
    /// otherwise. The order is checked with the CRC, once per open file.
    pub fn history_columns(&self) -> Result<Option<Columns<'a>>> {
        let Some(columns) = self.columns()? else {
            return Ok(None);
        };
        let state = &self.file.verified[self.index];
        if state.load(Ordering::Acquire) == BLOCK_IN_HISTORY_ORDER {
            return Ok(Some(columns));
        }
        Ok(None)
    }

    /// The index of this series' slot in its file's directory.
    pub fn index(&self) -> usize {
        self.index
    }

    fn verify(&self) -> Result<()> {
        let state = &self.file.verified[self.index];
        if state.load(Ordering::Acquire) != BLOCK_UNCHECKED {
            return Ok(());
        }
        if crc32fast::hash(self.block) != self.entry.crc {
            return Err(self.corrupt(0, "block CRC mismatch"));
        }
        let known = match self.raw_columns() {
            Some(columns) if in_history_order(&columns) => BLOCK_IN_HISTORY_ORDER,
            _ => BLOCK_VERIFIED,
        };
        state.store(known, Ordering::Release);
        Ok(())
    }

    /// A corruption error at `offset` inside this block.
    fn corrupt(&self, offset: usize, reason: &str) -> Error {
        self.file
            .corrupt(self.entry.offset as usize + offset, reason)
    }
}

/// Whether every point sorts after its predecessor by (timestamp, step)
/// or ties with it (ties keep logging order, as the history order does).
fn in_history_order(columns: &Columns<'_>) -> bool {
    let keys = columns.timestamps.iter().zip(columns.steps);
    keys.clone().zip(keys.skip(1)).all(|(a, b)| a <= b)
}

/// `bytes` as aligned 8-byte words, or `None` when misaligned.
fn as_words(bytes: &[u8]) -> Option<&[u64]> {
    // SAFETY: any 8 bytes are a valid `u64`; `align_to` returns in the
    // middle only what is aligned for `u64`, and we accept the result only
    // when nothing is left over, so the words cover exactly `bytes`. The
    // bytes stay valid for the borrow: the file is immutable while mapped.
    let (prefix, words, suffix) = unsafe { bytes.align_to::<u64>() };
    (prefix.is_empty() && suffix.is_empty()).then_some(words)
}

fn words_as_i64(words: &[u64]) -> &[i64] {
    // SAFETY: `u64` and `i64` have the same size, alignment and no invalid
    // bit patterns, so the middle part is the whole slice.
    unsafe { words.align_to::<i64>() }.1
}

fn words_as_f64(words: &[u64]) -> &[f64] {
    // SAFETY: `u64` and `f64` have the same size and alignment, and every
    // bit pattern is a valid `f64`, so the middle part is the whole slice.
    unsafe { words.align_to::<f64>() }.1
}

/// Whether `bytes` exist and are all zero.
fn all_zero(bytes: Option<&[u8]>) -> bool {
    bytes.is_some_and(|b| b.iter().all(|&byte| byte == 0))
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

pub(crate) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Fuzzing entry: parses `data` as a series file and reads everything it
/// claims to hold. Must never panic; returns how many series read cleanly.
pub fn fuzz_series_file(data: &[u8]) -> usize {
    let Ok(file) = SeriesFile::from_bytes("fuzz-input", data) else {
        return 0;
    };
    let mut points = Vec::new();
    let mut clean = 0;
    for (run, key, series) in file.iter() {
        let found = file.series(run, key).map(|s| s.summary().count);
        let read = series.read_into(&mut points).is_ok();
        let borrowed = series.columns().map(|c| c.map(|c| c.len()));
        if read && found == Some(points.len() as u64) {
            clean += 1;
        }
        if let Ok(Some(len)) = borrowed {
            debug_assert_eq!(len, points.len());
        }
        if let (Ok(Some(columns)), Ok(Some(extremes))) = (series.columns(), series.extremes()) {
            // Whatever the table claims, sampling stays inside the series.
            let sampled = super::downsample_with_extremes(&columns, &extremes, None, 40);
            debug_assert!(sampled.len() <= columns.len());
        }
    }
    let _ = file.check();
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of `n` packed one-point series, 8 bytes of block each.
    fn directory(n: u32) -> (Vec<u8>, usize) {
        let point = MetricPoint {
            step: 1,
            timestamp: 2,
            value: 3.0,
        };
        let mut bytes = Vec::with_capacity(n as usize * ENTRY_LEN);
        for i in 0..n {
            let entry = Entry {
                run: i / 3,
                key: i % 3,
                offset: (HEADER_LEN + 8 * i as usize) as u64,
                len: 8,
                encoding: Encoding::Packed,
                crc: 0,
                summary: SeriesSummary::of(&[point]),
            };
            bytes.extend_from_slice(&entry.encode());
        }
        (bytes, HEADER_LEN + 8 * n as usize)
    }

    #[test]
    fn a_directory_checked_in_parts_agrees_with_one_pass_at_its_edges() {
        let n = 200_000;
        let (good, dir_offset) = directory(n);
        assert_eq!(check_directory(&good, dir_offset, u64::from(n)), Ok(()));
        assert!(check_directory(&good, dir_offset, u64::from(n) + 1).is_err());

        // Damage at entries that fall on, before and after part edges.
        for i in [0usize, 1, 65_535, 65_536, 65_537, 100_000, 199_999] {
            let at = i * ENTRY_LEN;
            let mut unsorted = good.clone();
            unsorted[at..at + 8].copy_from_slice(&[0; 8]);
            let found = check_directory(&unsorted, dir_offset, u64::from(n));
            assert!(found.is_err() || i == 0, "entry {i} moved to key (0, 0)");

            let mut misplaced = good.clone();
            let offset = u64_at(&misplaced, at + 8) + 8;
            misplaced[at + 8..at + 16].copy_from_slice(&offset.to_le_bytes());
            let found = check_directory(&misplaced, dir_offset, u64::from(n));
            assert!(found.is_err(), "entry {i} moved by 8 bytes");
        }
    }
}
