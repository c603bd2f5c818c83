//! Endpoints: the addresses a cluster balances across.
//!
//! An [`Endpoint`] is a handle: one shared allocation holds its address
//! and attributes, so the model, the xDS cache and each snapshot's
//! [`EndpointSlot`](crate::lb::EndpointSlot) share one copy, and cloning
//! one costs a reference count. Reading a field goes through [`Deref`];
//! writing one ([`DerefMut`]) copies the attributes first if they are
//! shared (copy on write), so a built configuration never changes under a
//! reader. Locality and labels are shared too: sources give every
//! endpoint of one locality group the same [`Locality`], and equal label
//! sets of one load assignment the same [`Labels`], so a typical endpoint
//! keeps no heap data of its own besides its address text.
//!
//! The weight of an endpoint's *locality* (EDS's
//! `LocalityLbEndpoints.load_balancing_weight`) is kept on each endpoint
//! rather than in the shared [`Locality`]: the same place can be weighted
//! differently by two load assignments, and the weight is four bytes
//! inline, so it costs no allocation (see [`crate::lb`] for how it is
//! used).

use std::num::NonZeroU32;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, OnceLock};

use super::{ConfigError, Labels};

/// Envoy's `HealthStatus`, as far as a client acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HealthStatus {
    /// No health information: used, as Envoy does.
    #[default]
    Unknown,
    /// Healthy: used.
    Healthy,
    /// Degraded: used (Envoy prefers healthy hosts; the foundation treats
    /// degraded as usable and leaves the preference to a later issue).
    Degraded,
    /// Unhealthy: skipped.
    Unhealthy,
    /// Draining: skipped for new requests.
    Draining,
    /// Health check timed out: skipped.
    Timeout,
}

impl HealthStatus {
    /// Whether new requests may go to an endpoint in this state.
    pub fn is_usable(self) -> bool {
        matches!(self, Self::Unknown | Self::Healthy | Self::Degraded)
    }
}

/// Where an endpoint runs (Envoy's `Locality`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Locality {
    /// Region, e.g. `us-east1`.
    pub region: Arc<str>,
    /// Zone, e.g. `us-east1-b`.
    pub zone: Arc<str>,
    /// Sub-zone (rack).
    pub sub_zone: Arc<str>,
}

/// One endpoint of a cluster: a cheap-to-clone handle on its
/// [`EndpointData`] (see the module docs).
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint(Arc<EndpointData>);

/// What an endpoint is: its address and the attributes balancing uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointData {
    /// `host:port`, bracketed for IPv6; the host is derived from it.
    authority: http::uri::Authority,
    port: u16,
    /// Load-balancing weight, at least 1.
    pub weight: u32,
    /// Health as the source reports it.
    pub health: HealthStatus,
    /// Priority level; 0 is used first, higher levels on failover.
    pub priority: u32,
    /// Where it runs (shared by the endpoints of one locality).
    pub locality: Arc<Locality>,
    /// The weight of its locality among the localities of its priority
    /// level, when the source gives one. With locality-weighted balancing
    /// on, a level whose endpoints carry weights sends an endpoint without
    /// one no traffic while another locality can take it.
    pub locality_weight: Option<NonZeroU32>,
    /// Labels subsets select by (shared by endpoints with equal labels).
    pub labels: Arc<Labels>,
}

/// The one empty label set and the one unknown locality, shared by every
/// endpoint that has no other.
fn no_labels() -> Arc<Labels> {
    static EMPTY: OnceLock<Arc<Labels>> = OnceLock::new();
    EMPTY.get_or_init(Arc::default).clone()
}

fn no_locality() -> Arc<Locality> {
    static EMPTY: OnceLock<Arc<Locality>> = OnceLock::new();
    EMPTY.get_or_init(Arc::default).clone()
}

impl Endpoint {
    /// An endpoint at `host:port` with weight 1 and no labels; the host is
    /// an IP address or a DNS name.
    pub fn new(host: &str, port: u32) -> Result<Self, ConfigError> {
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| ConfigError::field("port", format!("{port} is not within 1..=65535")))?;
        if host.is_empty()
            || host
                .chars()
                .any(|c| c.is_whitespace() || "/?#@".contains(c))
        {
            return Err(ConfigError::field(
                "address",
                format!("{host:?} is not a host"),
            ));
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        // An exact-size buffer: `Bytes` takes it over without a second
        // allocation.
        let authority = String::from(authority.into_boxed_str());
        let authority = http::uri::Authority::try_from(authority)
            .map_err(|e| ConfigError::field("address", format!("{host:?} is not a host: {e}")))?;
        Ok(Self(Arc::new(EndpointData {
            authority,
            port,
            weight: 1,
            health: HealthStatus::Unknown,
            priority: 0,
            locality: no_locality(),
            locality_weight: None,
            labels: no_labels(),
        })))
    }

