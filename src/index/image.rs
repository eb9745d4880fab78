//! The container of a checkpointed run table: a header, byte sections
//! aligned to 8 bytes, a section table and a footer, mapped with memmap2.
//!
//! Opening reads the header, the footer and the section table only (a few
//! hundred bytes whatever the store's size), so that open time does not
//! grow with the number of runs; every section carries a CRC32 that
//! [`Image::check`] verifies in full.
//!
//! ```text
//! header   magic "RSRUNIMG" | version u32 | 0 u32 | 0 u64 ... (32 bytes)
//! section  bytes, zero-padded to a multiple of 8            (repeated)
//! table    per section: offset u64 | len u64 | crc32 u32 | 0 u32 (24 bytes)
//! footer   table offset u64 | sections u32 | table crc32 u32
//!          | meta section u32 | 0 u32 | magic "RSIMGEND"       (32 bytes)
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{Error, Result};
use crate::fsio;

const MAGIC: &[u8; 8] = b"RSRUNIMG";
const END_MAGIC: &[u8; 8] = b"RSIMGEND";
/// 2: runs as one record each (`row.rs`).
const VERSION: u32 = 4;
const HEADER_LEN: usize = 32;
const ENTRY_LEN: usize = 24;
const FOOTER_LEN: usize = 32;
/// Images smaller than this are verified on one thread.
const PARALLEL_CHECK_BYTES: usize = 32 << 20;

/// Where one section lies and its checksum.
#[derive(Debug, Clone, Copy)]
struct Entry {
    offset: usize,
    len: usize,
    crc: u32,
}

/// Writes an image section by section to a temporary file; [`finish`]
/// syncs it and renames it into place.
///
/// [`finish`]: ImageWriter::finish
pub struct ImageWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<fsio::File>,
    at: usize,
    entries: Vec<Entry>,
    open: Option<(usize, crc32fast::Hasher)>,
}

impl ImageWriter {
    pub fn create(path: &Path) -> Result<ImageWriter> {
        let tmp = path.with_extension("tmp");
        let file = fsio::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut writer = ImageWriter {
            path: path.to_path_buf(),
            tmp,
            out: BufWriter::with_capacity(1 << 20, file),
            at: 0,
            entries: Vec::new(),
            open: None,
        };
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        writer.raw(&header)?;
        Ok(writer)
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| Error::io(&self.tmp, e))?;
        self.at += bytes.len();
        Ok(())
    }

    /// Starts a section; bytes go to it until [`end`](Self::end).
    pub fn begin(&mut self) {
        self.open = Some((self.at, crc32fast::Hasher::new()));
    }

    /// Appends to the open section.
    pub fn put(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some((_, hasher)) = &mut self.open {
            hasher.update(bytes);
        }
        self.raw(bytes)
    }

    /// Ends the open section, pads to 8 bytes, and returns its number.
    pub fn end(&mut self) -> Result<u32> {
        let Some((offset, hasher)) = self.open.take() else {
            return Err(Error::Internal("image section ended twice".into()));
        };
        let len = self.at - offset;
        self.entries.push(Entry {
            offset,
            len,
            crc: hasher.finalize(),
        });
        let pad = (8 - self.at % 8) % 8;
        self.raw(&[0u8; 8][..pad])?;
        Ok(self.entries.len() as u32 - 1)
    }

    /// A whole section at once.
    pub fn section(&mut self, bytes: &[u8]) -> Result<u32> {
        self.begin();
        self.put(bytes)?;
        self.end()
    }

    /// Writes `meta` as the last section, the table and the footer, then
    /// makes the file durable under its final name.
    pub fn finish(mut self, meta: &[u8]) -> Result<u64> {
        let meta_section = self.section(meta)?;
        let table_offset = self.at;
        let mut table = Vec::with_capacity(self.entries.len() * ENTRY_LEN);
        for e in &self.entries {
            table.extend_from_slice(&(e.offset as u64).to_le_bytes());
            table.extend_from_slice(&(e.len as u64).to_le_bytes());
            table.extend_from_slice(&e.crc.to_le_bytes());
            table.extend_from_slice(&0u32.to_le_bytes());
        }
        self.raw(&table)?;
        let mut footer = [0u8; FOOTER_LEN];
        footer[..8].copy_from_slice(&(table_offset as u64).to_le_bytes());
        footer[8..12].copy_from_slice(&(self.entries.len() as u32).to_le_bytes());
        footer[12..16].copy_from_slice(&crc32fast::hash(&table).to_le_bytes());
        footer[16..20].copy_from_slice(&meta_section.to_le_bytes());
        footer[24..32].copy_from_slice(END_MAGIC);
        self.raw(&footer)?;

        let written = self.at as u64;
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&self.tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        fsio::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        if let Some(dir) = self.path.parent() {
            fsio::sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        }
        Ok(written)
    }
}

