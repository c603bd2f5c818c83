//! Envoy protos for the state-machine tests, built by hand.

use std::time::Instant;

use envoy_types::pb::envoy::config::cluster::v3::{
    Cluster, cluster::ClusterDiscoveryType, cluster::DiscoveryType, cluster::EdsClusterConfig,
};
use envoy_types::pb::envoy::config::core::v3::{
    Address, AggregatedConfigSource, ConfigSource, Node, SocketAddress, address,
    config_source::ConfigSourceSpecifier, socket_address::PortSpecifier,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint::HostIdentifier,
};
use envoy_types::pb::envoy::config::listener::v3::{ApiListener, Listener};
use envoy_types::pb::envoy::config::route::v3::{
    Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost, WeightedCluster,
    route::Action, route_action::ClusterSpecifier, route_match::PathSpecifier,
    weighted_cluster::ClusterWeight,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, Rds, http_connection_manager::RouteSpecifier,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse, Resource,
};
use envoy_types::pb::google::protobuf::{Any, UInt32Value};
use prost::Message;

use crate::source::envoy::type_url;
use crate::xds::{Outgoing, Protocol, ResourceType, XdsOptions, XdsState};

pub const TARGET: &str = "orders:80";
pub const LDS: ResourceType = ResourceType::Listener;
pub const RDS: ResourceType = ResourceType::RouteConfiguration;
pub const CDS: ResourceType = ResourceType::Cluster;
pub const EDS: ResourceType = ResourceType::ClusterLoadAssignment;

