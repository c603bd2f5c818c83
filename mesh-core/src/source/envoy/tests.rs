//! End-to-end tests of the Envoy source: whole documents in YAML and in
//! camelCase JSON load into the same model; bad documents are rejected
//! with the resource and field named; nothing panics on arbitrary input.

use std::time::Duration;

use super::load;
use crate::config::{
    AbortCode, ConfigError, Destination, FaultValue, Fraction, HashSource, HealthStatus,
    Http2Keepalive, HttpProtocol, LbPolicy, MeshConfig, PathMatch, RetryBudget, RetryOn,
    TcpKeepalive,
};

/// A document using every supported feature (also the seed of the
/// mutation property test).
pub(super) const DOCUMENT: &str = r#"
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: orders:80
  api_listener:
    api_listener:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: orders
      route_config:
        name: orders-routes
        virtual_hosts:
        - name: orders
          domains: ["orders", "orders:80"]
          typed_per_filter_config:
            envoy.filters.http.local_ratelimit:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: orders
              token_bucket: {max_tokens: 100, tokens_per_fill: 10, fill_interval: 1s}
              filter_enabled: {default_value: {numerator: 100, denominator: HUNDRED}}
              filter_enforced: {default_value: {numerator: 50, denominator: HUNDRED}}
          routes:
          - name: canary
            match:
              prefix: /
              headers:
              - name: x-canary
                string_match: {exact: always}
            route:
              cluster: orders
              metadata_match: {filter_metadata: {envoy.lb: {version: v2}}}
          - name: split
            match: {prefix: /}
            route:
              weighted_clusters:
                clusters:
                - name: orders
                  weight: 80
                  metadata_match: {filter_metadata: {envoy.lb: {version: v1}}}
                - name: orders
                  weight: 20
                  metadata_match: {filter_metadata: {envoy.lb: {version: v2}}}
              timeout: 0.8s
              retry_policy:
                retry_on: 5xx,reset,connect-failure
                num_retries: 3
                per_try_timeout: 0.25s
                retry_back_off: {base_interval: 0.05s, max_interval: 1s}
              hash_policy:
              - header: {header_name: x-user}
                terminal: true
              hedge_policy: {hedge_on_per_try_timeout: true}
            typed_per_filter_config:
              envoy.filters.http.local_ratelimit:
                "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                token_bucket: {max_tokens: 5, fill_interval: 0.5s}
                filter_enabled: {default_value: {numerator: 1, denominator: MILLION}}
              envoy.filters.http.fault:
                "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
                abort: {http_status: 503}
      http_filters:
      - name: envoy.filters.http.router
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: payments:9090
  api_listener:
    api_listener:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      rds: {route_config_name: payments-routes}
- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: payments-routes
  virtual_hosts:
  - name: payments
    domains: ["*"]
    routes:
    - match: {safe_regex: {regex: "/v[0-9]+/pay"}}
      route:
        cluster: payments
        request_mirror_policies:
        - cluster: orders
          runtime_fraction: {default_value: {numerator: 10, denominator: HUNDRED}}
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: orders
  type: STATIC
  connect_timeout: 1s
  lb_policy: LEAST_REQUEST
  least_request_lb_config: {choice_count: 3}
  circuit_breakers:
    thresholds:
    - max_connections: 100
      max_pending_requests: 10
      max_requests: 1000
      max_retries: 5
      retry_budget: {budget_percent: {value: 25.5}, min_retry_concurrency: 4}
    per_host_thresholds: [{max_connections: 4}]
  common_http_protocol_options: {idle_timeout: 0s, max_connection_duration: 600s}
  max_requests_per_connection: 100
  upstream_connection_options:
    tcp_keepalive: {keepalive_probes: 3, keepalive_time: 60, keepalive_interval: 10}
  outlier_detection: {consecutive_5xx: 7, base_ejection_time: 15s}
  load_assignment:
    cluster_name: orders
    endpoints:
    - locality: {region: eu-west1, zone: eu-west1-b}
      lb_endpoints:
      - endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 8080}}}
        metadata: {filter_metadata: {envoy.lb: {version: v1}}}
      - endpoint: {address: {socket_address: {address: 10.0.0.2, port_value: 8080}}}
        metadata: {filter_metadata: {envoy.lb: {version: v1}}}
        load_balancing_weight: 2
      - endpoint: {address: {socket_address: {address: 10.0.0.3, port_value: 8080}}}
        metadata: {filter_metadata: {envoy.lb: {version: v2}}}
