//! DestinationRule `trafficPolicy.connectionPool` → [`ConnectionPool`]:
//! how a host's connections are kept alive, shared and retired.
//!
//! `connectionPool` mixes two things: limits, which are circuit breakers
//! and stay with the rest of the host's policy in `destination_rule`, and
//! the pool settings read here, which Istio turns into the cluster's
//! `HttpProtocolOptions` and `upstream_connection_options`:
//! - `tcp.maxConnectionDuration` → `max_connection_duration`;
//! - `tcp.tcpKeepalive` {`probes`, `time`, `interval`} → TCP keepalive
//!   (a `tcpKeepalive: {}` turns keepalive on with the system's values;
//!   `probes: 0` keeps the system's count, as Istio);
//! - `http.idleTimeout` → `idle_timeout` (unset: Istio's 1 h; Istio's
//!   validation, applied here too, requires at least 1 ms, so it cannot
//!   turn the timeout off);
//! - `http.maxRequestsPerConnection` (0: unlimited, as Istio);
//! - `http.maxConcurrentStreams` (0: Envoy's 2^31-1, as Istio).
//!
//! Deviation: Istio hands the keepalive `time` and `interval` to Envoy in
//! whole seconds, dropping any fraction, so a value under one second
//! becomes 0 there and the socket option fails at connect time. Here the
//! fraction is dropped the same way, but a value under one second is
//! rejected with the field named.

use std::num::NonZeroU32;
use std::time::Duration;

use super::spec::{ConnectionPoolSpec, HttpPoolSpec, TcpKeepaliveSpec, TcpPoolSpec};
use super::values;
use crate::config::{
    ConfigError, ConnectionPool, DEFAULT_MAX_CONCURRENT_STREAMS, ResultExt, TcpKeepalive,
};

/// The pool settings of a `connectionPool`; errors are relative to it.
pub(super) fn connection_pool(spec: &ConnectionPoolSpec) -> Result<ConnectionPool, ConfigError> {
    let mut pool = ConnectionPool::default();
    if let Some(tcp) = &spec.tcp {
        tcp_settings(tcp, &mut pool).at("tcp")?;
    }
    if let Some(http) = &spec.http {
        http_settings(http, &mut pool).at("http")?;
    }
    Ok(pool)
}

fn tcp_settings(tcp: &TcpPoolSpec, pool: &mut ConnectionPool) -> Result<(), ConfigError> {
    if let Some(d) = &tcp.max_connection_duration {
        pool.max_connection_duration = Some(values::duration(d).at("maxConnectionDuration")?);
    }
    if let Some(k) = &tcp.tcp_keepalive {
        pool.tcp_keepalive = Some(tcp_keepalive(k).at("tcpKeepalive")?);
    }
    Ok(())
}

fn tcp_keepalive(spec: &TcpKeepaliveSpec) -> Result<TcpKeepalive, ConfigError> {
    let seconds = |text: Option<&String>, field: &str| -> Result<_, ConfigError> {
        let Some(text) = text else {
            return Ok(None);
        };
        let d = values::duration(text).at(field)?;
        if d < Duration::from_secs(1) {
            return Err(ConfigError::field(
                field,
                format!("{text:?} is under 1s; keepalive times are whole seconds"),
            ));
        }
        Ok(Some(Duration::from_secs(d.as_secs())))
    };
    let probes = match spec.probes {
        None => None,
        Some(n) => Some(values::count(n).at("probes")?).filter(|n| *n > 0),
    };
    Ok(TcpKeepalive {
        probes,
        time: seconds(spec.time.as_ref(), "time")?,
        interval: seconds(spec.interval.as_ref(), "interval")?,
    })
}

fn http_settings(http: &HttpPoolSpec, pool: &mut ConnectionPool) -> Result<(), ConfigError> {
    if let Some(d) = &http.idle_timeout {
        pool.idle_timeout = Some(values::duration(d).at("idleTimeout")?);
    }
    if let Some(n) = http.max_requests_per_connection {
        pool.max_requests_per_connection =
            NonZeroU32::new(values::count(n).at("maxRequestsPerConnection")?);
    }
    if let Some(n) = http.max_concurrent_streams {
        let streams = values::count(n).at("maxConcurrentStreams")?;
        if streams > DEFAULT_MAX_CONCURRENT_STREAMS {
            return Err(ConfigError::field(
                "maxConcurrentStreams",
                format!("{n} is not within 0..={DEFAULT_MAX_CONCURRENT_STREAMS}"),
            ));
        }
        if let Some(streams) = NonZeroU32::new(streams) {
            pool.max_concurrent_streams = streams;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(yaml: &str) -> Result<ConnectionPool, ConfigError> {
        connection_pool(&serde_yaml::from_str(yaml).unwrap())
    }

    #[test]
    fn settings_map_with_istio_defaults() {
        assert_eq!(pool("{}").unwrap(), ConnectionPool::default());
        let p = pool(
            "{tcp: {maxConnectionDuration: 10m, tcpKeepalive: {probes: 3, time: 7.9s, interval: 2s}},
              http: {idleTimeout: 30s, maxRequestsPerConnection: 1, maxConcurrentStreams: 64}}",
        )
        .unwrap();
        assert_eq!(p.max_connection_duration, Some(Duration::from_secs(600)));
        assert_eq!(
            p.tcp_keepalive,
            Some(TcpKeepalive {
                probes: Some(3),
                time: Some(Duration::from_secs(7)),
                interval: Some(Duration::from_secs(2)),
            })
        );
        assert_eq!(p.idle_timeout, Some(Duration::from_secs(30)));
        assert_eq!(p.max_requests_per_connection.map(NonZeroU32::get), Some(1));
        assert_eq!(p.max_concurrent_streams.get(), 64);

        let zeros = pool(
            "{tcp: {tcpKeepalive: {probes: 0}}, http: {maxRequestsPerConnection: 0, maxConcurrentStreams: 0}}",
        )
        .unwrap();
        assert_eq!(zeros.tcp_keepalive, Some(TcpKeepalive::default()));
        assert_eq!(zeros.max_requests_per_connection, None);
        assert_eq!(
            zeros.max_concurrent_streams.get(),
            DEFAULT_MAX_CONCURRENT_STREAMS
        );
    }

    #[test]
    fn bad_settings_name_the_field() {
        let field = |yaml: &str| pool(yaml).unwrap_err().field;
        assert_eq!(
            field("{tcp: {tcpKeepalive: {time: 500ms}}}"),
            "tcp.tcpKeepalive.time"
        );
        assert_eq!(
            field("{tcp: {tcpKeepalive: {interval: soon}}}"),
            "tcp.tcpKeepalive.interval"
        );
        assert_eq!(
            field("{tcp: {tcpKeepalive: {probes: -1}}}"),
            "tcp.tcpKeepalive.probes"
        );
        assert_eq!(
            field("{tcp: {maxConnectionDuration: 0s}}"),
            "tcp.maxConnectionDuration"
        );
        assert_eq!(field("{http: {idleTimeout: 0s}}"), "http.idleTimeout");
        assert_eq!(
            field("{http: {maxRequestsPerConnection: -1}}"),
            "http.maxRequestsPerConnection"
        );
        assert_eq!(
            field("{http: {maxConcurrentStreams: 2147483648}}"),
            "http.maxConcurrentStreams"
        );
    }
}
