//! Load balancing: pick one endpoint of a group, without I/O.
//!
//! An [`EndpointGroup`] is what a route's backend resolves to: the usable
//! endpoints of a cluster (or of one subset of it) at the best priority
//! that has any, and a [`Picker`] built for the cluster's [`LbPolicy`].
//! Pickers are immutable after construction except for atomics (a
//! round-robin sequence, the per-endpoint active-request counters), so the
//! request path never takes a lock. Randomness is injected
//! ([`MeshRng`]) so every policy is testable with a fixed seed.
//!
//! Outlier ejection and retries narrow the choice without rebuilding the
//! picker: a pick that lands on an ejected endpoint, or on one a retry
//! must avoid, is drawn again a few times, then the group is scanned for
//! the next endpoint that qualifies ([`EndpointGroup::pick_avoiding`]).
//! Envoy rebuilds its host sets on each ejection instead; with ejections
//! capped at `max_ejection_percent` a redraw is cheaper and picks among
//! the endpoints in service with the same weights. While fewer than
//! [`PANIC_THRESHOLD`] of a cluster's endpoints are in service, ejections
//! are ignored, as Envoy's panic mode does.

mod least_request;
mod random;
mod ring_hash;
mod round_robin;
mod slot;

use std::fmt;
use std::sync::Arc;

use crate::config::LbPolicy;
use crate::resilience::outlier::EjectionView;
use crate::rng::MeshRng;

pub use least_request::LeastRequest;
pub use random::WeightedRandom;
pub use ring_hash::RingHash;
pub use round_robin::WeightedRoundRobin;
pub use slot::{ActiveRequest, EndpointSlot};

/// Chooses an endpoint index among a fixed list.
pub trait Picker: Send + Sync + fmt::Debug {
    /// The index of the chosen endpoint in the list the picker was built
    /// for, or `None` when the list is empty. `hash` is the request's hash
    /// (ring hash uses it; without one it picks at random).
    fn pick(&self, hash: Option<u64>, rng: &mut dyn MeshRng) -> Option<usize>;
}

/// Builds the picker of `policy` over `endpoints`.
pub fn picker_for(policy: &LbPolicy, endpoints: &[Arc<EndpointSlot>]) -> Box<dyn Picker> {
    match *policy {
        LbPolicy::RoundRobin => Box::new(WeightedRoundRobin::new(endpoints)),
        LbPolicy::Random => Box::new(WeightedRandom::new(endpoints)),
        LbPolicy::LeastRequest { choice_count } => {
            Box::new(LeastRequest::new(endpoints, choice_count))
        }
        LbPolicy::RingHash {
            min_ring_size,
            max_ring_size,
        } => Box::new(RingHash::new(endpoints, min_ring_size, max_ring_size)),
    }
}

/// Envoy's default healthy panic threshold: below this share of endpoints
/// in service, outlier ejections are ignored.
pub const PANIC_THRESHOLD: f64 = 0.5;

/// How many times a pick is drawn again before scanning.
const REDRAWS: usize = 3;

/// The endpoints a backend may use right now, and how to pick among them.
#[derive(Debug)]
pub struct EndpointGroup {
    endpoints: Vec<Arc<EndpointSlot>>,
    picker: Box<dyn Picker>,
    /// Each endpoint's index in its cluster, when ejections apply.
    in_cluster: Box<[u32]>,
    ejections: Option<EjectionView>,
}

/// An endpoint picked from a group.
#[derive(Debug, Clone, Copy)]
pub struct Pick<'g> {
    /// The endpoint.
    pub slot: &'g Arc<EndpointSlot>,
    /// Its index in its cluster's endpoint list (outlier detection counts
    /// by it).
    pub in_cluster: usize,
}

