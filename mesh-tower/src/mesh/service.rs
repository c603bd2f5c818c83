//! The service that sends each request through the mesh.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use http_body::Body;
use mesh_core::{Error, SnapshotHandle};
use tower_service::Service;

use super::attempt::transport_error;
use super::call::call;
use super::{MeshBody, ResponseFuture};
use crate::BoxError;
use crate::retry::ReplayBody;

/// Routes each request through the mesh, then calls the inner transport
/// once per attempt, with the request body wrapped for replay
/// ([`ReplayBody`]).
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
    S: Service<Request<ReplayBody<B>>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: bytes::Buf + Send,
    B::Error: Into<BoxError>,
    ResBody: Body + Send + 'static,
{
    type Response = http::Response<MeshBody<ResBody>>;
    type Error = Error;
    type Future = ResponseFuture<ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(transport_error)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was made ready goes with this call (tower's rule
        // for services that move into their futures).
        let ready = self.inner.clone();
        let transport = std::mem::replace(&mut self.inner, ready);
        ResponseFuture::new(call(self.snapshots.clone(), transport, request))
    }
}
