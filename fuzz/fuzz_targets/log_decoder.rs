//! Feeds arbitrary bytes to the log's frame and segment decoders.
//!
//! Property: never panics, never allocates past the frame size bound.
//! Run with `cargo fuzz run log_decoder` from the repository root. Without
//! cargo-fuzz, on stable: from `fuzz/`, build with `RUSTFLAGS="--cfg fuzzing
//! -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4
//! -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
//! -Cllvm-args=-sanitizer-coverage-pc-table"` and
//! `cargo build --target x86_64-unknown-linux-gnu --bin log_decoder`, then run
//! the binary with a corpus folder and `-max_total_time=60`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runstore::log::fuzz_decode(data);
});
