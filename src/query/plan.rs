//! The planner: MLflow's filter, order and paging answered from the run
//! table's indexes. Each clause becomes a bitmap over run ordinals; clauses
//! are applied cheapest first, each only over the runs that survived the
//! ones before. Every comparison goes through the same functions as the
//! reference evaluator (`naive.rs`), so the two cannot disagree on meaning.

use roaring::RoaringBitmap;
use std::cmp::Ordering;
use std::ops::Range;

use super::filter::{Attribute, Clause, Comparator, DatasetField, Target, Value, parse_filter};
use super::like::LikePattern;
use super::naive::{
    RUN_NAME_TAG, SortValue, compare_metric, compare_sort_values, compare_str, compare_time,
    validate_max_results,
};
use super::order::{OrderKey, parse_order_by};
use super::request::{IdPage, SearchPage, SearchRequest};
use super::token::{encode_token, resume_offset, run_query_hash};
use crate::error::Result;
use crate::index::{KeyView, MetricView, Ordinal, RunTable};
use crate::model::{Run, ViewType};

/// Every matching run of a search, in MLflow's order: what later pages of
/// the same search are cut from.
#[derive(Debug, Clone)]
pub struct Ordered {
    /// The search's identity, as its page tokens carry it.
    pub query: String,
    pub ordinals: Vec<Ordinal>,
}

/// The ordinals of one page of a search, and the token of the next.
pub struct Window {
    pub ordinals: Vec<Ordinal>,
    pub next_page_token: Option<String>,
}

/// `search_runs` over the indexes of `table`: see [`search_window`].
pub fn search_runs(
    table: &RunTable,
    req: &SearchRequest,
    cache: Option<&Ordered>,
) -> Result<(SearchPage, Option<Ordered>)> {
    let (window, ordered) = search_window(table, req, cache)?;
    let page = SearchPage {
        runs: materialize(table, &window.ordinals),
        next_page_token: window.next_page_token,
    };
    Ok((page, ordered))
}

/// The same search as [`search_runs`], answering run ids only.
pub fn search_run_ids(
    table: &RunTable,
    req: &SearchRequest,
    cache: Option<&Ordered>,
) -> Result<(IdPage, Option<Ordered>)> {
    let (window, ordered) = search_window(table, req, cache)?;
    let page = IdPage {
        run_ids: window
            .ordinals
            .iter()
            .map(|&ord| table.get(ord).run_id().to_string())
            .collect(),
        next_page_token: window.next_page_token,
    };
    Ok((page, ordered))
}

/// One page of a search, as ordinals. A first page sorts only as far as
/// it needs; a later page (one with a token) uses `cache` when it holds the
/// same search's full order, and otherwise computes that order and returns
/// it for the caller to keep, so that paging through a large result costs
/// one sort, not one per page.
pub fn search_window(
    table: &RunTable,
    req: &SearchRequest,
    cache: Option<&Ordered>,
) -> Result<(Window, Option<Ordered>)> {
    let max_results = validate_max_results(req.max_results)?;
    let filter = parse_filter(req.filter.as_deref())?;
    let order = parse_order_by(&req.order_by)?;
    let query = run_query_hash(req);
    let offset = resume_offset(req.page_token.as_deref(), &query)?;
    let wanted = offset.saturating_add(max_results);

    if let Some(cached) = cache.filter(|c| c.query == query && req.page_token.is_some()) {
        return Ok((window(&cached.ordinals, offset, wanted, &query), None));
    }
    if req.page_token.is_none()
        && let Some(first) = super::walk::first_page(table, req, &filter, &order, wanted)
    {
        let next_page_token = first.more.then(|| encode_token(wanted, &query));
        let window = Window {
            ordinals: first.ordinals,
            next_page_token,
        };
        return Ok((window, None));
    }
    let hits = matching(table, req, &filter);
    if req.page_token.is_none() {
        let total = hits.len() as usize;
        let ordered = top(table, &hits, &order, wanted);
        let mut first = window(&ordered, offset, wanted, &query);
        first.next_page_token = (wanted.min(total) < total).then(|| encode_token(wanted, &query));
        return Ok((first, None));
    }
    let all = top(table, &hits, &order, usize::MAX);
    let result = window(&all, offset, wanted, &query);
    Ok((
        result,
        Some(Ordered {
            query,
            ordinals: all,
        }),
    ))
}

