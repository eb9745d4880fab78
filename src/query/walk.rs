//! First pages in start-time order found by walking the runs in that order.
//!
//! The usual search asks for the first page of its matches in the default
//! order (newest first). When a costly clause (a LIKE over a key with a
//! million distinct values, a metric range, a scan) keeps many runs, working
//! it out for every run only to show the newest thousand wastes most of the
//! work. Instead, the cheap clauses (postings, presence, run ids) are applied
//! whole, and the costly ones a block at a time to the runs of the run image
//! taken in start-time order, until the page and the runs tied with its last
//! one are found. The page is then ordered by the same ranking as any other.
//!
//! The walk gives up, and the whole-bitmap plan answers, when the matches
//! turn out to be sparse: it may look at a quarter of the candidates at
//! most, so the work it wastes is bounded by that quarter.

use roaring::RoaringBitmap;

use super::filter::{Attribute, Clause, Comparator, Filter, Target, Value};
use super::order::OrderKey;
use super::plan::{candidates, estimate, select, top};
use super::request::SearchRequest;
use crate::index::{Ordinal, RunTable};

/// Most runs of the image taken per step of the walk; a small image is
/// walked in smaller steps (a thirty-second of it, at least 16 runs).
const BLOCK: usize = 2048;

/// A first page found by the walk.
pub struct FirstPage {
    /// The page, in MLflow's order.
    pub ordinals: Vec<Ordinal>,
    /// Whether matches follow the page.
    pub more: bool,
}

/// The first `wanted` matches of `filter` in start-time order, or `None`
/// when the walk does not apply (another order, no run image, no costly
/// clause) or gives up because matches are sparse.
pub fn first_page(
    table: &RunTable,
    req: &SearchRequest,
    filter: &Filter,
    order: &[OrderKey],
    wanted: usize,
) -> Option<FirstPage> {
    let descending = start_time_direction(order)?;
    let frozen = table.frozen()?;
    let (cheap, costly): (Vec<&Clause>, Vec<&Clause>) =
        filter.clauses.iter().partition(|c| is_cheap(table, c));
    if costly.is_empty() || wanted == 0 {
        return None;
    }

    let mut within = candidates(table, req);
    let mut cheap = cheap;
    cheap.sort_by_key(|c| estimate(table, c, within.len()));
    for clause in cheap {
        within = select(table, clause, &within);
    }
    let base = frozen.len();
    let mut live = within.clone();
    live.remove_range(..base);
    within.remove_range(base..);

    let walked = walk(table, &within, &costly, descending, wanted)?;
    let live_hits = apply(table, &costly, live);
    let matches = walked.len() as u64 + live_hits.len();
    let mut candidates: RoaringBitmap = walked.into_iter().collect();
    candidates |= live_hits;
    Some(FirstPage {
        ordinals: top(table, &candidates, order, wanted),
        more: matches > wanted as u64,
    })
}

/// `Some(descending)` when the order's first key is the start time (the
/// default order is start time descending).
fn start_time_direction(order: &[OrderKey]) -> Option<bool> {
    match order.first() {
        None => Some(true),
        Some(k) if k.target == Target::Attribute(Attribute::StartTime) => Some(!k.ascending),
        Some(_) => None,
    }
}

/// Clauses answered from postings, presence bitmaps or run ids: as cheap
/// over all runs as over a few.
fn is_cheap(table: &RunTable, clause: &Clause) -> bool {
    let index = match &clause.target {
        Target::Param(key) => table.param_index(key),
        Target::Tag(key) => table.tag_index(key),
        Target::Attribute(Attribute::RunId) => {
            return matches!(clause.op, Comparator::Eq | Comparator::In);
        }
        _ => return false,
    };
    match (clause.op, &clause.value) {
        (Comparator::IsNull | Comparator::IsNotNull, _) => true,
        (Comparator::Eq, Value::Text(v)) => index.is_none_or(|i| i.posting_count(v).is_some()),
        _ => false,
    }
}

/// `within` narrowed by every clause.
fn apply(table: &RunTable, clauses: &[&Clause], mut within: RoaringBitmap) -> RoaringBitmap {
    for clause in clauses {
        if within.is_empty() {
            break;
        }
        within = select(table, clause, &within);
    }
    within
}

/// The matches among `within` (frozen runs only) of the image's runs in
/// start-time order, block by block, until `wanted` of them are found and
/// the walk has passed every run tied with the last of those; in walk
/// order. `None` once a quarter of `within` was looked at without that.
fn walk(
    table: &RunTable,
    within: &RoaringBitmap,
    costly: &[&Clause],
    descending: bool,
    wanted: usize,
) -> Option<Vec<Ordinal>> {
    let order = table.frozen()?.by_start_time();
    let n = order.len();
    let budget = within.len() / 4;
    let mut looked = 0u64;
    let mut found: Vec<Ordinal> = Vec::new();
    let step = (n / 32).clamp(16, BLOCK);
    let mut block: Vec<Ordinal> = Vec::with_capacity(step);

    for first in (0..n).step_by(step) {
        block.clear();
        let end = (first + step).min(n);
        for i in first..end {
            let at = if descending { i } else { n - 1 - i };
            block.extend(order.get(at).filter(|ord| within.contains(*ord)));
        }
        looked += block.len() as u64;
        let mut sorted = block.clone();
        sorted.sort_unstable();
        let block_set = RoaringBitmap::from_sorted_iter(sorted).ok()?;
        let hits = apply(table, costly, block_set);
        found.extend(block.iter().filter(|&&ord| hits.contains(ord)));

        let last_at = if descending { end - 1 } else { n - end };
        if end == n || passed_page(table, &found, wanted, order.get(last_at)) {
            return Some(found);
        }
        if looked > budget {
            return None;
        }
    }
    Some(found)
}

/// Whether `found` holds more than `wanted` matches and the walk, now at
/// run `last`, has gone past the start time of the `wanted`-th: every run
/// tied with the page's last one has then been seen.
fn passed_page(table: &RunTable, found: &[Ordinal], wanted: usize, last: Option<Ordinal>) -> bool {
    let (Some(&edge), Some(last)) = (found.get(wanted.wrapping_sub(1)), last) else {
        return false;
    };
    found.len() > wanted && table.start_time(last) != table.start_time(edge)
}
