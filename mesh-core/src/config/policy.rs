//! Per-route policies: retries with backoff, mirroring (fault injection
//! is in `fault`).
//!
//! These are stored by the foundation and enforced by the resilience
//! layer. Defaults are Envoy's: one retry when a policy exists but says no
//! number, a 25 ms base backoff interval and a maximum of ten times it.

use std::time::Duration;

use super::{Backend, ConfigError};
use crate::rng::MeshRng;

/// Envoy's default base interval between retries.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(25);

/// The conditions under which a failed attempt is retried (Envoy's
/// `retry_on`), as a small bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryOn(u32);

impl RetryOn {
    /// Any 5xx response, a reset or a connect failure.
    pub const FIVE_XX: Self = Self(1);
    /// 502, 503 or 504.
    pub const GATEWAY_ERROR: Self = Self(1 << 1);
    /// The connection or stream was reset without a response.
    pub const RESET: Self = Self(1 << 2);
    /// The connection could not be established.
    pub const CONNECT_FAILURE: Self = Self(1 << 3);
    /// HTTP/2 `REFUSED_STREAM`.
    pub const REFUSED_STREAM: Self = Self(1 << 4);
    /// 409 Conflict.
    pub const RETRIABLE_4XX: Self = Self(1 << 5);
    /// A status listed in `retriable_status_codes`.
    pub const RETRIABLE_STATUS_CODES: Self = Self(1 << 6);
    /// A response header matching `retriable_headers`.
    pub const RETRIABLE_HEADERS: Self = Self(1 << 7);
    /// A reset before any byte of the request was sent.
    pub const RESET_BEFORE_REQUEST: Self = Self(1 << 8);
    /// gRPC status CANCELLED.
    pub const GRPC_CANCELLED: Self = Self(1 << 9);
    /// gRPC status DEADLINE_EXCEEDED.
    pub const GRPC_DEADLINE_EXCEEDED: Self = Self(1 << 10);
    /// gRPC status INTERNAL.
    pub const GRPC_INTERNAL: Self = Self(1 << 11);
    /// gRPC status RESOURCE_EXHAUSTED.
    pub const GRPC_RESOURCE_EXHAUSTED: Self = Self(1 << 12);
    /// gRPC status UNAVAILABLE.
    pub const GRPC_UNAVAILABLE: Self = Self(1 << 13);
    /// The `x-envoy-ratelimited` response header.
    pub const ENVOY_RATELIMITED: Self = Self(1 << 14);

    const NAMES: [(&'static str, Self); 16] = [
        ("5xx", Self::FIVE_XX),
        ("gateway-error", Self::GATEWAY_ERROR),
        ("reset", Self::RESET),
        ("connect-failure", Self::CONNECT_FAILURE),
        ("refused-stream", Self::REFUSED_STREAM),
        ("retriable-4xx", Self::RETRIABLE_4XX),
        ("retriable-status-codes", Self::RETRIABLE_STATUS_CODES),
        ("retriable-headers", Self::RETRIABLE_HEADERS),
        ("reset-before-request", Self::RESET_BEFORE_REQUEST),
        ("cancelled", Self::GRPC_CANCELLED),
        ("deadline-exceeded", Self::GRPC_DEADLINE_EXCEEDED),
        ("internal", Self::GRPC_INTERNAL),
        ("resource-exhausted", Self::GRPC_RESOURCE_EXHAUSTED),
        ("unavailable", Self::GRPC_UNAVAILABLE),
        ("envoy-ratelimited", Self::ENVOY_RATELIMITED),
        // Envoy's HTTP/3 condition: meaningless without HTTP/3, accepted.
        ("http3-post-connect-failure", Self(0)),
    ];

    /// No condition.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Whether every condition of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no condition is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses one condition name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// Parses Envoy's comma-separated list (blanks around names ignored).
    pub fn parse_list(list: &str) -> Result<Self, ConfigError> {
        let mut set = Self::empty();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            set |= Self::from_name(name).ok_or_else(|| {
                ConfigError::field("retry_on", format!("unknown retry condition {name:?}"))
            })?;
        }
        Ok(set)
    }

    /// The names of the set conditions, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .iter()
            .filter(move |(_, v)| !v.is_empty() && self.contains(*v))
            .map(|(n, _)| *n)
    }
}

impl std::ops::BitOr for RetryOn {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for RetryOn {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// How the wait between attempts grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackoffStrategy {
    /// `base * 2^n`, capped at the maximum (Envoy's only strategy).
    Exponential,
    /// `base * (n + 1)`, capped.
    Linear,
    /// Always `base`.
    Constant,
}

/// The wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first interval.
    pub base_interval: Duration,
    /// The cap on any interval.
    pub max_interval: Duration,
    /// How intervals grow.
    pub strategy: BackoffStrategy,
    /// Full jitter (a uniform wait in `[0, interval]`), Envoy's behaviour.
    pub jitter: bool,
}

