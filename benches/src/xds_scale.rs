//! xDS scale runs: how long the xDS client takes to apply a large
//! state-of-the-world snapshot, and how much memory it keeps.
//!
//! The same mesh as [`crate::scale`], delivered the way a control plane
//! delivers it: four `DiscoveryResponse`s (LDS, RDS, CDS, EDS) of
//! protobuf-encoded resources, fed to the sans-IO client
//! ([`mesh_core::xds::XdsState`], wildcard listeners). Per service `svc-N`:
//! an API listener `svc-N:80` naming route configuration `svc-N` over RDS,
//! that route configuration (one virtual host, one route to cluster
//! `svc-N`), an EDS cluster (least request) and a cluster load assignment
//! with one locality (region and zone) of `endpoints` endpoints on
//! `127.x.y.z:8080`, each with a `version` label (`v1` or `v2`, in the
//! `envoy.lb` filter metadata the converter reads) when `labels` says so.
//! Nothing is dialled.
//!
//! *Apply* is what a new snapshot costs from the moment its responses are
//! in memory until requests route with it: decoding, validation and
//! assembly inside [`XdsState::on_response`] (four calls), then
//! [`XdsState::take_config`], [`Snapshot::succeeding`] and the swap into a
//! [`SnapshotHandle`]. The *EDS update* replaces one cluster's 10
//! endpoints with 1 000 in the applied mesh: one EDS response of one load
//! assignment, the reassembly, a successor snapshot and the swap.
//!
//! Memory comes from a process whose global allocator counts every byte
//! (the `xds_scale` binary, [`probe_memory`]): *retained* is what the
//! client (its resource caches), the configuration and the snapshot keep
//! once the responses are consumed; *without the client* is what remains
//! when the client is dropped (the model and the snapshot); *peak* is the
//! most allocated at once while applying, the four encoded responses
//! included (they are all in memory before the first is applied).
//! Per-endpoint and per-cluster costs come from the 10- and 1-endpoint
//! runs of one size, as in [`crate::scale`].

use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::cluster::v3::{
    Cluster, cluster::ClusterDiscoveryType, cluster::DiscoveryType, cluster::EdsClusterConfig,
    cluster::LbPolicy,
};
use envoy_types::pb::envoy::config::core::v3::{
    Address, AggregatedConfigSource, ConfigSource, Locality, Metadata, Node, SocketAddress,
    address, config_source::ConfigSourceSpecifier, socket_address::PortSpecifier,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint::HostIdentifier,
};
use envoy_types::pb::envoy::config::listener::v3::{ApiListener, Listener};
use envoy_types::pb::envoy::config::route::v3::{
    Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost, route::Action,
    route_action::ClusterSpecifier, route_match::PathSpecifier,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, Rds, http_connection_manager::RouteSpecifier,
};
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
use envoy_types::pb::google::protobuf::{Any, Struct, Value, value::Kind};
use mesh_core::source::envoy::type_url;
use mesh_core::xds::{ResourceType, XdsOptions, XdsState};
use mesh_core::{Snapshot, SnapshotHandle};
use prost::Message;

use crate::scale::Counter;

/// Endpoints in the load assignment of an EDS update.
pub const UPDATE_ENDPOINTS: usize = 1_000;

fn any(url: &str, msg: &impl Message) -> Any {
    Any {
        type_url: url.to_owned(),
        value: msg.encode_to_vec(),
    }
}

fn ads() -> ConfigSource {
    ConfigSource {
        config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
        resource_api_version: 2,
        ..Default::default()
    }
}

fn listener(name: &str) -> Any {
    let hcm = HttpConnectionManager {
        stat_prefix: name.to_owned(),
        route_specifier: Some(RouteSpecifier::Rds(Rds {
            route_config_name: name.to_owned(),
            config_source: Some(ads()),
        })),
        ..Default::default()
    };
    let listener = Listener {
        name: format!("{name}:80"),
        api_listener: Some(ApiListener {
            api_listener: Some(any(type_url::HTTP_CONNECTION_MANAGER, &hcm)),
        }),
        ..Default::default()
    };
    any(type_url::LISTENER, &listener)
}

