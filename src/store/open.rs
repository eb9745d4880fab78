//! Opening a store (lock, load the checkpoint, replay the log after it),
//! writing checkpoints, and deep checks.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use super::commit::{GroupSync, Writer};
use super::record::{self, Entry, Op};
use super::snapshot;
use super::state::State;
use super::{CheckReport, Options, Stats, Store};
use crate::catalog::{self, Manifest};
use crate::error::{Error, Result};
use crate::index::FieldClocks;
use crate::log::{self, Position, StreamReader, StreamWriter};

/// Contents of the `FORMAT` file.
const FORMAT: &str = "runstore 1\n";
/// This process's writer stream. One writer process at a time for now; the
/// layout already keeps one folder per stream.
const STREAM_ID: u64 = 1;

pub(crate) fn catalog_path(root: &Path) -> PathBuf {
    root.join("catalog.redb")
}

fn log_dir(root: &Path) -> PathBuf {
    root.join("log")
}

fn stream_dir(root: &Path, stream: u64) -> PathBuf {
    log::stream_dir(&log_dir(root), stream)
}

fn segment_path(root: &Path, stream: u64, segment: u64) -> PathBuf {
    stream_dir(root, stream).join(log::segment_file_name(segment))
}

pub(super) fn open(root: &Path, options: Options) -> Result<Store> {
    let created = prepare_folder(root, &options)?;
    let lock = if options.read_only {
        None
    } else {
        Some(take_writer_lock(root)?)
    };

    let writer = if options.read_only {
        None
    } else {
        let (log, recovery) = StreamWriter::open(
            &stream_dir(root, STREAM_ID),
            STREAM_ID,
            options.segment_size,
        )?;
        let _ = recovery;
        Some(Mutex::new(Writer {
            log,
            poisoned: None,
            appended: 0,
        }))
    };

    let (state, checkpoint) = load(root)?;
    let store = Store {
        root: root.to_path_buf(),
        options,
        state: RwLock::new(state),
        writer,
        group: GroupSync::default(),
        checkpoint_lock: Mutex::new(checkpoint),
        _lock: lock,
    };
    if created {
        store.create_default_experiment()?;
    }
    Ok(store)
}

/// Checks or creates the store folder; returns whether it was created.
fn prepare_folder(root: &Path, options: &Options) -> Result<bool> {
    let format_path = root.join("FORMAT");
    if format_path.exists() {
        let text = fs::read_to_string(&format_path).map_err(|e| Error::io(&format_path, e))?;
        if text != FORMAT {
            return Err(Error::corrupt(
                &format_path,
                0,
                format!("unsupported store format {:?}", text.trim()),
            ));
        }
        return Ok(false);
    }
    if options.read_only || !options.create {
        return Err(Error::not_found(format!(
            "no runstore at {}",
            root.display()
        )));
    }
    let not_empty = fs::read_dir(root).is_ok_and(|mut d| d.next().is_some());
    if not_empty {
        return Err(Error::invalid(format!(
            "{} is not empty and holds no runstore; refusing to create one there",
            root.display()
        )));
    }
    for dir in [
        root.to_path_buf(),
        log_dir(root),
        root.join("index"),
        root.join("artifacts"),
    ] {
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    let mut f = File::create(&format_path).map_err(|e| Error::io(&format_path, e))?;
    f.write_all(FORMAT.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(&format_path, e))?;
    snapshot::sync_dir(root)?;
    Ok(true)
}

/// Takes the store-wide writer lock (released when the file is closed,
/// including when the process dies).
fn take_writer_lock(root: &Path) -> Result<File> {
    let path = root.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::Locked {
            path: root.to_path_buf(),
        }),
        Err(fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

/// Loads the last checkpoint (if any) and replays the log after it.
/// Returns the state and the number of the checkpoint loaded.
fn load(root: &Path) -> Result<(State, u64)> {
    let manifest = match catalog::read_manifest(&catalog_path(root)) {
        Ok(m) => m.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %e, "catalog unreadable; rebuilding from the log");
            Manifest::default()
        }
    };
    let mut state = State::default();
    if let Some(name) = &manifest.snapshot {
        let snap = snapshot::read(&root.join("index").join(name))?;
        restore_snapshot(&mut state, snap);
        state.hlc = manifest.hlc;
    }
    replay(root, &manifest, &mut state)?;
    Ok((state, manifest.checkpoint))
}

fn restore_snapshot(state: &mut State, snap: snapshot::Snapshot) {
    for experiment in snap.experiments {
        state.apply(&Entry {
            hlc: 0,
            op: Op::PutExperiment(experiment),
        });
    }
    state.apply(&Entry {
        hlc: 0,
        op: Op::PutRuns {
            runs: snap.runs,
            keep_duplicates: true,
        },
    });
    for (ord, c) in snap.clocks.iter().enumerate() {
        let fields = FieldClocks {
            name: c.name,
            status: c.status,
            end_time: c.end_time,
            lifecycle: c.lifecycle,
        };
        state
            .table
            .restore_clocks(ord as u32, fields, &c.params, &c.tags);
    }
}