/// Whether the image at `path` is of another version of this format: a
/// checkpoint to rebuild, not damage. (Anything else is left for
/// [`Image::open`] to judge.)
pub fn is_other_version(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 12];
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    match file.read_exact(&mut head) {
        Ok(()) => Ok(&head[..8] == MAGIC && u32_at(&head, 8) != VERSION),
        Err(_) => Ok(false),
    }
}

/// An open image: the map and its checked section table.
pub struct Image {
    path: PathBuf,
    map: Mmap,
    entries: Vec<Entry>,
    meta: u32,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("path", &self.path)
            .field("sections", &self.entries.len())
            .finish()
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut le = [0u8; 4];
    le.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(le)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut le = [0u8; 8];
    le.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(le)
}

impl Image {
    /// Maps the image at `path` and checks its header, footer and section
    /// table (not the sections' contents: see [`check`](Self::check)).
    pub fn open(path: &Path) -> Result<Image> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: a mapped file must not change while mapped. Images are
        // written under a temporary name, synced, renamed into place and
        // never written again; compaction and checkpoints write new files.
        // Only an outside process editing or truncating the file breaks this.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let (entries, meta) =
            parse_frame(&map).map_err(|(at, why)| Error::corrupt(path, at, why))?;
        Ok(Image {
            path: path.to_path_buf(),
            map,
            entries,
            meta,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of section `i`.
    pub fn section(&self, i: u32) -> Result<&[u8]> {
        let e = self.entries.get(i as usize).ok_or_else(|| {
            Error::corrupt(&self.path, 0, format!("no section {i} in the run image"))
        })?;
        Ok(&self.map[e.offset..e.offset + e.len])
    }

    /// Number of sections.
    pub fn sections(&self) -> usize {
        self.entries.len()
    }

    /// Where section `i` starts in the file (for error messages).
    pub fn offset(&self, i: u32) -> u64 {
        self.entries.get(i as usize).map_or(0, |e| e.offset as u64)
    }

    /// The meta section.
    pub fn meta(&self) -> Result<&[u8]> {
        self.section(self.meta)
    }

    /// Verifies every section's CRC. A big image is hashed by two threads,
    /// each taking one half of every section, the halves' CRCs combined:
    /// the pass is bound by one core's hashing speed.
    pub fn check(&self) -> Result<()> {
        let total: usize = self.entries.iter().map(|e| e.len).sum();
        let halves = |first: bool| -> Vec<crc32fast::Hasher> {
            self.entries
                .iter()
                .map(|e| {
                    let mid = e.offset + e.len / 2;
                    let range = if first {
                        e.offset..mid
                    } else {
                        mid..e.offset + e.len
                    };
                    let mut h = crc32fast::Hasher::new();
                    h.update(&self.map[range]);
                    h
                })
                .collect()
        };
        let (firsts, seconds) = if total < PARALLEL_CHECK_BYTES {
            (halves(true), halves(false))
        } else {
            std::thread::scope(|scope| {
                let other = scope.spawn(|| halves(false));
                let mine = halves(true);
                (mine, other.join().unwrap_or_default())
            })
        };
        if seconds.len() != self.entries.len() {
            return Err(Error::Internal("run image check thread failed".into()));
        }
        for ((e, mut first), second) in self.entries.iter().zip(firsts).zip(seconds) {
            first.combine(&second);
            if first.finalize() != e.crc {
                return Err(Error::corrupt(
                    &self.path,
                    e.offset as u64,
                    "run image section checksum mismatch",
                ));
            }
        }
        Ok(())
    }
}

/// The section table and meta section number of an image, or where and
/// why it is damaged.
fn parse_frame(bytes: &[u8]) -> std::result::Result<(Vec<Entry>, u32), (u64, &'static str)> {
    if bytes.len() < HEADER_LEN + FOOTER_LEN {
        return Err((bytes.len() as u64, "run image shorter than its frame"));
    }
    if &bytes[..8] != MAGIC {
        return Err((0, "not a runstore run image (bad magic)"));
    }
    if u32_at(bytes, 8) != VERSION {
        return Err((8, "unsupported run image version"));
    }
    let footer_at = bytes.len() - FOOTER_LEN;
    let footer = &bytes[footer_at..];
    if &footer[24..32] != END_MAGIC {
        return Err((footer_at as u64 + 24, "bad run image footer magic"));
    }
    let table_offset = u64_at(footer, 0) as usize;
    let count = u32_at(footer, 8) as usize;
    let table_len = count.saturating_mul(ENTRY_LEN);
    if table_offset < HEADER_LEN || table_offset.checked_add(table_len) != Some(footer_at) {
        return Err((footer_at as u64, "run image section table out of place"));
    }
    let table = &bytes[table_offset..footer_at];
    if crc32fast::hash(table) != u32_at(footer, 12) {
        return Err((
            table_offset as u64,
            "run image section table checksum mismatch",
        ));
    }
    let mut entries = Vec::with_capacity(count);
    for (i, raw) in table.chunks_exact(ENTRY_LEN).enumerate() {
        let offset = u64_at(raw, 0) as usize;
        let len = u64_at(raw, 8) as usize;
        let inside = offset >= HEADER_LEN
            && offset.is_multiple_of(8)
            && offset
                .checked_add(len)
                .is_some_and(|end| end <= table_offset);
        if !inside {
            return Err((
                (table_offset + i * ENTRY_LEN) as u64,
                "run image section outside the file",
            ));
        }
        entries.push(Entry {
            offset,
            len,
            crc: u32_at(raw, 16),
        });
    }
    let meta = u32_at(footer, 16);
    if meta as usize >= entries.len() {
        return Err((footer_at as u64 + 16, "run image names no meta section"));
    }
    Ok((entries, meta))
}

/// Fixed-width little-endian values in a section, read without copying.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a, const W: usize> {
    bytes: &'a [u8],
}

impl<'a, const W: usize> Column<'a, W> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Column { bytes }
    }

    pub fn len(&self) -> usize {
        self.bytes.len() / W
    }

    /// The raw little-endian bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    fn word(&self, i: usize) -> Option<[u8; W]> {
        let start = i.checked_mul(W)?;
        let chunk = self.bytes.get(start..start + W)?;
        let mut le = [0u8; W];
        le.copy_from_slice(chunk);
        Some(le)
    }
}