/// The runs the request's experiments, view and filter select.
fn matching(
    table: &RunTable,
    req: &SearchRequest,
    filter: &super::filter::Filter,
) -> RoaringBitmap {
    let mut hits = candidates(table, req);
    let mut clauses: Vec<&Clause> = filter.clauses.iter().collect();
    clauses.sort_by_key(|c| estimate(table, c, hits.len()));
    for clause in clauses {
        if hits.is_empty() {
            break;
        }
        hits = select(table, clause, &hits);
    }
    hits
}

/// The window `offset..wanted` of `ordered`, with a token when more follow.
fn window(ordered: &[Ordinal], offset: usize, wanted: usize, query: &str) -> Window {
    let start = offset.min(ordered.len());
    let end = wanted.min(ordered.len());
    Window {
        ordinals: ordered[start..end].to_vec(),
        next_page_token: (end < ordered.len()).then(|| encode_token(end, query)),
    }
}

/// Runs whose records are loaded into the cache together before they are
/// built: about 30 KiB of records, which stay in the L1 or L2 cache.
const MATERIALIZE_BATCH: usize = 32;

/// Pages at least this long are built on several threads.
const PARALLEL_PAGE: usize = 128;

/// The runs `ords` as MLflow shows them. Building a `Run` (its info's
/// strings, its maps) is most of the cost of a large page, and each run is
/// built apart from the others, so a large page is split between threads.
///
/// Each part is built a batch at a time, the batch's records loaded into
/// the cache first (their misses overlap there, where building a run at a
/// time would wait on each in turn).
fn materialize(table: &RunTable, ords: &[Ordinal]) -> Vec<Run> {
    let parts = crate::parallel::split(ords.len(), PARALLEL_PAGE / 2, 1, |range| {
        let mut runs = Vec::with_capacity(range.len());
        for batch in ords[range].chunks(MATERIALIZE_BATCH) {
            std::hint::black_box(table.touch(batch));
            runs.extend(batch.iter().map(|&ord| table.run(ord)));
        }
        runs
    });
    parts.into_iter().flatten().collect()
}

/// Runs of the requested experiments whose lifecycle the view admits.
pub(super) fn candidates(table: &RunTable, req: &SearchRequest) -> RoaringBitmap {
    if req.experiment_ids.is_empty() {
        return match req.view_type {
            ViewType::ActiveOnly => table.active().clone(),
            ViewType::DeletedOnly => table.deleted().clone(),
            ViewType::All => table.all(),
        };
    }
    let mut runs = RoaringBitmap::new();
    for id in &req.experiment_ids {
        if let Some(e) = table.experiment_ordinal(id) {
            runs |= &table.experiment(e).runs;
        }
    }
    match req.view_type {
        ViewType::ActiveOnly => runs -= table.deleted(),
        ViewType::DeletedOnly => runs &= table.deleted(),
        ViewType::All => {}
    }
    runs
}

/// Rough number of runs a clause costs to evaluate: posting lookups and id
/// lookups are cheap and selective, scans cost the candidates.
pub(super) fn estimate(table: &RunTable, clause: &Clause, candidates: u64) -> u64 {
    let postings = |index: Option<KeyView<'_>>| match (index, clause.op, &clause.value) {
        (None, _, _) => 0,
        (Some(idx), Comparator::Eq, Value::Text(v)) => idx.posting_count(v).unwrap_or(candidates),
        (Some(idx), Comparator::IsNotNull, _) => idx.present().len(),
        _ => candidates,
    };
    match (&clause.target, clause.op) {
        (Target::Attribute(Attribute::RunId), Comparator::Eq | Comparator::In) => 1,
        (Target::Param(key), _) => postings(table.param_index(key)),
        (Target::Tag(key), _) => postings(table.tag_index(key)),
        (Target::Metric(key), _) => table.metric_index(key).map_or(0, |m| m.count()),
        _ => candidates.saturating_mul(2),
    }
}

