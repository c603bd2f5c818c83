//! Mirror of `Cluster`: discovery type, load-balancing policy and its
//! config, the locality half of `common_lb_config`, connect timeout and the
//! inline load assignment; breakers and
//! outlier detection are in `resilience`, transport socket and protocol
//! options in `upstream`, the connection-pool messages (also found in the
//! deprecated Cluster-level protocol fields) in `pool`.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::cluster::v3::{
    self as pb,
    cluster::{
        ClusterDiscoveryType, CommonLbConfig as PbCommonLbConfig,
        CustomClusterType as PbCustomClusterType, DiscoveryType,
        EdsClusterConfig as PbEdsClusterConfig, LbConfig, LbPolicy,
        LeastRequestLbConfig as PbLeastRequest, RingHashLbConfig as PbRingHash,
        common_lb_config::{LocalityConfigSpecifier, LocalityWeightedLbConfig, ZoneAwareLbConfig},
        ring_hash_lb_config::HashFunction,
    },
};
use envoy_types::pb::google::protobuf::UInt64Value;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::endpoint::ClusterLoadAssignment;
use super::pool::{CommonHttpProtocolOptions, Http2ProtocolOptions, UpstreamConnectionOptions};
use super::resilience::{CircuitBreakers, OutlierDetection};
use super::upstream::{ProtocolOptions, TransportSocket, protocol_options};
use super::wkt::{AnyOf, Dur, Enum, Int, enum_value, nullable, proto_enums, u32_value};
use super::{oneof, opt};
use crate::config::ConfigError;

proto_enums!(
    DiscoveryType => "Cluster.DiscoveryType",
    LbPolicy => "Cluster.LbPolicy",
    HashFunction => "RingHashLbConfig.HashFunction",
);

