//! Crash tests through the file layer: every operation of a checkpoint, a
//! compaction and a purge (file creations, writes, fsyncs, renames,
//! removals, folder fsyncs, the catalog commit) fails in turn — once, or
//! from there on as if the disk had gone away; plainly, or as a torn write
//! that leaves half of its buffer on disk. The call must return an error
//! (or succeed, when only the removal of garbage failed), never panic; a
//! handle left must still read the same content; the store must reopen to
//! the same content (for a purge: before or after it, never a mix); and
//! doing the work again must succeed, to the expected content, leaving no
//! temporary file behind.
//!
//! The fault countdown is process-global: the tests here take `SERIAL`, and
//! this file is a test binary of its own, so no other test's I/O is counted.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use common::files::{copy_tree, files_under};
use common::stores::fill_history_store;
use runstore::import::{diff_json, store_truth_json};
use runstore::store::CompactReport;
use runstore::testing::{self, FaultKind};
use runstore::{Durability, Error, Metric, Options, SearchRequest, Store, ViewType};
use serde_json::{Value, json};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    Checkpoint,
    Compact,
    Purge,
}

/// Which operation fails, and how.
#[derive(Debug, Clone, Copy)]
struct Fault {
    n: u64,
    kind: FaultKind,
    /// Every later operation fails too.
    lasting: bool,
}

impl Fault {
    /// Every way to fail each of the operations `ops` (a torn write is a
    /// kind of its own for writes only).
    fn all(ops: &[String]) -> Vec<Fault> {
        let mut all = Vec::new();
        for (n, op) in (0u64..).zip(ops) {
            let mut kinds = vec![FaultKind::Error];
            if op.starts_with("write ") {
                kinds.push(FaultKind::Torn);
            }
            for kind in kinds {
                for lasting in [false, true] {
                    all.push(Fault { n, kind, lasting });
                }
            }
        }
        all
    }

    /// Arms the fault until the guard drops, so a failing assertion does
    /// not leave it armed.
    fn arm(self) -> Armed {
        if self.lasting {
            testing::fail_after(self.n, self.kind);
        } else {
            testing::fail_once(self.n, self.kind);
        }
        Armed
    }
}

struct Armed;

impl Drop for Armed {
    fn drop(&mut self) {
        testing::disarm();
    }
}

/// A scratch folder, in memory where the system has one: these tests are
/// about what failures leave behind, not about fsync, whose cost on a busy
/// disk would make up most of their time.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

fn options() -> Options {
    Options {
        durability: Durability::SyncEach,
        segment_size: 2 << 10,
        ..Options::default()
    }
}

/// A store with a checkpoint, a tail after it, a deleted run, a deleted
/// experiment, metric histories on both sides of the checkpoint, and
/// artifacts.
fn build(root: &Path) {
    let store = Store::open(root, options()).unwrap();
    fill_history_store(&store, 4, true);
}

/// Everything a reader can see: the truth document, a few searches (which
/// read the indexes), and the artifacts' bytes.
fn content(store: &Store) -> Value {
    let mut doc = store_truth_json(store).unwrap();
    let mut searches = serde_json::Map::new();
    for filter in ["metrics.m > 110", "tags.round = '5'", "params.i = '2'", ""] {
        let request = SearchRequest {
            filter: Some(filter.to_string()),
            order_by: vec!["params.i DESC".to_string()],
            view_type: ViewType::All,
            ..SearchRequest::default()
        };
        let page = store.search_runs(&request).unwrap();
        let ids: Vec<&str> = page.runs.iter().map(|r| r.info.run_id.as_str()).collect();
        searches.insert(filter.to_string(), json!(ids));
    }
    let mut artifacts = serde_json::Map::new();
    for run in store.run_ids().unwrap() {
        for file in store.list_artifact_files(&run).unwrap() {
            let bytes = store.read_artifact(&run, &file.path).unwrap();
            let key = format!("{run}/{}", file.path);
            artifacts.insert(key, json!(String::from_utf8_lossy(&bytes)));
        }
    }
    doc["searches"] = Value::Object(searches);
    doc["artifact_bytes"] = Value::Object(artifacts);
    doc
}

