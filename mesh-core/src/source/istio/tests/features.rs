//! The supported features, one scenario each.

use std::time::Duration;

use http::HeaderMap;

use super::{build, head, subsets_rule, virtual_service};
use crate::RequestHead;
use crate::config::{
    AbortCode, ConnectionPool, Destination, FaultValue, Fraction, HashPolicy, HashSource,
    HttpProtocol, LbPolicy, MeshConfig, PathMatch, RetryOn, Route, TcpKeepalive, TlsMode,
};
use crate::routing::select_route;

fn routes<'c>(config: &'c MeshConfig, table: &str) -> &'c [Route] {
    let table = config
        .route_table(table)
        .unwrap_or_else(|| panic!("no table {table}"));
    &table.virtual_hosts()[0].routes
}

fn cluster_of(route: &Route) -> &str {
    match &route.action.destination {
        Destination::Backend(b) => &b.cluster,
        Destination::Weighted(w) => &w.arms()[0].backend.cluster,
    }
}

#[test]
fn multi_port_service_entry() {
    let yaml = head("ServiceEntry", "shop")
        + "spec:
  hosts: [shop.example.com]
  resolution: STATIC
  ports:
  - {number: 80, name: http-web}
  - {number: 9090, name: grpc, protocol: GRPC, targetPort: 19090}
  - {number: 5432, name: tcp-db, protocol: TCP}
  endpoints:
  - address: 10.0.0.1
    ports: {http-web: 8080}
    weight: 3
    locality: us-east1/us-east1-b
  - address: 10.0.0.2
    labels: {zone: b}
";
    let config = build(&yaml);
    let mut listeners: Vec<&str> = config.listeners().map(|l| &*l.name).collect();
    listeners.sort_unstable();
    assert_eq!(listeners, ["shop.example.com:80", "shop.example.com:9090"]);
    assert_eq!(config.clusters().count(), 3);

    let web = config.cluster("outbound|80||shop.example.com").unwrap();
    let ports: Vec<u16> = web.endpoints.iter().map(|e| e.port()).collect();
    assert_eq!(ports, [8080, 80]);
    assert_eq!(web.endpoints[0].weight, 3);
    assert_eq!(&*web.endpoints[0].locality.zone, "us-east1-b");
    assert_eq!(
        web.endpoints[1].labels.get("zone").map(String::as_str),
        Some("b")
    );
    assert_eq!(web.protocol, HttpProtocol::Http1);

    let grpc = config.cluster("outbound|9090||shop.example.com").unwrap();
    assert_eq!(grpc.protocol, HttpProtocol::Http2);
    assert!(grpc.endpoints.iter().all(|e| e.port() == 19090));
    assert!(config.cluster("outbound|5432||shop.example.com").is_some());

    // Default routes: everything to the port's own cluster, Istio retries.
    let route = &routes(&config, "shop.example.com:9090")[0];
    assert_eq!(cluster_of(route), "outbound|9090||shop.example.com");
    let retry = route.action.retry.as_ref().unwrap();
    assert_eq!(
        (retry.num_retries, retry.retriable_status_codes.as_slice()),
        (2, &[503][..])
    );
    assert!(retry.retry_on.contains(RetryOn::GRPC_UNAVAILABLE));
    assert_eq!(route.action.timeout, None);
}

#[test]
fn destination_ports_follow_the_listener() {
    let yaml = head("ServiceEntry", "api")
        + "spec:
  hosts: [api]
  ports: [{number: 80, name: http}, {number: 8080, name: http-admin}]
---
" + &head("VirtualService", "api")
        + "spec:
  hosts: [api]
  http:
  - match:
    - port: 8080
      name: admin
    name: only-admin
    route:
    - destination: {host: api}
  - route:
    - destination: {host: api}
      weight: 100
    - destination: {host: other}
      weight: 0
";
    let config = build(&yaml);
    let on_80 = routes(&config, "api:80");
    assert_eq!(on_80.len(), 1);
    assert_eq!(cluster_of(&on_80[0]), "outbound|80||api");
    // The zero-weight arm is dropped, but the single arm stays a split.
    let on_8080 = routes(&config, "api:8080");
    assert_eq!(on_8080.len(), 2);
    assert_eq!(&*on_8080[0].name, "only-admin.admin");
    assert_eq!(cluster_of(&on_8080[0]), "outbound|8080||api");
    assert_eq!(cluster_of(&on_8080[1]), "outbound|8080||api");
    assert!(matches!(
        on_8080[1].action.destination,
        Destination::Weighted(_)
    ));
    // `other` has weight 0: dropped, as Istio drops it, with no cluster.
    assert!(config.cluster("outbound|80||other").is_none());
}

