//! The validated, immutable configuration model.
//!
//! Every source (Envoy v3 resources, Istio YAML, the policy JSON, xDS)
//! converts into these types through validating constructors and
//! `TryFrom`, so all get the same checks. Values are cheap to share
//! (`Arc` inside) and never change once built: a new configuration is a new
//! value, swapped in whole.

mod cluster;
mod domain;
mod endpoint;
mod error;
mod fault;
mod listener;
pub mod matcher;
mod mesh;
mod policy;
mod pool;
mod route;

pub use cluster::{
    CircuitBreakers, Cluster, HttpProtocol, LbPolicy, OutlierDetection, RetryBudget, Subset,
    TlsMode,
};
pub(crate) use domain::strip_port;
pub use domain::{DomainIndex, DomainPattern};
pub use endpoint::{Endpoint, EndpointData, HealthStatus, Locality};
pub use error::ConfigError;
pub(crate) use error::ResultExt;
pub use fault::{AbortCode, FaultPolicy, FaultValue};
pub use listener::Listener;
pub use matcher::{
    FullRegex, HeaderKey, HeaderMatcher, HeaderRule, QueryParamMatcher, QueryRule, StringMatch,
    StringMatcher,
};
pub use mesh::{MeshConfig, MeshConfigBuilder};
pub use policy::{
    Backoff, BackoffStrategy, DEFAULT_BACKOFF_BASE, Fraction, MirrorPolicy, RetryOn, RetryPolicy,
};
pub use pool::{
    ConnectionPool, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONCURRENT_STREAMS, Http2Keepalive,
    TcpKeepalive,
};
pub use route::{
    Backend, Destination, HashPolicy, HashSource, Labels, PathMatch, Route, RouteAction,
    RouteMatch, RouteTable, SubsetRef, VirtualHost, WeightedBackend, WeightedBackends,
};
