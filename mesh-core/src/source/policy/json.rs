//! Strict reading of the policy JSON.
//!
//! serde's derive would report a wrong type without naming the field and
//! would not notice a member given twice, so the object is read as an
//! ordered list of members and each field is checked by hand, with its
//! name in the error.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::Value;

use super::{ServicePolicy, breaker};
use crate::config::{Backoff, BackoffStrategy, ConfigError, ResultExt, RetryPolicy};
use crate::resilience::ratelimit::TokenBucketConfig;
use crate::resilience::retry::HedgePolicy;
use crate::source::istio::parse_retry_on;

/// Envoy's default base interval, in milliseconds.
const DEFAULT_BASE_BACKOFF_MS: u64 = 25;
/// The retry conditions when `retry_on` is absent.
const DEFAULT_RETRY_ON: &str = "5xx,reset,connect-failure,refused-stream";

const RETRY_FIELDS: [&str; 12] = [
    "service_timeout_ms",
    "max_retries",
    "backoff_strategy",
    "jitter_enabled",
    "base_backoff_ms",
    "max_backoff_ms",
    "retry_on",
    "per_try_timeout_ms",
    "hedge_delay_ms",
    "max_hedges",
    "rate_limit_per_second",
    "rate_limit_burst",
];

/// Parses the policy; errors have a field but no resource yet.
pub(super) fn parse(text: &str) -> Result<ServicePolicy, ConfigError> {
    let Members(members) = serde_json::from_str(text)
        .map_err(|e| ConfigError::field("", format!("invalid policy JSON: {e}")))?;
    let fields = || RETRY_FIELDS.iter().chain(&breaker::FIELDS);
    for (i, (name, _)) in members.iter().enumerate() {
        if !fields().any(|f| f == name) {
            let expected: Vec<&str> = fields().copied().collect();
            return Err(ConfigError::field(
                name.as_str(),
                format!("unknown field; expected one of {}", expected.join(", ")),
            ));
        }
        if members[..i].iter().any(|(n, _)| n == name) {
            return Err(ConfigError::field(name.as_str(), "duplicate field"));
        }
    }
    let get = |name: &str| members.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let required =
        |name: &'static str| get(name).ok_or_else(|| ConfigError::field(name, "required"));

    let timeout_ms = positive(required("service_timeout_ms")?).at("service_timeout_ms")?;
    let max_retries = integer(required("max_retries")?)
        .and_then(|n| {
            u32::try_from(n).map_err(|_| ConfigError::field("", format!("{n} is too large")))
        })
        .at("max_retries")?;
    let strategy = strategy(required("backoff_strategy")?).at("backoff_strategy")?;
    let jitter = boolean(required("jitter_enabled")?).at("jitter_enabled")?;
    let base_ms = get("base_backoff_ms")
        .map(|v| positive(v).at("base_backoff_ms"))
        .transpose()?
        .unwrap_or(DEFAULT_BASE_BACKOFF_MS);
    let max_ms = get("max_backoff_ms")
        .map(|v| integer(v).at("max_backoff_ms"))
        .transpose()?
        .unwrap_or_else(|| base_ms.saturating_mul(10));
    if max_ms < base_ms {
        return Err(ConfigError::field(
            "max_backoff_ms",
            format!("{max_ms} is below base_backoff_ms ({base_ms})"),
        ));
    }
    let retry_on_text = get("retry_on")
        .map(|v| string(v).at("retry_on"))
        .transpose()?
        .unwrap_or(DEFAULT_RETRY_ON);
    let (retry_on, codes) = parse_retry_on(retry_on_text).at("retry_on")?;
    if retry_on.is_empty() {
        return Err(ConfigError::field(
            "retry_on",
            "must name at least one condition",
        ));
    }
    let per_try_timeout = get("per_try_timeout_ms")
        .map(|v| positive(v).at("per_try_timeout_ms"))
        .transpose()?
        .map(Duration::from_millis);

    let hedge = hedge(get, max_retries)?;

    let backoff = Backoff {
        base_interval: Duration::from_millis(base_ms),
        max_interval: Duration::from_millis(max_ms),
        strategy,
        jitter,
    };
    let retry = (max_retries > 0).then_some(RetryPolicy {
        retry_on,
        num_retries: max_retries,
        per_try_timeout,
        backoff,
        retriable_status_codes: codes,
    });
    Ok(ServicePolicy {
        timeout: Duration::from_millis(timeout_ms),
        retry,
        hedge,
        rate_limit: rate_limit(&get)?,
        breaker: breaker::parse(get)?,
    })
}

