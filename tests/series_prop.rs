//! Property tests of metric histories through the public `Store` API.
//!
//! Random histories for a few (run, key) pairs — NaNs with various payloads,
//! infinities, signed zeros, extreme and float32-exact values, negative,
//! repeated and extreme steps, equal and out-of-order timestamps, exact
//! duplicates — are logged in random batch splits; then a checkpoint, more
//! points (so a sealed file and an unsealed tail both hold points of one
//! series), a compaction and a reopen happen in random order. After every
//! step the three history reads must agree with a plain model:
//!
//! - `metric_history`: every point once (exact duplicates collapse, as
//!   `log_batch` documents), ordered by (timestamp, step) with logging order
//!   among ties (`docs/semantics.md`, "History order"), values equal by bits;
//! - `metric_histories`: the per-run answers, for any list of runs;
//! - `metric_history_sampled`: points of the input only, in step order, at
//!   most `max(max_points, 4)` of them, the whole filtered input when it
//!   fits, and otherwise, for each of the `max_points / 4` equal-width step
//!   buckets of `runstore::series::downsample`, the bucket's first and last
//!   point and a point with its smallest and its largest non-NaN value.
//!
//! A plain test then takes one history of a million points through a
//! checkpoint and a reopen.

mod common;

use common::prop::cases;

use std::ops::RangeInclusive;
use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;
use runstore::{Durability, Metric, MetricPoint, NewRun, Options, RunStatus, Store};

const KEYS: [&str; 3] = ["loss", "acc/top1", "lr"];
const RUNS: usize = 3;
/// A key no run logs.
const UNKNOWN_KEY: &str = "never/logged";
/// Where generated timestamps start.
const T0: i64 = 1_700_000_000_000;

fn options() -> Options {
    Options {
        durability: Durability::None,
        // Small segments, so the log of a case spans several.
        segment_size: 8 << 10,
        ..Options::default()
    }
}

// ---- generating histories ----

/// Special values that widen exactly from f32 (NaN payloads in the high
/// mantissa bits included), so all-f32 series take the f32 encoding.
fn f32_specials() -> Vec<f64> {
    vec![
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::from_bits(0xfff8_0000_0000_0000),
        f64::from_bits(0x7ff0_0000_2000_0000),
        f64::from(f32::MAX),
        f64::from(f32::MIN),
        f64::from(f32::MIN_POSITIVE),
        f64::from(f32::from_bits(1)),
    ]
}

/// Special values that do not fit an f32.
fn f64_specials() -> Vec<f64> {
    vec![
        0.1,
        1e300,
        -1e300,
        1e-300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::from_bits(0x8000_0000_0000_0001),
        1.0 + f64::EPSILON,
        f64::from_bits(0xfff8_0000_0000_0001),
        f64::from_bits(0x7ff0_0000_0000_0001),
    ]
}

/// A value that widens from f32 exactly.
fn f32_value() -> BoxedStrategy<f64> {
    prop_oneof![
        4 => any::<f32>().prop_map(f64::from),
        2 => prop::sample::select(f32_specials()),
        // A small pool: ties, and exact duplicates.
        3 => (-8i32..8).prop_map(|i| f64::from(i) * 0.25),
    ]
    .boxed()
}

/// Any value at all.
fn any_value() -> BoxedStrategy<f64> {
    prop_oneof![
        3 => any::<u64>().prop_map(f64::from_bits),
        2 => prop::sample::select(f64_specials()),
        2 => -1e6f64..1e6,
        3 => f32_value(),
    ]
    .boxed()
}

fn wild_step() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(-1i64),
        any::<i64>(),
        -1_000_000i64..1_000_000,
    ]
}

/// The random choices for one point; the series' modes decide which count.
#[derive(Debug, Clone)]
struct Draw {
    small_step: i64,
    wild_step: i64,
    /// 0..4: a timestamp increment, a small timestamp, or a pick.
    ts: i64,
    value: f64,
    /// Repeat an earlier point of the series exactly.
    repeat: Option<Index>,
}

