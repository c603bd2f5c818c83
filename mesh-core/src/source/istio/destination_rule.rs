//! DestinationRule → the policies of a host's clusters.
//!
//! Supported, on the rule's top-level `trafficPolicy`:
//! - `loadBalancer.simple`: `ROUND_ROBIN`, `LEAST_REQUEST` (and the
//!   deprecated `LEAST_CONN`, which Istio maps to it), `RANDOM`;
//!   `UNSPECIFIED` keeps round robin, the proxyless generator's default
//!   (Envoy sidecars default to least-request). `PASSTHROUGH` is rejected:
//!   it forwards to the caller's original destination, which a client
//!   library choosing endpoints itself does not have.
//! - `loadBalancer.consistentHash` (`httpHeaderName`, `httpCookie.name`,
//!   `useSourceIp`, `httpQueryParameterName`; `ringHash.minimumRingSize`
//!   or the deprecated `minimumRingSize`): a ring-hash cluster, plus the
//!   hash policy on every route to the host. `maglev` becomes a ring hash
//!   of default size (both are consistent hashes over the same key; the
//!   engine has no Maglev table).
//! - `loadBalancer.localityLbSetting` (`enabled`, `distribute`,
//!   `failover`, `failoverPriority`): validated here, applied to each
//!   cluster's endpoints relative to the caller's locality (see
//!   [`super::locality`]).
//! - `connectionPool` limits (circuit breakers): `tcp.maxConnections`,
//!   `http.http1MaxPendingRequests`, `http.http2MaxRequests`,
//!   `http.maxRetries`. Unset or zero limits keep Istio's defaults, which
//!   are *unlimited* (2^32-1), not Envoy's 1024.
//! - `connectionPool` connections: `tcp.connectTimeout` (Istio's 10 s by
//!   default); `http.h2UpgradePolicy: UPGRADE` speaks HTTP/2; and, in the
//!   `pool` module, `tcp.maxConnectionDuration`, `tcp.tcpKeepalive`
//!   (`probes`, `time`, `interval`, in whole seconds), `http.idleTimeout`
//!   (Istio's 1 h by default), `http.maxRequestsPerConnection` (0:
//!   unlimited) and `http.maxConcurrentStreams` (0: 2^31-1).
//! - `outlierDetection`: `consecutive5xxErrors` (default 5, 0 disables),
//!   `consecutiveGatewayErrors`, the deprecated `consecutiveErrors` (read
//!   as gateway errors, as Istio does), `consecutiveLocalOriginFailures`,
//!   `splitExternalLocalOriginErrors`, `interval` (10 s),
//!   `baseEjectionTime` (30 s), `maxEjectionPercent` (10, 0 keeps it).
//! - `tls.mode`: `DISABLE` (the default, as in the proxyless generator,
//!   which never turns mTLS on by itself), `SIMPLE`, `MUTUAL`,
//!   `ISTIO_MUTUAL`; certificates are the security layer's business.
//! - `subsets` (name, labels) → cluster subsets.
//!
//! Ignored, with no effect: `portLevelSettings` (every port of the host
//! gets the top-level policy), a subset's own `trafficPolicy` (subsets
//! here are label filters inside one cluster, so they share its policy),
//! `loadBalancer.warmupDurationSecs`,
//! `connectionPool.tcp.idleTimeout` (it times out proxied TCP streams,
//! which a client library does not have), `http.useClientProtocol`,
//! `exportTo`, `workloadSelector`.

use std::sync::Arc;
use std::time::Duration;

use super::document::Doc;
use super::host;
use super::locality::{self, LocalityLbSetting};
use super::pool;
use super::spec::{
    ConnectionPoolSpec, ConsistentHashSpec, DestinationRuleSpec, LoadBalancerSpec,
    OutlierDetectionSpec, SubsetSpec, TrafficPolicySpec,
};
use super::values;
use crate::config::{
    CircuitBreakers, Cluster, ConfigError, ConnectionPool, HashPolicy, HashSource, HttpProtocol,
    LbPolicy, OutlierDetection, ResultExt, RetryBudget, Subset, TlsMode,
};

