//! A backend's endpoints, by priority level, and how to pick one.
//!
//! A group keeps the usable endpoints (healthy, unknown or degraded) of a
//! cluster or subset, level by level, each level with its own picker. A
//! pick first draws a level by the levels' loads ([`super::priority`]),
//! then picks within it. A level whose endpoints carry locality weights
//! (and whose cluster has locality weighting on) gets a locality-weighted
//! picker ([`super::locality`]) over its endpoints grouped by locality;
//! any other level keeps the one picker of the cluster's policy over the
//! level, so it pays nothing for localities.
//!
//! Outlier ejection and retries narrow the choice without rebuilding
//! pickers: a pick that lands on an ejected endpoint, or on one a retry
//! must avoid, is drawn again a few times, then the level (and the other
//! levels) are scanned for an endpoint that qualifies. Envoy rebuilds its
//! host sets on each ejection instead; with ejections capped at
//! `max_ejection_percent` a redraw is cheaper and keeps the weights. While
//! ejections are in force they also count against their level's health,
//! so traffic spills to the next level as a level's endpoints are
//! ejected. When the levels together fall short and a level has fewer
//! than [`PANIC_THRESHOLD`] of its endpoints in service, ejections are
//! ignored in it, as in Envoy's panic mode. Counting ejections costs a
//! scan of the group's flags while any endpoint of the cluster is ejected
//! (none for a group that is the whole cluster at one level).

use std::ops::Range;
use std::sync::Arc;

use super::locality::{self, LocalityWeighted};
use super::priority::{availability, level_for, priority_loads};
use super::{EndpointSlot, Picker, picker_for};
use crate::config::LbPolicy;
use crate::resilience::outlier::EjectionView;
use crate::rng::MeshRng;

/// Envoy's default healthy panic threshold: below this share of endpoints
/// in service, outlier ejections are ignored.
pub const PANIC_THRESHOLD: f64 = 0.5;

/// How many times a pick is drawn again before scanning.
const REDRAWS: usize = 3;

/// The endpoints a backend may use right now, and how to pick among them.
#[derive(Debug)]
pub struct EndpointGroup {
    /// Usable endpoints, best level first, in configuration order within
    /// a level.
    endpoints: Vec<Arc<EndpointSlot>>,
    /// Each endpoint's index in its cluster.
    in_cluster: Box<[u32]>,
    levels: Vec<Level>,
    /// Each level's load from EDS health alone, per million.
    loads: Box<[u32]>,
    ejections: Option<EjectionView>,
}

/// One priority level with usable endpoints.
#[derive(Debug)]
struct Level {
    range: Range<usize>,
    /// Endpoints at this priority, usable or not (the health denominator).
    total: u32,
    picker: Box<dyn Picker>,
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
    /// A group over `candidates`, indexed in the order given.
    pub fn new(policy: &LbPolicy, candidates: impl IntoIterator<Item = Arc<EndpointSlot>>) -> Self {
        Self::with_ejections(policy, candidates.into_iter().enumerate(), None)
    }

    /// A group over `(index in cluster, slot)` candidates, skipping the
    /// endpoints `ejections` marks (by index in cluster). Locality weights
    /// count (see [`Self::for_cluster`]).
    pub fn with_ejections(
        policy: &LbPolicy,
        candidates: impl IntoIterator<Item = (usize, Arc<EndpointSlot>)>,
        ejections: Option<EjectionView>,
    ) -> Self {
        Self::for_cluster(policy, true, candidates, ejections)
    }

