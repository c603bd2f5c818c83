//! Which outcomes a policy retries: Envoy's `retry_on`, condition by
//! condition.
//!
//! The rules follow Envoy's `RetryStateImpl` (`wouldRetryFromHeaders`,
//! `wouldRetryFromReset`) rather than only its prose docs, because the two
//! differ at the edges:
//!
//! - A failure without a response (reset, connect failure, refused stream,
//!   per-try timeout) is retried under `5xx`, `gateway-error` and `reset`:
//!   Envoy counts an upstream reset as a 5xx, since it becomes one.
//!   `connect-failure` and `refused-stream` are the narrow forms;
//!   `reset-before-request` covers resets before any request byte left,
//!   and connect failures.
//! - A local overflow ([`FailureKind::Overloaded`]) is never retried, and
//!   neither is a response carrying `x-envoy-overloaded`.
//! - A response carrying `x-envoy-ratelimited` is retried only under
//!   `envoy-ratelimited`, whatever its status.
//! - `gateway-error` is 502, 503 and 504; `retriable-4xx` is 409 only;
//!   gRPC conditions read `grpc-status` (1, 4, 8, 13, 14).
//! - gRFC A6: a `grpc-retry-pushback-ms` that is negative or unparsable
//!   stops retries even when a condition matches.
//!
//! Deviation: Envoy retries a listed 425 (Too Early) only when the
//! downstream request was not early data; we have no early data, so 425 is
//! like any listed status.

use crate::config::{RetryOn, RetryPolicy};

use super::outcome::{FailureKind, Outcome, Response};
use super::pushback::PushBack;

/// gRPC status codes Envoy's gRPC conditions look at.
mod grpc {
    pub(super) const CANCELLED: u32 = 1;
    pub(super) const DEADLINE_EXCEEDED: u32 = 4;
    pub(super) const RESOURCE_EXHAUSTED: u32 = 8;
    pub(super) const INTERNAL: u32 = 13;
    pub(super) const UNAVAILABLE: u32 = 14;
}

/// Whether `policy` retries `outcome`: a `retry_on` condition matches and
/// no pushback forbids it.
pub fn is_retriable(policy: &RetryPolicy, outcome: &Outcome) -> bool {
    matches_condition(policy, outcome) && !forbids_retry(outcome)
}

/// Whether a `retry_on` condition of `policy` covers `outcome`, ignoring
/// pushback.
pub(super) fn matches_condition(policy: &RetryPolicy, outcome: &Outcome) -> bool {
    let on = policy.retry_on;
    if on.is_empty() {
        return false;
    }
    match outcome {
        Outcome::Failure(kind) => failure_matches(on, *kind),
        Outcome::Response(r) => response_matches(policy, on, r),
    }
}

/// Whether the server said "do not retry" (gRFC A6 pushback).
pub(super) fn forbids_retry(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Response(Response {
            grpc_pushback: Some(PushBack::DoNotRetry),
            ..
        })
    )
}

fn failure_matches(on: RetryOn, kind: FailureKind) -> bool {
    match kind {
        FailureKind::Overloaded => false,
        FailureKind::ConnectFailure
            if on.contains(RetryOn::CONNECT_FAILURE)
                || on.contains(RetryOn::RESET_BEFORE_REQUEST) =>
        {
            true
        }
        FailureKind::ResetBeforeRequest if on.contains(RetryOn::RESET_BEFORE_REQUEST) => true,
        FailureKind::RefusedStream if on.contains(RetryOn::REFUSED_STREAM) => true,
        // Every reset, including connect failures, refused streams and
        // per-try timeouts, counts as a 5xx and a gateway error.
        _ => {
            on.contains(RetryOn::RESET)
                || on.contains(RetryOn::FIVE_XX)
                || on.contains(RetryOn::GATEWAY_ERROR)
        }
    }
}