/// The runs among `within` that satisfy `clause`.
pub(super) fn select(table: &RunTable, clause: &Clause, within: &RoaringBitmap) -> RoaringBitmap {
    match &clause.target {
        Target::Metric(key) => match (table.metric_index(key), &clause.value) {
            (Some(idx), Value::Number(n)) => {
                let literal = n.as_f64();
                idx.select(within, |v| compare_metric(clause.op, v, literal))
            }
            _ => RoaringBitmap::new(),
        },
        Target::Param(key) => select_string(table.param_index(key), clause, within, |ord| {
            table.param(ord, key)
        }),
        Target::Tag(key) => select_string(table.tag_index(key), clause, within, |ord| {
            table.tag(ord, key)
        }),
        Target::Attribute(attribute) => select_attribute(table, *attribute, clause, within),
        Target::Dataset(field) => scan(within, |ord| {
            table.get(ord).inputs_ref().iter().any(|input| {
                let stored = match field {
                    DatasetField::Name => Some(input.dataset.name.as_str()),
                    DatasetField::Digest => Some(input.dataset.digest.as_str()),
                    DatasetField::Context => input.context(),
                };
                stored.is_some_and(|s| compare_str(clause.op, s, &clause.value))
            })
        }),
    }
}

/// Keeps the ordinals of `within` for which `keep` holds.
fn scan(within: &RoaringBitmap, keep: impl Fn(Ordinal) -> bool) -> RoaringBitmap {
    RoaringBitmap::from_sorted_iter(within.iter().filter(|&ord| keep(ord))).unwrap_or_default()
}

/// A param or tag clause. Equality and LIKE are decided once per distinct
/// value of the key, then answered from its postings or value column; the
/// other comparators scan the runs having the key.
fn select_string<'t>(
    index: Option<KeyView<'_>>,
    clause: &Clause,
    within: &RoaringBitmap,
    value_of: impl Fn(Ordinal) -> Option<&'t str>,
) -> RoaringBitmap {
    let Some(index) = index else {
        return if clause.op == Comparator::IsNull {
            within.clone()
        } else {
            RoaringBitmap::new()
        };
    };
    match (clause.op, &clause.value) {
        (Comparator::IsNull, _) => within - index.present(),
        (Comparator::IsNotNull, _) => within & index.present(),
        (Comparator::Eq, Value::Text(v)) => index.select_eq(within, v),
        (Comparator::Like | Comparator::ILike, Value::Text(pattern)) => {
            let pattern = LikePattern::new(pattern, clause.op == Comparator::ILike);
            if index.cheaper_by_run(within) {
                let having = within & index.present();
                return scan(&having, |ord| {
                    let value = index.column_value(ord).unwrap_or_else(|| value_of(ord));
                    value.is_some_and(|s| pattern.matches(s))
                });
            }
            match pattern.required_bytes() {
                Some(needle) => {
                    let decides = pattern.needle_decides();
                    index.select_containing(within, needle, decides, |s| pattern.matches(s))
                }
                None => index.select_values(within, |s| pattern.matches(s)),
            }
        }
        _ => {
            let having = within & index.present();
            scan(&having, |ord| {
                value_of(ord).is_some_and(|s| compare_str(clause.op, s, &clause.value))
            })
        }
    }
}