fn draw(values: BoxedStrategy<f64>) -> impl Strategy<Value = Draw> {
    (
        -3i64..4,
        wild_step(),
        0i64..4,
        values,
        prop::option::weighted(0.1, any::<Index>()),
    )
        .prop_map(|(small_step, wild_step, ts, value, repeat)| Draw {
            small_step,
            wild_step,
            ts,
            value,
            repeat,
        })
}

/// One (run, key) history: how its steps and timestamps are made, the
/// points, and where it splits into "before" and "after the checkpoint".
#[derive(Debug, Clone)]
struct SeriesSpec {
    /// 0 steps 0, 1, 2...; 1 small steps -3..3, repeated; 2 extreme steps;
    /// 3 decreasing negative steps.
    step_mode: u8,
    /// 0 non-decreasing with equal neighbours; 1 all equal; 2 small, out
    /// of order; 3 picked from {0, 1, i64::MAX - 1, i64::MAX}.
    ts_mode: u8,
    /// Either all values widen from f32 exactly (the f32 encoding), or any.
    draws: Vec<Draw>,
    split: Index,
}

fn series_spec() -> impl Strategy<Value = SeriesSpec> {
    let len = prop_oneof![1 => 0usize..3, 4 => 3usize..40, 1 => 40usize..150];
    (any::<bool>(), len)
        .prop_flat_map(|(f32_only, len)| {
            let values = if f32_only { f32_value() } else { any_value() };
            (
                0u8..4,
                0u8..4,
                prop::collection::vec(draw(values), len),
                any::<Index>(),
            )
        })
        .prop_map(|(step_mode, ts_mode, draws, split)| SeriesSpec {
            step_mode,
            ts_mode,
            draws,
            split,
        })
}

impl SeriesSpec {
    fn points(&self) -> Vec<MetricPoint> {
        let mut out: Vec<MetricPoint> = Vec::with_capacity(self.draws.len());
        let mut clock = T0;
        for (i, d) in self.draws.iter().enumerate() {
            if let (Some(ix), true) = (&d.repeat, i > 0) {
                out.push(out[ix.index(i)]);
                continue;
            }
            let step = match self.step_mode {
                0 => i as i64,
                1 => d.small_step,
                2 => d.wild_step,
                _ => -(i as i64) * 1000 + d.small_step,
            };
            let timestamp = match self.ts_mode {
                0 => {
                    clock += d.ts;
                    clock
                }
                1 => T0,
                2 => d.ts,
                _ => [0, 1, i64::MAX - 1, i64::MAX][d.ts as usize],
            };
            out.push(MetricPoint {
                step,
                timestamp,
                value: d.value,
            });
        }
        out
    }
}

/// What happens to the store after the first points are logged.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Checkpoint,
    /// Log the rest of every history.
    LogMore,
    Compact,
    /// Reopen; `close` checkpoints first, else the handle is just dropped.
    Reopen {
        close: bool,
    },
}

/// A step range for `metric_history_sampled`.
#[derive(Debug, Clone)]
enum RangeSpec {
    All,
    /// Between two steps of the series (either order).
    Between(Index, Index),
    /// Anything, possibly empty.
    Raw(i64, i64),
}

#[derive(Debug, Clone)]
struct Query {
    range: RangeSpec,
    max_points: usize,
}

fn query() -> impl Strategy<Value = Query> {
    let range = prop_oneof![
        2 => Just(RangeSpec::All),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| RangeSpec::Between(a, b)),
        1 => (-5i64..5, -5i64..5).prop_map(|(a, b)| RangeSpec::Raw(a, b)),
    ];
    let max_points = prop_oneof![1 => 0usize..8, 3 => 8usize..40, 1 => 40usize..200];
    (range, max_points).prop_map(|(range, max_points)| Query { range, max_points })
}

