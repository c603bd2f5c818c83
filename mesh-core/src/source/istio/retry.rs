//! `HTTPRetry` → [`RetryPolicy`], with Istio's defaults.
//!
//! Istio gives every outbound route a retry policy: without `retries`,
//! two retries on `connect-failure,refused-stream,unavailable,cancelled,
//! retriable-status-codes` with status 503 (its `DefaultPolicy`). With
//! `retries`, `attempts` ≤ 0 disables retrying; otherwise the default is
//! overridden: `attempts` is the number of retries, `perTryTimeout` the
//! per-attempt timeout, and `retryOn` *replaces* the conditions. In
//! `retryOn`, numeric tokens (`503`) are retriable status codes and imply
//! `retriable-status-codes`; names are Envoy's (`5xx`, `gateway-error`,
//! `reset`, `connect-failure`, `refused-stream`, `retriable-4xx`, the
//! gRPC names `cancelled`, `deadline-exceeded`, `internal`,
//! `resource-exhausted`, `unavailable`, ...); an unknown name is an error.
//! Backoff is Envoy's default (25 ms base, exponential, jittered).

use super::spec::RetrySpec;
use super::values;
use crate::config::{ConfigError, ResultExt, RetryOn, RetryPolicy};

/// Istio's retry policy for routes that set none.
pub(crate) fn istio_default() -> RetryPolicy {
    RetryPolicy {
        retry_on: RetryOn::CONNECT_FAILURE
            | RetryOn::REFUSED_STREAM
            | RetryOn::GRPC_UNAVAILABLE
            | RetryOn::GRPC_CANCELLED
            | RetryOn::RETRIABLE_STATUS_CODES,
        num_retries: 2,
        retriable_status_codes: vec![503],
        ..RetryPolicy::default()
    }
}

/// The retry policy of a route whose `retries` is `spec`.
pub(crate) fn convert(spec: Option<&RetrySpec>) -> Result<Option<RetryPolicy>, ConfigError> {
    let Some(spec) = spec else {
        return Ok(Some(istio_default()));
    };
    let mut policy = istio_default();
    if let Some(list) = spec.retry_on.as_deref().filter(|l| !l.trim().is_empty()) {
        let (retry_on, codes) = parse_retry_on(list).at("retryOn")?;
        policy.retry_on = retry_on;
        policy.retriable_status_codes = codes;
    }
    if let Some(timeout) = &spec.per_try_timeout {
        policy.per_try_timeout = Some(values::duration(timeout).at("perTryTimeout")?);
    }
    if spec.attempts <= 0 {
        return Ok(None);
    }
    policy.num_retries = values::count(spec.attempts).at("attempts")?;
    Ok(Some(policy))
}

/// Parses a comma-separated list of retry conditions where numeric
/// tokens are HTTP statuses (`5xx,503`), as Istio's `retryOn` and the
/// policy JSON's `retry_on` write it. The error's field is empty.
pub(crate) fn parse_retry_on(list: &str) -> Result<(RetryOn, Vec<u16>), ConfigError> {
    let mut set = RetryOn::empty();
    let mut codes: Vec<u16> = Vec::new();
    for token in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if token.bytes().all(|b| b.is_ascii_digit()) {
            let code = token
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| {
                    ConfigError::field("", format!("{token} is not an HTTP status (100..=599)"))
                })?;
            if !codes.contains(&code) {
                codes.push(code);
            }
            set |= RetryOn::RETRIABLE_STATUS_CODES;
        } else {
            set |= RetryOn::from_name(token).ok_or_else(|| {
                ConfigError::field("", format!("unknown retry condition {token:?}"))
            })?;
        }
    }
    Ok((set, codes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_on_mixes_names_and_codes() {
        let (set, codes) = parse_retry_on("5xx, 503,reset,429,503").unwrap();
        assert!(set.contains(RetryOn::FIVE_XX | RetryOn::RESET | RetryOn::RETRIABLE_STATUS_CODES));
        assert_eq!(codes, [503, 429]);
        assert!(
            parse_retry_on("5xx,sometimes")
                .unwrap_err()
                .reason
                .contains("sometimes")
        );
        assert!(parse_retry_on("99").is_err());
        assert!(parse_retry_on("99999999999999999999").is_err());
    }

    #[test]
    fn defaults_and_overrides() {
        let default = convert(None).unwrap().unwrap();
        assert_eq!(default.num_retries, 2);
        assert_eq!(default.retriable_status_codes, [503]);
        let off = RetrySpec {
            attempts: 0,
            ..RetrySpec::default()
        };
        assert!(convert(Some(&off)).unwrap().is_none());
        let three = RetrySpec {
            attempts: 3,
            ..RetrySpec::default()
        };
        let p = convert(Some(&three)).unwrap().unwrap();
        assert_eq!((p.num_retries, p.retry_on), (3, default.retry_on));
    }
}
