//! Envoy's cluster circuit breakers: concurrency limits with fail-fast
//! overflow.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::config::CircuitBreakers;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Open connections to the cluster.
    Connections,
    /// Requests waiting for a connection.
    PendingRequests,
    /// Requests in flight.
    Requests,
    /// Retries in flight.
    Retries,
}

impl Resource {
    /// Every resource, in a stable order.
    pub const ALL: [Resource; 4] = [
        Self::Connections,
        Self::PendingRequests,
        Self::Requests,
        Self::Retries,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// Envoy's name of the threshold.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connections => "max_connections",
            Self::PendingRequests => "max_pending_requests",
            Self::Requests => "max_requests",
            Self::Retries => "max_retries",
        }
    }
}

/// A limit was reached: the request fails fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker open: {} of {limit} reached", resource.as_str())]
pub struct Overflow {
    /// Which limit.
    pub resource: Resource,
    /// Its value.
    pub limit: u32,
}

/// The limits of one cluster and what is in use now. Shared by every
/// request to the cluster (and kept across configuration updates that do
/// not change the thresholds, by the snapshot).
#[derive(Debug)]
pub struct ClusterLimits {
    limits: [u32; 4],
    in_use: [AtomicU32; 4],
    overflows: [AtomicU64; 4],
}

impl ClusterLimits {
    /// Limits with `thresholds`.
    pub fn new(thresholds: &CircuitBreakers) -> Arc<Self> {
        Arc::new(Self {
            limits: [
                thresholds.max_connections,
                thresholds.max_pending_requests,
                thresholds.max_requests,
                thresholds.max_retries,
            ],
            in_use: Default::default(),
            overflows: Default::default(),
        })
    }

    /// Takes one unit of `resource`, or fails if its limit is reached
    /// (a compare-and-swap, so the count never passes the limit, even
    /// for a moment).
    pub fn try_acquire(self: &Arc<Self>, resource: Resource) -> Result<LimitPermit, Overflow> {
        let i = resource.index();
        let limit = self.limits[i];
        let taken = self.in_use[i].fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then(|| n + 1)
        });
        if taken.is_err() {
            self.overflows[i].fetch_add(1, Ordering::Relaxed);
            return Err(Overflow { resource, limit });
        }
        Ok(LimitPermit {
            limits: self.clone(),
            resource,
        })
    }

    /// Units of `resource` in use now.
    pub fn in_use(&self, resource: Resource) -> u32 {
        self.in_use[resource.index()].load(Ordering::Acquire)
    }

    /// How many times `resource` overflowed (Envoy's `upstream_rq_pending_overflow`
    /// and friends).
    pub fn overflows(&self, resource: Resource) -> u64 {
        self.overflows[resource.index()].load(Ordering::Relaxed)
    }

    /// The limit of `resource`.
    pub fn limit(&self, resource: Resource) -> u32 {
        self.limits[resource.index()]
    }

    /// Whether a limit is reached now (Envoy's `cx_open`/`rq_open` gauges).
    pub fn is_open(&self, resource: Resource) -> bool {
        self.in_use(resource) >= self.limit(resource)
    }
}

impl fmt::Display for ClusterLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in Resource::ALL {
            write!(f, "{}={}/{} ", r.as_str(), self.in_use(r), self.limit(r))?;
        }
        Ok(())
    }
}

/// One unit of a limited resource, given back on drop.
#[derive(Debug)]
pub struct LimitPermit {
    limits: Arc<ClusterLimits>,
    resource: Resource,
}

impl Drop for LimitPermit {
    fn drop(&mut self) {
        self.limits.in_use[self.resource.index()].fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_requests: u32) -> Arc<ClusterLimits> {
        ClusterLimits::new(&CircuitBreakers {
            max_requests,
            ..CircuitBreakers::default()
        })
    }

    #[test]
    fn requests_past_the_limit_fail_fast_and_are_counted() {
        let l = limits(2);
        let a = l.try_acquire(Resource::Requests).unwrap();
        let _b = l.try_acquire(Resource::Requests).unwrap();
        let err = l.try_acquire(Resource::Requests).unwrap_err();
        assert_eq!(
            err,
            Overflow {
                resource: Resource::Requests,
                limit: 2
            }
        );
        assert_eq!(
            err.to_string(),
            "circuit breaker open: max_requests of 2 reached"
        );
        assert_eq!(l.overflows(Resource::Requests), 1);
        assert!(l.is_open(Resource::Requests));
        drop(a);
        assert_eq!(l.in_use(Resource::Requests), 1);
        assert!(l.try_acquire(Resource::Requests).is_ok());
    }

    #[test]
    fn resources_are_counted_apart() {
        let l = limits(1);
        let _r = l.try_acquire(Resource::Requests).unwrap();
        assert!(l.try_acquire(Resource::Retries).is_ok());
        assert!(l.try_acquire(Resource::PendingRequests).is_ok());
    }

    #[test]
    fn a_zero_limit_refuses_everything() {
        let l = limits(0);
        assert!(l.try_acquire(Resource::Requests).is_err());
        assert_eq!(l.in_use(Resource::Requests), 0);
    }

    #[test]
    fn concurrent_permits_never_exceed_the_limit() {
        let l = limits(8);
        let peak = Arc::new(AtomicU32::new(0));
        std::thread::scope(|s| {
            for _ in 0..4 {
                let (l, peak) = (l.clone(), peak.clone());
                s.spawn(move || {
                    for _ in 0..10_000 {
                        if let Ok(p) = l.try_acquire(Resource::Requests) {
                            peak.fetch_max(l.in_use(Resource::Requests), Ordering::Relaxed);
                            drop(p);
                        }
                    }
                });
            }
        });
        assert!(peak.load(Ordering::Relaxed) <= 8);
        assert_eq!(l.in_use(Resource::Requests), 0);
    }
}
