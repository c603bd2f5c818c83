//! What one call to an endpoint came to, as outlier detection sees it.
//!
//! Envoy tells two origins apart: *external* outcomes are what the
//! endpoint answered (an HTTP status), *local* ones are what happened on
//! our side of the wire (the connection failed or was reset, or no answer
//! came in time). With `split_external_local_origin_errors` off, Envoy's
//! router turns local failures into the status it would answer itself
//! (503 for a failed connection or a reset, 504 for a timeout) and every
//! detector sees only statuses; with it on, local failures feed their own
//! detectors and a status also proves the connection worked.

use crate::resilience::retry::{FailureKind, Outcome};

/// The outcome of one call (one attempt) to an endpoint.
///
/// For gRPC, report the HTTP status the gRPC status maps to when the HTTP
/// status itself is 200 (`UNAVAILABLE` is 503, `DEADLINE_EXCEEDED` 504,
/// `INTERNAL` and `UNKNOWN` 500, ...), as Envoy's router does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    /// The endpoint answered with this HTTP status (external origin).
    Status(u16),
    /// The connection could not be made (local origin).
    ConnectFailed,
    /// The connection or stream was reset before the answer (local origin).
    Reset,
    /// No answer within the (per-try) timeout (local origin).
    Timeout,
}

impl CallResult {
    /// The status Envoy's router reports for this outcome when the origins
    /// are not split.
    pub fn as_status(self) -> u16 {
        match self {
            Self::Status(code) => code,
            Self::ConnectFailed | Self::Reset => 503,
            Self::Timeout => 504,
        }
    }

    /// Whether the failure happened on our side of the wire.
    pub fn is_local_origin(self) -> bool {
        !matches!(self, Self::Status(_))
    }
}

impl CallResult {
    /// What an attempt's outcome means for outlier detection; `None` for
    /// a local breaker's refusal, which says nothing about the endpoint.
    /// A gRPC status on an HTTP 200 counts as the HTTP status Envoy maps
    /// it to.
    pub fn of(outcome: &Outcome) -> Option<Self> {
        match outcome {
            Outcome::Response(r) => Some(Self::Status(match r.grpc_status {
                Some(code) if r.status == 200 => grpc_to_http(code),
                _ => r.status,
            })),
            Outcome::Failure(kind) => match kind {
                FailureKind::ConnectFailure => Some(Self::ConnectFailed),
                FailureKind::Reset
                | FailureKind::ResetBeforeRequest
                | FailureKind::RefusedStream => Some(Self::Reset),
                FailureKind::Timeout => Some(Self::Timeout),
                FailureKind::Overloaded => None,
            },
        }
    }
}

/// Envoy's gRPC → HTTP status mapping (`Grpc::Utility::grpcToHttpStatus`).
fn grpc_to_http(code: u32) -> u16 {
    match code {
        0 => 200,
        1 => 499,
        3 | 9 | 11 => 400,
        4 => 504,
        5 => 404,
        6 | 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        _ => 500,
    }
}

/// A 5xx status.
pub(super) fn is_5xx(code: u16) -> bool {
    (500..600).contains(&code)
}

/// Envoy's "gateway error": 502, 503 or 504.
pub(super) fn is_gateway_error(code: u16) -> bool {
    matches!(code, 502..=504)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_failures_map_to_the_status_envoy_answers() {
        assert_eq!(CallResult::ConnectFailed.as_status(), 503);
        assert_eq!(CallResult::Reset.as_status(), 503);
        assert_eq!(CallResult::Timeout.as_status(), 504);
        assert_eq!(CallResult::Status(418).as_status(), 418);
        assert!(CallResult::Timeout.is_local_origin());
        assert!(!CallResult::Status(503).is_local_origin());
    }

    #[test]
    fn outcomes_map_as_envoy_reports_them() {
        assert_eq!(
            CallResult::of(&Outcome::status(502)),
            Some(CallResult::Status(502))
        );
        assert_eq!(
            CallResult::of(&Outcome::grpc(14)),
            Some(CallResult::Status(503))
        );
        assert_eq!(
            CallResult::of(&Outcome::grpc(0)),
            Some(CallResult::Status(200))
        );
        assert_eq!(
            CallResult::of(&FailureKind::ConnectFailure.into()),
            Some(CallResult::ConnectFailed)
        );
        assert_eq!(
            CallResult::of(&FailureKind::RefusedStream.into()),
            Some(CallResult::Reset)
        );
        assert_eq!(
            CallResult::of(&FailureKind::Timeout.into()),
            Some(CallResult::Timeout)
        );
        assert_eq!(CallResult::of(&FailureKind::Overloaded.into()), None);
    }

    #[test]
    fn gateway_errors_are_502_to_504() {
        assert!(!is_gateway_error(500));
        assert!(is_gateway_error(502) && is_gateway_error(503) && is_gateway_error(504));
        assert!(!is_gateway_error(505));
        assert!(is_5xx(599) && !is_5xx(499) && !is_5xx(600));
    }
}
