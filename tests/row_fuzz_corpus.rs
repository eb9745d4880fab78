//! Runs the run-record fuzz target's entry point over a seed corpus built
//! here: valid records, every truncation and many byte flips. It must never
//! panic, must read every entry of a valid record, and reading each list
//! from the start must agree with reading all lists in one pass (the entry
//! point checks that).

use runstore::MetricPoint;
use runstore::index::{encode_row, fuzz_row};

fn point(step: i64, value: f64) -> MetricPoint {
    MetricPoint {
        step,
        timestamp: 1_700_000_000_000 + step,
        value,
    }
}

/// (entries, record) pairs.
fn seeds() -> Vec<(usize, Vec<u8>)> {
    let strings = ["0123abcd", "bright-owl-7", "ann", "file:///runs/0123abcd"];
    vec![
        (0, encode_row(["", "", "", ""], &[], &[], &[], "")),
        (
            5,
            encode_row(
                strings,
                &[(0, Some("0.01")), (3, Some("中文"))],
                &[(1, Some("math")), (2, None)],
                &[(4, point(-1, f64::NAN))],
                "",
            ),
        ),
        (
            6,
            encode_row(
                strings,
                &[(7, Some(""))],
                &[(0, Some("🚀 drift")), (9, Some("x"))],
                &[
                    (0, point(0, 0.5)),
                    (1, point(3, -0.0)),
                    (2, point(9, 1e300)),
                ],
                r#"[{"dataset":{"name":"d","digest":"1"},"tags":[]}]"#,
            ),
        ),
    ]
}

#[test]
fn valid_seeds_read_every_entry() {
    for (entries, bytes) in seeds() {
        assert_eq!(fuzz_row(&bytes), entries);
    }
}

#[test]
fn cut_and_flipped_seeds_read_no_more_and_do_not_panic() {
    for (entries, bytes) in seeds() {
        for cut in 0..bytes.len() {
            assert!(fuzz_row(&bytes[..cut]) <= entries, "cut at {cut}");
        }
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut flipped = bytes.clone();
                flipped[at] ^= flip;
                fuzz_row(&flipped);
            }
        }
    }
}