#[derive(Debug, Clone)]
struct Case {
    /// `RUNS * KEYS.len()` histories; run r, key k at `r * KEYS.len() + k`.
    series: Vec<SeriesSpec>,
    /// Batch sizes, used in turn.
    batches: Vec<usize>,
    steps: Vec<Step>,
    queries: Vec<Query>,
    /// Runs asked for in one `metric_histories` call (repeats allowed).
    bulk: Vec<Index>,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let core = Just(vec![
        Step::Checkpoint,
        Step::Compact,
        Step::Reopen { close: false },
    ])
    .prop_shuffle();
    let extra = prop::collection::vec(
        prop_oneof![
            Just(Step::Checkpoint),
            any::<bool>().prop_map(|close| Step::Reopen { close }),
        ],
        0..3,
    );
    (core, any::<Index>(), any::<bool>(), extra).prop_map(|(mut steps, at, close, extra)| {
        for s in &mut steps {
            if let Step::Reopen { close: c } = s {
                *c = close;
            }
        }
        // More points somewhere after the checkpoint: a sealed part and a
        // tail exist together until the next checkpoint.
        let cp = steps
            .iter()
            .position(|s| *s == Step::Checkpoint)
            .unwrap_or(0);
        let slots = steps.len() - cp;
        steps.insert(cp + 1 + at.index(slots), Step::LogMore);
        steps.extend(extra);
        steps
    })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(series_spec(), RUNS * KEYS.len()),
        prop::collection::vec(
            prop_oneof![3 => 1usize..8, 3 => 8usize..200, 1 => Just(1000usize)],
            1..6,
        ),
        steps(),
        prop::collection::vec(query(), 1..4),
        prop::collection::vec(any::<Index>(), 0..6),
    )
        .prop_map(|(series, batches, steps, queries, bulk)| Case {
            series,
            batches,
            steps,
            queries,
            bulk,
        })
}

// ---- the model ----

/// Each history's points as generated, split into the two logging phases.
struct Plan {
    before: Vec<Vec<MetricPoint>>,
    after: Vec<Vec<MetricPoint>>,
}

impl Plan {
    fn of(case: &Case) -> Plan {
        let mut before = Vec::new();
        let mut after = Vec::new();
        for spec in &case.series {
            let points = spec.points();
            let at = spec.split.index(points.len() + 1);
            before.push(points[..at].to_vec());
            after.push(points[at..].to_vec());
        }
        // At least one point is logged after the checkpoint.
        if after.iter().all(Vec::is_empty)
            && let Some(i) = before.iter().position(|b| !b.is_empty())
        {
            let p = before[i].pop().expect("not empty");
            after[i].push(p);
        }
        Plan { before, after }
    }
}

/// Whether `a` and `b` are the same record to the store: same step and
/// timestamp, and the same value, where NaN equals NaN (and -0 equals 0).
fn same_record(a: &MetricPoint, b: &MetricPoint) -> bool {
    a.step == b.step
        && a.timestamp == b.timestamp
        && (a.value == b.value || (a.value.is_nan() && b.value.is_nan()))
}

/// Equal, values by bits.
fn same_bits(a: &MetricPoint, b: &MetricPoint) -> bool {
    a.step == b.step && a.timestamp == b.timestamp && a.value.to_bits() == b.value.to_bits()
}

fn same_list(a: &[MetricPoint], b: &[MetricPoint]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_bits(x, y))
}

/// Where two lists first differ, for failure messages.
fn first_difference(got: &[MetricPoint], want: &[MetricPoint]) -> String {
    let show = |p: Option<&MetricPoint>| {
        p.map_or("nothing".to_string(), |p| {
            format!("({}, {}, {:#x})", p.step, p.timestamp, p.value.to_bits())
        })
    };
    let i = (0..got.len().max(want.len()))
        .find(|&i| match (got.get(i), want.get(i)) {
            (Some(a), Some(b)) => !same_bits(a, b),
            _ => true,
        })
        .unwrap_or(0);
    format!(
        "first difference at {i}: got {}, want {}",
        show(got.get(i)),
        show(want.get(i))
    )
}

/// What the store must hold: each history in logging order, each record once.
#[derive(Debug, Clone)]
struct Model {
    logged: Vec<Vec<MetricPoint>>,
}

impl Model {
    fn log(&mut self, series: usize, p: MetricPoint) {
        let points = &mut self.logged[series];
        if !points.iter().any(|q| same_record(q, &p)) {
            points.push(p);
        }
    }

