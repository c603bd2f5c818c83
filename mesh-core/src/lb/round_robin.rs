//! Weighted round robin without locks: a static stride scheduler.
//!
//! Envoy balances weighted round robin with an earliest-deadline-first
//! heap behind a lock; gRPC's gRFC A58 showed the same smooth interleaving
//! can come from one shared atomic counter and a little arithmetic, which
//! is what this picker does, so concurrent picks never wait on each other.
//!
//! # The schedule
//!
//! Weights are scaled so the heaviest endpoint has `MAX = 65535` and every
//! other one `round(weight * MAX / heaviest)`, at least 1. A shared
//! sequence counter is split into `index = seq % n` and
//! `generation = seq / n`: each generation offers every endpoint one turn,
//! in order. Endpoint `i` takes its turn in generation `g` when
//!
//! ```text
//! (weight_i * g + offset_i) % MAX >= MAX - weight_i
//! ```
//!
//! that is, when an accumulator growing by `weight_i` per generation
//! crosses a multiple of `MAX`. So the heaviest endpoint takes every turn,
//! one of half its weight every other turn, and over any `G` generations
//! endpoint `i` is chosen `weight_i * G / MAX` times, give or take one:
//! proportions are exact over whole periods and picks of one endpoint are
//! spread evenly rather than in bursts. `offset_i = i * MAX / n` staggers
//! the endpoints so that equally light ones do not all take their turn in
//! the same generation.
//!
//! A pick takes sequence numbers (`fetch_add(1)`) until one is accepted.
//! Because the heaviest endpoint accepts every turn, `n` consecutive
//! sequence numbers always contain an accepted one, so a pick is bounded
//! by `n` attempts (on average `n * MAX / sum(weights)`); if concurrent
//! pickers interleave so that `n` attempts all fail, the heaviest endpoint
//! is returned.
//!
//! When every weight is the same the schedule degenerates to plain round
//! robin, `seq % n`, with no loop.
//!
//! # Skewed weights
//!
//! The stride schedule costs `n * MAX / sum(weights)` attempts per pick on
//! average, which grows without bound when a few endpoints weigh far more
//! than the rest (one endpoint at 1000, ten thousand at 1). gRPC caps
//! weights at ten times the mean to avoid that, which changes what the
//! operator configured. Here, when the average attempt count would pass
//! [`MAX_STRIDE_ATTEMPTS`], the picker instead precomputes one period of the
//! earliest-deadline-first order (each endpoint's `k`-th turn due at
//! `(k + 1) / weight`, weights scaled so the period holds at most
//! [`TABLE_BUDGET`] turns plus one per endpoint) and a pick is one table
//! lookup: `table[seq % len]`. Proportions stay those of the scaled
//! weights, and turns stay interleaved.
//!
//! # Start position
//!
//! Like Envoy and A58, the sequence starts at a random position (drawn
//! from the caller's generator on the first pick), so that many clients
//! that (re)build the same group at the same moment do not all send their
//! first requests to the first endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::random::{weight_of, weights_are_equal};
use super::{EndpointSlot, Picker};
use crate::rng::MeshRng;

/// The scaled weight of the heaviest endpoint, and the modulus of the
/// schedule.
const MAX_WEIGHT: u64 = u16::MAX as u64;

/// Above this many average attempts per pick, a table replaces strides.
const MAX_STRIDE_ATTEMPTS: u64 = 4;

/// How many turns a precomputed table spreads the weights over (each
/// endpoint gets at least one more).
const TABLE_BUDGET: u64 = 1 << 16;

/// Weighted round robin over a fixed list of endpoints.
#[derive(Debug)]
pub struct WeightedRoundRobin {
    schedule: Schedule,
    sequence: AtomicU64,
    started: AtomicBool,
}

/// Which sequence numbers pick which endpoint.
#[derive(Debug)]
enum Schedule {
    /// No endpoint.
    Empty,
    /// Equal weights: sequence number `seq` picks `seq % len`.
    Even { len: u64 },
    /// Unequal weights: the stride schedule of the module documentation.
    Strided { turns: Box<[Turn]>, heaviest: usize },
    /// Skewed weights: one precomputed period of turns.
    Table { turns: Box<[u32]> },
}

