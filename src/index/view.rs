//! Reads across the two parts of the run table: one run wherever it lives,
//! and one key's index as the union of its frozen part (less the shadowed
//! runs) and its live part.

use std::borrow::Cow;
use std::ops::Range;

use roaring::RoaringBitmap;

use super::frozen::{Frozen, FrozenKey, FrozenMetric};
use super::runs::{FieldClocks, RunRow};
use super::{MetricIndex, Ordinal, StringIndex};
use crate::model::{DatasetInput, LifecycleStage, RunStatus};

/// One run: its live row, or its place in the frozen image.
#[derive(Clone, Copy)]
pub enum RunRef<'a> {
    Live(&'a RunRow),
    Frozen(&'a Frozen, Ordinal),
    /// An ordinal that names no run (only from a damaged image).
    Missing,
}

impl<'a> RunRef<'a> {
    pub fn run_id(&self) -> &'a str {
        match *self {
            RunRef::Live(row) => &row.run_id,
            RunRef::Frozen(f, ord) => f.run_id(ord),
            RunRef::Missing => "",
        }
    }

    /// Ordinal of the run's experiment.
    pub fn experiment(&self) -> u32 {
        match *self {
            RunRef::Live(row) => row.experiment,
            RunRef::Frozen(f, ord) => f.experiment(ord),
            RunRef::Missing => u32::MAX,
        }
    }

    pub fn run_name(&self) -> &'a str {
        match *self {
            RunRef::Live(row) => &row.run_name,
            RunRef::Frozen(f, ord) => f.run_name(ord),
            RunRef::Missing => "",
        }
    }

    pub fn user_id(&self) -> &'a str {
        match *self {
            RunRef::Live(row) => &row.user_id,
            RunRef::Frozen(f, ord) => f.user_id(ord),
            RunRef::Missing => "",
        }
    }

    pub fn artifact_uri(&self) -> &'a str {
        match *self {
            RunRef::Live(row) => &row.artifact_uri,
            RunRef::Frozen(f, ord) => f.artifact_uri(ord),
            RunRef::Missing => "",
        }
    }

    pub fn status(&self) -> RunStatus {
        match *self {
            RunRef::Live(row) => row.status,
            RunRef::Frozen(f, ord) => f.status(ord),
            RunRef::Missing => RunStatus::Running,
        }
    }

    pub fn start_time(&self) -> i64 {
        match *self {
            RunRef::Live(row) => row.start_time,
            RunRef::Frozen(f, ord) => f.start_time(ord),
            RunRef::Missing => 0,
        }
    }

    pub fn end_time(&self) -> Option<i64> {
        match *self {
            RunRef::Live(row) => row.end_time,
            RunRef::Frozen(f, ord) => f.end_time(ord),
            RunRef::Missing => None,
        }
    }

    pub fn lifecycle(&self) -> LifecycleStage {
        match *self {
            RunRef::Live(row) => row.lifecycle,
            RunRef::Frozen(f, ord) => f.lifecycle(ord),
            RunRef::Missing => LifecycleStage::Active,
        }
    }

    pub fn deleted_time(&self) -> Option<i64> {
        match *self {
            RunRef::Live(row) => row.deleted_time,
            RunRef::Frozen(f, ord) => f.deleted_time(ord),
            RunRef::Missing => None,
        }
    }

    pub fn clocks(&self) -> FieldClocks {
        match *self {
            RunRef::Live(row) => row.clocks,
            RunRef::Frozen(f, ord) => f.clocks(ord),
            RunRef::Missing => FieldClocks::default(),
        }
    }

    pub fn inputs(&self) -> Vec<DatasetInput> {
        self.inputs_ref().into_owned()
    }

    /// The dataset inputs, borrowed where they are in memory.
    pub fn inputs_ref(&self) -> Cow<'a, [DatasetInput]> {
        match *self {
            RunRef::Live(row) => Cow::Borrowed(&row.inputs),
            RunRef::Frozen(f, ord) => Cow::Owned(f.inputs(ord)),
            RunRef::Missing => Cow::Owned(Vec::new()),
        }
    }
}

/// `within` without the shadowed runs, borrowed when nothing is shadowed.
fn unshadowed<'b>(within: &'b RoaringBitmap, shadow: &RoaringBitmap) -> Cow<'b, RoaringBitmap> {
    if shadow.is_empty() {
        Cow::Borrowed(within)
    } else {
        Cow::Owned(within - shadow)
    }
}

