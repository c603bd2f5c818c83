//! Locality-weighted picking, through [`EndpointGroup`] as the request
//! path uses it, with seeded generators and tolerances of several
//! standard deviations.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{Endpoint, HealthStatus, LbPolicy, Locality, OutlierDetection};
use crate::lb::{EndpointGroup, EndpointSlot, picker_for};
use crate::resilience::outlier::{CallResult, OutlierDetector};
use crate::rng::SeededRng;

const PICKS: usize = 10_000;

/// An endpoint `10.0.0.{n}` in zone `zone` of region `r`, with the
/// locality weight `weight` and endpoint weight `endpoint_weight`.
fn endpoint(n: u8, zone: &str, weight: Option<u32>, health: HealthStatus) -> Arc<EndpointSlot> {
    weighted_endpoint(n, zone, weight, 1, health)
}

fn weighted_endpoint(
    n: u8,
    zone: &str,
    weight: Option<u32>,
    endpoint_weight: u32,
    health: HealthStatus,
) -> Arc<EndpointSlot> {
    let mut e = Endpoint::new(&format!("10.0.0.{n}"), 80)
        .and_then(|e| e.with_weight(endpoint_weight))
        .unwrap();
    e.locality = Arc::new(Locality {
        region: "r".into(),
        zone: zone.into(),
        sub_zone: "".into(),
    });
    e.locality_weight = weight.and_then(NonZeroU32::new);
    e.health = health;
    EndpointSlot::new(e)
}

use HealthStatus::{Healthy, Unhealthy};

fn group(policy: LbPolicy, slots: &[Arc<EndpointSlot>]) -> EndpointGroup {
    EndpointGroup::new(&policy, slots.iter().cloned())
}

/// The share of `PICKS` picks that land in `zone`, in percent.
fn share_of(group: &EndpointGroup, zone: &str, seed: u64) -> f64 {
    let mut rng = SeededRng::new(seed);
    let hits = (0..PICKS)
        .filter(|_| &*group.pick(None, &mut rng).unwrap().endpoint().locality.zone == zone)
        .count();
    hits as f64 * 100.0 / PICKS as f64
}

fn assert_near(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= 3.0,
        "{actual:.2} % is not within 3 points of {expected:.2} %"
    );
}

#[test]
fn locality_weights_split_traffic() {
    let slots = [
        endpoint(1, "a", Some(80), Healthy),
        endpoint(2, "b", Some(20), Healthy),
        endpoint(3, "a", Some(80), Healthy),
        endpoint(4, "b", Some(20), Healthy),
        endpoint(5, "b", Some(20), Healthy),
    ];
    for policy in [
        LbPolicy::RoundRobin,
        LbPolicy::Random,
        LbPolicy::LEAST_REQUEST,
    ] {
        let g = group(policy, &slots);
        assert_near(share_of(&g, "a", 1), 80.0);
    }
}

#[test]
fn an_unhealthy_locality_spills_its_share_to_the_others_in_proportion() {
    // a: 2 of 4 usable, 1.4 × 50 % = 70 % of weight 50 → 35;
    // b and c healthy: 30 and 20. Total 85.
    let slots = [
        endpoint(1, "a", Some(50), Healthy),
        endpoint(2, "a", Some(50), Healthy),
        endpoint(3, "a", Some(50), Unhealthy),
        endpoint(4, "a", Some(50), Unhealthy),
        endpoint(5, "b", Some(30), Healthy),
        endpoint(6, "b", Some(30), Healthy),
        endpoint(7, "c", Some(20), Healthy),
        endpoint(8, "c", Some(20), Healthy),
    ];
    let g = group(LbPolicy::RoundRobin, &slots);
    assert_near(share_of(&g, "a", 2), 35.0 * 100.0 / 85.0);
    assert_near(share_of(&g, "b", 3), 30.0 * 100.0 / 85.0);
    assert_near(share_of(&g, "c", 4), 20.0 * 100.0 / 85.0);
}

#[test]
fn a_locality_keeps_its_share_while_overprovisioning_covers_it() {
    // 3 of 4 usable: 1.4 × 75 % ≥ 100 %.
    let slots = [
        endpoint(1, "a", Some(80), Healthy),
        endpoint(2, "a", Some(80), Healthy),
        endpoint(3, "a", Some(80), Healthy),
        endpoint(4, "a", Some(80), Unhealthy),
        endpoint(5, "b", Some(20), Healthy),
    ];
    assert_near(share_of(&group(LbPolicy::Random, &slots), "a", 5), 80.0);
}