/// Istio's circuit-breaker thresholds when a rule sets none: unlimited.
const UNLIMITED: CircuitBreakers = CircuitBreakers {
    max_connections: u32::MAX,
    max_pending_requests: u32::MAX,
    max_requests: u32::MAX,
    max_retries: u32::MAX,
    // Our deviation from Istio (which leaves retries uncapped): the retry
    // budget is on by default, Envoy's 20 % with at least 3.
    retry_budget: Some(RetryBudget {
        budget_percent: 20.0,
        min_retry_concurrency: 3,
    }),
};

/// Istio's mesh-wide default connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Envoy's largest (and default maximum) ring size.
const MAX_RING_SIZE: u64 = 8 * 1024 * 1024;

/// Envoy's default cap on one ejection.
const MAX_EJECTION_TIME: Duration = Duration::from_secs(300);

/// What a DestinationRule (or its absence) says about a host's clusters.
#[derive(Debug, Clone)]
pub(crate) struct HostPolicy {
    pub lb_policy: LbPolicy,
    /// `localityLbSetting`, applied per cluster for the caller.
    pub locality: Option<LocalityLbSetting>,
    /// The hash policy routes to the host carry, for consistent hashing.
    pub hash: Option<HashPolicy>,
    pub circuit_breakers: CircuitBreakers,
    pub outlier_detection: Option<OutlierDetection>,
    pub tls: TlsMode,
    pub connect_timeout: Duration,
    /// Idle timeout, connection lifetime, streams and keepalives.
    pub connection_pool: ConnectionPool,
    /// `h2UpgradePolicy: UPGRADE`.
    pub http2: bool,
    pub subsets: Vec<Subset>,
}

impl Default for HostPolicy {
    /// Istio's defaults for a host without a DestinationRule.
    fn default() -> Self {
        Self {
            lb_policy: LbPolicy::RoundRobin,
            locality: None,
            hash: None,
            circuit_breakers: UNLIMITED,
            outlier_detection: None,
            tls: TlsMode::Disable,
            connect_timeout: CONNECT_TIMEOUT,
            connection_pool: ConnectionPool::default(),
            http2: false,
            subsets: Vec::new(),
        }
    }
}

impl HostPolicy {
    /// Sets the cluster's policies and subsets.
    pub(crate) fn apply(&self, cluster: &mut Cluster) {
        cluster.lb_policy = self.lb_policy;
        cluster.circuit_breakers = self.circuit_breakers;
        cluster.outlier_detection = self.outlier_detection;
        cluster.tls = self.tls;
        cluster.connect_timeout = self.connect_timeout;
        cluster.connection_pool = self.connection_pool.shared();
        if self.http2 {
            cluster.protocol = HttpProtocol::Http2;
        }
        cluster.subsets = self.subsets.clone();
    }
}

/// Converts one DestinationRule into its host and policy.
pub(crate) fn convert(doc: &Doc<DestinationRuleSpec>) -> Result<(String, HostPolicy), ConfigError> {
    convert_spec(&doc.spec)
        .at("spec")
        .map_err(|e| e.in_resource(&doc.id))
}

fn convert_spec(spec: &DestinationRuleSpec) -> Result<(String, HostPolicy), ConfigError> {
    let host = host::normalize(&spec.host).at("host")?;
    let mut policy = HostPolicy::default();
    if let Some(traffic) = &spec.traffic_policy {
        traffic_policy(traffic, &mut policy).at("trafficPolicy")?;
    }
    policy.subsets = subsets(&spec.subsets).at("subsets")?;
    Ok((host, policy))
}

fn traffic_policy(spec: &TrafficPolicySpec, policy: &mut HostPolicy) -> Result<(), ConfigError> {
    if let Some(lb) = &spec.load_balancer {
        load_balancer(lb, policy).at("loadBalancer")?;
    }
    if let Some(pool) = &spec.connection_pool {
        connection_pool(pool, policy).at("connectionPool")?;
    }
    if let Some(od) = &spec.outlier_detection {
        policy.outlier_detection = Some(outlier_detection(od).at("outlierDetection")?);
    }
    if let Some(tls) = &spec.tls {
        policy.tls = match tls.mode.as_deref().unwrap_or("DISABLE") {
            "DISABLE" | "" => TlsMode::Disable,
            "SIMPLE" => TlsMode::Simple,
            "MUTUAL" => TlsMode::Mutual,
            "ISTIO_MUTUAL" => TlsMode::IstioMutual,
            other => {
                return Err(ConfigError::field(
                    "tls.mode",
                    format!(
                        "unknown mode {other:?}; expected DISABLE, SIMPLE, MUTUAL or ISTIO_MUTUAL"
                    ),
                ));
            }
        };
    }
    Ok(())
}

