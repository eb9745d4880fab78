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
    let mut dense: Option<DenseSet> = None;
    let mut decided = false;

    for first in (0..n).step_by(step) {
        block.clear();
        let end = (first + step).min(n);
        let positions = (first..end).map(|i| if descending { i } else { n - 1 - i });
        let ords = positions.filter_map(|at| order.get(at));
        match &dense {
            Some(set) => block.extend(ords.filter(|&ord| set.contains(ord))),
            None => block.extend(ords.filter(|&ord| within.contains(ord))),
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
        // Past its first block, the walk knows its rate of matches: when
        // it has more positions left to test than building plain bits of
        // `within` marks, testing against those bits repays building them.
        if !decided {
            decided = true;
            let left = positions_left(found.len(), wanted, end, n);
            if DenseSet::marks(within, n as u32) < left {
                dense = Some(DenseSet::new(within, n as u32));
            }
        }
    }
    Some(found)
}

/// About how many more positions of the start-time order a walk that has
/// found `found` matches in its first `walked` will pass before it has
/// `wanted`, at the rate it found them so far (all the rest when it found
/// none).
fn positions_left(found: usize, wanted: usize, walked: usize, n: usize) -> usize {
    let rest = n.saturating_sub(walked);
    if found == 0 {
        return rest;
    }
    let needed = wanted.saturating_sub(found) as f64 * walked as f64 / found as f64;
    (needed as usize).min(rest)
}

/// A set of ordinals below a bound as one bit each: a membership test is
/// one load, where a roaring bitmap first searches its containers (and an
/// array container its values). The bits are of the smaller of the set
/// and its complement, so building it marks at most half the ordinals.
struct DenseSet {
    words: Vec<u64>,
    /// The bits are of the ordinals *not* in the set.
    inverted: bool,
    /// Ordinals from here on are not in the set.
    bound: u32,
}

impl DenseSet {
    /// How many bits building the set for `set` marks. Marking a bit costs
    /// less than a roaring membership test, but not many times less.
    fn marks(set: &RoaringBitmap, bound: u32) -> usize {
        let members = members_below(set, bound);
        members.min(u64::from(bound) - members) as usize
    }

    fn new(set: &RoaringBitmap, bound: u32) -> DenseSet {
        let inverted = members_below(set, bound) > u64::from(bound) / 2;
        let mut words = vec![0u64; (bound as usize).div_ceil(64)];
        let mut mark = |ord: u32| {
            if let Some(word) = words.get_mut(ord as usize / 64) {
                *word |= 1 << (ord % 64);
            }
        };
        if inverted {
            let mut outside = RoaringBitmap::new();
            outside.insert_range(0..bound);
            outside -= set;
            outside.iter().for_each(&mut mark);
        } else {
            set.range(..bound).for_each(&mut mark);
        }
        DenseSet {
            words,
            inverted,
            bound,
        }
    }

    fn contains(&self, ord: u32) -> bool {
        if ord >= self.bound {
            return false;
        }
        let bit = self
            .words
            .get(ord as usize / 64)
            .is_some_and(|word| word >> (ord % 64) & 1 == 1);
        bit != self.inverted
    }
}

/// Members of `set` below `bound`.
fn members_below(set: &RoaringBitmap, bound: u32) -> u64 {
    bound.checked_sub(1).map_or(0, |last| set.rank(last))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_sets_hold_what_the_bitmap_holds_below_the_bound() {
        let bound = 200;
        let sparse: RoaringBitmap = [0, 5, 63, 64, 130, 199, 250].into_iter().collect();
        let mut full = RoaringBitmap::new();
        full.insert_range(0..300);
        full.remove(64);
        full.remove(199);
        for (set, inverted) in [(&sparse, false), (&full, true)] {
            let dense = DenseSet::new(set, bound);
            assert_eq!(dense.inverted, inverted);
            for ord in 0..300 {
                let want = ord < bound && set.contains(ord);
                assert_eq!(dense.contains(ord), want, "ordinal {ord}");
            }
        }
        // Six members of `sparse` are below the bound; 198 of `full` are,
        // so its two gaps are what is marked.
        assert_eq!(DenseSet::marks(&sparse, bound), 6);
        assert_eq!(DenseSet::marks(&full, bound), 2);
    }

    #[test]
    fn positions_left_follow_the_rate_so_far() {
        assert_eq!(positions_left(10, 100, 1000, 1_000_000), 9000);
        assert_eq!(positions_left(0, 100, 1000, 5000), 4000);
        assert_eq!(positions_left(1, 100, 1000, 5000), 4000);
        assert_eq!(positions_left(200, 100, 1000, 5000), 0);
    }
}
