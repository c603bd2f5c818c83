//! The series of one destination: a counter and three histograms per
//! distinct response (code, gRPC status, flags, protocol).
//!
//! A destination's series are few (mostly one: `200`, no flags) and
//! appended, never removed, so the first ones sit in a small array of
//! write-once cells, filled in order (finding one costs a plain load per
//! cell), and any beyond in a list swapped whole on the rare append.
//! Recording finds its series by comparing a small key and adds with
//! relaxed atomics: one per histogram bucket, one per sum that is not
//! zero. The request count is the duration histogram's count.

use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;
use http::{HeaderMap, HeaderName};

use super::flags::ResponseFlags;
use super::histogram::{BYTES_BOUNDS, DURATION_BOUNDS_US, Histogram, HistogramValues};
use super::labels::DestinationLabels;
use super::registry::Exchange;

/// `grpc-status` of a header map (a trailers-only response's headers, or
/// trailers), as Istio's `grpc_response_status` counts it.
pub fn grpc_status(headers: &HeaderMap) -> Option<u8> {
    headers
        .get(GRPC_STATUS)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Parsed once: a lookup by `&str` parses the name on every call.
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

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

/// Which histogram of a series.
pub(crate) type HistogramOf = fn(&SeriesValues) -> &HistogramValues;

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
            duration_us: Histogram::new(&DURATION_BOUNDS_US),
            request_bytes: Histogram::new(&BYTES_BOUNDS),
            response_bytes: Histogram::new(&BYTES_BOUNDS),
        }
    }

    #[inline]
    fn observe(&self, duration_us: u64, request_bytes: u64, response_bytes: u64) {
        self.duration_us.observe(duration_us);
        self.request_bytes.observe(request_bytes);
        self.response_bytes.observe(response_bytes);
    }

    pub(crate) fn read(&self) -> SeriesValues {
        let duration_us = self.duration_us.read();
        SeriesValues {
            requests: duration_us.count,
            duration_us,
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
    first: [OnceLock<Series>; FIRST],
    more: ArcSwap<Vec<Arc<Series>>>,
    appending: Mutex<()>,
}

/// Series in write-once cells; more are rare (each distinct status, gRPC
/// status and flags of a destination is one).
const FIRST: usize = 8;

impl Destination {
    pub(crate) fn new(labels: DestinationLabels, owner: u64) -> Self {
        Self {
            labels,
            owner,
            first: Default::default(),
            more: ArcSwap::default(),
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
        for cell in &self.first {
            // Cells fill in order: the first empty one is where `key` goes
            // (unless a racing caller puts another key there first).
            let series = match cell.get() {
                Some(series) => series,
                None => cell.get_or_init(|| Series::new(key)),
            };
            if series.key == key {
                series.observe(duration_us, request_bytes, response_bytes);
                return;
            }
        }
        let more = self.more.load();
        if let Some(series) = more.iter().find(|s| s.key == key) {
            series.observe(duration_us, request_bytes, response_bytes);
            return;
        }
        drop(more);
        self.append(key)
            .observe(duration_us, request_bytes, response_bytes);
    }

    /// The series of `key` beyond the first cells, added if no racing
    /// caller added it first.
    #[cold]
    fn append(&self, key: ResponseKey) -> Arc<Series> {
        let _appending = self.appending.lock().unwrap_or_else(|p| p.into_inner());
        let list = self.more.load_full();
        if let Some(series) = list.iter().find(|s| s.key == key) {
            return series.clone();
        }
        let series = Arc::new(Series::new(key));
        let mut grown = Vec::with_capacity(list.len() + 1);
        grown.extend(list.iter().cloned());
        grown.push(series.clone());
        self.more.store(Arc::new(grown));
        series
    }

    /// The series, read once.
    pub(crate) fn series(&self) -> Vec<(ResponseKey, SeriesValues)> {
        let first = self.first.iter().map_while(OnceLock::get);
        let more = self.more.load();
        first
            .chain(more.iter().map(|s| &**s))
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
    fn series_beyond_the_first_cells_count_as_well() {
        let destination = Destination::new(DestinationLabels::unknown(), 1);
        for code in 200..220 {
            destination.observe(key(code), 1, 0, 0);
            destination.observe(key(code), 1, 0, 0);
        }
        let series = destination.series();
        assert_eq!(series.len(), 20);
        assert!(series.iter().all(|(_, v)| v.requests == 2));
        assert_eq!(series[19].0.code, 219);
    }

    #[test]
    fn threads_racing_to_add_a_series_count_into_one() {
        let destination = Arc::new(Destination::new(DestinationLabels::unknown(), 1));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let d = destination.clone();
                std::thread::spawn(move || {
                    for code in [200, 404, 503, 201, 202, 203, 204, 205, 206, 207, 208] {
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
        assert_eq!(series.len(), 11);
        assert!(series.iter().all(|(_, v)| v.requests == 4_000));
    }
}
