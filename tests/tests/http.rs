//! End to end over HTTP: real hyper backends on loopback, the Istio
//! fixture, `MeshClient` and `MeshLayer` over a plain hyper-util client.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mesh_core::{ErrorKind, SnapshotHandle};
use mesh_tests::{OrderService, body_text, get};
use mesh_tower::{MeshLayer, ReplayBody};
use tower::{Service, ServiceBuilder, ServiceExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_split_is_about_80_20_and_the_header_pins_v2() {
    let scenario = OrderService::start().await;
    let mut by_backend: HashMap<String, u32> = HashMap::new();
    for i in 0..1000 {
        let response = scenario
            .client
            .request(get(&format!("http://order-service/orders/{i}"), &[]))
            .await
            .expect("routed");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-seen-host"], "order-service");
        *by_backend.entry(body_text(response).await).or_default() += 1;
    }
    let v1 = by_backend.get("v1-a").unwrap_or(&0) + by_backend.get("v1-b").unwrap_or(&0);
    // 80% of 1000 has a standard deviation of about 13: ±50 never flakes.
    assert!((750..=850).contains(&v1), "v1 got {v1}: {by_backend:?}");
    // Least request spreads v1 over both of its endpoints.
    assert!(
        by_backend["v1-a"] > 100 && by_backend["v1-b"] > 100,
        "{by_backend:?}"
    );

    for _ in 0..200 {
        let response = scenario
            .client
            .request(get(
                "http://order-service/orders/1",
                &[("x-canary", "always")],
            ))
            .await
            .expect("routed");
        assert_eq!(body_text(response).await, "v2");
    }
}

#[tokio::test]
async fn mesh_layer_wraps_a_plain_hyper_client() {
    let scenario = OrderService::start().await;
    let snapshots = scenario.client.snapshots().clone();
    // The layer hands the transport each attempt's body as a `ReplayBody`.
    let client: Client<_, ReplayBody<Full<Bytes>>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut service = ServiceBuilder::new()
        .layer(MeshLayer::new(snapshots))
        .service(client);
    let request = get("http://order-service:80/x", &[("x-canary", "always")]);
    let response = service
        .ready()
        .await
        .expect("ready")
        .call(request)
        .await
        .expect("routed");
    assert_eq!(body_text(response).await, "v2");
    assert_eq!(scenario.backends[2].served(), 1);
}

#[tokio::test]
async fn a_request_with_no_route_is_a_typed_error() {
    let scenario = OrderService::start().await;
    for uri in [
        "http://unknown-service/",
        "http://order-service:8080/",
        "/relative-only",
    ] {
        let e = scenario.client.request(get(uri, &[])).await.unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::NoRoute | ErrorKind::InvalidRequest),
            "{uri}: {e}"
        );
    }
    let served: u64 = scenario.backends.iter().map(|b| b.served()).sum();
    assert_eq!(served, 0);
}

#[tokio::test]
async fn an_empty_subset_is_a_typed_error() {
    // A subset v3 that no endpoint carries, routed by a header.
    let scenario = OrderService::with_yaml(|yaml| {
        yaml.replace(
            "  - name: v2\n    labels:\n      version: v2\n",
            "  - name: v2\n    labels:\n      version: v2\n  - name: v3\n    labels:\n      version: v3\n",
        )
        .replace(
            "  http:\n  - match:",
            "  http:\n  - match:\n    - headers:\n        x-v3:\n          exact: \"yes\"\n    route:\n    - destination:\n        host: order-service\n        subset: v3\n  - match:",
        )
    })
    .await;
    let e = scenario
        .client
        .request(get("http://order-service/", &[("x-v3", "yes")]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoHealthyEndpoint, "{e}");
    let ok = scenario
        .client
        .request(get("http://order-service/", &[]))
        .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn the_route_timeout_is_a_typed_error() {
    let scenario = OrderService::start().await;
    // The fixture's timeout is 800 ms; the backend is asked to take 3 s.
    let e = scenario
        .client
        .request(get("http://order-service/slow", &[("x-delay-ms", "3000")]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
}

#[tokio::test]
async fn a_dead_endpoint_is_a_transport_error_and_a_swap_fixes_it() {
    let scenario = OrderService::start().await;
    let snapshots: Arc<SnapshotHandle> = scenario.client.snapshots().clone();
    // Point the canary route's only endpoint (v2) at a closed port.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let ports = scenario.backends.each_ref().map(|b| b.addr().port());
    let broken = mesh_examples::scenario::order_service_yaml([ports[0], ports[1], closed]);
    let config = mesh_core::source::istio::load(&broken)
        .and_then(|b| b.build())
        .expect("loads");
    snapshots.store(mesh_core::Snapshot::new(Arc::new(config)));
    let e = scenario
        .client
        .request(get("http://order-service/", &[("x-canary", "always")]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");

    let fixed = mesh_examples::scenario::order_service_yaml(ports);
    let config = mesh_core::source::istio::load(&fixed)
        .and_then(|b| b.build())
        .expect("loads");
    snapshots.store(mesh_core::Snapshot::new(Arc::new(config)));
    let response = scenario
        .client
        .request(get("http://order-service/", &[("x-canary", "always")]))
        .await
        .expect("routed after the swap");
    assert_eq!(body_text(response).await, "v2");
}

#[tokio::test]
async fn requests_marked_http2_go_over_http2() {
    let scenario = OrderService::start().await;
    let mut request = get("http://order-service/", &[("x-canary", "always")]);
    *request.version_mut() = http::Version::HTTP_2;
    let response = scenario.client.request(request).await.expect("routed");
    assert_eq!(response.headers()["x-seen-version"], "HTTP/2.0");
    // Over HTTP/2 no Host may differ from :authority, so none is sent.
    assert_eq!(response.headers()["x-seen-host"], "");
    let response = scenario
        .client
        .request(get("http://order-service/", &[("x-canary", "always")]))
        .await
        .expect("routed");
    assert_eq!(response.headers()["x-seen-version"], "HTTP/1.1");
}

#[tokio::test]
async fn a_response_counts_as_active_until_its_body_ends() {
    let scenario = OrderService::start().await;
    let response = scenario
        .client
        .request(get("http://order-service/", &[("x-canary", "always")]))
        .await
        .expect("routed");
    let target = response
        .body()
        .target()
        .expect("the decision rides on the response's body")
        .clone();
    assert_eq!(
        target.backend().subset.as_ref().map(|s| &*s.name),
        Some("v2")
    );
    assert_eq!(target.cluster().name.as_ref(), "outbound|80||order-service");
    assert_eq!(
        target.endpoint().endpoint().port(),
        scenario.backends[2].addr().port()
    );
    assert_eq!(
        target.endpoint().active(),
        1,
        "in flight while the body is unread"
    );
    assert_eq!(body_text(response).await, "v2");
    assert_eq!(target.endpoint().active(), 0, "done once the body ended");
}

#[tokio::test]
async fn a_tls_cluster_is_refused_clearly_rather_than_sent_in_clear() {
    let scenario = OrderService::with_yaml(|yaml| {
        yaml.replace(
            "  trafficPolicy:\n",
            "  trafficPolicy:\n    tls:\n      mode: SIMPLE\n",
        )
    })
    .await;
    let e = scenario
        .client
        .request(get("http://order-service/", &[]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(e.message().contains("requires TLS"), "{e}");
    let served: u64 = scenario.backends.iter().map(|b| b.served()).sum();
    assert_eq!(served, 0);
}
