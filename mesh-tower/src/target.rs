//! Where the mesh sent a request, attached to it for the transport.

use std::sync::Arc;

use mesh_core::config::{Backend, Cluster, HttpProtocol};
use mesh_core::lb::EndpointSlot;

/// The routing decision for one attempt, inserted into the request's
/// extensions by [`MeshService`](crate::MeshService) before the transport
/// sees it, and into the response's extensions after. A transport reads it
/// to choose the protocol (and, later, TLS settings); telemetry and
/// callers read it to know where a request went and why.
#[derive(Debug, Clone)]
pub struct Target {
    /// The endpoint chosen.
    pub endpoint: Arc<EndpointSlot>,
    /// The backend drawn (cluster and subset).
    pub backend: Backend,
    /// The cluster.
    pub cluster: Arc<Cluster>,
    /// The route's name.
    pub route: Arc<str>,
}

impl Target {
    /// The HTTP version to speak to the endpoint.
    pub fn protocol(&self) -> HttpProtocol {
        self.cluster.protocol
    }
}
