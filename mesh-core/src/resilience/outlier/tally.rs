//! Per-interval success and total counts, updated lock-free.
//!
//! Envoy double-buffers these per host (a writer bucket for the current
//! interval, a reader bucket holding the last one, swapped by the interval
//! timer). Here both counts live in one `AtomicU64` (total in the high 32
//! bits, successes in the low 32), so recording is one `fetch_add` and the
//! interval tick reads and clears both with one `swap`: a call racing with
//! the tick lands wholly in one interval, never as a success without its
//! total. An interval would need 2^32 calls to one endpoint to overflow.

use std::sync::atomic::{AtomicU64, Ordering};

const ONE_CALL: u64 = 1 << 32;
const LOW: u64 = ONE_CALL - 1;

/// Calls and successes of one endpoint in the running interval.
#[derive(Debug, Default)]
pub(super) struct IntervalCounter(AtomicU64);

impl IntervalCounter {
    /// Counts one successful call.
    pub(super) fn success(&self) {
        self.0.fetch_add(ONE_CALL | 1, Ordering::Relaxed);
    }

    /// Counts one failed call.
    pub(super) fn failure(&self) {
        self.0.fetch_add(ONE_CALL, Ordering::Relaxed);
    }

    /// The interval's counts, starting a new interval.
    pub(super) fn take(&self) -> Tally {
        let v = self.0.swap(0, Ordering::Relaxed);
        Tally {
            total: v >> 32,
            success: v & LOW,
        }
    }
}

/// One endpoint's counts over a finished interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tally {
    pub(super) total: u64,
    pub(super) success: u64,
}

impl Tally {
    /// The success rate in percent, `None` without calls (Envoy leaves such
    /// hosts out of every statistic).
    pub(super) fn success_rate(self) -> Option<f64> {
        (self.total > 0).then(|| self.success.min(self.total) as f64 * 100.0 / self.total as f64)
    }
}

/// An endpoint that had calls in the interval, with its success rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Scored {
    pub(super) endpoint: usize,
    pub(super) volume: u64,
    pub(super) success_rate: f64,
}

/// The `(endpoint, tally)` pairs that had calls, scored.
pub(super) fn scored(tallies: impl IntoIterator<Item = (usize, Tally)>) -> Vec<Scored> {
    tallies
        .into_iter()
        .filter_map(|(endpoint, t)| {
            t.success_rate().map(|success_rate| Scored {
                endpoint,
                volume: t.total,
                success_rate,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_returns_the_interval_and_starts_over() {
        let c = IntervalCounter::default();
        c.success();
        c.success();
        c.failure();
        assert_eq!(
            c.take(),
            Tally {
                total: 3,
                success: 2
            }
        );
        assert_eq!(c.take(), Tally::default());
    }

    #[test]
    fn success_rate_is_a_percentage_and_absent_without_calls() {
        assert_eq!(Tally::default().success_rate(), None);
        let t = Tally {
            total: 4,
            success: 1,
        };
        assert_eq!(t.success_rate(), Some(25.0));
    }
}