/// When one endpoint takes its turn.
#[derive(Debug, Clone, Copy)]
struct Turn {
    /// Scaled weight, `1..=MAX_WEIGHT`.
    weight: u64,
    /// Phase, `0..MAX_WEIGHT`.
    offset: u64,
}

impl Turn {
    /// Whether the endpoint takes its turn in `generation`.
    fn accepts(self, generation: u64) -> bool {
        // `weight * g mod MAX` only depends on `g mod MAX`, which keeps the
        // product far from overflow.
        let phase = (self.weight * (generation % MAX_WEIGHT) + self.offset) % MAX_WEIGHT;
        phase >= MAX_WEIGHT - self.weight
    }
}

impl WeightedRoundRobin {
    /// A picker over `endpoints`, by their weights.
    pub fn new(endpoints: &[Arc<EndpointSlot>]) -> Self {
        let schedule = if endpoints.is_empty() {
            Schedule::Empty
        } else if weights_are_equal(endpoints) {
            Schedule::Even {
                len: endpoints.len() as u64,
            }
        } else {
            strided_schedule(endpoints)
        };
        Self {
            schedule,
            sequence: AtomicU64::new(0),
            started: AtomicBool::new(false),
        }
    }

    /// The next sequence number, starting from a random one.
    fn next_sequence(&self, rng: &mut dyn MeshRng) -> u64 {
        if !self.started.load(Ordering::Relaxed) {
            self.start_at_random(rng);
        }
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }

    /// Moves the sequence to a random point of the schedule's period, once.
    fn start_at_random(&self, rng: &mut dyn MeshRng) {
        if self.started.swap(true, Ordering::Relaxed) {
            return;
        }
        let period = match &self.schedule {
            Schedule::Empty => return,
            Schedule::Even { len } => *len,
            Schedule::Strided { turns, .. } => turns.len() as u64 * MAX_WEIGHT,
            Schedule::Table { turns } => turns.len() as u64,
        };
        self.sequence
            .fetch_add(rng.below(period), Ordering::Relaxed);
    }

    /// Takes sequence numbers until an endpoint accepts its turn.
    fn pick_strided(&self, turns: &[Turn], heaviest: usize, rng: &mut dyn MeshRng) -> usize {
        let len = turns.len() as u64;
        for _ in 0..len {
            let seq = self.next_sequence(rng);
            let index = to_index(seq % len);
            if turns[index].accepts(seq / len) {
                return index;
            }
        }
        heaviest
    }
}

impl Picker for WeightedRoundRobin {
    fn pick(&self, _hash: Option<u64>, rng: &mut dyn MeshRng) -> Option<usize> {
        match &self.schedule {
            Schedule::Empty => None,
            Schedule::Even { len } => Some(to_index(self.next_sequence(rng) % len)),
            Schedule::Strided { turns, heaviest } => Some(self.pick_strided(turns, *heaviest, rng)),
            Schedule::Table { turns } => {
                let seq = self.next_sequence(rng);
                Some(turns[to_index(seq % turns.len() as u64)] as usize)
            }
        }
    }
}

fn strided_schedule(endpoints: &[Arc<EndpointSlot>]) -> Schedule {
    let weights: Vec<u64> = endpoints.iter().map(|s| weight_of(s)).collect();
    let heaviest = (0..weights.len())
        .max_by_key(|&i| weights[i])
        .unwrap_or_default();
    let max = weights[heaviest];
    let len = weights.len() as u64;
    let scaled_sum: u64 = weights.iter().map(|&w| scale_weight(w, max)).sum();
    if len * MAX_WEIGHT > MAX_STRIDE_ATTEMPTS * scaled_sum {
        return table_schedule(&weights);
    }
    let turns = weights
        .iter()
        .zip(0u64..)
        .map(|(&weight, i)| Turn {
            weight: scale_weight(weight, max),
            offset: i * MAX_WEIGHT / len,
        })
        .collect();
    Schedule::Strided { turns, heaviest }
}