fn select_attribute(
    table: &RunTable,
    attribute: Attribute,
    clause: &Clause,
    within: &RoaringBitmap,
) -> RoaringBitmap {
    let op = clause.op;
    match (attribute, op, &clause.value) {
        (Attribute::RunId, Comparator::Eq, Value::Text(id)) => lookup(table, [id], within),
        (Attribute::RunId, Comparator::In, Value::List(ids)) => lookup(table, ids, within),
        (Attribute::StartTime | Attribute::EndTime, _, Value::Number(n)) => scan(within, |ord| {
            let stored = match attribute {
                Attribute::StartTime => Some(table.start_time(ord)),
                _ => table.get(ord).end_time(),
            };
            stored.is_some_and(|s| compare_time(op, s, *n))
        }),
        _ => scan(within, |ord| {
            let run = table.get(ord);
            let stored = match attribute {
                Attribute::RunId => Some(run.run_id()),
                Attribute::RunName => table.tag(ord, RUN_NAME_TAG),
                Attribute::Status => Some(run.status().as_str()),
                Attribute::UserId => Some(run.user_id()),
                _ => Some(run.artifact_uri()),
            };
            stored.is_some_and(|s| compare_str(op, s, &clause.value))
        }),
    }
}

/// Runs named by id, among `within`.
fn lookup<'a>(
    table: &RunTable,
    ids: impl IntoIterator<Item = &'a String>,
    within: &RoaringBitmap,
) -> RoaringBitmap {
    let found: RoaringBitmap = ids.into_iter().filter_map(|id| table.ordinal(id)).collect();
    found & within
}

/// The first `limit` hits in MLflow's order: the keys, then start_time
/// DESC unless a key sorts by it, then run_id ASC.
pub(super) fn top(
    table: &RunTable,
    hits: &RoaringBitmap,
    order: &[OrderKey],
    limit: usize,
) -> Vec<Ordinal> {
    let keys: Vec<SortKey<'_>> = order
        .iter()
        .map(|k| SortKey::resolve(table, &k.target))
        .collect();
    let ranker = Ranker {
        table,
        order,
        by_start: !order
            .iter()
            .any(|k| k.target == Target::Attribute(Attribute::StartTime)),
    };
    if limit.saturating_mul(4) < hits.len() as usize {
        if let Some(rank) = FastRank::of(table, order) {
            // Few candidates survive a numeric pre-selection; the full
            // order then decides among them, ties included.
            let candidates = rank.candidates(table, hits, limit);
            return ranker.sort_all(&keys, &candidates, limit);
        }
        return ranker.bounded(&keys, hits, limit);
    }
    ranker.sort_all(&keys, hits, limit)
}

/// Fewest runs in a part of a column ranked on its own thread.
const COLUMN_PART: usize = 1 << 17;

/// The leading sort key as one integer per run, smaller first, for orders
/// whose first key is numeric: start_time (the default order) or a metric.
/// Equal ranks are left to the full comparison.
enum FastRank<'t> {
    Start {
        ascending: bool,
    },
    Metric {
        view: MetricView<'t>,
        ascending: bool,
    },
}

