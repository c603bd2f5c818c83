//! How long to wait before opening the ADS stream again.
//!
//! This follows gRPC's connection-backoff spec
//! (`doc/connection-backoff.md` in grpc/grpc): the first delay is
//! `initial` (1 s), each further one is the previous un-jittered delay times
//! `multiplier` (1.6), capped at `max` (120 s), and every delay handed out is
//! that value scaled by a uniform random factor in `[1 - jitter, 1 + jitter]`
//! (±20 %). The jitter is applied after the cap, as in the spec, so delays at
//! the cap lie in `[96 s, 144 s]`.
//!
//! Deviations from the spec, both deliberate:
//! - The spec leaves the very first delay un-jittered; here it is jittered
//!   too (as gRPC C++ and Java do), so clients that lose the control plane
//!   together do not come back in lockstep.
//! - There is no minimum connect timeout: that bounds the connection attempt,
//!   which is the transport's business, not this calculator's.
//!
//! How the xDS client uses it (gRPC's xDS client does the same): when a
//! stream ends after it received at least one response, call
//! [`ReconnectBackoff::reset`] and reconnect at once; when a stream (or the
//! connection) fails before any response, wait
//! [`ReconnectBackoff::next_delay`] first. Randomness comes from the caller's
//! [`MeshRng`], so tests are deterministic.

use std::time::Duration;

use crate::rng::MeshRng;

/// The parameters of [`ReconnectBackoff`]; the default is gRPC's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// The first delay (before jitter). Default 1 s.
    pub initial: Duration,
    /// The factor between consecutive un-jittered delays. Default 1.6;
    /// values below 1 (or not finite) are treated as 1.
    pub multiplier: f64,
    /// The relative jitter: each delay is scaled by a uniform factor in
    /// `[1 - jitter, 1 + jitter]`. Default 0.2; clamped to `[0, 1]` (NaN
    /// means 0).
    pub jitter: f64,
    /// The cap on the un-jittered delay. Default 120 s; a value below
    /// `initial` is treated as `initial`.
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            multiplier: 1.6,
            jitter: 0.2,
            max: Duration::from_secs(120),
        }
    }
}

impl BackoffConfig {
    /// The config with out-of-range values brought into range (see the
    /// field docs), so the calculator never panics or goes backwards.
    fn sanitized(self) -> Self {
        let multiplier = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        let jitter = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        Self {
            initial: self.initial,
            multiplier,
            jitter,
            max: self.max.max(self.initial),
        }
    }
}

/// Exponential backoff with jitter between ADS reconnection attempts.
#[derive(Debug, Clone)]
pub struct ReconnectBackoff {
    config: BackoffConfig,
    /// The un-jittered delay last handed out; `None` right after creation
    /// or [`reset`](Self::reset), so the next delay is `initial`.
    current: Option<Duration>,
    attempts: u32,
}

impl Default for ReconnectBackoff {
    fn default() -> Self {
        Self::new(BackoffConfig::default())
    }
}

impl ReconnectBackoff {
    /// A backoff starting at `config.initial` (out-of-range fields are
    /// brought into range, see [`BackoffConfig`]).
    pub fn new(config: BackoffConfig) -> Self {
        Self {
            config: config.sanitized(),
            current: None,
            attempts: 0,
        }
    }

    /// The (sanitized) parameters in use.
    pub fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// How many delays were handed out since creation or the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The delay before the next attempt, advancing the sequence.
    pub fn next_delay(&mut self, rng: &mut dyn MeshRng) -> Duration {
        let base = match self.current {
            None => self.config.initial,
            Some(previous) => {
                let grown = previous.as_secs_f64() * self.config.multiplier;
                if grown >= self.config.max.as_secs_f64() {
                    self.config.max
                } else {
                    Duration::try_from_secs_f64(grown).unwrap_or(self.config.max)
                }
            }
        };
        self.current = Some(base);
        self.attempts = self.attempts.saturating_add(1);
        jittered(base, self.config.jitter, rng)
    }

    /// Starts over at `initial`: call it when a stream received a response.
    pub fn reset(&mut self) {
        self.current = None;
        self.attempts = 0;
    }
}

