//! End to end over gRPC: real tonic servers on loopback, a tonic client
//! whose transport is `MeshClient`.

use std::collections::HashMap;

use mesh_core::ErrorKind;
use mesh_examples::greeter::{GreeterBackend, GreeterClient, HelloRequest};
use mesh_examples::scenario::greeter_yaml;
use mesh_tower::MeshClient;

async fn greeters() -> ([GreeterBackend; 3], MeshClient<tonic::body::Body>) {
    let backends = [
        GreeterBackend::start("v1-a").await.expect("v1-a"),
        GreeterBackend::start("v1-b").await.expect("v1-b"),
        GreeterBackend::start("v2").await.expect("v2"),
    ];
    let yaml = greeter_yaml(backends.each_ref().map(|b| b.addr().port()));
    let config = mesh_core::source::istio::load(&yaml)
        .and_then(|b| b.build())
        .expect("the greeter scenario loads");
    (backends, MeshClient::from_config(config))
}

fn hello(canary: bool) -> tonic::Request<HelloRequest> {
    let mut request = tonic::Request::new(HelloRequest {
        name: "mesh".into(),
    });
    if canary {
        request
            .metadata_mut()
            .insert("x-canary", "always".parse().expect("ascii"));
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_client_runs_over_the_mesh_with_split_and_header_route() {
    let (backends, mesh) = greeters().await;
    let mut client = GreeterClient::with_origin(mesh, "http://greeter:50051".parse().expect("uri"));
    let mut by_backend: HashMap<String, u32> = HashMap::new();
    for _ in 0..500 {
        let reply = client.say_hello(hello(false)).await.expect("a reply");
        assert_eq!(reply.message, "hello, mesh");
        *by_backend.entry(reply.backend).or_default() += 1;
    }
    let v1 = by_backend.get("v1-a").unwrap_or(&0) + by_backend.get("v1-b").unwrap_or(&0);
    // 80% of 500: standard deviation about 9; ±45 never flakes.
    assert!((355..=445).contains(&v1), "v1 got {v1}: {by_backend:?}");
    for _ in 0..50 {
        assert_eq!(
            client
                .say_hello(hello(true))
                .await
                .expect("a reply")
                .backend,
            "v2"
        );
    }
    let served: u64 = backends.iter().map(|b| b.served()).sum();
    assert_eq!(served, 550);
}

#[tokio::test]
async fn a_grpc_call_with_no_route_fails_with_the_mesh_error() {
    let (_backends, mesh) = greeters().await;
    let mut client = GreeterClient::with_origin(mesh, "http://nowhere:50051".parse().expect("uri"));
    let status = client.say_hello(hello(false)).await.unwrap_err();
    // tonic wraps transport errors in a Status whose source is ours.
    let source = std::error::Error::source(&status).expect("a source");
    let mesh_error = source
        .downcast_ref::<mesh_core::Error>()
        .expect("the mesh's typed error");
    assert_eq!(mesh_error.kind(), ErrorKind::NoRoute);
}
