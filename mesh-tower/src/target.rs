//! Where the mesh sent a request, attached to it for the transport.

use std::sync::Arc;

use mesh_core::ArmTarget;
use mesh_core::config::{Backend, Cluster, HttpProtocol};
use mesh_core::lb::EndpointSlot;
use mesh_core::resilience::breaker::ClusterLimits;

/// The routing decision for one attempt, inserted into the request's
/// extensions by [`MeshService`](crate::MeshService) before the transport
/// sees it, and held by the response's body after
/// ([`MeshBody::target`](crate::MeshBody::target)). A transport reads it
/// to choose the protocol (and, later, TLS settings); telemetry and
/// callers read it to know where a request went and why. Cloning it is two
/// reference-count increments: the route arm's part is shared by every
/// attempt on it.
#[derive(Debug, Clone)]
pub struct Target {
    arm: Arc<ArmTarget>,
    endpoint: Arc<EndpointSlot>,
}

impl Target {
    pub(crate) fn new(arm: Arc<ArmTarget>, endpoint: Arc<EndpointSlot>) -> Self {
        Self { arm, endpoint }
    }

    /// The endpoint chosen.
    pub fn endpoint(&self) -> &Arc<EndpointSlot> {
        &self.endpoint
    }

    /// The backend drawn (cluster and subset).
    pub fn backend(&self) -> &Backend {
        &self.arm.backend
    }

    /// The cluster.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.arm.cluster
    }

    /// The cluster's circuit-breaker counters: the transport counts its
    /// connections and the requests waiting for one against them.
    pub fn limits(&self) -> &Arc<ClusterLimits> {
        self.arm.resilience.limits()
    }

    /// The name of the route that matched.
    pub fn route(&self) -> &str {
        &self.arm.route
    }

    /// The HTTP version the cluster asks for.
    pub fn protocol(&self) -> HttpProtocol {
        self.arm.cluster.protocol
    }
}

/// Whether a request goes out over HTTP/2: gRPC always does, a cluster
/// may ask for it, and a caller may by setting the request's version.
/// Decided once per attempt, when the request is rewritten (which then
/// sets the version).
pub(crate) fn speaks_http2(version: http::Version, cluster: HttpProtocol, grpc: bool) -> bool {
    grpc || version == http::Version::HTTP_2 || cluster == HttpProtocol::Http2
}