#[test]
fn within_a_locality_the_cluster_policy_holds() {
    // Weighted round robin 3:1 inside zone a, whatever the draws between
    // zones.
    let slots = [
        weighted_endpoint(1, "a", Some(50), 3, Healthy),
        weighted_endpoint(2, "a", Some(50), 1, Healthy),
        weighted_endpoint(3, "b", Some(50), 1, Healthy),
    ];
    let g = group(LbPolicy::RoundRobin, &slots);
    let mut rng = SeededRng::new(6);
    let (mut first, mut second) = (0u32, 0u32);
    for _ in 0..PICKS {
        match g.pick(None, &mut rng).unwrap().endpoint().authority() {
            "10.0.0.1:80" => first += 1,
            "10.0.0.2:80" => second += 1,
            _ => {}
        }
    }
    // Round robin is exact up to one turn per period.
    assert!(first.abs_diff(3 * second) <= 4, "{first} vs {second}");
}

#[test]
fn least_request_still_prefers_the_idle_endpoint_of_the_locality() {
    let busy = endpoint(1, "a", Some(90), Healthy);
    let slots = [
        busy.clone(),
        endpoint(2, "a", Some(90), Healthy),
        endpoint(3, "b", Some(10), Healthy),
    ];
    let _load: Vec<_> = (0..5).map(|_| busy.start_request()).collect();
    let g = group(LbPolicy::LEAST_REQUEST, &slots);
    let mut rng = SeededRng::new(7);
    let to_busy = (0..PICKS)
        .filter(|_| Arc::ptr_eq(g.pick(None, &mut rng).unwrap(), &busy))
        .count();
    // P2C over two endpoints picks the busy one only when both choices
    // are it: about a quarter of zone a's 90 %.
    assert!(to_busy * 100 / PICKS <= 26, "{to_busy}");
}

