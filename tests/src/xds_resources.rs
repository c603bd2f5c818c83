//! Envoy v3 resources (packed as `Any`) for the order-service canary in
//! the shape Istio's proxyless gRPC generator produces: an API listener
//! named by its `host:port` target whose HTTP connection manager takes
//! its routes from RDS over ADS, a route table with a header-pinned
//! canary route and a weighted split, and one EDS cluster per subset
//! (`outbound|80|v1|order-service`), each with a load assignment.
//!
//! Used by the control plane tests and the `xds` example; the
//! `control_plane` test checks that they pass the `mesh_core` converters.

use std::net::SocketAddr;

use envoy_types::pb::envoy::config::cluster::v3::{
    Cluster,
    cluster::{ClusterDiscoveryType, DiscoveryType, EdsClusterConfig, LbPolicy},
};
use envoy_types::pb::envoy::config::core::v3::{
    Address, AggregatedConfigSource, ApiVersion, ConfigSource, HealthStatus, Locality,
    SocketAddress, address, config_source::ConfigSourceSpecifier, socket_address,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint::HostIdentifier,
};
use envoy_types::pb::envoy::config::listener::v3::{ApiListener, Listener};
use envoy_types::pb::envoy::config::route::v3::{
    HeaderMatcher, Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost,
    WeightedCluster, header_matcher::HeaderMatchSpecifier, route::Action,
    route_action::ClusterSpecifier, route_match::PathSpecifier, weighted_cluster::ClusterWeight,
};
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, Rds, http_connection_manager::RouteSpecifier,
    http_filter::ConfigType,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{StringMatcher, string_matcher::MatchPattern};
use envoy_types::pb::google::protobuf::{Any, Duration, UInt32Value};
use envoy_types::util::pack_any;
use prost::{Message, Name};

/// LDS: `envoy.config.listener.v3.Listener`.
pub const LISTENER_TYPE: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
/// RDS: `envoy.config.route.v3.RouteConfiguration`.
pub const ROUTE_TYPE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
/// CDS: `envoy.config.cluster.v3.Cluster`.
pub const CLUSTER_TYPE: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
/// EDS: `envoy.config.endpoint.v3.ClusterLoadAssignment`.
pub const ENDPOINT_TYPE: &str =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

/// The stable subset's cluster.
pub const V1_CLUSTER: &str = "outbound|80|v1|order-service";
/// The canary subset's cluster.
pub const V2_CLUSTER: &str = "outbound|80|v2|order-service";

/// The name of Envoy's router HTTP filter.
const ROUTER_FILTER: &str = "envoy.filters.http.router";

/// A config source meaning "over the same ADS stream", API v3.
fn ads() -> ConfigSource {
    ConfigSource {
        resource_api_version: ApiVersion::V3 as i32,
        config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
        ..Default::default()
    }
}

/// An API listener named `target` whose connection manager takes
/// `routes` and ends with the router filter.
fn listener_with(target: &str, routes: RouteSpecifier) -> Any {
    let hcm = HttpConnectionManager {
        route_specifier: Some(routes),
        http_filters: vec![HttpFilter {
            name: ROUTER_FILTER.into(),
            config_type: Some(ConfigType::TypedConfig(pack_any(Router::default()))),
            ..Default::default()
        }],
        ..Default::default()
    };
    pack_any(Listener {
        name: target.into(),
        api_listener: Some(ApiListener {
            api_listener: Some(pack_any(hcm)),
        }),
        ..Default::default()
    })
}

/// An API listener named `target` (`order-service:80`) whose routes come
/// from RDS: `route_config_name` over ADS.
pub fn api_listener(target: &str, route_config_name: &str) -> Any {
    listener_with(
        target,
        RouteSpecifier::Rds(Rds {
            route_config_name: route_config_name.into(),
            config_source: Some(ads()),
        }),
    )
}

/// An API listener named `target` carrying its route table inline.
pub fn api_listener_inline(target: &str, routes: RouteConfiguration) -> Any {
    listener_with(target, RouteSpecifier::RouteConfig(routes))
}

