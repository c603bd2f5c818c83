//! The test control plane itself, driven by a raw tonic ADS client on
//! loopback: subscriptions, ACKs, pushes, removals, delta catch-up on
//! reconnect, broken streams and servers, the request log; and the canary
//! resources through the `mesh_core` converters and a real `MeshClient`.

use std::collections::HashMap;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::google::protobuf::Any;
use envoy_types::pb::google::rpc::Status as RpcStatus;
use mesh_core::config::MeshConfig;
use mesh_core::source::envoy::{cluster, endpoints, listener, route_table};
use mesh_examples::backend::Backend;
use mesh_tests::control_plane::{ControlPlane, Recorded, Sent};
use mesh_tests::xds_resources::{
    CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, V1_CLUSTER, V2_CLUSTER, api_listener,
    api_listener_inline, canary_routes, canary_scenario, eds_cluster, load_assignment,
    route_config, unpack,
};
use mesh_tests::{body_text, get};
use mesh_tower::MeshClient;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Streaming};

/// Long enough for anything that should happen on loopback.
const WAIT: Duration = Duration::from_secs(5);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(300);

type Ads = AggregatedDiscoveryServiceClient<Channel>;

async fn ads(cp: &ControlPlane) -> Ads {
    timeout(WAIT, Ads::connect(cp.uri()))
        .await
        .expect("connects in time")
        .expect("connects")
}

/// One client stream: requests in, responses out.
struct Stream<Req, Resp> {
    _client: Ads,
    tx: mpsc::UnboundedSender<Req>,
    rx: Streaming<Resp>,
}

impl<Req, Resp: Debug> Stream<Req, Resp> {
    fn send(&self, request: Req) {
        assert!(self.tx.send(request).is_ok(), "the stream is open");
    }

    async fn recv(&mut self) -> Resp {
        timeout(WAIT, self.rx.message())
            .await
            .expect("a response in time")
            .expect("no error")
            .expect("the stream is open")
    }

    async fn quiet(&mut self) {
        if let Ok(r) = timeout(QUIET, self.rx.message()).await {
            panic!("expected no response, got {r:?}");
        }
    }

    /// The status the stream ends with.
    async fn ended(&mut self) -> tonic::Status {
        loop {
            match timeout(WAIT, self.rx.message()).await {
                Ok(Err(status)) => return status,
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) => panic!("the stream ended with OK"),
                Err(_) => panic!("the stream did not end in time"),
            }
        }
    }
}

type Sotw = Stream<DiscoveryRequest, DiscoveryResponse>;
type Delta = Stream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

async fn sotw(cp: &ControlPlane) -> Sotw {
    try_sotw(cp).await.expect("a stream")
}

async fn try_sotw(cp: &ControlPlane) -> Result<Sotw, tonic::Status> {
    let mut client = ads(cp).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let rx = timeout(
        WAIT,
        client.stream_aggregated_resources(UnboundedReceiverStream::new(rx)),
    )
    .await
    .expect("headers in time")?
    .into_inner();
    Ok(Stream {
        _client: client,
        tx,
        rx,
    })
}

async fn delta(cp: &ControlPlane) -> Delta {
    let mut client = ads(cp).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let rx = timeout(
        WAIT,
        client.delta_aggregated_resources(UnboundedReceiverStream::new(rx)),
    )
    .await
    .expect("headers in time")
    .expect("a stream")
    .into_inner();
    Stream {
        _client: client,
        tx,
        rx,
    }
}

fn request(type_url: &str, names: &[&str], version: &str, nonce: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        type_url: type_url.into(),
        resource_names: names.iter().map(|n| (*n).to_owned()).collect(),
        version_info: version.into(),
        response_nonce: nonce.into(),
        ..Default::default()
    }
}

/// The request ACKing `response`, for the same names.
fn ack(response: &DiscoveryResponse, names: &[&str]) -> DiscoveryRequest {
    request(
        &response.type_url,
        names,
        &response.version_info,
        &response.nonce,
    )
}

fn nack(type_url: &str, names: &[&str], version: &str, nonce: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        error_detail: Some(RpcStatus {
            code: Code::InvalidArgument as i32,
            message: "bad resource".into(),
            details: Vec::new(),
        }),
        ..request(type_url, names, version, nonce)
    }
}

fn delta_request(type_url: &str, subscribe: &[&str]) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        type_url: type_url.into(),
        resource_names_subscribe: subscribe.iter().map(|n| (*n).to_owned()).collect(),
        ..Default::default()
    }
}

