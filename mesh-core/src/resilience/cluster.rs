//! The live resilience state of one cluster: its retry budget, its
//! circuit-breaker counters and its outlier detector.
//!
//! Configuration is immutable and swapped whole; this state is not: it
//! counts requests in flight and failures over time. A snapshot holds one
//! [`ClusterResilience`] per cluster, and its successor keeps each part
//! whose settings did not change ([`ClusterResilience::succeeding`]), so
//! an xDS update does not reset the budget's count of active requests or
//! let an ejected endpoint back early. The outlier detector counts by
//! endpoint index, so it starts afresh when the cluster's endpoint list
//! changes (Envoy keeps the state of hosts that stay; a deviation).
//!
//! The detector's interval has no timer task: whoever records an outcome
//! also runs the interval when it is due (one atomic load when it is not);
//! the first interval starts with the first outcome, so the clock is only
//! ever the caller's.
//! Ejected endpoints return on the first tick after their time, which
//! needs traffic to the cluster; with `max_ejection_percent` capping
//! ejections, the endpoints still in service carry that traffic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::breaker::ClusterLimits;
use super::outlier::{CallResult, EjectionView, Event, OutlierDetector};
use super::retry::{RetryBudgetState, RetryLimit};
use crate::config::{CircuitBreakers, Cluster, Endpoint, OutlierDetection};
use crate::rng::MeshRng;
use crate::telemetry::{ClusterStats, DestinationCache, bump};

/// What one cluster's requests share: budget, limits, outlier detection.
#[derive(Debug)]
pub struct ClusterResilience {
    name: Arc<str>,
    retry_limit: RetryLimit,
    budget: Arc<RetryBudgetState>,
    breakers: CircuitBreakers,
    limits: Arc<ClusterLimits>,
    outlier: Option<Arc<Outlier>>,
    /// Counters kept across configuration updates.
    stats: Arc<ClusterStats>,
    /// Where requests that reached no endpoint are counted.
    telemetry: DestinationCache,
}

/// A detector, the endpoints it counts for, and when it next ticks.
#[derive(Debug)]
struct Outlier {
    detector: OutlierDetector,
    endpoints: Box<[Endpoint]>,
    /// The first outcome's time: intervals count from it.
    epoch: OnceLock<Instant>,
    /// Nanoseconds after `epoch` of the next interval tick.
    next_tick: AtomicU64,
}

impl ClusterResilience {
    /// Fresh state for `cluster`.
    pub fn new(cluster: &Cluster) -> Self {
        let retry_limit = RetryLimit::of(&cluster.circuit_breakers);
        Self {
            name: cluster.name.clone(),
            retry_limit,
            budget: Arc::new(RetryBudgetState::new(retry_limit)),
            breakers: cluster.circuit_breakers,
            limits: ClusterLimits::new(&cluster.circuit_breakers),
            outlier: outlier(cluster),
            stats: Arc::default(),
            telemetry: DestinationCache::new(),
        }
    }

    /// State for `cluster` that keeps what `previous` counted wherever the
    /// settings allow: the budget and limits when their thresholds are
    /// unchanged, the detector when its settings and the endpoint list are.
    pub fn succeeding(cluster: &Cluster, previous: &ClusterResilience) -> Self {
        let retry_limit = RetryLimit::of(&cluster.circuit_breakers);
        let budget = if retry_limit == previous.retry_limit {
            previous.budget.clone()
        } else {
            Arc::new(RetryBudgetState::new(retry_limit))
        };
        let limits = if cluster.circuit_breakers == previous.breakers {
            previous.limits.clone()
        } else {
            ClusterLimits::new(&cluster.circuit_breakers)
        };
        let kept = previous.outlier.as_ref().filter(|o| {
            Some(o.detector.config()) == cluster.outlier_detection.as_ref()
                && *o.endpoints == *cluster.endpoints
        });
        Self {
            name: cluster.name.clone(),
            retry_limit,
            budget,
            breakers: cluster.circuit_breakers,
            limits,
            outlier: kept.cloned().or_else(|| outlier(cluster)),
            stats: previous.stats.clone(),
            telemetry: DestinationCache::new(),
        }
    }

