//! Any bytes as a JSON Lines line: parse or fail cleanly; a run that parses
//! must read back unchanged after being written.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = runstore::import::fuzz_jsonl_line(data) {
        panic!("{broken}");
    }
});