impl<'a> Column<'a, 1> {
    pub fn get(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    pub fn as_slice(&self) -> &'a [u8] {
        self.bytes
    }
}

impl Column<'_, 4> {
    pub fn get(&self, i: usize) -> Option<u32> {
        self.word(i).map(u32::from_le_bytes)
    }
}

impl Column<'_, 8> {
    pub fn get(&self, i: usize) -> Option<u64> {
        self.word(i).map(u64::from_le_bytes)
    }

    pub fn get_i64(&self, i: usize) -> Option<i64> {
        self.word(i).map(i64::from_le_bytes)
    }

    pub fn get_f64(&self, i: usize) -> Option<f64> {
        self.word(i).map(f64::from_le_bytes)
    }
}

pub type Bytes<'a> = Column<'a, 1>;
pub type U32s<'a> = Column<'a, 4>;
pub type U64s<'a> = Column<'a, 8>;

/// The `n + 1` offsets of a [`Strings`] pair: `u32` when the blob is at
/// most 4 GiB (the usual case: half the bytes of a large dictionary's
/// offsets), `u64` beyond.
#[derive(Debug, Clone, Copy)]
enum Offsets<'a> {
    Narrow(U32s<'a>),
    Wide(U64s<'a>),
}

impl Offsets<'_> {
    fn get(&self, i: usize) -> Option<u64> {
        match self {
            Offsets::Narrow(column) => column.get(i).map(u64::from),
            Offsets::Wide(column) => column.get(i),
        }
    }

    fn len(&self) -> usize {
        match self {
            Offsets::Narrow(column) => column.len(),
            Offsets::Wide(column) => column.len(),
        }
    }
}

