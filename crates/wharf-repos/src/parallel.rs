//! Doing the same thing for every repo at once, a few at a time, results in the repos'
//! order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where an operation reports what each repo is doing while it runs.
pub trait Progress: Sync {
    /// `repo` is now at `step` (`cloning`, `Receiving objects: 45%`…).
    fn update(&self, repo: &str, step: &str);
}

/// No progress shown.
impl Progress for () {
    fn update(&self, _: &str, _: &str) {}
}

/// How many repos are worked on at once: git is mostly waiting on the network or the
/// disk, so a few more than the cores.
fn workers(items: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    items.min(cores * 4).max(1)
}

/// `work` applied to every item on a few threads; the results in the items' order.
pub fn map<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers(items.len()) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else {
                        break;
                    };
                    let result = work(item);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)[index] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u64> = (0..50).collect();
        let doubled = super::map(&items, |n| {
            std::thread::sleep(std::time::Duration::from_millis(50 - n));
            n * 2
        });
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
    }
}
