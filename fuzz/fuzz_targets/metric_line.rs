//! Any bytes as an MLflow metric file: parse or fail cleanly; parsed points
//! written back as lines must parse to the same points.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = runstore::import::fuzz_metric_line(data) {
        panic!("{broken}");
    }
});
