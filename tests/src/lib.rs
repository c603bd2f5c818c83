//! Support for the end-to-end tests: the order-service scenario running on
//! real loopback backends, and small helpers to read responses; plus a
//! scriptable xDS control plane ([`control_plane`]) and the Envoy resources
//! of the canary scenario ([`xds_resources`]) for the xDS client's tests;
//! and a loopback backend whose failures a test scripts ([`faulty`]) for the
//! resilience tests; and the parity scenario every language binding runs
//! ([`parity`]); and the same scenario for the engine facade
//! ([`engine_scenario`]); and a real Prometheus server ([`prometheus`])
//! and a real OpenTelemetry Collector ([`otelcol`]).

pub mod canary;
pub mod control_plane;
pub mod engine_scenario;
pub mod faulty;
pub mod otelcol;
pub mod parity;
pub mod prometheus;
pub mod xds_resources;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use mesh_examples::backend::Backend;
use mesh_examples::scenario::order_service_yaml;
use mesh_tower::MeshClient;

/// Three running backends (v1-a, v1-b, v2) and a client over the Istio
/// fixture pointing at them.
#[derive(Debug)]
pub struct OrderService {
    /// The backends, in fixture order.
    pub backends: [Backend; 3],
    /// The mesh client.
    pub client: MeshClient<Full<Bytes>>,
}

impl OrderService {
    /// Starts the backends and loads the fixture with their ports.
    pub async fn start() -> Self {
        Self::with_yaml(|yaml| yaml).await
    }

    /// Same, with the fixture text adjusted by `edit` before loading.
    pub async fn with_yaml(edit: impl FnOnce(String) -> String) -> Self {
        let backends = [
            Backend::start("v1-a").await.expect("backend v1-a"),
            Backend::start("v1-b").await.expect("backend v1-b"),
            Backend::start("v2").await.expect("backend v2"),
        ];
        let yaml = edit(order_service_yaml(
            backends.each_ref().map(|b| b.addr().port()),
        ));
        let config = mesh_core::source::istio::load(&yaml)
            .and_then(|b| b.build())
            .expect("the fixture loads");
        Self {
            backends,
            client: MeshClient::from_config(config),
        }
    }
}

/// A GET request with an empty body and the given headers.
pub fn get(uri: &str, headers: &[(&str, &str)]) -> http::Request<Full<Bytes>> {
    let mut request = http::Request::get(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.body(Full::default()).expect("valid request")
}

/// The body of a response, as text.
pub async fn body_text<B>(response: http::Response<B>) -> String
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a complete body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}
