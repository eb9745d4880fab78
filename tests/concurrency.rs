//! Many processes on one store: writers in parallel with a searching
//! reader, writers killed at random moments, and a get-or-create race.
//! The test binary re-executes itself as the worker processes: a worker is
//! the `worker_process` test run with `RUNSTORE_WORKER` set.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use runstore::{Durability, Metric, NewRun, Options, Param, RunTag, SearchRequest, Store};

/// Points per batch; a batch is one `log_batch` call.
const POINTS: i64 = 50;

fn options(durability: Durability) -> Options {
    Options {
        durability,
        segment_size: 256 << 10,
        ..Options::default()
    }
}

/// One batch: POINTS steps of metric `m`, a param and the `last_batch` tag,
/// so a reader can tell a whole batch from part of one.
fn log_one_batch(store: &Store, run: &str, batch: i64) -> runstore::Result<()> {
    let metrics: Vec<Metric> = (0..POINTS)
        .map(|i| {
            let step = batch * POINTS + i;
            Metric::new("m", step as f64, 1_000 + step, step)
        })
        .collect();
    let params = [Param::new(format!("p{batch}"), batch.to_string())];
    let tags = [RunTag::new("last_batch", batch.to_string())];
    store.log_batch(run, &metrics, &params, &tags)
}

/// What a worker process does, by its role.
#[test]
fn worker_process() {
    let Ok(role) = std::env::var("RUNSTORE_WORKER") else {
        return;
    };
    let path = PathBuf::from(std::env::var("RUNSTORE_PATH").unwrap());
    match role.as_str() {
        "writer" => writer(&path, Durability::Group { interval_ms: 2 }, 3, 20),
        "durable-writer" => writer(&path, Durability::SyncEach, 1, 1_000_000),
        "reader" => reader(&path),
        "get-or-create" => {
            let store = Store::open(&path, options(Durability::SyncEach)).unwrap();
            println!("id {}", store.get_or_create_experiment("X").unwrap());
        }
        other => panic!("unknown worker role {other}"),
    }
}

/// Creates runs in the shared experiment and logs batches, printing an
/// acknowledgement line after each call returns.
fn writer(path: &Path, durability: Durability, runs: usize, batches: i64) {
    let store = Store::open(path, options(durability)).unwrap();
    let experiment = store.get_or_create_experiment("sweep").unwrap();
    println!("experiment {experiment}");
    for _ in 0..runs {
        let run = store
            .create_run(NewRun {
                experiment_id: experiment.clone(),
                ..NewRun::default()
            })
            .unwrap()
            .run_id;
        println!("run {run}");
        for batch in 0..batches {
            log_one_batch(&store, &run, batch).unwrap();
            println!("ack {run} {batch}");
        }
    }
}

/// Searches in a loop until told to stop; every run a search returns must
/// show whole batches only.
fn reader(path: &Path) {
    let stop = path.join("stop-reader");
    let store = loop {
        match Store::open(path, Options::read_only()) {
            Ok(store) => break store,
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let mut searches = 0;
    let mut checked = 0;
    while !stop.exists() {
        let page = store.search_runs(&SearchRequest::default()).unwrap();
        for run in page
            .runs
            .iter()
            .filter(|r| r.tags.contains_key("last_batch"))
        {
            let last: i64 = run.tags["last_batch"].parse().unwrap();
            let latest = run.metrics["m"].step;
            let params = run.params.len() as i64;
            assert_eq!(
                latest,
                last * POINTS + POINTS - 1,
                "torn batch in {}",
                run.info.run_id
            );
            assert_eq!(params, last + 1, "torn batch in {}", run.info.run_id);
            checked += 1;
        }
        searches += 1;
    }
    println!("searches {searches} checked {checked}");
}

fn spawn(role: &str, path: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "worker_process",
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ])
        .env("RUNSTORE_WORKER", role)
        .env("RUNSTORE_PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The worker's lines of output, once it has exited; panics if it failed.
fn finish(child: Child) -> Vec<String> {
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "worker failed: {output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Acknowledged batches per run, from writer output lines.
fn acknowledged(lines: &[String]) -> BTreeMap<String, Vec<i64>> {
    let mut acks: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for line in lines {
        let mut words = line.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("run"), Some(run), None) => {
                acks.entry(run.to_string()).or_default();
            }
            (Some("ack"), Some(run), Some(batch)) => {
                acks.entry(run.to_string())
                    .or_default()
                    .push(batch.parse().unwrap());
            }
            _ => {}
        }
    }
    acks
}

/// Every acknowledged batch is in the store exactly once, and nothing but
/// whole batches is.
fn assert_holds(store: &Store, acks: &BTreeMap<String, Vec<i64>>) {
    for (run, batches) in acks {
        let history = store.metric_history(run, "m").unwrap();
        let steps: Vec<i64> = history.iter().map(|p| p.step).collect();
        let unique: HashSet<i64> = steps.iter().copied().collect();
        assert_eq!(unique.len(), steps.len(), "a point of {run} is there twice");
        assert_eq!(steps.len() as i64 % POINTS, 0, "part of a batch of {run}");
        let stored = steps.len() as i64 / POINTS;
        assert!(
            stored >= batches.len() as i64,
            "{run}: {stored} batches, acked {batches:?}"
        );
        let mut sorted = steps.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..stored * POINTS).collect::<Vec<_>>(),
            "{run} has a gap"
        );
    }
}

