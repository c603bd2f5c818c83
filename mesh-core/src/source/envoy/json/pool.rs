//! Mirror of the connection-pool messages a cluster carries: the common
//! and HTTP/2 protocol options (inside the `HttpProtocolOptions`
//! extension, or directly on the cluster in their deprecated form) and
//! `upstream_connection_options`.
//!
//! They have a module of their own because the same messages appear in
//! both places; only the fields the pool conversion reads are declared,
//! and checking their values (zeros, ranges, a keepalive without an
//! interval) is left to that conversion, as for every mirror.

use envoy_types::pb::envoy::config::cluster::v3 as cluster;
use envoy_types::pb::envoy::config::core::v3 as core;
use serde::Deserialize;

use super::wkt::{Dur, Int, u32_value};

/// `config.core.v3.HttpProtocolOptions` (the "common" options).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CommonHttpProtocolOptions {
    #[serde(alias = "idleTimeout")]
    idle_timeout: Option<Dur>,
    #[serde(alias = "maxConnectionDuration")]
    max_connection_duration: Option<Dur>,
    #[serde(alias = "maxRequestsPerConnection")]
    max_requests_per_connection: Option<Int<u32>>,
}

impl CommonHttpProtocolOptions {
    pub(super) fn into_proto(self) -> core::HttpProtocolOptions {
        core::HttpProtocolOptions {
            idle_timeout: self.idle_timeout.map(|d| d.0),
            max_connection_duration: self.max_connection_duration.map(|d| d.0),
            max_requests_per_connection: u32_value(self.max_requests_per_connection),
            ..Default::default()
        }
    }
}

/// `config.core.v3.Http2ProtocolOptions`: streams and PING keepalive.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Http2ProtocolOptions {
    #[serde(alias = "maxConcurrentStreams")]
    max_concurrent_streams: Option<Int<u32>>,
    #[serde(alias = "connectionKeepalive")]
    connection_keepalive: Option<KeepaliveSettings>,
}

/// `config.core.v3.KeepaliveSettings`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct KeepaliveSettings {
    interval: Option<Dur>,
    timeout: Option<Dur>,
}

impl Http2ProtocolOptions {
    pub(super) fn into_proto(self) -> core::Http2ProtocolOptions {
        core::Http2ProtocolOptions {
            max_concurrent_streams: u32_value(self.max_concurrent_streams),
            connection_keepalive: self.connection_keepalive.map(|k| core::KeepaliveSettings {
                interval: k.interval.map(|d| d.0),
                timeout: k.timeout.map(|d| d.0),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// `config.cluster.v3.UpstreamConnectionOptions`: its TCP keepalive.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct UpstreamConnectionOptions {
    #[serde(alias = "tcpKeepalive")]
    tcp_keepalive: Option<TcpKeepalive>,
}

/// `config.core.v3.TcpKeepalive` (times in whole seconds).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TcpKeepalive {
    #[serde(alias = "keepaliveProbes")]
    keepalive_probes: Option<Int<u32>>,
    #[serde(alias = "keepaliveTime")]
    keepalive_time: Option<Int<u32>>,
    #[serde(alias = "keepaliveInterval")]
    keepalive_interval: Option<Int<u32>>,
}

impl UpstreamConnectionOptions {
    pub(super) fn into_proto(self) -> cluster::UpstreamConnectionOptions {
        cluster::UpstreamConnectionOptions {
            tcp_keepalive: self.tcp_keepalive.map(|k| core::TcpKeepalive {
                keepalive_probes: u32_value(k.keepalive_probes),
                keepalive_time: u32_value(k.keepalive_time),
                keepalive_interval: u32_value(k.keepalive_interval),
            }),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_messages_transcribe_in_both_spellings() {
        let common: CommonHttpProtocolOptions = serde_yaml::from_str(
            "{idleTimeout: 0s, max_connection_duration: 60s, maxRequestsPerConnection: '7'}",
        )
        .unwrap();
        let common = common.into_proto();
        assert_eq!(common.idle_timeout.map(|d| d.seconds), Some(0));
        assert_eq!(common.max_connection_duration.map(|d| d.seconds), Some(60));
        assert_eq!(common.max_requests_per_connection.map(|v| v.value), Some(7));

        let h2: Http2ProtocolOptions = serde_yaml::from_str(
            "{max_concurrent_streams: 100, connectionKeepalive: {interval: 30s, timeout: 5s}}",
        )
        .unwrap();
        let h2 = h2.into_proto();
        assert_eq!(h2.max_concurrent_streams.map(|v| v.value), Some(100));
        let k = h2.connection_keepalive.unwrap();
        assert_eq!(
            (k.interval.map(|d| d.seconds), k.timeout.map(|d| d.seconds)),
            (Some(30), Some(5))
        );

        let options: UpstreamConnectionOptions = serde_yaml::from_str(
            "tcpKeepalive: {keepalive_probes: 3, keepaliveTime: 60, keepaliveInterval: 10}",
        )
        .unwrap();
        let k = options.into_proto().tcp_keepalive.unwrap();
        assert_eq!(k.keepalive_probes.map(|v| v.value), Some(3));
        assert_eq!(k.keepalive_time.map(|v| v.value), Some(60));
        assert_eq!(k.keepalive_interval.map(|v| v.value), Some(10));

        let e = serde_yaml::from_str::<Http2ProtocolOptions>("{max_concurrent_streams: -1}")
            .unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
    }
}