- "@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment
  cluster_name: payments-v1
  endpoints:
  - priority: 1
    lb_endpoints:
    - endpoint: {address: {socket_address: {address: payments.internal, port_value: 9090}}}
      health_status: HEALTHY
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: payments
  type: EDS
  eds_cluster_config: {service_name: payments-v1}
  lb_policy: RING_HASH
  transport_socket:
    name: envoy.transport_sockets.tls
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
      sni: payments.internal
  typed_extension_protocol_options:
    envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
      "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
      common_http_protocol_options: {idle_timeout: 90s, max_requests_per_connection: 1000}
      explicit_http_config:
        http2_protocol_options:
          max_concurrent_streams: 64
          connection_keepalive: {interval: 30s, timeout: 5s}
"#;

fn build(text: &str) -> Result<MeshConfig, ConfigError> {
    load(text)?.build()
}

/// What [`DOCUMENT`] must become, whichever spelling it was loaded from.
fn check(config: &MeshConfig) {
    let listener = config.listener("orders:80").expect("listener");
    assert_eq!(&*listener.route_table, "orders-routes");
    let table = config.route_table("orders-routes").expect("inline table");
    let vh = &table.virtual_hosts()[table.virtual_host_for("orders:80").unwrap()];
    assert_eq!(vh.routes.len(), 2);

    let canary = &vh.routes[0];
    assert_eq!(&*canary.name, "canary");
    assert_eq!(canary.matcher.headers.len(), 1);
    let Destination::Backend(b) = &canary.action.destination else {
        panic!("{:?}", canary.action.destination);
    };
    let subset = b.subset.as_ref().unwrap();
    assert_eq!((&*b.cluster, &*subset.name), ("orders", "version=v2"));
    assert_eq!(canary.action.timeout, Some(Duration::from_secs(15)));
    assert!(!canary.action.hedge_on_per_try_timeout);
    // The virtual host's limit, for the route that sets none.
    let host_limit = canary.action.rate_limit.as_ref().expect("host rate limit");
    let bucket = host_limit.bucket.config();
    assert_eq!(
        (
            bucket.max_tokens,
            bucket.tokens_per_fill,
            bucket.fill_interval
        ),
        (100, 10, Duration::from_secs(1))
    );
    assert_eq!(host_limit.enabled.per_million(), 1_000_000);
    assert_eq!(host_limit.enforced.per_million(), 500_000);

    let split = &vh.routes[1].action;
    let Destination::Weighted(w) = &split.destination else {
        panic!("{:?}", split.destination);
    };
    let arms: Vec<_> = w
        .arms()
        .iter()
        .map(|a| {
            (
                a.weight,
                a.backend.subset.as_ref().unwrap().labels["version"].as_str(),
            )
        })
        .collect();
    assert_eq!(arms, [(80, "v1"), (20, "v2")]);
    assert_eq!(w.total(), 100);
    assert_eq!(split.timeout, Some(Duration::from_millis(800)));
    let retry = split.retry.as_ref().unwrap();
    assert!(
        retry
            .retry_on
            .contains(RetryOn::FIVE_XX | RetryOn::RESET | RetryOn::CONNECT_FAILURE)
    );
    assert_eq!(retry.num_retries, 3);
    assert_eq!(retry.per_try_timeout, Some(Duration::from_millis(250)));
    assert_eq!(retry.backoff.base_interval, Duration::from_millis(50));
    assert_eq!(retry.backoff.max_interval, Duration::from_secs(1));
    assert_eq!(
        split.hash_policy[0].source,
        HashSource::Header(http::HeaderName::from_static("x-user"))
    );
    assert!(split.hash_policy[0].terminal);
    assert!(split.hedge_on_per_try_timeout);
    // The route's own fault (no percentage: 0 %, as in Envoy) and limit.
    let fault = split.fault.as_ref().expect("route fault");
    assert_eq!(
        fault.abort,
        Some((FaultValue::Fixed(AbortCode::Http(503)), Fraction::new(0, 1)))
    );
    let limit = split.rate_limit.as_ref().expect("route rate limit");
    let bucket = limit.bucket.config();
    assert_eq!(
        (
            bucket.max_tokens,
            bucket.tokens_per_fill,
            bucket.fill_interval
        ),
        (5, 1, Duration::from_millis(500))
    );
    assert_eq!(limit.enabled.per_million(), 1);
    assert_eq!(limit.enforced.per_million(), 0);

    let pay = config.route_table("payments-routes").unwrap();
    let route = &pay.virtual_hosts()[0].routes[0];
    assert!(matches!(&route.matcher.path, PathMatch::Regex(r) if r.is_match("/v2/pay")));
    assert_eq!(route.action.mirrors[0].fraction.per_million(), 100_000);
    assert_eq!(
        &*config.listener("payments:9090").unwrap().route_table,
        "payments-routes"
    );

    let orders = config.cluster("orders").unwrap();
    assert_eq!(orders.lb_policy, LbPolicy::LeastRequest { choice_count: 3 });
    assert_eq!(orders.connect_timeout, Duration::from_secs(1));
    let cb = orders.circuit_breakers;
    assert_eq!(
        (
            cb.max_connections,
            cb.max_pending_requests,
            cb.max_requests,
            cb.max_retries
        ),
        (100, 10, 1000, 5)
    );
    assert_eq!(
        cb.retry_budget,
        Some(RetryBudget {
            budget_percent: 25.5,
            min_retry_concurrency: 4,
        })
    );
    let od = orders.outlier_detection.unwrap();
    assert_eq!(od.consecutive_5xx, Some(7));
    assert_eq!(od.base_ejection_time, Duration::from_secs(15));
    let endpoints: Vec<_> = orders
        .endpoints
        .iter()
        .map(|e| (e.authority(), e.weight, e.labels["version"].as_str()))
        .collect();
    assert_eq!(
        endpoints,
        [
            ("10.0.0.1:8080", 1, "v1"),
            ("10.0.0.2:8080", 2, "v1"),
            ("10.0.0.3:8080", 1, "v2")
        ]
    );
    assert_eq!(&*orders.endpoints[0].locality.zone, "eu-west1-b");
    let pool = *orders.connection_pool;
    assert_eq!(pool.idle_timeout, None);
    assert_eq!(pool.max_connection_duration, Some(Duration::from_secs(600)));
    assert_eq!(pool.max_requests_per_connection.map(|n| n.get()), Some(100));
    assert_eq!(pool.max_connections_per_host.map(|n| n.get()), Some(4));
    assert_eq!(
        pool.tcp_keepalive,
        Some(TcpKeepalive {
            probes: Some(3),
            time: Some(Duration::from_secs(60)),
            interval: Some(Duration::from_secs(10)),
        })
    );
    assert_eq!(orders.protocol, HttpProtocol::Http1);

    let payments = config.cluster("payments").unwrap();
    assert_eq!(payments.lb_policy, LbPolicy::RING_HASH);
    assert_eq!(payments.tls, crate::config::TlsMode::Simple);
    assert_eq!(payments.protocol, HttpProtocol::Http2);
    assert_eq!(payments.endpoints.len(), 1);
    assert_eq!(payments.endpoints[0].authority(), "payments.internal:9090");
    assert_eq!(payments.endpoints[0].health, HealthStatus::Healthy);
    assert_eq!(payments.endpoints[0].priority, 1);
    let pool = *payments.connection_pool;
    assert_eq!(pool.idle_timeout, Some(Duration::from_secs(90)));
    assert_eq!(
        pool.max_requests_per_connection.map(|n| n.get()),
        Some(1000)
    );
    assert_eq!(pool.max_concurrent_streams.get(), 64);
    assert_eq!(
        pool.http2_keepalive,
        Some(Http2Keepalive {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
        })
    );
    assert_eq!(pool.max_connection_duration, None);
    assert_eq!(pool.tcp_keepalive, None);
}

