//! mesh-tower: the mesh as tower middleware over real HTTP and gRPC.
//!
//! [`MeshLayer`] wraps any `Service<http::Request<B>>` transport (a
//! hyper-util client, a tonic-compatible stack, your own): per request it
//! asks mesh-core's current [`Snapshot`] for the
//! route, draws the weighted backend, picks an endpoint, rewrites the URI
//! to that endpoint and sends. Failures are [`mesh_core::Error`]s with a
//! stable [`ErrorKind`]: `NoRoute`,
//! `NoHealthyEndpoint`, `Timeout`, `Transport`, ...
//!
//! [`MeshClient`] is the batteries-included client: the layer over the
//! mesh's own connection pools (per endpoint, shaped by each cluster's
//! connection-pool settings and breakers), speaking HTTP/1.1 or HTTP/2 per
//! cluster (and HTTP/2 for gRPC). It is also a tonic `GrpcService`, so a generated gRPC
//! client runs over the mesh with `FooClient::with_origin(client, uri)`.
//!
//! The request path holds no lock and hops no thread: the snapshot is read
//! with one atomic load, decisions are synchronous, and the transport is
//! called in the caller's task.

mod client;
pub mod inbound;
mod mesh;
pub mod metrics;
mod pool;
mod retry;
mod target;

pub use client::{HttpTransport, MeshClient, TransportFuture};
pub use mesh::{MeshBody, MeshLayer, MeshService, ResponseFuture};
pub use pool::UpstreamBody;
pub use retry::{DEFAULT_REPLAY_LIMIT, ReplayBody, Replayer};
pub use target::Target;

pub use mesh_core::{Error, ErrorKind, Snapshot, SnapshotHandle};

/// Any error a transport or a body may return.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
