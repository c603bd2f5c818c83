//! The series of one destination: a counter and three histograms per
//! distinct response (code, gRPC status, flags, protocol).
//!
//! A destination's series are few (mostly one: `200`, no flags) and
//! appended, never removed, so they sit in a list swapped whole on the
//! rare append. Recording reads the list without a lock, finds its
//! series by comparing a small key, and adds with relaxed atomics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use super::flags::ResponseFlags;
use super::histogram::{BYTES_BOUNDS, DURATION_BOUNDS_US, Histogram, HistogramValues};
use super::labels::DestinationLabels;
use super::registry::Exchange;

/// Istio's `request_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// HTTP/1.1 or HTTP/2.
    Http,
    /// gRPC.
    Grpc,
}

impl Protocol {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Grpc => "grpc",
        }
    }
}

/// What tells one series of a destination from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ResponseKey {
    pub(crate) code: u16,
    pub(crate) grpc_status: Option<u8>,
    pub(crate) flags: ResponseFlags,
    pub(crate) protocol: Protocol,
}

/// One series: requests, and their durations and sizes.
#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) key: ResponseKey,
    requests: AtomicU64,
    duration_us: Histogram,
    request_bytes: Histogram,
    response_bytes: Histogram,
}

/// A series read once, for the exposition.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeriesValues {
    pub(crate) requests: u64,
    pub(crate) duration_us: HistogramValues,
    pub(crate) request_bytes: HistogramValues,
    pub(crate) response_bytes: HistogramValues,
}

impl SeriesValues {
    pub(crate) fn merge(&mut self, other: &Self) {
        self.requests += other.requests;
        self.duration_us.merge(&other.duration_us);
        self.request_bytes.merge(&other.request_bytes);
        self.response_bytes.merge(&other.response_bytes);
    }
}

impl Series {
    fn new(key: ResponseKey) -> Self {
        Self {
            key,
            requests: AtomicU64::new(0),
            duration_us: Histogram::new(&DURATION_BOUNDS_US),
            request_bytes: Histogram::new(&BYTES_BOUNDS),
            response_bytes: Histogram::new(&BYTES_BOUNDS),
        }
    }

    #[inline]
    fn observe(&self, duration_us: u64, request_bytes: u64, response_bytes: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.duration_us.observe(duration_us);
        self.request_bytes.observe(request_bytes);
        self.response_bytes.observe(response_bytes);
    }

    pub(crate) fn read(&self) -> SeriesValues {
        SeriesValues {
            requests: self.requests.load(Ordering::Relaxed),
            duration_us: self.duration_us.read(),
            request_bytes: self.request_bytes.read(),
            response_bytes: self.response_bytes.read(),
        }
    }
}

/// Everything recorded about requests to one destination.
#[derive(Debug)]
pub struct Destination {
    pub(crate) labels: DestinationLabels,
    /// The registry that made it (a cache may hold one of another).
    pub(crate) owner: u64,
    series: ArcSwap<Vec<Arc<Series>>>,
    appending: Mutex<()>,
}

impl Destination {
    pub(crate) fn new(labels: DestinationLabels, owner: u64) -> Self {
        Self {
            labels,
            owner,
            series: ArcSwap::default(),
            appending: Mutex::new(()),
        }
    }

    /// The labels.
    pub fn labels(&self) -> &DestinationLabels {
        &self.labels
    }

    /// Records one request to this destination.
    #[inline]
    pub fn record(&self, exchange: &Exchange) {
        let key = ResponseKey {
            code: exchange.response_code,
            grpc_status: exchange.grpc_status,
            flags: exchange.flags,
            protocol: exchange.protocol,
        };
        let duration_us = u64::try_from(exchange.duration.as_micros()).unwrap_or(u64::MAX);
        self.observe(
            key,
            duration_us,
            exchange.request_bytes,
            exchange.response_bytes,
        );
    }

    /// Records one request that ended with `key`.
    #[inline]
    pub(crate) fn observe(
        &self,
        key: ResponseKey,
        duration_us: u64,
        request_bytes: u64,
        response_bytes: u64,
    ) {
        let list = self.series.load();
        if let Some(series) = list.iter().find(|s| s.key == key) {
            series.observe(duration_us, request_bytes, response_bytes);
            return;
        }
        drop(list);
        self.append(key)
            .observe(duration_us, request_bytes, response_bytes);
    }

    /// The series of `key`, added if no racing caller added it first.
    #[cold]
    fn append(&self, key: ResponseKey) -> Arc<Series> {
        let _appending = self.appending.lock().unwrap_or_else(|p| p.into_inner());
        let list = self.series.load_full();
        if let Some(series) = list.iter().find(|s| s.key == key) {
            return series.clone();
        }
        let series = Arc::new(Series::new(key));
        let mut grown = Vec::with_capacity(list.len() + 1);
        grown.extend(list.iter().cloned());
        grown.push(series.clone());
        self.series.store(Arc::new(grown));
        series
    }

    /// The series, read once.
    pub(crate) fn series(&self) -> Vec<(ResponseKey, SeriesValues)> {
        self.series
            .load()
            .iter()
            .map(|s| (s.key, s.read()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: u16) -> ResponseKey {
        ResponseKey {
            code,
            grpc_status: None,
            flags: ResponseFlags::NONE,
            protocol: Protocol::Http,
        }
    }

    #[test]
    fn each_response_gets_its_series_and_repeats_reuse_it() {
        let destination = Destination::new(DestinationLabels::unknown(), 1);
        destination.observe(key(200), 800, 0, 120);
        destination.observe(key(200), 1_200, 10, 80);
        destination.observe(key(503), 300, 0, 0);
        let series = destination.series();
        assert_eq!(series.len(), 2);
        let (k, ok) = &series[0];
        assert_eq!(k.code, 200);
        assert_eq!(ok.requests, 2);
        assert_eq!(ok.duration_us.sum, 2_000);
        assert_eq!(ok.response_bytes.sum, 200);
        assert_eq!(series[1].1.requests, 1);
    }

    #[test]
    fn threads_racing_to_add_a_series_count_into_one() {
        let destination = Arc::new(Destination::new(DestinationLabels::unknown(), 1));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let d = destination.clone();
                std::thread::spawn(move || {
                    for code in [200, 404, 503] {
                        for _ in 0..1_000 {
                            d.observe(key(code), 1, 1, 1);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no panic");
        }
        let series = destination.series();
        assert_eq!(series.len(), 3);
        assert!(series.iter().all(|(_, v)| v.requests == 4_000));
    }
}
