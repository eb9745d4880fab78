//! The README's promises: its first lines, and its library example (copied
//! here verbatim so that it keeps compiling and running).

use runstore::{Metric, NewRun, Options, Param, SearchRequest, Store};

#[test]
fn readme_starts_with_the_two_commands() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
    let readme = readme.unwrap();
    let first: Vec<&str> = readme.lines().take(4).collect();
    assert_eq!(
        first,
        [
            "```",
            "cargo run --release -- quickstart",
            "cargo test --release",
            "```"
        ]
    );
}

// Writes and reads through search_runs, so it needs search.
#[test]
fn readme_library_example_runs() -> runstore::Result<()> {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_current_dir(dir.path()).unwrap();

    let store = Store::open("my-store", Options::default())?;
    let experiment_id = store.get_or_create_experiment("tuning")?;
    let run = store.create_run(NewRun {
        experiment_id: experiment_id.clone(),
        run_name: Some("lr-0.01".into()),
        ..NewRun::default()
    })?;
    let loss = Metric::new("loss", 0.25, 1_700_000_000_000, 0);
    store.log_batch(&run.run_id, &[loss], &[Param::new("lr", "0.01")], &[])?;

    let page = store.search_runs(&SearchRequest {
        experiment_ids: vec![experiment_id],
        filter: Some("metrics.loss < 0.3 and params.lr = '0.01'".into()),
        ..SearchRequest::default()
    })?;
    for run in &page.runs {
        let lr = run.params.get("lr"); // Option<&str>
        let loss = run.metrics.get("loss").map(|p| p.value); // latest point
        println!("{} lr={lr:?} loss={loss:?}", run.info.run_name);
    }
    store.close()?;

    assert_eq!(page.runs.len(), 1);
    assert_eq!(page.runs[0].info.run_id, run.run_id);
    assert_eq!(page.runs[0].params.get("lr"), Some("0.01"));
    assert_eq!(
        page.runs[0].metrics.get("loss").map(|p| p.value),
        Some(0.25)
    );
    Ok(())
}
