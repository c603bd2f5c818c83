//! A tiny gRPC service, `demo.Greeter/SayHello`, written out by hand.
//!
//! Generated code would need `protoc` at build time; these few lines are
//! what `tonic-build` would emit for one unary method, so the examples and
//! tests run a real tonic server and a real tonic client with nothing to
//! install. The reply names the backend that served it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::uri::PathAndQuery;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::client::GrpcService;
use tonic::codegen::{BoxFuture, Context, Poll, Service, StdError};
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

/// `demo.HelloRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloRequest {
    /// Who to greet.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// `demo.HelloReply`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloReply {
    /// The greeting.
    #[prost(string, tag = "1")]
    pub message: String,
    /// The backend that answered.
    #[prost(string, tag = "2")]
    pub backend: String,
}

const SAY_HELLO: &str = "/demo.Greeter/SayHello";

/// The client side, over any tonic transport (a `Channel`, or the mesh's
/// `MeshClient`).
#[derive(Debug, Clone)]
pub struct GreeterClient<T> {
    inner: tonic::client::Grpc<T>,
}

impl<T> GreeterClient<T>
where
    T: GrpcService<Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<StdError> + Send,
{
    /// A client sending to `origin` (`http://greeter:50051`) through `inner`.
    pub fn with_origin(inner: T, origin: http::Uri) -> Self {
        Self {
            inner: tonic::client::Grpc::with_origin(inner, origin),
        }
    }

    /// Calls `SayHello` (pass a `tonic::Request` to add metadata).
    pub async fn say_hello(
        &mut self,
        request: impl tonic::IntoRequest<HelloRequest>,
    ) -> Result<HelloReply, Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("transport not ready: {}", e.into())))?;
        let path = PathAndQuery::from_static(SAY_HELLO);
        let codec = ProstCodec::<HelloRequest, HelloReply>::default();
        let response = self
            .inner
            .unary(request.into_request(), path, codec)
            .await?;
        Ok(response.into_inner())
    }
}

/// The server side: greets and says which backend it is.
#[derive(Debug, Clone)]
pub struct GreeterServer {
    name: Arc<str>,
    served: Arc<AtomicU64>,
}

impl NamedService for GreeterServer {
    const NAME: &'static str = "demo.Greeter";
}

impl Service<http::Request<Body>> for GreeterServer {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            if request.uri().path() != SAY_HELLO {
                return Ok(Status::unimplemented(request.uri().path()).into_http());
            }
            let mut grpc =
                tonic::server::Grpc::new(ProstCodec::<HelloReply, HelloRequest>::default());
            Ok(grpc.unary(this, request).await)
        })
    }
}

impl UnaryService<HelloRequest> for GreeterServer {
    type Response = HelloReply;
    type Future = BoxFuture<Response<HelloReply>, Status>;

    fn call(&mut self, request: Request<HelloRequest>) -> Self::Future {
        self.served.fetch_add(1, Ordering::Relaxed);
        let backend = self.name.to_string();
        Box::pin(async move {
            let name = request.into_inner().name;
            Ok(Response::new(HelloReply {
                message: format!("hello, {name}"),
                backend,
            }))
        })
    }
}

/// A running tonic server; dropping it stops the server.
#[derive(Debug)]
pub struct GreeterBackend {
    addr: SocketAddr,
    served: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl GreeterBackend {
    /// Starts a greeter called `name` on an ephemeral loopback port.
    pub async fn start(name: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let served = Arc::new(AtomicU64::new(0));
        let server = GreeterServer {
            name: name.into(),
            served: served.clone(),
        };
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let task = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(server)
                .serve_with_incoming(incoming)
                .await;
        });
        Ok(Self { addr, served, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Calls answered so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

impl Drop for GreeterBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}