/// One period of earliest-deadline-first turns: endpoint `i` of `n`, with
/// scaled weight `s_i`, has its `k`-th turn (from 0) due at
/// `(k + phase_i) / s_i` where `phase_i = (i + 1) / (n + 1)`; turns are
/// listed by due time. The phases stagger endpoints of equal weight, which
/// would otherwise all fall due at once and take their turns in a burst.
fn table_schedule(weights: &[u64]) -> Schedule {
    let total: u64 = weights.iter().sum();
    let n = weights.len() as u64;
    let scaled: Vec<u64> = weights
        .iter()
        .map(|&w| (u128::from(w) * u128::from(TABLE_BUDGET) / u128::from(total.max(1))) as u64)
        .map(|s| s.max(1))
        .collect();
    // A turn as (numerator, denominator, index), due at numerator /
    // denominator with both scaled by n + 1 to keep them whole.
    let mut due: Vec<(u64, u64, u32)> = scaled
        .iter()
        .zip(0u32..)
        .flat_map(|(&s, i)| (0..s).map(move |k| (k * (n + 1) + u64::from(i) + 1, s, i)))
        .collect();
    due.sort_unstable_by(|a, b| {
        (u128::from(a.0) * u128::from(b.1))
            .cmp(&(u128::from(b.0) * u128::from(a.1)))
            .then(a.2.cmp(&b.2))
    });
    Schedule::Table {
        turns: due.into_iter().map(|(_, _, i)| i).collect(),
    }
}

/// `weight` on a scale where `max` is `MAX_WEIGHT`, rounded, at least 1.
fn scale_weight(weight: u64, max: u64) -> u64 {
    let scaled =
        (u128::from(weight) * u128::from(MAX_WEIGHT) + u128::from(max / 2)) / u128::from(max);
    // `weight <= max`, so `scaled <= MAX_WEIGHT`.
    (scaled as u64).max(1)
}