#[test]
fn without_locality_weights_picks_are_those_of_the_plain_picker() {
    let plain = [
        endpoint(1, "a", None, Healthy),
        endpoint(2, "b", None, Healthy),
        weighted_endpoint(3, "a", None, 4, Healthy),
        endpoint(4, "c", None, Unhealthy),
        endpoint(5, "b", None, Healthy),
    ];
    let weighted = [
        endpoint(1, "a", Some(10), Healthy),
        endpoint(2, "b", Some(90), Healthy),
        weighted_endpoint(3, "a", Some(10), 4, Healthy),
        endpoint(4, "c", Some(5), Unhealthy),
        endpoint(5, "b", Some(90), Healthy),
    ];
    let usable = |slots: &[Arc<EndpointSlot>]| -> Vec<Arc<EndpointSlot>> {
        slots
            .iter()
            .filter(|s| s.endpoint().health.is_usable())
            .cloned()
            .collect()
    };
    let policies = [
        (LbPolicy::RoundRobin, &plain, true),
        (LbPolicy::Random, &plain, true),
        (LbPolicy::LEAST_REQUEST, &plain, true),
        (LbPolicy::RING_HASH, &plain, true),
        // Weights present but weighting off, or a ring hash.
        (LbPolicy::RoundRobin, &weighted, false),
        (LbPolicy::Random, &weighted, false),
        (LbPolicy::RING_HASH, &weighted, true),
    ];
    for (policy, slots, weighting) in policies {
        let g =
            EndpointGroup::for_cluster(&policy, weighting, slots.iter().cloned().enumerate(), None);
        let reference = picker_for(&policy, &usable(slots));
        let reference_slots = usable(slots);
        let (mut a, mut b) = (SeededRng::new(8), SeededRng::new(8));
        for n in 0..200u64 {
            let hash = Some(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let got = g.pick(hash, &mut a).unwrap();
            let want = &reference_slots[reference.pick(hash, &mut b).unwrap()];
            assert!(Arc::ptr_eq(got, want), "{policy:?} pick {n}");
        }
    }
}

#[test]
fn an_unweighted_locality_gets_traffic_only_when_no_weighted_one_can() {
    let mut slots = vec![
        endpoint(1, "a", Some(100), Healthy),
        endpoint(2, "a", Some(100), Healthy),
        endpoint(3, "z", None, Healthy),
        endpoint(4, "z", None, Healthy),
    ];
    assert_near(share_of(&group(LbPolicy::Random, &slots), "z", 9), 0.0);
    slots[0] = endpoint(1, "a", Some(100), Unhealthy);
    slots[1] = endpoint(2, "a", Some(100), Unhealthy);
    assert_near(share_of(&group(LbPolicy::Random, &slots), "z", 10), 100.0);
}

#[test]
fn localities_weigh_within_each_priority_level() {
    let level = |zone: &str, weight: u32, priority: u32, n: u8| {
        let slot = endpoint(n, zone, Some(weight), Healthy);
        let mut e = slot.endpoint().clone();
        e.priority = priority;
        EndpointSlot::new(e)
    };
    // Level 0: one of two endpoints of zone a usable → 70 % of its weight;
    // level 0 as a whole has 2 of 3 usable: 93.3 % of traffic.
    let mut down = endpoint(2, "a", Some(50), Unhealthy).endpoint().clone();
    down.priority = 0;
    let slots = [
        level("a", 50, 0, 1),
        EndpointSlot::new(down),
        level("b", 50, 0, 3),
        level("c", 1, 1, 4),
    ];
    let g = group(LbPolicy::Random, &slots);
    let level_0 = 100.0 * 1.4 * 2.0 / 3.0;
    assert_near(share_of(&g, "c", 11), 100.0 - level_0);
    assert_near(share_of(&g, "a", 12), level_0 * 35.0 / 85.0);
    assert_near(share_of(&g, "b", 13), level_0 * 50.0 / 85.0);
}

/// An outlier detector that ejects on the first 5xx, without cap.
fn eager_detector(endpoints: usize) -> OutlierDetector {
    let config = OutlierDetection {
        consecutive_5xx: Some(1),
        max_ejection_percent: 100,
        ..OutlierDetection::default()
    };
    OutlierDetector::new(config, endpoints)
}

fn eject(detector: &OutlierDetector, endpoints: &[usize]) {
    let mut rng = SeededRng::new(0);
    let now = Instant::now();
    for &i in endpoints {
        detector.record(i, CallResult::Status(503), now, &mut rng);
        assert!(detector.is_ejected(i), "endpoint {i} not ejected");
    }
}

fn zoned_level() -> Vec<Arc<EndpointSlot>> {
    (0..8)
        .map(|n| {
            let (zone, weight) = if n < 4 { ("a", 80) } else { ("b", 20) };
            endpoint(n, zone, Some(weight), Healthy)
        })
        .collect()
}

#[test]
fn ejections_move_a_localitys_share_like_unhealthy_endpoints() {
    let slots = zoned_level();
    let detector = eager_detector(slots.len());
    // Half of zone a out: 1.4 × 50 % of 80 = 56 against b's 20.
    eject(&detector, &[0, 1]);
    let g = EndpointGroup::for_cluster(
        &LbPolicy::RoundRobin,
        true,
        slots.iter().cloned().enumerate(),
        Some(detector.view()),
    );
    let mut rng = SeededRng::new(14);
    let mut in_a = 0;
    for _ in 0..PICKS {
        let pick = g.pick_avoiding(None, &mut rng, &|_| false).unwrap();
        assert!(!detector.is_ejected(pick.in_cluster), "{}", pick.in_cluster);
        in_a += usize::from(&*pick.slot.endpoint().locality.zone == "a");
    }
    assert_near(in_a as f64 * 100.0 / PICKS as f64, 56.0 * 100.0 / 76.0);

    // All of zone a out: b takes everything (the level still has half its
    // endpoints, so no panic).
    eject(&detector, &[2, 3]);
    let mut rng = SeededRng::new(15);
    for _ in 0..1_000 {
        let pick = g.pick_avoiding(None, &mut rng, &|_| false).unwrap();
        assert_eq!(&*pick.slot.endpoint().locality.zone, "b");
    }
}

#[test]
fn a_retry_avoids_its_previous_host_in_a_weighted_level() {
    let slots = zoned_level();
    let g = group(LbPolicy::Random, &slots);
    let tried = slots[0].clone();
    let mut rng = SeededRng::new(16);
    let mut in_a = 0;
    for _ in 0..PICKS {
        let pick = g
            .pick_avoiding(None, &mut rng, &|s| Arc::ptr_eq(s, &tried))
            .unwrap();
        assert!(!Arc::ptr_eq(pick.slot, &tried));
        in_a += usize::from(&*pick.slot.endpoint().locality.zone == "a");
    }
    // A pick on the tried host is drawn again from the top, as Envoy's
    // host-selection retries do: a's healthy 60 % out of the 80 % that
    // qualify.
    assert_near(in_a as f64 * 100.0 / PICKS as f64, 75.0);
}
