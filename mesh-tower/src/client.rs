//! The batteries-included client: the mesh over its own connection pools,
//! HTTP/1.1 or HTTP/2 per cluster.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use http::{Request, Response, Uri};
use mesh_core::config::{MeshConfig, TlsMode};
use mesh_core::{Error, ErrorKind, SnapshotHandle};
use tower_service::Service;

use crate::mesh::call;
use crate::pool::{Pools, UpstreamBody};
use crate::retry::ReplayBody;
use crate::{BoxError, MeshBody, ResponseFuture, Target};

/// The future of [`HttpTransport`]: finding a connection, then the
/// response head.
pub struct TransportFuture(
    Pin<Box<dyn Future<Output = Result<Response<UpstreamBody>, BoxError>> + Send>>,
);

impl Future for TransportFuture {
    type Output = Result<Response<UpstreamBody>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for TransportFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransportFuture")
    }
}

/// The mesh's own transport: connection pools per endpoint, shaped by the
/// cluster of the request's [`Target`] (connect and idle timeouts,
/// connection lifetime, requests per connection, HTTP/2 concurrency,
/// keepalive, and the cluster's connection and pending-request breakers;
/// see the `pool` module). HTTP/2 (prior knowledge) for a request whose
/// version says so (the mesh sets it when the cluster asks for HTTP/2 or
/// the request is gRPC), HTTP/1.1 otherwise. Plain text only for
/// now: a request to a cluster that requires TLS fails with an
/// [`ErrorKind::Transport`] error that says so, rather than going out in
/// clear. It sends only requests the mesh routed (they carry a
/// [`Target`]). Cloning it is one reference count: the attempt loop takes
/// a clone per request.
#[derive(Debug)]
pub struct HttpTransport<B> {
    pools: Arc<Pools<B>>,
}

impl<B> Clone for HttpTransport<B> {
    fn clone(&self) -> Self {
        Self {
            pools: self.pools.clone(),
        }
    }
}

impl<B> Default for HttpTransport<B> {
    fn default() -> Self {
        Self {
            pools: Arc::default(),
        }
    }
}

impl<B> HttpTransport<B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    /// Sends `request` to its [`Target`]'s endpoint.
    pub fn send(&self, mut request: Request<B>) -> TransportFuture {
        let refuse = |error: Error| TransportFuture(Box::pin(async move { Err(error.into()) }));
        let Some(target) = request.extensions().get::<Target>().cloned() else {
            return refuse(Error::new(
                ErrorKind::InvalidRequest,
                "HttpTransport sends requests the mesh routed; this one carries no Target",
            ));
        };
        if target.cluster().tls != TlsMode::Disable {
            return refuse(Error::new(
                ErrorKind::Transport,
                format!(
                    "cluster {:?} requires TLS ({:?}), which this transport does not speak yet",
                    target.cluster().name,
                    target.cluster().tls
                ),
            ));
        }
        // The mesh set the version when it rewrote the request.
        let http2 = request.version() == http::Version::HTTP_2;
        if !http2 {
            *request.version_mut() = http::Version::HTTP_11;
            // A connection to the endpoint takes the origin form.
            let path = request
                .uri()
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            *request.uri_mut() = Uri::from(path);
        }
        TransportFuture(self.pools.send(&target, request, http2))
    }
}

impl<B> Service<Request<B>> for HttpTransport<B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<UpstreamBody>;
    type Error = BoxError;
    type Future = TransportFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.send(request)
    }
}

/// An HTTP and gRPC client that routes every request through the mesh.
///
/// ```no_run
/// # async fn demo(config: mesh_core::config::MeshConfig) -> Result<(), mesh_core::Error> {
/// use http_body_util::Full;
/// let client = mesh_tower::MeshClient::<Full<bytes::Bytes>>::from_config(config);
/// let request = http::Request::get("http://order-service/orders/1")
///     .body(Full::default())
///     .expect("valid request");
/// let response = client.request(request).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MeshClient<B> {
    snapshots: Arc<SnapshotHandle>,
    transport: HttpTransport<ReplayBody<B>>,
}

impl<B> Clone for MeshClient<B> {
    fn clone(&self) -> Self {
        Self {
            snapshots: self.snapshots.clone(),
            transport: self.transport.clone(),
        }
    }
}

impl<B> MeshClient<B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: bytes::Buf + Send,
    B::Error: Into<BoxError>,
{
    /// A client routing by `snapshots` (swap in new configuration there).
    pub fn new(snapshots: Arc<SnapshotHandle>) -> Self {
        Self {
            snapshots,
            transport: HttpTransport::default(),
        }
    }

    /// A client with a fixed configuration.
    pub fn from_config(config: MeshConfig) -> Self {
        Self::new(Arc::new(SnapshotHandle::from_config(config)))
    }

    /// The snapshots this client routes by.
    pub fn snapshots(&self) -> &Arc<SnapshotHandle> {
        &self.snapshots
    }

    /// Sends one request through the mesh.
    pub async fn request(
        &self,
        request: Request<B>,
    ) -> Result<Response<MeshBody<UpstreamBody>>, Error> {
        self.send(request).await
    }

    fn send(&self, request: Request<B>) -> ResponseFuture<UpstreamBody> {
        ResponseFuture::new(call(
            self.snapshots.clone(),
            self.transport.clone(),
            request,
        ))
    }
}

impl<B> Service<Request<B>> for MeshClient<B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: bytes::Buf + Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<MeshBody<UpstreamBody>>;
    type Error = Error;
    type Future = ResponseFuture<UpstreamBody>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.send(request)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::Full;

    use super::*;

    /// Every request allocates its future: under 1 KiB it comes from the
    /// allocator's small bins (see `call`).
    #[test]
    fn the_request_future_stays_under_a_kibibyte() {
        let client = MeshClient::<Full<bytes::Bytes>>::from_config(MeshConfig::default());
        let future = call(
            client.snapshots.clone(),
            client.transport.clone(),
            Request::new(Full::default()),
        );
        let size = std::mem::size_of_val(&future);
        assert!(size <= 1024, "the request future takes {size} bytes");
    }
}
