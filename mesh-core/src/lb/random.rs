//! Weighted random: each pick is an independent draw, proportional to the
//! endpoints' weights.
//!
//! The picker keeps the running sums of the weights (`cumulative[i]` is the
//! total weight of endpoints `0..=i`). A pick draws `r` uniformly in
//! `[0, total)` and binary-searches for the first endpoint whose running sum
//! exceeds `r`, so endpoint `i` owns the `weight[i]` values just below
//! `cumulative[i]`: O(log n) per pick, one `u64` per endpoint, no lock.
//! When every weight is the same the sums are not needed and a pick is a
//! single `rng.below(n)`.
//!
//! The weight helpers at the bottom are shared with the other pickers.

use std::sync::Arc;

use super::{EndpointSlot, Picker};
use crate::rng::MeshRng;

/// Picks endpoints at random, in proportion to their weights.
#[derive(Debug)]
pub struct WeightedRandom {
    draw: Draw,
}

/// How a pick turns random bits into an index.
#[derive(Debug)]
enum Draw {
    /// No endpoint.
    Empty,
    /// Every endpoint has the same weight: uniform over `0..len`.
    Uniform { len: u64 },
    /// Running sums of the weights; the last one is the total.
    Weighted { cumulative: Box<[u64]> },
}

impl WeightedRandom {
    /// A picker over `endpoints`, by their weights.
    pub fn new(endpoints: &[Arc<EndpointSlot>]) -> Self {
        let draw = if endpoints.is_empty() {
            Draw::Empty
        } else if weights_are_equal(endpoints) {
            Draw::Uniform {
                len: endpoints.len() as u64,
            }
        } else {
            Draw::Weighted {
                cumulative: running_sums(endpoints),
            }
        };
        Self { draw }
    }
}

impl Picker for WeightedRandom {
    fn pick(&self, _hash: Option<u64>, rng: &mut dyn MeshRng) -> Option<usize> {
        match &self.draw {
            Draw::Empty => None,
            Draw::Uniform { len } => Some(to_index(rng.below(*len))),
            Draw::Weighted { cumulative } => Some(owner_of_draw(cumulative, rng)),
        }
    }
}

fn running_sums(endpoints: &[Arc<EndpointSlot>]) -> Box<[u64]> {
    endpoints
        .iter()
        .scan(0u64, |total, slot| {
            *total = total.saturating_add(weight_of(slot));
            Some(*total)
        })
        .collect()
}

/// Draws a value below the total weight and finds the endpoint owning it.
fn owner_of_draw(cumulative: &[u64], rng: &mut dyn MeshRng) -> usize {
    let total = cumulative.last().copied().unwrap_or(1);
    let drawn = rng.below(total);
    cumulative.partition_point(|&sum| sum <= drawn)
}

fn to_index(value: u64) -> usize {
    // `value` is below a slice length, so it fits.
    value as usize
}

/// An endpoint's weight for balancing; a zero weight (which validation
/// rejects) counts as 1 so that no endpoint is unreachable by accident.
pub(super) fn weight_of(slot: &EndpointSlot) -> u64 {
    u64::from(slot.endpoint().weight.max(1))
}

/// Whether every endpoint has the same weight, so a picker can ignore them.
pub(super) fn weights_are_equal(endpoints: &[Arc<EndpointSlot>]) -> bool {
    endpoints
        .windows(2)
        .all(|pair| weight_of(&pair[0]) == weight_of(&pair[1]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::ScriptedRng as Scripted;
    use crate::lb::test_slots as slots;
    use crate::rng::SeededRng;

    fn counts(picker: &WeightedRandom, len: usize, picks: usize, seed: u64) -> Vec<usize> {
        let mut rng = SeededRng::new(seed);
        let mut counts = vec![0; len];
        for _ in 0..picks {
            counts[picker.pick(None, &mut rng).unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn empty_picks_nothing() {
        let picker = WeightedRandom::new(&[]);
        assert_eq!(picker.pick(None, &mut SeededRng::new(1)), None);
    }

    #[test]
    fn single_endpoint_is_always_picked() {
        let picker = WeightedRandom::new(&slots(&[7]));
        assert_eq!(counts(&picker, 1, 100, 3), vec![100]);
    }

    #[test]
    fn weights_80_20_are_respected_within_two_percent() {
        let picker = WeightedRandom::new(&slots(&[80, 20]));
        let counts = counts(&picker, 2, 10_000, 42);
        assert!((7_800..=8_200).contains(&counts[0]), "{counts:?}");
        assert_eq!(counts[0] + counts[1], 10_000);
    }

    #[test]
    fn equal_weights_are_uniform() {
        let picker = WeightedRandom::new(&slots(&[5, 5, 5, 5]));
        for c in counts(&picker, 4, 40_000, 7) {
            assert!((9_500..10_500).contains(&c), "{c}");
        }
    }

    #[test]
    fn each_endpoint_owns_exactly_its_weight_of_the_draws() {
        let picker = WeightedRandom::new(&slots(&[3, 1, 5]));
        let mut rng = Scripted::new(&(0..9).collect::<Vec<_>>());
        let owners: Vec<usize> = (0..9)
            .map(|_| picker.pick(None, &mut rng).unwrap())
            .collect();
        assert_eq!(owners, [0, 0, 0, 1, 2, 2, 2, 2, 2]);
    }
}
