//! Opening a store (lock, load the checkpoint, replay the log after it),
//! writing checkpoints, and deep checks.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use super::commit::{GroupSync, Writer};
use super::record::Entry;
use super::state::State;
use super::{CheckReport, Options, Stats, Store};
use super::{compact, failpoint, streams};
use crate::catalog::{self, Manifest};
use crate::error::{Error, Result};
use crate::fsio;
use crate::index::{Frozen, RunTable, image_is_other_version, write_image};
use crate::log::{self, Position, StreamWriter};
use crate::model::RunStatus;
use crate::series::{Histories, SeriesFile, SeriesId};
use roaring::RoaringBitmap;
use std::sync::Arc;

/// Contents of the `FORMAT` file.
const FORMAT: &str = "runstore 1\n";

pub(crate) fn catalog_path(root: &Path) -> PathBuf {
    root.join("catalog.redb")
}

/// How many times loading starts over when a concurrent checkpoint swapped
/// the files it was reading.
const LOAD_ATTEMPTS: usize = 20;

pub(super) fn open(root: &Path, options: Options) -> Result<Store> {
    let created = prepare_folder(root, &options)?;
    finish_interrupted_rewrite(root, &options)?;
    let open_lock = streams::shared_open(root)?;
    if !options.read_only {
        // No rewrite can be running while we hold the shared lock: a
        // leftover `log.new` without the marker was never decided.
        compact::drop_undecided(root)?;
    }

    let (writer, stream_lock) = if options.read_only {
        (None, None)
    } else {
        let (stream, lock) = streams::claim_stream(root)?;
        let dir = streams::stream_dir(root, stream);
        let (log, _recovery) = StreamWriter::open(&dir, stream, options.segment_size)?;
        let writer = Writer {
            log,
            stream,
            poisoned: None,
            appended: 0,
        };
        (Some(Mutex::new(writer)), Some(lock))
    };

    let (state, checkpoint) = load(root)?;
    let store = Store {
        root: root.to_path_buf(),
        options,
        state: RwLock::new(state),
        writer,
        group: GroupSync::default(),
        checkpoint_lock: Mutex::new(checkpoint),
        refresh_lock: Mutex::new(()),
        search_cache: Mutex::new(None),
        _stream_lock: stream_lock,
        _open_lock: open_lock,
    };
    if created {
        store.create_default_experiment()?;
    }
    Ok(store)
}

/// A compaction or purge that crashed after deciding is finished before
/// anything reads the log.
fn finish_interrupted_rewrite(root: &Path, options: &Options) -> Result<()> {
    if !root.join("REWRITE").exists() {
        return Ok(());
    }
    if options.read_only {
        return Err(Error::InvalidState(format!(
            "a log rewrite of {} was interrupted; open it for writing once to finish it",
            root.display()
        )));
    }
    let _exclusive = streams::exclusive_open(root)?;
    compact::recover(root)
}

/// Checks or creates the store folder; returns whether it was created.
/// Creation happens under the store lock, so two processes creating the
/// same store at once make one store.
fn prepare_folder(root: &Path, options: &Options) -> Result<bool> {
    if root.exists() && !root.is_dir() {
        return Err(Error::invalid(format!(
            "{} is a file, not a store folder",
            root.display()
        )));
    }
    let format_path = root.join("FORMAT");
    if format_path.exists() {
        return check_format(&format_path).map(|_| false);
    }
    if options.read_only || !options.create {
        return Err(Error::not_found(format!(
            "no runstore at {}",
            root.display()
        )));
    }
    let not_empty = fs::read_dir(root).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| !matches!(e.file_name().to_str(), Some("LOCK" | "locks")))
    });
    if not_empty && !format_path.exists() && !root.join("log").exists() {
        return Err(Error::invalid(format!(
            "{} is not empty and holds no runstore; refusing to create one there",
            root.display()
        )));
    }
    fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
    let _lock = streams::store_lock(root)?;
    if format_path.exists() {
        return check_format(&format_path).map(|_| false);
    }
    for dir in [
        streams::log_dir(root),
        root.join("index"),
        root.join("artifacts"),
    ] {
        fsio::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    let tmp = root.join("FORMAT.tmp");
    let mut f = fsio::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(FORMAT.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    fsio::rename(&tmp, &format_path).map_err(|e| Error::io(&format_path, e))?;
    sync_dir(root)?;
    Ok(true)
}

fn check_format(path: &Path) -> Result<()> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    if text != FORMAT {
        return Err(Error::corrupt(
            path,
            0,
            format!("unsupported store format {:?}", text.trim()),
        ));
    }
    Ok(())
}