fn content_at(root: &Path) -> Value {
    content(&Store::open(root, options()).unwrap())
}

fn same(expected: &Value, actual: &Value) -> bool {
    diff_json(expected, actual).is_empty()
}

/// Does `work`; returns its outcome and the handle left, if any (compact
/// and purge consume the handle and return a fresh one on success).
fn run(work: Work, store: Store) -> (runstore::Result<()>, Option<Store>) {
    let rewritten = |r: runstore::Result<(Store, CompactReport)>| match r {
        Ok((store, _)) => (Ok(()), Some(store)),
        Err(e) => (Err(e), None),
    };
    match work {
        Work::Checkpoint => (store.checkpoint(), Some(store)),
        Work::Compact => rewritten(store.compact()),
        Work::Purge => rewritten(store.purge()),
    }
}

/// The operations a clean run of `work` takes, named.
fn clean_ops(original: &Path, root: &Path, work: Work) -> Vec<String> {
    copy_tree(original, root);
    let store = Store::open(root, options()).unwrap();
    testing::count_ops();
    let armed = Armed;
    let (result, _) = run(work, store);
    drop(armed);
    result.unwrap();
    testing::ops()
}

/// The contents before and after the work, and what the work is.
struct Case<'a> {
    original: &'a Path,
    work: Work,
    before: &'a Value,
    after: &'a Value,
}

/// A failure that the work tolerates by design: failing to remove the
/// files of the checkpoint before costs only disk space, which the next
/// checkpoint reclaims.
fn tolerated(injected: &[String]) -> bool {
    injected.iter().all(|op| op.starts_with("remove "))
}

impl Case<'_> {
    /// Fails the work with `fault` on a fresh copy and checks everything
    /// the file's header promises.
    fn check(&self, root: &Path, fault: Fault) {
        copy_tree(self.original, root);
        let store = Store::open(root, options()).unwrap();
        let outcome = {
            let _armed = fault.arm();
            catch_unwind(AssertUnwindSafe(|| run(self.work, store)))
        };
        let injected = testing::injected();
        let name = format!("{:?} {fault:?} at {:?}", self.work, injected.first());
        let Ok((result, handle)) = outcome else {
            panic!("{name}: panicked");
        };
        assert!(!injected.is_empty(), "{name}: the fault was not reached");
        if result.is_ok() {
            assert!(
                tolerated(&injected),
                "{name}: succeeded despite {injected:?}"
            );
        }
        if let Some(handle) = handle {
            let expected = if self.work == Work::Checkpoint {
                self.before
            } else {
                self.after
            };
            let diff = diff_json(expected, &content(&handle));
            assert!(diff.is_empty(), "{name}: the handle reads {diff:?}");
        }
        self.check_reopened(root, &name, result.is_ok());
        self.check_done_again(root, &name);
        std::fs::remove_dir_all(root).unwrap();
    }

    fn check_reopened(&self, root: &Path, name: &str, succeeded: bool) {
        let reopened = content_at(root);
        let before = same(self.before, &reopened) && !(succeeded && self.work == Work::Purge);
        assert!(
            before || same(self.after, &reopened),
            "{name}: reopened to {:?}",
            diff_json(self.before, &reopened)
        );
    }

    fn check_done_again(&self, root: &Path, name: &str) {
        let store = Store::open(root, options()).unwrap();
        let (result, store) = run(self.work, store);
        if let Err(e) = result {
            panic!("{name}: doing the work again failed: {e}");
        }
        let done = content(&store.unwrap());
        let diff = diff_json(self.after, &done);
        assert!(diff.is_empty(), "{name}: done again: {diff:?}");
        if self.work == Work::Purge {
            let left = std::fs::read_dir(root.join("artifacts")).unwrap().count();
            assert_eq!(left, 3, "{name}: artifacts of purged runs must go");
        }
        assert_no_leftovers(root, name);
    }
}

