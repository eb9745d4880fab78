//! Failpoints: named places in checkpoint and log-rewrite code where a test
//! can make the process die, to check that a crash between any two steps
//! leaves a store that opens to the same content.
//!
//! The environment variable `RUNSTORE_FAILPOINT` names the point; reaching
//! it aborts the process (no destructors, no flushing: like a power cut of
//! the process). Unset, a failpoint costs one cached lookup.

use std::sync::OnceLock;

/// Aborts the process if `RUNSTORE_FAILPOINT` names this point.
pub(crate) fn hit(name: &str) {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| std::env::var("RUNSTORE_FAILPOINT").ok());
    if armed.as_deref() == Some(name) {
        std::process::abort();
    }
}
