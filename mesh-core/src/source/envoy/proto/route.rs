//! `RouteConfiguration` → [`RouteTable`]: virtual hosts, routes and their
//! route actions.
//!
//! Only the `route` action is supported: a client has nothing to do with a
//! redirect or a direct response, so a route holding one is rejected rather
//! than silently skipped. Subsets come from `metadata_match` under
//! `envoy.lb`; a weighted cluster's own `metadata_match` is merged over the
//! route's, its keys winning, as Envoy does. A route without `timeout` gets
//! Envoy's 15 s; `0s` disables it. A virtual host's `retry_policy` applies
//! to its routes that have none; so do its local rate limit and fault
//! filter configs in `typed_per_filter_config` (a route's own config
//! replaces the virtual host's whole, as in Envoy).

use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::config::route::v3::{
    Route as PbRoute, RouteAction as PbRouteAction, RouteConfiguration,
    VirtualHost as PbVirtualHost, WeightedCluster, route::Action, route_action::ClusterSpecifier,
    route_action::MaxStreamDuration, weighted_cluster::ClusterWeight,
};

use super::fault::http_fault;
use super::matcher::route_match;
use super::policy::{hash_policy, mirror_policy, retry_policy};
use super::ratelimit::local_rate_limit;
use super::{each, lb_labels, non_empty, opt_duration, required, subset_ref, unsupported};
use crate::config::{
    Backend, ConfigError, Destination, DomainPattern, FaultPolicy, Labels, ResultExt, RetryPolicy,
    Route, RouteAction, RouteTable, VirtualHost, WeightedBackend, WeightedBackends,
};
use crate::resilience::ratelimit::LocalRateLimit;

/// Envoy's route timeout when `timeout` is absent.
pub(super) const DEFAULT_ROUTE_TIMEOUT: Duration = Duration::from_secs(15);

/// Converts a `RouteConfiguration`; errors name `RouteConfiguration "name"`.
pub fn route_table(rc: &RouteConfiguration) -> Result<RouteTable, ConfigError> {
    route_table_named(rc, &rc.name)
        .map_err(|e| e.in_resource(format!("RouteConfiguration {:?}", rc.name)))
}

impl TryFrom<&RouteConfiguration> for RouteTable {
    type Error = ConfigError;

    fn try_from(rc: &RouteConfiguration) -> Result<Self, ConfigError> {
        route_table(rc)
    }
}

/// The table under `name` (a listener's name for an unnamed inline
/// table); errors carry no resource, for the caller to fill in.
pub(super) fn route_table_named(
    rc: &RouteConfiguration,
    name: &str,
) -> Result<RouteTable, ConfigError> {
    let hosts = each(&rc.virtual_hosts, "virtual_hosts", virtual_host)?;
    RouteTable::new(name, hosts).map_err(|e| ConfigError::field(e.field, e.reason))
}

fn virtual_host(vh: &PbVirtualHost) -> Result<VirtualHost, ConfigError> {
    if vh.domains.is_empty() {
        return Err(ConfigError::field(
            "domains",
            "at least one domain is required",
        ));
    }
    let domains = vh
        .domains
        .iter()
        .enumerate()
        .map(|(i, d)| {
            DomainPattern::parse(d)
                .map_err(|e| ConfigError::field(format!("domains[{i}]"), e.reason))
        })
        .collect::<Result<_, _>>()?;
    let host = HostPolicies {
        retry: vh
            .retry_policy
            .as_ref()
            .map(retry_policy)
            .transpose()
            .at("retry_policy")?
            .map(Arc::new),
        rate_limit: local_rate_limit(&vh.typed_per_filter_config)?,
        fault: http_fault(&vh.typed_per_filter_config)?,
        hedge_on_per_try_timeout: vh
            .hedge_policy
            .as_ref()
            .is_some_and(|h| h.hedge_on_per_try_timeout),
    };
    let routes = each(&vh.routes, "routes", |r| route(r, &host))?;
    Ok(VirtualHost {
        name: vh.name.as_str().into(),
        domains,
        routes,
    })
}

/// What a virtual host sets for the routes that do not set their own
/// (one shared rate-limit bucket for all of them, as in Envoy, and one
/// count of active faults).
struct HostPolicies {
    retry: Option<Arc<RetryPolicy>>,
    rate_limit: Option<Arc<LocalRateLimit>>,
    fault: Option<Arc<FaultPolicy>>,
    hedge_on_per_try_timeout: bool,
}

