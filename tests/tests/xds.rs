//! The xDS client end to end: a real tonic control plane on loopback
//! (`mesh_tests::control_plane`), real hyper backends, requests through
//! `MeshClient`. The protocol details are proven by the state-machine
//! tests in mesh-core; these prove that the wire, the task and the
//! snapshot swap agree with them.

use std::net::SocketAddr;
use std::time::Duration;

use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
use envoy_types::pb::google::protobuf::Any;
use mesh_core::xds::{ResourceStatus, ResourceType, XdsClient, XdsClientOptions};
use mesh_tests::canary::{self, CanaryBackends, TARGET, mesh_client, spread};
use mesh_tests::control_plane::ControlPlane;
use mesh_tests::xds_resources::{
    CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, V1_CLUSTER, canary_routes,
    canary_scenario, route_config,
};

const WAIT: Duration = Duration::from_secs(10);

async fn serving(features: &[&str]) -> (CanaryBackends, ControlPlane, XdsClient) {
    let backends = CanaryBackends::start().await;
    let cp = ControlPlane::start().await;
    cp.set_all(canary_scenario(
        TARGET,
        &backends.v1_addrs(),
        &backends.v2_addrs(),
        (80, 20),
    ));
    let client = XdsClient::start(
        &canary::bootstrap(&[cp.addr()], features),
        canary::options(),
    )
    .expect("client starts");
    assert!(client.ready(WAIT).await, "a configuration within {WAIT:?}");
    (backends, cp, client)
}

