//! Endpoints: the addresses a cluster balances across.

use std::sync::Arc;

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

/// One endpoint of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    host: Arc<str>,
    port: u16,
    authority: http::uri::Authority,
    /// Load-balancing weight, at least 1.
    pub weight: u32,
    /// Health as the source reports it.
    pub health: HealthStatus,
    /// Where it runs.
    pub locality: Locality,
    /// Priority level; 0 is used first, higher levels on failover.
    pub priority: u32,
    /// Labels subsets select by.
    pub labels: Arc<Labels>,
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
        let authority = http::uri::Authority::try_from(authority)
            .map_err(|e| ConfigError::field("address", format!("{host:?} is not a host: {e}")))?;
        Ok(Self {
            host: host.into(),
            port,
            authority,
            weight: 1,
            health: HealthStatus::Unknown,
            locality: Locality::default(),
            priority: 0,
            labels: Arc::default(),
        })
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
    pub fn with_labels(mut self, labels: Labels) -> Self {
        self.labels = Arc::new(labels);
        self
    }

    /// The host (IP address or DNS name, IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, bracketed for IPv6.
    pub fn authority(&self) -> &str {
        self.authority.as_str()
    }

    /// The same, parsed once, ready to go into a rewritten URI.
    pub fn uri_authority(&self) -> &http::uri::Authority {
        &self.authority
    }

    /// Whether every label of `selector` is on this endpoint.
    pub fn has_labels(&self, selector: &Labels) -> bool {
        selector.iter().all(|(k, v)| self.labels.get(k) == Some(v))
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
    }
}