#[test]
fn eight_writers_and_a_searching_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    Store::open(&path, Options::default())
        .unwrap()
        .close()
        .unwrap();

    let reader = spawn("reader", &path);
    let writers: Vec<Child> = (0..8).map(|_| spawn("writer", &path)).collect();
    let lines: Vec<String> = writers.into_iter().flat_map(finish).collect();
    std::fs::write(path.join("stop-reader"), b"").unwrap();
    let reader_lines = finish(reader);
    let checked: u64 = reader_lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("searches ")?
                .split(" checked ")
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap();
    assert!(checked > 0, "the reader saw no run while the writers ran");

    let experiments: HashSet<&String> = lines
        .iter()
        .filter(|l| l.starts_with("experiment "))
        .collect();
    assert_eq!(experiments.len(), 1, "every writer got the same experiment");
    let acks = acknowledged(&lines);
    assert_eq!(acks.len(), 24);
    assert!(acks.values().all(|b| b.len() == 20));

    let store = Store::open(&path, Options::default()).unwrap();
    assert_holds(&store, &acks);
    assert_eq!(store.run_ids().unwrap().len(), 24);
    let stats = store.stats().unwrap();
    assert_eq!(stats.metric_points, 24 * 20 * POINTS as u64);
}

#[test]
fn writers_killed_at_random_moments_lose_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    Store::open(&path, Options::default())
        .unwrap()
        .close()
        .unwrap();
    let mut acks: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;

    for round in 0..50 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(5 + (seed >> 33) % 40);
        let mut child = spawn("durable-writer", &path);
        let stdout = child.stdout.take().unwrap();
        let collect = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        let started = Instant::now();
        std::thread::sleep(delay);
        child.kill().unwrap();
        child.wait().unwrap();
        let lines = collect.join().unwrap();
        for (run, batches) in acknowledged(&lines) {
            acks.entry(run).or_default().extend(batches);
        }

        let store = Store::open(&path, Options::default())
            .unwrap_or_else(|e| panic!("round {round} after {:?}: {e}", started.elapsed()));
        assert_holds(&store, &acks);
    }
    let total: usize = acks.values().map(Vec::len).sum();
    assert!(total > 0, "no writer got anything done");
}

#[test]
fn get_or_create_from_many_processes_makes_one_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let children: Vec<Child> = (0..8).map(|_| spawn("get-or-create", &path)).collect();
    let ids: HashSet<String> = children
        .into_iter()
        .flat_map(finish)
        .filter_map(|l| l.strip_prefix("id ").map(str::to_string))
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let store = Store::open(&path, Options::read_only()).unwrap();
    let named_x = store
        .list_experiments()
        .unwrap()
        .into_iter()
        .filter(|e| e.name == "X")
        .count();
    assert_eq!(named_x, 1);
}
