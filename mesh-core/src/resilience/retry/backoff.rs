//! The wait before a retry: Envoy's fully jittered, capped exponential
//! backoff, plus the model's linear and constant variants.
//!
//! Envoy's `JitteredExponentialBackOffStrategy` keeps an interval that
//! starts at the base and doubles after each retry until it would pass the
//! maximum, where it stays; each wait is `random % interval`, capped at the
//! maximum. Full jitter spreads the retries of many clients failing at the
//! same moment over the whole window, instead of synchronising them into
//! waves. Here:
//!
//! - interval `n` (the `n`-th retry, from 0) is `base·2ⁿ` (exponential),
//!   `base·(n+1)` (linear) or `base` (constant), always capped at
//!   `max_interval`, computed in saturating 128-bit nanoseconds so any `n`
//!   is safe;
//! - with jitter the wait is uniform in `[0, interval]` (nanosecond
//!   resolution; Envoy draws whole milliseconds in `[0, interval)`),
//!   without it the wait is the interval itself.
//!
//! Server pushback replaces this computation; see [`super::pushback`] and
//! [`retry_after_delay`].

use std::time::Duration;

use crate::config::{Backoff, BackoffStrategy};
use crate::rng::MeshRng;

use super::pushback::MAX_RETRY_AFTER;

/// The un-jittered interval of retry `retry_index` (0 for the first
/// retry): the upper bound of its jittered wait. Never above
/// `max_interval`.
pub fn backoff_interval(backoff: &Backoff, retry_index: u32) -> Duration {
    let base = backoff.base_interval.as_nanos();
    let max = backoff.max_interval.as_nanos();
    let interval = match backoff.strategy {
        BackoffStrategy::Exponential => 1u128
            .checked_shl(retry_index)
            .and_then(|factor| base.checked_mul(factor))
            .unwrap_or(u128::MAX),
        BackoffStrategy::Linear => base.saturating_mul(u128::from(retry_index) + 1),
        BackoffStrategy::Constant => base,
    };
    nanos(interval.min(max))
}

/// The wait before retry `retry_index` (0 for the first retry): uniform in
/// `[0, backoff_interval]` with jitter, the interval itself without.
pub fn backoff_delay(
    backoff: &Backoff,
    retry_index: u32,
    rng: &mut (impl MeshRng + ?Sized),
) -> Duration {
    let interval = backoff_interval(backoff, retry_index);
    if backoff.jitter {
        jitter(interval, rng)
    } else {
        interval
    }
}

/// The wait a `Retry-After` of `delay` asks for, or `None` when Envoy would
/// ignore it (above [`MAX_RETRY_AFTER`]). With jitter, Envoy's
/// `JitteredLowerBoundBackOffStrategy`: uniform in `[delay, 1.5·delay)`,
/// so clients told the same instant do not all come back at once.
pub fn retry_after_delay(
    delay: Duration,
    jittered: bool,
    rng: &mut (impl MeshRng + ?Sized),
) -> Option<Duration> {
    if delay > MAX_RETRY_AFTER {
        return None;
    }
    let half = (delay / 2).as_nanos() as u64;
    if !jittered || half == 0 {
        return Some(delay);
    }
    Some(delay + Duration::from_nanos(rng.below(half)))
}

/// Uniform in `[0, interval]`.
fn jitter(interval: Duration, rng: &mut (impl MeshRng + ?Sized)) -> Duration {
    let bound = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX - 1);
    Duration::from_nanos(rng.below(bound.saturating_add(1)))
}

