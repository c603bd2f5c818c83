//! Route tables: virtual hosts, routes, their matches and actions.
//!
//! A [`RouteTable`] is Envoy's `RouteConfiguration`: virtual hosts chosen by
//! the request's authority, each an ordered list of routes where the first
//! match wins. A route's action names the cluster (or weighted clusters,
//! each optionally narrowed to a subset of its endpoints by labels) and the
//! per-route policies: timeout, retries, hashing, mirroring, faults.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::domain::DomainIndex;
use super::fault::FaultPolicy;
use super::matcher::{FullRegex, HeaderMatcher, QueryParamMatcher};
use super::policy::{Fraction, MirrorPolicy, RetryPolicy};
use super::{ConfigError, DomainPattern};
use crate::resilience::breaker::CircuitBreaker;
use crate::resilience::ratelimit::LocalRateLimit;
use crate::resilience::retry::HedgePolicy;

/// Endpoint labels (Istio's pod labels; Envoy's `envoy.lb` metadata).
pub type Labels = BTreeMap<String, String>;

/// Envoy's `RouteConfiguration`, validated.
#[derive(Debug, Clone)]
pub struct RouteTable {
    name: Arc<str>,
    virtual_hosts: Vec<VirtualHost>,
    domains: DomainIndex,
}

impl RouteTable {
    /// Validates the table: a name, and each domain served once.
    pub fn new(
        name: impl Into<Arc<str>>,
        virtual_hosts: Vec<VirtualHost>,
    ) -> Result<Self, ConfigError> {
        let name = name.into();
        let resource = || format!("RouteConfiguration {name:?}");
        if name.is_empty() {
            return Err(ConfigError::new(resource(), "name", "must not be empty"));
        }
        let domains = DomainIndex::new(
            virtual_hosts
                .iter()
                .enumerate()
                .map(|(i, vh)| (i, &vh.domains[..])),
        )
        .map_err(|e| e.in_resource(resource()))?;
        Ok(Self {
            name,
            virtual_hosts,
            domains,
        })
    }

    /// The table's name (the RDS resource name).
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The virtual hosts, in configuration order.
    pub fn virtual_hosts(&self) -> &[VirtualHost] {
        &self.virtual_hosts
    }

    /// The routes of virtual host `index`, for sources that adjust route
    /// policies after loading (domains stay as validated).
    pub fn virtual_host_routes_mut(&mut self, index: usize) -> Option<&mut [Route]> {
        self.virtual_hosts
            .get_mut(index)
            .map(|vh| &mut vh.routes[..])
    }

    /// Every route of every virtual host, for sources that adjust route
    /// policies after loading (domains stay as validated).
    pub fn routes_mut(&mut self) -> impl Iterator<Item = &mut Route> {
        self.virtual_hosts
            .iter_mut()
            .flat_map(|vh| vh.routes.iter_mut())
    }

    /// The index of the virtual host serving `authority`, by Envoy's
    /// domain precedence.
    pub fn virtual_host_for(&self, authority: &str) -> Option<usize> {
        self.domains.find(authority)
    }
}

/// A set of domains and the routes that serve them.
#[derive(Debug, Clone)]
pub struct VirtualHost {
    /// The virtual host's name, for diagnostics.
    pub name: Arc<str>,
    /// The authorities this virtual host serves.
    pub domains: Vec<DomainPattern>,
    /// Routes in order; the first that matches wins.
    pub routes: Vec<Route>,
}

/// One route: a match and what to do with requests that satisfy it.
#[derive(Debug, Clone)]
pub struct Route {
    /// The route's name, for metrics and traces (may be empty).
    pub name: Arc<str>,
    /// What the request must look like.
    pub matcher: RouteMatch,
    /// Where it goes.
    pub action: RouteAction,
}

/// How a route matches the path.
#[derive(Debug, Clone, PartialEq)]
pub enum PathMatch {
    /// The `:path` (query included, as in Envoy) starts with the prefix.
    Prefix(Box<str>),
    /// The path without the query equals the value.
    Exact(Box<str>),
    /// The path without the query matches the whole regex.
    Regex(FullRegex),
    /// The path without the query equals the prefix or continues it with
    /// `/` (`/api` matches `/api` and `/api/x`, not `/apix`).
    PathSeparatedPrefix(Box<str>),
}

