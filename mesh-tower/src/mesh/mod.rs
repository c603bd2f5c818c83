//! The mesh middleware: route, pick, rewrite, send, retry.
//!
//! Per request, [`MeshService`] reads the current snapshot once, routes
//! the request (listener by authority, virtual host, first matching
//! route, weighted backend), then runs the attempt loop (`call`): pick an
//! endpoint in service, take the cluster breaker's permit, rewrite the
//! URI's scheme and authority to the endpoint (the path and the `Host`
//! header keep the logical service, as a sidecar would), record the
//! decision as a [`Target`](crate::Target) extension, send, and let
//! mesh-core decide about retries and outliers. The request counts as
//! active on the endpoint until its response body ends ([`MeshBody`]);
//! the request's timeout bounds the wait for the response head.
//!
//! Files: `call` (the loop, faults, mirrors, the route breaker),
//! `attempt` (one attempt: its request, its outcome), `hedge` (attempts
//! side by side), `body`, `future`, `service` and `layer` (the tower
//! surface).

mod attempt;
mod body;
mod bounds;
mod call;
mod future;
mod hedge;
mod layer;
mod report;
mod service;

pub use body::MeshBody;
pub(crate) use call::call;
pub use future::ResponseFuture;
pub use layer::MeshLayer;
pub use service::MeshService;
