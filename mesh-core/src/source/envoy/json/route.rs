//! Mirror of `RouteConfiguration`: virtual hosts, routes, route actions,
//! weighted clusters and stream duration (the per-route policies, hedging
//! included, are in `policy`; `typed_per_filter_config`, where the local
//! rate limit and fault injection live, in `filters`). Non-route actions are kept as bare
//! markers, so the conversion can name them in its "unsupported action"
//! error.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::route::v3::{
    self as pb,
    route::Action,
    route_action::{self as ra, ClusterSpecifier},
    weighted_cluster::ClusterWeight as PbClusterWeight,
};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::filters::{FilterConfig, per_filter_configs};
use super::matcher::RouteMatch;
use super::policy::{HashPolicy, HedgePolicy, RequestMirrorPolicy, RetryPolicy};
use super::wkt::{AnyOf, Dur, Int, Metadata, nullable, u32_value};
use super::{each, oneof, opt};
use crate::config::ConfigError;

/// `config.route.v3.RouteConfiguration`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(in crate::source::envoy) struct RouteConfiguration {
    #[serde(deserialize_with = "nullable")]
    pub(in crate::source::envoy) name: String,
    #[serde(alias = "virtualHosts", deserialize_with = "nullable")]
    virtual_hosts: Vec<VirtualHost>,
}

impl RouteConfiguration {
    pub(in crate::source::envoy) fn into_proto(
        self,
    ) -> Result<pb::RouteConfiguration, ConfigError> {
        Ok(pb::RouteConfiguration {
            name: self.name,
            virtual_hosts: each(self.virtual_hosts, "virtual_hosts", VirtualHost::into_proto)?,
            ..Default::default()
        })
    }
}

/// `config.route.v3.VirtualHost`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VirtualHost {
    #[serde(deserialize_with = "nullable")]
    name: String,
    #[serde(deserialize_with = "nullable")]
    domains: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    routes: Vec<Route>,
    #[serde(alias = "retryPolicy")]
    retry_policy: Option<RetryPolicy>,
    #[serde(alias = "hedgePolicy")]
    hedge_policy: Option<HedgePolicy>,
    #[serde(alias = "typedPerFilterConfig", deserialize_with = "nullable")]
    typed_per_filter_config: HashMap<String, AnyOf<FilterConfig>>,
}

impl VirtualHost {
    fn into_proto(self) -> Result<pb::VirtualHost, ConfigError> {
        Ok(pb::VirtualHost {
            name: self.name,
            domains: self.domains,
            routes: each(self.routes, "routes", Route::into_proto)?,
            retry_policy: self.retry_policy.map(RetryPolicy::into_proto),
            hedge_policy: self.hedge_policy.map(HedgePolicy::into_proto),
            typed_per_filter_config: per_filter_configs(self.typed_per_filter_config)?,
            ..Default::default()
        })
    }
}

/// `config.route.v3.Route`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Route {
    #[serde(deserialize_with = "nullable")]
    name: String,
    r#match: Option<RouteMatch>,
    route: Option<RouteAction>,
    redirect: Option<IgnoredAny>,
    #[serde(alias = "directResponse")]
    direct_response: Option<IgnoredAny>,
    #[serde(alias = "filterAction")]
    filter_action: Option<IgnoredAny>,
    #[serde(alias = "nonForwardingAction")]
    non_forwarding_action: Option<IgnoredAny>,
    #[serde(alias = "typedPerFilterConfig", deserialize_with = "nullable")]
    typed_per_filter_config: HashMap<String, AnyOf<FilterConfig>>,
}

impl Route {
    fn into_proto(self) -> Result<pb::Route, ConfigError> {
        let route = opt(self.route, "route", RouteAction::into_proto)?;
        let action = oneof([
            ("route", route.map(Action::Route)),
            (
                "redirect",
                self.redirect.map(|_| Action::Redirect(Default::default())),
            ),
            (
                "direct_response",
                self.direct_response
                    .map(|_| Action::DirectResponse(Default::default())),
            ),
            (
                "filter_action",
                self.filter_action
                    .map(|_| Action::FilterAction(Default::default())),
            ),
            (
                "non_forwarding_action",
                self.non_forwarding_action
                    .map(|_| Action::NonForwardingAction(Default::default())),
            ),
        ])?;
        Ok(pb::Route {
            name: self.name,
            r#match: opt(self.r#match, "match", RouteMatch::into_proto)?,
            action,
            typed_per_filter_config: per_filter_configs(self.typed_per_filter_config)?,
            ..Default::default()
        })
    }
}

