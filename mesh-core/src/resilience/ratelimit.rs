//! Local rate limiting: Envoy's token bucket.
//!
//! The bucket starts full with `max_tokens`; every `fill_interval` adds
//! `tokens_per_fill`, never past the maximum; each request takes one token
//! or fails at once with the engine's `RateLimited` error. Refills are
//! computed from the time passed, so no timer runs.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::ConfigError;

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
    filled_at: Instant,
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
        config.validate()?;
        Ok(Self {
            config,
            bucket: Mutex::new(Bucket {
                tokens: config.max_tokens,
                filled_at: now,
            }),
        })
    }

    /// Takes a token at `now`; `false` when the bucket is empty.
    pub fn try_acquire(&self, now: Instant) -> bool {
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        self.refill(&mut bucket, now);
        if bucket.tokens == 0 {
            return false;
        }
        bucket.tokens -= 1;
        true
    }

    /// Tokens left at `now`.
    pub fn available(&self, now: Instant) -> u32 {
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        self.refill(&mut bucket, now);
        bucket.tokens
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let passed = now.saturating_duration_since(bucket.filled_at);
        let fills = passed.as_nanos() / self.config.fill_interval.as_nanos().max(1);
        if fills == 0 {
            return;
        }
        let added = fills.saturating_mul(u128::from(self.config.tokens_per_fill));
        let tokens = (u128::from(bucket.tokens) + added).min(u128::from(self.config.max_tokens));
        bucket.tokens = tokens as u32;
        // Keep the phase: the next fill is due one interval after the last.
        let fills = u32::try_from(fills).unwrap_or(u32::MAX);
        bucket.filled_at = bucket
            .filled_at
            .checked_add(self.config.fill_interval.saturating_mul(fills))
            .unwrap_or(now);
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
