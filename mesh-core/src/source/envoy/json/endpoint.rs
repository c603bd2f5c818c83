//! Mirror of `ClusterLoadAssignment`: localities, their endpoints,
//! weights, health and `envoy.lb` metadata.

use envoy_types::pb::envoy::config::core::v3::{
    self as core, HealthStatus, address::Address as PbAddressKind, socket_address::PortSpecifier,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    self as pb, lb_endpoint::HostIdentifier, locality_lb_endpoints::LbConfig,
};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::wkt::{Enum, Int, Metadata, enum_value, nullable, proto_enums, u32_value};
use super::{each, oneof, opt};
use crate::config::{ConfigError, ResultExt};

proto_enums!(HealthStatus => "HealthStatus");

/// `config.endpoint.v3.ClusterLoadAssignment`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(in crate::source::envoy) struct ClusterLoadAssignment {
    #[serde(alias = "clusterName", deserialize_with = "nullable")]
    pub(in crate::source::envoy) cluster_name: String,
    #[serde(deserialize_with = "nullable")]
    endpoints: Vec<LocalityLbEndpoints>,
}

impl ClusterLoadAssignment {
    pub(in crate::source::envoy) fn into_proto(
        self,
    ) -> Result<pb::ClusterLoadAssignment, ConfigError> {
        Ok(pb::ClusterLoadAssignment {
            cluster_name: self.cluster_name,
            endpoints: each(self.endpoints, "endpoints", LocalityLbEndpoints::into_proto)?,
            ..Default::default()
        })
    }
}

/// `config.endpoint.v3.LocalityLbEndpoints`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LocalityLbEndpoints {
    locality: Option<Locality>,
    #[serde(alias = "lbEndpoints", deserialize_with = "nullable")]
    lb_endpoints: Vec<LbEndpoint>,
    #[serde(alias = "loadBalancingWeight")]
    load_balancing_weight: Option<Int<u32>>,
    priority: Option<Int<u32>>,
    #[serde(alias = "ledsClusterLocalityConfig")]
    leds_cluster_locality_config: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Locality {
    #[serde(deserialize_with = "nullable")]
    region: String,
    #[serde(deserialize_with = "nullable")]
    zone: String,
    #[serde(alias = "subZone", deserialize_with = "nullable")]
    sub_zone: String,
}

impl LocalityLbEndpoints {
    fn into_proto(self) -> Result<pb::LocalityLbEndpoints, ConfigError> {
        Ok(pb::LocalityLbEndpoints {
            locality: self.locality.map(|l| core::Locality {
                region: l.region,
                zone: l.zone,
                sub_zone: l.sub_zone,
            }),
            lb_endpoints: each(self.lb_endpoints, "lb_endpoints", LbEndpoint::into_proto)?,
            load_balancing_weight: u32_value(self.load_balancing_weight),
            priority: self.priority.map_or(0, |p| p.0),
            lb_config: self
                .leds_cluster_locality_config
                .map(|_| LbConfig::LedsClusterLocalityConfig(Default::default())),
            ..Default::default()
        })
    }
}

/// `config.endpoint.v3.LbEndpoint`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LbEndpoint {
    endpoint: Option<Endpoint>,
    #[serde(alias = "endpointName")]
    endpoint_name: Option<String>,
    #[serde(alias = "healthStatus")]
    health_status: Option<Enum<HealthStatus>>,
    metadata: Option<Metadata>,
    #[serde(alias = "loadBalancingWeight")]
    load_balancing_weight: Option<Int<u32>>,
}

impl LbEndpoint {
    fn into_proto(self) -> Result<pb::LbEndpoint, ConfigError> {
        let endpoint = opt(self.endpoint, "endpoint", Endpoint::into_proto)?;
        Ok(pb::LbEndpoint {
            host_identifier: oneof([
                ("endpoint", endpoint.map(HostIdentifier::Endpoint)),
                (
                    "endpoint_name",
                    self.endpoint_name.map(HostIdentifier::EndpointName),
                ),
            ])?,
            health_status: enum_value(self.health_status),
            metadata: self.metadata.map(Metadata::into_proto),
            load_balancing_weight: u32_value(self.load_balancing_weight),
        })
    }
}