/// Loads the last checkpoint (if any) and replays every stream after it.
/// Returns the state and the number of the checkpoint loaded. A checkpoint
/// written by another process meanwhile makes it start over.
fn load(root: &Path) -> Result<(State, u64)> {
    let mut last_error = None;
    for _ in 0..LOAD_ATTEMPTS {
        match load_once(root) {
            Ok(loaded) => return Ok(loaded),
            Err(Error::Io { path, source }) if source.kind() == ErrorKind::NotFound => {
                last_error = Some(Error::Io { path, source });
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| Error::InvalidState("cannot load the store".into())))
}

fn load_once(root: &Path) -> Result<(State, u64)> {
    let mut manifest = read_manifest(root);
    if let Some(name) = &manifest.snapshot
        && image_is_other_version(&root.join("index").join(name))?
    {
        tracing::warn!(
            image = name,
            "run image of another format version; rebuilding from the log"
        );
        manifest = Manifest::default();
    }
    let mut state = State::default();
    // The image and the series file are checked side by side: each is a
    // pass over a large file, and they share nothing.
    let (frozen, series) = std::thread::scope(|scope| {
        let series = scope.spawn(|| {
            let name = manifest.series.as_ref()?;
            Some(SeriesFile::open(root.join("series").join(name)))
        });
        let frozen = manifest
            .snapshot
            .as_ref()
            .map(|name| Frozen::open(&root.join("index").join(name)));
        let series = series
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (frozen, series)
    });
    if let Some(frozen) = frozen {
        state.table = RunTable::from_frozen(Arc::new(frozen?))?;
        state.hlc = manifest.hlc;
    }
    if let Some(file) = series {
        state.series = Histories::with_sealed(Some(Arc::new(file?)));
    }
    state.applied = manifest.positions.clone();
    replay(root, &mut state, None)?;
    Ok((state, manifest.checkpoint))
}

/// Name of the run image of checkpoint `n`.
fn image_name(n: u64) -> String {
    format!("{IMAGE_PREFIX}{n:016}.img")
}

const IMAGE_PREFIX: &str = "runs-";

/// The catalog's manifest; an unreadable catalog means "rebuild from the
/// log" (it is derived state), and so does a checkpoint of an older format
/// (its snapshot is not a run image). A catalog busy in another process's
/// checkpoint is waited for.
fn read_manifest(root: &Path) -> Manifest {
    let path = catalog_path(root);
    for attempt in 0..LOAD_ATTEMPTS {
        match catalog::read_manifest(&path) {
            Ok(Some(m))
                if m.snapshot
                    .as_deref()
                    .is_some_and(|n| !n.starts_with(IMAGE_PREFIX)) =>
            {
                tracing::warn!("checkpoint of an older format; rebuilding from the log");
                return Manifest::default();
            }
            Ok(m) => return m.unwrap_or_default(),
            Err(e) if attempt + 1 < LOAD_ATTEMPTS && catalog::is_busy(&e) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                tracing::warn!(error = %e, "catalog unreadable; rebuilding from the log");
                return Manifest::default();
            }
        }
    }
    Manifest::default()
}

/// Applies every record of every stream (but `skip`) after the positions
/// in `state.applied`, in clock order across streams.
pub(super) fn replay(root: &Path, state: &mut State, skip: Option<u64>) -> Result<u64> {
    let from = state.applied.clone();
    streams::merge_new(root, &from, skip, |stream, end, entry| {
        state.apply(entry);
        state.applied.insert(stream, end);
    })
}

/// Picks up what other writer processes appended since the last look.
pub(super) fn refresh(store: &Store) -> Result<u64> {
    let _one_at_a_time = store.refresh_lock.lock().unwrap_or_else(|p| p.into_inner());
    let own = store
        .writer
        .as_ref()
        .map(|w| w.lock().unwrap_or_else(|p| p.into_inner()).stream);
    let from = store.read().applied.clone();
    let mut news: Vec<(u64, Position, Entry)> = Vec::new();
    streams::merge_new(&store.root, &from, own, |stream, end, entry| {
        news.push((stream, end, entry.clone()));
    })?;
    if news.is_empty() {
        return Ok(0);
    }
    let mut state = store.state.write().unwrap_or_else(|p| p.into_inner());
    for (stream, end, entry) in &news {
        state.apply(entry);
        state.applied.insert(*stream, *end);
    }
    Ok(news.len() as u64)
}