#[test]
fn a_full_yaml_document_loads() {
    check(&build(DOCUMENT).unwrap());
}

/// proto3 JSON's lowerCamelCase spelling of a snake_case field name.
fn camel(key: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in key.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

fn camel_keys(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| (camel(&k), camel_keys(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        serde_json::Value::Array(items) => items.into_iter().map(camel_keys).collect(),
        other => other,
    }
}

#[test]
fn the_same_document_as_camel_case_json_loads() {
    let value: serde_json::Value = serde_yaml::from_str(DOCUMENT).unwrap();
    let json = serde_json::to_string_pretty(&camel_keys(value)).unwrap();
    for spelled in [
        "virtualHosts",
        "weightedClusters",
        "consecutive5xx",
        "lbEndpoints",
        "\"@type\"",
        "perHostThresholds",
        "commonHttpProtocolOptions",
        "maxRequestsPerConnection",
        "maxConcurrentStreams",
        "connectionKeepalive",
        "keepaliveProbes",
        "typedPerFilterConfig",
        "tokenBucket",
        "filterEnforced",
        "hedgePolicy",
        "hedgeOnPerTryTimeout",
        "retryBudget",
        "budgetPercent",
        "minRetryConcurrency",
    ] {
        assert!(json.contains(spelled), "{spelled} missing from {json}");
    }
    assert!(!json.contains("virtual_hosts"));
    check(&build(&json).unwrap());
}

#[test]
fn static_resources_and_multiple_documents() {
    let text = r#"
static_resources:
  listeners:
  - name: orders:80
    api_listener:
      api_listener:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        route_config:
          virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: orders}}]}]
