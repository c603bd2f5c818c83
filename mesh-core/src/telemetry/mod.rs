//! Telemetry: what the mesh did, in the names dashboards already know.
//!
//! Without a sidecar, Kiali's graph and Istio's Grafana dashboards lose
//! the metrics Envoy used to emit for each call. The engine emits them
//! itself, from inside the caller's process: Istio's standard metrics
//! (`istio_requests_total` and the duration and size histograms, with
//! the `reporter="source"` labels a client sidecar used), plus what no
//! proxy could say as well: retries by reason, budget refusals, rate
//! limits, faults, ejections, per cluster.
//!
//! The request path pays a few relaxed atomic additions and no lock or
//! allocation: a request finds its [`Destination`] cached on the endpoint
//! it reached ([`Telemetry::record`]), and the destination finds its
//! series by a small key (`series`). Labels are rendered only when
//! scraped ([`Telemetry::render_istio`], [`render_clusters`]).
//!
//! Files: `labels` (source and destination, Istio's fallbacks), `flags`
//! (Envoy's response flags), `histogram`, `series`, `registry`, `stats`
//! (the per-cluster counters) and `prometheus` (the text format).

mod access_log;
mod flags;
mod histogram;
mod labels;
mod otlp_metrics;
mod prometheus;
mod registry;
mod series;
mod stats;
pub mod trace;

pub use access_log::{AccessLog, AccessLogEntry};
pub use flags::{ResponseFlags, local_reply};
pub use labels::{DestinationLabels, SourceLabels, UNKNOWN};
pub use otlp_metrics::{OtlpMetricsOptions, metrics_exporter};
pub use prometheus::{escape, header, render_clusters, render_route_breakers};
pub use registry::{DestinationCache, Exchange, Reached, Telemetry};
pub use series::{Destination, Protocol, grpc_status};
pub use stats::{ClusterStats, RetryReason, bump};
