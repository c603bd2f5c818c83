//! Least request: the power of `choice_count` random choices.
//!
//! Scanning every endpoint for the least loaded one is O(n) per pick and
//! makes every client herd onto the same momentarily idle endpoint.
//! Comparing a few random candidates instead (Envoy's default is two) is
//! O(choice_count), needs no shared state beyond the endpoints' atomic
//! active-request counters, and still steers load away from busy
//! endpoints.
//!
//! # Equal weights (as Envoy)
//!
//! `choice_count` candidates are drawn uniformly *with replacement* (the
//! same endpoint may be drawn twice), and the one with the fewest active
//! requests wins; on a tie the candidate drawn first wins.
//!
//! # Unequal weights (differs from Envoy's mechanism)
//!
//! Envoy switches to an earliest-deadline-first scheduler whose weights
//! are `weight / (active + 1)^bias`, rebuilt as the load changes, behind a
//! lock. Here the weights act through the draw instead: candidates are
//! drawn by weighted random, so an endpoint is considered in proportion to
//! its weight, and the candidate with the fewest active requests wins
//! (ties: the first drawn). With no load this picks exactly in proportion
//! to the weights (Envoy: the same); under load, busy endpoints lose their
//! comparisons whatever their weight. Comparing `active / weight` as well
//! would count the weight twice (weights 3:1 would split 94/6 when idle).
//! `active_request_bias` is not supported.

use std::sync::Arc;

use super::{EndpointSlot, Picker, WeightedRandom};
use crate::rng::MeshRng;

/// Power-of-choices least request over a fixed list of endpoints.
#[derive(Debug)]
pub struct LeastRequest {
    slots: Box<[Arc<EndpointSlot>]>,
    candidates: WeightedRandom,
    choice_count: u32,
}

impl LeastRequest {
    /// A picker over `endpoints` comparing `choice_count` random candidates
    /// per pick (at least 1; the config requires at least 2).
    pub fn new(endpoints: &[Arc<EndpointSlot>], choice_count: u32) -> Self {
        Self {
            slots: endpoints.into(),
            candidates: WeightedRandom::new(endpoints),
            choice_count: choice_count.max(1),
        }
    }

    /// A candidate drawn by weight (uniformly when weights are equal).
    fn draw_candidate(&self, rng: &mut dyn MeshRng) -> Option<usize> {
        self.candidates.pick(None, rng)
    }

    /// Whether endpoint `a` has fewer requests in flight than `b`.
    fn is_less_loaded(&self, a: usize, b: usize) -> bool {
        self.slots[a].active() < self.slots[b].active()
    }
}