/// Names of the resources in a state-of-the-world response.
fn names(response: &DiscoveryResponse) -> Vec<String> {
    response
        .resources
        .iter()
        .map(|any| match any.type_url.as_str() {
            LISTENER_TYPE => unpack::<Listener>(any).expect("listener").name,
            ROUTE_TYPE => unpack::<RouteConfiguration>(any).expect("routes").name,
            CLUSTER_TYPE => unpack::<Cluster>(any).expect("cluster").name,
            ENDPOINT_TYPE => {
                unpack::<ClusterLoadAssignment>(any)
                    .expect("assignment")
                    .cluster_name
            }
            other => panic!("unexpected {other}"),
        })
        .collect()
}

/// (name, version) of the resources in a delta response.
fn versions(response: &DeltaDiscoveryResponse) -> Vec<(String, String)> {
    response
        .resources
        .iter()
        .map(|r| (r.name.clone(), r.version.clone()))
        .collect()
}

fn pair(name: &str, version: &str) -> (String, String) {
    (name.to_owned(), version.to_owned())
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Waits for the `n`th request to be recorded (1-based), so a test knows
/// the server has handled it.
async fn handled(cp: &ControlPlane, n: usize) {
    let seen = cp.wait_for_request_from(n - 1, |_| true, WAIT).await;
    assert!(seen.is_some(), "request {n} was not recorded");
}

#[tokio::test]
async fn sotw_lds_wildcard_is_answered_acks_are_not_and_changes_are_pushed() {
    let cp = ControlPlane::start().await;
    cp.set(api_listener("order-service:80", "routes-a"));
    let mut s = sotw(&cp).await;

    s.send(request(LISTENER_TYPE, &[], "", ""));
    let first = s.recv().await;
    assert_eq!(first.type_url, LISTENER_TYPE);
    assert_eq!(first.version_info, "1");
    assert_eq!(first.nonce, "n1");
    assert_eq!(names(&first), ["order-service:80"]);

    s.send(ack(&first, &[]));
    handled(&cp, 2).await;
    s.quiet().await;

    cp.set(api_listener("order-service:80", "routes-b"));
    let second = s.recv().await;
    assert_eq!(
        (second.version_info.as_str(), second.nonce.as_str()),
        ("2", "n2")
    );
    let hcm_changed = unpack::<Listener>(&second.resources[0]).expect("listener");
    assert_ne!(
        hcm_changed,
        unpack::<Listener>(&first.resources[0]).expect("listener")
    );

    // Wildcard: a new listener comes with all the others.
    cp.set(api_listener("payments:8080", "routes-p"));
    let third = s.recv().await;
    assert_eq!(third.version_info, "3");
    assert_eq!(names(&third), ["order-service:80", "payments:8080"]);
    assert_eq!(cp.last_nonce(1, LISTENER_TYPE).as_deref(), Some("n3"));
}

#[tokio::test]
async fn sotw_empty_wildcard_state_is_sent_but_empty_rds_is_not() {
    let cp = ControlPlane::start().await;
    let mut s = sotw(&cp).await;
    s.send(request(CLUSTER_TYPE, &[], "", ""));
    let empty = s.recv().await;
    assert!(empty.resources.is_empty());
    assert_eq!(empty.version_info, "0");

    s.send(request(ROUTE_TYPE, &["missing"], "", ""));
    handled(&cp, 2).await;
    s.quiet().await;
    cp.set(route_config(canary_routes("missing", 80, 20)));
    let pushed = s.recv().await;
    assert_eq!(names(&pushed), ["missing"]);
}

#[tokio::test]
async fn sotw_rds_by_name_resubscription_and_removal() {
    let cp = ControlPlane::start().await;
    cp.set(route_config(canary_routes("a", 80, 20)));
    cp.set(route_config(canary_routes("b", 50, 50)));
    let mut s = sotw(&cp).await;

    s.send(request(ROUTE_TYPE, &["a"], "", ""));
    let only_a = s.recv().await;
    assert_eq!(names(&only_a), ["a"]);
    assert_eq!(only_a.version_info, "2");

    // A changed subscription is answered with the new set.
    s.send(request(ROUTE_TYPE, &["a", "b"], "2", &only_a.nonce));
    let both = s.recv().await;
    assert_eq!(names(&both), ["a", "b"]);
    s.send(ack(&both, &["a", "b"]));
    handled(&cp, 3).await;
    s.quiet().await;

    // Removing an RDS resource pushes nothing; later responses omit it.
    assert!(cp.remove(ROUTE_TYPE, "b"));
    assert!(!cp.remove(ROUTE_TYPE, "b"));
    s.quiet().await;
    cp.set(route_config(canary_routes("a", 0, 100)));
    let after = s.recv().await;
    assert_eq!(names(&after), ["a"]);
    assert_eq!(after.version_info, "4");

    // A set outside the subscription is not pushed.
    cp.set(route_config(canary_routes("c", 1, 1)));
    s.quiet().await;
}

#[tokio::test]
async fn sotw_lds_removal_is_pushed_without_the_listener() {
    let cp = ControlPlane::start().await;
    cp.set(api_listener("a:80", "ra"));
    cp.set(api_listener("b:80", "rb"));
    let mut s = sotw(&cp).await;
    s.send(request(LISTENER_TYPE, &["a:80", "b:80"], "", ""));
    assert_eq!(names(&s.recv().await), ["a:80", "b:80"]);

    assert!(cp.remove(LISTENER_TYPE, "b:80"));
    let without = s.recv().await;
    assert_eq!(names(&without), ["a:80"]);
    assert_eq!(without.version_info, "3");
    assert!(cp.remove(LISTENER_TYPE, "a:80"));
    assert!(s.recv().await.resources.is_empty());
}

#[tokio::test]
async fn sotw_nacks_and_stale_nonces_get_no_response() {
    let cp = ControlPlane::start().await;
    cp.set(eds_cluster(V1_CLUSTER));
    let mut s = sotw(&cp).await;
    s.send(request(CLUSTER_TYPE, &[], "", ""));
    let first = s.recv().await;

    s.send(nack(CLUSTER_TYPE, &[], "", &first.nonce));
    handled(&cp, 2).await;
    s.quiet().await;
    let recorded = cp.requests();
    assert!(recorded[1].is_nack());
    assert!(!recorded[1].is_ack_of(&first.nonce));

    cp.set(eds_cluster(V2_CLUSTER));
    let second = s.recv().await;
    // A subscription change carrying the old nonce is stale: ignored.
    s.send(request(CLUSTER_TYPE, &[V1_CLUSTER], "1", &first.nonce));
    handled(&cp, 3).await;
    s.quiet().await;
    // With the current nonce it is answered.
    s.send(request(CLUSTER_TYPE, &[V1_CLUSTER], "2", &second.nonce));
    assert_eq!(names(&s.recv().await), [V1_CLUSTER]);
}

#[tokio::test]
async fn raw_responses_reach_open_streams_with_a_nonce() {
    let cp = ControlPlane::start().await;
    let mut s = sotw(&cp).await;
    s.send(request(LISTENER_TYPE, &["x:80"], "", ""));
    let empty = s.recv().await;
    assert!(empty.resources.is_empty());

    let garbage = DiscoveryResponse {
        version_info: "bogus".into(),
        type_url: LISTENER_TYPE.into(),
        resources: vec![Any {
            type_url: LISTENER_TYPE.into(),
            value: vec![0xff, 0xff, 0xff],
        }],
        ..Default::default()
    };
    assert_eq!(cp.send_raw_sotw(garbage.clone()), 1);
    let got = s.recv().await;
    assert_eq!(got.resources, garbage.resources);
    assert_eq!(got.nonce, "n2");
    assert_eq!(cp.last_nonce(1, LISTENER_TYPE).as_deref(), Some("n2"));

    // A NACK of it is recorded and not answered.
    s.send(nack(LISTENER_TYPE, &["x:80"], "", &got.nonce));
    let nacked = cp
        .wait_for_request(|r| r.is_nack(), WAIT)
        .await
        .expect("the NACK");
    assert_eq!(nacked.response_nonce(), "n2");
    s.quiet().await;

    // A given nonce is kept.
    let mut fixed = garbage;
    fixed.nonce = "mine".into();
    cp.send_raw_sotw(fixed);
    assert_eq!(s.recv().await.nonce, "mine");
}

#[tokio::test]
async fn delta_subscribe_receive_push_and_remove() {
    let cp = ControlPlane::start().await;
    cp.set_all(canary_scenario(
        "order-service:80",
        &[addr(1)],
        &[addr(2)],
        (80, 20),
    ));
    let mut d = delta(&cp).await;

    d.send(delta_request(LISTENER_TYPE, &[]));
    let lds = d.recv().await;
    assert_eq!(versions(&lds), [pair("order-service:80", "1")]);
    assert_eq!(lds.system_version_info, "1");

    d.send(delta_request(CLUSTER_TYPE, &[V1_CLUSTER]));
    let cds = d.recv().await;
    assert_eq!(versions(&cds), [pair(V1_CLUSTER, "1")]);
    // ACK: nothing more.
    d.send(DeltaDiscoveryRequest {
        type_url: CLUSTER_TYPE.into(),
        response_nonce: cds.nonce.clone(),
        ..Default::default()
    });
    handled(&cp, 3).await;
    d.quiet().await;

    // Only the changed resource is pushed, with its own version.
    cp.set(eds_cluster(V1_CLUSTER));
    assert_eq!(versions(&d.recv().await), [pair(V1_CLUSTER, "3")]);
    // Not subscribed: not pushed.
    cp.set(eds_cluster(V2_CLUSTER));
    d.quiet().await;

    assert!(cp.remove(CLUSTER_TYPE, V1_CLUSTER));
    let removed = d.recv().await;
    assert!(removed.resources.is_empty());
    assert_eq!(removed.removed_resources, [V1_CLUSTER]);

    // Subscribing later sends what exists.
    d.send(delta_request(CLUSTER_TYPE, &[V2_CLUSTER]));
    assert_eq!(versions(&d.recv().await), [pair(V2_CLUSTER, "4")]);
}

#[tokio::test]
async fn delta_reconnect_with_initial_versions_gets_only_the_changes() {
    let cp = ControlPlane::start().await;
    for name in ["a", "b", "c"] {
        cp.set(eds_cluster(name));
    }
    let mut d = delta(&cp).await;
    d.send(delta_request(CLUSTER_TYPE, &[]));
    let all = d.recv().await;
    let have: HashMap<String, String> = versions(&all).into_iter().collect();
    assert_eq!(have.len(), 3);
    assert_eq!(have["a"], "1");

    assert_eq!(cp.drop_streams(), 1);
    assert_eq!(d.ended().await.code(), Code::Unavailable);
    cp.set(eds_cluster("a"));
    assert!(cp.remove(CLUSTER_TYPE, "c"));
    cp.set(eds_cluster("d"));

    let mut again = delta(&cp).await;
    again.send(DeltaDiscoveryRequest {
        initial_resource_versions: have,
        ..delta_request(CLUSTER_TYPE, &[])
    });
    let catch_up = again.recv().await;
    assert_eq!(versions(&catch_up), [pair("a", "4"), pair("d", "6")]);
    assert_eq!(catch_up.removed_resources, ["c"]);
    let on_stream_2 = cp.requests().into_iter().filter(|r| r.stream() == 2);
    assert_eq!(on_stream_2.count(), 1);

    // Unsubscribing is not answered and stops pushes of that name.
    again.send(DeltaDiscoveryRequest {
        type_url: CLUSTER_TYPE.into(),
        resource_names_unsubscribe: vec!["*".into()],
        resource_names_subscribe: Vec::new(),
        ..Default::default()
    });
    handled(&cp, 3).await;
    again.quiet().await;
    cp.set(eds_cluster("b"));
    again.quiet().await;
}

#[tokio::test]
async fn drop_streams_ends_them_with_unavailable_and_clients_reconnect() {
    let cp = ControlPlane::start().await;
    cp.set(api_listener("a:80", "ra"));
    let mut s = sotw(&cp).await;
    let mut d = delta(&cp).await;
    s.send(request(LISTENER_TYPE, &[], "", ""));
    d.send(delta_request(LISTENER_TYPE, &[]));
    s.recv().await;
    d.recv().await;
    assert_eq!(cp.open_streams(), 2);

    assert_eq!(cp.drop_streams(), 2);
    assert_eq!(s.ended().await.code(), Code::Unavailable);
    assert_eq!(d.ended().await.code(), Code::Unavailable);
    assert_eq!(cp.open_streams(), 0);

    let mut s = sotw(&cp).await;
    s.send(request(LISTENER_TYPE, &[], "", ""));
    assert_eq!(names(&s.recv().await), ["a:80"]);
    assert_eq!(cp.stream_count(), 3);
    let last = cp.requests().pop().expect("a request");
    assert_eq!(last.stream(), 3);
}

#[tokio::test]
async fn refused_streams_fail_with_unavailable_until_allowed() {
    let cp = ControlPlane::start().await;
    cp.refuse_connections(true);
    let refused = try_sotw(&cp).await.err().expect("refused");
    assert_eq!(refused.code(), Code::Unavailable);
    assert_eq!((cp.refused_count(), cp.stream_count()), (1, 0));

    cp.refuse_connections(false);
    let mut s = sotw(&cp).await;
    s.send(request(CLUSTER_TYPE, &[], "", ""));
    s.recv().await;
    assert_eq!(cp.stream_count(), 1);
}

#[tokio::test]
async fn shutdown_closes_the_port_and_restart_serves_the_same_state() {
    let cp = ControlPlane::start().await;
    cp.set(api_listener("a:80", "ra"));
    let mut s = sotw(&cp).await;
    s.send(request(LISTENER_TYPE, &[], "", ""));
    s.recv().await;

    cp.shutdown().await;
    assert!(!cp.is_running());
    assert_eq!(s.ended().await.code(), Code::Unavailable);
    let refused = timeout(WAIT, Ads::connect(cp.uri()))
        .await
        .expect("fails in time");
    assert!(refused.is_err(), "the port is closed");

    cp.restart().await.expect("the same port again");
    let mut s = sotw(&cp).await;
    s.send(request(LISTENER_TYPE, &[], "", ""));
    let again = s.recv().await;
    assert_eq!(names(&again), ["a:80"]);
    assert_eq!(again.version_info, "1");
    assert_eq!(cp.stream_count(), 2);

    // A fresh control plane on the same address, after this one is gone.
    let at = cp.addr();
    cp.shutdown().await;
    drop(cp);
    let fresh = ControlPlane::start_on(at).await.expect("rebinds");
    assert_eq!(fresh.addr(), at);
    let mut s = sotw(&fresh).await;
    s.send(request(LISTENER_TYPE, &[], "", ""));
    assert!(s.recv().await.resources.is_empty());
}

#[tokio::test]
async fn the_recorder_sees_every_request_in_order_with_its_stream() {
    let cp = ControlPlane::start().await;
    let mut seen = cp.cursor();
    let mut s = sotw(&cp).await;
    s.send(request(LISTENER_TYPE, &[], "", ""));
    let lds = s.recv().await;
    s.send(ack(&lds, &[]));
    s.send(request(CLUSTER_TYPE, &[], "", ""));
    handled(&cp, 3).await;
    let d = delta(&cp).await;
    d.send(delta_request(ROUTE_TYPE, &["r"]));

    let first = seen
        .next(|r| r.type_url() == LISTENER_TYPE, WAIT)
        .await
        .expect("the subscription");
    assert_eq!(first.response_nonce(), "");
    let acked = seen
        .next(|r| r.type_url() == LISTENER_TYPE, WAIT)
        .await
        .expect("the ACK");
    assert!(acked.is_ack_of(&lds.nonce));
    let delta_req = seen
        .next(|r| matches!(r, Recorded::Delta(..)), WAIT)
        .await
        .expect("the delta request");
    assert_eq!(delta_req.stream(), 2);
    assert_eq!(
        delta_req.delta().expect("delta").resource_names_subscribe,
        ["r"]
    );
    // Nothing newer matches yet: a bounded wait gives up.
    assert!(
        seen.next(|r| r.type_url() == LISTENER_TYPE, QUIET)
            .await
            .is_none()
    );

    let all = cp.requests();
    assert_eq!(all.len(), 4);
    assert_eq!(cp.request_count(), 4);
    let streams: Vec<u64> = all.iter().map(Recorded::stream).collect();
    assert_eq!(streams, [1, 1, 1, 2]);
    assert_eq!(all[2].sotw().expect("sotw").type_url, CLUSTER_TYPE);
    // Waiting from an index sees only what follows it.
    let (i, _) = cp
        .wait_for_request_from(1, |r| r.stream() == 1, WAIT)
        .await
        .expect("request 2");
    assert_eq!(i, 1);

    let sent = cp.responses();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(matches!(&sent[0], Sent::Sotw(1, r) if r.nonce == lds.nonce));
    assert_eq!(sent[1].type_url(), CLUSTER_TYPE);
}

#[test]
fn the_type_urls_match_the_converters() {
    use mesh_core::source::envoy::type_url;
    assert_eq!(LISTENER_TYPE, type_url::LISTENER);
    assert_eq!(ROUTE_TYPE, type_url::ROUTE_CONFIGURATION);
    assert_eq!(CLUSTER_TYPE, type_url::CLUSTER);
    assert_eq!(ENDPOINT_TYPE, type_url::CLUSTER_LOAD_ASSIGNMENT);
}

/// The canary resources through the converters, as the xDS client would.
fn convert(resources: &[Any]) -> MeshConfig {
    let mut builder = MeshConfig::builder();
    let mut clusters = Vec::new();
    let mut assignments = HashMap::new();
    for any in resources {
        match any.type_url.as_str() {
            LISTENER_TYPE => {
                let (l, inline) = listener(&unpack(any).expect("listener")).expect("converts");
                builder = builder.listener(l);
                if let Some(table) = inline {
                    builder = builder.route_table(table);
                }
            }
            ROUTE_TYPE => {
                let rc = unpack(any).expect("routes");
                builder = builder.route_table(route_table(&rc).expect("converts"));
            }
            CLUSTER_TYPE => {
                let c: Cluster = unpack(any).expect("cluster");
                let eds = mesh_core::source::envoy::eds_service_name(&c).map(str::to_owned);
                clusters.push((cluster(&c).expect("converts"), eds));
            }
            ENDPOINT_TYPE => {
                let cla: ClusterLoadAssignment = unpack(any).expect("assignment");
                assignments.insert(cla.cluster_name.clone(), endpoints(&cla).expect("converts"));
            }
            other => panic!("unexpected {other}"),
        }
    }
    for (mut c, eds) in clusters {
        let eds = eds.expect("an EDS cluster");
        c.endpoints = assignments.get(&eds).cloned().expect("its assignment");
        builder = builder.cluster(c);
    }
    builder.build().expect("a valid configuration")
}

#[test]
fn the_canary_resources_convert() {
    let config = convert(&canary_scenario(
        "order-service:80",
        &[addr(1001), addr(1002)],
        &[addr(1003)],
        (80, 20),
    ));
    let l = config.listener("order-service:80").expect("the listener");
    assert_eq!(&*l.route_table, "order-service:80");
    let table = config.route_table("order-service:80").expect("the routes");
    let vh = &table.virtual_hosts()[0];
    assert_eq!(vh.routes.len(), 2);
    assert_eq!(
        vh.routes[1].action.timeout,
        Some(Duration::from_secs(5)),
        "the split's timeout"
    );
    let v1 = config.cluster(V1_CLUSTER).expect("v1");
    assert_eq!(v1.endpoints.len(), 2);
    assert_eq!(v1.connect_timeout, Duration::from_secs(1));
    assert_eq!(v1.endpoints[0].port(), 1001);
    assert_eq!(config.cluster(V2_CLUSTER).expect("v2").endpoints.len(), 1);

    // The inline variant.
    let inline = api_listener_inline("order-service:80", canary_routes("inline", 1, 1));
    let (l, table) = listener(&unpack(&inline).expect("listener")).expect("converts");
    assert_eq!(&*l.route_table, "inline");
    assert_eq!(table.expect("inline table").virtual_hosts().len(), 1);
    let cla = unpack(&load_assignment("x", &[])).expect("assignment");
    assert!(endpoints(&cla).expect("converts").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_resources_route_real_requests() {
    let backends = [
        Backend::start("v1-a").await.expect("v1-a"),
        Backend::start("v1-b").await.expect("v1-b"),
        Backend::start("v2").await.expect("v2"),
    ];
    let config = convert(&canary_scenario(
        "order-service:80",
        &[backends[0].addr(), backends[1].addr()],
        &[backends[2].addr()],
        (80, 20),
    ));
    let client = MeshClient::from_config(config);
    let mut by_backend: HashMap<String, u32> = HashMap::new();
    for i in 0..400 {
        let response = client
            .request(get(&format!("http://order-service/orders/{i}"), &[]))
            .await
            .expect("routed");
        *by_backend.entry(body_text(response).await).or_default() += 1;
    }
    let v2 = by_backend.get("v2").copied().unwrap_or(0);
    // 20% of 400: standard deviation 8; ±40 never flakes.
    assert!((40..=120).contains(&v2), "v2 got {v2}: {by_backend:?}");
    for _ in 0..20 {
        let response = client
            .request(get(
                "http://order-service/orders/1",
                &[("x-canary", "always")],
            ))
            .await
            .expect("routed");
        assert_eq!(body_text(response).await, "v2");
    }
}
