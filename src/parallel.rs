//! Splitting one large piece of work across the machine's cores: a page of
//! runs to build, a value blob to search, a column to scan. Each part is
//! independent and the results come back in order, so the caller sees the
//! same answer as one pass would give.

use std::ops::Range;
use std::sync::{Mutex, PoisonError};

/// At most this many threads for one piece of work: past it, a search's
/// parts are too short to repay the spawns.
const MAX_THREADS: usize = 4;

/// Threads worth using for `items` items when a part should hold at least
/// `min_part` of them.
fn threads_for(items: usize, min_part: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(MAX_THREADS).min(items / min_part.max(1)).max(1)
}

/// `0..items` cut into contiguous parts of at least `min_part` items (one
/// part when the work is small or the machine has one core), each given to
/// `work` on its own thread (the first on the caller's); the results in
/// the parts' order. `align` rounds part boundaries to multiples of it.
pub(crate) fn split<T: Send>(
    items: usize,
    min_part: usize,
    align: usize,
    work: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    let threads = threads_for(items, min_part);
    if threads < 2 {
        return vec![work(0..items)];
    }
    let align = align.max(1);
    let part = items.div_ceil(threads).next_multiple_of(align);
    let ranges: Vec<Range<usize>> = (0..items)
        .step_by(part)
        .map(|start| start..(start + part).min(items))
        .collect();

    let Some((first, rest)) = ranges.split_first().filter(|(_, rest)| !rest.is_empty()) else {
        return vec![work(0..items)];
    };

    let work = &work;
    std::thread::scope(|scope| {
        let others: Vec<_> = rest
            .iter()
            .map(|range| {
                let range = range.clone();
                scope.spawn(move || work(range))
            })
            .collect();
        let mut results = vec![work(first.clone())];
        for handle in others {
            // As if on one thread: a panic there goes on here.
            results.push(
                handle
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            );
        }
        results
    })
}

/// Runs `work` on every item, items handed out one at a time to as many
/// threads as the machine has cores (up to the cap), the caller's among
/// them; for items of uneven cost, such as the parts of a compressed
/// series. The first failing item in the list's order gives the error.
pub(crate) fn each<T: Send, E: Send>(
    items: Vec<T>,
    work: impl Fn(T) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let threads = threads_for(items.len(), 1);
    if threads < 2 {
        return items.into_iter().try_for_each(work);
    }

    let queue = Mutex::new(items.into_iter().enumerate());
    let first_error: Mutex<Option<(usize, E)>> = Mutex::new(None);
    let drain = || {
        loop {
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((i, item)) = next else {
                return;
            };
            if let Err(e) = work(item) {
                let mut slot = first_error.lock().unwrap_or_else(PoisonError::into_inner);
                if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                    *slot = Some((i, e));
                }
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(drain);
        }
        drain();
    });

    match first_error
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
    {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// The CRC32 of `bytes`, hashed in parts on several cores for a large
/// buffer and the parts' CRCs combined: a check of a large file is bound by
/// hashing speed.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let parts = split(bytes.len(), 8 << 20, 1, |range| {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(bytes.get(range).unwrap_or(&[]));
        hasher
    });
    let mut parts = parts.into_iter();
    let mut whole = parts.next().unwrap_or_default();
    for part in parts {
        whole.combine(&part);
    }
    whole.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_every_item_once_in_order() {
        for items in [0usize, 1, 7, 100, 1000, 4097] {
            for (min_part, align) in [(1, 1), (10, 8), (1000, 64)] {
                let parts = split(items, min_part, align, |r| r);
                let flat: Vec<usize> = parts.iter().flat_map(|r| r.clone()).collect();
                assert_eq!(flat, (0..items).collect::<Vec<_>>(), "{items} {min_part}");
                for r in &parts[..parts.len() - 1] {
                    assert_eq!(r.end % align, 0);
                }
            }
        }
    }

    #[test]
    fn a_crc_in_parts_equals_one_pass() {
        let bytes: Vec<u8> = (0..(40u32 << 20) / 4)
            .flat_map(|i| i.to_le_bytes())
            .collect();
        for len in [0, 1, 1000, bytes.len()] {
            assert_eq!(
                crc32(&bytes[..len]),
                crc32fast::hash(&bytes[..len]),
                "{len}"
            );
        }
    }
}