pub fn pack(url: &str, msg: &impl Message) -> Any {
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

/// An API listener whose routes come from RDS `route_name`.
pub fn listener(name: &str, route_name: &str) -> Any {
    let hcm = HttpConnectionManager {
        route_specifier: Some(RouteSpecifier::Rds(Rds {
            route_config_name: route_name.to_owned(),
            config_source: Some(ads()),
        })),
        ..Default::default()
    };
    pack(
        type_url::LISTENER,
        &listener_proto(name, pack(type_url::HTTP_CONNECTION_MANAGER, &hcm)),
    )
}

/// An API listener carrying its routes inline.
pub fn inline_listener(name: &str, routes: RouteConfiguration) -> Any {
    let hcm = HttpConnectionManager {
        route_specifier: Some(RouteSpecifier::RouteConfig(routes)),
        ..Default::default()
    };
    pack(
        type_url::LISTENER,
        &listener_proto(name, pack(type_url::HTTP_CONNECTION_MANAGER, &hcm)),
    )
}

fn listener_proto(name: &str, hcm: Any) -> Listener {
    Listener {
        name: name.to_owned(),
        api_listener: Some(ApiListener {
            api_listener: Some(hcm),
        }),
        ..Default::default()
    }
}

/// One virtual host for every domain, one route splitting over `clusters`.
pub fn route_proto(name: &str, clusters: &[(&str, u32)]) -> RouteConfiguration {
    let specifier = match clusters {
        [(one, _)] => ClusterSpecifier::Cluster((*one).to_owned()),
        many => ClusterSpecifier::WeightedClusters(WeightedCluster {
            clusters: many
                .iter()
                .map(|(c, w)| ClusterWeight {
                    name: (*c).to_owned(),
                    weight: Some(UInt32Value { value: *w }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
    };
    RouteConfiguration {
        name: name.to_owned(),
        virtual_hosts: vec![VirtualHost {
            name: "all".to_owned(),
            domains: vec!["*".to_owned()],
            routes: vec![Route {
                r#match: Some(RouteMatch {
                    path_specifier: Some(PathSpecifier::Prefix("/".to_owned())),
                    ..Default::default()
                }),
                action: Some(Action::Route(RouteAction {
                    cluster_specifier: Some(specifier),
                    ..Default::default()
                })),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn route(name: &str, clusters: &[(&str, u32)]) -> Any {
    pack(type_url::ROUTE_CONFIGURATION, &route_proto(name, clusters))
}

/// An EDS cluster (endpoints under its own name).
pub fn cluster(name: &str) -> Any {
    pack(
        type_url::CLUSTER,
        &Cluster {
            name: name.to_owned(),
            cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
            eds_cluster_config: Some(EdsClusterConfig {
                eds_config: Some(ads()),
                service_name: String::new(),
            }),
            ..Default::default()
        },
    )
}

pub fn endpoints_proto(name: &str, ports: &[u32]) -> ClusterLoadAssignment {
    ClusterLoadAssignment {
        cluster_name: name.to_owned(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints: ports
                .iter()
                .map(|port| LbEndpoint {
                    host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
                        address: Some(Address {
                            address: Some(address::Address::SocketAddress(SocketAddress {
                                address: "127.0.0.1".to_owned(),
                                port_specifier: Some(PortSpecifier::PortValue(*port)),
                                ..Default::default()
                            })),
                        }),
                        ..Default::default()
                    })),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn endpoints(name: &str, ports: &[u32]) -> Any {
    pack(
        type_url::CLUSTER_LOAD_ASSIGNMENT,
        &endpoints_proto(name, ports),
    )
}

pub fn response(
    ty: ResourceType,
    version: &str,
    nonce: &str,
    resources: Vec<Any>,
) -> DiscoveryResponse {
    DiscoveryResponse {
        version_info: version.to_owned(),
        resources,
        type_url: ty.type_url().to_owned(),
        nonce: nonce.to_owned(),
        ..Default::default()
    }
}

pub fn delta_response(
    ty: ResourceType,
    nonce: &str,
    resources: Vec<(&str, &str, Any)>,
    removed: &[&str],
) -> DeltaDiscoveryResponse {
    DeltaDiscoveryResponse {
        type_url: ty.type_url().to_owned(),
        nonce: nonce.to_owned(),
        resources: resources
            .into_iter()
            .map(|(name, version, any)| Resource {
                name: name.to_owned(),
                version: version.to_owned(),
                resource: Some(any),
                ..Default::default()
            })
            .collect(),
        removed_resources: removed.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

pub fn node() -> Node {
    Node {
        id: "test-node".to_owned(),
        ..Default::default()
    }
}

pub fn client(protocol: Protocol) -> XdsState {
    let options = XdsOptions {
        targets: vec![TARGET.to_owned()],
        protocol,
        ..Default::default()
    };
    XdsState::new(options, node())
}

/// The SotW requests of `out`.
pub fn sotw(out: Vec<Outgoing>) -> Vec<DiscoveryRequest> {
    out.into_iter()
        .map(|o| match o {
            Outgoing::Sotw(r) => r,
            Outgoing::Delta(r) => panic!("a delta request on a SotW stream: {r:?}"),
        })
        .collect()
}

/// The one SotW request of `out`.
pub fn one(out: Vec<Outgoing>) -> DiscoveryRequest {
    let mut all = sotw(out);
    assert_eq!(all.len(), 1, "expected one request, got {all:#?}");
    all.remove(0)
}

pub fn names(r: &DiscoveryRequest) -> Vec<&str> {
    r.resource_names.iter().map(String::as_str).collect()
}

/// A SotW client that resolved listener → route → `clusters` → endpoints
/// (one endpoint per cluster, port 8000 + i), every version "1".
pub fn resolved_sotw(clusters: &[&str], now: Instant) -> XdsState {
    let mut c = client(Protocol::StateOfTheWorld);
    c.stream_started(now);
    c.on_response(
        response(LDS, "1", "l1", vec![listener(TARGET, "routes")]),
        now,
    );
    let split: Vec<(&str, u32)> = clusters.iter().map(|c| (*c, 1)).collect();
    c.on_response(response(RDS, "1", "r1", vec![route("routes", &split)]), now);
    let all: Vec<Any> = clusters.iter().map(|n| cluster(n)).collect();
    c.on_response(response(CDS, "1", "c1", all), now);
    let eps: Vec<Any> = clusters
        .iter()
        .enumerate()
        .map(|(i, n)| endpoints(n, &[8000 + i as u32]))
        .collect();
    c.on_response(response(EDS, "1", "e1", eps), now);
    c
}
