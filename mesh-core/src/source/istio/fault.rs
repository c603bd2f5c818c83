//! `HTTPFaultInjection` → [`FaultPolicy`].
//!
//! `delay.fixedDelay` and `abort.httpStatus` / `abort.grpcStatus` (a
//! gRPC code name such as `UNAVAILABLE`, or its number) are supported,
//! each with `percentage.value` (or the deprecated integer `percent` of a
//! delay). As in Istio's translation, a fault without a percentage
//! applies to **no** request (Envoy reads the missing fraction as 0%).
//! `delay.exponentialDelay` and `abort.http2Error` are rejected: Istio
//! itself never implemented them. Istio has no header-controlled
//! faults, header matchers of their own (the route's match does that) or
//! `max_active_faults`.

use std::sync::Arc;
use std::time::Duration;

use super::spec::{AbortSpec, DelaySpec, FaultSpec, PercentSpec};
use super::values;
use crate::config::{AbortCode, ConfigError, FaultPolicy, FaultValue, Fraction, ResultExt};

/// gRPC status names, by code.
const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// Converts `fault`; `None` when it injects nothing.
pub(crate) fn convert(spec: &FaultSpec) -> Result<Option<Arc<FaultPolicy>>, ConfigError> {
    let delay = spec
        .delay
        .as_ref()
        .map(|d| delay(d).at("delay"))
        .transpose()?;
    let abort = spec
        .abort
        .as_ref()
        .map(|a| abort(a).at("abort"))
        .transpose()?;
    if delay.is_none() && abort.is_none() {
        return Ok(None);
    }
    Ok(Some(Arc::new(FaultPolicy {
        delay: delay.map(|(d, f)| (FaultValue::Fixed(d), f)),
        abort: abort.map(|(code, f)| (FaultValue::Fixed(code), f)),
        ..FaultPolicy::default()
    })))
}

fn delay(spec: &DelaySpec) -> Result<(Duration, Fraction), ConfigError> {
    if spec.exponential_delay.is_some() {
        return Err(ConfigError::field("exponentialDelay", "not supported"));
    }
    let fixed = spec
        .fixed_delay
        .as_deref()
        .ok_or_else(|| ConfigError::field("fixedDelay", "required"))?;
    let fixed = values::duration(fixed).at("fixedDelay")?;
    let fraction = match (spec.percentage, spec.percent) {
        (Some(p), _) => fraction(p).at("percentage")?,
        (None, Some(p)) if (0..=100).contains(&p) => Fraction::new(p as u64, 100),
        (None, Some(p)) => {
            return Err(ConfigError::field(
                "percent",
                format!("{p} is not within 0..=100"),
            ));
        }
        (None, None) => Fraction::new(0, 100),
    };
    Ok((fixed, fraction))
}

fn abort(spec: &AbortSpec) -> Result<(AbortCode, Fraction), ConfigError> {
    if spec.http2_error.is_some() {
        return Err(ConfigError::field("http2Error", "not supported"));
    }
    let code = match (spec.http_status, spec.grpc_status.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::field(
                "",
                "httpStatus and grpcStatus are mutually exclusive",
            ));
        }
        (Some(status), None) => AbortCode::Http(
            u16::try_from(status)
                .ok()
                .filter(|s| (200..=599).contains(s))
                .ok_or_else(|| {
                    ConfigError::field("httpStatus", format!("{status} is not within 200..=599"))
                })?,
        ),
        (None, Some(name)) => AbortCode::Grpc(grpc_code(name).at("grpcStatus")?),
        (None, None) => {
            return Err(ConfigError::field("", "needs httpStatus or grpcStatus"));
        }
    };
    let fraction = match spec.percentage {
        Some(p) => fraction(p).at("percentage")?,
        None => Fraction::new(0, 100),
    };
    Ok((code, fraction))
}

fn fraction(spec: PercentSpec) -> Result<Fraction, ConfigError> {
    values::percent(spec)
}

fn grpc_code(name: &str) -> Result<u32, ConfigError> {
    if let Some(code) = GRPC_CODES.iter().position(|n| *n == name) {
        return Ok(code as u32);
    }
    match name.parse::<u32>() {
        Ok(code) if (code as usize) < GRPC_CODES.len() => Ok(code),
        _ => Err(ConfigError::field(
            "",
            format!("unknown gRPC status {name:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_convert_with_istio_defaults() {
        let spec = FaultSpec {
            delay: Some(DelaySpec {
                fixed_delay: Some("5s".into()),
                percentage: Some(PercentSpec { value: 10.0 }),
                ..DelaySpec::default()
            }),
            abort: Some(AbortSpec {
                grpc_status: Some("UNAVAILABLE".into()),
                ..AbortSpec::default()
            }),
        };
        let f = convert(&spec).unwrap().unwrap();
        assert_eq!(
            f.delay,
            Some((
                FaultValue::Fixed(Duration::from_secs(5)),
                Fraction::new(10, 100)
            ))
        );
        assert_eq!(
            f.abort,
            Some((FaultValue::Fixed(AbortCode::Grpc(14)), Fraction::new(0, 1)))
        );
        assert!(convert(&FaultSpec::default()).unwrap().is_none());
        let bad = FaultSpec {
            abort: Some(AbortSpec {
                http_status: Some(700),
                ..AbortSpec::default()
            }),
            ..FaultSpec::default()
        };
        assert_eq!(convert(&bad).unwrap_err().field, "abort.httpStatus");
    }
}
