//! The `bench` runner: generate (or reuse) a workload, ingest it into a
//! fresh store, reopen it, run every standard query `repeats` times, check
//! every answer against the ground truth, and report the figures.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::generate::{WorkloadSpec, generate_file};
use super::queries::{Expected, Query, QueryKind, ground_truths, standard_queries};
use crate::error::{Error, Result};
use crate::import::{ImportOptions, SourceKind, import};
use crate::model::MetricPoint;
use crate::query::SearchPage;
use crate::store::{Options, Store};

/// What to benchmark and where.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub runs: u64,
    pub seed: u64,
    /// Holds the workload file, the expected answers and the store.
    pub dir: PathBuf,
    /// Use the workload file in `dir` if one of the same shape exists.
    pub reuse: bool,
    /// Timed executions of each query.
    pub repeats: u32,
    /// Points per metric per run (the workload's `steps`).
    pub steps: u32,
    /// Search the store already in `dir` (from an earlier run of the same
    /// workload) instead of ingesting anew; ingest is then not measured.
    pub keep_store: bool,
}

impl Default for BenchOptions {
    fn default() -> BenchOptions {
        BenchOptions {
            runs: 10_000,
            seed: 42,
            dir: PathBuf::from("bench-data"),
            reuse: true,
            repeats: 20,
            steps: WorkloadSpec::default().steps,
            keep_store: false,
        }
    }
}

impl BenchOptions {
    /// The workload shape these options benchmark.
    pub fn spec(&self) -> WorkloadSpec {
        WorkloadSpec {
            seed: self.seed,
            runs: self.runs,
            steps: self.steps,
            ..WorkloadSpec::default()
        }
    }

    /// Where the workload file lives; its name records its shape.
    pub fn workload_path(&self) -> PathBuf {
        let s = self.spec();
        self.dir.join(format!(
            "workload-s{}-r{}-e{}-p{}-t{}-m{}-n{}.jsonl",
            s.seed, s.runs, s.experiments, s.params, s.tags, s.metrics, s.steps
        ))
    }
}

/// Timings of one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryFigures {
    pub name: String,
    /// The filter string (or a description of a history query).
    pub what: String,
    /// Runs (or points) in the answer.
    pub results: u64,
    pub median_ms: f64,
    pub p99_ms: f64,
    /// Median of the same search through `search_run_ids` (ids only, no
    /// run built); `None` for history queries.
    #[serde(default)]
    pub ids_median_ms: Option<f64>,
    /// Every repeat gave exactly the ground truth.
    pub verified: bool,
}

/// Everything `run_bench` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub spec: WorkloadSpec,
    pub workload_bytes: u64,
    pub runs: u64,
    pub points: u64,
    pub ingest_secs: f64,
    pub ingest_runs_per_sec: f64,
    pub ingest_points_per_sec: f64,
    pub open_ms: f64,
    pub disk_bytes: u64,
    pub disk_bytes_per_run: f64,
    pub disk_bytes_per_point: f64,
    /// VmHWM of this process, if the system reports it.
    pub peak_rss_bytes: Option<u64>,
    pub queries: Vec<QueryFigures>,
}

/// Runs the benchmark; `progress` receives one line per step. Fails if any
/// query's answer differs from the ground truth.
pub fn run_bench(opts: &BenchOptions, progress: &dyn Fn(&str)) -> Result<BenchReport> {
    std::fs::create_dir_all(&opts.dir).map_err(|e| Error::io(&opts.dir, e))?;
    let workload = opts.workload_path();
    if !(opts.reuse && workload.is_file()) {
        progress(&format!("generating {}", workload.display()));
        generate_file(&opts.spec(), &workload)?;
    }
    let workload_bytes = file_len(&workload)?;

    progress("computing the ground truth");
    let queries = standard_queries(&workload)?;
    let expected = ground_truths(&workload, &queries)?;
    write_expected(&opts.dir.join("expected.json"), &queries, &expected)?;

    let store_dir = opts.dir.join("store");
    let ingest = if opts.keep_store && store_dir.join("FORMAT").is_file() {
        progress(&format!(
            "searching the store kept in {}",
            store_dir.display()
        ));
        Duration::ZERO
    } else {
        progress(&format!("ingesting into {}", store_dir.display()));
        ingest(&workload, &store_dir)?
    };

    let started = Instant::now();
    let store = Store::open(&store_dir, Options::default())?;
    let open_ms = millis(started.elapsed());
    let stats = store.stats()?;

    let mut figures = Vec::new();
    for (query, expected) in queries.iter().zip(&expected) {
        progress(&format!("query {}", query.name));
        figures.push(measure(&store, query, expected, opts.repeats.max(1))?);
    }
    if let Some(bad) = figures.iter().find(|f| !f.verified) {
        return Err(Error::Internal(format!(
            "query {} ({}) did not return the ground truth",
            bad.name, bad.what
        )));
    }

    let disk_bytes = stats.log_bytes + stats.checkpoint_bytes + stats.artifact_bytes;
    Ok(BenchReport {
        spec: opts.spec(),
        workload_bytes,
        runs: stats.runs,
        points: stats.metric_points,
        ingest_secs: ingest.as_secs_f64(),
        ingest_runs_per_sec: per_sec(stats.runs, ingest),
        ingest_points_per_sec: per_sec(stats.metric_points, ingest),
        open_ms,
        disk_bytes,
        disk_bytes_per_run: disk_bytes as f64 / stats.runs.max(1) as f64,
        disk_bytes_per_point: disk_bytes as f64 / stats.metric_points.max(1) as f64,
        peak_rss_bytes: peak_rss_bytes(),
        queries: figures,
    })
}