/// `base` scaled by a uniform factor in `[1 - jitter, 1 + jitter]`.
fn jittered(base: Duration, jitter: f64, rng: &mut dyn MeshRng) -> Duration {
    if jitter == 0.0 {
        return base;
    }
    // 53 random bits → a uniform f64 in [0, 1).
    let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let factor = 1.0 + jitter * (2.0 * unit - 1.0);
    Duration::try_from_secs_f64(base.as_secs_f64() * factor).unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    /// The un-jittered sequence, computed independently of the type.
    fn unjittered(n: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(n);
        let mut d = 1.0_f64;
        for _ in 0..n {
            out.push(d);
            d = (d * 1.6).min(120.0);
        }
        out
    }

    fn within(actual: Duration, base: f64, jitter: f64) -> bool {
        let a = actual.as_secs_f64();
        // A nanosecond of slack for the f64 → Duration rounding.
        a >= base * (1.0 - jitter) - 1e-9 && a <= base * (1.0 + jitter) + 1e-9
    }

    #[test]
    fn default_is_grpcs() {
        let c = BackoffConfig::default();
        assert_eq!(c.initial, Duration::from_secs(1));
        assert_eq!(c.multiplier, 1.6);
        assert_eq!(c.jitter, 0.2);
        assert_eq!(c.max, Duration::from_secs(120));
    }

    #[test]
    fn sequence_stays_within_jitter_of_the_unjittered_value() {
        for seed in [1, 7, 42, 0xDEAD_BEEF] {
            let mut rng = SeededRng::new(seed);
            let mut b = ReconnectBackoff::default();
            for (i, base) in unjittered(30).into_iter().enumerate() {
                let d = b.next_delay(&mut rng);
                assert!(
                    within(d, base, 0.2),
                    "seed {seed} step {i}: {d:?} vs {base}"
                );
            }
            assert_eq!(b.attempts(), 30);
        }
    }

    #[test]
    fn delays_are_actually_jittered() {
        let mut rng = SeededRng::new(3);
        let firsts: Vec<Duration> = (0..20)
            .map(|_| ReconnectBackoff::default().next_delay(&mut rng))
            .collect();
        assert!(firsts.iter().any(|d| *d != firsts[0]), "{firsts:?}");
        assert!(firsts.iter().any(|d| *d < Duration::from_secs(1)));
        assert!(firsts.iter().any(|d| *d > Duration::from_secs(1)));
    }

    #[test]
    fn caps_at_max_plus_or_minus_jitter() {
        let mut rng = SeededRng::new(11);
        let mut b = ReconnectBackoff::default();
        // 1.6^11 > 120: from the 12th delay on the base is the cap.
        let delays: Vec<Duration> = (0..200).map(|_| b.next_delay(&mut rng)).collect();
        for d in &delays[11..] {
            assert!(within(*d, 120.0, 0.2), "{d:?}");
        }
        let max = delays.iter().max().unwrap();
        assert!(*max <= Duration::from_secs(144));
        assert!(
            *max > Duration::from_secs(130),
            "jitter above the cap: {max:?}"
        );
    }

    #[test]
    fn reset_goes_back_to_initial() {
        let mut rng = SeededRng::new(5);
        let mut b = ReconnectBackoff::default();
        for _ in 0..10 {
            b.next_delay(&mut rng);
        }
        assert!(b.next_delay(&mut rng) > Duration::from_secs(40));
        b.reset();
        assert_eq!(b.attempts(), 0);
        let d = b.next_delay(&mut rng);
        assert!(within(d, 1.0, 0.2), "{d:?}");
        let d = b.next_delay(&mut rng);
        assert!(within(d, 1.6, 0.2), "{d:?}");
    }

    #[test]
    fn same_seed_same_sequence() {
        let run = |seed| {
            let mut rng = SeededRng::new(seed);
            let mut b = ReconnectBackoff::default();
            (0..15).map(|_| b.next_delay(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn custom_config_without_jitter_is_exact() {
        let mut rng = SeededRng::new(1);
        let mut b = ReconnectBackoff::new(BackoffConfig {
            initial: Duration::from_millis(100),
            multiplier: 2.0,
            jitter: 0.0,
            max: Duration::from_millis(500),
        });
        let got: Vec<u64> = (0..5)
            .map(|_| b.next_delay(&mut rng).as_millis() as u64)
            .collect();
        assert_eq!(got, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn out_of_range_config_is_sanitized() {
        let mut rng = SeededRng::new(1);
        let mut b = ReconnectBackoff::new(BackoffConfig {
            initial: Duration::from_secs(2),
            multiplier: 0.5,
            jitter: f64::NAN,
            max: Duration::from_secs(1),
        });
        assert_eq!(b.config().multiplier, 1.0);
        assert_eq!(b.config().jitter, 0.0);
        assert_eq!(b.config().max, Duration::from_secs(2));
        for _ in 0..3 {
            assert_eq!(b.next_delay(&mut rng), Duration::from_secs(2));
        }
        let b = ReconnectBackoff::new(BackoffConfig {
            jitter: 7.0,
            multiplier: f64::INFINITY,
            ..BackoffConfig::default()
        });
        assert_eq!(b.config().jitter, 1.0);
        assert_eq!(b.config().multiplier, 1.0);
    }

    #[test]
    fn huge_values_do_not_panic() {
        let mut rng = SeededRng::new(1);
        let mut b = ReconnectBackoff::new(BackoffConfig {
            initial: Duration::MAX,
            multiplier: 10.0,
            jitter: 1.0,
            max: Duration::MAX,
        });
        for _ in 0..5 {
            b.next_delay(&mut rng);
        }
    }
}