/// Applies every record after the checkpoint's positions, merging writer
/// streams by their clock (ties by stream id, then log order).
fn replay(root: &Path, manifest: &Manifest, state: &mut State) -> Result<()> {
    let mut readers = Vec::new();
    for stream in log::list_streams(&log_dir(root))? {
        let from = manifest
            .positions
            .get(&stream)
            .copied()
            .unwrap_or(Position::START);
        let reader = StreamReader::open(&stream_dir(root, stream), stream, from)?;
        readers.push((stream, reader.peekable_entries(root, stream)));
    }
    loop {
        let mut best: Option<(u64, usize)> = None;
        for (i, (_, entries)) in readers.iter_mut().enumerate() {
            match entries.peek() {
                Some(Ok((_, entry))) if best.is_none_or(|(hlc, _)| entry.hlc < hlc) => {
                    best = Some((entry.hlc, i));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) => {
                    if let Some(Err(e)) = entries.next() {
                        return Err(e);
                    }
                }
                None => {}
            }
        }
        let Some((_, i)) = best else {
            return Ok(());
        };
        if let Some(Ok((_, entry))) = readers[i].1.next() {
            state.apply(&entry);
        }
    }
}

/// Decoded entries of a stream, each with the position after it.
type Entries = std::iter::Peekable<Box<dyn Iterator<Item = Result<(Position, Entry)>>>>;

trait DecodeEntries {
    fn peekable_entries(self, root: &Path, stream: u64) -> Entries;
}

impl DecodeEntries for StreamReader {
    fn peekable_entries(self, root: &Path, stream: u64) -> Entries {
        let root = root.to_path_buf();
        let decoded = self.map(move |frame| {
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
        let boxed: Box<dyn Iterator<Item = Result<(Position, Entry)>>> = Box::new(decoded);
        boxed.peekable()
    }
}

/// Writes a checkpoint: snapshot file, then the catalog naming it, then
/// removal of the snapshot it replaces.
pub(super) fn checkpoint(store: &Store) -> Result<()> {
    let Some(writer) = &store.writer else {
        return Err(Error::InvalidState("the store is open read-only".into()));
    };
    let mut number = store
        .checkpoint_lock
        .lock()
        .unwrap_or_else(|p| p.into_inner());

    // Hold the writer so the positions and the state agree.
    let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
    w.sync()?;
    let position = w.log.position();
    let (snap, hlc) = {
        let state = store.read();
        (snapshot::capture(&state), state.hlc)
    };
    drop(w);

    let next = *number + 1;
    let name = format!("snapshot-{next:016}.bin");
    let index_dir = store.root.join("index");
    snapshot::write(&index_dir.join(&name), &snap)?;
    let manifest = Manifest {
        checkpoint: next,
        hlc,
        snapshot: Some(name.clone()),
        positions: [(STREAM_ID, position)].into(),
    };
    catalog::write(&catalog_path(&store.root), &manifest, &store.read().table)?;
    *number = next;
    remove_old_snapshots(&index_dir, &name);
    Ok(())
}

/// Old snapshots are garbage once the catalog names a newer one; failing to
/// remove one only costs disk space.
fn remove_old_snapshots(index_dir: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(index_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snapshot-") && name != keep {
            let _ = fs::remove_file(entry.path());
        }
    }
}

pub(super) fn check(store: &Store) -> Result<CheckReport> {
    let root = &store.root;
    let mut report = CheckReport::default();
    for stream in log::list_streams(&log_dir(root))? {
        report.streams += 1;
        let reader = StreamReader::open(&stream_dir(root, stream), stream, Position::START)?;
        for item in reader.peekable_entries(root, stream) {
            item?;
            report.records += 1;
        }
    }
    report.log_bytes = folder_size(&log_dir(root));
    let manifest = catalog::read_manifest(&catalog_path(root))?;
    if let Some(name) = manifest.and_then(|m| m.snapshot) {
        let path = root.join("index").join(name);
        snapshot::read(&path)?;
        report.snapshot_bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    Ok(report)
}

pub(super) fn stats(store: &Store) -> Result<Stats> {
    let state = store.read();
    let table = &state.table;
    let rows = table.rows();
    Ok(Stats {
        experiments: table.experiments().len() as u64,
        runs: rows.len() as u64,
        deleted_runs: table.deleted().len(),
        metric_points: state.series.total_points(),
        params: rows.iter().map(|r| r.params.len() as u64).sum(),
        tags: rows.iter().map(|r| r.tags.len() as u64).sum(),
        log_bytes: folder_size(&log_dir(&store.root)),
        checkpoint_bytes: folder_size(&store.root.join("index"))
            + fs::metadata(catalog_path(&store.root))
                .map(|m| m.len())
                .unwrap_or(0),
        artifact_bytes: folder_size(&store.root.join("artifacts")),
        index_heap_bytes: table.index_heap_bytes() as u64,
    })
}

/// Total size of the files under `dir` (0 if it cannot be read).
pub(crate) fn folder_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => folder_size(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