/// After a successful checkpoint or rewrite: one run image, one series
/// file, no temporary file, no trace of a rewrite.
fn assert_no_leftovers(root: &Path, name: &str) {
    for dir in ["index", "series"] {
        let files = files_under(&root.join(dir));
        assert_eq!(files.len(), 1, "{name}: {dir} holds {files:?}");
    }
    let temporary: Vec<_> = files_under(root)
        .into_iter()
        .filter(|f| f.to_string_lossy().ends_with("tmp"))
        .collect();
    assert!(temporary.is_empty(), "{name}: left behind {temporary:?}");
    for rewrite in ["log.new", "log.old", "REWRITE"] {
        assert!(
            !root.join(rewrite).exists(),
            "{name}: left behind {rewrite}"
        );
    }
}

#[test]
fn a_failure_at_any_step_leaves_a_store_that_opens_to_the_same_content() {
    let _serial = serial();
    let dir = scratch();
    let original = dir.path().join("original");
    build(&original);
    let before = content_at(&original);
    let purged = dir.path().join("purged");
    copy_tree(&original, &purged);
    let (store, _) = Store::open(&purged, options()).unwrap().purge().unwrap();
    let after_purge = content(&store);
    drop(store);
    assert!(!same(&before, &after_purge));

    for work in [Work::Checkpoint, Work::Compact, Work::Purge] {
        let after = if work == Work::Purge {
            &after_purge
        } else {
            &before
        };
        let case = Case {
            original: &original,
            work,
            before: &before,
            after,
        };
        let ops = clean_ops(&original, &dir.path().join(format!("{work:?}-clean")), work);
        eprintln!("{work:?}: {} operations", ops.len());
        for (n, fault) in Fault::all(&ops).into_iter().enumerate() {
            case.check(&dir.path().join(format!("{work:?}-{n}")), fault);
        }
    }
}