impl EndpointGroup {
    /// Keeps the usable candidates (healthy, unknown or degraded) of the
    /// lowest priority level that has any, and builds their picker.
    pub fn new(policy: &LbPolicy, candidates: impl IntoIterator<Item = Arc<EndpointSlot>>) -> Self {
        Self::with_ejections(policy, candidates.into_iter().enumerate(), None)
    }

    /// [`Self::new`] over `(index in cluster, slot)` candidates, skipping
    /// the endpoints `ejections` marks (by index in cluster).
    pub fn with_ejections(
        policy: &LbPolicy,
        candidates: impl IntoIterator<Item = (usize, Arc<EndpointSlot>)>,
        ejections: Option<EjectionView>,
    ) -> Self {
        let mut usable: Vec<(usize, Arc<EndpointSlot>)> = candidates
            .into_iter()
            .filter(|(_, s)| s.endpoint().health.is_usable())
            .collect();
        if let Some(best) = usable.iter().map(|(_, s)| s.endpoint().priority).min() {
            usable.retain(|(_, s)| s.endpoint().priority == best);
        }
        let in_cluster = usable.iter().map(|&(i, _)| i as u32).collect();
        let endpoints: Vec<Arc<EndpointSlot>> = usable.into_iter().map(|(_, s)| s).collect();
        let picker = picker_for(policy, &endpoints);
        Self {
            endpoints,
            picker,
            in_cluster,
            ejections,
        }
    }

    /// Picks an endpoint in service, or `None` when the group is empty.
    pub fn pick(&self, hash: Option<u64>, rng: &mut dyn MeshRng) -> Option<&Arc<EndpointSlot>> {
        self.pick_avoiding(hash, rng, &|_| false)
            .map(|pick| pick.slot)
    }

    /// Picks an endpoint in service for which `avoid` is false (a retry
    /// avoids the hosts it already tried). Falls back to an endpoint
    /// `avoid` refuses rather than to none, and ignores ejections in
    /// panic mode; `None` only when the group is empty.
    pub fn pick_avoiding(
        &self,
        hash: Option<u64>,
        rng: &mut dyn MeshRng,
        avoid: &dyn Fn(&Arc<EndpointSlot>) -> bool,
    ) -> Option<Pick<'_>> {
        let first = self.picker.pick(hash, rng)?;
        let ejections = self
            .ejections
            .as_ref()
            .filter(|v| v.ejected_count() > 0 && v.healthy_fraction() >= PANIC_THRESHOLD);
        let in_service =
            |i: usize| ejections.is_none_or(|v| !v.is_ejected(self.in_cluster[i] as usize));
        let qualifies = |i: usize| in_service(i) && !avoid(&self.endpoints[i]);
        let chosen = if qualifies(first) {
            first
        } else {
            let n = self.endpoints.len();
            let redrawn = (0..REDRAWS)
                .filter_map(|_| self.picker.pick(hash, rng))
                .find(|&i| qualifies(i));
            let after = |i: usize| (1..n).map(move |k| (i + k) % n);
            redrawn
                .or_else(|| after(first).find(|&i| qualifies(i)))
                .or_else(|| (0..n).map(|k| (first + k) % n).find(|&i| in_service(i)))
                .unwrap_or(first)
        };
        Some(self.pick_at(chosen))
    }

    fn pick_at(&self, i: usize) -> Pick<'_> {
        Pick {
            slot: &self.endpoints[i],
            in_cluster: self.in_cluster.get(i).map_or(i, |&c| c as usize),
        }
    }

    /// The endpoints the picker chooses among.
    pub fn endpoints(&self) -> &[Arc<EndpointSlot>] {
        &self.endpoints
    }

    /// Whether there is nothing to pick.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }
}

/// Slots at distinct addresses with the given weights, for tests.
#[cfg(test)]
pub(crate) fn test_slots(weights: &[u32]) -> Vec<Arc<EndpointSlot>> {
    weights
        .iter()
        .zip(0u32..)
        .map(|(&weight, i)| {
            let host = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            let endpoint = crate::config::Endpoint::new(&host, 80)
                .and_then(|e| e.with_weight(weight))
                .expect("a valid test endpoint");
            EndpointSlot::new(endpoint)
        })
        .collect()
}

