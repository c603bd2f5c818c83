//! `ClusterLoadAssignment` → endpoints, from EDS or a cluster's inline
//! `load_assignment`.
//!
//! Each endpoint takes the locality and priority of its
//! `LocalityLbEndpoints`, its own `load_balancing_weight` (default 1, zero
//! rejected as in Envoy), `health_status`, and its labels from the string
//! fields of `metadata.filter_metadata["envoy.lb"]`. The locality's own
//! `load_balancing_weight` goes on each of its endpoints
//! ([`Endpoint::locality_weight`](crate::config::EndpointData::locality_weight));
//! zero is rejected, as Envoy's validation does (gRPC drops such a
//! locality instead; a control plane that wants a locality to get nothing
//! can leave it out). Only socket addresses with a numeric `port_value` are
//! supported: pipes, internal addresses, named ports and named endpoints
//! are rejected.
//!
//! Endpoints with equal localities or equal labels share one value
//! ([`crate::source::shared`]), so an endpoint keeps little of its own
//! (see [`crate::config::Endpoint`]).

use std::num::NonZeroU32;

use envoy_types::pb::envoy::config::core::v3::{
    HealthStatus as PbHealthStatus, address::Address, socket_address::PortSpecifier,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, LbEndpoint, lb_endpoint::HostIdentifier, locality_lb_endpoints::LbConfig,
};

use super::{lb_labels, required, unsupported};
use crate::config::{ConfigError, Endpoint, HealthStatus, Labels, Locality, ResultExt};
use crate::source::shared;

/// Converts a `ClusterLoadAssignment`; errors name
/// `ClusterLoadAssignment "cluster_name"`.
pub fn endpoints(cla: &ClusterLoadAssignment) -> Result<Vec<Endpoint>, ConfigError> {
    endpoints_of(cla)
        .map_err(|e| e.in_resource(format!("ClusterLoadAssignment {:?}", cla.cluster_name)))
}

/// The endpoints; errors carry no resource.
pub(super) fn endpoints_of(cla: &ClusterLoadAssignment) -> Result<Vec<Endpoint>, ConfigError> {
    let mut out = Vec::new();
    for (i, group) in cla.endpoints.iter().enumerate() {
        let at = |field: &str| format!("endpoints[{i}].{field}");
        let locality_weight = group
            .load_balancing_weight
            .map(|w| {
                NonZeroU32::new(w.value).ok_or_else(|| {
                    ConfigError::field(at("load_balancing_weight"), "must be at least 1")
                })
            })
            .transpose()?;
        let locality = group.locality.as_ref().map(|l| {
            shared::locality(Locality {
                region: l.region.as_str().into(),
                zone: l.zone.as_str().into(),
                sub_zone: l.sub_zone.as_str().into(),
            })
        });
        #[allow(deprecated)] // still a way to list endpoints
        let legacy: &[LbEndpoint] = match &group.lb_config {
            Some(LbConfig::LoadBalancerEndpoints(list)) => &list.lb_endpoints,
            Some(LbConfig::LedsClusterLocalityConfig(_)) => {
                return Err(unsupported(&at("leds_cluster_locality_config"), "LEDS"));
            }
            None => &[],
        };
        let lists = [
            ("lb_endpoints", &group.lb_endpoints[..]),
            ("load_balancer_endpoints.lb_endpoints", legacy),
        ];
        for (field, list) in lists {
            for (j, lb) in list.iter().enumerate() {
                let (mut endpoint, labels) = lb_endpoint(lb).at(at(&format!("{field}[{j}]")))?;
                if !labels.is_empty() {
                    endpoint.labels = shared::labels(labels);
                }
                if let Some(locality) = &locality {
                    endpoint.locality = locality.clone();
                }
                endpoint.priority = group.priority;
                endpoint.locality_weight = locality_weight;
                out.push(endpoint);
            }
        }
    }
    Ok(out)
}

/// The endpoint and its labels (not set yet: the caller shares them).
fn lb_endpoint(lb: &LbEndpoint) -> Result<(Endpoint, Labels), ConfigError> {
    let ep = match &lb.host_identifier {
        Some(HostIdentifier::Endpoint(ep)) => ep,
        Some(HostIdentifier::EndpointName(_)) => {
            return Err(unsupported("endpoint_name", "a named endpoint"));
        }
        None => return Err(ConfigError::field("endpoint", "is required")),
    };
    let address = required(ep.address.as_ref(), "endpoint.address")?;
    let socket = match &address.address {
        Some(Address::SocketAddress(s)) => s,
        Some(Address::Pipe(_)) => {
            return Err(unsupported("endpoint.address.pipe", "a pipe address"));
        }
        Some(Address::EnvoyInternalAddress(_)) => {
            return Err(unsupported(
                "endpoint.address.envoy_internal_address",
                "an internal address",
            ));
        }
        None => {
            return Err(ConfigError::field(
                "endpoint.address.socket_address",
                "is required",
            ));
        }
    };
    let port = match &socket.port_specifier {
        Some(PortSpecifier::PortValue(p)) => *p,
        Some(PortSpecifier::NamedPort(_)) => {
            return Err(unsupported(
                "endpoint.address.socket_address.named_port",
                "a named port",
            ));
        }
        None => {
            return Err(ConfigError::field(
                "endpoint.address.socket_address.port_value",
                "is required",
            ));
        }
    };
    let mut endpoint = Endpoint::new(&socket.address, port).map_err(|e| {
        let field = if e.field == "port" {
            "port_value"
        } else {
            "address"
        };
        ConfigError::field(format!("endpoint.address.socket_address.{field}"), e.reason)
    })?;
    if let Some(w) = lb.load_balancing_weight {
        endpoint = endpoint.with_weight(w.value)?;
    }
    endpoint.health = health(lb.health_status)?;
    Ok((endpoint, lb_labels(lb.metadata.as_ref(), false)?))
}