    /// `metric_history`'s documented order: timestamp, then step, logging
    /// order among points equal in both.
    fn history(&self, series: usize) -> Vec<MetricPoint> {
        let mut points = self.logged[series].clone();
        points.sort_by_key(|p| (p.timestamp, p.step));
        points
    }
}

fn describe(points: &[MetricPoint]) -> String {
    let shown: Vec<String> = points
        .iter()
        .take(40)
        .map(|p| format!("({}, {}, {:#x})", p.step, p.timestamp, p.value.to_bits()))
        .collect();
    let more = points.len().saturating_sub(40);
    format!("{} points [{}]{}", points.len(), shown.join(", "), {
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    })
}

// ---- checking downsampling ----

/// Checks one `metric_history_sampled` answer `got` against the points
/// logged (in logging order).
fn check_sampled(
    logged: &[MetricPoint],
    range: Option<&RangeInclusive<i64>>,
    max_points: usize,
    got: &[MetricPoint],
) -> Result<(), String> {
    let mut input: Vec<MetricPoint> = logged
        .iter()
        .filter(|p| range.is_none_or(|r| r.contains(&p.step)))
        .copied()
        .collect();
    // Step order, ties in logging order (a stable sort).
    input.sort_by_key(|p| p.step);

    // Fewer than 4 is documented to count as 4.
    let budget = max_points.max(4);
    if got.len() > budget {
        return Err(format!("{} points for max_points {max_points}", got.len()));
    }
    if input.len() <= budget {
        if !same_list(got, &input) {
            return Err(format!(
                "a history that fits must come back whole in step order: {}\n got  {}\n want {}",
                first_difference(got, &input),
                describe(got),
                describe(&input)
            ));
        }
        return Ok(());
    }

    // Every point returned is an input point, in step order. Records are
    // unique, so a greedy match finds each one's place.
    let mut kept = Vec::with_capacity(got.len());
    let mut j = 0;
    for p in got {
        while j < input.len() && !same_bits(&input[j], p) {
            j += 1;
        }
        if j == input.len() {
            return Err(format!(
                "({}, {}, {:#x}) is not in the input, or out of step order",
                p.step,
                p.timestamp,
                p.value.to_bits()
            ));
        }
        kept.push(j);
        j += 1;
    }

    // `max_points / 4` buckets of equal width over the steps present.
    let buckets = (budget / 4) as i128;
    let first = i128::from(input[0].step);
    let width = i128::from(input[input.len() - 1].step) - first + 1;
    let bucket_of = |p: &MetricPoint| (i128::from(p.step) - first) * buckets / width;

    let mut start = 0;
    while start < input.len() {
        let b = bucket_of(&input[start]);
        let end = start
            + input[start..]
                .iter()
                .take_while(|p| bucket_of(p) == b)
                .count();
        let in_bucket: Vec<usize> = kept
            .iter()
            .copied()
            .filter(|&i| (start..end).contains(&i))
            .collect();
        let has = |i: usize| in_bucket.contains(&i);
        let where_ = || {
            format!(
                "bucket {b} of {buckets} (input {start}..{end} of {}), max_points {max_points}: \
                 kept {in_bucket:?} of {}",
                input.len(),
                describe(&input[start..end])
            )
        };
        if !has(start) {
            return Err(format!("first point missing in {}", where_()));
        }
        if !has(end - 1) {
            return Err(format!("last point missing in {}", where_()));
        }
        let finite = input[start..end]
            .iter()
            .map(|p| p.value)
            .filter(|v| !v.is_nan());
        let min = finite.clone().reduce(f64::min);
        let max = finite.reduce(f64::max);
        for (what, extreme) in [("minimum", min), ("maximum", max)] {
            if let Some(v) = extreme
                && !in_bucket.iter().any(|&i| input[i].value == v)
            {
                return Err(format!("{what} {v:e} missing in {}", where_()));
            }
        }
        start = end;
    }
    Ok(())
}

