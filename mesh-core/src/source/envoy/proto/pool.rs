//! A `Cluster`'s connection-pool settings → [`ConnectionPool`].
//!
//! Envoy spreads them over four places, all read here so one function
//! owns the precedence between them:
//! - the `HttpProtocolOptions` extension (decoded once by the cluster
//!   conversion, which also takes the protocol from it):
//!   `common_http_protocol_options` {`idle_timeout`,
//!   `max_connection_duration`, `max_requests_per_connection`} and
//!   `explicit_http_config.http2_protocol_options`
//!   {`max_concurrent_streams`, `connection_keepalive`};
//! - when that extension is absent, the deprecated Cluster-level
//!   `common_http_protocol_options`, `http2_protocol_options` and
//!   `max_requests_per_connection`;
//! - `upstream_connection_options.tcp_keepalive`;
//! - `circuit_breakers.per_host_thresholds`.
//!
//! Zero means "no limit" where Envoy reads it so (`idle_timeout`,
//! `max_connection_duration`, `max_requests_per_connection`); an unset
//! `idle_timeout` is Envoy's 1 h.
//!
//! As in Envoy, the deprecated `common_http_protocol_options` and
//! `http2_protocol_options` are ignored when the extension is present (a
//! control plane may send both); the deprecated
//! `max_requests_per_connection` beside the extension applies, unless both
//! set it (Envoy's own rejection).
//!
//! Deviations from Envoy, each rejecting rather than silently changing
//! what the operator wrote:
//! - `connection_keepalive` needs an `interval` above zero: the model only
//!   sends periodic PINGs (Envoy's PINGs after `connection_idle_interval`
//!   alone, and `interval_jitter`, are not modelled and are ignored). An
//!   unset `timeout` is 20 s.
//! - A zero `keepalive_time` or `keepalive_interval` is rejected (the
//!   kernel refuses it when the socket option is set).
//! - `per_host_thresholds` `max_connections` of 0 is rejected: the model
//!   has no "never connect", which is what Envoy would do. Envoy only
//!   honours `max_connections` per host; any other threshold set there is
//!   rejected as unsupported.