impl Backoff {
    /// Envoy's backoff for a base interval: exponential, capped at ten
    /// times the base, fully jittered.
    pub fn envoy(base_interval: Duration) -> Self {
        Self {
            base_interval,
            max_interval: base_interval * 10,
            strategy: BackoffStrategy::Exponential,
            jitter: true,
        }
    }

    /// Checks `base > 0` and `max >= base`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.base_interval.is_zero() {
            return Err(ConfigError::field(
                "base_interval",
                "must be greater than zero",
            ));
        }
        if self.max_interval < self.base_interval {
            return Err(ConfigError::field(
                "max_interval",
                "must not be below base_interval",
            ));
        }
        Ok(())
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::envoy(DEFAULT_BACKOFF_BASE)
    }
}

/// Envoy's `RetryPolicy`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// When to retry.
    pub retry_on: RetryOn,
    /// Retries after the first attempt.
    pub num_retries: u32,
    /// The timeout of each attempt (`None`: only the route's).
    pub per_try_timeout: Option<Duration>,
    /// The wait between attempts.
    pub backoff: Backoff,
    /// Statuses retried under `retriable-status-codes`.
    pub retriable_status_codes: Vec<u16>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retry_on: RetryOn::empty(),
            num_retries: 1,
            per_try_timeout: None,
            backoff: Backoff::default(),
            retriable_status_codes: Vec::new(),
        }
    }
}

/// A fraction of requests, in parts per million (Envoy's
/// `FractionalPercent` normalized).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    per_million: u32,
}

impl Fraction {
    /// Every request.
    pub const ALL: Self = Self {
        per_million: 1_000_000,
    };

    /// `numerator / denominator`, clamped to 100% as Envoy does.
    pub fn new(numerator: u64, denominator: u64) -> Self {
        let ppm = numerator
            .saturating_mul(1_000_000)
            .checked_div(denominator)
            .map_or(0, |ppm| ppm.min(1_000_000));
        Self {
            per_million: ppm as u32,
        }
    }

    /// A percentage such as Istio's `10.0`; rejects values outside 0..=100.
    pub fn from_percent(percent: f64) -> Result<Self, ConfigError> {
        if !(0.0..=100.0).contains(&percent) {
            return Err(ConfigError::field(
                "value",
                format!("{percent} is not within 0..=100"),
            ));
        }
        Ok(Self {
            per_million: (percent * 10_000.0).round() as u32,
        })
    }

    /// Parts per million.
    pub fn per_million(self) -> u32 {
        self.per_million
    }

    /// Whether one request drawn with `rng` falls in the fraction.
    pub fn drawn(self, rng: &mut dyn MeshRng) -> bool {
        rng.below(1_000_000) < u64::from(self.per_million)
    }
}

/// Copy a fraction of requests to a shadow backend (fire and forget).
#[derive(Debug, Clone)]
pub struct MirrorPolicy {
    /// Where copies go.
    pub backend: Backend,
    /// Which fraction of requests is copied.
    pub fraction: Fraction,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_on_parses_lists_and_rejects_unknown_names() {
        let set = RetryOn::parse_list("5xx, reset,connect-failure,,").unwrap();
        assert!(set.contains(RetryOn::FIVE_XX | RetryOn::RESET | RetryOn::CONNECT_FAILURE));
        assert!(!set.contains(RetryOn::GATEWAY_ERROR));
        assert_eq!(
            set.names().collect::<Vec<_>>(),
            ["5xx", "reset", "connect-failure"]
        );
        let e = RetryOn::parse_list("5xx,sometimes").unwrap_err();
        assert_eq!(e.field, "retry_on");
        assert!(e.reason.contains("sometimes"));
    }

    #[test]
    fn fractions_normalize_and_clamp() {
        assert_eq!(Fraction::new(10, 100).per_million(), 100_000);
        assert_eq!(Fraction::new(5, 1).per_million(), 1_000_000);
        assert_eq!(Fraction::new(1, 0).per_million(), 0);
        assert_eq!(Fraction::from_percent(10.0).unwrap().per_million(), 100_000);
        assert!(Fraction::from_percent(100.5).is_err());
        assert!(Fraction::from_percent(f64::NAN).is_err());
    }

    #[test]
    fn backoff_validation() {
        assert!(Backoff::default().validate().is_ok());
        let zero = Backoff::envoy(Duration::ZERO);
        assert_eq!(zero.validate().unwrap_err().field, "base_interval");
        let inverted = Backoff {
            max_interval: Duration::from_millis(1),
            ..Backoff::envoy(Duration::from_millis(10))
        };
        assert_eq!(inverted.validate().unwrap_err().field, "max_interval");
    }
}
