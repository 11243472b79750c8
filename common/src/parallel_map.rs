//! A map over a slice on a few scoped threads. The work it spreads (gunzip, SHA-512,
//! zstd) is CPU-bound and per item, so a shared counter handing out items is all the
//! scheduling it needs; no thread pool crate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// `f` over `items` on up to `threads` threads, results in input order, first error (in
/// input order) wins; after an error no further item is started.
pub fn parallel_map<T: Sync, R: Send, E: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(usize, &T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let order: Vec<usize> = (0..items.len()).collect();
    parallel_map_in(items, &order, threads, f)
}

/// [`parallel_map`], starting the items in `order` (a permutation of their indices).
/// Largest first keeps both cores busy to the end: one big item started last would
/// leave the other threads idle while it runs.
pub fn parallel_map_in<T: Sync, R: Send, E: Send>(
    items: &[T],
    order: &[usize],
    threads: usize,
    f: impl Fn(usize, &T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    debug_assert_eq!(order.len(), items.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R, E>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let r = f(i, &items[i]);
                    let failed = r.is_err();
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                    if failed {
                        next.store(items.len(), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Some(r) => out.push(r?),
            // Skipped because another item failed; its error is returned in this loop.
            None => continue,
        }
    }
    Ok(out)
}

/// Indices of `weights`, heaviest first (ties in input order).
pub fn heaviest_first(weights: &[u64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(weights[i]));
    order
}

/// The indices of `weights` dealt into `shares` lists, heaviest first, round-robin: each
/// share gets about as much weight, for work that a thread does in one go (eight files
/// hashed together) rather than item by item.
pub fn dealt_heaviest_first(weights: &[u64], shares: usize) -> Vec<Vec<usize>> {
    let order = heaviest_first(weights);
    (0..shares.max(1))
        .map(|s| {
            order
                .iter()
                .copied()
                .skip(s)
                .step_by(shares.max(1))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_input_order_whatever_the_start_order() {
        let items: Vec<u64> = (0..50).collect();
        let order = heaviest_first(&items);
        assert_eq!(order[0], 49);
        let out: Result<Vec<u64>, ()> = parallel_map_in(&items, &order, 3, |i, x| {
            assert_eq!(items[i], *x);
            Ok(x * 2)
        });
        assert_eq!(
            out.unwrap(),
            items.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
    }

    #[test]
    fn dealing_gives_each_share_the_next_heaviest_in_turn() {
        let dealt = dealt_heaviest_first(&[5, 9, 1, 7, 3], 2);
        assert_eq!(dealt, [vec![1, 0, 2], vec![3, 4]]);
        assert_eq!(dealt_heaviest_first(&[4, 2], 0), [vec![0, 1]]);
        assert_eq!(dealt_heaviest_first(&[], 3), vec![Vec::<usize>::new(); 3]);
    }

    #[test]
    fn the_first_error_in_input_order_is_returned() {
        let items: Vec<u32> = (0..20).collect();
        let out = parallel_map(&items, 1, |_, &x| if x >= 5 { Err(x) } else { Ok(x) });
        assert_eq!(out, Err(5));
    }
}
