//! Proto → model: the validating conversions from decoded `envoy-types`
//! resources into the [`crate::config`] model.
//!
//! These are the functions the xDS client calls on the resources of a
//! discovery response, and the static loader calls after its JSON/YAML
//! mirror has produced the same protos, so both paths get the same checks.
//!
//! Validation is gRPC-strict: a field we read that holds a value we cannot
//! honour (a regex that does not compile, a MAGLEV cluster, a redirect
//! route, a named port) is an error naming the resource and the proto
//! field path (`virtual_hosts[0].routes[2].match.safe_regex`); fields we
//! do not read are ignored, as a proxyless client ignores them.
//!
//! Inside this module, helpers return errors whose `field` is relative to
//! the message they were given and whose `resource` is empty; each public
//! entry point prefixes nothing and fills in the resource.

mod cluster;
mod endpoint;
mod fault;
mod listener;
mod matcher;
mod policy;
mod pool;
mod ratelimit;
mod resilience;
mod route;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::Metadata;
use envoy_types::pb::google::protobuf::{Duration as PbDuration, value::Kind};

use crate::config::{ConfigError, Labels, SubsetRef};

pub use cluster::{cluster, eds_service_name};
pub use endpoint::endpoints;
pub use listener::listener;
pub use route::route_table;

/// Type URLs of the resources and extensions this source understands.
pub mod type_url {
    /// `envoy.config.listener.v3.Listener` (LDS).
    pub const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
    /// `envoy.config.route.v3.RouteConfiguration` (RDS).
    pub const ROUTE_CONFIGURATION: &str =
        "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
    /// `envoy.config.cluster.v3.Cluster` (CDS).
    pub const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
    /// `envoy.config.endpoint.v3.ClusterLoadAssignment` (EDS).
    pub const CLUSTER_LOAD_ASSIGNMENT: &str =
        "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
    /// The API listener's HTTP connection manager.
    pub const HTTP_CONNECTION_MANAGER: &str = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
    /// A cluster's upstream HTTP protocol options.
    pub const HTTP_PROTOCOL_OPTIONS: &str =
        "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
    /// A cluster's TLS transport socket.
    pub const UPSTREAM_TLS_CONTEXT: &str =
        "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
    /// The local rate limit filter's config (per route or virtual host).
    pub const LOCAL_RATE_LIMIT: &str =
        "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
    /// The HTTP fault filter's config (per route or virtual host).
    pub const HTTP_FAULT: &str =
        "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
    /// A cluster's plain-text transport socket.
    pub const RAW_BUFFER: &str =
        "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer";
}

/// The message name of a type URL: what follows its last `/`.
pub(in crate::source::envoy) fn type_name(type_url: &str) -> &str {
    type_url.rsplit('/').next().unwrap_or(type_url)
}

/// The longest duration protobuf allows (10 000 years), which also keeps
/// every later `Instant + Duration` far from overflowing.
pub(in crate::source::envoy) const MAX_DURATION_SECS: i64 = 315_576_000_000;

/// A non-negative, in-range `google.protobuf.Duration`.
fn duration(d: &PbDuration) -> Result<Duration, ConfigError> {
    let shown = || format!("{}s{:+}ns", d.seconds, d.nanos);
    if d.seconds < 0 || d.nanos < 0 {
        return Err(ConfigError::field(
            "",
            format!("{} must not be negative", shown()),
        ));
    }
    if d.seconds > MAX_DURATION_SECS || d.nanos >= 1_000_000_000 {
        return Err(ConfigError::field(
            "",
            format!("{} is out of range", shown()),
        ));
    }
    Ok(Duration::new(
        d.seconds.unsigned_abs(),
        d.nanos.unsigned_abs(),
    ))
}

/// [`duration`] of an optional field, located at `field`.
fn opt_duration(d: Option<&PbDuration>, field: &str) -> Result<Option<Duration>, ConfigError> {
    d.map(duration).transpose().map_err(|e| e.at(field))
}

/// A required sub-message.
fn required<'a, T>(value: Option<&'a T>, field: &str) -> Result<&'a T, ConfigError> {
    value.ok_or_else(|| ConfigError::field(field, "is required"))
}

/// A required, non-empty string.
fn non_empty<'a>(value: &'a str, field: &str) -> Result<&'a str, ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::field(field, "must not be empty"));
    }
    Ok(value)
}