impl PathMatch {
    /// A path-separated prefix; Envoy requires it to start with `/`, not to
    /// end with `/` (so `/` alone is refused), and to hold no `?` or `#`.
    pub fn path_separated_prefix(prefix: &str) -> Result<Self, ConfigError> {
        let bad = !prefix.starts_with('/') || prefix.ends_with('/') || prefix.contains(['?', '#']);
        if bad {
            return Err(ConfigError::field(
                "path_separated_prefix",
                format!("{prefix:?} must start with '/', not end with '/', and hold no '?' or '#'"),
            ));
        }
        Ok(Self::PathSeparatedPrefix(prefix.into()))
    }
}

/// Everything a request must satisfy for a route to apply.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    /// The path rule.
    pub path: PathMatch,
    /// Whether prefix/exact/path-separated-prefix compare case-sensitively
    /// (Envoy's default: true). Regexes carry their own flags.
    pub case_sensitive: bool,
    /// All of these must match.
    pub headers: Vec<HeaderMatcher>,
    /// All of these must match.
    pub query_params: Vec<QueryParamMatcher>,
    /// Only gRPC requests (`content-type: application/grpc...`) match
    /// (Envoy's `grpc: {}`).
    pub grpc_only: bool,
    /// Only this fraction of otherwise matching requests match, drawn per
    /// request (Envoy's `runtime_fraction`, its default value; gRFC A28).
    pub fraction: Option<Fraction>,
}

impl RouteMatch {
    /// Matches every request (prefix `/`).
    pub fn any() -> Self {
        Self {
            path: PathMatch::Prefix("/".into()),
            case_sensitive: true,
            headers: Vec::new(),
            query_params: Vec::new(),
            grpc_only: false,
            fraction: None,
        }
    }
}

/// A cluster, optionally narrowed to the endpoints whose labels include
/// `subset.labels`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Backend {
    /// The cluster's name.
    pub cluster: Arc<str>,
    /// The subset, if any.
    pub subset: Option<SubsetRef>,
}

impl Backend {
    /// The whole cluster.
    pub fn cluster(name: impl Into<Arc<str>>) -> Self {
        Self {
            cluster: name.into(),
            subset: None,
        }
    }
}

/// A subset as a route names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubsetRef {
    /// The subset's name (Istio's `subset: v1`), or its labels written as
    /// `k=v,...` when the source names none (Envoy's `metadata_match`).
    pub name: Arc<str>,
    /// Labels an endpoint must carry (all of them, with these values).
    pub labels: Arc<Labels>,
}

/// One arm of a weighted split.
#[derive(Debug, Clone)]
pub struct WeightedBackend {
    /// Where this arm goes.
    pub backend: Backend,
    /// Its weight; arms with weight 0 receive nothing.
    pub weight: u32,
}

/// Where a route sends requests.
#[derive(Debug, Clone)]
pub enum Destination {
    /// One backend.
    Backend(Backend),
    /// A weighted split; the weights sum to more than zero.
    Weighted(WeightedBackends),
}

impl Destination {
    /// Every backend this destination may choose.
    pub fn backends(&self) -> impl Iterator<Item = &Backend> {
        let (single, split) = match self {
            Self::Backend(b) => (Some(b), &[][..]),
            Self::Weighted(w) => (None, &w.arms[..]),
        };
        single.into_iter().chain(split.iter().map(|a| &a.backend))
    }

    /// The backend at `index` of [`Destination::backends`] (the index a
    /// weighted draw returns).
    pub(crate) fn backend_at(&self, index: usize) -> &Backend {
        match self {
            Self::Backend(b) => b,
            Self::Weighted(w) => &w.arms[index].backend,
        }
    }
}

/// A validated weighted split: at least one arm, weights summing to a
/// positive total that fits in `u32` (as Envoy requires).
#[derive(Debug, Clone)]
pub struct WeightedBackends {
    arms: Vec<WeightedBackend>,
    total: u32,
}

impl WeightedBackends {
    /// Validates the split.
    pub fn new(arms: Vec<WeightedBackend>) -> Result<Self, ConfigError> {
        if arms.is_empty() {
            return Err(ConfigError::field(
                "clusters",
                "a weighted split needs at least one cluster",
            ));
        }
        let total = arms.iter().map(|a| u64::from(a.weight)).sum::<u64>();
        let total = u32::try_from(total)
            .map_err(|_| ConfigError::field("clusters", "weights sum beyond 2^32-1"))?;
        if total == 0 {
            return Err(ConfigError::field("clusters", "weights sum to zero"));
        }
        Ok(Self { arms, total })
    }