/// Bytes of one offset of a [`Strings`] pair whose offsets are `wide` or not.
pub fn offset_width(wide: bool) -> usize {
    if wide { 8 } else { 4 }
}

/// Entries [`Strings::touch`] loads per stage: enough to keep the memory
/// system busy, few enough that what one stage loads is still cached when
/// the next reads it.
const TOUCH_BATCH: usize = 32;

/// Strings stored end to end, with `n + 1` offsets into the blob.
#[derive(Debug, Clone, Copy)]
pub struct Strings<'a> {
    offsets: Offsets<'a>,
    blob: &'a [u8],
    /// The blob as text when it is known to be UTF-8 as a whole: entries
    /// are then cut from it with `str::get`, which checks only that both
    /// ends fall on character boundaries.
    text: Option<&'a str>,
}

impl<'a> Strings<'a> {
    /// Strings over `blob` cut at `offsets` (8-byte offsets when `wide`).
    pub fn new(offsets: &'a [u8], wide: bool, blob: &'a [u8]) -> Self {
        Strings {
            offsets: Self::offsets(offsets, wide),
            blob,
            text: None,
        }
    }

    /// Strings over a blob already validated as UTF-8.
    pub fn with_text(offsets: &'a [u8], wide: bool, text: &'a str) -> Self {
        Strings {
            offsets: Self::offsets(offsets, wide),
            blob: text.as_bytes(),
            text: Some(text),
        }
    }