/// The canary route table `name`: one virtual host `order-service`
/// (domains `order-service`, `order-service:80`) where `x-canary: always`
/// goes to v2 and everything else is split `v1_weight`:`v2_weight`
/// between v1 and v2, with a 5 s timeout.
pub fn canary_routes(name: &str, v1_weight: u32, v2_weight: u32) -> RouteConfiguration {
    let prefix = || Some(PathSpecifier::Prefix("/".into()));
    let pinned = Route {
        name: "canary-header".into(),
        r#match: Some(RouteMatch {
            path_specifier: prefix(),
            headers: vec![HeaderMatcher {
                name: "x-canary".into(),
                header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(StringMatcher {
                    match_pattern: Some(MatchPattern::Exact("always".into())),
                    ignore_case: false,
                })),
                ..Default::default()
            }],
            ..Default::default()
        }),
        action: Some(Action::Route(RouteAction {
            cluster_specifier: Some(ClusterSpecifier::Cluster(V2_CLUSTER.into())),
            ..Default::default()
        })),
        ..Default::default()
    };
    let arm = |name: &str, weight| ClusterWeight {
        name: name.into(),
        weight: Some(UInt32Value { value: weight }),
        ..Default::default()
    };
    let split = Route {
        name: "split".into(),
        r#match: Some(RouteMatch {
            path_specifier: prefix(),
            ..Default::default()
        }),
        action: Some(Action::Route(RouteAction {
            cluster_specifier: Some(ClusterSpecifier::WeightedClusters(WeightedCluster {
                clusters: vec![arm(V1_CLUSTER, v1_weight), arm(V2_CLUSTER, v2_weight)],
                ..Default::default()
            })),
            timeout: Some(Duration {
                seconds: 5,
                nanos: 0,
            }),
            ..Default::default()
        })),
        ..Default::default()
    };
    RouteConfiguration {
        name: name.into(),
        virtual_hosts: vec![VirtualHost {
            name: "order-service".into(),
            domains: vec!["order-service".into(), "order-service:80".into()],
            routes: vec![pinned, split],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A route table, packed.
pub fn route_config(routes: RouteConfiguration) -> Any {
    pack_any(routes)
}

/// An EDS cluster `name` (endpoints from the assignment of the same name
/// over ADS), round robin, 1 s connect timeout.
pub fn eds_cluster(name: &str) -> Any {
    pack_any(Cluster {
        name: name.into(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
        eds_cluster_config: Some(EdsClusterConfig {
            eds_config: Some(ads()),
            service_name: name.into(),
        }),
        lb_policy: LbPolicy::RoundRobin as i32,
        connect_timeout: Some(Duration {
            seconds: 1,
            nanos: 0,
        }),
        ..Default::default()
    })
}

/// The assignment for `cluster_name`: `endpoints` in one locality (weight
/// 1, as gRPC ignores localities without one), each HEALTHY, weight 1.
pub fn load_assignment(cluster_name: &str, endpoints: &[SocketAddr]) -> Any {
    let lb_endpoints = endpoints
        .iter()
        .map(|addr| LbEndpoint {
            health_status: HealthStatus::Healthy as i32,
            load_balancing_weight: Some(UInt32Value { value: 1 }),
            host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
                address: Some(Address {
                    address: Some(address::Address::SocketAddress(SocketAddress {
                        address: addr.ip().to_string(),
                        port_specifier: Some(socket_address::PortSpecifier::PortValue(
                            addr.port().into(),
                        )),
                        ..Default::default()
                    })),
                }),
                ..Default::default()
            })),
            ..Default::default()
        })
        .collect();
    pack_any(ClusterLoadAssignment {
        cluster_name: cluster_name.into(),
        endpoints: vec![LocalityLbEndpoints {
            locality: Some(Locality {
                region: "local".into(),
                zone: "local-a".into(),
                ..Default::default()
            }),
            lb_endpoints,
            load_balancing_weight: Some(UInt32Value { value: 1 }),
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// The whole canary: the API listener `target` (its route table is named
/// after it), [`canary_routes`] with `weights` (v1, v2), and the v1 and v2
/// EDS clusters with their assignments. The routes serve the authority
/// `order-service` (`:80`), so `target` should be `order-service:80`.
pub fn canary_scenario(
    target: &str,
    v1: &[SocketAddr],
    v2: &[SocketAddr],
    weights: (u32, u32),
) -> Vec<Any> {
    vec![
        api_listener(target, target),
        route_config(canary_routes(target, weights.0, weights.1)),
        eds_cluster(V1_CLUSTER),
        eds_cluster(V2_CLUSTER),
        load_assignment(V1_CLUSTER, v1),
        load_assignment(V2_CLUSTER, v2),
    ]
}

/// Decodes `any` as an `M`, checking its type URL.
pub fn unpack<M: Message + Name + Default>(any: &Any) -> Result<M, String> {
    if any.type_url != M::type_url() {
        return Err(format!("expected {}, got {}", M::type_url(), any.type_url));
    }
    M::decode(any.value.as_slice()).map_err(|e| format!("cannot decode {}: {e}", any.type_url))
}