/// After a checkpoint failed, the same handle goes on writing and
/// checkpointing — unless the failure was the log's own fsync, which
/// poisons the writer by design (reopen to go on).
#[test]
fn a_failed_checkpoint_leaves_a_working_handle() {
    let _serial = serial();
    let dir = scratch();
    let original = dir.path().join("original");
    build(&original);
    let ops = clean_ops(&original, &dir.path().join("clean"), Work::Checkpoint);
    for (i, fault) in Fault::all(&ops).into_iter().enumerate() {
        let root = dir.path().join(format!("case-{i}"));
        copy_tree(&original, &root);
        let store = Store::open(&root, options()).unwrap();
        let failed = {
            let _armed = fault.arm();
            store.checkpoint()
        };
        let injected = testing::injected();
        let name = format!("{fault:?} at {:?}", injected.first());
        assert!(!injected.is_empty(), "{name}: the fault was not reached");
        assert!(failed.is_err() || tolerated(&injected), "{name}: succeeded");
        go_on_writing(
            &store,
            &name,
            failed.is_err() && injected[0].ends_with(".seg"),
        );
        let seen = content(&store);
        drop(store);
        let diff = diff_json(&seen, &content_at(&root));
        assert!(diff.is_empty(), "{name}: reopened to {diff:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}

/// Logs a point and checkpoints; both succeed unless `poisoned`, when both
/// must be refused.
fn go_on_writing(store: &Store, name: &str, poisoned: bool) {
    let run = active_run(store);
    let logged = store.log_metric(&run, Metric::new("late", 1.5, 7, 1));
    let checkpointed = store.checkpoint();
    if poisoned {
        assert!(
            matches!(logged, Err(Error::InvalidState(_))),
            "{name}: {logged:?}"
        );
        assert!(
            checkpointed.is_err(),
            "{name}: checkpoint after a poisoned log"
        );
        return;
    }
    logged.unwrap_or_else(|e| panic!("{name}: log after a failed checkpoint: {e}"));
    checkpointed.unwrap_or_else(|e| panic!("{name}: second checkpoint: {e}"));
    let history = store.metric_history(&run, "late").unwrap();
    assert_eq!(history.len(), 1, "{name}");
}

fn active_run(store: &Store) -> String {
    let request = SearchRequest::default();
    let page = store.search_runs(&request).unwrap();
    page.runs[0].info.run_id.clone()
}

/// A write outside checkpoints that goes through the file layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteCall {
    /// A batch bigger than a segment: the log starts a new one for it.
    Batch,
    Artifact,
}

impl WriteCall {
    fn apply(self, store: &Store) -> runstore::Result<()> {
        let run = active_run(store);
        match self {
            WriteCall::Batch => {
                let points: Vec<Metric> = (0..200)
                    .map(|s| Metric::new("big", s as f64 * 0.5, 11, s))
                    .collect();
                store.log_batch(&run, &points, &[], &[])
            }
            WriteCall::Artifact => store.log_artifact(&run, "dir/model.bin", &[7u8; 3000]),
        }
    }

    /// Ops of a clean write, and the content after it.
    fn clean(self, original: &Path, root: &Path) -> (Vec<String>, Value) {
        copy_tree(original, root);
        let store = Store::open(root, options()).unwrap();
        testing::count_ops();
        let armed = Armed;
        self.apply(&store).unwrap();
        drop(armed);
        (testing::ops(), content(&store))
    }
}

/// A write that fails at any step is all or nothing: the handle reads
/// what it read before (or, for an artifact renamed into place before its
/// folder's fsync failed, the whole artifact), the store reopens to the
/// content before or after the write, and the write can then be done. A
/// failed log write poisons the handle: it refuses writes until reopened.
#[test]
fn a_failed_write_is_all_or_nothing() {
    let _serial = serial();
    let dir = scratch();
    let original = dir.path().join("original");
    build(&original);
    let before = content_at(&original);
    for write in [WriteCall::Batch, WriteCall::Artifact] {
        let (ops, after) = write.clean(&original, &dir.path().join(format!("{write:?}")));
        eprintln!("{write:?}: {} operations", ops.len());
        let rotates = ops
            .iter()
            .any(|op| op.starts_with("create ") && op.ends_with(".seg"));
        assert!(write == WriteCall::Artifact || rotates, "{ops:?}");
        for (i, fault) in Fault::all(&ops).into_iter().enumerate() {
            let root = dir.path().join(format!("{write:?}-{i}"));
            copy_tree(&original, &root);
            check_write(write, &root, fault, &before, &after);
            std::fs::remove_dir_all(&root).unwrap();
        }
    }
}

fn check_write(write: WriteCall, root: &Path, fault: Fault, before: &Value, after: &Value) {
    let store = Store::open(root, options()).unwrap();
    let result = {
        let _armed = fault.arm();
        write.apply(&store)
    };
    let injected = testing::injected();
    let name = format!("{write:?} {fault:?} at {:?}", injected.first());
    assert!(result.is_err(), "{name}: succeeded");
    let seen = content(&store);
    let whole = write == WriteCall::Artifact && same(after, &seen);
    assert!(
        same(before, &seen) || whole,
        "{name}: the handle reads {:?}",
        diff_json(before, &seen)
    );
    if write == WriteCall::Batch {
        let refused = store.log_metric(&active_run(&store), Metric::new("m", 0.0, 1, 1));
        assert!(
            matches!(refused, Err(Error::InvalidState(_))),
            "{name}: {refused:?}"
        );
    }
    drop(store);
    let store = Store::open(root, options()).unwrap();
    if same(before, &content(&store)) {
        write.apply(&store).unwrap();
    }
    let diff = diff_json(after, &content(&store));
    assert!(diff.is_empty(), "{name}: reopened or redone to {diff:?}");
}
