//! Times one search on an existing store, in process, many times:
//! `cargo run --release --example search_latency -- STORE FILTER [ORDER_BY] [MAX] [REPEATS]`
//! (`IDS_ONLY=1` times `search_run_ids`; `GET_RUN_ROUNDS=N` repeats the
//! `get_run` loop over the results). It uses the same allocator as the
//! `runstore` binary (mimalloc): building pages of owned runs is mostly
//! small allocations.

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use runstore::{Options, SearchRequest, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(filter)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: search_latency STORE FILTER [ORDER_BY] [MAX_RESULTS] [REPEATS]");
        std::process::exit(2);
    };
    let order_by: Vec<String> = args
        .get(3)
        .filter(|s| !s.is_empty())
        .into_iter()
        .cloned()
        .collect();
    let max_results = args.get(4).map_or(Ok(1000), |s| s.parse())?;
    let repeats: usize = args.get(5).map_or(Ok(20), |s| s.parse())?;

    let started = Instant::now();
    let options = Options {
        read_only: true,
        ..Options::default()
    };
    let store = Store::open(path, options)?;
    println!("open {:.1} ms", started.elapsed().as_secs_f64() * 1e3);

    let request = SearchRequest {
        filter: (!filter.is_empty()).then(|| filter.clone()),
        order_by,
        max_results: Some(max_results),
        ..SearchRequest::default()
    };
    // IDS_ONLY=1 times `search_run_ids` instead of `search_runs`.
    let ids_only = std::env::var("IDS_ONLY").is_ok_and(|v| v == "1");
    let mut times = Vec::new();
    let mut results = 0;
    for _ in 0..repeats {
        // Timed until the page is in hand; freeing it comes after.
        let started = Instant::now();
        if ids_only {
            let page = store.search_run_ids(&request)?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
            results = page.run_ids.len();
        } else {
            let page = store.search_runs(&request)?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
            results = page.runs.len();
        }
    }
    times.sort_by(f64::total_cmp);
    let ids: Vec<String> = store
        .search_runs(&request)?
        .runs
        .into_iter()
        .map(|r| r.info.run_id)
        .collect();
    let rounds: usize = std::env::var("GET_RUN_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let started = Instant::now();
    for _ in 0..rounds {
        for id in &ids {
            std::hint::black_box(store.get_run(id)?);
        }
    }
    println!(
        "get_run of each result, one thread: {:.2} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    println!(
        "{results} results: min {:.2} ms, median {:.2} ms, max {:.2} ms",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );
    Ok(())
}
