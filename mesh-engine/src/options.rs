//! What an engine is built from: where its configuration comes from, and
//! the few settings of the engine itself.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mesh_core::telemetry::SourceLabels;
use mesh_core::telemetry::trace::{Propagation, Sampler};
use mesh_core::{Error, ErrorKind};

/// The formats of a static configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfigFormat {
    /// Envoy v3 resources or Istio YAML, told apart by their top-level
    /// keys.
    #[default]
    Auto,
    /// Envoy v3 resources (`resources` or `static_resources`), JSON or
    /// YAML.
    Envoy,
    /// Istio `VirtualService`, `DestinationRule` and `ServiceEntry` YAML.
    Istio,
}

/// Where an engine's configuration comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// A document held in memory.
    Static {
        /// The document.
        text: String,
        /// Its format.
        format: ConfigFormat,
    },
    /// A document in a file, read once at start.
    StaticFile {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: ConfigFormat,
    },
    /// A control plane, through the gRPC-style xDS bootstrap.
    Xds {
        /// The bootstrap JSON; `None` reads `GRPC_XDS_BOOTSTRAP` or
        /// `GRPC_XDS_BOOTSTRAP_CONFIG`.
        bootstrap: Option<String>,
        /// The `host:port` targets (API listeners) to subscribe to.
        targets: Vec<String>,
        /// How long [`crate::Engine::new`] waits for a first complete
        /// configuration (zero: not at all; requests fail with `NoRoute`
        /// until it comes).
        ready_timeout: Duration,
    },
}

/// The policy JSON (`mesh_core::source::policy`) applied to one host of
/// a static configuration.
#[derive(Debug, Clone)]
pub struct PolicySource {
    /// The policy document.
    pub json: String,
    /// The host whose routes it governs.
    pub host: String,
}

/// The engine's own settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Worker threads of the engine's runtime, which runs the xDS client
    /// (requests run on their callers' threads, see `driver`).
    pub worker_threads: usize,
    /// The largest request or response body the engine buffers.
    pub max_body_bytes: usize,
    /// A policy JSON for a host of a static configuration.
    pub policy: Option<PolicySource>,
    /// Who this workload is, for the `source_*` labels of Istio's
    /// metrics. `None`: from the xDS bootstrap's node metadata (Istio's
    /// `WORKLOAD_NAME`, `NAMESPACE`, `LABELS`), else `unknown`.
    pub workload: Option<SourceLabels>,
    /// Serve the metrics at `/metrics` on this address (port 0: a free
    /// port, see [`crate::Engine::metrics_address`]).
    pub metrics_address: Option<SocketAddr>,
    /// Trace requests and export the spans over OTLP.
    pub tracing: Option<TracingOptions>,
    /// Log requests, one JSON line each, to a file.
    pub access_log: Option<AccessLogOptions>,
    /// Push Istio's metrics over OTLP too.
    pub otlp_metrics: Option<OtlpMetricsExport>,
}

/// Where and how often Istio's metrics are pushed over OTLP/gRPC.
#[derive(Debug, Clone)]
pub struct OtlpMetricsExport {
    /// The collector's OTLP/gRPC endpoint, e.g. `http://127.0.0.1:4317`.
    pub endpoint: String,
    /// Between pushes (OpenTelemetry's default: 60 s).
    pub interval: Duration,
}

/// The access log of an engine.
#[derive(Debug, Clone)]
pub struct AccessLogOptions {
    /// The file, appended to (created if missing).
    pub path: PathBuf,
    /// The share of requests logged, from 0 to 1.
    pub sample_ratio: f64,
}

/// How requests are traced.
#[derive(Debug, Clone)]
pub struct TracingOptions {
    /// The collector's OTLP/gRPC endpoint, e.g. `http://127.0.0.1:4317`.
    pub otlp_endpoint: String,
    /// The `service.name` of the spans (default: the workload's name).
    pub service_name: Option<String>,
    /// Which traces are recorded (default: the caller's decision, else 1 %).
    pub sampler: Sampler,
    /// Which headers carry the context to endpoints (default: W3C).
    pub propagation: Propagation,
    /// Finished spans waiting for export, at most (more are dropped and
    /// counted).
    pub queue_capacity: usize,
    /// How long a batch of spans waits to fill before it is sent.
    pub batch_delay: Duration,
}

impl TracingOptions {
    /// Tracing to `otlp_endpoint` with the defaults.
    pub fn new(otlp_endpoint: impl Into<String>) -> Self {
        Self {
            otlp_endpoint: otlp_endpoint.into(),
            service_name: None,
            sampler: Sampler::default(),
            propagation: Propagation::default(),
            queue_capacity: 2_048,
            batch_delay: Duration::from_secs(1),
        }
    }
}

impl EngineOptions {
    /// Worker threads unless told otherwise.
    pub const DEFAULT_WORKER_THREADS: usize = 1;
    /// The body limit unless told otherwise: 16 MiB.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 16 << 20;
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            worker_threads: Self::DEFAULT_WORKER_THREADS,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            policy: None,
            workload: None,
            metrics_address: None,
            tracing: None,
            access_log: None,
            otlp_metrics: None,
        }
    }
}

/// `value` as a share of requests (a sampling ratio), from 0 to 1; else an
/// `InvalidArgument` error naming `field`. The engine checks its options
/// with it, and a binding may too, to refuse a value where it is given.
pub fn check_ratio(field: &str, value: f64) -> Result<f64, Error> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{field} {value} is not between 0 and 1"),
        ))
    }
}
