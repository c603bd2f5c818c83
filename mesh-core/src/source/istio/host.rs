//! Service hosts, ports and the names derived from them.
//!
//! Istio identifies a service by its host name and a port; the proxyless
//! generator names the cluster of that pair `outbound|{port}||{host}` and
//! the listener and route table `host:port`. Hosts are used as written:
//! this loader has no Kubernetes namespace context, so a short name such
//! as `reviews` is *not* expanded to `reviews.default.svc.cluster.local`;
//! the name a VirtualService routes to must be spelled the way the
//! ServiceEntry or DestinationRule spells it. Host names are compared
//! case-insensitively (they are DNS names) and stored lower-case.

use crate::config::ConfigError;

/// The Istio-style cluster name of `host` on `port`.
pub fn cluster_name(host: &str, port: u16) -> String {
    format!("outbound|{port}||{host}")
}

/// Validates a service host and lower-cases it. Wildcards are rejected:
/// an embedded client routes to concrete services.
pub(crate) fn normalize(host: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| ConfigError::field("", format!("invalid host {host:?}: {why}"));
    if host.is_empty() {
        return Err(bad("must not be empty"));
    }
    if host.contains('*') {
        return Err(bad("wildcard hosts are not supported"));
    }
    if host.len() > 253 {
        return Err(bad("longer than 253 characters"));
    }
    let valid = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !valid || host.starts_with('.') || host.ends_with('.') {
        return Err(bad(
            "a host is a DNS name: letters, digits, '.', '-' and '_'",
        ));
    }
    Ok(host.to_ascii_lowercase())
}

/// What a service port speaks, as far as routing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// HTTP/1.1 (`HTTP`).
    Http1,
    /// HTTP/2 prior knowledge (`HTTP2`, `GRPC`, `GRPC-WEB`).
    Http2,
    /// Anything else (`TCP`, `TLS`, `HTTPS`, `MYSQL`, unknown, ...): the
    /// engine cannot route it by request, so it gets a cluster only.
    Opaque,
}

impl Protocol {
    /// Istio's rule: the `protocol` field if set, else the port name's
    /// prefix before the first `-` (`http-web`, `grpc`), else unknown.
    pub(crate) fn of_port(protocol: Option<&str>, name: &str) -> Self {
        let token = match protocol {
            Some(p) if !p.is_empty() => p,
            _ => name.split('-').next().unwrap_or(""),
        };
        match token.to_ascii_uppercase().as_str() {
            "HTTP" => Self::Http1,
            "HTTP2" | "GRPC" | "GRPC-WEB" => Self::Http2,
            _ => Self::Opaque,
        }
    }

    /// Whether the port gets a listener and routes.
    pub(crate) fn is_http(self) -> bool {
        !matches!(self, Self::Opaque)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports() {
        assert_eq!(normalize("Order-Service").unwrap(), "order-service");
        assert_eq!(
            normalize("a.b.svc.cluster.local").unwrap(),
            "a.b.svc.cluster.local"
        );
        for bad in ["", "*.example.com", "a b", "a:80", "a/b", ".a", "a."] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            cluster_name("order-service", 80),
            "outbound|80||order-service"
        );
    }

    #[test]
    fn protocols_follow_istio_port_naming() {
        assert_eq!(Protocol::of_port(Some("HTTP"), "x"), Protocol::Http1);
        assert_eq!(Protocol::of_port(Some("grpc"), "x"), Protocol::Http2);
        assert_eq!(Protocol::of_port(Some("TCP"), "http"), Protocol::Opaque);
        assert_eq!(Protocol::of_port(None, "http-web"), Protocol::Http1);
        assert_eq!(Protocol::of_port(None, "grpc-web"), Protocol::Http2);
        assert_eq!(Protocol::of_port(Some(""), "mysql"), Protocol::Opaque);
        assert!(!Protocol::of_port(None, "").is_http());
    }
}