/// A nanosecond count as a `Duration`, saturating at `Duration::MAX`.
fn nanos(n: u128) -> Duration {
    const PER_SEC: u128 = 1_000_000_000;
    u64::try_from(n / PER_SEC).map_or(Duration::MAX, |secs| {
        Duration::new(secs, (n % PER_SEC) as u32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    const MS: Duration = Duration::from_millis(1);

    fn envoy_25ms() -> Backoff {
        Backoff::envoy(25 * MS)
    }

    #[test]
    fn exponential_intervals_double_then_stay_at_max() {
        let b = envoy_25ms();
        let got: Vec<u64> = (0..8)
            .map(|n| backoff_interval(&b, n).as_millis() as u64)
            .collect();
        assert_eq!(got, [25, 50, 100, 200, 250, 250, 250, 250]);
    }

    #[test]
    fn linear_and_constant_intervals() {
        let linear = Backoff {
            strategy: BackoffStrategy::Linear,
            ..Backoff::envoy(100 * MS)
        };
        let got: Vec<u64> = [0, 1, 2, 8, 9, 10, u32::MAX]
            .map(|n| backoff_interval(&linear, n).as_millis() as u64)
            .to_vec();
        assert_eq!(got, [100, 200, 300, 900, 1000, 1000, 1000]);
        let constant = Backoff {
            strategy: BackoffStrategy::Constant,
            ..Backoff::envoy(100 * MS)
        };
        for n in [0, 1, 5, u32::MAX] {
            assert_eq!(backoff_interval(&constant, n), 100 * MS);
        }
    }

    #[test]
    fn jittered_delay_stays_within_zero_and_capped_interval_for_each_retry() {
        let b = envoy_25ms();
        let mut rng = SeededRng::new(42);
        for n in 0..12 {
            let bound = (25 * MS * 2u32.pow(n)).min(250 * MS);
            for _ in 0..2_000 {
                let d = backoff_delay(&b, n, &mut rng);
                assert!(d <= bound, "retry {n}: {d:?} > {bound:?}");
            }
        }
    }

    #[test]
    fn jittered_delay_is_roughly_uniform() {
        let b = Backoff::envoy(100 * MS);
        let mut rng = SeededRng::new(7);
        let mut buckets = [0u32; 10];
        let draws = 20_000;
        for _ in 0..draws {
            let d = backoff_delay(&b, 0, &mut rng);
            let bucket = (d.as_nanos() * 10 / (100 * MS).as_nanos()).min(9) as usize;
            buckets[bucket] += 1;
        }
        for count in buckets {
            assert!((1_600..2_400).contains(&count), "{buckets:?}");
        }
    }

    #[test]
    fn without_jitter_the_delay_is_the_interval() {
        let b = Backoff {
            jitter: false,
            ..envoy_25ms()
        };
        let mut rng = SeededRng::new(1);
        assert_eq!(backoff_delay(&b, 0, &mut rng), 25 * MS);
        assert_eq!(backoff_delay(&b, 2, &mut rng), 100 * MS);
        assert_eq!(backoff_delay(&b, 30, &mut rng), 250 * MS);
    }

    #[test]
    fn huge_retry_index_does_not_overflow() {
        let b = Backoff {
            base_interval: Duration::from_secs(u64::MAX / 4),
            max_interval: Duration::MAX,
            strategy: BackoffStrategy::Exponential,
            jitter: true,
        };
        let mut rng = SeededRng::new(3);
        for n in [63, 64, 127, 128, 129, u32::MAX] {
            assert_eq!(backoff_interval(&b, n), Duration::MAX);
            let _ = backoff_delay(&b, n, &mut rng);
        }
        let linear = Backoff {
            strategy: BackoffStrategy::Linear,
            ..b
        };
        assert_eq!(backoff_interval(&linear, u32::MAX), Duration::MAX);
        assert_eq!(backoff_interval(&envoy_25ms(), u32::MAX), 250 * MS);
    }

    #[test]
    fn max_below_base_still_caps() {
        let b = Backoff {
            max_interval: 10 * MS,
            ..envoy_25ms()
        };
        let mut rng = SeededRng::new(5);
        assert_eq!(backoff_interval(&b, 0), 10 * MS);
        assert!(backoff_delay(&b, 0, &mut rng) <= 10 * MS);
    }

    #[test]
    fn retry_after_is_jittered_upwards_by_at_most_half() {
        let mut rng = SeededRng::new(9);
        let d = Duration::from_secs(2);
        for _ in 0..1_000 {
            let got = retry_after_delay(d, true, &mut rng).unwrap();
            assert!(got >= d && got < d * 3 / 2, "{got:?}");
        }
        assert_eq!(retry_after_delay(d, false, &mut rng), Some(d));
        assert_eq!(
            retry_after_delay(Duration::ZERO, true, &mut rng),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_beyond_the_cap_is_ignored() {
        let mut rng = SeededRng::new(9);
        assert_eq!(
            retry_after_delay(MAX_RETRY_AFTER, false, &mut rng),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            retry_after_delay(MAX_RETRY_AFTER + MS, false, &mut rng),
            None
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn strategy() -> impl Strategy<Value = BackoffStrategy> {
            prop_oneof![
                Just(BackoffStrategy::Exponential),
                Just(BackoffStrategy::Linear),
                Just(BackoffStrategy::Constant),
            ]
        }

        proptest! {
            #[test]
            fn backoff_never_exceeds_max(
                base in 0u64..=u64::MAX,
                max in 0u64..=u64::MAX,
                strategy in strategy(),
                jitter: bool,
                n: u32,
                seed: u64,
            ) {
                let b = Backoff {
                    base_interval: Duration::from_nanos(base),
                    max_interval: Duration::from_nanos(max),
                    strategy,
                    jitter,
                };
                let mut rng = SeededRng::new(seed);
                let d = backoff_delay(&b, n, &mut rng);
                prop_assert!(d <= b.max_interval);
                prop_assert!(d <= backoff_interval(&b, n));
            }

            #[test]
            fn exponential_interval_is_monotonic(base in 1u64..1_000_000_000, n in 0u32..200) {
                let b = Backoff::envoy(Duration::from_nanos(base));
                prop_assert!(backoff_interval(&b, n) <= backoff_interval(&b, n + 1));
            }
        }
    }
}
