//! The canary scenario live over xDS.
//!
//! Starts the test control plane (a real tonic ADS server on loopback)
//! serving the order-service canary in Istio's proxyless shape (API
//! listener `order-service:80` → RDS → subset clusters
//! `outbound|80|v1|order-service` / `…|v2|…` → EDS), two real backends,
//! and an `XdsClient` subscribed to the target. It sends requests at the
//! 80/20 split, shifts the weights to 0/100 on the control plane, sends
//! again, then breaks the control plane's streams and shows the last good
//! configuration still serving. Ends with the client's config dump.
//!
//! Run: `cargo run -p mesh-tests --example xds`
//! (`-- --delta` for incremental xDS).

use std::collections::BTreeMap;
use std::time::Duration;

use mesh_core::xds::XdsClient;
use mesh_tests::canary::{self, CanaryBackends, TARGET, mesh_client, spread};
use mesh_tests::control_plane::ControlPlane;
use mesh_tests::xds_resources::{canary_routes, canary_scenario, route_config};

const REQUESTS: usize = 500;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let delta = std::env::args().any(|a| a == "--delta");
    let backends = CanaryBackends::start().await;
    let cp = ControlPlane::start().await;
    cp.set_all(canary_scenario(
        TARGET,
        &backends.v1_addrs(),
        &backends.v2_addrs(),
        (80, 20),
    ));
    let features: &[&str] = if delta {
        &["xds_v3", "xds_delta"]
    } else {
        &["xds_v3"]
    };
    let client = XdsClient::start(
        &canary::bootstrap(&[cp.addr()], features),
        canary::options(),
    )?;
    if !client.ready(Duration::from_secs(10)).await {
        return Err("no configuration from the control plane within 10 s".into());
    }
    println!(
        "control plane {} ({}), target {TARGET}",
        cp.uri(),
        if delta { "delta" } else { "state of the world" }
    );
    let mesh = mesh_client(&client);
    report(
        "weights 80/20",
        &spread(&mesh, REQUESTS).await.into_iter().collect(),
    );

    let generation = client.generation();
    cp.set(route_config(canary_routes(TARGET, 0, 100)));
    if !client
        .published_after(generation, Duration::from_secs(10))
        .await
    {
        return Err("the weight update never arrived".into());
    }
    report(
        "weights 0/100",
        &spread(&mesh, REQUESTS).await.into_iter().collect(),
    );

    cp.shutdown().await;
    report(
        "control plane down (last good config)",
        &spread(&mesh, REQUESTS).await.into_iter().collect(),
    );

    let dump = client.config_dump();
    println!("\nconfig dump:");
    for r in dump["resources"].as_array().into_iter().flatten() {
        let ty = r["type_url"]
            .as_str()
            .unwrap_or("")
            .rsplit('.')
            .next()
            .unwrap_or("");
        println!(
            "  {ty:<22} {:<36} {:<8} version {}",
            r["name"].as_str().unwrap_or(""),
            r["status"].as_str().unwrap_or(""),
            r["version"]
        );
    }
    println!("  stats: {}", dump["stats"]);
    Ok(())
}

fn report(title: &str, seen: &BTreeMap<String, usize>) {
    let total: usize = seen.values().sum();
    let parts: Vec<String> = seen
        .iter()
        .map(|(name, n)| format!("{name} {n} ({:.0}%)", 100.0 * *n as f64 / total as f64))
        .collect();
    println!("{title:<40} {}", parts.join(", "));
}
