//! Times opening an existing store, read-only and writable, several times:
//! `cargo run --release --example open_time -- STORE [REPEATS]`.
//!
//! The first open of each kind may read the files from disk; the later
//! ones find them in the page cache, which is what a store in daily use
//! sees. Each store is closed before the next open.

use std::time::{Duration, Instant};

use runstore::{Options, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let store = args.next().ok_or("usage: open_time STORE [REPEATS]")?;
    let repeats: usize = match args.next() {
        Some(n) => n.parse()?,
        None => 5,
    };

    for (kind, options) in [
        ("read-only", Options::read_only()),
        ("writable", Options::default()),
    ] {
        let mut times = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            let started = Instant::now();
            let opened = Store::open(&store, options.clone())?;
            times.push(started.elapsed());
            drop(opened);
        }
        report(kind, &mut times);
    }
    Ok(())
}

fn report(kind: &str, times: &mut [Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let first = times.first().copied().unwrap_or_default();
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    println!(
        "{kind}: first {:.1} ms, median {:.1} ms, min {:.1} ms",
        ms(first),
        ms(median),
        ms(times.first().copied().unwrap_or_default())
    );
}
