//! The mesh middleware: route, pick, rewrite, send.
//!
//! Per request, [`MeshService`] reads the current snapshot once, routes
//! the request (listener by authority, virtual host, first matching
//! route, weighted backend), picks an endpoint, rewrites the URI's scheme
//! and authority to the endpoint (the path and the `Host` header keep the
//! logical service, as a sidecar would), records the decision as a
//! [`Target`](crate::Target) extension, counts the request as active on
//! the endpoint until its response body ends ([`MeshBody`]), and bounds
//! the wait for the response head by the route's timeout.

mod body;
mod future;
mod layer;
mod service;

pub use body::MeshBody;
pub use future::ResponseFuture;
pub use layer::MeshLayer;
pub use service::MeshService;
pub(crate) use service::prepare;