impl<'t> FastRank<'t> {
    fn of(table: &'t RunTable, order: &[OrderKey]) -> Option<FastRank<'t>> {
        match order.first() {
            None => Some(FastRank::Start { ascending: false }),
            Some(k) if k.target == Target::Attribute(Attribute::StartTime) => {
                Some(FastRank::Start {
                    ascending: k.ascending,
                })
            }
            Some(OrderKey {
                target: Target::Metric(key),
                ascending,
            }) => Some(FastRank::Metric {
                view: table.metric_index(key)?,
                ascending: *ascending,
            }),
            _ => None,
        }
    }

    /// Group (real, NaN, missing) in the high half, the value's order
    /// (reversed when descending) in the low half, as `compare_sort_values`
    /// orders them.
    fn rank(&self, table: &RunTable, ord: Ordinal) -> u128 {
        match self {
            FastRank::Start { .. } => self.rank_start(table.start_time(ord)),
            FastRank::Metric { view, .. } => match view.get(ord) {
                None => 2 << 64,
                Some(v) => self.rank_value(v),
            },
        }
    }

    fn rank_start(&self, start: i64) -> u128 {
        let ascending = matches!(self, FastRank::Start { ascending: true });
        let bits = (start as u64) ^ (1 << 63);
        u128::from(if ascending { bits } else { !bits })
    }

    fn rank_value(&self, v: f64) -> u128 {
        if v.is_nan() {
            return 1 << 64;
        }
        let ascending = matches!(
            self,
            FastRank::Metric {
                ascending: true,
                ..
            }
        );
        // -0.0 ties with 0.0, as in the comparison.
        let b = (super::naive::sql_metric_value(v) + 0.0).to_bits();
        let ordered = if b >> 63 == 1 { !b } else { b | (1 << 63) };
        u128::from(if ascending { ordered } else { !ordered })
    }

    /// The hits whose rank is among the `limit` smallest, with every hit
    /// tied with the last of them.
    fn candidates(&self, table: &RunTable, hits: &RoaringBitmap, limit: usize) -> RoaringBitmap {
        if limit == 0 {
            return RoaringBitmap::new();
        }
        if let Some(found) = self.by_start_order(table, hits, limit) {
            return found;
        }
        if let Some(found) = self.by_columns(table, hits, limit) {
            return found;
        }
        let mut best = TopRanks::new(limit);
        for ord in hits {
            best.offer(self.rank(table, ord), ord);
        }
        to_bitmap(best.finish())
    }

    /// For the start-time order: walks the image's runs by start time and
    /// keeps the first `limit` hits, with every hit tied with the last of
    /// them. A dense search meets them after about `limit x runs / hits`
    /// steps, far fewer than its hits. Runs created since the image are
    /// ranked apart and added. `None` for other orders, and when the walk
    /// would take more steps than ranking every hit.
    fn by_start_order(
        &self,
        table: &RunTable,
        hits: &RoaringBitmap,
        limit: usize,
    ) -> Option<RoaringBitmap> {
        let FastRank::Start { ascending } = *self else {
            return None;
        };
        let frozen = table.frozen()?;
        let base = frozen.len();
        let steps = (limit as u64).saturating_mul(u64::from(base)) / hits.len().max(1);
        if steps > hits.len() {
            return None;
        }

        let order = frozen.by_start_time();
        let n = order.len();
        let mut kept: Vec<Ordinal> = Vec::with_capacity(limit + 16);
        let mut last_start = None;
        for i in 0..n {
            let at = if ascending { n - 1 - i } else { i };
            let Some(ord) = order.get(at).filter(|&ord| ord < base) else {
                continue;
            };
            let start = table.start_time(ord);
            if kept.len() >= limit && last_start != Some(start) {
                break;
            }
            if hits.contains(ord) {
                kept.push(ord);
                last_start = Some(start);
            }
        }

        let mut live = TopRanks::new(limit);
        for ord in hits.range(base..) {
            live.offer(self.rank(table, ord), ord);
        }
        kept.extend(live.finish().into_iter().map(|(_, ord)| ord));
        kept.sort_unstable();
        RoaringBitmap::from_sorted_iter(kept).ok()
    }

    /// When hits are most runs, ranking every run straight from the
    /// columns beats walking the hits' bitmap: the best `wanted` runs of
    /// all, ties included, hold the best `limit` hits as soon as `limit` of
    /// them are hits (a hit outside them ranks below all of them). Runs
    /// without the metric are not ranked: they come after every run that
    /// has it. `None` when hits are too sparse or too few are among them.
    fn by_columns(
        &self,
        table: &RunTable,
        hits: &RoaringBitmap,
        limit: usize,
    ) -> Option<RoaringBitmap> {
        let frozen = table.frozen()?;
        let runs = table.len() as u64;
        // A column costs about a nanosecond a run, walking a bitmap several
        // per hit: worth it only for hits that are a good part of all runs.
        if hits.len().saturating_mul(4) < runs {
            return None;
        }
        let wanted = (limit as u64).saturating_mul(2).saturating_mul(runs) / hits.len().max(1) + 16;
        if wanted > (runs / 8).max(4096) {
            return None;
        }
        let frozen_runs = frozen.len() as usize;
        let mut best =
            best_in_parts(
                frozen_runs,
                COLUMN_PART,
                wanted as usize,
                |range, best| match self {
                    FastRank::Start { .. } => frozen
                        .for_each_start_time(range, |ord, t| best.offer(self.rank_start(t), ord)),
                    FastRank::Metric { view, .. } => {
                        view.for_each_frozen(range, |ord, v| best.offer(self.rank_value(v), ord))
                    }
                },
            );
        match self {
            FastRank::Start { .. } => {
                for ord in frozen.len()..table.len() as u32 {
                    best.offer(self.rank(table, ord), ord);
                }
            }
            FastRank::Metric { view, .. } => {
                for ord in view.live_present().into_iter().flatten() {
                    best.offer(self.rank(table, ord), ord);
                }
            }
        }
        let in_hits: Vec<(u128, Ordinal)> = best
            .finish()
            .into_iter()
            .filter(|&(_, ord)| hits.contains(ord))
            .collect();
        (in_hits.len() >= limit).then(|| to_bitmap(in_hits))
    }
}

/// The `limit` best ranks, ties with the last included, among what `scan`
/// offers for the ordinals `0..n`: ranked in parts of at least `part`
/// ordinals, one per core. The best of all are among the best of each part.
fn best_in_parts(
    n: usize,
    part: usize,
    limit: usize,
    scan: impl Fn(Range<usize>, &mut TopRanks) + Sync,
) -> TopRanks {
    let parts = crate::parallel::split(n, part, 64, |range| {
        let mut best = TopRanks::new(limit);
        scan(range, &mut best);
        best.finish()
    });
    let mut best = TopRanks::new(limit);
    for (rank, ord) in parts.into_iter().flatten() {
        best.offer(rank, ord);
    }
    best
}

/// The `limit` smallest ranks offered, and every rank tied with the last.
struct TopRanks {
    limit: usize,
    kept: Vec<(u128, Ordinal)>,
    threshold: u128,
    cut_at: usize,
}

impl TopRanks {
    fn new(limit: usize) -> TopRanks {
        let limit = limit.max(1);
        TopRanks {
            limit,
            kept: Vec::with_capacity(limit * 2),
            threshold: u128::MAX,
            cut_at: limit * 2,
        }
    }

