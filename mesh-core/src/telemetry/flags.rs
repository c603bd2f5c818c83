//! Envoy's response flags: why a request ended the way it did, in the
//! short codes of `%RESPONSE_FLAGS%` that Istio copies into its
//! `response_flags` label.

use std::fmt;

use crate::ErrorKind;
use crate::resilience::retry::FailureKind;

/// A set of response flags (empty: `-`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ResponseFlags(u16);

/// The flags, in the order they are printed.
const CODES: [(ResponseFlags, &str); 11] = [
    (ResponseFlags::NO_HEALTHY_UPSTREAM, "UH"),
    (ResponseFlags::UPSTREAM_CONNECTION_FAILURE, "UF"),
    (ResponseFlags::UPSTREAM_OVERFLOW, "UO"),
    (ResponseFlags::NO_ROUTE_FOUND, "NR"),
    (ResponseFlags::UPSTREAM_RETRY_LIMIT_EXCEEDED, "URX"),
    (ResponseFlags::UPSTREAM_REQUEST_TIMEOUT, "UT"),
    (ResponseFlags::UPSTREAM_REMOTE_RESET, "UR"),
    (ResponseFlags::RATE_LIMITED, "RL"),
    (ResponseFlags::FAULT_INJECTED, "FI"),
    (ResponseFlags::DELAY_INJECTED, "DI"),
    (ResponseFlags::DOWNSTREAM_CONNECTION_TERMINATION, "DC"),
];

impl ResponseFlags {
    /// No flag: the request went out and an answer came back.
    pub const NONE: Self = Self(0);
    /// `UH`: no endpoint of the cluster was in service.
    pub const NO_HEALTHY_UPSTREAM: Self = Self(1);
    /// `UF`: the connection to the endpoint failed.
    pub const UPSTREAM_CONNECTION_FAILURE: Self = Self(1 << 1);
    /// `UO`: a circuit breaker refused the request.
    pub const UPSTREAM_OVERFLOW: Self = Self(1 << 2);
    /// `NR`: no route matched.
    pub const NO_ROUTE_FOUND: Self = Self(1 << 3);
    /// `URX`: the request failed after its allowed retries.
    pub const UPSTREAM_RETRY_LIMIT_EXCEEDED: Self = Self(1 << 4);
    /// `UT`: the request (or its last try) timed out.
    pub const UPSTREAM_REQUEST_TIMEOUT: Self = Self(1 << 5);
    /// `UR`: the endpoint reset the stream.
    pub const UPSTREAM_REMOTE_RESET: Self = Self(1 << 6);
    /// `RL`: the route's local rate limit refused the request.
    pub const RATE_LIMITED: Self = Self(1 << 7);
    /// `FI`: fault injection aborted the request.
    pub const FAULT_INJECTED: Self = Self(1 << 8);
    /// `DI`: fault injection delayed the request.
    pub const DELAY_INJECTED: Self = Self(1 << 9);
    /// `DC`: the caller gave up (cancelled) before the answer.
    pub const DOWNSTREAM_CONNECTION_TERMINATION: Self = Self(1 << 10);

    /// Both sets.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for ResponseFlags {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        self.with(other)
    }
}

impl std::ops::BitOrAssign for ResponseFlags {
    fn bitor_assign(&mut self, other: Self) {
        *self = self.with(other);
    }
}

/// Envoy's format: the codes joined by commas, or `-`.
impl fmt::Display for ResponseFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        let mut first = true;
        for (flag, code) in CODES {
            if self.contains(flag) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(code)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// The status and flag a sidecar answers a request with when the mesh
/// fails it (`failure`: how its last attempt failed, if it did).
pub fn local_reply(kind: ErrorKind, failure: Option<FailureKind>) -> (u16, ResponseFlags) {
    match kind {
        ErrorKind::NoRoute => (404, ResponseFlags::NO_ROUTE_FOUND),
        ErrorKind::NoHealthyEndpoint => (503, ResponseFlags::NO_HEALTHY_UPSTREAM),
        ErrorKind::Overloaded => (503, ResponseFlags::UPSTREAM_OVERFLOW),
        ErrorKind::RateLimited => (429, ResponseFlags::RATE_LIMITED),
        ErrorKind::Timeout => (504, ResponseFlags::UPSTREAM_REQUEST_TIMEOUT),
        ErrorKind::Transport => match failure {
            Some(FailureKind::ConnectFailure) => (503, ResponseFlags::UPSTREAM_CONNECTION_FAILURE),
            _ => (503, ResponseFlags::UPSTREAM_REMOTE_RESET),
        },
        ErrorKind::Cancelled => (0, ResponseFlags::DOWNSTREAM_CONNECTION_TERMINATION),
        ErrorKind::InvalidRequest => (400, ResponseFlags::NONE),
        _ => (500, ResponseFlags::NONE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_the_local_replies_of_a_sidecar() {
        assert_eq!(
            local_reply(ErrorKind::NoRoute, None),
            (404, ResponseFlags::NO_ROUTE_FOUND)
        );
        assert_eq!(
            local_reply(ErrorKind::Transport, Some(FailureKind::ConnectFailure)),
            (503, ResponseFlags::UPSTREAM_CONNECTION_FAILURE)
        );
        assert_eq!(
            local_reply(ErrorKind::Transport, Some(FailureKind::Reset)),
            (503, ResponseFlags::UPSTREAM_REMOTE_RESET)
        );
        assert_eq!(
            local_reply(ErrorKind::Timeout, None),
            (504, ResponseFlags::UPSTREAM_REQUEST_TIMEOUT)
        );
    }

    #[test]
    fn flags_print_as_envoy_does() {
        assert_eq!(ResponseFlags::NONE.to_string(), "-");
        assert_eq!(ResponseFlags::NO_ROUTE_FOUND.to_string(), "NR");
        let both = ResponseFlags::UPSTREAM_REQUEST_TIMEOUT | ResponseFlags::DELAY_INJECTED;
        assert_eq!(both.to_string(), "UT,DI");
        assert!(both.contains(ResponseFlags::DELAY_INJECTED));
        assert!(!both.contains(ResponseFlags::RATE_LIMITED));
    }
}