fn load_balancer(spec: &LoadBalancerSpec, policy: &mut HostPolicy) -> Result<(), ConfigError> {
    if let Some(setting) = &spec.locality_lb_setting {
        policy.locality = Some(locality::convert(setting).at("localityLbSetting")?);
    }
    match (&spec.simple, &spec.consistent_hash) {
        (Some(_), Some(_)) => Err(ConfigError::field(
            "",
            "simple and consistentHash are mutually exclusive",
        )),
        (Some(simple), None) => {
            policy.lb_policy = simple_policy(simple).at("simple")?;
            Ok(())
        }
        (None, Some(hash)) => consistent_hash(hash, policy).at("consistentHash"),
        (None, None) => Ok(()),
    }
}

fn simple_policy(name: &str) -> Result<LbPolicy, ConfigError> {
    match name {
        "UNSPECIFIED" | "ROUND_ROBIN" | "" => Ok(LbPolicy::RoundRobin),
        "LEAST_REQUEST" | "LEAST_CONN" => Ok(LbPolicy::LEAST_REQUEST),
        "RANDOM" => Ok(LbPolicy::Random),
        "PASSTHROUGH" => Err(ConfigError::field(
            "",
            "PASSTHROUGH forwards to the original destination address, which an embedded client does not have",
        )),
        other => Err(ConfigError::field(
            "",
            format!(
                "unknown load balancer {other:?}; expected ROUND_ROBIN, LEAST_REQUEST, LEAST_CONN or RANDOM"
            ),
        )),
    }
}

fn consistent_hash(spec: &ConsistentHashSpec, policy: &mut HostPolicy) -> Result<(), ConfigError> {
    let mut sources = Vec::new();
    if let Some(name) = &spec.http_header_name {
        let header =
            http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| {
                ConfigError::field("httpHeaderName", format!("invalid header name {name:?}"))
            })?;
        sources.push(HashSource::Header(header));
    }
    if let Some(cookie) = &spec.http_cookie {
        if cookie.name.is_empty() {
            return Err(ConfigError::field("httpCookie.name", "must not be empty"));
        }
        sources.push(HashSource::Cookie(cookie.name.as_str().into()));
    }
    if spec.use_source_ip == Some(true) {
        sources.push(HashSource::SourceIp);
    }
    if let Some(name) = &spec.http_query_parameter_name {
        if name.is_empty() {
            return Err(ConfigError::field(
                "httpQueryParameterName",
                "must not be empty",
            ));
        }
        sources.push(HashSource::QueryParameter(name.as_str().into()));
    }
    let source = match sources.len() {
        1 => sources.remove(0),
        0 => {
            return Err(ConfigError::field(
                "",
                "needs one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName",
            ));
        }
        _ => {
            return Err(ConfigError::field(
                "",
                "httpHeaderName, httpCookie, useSourceIp and httpQueryParameterName are mutually exclusive",
            ));
        }
    };
    if spec.maglev.is_some() && spec.ring_hash.is_some() {
        return Err(ConfigError::field(
            "",
            "ringHash and maglev are mutually exclusive",
        ));
    }
    let (field, min) = match (&spec.ring_hash, spec.minimum_ring_size) {
        (Some(ring), _) => ("ringHash.minimumRingSize", ring.minimum_ring_size),
        (None, min) => ("minimumRingSize", min),
    };
    let lb = match min.filter(|m| *m != 0) {
        None => LbPolicy::RING_HASH,
        Some(min) => {
            let min_ring_size = u64::try_from(min)
                .map_err(|_| ConfigError::field(field, format!("{min} is negative")))?;
            let lb = LbPolicy::RingHash {
                min_ring_size,
                max_ring_size: MAX_RING_SIZE,
            };
            lb.validate()
                .map_err(|e| ConfigError::field(field, e.reason))?;
            lb
        }
    };
    policy.lb_policy = lb;
    policy.hash = Some(HashPolicy {
        source,
        terminal: false,
    });
    Ok(())
}