/// A generator that returns scripted values from `below`, in order, for
/// tests that pin each draw.
#[cfg(test)]
pub(crate) struct ScriptedRng(std::collections::VecDeque<u64>);

#[cfg(test)]
impl ScriptedRng {
    pub(crate) fn new(values: &[u64]) -> Self {
        Self(values.iter().copied().collect())
    }
}

#[cfg(test)]
impl MeshRng for ScriptedRng {
    fn next_u64(&mut self) -> u64 {
        unreachable!("the pickers under test only call below")
    }

    fn below(&mut self, bound: u64) -> u64 {
        let value = self.0.pop_front().expect("script too short");
        assert!(value < bound, "{value} is not below {bound}");
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Endpoint, HealthStatus};
    use crate::rng::SeededRng;

    fn slot(host: &str, priority: u32, health: HealthStatus) -> Arc<EndpointSlot> {
        let mut endpoint = Endpoint::new(host, 80).unwrap();
        endpoint.priority = priority;
        endpoint.health = health;
        EndpointSlot::new(endpoint)
    }

    fn authorities(group: &EndpointGroup) -> Vec<&str> {
        group
            .endpoints()
            .iter()
            .map(|s| s.endpoint().authority())
            .collect()
    }

    #[test]
    fn unusable_endpoints_are_skipped() {
        let group = EndpointGroup::new(
            &LbPolicy::RoundRobin,
            [
                slot("10.0.0.1", 0, HealthStatus::Healthy),
                slot("10.0.0.2", 0, HealthStatus::Unhealthy),
                slot("10.0.0.3", 0, HealthStatus::Unknown),
                slot("10.0.0.4", 0, HealthStatus::Draining),
                slot("10.0.0.5", 0, HealthStatus::Timeout),
                slot("10.0.0.6", 0, HealthStatus::Degraded),
            ],
        );
        assert_eq!(
            authorities(&group),
            ["10.0.0.1:80", "10.0.0.3:80", "10.0.0.6:80"]
        );
        let mut rng = SeededRng::new(1);
        for _ in 0..30 {
            let picked = group.pick(None, &mut rng).unwrap();
            assert!(picked.endpoint().health.is_usable());
        }
    }

    #[test]
    fn only_the_best_priority_with_usable_endpoints_is_used() {
        let group = EndpointGroup::new(
            &LbPolicy::Random,
            [
                slot("10.0.0.1", 2, HealthStatus::Healthy),
                slot("10.0.0.2", 0, HealthStatus::Unhealthy),
                slot("10.0.0.3", 1, HealthStatus::Healthy),
                slot("10.0.0.4", 1, HealthStatus::Unknown),
                slot("10.0.0.5", 1, HealthStatus::Draining),
            ],
        );
        assert_eq!(authorities(&group), ["10.0.0.3:80", "10.0.0.4:80"]);
        let mut rng = SeededRng::new(2);
        for _ in 0..30 {
            assert_eq!(group.pick(None, &mut rng).unwrap().endpoint().priority, 1);
        }
    }

    #[test]
    fn an_empty_group_picks_nothing() {
        let mut rng = SeededRng::new(3);
        for policy in [
            LbPolicy::RoundRobin,
            LbPolicy::Random,
            LbPolicy::LEAST_REQUEST,
            LbPolicy::RING_HASH,
        ] {
            let none = EndpointGroup::new(&policy, []);
            assert!(none.is_empty());
            assert!(none.pick(Some(1), &mut rng).is_none());
            let all_down =
                EndpointGroup::new(&policy, [slot("10.0.0.1", 0, HealthStatus::Unhealthy)]);
            assert!(all_down.is_empty());
            assert!(all_down.pick(None, &mut rng).is_none());
        }
    }
}
