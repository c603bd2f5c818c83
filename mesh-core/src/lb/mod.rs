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
//! A group spreads its traffic over priority levels by their health
//! ([`priority`]), then picks within a level, first drawing a locality
//! by weight when the level's endpoints carry locality weights
//! ([`locality`]); see [`EndpointGroup`] for how ejected endpoints and a
//! retry's previous hosts are avoided.

mod group;
mod least_request;
pub mod locality;
pub mod priority;
mod random;
mod ring_hash;
mod round_robin;
mod slot;

use std::fmt;
use std::sync::Arc;

use crate::config::LbPolicy;
use crate::rng::MeshRng;

pub use group::{EndpointGroup, PANIC_THRESHOLD, Pick};
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

    /// Like [`pick`](Self::pick), while some endpoints are out of service
    /// (ejected as outliers): `in_service(i)` says whether index `i` may
    /// take traffic. A picker that shares traffic out by groups moves an
    /// out-of-service endpoint's share to the others here (the locality
    /// picker does); the others just pick, and the group draws again when
    /// a pick lands on an endpoint out of service.
    fn pick_in_service(
        &self,
        hash: Option<u64>,
        rng: &mut dyn MeshRng,
        in_service: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let _ = in_service;
        self.pick(hash, rng)
    }
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
    fn levels_share_traffic_by_health_best_first() {
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
        // Level 0 has nothing usable; level 1 has 2 of 3, so 1.4 × 2/3 =
        // 93.3 % of traffic; level 2 takes the rest.
        assert_eq!(
            authorities(&group),
            ["10.0.0.3:80", "10.0.0.4:80", "10.0.0.1:80"]
        );
        let mut rng = SeededRng::new(2);
        let n = 10_000;
        let level_1 = (0..n)
            .filter(|_| group.pick(None, &mut rng).unwrap().endpoint().priority == 1)
            .count();
        // ±5 standard deviations around 9 333.
        assert!((9_208..=9_458).contains(&level_1), "{level_1}");
    }

    #[test]
    fn a_healthy_first_level_takes_all_traffic() {
        let group = EndpointGroup::new(
            &LbPolicy::RoundRobin,
            [
                slot("10.0.0.1", 1, HealthStatus::Healthy),
                slot("10.0.0.2", 0, HealthStatus::Healthy),
                slot("10.0.0.3", 0, HealthStatus::Unhealthy),
                slot("10.0.0.4", 0, HealthStatus::Healthy),
                slot("10.0.0.5", 0, HealthStatus::Healthy),
            ],
        );
        // 3 of 4 usable: 1.4 × 75 % ≥ 100 %.
        let mut rng = SeededRng::new(4);
        for _ in 0..100 {
            assert_eq!(group.pick(None, &mut rng).unwrap().endpoint().priority, 0);
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
