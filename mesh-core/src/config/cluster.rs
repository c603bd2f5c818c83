//! Clusters: a named group of endpoints and how to talk to them.
//!
//! Breaker thresholds and outlier detection are stored here, with Envoy's
//! defaults, and enforced by the resilience layer.

use std::sync::Arc;
use std::time::Duration;

use super::{ConfigError, ConnectionPool, Endpoint, Labels};

/// How a cluster picks an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbPolicy {
    /// Weighted round robin.
    RoundRobin,
    /// Weighted random.
    Random,
    /// Power of `choice_count` choices by fewest active requests.
    LeastRequest {
        /// How many random candidates to compare (Envoy's default: 2).
        choice_count: u32,
    },
    /// Consistent hashing on a Ketama ring.
    RingHash {
        /// The fewest entries on the ring (Envoy's default: 1024).
        min_ring_size: u64,
        /// The most entries on the ring (Envoy's default: 8 Mi).
        max_ring_size: u64,
    },
}

impl LbPolicy {
    /// Envoy's least-request default.
    pub const LEAST_REQUEST: Self = Self::LeastRequest { choice_count: 2 };
    /// Envoy's ring-hash default.
    pub const RING_HASH: Self = Self::RingHash {
        min_ring_size: 1024,
        max_ring_size: 8 * 1024 * 1024,
    };

    /// Checks the parameters as Envoy does.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            Self::LeastRequest { choice_count } if choice_count < 2 => Err(ConfigError::field(
                "least_request_lb_config.choice_count",
                "must be at least 2",
            )),
            Self::RingHash {
                min_ring_size,
                max_ring_size,
            } if min_ring_size == 0 || min_ring_size > max_ring_size || max_ring_size > 8 << 20 => {
                Err(ConfigError::field(
                    "ring_hash_lb_config",
                    format!(
                        "need 0 < minimum_ring_size ({min_ring_size}) <= maximum_ring_size ({max_ring_size}) <= 8388608"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// A named subset of a cluster's endpoints (Istio's DestinationRule
/// subset; Envoy's subset selector).
#[derive(Debug, Clone, PartialEq)]
pub struct Subset {
    /// The subset's name.
    pub name: Arc<str>,
    /// The labels its endpoints carry.
    pub labels: Arc<Labels>,
}

/// Envoy's `CircuitBreakers` thresholds for the default priority.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CircuitBreakers {
    /// Connections to the whole cluster.
    pub max_connections: u32,
    /// Requests waiting for a connection.
    pub max_pending_requests: u32,
    /// Requests in flight.
    pub max_requests: u32,
    /// Retries in flight, when no `retry_budget` is set.
    pub max_retries: u32,
    /// Retries in flight as a share of active requests; when set,
    /// `max_retries` is ignored (as in Envoy).
    pub retry_budget: Option<RetryBudget>,
}

impl Default for CircuitBreakers {
    /// Envoy's thresholds, with one deviation: the retry budget is on
    /// (20 %, at least 3) where Envoy caps retries at `max_retries` 3.
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_pending_requests: 1024,
            max_requests: 1024,
            max_retries: 3,
            retry_budget: Some(RetryBudget::default()),
        }
    }
}

impl CircuitBreakers {
    /// Checks the retry budget's percentage.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match &self.retry_budget {
            Some(b) => b.validate().map_err(|e| e.at("retry_budget")),
            None => Ok(()),
        }
    }
}

/// Envoy's `RetryBudget`: retries in flight may not exceed
/// `max(min_retry_concurrency, budget_percent × active requests)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudget {
    /// Retries in flight allowed, as a percentage of active requests
    /// (0..=100; Envoy's default 20).
    pub budget_percent: f64,
    /// Retries in flight always allowed, however few requests are active
    /// (Envoy's default 3).
    pub min_retry_concurrency: u32,
}

impl RetryBudget {
    /// Checks `0 <= budget_percent <= 100`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if (0.0..=100.0).contains(&self.budget_percent) {
            Ok(())
        } else {
            Err(ConfigError::field(
                "budget_percent",
                format!("{} is not within 0..=100", self.budget_percent),
            ))
        }
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            budget_percent: 20.0,
            min_retry_concurrency: 3,
        }
    }
}

/// Envoy's `OutlierDetection` (all five detectors), defaults included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutlierDetection {
    /// Eject after this many consecutive 5xx (`None`: off).
    pub consecutive_5xx: Option<u32>,
    /// Eject after this many consecutive 502/503/504 (`None`: off).
    pub consecutive_gateway_failure: Option<u32>,
    /// Eject after this many consecutive local-origin failures.
    pub consecutive_local_origin_failure: Option<u32>,
    /// Time between ejection sweeps.
    pub interval: Duration,
    /// Ejection time, multiplied by the number of ejections so far.
    pub base_ejection_time: Duration,
    /// The cap on one ejection.
    pub max_ejection_time: Duration,
    /// The most endpoints ejected at once, in percent.
    pub max_ejection_percent: u32,
    /// Success-rate detector: (stdev factor / 1000, minimum hosts,
    /// request volume), `None`: off.
    pub success_rate: Option<(u32, u32, u32)>,
    /// Failure-percentage detector: (threshold %, minimum hosts, request
    /// volume), `None`: off.
    pub failure_percentage: Option<(u32, u32, u32)>,
    /// Whether local-origin errors count separately.
    pub split_external_local_origin_errors: bool,
}