    fn offer(&mut self, rank: u128, ord: Ordinal) {
        if rank > self.threshold {
            return;
        }
        self.kept.push((rank, ord));
        if self.kept.len() >= self.cut_at {
            self.cut();
            self.threshold = self.kept.iter().map(|&(r, _)| r).max().unwrap_or(u128::MAX);
            self.cut_at = (self.kept.len() * 2).max(self.limit * 2);
        }
    }

    /// Keeps the `limit` smallest and whatever ties the last of them.
    fn cut(&mut self) {
        if self.kept.len() > self.limit {
            let limit = self.limit;
            self.kept.select_nth_unstable(limit - 1);
            let last = self.kept[limit - 1].0;
            self.kept.retain(|&(r, _)| r <= last);
        }
    }

    fn finish(mut self) -> Vec<(u128, Ordinal)> {
        self.cut();
        self.kept
    }
}

fn to_bitmap(ranked: Vec<(u128, Ordinal)>) -> RoaringBitmap {
    let mut ords: Vec<Ordinal> = ranked.into_iter().map(|(_, ord)| ord).collect();
    ords.sort_unstable();
    RoaringBitmap::from_sorted_iter(ords).unwrap_or_default()
}

/// MLflow's run order over ordinals.
struct Ranker<'t> {
    table: &'t RunTable,
    order: &'t [OrderKey],
    by_start: bool,
}

