//! An ordered parallel map: items are mapped on worker threads and come back in input order.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

/// Maps `items` with `map` on `workers` threads; a feeder thread pulls the items. The results
/// come back in the order of the items. At most a few items per worker are in flight, so
/// memory stays bounded however many items there are. With no workers, the calling thread
/// maps each item as it is asked for (on one core, threads would only take turns).
pub fn ordered_map<T, R, I, F>(items: I, workers: usize, map: F) -> Box<dyn Iterator<Item = R>>
where
    T: Send + 'static,
    R: Send + 'static,
    I: Iterator<Item = T> + Send + 'static,
    F: Fn(T) -> R + Send + Sync + 'static,
{
    if workers == 0 {
        return Box::new(items.map(map));
    }
    let (jobs_sender, jobs) = sync_channel::<(usize, T)>(workers * 2);
    let (results_sender, results) = sync_channel::<(usize, R)>(workers * 2);
    thread::spawn(move || {
        for job in items.enumerate() {
            if jobs_sender.send(job).is_err() {
                break; // the results are no longer wanted
            }
        }
    });
    let jobs = Arc::new(Mutex::new(jobs));
    let map = Arc::new(map);
    for _ in 0..workers {
        let (jobs, results, map) = (Arc::clone(&jobs), results_sender.clone(), Arc::clone(&map));
        thread::spawn(move || {
            loop {
                let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
                let Ok((index, item)) = job else { break };
                if results.send((index, map(item))).is_err() {
                    break;
                }
            }
        });
    }
    Box::new(OrderedMap { results, pending: BTreeMap::new(), next: 0 })
}

/// The results of [`ordered_map`]'s workers, in input order.
struct OrderedMap<R> {
    results: Receiver<(usize, R)>,
    pending: BTreeMap<usize, R>,
    next: usize,
}

impl<R> Iterator for OrderedMap<R> {
    type Item = R;

    fn next(&mut self) -> Option<R> {
        loop {
            if let Some(result) = self.pending.remove(&self.next) {
                self.next += 1;
                return Some(result);
            }
            // Every worker has finished once the channel is closed: all results are in.
            let (index, result) = self.results.recv().ok()?;
            self.pending.insert(index, result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_items_that_take_uneven_time_then_results_come_back_in_order() {
        let slow_first = |n: u64| {
            thread::sleep(std::time::Duration::from_millis(if n.is_multiple_of(7) {
                5
            } else {
                0
            }));
            n * n
        };
        for workers in [0, 1, 3] {
            let results: Vec<u64> = ordered_map(0..200_u64, workers, slow_first).collect();
            assert_eq!(results, (0..200_u64).map(|n| n * n).collect::<Vec<_>>(), "{workers}");
        }
    }

    #[test]
    fn given_no_items_then_it_ends() {
        assert_eq!(ordered_map(std::iter::empty::<u8>(), 2, |n| n).count(), 0);
        assert_eq!(ordered_map(std::iter::empty::<u8>(), 0, |n| n).count(), 0);
    }
}