    /// The cluster's name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The retry budget (or fixed `max_retries` cap) of the cluster.
    pub fn budget(&self) -> &Arc<RetryBudgetState> {
        &self.budget
    }

    /// The circuit-breaker counters.
    pub fn limits(&self) -> &Arc<ClusterLimits> {
        &self.limits
    }

    /// The cluster's counters (retries, refusals, faults, ejections).
    pub fn stats(&self) -> &ClusterStats {
        &self.stats
    }

    /// Where requests of the cluster that reached no endpoint are counted.
    pub fn telemetry(&self) -> &DestinationCache {
        &self.telemetry
    }

    /// Which endpoints (by index in the cluster) are ejected, when outlier
    /// detection is on.
    pub fn ejections(&self) -> Option<EjectionView> {
        self.outlier.as_ref().map(|o| o.detector.view())
    }

    /// Whether the cluster detects outliers (callers skip building a
    /// [`CallResult`] when not).
    pub fn detects_outliers(&self) -> bool {
        self.outlier.is_some()
    }

    /// Records how a call to the endpoint at `index` (in the cluster) went,
    /// and runs the detector's interval if it is due. Returns what the
    /// detector did.
    pub fn record(
        &self,
        index: usize,
        result: CallResult,
        now: Instant,
        rng: &mut dyn MeshRng,
    ) -> Vec<Event> {
        let Some(outlier) = &self.outlier else {
            return Vec::new();
        };
        let mut events: Vec<Event> = outlier
            .detector
            .record(index, result, now, rng)
            .into_iter()
            .collect();
        events.extend(outlier.tick(now, rng));
        for event in &events {
            self.log(outlier, event);
        }
        events
    }

    /// Runs the detector's interval if it is due (returns of ejected
    /// endpoints, success-rate and failure-percentage sweeps).
    pub fn tick(&self, now: Instant, rng: &mut dyn MeshRng) -> Vec<Event> {
        let Some(outlier) = &self.outlier else {
            return Vec::new();
        };
        let events = outlier.tick(now, rng);
        for event in &events {
            self.log(outlier, event);
        }
        events
    }

    fn log(&self, outlier: &Outlier, event: &Event) {
        let endpoint = outlier
            .endpoints
            .get(event.endpoint())
            .map(|e| e.authority())
            .unwrap_or("?");
        match event {
            Event::Ejected { kind, .. } => {
                bump(&self.stats.ejections);
                tracing::info!(
                    cluster = %self.name, endpoint, kind = kind.as_str(), "outlier ejected"
                )
            }
            Event::Returned { .. } => {
                tracing::info!(cluster = %self.name, endpoint, "outlier returned to service")
            }
            Event::NotEjected { kind, reason, .. } => tracing::debug!(
                cluster = %self.name, endpoint, kind = kind.as_str(), ?reason,
                "outlier detected, not ejected"
            ),
        }
    }
}