/// The index of one param or tag key across both parts.
pub struct KeyView<'a> {
    frozen: Option<FrozenKey<'a>>,
    live: Option<&'a StringIndex>,
    shadow: &'a RoaringBitmap,
}

impl<'a> KeyView<'a> {
    pub(super) fn new(
        frozen: Option<FrozenKey<'a>>,
        live: Option<&'a StringIndex>,
        shadow: &'a RoaringBitmap,
    ) -> Self {
        KeyView {
            frozen,
            live,
            shadow,
        }
    }

    /// The value of run `ord` when a frozen value-id column answers it
    /// (a high-cardinality key, a run not shadowed); `None` otherwise.
    pub fn column_value(&self, ord: Ordinal) -> Option<Option<&'a str>> {
        if self.shadow.contains(ord) {
            return None;
        }
        self.frozen.as_ref()?.value_of_run(ord)
    }

    /// Whether reading the value of each run of `within` costs less than
    /// deciding every distinct value once: a few runs of a key with a value
    /// column (many distinct values).
    pub fn cheaper_by_run(&self, within: &RoaringBitmap) -> bool {
        self.frozen.as_ref().is_some_and(|f| {
            !f.has_postings() && within.len().saturating_mul(64) < f.distinct() as u64
        })
    }

    /// Runs having the key.
    pub fn present(&self) -> RoaringBitmap {
        let mut out = match &self.frozen {
            Some(f) => f.present() - self.shadow,
            None => RoaringBitmap::new(),
        };
        if let Some(live) = self.live {
            out |= live.present();
        }
        out
    }

    /// How many runs equality with `value` selects when postings answer it
    /// (`None` when the key keeps a value column instead).
    pub fn posting_count(&self, value: &str) -> Option<u64> {
        let mut count = 0;
        if let Some(f) = &self.frozen {
            if !f.has_postings() {
                return None;
            }
            count += f
                .value_id(value)
                .and_then(|id| f.postings(id))
                .map_or(0, |b| b.len());
        }
        if let Some(live) = self.live {
            if !live.has_postings() {
                return None;
            }
            count += live
                .value_id(value)
                .and_then(|id| live.postings(id))
                .map_or(0, |b| b.len());
        }
        Some(count)
    }

    /// Runs among `within` whose value is `value`.
    pub fn select_eq(&self, within: &RoaringBitmap, value: &str) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        if let Some(f) = &self.frozen
            && let Some(wanted) = f.value_id(value)
        {
            let within = unshadowed(within, self.shadow);
            out = match f.postings(wanted) {
                Some(postings) => postings & within.as_ref(),
                None => f.select_ids(&within, |id| id == wanted),
            };
        }
        if let Some(live) = self.live
            && let Some(wanted) = live.value_id(value)
        {
            out |= live.select_ids(within, |id| id == wanted);
        }
        out
    }

    /// Runs among `within` whose value satisfies `keep`, where every value
    /// that does contains `needle`: the frozen values are searched for the
    /// needle all at once, and `keep` decides only those found (none of
    /// them when `needle_decides`: containing it is the whole condition).
    pub fn select_containing(
        &self,
        within: &RoaringBitmap,
        needle: &[u8],
        needle_decides: bool,
        keep: impl Fn(&str) -> bool,
    ) -> RoaringBitmap {
        let mut out = match &self.frozen {
            Some(f) => {
                let mut matching = IdSet::new(f.distinct());
                for id in f.ids_containing(needle) {
                    if needle_decides || keep(f.value(id)) {
                        matching.insert(id);
                    }
                }
                self.frozen_marked(f, within, &matching)
            }
            None => RoaringBitmap::new(),
        };
        out |= self.live_where(within, keep);
        out
    }

    /// Runs among `within` whose value satisfies `keep`, deciding each
    /// distinct value once.
    pub fn select_values(
        &self,
        within: &RoaringBitmap,
        keep: impl Fn(&str) -> bool,
    ) -> RoaringBitmap {
        let mut out = match &self.frozen {
            Some(f) => {
                let mut matching = IdSet::new(f.distinct());
                for (id, value) in f.values() {
                    if keep(value) {
                        matching.insert(id);
                    }
                }
                self.frozen_marked(f, within, &matching)
            }
            None => RoaringBitmap::new(),
        };
        out |= self.live_where(within, keep);
        out
    }

    /// Frozen runs among `within` (less the shadowed) whose value id is
    /// marked in `matching`.
    fn frozen_marked(
        &self,
        f: &FrozenKey<'_>,
        within: &RoaringBitmap,
        matching: &IdSet,
    ) -> RoaringBitmap {
        if matching.is_empty() {
            return RoaringBitmap::new();
        }
        f.select_ids(&unshadowed(within, self.shadow), |id| matching.contains(id))
    }

    /// Live runs among `within` whose value satisfies `keep`.
    fn live_where(&self, within: &RoaringBitmap, keep: impl Fn(&str) -> bool) -> RoaringBitmap {
        let Some(live) = self.live else {
            return RoaringBitmap::new();
        };
        let matching: Vec<bool> = live.values().iter().map(|(_, s)| keep(s)).collect();
        if !matching.contains(&true) {
            return RoaringBitmap::new();
        }
        live.select_ids(within, |id| {
            matching.get(id as usize).copied().unwrap_or(false)
        })
    }
}