    fn offsets(bytes: &'a [u8], wide: bool) -> Offsets<'a> {
        if wide {
            Offsets::Wide(U64s::new(bytes))
        } else {
            Offsets::Narrow(U32s::new(bytes))
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Loads the first and last bytes of entries `ids` into the cache, all
    /// the offsets first and then all the bytes: each stage is loads that do
    /// not wait on one another, so their cache misses overlap rather than
    /// queue. Returns a sum of what it read, for the caller to pass to
    /// `black_box` so that the loads are kept.
    pub fn touch(&self, ids: impl Iterator<Item = usize>) -> u64 {
        let mut sum = 0u64;
        let mut spans = [(0usize, 0usize); TOUCH_BATCH];
        let mut ids = ids.peekable();
        while ids.peek().is_some() {
            let mut n = 0;
            for (span, i) in spans.iter_mut().zip(ids.by_ref()) {
                let start = self.offsets.get(i).unwrap_or(0);
                let end = self.offsets.get(i + 1).unwrap_or(0);
                *span = (start as usize, end as usize);
                n += 1;
            }
            for &(start, end) in &spans[..n] {
                let first = self.blob.get(start).copied().unwrap_or(0);
                let last = self.blob.get(end.wrapping_sub(1)).copied().unwrap_or(0);
                sum = sum.wrapping_add(u64::from(first) + u64::from(last));
            }
        }
        sum
    }

    /// The bytes of entry `i`, `None` when out of range or damaged.
    pub fn bytes(&self, i: usize) -> Option<&'a [u8]> {
        let start = self.offsets.get(i)? as usize;
        let end = self.offsets.get(i + 1)? as usize;
        self.blob.get(start..end)
    }

    /// Entries containing `needle`, by one substring search over the blob
    /// (entries end to end) rather than one per entry. After a match, the
    /// search goes on from the next entry: one hit per entry is enough, and
    /// a match that crosses into the next entry hides no match inside its
    /// own (a later start could not end before the boundary either).
    ///
    /// A large blob is searched in parts, one per core, each a run of whole
    /// entries.
    pub fn containing(&self, needle: &[u8]) -> Vec<u32> {
        let finder = memchr::memmem::Finder::new(needle);
        let min_part = (1usize << 20) * self.len() / self.blob.len().max(1);
        let parts = crate::parallel::split(self.len(), min_part.max(1), 1, |entries| {
            self.containing_in(&finder, needle.len(), entries)
        });
        parts.concat()
    }

    /// [`Strings::containing`] over entries `entries` only.
    fn containing_in(
        &self,
        finder: &memchr::memmem::Finder<'_>,
        needle_len: usize,
        entries: std::ops::Range<usize>,
    ) -> Vec<u32> {
        let offset = |i: usize| self.offsets.get(i).unwrap_or(0) as usize;
        let haystack = self.blob.get(..offset(entries.end)).unwrap_or(&[]);
        let mut hits = Vec::new();
        let (mut from, mut entry) = (offset(entries.start), entries.start);
        while let Some(at) = haystack.get(from..).and_then(|rest| finder.find(rest)) {
            let at = from + at;
            entry = self.entry_holding(at, entry);
            let Some(end) = self.offsets.get(entry + 1).map(|e| e as usize) else {
                break;
            };
            if at + needle_len <= end {
                hits.push(entry as u32);
            }
            from = end.max(at + 1);
        }
        hits
    }

    /// The first entry from `from` on whose end lies past byte `at`: the
    /// entry holding it. A few entries are stepped over one by one (dense
    /// matches: reads side by side), then the search gallops: steps double
    /// until they pass `at`, then halve, so a far match costs a logarithm
    /// of the distance.
    fn entry_holding(&self, at: usize, from: usize) -> usize {
        let ends_by = |entry: usize| {
            self.offsets
                .get(entry + 1)
                .is_some_and(|end| end as usize <= at)
        };
        let mut low = from;
        for _ in 0..8 {
            if !ends_by(low) {
                return low;
            }
            low += 1;
        }
        let mut step = 1usize;
        while low + step < self.len() && ends_by(low + step - 1) {
            low += step;
            step *= 2;
        }
        let mut high = (low + step).min(self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            if ends_by(mid) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }

    /// Entry `i` as text; damaged entries (caught by `check`) read as "".
    pub fn get(&self, i: usize) -> &'a str {
        if let Some(text) = self.text {
            let start = self.offsets.get(i).unwrap_or(0) as usize;
            let end = self.offsets.get(i + 1).unwrap_or(0) as usize;
            return text.get(start..end).unwrap_or("");
        }
        self.bytes(i)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

/// Builds a [`Strings`] pair of sections.
#[derive(Default)]
pub struct StringsBuilder {
    /// End offset of every entry so far (the leading 0 is implied).
    ends: Vec<u64>,
    pub blob: Vec<u8>,
}

impl StringsBuilder {
    pub fn push(&mut self, s: &[u8]) {
        self.blob.extend_from_slice(s);
        self.ends.push(self.blob.len() as u64);
    }

    /// Writes both sections; returns (offsets, blob) section numbers and
    /// whether the offsets are wide.
    pub fn write(self, out: &mut ImageWriter) -> Result<(u32, u32, bool)> {
        let (offsets, wide) = offsets_bytes(&self.ends);
        Ok((out.section(&offsets)?, out.section(&self.blob)?, wide))
    }

    /// The offsets section's bytes and width, as `write` stores them.
    #[cfg(test)]
    pub fn offsets(&self) -> (Vec<u8>, bool) {
        offsets_bytes(&self.ends)
    }
}

/// The bytes of the offsets section for entries ending at `ends` (a
/// leading 0 first): narrow when the last end fits in a `u32`.
pub fn offsets_bytes(ends: &[u64]) -> (Vec<u8>, bool) {
    let wide = ends.last().is_some_and(|&end| end > u64::from(u32::MAX));
    let mut bytes = Vec::with_capacity((ends.len() + 1) * offset_width(wide));
    for &at in std::iter::once(&0).chain(ends) {
        if wide {
            bytes.extend_from_slice(&at.to_le_bytes());
        } else {
            bytes.extend_from_slice(&(at as u32).to_le_bytes());
        }
    }
    (bytes, wide)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_sample(path: &Path) {
        let mut w = ImageWriter::create(path).unwrap();
        assert_eq!(w.section(b"abc").unwrap(), 0);
        w.begin();
        w.put(&7u32.to_le_bytes()).unwrap();
        w.put(&9u32.to_le_bytes()).unwrap();
        assert_eq!(w.end().unwrap(), 1);
        w.finish(b"{\"meta\":1}").unwrap();
    }

    #[test]
    fn sections_round_trip_and_are_aligned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.img");
        write_sample(&path);
        let image = Image::open(&path).unwrap();
        assert_eq!(image.section(0).unwrap(), b"abc");
        let col = U32s::new(image.section(1).unwrap());
        assert_eq!(
            (col.get(0), col.get(1), col.get(2)),
            (Some(7), Some(9), None)
        );
        assert_eq!(image.offset(1) % 8, 0);
        assert_eq!(image.meta().unwrap(), b"{\"meta\":1}");
        image.check().unwrap();
    }

    #[test]
    fn every_flipped_byte_is_caught_by_open_or_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.img");
        write_sample(&path);
        let good = std::fs::read(&path).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            std::fs::write(&path, &bad).unwrap();
            let caught = match Image::open(&path) {
                Err(Error::Corruption { .. }) => true,
                Err(other) => panic!("byte {i}: unexpected error {other}"),
                Ok(image) => image.check().is_err(),
            };
            // Padding and reserved bytes are not covered; everything else is.
            assert!(caught || is_unchecked(&good, i), "byte {i} not caught");
        }
    }

    /// Bytes no reader interprets: header reserve, section padding, table
    /// and footer reserve.
    fn is_unchecked(good: &[u8], i: usize) -> bool {
        let footer = good.len() - FOOTER_LEN;
        (12..HEADER_LEN).contains(&i)
            || (HEADER_LEN + 3..HEADER_LEN + 8).contains(&i)
            || (footer + 20..footer + 24).contains(&i)
            || {
                // Padding after the meta section.
                let table = u64_at(good, footer) as usize;
                let meta_end = HEADER_LEN + 8 + 8 + 10;
                i >= meta_end && i < table
            }
    }

    #[test]
    fn containing_finds_each_entry_once_and_never_across_entries() {
        let mut b = StringsBuilder::default();
        for s in ["xab", "zab", "", "ab", "b", "aab", "abab"] {
            b.push(s.as_bytes());
        }
        let (offsets, wide) = b.offsets();
        assert!(!wide);
        let strings = Strings::new(&offsets, wide, &b.blob);
        assert_eq!(strings.containing(b"ab"), vec![0, 1, 3, 5, 6]);
        // "xab|zab": "abz" only across the boundary.
        assert_eq!(strings.containing(b"abz"), Vec::<u32>::new());
        assert_eq!(strings.containing(b"bab"), vec![6]);
        assert_eq!(strings.containing(b"b"), vec![0, 1, 3, 4, 5, 6]);
    }

    #[test]
    fn offsets_are_narrow_up_to_4_gib_and_wide_beyond() {
        let (bytes, wide) = offsets_bytes(&[3, u64::from(u32::MAX)]);
        assert!(!wide);
        assert_eq!(bytes.len(), 3 * 4);

        let (bytes, wide) = offsets_bytes(&[3, u64::from(u32::MAX) + 1]);
        assert!(wide);
        assert_eq!(bytes.len(), 3 * 8);
        assert_eq!(U64s::new(&bytes).get(2), Some(1 << 32));

        // Wide offsets read the same entries as narrow ones.
        let wide_bytes: Vec<u8> = [0u64, 2, 5].iter().flat_map(|o| o.to_le_bytes()).collect();
        let strings = Strings::new(&wide_bytes, true, b"abcde");
        assert_eq!(
            (strings.len(), strings.get(0), strings.get(1)),
            (2, "ab", "cde")
        );
    }

    #[test]
    fn a_large_blob_searched_in_parts_finds_what_one_pass_finds() {
        let mut b = StringsBuilder::default();
        let values: Vec<String> = (0..200_000u32)
            .map(|i| {
                format!(
                    "v{} {}",
                    i.wrapping_mul(2_654_435_761) % 997,
                    "x".repeat(i as usize % 23)
                )
            })
            .collect();
        for v in &values {
            b.push(v.as_bytes());
        }
        let (offsets, wide) = b.offsets();
        let strings = Strings::new(&offsets, wide, &b.blob);
        assert!(b.blob.len() > 3 << 20, "the blob must span several parts");

        for needle in ["v99 ", "9 x", "xxxxxxxxxxxxxxxxxxxxxx", "v1"] {
            let want: Vec<u32> = (0..values.len() as u32)
                .filter(|&i| values[i as usize].contains(needle))
                .collect();
            assert_eq!(strings.containing(needle.as_bytes()), want, "{needle}");
        }
    }

    #[test]
    fn every_truncation_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.img");
        write_sample(&path);
        let good = std::fs::read(&path).unwrap();
        for cut in 0..good.len() {
            std::fs::write(&path, &good[..cut]).unwrap();
            assert!(
                matches!(Image::open(&path), Err(Error::Corruption { .. })),
                "cut at {cut} opened"
            );
        }
    }
}