#[test]
fn matches_translate_like_istio() {
    let yaml = virtual_service(
        "  - name: r
    match:
    - name: a
      uri: {prefix: /API}
      ignoreUriCase: true
      method: {exact: POST}
      withoutHeaders:
        x-debug: {exact: '1'}
    - name: b
      uri: {exact: /health}
      queryParams:
        verbose: {}
      headers:
        x-present: {}
        x-any: {regex: '*'}
    route:
    - destination: {host: order-service}
    timeout: 0s
    retries: {attempts: 0}
",
    );
    let config = build(&yaml);
    let table = config.route_table("order-service:80").unwrap();
    let r = &table.virtual_hosts()[0].routes;
    assert_eq!(r.len(), 2);
    assert_eq!((&*r[0].name, &*r[1].name), ("r.a", "r.b"));
    assert_eq!(r[0].matcher.path, PathMatch::Prefix("/API".into()));
    assert!(!r[0].matcher.case_sensitive);
    assert_eq!(r[1].matcher.path, PathMatch::Exact("/health".into()));
    assert_eq!(r[0].action.timeout, None);
    assert!(r[0].action.retry.is_none());

    let select = |method: &str, path: &str, query: &str, headers: &HeaderMap| {
        let head = RequestHead {
            method,
            scheme: "http",
            authority: "order-service",
            path,
            query,
            headers,
            source_ip: None,
        };
        select_route(table, &head, &mut crate::rng::SeededRng::new(0))
            .ok()
            .map(|i| i.route)
    };
    let none = HeaderMap::new();
    let mut debug = HeaderMap::new();
    debug.insert("x-debug", "1".parse().unwrap());
    let mut present = HeaderMap::new();
    present.insert("x-present", "".parse().unwrap());
    present.insert("x-any", "z".parse().unwrap());
    assert_eq!(select("POST", "/api/orders", "", &none), Some(0));
    assert_eq!(select("GET", "/api/orders", "", &none), None);
    assert_eq!(select("POST", "/api/orders", "", &debug), None);
    assert_eq!(select("GET", "/health", "verbose", &present), Some(1));
    assert_eq!(select("GET", "/health", "verbose", &none), None);
    assert_eq!(select("GET", "/health", "", &present), None);
}

#[test]
fn consistent_hash_and_cluster_policies() {
    let yaml = head("DestinationRule", "sticky")
        + "spec:
  host: cart
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpHeaderName: X-User
        ringHash: {minimumRingSize: 2048}
    connectionPool:
      tcp: {maxConnections: 10, connectTimeout: 2s}
      http: {maxRetries: 4, h2UpgradePolicy: UPGRADE}
    outlierDetection:
      consecutive5xxErrors: 0
      consecutiveGatewayErrors: 3
      baseEjectionTime: 10m
    tls: {mode: ISTIO_MUTUAL}
---
" + &head("VirtualService", "cart")
        + "spec:
  hosts: [front]
  http:
  - route:
    - destination: {host: cart}
";
    let config = build(&yaml);
    let cart = config.cluster("outbound|80||cart").unwrap();
    assert_eq!(
        cart.lb_policy,
        LbPolicy::RingHash {
            min_ring_size: 2048,
            max_ring_size: 8 << 20
        }
    );
    assert_eq!(cart.circuit_breakers.max_connections, 10);
    assert_eq!(cart.circuit_breakers.max_retries, 4);
    assert_eq!(cart.circuit_breakers.max_requests, u32::MAX);
    assert_eq!(cart.connect_timeout, Duration::from_secs(2));
    assert_eq!(cart.protocol, HttpProtocol::Http2);
    assert_eq!(cart.tls, TlsMode::IstioMutual);
    let od = cart.outlier_detection.unwrap();
    assert_eq!(
        (od.consecutive_5xx, od.consecutive_gateway_failure),
        (None, Some(3))
    );
    assert_eq!(od.max_ejection_time, Duration::from_secs(600));

    let want = HashPolicy {
        source: HashSource::Header(http::HeaderName::from_static("x-user")),
        terminal: false,
    };
    // Through a VirtualService of another host, and on cart's default route.
    assert_eq!(
        routes(&config, "front:80")[0].action.hash_policy,
        std::slice::from_ref(&want)
    );
    assert_eq!(routes(&config, "cart:80")[0].action.hash_policy, [want]);
    assert!(config.cluster("outbound|80||front").is_none());
}

