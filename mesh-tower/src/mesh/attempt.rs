//! One attempt of a request: the request as sent to the chosen endpoint,
//! and what its result means for retries and outlier detection.

use std::time::{Instant, SystemTime};

use http::request::Parts;
use http::uri::{PathAndQuery, Scheme};
use http::{HeaderValue, Request, Uri};
use mesh_core::config::TlsMode;
use mesh_core::resilience::deadline::{GRPC_TIMEOUT, format_grpc_timeout};
use mesh_core::resilience::retry::{FailureKind, Outcome, Response};
use mesh_core::{Error, ErrorKind};

use crate::Target;
use crate::target::wants_http2;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request of one attempt: a copy of the caller's head pointed at
/// `target`'s endpoint, with `body`. When the caller sent a
/// `grpc-timeout`, the upstream is told what is left until `until`.
pub(super) fn attempt_request<B>(
    head: &Parts,
    body: B,
    target: &Target,
    until: Option<Instant>,
) -> Result<Request<B>, Error> {
    let mut request = Request::new(body);
    *request.method_mut() = head.method.clone();
    *request.uri_mut() = head.uri.clone();
    *request.version_mut() = head.version;
    *request.headers_mut() = head.headers.clone();
    *request.extensions_mut() = head.extensions.clone();
    request.extensions_mut().insert(target.clone());
    if let Some(until) = until
        && request.headers().contains_key(GRPC_TIMEOUT)
    {
        let remaining = until.saturating_duration_since(super::call::now());
        request
            .headers_mut()
            .insert(GRPC_TIMEOUT, format_grpc_timeout(remaining));
    }
    rewrite(&mut request, target)?;
    Ok(request)
}

/// Points the request at the endpoint: scheme and authority change, the
/// path stays. Over HTTP/1.1 the `Host` header keeps naming the logical
/// service, as behind a sidecar; over HTTP/2 `:authority` comes from the
/// URI and a differing `Host` is not allowed (RFC 9113 §8.3.1), so the
/// endpoint's authority is what the server sees there.
fn rewrite<B>(request: &mut Request<B>, target: &Target) -> Result<(), Error> {
    if wants_http2(request) {
        request.headers_mut().remove(http::header::HOST);
    } else if !request.headers().contains_key(http::header::HOST)
        && let Some(authority) = request.uri().authority()
    {
        let host = HeaderValue::from_str(authority.as_str()).map_err(|e| {
            Error::new(ErrorKind::InvalidRequest, "authority is not a valid Host").with_source(e)
        })?;
        request.headers_mut().insert(http::header::HOST, host);
    }
    let scheme = match target.cluster().tls {
        TlsMode::Disable => Scheme::HTTP,
        _ => Scheme::HTTPS,
    };
    let path = request
        .uri()
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
    Outcome::Response(Response::from_headers(status, headers, now))
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
            // The transport refused to send it (a cluster needing TLS).
            return FailureKind::ConnectFailure;
        }
        source = e.source();
    }
    FailureKind::Reset
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
}
