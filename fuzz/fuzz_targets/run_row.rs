//! Feeds arbitrary bytes to the run image's per-run record reader, which
//! reads each list from the start and all lists in one pass.
//!
//! Property: never panics, and both ways of reading agree. Run with
//! `cargo fuzz run run_row`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runstore::index::fuzz_row(data);
});