fn route(name: &str) -> Any {
    let table = RouteConfiguration {
        name: name.to_owned(),
        virtual_hosts: vec![VirtualHost {
            name: name.to_owned(),
            domains: vec![name.to_owned(), format!("{name}:80")],
            routes: vec![Route {
                name: "default".to_owned(),
                r#match: Some(RouteMatch {
                    path_specifier: Some(PathSpecifier::Prefix("/".to_owned())),
                    ..Default::default()
                }),
                action: Some(Action::Route(RouteAction {
                    cluster_specifier: Some(ClusterSpecifier::Cluster(name.to_owned())),
                    ..Default::default()
                })),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    any(type_url::ROUTE_CONFIGURATION, &table)
}

fn cluster(name: &str) -> Any {
    let cluster = Cluster {
        name: name.to_owned(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
        eds_cluster_config: Some(EdsClusterConfig {
            eds_config: Some(ads()),
            service_name: String::new(),
        }),
        lb_policy: LbPolicy::LeastRequest as i32,
        ..Default::default()
    };
    any(type_url::CLUSTER, &cluster)
}

fn version_label(j: usize) -> Metadata {
    let value = Value {
        kind: Some(Kind::StringValue(format!("v{}", j % 2 + 1))),
    };
    let fields = Struct {
        fields: [("version".to_owned(), value)].into_iter().collect(),
    };
    Metadata {
        filter_metadata: [("envoy.lb".to_owned(), fields)].into_iter().collect(),
        ..Default::default()
    }
}

/// The load assignment of service `i`: `endpoints` endpoints from
/// `127.a.b.c`, numbered from `first`.
pub fn load_assignment(i: usize, endpoints: usize, first: usize, labels: bool) -> Any {
    let lb_endpoints = (first..first + endpoints)
        .map(|j| {
            // 127.0.0.0/8 has room for 2^24 addresses: service i, endpoint j.
            let n = (i * 1_024 + j) % (1 << 24);
            LbEndpoint {
                host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
                    address: Some(Address {
                        address: Some(address::Address::SocketAddress(SocketAddress {
                            address: format!("127.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255),
                            port_specifier: Some(PortSpecifier::PortValue(8080)),
                            ..Default::default()
                        })),
                    }),
                    ..Default::default()
                })),
                metadata: labels.then(|| version_label(j)),
                ..Default::default()
            }
        })
        .collect();
    let cla = ClusterLoadAssignment {
        cluster_name: format!("svc-{i}"),
        endpoints: vec![LocalityLbEndpoints {
            locality: Some(Locality {
                region: "eu-west1".to_owned(),
                zone: "eu-west1-b".to_owned(),
                ..Default::default()
            }),
            lb_endpoints,
            ..Default::default()
        }],
        ..Default::default()
    };
    any(type_url::CLUSTER_LOAD_ASSIGNMENT, &cla)
}

/// A state-of-the-world response of `ty`.
pub fn response(ty: ResourceType, version: &str, resources: Vec<Any>) -> DiscoveryResponse {
    DiscoveryResponse {
        version_info: version.to_owned(),
        resources,
        type_url: ty.type_url().to_owned(),
        nonce: format!("{ty:?}-{version}"),
        ..Default::default()
    }
}

/// The four responses of a mesh of `clusters` services with `endpoints`
/// endpoints each (at most 1 024), in the order a client needs them.
pub fn responses(clusters: usize, endpoints: usize, labels: bool) -> Vec<DiscoveryResponse> {
    let names: Vec<String> = (0..clusters).map(|i| format!("svc-{i}")).collect();
    vec![
        response(
            ResourceType::Listener,
            "1",
            names.iter().map(|n| listener(n)).collect(),
        ),
        response(
            ResourceType::RouteConfiguration,
            "1",
            names.iter().map(|n| route(n)).collect(),
        ),
        response(
            ResourceType::Cluster,
            "1",
            names.iter().map(|n| cluster(n)).collect(),
        ),
        response(
            ResourceType::ClusterLoadAssignment,
            "1",
            (0..clusters)
                .map(|i| load_assignment(i, endpoints.min(1_024), 0, labels))
                .collect(),
        ),
    ]
}

/// The size of the encoded responses, bytes.
pub fn encoded_len(responses: &[DiscoveryResponse]) -> u64 {
    responses.iter().map(|r| r.encoded_len() as u64).sum()
}

/// A client that subscribes to every listener, its first requests sent.
pub fn client(now: Instant) -> XdsState {
    let options = XdsOptions {
        wildcard_listeners: true,
        ..Default::default()
    };
    let node = Node {
        id: "xds-scale".to_owned(),
        ..Default::default()
    };
    let mut state = XdsState::new(options, node);
    state.stream_started(now);
    state
}

/// How long one apply took.
#[derive(Debug, Clone, Copy)]
pub struct ApplyTime {
    /// `on_response` calls: decode, validate, assemble.
    pub client: Duration,
    /// `take_config`, `Snapshot::succeeding` and the swap.
    pub snapshot: Duration,
}

impl ApplyTime {
    /// Both.
    pub fn total(&self) -> Duration {
        self.client + self.snapshot
    }
}

/// Feeds `responses` to `state`, then builds the successor snapshot and
/// swaps it into `handle`. Errors if a response is refused or no
/// configuration comes out.
pub fn apply(
    state: &mut XdsState,
    handle: &SnapshotHandle,
    responses: Vec<DiscoveryResponse>,
    now: Instant,
) -> Result<ApplyTime, String> {
    let rejected = state.stats().updates_rejected;
    let started = Instant::now();
    for response in responses {
        state.on_response(response, now);
    }
    let applied = Instant::now();
    let config = state.take_config();
    let next = config.map(|c| Snapshot::succeeding(c, &handle.load()));
    if let Some(next) = next {
        handle.store(next);
    }
    let done = Instant::now();
    if state.stats().updates_rejected != rejected {
        return Err("the client refused a response (NACK)".to_owned());
    }
    if let Some(e) = state.assembly_error() {
        return Err(format!("assembly failed: {e}"));
    }
    Ok(ApplyTime {
        client: applied - started,
        snapshot: done - applied,
    })
}

/// A client and a handle with the mesh of `clusters` × `endpoints`
/// applied, and the time it took; checks that every cluster arrived.
pub fn apply_mesh(
    clusters: usize,
    endpoints: usize,
    labels: bool,
) -> Result<(XdsState, SnapshotHandle, ApplyTime), String> {
    let responses = responses(clusters, endpoints, labels);
    let now = Instant::now();
    let mut state = client(now);
    let handle = SnapshotHandle::from_config(Default::default());
    let time = apply(&mut state, &handle, responses, now)?;
    check(&handle, clusters, |_| endpoints)?;
    Ok((state, handle, time))
}

/// Whether the snapshot in `handle` has `clusters` clusters, cluster `i`
/// with `endpoints(i)` endpoints.
fn check(
    handle: &SnapshotHandle,
    clusters: usize,
    endpoints: impl Fn(usize) -> usize,
) -> Result<(), String> {
    let snapshot = handle.load();
    let config = snapshot.config();
    let count = config.clusters().count();
    if count != clusters {
        return Err(format!("{count} clusters applied, {clusters} expected"));
    }
    for i in 0..clusters {
        let name = format!("svc-{i}");
        let found = config.cluster(&name).map(|c| c.endpoints.len());
        if found != Some(endpoints(i)) {
            return Err(format!(
                "cluster {name}: {found:?} endpoints, {} expected",
                endpoints(i)
            ));
        }
    }
    Ok(())
}

/// The EDS update: cluster `svc-0` of an applied mesh gets
/// [`UPDATE_ENDPOINTS`] endpoints (the first of them its old ones).
pub fn eds_update(
    state: &mut XdsState,
    handle: &SnapshotHandle,
    clusters: usize,
    labels: bool,
) -> Result<ApplyTime, String> {
    let update = response(
        ResourceType::ClusterLoadAssignment,
        "2",
        vec![load_assignment(0, UPDATE_ENDPOINTS, 0, labels)],
    );
    let time = apply(state, handle, vec![update], Instant::now())?;
    let old = handle
        .load()
        .config()
        .cluster("svc-1")
        .map_or(0, |c| c.endpoints.len());
    check(handle, clusters, |i| {
        if i == 0 { UPDATE_ENDPOINTS } else { old }
    })?;
    Ok(time)
}

/// What the `xds_scale` probe measures for one size, bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XdsMemory {
    /// Kept after applying: client caches, configuration, snapshot.
    pub retained: u64,
    /// Kept once the client is dropped too: configuration and snapshot.
    pub without_client: u64,
    /// Of `retained`, what building the snapshot added.
    pub snapshot: u64,
    /// Most allocated at once while applying, the responses included.
    pub peak: u64,
    /// The encoded responses.
    pub responses: u64,
}

impl XdsMemory {
    /// One line of `key=value` pairs.
    pub fn to_line(&self) -> String {
        format!(
            "xds_retained={} xds_without_client={} xds_snapshot={} xds_peak={} xds_responses={}",
            self.retained, self.without_client, self.snapshot, self.peak, self.responses
        )
    }

    /// Parses [`XdsMemory::to_line`]'s output (the last such line).
    pub fn parse(text: &str) -> Option<Self> {
        let line = text
            .lines()
            .rev()
            .find(|l| l.starts_with("xds_retained="))?;
        let mut m = XdsMemory::default();
        for pair in line.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            let value: u64 = value.parse().ok()?;
            match key {
                "xds_retained" => m.retained = value,
                "xds_without_client" => m.without_client = value,
                "xds_snapshot" => m.snapshot = value,
                "xds_peak" => m.peak = value,
                "xds_responses" => m.responses = value,
                _ => {}
            }
        }
        Some(m)
    }
}

