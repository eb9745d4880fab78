//! Feeds arbitrary bytes to the filter, order_by and page-token parsers:
//! any input may be rejected, none may panic.
//!
//! Run with `cargo fuzz run filter_parser` from the crate root.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runstore::query::fuzz_filter(data);
});