/// `config.route.v3.RouteAction`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RouteAction {
    cluster: Option<String>,
    #[serde(alias = "clusterHeader")]
    cluster_header: Option<String>,
    #[serde(alias = "weightedClusters")]
    weighted_clusters: Option<WeightedCluster>,
    #[serde(alias = "clusterSpecifierPlugin")]
    cluster_specifier_plugin: Option<String>,
    #[serde(alias = "metadataMatch")]
    metadata_match: Option<Metadata>,
    timeout: Option<Dur>,
    #[serde(alias = "retryPolicy")]
    retry_policy: Option<RetryPolicy>,
    #[serde(alias = "hedgePolicy")]
    hedge_policy: Option<HedgePolicy>,
    #[serde(alias = "hashPolicy", deserialize_with = "nullable")]
    hash_policy: Vec<HashPolicy>,
    #[serde(alias = "requestMirrorPolicies", deserialize_with = "nullable")]
    request_mirror_policies: Vec<RequestMirrorPolicy>,
    #[serde(alias = "maxStreamDuration")]
    max_stream_duration: Option<MaxStreamDuration>,
}

impl RouteAction {
    fn into_proto(self) -> Result<pb::RouteAction, ConfigError> {
        let cluster_specifier = oneof([
            ("cluster", self.cluster.map(ClusterSpecifier::Cluster)),
            (
                "cluster_header",
                self.cluster_header.map(ClusterSpecifier::ClusterHeader),
            ),
            (
                "weighted_clusters",
                self.weighted_clusters
                    .map(|w| ClusterSpecifier::WeightedClusters(w.into_proto())),
            ),
            (
                "cluster_specifier_plugin",
                self.cluster_specifier_plugin
                    .map(ClusterSpecifier::ClusterSpecifierPlugin),
            ),
        ])?;
        Ok(pb::RouteAction {
            cluster_specifier,
            metadata_match: self.metadata_match.map(Metadata::into_proto),
            timeout: self.timeout.map(|d| d.0),
            retry_policy: self.retry_policy.map(RetryPolicy::into_proto),
            hedge_policy: self.hedge_policy.map(HedgePolicy::into_proto),
            hash_policy: each(self.hash_policy, "hash_policy", HashPolicy::into_proto)?,
            request_mirror_policies: self
                .request_mirror_policies
                .into_iter()
                .map(RequestMirrorPolicy::into_proto)
                .collect(),
            max_stream_duration: self.max_stream_duration.map(|m| ra::MaxStreamDuration {
                max_stream_duration: m.max_stream_duration.map(|d| d.0),
                grpc_timeout_header_max: m.grpc_timeout_header_max.map(|d| d.0),
                grpc_timeout_header_offset: None,
            }),
            ..Default::default()
        })
    }
}

/// `config.route.v3.WeightedCluster`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WeightedCluster {
    #[serde(deserialize_with = "nullable")]
    clusters: Vec<ClusterWeight>,
}

impl WeightedCluster {
    fn into_proto(self) -> pb::WeightedCluster {
        pb::WeightedCluster {
            clusters: self
                .clusters
                .into_iter()
                .map(ClusterWeight::into_proto)
                .collect(),
            ..Default::default()
        }
    }
}

/// `WeightedCluster.ClusterWeight`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ClusterWeight {
    #[serde(deserialize_with = "nullable")]
    name: String,
    #[serde(alias = "clusterHeader", deserialize_with = "nullable")]
    cluster_header: String,
    weight: Option<Int<u32>>,
    #[serde(alias = "metadataMatch")]
    metadata_match: Option<Metadata>,
}

impl ClusterWeight {
    fn into_proto(self) -> PbClusterWeight {
        PbClusterWeight {
            name: self.name,
            cluster_header: self.cluster_header,
            weight: u32_value(self.weight),
            metadata_match: self.metadata_match.map(Metadata::into_proto),
            ..Default::default()
        }
    }
}