/// Applies the mesh of `clusters` × `endpoints` under `counter` (the
/// process's counting allocator) and measures it. Run it first thing in a
/// fresh process: the peak is the process's.
pub fn probe_memory(
    clusters: usize,
    endpoints: usize,
    labels: bool,
    counter: &dyn Counter,
) -> Result<XdsMemory, String> {
    let base = counter.allocated();
    let now = Instant::now();
    let handle = SnapshotHandle::from_config(Default::default());
    let mut state = client(now);
    let responses = responses(clusters, endpoints, labels);
    let encoded = encoded_len(&responses);
    for response in responses {
        state.on_response(response, now);
    }
    let config = state
        .take_config()
        .ok_or("no configuration came out of the responses")?;
    let before_snapshot = counter.allocated();
    handle.store(Snapshot::succeeding(config, &handle.load()));
    let after_snapshot = counter.allocated();
    let peak = counter.max_allocated().saturating_sub(base) as u64;
    check(&handle, clusters, |_| endpoints)?;
    let retained = counter.allocated().saturating_sub(base) as u64;
    drop(state);
    let without_client = counter.allocated().saturating_sub(base) as u64;
    drop(std::hint::black_box(handle));
    Ok(XdsMemory {
        retained,
        without_client,
        snapshot: after_snapshot.saturating_sub(before_snapshot) as u64,
        peak,
        responses: encoded,
    })
}

