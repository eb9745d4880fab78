//! Fault injection for the file layer: a process-global countdown over the
//! layer's operations, armed only by tests (`crate::testing`).
//!
//! Every operation of the layer asks [`next`] whether it may go ahead.
//! Unarmed, that is one relaxed atomic load. Armed, operations are counted
//! (and named, so a test can say where a fault landed) and operation number
//! `n` (from 0) fails with an `io::Error`; a torn write first writes half
//! of its buffer, so partial files exist on disk as after a real failure.
//! A lasting fault also fails every later operation: the work is cut at
//! operation `n` as if the disk had gone away, cleanup included.

use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// How an armed fault fails its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The operation fails without touching the disk.
    Error,
    /// A write writes the first half of its buffer, then fails (other
    /// operations fail as with `Error`).
    Torn,
}

/// What the layer does with one operation.
pub(super) enum Verdict {
    Go,
    Fail(io::Error),
    /// Write the first half of the buffer, then fail with the error.
    Torn(io::Error),
}

/// Whether anything is armed: the one load an unarmed operation costs.
static ARMED: AtomicBool = AtomicBool::new(false);

static PLAN: Mutex<Plan> = Mutex::new(Plan::IDLE);

struct Plan {
    /// Operations seen since arming, by name and path.
    seen: Vec<String>,
    /// The number of the operation that fails (`u64::MAX`: none).
    fail_at: u64,
    kind: FaultKind,
    /// Whether every operation after `fail_at` fails too.
    lasting: bool,
    /// The operations that failed.
    injected: Vec<String>,
}

impl Plan {
    const IDLE: Plan = Plan {
        seen: Vec::new(),
        fail_at: u64::MAX,
        kind: FaultKind::Error,
        lasting: false,
        injected: Vec::new(),
    };
}

fn plan() -> std::sync::MutexGuard<'static, Plan> {
    PLAN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts one operation and says whether it fails.
#[inline]
pub(super) fn next(op: &str, path: &Path) -> Verdict {
    if !ARMED.load(Ordering::Relaxed) {
        return Verdict::Go;
    }
    next_armed(op, path)
}

#[cold]
fn next_armed(op: &str, path: &Path) -> Verdict {
    let mut plan = plan();
    let number = plan.seen.len() as u64;
    let name = format!("{op} {}", path.display());
    plan.seen.push(name.clone());
    let fails = number == plan.fail_at || (plan.lasting && number > plan.fail_at);
    if !fails {
        return Verdict::Go;
    }
    let error = io::Error::other(format!("injected fault at operation {number}: {name}"));
    plan.injected.push(name);
    match plan.kind {
        FaultKind::Torn if op == "write" => Verdict::Torn(error),
        _ => Verdict::Fail(error),
    }
}

/// Whether faults are armed (the layer then takes slower, finer paths, such
/// as removing a folder file by file).
pub(super) fn armed() -> bool {
    ARMED.load(Ordering::Relaxed)
}

fn arm(fail_at: u64, kind: FaultKind, lasting: bool) {
    *plan() = Plan {
        fail_at,
        kind,
        lasting,
        ..Plan::IDLE
    };
    ARMED.store(true, Ordering::SeqCst);
}

/// Test hooks: arm, disarm and read the countdown. Process-global, so tests
/// that arm it must not run concurrently with other store work in the same
/// process: they serialise among themselves and live in a test binary of
/// their own (never the library's unit tests, which run in parallel).
pub mod testing {
    pub use super::FaultKind;

    /// Operation `n` (counted from 0 after arming) and every later one fail:
    /// the work is cut at `n`, cleanup included.
    pub fn fail_after(n: u64, kind: FaultKind) {
        super::arm(n, kind, true);
    }

    /// Only operation `n` fails; later ones go ahead (a transient error).
    pub fn fail_once(n: u64, kind: FaultKind) {
        super::arm(n, kind, false);
    }

    /// Counts (and names) operations without failing any.
    pub fn count_ops() {
        super::arm(u64::MAX, FaultKind::Error, false);
    }

    /// Stops counting and failing; what was seen stays readable.
    pub fn disarm() {
        super::ARMED.store(false, super::Ordering::SeqCst);
    }

    /// The number of operations seen since arming.
    pub fn ops_seen() -> u64 {
        super::plan().seen.len() as u64
    }

    /// The operations seen since arming, as "op path", in order.
    pub fn ops() -> Vec<String> {
        super::plan().seen.clone()
    }

    /// The operations that failed since arming, as "op path", in order.
    pub fn injected() -> Vec<String> {
        super::plan().injected.clone()
    }
}