use std::num::NonZeroU32;
use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::{
    CircuitBreakers as PbCircuitBreakers, Cluster as PbCluster,
};
use envoy_types::pb::envoy::config::core::v3::{
    Http2ProtocolOptions, HttpProtocolOptions as CommonOptions, KeepaliveSettings, RoutingPriority,
    TcpKeepalive as PbTcpKeepalive,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::http_protocol_options::{
    UpstreamProtocolOptions, explicit_http_config::ProtocolConfig,
};
use envoy_types::pb::google::protobuf::UInt32Value;

use super::cluster::HttpOptions;
use super::{opt_duration, unsupported};
use crate::config::{
    ConfigError, ConnectionPool, DEFAULT_MAX_CONCURRENT_STREAMS, Http2Keepalive, ResultExt,
    TcpKeepalive,
};

/// The cluster's pool; `typed` is its decoded `HttpProtocolOptions`
/// extension, if any. Errors are relative to the cluster.
pub(super) fn connection_pool(
    c: &PbCluster,
    typed: Option<&HttpOptions>,
) -> Result<ConnectionPool, ConfigError> {
    let mut pool = ConnectionPool::default();
    #[allow(deprecated)] // the legacy fields are still read, as by Envoy
    let (legacy_common, legacy_h2, legacy_max_requests) = (
        c.common_http_protocol_options.as_ref(),
        c.http2_protocol_options.as_ref(),
        c.max_requests_per_connection,
    );
    let common_sets_max_requests = match typed {
        // As in Envoy, the deprecated options are ignored beside the
        // extension.
        Some(typed) => from_extension(typed, &mut pool).at(&typed.field)?,
        None => {
            if let Some(h2) = legacy_h2 {
                http2(h2, &mut pool).at("http2_protocol_options")?;
            }
            match legacy_common {
                Some(common) => {
                    common_options(common, &mut pool).at("common_http_protocol_options")?
                }
                None => false,
            }
        }
    };
    if let Some(v) = legacy_max_requests {
        if common_sets_max_requests {
            return Err(ConfigError::field(
                "max_requests_per_connection",
                "only one of the Cluster's and HttpProtocolOptions' max_requests_per_connection may be set",
            ));
        }
        pool.max_requests_per_connection = NonZeroU32::new(v.value);
    }
    if let Some(k) = c
        .upstream_connection_options
        .as_ref()
        .and_then(|o| o.tcp_keepalive.as_ref())
    {
        pool.tcp_keepalive =
            Some(tcp_keepalive(k).at("upstream_connection_options.tcp_keepalive")?);
    }
    if let Some(cb) = &c.circuit_breakers {
        pool.max_connections_per_host = per_host_connections(cb).at("circuit_breakers")?;
    }
    Ok(pool)
}

/// The extension's common and HTTP/2 options; whether the common options
/// set `max_requests_per_connection`.
fn from_extension(typed: &HttpOptions, pool: &mut ConnectionPool) -> Result<bool, ConfigError> {
    if let Some(UpstreamProtocolOptions::ExplicitHttpConfig(e)) =
        &typed.options.upstream_protocol_options
        && let Some(ProtocolConfig::Http2ProtocolOptions(h2)) = &e.protocol_config
    {
        http2(h2, pool).at("explicit_http_config.http2_protocol_options")?;
    }
    match &typed.options.common_http_protocol_options {
        Some(common) => common_options(common, pool).at("common_http_protocol_options"),
        None => Ok(false),
    }
}

/// `config.core.v3.HttpProtocolOptions`; whether it set
/// `max_requests_per_connection`.
fn common_options(common: &CommonOptions, pool: &mut ConnectionPool) -> Result<bool, ConfigError> {
    if let Some(d) = opt_duration(common.idle_timeout.as_ref(), "idle_timeout")? {
        pool.idle_timeout = (!d.is_zero()).then_some(d);
    }
    pool.max_connection_duration = opt_duration(
        common.max_connection_duration.as_ref(),
        "max_connection_duration",
    )?
    .filter(|d| !d.is_zero());
    let max_requests = common.max_requests_per_connection;
    if let Some(v) = max_requests {
        pool.max_requests_per_connection = NonZeroU32::new(v.value);
    }
    Ok(max_requests.is_some())
}

/// `config.core.v3.Http2ProtocolOptions`: streams and PING keepalive.
fn http2(h2: &Http2ProtocolOptions, pool: &mut ConnectionPool) -> Result<(), ConfigError> {
    if let Some(UInt32Value { value }) = h2.max_concurrent_streams {
        pool.max_concurrent_streams = NonZeroU32::new(value)
            .filter(|n| n.get() <= DEFAULT_MAX_CONCURRENT_STREAMS)
            .ok_or_else(|| {
                ConfigError::field(
                    "max_concurrent_streams",
                    format!("{value} is not within 1..={DEFAULT_MAX_CONCURRENT_STREAMS}"),
                )
            })?;
    }
    if let Some(k) = &h2.connection_keepalive {
        pool.http2_keepalive = Some(http2_keepalive(k).at("connection_keepalive")?);
    }
    Ok(())
}

fn http2_keepalive(k: &KeepaliveSettings) -> Result<Http2Keepalive, ConfigError> {
    let positive = |d: Duration, field: &str| {
        if d.is_zero() {
            Err(ConfigError::field(field, "must be greater than zero"))
        } else {
            Ok(d)
        }
    };
    let interval = opt_duration(k.interval.as_ref(), "interval")?.ok_or_else(|| {
        ConfigError::field(
            "interval",
            "is required: only periodic keepalive PINGs are supported",
        )
    })?;
    let timeout = opt_duration(k.timeout.as_ref(), "timeout")?;
    Ok(Http2Keepalive {
        interval: positive(interval, "interval")?,
        timeout: positive(
            timeout.unwrap_or(Http2Keepalive::DEFAULT_TIMEOUT),
            "timeout",
        )?,
    })
}

/// `config.core.v3.TcpKeepalive`: times in whole seconds.
fn tcp_keepalive(k: &PbTcpKeepalive) -> Result<TcpKeepalive, ConfigError> {
    let seconds = |v: Option<UInt32Value>, field: &str| match v {
        None => Ok(None),
        Some(UInt32Value { value: 0 }) => {
            Err(ConfigError::field(field, "must be greater than zero"))
        }
        Some(UInt32Value { value }) => Ok(Some(Duration::from_secs(value.into()))),
    };
    Ok(TcpKeepalive {
        probes: k.keepalive_probes.map(|v| v.value),
        time: seconds(k.keepalive_time, "keepalive_time")?,
        interval: seconds(k.keepalive_interval, "keepalive_interval")?,
    })
}

/// `per_host_thresholds`: the `DEFAULT` priority's `max_connections`.
fn per_host_connections(cb: &PbCircuitBreakers) -> Result<Option<NonZeroU32>, ConfigError> {
    for (i, t) in cb.per_host_thresholds.iter().enumerate() {
        let others = [
            ("max_pending_requests", t.max_pending_requests.is_some()),
            ("max_requests", t.max_requests.is_some()),
            ("max_retries", t.max_retries.is_some()),
            ("retry_budget", t.retry_budget.is_some()),
            ("max_connection_pools", t.max_connection_pools.is_some()),
        ];
        if let Some((field, _)) = others.iter().find(|(_, set)| *set) {
            return Err(
                unsupported(field, "a per-host threshold other than max_connections")
                    .at(format!("per_host_thresholds[{i}]")),
            );
        }
    }
    let default = RoutingPriority::Default as i32;
    let Some((i, max)) = cb
        .per_host_thresholds
        .iter()
        .enumerate()
        .find(|(_, t)| t.priority == default)
        .and_then(|(i, t)| t.max_connections.map(|v| (i, v.value)))
    else {
        return Ok(None);
    };
    NonZeroU32::new(max).map(Some).ok_or_else(|| {
        ConfigError::field(
            format!("per_host_thresholds[{i}].max_connections"),
            "must be greater than zero",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::envoy::proto::{cluster as convert, type_name, type_url};
    use envoy_types::pb::envoy::config::cluster::v3::{
        UpstreamConnectionOptions, circuit_breakers::Thresholds,
    };
    use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
        HttpProtocolOptions, http_protocol_options::ExplicitHttpConfig,
    };
    use envoy_types::pb::google::protobuf::{Any, Duration as PbDuration};
    use prost::Message;

    /// The field path of the extension, as errors name it.
    const TYPED: &str = r#"typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]"#;

    fn secs(seconds: i64) -> Option<PbDuration> {
        Some(PbDuration { seconds, nanos: 0 })
    }

    fn u(value: u32) -> Option<UInt32Value> {
        Some(UInt32Value { value })
    }

    fn named() -> PbCluster {
        PbCluster {
            name: "c".into(),
            ..Default::default()
        }
    }

    /// A cluster whose extension has `common` and speaks HTTP/2 with `h2`.
    fn typed(common: Option<CommonOptions>, h2: Option<Http2ProtocolOptions>) -> PbCluster {
        let options = HttpProtocolOptions {
            common_http_protocol_options: common,
            upstream_protocol_options: h2.map(|h2| {
                UpstreamProtocolOptions::ExplicitHttpConfig(ExplicitHttpConfig {
                    protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(h2)),
                })
            }),
            ..Default::default()
        };
        let mut c = named();
        c.typed_extension_protocol_options.insert(
            type_name(type_url::HTTP_PROTOCOL_OPTIONS).into(),
            Any {
                type_url: type_url::HTTP_PROTOCOL_OPTIONS.into(),
                value: options.encode_to_vec(),
            },
        );
        c
    }

    fn pool(c: &PbCluster) -> ConnectionPool {
        *convert(c).unwrap().connection_pool
    }

    fn field(c: &PbCluster) -> String {
        let e = convert(c).unwrap_err();
        assert_eq!(e.resource, r#"Cluster "c""#);
        e.field
    }

    fn keepalive(interval: Option<PbDuration>, timeout: Option<PbDuration>) -> KeepaliveSettings {
        KeepaliveSettings {
            interval,
            timeout,
            ..Default::default()
        }
    }

    #[test]
    fn defaults_without_any_setting() {
        assert_eq!(pool(&named()), ConnectionPool::default());
        assert_eq!(pool(&typed(None, None)), ConnectionPool::default());
    }

    #[test]
    fn the_extension_sets_the_pool() {
        let common = CommonOptions {
            idle_timeout: secs(0),
            max_connection_duration: secs(600),
            max_requests_per_connection: u(100),
            ..Default::default()
        };
        let h2 = Http2ProtocolOptions {
            max_concurrent_streams: u(64),
            connection_keepalive: Some(keepalive(secs(30), None)),
            ..Default::default()
        };
        let p = pool(&typed(Some(common), Some(h2)));
        assert_eq!(p.idle_timeout, None, "0 turns the idle timeout off");
        assert_eq!(p.max_connection_duration, Some(Duration::from_secs(600)));
        assert_eq!(
            p.max_requests_per_connection.map(NonZeroU32::get),
            Some(100)
        );
        assert_eq!(p.max_concurrent_streams.get(), 64);
        assert_eq!(
            p.http2_keepalive,
            Some(Http2Keepalive {
                interval: Duration::from_secs(30),
                timeout: Http2Keepalive::DEFAULT_TIMEOUT,
            })
        );

        let zeros = CommonOptions {
            idle_timeout: secs(90),
            max_connection_duration: secs(0),
            max_requests_per_connection: u(0),
            ..Default::default()
        };
        let p = pool(&typed(Some(zeros), None));
        assert_eq!(p.idle_timeout, Some(Duration::from_secs(90)));
        assert_eq!(p.max_connection_duration, None);
        assert_eq!(p.max_requests_per_connection, None);
    }

    #[test]
    #[allow(deprecated)]
    fn deprecated_cluster_fields_apply_without_the_extension() {
        let mut c = named();
        c.common_http_protocol_options = Some(CommonOptions {
            max_connection_duration: secs(60),
            ..Default::default()
        });
        c.max_requests_per_connection = u(5);
        c.http2_protocol_options = Some(Http2ProtocolOptions {
            max_concurrent_streams: u(10),
            connection_keepalive: Some(keepalive(secs(20), secs(3))),
            ..Default::default()
        });
        let p = pool(&c);
        assert_eq!(p.idle_timeout, Some(crate::config::DEFAULT_IDLE_TIMEOUT));
        assert_eq!(p.max_connection_duration, Some(Duration::from_secs(60)));
        assert_eq!(p.max_requests_per_connection.map(NonZeroU32::get), Some(5));
        assert_eq!(p.max_concurrent_streams.get(), 10);
        assert_eq!(
            p.http2_keepalive.map(|k| k.timeout),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    #[allow(deprecated)]
    fn deprecated_fields_beside_the_extension() {
        // Ignored beside the extension, as in Envoy.
        let mut c = typed(None, None);
        c.http2_protocol_options = Some(Http2ProtocolOptions {
            max_concurrent_streams: u(7),
            ..Default::default()
        });
        c.common_http_protocol_options = Some(CommonOptions {
            max_requests_per_connection: u(9),
            ..Default::default()
        });
        assert_eq!(pool(&c), ConnectionPool::default());

        // The Cluster's max_requests_per_connection fills in what the
        // extension leaves out, as in Envoy; both set is an error.
        let mut c = typed(Some(CommonOptions::default()), None);
        c.max_requests_per_connection = u(3);
        assert_eq!(
            pool(&c).max_requests_per_connection.map(NonZeroU32::get),
            Some(3)
        );
        let mut c = typed(
            Some(CommonOptions {
                max_requests_per_connection: u(4),
                ..Default::default()
            }),
            None,
        );
        c.max_requests_per_connection = u(3);
        assert_eq!(field(&c), "max_requests_per_connection");
        let mut c = named();
        c.common_http_protocol_options = Some(CommonOptions {
            max_requests_per_connection: u(4),
            ..Default::default()
        });
        c.max_requests_per_connection = u(3);
        assert_eq!(field(&c), "max_requests_per_connection");
    }

    #[test]
    fn bad_http2_settings_name_the_field() {
        let h2 = |streams, keepalive| {
            typed(
                None,
                Some(Http2ProtocolOptions {
                    max_concurrent_streams: streams,
                    connection_keepalive: keepalive,
                    ..Default::default()
                }),
            )
        };
        let at = |sub: &str| format!("{TYPED}.explicit_http_config.http2_protocol_options.{sub}");
        assert_eq!(field(&h2(u(0), None)), at("max_concurrent_streams"));
        assert_eq!(field(&h2(u(1 << 31), None)), at("max_concurrent_streams"));
        assert_eq!(
            pool(&h2(u(DEFAULT_MAX_CONCURRENT_STREAMS), None))
                .max_concurrent_streams
                .get(),
            DEFAULT_MAX_CONCURRENT_STREAMS
        );
        assert_eq!(
            field(&h2(None, Some(keepalive(secs(0), None)))),
            at("connection_keepalive.interval")
        );
        assert_eq!(
            field(&h2(None, Some(keepalive(None, secs(5))))),
            at("connection_keepalive.interval")
        );
        assert_eq!(
            field(&h2(None, Some(keepalive(secs(1), secs(0))))),
            at("connection_keepalive.timeout")
        );
        assert_eq!(
            field(&h2(None, Some(keepalive(secs(-1), None)))),
            at("connection_keepalive.interval")
        );
        let common = CommonOptions {
            idle_timeout: secs(-5),
            ..Default::default()
        };
        assert_eq!(
            field(&typed(Some(common), None)),
            format!("{TYPED}.common_http_protocol_options.idle_timeout")
        );
    }

    #[test]
    fn tcp_keepalive_in_seconds() {
        let with = |k: PbTcpKeepalive| {
            let mut c = named();
            c.upstream_connection_options = Some(UpstreamConnectionOptions {
                tcp_keepalive: Some(k),
                ..Default::default()
            });
            c
        };
        let p = pool(&with(PbTcpKeepalive {
            keepalive_probes: u(3),
            keepalive_time: u(60),
            keepalive_interval: None,
        }));
        assert_eq!(
            p.tcp_keepalive,
            Some(TcpKeepalive {
                probes: Some(3),
                time: Some(Duration::from_secs(60)),
                interval: None,
            })
        );
        assert_eq!(
            pool(&with(PbTcpKeepalive::default())).tcp_keepalive,
            Some(TcpKeepalive::default())
        );
        assert_eq!(
            field(&with(PbTcpKeepalive {
                keepalive_interval: u(0),
                ..Default::default()
            })),
            "upstream_connection_options.tcp_keepalive.keepalive_interval"
        );
    }

    #[test]
    fn per_host_thresholds_give_max_connections() {
        let with = |per_host_thresholds: Vec<Thresholds>| {
            let mut c = named();
            c.circuit_breakers = Some(PbCircuitBreakers {
                per_host_thresholds,
                ..Default::default()
            });
            c
        };
        let high = Thresholds {
            priority: RoutingPriority::High as i32,
            max_connections: u(1),
            ..Default::default()
        };
        let default = Thresholds {
            max_connections: u(8),
            ..Default::default()
        };
        let p = pool(&with(vec![high, default]));
        assert_eq!(p.max_connections_per_host.map(NonZeroU32::get), Some(8));
        assert_eq!(pool(&with(Vec::new())).max_connections_per_host, None);

        let zero = Thresholds {
            max_connections: u(0),
            ..Default::default()
        };
        assert_eq!(
            field(&with(vec![zero])),
            "circuit_breakers.per_host_thresholds[0].max_connections"
        );
        let pending = Thresholds {
            priority: RoutingPriority::High as i32,
            max_pending_requests: u(1),
            ..Default::default()
        };
        let e = convert(&with(vec![default, pending])).unwrap_err();
        assert_eq!(
            e.field,
            "circuit_breakers.per_host_thresholds[1].max_pending_requests"
        );
        assert!(e.reason.contains("not supported"), "{e}");
    }
}