/// The median of `values` (0 when empty).
pub fn median_ms(values: &[Duration]) -> f64 {
    let ms: Vec<f64> = values.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    crate::stats::median(&ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_mesh_applies_with_every_endpoint() {
        let (_, handle, _) = apply_mesh(3, 10, true).expect("applies");
        let snapshot = handle.load();
        let cluster = snapshot.config().cluster("svc-2").expect("svc-2");
        assert_eq!(cluster.endpoints.len(), 10);
        assert_eq!(&*cluster.endpoints[1].labels["version"], "v2");
        assert_eq!(&*cluster.endpoints[0].locality.zone, "eu-west1-b");
        assert_eq!(snapshot.config().listeners().count(), 3);
    }

    #[test]
    fn an_eds_update_replaces_one_cluster() {
        let (mut state, handle, _) = apply_mesh(3, 10, false).expect("applies");
        eds_update(&mut state, &handle, 3, false).expect("updates");
        let snapshot = handle.load();
        assert_eq!(
            snapshot
                .config()
                .cluster("svc-0")
                .map(|c| c.endpoints.len()),
            Some(UPDATE_ENDPOINTS)
        );
        assert_eq!(
            snapshot
                .config()
                .cluster("svc-2")
                .map(|c| c.endpoints.len()),
            Some(10)
        );
    }

    #[test]
    fn memory_lines_round_trip() {
        let m = XdsMemory {
            retained: 1,
            without_client: 2,
            snapshot: 3,
            peak: 4,
            responses: 5,
        };
        assert_eq!(XdsMemory::parse(&format!("x\n{}\n", m.to_line())), Some(m));
    }
}