/// Imports the workload into a fresh store and checkpoints it.
fn ingest(workload: &Path, store_dir: &Path) -> Result<Duration> {
    if store_dir.exists() {
        std::fs::remove_dir_all(store_dir).map_err(|e| Error::io(store_dir, e))?;
    }
    let started = Instant::now();
    let store = Store::open(store_dir, Options::default())?;
    let opts = ImportOptions::default();
    import(&store, workload, SourceKind::JsonLines, &opts, &|_| {})?;
    store.close()?;
    Ok(started.elapsed())
}

/// Times `repeats` executions of one query, checking each answer.
fn measure(
    store: &Store,
    query: &Query,
    expected: &Expected,
    repeats: u32,
) -> Result<QueryFigures> {
    let mut times = Vec::new();
    let mut verified = true;
    let mut results = 0;
    for _ in 0..repeats {
        let started = Instant::now();
        let fetched = fetch(store, query)?;
        times.push(started.elapsed());
        let answer = fetched.into_expected();
        verified &= same_answer(&answer, expected);
        results = answer_len(&answer);
    }
    times.sort();
    let mut ids_times = Vec::new();
    if matches!(query.kind, QueryKind::Search { .. }) {
        for _ in 0..repeats {
            let started = Instant::now();
            let answer = execute_ids(store, query)?;
            ids_times.push(started.elapsed());
            verified &= same_answer(&answer, expected);
        }
        ids_times.sort();
    }
    Ok(QueryFigures {
        name: query.name.clone(),
        what: describe(query),
        results,
        median_ms: millis(times[times.len() / 2]),
        p99_ms: millis(times[(times.len() * 99).div_ceil(100) - 1]),
        ids_median_ms: ids_times.get(ids_times.len() / 2).map(|&t| millis(t)),
        verified,
    })
}

/// A search query through `search_run_ids`.
fn execute_ids(store: &Store, query: &Query) -> Result<Expected> {
    let mut request = query
        .request()
        .ok_or_else(|| Error::Internal("a search query without a request".into()))?;
    let all_pages = matches!(
        query.kind,
        QueryKind::Search {
            all_pages: true,
            ..
        }
    );
    let mut ids = Vec::new();
    loop {
        let page = store.search_run_ids(&request)?;
        ids.extend(page.run_ids);
        match page.next_page_token {
            Some(token) if all_pages => request.page_token = Some(token),
            _ => return Ok(Expected::RunIds(ids)),
        }
    }
}

/// Runs one query through the public API.
pub fn execute(store: &Store, query: &Query) -> Result<Expected> {
    Ok(fetch(store, query)?.into_expected())
}

/// What one query answered, as the API returned it.
enum Fetched {
    Pages(Vec<SearchPage>),
    Histories(Vec<Vec<MetricPoint>>),
}

impl Fetched {
    fn into_expected(self) -> Expected {
        match self {
            Fetched::Pages(pages) => Expected::RunIds(
                pages
                    .into_iter()
                    .flat_map(|page| page.runs)
                    .map(|run| run.info.run_id)
                    .collect(),
            ),
            Fetched::Histories(histories) => Expected::Histories(histories),
        }
    }
}

/// Runs one query, keeping the answer as returned: the time of a query is
/// the time until its answer is in hand, not the time to free it later.
fn fetch(store: &Store, query: &Query) -> Result<Fetched> {
    match &query.kind {
        QueryKind::Search { all_pages, .. } => {
            let mut request = query
                .request()
                .ok_or_else(|| Error::Internal("a search query without a request".into()))?;
            let mut pages = Vec::new();
            loop {
                let page = store.search_runs(&request)?;
                let next = page.next_page_token.clone();
                pages.push(page);
                match next {
                    Some(token) if *all_pages => request.page_token = Some(token),
                    _ => return Ok(Fetched::Pages(pages)),
                }
            }
        }
        QueryKind::History { run_ids, key } => run_ids
            .iter()
            .map(|id| store.metric_history(id, key))
            .collect::<Result<Vec<_>>>()
            .map(Fetched::Histories),
    }
}

