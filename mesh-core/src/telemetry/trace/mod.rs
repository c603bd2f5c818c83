//! Tracing: a span per request through the mesh and one per attempt,
//! the caller's trace context in and each attempt's out, exported over
//! OTLP.
//!
//! The request span (kind internal) covers the call from the mesh's
//! point of view: routing, every attempt and backoff, until the response
//! body ends. Each attempt is a child (kind client) whose id goes to the
//! endpoint in `traceparent` (and B3 if configured), so the server's span
//! hangs under the attempt that reached it, and a retried request shows
//! as one trace with one child per attempt. As gRPC's A72 does for its
//! call and attempt spans.
//!
//! Files: `context` (W3C and B3 on the wire), `sampler`, `span`,
//! `tracer` (sampling and the bounded queue) and `otlp` (the exporting
//! task).

mod context;
pub(crate) mod otlp;
mod sampler;
mod span;
mod tracer;

pub use context::{
    Propagation, SpanContext, TRACEPARENT, TRACESTATE, extract, extract_b3, hex, inject,
    parse_b3_single, parse_traceparent, traceparent,
};
pub use otlp::{OtlpOptions, exporter};
pub use sampler::Sampler;
pub use span::{OpenSpan, SpanKind, SpanRecord, Value};
pub use tracer::{SpanQueue, TraceStats, Tracer, TracerConfig};
