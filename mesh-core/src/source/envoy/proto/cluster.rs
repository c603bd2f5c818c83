//! `Cluster` → [`Cluster`]: discovery type, load-balancing policy, connect
//! timeout, breakers, outlier detection, transport security, the HTTP
//! version spoken upstream and the connection pool (in `pool`, which
//! shares the `HttpProtocolOptions` extension decoded here).
//!
//! Discovery types STATIC, STRICT_DNS and LOGICAL_DNS take their endpoints
//! from the inline `load_assignment`; an EDS cluster starts empty and gets
//! them from the `ClusterLoadAssignment` named by [`eds_service_name`].
//! Policies the model has no picker for (MAGLEV, CLUSTER_PROVIDED,
//! LOAD_BALANCING_POLICY_CONFIG), custom cluster types, ORIGINAL_DST,
//! MURMUR_HASH_2 rings and HTTP/3 or protocol auto-selection are rejected.
//!
//! Locality weighting ([`Cluster::locality_weighted_lb`]) is on unless
//! `common_lb_config` selects `zone_aware_lb_config`. Envoy turns it on
//! only with `locality_weighted_lb_config`; gRPC always weighs EDS
//! localities, and proxyless control planes (istiod's gRPC generator)
//! rely on that, so an absent config follows gRPC. Zone-aware routing
//! needs the membership of the caller's own cluster, which an embedded
//! client does not have, so it means plain balancing within a level.
//!
//! TLS (`envoy.transport_sockets.tls`, `UpstreamTlsContext`) means
//! [`TlsMode::Simple`]: certificates and SNI come from the engine's own
//! TLS settings, not from the resource.

use envoy_types::pb::envoy::config::cluster::v3::{
    Cluster as PbCluster,
    cluster::{
        ClusterDiscoveryType, DiscoveryType, LbConfig, LbPolicy as PbLbPolicy,
        common_lb_config::LocalityConfigSpecifier, ring_hash_lb_config::HashFunction,
    },
};
use envoy_types::pb::envoy::config::core::v3::{TransportSocket, transport_socket::ConfigType};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
    HttpProtocolOptions,
    http_protocol_options::{UpstreamProtocolOptions, explicit_http_config::ProtocolConfig},
};
use prost::Message;

use super::endpoint::endpoints_of;
use super::pool::connection_pool;
use super::resilience::{circuit_breakers, outlier_detection};
use super::{opt_duration, type_name, type_url, unsupported};
use crate::config::{Cluster, ConfigError, HttpProtocol, LbPolicy, ResultExt, TlsMode};

/// Converts a `Cluster`; errors name `Cluster "name"`. An EDS cluster comes
/// back without endpoints: fill them in from [`super::endpoints`] of the
/// assignment named by [`eds_service_name`].
pub fn cluster(c: &PbCluster) -> Result<Cluster, ConfigError> {
    cluster_of(c).map_err(|e| e.in_resource(format!("Cluster {:?}", c.name)))
}

impl TryFrom<&PbCluster> for Cluster {
    type Error = ConfigError;

    fn try_from(c: &PbCluster) -> Result<Self, ConfigError> {
        cluster(c)
    }
}

