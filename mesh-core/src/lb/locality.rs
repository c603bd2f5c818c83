//! Locality-weighted picking inside one priority level.
//!
//! EDS can weigh the localities (zones) of a level against each other
//! (`LocalityLbEndpoints.load_balancing_weight`), so that, say, 80 % of a
//! caller's traffic stays in its own zone. Envoy does this with
//! `locality_weighted_lb_config`, gRPC always for EDS (its
//! `weighted_target` policy): first draw a locality, then pick within it
//! with the cluster's policy. The draw is by *effective* weight: the
//! locality's weight times its availability, the share of its endpoints
//! in service times the overprovisioning factor 1.4, capped at 1 (the
//! same rule as for priority levels, [`super::priority`]). A zone losing
//! endpoints keeps its share until more than ~29 % of them are out, then
//! gives the rest to the other localities of the level in proportion to
//! theirs, before the level as a whole spills to the next priority.
//!
//! A locality without a weight in a level whose other localities have one
//! gets no traffic (Envoy's rule; gRPC drops weight-0 localities). When no
//! locality of the level has any effective weight left (all weighted
//! localities are out), the draw falls back to the level's endpoints in
//! service, by count, as Envoy falls back to the level's whole host set
//! (Envoy's fallback also honours endpoint weights; ours weighs localities
//! by how many endpoints they have in service).
//!
//! The table is built once per group; a pick is one draw and a binary
//! search over the localities before the locality's own picker. While
//! outlier ejections are in force, [`Picker::pick_in_service`] recounts
//! each locality's endpoints in service, so ejected endpoints move their
//! locality's share like unhealthy ones do, at the cost of a scan of the
//! level per pick (the level choice already scans during ejections); a
//! pick on an ejected endpoint is drawn again within the same locality,
//! since its share already counts the ejection.
//!
//! When it applies: per level, when the cluster has
//! [`locality_weighted_lb`](crate::config::Cluster::locality_weighted_lb)
//! on (the default; Envoy sources turn it off with
//! `zone_aware_lb_config`) and at least one endpoint of the level carries
//! a locality weight. Any other level keeps the plain picker and pays
//! nothing. Deviation: ring-hash clusters never draw a locality (a random
//! draw would break the hash's affinity); Envoy and gRPC fold locality
//! weights into the ring's host weights, which this engine does not do
//! yet.

use std::num::NonZeroU32;
use std::ops::Range;
use std::sync::Arc;

use super::priority::availability;
use super::{EndpointSlot, Picker, picker_for};
use crate::config::{LbPolicy, Locality};
use crate::rng::MeshRng;

/// How many times a pick that lands on an endpoint out of service is
/// drawn again within its locality before the locality is scanned.
const REDRAWS_IN_LOCALITY: usize = 3;

/// A level's candidates that share a locality and its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LocalityCount {
    /// The locality's weight; 0 when it has none.
    pub weight: u32,
    /// Its endpoints in the level, usable or not (the availability
    /// denominator).
    pub total: u32,
    /// Those of them that are usable (the group keeps only these).
    pub usable: u32,
}

/// Whether `policy` may draw a locality before its own pick. A
/// consistent hash must not: a random locality draw would break the
/// request's affinity to one endpoint.
pub(super) fn weighs_localities(policy: &LbPolicy) -> bool {
    !matches!(policy, LbPolicy::RingHash { .. })
}

/// Whether any candidate carries a locality weight.
pub(super) fn has_weights(level: &[(usize, Arc<EndpointSlot>)]) -> bool {
    level
        .iter()
        .any(|(_, s)| s.endpoint().locality_weight.is_some())
}

/// Orders a level's candidates so that each locality's are contiguous
/// (localities in order of first appearance, configuration order within
/// one), and counts each locality's candidates, usable and in all. Endpoints of one place
/// with two different weights count as two localities, as two
/// `LocalityLbEndpoints` would.
pub(super) fn arrange(level: &mut [(usize, Arc<EndpointSlot>)]) -> Vec<LocalityCount> {
    let mut seen: Vec<(Arc<Locality>, Option<NonZeroU32>, LocalityCount)> = Vec::new();
    let mut keyed = Vec::with_capacity(level.len());
    for candidate in level.iter() {
        let endpoint = candidate.1.endpoint();
        let same = |(place, weight, _): &(Arc<Locality>, Option<NonZeroU32>, LocalityCount)| {
            *weight == endpoint.locality_weight
                && (Arc::ptr_eq(place, &endpoint.locality) || **place == *endpoint.locality)
        };
        let index = match seen.iter().position(same) {
            Some(index) => index,
            None => {
                let count = LocalityCount {
                    weight: endpoint.locality_weight.map_or(0, NonZeroU32::get),
                    total: 0,
                    usable: 0,
                };
                seen.push((endpoint.locality.clone(), endpoint.locality_weight, count));
                seen.len() - 1
            }
        };
        let count = &mut seen[index].2;
        count.total += 1;
        count.usable += u32::from(endpoint.health.is_usable());
        keyed.push((index, candidate.clone()));
    }
    // Stable: configuration order within a locality.
    keyed.sort_by_key(|(index, _)| *index);
    for (slot, (_, candidate)) in level.iter_mut().zip(keyed) {
        *slot = candidate;
    }
    seen.into_iter().map(|(_, _, count)| count).collect()
}