fn to_index(value: u64) -> usize {
    // `value` is below a slice length, so it fits.
    value as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::test_slots as slots;
    use crate::rng::SeededRng;

    fn picks(weights: &[u32], count: usize, seed: u64) -> Vec<usize> {
        let picker = WeightedRoundRobin::new(&slots(weights));
        let mut rng = SeededRng::new(seed);
        (0..count)
            .map(|_| picker.pick(None, &mut rng).unwrap())
            .collect()
    }

    fn counts(weights: &[u32], picks: &[usize]) -> Vec<usize> {
        let mut counts = vec![0; weights.len()];
        for &p in picks {
            counts[p] += 1;
        }
        counts
    }

    fn longest_run_of(endpoint: usize, picks: &[usize]) -> usize {
        picks
            .split(|&p| p != endpoint)
            .map(<[usize]>::len)
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn empty_picks_nothing() {
        let picker = WeightedRoundRobin::new(&[]);
        assert_eq!(picker.pick(None, &mut SeededRng::new(1)), None);
    }

    #[test]
    fn equal_weights_cycle_exactly() {
        let picks = picks(&[2, 2, 2, 2], 40, 9);
        let first = picks[0];
        for (i, &p) in picks.iter().enumerate() {
            assert_eq!(p, (first + i) % 4, "{picks:?}");
        }
    }

    #[test]
    fn start_position_depends_on_the_generator() {
        let firsts: std::collections::HashSet<usize> =
            (0..20).map(|seed| picks(&[1; 8], 1, seed)[0]).collect();
        assert!(firsts.len() > 1, "{firsts:?}");
    }

    #[test]
    fn weights_3_1_1_give_exact_proportions_over_whole_periods() {
        for seed in 0..10 {
            let picks = picks(&[3, 1, 1], 5 * 200, seed);
            assert_eq!(counts(&[3, 1, 1], &picks), [600, 200, 200], "seed {seed}");
        }
    }

    #[test]
    fn weights_3_1_1_interleave_smoothly() {
        let picks = picks(&[3, 1, 1], 1_000, 5);
        assert!(longest_run_of(0, &picks) <= 3, "{:?}", &picks[..20]);
        assert_eq!(longest_run_of(1, &picks), 1, "{:?}", &picks[..20]);
        assert_eq!(longest_run_of(2, &picks), 1, "{:?}", &picks[..20]);
    }

    #[test]
    fn light_endpoints_are_spread_out() {
        // One pick of endpoint 1 per 5 of endpoint 0, never bunched.
        let picks = picks(&[5, 1], 6 * 100, 3);
        assert_eq!(counts(&[5, 1], &picks), [500, 100]);
        assert_eq!(longest_run_of(0, &picks), 5);
        assert_eq!(longest_run_of(1, &picks), 1);
    }

    /// Each endpoint's count stays close to its share of 10 000 picks.
    fn assert_proportional(weights: &[u32]) {
        let total_picks = 10_000;
        let picks = picks(weights, total_picks, 11);
        let counts = counts(weights, &picks);
        let total_weight: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        for (i, (&w, &c)) in weights.iter().zip(&counts).enumerate() {
            let expected = total_picks as f64 * f64::from(w) / total_weight as f64;
            let tolerance = 3.0 + expected * 0.02;
            assert!(
                (c as f64 - expected).abs() <= tolerance,
                "endpoint {i} (weight {w}): {c} picks, expected {expected:.1}"
            );
        }
    }

    fn mixed_weights(len: u32) -> Vec<u32> {
        (0..len).map(|i| i % 7 + 1).collect()
    }

    #[test]
    fn proportions_hold_over_3_endpoints() {
        assert_proportional(&mixed_weights(3));
    }

    #[test]
    fn proportions_hold_over_100_endpoints() {
        assert_proportional(&mixed_weights(100));
    }

    #[test]
    fn proportions_hold_over_10_000_endpoints() {
        assert_proportional(&mixed_weights(10_000));
    }

    #[test]
    fn extreme_ratios_still_reach_the_lightest_endpoint() {
        // 1 : 1 000 000 scales the light one to the minimum of 1 / 65535.
        let picks = picks(&[1_000_000, 1], 3 * 65_536, 1);
        let counts = counts(&[1_000_000, 1], &picks);
        assert!((2..=4).contains(&counts[1]), "{counts:?}");
    }

    fn skewed_weights(len: usize) -> Vec<u32> {
        let mut weights = vec![1; len];
        weights[len / 2] = 1_000;
        weights
    }

    #[test]
    fn skewed_weights_use_a_table_and_keep_proportions() {
        for len in [100, 10_000] {
            let picker = WeightedRoundRobin::new(&slots(&skewed_weights(len)));
            assert!(matches!(picker.schedule, Schedule::Table { .. }), "{len}");
        }
        assert_proportional(&skewed_weights(100));
        let mildly_skewed = [1_000, 1, 1];
        let picker = WeightedRoundRobin::new(&slots(&mildly_skewed));
        assert!(matches!(picker.schedule, Schedule::Strided { .. }));
    }

    #[test]
    fn a_table_interleaves_the_light_endpoints() {
        // Weight 400 against 39 endpoints of weight 1: about 10 heavy turns
        // between two light ones, 30 where the phases wrap; never a burst
        // of the whole period (~400) as unstaggered deadlines would give.
        let mut weights = vec![1; 40];
        weights[0] = 400;
        let picks = picks(&weights, 20_000, 4);
        assert!(
            longest_run_of(0, &picks) <= 32,
            "{}",
            longest_run_of(0, &picks)
        );
        for light in 1..40 {
            assert_eq!(longest_run_of(light, &picks), 1);
        }
        let table = table_schedule(&[3, 1]);
        let Schedule::Table { turns } = table else {
            unreachable!("a table")
        };
        assert_eq!(turns.len(), 65_536);
        assert_eq!(turns.iter().filter(|&&i| i == 1).count(), 16_384);
    }

    #[test]
    fn scaled_weights_round_and_never_reach_zero() {
        assert_eq!(scale_weight(3, 3), MAX_WEIGHT);
        assert_eq!(scale_weight(1, 3), 21_845);
        assert_eq!(scale_weight(1, 2), 32_768);
        assert_eq!(scale_weight(1, u64::from(u32::MAX)), 1);
    }
}
