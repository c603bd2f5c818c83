//! The paths a request can take, and one client per path.
//!
//! Every path sends the same request — `GET /orders/1` with the headers of
//! [`WORKLOAD_HEADERS`] and an empty body — and reads the whole response,
//! so the only difference between two paths is what stands between the
//! caller and the backend:
//!
//! - [`PathKind::Raw`]: hyper-util's pooled client straight to the backend
//!   (the usual way to use hyper as a client), with the connection options
//!   of the mesh's own pools (`TCP_NODELAY`, tokio timers): the baseline;
//!   [`PathKind::RawSpread`] is the same over the full chain's three
//!   endpoints in the full chain's shares (40/40/20: its 80/20 split, v1
//!   over two endpoints), so the full chain has a floor with the same
//!   connections carrying the same load — over HTTP/2 throughput depends
//!   on how many connections share the work;
//! - [`PathKind::MeshStatic`] and [`PathKind::MeshFull`]: `MeshClient` over
//!   the configs of [`crate::configs`], naming the logical host; the full
//!   chain and its routing alone also trace, with no request sampled;
//! - [`PathKind::Sidecar`]: the raw client to the first proxy of a
//!   [`crate::proxy::SidecarPair`].
//!
//! A fresh client is made for each measurement (a repetition of one
//! protocol and mode), so no measurement inherits another's connections.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use mesh_core::SnapshotHandle;
use mesh_core::telemetry::trace::{Sampler, SpanQueue, Tracer, TracerConfig};
use mesh_core::telemetry::{SourceLabels, Telemetry};
use mesh_tower::MeshClient;

use crate::configs;
use crate::proxy::ProxyKind;

/// The request headers of the workload, on every path.
pub const WORKLOAD_HEADERS: [(&str, &str); 4] = [
    ("user-agent", "mesh-bench/1"),
    ("accept", "*/*"),
    ("x-user-group", "gold"),
    ("x-request-id", "0d9c4d7e-8a53-4a9e-9f3e-6f1f2b7c5a10"),
];

/// The request path of the workload.
pub const REQUEST_PATH: &str = "/orders/1";

/// HTTP version of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 with keep-alive.
    Http1,
    /// HTTP/2 with prior knowledge (h2c).
    Http2,
}

impl Protocol {
    /// Both, in report order.
    pub const ALL: [Protocol; 2] = [Protocol::Http1, Protocol::Http2];

    /// As the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Http1 => "HTTP/1.1",
            Protocol::Http2 => "HTTP/2",
        }
    }

    /// Its position in [`Protocol::ALL`], for per-protocol arrays.
    pub fn index(self) -> usize {
        match self {
            Protocol::Http1 => 0,
            Protocol::Http2 => 1,
        }
    }

    fn version(self) -> Version {
        match self {
            Protocol::Http1 => Version::HTTP_11,
            Protocol::Http2 => Version::HTTP_2,
        }
    }
}

/// What stands between the caller and the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// Nothing: hyper-util straight to the backend.
    Raw,
    /// Nothing, over the full chain's three endpoints in its shares
    /// (40/40/20): the full chain's baseline of the same shape.
    RawSpread,
    /// The mesh with one route and one endpoint.
    MeshStatic,
    /// The mesh with the full chain built so far.
    MeshFull,
    /// The full chain's routing and balancing without its resilience
    /// (no retry policy, no breaker limits, no outlier detection): the
    /// full chain minus this is what resilience costs.
    MeshRouting,
    /// Two proxies.
    Sidecar(ProxyKind),
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathKind::Raw => f.write_str("raw hyper-util client"),
            PathKind::RawSpread => {
                f.write_str("raw hyper-util client, the full chain's 3 endpoints at 40/40/20")
            }
            PathKind::MeshStatic => f.write_str("mesh, static config (routing + balancing)"),
            PathKind::MeshFull => f.write_str(
                "mesh, full chain (routing, subsets, P2C, timeouts, retries, budget, breaker, \
                 outlier detection, Istio metrics, tracing unsampled)",
            ),
            PathKind::MeshRouting => f.write_str(
                "mesh, the full chain's routing only (no retries, breaker limits or outlier \
                 detection)",
            ),
            PathKind::Sidecar(kind) => write!(f, "sidecar pair: {kind} → {kind}"),
        }
    }
}

