//! The service that applies one routing decision per request.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::uri::{PathAndQuery, Scheme};
use http::{HeaderValue, Request, Uri};
use mesh_core::config::TlsMode;
use mesh_core::rng::ThreadRng;
use mesh_core::{Error, ErrorKind, RequestHead, SnapshotHandle};
use tower_service::Service;

use super::{MeshBody, ResponseFuture};
use crate::Target;

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
        let (target, timeout) = match decide(&self.snapshots, &request) {
            Ok(decision) => decision,
            Err(e) => return ResponseFuture::failed(e),
        };
        if let Err(e) = rewrite(&mut request, &target) {
            return ResponseFuture::failed(e);
        }
        let active = target.endpoint.start_request();
        request.extensions_mut().insert(target.clone());
        ResponseFuture::sent(self.inner.call(request), target, active, timeout)
    }
}

/// Routes and picks: the whole decision, before anything is sent.
fn decide<B>(
    snapshots: &SnapshotHandle,
    request: &Request<B>,
) -> Result<(Target, Option<std::time::Duration>), Error> {
    let snapshot = snapshots.load();
    let head = RequestHead::from_http(request.method(), request.uri(), request.headers());
    let routed = snapshot.route(&head, &mut ThreadRng)?;
    let endpoint = routed.pick(&mut ThreadRng)?;
    let target = Target {
        endpoint,
        backend: routed.backend.clone(),
        cluster: routed.cluster.clone(),
        route: routed.route.name.clone(),
    };
    Ok((target, routed.route.action.timeout))
}

/// Points the request at the endpoint: scheme and authority change, the
/// path stays, and `Host` keeps naming the logical service.
fn rewrite<B>(request: &mut Request<B>, target: &Target) -> Result<(), Error> {
    let uri = request.uri();
    if !request.headers().contains_key(http::header::HOST)
        && let Some(authority) = uri.authority()
    {
        let host = HeaderValue::from_str(authority.as_str()).map_err(|e| {
            Error::new(ErrorKind::InvalidRequest, "authority is not a valid Host").with_source(e)
        })?;
        request.headers_mut().insert(http::header::HOST, host);
    }
    let scheme = match target.cluster.tls {
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
    parts.authority = Some(target.endpoint.endpoint().uri_authority().clone());
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
