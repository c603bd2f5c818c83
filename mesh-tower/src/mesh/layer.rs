//! The layer that builds [`MeshService`]s.

use std::sync::Arc;

use mesh_core::SnapshotHandle;
use tower_layer::Layer;

use super::MeshService;

/// Applies the mesh to a transport: `ServiceBuilder::new().layer(MeshLayer::new(handle)).service(client)`.
#[derive(Debug, Clone)]
pub struct MeshLayer {
    snapshots: Arc<SnapshotHandle>,
}

impl MeshLayer {
    /// A layer routing by the snapshots `snapshots` serves (swap a new one
    /// in at any time; requests in flight finish on theirs).
    pub fn new(snapshots: Arc<SnapshotHandle>) -> Self {
        Self { snapshots }
    }
}

impl<S> Layer<S> for MeshLayer {
    type Service = MeshService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MeshService::new(inner, self.snapshots.clone())
    }
}