impl PathKind {
    /// The raw path of the same shape, which this path's added latency
    /// and throughput ratio are taken against: the full chain spreads its
    /// requests over three endpoints (three connections), so its floor is
    /// raw hyper over the same three in the same shares; every other path
    /// goes to one port.
    pub fn baseline(self) -> PathKind {
        match self {
            PathKind::MeshFull | PathKind::MeshRouting | PathKind::RawSpread => PathKind::RawSpread,
            _ => PathKind::Raw,
        }
    }

    /// A short name for the command line (`--only`).
    pub fn slug(self) -> &'static str {
        match self {
            PathKind::Raw => "raw",
            PathKind::RawSpread => "raw-spread",
            PathKind::MeshStatic => "mesh-static",
            PathKind::MeshFull => "mesh-full",
            PathKind::MeshRouting => "mesh-routing",
            PathKind::Sidecar(ProxyKind::Nginx) => "nginx",
            PathKind::Sidecar(ProxyKind::Haproxy) => "haproxy",
        }
    }

    /// Whether this is a raw path (a baseline).
    pub fn is_raw(self) -> bool {
        matches!(self, PathKind::Raw | PathKind::RawSpread)
    }
}

/// How to reach a path: where to connect, or which mesh config to load.
#[derive(Debug, Clone)]
pub enum Route {
    /// Plain hyper to 127.0.0.1 at these ports.
    Direct {
        /// The port for HTTP/1.1.
        http1: u16,
        /// The port for HTTP/2 (h2c).
        http2: u16,
    },
    /// Plain hyper to 127.0.0.1, taking these ports in turn, repeats
    /// included (each speaks both protocols).
    Spread(Vec<u16>),
    /// `MeshClient` over this Istio YAML.
    Mesh(String),
}

/// One path under test.
#[derive(Debug, Clone)]
pub struct Path {
    /// What it is.
    pub kind: PathKind,
    /// How to reach it.
    pub route: Route,
}

impl Path {
    /// The raw path to a backend port.
    pub fn raw(port: u16) -> Self {
        let route = Route::Direct {
            http1: port,
            http2: port,
        };
        Self {
            kind: PathKind::Raw,
            route,
        }
    }

    /// The raw path over the full chain's endpoints (`[v1, v1, v2]`) in
    /// the full chain's shares: `a b a b c`, i.e. 40/40/20.
    pub fn raw_spread(ports: [u16; 3]) -> Self {
        let [a, b, c] = ports;
        Self {
            kind: PathKind::RawSpread,
            route: Route::Spread(vec![a, b, a, b, c]),
        }
    }

    /// The mesh over [`configs::static_yaml`].
    pub fn mesh_static(port: u16) -> Self {
        Self {
            kind: PathKind::MeshStatic,
            route: Route::Mesh(configs::static_yaml(port)),
        }
    }

    /// The mesh over [`configs::full_chain_yaml`].
    pub fn mesh_full(ports: [u16; 3]) -> Self {
        Self {
            kind: PathKind::MeshFull,
            route: Route::Mesh(configs::full_chain_yaml(ports)),
        }
    }

    /// The mesh over [`configs::routing_only_yaml`].
    pub fn mesh_routing(ports: [u16; 3]) -> Self {
        Self {
            kind: PathKind::MeshRouting,
            route: Route::Mesh(configs::routing_only_yaml(ports)),
        }
    }

    /// A fresh client of this path for `protocol`. Call inside the client
    /// runtime: the pools spawn their connection tasks on it.
    pub fn client(&self, protocol: Protocol) -> Result<PathClient, String> {
        let version = protocol.version();
        match &self.route {
            Route::Direct { http1, http2 } => {
                let port = match protocol {
                    Protocol::Http1 => *http1,
                    Protocol::Http2 => *http2,
                };
                direct(&[port], protocol)
            }
            Route::Spread(ports) => direct(ports, protocol),
            Route::Mesh(yaml) => {
                let config = mesh_core::source::istio::load(yaml)
                    .and_then(|b| b.build())
                    .map_err(|e| format!("mesh config: {e}"))?;
                let uri = format!("http://{}{REQUEST_PATH}", configs::HOST)
                    .parse()
                    .map_err(|e| format!("uri: {e}"))?;
                let mut snapshots = SnapshotHandle::from_config(config);
                let mut spans = None;
                if matches!(self.kind, PathKind::MeshFull | PathKind::MeshRouting) {
                    // Tracing on, and this request unsampled: parent-based
                    // (the default's shape) with no new trace recorded.
                    let sampler = Sampler {
                        ratio: 0.0,
                        parent_based: true,
                    };
                    let (tracer, queue) = Tracer::new(TracerConfig {
                        sampler,
                        ..TracerConfig::default()
                    });
                    let telemetry = Telemetry::new(SourceLabels::default()).with_tracer(tracer);
                    snapshots = snapshots.with_telemetry(Arc::new(telemetry));
                    spans = Some(Arc::new(queue));
                }
                Ok(PathClient::Mesh {
                    client: MeshClient::new(Arc::new(snapshots)),
                    uri,
                    version,
                    _spans: spans,
                })
            }
        }
    }
}