/// `config.cluster.v3.Cluster`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(in crate::source::envoy) struct Cluster {
    #[serde(deserialize_with = "nullable")]
    pub(in crate::source::envoy) name: String,
    r#type: Option<Enum<DiscoveryType>>,
    #[serde(alias = "clusterType")]
    cluster_type: Option<CustomClusterType>,
    #[serde(alias = "edsClusterConfig")]
    eds_cluster_config: Option<EdsClusterConfig>,
    #[serde(alias = "connectTimeout")]
    connect_timeout: Option<Dur>,
    #[serde(alias = "lbPolicy")]
    lb_policy: Option<Enum<LbPolicy>>,
    #[serde(alias = "leastRequestLbConfig")]
    least_request_lb_config: Option<LeastRequestLbConfig>,
    #[serde(alias = "ringHashLbConfig")]
    ring_hash_lb_config: Option<RingHashLbConfig>,
    #[serde(alias = "maglevLbConfig")]
    maglev_lb_config: Option<IgnoredAny>,
    #[serde(alias = "originalDstLbConfig")]
    original_dst_lb_config: Option<IgnoredAny>,
    #[serde(alias = "roundRobinLbConfig")]
    round_robin_lb_config: Option<IgnoredAny>,
    #[serde(alias = "commonLbConfig")]
    common_lb_config: Option<CommonLbConfig>,
    #[serde(alias = "circuitBreakers")]
    circuit_breakers: Option<CircuitBreakers>,
    #[serde(alias = "outlierDetection")]
    outlier_detection: Option<OutlierDetection>,
    #[serde(alias = "transportSocket")]
    transport_socket: Option<TransportSocket>,
    #[serde(alias = "typedExtensionProtocolOptions", deserialize_with = "nullable")]
    typed_extension_protocol_options: HashMap<String, AnyOf<ProtocolOptions>>,
    #[serde(alias = "commonHttpProtocolOptions")]
    common_http_protocol_options: Option<CommonHttpProtocolOptions>,
    #[serde(alias = "http2ProtocolOptions")]
    http2_protocol_options: Option<Http2ProtocolOptions>,
    #[serde(alias = "maxRequestsPerConnection")]
    max_requests_per_connection: Option<Int<u32>>,
    #[serde(alias = "upstreamConnectionOptions")]
    upstream_connection_options: Option<UpstreamConnectionOptions>,
    #[serde(alias = "loadAssignment")]
    load_assignment: Option<ClusterLoadAssignment>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CustomClusterType {
    #[serde(deserialize_with = "nullable")]
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EdsClusterConfig {
    #[serde(alias = "serviceName", deserialize_with = "nullable")]
    service_name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LeastRequestLbConfig {
    #[serde(alias = "choiceCount")]
    choice_count: Option<Int<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RingHashLbConfig {
    #[serde(alias = "minimumRingSize")]
    minimum_ring_size: Option<Int<u64>>,
    #[serde(alias = "maximumRingSize")]
    maximum_ring_size: Option<Int<u64>>,
    #[serde(alias = "hashFunction")]
    hash_function: Option<Enum<HashFunction>>,
}

/// `Cluster.CommonLbConfig`: which locality balancing applies (the zone-
/// aware parameters and the other fields do not matter to the model).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CommonLbConfig {
    #[serde(alias = "zoneAwareLbConfig")]
    zone_aware_lb_config: Option<IgnoredAny>,
    #[serde(alias = "localityWeightedLbConfig")]
    locality_weighted_lb_config: Option<IgnoredAny>,
}

impl CommonLbConfig {
    fn into_proto(self) -> Result<PbCommonLbConfig, ConfigError> {
        Ok(PbCommonLbConfig {
            locality_config_specifier: oneof([
                (
                    "zone_aware_lb_config",
                    self.zone_aware_lb_config.map(|_| {
                        LocalityConfigSpecifier::ZoneAwareLbConfig(ZoneAwareLbConfig::default())
                    }),
                ),
                (
                    "locality_weighted_lb_config",
                    self.locality_weighted_lb_config.map(|_| {
                        LocalityConfigSpecifier::LocalityWeightedLbConfig(
                            LocalityWeightedLbConfig {},
                        )
                    }),
                ),
            ])?,
            ..Default::default()
        })
    }
}

impl Cluster {
    #[allow(deprecated)] // the Cluster-level protocol options are still read
    pub(in crate::source::envoy) fn into_proto(self) -> Result<pb::Cluster, ConfigError> {
        let discovery = oneof([
            ("type", self.r#type.map(|t| ClusterDiscoveryType::Type(t.0))),
            (
                "cluster_type",
                self.cluster_type.map(|c| {
                    ClusterDiscoveryType::ClusterType(PbCustomClusterType {
                        name: c.name,
                        typed_config: None,
                    })
                }),
            ),
        ])?;
        let lb_config = oneof([
            (
                "least_request_lb_config",
                self.least_request_lb_config.map(|l| {
                    LbConfig::LeastRequestLbConfig(PbLeastRequest {
                        choice_count: u32_value(l.choice_count),
                        ..Default::default()
                    })
                }),
            ),
            (
                "ring_hash_lb_config",
                self.ring_hash_lb_config.map(|r| {
                    LbConfig::RingHashLbConfig(PbRingHash {
                        minimum_ring_size: r.minimum_ring_size.map(|v| UInt64Value { value: v.0 }),
                        maximum_ring_size: r.maximum_ring_size.map(|v| UInt64Value { value: v.0 }),
                        hash_function: enum_value(r.hash_function),
                    })
                }),
            ),
            (
                "maglev_lb_config",
                self.maglev_lb_config
                    .map(|_| LbConfig::MaglevLbConfig(Default::default())),
            ),
            (
                "original_dst_lb_config",
                self.original_dst_lb_config
                    .map(|_| LbConfig::OriginalDstLbConfig(Default::default())),
            ),
            (
                "round_robin_lb_config",
                self.round_robin_lb_config
                    .map(|_| LbConfig::RoundRobinLbConfig(Default::default())),
            ),
        ])?;
        Ok(pb::Cluster {
            name: self.name,
            cluster_discovery_type: discovery,
            eds_cluster_config: self.eds_cluster_config.map(|e| PbEdsClusterConfig {
                service_name: e.service_name,
                eds_config: None,
            }),
            connect_timeout: self.connect_timeout.map(|d| d.0),
            lb_policy: enum_value(self.lb_policy),
            lb_config,
            common_lb_config: opt(
                self.common_lb_config,
                "common_lb_config",
                CommonLbConfig::into_proto,
            )?,
            circuit_breakers: self.circuit_breakers.map(CircuitBreakers::into_proto),
            outlier_detection: self.outlier_detection.map(OutlierDetection::into_proto),
            transport_socket: self.transport_socket.map(TransportSocket::into_proto),
            typed_extension_protocol_options: protocol_options(
                self.typed_extension_protocol_options,
            )?,
            common_http_protocol_options: self
                .common_http_protocol_options
                .map(CommonHttpProtocolOptions::into_proto),
            http2_protocol_options: self
                .http2_protocol_options
                .map(Http2ProtocolOptions::into_proto),
            max_requests_per_connection: u32_value(self.max_requests_per_connection),
            upstream_connection_options: self
                .upstream_connection_options
                .map(UpstreamConnectionOptions::into_proto),
            load_assignment: opt(
                self.load_assignment,
                "load_assignment",
                ClusterLoadAssignment::into_proto,
            )?,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::envoy::proto::{type_name, type_url};
    use envoy_types::pb::envoy::config::core::v3::RoutingPriority;
    use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
        HttpProtocolOptions,
        http_protocol_options::{
            ExplicitHttpConfig, UpstreamProtocolOptions, explicit_http_config::ProtocolConfig,
        },
    };
    use prost::Message;

    fn cluster(yaml: &str) -> Result<pb::Cluster, ConfigError> {
        serde_yaml::from_str::<Cluster>(yaml).unwrap().into_proto()
    }

    #[test]
    fn clusters_transcribe() {
        let c = cluster(
            r#"
name: orders
type: EDS
edsClusterConfig: {serviceName: orders-v1}
connectTimeout: 0.25s
lbPolicy: RING_HASH
ringHashLbConfig: {minimumRingSize: "64", maximumRingSize: 128}
circuitBreakers: {thresholds: [{priority: HIGH, maxRequests: 5}, {maxRequests: 100}]}
outlierDetection: {consecutive5xx: 3, interval: 1s}
transportSocket:
  name: envoy.transport_sockets.tls
  typedConfig:
    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
    sni: orders.example
typedExtensionProtocolOptions:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    explicitHttpConfig: {http2ProtocolOptions: {}}
"#,
        )
        .unwrap();
        assert_eq!(
            c.cluster_discovery_type,
            Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32))
        );
        assert_eq!(c.lb_policy, LbPolicy::RingHash as i32);
        assert_eq!(c.connect_timeout.unwrap().nanos, 250_000_000);
        let Some(LbConfig::RingHashLbConfig(r)) = &c.lb_config else {
            panic!("{:?}", c.lb_config);
        };
        assert_eq!(r.minimum_ring_size, Some(UInt64Value { value: 64 }));
        assert_eq!(
            c.circuit_breakers.unwrap().thresholds[0].priority,
            RoutingPriority::High as i32
        );
        assert_eq!(
            c.outlier_detection
                .unwrap()
                .consecutive_5xx
                .map(|v| v.value),
            Some(3)
        );
        let opts = &c.typed_extension_protocol_options[type_name(type_url::HTTP_PROTOCOL_OPTIONS)];
        let decoded = HttpProtocolOptions::decode(opts.value.as_slice()).unwrap();
        assert!(matches!(
            decoded.upstream_protocol_options,
            Some(UpstreamProtocolOptions::ExplicitHttpConfig(
                ExplicitHttpConfig {
                    protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(_))
                }
            ))
        ));
    }

    #[test]
    fn cluster_conflicts_and_bad_enums() {
        let e = cluster("{name: c, ring_hash_lb_config: {}, maglev_lb_config: {}}").unwrap_err();
        assert_eq!(e.field, "maglev_lb_config");
        let e = serde_yaml::from_str::<Cluster>("{name: c, lb_policy: FASTEST}").unwrap_err();
        assert!(e.to_string().contains("FASTEST"), "{e}");
        let e = cluster(
            r#"{name: c, typed_extension_protocol_options: {k: {"@type": x/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, auto_config: {}, use_downstream_protocol_config: {}}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.field,
            r#"typed_extension_protocol_options["k"].auto_config"#
        );
    }

    #[test]
    fn locality_config_transcribes() {
        let c = cluster("{name: c, commonLbConfig: {localityWeightedLbConfig: {}}}").unwrap();
        assert!(matches!(
            c.common_lb_config.unwrap().locality_config_specifier,
            Some(LocalityConfigSpecifier::LocalityWeightedLbConfig(_))
        ));
        let c = cluster("{name: c, common_lb_config: {zone_aware_lb_config: {}}}").unwrap();
        assert!(matches!(
            c.common_lb_config.unwrap().locality_config_specifier,
            Some(LocalityConfigSpecifier::ZoneAwareLbConfig(_))
        ));
        let e = cluster(
            "{name: c, common_lb_config: {zone_aware_lb_config: {}, locality_weighted_lb_config: {}}}",
        )
        .unwrap_err();
        assert_eq!(e.field, "common_lb_config.locality_weighted_lb_config");
    }
}