fn health(status: i32) -> Result<HealthStatus, ConfigError> {
    Ok(match PbHealthStatus::try_from(status) {
        Ok(PbHealthStatus::Unknown) => HealthStatus::Unknown,
        Ok(PbHealthStatus::Healthy) => HealthStatus::Healthy,
        Ok(PbHealthStatus::Unhealthy) => HealthStatus::Unhealthy,
        Ok(PbHealthStatus::Draining) => HealthStatus::Draining,
        Ok(PbHealthStatus::Timeout) => HealthStatus::Timeout,
        Ok(PbHealthStatus::Degraded) => HealthStatus::Degraded,
        Err(_) => {
            return Err(ConfigError::field(
                "health_status",
                format!("unknown health status {status}"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::core::v3::{
        Address as PbAddress, Locality as PbLocality, SocketAddress,
    };
    use envoy_types::pb::envoy::config::endpoint::v3::{
        Endpoint as PbEndpoint, LocalityLbEndpoints,
    };
    use envoy_types::pb::google::protobuf::UInt32Value;

    fn lb(address: &str, port: u32) -> LbEndpoint {
        LbEndpoint {
            host_identifier: Some(HostIdentifier::Endpoint(PbEndpoint {
                address: Some(PbAddress {
                    address: Some(Address::SocketAddress(SocketAddress {
                        address: address.into(),
                        port_specifier: Some(PortSpecifier::PortValue(port)),
                        ..Default::default()
                    })),
                }),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn cla(eps: Vec<LbEndpoint>) -> ClusterLoadAssignment {
        ClusterLoadAssignment {
            cluster_name: "orders".into(),
            endpoints: vec![LocalityLbEndpoints {
                locality: Some(PbLocality {
                    region: "eu".into(),
                    zone: "eu-1".into(),
                    sub_zone: "r1".into(),
                }),
                priority: 1,
                lb_endpoints: eps,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn endpoints_carry_locality_weight_and_health() {
        let mut e = lb("10.0.0.1", 8080);
        e.load_balancing_weight = Some(UInt32Value { value: 3 });
        e.health_status = PbHealthStatus::Draining as i32;
        let out = endpoints(&cla(vec![e, lb("orders.svc", 80)])).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].authority(), "10.0.0.1:8080");
        assert_eq!(out[0].weight, 3);
        assert_eq!(out[0].health, HealthStatus::Draining);
        assert_eq!(&*out[0].locality.zone, "eu-1");
        assert_eq!(out[1].priority, 1);
        assert_eq!(out[0].locality_weight, None);
    }

    #[test]
    fn locality_weights_go_on_every_endpoint_of_the_locality() {
        let mut assignment = cla(vec![lb("10.0.0.1", 80), lb("10.0.0.2", 80)]);
        assignment.endpoints[0].load_balancing_weight = Some(UInt32Value { value: 80 });
        let out = endpoints(&assignment).unwrap();
        assert!(
            out.iter()
                .all(|e| e.locality_weight.map(NonZeroU32::get) == Some(80))
        );
        assignment.endpoints[0].load_balancing_weight = Some(UInt32Value { value: 0 });
        let e = endpoints(&assignment).unwrap_err();
        assert_eq!(e.field, "endpoints[0].load_balancing_weight");
    }

    #[test]
    fn endpoint_errors_are_located() {
        let e = endpoints(&cla(vec![lb("10.0.0.1", 80), lb("10.0.0.2", 70000)])).unwrap_err();
        assert_eq!(e.resource, r#"ClusterLoadAssignment "orders""#);
        assert_eq!(
            e.field,
            "endpoints[0].lb_endpoints[1].endpoint.address.socket_address.port_value"
        );
        let e = endpoints(&cla(vec![lb("", 80)])).unwrap_err();
        assert_eq!(
            e.field,
            "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address"
        );
        let mut zero = lb("10.0.0.1", 80);
        zero.load_balancing_weight = Some(UInt32Value { value: 0 });
        let e = endpoints(&cla(vec![zero])).unwrap_err();
        assert_eq!(
            e.field,
            "endpoints[0].lb_endpoints[0].load_balancing_weight"
        );
        let mut sick = lb("10.0.0.1", 80);
        sick.health_status = 42;
        let e = endpoints(&cla(vec![sick])).unwrap_err();
        assert_eq!(e.field, "endpoints[0].lb_endpoints[0].health_status");
        let e = endpoints(&cla(vec![LbEndpoint::default()])).unwrap_err();
        assert_eq!(e.field, "endpoints[0].lb_endpoints[0].endpoint");
    }
}