/// A value we read but cannot honour.
fn unsupported(field: &str, what: impl fmt::Display) -> ConfigError {
    ConfigError::field(field, format!("{what} is not supported"))
}

/// The metadata namespace of Envoy's subset load balancer.
const ENVOY_LB: &str = "envoy.lb";

/// The string fields of `filter_metadata["envoy.lb"]`, as labels.
///
/// With `strict` (a route's `metadata_match`), a non-string value is an
/// error, since the model matches strings only and ignoring it would widen
/// the subset; on endpoints (`strict` false) such values are skipped, which
/// can only make the endpoint match fewer subsets.
fn lb_labels(metadata: Option<&Metadata>, strict: bool) -> Result<Labels, ConfigError> {
    let mut labels = Labels::new();
    let Some(fields) = metadata.and_then(|m| m.filter_metadata.get(ENVOY_LB)) else {
        return Ok(labels);
    };
    for (key, value) in &fields.fields {
        match &value.kind {
            Some(Kind::StringValue(s)) => {
                labels.insert(key.clone(), s.clone());
            }
            _ if strict => {
                return Err(ConfigError::field(
                    format!("filter_metadata[{ENVOY_LB:?}][{key:?}]"),
                    "only string values are supported",
                ));
            }
            _ => {}
        }
    }
    Ok(labels)
}

/// The subset a route's `metadata_match` selects, named `k=v,k2=v2`.
fn subset_ref(labels: Labels) -> Option<SubsetRef> {
    if labels.is_empty() {
        return None;
    }
    let name = labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    Some(SubsetRef {
        name: name.into(),
        labels: Arc::new(labels),
    })
}

/// Converts each item, locating errors at `field[i]`. The vector is
/// sized exactly: collecting a `Result` iterator starts at capacity 4, which
/// for a one-route table (a `Route` is ~400 B) wasted more than the table.
fn each<T, M>(
    items: &[T],
    field: &str,
    convert: impl Fn(&T) -> Result<M, ConfigError>,
) -> Result<Vec<M>, ConfigError> {
    let mut converted = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        converted.push(convert(item).map_err(|e| e.at(format!("{field}[{i}]")))?);
    }
    Ok(converted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::google::protobuf::{Struct, Value};

    #[test]
    fn durations_are_checked() {
        let d = |seconds, nanos| PbDuration { seconds, nanos };
        assert_eq!(
            duration(&d(1, 500_000_000)).unwrap(),
            Duration::from_millis(1500)
        );
        assert!(duration(&d(-1, 0)).unwrap_err().reason.contains("negative"));
        assert!(duration(&d(0, -1)).is_err());
        assert!(duration(&d(0, 1_000_000_000)).is_err());
        assert!(duration(&d(i64::MAX, 0)).is_err());
        let e = opt_duration(Some(&d(-1, 0)), "timeout").unwrap_err();
        assert_eq!(e.field, "timeout");
    }

    #[test]
    fn labels_and_subset_names() {
        let s = |v: &str| Value {
            kind: Some(Kind::StringValue(v.into())),
        };
        let mut fields = std::collections::HashMap::new();
        fields.insert("version".to_owned(), s("v2"));
        fields.insert("stage".to_owned(), s("canary"));
        let mut md = Metadata::default();
        md.filter_metadata.insert(
            ENVOY_LB.into(),
            Struct {
                fields: fields.clone(),
            },
        );
        let labels = lb_labels(Some(&md), true).unwrap();
        let subset = subset_ref(labels).unwrap();
        assert_eq!(&*subset.name, "stage=canary,version=v2");
        assert_eq!(subset.labels.get("version").map(String::as_str), Some("v2"));

        fields.insert(
            "weight".to_owned(),
            Value {
                kind: Some(Kind::NumberValue(1.0)),
            },
        );
        md.filter_metadata
            .insert(ENVOY_LB.into(), Struct { fields });
        let e = lb_labels(Some(&md), true).unwrap_err();
        assert_eq!(e.field, r#"filter_metadata["envoy.lb"]["weight"]"#);
        assert_eq!(lb_labels(Some(&md), false).unwrap().len(), 2);
        assert!(subset_ref(Labels::new()).is_none());
    }
}
