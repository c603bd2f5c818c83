//! The canary scenario served over xDS: two real backends (v1, v2), a
//! bootstrap pointing at a control plane, and a way to count where
//! requests land.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use mesh_core::xds::{Bootstrap, XdsClient, XdsClientOptions, XdsOptions};
use mesh_examples::backend::Backend;
use mesh_tower::MeshClient;

use crate::{body_text, get};

/// The API listener the scenario serves.
pub const TARGET: &str = "order-service:80";

/// The v1 and v2 backends.
#[derive(Debug)]
pub struct CanaryBackends {
    /// Serves v1.
    pub v1: Backend,
    /// Serves v2.
    pub v2: Backend,
}

impl CanaryBackends {
    /// Starts both on loopback.
    pub async fn start() -> Self {
        Self {
            v1: Backend::start("v1").await.expect("backend v1"),
            v2: Backend::start("v2").await.expect("backend v2"),
        }
    }

    /// The v1 address, as a list.
    pub fn v1_addrs(&self) -> Vec<SocketAddr> {
        vec![self.v1.addr()]
    }

    /// The v2 address, as a list.
    pub fn v2_addrs(&self) -> Vec<SocketAddr> {
        vec![self.v2.addr()]
    }
}

/// A gRPC bootstrap naming `servers` (`host:port`, in priority order),
/// each with `features`.
pub fn bootstrap(servers: &[SocketAddr], features: &[&str]) -> Bootstrap {
    Bootstrap::from_json(&bootstrap_json(servers, features)).expect("a valid bootstrap")
}

/// The JSON of [`bootstrap`].
pub fn bootstrap_json(servers: &[SocketAddr], features: &[&str]) -> String {
    let servers: Vec<serde_json::Value> = servers
        .iter()
        .map(|addr| {
            serde_json::json!({
                "server_uri": addr.to_string(),
                "channel_creds": [{"type": "insecure"}],
                "server_features": features,
            })
        })
        .collect();
    let json = serde_json::json!({
        "xds_servers": servers,
        "node": {"id": "mesh-tests~127.0.0.1~tests.default", "cluster": "tests"},
    });
    json.to_string()
}

/// Client options subscribing to the scenario's target.
pub fn options() -> XdsClientOptions {
    XdsClientOptions {
        xds: XdsOptions {
            targets: vec![TARGET.to_owned()],
            ..Default::default()
        },
        connect_timeout: Duration::from_secs(2),
        ..Default::default()
    }
}

/// A mesh client serving what `xds` publishes.
pub fn mesh_client(xds: &XdsClient) -> MeshClient<Full<Bytes>> {
    MeshClient::new(xds.snapshots().clone())
}

/// Sends `n` requests to the scenario and counts answers by backend name
/// (`"error"` for a failed request).
pub async fn spread(client: &MeshClient<Full<Bytes>>, n: usize) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for i in 0..n {
        let name = match client
            .request(get(&format!("http://order-service/orders/{i}"), &[]))
            .await
        {
            Ok(response) => body_text(response).await,
            Err(_) => "error".to_owned(),
        };
        *seen.entry(name).or_default() += 1;
    }
    seen
}
