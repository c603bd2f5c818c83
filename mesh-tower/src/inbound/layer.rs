//! The layer that builds [`InboundTraceService`]s.

use std::sync::Arc;

use mesh_core::telemetry::Telemetry;
use tower_layer::Layer;

use super::InboundTraceService;

/// Traces a server's requests with the tracer of `telemetry` (none: the
/// layer only reads the caller's context into the request's extensions).
#[derive(Debug, Clone)]
pub struct InboundTraceLayer {
    telemetry: Arc<Telemetry>,
}

impl InboundTraceLayer {
    /// A layer tracing with `telemetry`'s tracer.
    pub fn new(telemetry: Arc<Telemetry>) -> Self {
        Self { telemetry }
    }
}

impl<S> Layer<S> for InboundTraceLayer {
    type Service = InboundTraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InboundTraceService::new(inner, self.telemetry.clone())
    }
}
