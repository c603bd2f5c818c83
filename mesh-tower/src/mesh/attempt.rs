//! One attempt of a request: the request as sent to the chosen endpoint,
//! and what its result means for retries and outlier detection.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::request::Parts;
use http::uri::{PathAndQuery, Scheme};
use http::{HeaderMap, HeaderValue, Request, Response, Uri};
use http_body::Body;
use mesh_core::config::TlsMode;
use mesh_core::lb::Pick;
use mesh_core::resilience::deadline::{GRPC_TIMEOUT, format_grpc_timeout};
use mesh_core::resilience::outlier::CallResult;
use mesh_core::resilience::retry::{FailureKind, Outcome, Response as Facts};
use mesh_core::rng::ThreadRng;
use mesh_core::{ArmTarget, Error, ErrorKind, Routed};
use tower::ServiceExt;
use tower_service::Service;

use super::body::{InFlight, MeshBody};
use super::report::AttemptSpan;
use crate::BoxError;
use crate::retry::{ReplayBody, ReplayHead};

use crate::Target;
use crate::target::speaks_http2;

/// The caller's request head, boxed out of the request's future (which
/// every request allocates, and which stays small this way), and the copy
/// of it the attempts after the first unpack, when the request may retry.
pub(super) struct Heads {
    pub(super) caller: Parts,
    copy: Option<ReplayHead>,
    /// Whether an attempt took the caller's head.
    taken: bool,
}

impl Heads {
    pub(super) fn new(caller: Parts) -> Self {
        Self {
            caller,
            copy: None,
            taken: false,
        }
    }

    /// Keeps a copy of the caller's head for the attempts after the first;
    /// returns the head of the first and the copy, for attempts that run
    /// side by side.
    pub(super) fn keep_copy(&mut self) -> (&mut Parts, &ReplayHead) {
        let copy = self.copy.insert(ReplayHead::pack(&self.caller));
        (&mut self.caller, copy)
    }

    /// The head of the next attempt: the caller's, then its copy.
    pub(super) fn next(&mut self) -> Head<'_> {
        let taken = std::mem::replace(&mut self.taken, true);
        match &self.copy {
            Some(copy) if taken => Head::Packed(copy),
            _ => Head::Owned(&mut self.caller),
        }
    }
}

