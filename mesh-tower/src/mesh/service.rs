//! The service that applies one routing decision per request.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::{PathAndQuery, Scheme};
use http::{HeaderValue, Request, Uri};
use mesh_core::config::TlsMode;
use mesh_core::lb::ActiveRequest;
use mesh_core::rng::ThreadRng;
use mesh_core::{Error, ErrorKind, RequestHead, SnapshotHandle};
use tower_service::Service;

use super::{MeshBody, ResponseFuture};
use crate::Target;
use crate::target::wants_http2;

/// Routes each request through the mesh, then calls the inner transport.
#[derive(Debug, Clone)]
pub struct MeshService<S> {
    inner: S,
    snapshots: Arc<SnapshotHandle>,
}

impl<S> MeshService<S> {
    /// Wraps `inner`, routing by `snapshots`.
    pub fn new(inner: S, snapshots: Arc<SnapshotHandle>) -> Self {
        Self { inner, snapshots }
    }

    /// The snapshots this service routes by.
    pub fn snapshots(&self) -> &Arc<SnapshotHandle> {
        &self.snapshots
    }
}

impl<S, B, ResBody> Service<Request<B>> for MeshService<S>
where
    S: Service<Request<B>, Response = http::Response<ResBody>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: http_body::Body,
{
    type Response = http::Response<MeshBody<ResBody>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(transport_error)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match prepare(&self.snapshots, &mut request) {
            Ok(prepared) => ResponseFuture::sent(self.inner.call(request), prepared),
            Err(e) => ResponseFuture::failed(e),
        }
    }
}

/// What is decided for a request before it is sent.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(super) target: Target,
    pub(super) active: ActiveRequest,
    pub(super) timeout: Option<Duration>,
}

/// The first half of every mesh call: route, pick, rewrite `request` to
/// the endpoint, count it as active, attach the [`Target`].
pub(crate) fn prepare<B>(
    snapshots: &SnapshotHandle,
    request: &mut Request<B>,
) -> Result<Prepared, Error> {
    let (target, timeout) = snapshots.with(|snapshot| {
        let head = RequestHead::from_http(request.method(), request.uri(), request.headers());
        let routed = snapshot.route(&head, &mut ThreadRng)?;
        let endpoint = routed.pick(&mut ThreadRng)?;
        let target = Target::new(
            endpoint,
            routed.backend.clone(),
            routed.cluster.clone(),
            routed.route.name.clone(),
        );
        Ok::<_, Error>((target, routed.route.action.timeout))
    })?;
    request.extensions_mut().insert(target.clone());
    rewrite(request, &target)?;
    let active = target.endpoint().start_request();
    Ok(Prepared {
        target,
        active,
        timeout,
    })
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

/// Wraps an error of the transport as a `Transport` error, keeping a
/// mesh error as it is.
pub(crate) fn transport_error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    let e = e.into();
    match e.downcast::<Error>() {
        Ok(mesh) => *mesh,
        Err(other) => {
            let message = other.to_string();
            Error::new(ErrorKind::Transport, message).with_source(other)
        }
    }
}
