//! Feeds arbitrary bytes to the log's frame and segment decoders.
//!
//! Property: never panics, never allocates past the frame size bound.
//! Run with `cargo fuzz run log_decoder` from the repository root.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runstore::log::fuzz_decode(data);
});