/// The caller's request head, for an attempt: taken by the first attempt,
/// unpacked from a copy by each one after it (a retry needs the head after
/// the transport consumed it), copied for a mirror. Either way the head
/// stays where the caller's future keeps it until the request is built, so
/// an attempt's future holds a reference, not a head.
pub(super) enum Head<'h> {
    /// The head, to take (an empty one is left in its place).
    Owned(&'h mut Parts),
    /// A copy of the head, packed before the first attempt took it.
    Packed(&'h ReplayHead),
    /// The head, to clone.
    Shared(&'h Parts),
}

/// The request of one attempt: the caller's head pointed at `target`'s
/// endpoint, with `body`. `grpc_until` is the deadline to tell the
/// upstream of in `grpc-timeout`, when the caller sent one.
pub(super) fn attempt_request<B>(
    head: Head<'_>,
    body: B,
    target: Target,
    grpc: bool,
    grpc_until: Option<Instant>,
) -> Result<Request<B>, Error> {
    let mut parts = match head {
        // An empty head allocates nothing.
        Head::Owned(parts) => std::mem::replace(parts, Request::new(()).into_parts().0),
        Head::Packed(packed) => packed.unpack()?,
        Head::Shared(head) => {
            let mut parts = Request::new(()).into_parts().0;
            parts.method = head.method.clone();
            parts.uri = head.uri.clone();
            parts.version = head.version;
            parts.headers = head.headers.clone();
            parts.extensions = head.extensions.clone();
            parts
        }
    };
    // The caller's URI: the rewrite keeps its path and, over HTTP/1.1,
    // its authority as `Host`.
    let original = std::mem::take(&mut parts.uri);
    let mut request = Request::from_parts(parts, body);
    if let Some(until) = grpc_until {
        let remaining = until.saturating_duration_since(super::call::now());
        request
            .headers_mut()
            .insert(GRPC_TIMEOUT, format_grpc_timeout(remaining));
    }
    let http2 = speaks_http2(request.version(), target.protocol(), grpc);
    rewrite(&mut request, &original, &target, http2)?;
    request.extensions_mut().insert(target);
    Ok(request)
}

/// Points the request at the endpoint: scheme and authority change, the
/// path stays. Over HTTP/1.1 the `Host` header keeps naming the logical
/// service, as behind a sidecar; over HTTP/2 `:authority` comes from the
/// URI and a differing `Host` is not allowed (RFC 9113 §8.3.1), so the
/// endpoint's authority is what the server sees there. A request that
/// goes out over HTTP/2 says so in its version, for the transport.
fn rewrite<B>(
    request: &mut Request<B>,
    original: &Uri,
    target: &Target,
    http2: bool,
) -> Result<(), Error> {
    if http2 {
        *request.version_mut() = http::Version::HTTP_2;
        request.headers_mut().remove(http::header::HOST);
    } else {
        insert_host(request.headers_mut(), original)?;
    }
    let scheme = match target.cluster().tls {
        TlsMode::Disable => Scheme::HTTP,
        _ => Scheme::HTTPS,
    };
    let path = original
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(scheme);
    parts.authority = Some(target.endpoint().endpoint().uri_authority().clone());
    parts.path_and_query = Some(path);
    *request.uri_mut() = Uri::from_parts(parts)
        .map_err(|e| Error::new(ErrorKind::Internal, "rewritten URI is invalid").with_source(e))?;
    Ok(())
}

/// Gives an HTTP/1.1 request without `Host` the authority of its URI (the
/// logical service) as `Host`.
fn insert_host(headers: &mut HeaderMap, uri: &Uri) -> Result<(), Error> {
    if !headers.contains_key(http::header::HOST)
        && let Some(authority) = uri.authority()
    {
        let host = HeaderValue::from_str(authority.as_str()).map_err(|e| {
            Error::new(ErrorKind::InvalidRequest, "authority is not a valid Host").with_source(e)
        })?;
        headers.insert(http::header::HOST, host);
    }
    Ok(())
}

/// The facts of a response head that retries and outlier detection read.
/// A success (below 400) of a request that is not gRPC is its status
/// alone: no header of it can make it retriable (an
/// `x-envoy-ratelimited` on a success is ignored), and the common case
/// does no header lookup.
pub(super) fn response_outcome<B>(response: &http::Response<B>, grpc: bool) -> Outcome {
    let status = response.status().as_u16();
    if status < 400 && !grpc {
        return Outcome::status(status);
    }
    let headers = response.headers();
    // The wall clock only matters to a `Retry-After` date.
    let now = if headers.contains_key(http::header::RETRY_AFTER) {
        SystemTime::now()
    } else {
        SystemTime::UNIX_EPOCH
    };
    Outcome::Response(Facts::from_headers(status, headers, now))
}

/// How a transport error failed the attempt: a connection never made, a
/// stream the server refused before processing it (HTTP/2
/// `REFUSED_STREAM`), or a reset.
pub(super) fn failure_kind(error: &BoxError) -> FailureKind {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
    while let Some(e) = source {
        if let Some(e) = e.downcast_ref::<hyper_util::client::legacy::Error>()
            && e.is_connect()
        {
            // A hyper-util client under `MeshLayer` could not connect.
            return FailureKind::ConnectFailure;
        }
        if let Some(e) = e.downcast_ref::<h2::Error>()
            && e.reason() == Some(h2::Reason::REFUSED_STREAM)
        {
            return FailureKind::RefusedStream;
        }
        if let Some(e) = e.downcast_ref::<Error>()
            && e.kind() == ErrorKind::Transport
        {
            // The mesh's transport could not connect, or refused to send
            // (a cluster needing TLS).
            return FailureKind::ConnectFailure;
        }
        source = e.source();
    }
    FailureKind::Reset
}

/// Whether the transport refused for want of capacity (its pool's
/// pending-request breaker).
fn is_overload(error: &BoxError) -> bool {
    error
        .downcast_ref::<Error>()
        .is_some_and(|e| e.kind() == ErrorKind::Overloaded)
}

/// Wraps an error of the transport as a `Transport` error, keeping a
/// mesh error as it is.
pub(crate) fn transport_error(e: impl Into<BoxError>) -> Error {
    let e = e.into();
    match e.downcast::<Error>() {
        Ok(mesh) => *mesh,
        Err(other) => {
            let message = other.to_string();
            Error::new(ErrorKind::Transport, message).with_source(other)
        }
    }
}

/// What every attempt of a request shares: its deadline, and what its
/// head says, read once.
pub(super) struct RequestFacts {
    /// The request's deadline.
    pub(super) deadline: Option<Instant>,
    /// The timeout the deadline came from, for messages.
    pub(super) timeout: Option<Duration>,
    /// Whether the request is gRPC (by its content type).
    pub(super) grpc: bool,
    /// Whether the caller sent `grpc-timeout`: each attempt then tells its
    /// endpoint the time left.
    pub(super) grpc_timeout: bool,
}

/// One attempt under way: where it goes and what it holds.
pub(super) struct Attempt<'s> {
    pub(super) pick: Pick<'s>,
    /// The route arm's share of its [`Target`] (a target is made when
    /// needed: held here, it would grow every request's future).
    pub(super) arm: &'s Arc<ArmTarget>,
    in_flight: InFlight,
    /// Its span, when the request is traced: its context goes out with
    /// the request.
    pub(super) span: Option<AttemptSpan>,
}

/// How an attempt ended.
pub(super) enum Sent<R> {
    /// A response head arrived.
    Response(Response<R>),
    /// The transport failed, or no response head came in time.
    Failed(FailureKind, Error),
}

impl<R> Sent<R> {
    /// How the attempt failed, when no response came.
    pub(super) fn failure(&self) -> Option<FailureKind> {
        match self {
            Self::Response(_) => None,
            Self::Failed(kind, _) => Some(*kind),
        }
    }

    pub(super) fn outcome(&self, grpc: bool) -> Outcome {
        match self {
            Self::Response(response) => response_outcome(response, grpc),
            Self::Failed(kind, _) => Outcome::Failure(*kind),
        }
    }
}

impl<'s> Attempt<'s> {
    /// Takes a `max_requests` permit from the cluster's breaker; refused,
    /// the request fails fast with `Overloaded` (never retried: a retry
    /// would add load exactly where the breaker says there is too much).
    pub(super) fn start(routed: &Routed<'s>, pick: Pick<'s>) -> Result<Self, Error> {
        let permit = routed.acquire_request()?;
        let in_flight = InFlight {
            _active: pick.slot.start_request(),
            _permit: permit,
        };
        Ok(Self {
            pick,
            arm: routed.target,
            in_flight,
            span: None,
        })
    }

    /// Where the attempt goes.
    pub(super) fn target(&self) -> Target {
        Target::new(self.arm.clone(), self.pick.slot.clone())
    }

    /// Sends the attempt and waits for its response head until `until`.
    /// Errors are those no retry can help: a request that cannot be
    /// rewritten, a transport that cannot become ready.
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` stores its arguments twice (rust-lang/rust#62958)"
    )]
    pub(super) fn send<S, B, R>(
        &self,
        transport: &mut S,
        head: Head<'_>,
        body: ReplayBody<B>,
        until: Option<Instant>,
        facts: &RequestFacts,
    ) -> impl Future<Output = Result<Sent<R>, Error>>
    where
        S: Service<Request<ReplayBody<B>>, Response = Response<R>>,
        S::Error: Into<BoxError>,
    {
        async move {
            // Ready first: the request is built after the only await before
            // the call, so the future never holds it.
            let ready = transport.ready().await.map_err(transport_error)?;
            // A block: a moved-from local still takes room in the future
            // while its scope spans an await.
            let response = {
                let grpc_until = until.filter(|_| facts.grpc_timeout);
                let mut request =
                    attempt_request(head, body, self.target(), facts.grpc, grpc_until)?;
                if let Some(span) = &self.span {
                    span.inject(request.headers_mut());
                }
                ready.call(request)
            };
            let result = match until {
                None => response.await,
                Some(until) => match tokio::time::timeout_at(until.into(), response).await {
                    Ok(result) => result,
                    Err(_) => {
                        return Ok(Sent::Failed(FailureKind::Timeout, timed_out(until, facts)));
                    }
                },
            };
            Ok(match result {
                Ok(response) => Sent::Response(response),
                Err(e) => {
                    let e = e.into();
                    if is_overload(&e) {
                        // A connection pool full to its limits: as in Envoy,
                        // no retry adds to it.
                        return Err(transport_error(e));
                    }
                    Sent::Failed(failure_kind(&e), transport_error(e))
                }
            })
        }
    }

    /// Feeds the outcome to the cluster's outlier detector (which reads
    /// the time from `now` only if it detects outliers).
    pub(super) fn report(
        &self,
        routed: &Routed<'_>,
        outcome: &Outcome,
        now: impl FnOnce() -> Instant,
    ) {
        let resilience = routed.resilience;
        if resilience.detects_outliers()
            && let Some(result) = CallResult::of(outcome)
        {
            resilience.record(self.pick.in_cluster, result, now(), &mut ThreadRng);
        }
    }

    /// The caller's answer: the response, its body holding the attempt's
    /// place in flight, or the attempt's error.
    pub(super) fn finish<R: Body>(self, sent: Sent<R>) -> Result<Response<MeshBody<R>>, Error> {
        match sent {
            Sent::Response(response) => {
                let target = self.target();
                Ok(response.map(|body| MeshBody::new(body, self.in_flight, target)))
            }
            Sent::Failed(_, error) => Err(error),
        }
    }
}

/// The error of an attempt that got no response head by `until`.
fn timed_out(until: Instant, facts: &RequestFacts) -> Error {
    let message = match (facts.deadline, facts.timeout) {
        (Some(request), Some(timeout)) if until >= request => {
            format!("request timeout of {timeout:?} elapsed")
        }
        _ => "per-try timeout elapsed".to_owned(),
    };
    Error::new(ErrorKind::Timeout, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesh_refusals_count_as_connect_failures_and_the_rest_as_resets() {
        let refused: BoxError = Box::new(Error::new(ErrorKind::Transport, "needs TLS"));
        assert_eq!(failure_kind(&refused), FailureKind::ConnectFailure);
        let other: BoxError = "connection reset".into();
        assert_eq!(failure_kind(&other), FailureKind::Reset);
        let refused_stream: BoxError = Box::new(h2::Error::from(h2::Reason::REFUSED_STREAM));
        assert_eq!(failure_kind(&refused_stream), FailureKind::RefusedStream);
    }

    #[test]
    fn only_a_pool_overflow_ends_the_request_without_a_retry() {
        let overflow: BoxError = Box::new(Error::new(ErrorKind::Overloaded, "pending full"));
        assert!(is_overload(&overflow));
        let refused: BoxError = Box::new(Error::new(ErrorKind::Transport, "connect refused"));
        assert!(!is_overload(&refused));
        assert!(!is_overload(&"reset".into()));
    }
}