/// `rate_limit_per_second` and `rate_limit_burst`: a bucket refilled each
/// second, as large as the burst.
fn rate_limit<'v>(
    get: &impl Fn(&str) -> Option<&'v Value>,
) -> Result<Option<TokenBucketConfig>, ConfigError> {
    let count = |name: &str, v: &Value| {
        positive(v)
            .and_then(|n| {
                u32::try_from(n).map_err(|_| ConfigError::field("", format!("{n} is too large")))
            })
            .at(name)
    };
    let Some(rate) = get("rate_limit_per_second") else {
        if get("rate_limit_burst").is_some() {
            return Err(ConfigError::field(
                "rate_limit_burst",
                "needs rate_limit_per_second",
            ));
        }
        return Ok(None);
    };
    let rate = count("rate_limit_per_second", rate)?;
    let burst = get("rate_limit_burst")
        .map(|v| count("rate_limit_burst", v))
        .transpose()?
        .unwrap_or(rate);
    Ok(Some(TokenBucketConfig {
        max_tokens: burst,
        tokens_per_fill: rate,
        fill_interval: Duration::from_secs(1),
    }))
}

/// `hedge_delay_ms` and `max_hedges`: hedges count against `max_retries`,
/// so hedging needs retries, and no more hedges than retries.
fn hedge<'v>(
    get: impl Fn(&str) -> Option<&'v Value>,
    max_retries: u32,
) -> Result<Option<HedgePolicy>, ConfigError> {
    let Some(delay) = get("hedge_delay_ms") else {
        if get("max_hedges").is_some() {
            return Err(ConfigError::field(
                "max_hedges",
                "needs hedge_delay_ms (there is no hedging without a delay)",
            ));
        }
        return Ok(None);
    };
    let delay = positive(delay).at("hedge_delay_ms")?;
    if max_retries == 0 {
        return Err(ConfigError::field(
            "hedge_delay_ms",
            "needs max_retries > 0: hedges count against it",
        ));
    }
    let max_hedges = match get("max_hedges") {
        None => max_retries,
        Some(v) => {
            let n = positive(v).at("max_hedges")?;
            u32::try_from(n)
                .ok()
                .filter(|n| *n <= max_retries)
                .ok_or_else(|| {
                    ConfigError::field(
                        "max_hedges",
                        format!("{n} is above max_retries ({max_retries})"),
                    )
                })?
        }
    };
    Ok(Some(HedgePolicy {
        delay: Duration::from_millis(delay),
        max_hedges,
    }))
}

pub(super) fn integer(value: &Value) -> Result<u64, ConfigError> {
    value.as_u64().ok_or_else(|| {
        ConfigError::field(
            "",
            format!("must be a non-negative integer, not {}", describe(value)),
        )
    })
}

pub(super) fn positive(value: &Value) -> Result<u64, ConfigError> {
    match integer(value)? {
        0 => Err(ConfigError::field("", "must be greater than zero")),
        n => Ok(n),
    }
}

pub(super) fn boolean(value: &Value) -> Result<bool, ConfigError> {
    value.as_bool().ok_or_else(|| {
        ConfigError::field(
            "",
            format!("must be true or false, not {}", describe(value)),
        )
    })
}

fn string(value: &Value) -> Result<&str, ConfigError> {
    value
        .as_str()
        .ok_or_else(|| ConfigError::field("", format!("must be a string, not {}", describe(value))))
}

fn strategy(value: &Value) -> Result<BackoffStrategy, ConfigError> {
    match string(value)? {
        "exponential" => Ok(BackoffStrategy::Exponential),
        "linear" => Ok(BackoffStrategy::Linear),
        "constant" => Ok(BackoffStrategy::Constant),
        other => Err(ConfigError::field(
            "",
            format!("{other:?} is not one of \"exponential\", \"linear\", \"constant\""),
        )),
    }
}

/// A value's JSON type, for messages (values themselves may be huge).
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(n) if n.is_i64() => "a negative number",
        Value::Number(_) => "a number out of range",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object's members in document order, duplicates kept.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;

        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }

        deserializer.deserialize_map(MembersVisitor)
    }
}