fn route(r: &PbRoute, host: &HostPolicies) -> Result<Route, ConfigError> {
    let matcher = route_match(required(r.r#match.as_ref(), "match")?).at("match")?;
    let unsupported_action = |field: &str, what: &str| {
        ConfigError::field(
            field,
            format!("unsupported action: {what}; a client route needs a `route` action"),
        )
    };
    let action = match &r.action {
        Some(Action::Route(a)) => {
            let mut action = route_action(a, host.retry.as_ref()).at("route")?;
            action.hedge_on_per_try_timeout = match &a.hedge_policy {
                Some(h) => h.hedge_on_per_try_timeout,
                None => host.hedge_on_per_try_timeout,
            };
            action.rate_limit = match local_rate_limit(&r.typed_per_filter_config)? {
                Some(own) => Some(own),
                None => host.rate_limit.clone(),
            };
            action.fault = match http_fault(&r.typed_per_filter_config)? {
                Some(own) => Some(own),
                None => host.fault.clone(),
            }
            .filter(|f| f.injects());
            action
        }
        Some(Action::Redirect(_)) => return Err(unsupported_action("redirect", "redirect")),
        Some(Action::DirectResponse(_)) => {
            return Err(unsupported_action("direct_response", "direct response"));
        }
        Some(Action::FilterAction(_)) => {
            return Err(unsupported_action("filter_action", "filter action"));
        }
        Some(Action::NonForwardingAction(_)) => {
            return Err(unsupported_action(
                "non_forwarding_action",
                "non-forwarding action",
            ));
        }
        None => {
            return Err(ConfigError::field(
                "route",
                "is required: a client route needs a `route` action",
            ));
        }
    };
    Ok(Route {
        name: r.name.as_str().into(),
        matcher,
        action,
    })
}

fn route_action(
    a: &PbRouteAction,
    host_retry: Option<&Arc<RetryPolicy>>,
) -> Result<RouteAction, ConfigError> {
    let route_labels = lb_labels(a.metadata_match.as_ref(), true).at("metadata_match")?;
    let destination = match &a.cluster_specifier {
        Some(ClusterSpecifier::Cluster(name)) => Destination::Backend(Backend {
            cluster: non_empty(name, "cluster")?.into(),
            subset: subset_ref(route_labels),
        }),
        Some(ClusterSpecifier::WeightedClusters(w)) => {
            Destination::Weighted(weighted(w, &route_labels).at("weighted_clusters")?)
        }
        Some(ClusterSpecifier::ClusterHeader(_)) => {
            return Err(unsupported(
                "cluster_header",
                "choosing the cluster by a header",
            ));
        }
        Some(
            ClusterSpecifier::ClusterSpecifierPlugin(_)
            | ClusterSpecifier::InlineClusterSpecifierPlugin(_),
        ) => {
            return Err(unsupported(
                "cluster_specifier_plugin",
                "a cluster specifier plugin",
            ));
        }
        None => {
            return Err(ConfigError::field(
                "",
                "one of cluster or weighted_clusters is required",
            ));
        }
    };
    let mut action = RouteAction::to(destination);
    action.timeout = match opt_duration(a.timeout.as_ref(), "timeout")? {
        None => Some(DEFAULT_ROUTE_TIMEOUT),
        Some(d) => Some(d).filter(|d| !d.is_zero()),
    };
    if let Some(m) = &a.max_stream_duration {
        action.max_stream_duration = max_stream_duration(m).at("max_stream_duration")?;
    }
    action.retry = match &a.retry_policy {
        Some(p) => Some(Arc::new(retry_policy(p).at("retry_policy")?)),
        None => host_retry.cloned(),
    };
    action.hash_policy = each(&a.hash_policy, "hash_policy", hash_policy)?
        .into_iter()
        .flatten()
        .collect();
    action.mirrors = each(
        &a.request_mirror_policies,
        "request_mirror_policies",
        mirror_policy,
    )?;
    Ok(action)
}

/// gRPC's rule: `grpc_timeout_header_max` if set, else
/// `max_stream_duration`; zero means no cap.
fn max_stream_duration(m: &MaxStreamDuration) -> Result<Option<Duration>, ConfigError> {
    let cap = match &m.grpc_timeout_header_max {
        Some(d) => opt_duration(Some(d), "grpc_timeout_header_max")?,
        None => opt_duration(m.max_stream_duration.as_ref(), "max_stream_duration")?,
    };
    Ok(cap.filter(|d| !d.is_zero()))
}

fn weighted(w: &WeightedCluster, route_labels: &Labels) -> Result<WeightedBackends, ConfigError> {
    let arms = each(&w.clusters, "clusters", |c| cluster_weight(c, route_labels))?;
    WeightedBackends::new(arms)
}

fn cluster_weight(
    c: &ClusterWeight,
    route_labels: &Labels,
) -> Result<WeightedBackend, ConfigError> {
    if c.name.is_empty() && !c.cluster_header.is_empty() {
        return Err(unsupported(
            "cluster_header",
            "choosing the cluster by a header",
        ));
    }
    let mut labels = route_labels.clone();
    labels.extend(lb_labels(c.metadata_match.as_ref(), true).at("metadata_match")?);
    Ok(WeightedBackend {
        backend: Backend {
            cluster: non_empty(&c.name, "name")?.into(),
            subset: subset_ref(labels),
        },
        weight: c.weight.map_or(0, |w| w.value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::core::v3::Metadata;
    use envoy_types::pb::envoy::config::route::v3::{
        RedirectAction, RouteMatch, route_match::PathSpecifier,
    };
    use envoy_types::pb::envoy::r#type::matcher::v3::RegexMatcher;
    use envoy_types::pb::google::protobuf::{
        Duration as PbDuration, Struct, UInt32Value, Value, value::Kind,
    };

    fn prefix(p: &str) -> Option<RouteMatch> {
        Some(RouteMatch {
            path_specifier: Some(PathSpecifier::Prefix(p.into())),
            ..Default::default()
        })
    }

    fn to_cluster(name: &str) -> Option<Action> {
        Some(Action::Route(PbRouteAction {
            cluster_specifier: Some(ClusterSpecifier::Cluster(name.into())),
            ..Default::default()
        }))
    }

    fn table(routes: Vec<PbRoute>) -> RouteConfiguration {
        RouteConfiguration {
            name: "local_route".into(),
            virtual_hosts: vec![PbVirtualHost {
                name: "orders".into(),
                domains: vec!["orders".into(), "orders:80".into()],
                routes,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Option<Metadata> {
        let fields = pairs
            .iter()
            .map(|(k, v)| {
                let value = Value {
                    kind: Some(Kind::StringValue((*v).into())),
                };
                ((*k).to_owned(), value)
            })
            .collect();
        let mut md = Metadata::default();
        md.filter_metadata
            .insert("envoy.lb".into(), Struct { fields });
        Some(md)
    }

    #[test]
    fn bad_regex_in_a_proto_route_is_located() {
        let bad = PbRoute {
            r#match: Some(RouteMatch {
                path_specifier: Some(PathSpecifier::SafeRegex(RegexMatcher {
                    regex: "/v[".into(),
                    ..Default::default()
                })),
                ..Default::default()
            }),
            action: to_cluster("orders"),
            ..Default::default()
        };
        let ok = PbRoute {
            r#match: prefix("/"),
            action: to_cluster("orders"),
            ..Default::default()
        };
        let e = route_table(&table(vec![ok.clone(), ok, bad])).unwrap_err();
        assert_eq!(e.resource, r#"RouteConfiguration "local_route""#);
        assert_eq!(e.field, "virtual_hosts[0].routes[2].match.safe_regex");
        assert!(e.reason.contains("invalid regex"), "{e}");
        assert!(RouteTable::try_from(&table(vec![])).is_ok());
    }

    #[test]
    fn weighted_subsets_merge_route_metadata() {
        let arm = |name: &str, weight, md| ClusterWeight {
            name: name.into(),
            weight: Some(UInt32Value { value: weight }),
            metadata_match: md,
            ..Default::default()
        };
        let action = PbRouteAction {
            metadata_match: labels(&[("stage", "prod"), ("version", "any")]),
            cluster_specifier: Some(ClusterSpecifier::WeightedClusters(WeightedCluster {
                clusters: vec![
                    arm("orders", 80, labels(&[("version", "v1")])),
                    arm("orders", 20, None),
                ],
                ..Default::default()
            })),
            timeout: Some(PbDuration::default()),
            ..Default::default()
        };
        let route = PbRoute {
            r#match: prefix("/"),
            action: Some(Action::Route(action)),
            ..Default::default()
        };
        let t = route_table(&table(vec![route])).unwrap();
        let action = &t.virtual_hosts()[0].routes[0].action;
        assert_eq!(action.timeout, None);
        let Destination::Weighted(w) = &action.destination else {
            panic!("not weighted: {:?}", action.destination);
        };
        let names: Vec<_> = w
            .arms()
            .iter()
            .map(|a| a.backend.subset.as_ref().map(|s| s.name.to_string()))
            .collect();
        assert_eq!(
            names,
            [
                Some("stage=prod,version=v1".to_owned()),
                Some("stage=prod,version=any".to_owned())
            ]
        );
    }

    #[test]
    fn route_errors() {
        let redirect = PbRoute {
            r#match: prefix("/"),
            action: Some(Action::Redirect(RedirectAction::default())),
            ..Default::default()
        };
        let e = route_table(&table(vec![redirect])).unwrap_err();
        assert_eq!(e.field, "virtual_hosts[0].routes[0].redirect");
        assert!(e.reason.contains("unsupported action"));

        let zero = PbRoute {
            r#match: prefix("/"),
            action: Some(Action::Route(PbRouteAction {
                cluster_specifier: Some(ClusterSpecifier::WeightedClusters(WeightedCluster {
                    clusters: vec![ClusterWeight {
                        name: "a".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })),
                ..Default::default()
            })),
            ..Default::default()
        };
        let e = route_table(&table(vec![zero])).unwrap_err();
        assert_eq!(
            e.field,
            "virtual_hosts[0].routes[0].route.weighted_clusters.clusters"
        );

        let mut dup = table(vec![]);
        dup.virtual_hosts.push(dup.virtual_hosts[0].clone());
        let e = route_table(&dup).unwrap_err();
        assert_eq!(e.resource, r#"RouteConfiguration "local_route""#);
        assert_eq!(e.field, "virtual_hosts[1].domains[0]");

        let mut nodomain = table(vec![]);
        nodomain.virtual_hosts[0].domains.clear();
        assert_eq!(
            route_table(&nodomain).unwrap_err().field,
            "virtual_hosts[0].domains"
        );
    }

    #[test]
    fn hedging_is_set_per_route_or_inherited_from_the_virtual_host() {
        use envoy_types::pb::envoy::config::route::v3::HedgePolicy;
        let hedge = |on| {
            Some(HedgePolicy {
                hedge_on_per_try_timeout: on,
                ..Default::default()
            })
        };
        let route = |name: &str, own: Option<HedgePolicy>| PbRoute {
            name: name.into(),
            r#match: prefix("/"),
            action: Some(Action::Route(PbRouteAction {
                cluster_specifier: Some(ClusterSpecifier::Cluster("c".into())),
                hedge_policy: own,
                ..Default::default()
            })),
            ..Default::default()
        };
        let mut rc = table(vec![
            route("inherits", None),
            route("opts-out", hedge(false)),
        ]);
        rc.virtual_hosts[0].hedge_policy = hedge(true);
        let t = route_table(&rc).unwrap();
        let hedged: Vec<bool> = t.virtual_hosts()[0]
            .routes
            .iter()
            .map(|r| r.action.hedge_on_per_try_timeout)
            .collect();
        assert_eq!(hedged, [true, false]);
    }

    #[test]
    fn faults_are_inherited_from_the_virtual_host_or_replaced_whole() {
        use super::super::type_url::HTTP_FAULT;
        use envoy_types::pb::envoy::extensions::filters::http::fault::v3::{
            FaultAbort, HttpFault, fault_abort::ErrorType,
        };
        use envoy_types::pb::google::protobuf::Any;
        use prost::Message;
        use std::collections::HashMap;

        let configs = |fault: HttpFault| {
            HashMap::from([(
                "envoy.filters.http.fault".to_owned(),
                Any {
                    type_url: HTTP_FAULT.to_owned(),
                    value: fault.encode_to_vec(),
                },
            )])
        };
        let aborting = |status| HttpFault {
            abort: Some(FaultAbort {
                error_type: Some(ErrorType::HttpStatus(status)),
                ..Default::default()
            }),
            max_active_faults: Some(UInt32Value { value: 1 }),
            ..Default::default()
        };
        let route = |name: &str, own: Option<HttpFault>| PbRoute {
            name: name.into(),
            r#match: prefix("/"),
            action: to_cluster("c"),
            typed_per_filter_config: own.map(configs).unwrap_or_default(),
            ..Default::default()
        };
        let mut rc = table(vec![
            route("inherits", None),
            route("also-inherits", None),
            route("own", Some(aborting(429))),
            route("none", Some(HttpFault::default())),
        ]);
        rc.virtual_hosts[0].typed_per_filter_config = configs(aborting(503));
        let t = route_table(&rc).unwrap();
        let faults: Vec<_> = t.virtual_hosts()[0]
            .routes
            .iter()
            .map(|r| r.action.fault.clone())
            .collect();
        let code = |i: usize| faults[i].as_ref().and_then(|f| f.abort).map(|a| a.0);
        use crate::config::{AbortCode, FaultValue};
        assert_eq!(code(0), Some(FaultValue::Fixed(AbortCode::Http(503))));
        assert_eq!(code(2), Some(FaultValue::Fixed(AbortCode::Http(429))));
        // One policy, so one count of active faults, for the inheritors.
        assert!(matches!(
            (&faults[0], &faults[1]),
            (Some(a), Some(b)) if Arc::ptr_eq(a, b)
        ));
        assert!(faults[3].is_none());
    }
}
