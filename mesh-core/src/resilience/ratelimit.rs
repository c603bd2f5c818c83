//! Local rate limiting: Envoy's token bucket.
//!
//! The bucket starts full with `max_tokens`; every `fill_interval` adds
//! `tokens_per_fill`, never past the maximum; each request takes one token
//! or fails at once with the engine's `RateLimited` error. Refills are
//! computed from the time passed, so no timer runs.
//!
//! A [`LocalRateLimit`] is what a route carries (Envoy's
//! `local_ratelimit` filter configured per route or virtual host): the
//! bucket and the fractions of requests the limit is enabled and enforced
//! for. The bucket lives with the route configuration, so it keeps its
//! tokens for as long as the route table is unchanged, as Envoy's
//! per-route filter config does.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{ConfigError, Fraction};
use crate::rng::MeshRng;

/// A token bucket's settings (Envoy's `local_ratelimit` `token_bucket`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucketConfig {
    /// Capacity, and the tokens at start.
    pub max_tokens: u32,
    /// Tokens added per interval (Envoy's default: 1).
    pub tokens_per_fill: u32,
    /// The refill interval.
    pub fill_interval: Duration,
}

impl TokenBucketConfig {
    /// Checks every field; errors name it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_tokens == 0 {
            return Err(ConfigError::field(
                "max_tokens",
                "must be greater than zero",
            ));
        }
        if self.tokens_per_fill == 0 {
            return Err(ConfigError::field(
                "tokens_per_fill",
                "must be greater than zero",
            ));
        }
        if self.fill_interval < Duration::from_millis(50) {
            return Err(ConfigError::field(
                "fill_interval",
                "must be at least 50ms (Envoy's minimum)",
            ));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: u32,
    /// When the last fill was due; `None` until the first request (the
    /// bucket starts full then).
    filled_at: Option<Instant>,
}

/// A token bucket shared by the requests it limits.
#[derive(Debug)]
pub struct TokenBucket {
    config: TokenBucketConfig,
    bucket: Mutex<Bucket>,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(config: TokenBucketConfig, now: Instant) -> Result<Self, ConfigError> {
        let bucket = Self::full(config)?;
        bucket.lock().filled_at = Some(now);
        Ok(bucket)
    }

