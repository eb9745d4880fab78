//! First pages in start-time order found by walking the run image in that
//! order (`src/query/walk.rs`), checked against the reference scan where
//! the walk's edges are: many runs sharing a start time at the page's
//! edge, both directions, a costly clause answered run by run, runs written
//! after the checkpoint, and paging on from the walked first page.

use runstore::query::naive::search_runs_naive;
use runstore::{Durability, NewRun, Options, Run, RunTag, SearchRequest, Store, ViewType};

const RUNS: i64 = 3000;

fn options() -> Options {
    Options {
        durability: Durability::None,
        ..Options::default()
    }
}

/// Runs in groups of `tied` sharing a start time; every run has a
/// distinct note (a key with a value column), every third one mentions
/// "drift".
fn build(store: &Store, from: i64, to: i64, tied: i64) {
    for i in from..to {
        let run = NewRun {
            experiment_id: "0".into(),
            start_time: Some(1_000 + i / tied),
            ..NewRun::default()
        };
        let id = store.create_run(run).expect("run").run_id;
        let word = if i % 3 == 0 { "drift" } else { "steady" };
        let tags = [
            RunTag::new("note", format!("run {i} {word}")),
            RunTag::new("team", if i % 2 == 0 { "a" } else { "b" }),
        ];
        store.log_batch(&id, &[], &[], &tags).expect("tags");
    }
}

fn every_run(store: &Store) -> Vec<Run> {
    let ids = store.run_ids().expect("ids");
    ids.iter()
        .map(|id| store.get_run(id).expect("run"))
        .collect()
}

fn ids(runs: &[Run]) -> Vec<String> {
    runs.iter().map(|r| r.info.run_id.clone()).collect()
}

/// Every page of `filter` in `order`, from the store and from the
/// reference, must be the same runs with the same "more follows".
fn same_pages(store: &Store, filter: &str, order: &[&str], page: i64) {
    let all = every_run(store);
    let mut req = SearchRequest {
        filter: Some(filter.into()),
        order_by: order.iter().map(|s| s.to_string()).collect(),
        max_results: Some(page),
        view_type: ViewType::ActiveOnly,
        ..SearchRequest::default()
    };
    let want = {
        let mut all_req = req.clone();
        all_req.max_results = Some(50_000);
        ids(&search_runs_naive(&all, &all_req).expect("reference").runs)
    };

    let mut got = Vec::new();
    loop {
        let page = store.search_runs(&req).expect("search");
        got.extend(ids(&page.runs));
        match page.next_page_token {
            Some(token) => req.page_token = Some(token),
            None => break,
        }
    }
    assert_eq!(got.len(), want.len(), "{filter} {order:?} by {page}");
    assert!(got == want, "{filter} {order:?} by {page}: pages differ");
}

#[test]
fn walked_first_pages_equal_the_reference_at_every_edge() {
    // Ties of 7 fall inside a step of the walk; ties of 150 span steps.
    for tied in [7, 150] {
        let dir = tempfile::tempdir().expect("temporary folder");
        let store = Store::open(dir.path(), options()).expect("store");
        build(&store, 0, RUNS, tied);
        store.checkpoint().expect("checkpoint");
        build(&store, RUNS, RUNS + 50, tied);

        for page in [1, 6, 7, 8, 100, 999, 1000, 1001] {
            for order in [&[][..], &["attributes.start_time ASC"][..]] {
                same_pages(&store, "tags.note LIKE '%drift%'", order, page);
                let both = "tags.note LIKE '%drift%' AND tags.team = 'a'";
                same_pages(&store, both, order, page);
            }
        }
        same_pages(&store, "tags.note LIKE '%run 2999%'", &[], 10);
        same_pages(&store, "tags.note LIKE '%nowhere%'", &[], 10);
    }
}