/// The latest-value column of one metric key across both parts.
pub struct MetricView<'a> {
    frozen: Option<FrozenMetric<'a>>,
    live: Option<&'a MetricIndex>,
    shadow: &'a RoaringBitmap,
    base_len: u32,
}

impl<'a> MetricView<'a> {
    pub(super) fn new(
        frozen: Option<FrozenMetric<'a>>,
        live: Option<&'a MetricIndex>,
        shadow: &'a RoaringBitmap,
        base_len: u32,
    ) -> Self {
        MetricView {
            frozen,
            live,
            shadow,
            base_len,
        }
    }

    /// The latest value of run `ord`, if it has one.
    pub fn get(&self, ord: Ordinal) -> Option<f64> {
        let live = ord >= self.base_len || (!self.shadow.is_empty() && self.shadow.contains(ord));
        if live {
            self.live?.get(ord)
        } else {
            self.frozen?.get(ord)
        }
    }

    /// Calls `f(ordinal, value)` for the frozen runs of ordinals `range`
    /// having the key and not shadowed, by a pass over its columns.
    pub fn for_each_frozen(&self, range: Range<usize>, mut f: impl FnMut(Ordinal, f64)) {
        if let Some(frozen) = self.frozen {
            let shadowed = !self.shadow.is_empty();
            frozen.for_each(range, |ord, v| {
                if !(shadowed && self.shadow.contains(ord)) {
                    f(ord, v);
                }
            });
        }
    }

    /// Runs of the live part having the key.
    pub fn live_present(&self) -> Option<&'a RoaringBitmap> {
        self.live.map(|l| l.present())
    }

    /// Number of runs having the key.
    pub fn count(&self) -> u64 {
        let frozen = self.frozen.map_or(0, |f| f.present().len());
        frozen + self.live.map_or(0, |l| l.present().len())
    }

    /// Runs among `candidates` whose latest value satisfies `keep`.
    pub fn select(&self, candidates: &RoaringBitmap, keep: impl Fn(f64) -> bool) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        if let Some(f) = self.frozen {
            let within = unshadowed(candidates, self.shadow).as_ref() & f.present();
            let hits = within.iter().filter(|&ord| f.get(ord).is_some_and(&keep));
            out = RoaringBitmap::from_sorted_iter(hits).unwrap_or_default();
        }
        if let Some(live) = self.live {
            out |= live.select(candidates, keep);
        }
        out
    }
}

/// A set of value ids as one bit each: the values a clause keeps, probed
/// once per run by a column scan, small enough to stay in cache (a million
/// distinct values take 128 KiB).
struct IdSet {
    words: Vec<u64>,
    any: bool,
}

impl IdSet {
    fn new(ids: usize) -> IdSet {
        IdSet {
            words: vec![0; ids.div_ceil(64)],
            any: false,
        }
    }

    fn insert(&mut self, id: u32) {
        if let Some(word) = self.words.get_mut(id as usize / 64) {
            *word |= 1 << (id % 64);
            self.any = true;
        }
    }

    fn contains(&self, id: u32) -> bool {
        self.words
            .get(id as usize / 64)
            .is_some_and(|word| word >> (id % 64) & 1 == 1)
    }

    fn is_empty(&self) -> bool {
        !self.any
    }
}
