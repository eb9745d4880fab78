//! Feeds arbitrary bytes to the log record decoder (rkyv with validation)
//! and to the snapshot section parser.
//!
//! Property: never panics. Run with `cargo fuzz run record_decoder`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runstore::store::record::fuzz_record(data);
});
