//! What one attempt ended with, in the terms retry decisions need.
//!
//! The transport reduces a response to a few facts (status, gRPC status,
//! pushback, a couple of Envoy headers) once, so every later decision is a
//! handful of integer compares and no header map travels through the
//! core. [`Response::from_headers`] does that reduction for `http` types.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName};

use super::pushback::{PushBack, parse_grpc_pushback, parse_retry_after};

// Parsed once: a lookup by `&str` parses the name on every call.
const X_ENVOY_OVERLOADED: HeaderName = HeaderName::from_static("x-envoy-overloaded");
const X_ENVOY_RATELIMITED: HeaderName = HeaderName::from_static("x-envoy-ratelimited");
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_RETRY_PUSHBACK_MS: HeaderName = HeaderName::from_static("grpc-retry-pushback-ms");

/// How an attempt failed without a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The connection could not be established (refused, connect timeout,
    /// TLS handshake failure): Envoy's `connect-failure`.
    ConnectFailure,
    /// The stream or connection was reset after the request went out.
    Reset,
    /// The stream or connection was reset before any byte of the request
    /// was sent (Envoy's `reset-before-request`).
    ResetBeforeRequest,
    /// HTTP/2 `REFUSED_STREAM`: the server did not process the request.
    RefusedStream,
    /// The per-try timeout fired (Envoy resets the stream, so it counts as
    /// a reset).
    Timeout,
    /// A local circuit breaker refused the attempt (Envoy's `Overflow`
    /// reset reason): never retried, as retrying would add load exactly
    /// where the breaker says there is too much.
    Overloaded,
}

/// The facts of a response that retry decisions read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// `grpc-status` from the headers (trailers-only response) or the
    /// trailers.
    pub grpc_status: Option<u32>,
    /// A parsed `Retry-After`.
    pub retry_after: Option<Duration>,
    /// A parsed `grpc-retry-pushback-ms`.
    pub grpc_pushback: Option<PushBack>,
    /// `x-envoy-overloaded` was present: the upstream asks not to be
    /// retried, and Envoy never retries it.
    pub envoy_overloaded: bool,
    /// `x-envoy-ratelimited` was present: retried only under
    /// `envoy-ratelimited`, whatever the status.
    pub envoy_ratelimited: bool,
    /// A response header matched the policy's retriable-header matchers
    /// (evaluated by whoever holds the headers and the matchers).
    pub retriable_header: bool,
}

impl Response {
    /// A response with only a status.
    pub const fn new(status: u16) -> Self {
        Self {
            status,
            grpc_status: None,
            retry_after: None,
            grpc_pushback: None,
            envoy_overloaded: false,
            envoy_ratelimited: false,
            retriable_header: false,
        }
    }

    /// With a gRPC status.
    #[must_use]
    pub const fn with_grpc_status(mut self, code: u32) -> Self {
        self.grpc_status = Some(code);
        self
    }

    /// With a `Retry-After` delay.
    #[must_use]
    pub const fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// With a gRPC pushback.
    #[must_use]
    pub const fn with_pushback(mut self, pushback: PushBack) -> Self {
        self.grpc_pushback = Some(pushback);
        self
    }

    /// Reads the facts from a response head. `now` turns a `Retry-After`
    /// date into a delay.
    pub fn from_headers(status: u16, headers: &HeaderMap, now: SystemTime) -> Self {
        let mut response = Self::new(status);
        if headers.is_empty() {
            return response;
        }
        response.retry_after = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(v, now));
        response.envoy_overloaded = headers.contains_key(X_ENVOY_OVERLOADED);
        response.envoy_ratelimited = headers.contains_key(X_ENVOY_RATELIMITED);
        response.apply_grpc_headers(headers);
        response
    }

    /// Reads `grpc-status` and `grpc-retry-pushback-ms` from trailers; a
    /// value already taken from the headers is kept.
    pub fn apply_trailers(&mut self, trailers: &HeaderMap) {
        self.apply_grpc_headers(trailers);
    }

    fn apply_grpc_headers(&mut self, headers: &HeaderMap) {
        if self.grpc_status.is_none() {
            self.grpc_status = headers
                .get(GRPC_STATUS)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
        }
        if self.grpc_pushback.is_none() {
            self.grpc_pushback = headers.get(GRPC_RETRY_PUSHBACK_MS).map(parse_grpc_pushback);
        }
    }

    /// Whether the response is an error: a 5xx, or a gRPC status other
    /// than OK.
    pub const fn is_error(&self) -> bool {
        self.status >= 500 || matches!(self.grpc_status, Some(code) if code != 0)
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response head arrived (and, for gRPC, possibly trailers).
    Response(Response),
    /// No response.
    Failure(FailureKind),
}

impl Outcome {
    /// A response with only a status.
    pub const fn status(status: u16) -> Self {
        Self::Response(Response::new(status))
    }

    /// A gRPC response: HTTP 200 with a `grpc-status`.
    pub const fn grpc(code: u32) -> Self {
        Self::Response(Response::new(200).with_grpc_status(code))
    }

    /// The response, if there was one.
    pub const fn response(&self) -> Option<&Response> {
        match self {
            Self::Response(r) => Some(r),
            Self::Failure(_) => None,
        }
    }

    /// Whether the attempt failed or answered with an error.
    pub const fn is_error(&self) -> bool {
        match self {
            Self::Response(r) => r.is_error(),
            Self::Failure(_) => true,
        }
    }
}

impl From<Response> for Outcome {
    fn from(response: Response) -> Self {
        Self::Response(response)
    }
}

impl From<FailureKind> for Outcome {
    fn from(kind: FailureKind) -> Self {
        Self::Failure(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    http::HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn from_headers_reads_every_retry_fact() {
        let h = headers(&[
            ("retry-after", "7"),
            ("grpc-status", "14"),
            ("grpc-retry-pushback-ms", "-1"),
            ("x-envoy-overloaded", "true"),
            ("x-envoy-ratelimited", "true"),
        ]);
        let r = Response::from_headers(200, &h, UNIX_EPOCH);
        assert_eq!(r.status, 200);
        assert_eq!(r.grpc_status, Some(14));
        assert_eq!(r.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(r.grpc_pushback, Some(PushBack::DoNotRetry));
        assert!(r.envoy_overloaded && r.envoy_ratelimited);
    }

    #[test]
    fn trailers_fill_grpc_status_but_do_not_override_headers() {
        let mut r = Response::from_headers(200, &HeaderMap::new(), UNIX_EPOCH);
        assert_eq!(r, Response::new(200));
        r.apply_trailers(&headers(&[
            ("grpc-status", "4"),
            ("grpc-retry-pushback-ms", "10"),
        ]));
        assert_eq!(r.grpc_status, Some(4));
        assert_eq!(
            r.grpc_pushback,
            Some(PushBack::Delay(Duration::from_millis(10)))
        );
        r.apply_trailers(&headers(&[("grpc-status", "0")]));
        assert_eq!(r.grpc_status, Some(4));
    }

    #[test]
    fn errors_are_5xx_grpc_failures_and_transport_failures() {
        assert!(!Outcome::status(200).is_error());
        assert!(!Outcome::status(404).is_error());
        assert!(Outcome::status(500).is_error());
        assert!(!Outcome::grpc(0).is_error());
        assert!(Outcome::grpc(14).is_error());
        assert!(Outcome::Failure(FailureKind::Reset).is_error());
    }
}