    /// A full bucket whose clock starts at its first use.
    pub fn full(config: TokenBucketConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            bucket: Mutex::new(Bucket {
                tokens: config.max_tokens,
                filled_at: None,
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &TokenBucketConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.bucket.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a token at `now`; `false` when the bucket is empty.
    pub fn try_acquire(&self, now: Instant) -> bool {
        let mut bucket = self.lock();
        self.refill(&mut bucket, now);
        if bucket.tokens == 0 {
            return false;
        }
        bucket.tokens -= 1;
        true
    }

    /// Tokens left at `now`.
    pub fn available(&self, now: Instant) -> u32 {
        let mut bucket = self.lock();
        self.refill(&mut bucket, now);
        bucket.tokens
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let filled_at = *bucket.filled_at.get_or_insert(now);
        let passed = now.saturating_duration_since(filled_at);
        let fills = passed.as_nanos() / self.config.fill_interval.as_nanos().max(1);
        if fills == 0 {
            return;
        }
        let added = fills.saturating_mul(u128::from(self.config.tokens_per_fill));
        let tokens = (u128::from(bucket.tokens) + added).min(u128::from(self.config.max_tokens));
        bucket.tokens = tokens as u32;
        // Keep the phase: the next fill is due one interval after the last.
        let fills = u32::try_from(fills).unwrap_or(u32::MAX);
        bucket.filled_at = Some(
            filled_at
                .checked_add(self.config.fill_interval.saturating_mul(fills))
                .unwrap_or(now),
        );
    }
}

/// A route's local rate limit: the bucket, and the fractions of requests
/// it applies to (Envoy's `filter_enabled`, then of those
/// `filter_enforced`; both default to 0 % in Envoy, "for safety").
#[derive(Debug)]
pub struct LocalRateLimit {
    /// The bucket every limited request takes a token from.
    pub bucket: TokenBucket,
    /// The requests the limit counts.
    pub enabled: Fraction,
    /// Of those, the requests refused when the bucket is empty (the others
    /// go through).
    pub enforced: Fraction,
}

impl LocalRateLimit {
    /// Whether a request at `now` is refused.
    pub fn refuses(&self, now: Instant, rng: &mut dyn MeshRng) -> bool {
        self.enabled.drawn(rng) && !self.bucket.try_acquire(now) && self.enforced.drawn(rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(max: u32, per_fill: u32, now: Instant) -> TokenBucket {
        let config = TokenBucketConfig {
            max_tokens: max,
            tokens_per_fill: per_fill,
            fill_interval: Duration::from_secs(1),
        };
        TokenBucket::new(config, now).unwrap()
    }

    #[test]
    fn starts_full_and_empties() {
        let t = Instant::now();
        let b = bucket(3, 1, t);
        assert!((0..3).all(|_| b.try_acquire(t)));
        assert!(!b.try_acquire(t));
    }

    #[test]
    fn refills_per_interval_up_to_the_maximum() {
        let t = Instant::now();
        let b = bucket(5, 2, t);
        (0..5).for_each(|_| assert!(b.try_acquire(t)));
        assert_eq!(b.available(t + Duration::from_millis(999)), 0);
        assert_eq!(b.available(t + Duration::from_secs(1)), 2);
        assert_eq!(b.available(t + Duration::from_millis(2500)), 4);
        assert_eq!(
            b.available(t + Duration::from_secs(100)),
            5,
            "never past max"
        );
    }

    #[test]
    fn partial_intervals_keep_their_phase() {
        let t = Instant::now();
        let b = bucket(10, 1, t);
        (0..10).for_each(|_| assert!(b.try_acquire(t)));
        assert!(b.try_acquire(t + Duration::from_millis(1500)));
        assert!(!b.try_acquire(t + Duration::from_millis(1900)));
        assert!(
            b.try_acquire(t + Duration::from_secs(2)),
            "the second fill is at 2 s, not 2.5 s"
        );
    }

    #[test]
    fn invalid_settings_name_the_field() {
        let t = Instant::now();
        let bad = |c: TokenBucketConfig| TokenBucket::new(c, t).unwrap_err().to_string();
        let ok = TokenBucketConfig {
            max_tokens: 1,
            tokens_per_fill: 1,
            fill_interval: Duration::from_secs(1),
        };
        assert!(
            bad(TokenBucketConfig {
                max_tokens: 0,
                ..ok
            })
            .contains("max_tokens")
        );
        assert!(
            bad(TokenBucketConfig {
                tokens_per_fill: 0,
                ..ok
            })
            .contains("tokens_per_fill")
        );
        assert!(
            bad(TokenBucketConfig {
                fill_interval: Duration::from_millis(10),
                ..ok
            })
            .contains("fill_interval")
        );
    }
}

#[cfg(test)]
mod route_limit_tests {
    use super::*;
    use crate::rng::SeededRng;

    fn limit(enabled: Fraction, enforced: Fraction) -> LocalRateLimit {
        let config = TokenBucketConfig {
            max_tokens: 2,
            tokens_per_fill: 1,
            fill_interval: Duration::from_secs(1),
        };
        LocalRateLimit {
            bucket: TokenBucket::full(config).unwrap(),
            enabled,
            enforced,
        }
    }

    #[test]
    fn an_enforced_limit_refuses_past_the_bucket_until_it_refills() {
        let all = Fraction::new(1, 1);
        let l = limit(all, all);
        let mut rng = SeededRng::new(1);
        let t = Instant::now();
        assert!(!l.refuses(t, &mut rng), "full at first use");
        assert!(!l.refuses(t + Duration::from_millis(10), &mut rng));
        assert!(l.refuses(t + Duration::from_millis(20), &mut rng));
        assert!(
            !l.refuses(t + Duration::from_secs(1), &mut rng),
            "one token back"
        );
        assert!(l.refuses(t + Duration::from_secs(1), &mut rng));
    }

    #[test]
    fn a_limit_not_enabled_or_not_enforced_refuses_nothing() {
        let mut rng = SeededRng::new(2);
        let t = Instant::now();
        for (enabled, enforced) in [
            (Fraction::new(0, 1), Fraction::new(1, 1)),
            (Fraction::new(1, 1), Fraction::new(0, 1)),
        ] {
            let l = limit(enabled, enforced);
            assert!((0..10).all(|_| !l.refuses(t, &mut rng)));
        }
    }
}