impl Default for OutlierDetection {
    fn default() -> Self {
        Self {
            consecutive_5xx: Some(5),
            consecutive_gateway_failure: None,
            consecutive_local_origin_failure: None,
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 10,
            success_rate: None,
            failure_percentage: None,
            split_external_local_origin_errors: false,
        }
    }
}

impl OutlierDetection {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_ejection_percent > 100 {
            return Err(ConfigError::field(
                "max_ejection_percent",
                "must be within 0..=100",
            ));
        }
        if self.interval.is_zero() {
            return Err(ConfigError::field("interval", "must be greater than zero"));
        }
        if let Some((threshold, ..)) = self.failure_percentage
            && threshold > 100
        {
            return Err(ConfigError::field(
                "failure_percentage_threshold",
                "must be within 0..=100",
            ));
        }
        Ok(())
    }
}

/// How to secure connections to the cluster's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain text.
    #[default]
    Disable,
    /// TLS, verifying the server.
    Simple,
    /// TLS with a client certificate given by the user.
    Mutual,
    /// Istio mutual TLS with SPIFFE identities.
    IstioMutual,
}

/// Which HTTP version to speak to the endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpProtocol {
    /// HTTP/1.1.
    #[default]
    Http1,
    /// HTTP/2 (prior knowledge); gRPC needs it.
    Http2,
}

/// A cluster, validated.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The cluster's name.
    pub name: Arc<str>,
    /// How endpoints are picked.
    pub lb_policy: LbPolicy,
    /// The endpoints (a static load assignment or the latest EDS one).
    pub endpoints: Vec<Endpoint>,
    /// Named subsets.
    pub subsets: Vec<Subset>,
    /// Connect timeout (Envoy's default: 5 s).
    pub connect_timeout: Duration,
    /// How connections are pooled (shared when default:
    /// [`ConnectionPool::shared`]; change it with `Arc::make_mut`).
    pub connection_pool: Arc<ConnectionPool>,
    /// Breaker thresholds.
    pub circuit_breakers: CircuitBreakers,
    /// Outlier detection, when enabled.
    pub outlier_detection: Option<OutlierDetection>,
    /// Transport security.
    pub tls: TlsMode,
    /// HTTP version towards endpoints.
    pub protocol: HttpProtocol,
    /// Whether the locality weights endpoints carry
    /// ([`Endpoint::locality_weight`](super::EndpointData::locality_weight))
    /// shape traffic inside a priority level (default: on, gRPC's rule for
    /// EDS; a level whose endpoints carry no weights balances as if off).
    pub locality_weighted_lb: bool,
}

impl Cluster {
    /// A round-robin cluster over `endpoints`, with Envoy's defaults.
    pub fn new(name: impl Into<Arc<str>>, endpoints: Vec<Endpoint>) -> Self {
        Self {
            name: name.into(),
            lb_policy: LbPolicy::RoundRobin,
            endpoints,
            subsets: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            connection_pool: ConnectionPool::default().shared(),
            circuit_breakers: CircuitBreakers::default(),
            outlier_detection: None,
            tls: TlsMode::Disable,
            protocol: HttpProtocol::Http1,
            locality_weighted_lb: true,
        }
    }

    /// The subset called `name`.
    pub fn subset(&self, name: &str) -> Option<&Subset> {
        self.subsets.iter().find(|s| &*s.name == name)
    }

    /// Checks the cluster on its own (references are checked by
    /// [`super::MeshConfig`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let resource = || format!("Cluster {:?}", self.name);
        if self.name.is_empty() {
            return Err(ConfigError::new(resource(), "name", "must not be empty"));
        }
        self.lb_policy
            .validate()
            .map_err(|e| e.in_resource(resource()))?;
        self.circuit_breakers
            .validate()
            .map_err(|e| e.at("circuit_breakers").in_resource(resource()))?;
        self.connection_pool
            .validate()
            .map_err(|e| e.in_resource(resource()))?;
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::new(
                resource(),
                "connect_timeout",
                "must be greater than zero",
            ));
        }
        if let Some(od) = &self.outlier_detection {
            od.validate()
                .map_err(|e| e.at("outlier_detection").in_resource(resource()))?;
        }
        for (i, s) in self.subsets.iter().enumerate() {
            if self.subsets[..i].iter().any(|o| o.name == s.name) {
                return Err(ConfigError::new(
                    resource(),
                    format!("subsets[{i}].name"),
                    format!("duplicate subset {:?}", s.name),
                ));
            }
        }
        Ok(())
    }
}