/// One locality of a level with endpoints to pick.
#[derive(Debug)]
struct LocalityShare {
    /// Its usable endpoints, as indices into the level.
    range: Range<usize>,
    count: LocalityCount,
    picker: Box<dyn Picker>,
}

impl LocalityShare {
    /// The locality's effective weight with `in_service` endpoints up:
    /// weight × availability (per million).
    fn effective(&self, in_service: u32) -> u64 {
        u64::from(self.count.weight) * availability(in_service, self.count.total)
    }
}

/// Picks a locality by effective weight, then an endpoint within it.
#[derive(Debug)]
pub(super) struct LocalityWeighted {
    localities: Box<[LocalityShare]>,
    /// Running totals of the localities' shares by EDS health alone.
    cumulative: Box<[u64]>,
}

impl LocalityWeighted {
    /// A picker over a level's usable `endpoints`, in the order and with
    /// the counts [`arrange`] gave.
    pub(super) fn new(
        policy: &LbPolicy,
        endpoints: &[Arc<EndpointSlot>],
        counts: &[LocalityCount],
    ) -> Self {
        let mut localities = Vec::with_capacity(counts.len());
        let mut start = 0;
        for &count in counts {
            let range = start..start + count.usable as usize;
            start = range.end;
            if let Some(slice) = endpoints.get(range.clone()).filter(|s| !s.is_empty()) {
                localities.push(LocalityShare {
                    picker: picker_for(policy, slice),
                    range,
                    count,
                });
            }
        }
        let shares = shares(&localities, |l| l.range.len() as u32);
        Self {
            localities: localities.into_boxed_slice(),
            cumulative: running_totals(shares).into_boxed_slice(),
        }
    }

    /// The locality a draw over `cumulative` lands in.
    fn locality_by(&self, cumulative: &[u64], rng: &mut dyn MeshRng) -> Option<&LocalityShare> {
        let total = *cumulative.last().filter(|t| **t > 0)?;
        let draw = rng.below(total);
        self.localities
            .get(cumulative.partition_point(|&upto| upto <= draw))
    }
}

impl Picker for LocalityWeighted {
    fn pick(&self, hash: Option<u64>, rng: &mut dyn MeshRng) -> Option<usize> {
        let locality = self.locality_by(&self.cumulative, rng)?;
        let i = locality.picker.pick(hash, rng)?;
        Some(locality.range.start + i)
    }

    /// Draws the locality by the shares its endpoints in service leave
    /// it, then keeps to that locality: a pick on an endpoint out of
    /// service is drawn again within it, then the locality is scanned.
    /// (Redrawing the locality too would take the ejected endpoints'
    /// share from the locality twice.)
    fn pick_in_service(
        &self,
        hash: Option<u64>,
        rng: &mut dyn MeshRng,
        in_service: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let up = |l: &LocalityShare| l.range.clone().filter(|&i| in_service(i)).count() as u32;
        let cumulative = running_totals(shares(&self.localities, up));
        let Some(locality) = self.locality_by(&cumulative, rng) else {
            return self.pick(hash, rng);
        };
        let start = locality.range.start;
        let mut last = None;
        for _ in 0..=REDRAWS_IN_LOCALITY {
            let Some(i) = locality.picker.pick(hash, rng) else {
                break;
            };
            if in_service(start + i) {
                return Some(start + i);
            }
            last = Some(start + i);
        }
        locality.range.clone().find(|&i| in_service(i)).or(last)
    }
}

/// Each locality's share given its endpoints `up`: its effective weight,
/// or, when no locality has any, its endpoints up (the fallback).
fn shares(localities: &[LocalityShare], up: impl Fn(&LocalityShare) -> u32) -> Vec<u64> {
    let ups: Vec<u32> = localities.iter().map(&up).collect();
    let effective: Vec<u64> = localities
        .iter()
        .zip(&ups)
        .map(|(l, &n)| l.effective(n))
        .collect();
    if effective.iter().any(|&w| w > 0) {
        effective
    } else {
        ups.into_iter().map(u64::from).collect()
    }
}

fn running_totals(shares: Vec<u64>) -> Vec<u64> {
    shares
        .into_iter()
        .scan(0u64, |sum, share| {
            *sum = sum.saturating_add(share);
            Some(*sum)
        })
        .collect()
}

#[cfg(test)]
mod tests;
