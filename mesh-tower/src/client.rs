//! The batteries-included client: the mesh over hyper-util's pooled
//! client, HTTP/1.1 or HTTP/2 per cluster.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use mesh_core::config::{HttpProtocol, MeshConfig};
use mesh_core::{Error, SnapshotHandle};
use tower_service::Service;

use crate::{MeshBody, MeshService, Target};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A transport with one connection pool per HTTP version: HTTP/2 (prior
/// knowledge) when the [`Target`]'s cluster says so or the request is gRPC,
/// HTTP/1.1 otherwise.
#[derive(Debug)]
pub struct HttpTransport<B> {
    http1: Client<HttpConnector, B>,
    http2: Client<HttpConnector, B>,
}

impl<B> Clone for HttpTransport<B> {
    fn clone(&self) -> Self {
        Self {
            http1: self.http1.clone(),
            http2: self.http2.clone(),
        }
    }
}

impl<B> Default for HttpTransport<B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let builder = || {
            let mut b = Client::builder(TokioExecutor::new());
            b.pool_timer(TokioTimer::new()).timer(TokioTimer::new());
            b
        };
        Self {
            http1: builder().build(connector.clone()),
            http2: builder().http2_only(true).build(connector),
        }
    }
}

fn wants_http2<B>(request: &Request<B>) -> bool {
    let grpc = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let cluster_h2 = request
        .extensions()
        .get::<Target>()
        .is_some_and(|t| t.protocol() == HttpProtocol::Http2);
    grpc || cluster_h2 || request.version() == http::Version::HTTP_2
}

impl<B> Service<Request<B>> for HttpTransport<B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Incoming>;
    type Error = hyper_util::client::legacy::Error;
    type Future = hyper_util::client::legacy::ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if wants_http2(&request) {
            *request.version_mut() = http::Version::HTTP_2;
            self.http2.request(request)
        } else {
            *request.version_mut() = http::Version::HTTP_11;
            self.http1.request(request)
        }
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
    service: MeshService<HttpTransport<B>>,
}

impl<B> Clone for MeshClient<B> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
        }
    }
}

impl<B> MeshClient<B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    /// A client routing by `snapshots` (swap in new configuration there).
    pub fn new(snapshots: Arc<SnapshotHandle>) -> Self {
        Self {
            service: MeshService::new(HttpTransport::default(), snapshots),
        }
    }

    /// A client with a fixed configuration.
    pub fn from_config(config: MeshConfig) -> Self {
        Self::new(Arc::new(SnapshotHandle::from_config(config)))
    }

    /// The snapshots this client routes by.
    pub fn snapshots(&self) -> &Arc<SnapshotHandle> {
        self.service.snapshots()
    }

    /// Sends one request through the mesh.
    pub async fn request(
        &self,
        request: Request<B>,
    ) -> Result<Response<MeshBody<Incoming>>, Error> {
        self.service.clone().call(request).await
    }
}

impl<B> Service<Request<B>> for MeshClient<B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<MeshBody<Incoming>>;
    type Error = Error;
    type Future = <MeshService<HttpTransport<B>> as Service<Request<B>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.service.call(request)
    }
}