    /// A group over `(index in cluster, slot)` candidates, skipping the
    /// endpoints `ejections` marks (by index in cluster). With
    /// `locality_weighted` (the cluster's
    /// [`locality_weighted_lb`](crate::config::Cluster::locality_weighted_lb)),
    /// a level whose endpoints carry locality weights draws a locality
    /// first; ring-hash clusters never do (a random draw would break the
    /// hash's affinity: Envoy folds locality weights into the ring
    /// instead, which this engine does not do yet).
    pub fn for_cluster(
        policy: &LbPolicy,
        locality_weighted: bool,
        candidates: impl IntoIterator<Item = (usize, Arc<EndpointSlot>)>,
        ejections: Option<EjectionView>,
    ) -> Self {
        let mut all: Vec<(usize, Arc<EndpointSlot>)> = candidates.into_iter().collect();
        // Stable: configuration order within a level.
        all.sort_by_key(|(_, s)| s.endpoint().priority);
        let weighs = locality_weighted && locality::weighs_localities(policy);
        let mut endpoints = Vec::new();
        let mut in_cluster = Vec::new();
        let mut levels = Vec::new();
        for level in
            all.chunk_by_mut(|(_, a), (_, b)| a.endpoint().priority == b.endpoint().priority)
        {
            let start = endpoints.len();
            let counts = (weighs && locality::has_weights(level)).then(|| locality::arrange(level));
            for (i, slot) in level
                .iter()
                .filter(|(_, s)| s.endpoint().health.is_usable())
            {
                endpoints.push(slot.clone());
                in_cluster.push(*i as u32);
            }
            if endpoints.len() > start {
                let range = start..endpoints.len();
                let members = &endpoints[range.clone()];
                let picker: Box<dyn Picker> = match &counts {
                    Some(counts) => Box::new(LocalityWeighted::new(policy, members, counts)),
                    None => picker_for(policy, members),
                };
                levels.push(Level {
                    picker,
                    range,
                    total: level.len() as u32,
                });
            }
        }
        let loads = priority_loads(
            &levels
                .iter()
                .map(|l| (l.range.len() as u32, l.total))
                .collect::<Vec<_>>(),
        );
        Self {
            endpoints,
            in_cluster: in_cluster.into_boxed_slice(),
            levels,
            loads: loads.into_boxed_slice(),
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
        let view = self.ejections.as_ref().filter(|v| v.ejected_count() > 0);
        let (index, ejections) = match view {
            None => (self.choose_level(&self.loads, rng)?, None),
            Some(view) => self.choose_level_ejecting(view, rng)?,
        };
        let level = &self.levels[index];
        let start = level.range.start;
        let draw = |rng: &mut dyn MeshRng| match ejections {
            None => level.picker.pick(hash, rng),
            Some(view) => level
                .picker
                .pick_in_service(hash, rng, &|i| !self.is_ejected(view, start + i)),
        };
        let first = start + draw(rng)?;
        let in_service = |i: usize| ejections.is_none_or(|v| !self.is_ejected(v, i));
        let qualifies = |i: usize| in_service(i) && !avoid(&self.endpoints[i]);
        if qualifies(first) {
            return Some(self.pick_at(first));
        }
        let redrawn = (0..REDRAWS)
            .filter_map(|_| draw(rng))
            .map(|i| start + i)
            .find(|&i| qualifies(i));
        // Then everything, from the first pick on (its level first).
        let n = self.endpoints.len();
        let scan = || (1..=n).map(move |k| (first + k) % n);
        let chosen = redrawn
            .or_else(|| scan().find(|&i| qualifies(i)))
            .or_else(|| scan().find(|&i| in_service(i)))
            .unwrap_or(first);
        Some(self.pick_at(chosen))
    }

    /// The level a draw under `loads` falls in.
    fn choose_level(&self, loads: &[u32], rng: &mut dyn MeshRng) -> Option<usize> {
        match self.levels.len() {
            0 => None,
            1 => Some(0),
            _ => Some(level_for(loads, rng.below(1_000_000))),
        }
    }

    /// While some endpoints are ejected: the level by loads that count
    /// them out, and whether ejections hold in it. They do unless the
    /// levels together are short of full availability and the level
    /// itself has less than [`PANIC_THRESHOLD`] in service (Envoy's
    /// per-priority panic).
    fn choose_level_ejecting<'v>(
        &self,
        view: &'v EjectionView,
        rng: &mut dyn MeshRng,
    ) -> Option<(usize, Option<&'v EjectionView>)> {
        let whole_cluster = self.levels.len() == 1 && self.endpoints.len() == view.len();
        let health: Vec<(u32, u32)> = self
            .levels
            .iter()
            .map(|l| {
                let out = if whole_cluster {
                    view.ejected_count()
                } else {
                    l.range
                        .clone()
                        .filter(|&i| self.is_ejected(view, i))
                        .count()
                };
                (l.range.len().saturating_sub(out) as u32, l.total)
            })
            .collect();
        let index = self.choose_level(&priority_loads(&health), rng)?;
        let available = health
            .iter()
            .map(|&(up, total)| availability(up, total))
            .sum::<u64>();
        let (up, total) = health[index];
        let panic = available < 1_000_000 && f64::from(up) < PANIC_THRESHOLD * f64::from(total);
        Some((index, (!panic).then_some(view)))
    }

    fn is_ejected(&self, view: &EjectionView, i: usize) -> bool {
        view.is_ejected(self.in_cluster[i] as usize)
    }

    fn pick_at(&self, i: usize) -> Pick<'_> {
        Pick {
            slot: &self.endpoints[i],
            in_cluster: self.in_cluster[i] as usize,
        }
    }

    /// The usable endpoints, best level first.
    pub fn endpoints(&self) -> &[Arc<EndpointSlot>] {
        &self.endpoints
    }

    /// Whether there is nothing to pick.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }
}