/// A run with its sort values, as ranked.
type Ranked<'t> = (Ordinal, i64, &'t [SortValue<'t>]);

impl<'t> Ranker<'t> {
    fn compare(&self, a: Ranked<'_>, b: Ranked<'_>) -> Ordering {
        self.compare_values(a.2, b.2)
            .then_with(|| self.compare_rest((a.0, a.1), (b.0, b.1)))
    }

    /// The order keys alone.
    fn compare_values(&self, a: &[SortValue<'_>], b: &[SortValue<'_>]) -> Ordering {
        for (i, key) in self.order.iter().enumerate() {
            let ord = compare_sort_values(a[i], b[i], key.ascending);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    /// The tie-breaks: start_time DESC (unless a key sorts by it), then
    /// run_id ASC.
    fn compare_rest(&self, a: (Ordinal, i64), b: (Ordinal, i64)) -> Ordering {
        let by_start = if self.by_start {
            b.1.cmp(&a.1)
        } else {
            Ordering::Equal
        };
        by_start.then_with(|| {
            let (x, y) = (self.table.get(a.0), self.table.get(b.0));
            x.run_id().cmp(y.run_id())
        })
    }

    /// Every hit's values gathered into one flat vector (a stride of one
    /// value per key), the first `limit` selected, then sorted.
    fn sort_all(&self, keys: &[SortKey<'t>], hits: &RoaringBitmap, limit: usize) -> Vec<Ordinal> {
        let stride = keys.len();
        let mut values: Vec<SortValue<'t>> = Vec::with_capacity(hits.len() as usize * stride);
        let mut items: Vec<(Ordinal, i64, u32)> = Vec::with_capacity(hits.len() as usize);
        for (i, ord) in hits.iter().enumerate() {
            values.extend(keys.iter().map(|k| k.value(self.table, ord)));
            items.push((ord, self.table.start_time(ord), i as u32));
        }
        let at = |item: &(Ordinal, i64, u32)| {
            let from = item.2 as usize * stride;
            (item.0, item.1, &values[from..from + stride])
        };
        let compare = |a: &(Ordinal, i64, u32), b: &(Ordinal, i64, u32)| self.compare(at(a), at(b));
        if limit < items.len() {
            items.select_nth_unstable_by(limit, compare);
            items.truncate(limit);
        }
        items.sort_unstable_by(compare);
        items.into_iter().map(|(ord, _, _)| ord).collect()
    }

    /// The first `limit` of many hits without gathering them all: hits are
    /// compared with the worst one kept so far and most are dropped at
    /// once; the kept buffer is cut back to `limit` whenever it doubles.
    fn bounded(&self, keys: &[SortKey<'t>], hits: &RoaringBitmap, limit: usize) -> Vec<Ordinal> {
        if limit == 0 {
            return Vec::new();
        }
        let mut kept: Vec<(Ordinal, i64, Vec<SortValue<'t>>)> = Vec::with_capacity(limit * 2);
        let mut worst: Option<(Ordinal, i64, Vec<SortValue<'t>>)> = None;
        let mut current: Vec<SortValue<'t>> = Vec::with_capacity(keys.len());
        for ord in hits {
            current.clear();
            current.extend(keys.iter().map(|k| k.value(self.table, ord)));
            // Most hits lose to the worst kept on the keys alone; the
            // start time is read only for the rest.
            let by_keys = worst
                .as_ref()
                .map_or(Ordering::Less, |w| self.compare_values(&current, &w.2));
            if by_keys == Ordering::Greater {
                continue;
            }
            let start = self.table.start_time(ord);
            if by_keys == Ordering::Equal
                && let Some(w) = &worst
                && self.compare_rest((ord, start), (w.0, w.1)) != Ordering::Less
            {
                continue;
            }
            kept.push((ord, start, current.clone()));
            if kept.len() == limit * 2 {
                let compare =
                    |a: &(Ordinal, i64, Vec<SortValue<'t>>),
                     b: &(Ordinal, i64, Vec<SortValue<'t>>)| {
                        self.compare((a.0, a.1, &a.2), (b.0, b.1, &b.2))
                    };
                kept.select_nth_unstable_by(limit - 1, compare);
                kept.truncate(limit);
                worst = kept.iter().max_by(|a, b| compare(a, b)).cloned();
            }
        }
        kept.sort_unstable_by(|a, b| self.compare((a.0, a.1, &a.2), (b.0, b.1, &b.2)));
        kept.truncate(limit);
        kept.into_iter().map(|(ord, _, _)| ord).collect()
    }
}

/// An order key with its index looked up once, not once per run.
enum SortKey<'a> {
    Metric(Option<MetricView<'a>>),
    Param(&'a str),
    Tag(&'a str),
    Other(&'a Target),
}

impl<'a> SortKey<'a> {
    fn resolve(table: &'a RunTable, target: &'a Target) -> SortKey<'a> {
        match target {
            Target::Metric(key) => SortKey::Metric(table.metric_index(key)),
            Target::Param(key) => SortKey::Param(key),
            Target::Tag(key) => SortKey::Tag(key),
            other => SortKey::Other(other),
        }
    }

    fn value(&self, table: &'a RunTable, ord: Ordinal) -> SortValue<'a> {
        match self {
            SortKey::Metric(index) => match index.as_ref().and_then(|m| m.get(ord)) {
                Some(v) if v.is_nan() => SortValue::NaN,
                Some(v) => SortValue::Real(super::naive::sql_metric_value(v)),
                None => SortValue::Missing,
            },
            SortKey::Param(key) => table
                .param(ord, key)
                .map_or(SortValue::Missing, SortValue::Text),
            SortKey::Tag(key) => table
                .tag(ord, key)
                .map_or(SortValue::Missing, SortValue::Text),
            SortKey::Other(target) => sort_value(table, ord, target),
        }
    }
}

/// The value run `ord` sorts by for `target` (run_name from the run's
/// name, not its tag, as MLflow's SQL store does).
fn sort_value<'a>(table: &'a RunTable, ord: Ordinal, target: &Target) -> SortValue<'a> {
    let text = |s: Option<&'a str>| s.map_or(SortValue::Missing, SortValue::Text);
    match target {
        Target::Metric(key) => match table.metric_index(key).and_then(|m| m.get(ord)) {
            Some(v) if v.is_nan() => SortValue::NaN,
            Some(v) => SortValue::Real(super::naive::sql_metric_value(v)),
            None => SortValue::Missing,
        },
        Target::Param(key) => text(table.param(ord, key)),
        Target::Tag(key) => text(table.tag(ord, key)),
        Target::Attribute(a) => {
            let run = table.get(ord);
            match a {
                Attribute::RunId => SortValue::Text(run.run_id()),
                Attribute::RunName => SortValue::Text(run.run_name()),
                Attribute::Status => SortValue::Text(run.status().as_str()),
                Attribute::UserId => SortValue::Text(run.user_id()),
                Attribute::ArtifactUri => SortValue::Text(run.artifact_uri()),
                Attribute::StartTime => SortValue::Int(run.start_time()),
                Attribute::EndTime => run.end_time().map_or(SortValue::Missing, SortValue::Int),
            }
        }
        Target::Dataset(_) => SortValue::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The best `limit` of `ranks` and everything tied with the last, by
    /// sorting: the obviously right answer.
    fn reference(ranks: &[u128], limit: usize) -> Vec<(u128, Ordinal)> {
        let mut all: Vec<(u128, Ordinal)> = ranks.iter().zip(0..).map(|(&r, o)| (r, o)).collect();
        all.sort_unstable();
        let Some(&(last, _)) = all.get(limit.saturating_sub(1).min(all.len().saturating_sub(1)))
        else {
            return Vec::new();
        };
        all.retain(|&(r, _)| r <= last);
        all
    }

    #[test]
    fn ranking_in_parts_keeps_the_best_of_all_with_their_ties() {
        // Few distinct ranks, so ties cross every part's edge.
        let ranks: Vec<u128> = (0..5000u64).map(|i| u128::from(i * 7919 % 37)).collect();
        for (part, limit) in [(64, 1), (64, 10), (100, 150), (5000, 10), (64, 6000)] {
            let best = best_in_parts(ranks.len(), part, limit, |range, best| {
                for ord in range {
                    best.offer(ranks[ord], ord as Ordinal);
                }
            });
            let mut got = best.finish();
            got.sort_unstable();
            assert_eq!(got, reference(&ranks, limit), "part {part}, limit {limit}");
        }
    }
}
