//! A histogram of fixed buckets, recorded with atomics only.
//!
//! Each observation adds one to its bucket and its value to the sum (when
//! not zero): two relaxed atomic additions at most, no lock, no
//! allocation. The buckets hold
//! plain (not cumulative) counts; the exposition sums them, and the count
//! is their total, so the three are never read torn by more than the
//! observations racing the scrape.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bucket bounds of request durations, in microseconds: Envoy's default
/// histogram buckets (0.5 ms to 1 h), which Istio's
/// `istio_request_duration_milliseconds` uses.
pub(crate) const DURATION_BOUNDS_US: [u64; 19] = [
    500,
    1_000,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    30_000_000,
    60_000_000,
    300_000_000,
    600_000_000,
    1_800_000_000,
    3_600_000_000,
];

/// Bucket bounds of body sizes, in bytes: decades from 1 B to 1 GB.
pub(crate) const BYTES_BOUNDS: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// Counts per bucket (the last one above every bound) and the sum.
#[derive(Debug)]
pub(crate) struct Histogram {
    bounds: &'static [u64],
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Histogram {
    pub(crate) fn new(bounds: &'static [u64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Records `value` (in the unit of the bounds).
    #[inline]
    pub(crate) fn observe(&self, value: u64) {
        // Prometheus buckets are `le`: a value equal to a bound is in it.
        let index = self.bounds.partition_point(|bound| *bound < value);
        self.counts[index].fetch_add(1, Ordering::Relaxed);
        if value != 0 {
            self.sum.fetch_add(value, Ordering::Relaxed);
        }
    }

    /// The bounds with their cumulative counts, then the total count and
    /// the sum.
    pub(crate) fn read(&self) -> HistogramValues {
        let mut cumulative = Vec::with_capacity(self.bounds.len());
        let mut total = 0;
        for (bound, count) in self.bounds.iter().zip(self.counts.iter()) {
            total += count.load(Ordering::Relaxed);
            cumulative.push((*bound, total));
        }
        total += self.counts[self.bounds.len()].load(Ordering::Relaxed);
        HistogramValues {
            cumulative,
            count: total,
            sum: self.sum.load(Ordering::Relaxed),
        }
    }
}

/// What a histogram holds, read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HistogramValues {
    /// `(bound, observations at or below it)`, by bound.
    pub(crate) cumulative: Vec<(u64, u64)>,
    pub(crate) count: u64,
    pub(crate) sum: u64,
}

impl HistogramValues {
    /// Adds `other`'s counts (both from histograms of the same bounds).
    pub(crate) fn merge(&mut self, other: &Self) {
        if self.cumulative.is_empty() {
            self.cumulative.clone_from(&other.cumulative);
        } else {
            for (mine, theirs) in self.cumulative.iter_mut().zip(&other.cumulative) {
                mine.1 += theirs.1;
            }
        }
        self.count += other.count;
        self.sum += other.sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_first_bucket_whose_bound_they_do_not_exceed() {
        let histogram = Histogram::new(&BYTES_BOUNDS);
        for value in [0, 1, 2, 10, 11, 5_000_000_000] {
            histogram.observe(value);
        }
        let values = histogram.read();
        assert_eq!(values.cumulative[0], (1, 2));
        assert_eq!(values.cumulative[1], (10, 4));
        assert_eq!(values.cumulative[2], (100, 5));
        assert_eq!(values.cumulative.last(), Some(&(1_000_000_000, 5)));
        assert_eq!(values.count, 6);
        assert_eq!(values.sum, 5_000_000_024);
    }

    #[test]
    fn merging_adds_bucket_by_bucket() {
        let a = Histogram::new(&DURATION_BOUNDS_US);
        let b = Histogram::new(&DURATION_BOUNDS_US);
        a.observe(400);
        b.observe(700);
        let mut merged = a.read();
        merged.merge(&b.read());
        assert_eq!(merged.cumulative[0], (500, 1));
        assert_eq!(merged.cumulative[1], (1_000, 2));
        assert_eq!((merged.count, merged.sum), (2, 1_100));
    }
}