fn step_range(spec: &RangeSpec, logged: &[MetricPoint]) -> Option<RangeInclusive<i64>> {
    match spec {
        RangeSpec::All => None,
        RangeSpec::Between(a, b) => {
            if logged.is_empty() {
                return None;
            }
            let a = logged[a.index(logged.len())].step;
            let b = logged[b.index(logged.len())].step;
            Some(a.min(b)..=a.max(b))
        }
        RangeSpec::Raw(a, b) => Some(*a..=*b),
    }
}

// ---- running a case ----

/// Every read the store answers about histories, against the model.
fn check(store: &Store, runs: &[String], model: &Model, case: &Case) -> Result<(), String> {
    let err = |e: runstore::Error| e.to_string();
    let mut answers = vec![Vec::new(); model.logged.len()];
    // One buffer for every `metric_history_into`, never emptied by us: a
    // read must not keep anything of the one before.
    let mut reused = Vec::new();
    for (r, run) in runs.iter().enumerate() {
        for (k, key) in KEYS.iter().enumerate() {
            let s = r * KEYS.len() + k;
            let got = store.metric_history(run, key).map_err(err)?;
            let want = model.history(s);
            let lent = store.metric_history_ref(run, key).map_err(err)?;
            let iterated: Vec<MetricPoint> = lent.iter().collect();
            if lent.len() != got.len() || !same_list(&iterated, &got) {
                return Err(format!(
                    "metric_history_ref(run {r}, {key}) (lent: {}) differs from \
                     metric_history\n ref  {}\n owned {}",
                    lent.is_lent(),
                    describe(&iterated),
                    describe(&got)
                ));
            }
            if !same_list(&got, &want) {
                return Err(format!(
                    "metric_history(run {r}, {key}): {}\n got  {}\n want {}",
                    first_difference(&got, &want),
                    describe(&got),
                    describe(&want)
                ));
            }
            store
                .metric_history_into(run, key, &mut reused)
                .map_err(err)?;
            if !same_list(&reused, &got) {
                return Err(format!(
                    "metric_history_into(run {r}, {key}) differs from metric_history\n \
                     into  {}\n owned {}",
                    describe(&reused),
                    describe(&got)
                ));
            }
            answers[s] = got;

            for q in &case.queries {
                let range = step_range(&q.range, &model.logged[s]);
                let got = store
                    .metric_history_sampled(run, key, range.clone(), q.max_points)
                    .map_err(err)?;
                check_sampled(&model.logged[s], range.as_ref(), q.max_points, &got).map_err(
                    |e| format!("metric_history_sampled(run {r}, {key}, {range:?}): {e}"),
                )?;
            }
        }
        let unknown = store.metric_history(run, UNKNOWN_KEY).map_err(err)?;
        if !unknown.is_empty() {
            return Err(format!(
                "history of a key never logged: {}",
                describe(&unknown)
            ));
        }
    }

    // Bulk reads: every run once, then the random list.
    let lists: [Vec<usize>; 2] = [
        (0..runs.len()).collect(),
        case.bulk.iter().map(|i| i.index(runs.len())).collect(),
    ];
    for list in &lists {
        let ids: Vec<String> = list.iter().map(|&r| runs[r].clone()).collect();
        for (k, key) in KEYS.iter().enumerate() {
            let got = store.metric_histories(&ids, key).map_err(err)?;
            let lent = store.metric_histories_ref(&ids, key).map_err(err)?;
            let lent_lists = lent.iter().map(|(_, h)| h.to_vec());
            if !got
                .iter()
                .zip(lent_lists)
                .all(|((_, a), b)| same_list(a, &b))
            {
                return Err(format!("metric_histories_ref({list:?}, {key}) differs"));
            }
            if got.len() != ids.len() {
                return Err(format!(
                    "metric_histories({list:?}, {key}): {} answers",
                    got.len()
                ));
            }
            for ((id, points), &r) in got.iter().zip(list) {
                let per_run = &answers[r * KEYS.len() + k];
                if *id != runs[r] || !same_list(points, per_run) {
                    return Err(format!(
                        "metric_histories({list:?}, {key}) for run {r}: {id} {}\n per run {}",
                        describe(points),
                        describe(per_run)
                    ));
                }
            }
        }
        let unknown = store.metric_histories(&ids, UNKNOWN_KEY).map_err(err)?;
        if unknown.len() != ids.len() || unknown.iter().any(|(_, p)| !p.is_empty()) {
            return Err(format!(
                "metric_histories of a key never logged: {unknown:?}"
            ));
        }
    }
    Ok(())
}