    /// The arms, in configuration order.
    pub fn arms(&self) -> &[WeightedBackend] {
        &self.arms
    }

    /// The sum of the weights.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// The arm that owns point `point` of `[0, total)`, with its index.
    pub fn select(&self, point: u32) -> (usize, &Backend) {
        let mut upper = 0u32;
        for (i, arm) in self.arms.iter().enumerate() {
            upper += arm.weight;
            if point < upper {
                return (i, &arm.backend);
            }
        }
        // `point < total` always holds for callers; stay total anyway.
        let last = self.arms.len() - 1;
        (last, &self.arms[last].backend)
    }
}

/// What a route hashes for ring-hash balancing (Envoy's `HashPolicy`).
#[derive(Debug, Clone, PartialEq)]
pub struct HashPolicy {
    /// The request property hashed.
    pub source: HashSource,
    /// When this policy yields a hash, skip the following ones.
    pub terminal: bool,
}

/// The request property a [`HashPolicy`] hashes.
#[derive(Debug, Clone, PartialEq)]
pub enum HashSource {
    /// A request header's value (lower-case name).
    Header(http::HeaderName),
    /// A cookie's value. A client does not mint cookies: if it is absent
    /// this policy yields nothing (Envoy's `ttl` generation is a proxy's).
    Cookie(Box<str>),
    /// The client's own source IP, when the caller supplies it.
    SourceIp,
    /// A query parameter's value.
    QueryParameter(Box<str>),
}

/// What a route does with the request.
#[derive(Debug, Clone)]
pub struct RouteAction {
    /// Where the request goes.
    pub destination: Destination,
    /// The overall timeout for the request, retries included
    /// (`None`: none).
    pub timeout: Option<Duration>,
    /// Cap on a gRPC request's `grpc-timeout` (gRPC's
    /// `max_stream_duration`), `None` when not set.
    pub max_stream_duration: Option<Duration>,
    /// Retries, when configured (shared: each request's attempt loop holds
    /// it for as long as it runs).
    pub retry: Option<Arc<RetryPolicy>>,
    /// Envoy's `hedge_policy.hedge_on_per_try_timeout`: when an attempt
    /// reaches the retry policy's per-try timeout it keeps going and a
    /// hedge is sent beside it; the first good answer wins.
    pub hedge_on_per_try_timeout: bool,
    /// Backup attempts after a fixed delay (gRFC A6 hedging, from the
    /// policy JSON's `hedge_delay_ms`); they share the retry policy's
    /// `num_retries` and the cluster's retry budget. Takes precedence over
    /// `hedge_on_per_try_timeout`.
    pub hedge: Option<HedgePolicy>,
    /// Hash policies, for ring-hash clusters.
    pub hash_policy: Vec<HashPolicy>,
    /// Shadow copies of the request (enforced by the resilience layer).
    pub mirrors: Vec<MirrorPolicy>,
    /// Injected faults (enforced by the resilience layer), with their live
    /// count of active faults (shared by the routes of a virtual host that
    /// sets them there).
    pub fault: Option<Arc<FaultPolicy>>,
    /// The local rate limit, with its live bucket (shared by the routes
    /// of a virtual host that sets it there).
    pub rate_limit: Option<Arc<LocalRateLimit>>,
    /// The closed/open/half-open breaker of this route, with its live
    /// window (from the policy JSON).
    pub breaker: Option<Arc<CircuitBreaker>>,
}

impl RouteAction {
    /// Every backend the route sends to: the destination's, then the
    /// mirrors'.
    pub fn all_backends(&self) -> impl Iterator<Item = &Backend> {
        self.destination
            .backends()
            .chain(self.mirrors.iter().map(|m| &m.backend))
    }

    /// Sends everything to `destination`, with no policies.
    pub fn to(destination: Destination) -> Self {
        Self {
            destination,
            timeout: None,
            max_stream_duration: None,
            retry: None,
            hedge_on_per_try_timeout: false,
            hedge: None,
            hash_policy: Vec::new(),
            mirrors: Vec::new(),
            fault: None,
            rate_limit: None,
            breaker: None,
        }
    }
}