fn connection_pool(spec: &ConnectionPoolSpec, policy: &mut HostPolicy) -> Result<(), ConfigError> {
    policy.connection_pool = pool::connection_pool(spec)?;
    let limit = |value: Option<i64>, field: &str, slot: &mut u32| -> Result<(), ConfigError> {
        match value {
            None | Some(0) => Ok(()),
            Some(v) => {
                *slot = values::count(v).at(field)?;
                Ok(())
            }
        }
    };
    let breakers = &mut policy.circuit_breakers;
    if let Some(tcp) = &spec.tcp {
        limit(
            tcp.max_connections,
            "tcp.maxConnections",
            &mut breakers.max_connections,
        )?;
        if let Some(timeout) = &tcp.connect_timeout {
            policy.connect_timeout = values::duration(timeout).at("tcp.connectTimeout")?;
        }
    }
    if let Some(http) = &spec.http {
        limit(
            http.http1_max_pending_requests,
            "http.http1MaxPendingRequests",
            &mut breakers.max_pending_requests,
        )?;
        limit(
            http.http2_max_requests,
            "http.http2MaxRequests",
            &mut breakers.max_requests,
        )?;
        limit(
            http.max_retries,
            "http.maxRetries",
            &mut breakers.max_retries,
        )?;
        if http.max_retries.is_some_and(|n| n != 0) {
            // An explicit cap replaces the default budget.
            breakers.retry_budget = None;
        }
        policy.http2 = match http.h2_upgrade_policy.as_deref().unwrap_or("DEFAULT") {
            "DEFAULT" | "DO_NOT_UPGRADE" | "" => false,
            "UPGRADE" => true,
            other => {
                return Err(ConfigError::field(
                    "http.h2UpgradePolicy",
                    format!(
                        "unknown policy {other:?}; expected DEFAULT, DO_NOT_UPGRADE or UPGRADE"
                    ),
                ));
            }
        };
    }
    Ok(())
}

fn outlier_detection(spec: &OutlierDetectionSpec) -> Result<OutlierDetection, ConfigError> {
    let threshold = |value: Option<i64>, field: &str| -> Result<Option<Option<u32>>, ConfigError> {
        // Outer None: unset; Some(None): explicitly 0, i.e. disabled.
        value
            .map(|v| values::count(v).at(field).map(|n| (n > 0).then_some(n)))
            .transpose()
    };
    let mut od = OutlierDetection::default();
    if let Some(Some(n)) = threshold(spec.consecutive_errors, "consecutiveErrors")? {
        od.consecutive_gateway_failure = Some(n);
        od.consecutive_5xx = None;
    }
    if let Some(n) = threshold(spec.consecutive_5xx_errors, "consecutive5xxErrors")? {
        od.consecutive_5xx = n;
    }
    if let Some(n) = threshold(spec.consecutive_gateway_errors, "consecutiveGatewayErrors")? {
        od.consecutive_gateway_failure = n;
    }
    if let Some(n) = threshold(
        spec.consecutive_local_origin_failures,
        "consecutiveLocalOriginFailures",
    )? {
        od.consecutive_local_origin_failure = n;
    }
    od.split_external_local_origin_errors = spec.split_external_local_origin_errors;
    if let Some(interval) = &spec.interval {
        od.interval = values::duration(interval).at("interval")?;
    }
    if let Some(base) = &spec.base_ejection_time {
        od.base_ejection_time = values::duration(base).at("baseEjectionTime")?;
        od.max_ejection_time = MAX_EJECTION_TIME.max(od.base_ejection_time);
    }
    match spec.max_ejection_percent {
        None | Some(0) => {}
        Some(p) if (0..=100).contains(&p) => od.max_ejection_percent = p as u32,
        Some(p) => {
            return Err(ConfigError::field(
                "maxEjectionPercent",
                format!("{p} is not within 0..=100"),
            ));
        }
    }
    Ok(od)
}

fn subsets(specs: &[SubsetSpec]) -> Result<Vec<Subset>, ConfigError> {
    let mut out: Vec<Subset> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let field = format!("[{i}].name");
        if spec.name.is_empty() {
            return Err(ConfigError::field(field, "must not be empty"));
        }
        if out.iter().any(|s| *s.name == *spec.name) {
            return Err(ConfigError::field(
                field,
                format!("duplicate subset {:?}", spec.name),
            ));
        }
        out.push(Subset {
            name: spec.name.as_str().into(),
            labels: Arc::new(spec.labels.clone()),
        });
    }
    Ok(out)
}