/// Logs `phase[s]` for every series with `log_batch`, all keys of a run
/// interleaved, cut into batches of the case's sizes in turn.
fn log_phase(
    store: &Store,
    runs: &[String],
    phase: &[Vec<MetricPoint>],
    batches: &[usize],
    model: &mut Model,
) -> Result<(), String> {
    let mut sizes = batches.iter().cycle();
    for (r, run) in runs.iter().enumerate() {
        let mut queue: Vec<(usize, MetricPoint)> = Vec::new();
        let longest = (0..KEYS.len())
            .map(|k| phase[r * KEYS.len() + k].len())
            .max()
            .unwrap_or(0);
        for i in 0..longest {
            for k in 0..KEYS.len() {
                if let Some(p) = phase[r * KEYS.len() + k].get(i) {
                    queue.push((k, *p));
                }
            }
        }
        let mut rest = &queue[..];
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
            let (batch, tail) = rest.split_at(n);
            let metrics: Vec<Metric> = batch
                .iter()
                .map(|(k, p)| Metric::new(KEYS[*k], p.value, p.timestamp, p.step))
                .collect();
            store
                .log_batch(run, &metrics, &[], &[])
                .map_err(|e| format!("log_batch on run {r}: {e}"))?;
            for (k, p) in batch {
                model.log(r * KEYS.len() + k, *p);
            }
            rest = tail;
        }
    }
    Ok(())
}

fn run_case(case: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temporary folder");
    let root = dir.path().join("store");
    let mut store = Store::open(&root, options()).expect("new store");
    let runs: Vec<String> = (0..RUNS)
        .map(|i| {
            store
                .create_run(NewRun {
                    experiment_id: "0".into(),
                    run_name: Some(format!("run{i}")),
                    start_time: Some(1),
                    ..NewRun::default()
                })
                .expect("create run")
                .run_id
        })
        .collect();
    // Odd runs finish: their series are cold at a checkpoint (compressed),
    // the others stay RUNNING and hot (raw, lent in place).
    for run in runs.iter().skip(1).step_by(2) {
        store
            .update_run_info(run, Some(RunStatus::Finished), Some(2), None)
            .expect("finish run");
    }
    let plan = Plan::of(case);
    let mut model = Model {
        logged: vec![Vec::new(); case.series.len()],
    };

    log_phase(&store, &runs, &plan.before, &case.batches, &mut model)?;
    check(&store, &runs, &model, case).map_err(|e| format!("after the first points: {e}"))?;
    for (i, step) in case.steps.iter().enumerate() {
        match step {
            Step::Checkpoint => store.checkpoint().map_err(|e| e.to_string())?,
            Step::LogMore => log_phase(&store, &runs, &plan.after, &case.batches, &mut model)?,
            Step::Compact => {
                let (compacted, _) = store.compact().map_err(|e| e.to_string())?;
                store = compacted;
            }
            Step::Reopen { close } => {
                if *close {
                    store.close().map_err(|e| e.to_string())?;
                } else {
                    drop(store);
                }
                store = reopen(&root)?;
            }
        }
        check(&store, &runs, &model, case)
            .map_err(|e| format!("after step {i} ({step:?}) of {:?}: {e}", case.steps))?;
    }
    Ok(())
}