impl Picker for LeastRequest {
    fn pick(&self, _hash: Option<u64>, rng: &mut dyn MeshRng) -> Option<usize> {
        let mut best = self.draw_candidate(rng)?;
        for _ in 1..self.choice_count {
            let candidate = self.draw_candidate(rng)?;
            if self.is_less_loaded(candidate, best) {
                best = candidate;
            }
        }
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::ActiveRequest;
    use crate::lb::ScriptedRng as Scripted;
    use crate::lb::test_slots as slots;
    use crate::rng::SeededRng;

    fn hold(slot: &Arc<EndpointSlot>, requests: usize) -> Vec<ActiveRequest> {
        (0..requests).map(|_| slot.start_request()).collect()
    }

    fn counts(picker: &LeastRequest, len: usize, picks: usize, seed: u64) -> Vec<usize> {
        let mut rng = SeededRng::new(seed);
        let mut counts = vec![0; len];
        for _ in 0..picks {
            counts[picker.pick(None, &mut rng).unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn empty_picks_nothing() {
        let picker = LeastRequest::new(&[], 2);
        assert_eq!(picker.pick(None, &mut SeededRng::new(1)), None);
    }

    #[test]
    fn the_idle_candidate_beats_the_busy_one_in_either_order() {
        let slots = slots(&[1, 1, 1]);
        let _busy = hold(&slots[0], 3);
        let picker = LeastRequest::new(&slots, 2);
        assert_eq!(picker.pick(None, &mut Scripted::new(&[0, 2])), Some(2));
        assert_eq!(picker.pick(None, &mut Scripted::new(&[2, 0])), Some(2));
        // Drawn twice (with replacement), the busy one has no rival.
        assert_eq!(picker.pick(None, &mut Scripted::new(&[0, 0])), Some(0));
    }

    #[test]
    fn ties_keep_the_first_candidate() {
        let slots = slots(&[1, 1, 1]);
        let _a = hold(&slots[1], 2);
        let _b = hold(&slots[2], 2);
        let picker = LeastRequest::new(&slots, 2);
        assert_eq!(picker.pick(None, &mut Scripted::new(&[2, 1])), Some(2));
        assert_eq!(picker.pick(None, &mut Scripted::new(&[1, 2])), Some(1));
    }

    #[test]
    fn finished_requests_stop_counting() {
        let slots = slots(&[1, 1]);
        let picker = LeastRequest::new(&slots, 2);
        let busy = hold(&slots[0], 1);
        assert_eq!(picker.pick(None, &mut Scripted::new(&[0, 1])), Some(1));
        drop(busy);
        assert_eq!(picker.pick(None, &mut Scripted::new(&[0, 1])), Some(0));
    }

    #[test]
    fn a_busy_endpoint_only_wins_when_drawn_every_time() {
        // Two endpoints, P2C: the busy one wins only when both draws land
        // on it, a quarter of the time.
        let slots = slots(&[1, 1]);
        let _busy = hold(&slots[0], 5);
        let picker = LeastRequest::new(&slots, 2);
        let counts = counts(&picker, 2, 10_000, 17);
        assert!((2_200..=2_800).contains(&counts[0]), "{counts:?}");
    }

    #[test]
    fn choice_count_equal_to_endpoints_favours_the_least_loaded() {
        // Loads 0, 1, 2, 3 and four draws with replacement: endpoint k wins
        // when no draw hits a lighter one and at least one hits k, that is
        // ((4-k)/4)^4 - ((3-k)/4)^4: 68.4%, 23.4%, 7.8%, 0.4%.
        let slots = slots(&[1, 1, 1, 1]);
        let _held: Vec<_> = (0..4).map(|k| hold(&slots[k], k)).collect();
        let picker = LeastRequest::new(&slots, 4);
        let counts = counts(&picker, 4, 10_000, 23);
        let expected = [6_836, 2_344, 781, 39];
        for (k, (&c, &e)) in counts.iter().zip(&expected).enumerate() {
            assert!(c.abs_diff(e) <= 300, "endpoint {k}: {counts:?}");
        }
    }

    #[test]
    fn idle_endpoints_with_equal_weights_share_evenly() {
        let picker = LeastRequest::new(&slots(&[1, 1, 1, 1]), 4);
        for c in counts(&picker, 4, 20_000, 29) {
            assert!((4_700..=5_300).contains(&c), "{c}");
        }
    }

    #[test]
    fn idle_endpoints_share_in_proportion_to_their_weights() {
        let picker = LeastRequest::new(&slots(&[1, 2, 3, 4]), 2);
        let counts = counts(&picker, 4, 20_000, 31);
        for (k, &c) in counts.iter().enumerate() {
            let expected = 2_000 * (k + 1);
            assert!(c.abs_diff(expected) <= 300, "endpoint {k}: {counts:?}");
        }
    }

    #[test]
    fn a_busy_heavy_endpoint_still_loses_its_comparisons() {
        let slots = slots(&[3, 1]);
        let picker = LeastRequest::new(&slots, 2);
        // Endpoint 0 busy: it wins only when drawn twice, (3/4)^2 = 56.25%.
        let _busy = hold(&slots[0], 5);
        let loaded = counts(&picker, 2, 10_000, 37);
        assert!((5_300..=5_950).contains(&loaded[0]), "{loaded:?}");
    }
}