#[test]
fn connection_pool_settings() {
    let yaml = head("DestinationRule", "pooled")
        + "spec:
  host: cart
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 10
        maxConnectionDuration: 30m
        tcpKeepalive: {probes: 4, time: 2m, interval: 15s}
      http:
        idleTimeout: 5m
        maxRequestsPerConnection: 1
        maxConcurrentStreams: 128
---
" + &head("DestinationRule", "plain")
        + "spec:
  host: shop
";
    let config = build(&yaml);
    let cart = config.cluster("outbound|80||cart").unwrap();
    let pool = *cart.connection_pool;
    assert_eq!(cart.circuit_breakers.max_connections, 10);
    assert_eq!(
        pool.max_connection_duration,
        Some(Duration::from_secs(1800))
    );
    assert_eq!(
        pool.tcp_keepalive,
        Some(TcpKeepalive {
            probes: Some(4),
            time: Some(Duration::from_secs(120)),
            interval: Some(Duration::from_secs(15)),
        })
    );
    assert_eq!(pool.idle_timeout, Some(Duration::from_secs(300)));
    assert_eq!(pool.max_requests_per_connection.map(|n| n.get()), Some(1));
    assert_eq!(pool.max_concurrent_streams.get(), 128);
    assert_eq!(pool.max_connections_per_host, None);
    // A rule without a connection pool, and a host without a rule, get
    // Istio's defaults (a 1 h idle timeout, unlimited requests).
    let shop = config.cluster("outbound|80||shop").unwrap();
    assert_eq!(*shop.connection_pool, ConnectionPool::default());
    assert_eq!(
        shop.connection_pool.idle_timeout,
        Some(Duration::from_secs(3600))
    );
}

#[test]
fn faults_mirrors_and_retries() {
    let yaml = subsets_rule()
        + "---\n"
        + &virtual_service(
            "  - route:
    - destination: {host: order-service, subset: v1}
    fault:
      delay: {fixedDelay: 1.5s, percentage: {value: 25}}
      abort: {httpStatus: 503, percentage: {value: 0.5}}
    mirrors:
    - destination: {host: shadow, subset: ''}
      percentage: {value: 5}
    - destination: {host: shadow2}
    retries: {attempts: 4, retryOn: '503,gateway-error'}
",
        );
    let config = build(&yaml);
    let action = &routes(&config, "order-service:80")[0].action;
    let fault = action.fault.as_ref().unwrap();
    assert_eq!(
        fault.delay,
        Some((
            FaultValue::Fixed(Duration::from_millis(1500)),
            Fraction::new(25, 100)
        ))
    );
    assert_eq!(
        fault.abort,
        Some((
            FaultValue::Fixed(AbortCode::Http(503)),
            Fraction::new(5, 1000)
        ))
    );
    let mirrors: Vec<(&str, u32)> = action
        .mirrors
        .iter()
        .map(|m| (&*m.backend.cluster, m.fraction.per_million()))
        .collect();
    assert_eq!(
        mirrors,
        [
            ("outbound|80||shadow", 50_000),
            ("outbound|80||shadow2", 1_000_000)
        ]
    );
    let retry = action.retry.as_ref().unwrap();
    assert_eq!(retry.num_retries, 4);
    assert_eq!(
        retry.retry_on,
        RetryOn::GATEWAY_ERROR | RetryOn::RETRIABLE_STATUS_CODES
    );
    assert_eq!(retry.retriable_status_codes, [503]);
}

#[test]
fn gateway_only_configuration_is_skipped() {
    let yaml = head("VirtualService", "edge")
        + "spec:
  hosts: [order-service]
  gateways: [istio-system/ingress]
  http:
  - redirect: {uri: /elsewhere}
---
" + &virtual_service(
        "  - match:
    - gateways: [istio-system/ingress]
    route:
    - destination: {host: gateway-backend}
",
    );
    let config = build(&yaml);
    // The only match block is gateway-only: the mesh gets the default route.
    let r = routes(&config, "order-service:80");
    assert_eq!(r.len(), 1);
    assert_eq!(&*r[0].name, "default");
    assert_eq!(config.clusters().count(), 1);
}