---
staticResources:
  clusters:
  - name: orders
    loadAssignment: {endpoints: [{lbEndpoints: [{endpoint: {address: {socketAddress: {address: 127.0.0.1, portValue: 80}}}}]}]}
"#;
    let config = build(text).unwrap();
    // An unnamed inline table takes the listener's name.
    assert_eq!(
        &*config.listener("orders:80").unwrap().route_table,
        "orders:80"
    );
    assert_eq!(config.cluster("orders").unwrap().endpoints.len(), 1);
}

/// The error of loading and building `text`.
fn error(text: &str) -> ConfigError {
    build(text).expect_err("the document must be rejected")
}

/// A document with one route configuration `r` whose only route is
/// `route` (YAML flow), and a cluster `orders`.
fn with_route(route: &str) -> String {
    format!(
        r#"
resources:
- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: r
  virtual_hosts: [{{name: vh, domains: ["*"], routes: [{route}]}}]
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: orders
"#
    )
}

/// The key and type URL of the upstream `HttpProtocolOptions` extension.
const HTTP_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
const HTTP_OPTIONS_URL: &str =
    "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// The key and type URL of the local rate limit filter's config.
const RATE_LIMIT: &str = "envoy.filters.http.local_ratelimit";
const RATE_LIMIT_URL: &str =
    "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";

/// A `typed_per_filter_config` (YAML flow) holding a local rate limit
/// with `fields`.
fn rate_limit(fields: &str) -> String {
    format!("{{{RATE_LIMIT}: {{'@type': {RATE_LIMIT_URL}, {fields}}}}}")
}

/// A `typed_per_filter_config` holding an `HTTPFault` with `fields`.
fn fault(fields: &str) -> String {
    format!(
        "{{envoy.filters.http.fault: {{'@type': type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault, {fields}}}}}"
    )
}

/// A document with one route configuration `r` whose only virtual host
/// has the extra fields `fields` and one route to `orders`.
fn with_host(fields: &str) -> String {
    format!(
        r#"
resources:
- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: r
  virtual_hosts: [{{name: vh, domains: ["*"], {fields}, routes: [{{match: {{prefix: /}}, route: {{cluster: orders}}}}]}}]
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: orders
"#
    )
}

/// A document with one cluster `c` whose extra fields are `fields`.
fn with_cluster(fields: &str) -> String {
    format!(
        r#"
resources:
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: c
  {fields}
"#
    )
}