    /// Sets the weight; zero is rejected.
    pub fn with_weight(mut self, weight: u32) -> Result<Self, ConfigError> {
        if weight == 0 {
            return Err(ConfigError::field(
                "load_balancing_weight",
                "must be at least 1",
            ));
        }
        self.weight = weight;
        Ok(self)
    }

    /// Sets the labels.
    #[must_use]
    pub fn with_labels(self, labels: Labels) -> Self {
        self.with_shared_labels(Arc::new(labels))
    }

    /// Sets the labels to a set shared with other endpoints.
    #[must_use]
    pub fn with_shared_labels(mut self, labels: Arc<Labels>) -> Self {
        self.labels = labels;
        self
    }

    /// The host (IP address or DNS name, IPv6 without brackets).
    pub fn host(&self) -> &str {
        let authority = self.0.authority.as_str();
        let host = authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host);
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.0.port
    }

    /// `host:port`, bracketed for IPv6.
    pub fn authority(&self) -> &str {
        self.0.authority.as_str()
    }

    /// The same, parsed once, ready to go into a rewritten URI.
    pub fn uri_authority(&self) -> &http::uri::Authority {
        &self.0.authority
    }

    /// Whether every label of `selector` is on this endpoint.
    pub fn has_labels(&self, selector: &Labels) -> bool {
        selector.iter().all(|(k, v)| self.labels.get(k) == Some(v))
    }

    /// Whether `self` and `other` share their data (a clone of one
    /// another, never changed since).
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for Endpoint {
    type Target = EndpointData;

    fn deref(&self) -> &EndpointData {
        &self.0
    }
}

impl DerefMut for Endpoint {
    /// Copies the data first if another handle shares it.
    fn deref_mut(&mut self) -> &mut EndpointData {
        Arc::make_mut(&mut self.0)
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &*self.0;
        f.debug_struct("Endpoint")
            .field("authority", &d.authority.as_str())
            .field("weight", &d.weight)
            .field("health", &d.health)
            .field("priority", &d.priority)
            .field("locality", &d.locality)
            .field("locality_weight", &d.locality_weight)
            .field("labels", &d.labels)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_validate_ports_and_hosts() {
        assert_eq!(
            Endpoint::new("127.0.0.1", 80).unwrap().authority(),
            "127.0.0.1:80"
        );
        assert_eq!(Endpoint::new("::1", 80).unwrap().authority(), "[::1]:80");
        assert_eq!(Endpoint::new("[::1]", 80).unwrap().host(), "::1");
        assert_eq!(Endpoint::new("a", 0).unwrap_err().field, "port");
        assert_eq!(Endpoint::new("a", 65536).unwrap_err().field, "port");
        assert_eq!(Endpoint::new("", 1).unwrap_err().field, "address");
        assert_eq!(Endpoint::new("a b", 1).unwrap_err().field, "address");
        assert_eq!(Endpoint::new("a<b", 1).unwrap_err().field, "address");
        let e = Endpoint::new("a", 1).unwrap();
        assert_eq!(e.with_weight(0).unwrap_err().field, "load_balancing_weight");
        assert_eq!(Endpoint::new("a.b", 8).unwrap().host(), "a.b");
    }

    #[test]
    fn a_change_copies_shared_data_only() {
        let a = Endpoint::new("10.0.0.1", 80).unwrap();
        let mut b = a.clone();
        assert!(a.ptr_eq(&b));
        b.weight = 3;
        assert!(!a.ptr_eq(&b));
        assert_eq!((a.weight, b.weight), (1, 3));
        assert_ne!(a, b);
        let c = Endpoint::new("10.0.0.2", 80).unwrap();
        assert!(Arc::ptr_eq(&a.labels, &c.labels), "one empty label set");
        assert!(
            Arc::ptr_eq(&a.locality, &c.locality),
            "one unknown locality"
        );
    }
}