/// `RouteAction.MaxStreamDuration`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MaxStreamDuration {
    #[serde(alias = "maxStreamDuration")]
    max_stream_duration: Option<Dur>,
    #[serde(alias = "grpcTimeoutHeaderMax")]
    grpc_timeout_header_max: Option<Dur>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::r#type::v3::fractional_percent::DenominatorType;
    use envoy_types::pb::google::protobuf::UInt32Value;

    #[test]
    fn route_actions_transcribe() {
        let yaml = r#"
name: r
virtualHosts:
- name: vh
  domains: ["*"]
  retryPolicy: {retryOn: 5xx}
  routes:
  - match: {prefix: /}
    route:
      weightedClusters:
        clusters:
        - {name: a, weight: 80, metadataMatch: {filterMetadata: {envoy.lb: {version: v1}}}}
        - {name: b, weight: "20"}
      timeout: 1.5s
      maxStreamDuration: {grpcTimeoutHeaderMax: 2s}
      hashPolicy: [{header: {headerName: x-user}, terminal: true}, {connectionProperties: {sourceIp: true}}]
      requestMirrorPolicies: [{cluster: shadow, runtimeFraction: {defaultValue: {numerator: 5, denominator: TEN_THOUSAND}}}]
  - match: {prefix: /old}
    redirect: {path_redirect: /new}
"#;
        let rc = serde_yaml::from_str::<RouteConfiguration>(yaml)
            .unwrap()
            .into_proto()
            .unwrap();
        let vh = &rc.virtual_hosts[0];
        assert_eq!(vh.retry_policy.as_ref().unwrap().retry_on, "5xx");
        let Some(Action::Route(a)) = &vh.routes[0].action else {
            panic!("{:?}", vh.routes[0]);
        };
        let Some(ClusterSpecifier::WeightedClusters(w)) = &a.cluster_specifier else {
            panic!("{a:?}");
        };
        assert_eq!(w.clusters[1].weight, Some(UInt32Value { value: 20 }));
        assert!(w.clusters[0].metadata_match.is_some());
        assert_eq!(a.timeout.unwrap().nanos, 500_000_000);
        assert_eq!(a.hash_policy.len(), 2);
        let fraction = a.request_mirror_policies[0]
            .runtime_fraction
            .as_ref()
            .unwrap();
        assert_eq!(
            fraction.default_value.unwrap().denominator,
            DenominatorType::TenThousand as i32
        );
        assert!(matches!(vh.routes[1].action, Some(Action::Redirect(_))));
    }

    #[test]
    fn hedging_and_per_filter_configs_transcribe() {
        let yaml = r#"
virtualHosts:
- domains: ["*"]
  hedgePolicy: {hedgeOnPerTryTimeout: true}
  typedPerFilterConfig:
    envoy.filters.http.local_ratelimit:
      "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
      tokenBucket: {maxTokens: 5, fillInterval: 1s}
  routes:
  - match: {prefix: /}
    route: {cluster: a, hedge_policy: {hedge_on_per_try_timeout: false}}
    typed_per_filter_config:
      acme.filter: {"@type": type.googleapis.com/acme.Config, anything: [1]}
"#;
        let rc = serde_yaml::from_str::<RouteConfiguration>(yaml)
            .unwrap()
            .into_proto()
            .unwrap();
        let vh = &rc.virtual_hosts[0];
        assert!(vh.hedge_policy.as_ref().unwrap().hedge_on_per_try_timeout);
        let limit = &vh.typed_per_filter_config["envoy.filters.http.local_ratelimit"];
        assert!(limit.type_url.ends_with(".LocalRateLimit") && !limit.value.is_empty());
        let route = &vh.routes[0];
        let Some(Action::Route(a)) = &route.action else {
            panic!("{route:?}");
        };
        assert!(!a.hedge_policy.as_ref().unwrap().hedge_on_per_try_timeout);
        let other = &route.typed_per_filter_config["acme.filter"];
        assert_eq!(
            (other.type_url.as_str(), other.value.len()),
            ("type.googleapis.com/acme.Config", 0)
        );
    }

    #[test]
    fn conflicting_specifiers_are_located() {
        let yaml = "{virtual_hosts: [{domains: [a], routes: [{match: {prefix: /}, route: {cluster: a, weighted_clusters: {}}}]}]}";
        let e = serde_yaml::from_str::<RouteConfiguration>(yaml)
            .unwrap()
            .into_proto()
            .unwrap_err();
        assert_eq!(
            e.field,
            "virtual_hosts[0].routes[0].route.weighted_clusters"
        );
    }
}