/// Writes a checkpoint: snapshot file, then the catalog naming it, then
/// removal of the snapshot it replaces. One process at a time; records
/// other writers append meanwhile lie after the recorded positions and are
/// replayed on the next open, never lost and never applied twice.
pub(super) fn checkpoint(store: &Store) -> Result<()> {
    let Some(writer) = &store.writer else {
        return Err(Error::InvalidState("the store is open read-only".into()));
    };
    let mut number = store
        .checkpoint_lock
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let _exclusive = streams::checkpoint_lock(&store.root)?;
    refresh(store)?;

    let current = read_manifest(&store.root).checkpoint;
    let next = (*number).max(current) + 1;
    let name = image_name(next);
    let series_name = format!("series-{next:016}.bin");
    let index_dir = store.root.join("index");
    let series_dir = store.root.join("series");
    fsio::create_dir_all(&series_dir).map_err(|e| Error::io(&series_dir, e))?;
    fsio::create_dir_all(&index_dir).map_err(|e| Error::io(&index_dir, e))?;

    // Hold the writer so the positions and the state agree; the run image
    // is written under the state's read lock (readers go on, writers wait).
    let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
    let _no_refresh = store.refresh_lock.lock().unwrap_or_else(|p| p.into_inner());
    w.sync()?;
    let (hlc, positions, covered, running, histories, version) = {
        let state = store.read();
        write_image(&state.table, &index_dir.join(&name))?;
        let covered = state.series.tail_lengths();
        (
            state.hlc,
            state.applied.clone(),
            covered,
            running_runs(&state.table),
            state.series.snapshot(),
            state.version,
        )
    };
    drop(_no_refresh);
    drop(w);
    failpoint::hit("checkpoint:snapshot-written");

    // Series of running runs are hot: dashboards re-read them while the run
    // trains, so they stay raw and are lent in place. A finished run's
    // series are cold and get compressed at the next checkpoint.
    let hot = |(run, _key): SeriesId| running.contains(run);
    let sealed = histories.write_file(&series_dir.join(&series_name), &covered, hot)?;
    // Let go of the snapshot's share of the tail before the tail is cut,
    // so cutting it does not copy it.
    drop(histories);
    failpoint::hit("checkpoint:series-written");
    let manifest = Manifest {
        checkpoint: next,
        hlc,
        snapshot: Some(name.clone()),
        series: Some(series_name.clone()),
        positions,
    };
    write_catalog(&catalog_path(&store.root), &manifest, &store.read().table)?;
    failpoint::hit("checkpoint:catalog-written");
    let frozen = Frozen::open(&index_dir.join(&name))?;
    {
        let mut state = store.state.write().unwrap_or_else(|p| p.into_inner());
        state.series.seal(sealed, &covered);
        // Nothing applied since the image was written: read from it, and
        // let go of the memory the live part held.
        if state.version == version {
            state.table = RunTable::from_frozen(Arc::new(frozen))?;
        }
    }
    *number = next;
    remove_old_files(&index_dir, IMAGE_PREFIX, &name);
    remove_old_files(&index_dir, "snapshot-", &name);
    failpoint::hit("checkpoint:old-snapshot-removed");
    remove_old_files(&series_dir, "series-", &series_name);
    Ok(())
}

/// Ordinals of the runs whose status is RUNNING.
fn running_runs(table: &RunTable) -> RoaringBitmap {
    (0..table.len() as u32)
        .filter(|&ord| table.get(ord).status() == RunStatus::Running)
        .collect()
}

/// The catalog's commit, one step of the file layer on either side (redb
/// does its own I/O), so fault tests can fail a checkpoint just before the
/// commit or just after it.
fn write_catalog(path: &Path, manifest: &Manifest, table: &RunTable) -> Result<()> {
    fsio::step("catalog-commit", path).map_err(|e| Error::io(path, e))?;
    catalog::write_waiting(path, manifest, table)?;
    fsio::step("catalog-committed", path).map_err(|e| Error::io(path, e))
}

/// Old checkpoint files are garbage once the catalog names newer ones;
/// failing to remove one only costs disk space. (A reader that mapped an
/// old series file keeps its mapping: unlinking does not take it away.)
fn remove_old_files(dir: &Path, prefix: &str, keep: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name != keep {
            let _ = fsio::remove_file(&entry.path());
        }
    }
}

pub(super) fn check(store: &Store) -> Result<CheckReport> {
    let root = &store.root;
    let mut report = CheckReport {
        streams: log::list_streams(&streams::log_dir(root))?.len() as u64,
        records: streams::merge_new(root, &Default::default(), None, |_, _, _| {})?,
        log_bytes: folder_size(&streams::log_dir(root)),
        snapshot_bytes: 0,
    };
    let manifest = catalog::read_manifest(&catalog_path(root))?.unwrap_or_default();
    if let Some(name) = manifest.snapshot {
        let path = root.join("index").join(name);
        Frozen::open(&path)?.check()?;
        report.snapshot_bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    if let Some(name) = manifest.series {
        let path = root.join("series").join(name);
        SeriesFile::open(&path)?.check()?;
        report.snapshot_bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    Ok(report)
}

pub(super) fn stats(store: &Store) -> Result<Stats> {
    let state = store.read();
    let table = &state.table;
    let runs = table.len() as u32;
    let (run_image_bytes, index_mapped_bytes) = table.mapped_bytes();
    Ok(Stats {
        experiments: table.experiments().len() as u64,
        runs: u64::from(runs),
        deleted_runs: table.deleted().len(),
        metric_points: state.series.total_points(),
        params: (0..runs).map(|o| table.param_slots(o).len() as u64).sum(),
        tags: (0..runs)
            .map(|o| table.tag_slots(o).iter().filter(|t| t.1.is_some()).count() as u64)
            .sum(),
        log_bytes: folder_size(&streams::log_dir(&store.root)),
        checkpoint_bytes: folder_size(&store.root.join("index"))
            + folder_size(&store.root.join("series"))
            + fs::metadata(catalog_path(&store.root))
                .map(|m| m.len())
                .unwrap_or(0),
        artifact_bytes: folder_size(&store.root.join("artifacts")),
        index_heap_bytes: table.index_heap_bytes() as u64,
        index_mapped_bytes,
        run_image_bytes,
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

/// fsyncs a folder so a rename or new file in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fsio::sync_dir(dir).map_err(|e| Error::io(dir, e))
}