#[test]
fn bad_documents_name_resource_and_field() {
    let cases = [
        (
            with_route(r#"{match: {safe_regex: {regex: "/v(["}}, route: {cluster: orders}}"#),
            r#"RouteConfiguration "r""#,
            "virtual_hosts[0].routes[0].match.safe_regex",
        ),
        (
            with_route(
                "{match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: orders, weight: 0}]}}}",
            ),
            r#"RouteConfiguration "r""#,
            "virtual_hosts[0].routes[0].route.weighted_clusters.clusters",
        ),
        (
            with_route("{match: {prefix: /}, route: {cluster: nowhere}}"),
            r#"RouteConfiguration "r""#,
            "virtual_hosts[0].routes[0].route",
        ),
        (
            with_route("{match: {prefix: /}, direct_response: {status: 200}}"),
            r#"RouteConfiguration "r""#,
            "virtual_hosts[0].routes[0].direct_response",
        ),
        (
            with_cluster(
                "load_assignment: {endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 70000}}}}]}]}",
            ),
            r#"Cluster "c""#,
            "load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value",
        ),
        (with_cluster("lb_policy: MAGLEV"), r#"Cluster "c""#, "lb_policy"),
        (
            format!("{}\n- {{'@type': type.googleapis.com/envoy.config.cluster.v3.Cluster, name: c}}", with_cluster("")),
            r#"Cluster "c""#,
            "name",
        ),
        (
            with_cluster("type: EDS\n  eds_cluster_config: {service_name: c-v1}"),
            r#"Cluster "c""#,
            "eds_cluster_config.service_name",
        ),
        (
            with_cluster(&format!(
                "typed_extension_protocol_options: {{{HTTP_OPTIONS}: {{'@type': {HTTP_OPTIONS_URL}, explicit_http_config: {{http2_protocol_options: {{max_concurrent_streams: 0}}}}}}}}"
            )),
            r#"Cluster "c""#,
            r#"typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http2_protocol_options.max_concurrent_streams"#,
        ),
        (
            with_cluster("http2_protocol_options: {connection_keepalive: {interval: 0s}}"),
            r#"Cluster "c""#,
            "http2_protocol_options.connection_keepalive.interval",
        ),
        (
            with_cluster("upstream_connection_options: {tcp_keepalive: {keepalive_time: 0}}"),
            r#"Cluster "c""#,
            "upstream_connection_options.tcp_keepalive.keepalive_time",
        ),
        (
            with_cluster("circuit_breakers: {per_host_thresholds: [{max_connections: 2, max_requests: 5}]}"),
            r#"Cluster "c""#,
            "circuit_breakers.per_host_thresholds[0].max_requests",
        ),
        (
            with_route(&format!(
                "{{match: {{prefix: /}}, route: {{cluster: orders}}, typed_per_filter_config: {}}}",
                rate_limit("token_bucket: {max_tokens: 0, fill_interval: 1s}")
            )),
            r#"RouteConfiguration "r""#,
            r#"virtual_hosts[0].routes[0].typed_per_filter_config["envoy.filters.http.local_ratelimit"].token_bucket.max_tokens"#,
        ),
        (
            with_host(&format!("typedPerFilterConfig: {}", rate_limit("statPrefix: vh"))),
            r#"RouteConfiguration "r""#,
            r#"virtual_hosts[0].typed_per_filter_config["envoy.filters.http.local_ratelimit"].token_bucket"#,
        ),
        (
            with_host(&format!(
                "typed_per_filter_config: {}",
                rate_limit(
                    "token_bucket: {max_tokens: 1, fill_interval: 1s}, filter_enforced: {default_value: {numerator: 1, denominator: 7}}"
                )
            )),
            r#"RouteConfiguration "r""#,
            r#"virtual_hosts[0].typed_per_filter_config["envoy.filters.http.local_ratelimit"].filter_enforced.default_value.denominator"#,
        ),
        (
            with_host(&format!(
                "typed_per_filter_config: {}",
                fault("abort: {percentage: {numerator: 5}}")
            )),
            r#"RouteConfiguration "r""#,
            r#"virtual_hosts[0].typed_per_filter_config["envoy.filters.http.fault"].abort"#,
        ),
        (
            with_route(&format!(
                "{{match: {{prefix: /}}, route: {{cluster: orders}}, typed_per_filter_config: {}}}",
                fault("delay: {header_delay: {}, percentage: {numerator: 101}}")
            )),
            r#"RouteConfiguration "r""#,
            r#"virtual_hosts[0].routes[0].typed_per_filter_config["envoy.filters.http.fault"].delay.percentage.numerator"#,
        ),
        (
            with_route(&format!(
                "{{match: {{prefix: /}}, route: {{cluster: orders}}, typed_per_filter_config: {}}}",
                fault("abort: {http_status: 503, header_abort: {}}")
            )),
            r#"RouteConfiguration "r""#,
            r#"virtual_hosts[0].routes[0].typed_per_filter_config["envoy.filters.http.fault"].abort.header_abort"#,
        ),
        (
            with_host(&format!(
                "typed_per_filter_config: {}",
                fault("abort: {http_status: 503}, response_rate_limit: {fixed_limit: {limit_kbps: 8}}")
            )),
            r#"RouteConfiguration "r""#,
            r#"virtual_hosts[0].typed_per_filter_config["envoy.filters.http.fault"].response_rate_limit"#,
        ),
        (
            with_cluster("circuit_breakers: {thresholds: [{retry_budget: {budget_percent: {value: 150}}}]}"),
            r#"Cluster "c""#,
            "circuit_breakers.thresholds.retry_budget.budget_percent",
        ),
        (
            with_cluster("circuitBreakers: {thresholds: [{retryBudget: {budgetPercent: {value: 'NaN'}}}]}"),
            r#"Cluster "c""#,
            "circuit_breakers.thresholds.retry_budget.budget_percent",
        ),
        (
            with_cluster("circuitBreakers: {perHostThresholds: [{maxConnections: 2, retryBudget: {}}]}"),
            r#"Cluster "c""#,
            "circuit_breakers.per_host_thresholds[0].retry_budget",
        ),
        (
            "resources: [{'@type': type.googleapis.com/envoy.config.listener.v3.Listener, name: orders}]".to_owned(),
            r#"Listener "orders""#,
            "name",
        ),
        (
            "resources: [{'@type': type.googleapis.com/envoy.config.listener.v3.Listener, name: 'orders:80', address: {}}]".to_owned(),
            r#"Listener "orders:80""#,
            "api_listener",
        ),
        (
            "resources: [{'@type': type.googleapis.com/envoy.config.core.v3.Secret, name: s}]".to_owned(),
            "Envoy configuration",
            "resources[0]",
        ),
    ];
    for (text, resource, field) in cases {
        let e = error(&text);
        assert_eq!(
            (e.resource.as_str(), e.field.as_str()),
            (resource, field),
            "{e}\n{text}"
        );
    }
    let e = error(&with_cluster("lb_policy: MAGLEV"));
    assert!(e.reason.contains("MAGLEV"), "{e}");
    let e = error(&with_route(
        "{match: {prefix: /}, redirect: {path_redirect: /x}}",
    ));
    assert!(e.reason.contains("unsupported action"), "{e}");
}

#[test]
fn hedging_rate_limits_and_retry_budgets_from_a_file() {
    let limit = rate_limit("tokenBucket: {maxTokens: 3, tokensPerFill: 3, fillInterval: 2s}");
    let own = rate_limit("token_bucket: {max_tokens: 9, fill_interval: 0.1s}");
    let text = format!(
        r#"
resources:
- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: r
  virtualHosts:
  - name: vh
    domains: ["*"]
    hedgePolicy: {{hedgeOnPerTryTimeout: true}}
    typedPerFilterConfig: {limit}
    routes:
    - {{match: {{prefix: /a}}, route: {{cluster: orders}}}}
    - {{match: {{prefix: /b}}, route: {{cluster: orders}}}}
    - match: {{prefix: /}}
      route: {{cluster: orders, hedgePolicy: {{hedgeOnPerTryTimeout: false}}}}
      typedPerFilterConfig: {own}
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: orders
  circuitBreakers: {{thresholds: [{{retryBudget: {{minRetryConcurrency: 10}}}}]}}
"#
    );
    let config = build(&text).unwrap();
    let routes = &config.route_table("r").unwrap().virtual_hosts()[0].routes;
    let hedged: Vec<bool> = routes
        .iter()
        .map(|r| r.action.hedge_on_per_try_timeout)
        .collect();
    assert_eq!(hedged, [true, true, false]);
    let limits: Vec<_> = routes
        .iter()
        .map(|r| r.action.rate_limit.clone().expect("a rate limit"))
        .collect();
    // The virtual host's routes share its one bucket, as in Envoy.
    assert!(std::sync::Arc::ptr_eq(&limits[0], &limits[1]));
    assert_eq!(limits[0].bucket.config().max_tokens, 3);
    assert_eq!(
        limits[0].bucket.config().fill_interval,
        Duration::from_secs(2)
    );
    assert_eq!(limits[2].bucket.config().max_tokens, 9);
    assert_eq!(limits[2].bucket.config().tokens_per_fill, 1);
    assert_eq!(
        config
            .cluster("orders")
            .unwrap()
            .circuit_breakers
            .retry_budget,
        Some(RetryBudget {
            budget_percent: 20.0,
            min_retry_concurrency: 10,
        })
    );
}

#[test]
fn malformed_text_names_the_input_and_position() {
    let e = error("resources:\n  - {name: [unclosed\n");
    assert_eq!(
        (e.resource.as_str(), e.field.as_str()),
        ("Envoy configuration", "")
    );
    assert!(e.reason.contains("line 2"), "{e}");

    // A well-formed document with a value of the wrong type: serde's path
    // and position.
    let e = error(&with_cluster("connect_timeout: 5 minutes"));
    assert_eq!(e.resource, "Envoy configuration");
    assert_eq!(e.field, "resources[0].connect_timeout");
    assert!(
        e.reason.contains("invalid duration") && e.reason.contains("line 5"),
        "{e}"
    );
    let e = error(&with_cluster("lb_policy: FASTEST"));
    assert_eq!(e.field, "resources[0].lb_policy");
    let e = error(&with_cluster(
        "circuit_breakers: {thresholds: [{retry_budget: {budget_percent: {value: lots}}}]}",
    ));
    assert_eq!(
        e.field,
        "resources[0].circuit_breakers.thresholds[0].retry_budget.budget_percent.value"
    );
    let e = error(&with_route(
        "{match: {prefix: /}, route: {cluster: orders, hedge_policy: {hedge_on_per_try_timeout: often}}}",
    ));
    assert_eq!(
        e.field,
        "resources[0].virtual_hosts[0].routes[0].route.hedge_policy.hedge_on_per_try_timeout"
    );
    let e = error(&with_route(&format!(
        "{{match: {{prefix: /}}, route: {{cluster: orders}}, typed_per_filter_config: {}}}",
        rate_limit("token_bucket: {max_tokens: -1}")
    )));
    assert_eq!(
        e.field,
        "resources[0].virtual_hosts[0].routes[0].typed_per_filter_config.envoy.filters.http.local_ratelimit.token_bucket.max_tokens"
    );

    let e = error("apiVersion: networking.istio.io/v1\nkind: VirtualService\n");
    assert!(e.reason.contains("no Envoy resources"), "{e}");
    assert!(error("").reason.contains("no Envoy resources"));
    let e = super::load_file("/nonexistent/envoy.yaml").unwrap_err();
    assert!(e.resource.contains("/nonexistent/envoy.yaml") && e.reason.contains("cannot read"));
}

#[test]
fn fractional_and_grpc_route_matches_are_kept() {
    let route = "{match: {prefix: /, grpc: {}, runtimeFraction: {defaultValue: {numerator: 5, \
                 denominator: HUNDRED}}}, route: {cluster: orders}}";
    let config = build(&with_route(route)).unwrap();
    let table = config.route_table("r").unwrap();
    let matcher = &table.virtual_hosts()[0].routes[0].matcher;
    assert!(matcher.grpc_only);
    assert_eq!(matcher.fraction.map(|f| f.per_million()), Some(50_000));
    let e = error(&with_route(
        "{match: {prefix: /, runtime_fraction: {runtime_key: k}}, route: {cluster: orders}}",
    ));
    assert_eq!(
        e.field,
        "virtual_hosts[0].routes[0].match.runtime_fraction.default_value"
    );
}

#[test]
fn deprecated_http2_options_speak_http2_and_set_the_pool() {
    let config = build(&with_cluster(
        "http2ProtocolOptions: {maxConcurrentStreams: '16', connectionKeepalive: {interval: 10s}}",
    ))
    .unwrap();
    let c = config.cluster("c").unwrap();
    assert_eq!(c.protocol, HttpProtocol::Http2);
    assert_eq!(c.connection_pool.max_concurrent_streams.get(), 16);
    assert_eq!(
        c.connection_pool.http2_keepalive,
        Some(Http2Keepalive {
            interval: Duration::from_secs(10),
            timeout: Http2Keepalive::DEFAULT_TIMEOUT,
        })
    );
    let e = error(&with_cluster(
        "common_http_protocol_options: {max_requests_per_connection: 2}\n  max_requests_per_connection: 3",
    ));
    assert_eq!(e.field, "max_requests_per_connection");
}