/// Sets new weights and waits for the client to publish them.
async fn reweigh(cp: &ControlPlane, client: &XdsClient, v1: u32, v2: u32) {
    let before = client.generation();
    cp.set(route_config(canary_routes(TARGET, v1, v2)));
    assert!(
        client.published_after(before, WAIT).await,
        "weights {v1}/{v2} never published"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_80_20_from_the_control_plane_and_follows_a_weight_update() {
    let (_backends, cp, client) = serving(&["xds_v3"]).await;
    let mesh = mesh_client(&client);
    let seen = spread(&mesh, 400).await;
    // 80% of 400: standard deviation 8; ±60 never flakes.
    let v1 = seen.get("v1").copied().unwrap_or(0);
    assert!((260..=380).contains(&v1), "{seen:?}");
    assert_eq!(seen.get("error"), None);

    reweigh(&cp, &client, 0, 100).await;
    let seen = spread(&mesh, 50).await;
    assert_eq!(seen.get("v2"), Some(&50), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_is_acked_with_its_version_and_nonce_on_the_wire() {
    let (_backends, cp, client) = serving(&[]).await;
    let requests = cp.requests();
    let first = requests[0].sotw().expect("a SotW stream");
    assert_eq!(first.type_url, LISTENER_TYPE);
    assert_eq!(first.resource_names, [TARGET]);
    assert!(
        first
            .node
            .as_ref()
            .is_some_and(|n| n.id.starts_with("mesh-tests"))
    );
    for type_url in [LISTENER_TYPE, ROUTE_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE] {
        let version = cp.version(type_url);
        let ack = cp
            .wait_for_request(
                |r| {
                    r.type_url() == type_url
                        && !r.is_nack()
                        && r.sotw().is_some_and(|s| s.version_info == version)
                },
                WAIT,
            )
            .await
            .unwrap_or_else(|| panic!("no ACK of {type_url} version {version}"));
        let nonce = cp
            .last_nonce(ack.stream(), type_url)
            .expect("a response was sent");
        assert!(ack.is_ack_of(&nonce) || !ack.response_nonce().is_empty());
    }
    assert!(
        requests.iter().all(|r| !r.is_nack()),
        "no NACK for good resources"
    );
    assert_eq!(client.stats().updates_rejected, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_invalid_resources_are_nacked_and_the_last_good_config_keeps_serving() {
    let (_backends, cp, client) = serving(&[]).await;
    let mesh = mesh_client(&client);
    let mut cursor = cp.cursor();
    let garbage = Any {
        type_url: ENDPOINT_TYPE.into(),
        value: vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
    };
    cp.send_raw_sotw(DiscoveryResponse {
        version_info: "bad-1".into(),
        type_url: ENDPOINT_TYPE.into(),
        resources: vec![garbage],
        ..Default::default()
    });
    let nack = cursor
        .next(|r| r.type_url() == ENDPOINT_TYPE && r.is_nack(), WAIT)
        .await
        .expect("a NACK");
    let message = &nack.error_detail().unwrap().message;
    assert!(message.contains("malformed"), "{message}");
    assert_ne!(
        nack.sotw().unwrap().version_info,
        "bad-1",
        "a NACK keeps the accepted version"
    );

    let wrong_type = canary_scenario(TARGET, &[], &[], (1, 1)).remove(0);
    cp.send_raw_sotw(DiscoveryResponse {
        version_info: "bad-2".into(),
        type_url: ROUTE_TYPE.into(),
        resources: vec![wrong_type],
        ..Default::default()
    });
    let nack = cursor
        .next(|r| r.type_url() == ROUTE_TYPE && r.is_nack(), WAIT)
        .await
        .expect("a NACK");
    assert!(nack.error_detail().unwrap().message.contains("Listener"));

    let seen = spread(&mesh, 40).await;
    assert_eq!(seen.get("error"), None, "still serving: {seen:?}");
    assert_eq!(client.stats().updates_rejected, 2);
    let dump = client.config_dump();
    assert_eq!(dump["stats"]["updates_rejected"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_stream_keeps_serving_and_the_new_one_resubscribes_with_versions() {
    let (_backends, cp, client) = serving(&[]).await;
    let mesh = mesh_client(&client);
    let version = cp.version(CLUSTER_TYPE);
    let mut cursor = cp.cursor();
    assert_eq!(cp.drop_streams(), 1);
    let seen = spread(&mesh, 20).await;
    assert_eq!(seen.get("error"), None, "{seen:?}");
    let resubscribed = cursor
        .next(|r| r.stream() > 1 && r.type_url() == CLUSTER_TYPE, WAIT)
        .await
        .expect("a new stream asks for clusters again");
    let request = resubscribed.sotw().unwrap();
    assert_eq!(request.version_info, version);
    assert!(request.response_nonce.is_empty());
    assert_eq!(request.resource_names.len(), 2);
    assert!(client.stats().server_failures >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_xds_serves_and_follows_removals() {
    let (_backends, cp, client) = serving(&["xds_v3", "xds_delta"]).await;
    assert!(cp.requests()[0].delta().is_some(), "a delta stream");
    let mesh = mesh_client(&client);
    assert_eq!(spread(&mesh, 20).await.get("error"), None);

    reweigh(&cp, &client, 100, 0).await;
    assert_eq!(spread(&mesh, 20).await.get("v1"), Some(&20));

    let before = client.generation();
    cp.remove(ENDPOINT_TYPE, V1_CLUSTER);
    assert!(client.published_after(before, WAIT).await);
    let status = client.inspect(|s| {
        s.cache(ResourceType::ClusterLoadAssignment)
            .entry(V1_CLUSTER)
            .map(|e| e.status)
    });
    assert_eq!(status, Some(ResourceStatus::DoesNotExist));
    let seen = spread(&mesh, 5).await;
    assert_eq!(
        seen.get("error"),
        Some(&5),
        "v1 has no endpoints left: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_the_second_server_and_returns_to_the_primary() {
    let backends = CanaryBackends::start().await;
    let primary_addr = free_port().await;
    let fallback = ControlPlane::start().await;
    fallback.set_all(canary_scenario(
        TARGET,
        &backends.v1_addrs(),
        &backends.v2_addrs(),
        (100, 0),
    ));
    let bootstrap = canary::bootstrap(&[primary_addr, fallback.addr()], &[]);
    let client = XdsClient::start(&bootstrap, canary::options()).expect("starts");
    assert!(client.ready(WAIT).await, "served by the fallback");
    let mesh = mesh_client(&client);
    assert_eq!(spread(&mesh, 10).await.get("v1"), Some(&10));

    let primary = ControlPlane::start_on(primary_addr)
        .await
        .expect("the primary's port");
    primary.set_all(canary_scenario(
        TARGET,
        &backends.v1_addrs(),
        &backends.v2_addrs(),
        (0, 100),
    ));
    let mut back = false;
    for _ in 0..100 {
        if spread(&mesh, 1).await.contains_key("v2") {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "switched back to the primary");
    assert!(primary.stream_count() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_snapshot_lets_a_restart_serve_while_the_control_plane_is_down() {
    let dir = std::env::temp_dir().join(format!("mesh-xds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("last-good.xds");
    let _ = std::fs::remove_file(&path);
    let options = || XdsClientOptions {
        snapshot_path: Some(path.clone()),
        ..canary::options()
    };
    let backends = CanaryBackends::start().await;
    let cp = ControlPlane::start().await;
    cp.set_all(canary_scenario(
        TARGET,
        &backends.v1_addrs(),
        &backends.v2_addrs(),
        (0, 100),
    ));
    let bootstrap = canary::bootstrap(&[cp.addr()], &[]);
    let first = XdsClient::start(&bootstrap, options()).expect("starts");
    assert!(first.ready(WAIT).await);
    drop(first);
    cp.shutdown().await;
    assert!(path.exists(), "the snapshot was written");

    let restarted = XdsClient::start(&bootstrap, options()).expect("starts");
    assert!(
        restarted.ready(Duration::from_secs(1)).await,
        "ready from disk"
    );
    let seen = spread(&mesh_client(&restarted), 10).await;
    assert_eq!(seen.get("v2"), Some(&10), "{seen:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A loopback port nobody listens on (bound, then released).
async fn free_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_istio_proxyless_bootstrap_works_as_is_over_the_agents_unix_socket() {
    let backends = CanaryBackends::start().await;
    let cp = ControlPlane::start().await;
    cp.set_all(canary_scenario(
        TARGET,
        &backends.v1_addrs(),
        &backends.v2_addrs(),
        (0, 100),
    ));
    // istio-agent serves xDS on a Unix socket; this one forwards to the
    // control plane.
    let dir = std::env::temp_dir().join(format!("mesh-istio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("XDS");
    let _ = std::fs::remove_file(&socket);
    let agent = tokio::net::UnixListener::bind(&socket).expect("a Unix socket");
    let upstream = cp.addr();
    tokio::spawn(async move {
        while let Ok((mut downstream, _)) = agent.accept().await {
            tokio::spawn(async move {
                if let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut downstream, &mut up).await;
                }
            });
        }
    });
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mesh-core/tests/fixtures/bootstrap/istio-proxyless.json"
    );
    let json = std::fs::read_to_string(fixture).unwrap().replace(
        "unix:///etc/istio/proxy/XDS",
        &format!("unix://{}", socket.display()),
    );
    let bootstrap = mesh_core::xds::Bootstrap::from_json(&json).expect("Istio's bootstrap parses");
    let client = XdsClient::start(&bootstrap, canary::options()).expect("starts");
    assert!(
        client.ready(WAIT).await,
        "configuration through the agent socket"
    );
    let first = cp.requests()[0].sotw().cloned().unwrap();
    let node = first.node.expect("the node on the first request");
    assert!(node.id.starts_with("sidecar~"), "{}", node.id);
    let generator = node
        .metadata
        .as_ref()
        .and_then(|m| m.fields.get("GENERATOR"))
        .and_then(|v| v.kind.clone());
    assert!(format!("{generator:?}").contains("grpc"), "{generator:?}");
    assert_eq!(spread(&mesh_client(&client), 10).await.get("v2"), Some(&10));
    let _ = std::fs::remove_dir_all(&dir);
}
