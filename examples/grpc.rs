//! gRPC over the mesh: a tonic client on `MeshClient`.
//!
//! Starts three real tonic servers (greeter v1 twice, v2 once), loads the
//! Istio scenario `fixtures/greeter.yaml` with their ports filled in, and
//! calls `demo.Greeter/SayHello` through the mesh: the generated-style
//! client takes `MeshClient` where it would take a tonic `Channel`. Every
//! 10th call carries `x-canary: always` metadata and lands on v2.
//!
//! Run: `cargo run --release -p mesh-examples --example grpc`

use std::collections::BTreeMap;
use std::time::Instant;

use mesh_examples::greeter::{GreeterBackend, GreeterClient, HelloRequest};
use mesh_examples::scenario::greeter_yaml;
use mesh_tower::MeshClient;

const CALLS: usize = 500;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backends = [
        GreeterBackend::start("v1-a").await?,
        GreeterBackend::start("v1-b").await?,
        GreeterBackend::start("v2").await?,
    ];
    let ports = backends.each_ref().map(|b| b.addr().port());
    let config = mesh_core::source::istio::load(&greeter_yaml(ports))?.build()?;
    let mesh = MeshClient::<tonic::body::Body>::from_config(config);
    let mut client = GreeterClient::with_origin(mesh, "http://greeter:50051".parse()?);

    let started = Instant::now();
    let mut tally: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for i in 0..CALLS {
        let mut request = tonic::Request::new(HelloRequest {
            name: format!("caller-{i}"),
        });
        let canary = i % 10 == 0;
        if canary {
            request.metadata_mut().insert("x-canary", "always".parse()?);
        }
        let reply = client.say_hello(request).await?;
        let entry = tally.entry(reply.backend).or_default();
        entry.0 += 1;
        entry.1 += u32::from(canary);
    }
    let elapsed = started.elapsed();
    println!(
        "demo.Greeter/SayHello through the mesh: {CALLS} calls in {elapsed:.2?} ({:.0?} each)\n",
        elapsed / CALLS as u32
    );
    println!(
        "{:<8} {:>6} {:>7} {:>9}",
        "backend", "calls", "share", "x-canary"
    );
    for (backend, (calls, canary)) in &tally {
        let share = 100.0 * f64::from(*calls) / CALLS as f64;
        println!("{backend:<8} {calls:>6} {share:>6.1}% {canary:>9}");
    }
    Ok(())
}
