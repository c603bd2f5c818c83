//! Where the mesh sent a request, attached to it for the transport.

use std::sync::Arc;

use mesh_core::config::{Backend, Cluster, HttpProtocol};
use mesh_core::lb::EndpointSlot;
use mesh_core::resilience::breaker::ClusterLimits;

/// The routing decision for one attempt, inserted into the request's
/// extensions by [`MeshService`](crate::MeshService) before the transport
/// sees it, and held by the response's body after
/// ([`MeshBody::target`](crate::MeshBody::target)). A transport reads it
/// to choose the protocol (and, later, TLS settings); telemetry and
/// callers read it to know where a request went and why. Cloning it is one
/// reference-count increment.
#[derive(Debug, Clone)]
pub struct Target(Arc<Decision>);

#[derive(Debug)]
struct Decision {
    endpoint: Arc<EndpointSlot>,
    backend: Backend,
    cluster: Arc<Cluster>,
    limits: Arc<ClusterLimits>,
    route: Arc<str>,
}

impl Target {
    pub(crate) fn new(
        endpoint: Arc<EndpointSlot>,
        backend: Backend,
        cluster: Arc<Cluster>,
        limits: Arc<ClusterLimits>,
        route: Arc<str>,
    ) -> Self {
        Self(Arc::new(Decision {
            endpoint,
            backend,
            cluster,
            limits,
            route,
        }))
    }

    /// The endpoint chosen.
    pub fn endpoint(&self) -> &Arc<EndpointSlot> {
        &self.0.endpoint
    }

    /// The backend drawn (cluster and subset).
    pub fn backend(&self) -> &Backend {
        &self.0.backend
    }

    /// The cluster.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.0.cluster
    }

    /// The cluster's circuit-breaker counters: the transport counts its
    /// connections and the requests waiting for one against them.
    pub fn limits(&self) -> &Arc<ClusterLimits> {
        &self.0.limits
    }

    /// The name of the route that matched.
    pub fn route(&self) -> &str {
        &self.0.route
    }

    /// The HTTP version the cluster asks for.
    pub fn protocol(&self) -> HttpProtocol {
        self.0.cluster.protocol
    }
}

/// Whether a request goes out over HTTP/2: gRPC always does, a cluster
/// may ask for it, and a caller may by setting the request's version.
/// Decided once per attempt, when the request is rewritten (which then
/// sets the version).
pub(crate) fn speaks_http2(version: http::Version, cluster: HttpProtocol, grpc: bool) -> bool {
    grpc || version == http::Version::HTTP_2 || cluster == HttpProtocol::Http2
}

/// Whether a request is gRPC, by its content type.
pub(crate) fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}