/// For an EDS cluster, the `ClusterLoadAssignment` to use:
/// `eds_cluster_config.service_name`, or the cluster's own name.
pub fn eds_service_name(c: &PbCluster) -> Option<&str> {
    let eds = matches!(
        c.cluster_discovery_type,
        Some(ClusterDiscoveryType::Type(t)) if t == DiscoveryType::Eds as i32
    );
    eds.then(|| {
        c.eds_cluster_config
            .as_ref()
            .map(|e| e.service_name.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or(&c.name)
    })
}

fn cluster_of(c: &PbCluster) -> Result<Cluster, ConfigError> {
    if c.name.is_empty() {
        return Err(ConfigError::field("name", "must not be empty"));
    }
    let discovery = discovery_type(c)?;
    let endpoints = match (discovery, &c.load_assignment) {
        (DiscoveryType::Eds, _) | (_, None) => Vec::new(),
        (_, Some(cla)) => endpoints_of(cla).at("load_assignment")?,
    };
    if discovery == DiscoveryType::LogicalDns && endpoints.len() != 1 {
        return Err(ConfigError::field(
            "load_assignment",
            "a LOGICAL_DNS cluster needs exactly one endpoint",
        ));
    }
    let mut cluster = Cluster::new(c.name.as_str(), endpoints);
    cluster.lb_policy = lb_policy(c)?;
    cluster.locality_weighted_lb = locality_weighted(c);
    if let Some(d) = opt_duration(c.connect_timeout.as_ref(), "connect_timeout")? {
        if d.is_zero() {
            return Err(ConfigError::field(
                "connect_timeout",
                "must be greater than zero",
            ));
        }
        cluster.connect_timeout = d;
    }
    if let Some(cb) = &c.circuit_breakers {
        cluster.circuit_breakers = circuit_breakers(cb).at("circuit_breakers.thresholds")?;
    }
    cluster.outlier_detection = c
        .outlier_detection
        .as_ref()
        .map(outlier_detection)
        .transpose()
        .at("outlier_detection")?;
    cluster.tls = tls_mode(c.transport_socket.as_ref()).at("transport_socket")?;
    let typed = http_options(c)?;
    cluster.protocol = http_protocol(c, typed.as_ref())?;
    cluster.connection_pool = connection_pool(c, typed.as_ref())?.shared();
    cluster.validate()?;
    Ok(cluster)
}

fn discovery_type(c: &PbCluster) -> Result<DiscoveryType, ConfigError> {
    match &c.cluster_discovery_type {
        None => Ok(DiscoveryType::Static),
        Some(ClusterDiscoveryType::Type(t)) => match DiscoveryType::try_from(*t) {
            Ok(DiscoveryType::OriginalDst) => Err(unsupported("type", "ORIGINAL_DST")),
            Ok(kind) => Ok(kind),
            Err(_) => Err(ConfigError::field(
                "type",
                format!("unknown discovery type {t}"),
            )),
        },
        Some(ClusterDiscoveryType::ClusterType(custom)) => Err(unsupported(
            "cluster_type",
            format!("custom cluster type {:?}", custom.name),
        )),
    }
}

fn lb_policy(c: &PbCluster) -> Result<LbPolicy, ConfigError> {
    let policy = PbLbPolicy::try_from(c.lb_policy)
        .map_err(|_| ConfigError::field("lb_policy", format!("unknown policy {}", c.lb_policy)))?;
    Ok(match policy {
        PbLbPolicy::RoundRobin => LbPolicy::RoundRobin,
        PbLbPolicy::Random => LbPolicy::Random,
        PbLbPolicy::LeastRequest => match &c.lb_config {
            Some(LbConfig::LeastRequestLbConfig(l)) => LbPolicy::LeastRequest {
                choice_count: l.choice_count.map_or(2, |v| v.value),
            },
            _ => LbPolicy::LEAST_REQUEST,
        },
        PbLbPolicy::RingHash => match &c.lb_config {
            Some(LbConfig::RingHashLbConfig(r)) => {
                if r.hash_function != HashFunction::XxHash as i32 {
                    return Err(unsupported(
                        "ring_hash_lb_config.hash_function",
                        "a hash function other than XX_HASH",
                    ));
                }
                LbPolicy::RingHash {
                    min_ring_size: r.minimum_ring_size.map_or(MIN_RING_SIZE, |v| v.value),
                    max_ring_size: r.maximum_ring_size.map_or(MAX_RING_SIZE, |v| v.value),
                }
            }
            _ => LbPolicy::RING_HASH,
        },
        other => return Err(unsupported("lb_policy", other.as_str_name())),
    })
}

/// Whether locality weights count (see the module docs).
fn locality_weighted(c: &PbCluster) -> bool {
    let specifier = c
        .common_lb_config
        .as_ref()
        .and_then(|common| common.locality_config_specifier.as_ref());
    !matches!(
        specifier,
        Some(LocalityConfigSpecifier::ZoneAwareLbConfig(_))
    )
}

/// Envoy's ring sizes when `ring_hash_lb_config` leaves them out.
const MIN_RING_SIZE: u64 = 1024;
const MAX_RING_SIZE: u64 = 8 << 20;

/// Transport-socket names Envoy registers for TLS and plain text.
const TLS_NAME: &str = "envoy.transport_sockets.tls";
const RAW_BUFFER_NAME: &str = "envoy.transport_sockets.raw_buffer";

/// `transport_socket`: chosen by its typed config's type, or else its name.
fn tls_mode(socket: Option<&TransportSocket>) -> Result<TlsMode, ConfigError> {
    let Some(socket) = socket else {
        return Ok(TlsMode::Disable);
    };
    let (field, kind) = match &socket.config_type {
        Some(ConfigType::TypedConfig(any)) => ("typed_config", type_name(&any.type_url)),
        None => ("name", socket.name.as_str()),
    };
    if kind == type_name(type_url::UPSTREAM_TLS_CONTEXT) || kind == TLS_NAME {
        Ok(TlsMode::Simple)
    } else if kind == type_name(type_url::RAW_BUFFER) || kind == RAW_BUFFER_NAME {
        Ok(TlsMode::Disable)
    } else {
        Err(unsupported(field, format!("transport socket {kind:?}")))
    }
}

/// A cluster's `HttpProtocolOptions` extension, decoded once for both the
/// protocol and the connection pool.
pub(super) struct HttpOptions {
    /// Where it sits in the cluster, to locate errors inside it:
    /// `typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]`.
    pub field: String,
    /// The decoded options.
    pub options: HttpProtocolOptions,
}

/// The `HttpProtocolOptions` extension among the cluster's
/// `typed_extension_protocol_options`, if present.
fn http_options(c: &PbCluster) -> Result<Option<HttpOptions>, ConfigError> {
    let key = type_name(type_url::HTTP_PROTOCOL_OPTIONS);
    let Some(any) = c.typed_extension_protocol_options.get(key) else {
        return Ok(None);
    };
    let field = format!("typed_extension_protocol_options[{key:?}]");
    if type_name(&any.type_url) != key {
        return Err(ConfigError::field(
            field,
            format!("expected {key}, got {:?}", any.type_url),
        ));
    }
    let options = HttpProtocolOptions::decode(any.value.as_slice())
        .map_err(|e| ConfigError::field(&field, format!("cannot decode {key}: {e}")))?;
    Ok(Some(HttpOptions { field, options }))
}

/// HTTP/2 when the upstream protocol options say so explicitly, or (with
/// no such options) the legacy `http2_protocol_options` is set; HTTP/1.1
/// otherwise.
fn http_protocol(c: &PbCluster, typed: Option<&HttpOptions>) -> Result<HttpProtocol, ConfigError> {
    let Some(typed) = typed else {
        #[allow(deprecated)] // the legacy field still configures HTTP/2
        let legacy_h2 = c.http2_protocol_options.is_some();
        return Ok(if legacy_h2 {
            HttpProtocol::Http2
        } else {
            HttpProtocol::Http1
        });
    };
    let located = |sub: &str, what: &str| unsupported(sub, what).at(&typed.field);
    match &typed.options.upstream_protocol_options {
        None => Ok(HttpProtocol::Http1),
        Some(UpstreamProtocolOptions::ExplicitHttpConfig(e)) => match e.protocol_config {
            Some(ProtocolConfig::HttpProtocolOptions(_)) | None => Ok(HttpProtocol::Http1),
            Some(ProtocolConfig::Http2ProtocolOptions(_)) => Ok(HttpProtocol::Http2),
            Some(ProtocolConfig::Http3ProtocolOptions(_)) => Err(located(
                "explicit_http_config.http3_protocol_options",
                "HTTP/3",
            )),
        },
        Some(UpstreamProtocolOptions::UseDownstreamProtocolConfig(_)) => Err(located(
            "use_downstream_protocol_config",
            "following the downstream protocol (a client has none)",
        )),
        Some(UpstreamProtocolOptions::AutoConfig(_)) => {
            Err(located("auto_config", "protocol auto-selection"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use envoy_types::pb::envoy::config::cluster::v3::cluster::{
        EdsClusterConfig, LeastRequestLbConfig, RingHashLbConfig,
    };
    use envoy_types::pb::envoy::config::core::v3::Http2ProtocolOptions;
    use envoy_types::pb::envoy::extensions::upstreams::http::v3::http_protocol_options::ExplicitHttpConfig;
    use envoy_types::pb::google::protobuf::{
        Any, Duration as PbDuration, UInt32Value, UInt64Value,
    };

    /// Envoy's default connect timeout, as the model sets it.
    const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    fn named(name: &str) -> PbCluster {
        PbCluster {
            name: name.into(),
            ..Default::default()
        }
    }

    fn policy(p: PbLbPolicy, config: Option<LbConfig>) -> Result<LbPolicy, ConfigError> {
        let mut c = named("c");
        c.lb_policy = p as i32;
        c.lb_config = config;
        cluster(&c).map(|c| c.lb_policy)
    }

    #[test]
    fn defaults() {
        let c = cluster(&named("orders")).unwrap();
        assert_eq!(c.lb_policy, LbPolicy::RoundRobin);
        assert_eq!(c.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(c.tls, TlsMode::Disable);
        assert_eq!(c.protocol, HttpProtocol::Http1);
        assert!(c.outlier_detection.is_none());
        assert_eq!(eds_service_name(&named("orders")), None);
        assert!(Cluster::try_from(&named("")).is_err());
    }

    #[test]
    fn lb_policies() {
        assert_eq!(policy(PbLbPolicy::Random, None).unwrap(), LbPolicy::Random);
        assert_eq!(
            policy(PbLbPolicy::LeastRequest, None).unwrap(),
            LbPolicy::LEAST_REQUEST
        );
        let lr = LbConfig::LeastRequestLbConfig(LeastRequestLbConfig {
            choice_count: Some(UInt32Value { value: 3 }),
            ..Default::default()
        });
        assert_eq!(
            policy(PbLbPolicy::LeastRequest, Some(lr)).unwrap(),
            LbPolicy::LeastRequest { choice_count: 3 }
        );
        assert_eq!(
            policy(PbLbPolicy::RingHash, None).unwrap(),
            LbPolicy::RING_HASH
        );
        assert_eq!(
            LbPolicy::RING_HASH,
            LbPolicy::RingHash {
                min_ring_size: MIN_RING_SIZE,
                max_ring_size: MAX_RING_SIZE
            }
        );
        let ring = |min, max, hash_function| {
            LbConfig::RingHashLbConfig(RingHashLbConfig {
                minimum_ring_size: Some(UInt64Value { value: min }),
                maximum_ring_size: Some(UInt64Value { value: max }),
                hash_function,
            })
        };
        assert_eq!(
            policy(PbLbPolicy::RingHash, Some(ring(64, 128, 0))).unwrap(),
            LbPolicy::RingHash {
                min_ring_size: 64,
                max_ring_size: 128
            }
        );
        let e = policy(PbLbPolicy::RingHash, Some(ring(64, 128, 1))).unwrap_err();
        assert_eq!(e.field, "ring_hash_lb_config.hash_function");
        let e = policy(PbLbPolicy::RingHash, Some(ring(256, 128, 0))).unwrap_err();
        assert_eq!(e.field, "ring_hash_lb_config");
        let e = policy(PbLbPolicy::Maglev, None).unwrap_err();
        assert_eq!(
            (e.resource.as_str(), e.field.as_str()),
            (r#"Cluster "c""#, "lb_policy")
        );
        assert!(e.reason.contains("MAGLEV"));
        let mut c = named("c");
        c.lb_policy = 99;
        assert_eq!(cluster(&c).unwrap_err().field, "lb_policy");
    }

    #[test]
    fn discovery_and_eds_names() {
        let mut c = named("orders");
        c.cluster_discovery_type = Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32));
        assert_eq!(eds_service_name(&c), Some("orders"));
        c.eds_cluster_config = Some(EdsClusterConfig {
            service_name: "orders-v1".into(),
            ..Default::default()
        });
        assert_eq!(eds_service_name(&c), Some("orders-v1"));
        assert!(cluster(&c).unwrap().endpoints.is_empty());
        c.cluster_discovery_type = Some(ClusterDiscoveryType::Type(
            DiscoveryType::OriginalDst as i32,
        ));
        assert_eq!(cluster(&c).unwrap_err().field, "type");
        c.cluster_discovery_type =
            Some(ClusterDiscoveryType::Type(DiscoveryType::LogicalDns as i32));
        assert_eq!(cluster(&c).unwrap_err().field, "load_assignment");
    }

    #[test]
    fn tls_protocol_and_timeouts() {
        let mut c = named("c");
        c.transport_socket = Some(TransportSocket {
            name: TLS_NAME.into(),
            config_type: None,
        });
        assert_eq!(cluster(&c).unwrap().tls, TlsMode::Simple);
        c.transport_socket = Some(TransportSocket {
            name: "x".into(),
            config_type: Some(ConfigType::TypedConfig(Any {
                type_url: "type.googleapis.com/acme.Alts".into(),
                value: vec![],
            })),
        });
        assert_eq!(
            cluster(&c).unwrap_err().field,
            "transport_socket.typed_config"
        );
        c.transport_socket = None;

        let options = HttpProtocolOptions {
            upstream_protocol_options: Some(UpstreamProtocolOptions::ExplicitHttpConfig(
                ExplicitHttpConfig {
                    protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(
                        Http2ProtocolOptions::default(),
                    )),
                },
            )),
            ..Default::default()
        };
        c.typed_extension_protocol_options.insert(
            type_name(type_url::HTTP_PROTOCOL_OPTIONS).into(),
            Any {
                type_url: type_url::HTTP_PROTOCOL_OPTIONS.into(),
                value: options.encode_to_vec(),
            },
        );
        assert_eq!(cluster(&c).unwrap().protocol, HttpProtocol::Http2);

        c.connect_timeout = Some(PbDuration::default());
        assert_eq!(cluster(&c).unwrap_err().field, "connect_timeout");
        c.connect_timeout = Some(PbDuration {
            seconds: 1,
            nanos: 0,
        });
        assert_eq!(cluster(&c).unwrap().connect_timeout, Duration::from_secs(1));
    }

    #[test]
    fn locality_weighting_is_on_unless_zone_aware() {
        use envoy_types::pb::envoy::config::cluster::v3::cluster::{
            CommonLbConfig, common_lb_config::LocalityWeightedLbConfig,
            common_lb_config::ZoneAwareLbConfig,
        };
        let mut c = named("c");
        assert!(cluster(&c).unwrap().locality_weighted_lb);
        let common = |specifier| CommonLbConfig {
            locality_config_specifier: Some(specifier),
            ..Default::default()
        };
        c.common_lb_config = Some(common(LocalityConfigSpecifier::LocalityWeightedLbConfig(
            LocalityWeightedLbConfig {},
        )));
        assert!(cluster(&c).unwrap().locality_weighted_lb);
        c.common_lb_config = Some(common(LocalityConfigSpecifier::ZoneAwareLbConfig(
            ZoneAwareLbConfig::default(),
        )));
        assert!(!cluster(&c).unwrap().locality_weighted_lb);
    }
}
