//! The store: opening and recovery, the write path, snapshots for readers,
//! checkpoints.
//!
//! `Store` is `Send + Sync`. Writes are serialised by one writer mutex and
//! validated against the state before they are logged; readers take the
//! state's read lock, which a writer holds only for the in-memory apply of a
//! record, never across I/O.

mod artifacts;
mod commit;
mod compact;
mod experiments;
mod failpoint;
mod open;
pub mod record;
mod runs;
mod search;
mod state;
mod streams;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

pub use artifacts::ArtifactInfo;
use commit::{GroupSync, Writer};
pub use compact::CompactReport;
use record::Op;
use state::State;

use crate::error::{Error, Result};

/// When a commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync before every commit returns.
    SyncEach,
    /// Callers wait for an fsync that covers their commit; fsyncs are spaced
    /// at least `interval_ms` apart so concurrent commits share one.
    Group { interval_ms: u64 },
    /// Leave flushing to the operating system: a crash may lose recent
    /// commits (never corrupt the store).
    None,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct Options {
    pub durability: Durability,
    /// Size at which a log segment is sealed and a new one started.
    pub segment_size: u64,
    /// Open without taking the writer lock; every write fails.
    pub read_only: bool,
    /// Create the store if the folder holds none.
    pub create: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::Group { interval_ms: 2 },
            segment_size: 64 << 20,
            read_only: false,
            create: true,
        }
    }
}

impl Options {
    /// Options for a read-only open of an existing store.
    pub fn read_only() -> Options {
        Options {
            read_only: true,
            create: false,
            ..Options::default()
        }
    }
}

/// An open runstore.
pub struct Store {
    root: PathBuf,
    options: Options,
    state: RwLock<State>,
    /// `None` for read-only opens.
    writer: Option<Mutex<Writer>>,
    group: GroupSync,
    /// Serialises checkpoints within the process; holds the number of the
    /// last checkpoint.
    checkpoint_lock: Mutex<u64>,
    /// Serialises refreshes, so no record of another stream is applied twice.
    refresh_lock: Mutex<()>,
    /// The full order of the last search paged through, with the state
    /// version it was computed at.
    search_cache: Mutex<Option<(u64, crate::query::plan::Ordered)>>,
    /// The lock on this handle's writer stream, held while it is open.
    _stream_lock: Option<File>,
    /// Shared lock held by every open handle, so that a log rewrite can
    /// tell it has the store to itself.
    _open_lock: File,
}

impl Store {
    /// Opens (or, with `options.create`, creates) the store at `path`.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Store> {
        open::open(path.as_ref(), options)
    }

    /// The folder of the store.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A consistent view of the state for reading.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `build` against the current state and commits the operation it
    /// returns (if any), returning `build`'s value. A run or experiment that
    /// is not known yet may have been created by another writer process:
    /// then the store catches up with the other streams and tries once more.
    fn commit<T>(&self, build: impl Fn(&State) -> Result<(Option<Op>, T)>) -> Result<T> {
        let Some(writer) = &self.writer else {
            return Err(Error::InvalidState("the store is open read-only".into()));
        };
        let durability = self.options.durability;
        match commit::commit(writer, &self.state, &self.group, durability, &build) {
            Err(Error::ResourceDoesNotExist(_)) if self.refresh()? > 0 => {
                commit::commit(writer, &self.state, &self.group, durability, &build)
            }
            other => other,
        }
    }

    /// Commits a store-wide decision (experiment names and ids): under the
    /// store lock, after catching up with every other writer, so two
    /// processes never both take one name.
    fn commit_exclusive<T>(&self, build: impl Fn(&State) -> Result<(Option<Op>, T)>) -> Result<T> {
        if self.writer.is_none() {
            return Err(Error::InvalidState("the store is open read-only".into()));
        }
        let _lock = streams::store_lock(&self.root)?;
        self.refresh()?;
        self.commit(build)
    }

    /// Catches up with what other writer processes appended since this
    /// handle last looked; returns the number of records applied. Searches
    /// do this by themselves; other reads see the state as of the last
    /// refresh (or this handle's own writes).
    pub fn refresh(&self) -> Result<u64> {
        open::refresh(self)
    }

    /// Writes derived state (catalog and snapshot) for everything logged so
    /// far, so the next open replays only what follows.
    pub fn checkpoint(&self) -> Result<()> {
        open::checkpoint(self)
    }

    /// An estimate of the memory held for what was written since the last
    /// checkpoint (live rows, series tails), which the next checkpoint
    /// releases: for deciding when to checkpoint, not for accounting. A
    /// point costs its 24 bytes; a row, a param or tag and a series a fixed
    /// amount, measured on the benchmark workload (`docs/architecture.md`).
    pub fn held_since_checkpoint(&self) -> u64 {
        const ROW_BYTES: u64 = 1024;
        const SLOT_BYTES: u64 = 32;
        const SERIES_BYTES: u64 = 64;
        const POINT_BYTES: u64 = 24;

        let state = self.read();
        let rows = state.table.live_len() as u64;
        let slots = state.table.live_slots() as u64;
        let (series, points) = state.series.tail_size();
        rows * ROW_BYTES + slots * SLOT_BYTES + series as u64 * SERIES_BYTES + points * POINT_BYTES
    }

    /// Checkpoints and releases the store (and its writer lock).
    pub fn close(self) -> Result<()> {
        if self.writer.is_some() {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Reads and verifies every record of the log and the checkpoint files.
    pub fn check(&self) -> Result<CheckReport> {
        open::check(self)
    }

    /// Counts and sizes, for `stats`.
    pub fn stats(&self) -> Result<Stats> {
        open::stats(self)
    }
}

/// What `check` read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub streams: u64,
    pub records: u64,
    pub log_bytes: u64,
    pub snapshot_bytes: u64,
}

/// Store-wide counts and sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub experiments: u64,
    pub runs: u64,
    pub deleted_runs: u64,
    pub metric_points: u64,
    pub params: u64,
    pub tags: u64,
    pub log_bytes: u64,
    pub checkpoint_bytes: u64,
    pub artifact_bytes: u64,
    /// Heap held by indexes and by runs changed since the last checkpoint.
    pub index_heap_bytes: u64,
    /// Bytes of the index sections of the mapped run image (dictionaries,
    /// postings, columns), read in place: page cache, not heap.
    pub index_mapped_bytes: u64,
    /// Size of the whole mapped run image (runs' data and indexes).
    pub run_image_bytes: u64,
}
