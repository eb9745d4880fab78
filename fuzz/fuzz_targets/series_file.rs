//! Feeds arbitrary bytes to the series file parser as a whole file image.
//!
//! Property: never panics and never allocates past what the input can hold;
//! open, lookup, borrowed columns, decoding and `check` all run on whatever
//! parses. Run with `cargo fuzz run series_file` from the repository root
//! (or build on stable as `log_decoder.rs` describes). Good seeds are valid
//! files written by `SeriesFileWriter`, as `tests/series_fuzz_corpus.rs`
//! builds them.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runstore::series::fuzz_series_file(data);
});