fn response_matches(policy: &RetryPolicy, on: RetryOn, r: &Response) -> bool {
    if r.envoy_overloaded {
        return false;
    }
    if r.envoy_ratelimited {
        return on.contains(RetryOn::ENVOY_RATELIMITED);
    }
    let status = r.status;
    (on.contains(RetryOn::FIVE_XX) && (500..600).contains(&status))
        || (on.contains(RetryOn::GATEWAY_ERROR) && matches!(status, 502..=504))
        || (on.contains(RetryOn::RETRIABLE_4XX) && status == 409)
        || (on.contains(RetryOn::RETRIABLE_STATUS_CODES)
            && policy.retriable_status_codes.contains(&status))
        || (on.contains(RetryOn::RETRIABLE_HEADERS) && r.retriable_header)
        || r.grpc_status.is_some_and(|code| grpc_matches(on, code))
}

fn grpc_matches(on: RetryOn, code: u32) -> bool {
    let condition = match code {
        grpc::CANCELLED => RetryOn::GRPC_CANCELLED,
        grpc::DEADLINE_EXCEEDED => RetryOn::GRPC_DEADLINE_EXCEEDED,
        grpc::RESOURCE_EXHAUSTED => RetryOn::GRPC_RESOURCE_EXHAUSTED,
        grpc::INTERNAL => RetryOn::GRPC_INTERNAL,
        grpc::UNAVAILABLE => RetryOn::GRPC_UNAVAILABLE,
        _ => return false,
    };
    on.contains(condition)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn policy(list: &str) -> RetryPolicy {
        RetryPolicy {
            retry_on: RetryOn::parse_list(list).unwrap(),
            retriable_status_codes: vec![418, 429],
            ..RetryPolicy::default()
        }
    }

    /// `(status, condition, retried?)` for every HTTP status condition.
    #[test]
    fn status_conditions_table() {
        let table: &[(u16, &str, bool)] = &[
            (500, "5xx", true),
            (501, "5xx", true),
            (502, "5xx", true),
            (503, "5xx", true),
            (504, "5xx", true),
            (599, "5xx", true),
            (200, "5xx", false),
            (404, "5xx", false),
            (409, "5xx", false),
            (429, "5xx", false),
            (600, "5xx", false),
            (500, "gateway-error", false),
            (501, "gateway-error", false),
            (502, "gateway-error", true),
            (503, "gateway-error", true),
            (504, "gateway-error", true),
            (505, "gateway-error", false),
            (409, "retriable-4xx", true),
            (400, "retriable-4xx", false),
            (429, "retriable-4xx", false),
            (503, "retriable-4xx", false),
            (418, "retriable-status-codes", true),
            (429, "retriable-status-codes", true),
            (503, "retriable-status-codes", false),
            (503, "reset", false),
            (503, "connect-failure", false),
            (503, "refused-stream", false),
            (503, "reset-before-request", false),
            (503, "unavailable", false),
            (503, "retriable-headers", false),
            (429, "envoy-ratelimited", false),
        ];
        for &(status, condition, expected) in table {
            assert_eq!(
                is_retriable(&policy(condition), &Outcome::status(status)),
                expected,
                "{status} under {condition}"
            );
        }
    }

    /// `(failure, condition, retried?)` for every failure kind.
    #[test]
    fn failure_conditions_table() {
        use FailureKind::*;
        let table: &[(FailureKind, &str, bool)] = &[
            (ConnectFailure, "5xx", true),
            (Reset, "5xx", true),
            (ResetBeforeRequest, "5xx", true),
            (RefusedStream, "5xx", true),
            (Timeout, "5xx", true),
            (ConnectFailure, "gateway-error", true),
            (Reset, "gateway-error", true),
            (RefusedStream, "gateway-error", true),
            (Timeout, "gateway-error", true),
            (ConnectFailure, "reset", true),
            (Reset, "reset", true),
            (RefusedStream, "reset", true),
            (Timeout, "reset", true),
            (ConnectFailure, "connect-failure", true),
            (Reset, "connect-failure", false),
            (RefusedStream, "connect-failure", false),
            (Timeout, "connect-failure", false),
            (RefusedStream, "refused-stream", true),
            (Reset, "refused-stream", false),
            (ConnectFailure, "refused-stream", false),
            (ResetBeforeRequest, "reset-before-request", true),
            (ConnectFailure, "reset-before-request", true),
            (Reset, "reset-before-request", false),
            (Timeout, "reset-before-request", false),
            (Reset, "retriable-4xx", false),
            (Reset, "retriable-status-codes", false),
            (Reset, "unavailable", false),
        ];
        for &(kind, condition, expected) in table {
            assert_eq!(
                is_retriable(&policy(condition), &Outcome::Failure(kind)),
                expected,
                "{kind:?} under {condition}"
            );
        }
    }

    #[test]
    fn local_overload_is_never_retried() {
        let all =
            policy("5xx,gateway-error,reset,connect-failure,refused-stream,reset-before-request");
        assert!(!is_retriable(
            &all,
            &Outcome::Failure(FailureKind::Overloaded)
        ));
        let mut overloaded = Response::new(503);
        overloaded.envoy_overloaded = true;
        assert!(!is_retriable(&all, &overloaded.into()));
    }

    /// `(grpc-status, condition, retried?)`.
    #[test]
    fn grpc_conditions_table() {
        let table: &[(u32, &str, bool)] = &[
            (1, "cancelled", true),
            (4, "deadline-exceeded", true),
            (8, "resource-exhausted", true),
            (13, "internal", true),
            (14, "unavailable", true),
            (14, "cancelled", false),
            (1, "unavailable", false),
            (
                0,
                "cancelled,deadline-exceeded,internal,resource-exhausted,unavailable",
                false,
            ),
            (
                2,
                "cancelled,deadline-exceeded,internal,resource-exhausted,unavailable",
                false,
            ),
            (14, "5xx", false),
        ];
        for &(code, condition, expected) in table {
            assert_eq!(
                is_retriable(&policy(condition), &Outcome::grpc(code)),
                expected,
                "grpc-status {code} under {condition}"
            );
        }
    }

    #[test]
    fn grpc_status_on_an_http_error_matches_either_condition() {
        let outcome = Outcome::Response(Response::new(503).with_grpc_status(14));
        assert!(is_retriable(&policy("unavailable"), &outcome));
        assert!(is_retriable(&policy("5xx"), &outcome));
    }

    #[test]
    fn ratelimited_responses_are_retried_only_under_envoy_ratelimited() {
        let mut r = Response::new(503);
        r.envoy_ratelimited = true;
        assert!(!is_retriable(&policy("5xx,gateway-error"), &r.into()));
        assert!(is_retriable(&policy("envoy-ratelimited"), &r.into()));
    }

    #[test]
    fn retriable_headers_use_the_callers_match() {
        let mut r = Response::new(200);
        assert!(!is_retriable(&policy("retriable-headers"), &r.into()));
        r.retriable_header = true;
        assert!(is_retriable(&policy("retriable-headers"), &r.into()));
        assert!(!is_retriable(&policy("5xx"), &r.into()));
    }

    #[test]
    fn pushback_do_not_retry_overrides_every_condition() {
        let stop = Response::new(200)
            .with_grpc_status(14)
            .with_pushback(PushBack::DoNotRetry);
        assert!(!is_retriable(&policy("unavailable"), &stop.into()));
        let wait = Response::new(200)
            .with_grpc_status(14)
            .with_pushback(PushBack::Delay(Duration::from_millis(5)));
        assert!(is_retriable(&policy("unavailable"), &wait.into()));
    }

    #[test]
    fn empty_policy_retries_nothing() {
        let p = RetryPolicy::default();
        assert!(!is_retriable(&p, &Outcome::status(503)));
        assert!(!is_retriable(&p, &Outcome::Failure(FailureKind::Reset)));
    }
}
