//! The detector's rules, each pinned down with explicit instants and a
//! seeded generator, plus a property test over random call sequences.

mod consecutive;
mod ejection;
mod interval;
mod random;

use std::time::{Duration, Instant};

use super::*;
use crate::config::OutlierDetection;
use crate::rng::SeededRng;

const SEC: Duration = Duration::from_secs(1);

/// Every detector off, no cap on ejections, 1 s interval, 10 s base and
/// 25 s max ejection time: each test turns on what it is about.
fn quiet() -> OutlierDetection {
    OutlierDetection {
        consecutive_5xx: None,
        consecutive_gateway_failure: None,
        consecutive_local_origin_failure: None,
        interval: SEC,
        base_ejection_time: 10 * SEC,
        max_ejection_time: 25 * SEC,
        max_ejection_percent: 100,
        success_rate: None,
        failure_percentage: None,
        split_external_local_origin_errors: false,
    }
}

struct Harness {
    detector: OutlierDetector,
    rng: SeededRng,
    start: Instant,
    now: Instant,
}

impl Harness {
    fn new(config: OutlierDetection, endpoints: usize) -> Self {
        Self::with(OutlierDetector::new(config, endpoints))
    }

    fn with(detector: OutlierDetector) -> Self {
        let start = Instant::now();
        Self {
            detector,
            rng: SeededRng::new(42),
            start,
            now: start,
        }
    }

    fn call(&mut self, endpoint: usize, result: CallResult) -> Option<Event> {
        self.detector
            .record(endpoint, result, self.now, &mut self.rng)
    }

    /// `times` calls; the events they produced.
    fn calls(&mut self, endpoint: usize, result: CallResult, times: usize) -> Vec<Event> {
        (0..times)
            .filter_map(|_| self.call(endpoint, result))
            .collect()
    }

    /// Moves the clock to `secs` after the start and runs the interval.
    fn tick_at(&mut self, secs: u64) -> Vec<Event> {
        self.now = self.start + Duration::from_secs(secs);
        self.detector.on_interval(self.now, &mut self.rng)
    }

    fn ejected(&self) -> Vec<usize> {
        (0..self.detector.len())
            .filter(|&i| self.detector.is_ejected(i))
            .collect()
    }
}

fn ejections(events: &[Event]) -> Vec<(usize, EjectionKind)> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::Ejected { endpoint, kind, .. } => Some((endpoint, kind)),
            _ => None,
        })
        .collect()
}

fn until(event: Option<Event>) -> Instant {
    match event {
        Some(Event::Ejected { until, .. }) => until,
        other => panic!("expected an ejection, got {other:?}"),
    }
}

const OK: CallResult = CallResult::Status(200);
const E500: CallResult = CallResult::Status(500);
const E503: CallResult = CallResult::Status(503);