/// Equal answers; NaN points equal NaN points.
pub fn same_answer(got: &Expected, want: &Expected) -> bool {
    let same_point = |a: &MetricPoint, b: &MetricPoint| {
        a.step == b.step
            && a.timestamp == b.timestamp
            && (a.value == b.value || (a.value.is_nan() && b.value.is_nan()))
    };
    match (got, want) {
        (Expected::RunIds(a), Expected::RunIds(b)) => a == b,
        (Expected::Histories(a), Expected::Histories(b)) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|(x, y)| {
                    x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_point(p, q))
                })
        }
        _ => false,
    }
}

fn answer_len(answer: &Expected) -> u64 {
    match answer {
        Expected::RunIds(ids) => ids.len() as u64,
        Expected::Histories(h) => h.iter().map(|p| p.len() as u64).sum(),
    }
}

fn describe(query: &Query) -> String {
    match &query.kind {
        QueryKind::Search {
            page_size,
            all_pages,
            ..
        } => {
            let request = query.request().unwrap_or_default();
            let paging = if *all_pages { " (all pages)" } else { "" };
            format!(
                "filter={:?} order_by={:?} max_results={page_size}{paging}",
                request.filter.unwrap_or_default(),
                request.order_by
            )
        }
        QueryKind::History { run_ids, key } => {
            format!("metric_history of '{key}' for {} run(s)", run_ids.len())
        }
    }
}

/// Writes the queries and their expected answers for the peer script.
pub fn write_expected(path: &Path, queries: &[Query], expected: &[Expected]) -> Result<()> {
    let entries: Vec<serde_json::Value> = queries
        .iter()
        .zip(expected)
        .map(|(q, e)| {
            let request = q.request().unwrap_or_default();
            serde_json::json!({
                "name": q.name,
                "query": q.kind,
                "filter": request.filter,
                "order_by": request.order_by,
                "expected": match e {
                    Expected::RunIds(ids) => serde_json::json!({ "run_ids": ids }),
                    Expected::Histories(h) => serde_json::json!({
                        "history_lengths": h.iter().map(Vec::len).collect::<Vec<_>>()
                    }),
                },
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&entries)
        .map_err(|e| Error::Internal(format!("cannot encode expected answers: {e}")))?;
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// The peak resident set size (VmHWM) of this process, on Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn file_len(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `count` per second over `d` (0 when nothing was measured).
fn per_sec(count: u64, d: Duration) -> f64 {
    if d.is_zero() {
        return 0.0;
    }
    count as f64 / d.as_secs_f64().max(1e-9)
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mb = |b: u64| b as f64 / (1 << 20) as f64;
        writeln!(
            f,
            "workload: {} runs, {} points, {:.1} MiB JSONL (seed {})",
            self.runs,
            self.points,
            mb(self.workload_bytes),
            self.spec.seed
        )?;
        if self.ingest_secs == 0.0 {
            writeln!(f, "ingest:   not measured (store kept from an earlier run)")?;
        } else {
            writeln!(
                f,
                "ingest:   {:.2} s, {:.0} runs/s, {:.0} points/s",
                self.ingest_secs, self.ingest_runs_per_sec, self.ingest_points_per_sec
            )?;
        }
        writeln!(f, "open:     {:.1} ms", self.open_ms)?;
        writeln!(
            f,
            "disk:     {:.1} MiB, {:.0} B/run, {:.1} B/point",
            mb(self.disk_bytes),
            self.disk_bytes_per_run,
            self.disk_bytes_per_point
        )?;
        match self.peak_rss_bytes {
            Some(b) => writeln!(f, "peak RSS: {:.1} MiB", mb(b))?,
            None => writeln!(f, "peak RSS: unknown")?,
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<22} {:>9} {:>11} {:>11} {:>11}  verified",
            "query", "results", "median ms", "p99 ms", "ids ms"
        )?;
        for q in &self.queries {
            let ids = q
                .ids_median_ms
                .map_or("-".to_string(), |m| format!("{m:.3}"));
            writeln!(
                f,
                "{:<22} {:>9} {:>11.3} {:>11.3} {:>11}  {}",
                q.name,
                q.results,
                q.median_ms,
                q.p99_ms,
                ids,
                if q.verified { "yes" } else { "NO" }
            )?;
        }
        Ok(())
    }
}
