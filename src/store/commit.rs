//! The commit path: validate against the current state, log the record,
//! make it durable as the options say, apply it to the in-memory state.
//!
//! One writer mutex orders commits, so the log order is the apply order.
//! Readers take the state's read lock only; the write lock is held just for
//! the in-memory apply, never across I/O.

use std::sync::{Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use super::Durability;
use super::record::{self, Entry, Op};
use super::state::State;
use crate::error::{Error, Result};
use crate::log::{Position, StreamWriter};
use crate::model::now_ms;

/// The writer of this store handle: its own log stream and its health.
pub(crate) struct Writer {
    pub log: StreamWriter,
    /// Id of the stream this handle appends to (it holds the stream's lock).
    pub stream: u64,
    /// Set after a failed write or fsync: nothing more is accepted.
    pub poisoned: Option<String>,
    /// Commits appended so far (for group commit).
    pub appended: u64,
}

/// Group commit: callers wait until an fsync that started after their
/// append has finished; fsyncs are spaced at least `interval` apart.
#[derive(Default)]
pub(crate) struct GroupSync {
    state: Mutex<SyncState>,
    done: Condvar,
}

#[derive(Default)]
struct SyncState {
    synced: u64,
    syncing: bool,
    last_sync: Option<Instant>,
}

fn poisoned_error(reason: &str) -> Error {
    Error::InvalidState(format!(
        "the store refuses writes after a failed write or fsync ({reason}); reopen it"
    ))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Writer {
    /// Appends one entry; poisons the writer on failure. Returns the log
    /// position after it.
    fn append(&mut self, entry: &Entry) -> Result<Position> {
        if let Some(reason) = &self.poisoned {
            return Err(poisoned_error(reason));
        }
        let payload = record::encode(entry)?;
        match self.log.append(entry.op.type_code(), &payload) {
            Ok(appended) => {
                self.appended += 1;
                Ok(appended.end)
            }
            Err(e) => {
                self.poisoned = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// fsyncs the log; poisons the writer on failure.
    pub fn sync(&mut self) -> Result<()> {
        if let Some(reason) = &self.poisoned {
            return Err(poisoned_error(reason));
        }
        if let Err(e) = self.log.sync() {
            self.poisoned = Some(e.to_string());
            return Err(e);
        }
        Ok(())
    }
}

/// Bits of a clock value that hold the writer stream id: two streams never
/// produce the same clock, so "the larger clock wins" always decides.
pub(crate) const STREAM_BITS: u32 = 10;
/// Largest stream id a clock can carry.
pub(crate) const MAX_STREAM: u64 = (1 << STREAM_BITS) - 1;

/// The next hybrid logical clock value of `stream`: milliseconds and a
/// counter in the high bits (never behind anything this process has seen),
/// the stream id in the low bits.
pub(crate) fn next_hlc(last: u64, stream: u64) -> u64 {
    let wall = (now_ms().max(0) as u64) << 12;
    let logical = wall.max((last >> STREAM_BITS) + 1);
    (logical << STREAM_BITS) | (stream & MAX_STREAM)
}

/// Validates with `build` (which sees the current state), then logs and
/// applies the operation it returns. `Ok(None)` from `build` means "nothing
/// to do" (an idempotent call); its value is returned as is.
pub(crate) fn commit<T>(
    writer: &Mutex<Writer>,
    state: &RwLock<State>,
    group: &GroupSync,
    durability: Durability,
    build: impl FnOnce(&State) -> Result<(Option<Op>, T)>,
) -> Result<T> {
    let mut w = lock(writer);
    if let Some(reason) = &w.poisoned {
        return Err(poisoned_error(reason));
    }

    let (op, value, last_hlc) = {
        let s = state.read().unwrap_or_else(|p| p.into_inner());
        let (op, value) = build(&s)?;
        (op, value, s.hlc)
    };
    let Some(op) = op else {
        return Ok(value);
    };

    let hlc = next_hlc(last_hlc, w.stream);
    let entry = Entry { hlc, op };
    let end = w.append(&entry)?;
    if durability == Durability::SyncEach {
        w.sync()?;
    }
    {
        let mut s = state.write().unwrap_or_else(|p| p.into_inner());
        s.apply(&entry);
        s.applied.insert(w.stream, end);
    }
    let seq = w.appended;
    drop(w);

    if let Durability::Group { interval_ms } = durability {
        group.wait_synced(writer, seq, Duration::from_millis(interval_ms))?;
    }
    Ok(value)
}

impl GroupSync {
    /// Returns once commit number `seq` is on disk, leading an fsync if no
    /// other caller is doing one.
    fn wait_synced(&self, writer: &Mutex<Writer>, seq: u64, interval: Duration) -> Result<()> {
        let mut g = lock(&self.state);
        loop {
            if g.synced >= seq {
                return Ok(());
            }
            if g.syncing {
                g = self.done.wait(g).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            g.syncing = true;
            let wait = g
                .last_sync
                .map(|t| interval.saturating_sub(t.elapsed()))
                .unwrap_or_default();
            drop(g);

            let outcome = self.lead_sync(writer, wait);
            g = lock(&self.state);
            g.syncing = false;
            g.last_sync = Some(Instant::now());
            if let Ok(covered) = outcome {
                g.synced = g.synced.max(covered);
            }
            self.done.notify_all();
            outcome?;
        }
    }

    /// Waits out the spacing, then fsyncs everything appended so far,
    /// without holding the writer: others go on appending meanwhile.
    fn lead_sync(&self, writer: &Mutex<Writer>, wait: Duration) -> Result<u64> {
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        let (covered, handle) = {
            let w = lock(writer);
            if let Some(reason) = &w.poisoned {
                return Err(poisoned_error(reason));
            }
            (w.appended, w.log.sync_handle())
        };
        handle.sync()?;
        Ok(covered)
    }
}
