//! The inbound side of tracing: a server's requests join their caller's
//! trace.
//!
//! [`InboundTraceLayer`] wraps a server's service: for each request it
//! reads the caller's context (`traceparent`, or B3 when the tracer
//! propagates B3), opens a server span under it when the trace is
//! sampled, and ends the span with the response head's status. The
//! request carries the resulting [`SpanContext`] as an extension; copy it
//! to the requests the handler sends through the mesh
//! ([`propagate`]) and their spans hang under the server's, so a trace
//! crosses this service as one tree.
//!
//! Files: `layer`, `service` (the service and its future).

mod layer;
mod service;

pub use layer::InboundTraceLayer;
pub use service::{InboundTraceFuture, InboundTraceService};

use mesh_core::telemetry::trace::SpanContext;

/// Copies the trace context of an inbound request (set by
/// [`InboundTraceLayer`]) to an outgoing one, whose mesh spans then hang
/// under it.
pub fn propagate<A, B>(inbound: &http::Request<A>, outgoing: &mut http::Request<B>) {
    if let Some(context) = inbound.extensions().get::<SpanContext>() {
        outgoing.extensions_mut().insert(*context);
    }
}
