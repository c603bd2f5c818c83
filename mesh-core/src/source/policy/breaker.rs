//! The policy's optional state-machine circuit breaker.
//!
//! Flat members, so every language writes them the same way:
//!
//! | field | type | |
//! |---|---|---|
//! | `circuit_breaker_enabled` | boolean | optional, default false; the other `breaker_*` fields need it true |
//! | `breaker_failure_rate_percent` | number in (0, 100] | default 50 |
//! | `breaker_slow_call_rate_percent` | number in (0, 100] | default 100 |
//! | `breaker_slow_call_ms` | integer > 0 | default 60 000 |
//! | `breaker_window_calls` | integer > 0 | the last N calls (default 100) |
//! | `breaker_window_ms` | integer > 0 | or the calls of the last T (exclusive with `breaker_window_calls`) |
//! | `breaker_minimum_calls` | integer > 0 | default 100 |
//! | `breaker_open_ms` | integer > 0 | default 60 000 |
//! | `breaker_half_open_calls` | integer > 0 | default 10 |
//!
//! Defaults are resilience4j's. A call is one request (its retries
//! included); it failed when its answer is an error (5xx, a gRPC error
//! status, a transport failure or a timeout).

use std::time::Duration;

use serde_json::Value;

use super::json::{boolean, integer, positive};
use crate::config::{ConfigError, ResultExt};
use crate::resilience::breaker::{BreakerConfig, Window};

/// The breaker members.
pub(super) const FIELDS: [&str; 9] = [
    "circuit_breaker_enabled",
    "breaker_failure_rate_percent",
    "breaker_slow_call_rate_percent",
    "breaker_slow_call_ms",
    "breaker_window_calls",
    "breaker_window_ms",
    "breaker_minimum_calls",
    "breaker_open_ms",
    "breaker_half_open_calls",
];

/// The breaker the members describe, if enabled.
pub(super) fn parse<'v>(
    get: impl Fn(&str) -> Option<&'v Value>,
) -> Result<Option<BreakerConfig>, ConfigError> {
    let enabled = get(FIELDS[0])
        .map(|v| boolean(v).at(FIELDS[0]))
        .transpose()?
        .unwrap_or(false);
    if !enabled {
        return match FIELDS[1..].iter().find(|f| get(f).is_some()) {
            Some(field) => Err(ConfigError::field(
                *field,
                "needs \"circuit_breaker_enabled\": true",
            )),
            None => Ok(None),
        };
    }
    let mut config = BreakerConfig::default();
    let percent = |field: &str| -> Result<Option<f64>, ConfigError> {
        get(field)
            .map(|v| {
                v.as_f64()
                    .ok_or_else(|| ConfigError::field(field, "must be a number"))
            })
            .transpose()
    };
    let millis = |field: &str| -> Result<Option<Duration>, ConfigError> {
        get(field)
            .map(|v| positive(v).at(field).map(Duration::from_millis))
            .transpose()
    };
    let count = |field: &str| -> Result<Option<u32>, ConfigError> {
        get(field)
            .map(|v| {
                let n = integer(v).at(field)?;
                u32::try_from(n).map_err(|_| ConfigError::field(field, format!("{n} is too large")))
            })
            .transpose()
    };
    if let Some(p) = percent("breaker_failure_rate_percent")? {
        config.failure_rate_threshold = p;
    }
    if let Some(p) = percent("breaker_slow_call_rate_percent")? {
        config.slow_call_rate_threshold = p;
    }
    if let Some(d) = millis("breaker_slow_call_ms")? {
        config.slow_call_duration = d;
    }
    match (count("breaker_window_calls")?, millis("breaker_window_ms")?) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::field(
                "breaker_window_ms",
                "breaker_window_calls and breaker_window_ms are exclusive",
            ));
        }
        (Some(n), None) => config.window = Window::Count(n),
        (None, Some(d)) => config.window = Window::Time(d),
        (None, None) => {}
    }
    if let Some(n) = count("breaker_minimum_calls")? {
        config.minimum_calls = n;
    }
    if let Some(d) = millis("breaker_open_ms")? {
        config.wait_in_open = d;
    }
    if let Some(n) = count("breaker_half_open_calls")? {
        config.permitted_calls_in_half_open = n;
    }
    config.validate().map_err(|e| {
        let field = match e.field.as_str() {
            "failure_rate_threshold" => "breaker_failure_rate_percent",
            "slow_call_rate_threshold" => "breaker_slow_call_rate_percent",
            "minimum_calls" => "breaker_minimum_calls",
            "permitted_calls_in_half_open" => "breaker_half_open_calls",
            "sliding_window_size" => "breaker_window_calls",
            other => other,
        };
        ConfigError::field(field, e.reason)
    })?;
    Ok(Some(config))
}
