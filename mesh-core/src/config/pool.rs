//! Connection pools: how a cluster's connections are opened, shared and
//! retired.
//!
//! These are Envoy's upstream connection settings (the cluster's
//! `upstream_connection_options`, the `HttpProtocolOptions` extension and
//! `per_host_thresholds`) and Istio's DestinationRule `connectionPool`.
//! The cluster-wide limits on connections and on requests waiting for one
//! are circuit breakers ([`super::CircuitBreakers`]); the cluster's
//! `connect_timeout` stays on [`super::Cluster`], as in Envoy.

use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::ConfigError;

/// Envoy's default `idle_timeout` for upstream HTTP connections.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Envoy's default HTTP/2 `max_concurrent_streams` (2^31 - 1).
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = (1 << 31) - 1;

/// How connections to one cluster's endpoints are pooled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionPool {
    /// A connection with no request for this long is closed (Envoy's
    /// `idle_timeout`, default 1 h; `None`: never).
    pub idle_timeout: Option<Duration>,
    /// A connection is retired after this long, once its requests finish
    /// (Envoy's `max_connection_duration`, Istio's
    /// `tcp.maxConnectionDuration`; `None`: no limit).
    pub max_connection_duration: Option<Duration>,
    /// Requests one connection serves before it is retired (`None`: no
    /// limit; 1 turns keep-alive off).
    pub max_requests_per_connection: Option<NonZeroU32>,
    /// HTTP/2 streams at once on one connection; beyond it another
    /// connection is opened (Envoy's `max_concurrent_streams`).
    pub max_concurrent_streams: NonZeroU32,
    /// Connections to one endpoint (Envoy's `per_host_thresholds`
    /// `max_connections`; `None`: only the cluster's breaker limits them).
    pub max_connections_per_host: Option<NonZeroU32>,
    /// TCP keepalive probes on every connection (`None`: the system's
    /// default, usually off).
    pub tcp_keepalive: Option<TcpKeepalive>,
    /// HTTP/2 PING keepalive (Envoy's `connection_keepalive`).
    pub http2_keepalive: Option<Http2Keepalive>,
}

impl Default for ConnectionPool {
    fn default() -> Self {
        Self {
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            max_connection_duration: None,
            max_requests_per_connection: None,
            max_concurrent_streams: NonZeroU32::new(DEFAULT_MAX_CONCURRENT_STREAMS)
                .unwrap_or(NonZeroU32::MIN),
            max_connections_per_host: None,
            tcp_keepalive: None,
            http2_keepalive: None,
        }
    }
}

/// TCP keepalive (Envoy's `TcpKeepalive`, Istio's `tcpKeepalive`): unset
/// values keep the system's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpKeepalive {
    /// Unanswered probes before the connection is dead.
    pub probes: Option<u32>,
    /// Idle time before the first probe.
    pub time: Option<Duration>,
    /// Time between probes.
    pub interval: Option<Duration>,
}

/// HTTP/2 PING keepalive: a PING every `interval`; no answer within
/// `timeout` closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2Keepalive {
    /// Time between PINGs.
    pub interval: Duration,
    /// How long to wait for the answer (Envoy's default: 20 s).
    pub timeout: Duration,
}

impl Http2Keepalive {
    /// Envoy's default PING timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
}

impl ConnectionPool {
    /// The pool settings to put on a cluster: most clusters keep the
    /// defaults, and share one allocation of them (a cluster is then one
    /// pointer bigger, not the settings' 130 bytes).
    pub fn shared(self) -> Arc<Self> {
        static DEFAULT: OnceLock<Arc<ConnectionPool>> = OnceLock::new();
        let default = DEFAULT.get_or_init(|| Arc::new(Self::default()));
        if self == **default {
            default.clone()
        } else {
            Arc::new(self)
        }
    }

    /// Checks that durations that must elapse are not zero (a zero idle
    /// timeout or duration is expressed as `None`, i.e. no limit, by the
    /// sources, as Envoy reads 0).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |value: Option<Duration>, field: &str| match value {
            Some(d) if d.is_zero() => Err(ConfigError::field(field, "must be greater than zero")),
            _ => Ok(()),
        };
        positive(self.idle_timeout, "idle_timeout")?;
        positive(self.max_connection_duration, "max_connection_duration")?;
        if let Some(k) = &self.tcp_keepalive {
            positive(k.time, "tcp_keepalive.keepalive_time")?;
            positive(k.interval, "tcp_keepalive.keepalive_interval")?;
        }
        if let Some(k) = &self.http2_keepalive {
            positive(Some(k.interval), "connection_keepalive.interval")?;
            positive(Some(k.timeout), "connection_keepalive.timeout")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_envoys() {
        let pool = ConnectionPool::default();
        assert_eq!(pool.idle_timeout, Some(Duration::from_secs(3600)));
        assert_eq!(pool.max_concurrent_streams.get(), 2_147_483_647);
        assert_eq!(pool.max_requests_per_connection, None);
        assert!(pool.validate().is_ok());
    }

    #[test]
    fn clusters_with_default_settings_share_them() {
        let a = ConnectionPool::default().shared();
        let b = ConnectionPool::default().shared();
        assert!(Arc::ptr_eq(&a, &b));
        let custom = ConnectionPool {
            max_requests_per_connection: NonZeroU32::new(1),
            ..Default::default()
        };
        assert!(!Arc::ptr_eq(&custom.shared(), &a));
    }

    #[test]
    fn zero_durations_are_rejected_with_the_field() {
        let pool = ConnectionPool {
            http2_keepalive: Some(Http2Keepalive {
                interval: Duration::ZERO,
                timeout: Http2Keepalive::DEFAULT_TIMEOUT,
            }),
            ..Default::default()
        };
        let error = pool.validate().unwrap_err();
        assert_eq!(error.field, "connection_keepalive.interval");
        let pool = ConnectionPool {
            idle_timeout: Some(Duration::ZERO),
            ..Default::default()
        };
        assert_eq!(pool.validate().unwrap_err().field, "idle_timeout");
    }
}
