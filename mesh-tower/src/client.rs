//! The batteries-included client: the mesh over hyper-util's pooled
//! client, HTTP/1.1 or HTTP/2 per cluster.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use mesh_core::config::{MeshConfig, TlsMode};
use mesh_core::{Error, ErrorKind, SnapshotHandle};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::mesh::call;
use crate::retry::ReplayBody;
use crate::target::wants_http2;
use crate::{BoxError, MeshBody, ResponseFuture, Target};

/// Envoy's default cluster `connect_timeout`.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pin_project! {
    /// The future of [`HttpTransport`]: hyper's, or an immediate refusal.
    #[project = TransportProjected]
    #[derive(Debug)]
    pub enum TransportFuture {
        /// The request is with hyper.
        Sent {
            #[pin]
            response: hyper_util::client::legacy::ResponseFuture,
        },
        /// The request was refused before it was sent.
        Refused { error: Option<Error> },
    }
}

impl Future for TransportFuture {
    type Output = Result<Response<Incoming>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            TransportProjected::Sent { response } => response.poll(cx).map_err(Into::into),
            TransportProjected::Refused { error } => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| Error::new(ErrorKind::Internal, "polled after completion"))
                .into())),
        }
    }
}

/// A transport with one connection pool per HTTP version: HTTP/2 (prior
/// knowledge) when the [`Target`]'s cluster says so or the request is gRPC,
/// HTTP/1.1 otherwise. Connecting times out after Envoy's default 5 s
/// (per-cluster `connect_timeout` needs per-cluster pools, which arrive
/// with the resilience work). Plain text only for now: a request to a
/// cluster that requires TLS fails with a [`ErrorKind::Transport`] error
/// that says so, rather than going out in clear.
/// Cloning it is one reference count: the attempt loop takes a clone per
/// request.
#[derive(Debug)]
pub struct HttpTransport<B> {
    pools: Arc<Pools<B>>,
}

#[derive(Debug)]
struct Pools<B> {
    http1: Client<HttpConnector, B>,
    http2: Client<HttpConnector, B>,
}

impl<B> Clone for HttpTransport<B> {
    fn clone(&self) -> Self {
        Self {
            pools: self.pools.clone(),
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
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let builder = || {
            let mut b = Client::builder(TokioExecutor::new());
            b.pool_timer(TokioTimer::new()).timer(TokioTimer::new());
            b
        };
        Self {
            pools: Arc::new(Pools {
                http1: builder().build(connector.clone()),
                http2: builder().http2_only(true).build(connector),
            }),
        }
    }
}

impl<B> HttpTransport<B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    /// Sends `request` over the pool its version and [`Target`] call for.
    pub fn send(&self, mut request: Request<B>) -> TransportFuture {
        if let Some(target) = request.extensions().get::<Target>()
            && target.cluster().tls != TlsMode::Disable
        {
            let error = Error::new(
                ErrorKind::Transport,
                format!(
                    "cluster {:?} requires TLS ({:?}), which this transport does not speak yet",
                    target.cluster().name,
                    target.cluster().tls
                ),
            );
            return TransportFuture::Refused { error: Some(error) };
        }
        if wants_http2(&request) {
            *request.version_mut() = http::Version::HTTP_2;
            TransportFuture::Sent {
                response: self.pools.http2.request(request),
            }
        } else {
            *request.version_mut() = http::Version::HTTP_11;
            TransportFuture::Sent {
                response: self.pools.http1.request(request),
            }
        }
    }
}

impl<B> Service<Request<B>> for HttpTransport<B>
where
    B: http_body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Incoming>;
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
    ) -> Result<Response<MeshBody<Incoming>>, Error> {
        self.send(request).await
    }

    fn send(&self, request: Request<B>) -> ResponseFuture<Incoming> {
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
    type Response = Response<MeshBody<Incoming>>;
    type Error = Error;
    type Future = ResponseFuture<Incoming>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.send(request)
    }
}