fn reopen(root: &Path) -> Result<Store, String> {
    Store::open(root, options()).map_err(|e| format!("reopen: {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    #[test]
    fn histories_survive_checkpoint_tail_compaction_and_reopen(case in case()) {
        if let Err(e) = run_case(&case) {
            prop_assert!(false, "{}", e);
        }
    }
}

// ---- the checker must be able to fail ----

fn p(step: i64, value: f64) -> MetricPoint {
    MetricPoint {
        step,
        timestamp: T0 + step,
        value,
    }
}

#[test]
fn check_sampled_rejects_lost_extremes_and_overruns() {
    let logged: Vec<MetricPoint> = (0..16)
        .map(|i| p(i, if i == 5 { 100.0 } else { f64::from(i as i32) }))
        .collect();
    // Two buckets (max_points 8): steps 0..=7 and 8..=15.
    let good = [logged[0], logged[5], logged[7], logged[8], logged[15]];
    assert_eq!(check_sampled(&logged, None, 8, &good), Ok(()));
    // The maximum of the first bucket dropped.
    let no_max = [logged[0], logged[7], logged[8], logged[15]];
    assert!(check_sampled(&logged, None, 8, &no_max).is_err());
    // A bucket's first point dropped.
    let no_first = [logged[0], logged[5], logged[7], logged[15]];
    assert!(check_sampled(&logged, None, 8, &no_first).is_err());
    // Out of step order.
    let unordered = [logged[0], logged[7], logged[5], logged[8], logged[15]];
    assert!(check_sampled(&logged, None, 8, &unordered).is_err());
    // Over budget.
    assert!(check_sampled(&logged, None, 4, &good).is_err());
    // A value changed in its bits (NaN payload).
    let nan = vec![p(0, f64::NAN), p(1, 1.0)];
    let other_nan = [p(0, f64::from_bits(0x7ff8_0000_0000_0001)), p(1, 1.0)];
    assert!(check_sampled(&nan, None, 8, &other_nan).is_err());
    // A range leaves what fits whole.
    assert_eq!(
        check_sampled(&logged, Some(&(3..=5)), 4, &logged[3..6]),
        Ok(())
    );
}

// ---- one long history ----

#[test]
fn a_million_point_history_survives_checkpoint_and_reopen() {
    const N: i64 = 1_000_000;
    const MIN_AT: i64 = 777_777;
    const MAX_AT: i64 = 123_456;
    let dir = tempfile::tempdir().expect("temporary folder");
    let root = dir.path().join("store");
    let options = Options {
        durability: Durability::None,
        ..Options::default()
    };
    let store = Store::open(&root, options.clone()).expect("new store");
    let run = store
        .create_run(NewRun {
            experiment_id: "0".into(),
            ..NewRun::default()
        })
        .expect("create run")
        .run_id;

    // A noisy falling curve in float32, with one spike each way inside.
    let points: Vec<MetricPoint> = (0..N)
        .map(|i| {
            let noise = (i.wrapping_mul(2_654_435_761) % 1000) as f32 * 1e-4;
            let value = match i {
                MIN_AT => -1000.0f32,
                MAX_AT => 1.0e6f32,
                _ => 1.0 / (1.0 + i as f32 * 1e-3) + noise,
            };
            MetricPoint {
                step: i,
                timestamp: T0 + i * 7,
                value: f64::from(value),
            }
        })
        .collect();
    for chunk in points.chunks(1000) {
        let metrics: Vec<Metric> = chunk
            .iter()
            .map(|p| Metric::new("loss", p.value, p.timestamp, p.step))
            .collect();
        store
            .log_batch(&run, &metrics, &[], &[])
            .expect("log a batch");
    }
    store.checkpoint().expect("checkpoint");
    drop(store);
    let store = Store::open(&root, options).expect("reopen");

    let history = store.metric_history(&run, "loss").expect("history");
    assert_eq!(history.len(), points.len());
    if let Some(i) = (0..points.len()).find(|&i| !same_bits(&history[i], &points[i])) {
        panic!("point {i}: {:?} != {:?}", history[i], points[i]);
    }

    let sampled = store
        .metric_history_sampled(&run, "loss", None, 1000)
        .expect("sampled");
    assert!(sampled.len() <= 1000, "{} points", sampled.len());
    let at = |step: i64| points[step as usize];
    for want in [at(0), at(N - 1), at(MIN_AT), at(MAX_AT)] {
        assert!(
            sampled.iter().any(|p| same_bits(p, &want)),
            "{want:?} missing from the sample"
        );
    }
    assert!(same_bits(&sampled[0], &at(0)));
    assert!(same_bits(&sampled[sampled.len() - 1], &at(N - 1)));
    check_sampled(&points, None, 1000, &sampled).expect("every bucket's extremes");
}
