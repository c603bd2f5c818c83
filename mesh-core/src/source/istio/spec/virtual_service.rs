//! `VirtualService` (networking.istio.io): how requests to a host route.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{PercentSpec, PortSelectorSpec, StringMatchSpec};

/// `spec` of a VirtualService. `tcp`, `tls` and `exportTo` are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct VirtualServiceSpec {
    pub hosts: Vec<String>,
    pub gateways: Vec<String>,
    pub http: Vec<HttpRouteSpec>,
}

/// One `http[]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct HttpRouteSpec {
    pub name: String,
    #[serde(rename = "match")]
    pub matches: Vec<HttpMatchSpec>,
    pub route: Vec<RouteDestinationSpec>,
    pub redirect: Option<IgnoredAny>,
    pub direct_response: Option<IgnoredAny>,
    pub delegate: Option<IgnoredAny>,
    pub rewrite: Option<IgnoredAny>,
    pub timeout: Option<String>,
    pub retries: Option<RetrySpec>,
    pub fault: Option<FaultSpec>,
    pub mirror: Option<DestinationSpec>,
    pub mirror_percentage: Option<PercentSpec>,
    /// Deprecated integer form of `mirrorPercentage`.
    pub mirror_percent: Option<i64>,
    pub mirrors: Vec<MirrorPolicySpec>,
}

/// `HTTPMatchRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct HttpMatchSpec {
    pub name: String,
    pub uri: Option<StringMatchSpec>,
    pub scheme: Option<StringMatchSpec>,
    pub method: Option<StringMatchSpec>,
    pub authority: Option<StringMatchSpec>,
    pub headers: BTreeMap<String, Option<StringMatchSpec>>,
    pub without_headers: BTreeMap<String, Option<StringMatchSpec>>,
    pub query_params: BTreeMap<String, Option<StringMatchSpec>>,
    pub ignore_uri_case: bool,
    pub port: Option<i64>,
    pub gateways: Vec<String>,
    pub source_labels: BTreeMap<String, String>,
    pub source_namespace: Option<String>,
}

/// `HTTPRouteDestination`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RouteDestinationSpec {
    pub destination: Option<DestinationSpec>,
    pub weight: Option<i64>,
}

/// `Destination`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DestinationSpec {
    pub host: String,
    pub subset: Option<String>,
    pub port: Option<PortSelectorSpec>,
}

/// `HTTPMirrorPolicy` (the `mirrors` list).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MirrorPolicySpec {
    pub destination: Option<DestinationSpec>,
    pub percentage: Option<PercentSpec>,
}

/// `HTTPRetry`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct RetrySpec {
    pub attempts: i64,
    pub per_try_timeout: Option<String>,
    pub retry_on: Option<String>,
}

/// `HTTPFaultInjection`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FaultSpec {
    pub delay: Option<DelaySpec>,
    pub abort: Option<AbortSpec>,
}

/// `HTTPFaultInjection.Delay`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct DelaySpec {
    pub fixed_delay: Option<String>,
    pub exponential_delay: Option<IgnoredAny>,
    pub percentage: Option<PercentSpec>,
    /// Deprecated integer form of `percentage`.
    pub percent: Option<i64>,
}

/// `HTTPFaultInjection.Abort`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct AbortSpec {
    pub http_status: Option<i64>,
    pub grpc_status: Option<String>,
    pub http2_error: Option<IgnoredAny>,
    pub percentage: Option<PercentSpec>,
}