fn outlier(cluster: &Cluster) -> Option<Arc<Outlier>> {
    let config: OutlierDetection = cluster.outlier_detection?;
    let interval = nanos(config.interval);
    Some(Arc::new(Outlier {
        detector: OutlierDetector::new(config, cluster.endpoints.len()),
        endpoints: cluster.endpoints.clone().into_boxed_slice(),
        epoch: OnceLock::new(),
        next_tick: AtomicU64::new(interval),
    }))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Outlier {
    /// Runs the interval if due; of concurrent callers, one runs it.
    fn tick(&self, now: Instant, rng: &mut dyn MeshRng) -> Vec<Event> {
        let epoch = *self.epoch.get_or_init(|| now);
        let elapsed = nanos(now.saturating_duration_since(epoch));
        let due = self.next_tick.load(Ordering::Acquire);
        if elapsed < due {
            return Vec::new();
        }
        // The next tick is one interval after this one ran, as with a
        // timer re-armed at each expiry.
        let next = elapsed.saturating_add(nanos(self.detector.interval()).max(1));
        if self
            .next_tick
            .compare_exchange(due, next, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Vec::new();
        }
        self.detector.on_interval(now, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    fn cluster(hosts: &[&str]) -> Cluster {
        let endpoints = hosts
            .iter()
            .map(|h| Endpoint::new(h, 80).unwrap())
            .collect();
        let mut c = Cluster::new("orders", endpoints);
        c.outlier_detection = Some(OutlierDetection {
            consecutive_5xx: Some(3),
            max_ejection_percent: 50,
            ..OutlierDetection::default()
        });
        c
    }

    #[test]
    fn consecutive_failures_eject_and_the_interval_returns_the_endpoint() {
        let c = cluster(&["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        let t0 = Instant::now();
        let state = ClusterResilience::new(&c);
        let view = state.ejections().unwrap();
        let mut rng = SeededRng::new(7);
        for _ in 0..2 {
            assert!(
                state
                    .record(1, CallResult::Status(503), t0, &mut rng)
                    .is_empty()
            );
        }
        let events = state.record(1, CallResult::Status(503), t0, &mut rng);
        assert!(matches!(events[..], [Event::Ejected { endpoint: 1, .. }]));
        assert!(view.is_ejected(1));
        // Base ejection time 30 s, interval 10 s: back at the first tick at
        // or after 30 s.
        let interval = c.outlier_detection.unwrap().interval;
        let mut now = t0;
        while view.is_ejected(1) {
            now += interval;
            assert!(now < t0 + Duration::from_secs(60), "never returned");
            state.tick(now, &mut rng);
        }
        assert!(now >= t0 + Duration::from_secs(30));
    }

    #[test]
    fn a_tick_runs_once_per_interval() {
        let c = cluster(&["10.0.0.1", "10.0.0.2"]);
        let t0 = Instant::now();
        let state = ClusterResilience::new(&c);
        let outlier = state.outlier.as_ref().unwrap();
        let mut rng = SeededRng::new(1);
        let interval = c.outlier_detection.unwrap().interval;
        assert!(
            state.tick(t0, &mut rng).is_empty(),
            "the first call starts the clock"
        );
        assert_eq!(outlier.next_tick.load(Ordering::Relaxed), nanos(interval));
        state.tick(t0 + interval, &mut rng);
        let next = outlier.next_tick.load(Ordering::Relaxed);
        assert_eq!(next, 2 * nanos(interval));
        state.tick(t0 + interval, &mut rng);
        assert_eq!(outlier.next_tick.load(Ordering::Relaxed), next);
    }

    #[test]
    fn a_successor_keeps_what_did_not_change() {
        let c = cluster(&["10.0.0.1", "10.0.0.2"]);
        let first = ClusterResilience::new(&c);
        let same = ClusterResilience::succeeding(&c.clone(), &first);
        assert!(Arc::ptr_eq(first.budget(), same.budget()));
        assert!(Arc::ptr_eq(first.limits(), same.limits()));
        assert!(Arc::ptr_eq(
            first.outlier.as_ref().unwrap(),
            same.outlier.as_ref().unwrap()
        ));

        let mut moved = cluster(&["10.0.0.1", "10.0.0.9"]);
        moved.circuit_breakers.max_requests = 5;
        let next = ClusterResilience::succeeding(&moved, &first);
        assert!(Arc::ptr_eq(first.budget(), next.budget()));
        assert!(!Arc::ptr_eq(first.limits(), next.limits()));
        assert!(!Arc::ptr_eq(
            first.outlier.as_ref().unwrap(),
            next.outlier.as_ref().unwrap()
        ));

        let mut capped = c.clone();
        capped.circuit_breakers.retry_budget = None;
        capped.outlier_detection = None;
        let next = ClusterResilience::succeeding(&capped, &first);
        assert!(!Arc::ptr_eq(first.budget(), next.budget()));
        assert!(!next.detects_outliers());
    }
}