/// `config.endpoint.v3.Endpoint`: its address.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Endpoint {
    address: Option<Address>,
}

impl Endpoint {
    fn into_proto(self) -> Result<pb::Endpoint, ConfigError> {
        Ok(pb::Endpoint {
            address: opt(self.address, "address", Address::into_proto)?,
            ..Default::default()
        })
    }
}

/// `config.core.v3.Address`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Address {
    #[serde(alias = "socketAddress")]
    socket_address: Option<SocketAddress>,
    pipe: Option<IgnoredAny>,
    #[serde(alias = "envoyInternalAddress")]
    envoy_internal_address: Option<IgnoredAny>,
}

/// `config.core.v3.SocketAddress`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SocketAddress {
    #[serde(deserialize_with = "nullable")]
    address: String,
    #[serde(alias = "portValue")]
    port_value: Option<Int<u32>>,
    #[serde(alias = "namedPort")]
    named_port: Option<String>,
}

impl Address {
    fn into_proto(self) -> Result<core::Address, ConfigError> {
        let socket = match self.socket_address {
            None => None,
            Some(s) => Some(PbAddressKind::SocketAddress(core::SocketAddress {
                address: s.address,
                port_specifier: oneof([
                    (
                        "port_value",
                        s.port_value.map(|p| PortSpecifier::PortValue(p.0)),
                    ),
                    ("named_port", s.named_port.map(PortSpecifier::NamedPort)),
                ])
                .at("socket_address")?,
                ..Default::default()
            })),
        };
        Ok(core::Address {
            address: oneof([
                ("socket_address", socket),
                (
                    "pipe",
                    self.pipe.map(|_| PbAddressKind::Pipe(Default::default())),
                ),
                (
                    "envoy_internal_address",
                    self.envoy_internal_address
                        .map(|_| PbAddressKind::EnvoyInternalAddress(Default::default())),
                ),
            ])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_transcribe() {
        let yaml = r#"
clusterName: orders
endpoints:
- locality: {region: eu, subZone: r1}
  priority: 1
  lbEndpoints:
  - endpoint: {address: {socketAddress: {address: 10.0.0.1, portValue: 8080}}}
    healthStatus: DEGRADED
    loadBalancingWeight: 3
    metadata: {filterMetadata: {envoy.lb: {version: v2}}}
  - endpoint: {address: {socket_address: {address: 10.0.0.2, port_value: "8080"}}}
    health_status: 1
"#;
        let cla = serde_yaml::from_str::<ClusterLoadAssignment>(yaml)
            .unwrap()
            .into_proto()
            .unwrap();
        let group = &cla.endpoints[0];
        assert_eq!(group.priority, 1);
        assert_eq!(group.locality.as_ref().unwrap().sub_zone, "r1");
        assert_eq!(
            group.lb_endpoints[0].health_status,
            HealthStatus::Degraded as i32
        );
        assert_eq!(group.lb_endpoints[1].health_status, 1);
        let Some(HostIdentifier::Endpoint(ep)) = &group.lb_endpoints[1].host_identifier else {
            panic!("{:?}", group.lb_endpoints[1]);
        };
        let Some(PbAddressKind::SocketAddress(sa)) = &ep.address.as_ref().unwrap().address else {
            panic!("{ep:?}");
        };
        assert_eq!(sa.port_specifier, Some(PortSpecifier::PortValue(8080)));
    }

    #[test]
    fn bad_values_are_reported_by_serde_or_transcription() {
        let e = serde_yaml::from_str::<ClusterLoadAssignment>(
            "endpoints: [{lb_endpoints: [{health_status: SICK}]}]",
        )
        .unwrap_err();
        assert!(e.to_string().contains("SICK"), "{e}");
        let e = serde_yaml::from_str::<ClusterLoadAssignment>(
            "endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {port_value: 1, named_port: http}}}}]}]",
        )
        .unwrap()
        .into_proto()
        .unwrap_err();
        assert_eq!(
            e.field,
            "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.named_port"
        );
    }
}
