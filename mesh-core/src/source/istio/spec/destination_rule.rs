//! `DestinationRule` (networking.istio.io): policies of a host's cluster.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

/// `spec` of a DestinationRule. `exportTo` and `workloadSelector` are
/// ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct DestinationRuleSpec {
    pub host: String,
    pub traffic_policy: Option<TrafficPolicySpec>,
    pub subsets: Vec<SubsetSpec>,
}

/// `TrafficPolicy`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct TrafficPolicySpec {
    pub load_balancer: Option<LoadBalancerSpec>,
    pub connection_pool: Option<ConnectionPoolSpec>,
    pub outlier_detection: Option<OutlierDetectionSpec>,
    pub tls: Option<ClientTlsSpec>,
    pub port_level_settings: Option<IgnoredAny>,
}

/// `Subset`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct SubsetSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub traffic_policy: Option<IgnoredAny>,
}

/// `LoadBalancerSettings`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct LoadBalancerSpec {
    pub simple: Option<String>,
    pub consistent_hash: Option<ConsistentHashSpec>,
    pub locality_lb_setting: Option<super::LocalityLbSettingSpec>,
}

/// `LoadBalancerSettings.ConsistentHashLB`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ConsistentHashSpec {
    pub http_header_name: Option<String>,
    pub http_cookie: Option<HttpCookieSpec>,
    pub use_source_ip: Option<bool>,
    pub http_query_parameter_name: Option<String>,
    pub ring_hash: Option<RingHashSpec>,
    pub maglev: Option<IgnoredAny>,
    /// Deprecated top-level form of `ringHash.minimumRingSize`.
    pub minimum_ring_size: Option<i64>,
}

/// `ConsistentHashLB.HTTPCookie` (`path` and `ttl` are ignored: a client
/// does not mint cookies).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct HttpCookieSpec {
    pub name: String,
}

/// `ConsistentHashLB.RingHash`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct RingHashSpec {
    pub minimum_ring_size: Option<i64>,
}

/// `ConnectionPoolSettings`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ConnectionPoolSpec {
    pub tcp: Option<TcpPoolSpec>,
    pub http: Option<HttpPoolSpec>,
}

/// `ConnectionPoolSettings.TCPSettings`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct TcpPoolSpec {
    pub max_connections: Option<i64>,
    pub connect_timeout: Option<String>,
    pub max_connection_duration: Option<String>,
    pub tcp_keepalive: Option<TcpKeepaliveSpec>,
}

/// `ConnectionPoolSettings.TCPSettings.TcpKeepalive`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TcpKeepaliveSpec {
    pub probes: Option<i64>,
    pub time: Option<String>,
    pub interval: Option<String>,
}

/// `ConnectionPoolSettings.HTTPSettings`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct HttpPoolSpec {
    #[serde(rename = "http1MaxPendingRequests")]
    pub http1_max_pending_requests: Option<i64>,
    #[serde(rename = "http2MaxRequests")]
    pub http2_max_requests: Option<i64>,
    pub max_retries: Option<i64>,
    #[serde(rename = "h2UpgradePolicy")]
    pub h2_upgrade_policy: Option<String>,
    pub idle_timeout: Option<String>,
    pub max_requests_per_connection: Option<i64>,
    pub max_concurrent_streams: Option<i64>,
}

/// `OutlierDetection`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct OutlierDetectionSpec {
    #[serde(rename = "consecutive5xxErrors")]
    pub consecutive_5xx_errors: Option<i64>,
    pub consecutive_gateway_errors: Option<i64>,
    /// Deprecated: counts gateway errors (Istio's reading since 1.5).
    pub consecutive_errors: Option<i64>,
    pub consecutive_local_origin_failures: Option<i64>,
    pub split_external_local_origin_errors: bool,
    pub interval: Option<String>,
    pub base_ejection_time: Option<String>,
    pub max_ejection_percent: Option<i64>,
}

/// `ClientTLSSettings` (certificates are the security layer's business).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ClientTlsSpec {
    pub mode: Option<String>,
}
