//! Quickstart: the order-service canary, embedded, on loopback.
//!
//! Starts three real HTTP backends (order-service v1 twice, v2 once),
//! loads the Istio fixture `order-service.yaml` (VirtualService with a
//! header route and an 80/20 split, DestinationRule subsets by `version`,
//! ServiceEntry endpoints) with the backends' ports filled in, sends a
//! thousand requests through `MeshClient`, and prints where they went and
//! how long they took. Every 10th request carries `x-canary: always` and
//! must land on v2.
//!
//! Run: `cargo run --release -p mesh-examples --example quickstart`
//! (`-- --requests N` to send another number).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use mesh_examples::backend::Backend;
use mesh_examples::scenario::order_service_yaml;
use mesh_tower::MeshClient;

const CONCURRENCY: usize = 8;

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    canary: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let requests = requests_from_args()?;
    let backends = [
        Backend::start("v1-a").await?,
        Backend::start("v1-b").await?,
        Backend::start("v2").await?,
    ];
    let ports = backends.each_ref().map(|b| b.addr().port());
    let config = mesh_core::source::istio::load(&order_service_yaml(ports))?.build()?;
    let client = MeshClient::<Full<Bytes>>::from_config(config);

    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..CONCURRENCY {
        let client = client.clone();
        workers.spawn(async move {
            let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
            for i in (worker..requests).step_by(CONCURRENCY) {
                let canary = i % 10 == 0;
                let mut request = http::Request::get(format!("http://order-service/orders/{i}"));
                if canary {
                    request = request.header("x-canary", "always");
                }
                let request = request.body(Full::default())?;
                let sent = Instant::now();
                let response = client.request(request).await?;
                let backend =
                    String::from_utf8(response.into_body().collect().await?.to_bytes().to_vec())?;
                let entry = tally.entry(backend).or_default();
                entry.latencies.push(sent.elapsed());
                entry.canary += u32::from(canary);
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(tally)
        });
    }
    let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
    while let Some(result) = workers.join_next().await {
        for (backend, part) in result?.map_err(|e| e.to_string())? {
            let entry = tally.entry(backend).or_default();
            entry.latencies.extend(part.latencies);
            entry.canary += part.canary;
        }
    }
    print_table(&mut tally, requests, started.elapsed());
    Ok(())
}

fn requests_from_args() -> Result<usize, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(1000),
        [flag, n] if flag == "--requests" => n.parse().map_err(|e| format!("--requests: {e}")),
        _ => Err("usage: quickstart [--requests N]".into()),
    }
}

fn print_table(tally: &mut BTreeMap<String, Tally>, requests: usize, elapsed: Duration) {
    println!(
        "order-service through the mesh: {requests} requests, {CONCURRENCY} at a time, {elapsed:.2?}\n"
    );
    println!(
        "{:<8} {:>8} {:>7} {:>14} {:>9} {:>9} {:>9}",
        "backend", "requests", "share", "x-canary", "p50", "p90", "p99"
    );
    let mut by_version: BTreeMap<String, usize> = BTreeMap::new();
    for (backend, t) in tally.iter_mut() {
        t.latencies.sort();
        let q = |p: f64| t.latencies[((t.latencies.len() - 1) as f64 * p) as usize];
        let share = 100.0 * t.latencies.len() as f64 / requests as f64;
        println!(
            "{backend:<8} {:>8} {share:>6.1}% {:>14} {:>9.0?} {:>9.0?} {:>9.0?}",
            t.latencies.len(),
            t.canary,
            q(0.5),
            q(0.9),
            q(0.99)
        );
        let version = backend.split('-').next().unwrap_or(backend);
        *by_version.entry(version.to_owned()).or_default() += t.latencies.len();
    }
    let canary_total: u32 = tally.values().map(|t| t.canary).sum();
    let canary_v2 = tally.get("v2").map_or(0, |t| t.canary);
    let plain = requests - canary_total as usize;
    let plain_v2 = by_version.get("v2").copied().unwrap_or(0) - canary_v2 as usize;
    println!(
        "\nwithout the header: v1 {:.1}%, v2 {:.1}% (configured 80/20)",
        100.0 * (plain - plain_v2) as f64 / plain.max(1) as f64,
        100.0 * plain_v2 as f64 / plain.max(1) as f64
    );
    println!("with x-canary: always: {canary_v2} of {canary_total} on v2");
}
