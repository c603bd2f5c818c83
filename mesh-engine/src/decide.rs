//! The decide mode at the engine's edge: a decision with its strings
//! ready for bindings to hand out, and an outcome built from what a
//! host's own transport saw.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use mesh_core::decide::{self, Next};
use mesh_core::resilience::retry::{FailureKind, Outcome as CoreOutcome, Response as Facts};
use mesh_core::rng::ThreadRng;
use mesh_core::telemetry::{
    Exchange, Protocol, Reached, ResponseFlags, Telemetry, grpc_status, local_reply,
};
use mesh_core::{Error, ErrorKind};

use crate::metrics::Result as Recorded;
use crate::request::HttpRequest;

/// Where and how a host sends one attempt of a request: connect to
/// [`Decision::endpoint`], send with [`Decision::authority`] as `Host`
/// (or `:authority`) and [`Decision::headers`] set, give up after
/// [`Decision::timeout`], then report the outcome to
/// [`crate::Engine::report`]. Dropping it unreported abandons the request.
#[derive(Debug)]
pub struct Decision {
    inner: decide::Decision,
    authority: String,
    /// When the request was first resolved (its duration runs from there).
    started: Instant,
    /// Whether the request is gRPC (its `content-type`).
    grpc: bool,
    /// Computed once: bindings lend them out by index.
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Decision {
    pub(crate) fn new(inner: decide::Decision, request: &HttpRequest) -> Self {
        let authority = request
            .headers()
            .get(http::header::HOST)
            .and_then(|host| host.to_str().ok())
            .map(str::to_owned)
            .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
            .unwrap_or_default();
        let grpc = mesh_core::is_grpc(request.headers());
        Self::with_authority(inner, authority, Instant::now(), grpc)
    }

    fn with_authority(
        inner: decide::Decision,
        authority: String,
        started: Instant,
        grpc: bool,
    ) -> Self {
        Self {
            headers: inner.headers(),
            authority,
            started,
            grpc,
            inner,
        }
    }

    /// The endpoint to connect to, `host:port`.
    pub fn endpoint(&self) -> &str {
        self.inner.endpoint().as_str()
    }

    /// The authority to send (`Host` or `:authority`): the logical
    /// service, as behind a sidecar.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The cluster the request was routed to.
    pub fn cluster(&self) -> &str {
        self.inner.cluster()
    }

    /// The cluster's name, shared.
    pub(crate) fn cluster_name(&self) -> &Arc<str> {
        self.inner.cluster()
    }

    /// How long this attempt may take (`None`: no limit).
    pub fn timeout(&self) -> Option<Duration> {
        self.inner.timeout()
    }

    /// How long to wait before sending this attempt.
    pub fn delay(&self) -> Duration {
        self.inner.delay()
    }

    /// This attempt's number, 1 for the first.
    pub fn attempt(&self) -> u32 {
        self.inner.attempt()
    }

    /// The most attempts the route allows.
    pub fn max_attempts(&self) -> u32 {
        self.inner.max_attempts()
    }

    /// Headers to set on this attempt's request.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// Reports the attempt's outcome; the request's final one is counted
    /// in `telemetry` (Istio's metrics), against this attempt's endpoint.
    pub(crate) fn report(
        self,
        outcome: &Outcome,
        now: Instant,
        telemetry: &Telemetry,
    ) -> Result<Option<Self>, Error> {
        let (authority, started, grpc) = (self.authority, self.started, self.grpc);
        let (cluster, slot) = (
            self.inner.cluster().clone(),
            self.inner.endpoint_slot().clone(),
        );
        match self.inner.report(&outcome.to_core(), now, &mut ThreadRng)? {
            Next::Retry(next) => Ok(Some(Self::with_authority(next, authority, started, grpc))),
            Next::Done => {
                telemetry.record(
                    Reached::Endpoint {
                        cluster: &cluster,
                        slot: &slot,
                    },
                    &outcome.exchange(now.saturating_duration_since(started), grpc),
                );
                Ok(None)
            }
        }
    }
}

/// How an attempt failed without a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be made (refused, connect timeout, TLS
    /// handshake).
    Connect,
    /// The connection or stream was reset after the request went out.
    Reset,
    /// The attempt's timeout passed without a response.
    Timeout,
    /// HTTP/2 `REFUSED_STREAM`: the server did not process the request.
    RefusedStream,
}

/// How a host's attempt went: a response (its status and headers) or a
/// failure.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A response head arrived.
    Response {
        /// Its status.
        status: u16,
        /// Its headers (`grpc-status`, `retry-after`,
        /// `grpc-retry-pushback-ms`, `x-envoy-*` are read).
        headers: HeaderMap,
    },
    /// No response.
    Failure(Failure),
}

impl Outcome {
    /// A response with a status and headers; the status must be a valid
    /// HTTP status (100-999).
    pub fn response(status: u16, headers: HeaderMap) -> Result<Self, Error> {
        if !(100..=999).contains(&status) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("status {status} is not an HTTP status"),
            ));
        }
        Ok(Self::Response { status, headers })
    }

    /// A reported response header, checked as bindings receive it: raw
    /// bytes, refused with [`ErrorKind::InvalidArgument`] when the name is
    /// not a header name or the value holds CR, LF or NUL.
    pub fn header(name: &[u8], value: &[u8]) -> Result<(HeaderName, HeaderValue), Error> {
        let invalid = |message: String| Error::new(ErrorKind::InvalidArgument, message);
        let name = HeaderName::from_bytes(name)
            .map_err(|_| invalid("the response header name is invalid".to_owned()))?;
        let value = HeaderValue::from_bytes(value)
            .map_err(|_| invalid(format!("response header {name}: invalid value")))?;
        Ok((name, value))
    }

    fn to_core(&self) -> CoreOutcome {
        match self {
            Self::Response { status, headers } => {
                CoreOutcome::Response(Facts::from_headers(*status, headers, SystemTime::now()))
            }
            Self::Failure(failure) => CoreOutcome::Failure(match failure {
                Failure::Connect => FailureKind::ConnectFailure,
                Failure::Reset => FailureKind::Reset,
                Failure::Timeout => FailureKind::Timeout,
                Failure::RefusedStream => FailureKind::RefusedStream,
            }),
        }
    }

    /// The final outcome as Istio's metrics count it (a failure with the
    /// status a sidecar would have answered).
    fn exchange(&self, duration: Duration, grpc: bool) -> Exchange {
        let (response_code, flags, grpc_status) = match self {
            Self::Response { status, headers } => {
                (*status, ResponseFlags::NONE, grpc_status(headers))
            }
            Self::Failure(failure) => {
                let kind = match failure {
                    Failure::Timeout => ErrorKind::Timeout,
                    _ => ErrorKind::Transport,
                };
                let core = match self.to_core() {
                    CoreOutcome::Failure(kind) => Some(kind),
                    CoreOutcome::Response(_) => None,
                };
                let (code, flags) = local_reply(kind, core);
                (code, flags, None)
            }
        };
        Exchange {
            response_code,
            grpc_status,
            flags,
            protocol: if grpc { Protocol::Grpc } else { Protocol::Http },
            duration,
            request_bytes: 0,
            response_bytes: 0,
        }
    }

    pub(crate) fn recorded(&self) -> Recorded {
        match self {
            Self::Response { status, .. } => Recorded::Status(*status),
            Self::Failure(Failure::Timeout) => Recorded::Error(ErrorKind::Timeout),
            Self::Failure(_) => Recorded::Error(ErrorKind::Transport),
        }
    }
}