/// A raw client to `ports` of 127.0.0.1.
fn direct(ports: &[u16], protocol: Protocol) -> Result<PathClient, String> {
    let uris = ports
        .iter()
        .map(|port| {
            format!("http://127.0.0.1:{port}{REQUEST_PATH}")
                .parse()
                .map_err(|e| format!("uri: {e}"))
        })
        .collect::<Result<Arc<[Uri]>, String>>()?;
    if uris.is_empty() {
        return Err("no port to send to".into());
    }
    Ok(PathClient::Hyper {
        client: hyper_client(protocol),
        uris,
        next: Arc::new(AtomicUsize::new(0)),
        version: protocol.version(),
    })
}

/// hyper-util's pooled client, with the connection options the mesh's own
/// pools use (`TCP_NODELAY`, tokio timers).
fn hyper_client(protocol: Protocol) -> Client<HttpConnector, Full<Bytes>> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new());
    if protocol == Protocol::Http2 {
        builder.http2_only(true);
    }
    builder.build(connector)
}

/// A client of one path; cloning shares its connection pool.
// Built once per measurement and cloned once per task: its size is
// irrelevant, while boxing one variant would add a hop to one path only.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum PathClient {
    /// hyper-util to fixed addresses.
    Hyper {
        /// The client.
        client: Client<HttpConnector, Full<Bytes>>,
        /// Where requests go, in turn.
        uris: Arc<[Uri]>,
        /// The turn.
        next: Arc<AtomicUsize>,
        /// The HTTP version of every request.
        version: Version,
    },
    /// The mesh, naming the logical host.
    Mesh {
        /// The client.
        client: MeshClient<Full<Bytes>>,
        /// The logical URI every request names.
        uri: Uri,
        /// The HTTP version of every request.
        version: Version,
        /// The tracer's span queue, when the path traces (no span reaches
        /// it: nothing is sampled).
        _spans: Option<Arc<SpanQueue>>,
    },
}

impl PathClient {
    /// Sends one request of the workload and reads the whole response;
    /// anything but a `200` with its body is an error.
    pub async fn send(&self) -> Result<(), String> {
        match self {
            PathClient::Hyper {
                client,
                uris,
                next,
                version,
            } => {
                let uri = match &uris[..] {
                    [one] => one,
                    many => &many[next.fetch_add(1, Ordering::Relaxed) % many.len()],
                };
                let response = client
                    .request(request(uri, *version)?)
                    .await
                    .map_err(|e| format!("{e:?}"))?;
                finish(response).await
            }
            PathClient::Mesh {
                client,
                uri,
                version,
                ..
            } => {
                let response = client
                    .request(request(uri, *version)?)
                    .await
                    .map_err(|e| e.to_string())?;
                finish(response).await
            }
        }
    }
}

fn request(uri: &Uri, version: Version) -> Result<Request<Full<Bytes>>, String> {
    let mut request = Request::get(uri.clone()).version(version);
    for (name, value) in WORKLOAD_HEADERS {
        request = request.header(name, value);
    }
    request.body(Full::default()).map_err(|e| e.to_string())
}

async fn finish<B>(response: http::Response<B>) -> Result<(), String>
where
    B: http_body::Body,
    B::Error: fmt::Debug,
{
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the body: {e:?}"))?;
    if status != http::StatusCode::OK || body.to_bytes().is_empty() {
        return Err(format!("unexpected answer: {status}"));
    }
    Ok(())
}
