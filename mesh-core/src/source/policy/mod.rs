//! The simple cross-language policy JSON.
//!
//! Every binding (C, Python, Java, Go) accepts the same small document to
//! set a service's timeout and retries without writing Istio or Envoy
//! configuration:
//!
//! ```json
//! {"service_timeout_ms": 800, "max_retries": 3,
//!  "backoff_strategy": "exponential", "jitter_enabled": true}
//! ```
//!
//! Parsing and applying live here, once, so every language behaves
//! identically; a binding only passes the text through. The format is
//! deliberately strict, because a typo that one language ignores and
//! another rejects is exactly the divergence this format exists to avoid:
//!
//! | field | type | |
//! |---|---|---|
//! | `service_timeout_ms` | integer > 0 | required: the overall timeout, retries included |
//! | `max_retries` | integer ≥ 0 | required: retries after the first attempt (0: none) |
//! | `backoff_strategy` | `"exponential"`, `"linear"` or `"constant"` | required |
//! | `jitter_enabled` | boolean | required: full jitter on each wait |
//! | `base_backoff_ms` | integer > 0 | optional, default 25 |
//! | `max_backoff_ms` | integer ≥ base | optional, default 10 × base |
//! | `retry_on` | string | optional, default `"5xx,reset,connect-failure,refused-stream"`; Envoy condition names, numbers are retriable statuses |
//! | `per_try_timeout_ms` | integer > 0 | optional: timeout of each attempt |
//! | `hedge_delay_ms` | integer > 0 | optional: send a backup attempt to another host when none has answered after this long (gRFC A6 hedging; needs `max_retries` > 0, which hedges share) |
//! | `max_hedges` | integer, 1 ≤ n ≤ `max_retries` | optional with `hedge_delay_ms`, default `max_retries` |
//! | `rate_limit_per_second` | integer > 0 | optional: a local rate limit on the whole service, one token bucket refilled by this many tokens each second; a refused request fails with `RateLimited` |
//! | `rate_limit_burst` | integer > 0 | optional with `rate_limit_per_second`: the bucket's size, default `rate_limit_per_second` |
//! | `circuit_breaker_enabled`, `breaker_*` | | optional: a closed/open/half-open breaker per route (see the `breaker` module) |
//!
//! Unknown fields, duplicate fields, wrong types (including `800.0` for
//! an integer) and out-of-range values are errors whose `resource` is
//! `policy` and whose `field` is the member's name.
//!
//! [`ServicePolicy::apply`] then **overrides** the timeout and retry
//! policy of every route serving a host (whatever a VirtualService or
//! Envoy route said): the policy is the service owner's last word.

mod apply;
mod breaker;
mod json;

#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::config::{ConfigError, RetryPolicy};
use crate::resilience::breaker::BreakerConfig;
use crate::resilience::ratelimit::TokenBucketConfig;
use crate::resilience::retry::HedgePolicy;

/// The resource name of every policy error.
const RESOURCE: &str = "policy";

/// A parsed, validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePolicy {
    /// The overall timeout of a request, retries included.
    pub timeout: Duration,
    /// The retry policy; `None` when `max_retries` is 0.
    pub retry: Option<RetryPolicy>,
    /// Backup attempts after a delay, when `hedge_delay_ms` is set.
    pub hedge: Option<HedgePolicy>,
    /// The service's token bucket, when `rate_limit_per_second` is set.
    pub rate_limit: Option<TokenBucketConfig>,
    /// The state-machine breaker each route gets, when enabled.
    pub breaker: Option<BreakerConfig>,
}

impl ServicePolicy {
    /// Parses and validates the policy JSON.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        json::parse(text).map_err(|e| e.in_resource(RESOURCE))
    }
}

impl TryFrom<&str> for ServicePolicy {
    type Error = ConfigError;

    fn try_from(text: &str) -> Result<Self, ConfigError> {
        Self::from_json(text)
    }
}

impl std::str::FromStr for ServicePolicy {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, ConfigError> {
        Self::from_json(text)
    }
}
