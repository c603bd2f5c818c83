//! The shared fixtures load as they are, into what they describe.

use std::collections::BTreeMap;
use std::time::Duration;

use http::HeaderMap;

use super::{build, fixture};
use crate::RequestHead;
use crate::config::{
    Destination, HeaderMatcher, HeaderRule, HttpProtocol, LbPolicy, RetryOn, StringMatcher,
};
use crate::routing::select_route;

fn labels(version: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("version".to_owned(), version.to_owned())])
}

#[test]
fn order_service_routes() {
    let config = build(&fixture("order-service.yaml"));
    let listener = config.listener("order-service:80").expect("listener");
    assert_eq!(&*listener.route_table, "order-service:80");
    assert_eq!(config.listeners().count(), 1);
    let table = config.route_table("order-service:80").expect("table");
    let vh = &table.virtual_hosts()[0];
    assert_eq!(vh.routes.len(), 2);

    // First: the canary header pins subset v2.
    let canary = &vh.routes[0];
    let want = HeaderMatcher::new(
        "x-canary",
        HeaderRule::Value(StringMatcher::exact("always")),
        false,
        false,
    )
    .unwrap();
    assert_eq!(canary.matcher.headers, [want]);
    let Destination::Backend(backend) = &canary.action.destination else {
        panic!("single destination expected");
    };
    assert_eq!(&*backend.cluster, "outbound|80||order-service");
    let subset = backend.subset.as_ref().expect("subset");
    assert_eq!(&*subset.name, "v2");
    assert_eq!(*subset.labels, labels("v2"));

    // Second: 80/20, 800 ms, three retries of 250 ms on 5xx/reset/connect.
    let split = &vh.routes[1];
    let Destination::Weighted(arms) = &split.action.destination else {
        panic!("weighted destination expected");
    };
    let got: Vec<(&str, u32)> = arms
        .arms()
        .iter()
        .map(|a| (&*a.backend.subset.as_ref().unwrap().name, a.weight))
        .collect();
    assert_eq!(got, [("v1", 80), ("v2", 20)]);
    assert!(
        arms.arms()
            .iter()
            .all(|a| &*a.backend.cluster == "outbound|80||order-service")
    );
    assert_eq!(split.action.timeout, Some(Duration::from_millis(800)));
    let retry = split.action.retry.as_ref().expect("retry");
    assert_eq!(retry.num_retries, 3);
    assert_eq!(retry.per_try_timeout, Some(Duration::from_millis(250)));
    assert_eq!(
        retry.retry_on,
        RetryOn::FIVE_XX | RetryOn::RESET | RetryOn::CONNECT_FAILURE
    );
    assert!(retry.retriable_status_codes.is_empty());

    // The table routes requests as described.
    let mut headers = HeaderMap::new();
    let request = |headers: &HeaderMap| {
        let head = RequestHead {
            method: "GET",
            scheme: "http",
            authority: "order-service:80",
            path: "/orders",
            query: "",
            headers,
            source_ip: None,
        };
        select_route(table, &head, &mut crate::rng::SeededRng::new(0)).map(|i| i.route)
    };
    assert_eq!(request(&headers), Ok(1));
    headers.insert("x-canary", "always".parse().unwrap());
    assert_eq!(request(&headers), Ok(0));
}

#[test]
fn order_service_cluster() {
    let config = build(&fixture("order-service.yaml"));
    assert_eq!(config.clusters().count(), 1);
    let cluster = config
        .cluster("outbound|80||order-service")
        .expect("cluster");
    let endpoints: Vec<(&str, u16, BTreeMap<String, String>)> = cluster
        .endpoints
        .iter()
        .map(|e| (e.host(), e.port(), (*e.labels).clone()))
        .collect();
    assert_eq!(
        endpoints,
        [
            ("127.0.0.1", 18081, labels("v1")),
            ("127.0.0.1", 18082, labels("v1")),
            ("127.0.0.1", 18083, labels("v2")),
        ]
    );
    assert_eq!(cluster.lb_policy, LbPolicy::LEAST_REQUEST);
    assert_eq!(cluster.circuit_breakers.max_pending_requests, 100);
    assert_eq!(cluster.circuit_breakers.max_requests, 1000);
    assert_eq!(cluster.circuit_breakers.max_connections, u32::MAX);
    let od = cluster.outlier_detection.expect("outlier detection");
    assert_eq!(od.consecutive_5xx, Some(5));
    assert_eq!(od.interval, Duration::from_secs(10));
    assert_eq!(od.base_ejection_time, Duration::from_secs(30));
    assert_eq!(od.max_ejection_percent, 50);
    let names: Vec<&str> = cluster.subsets.iter().map(|s| &*s.name).collect();
    assert_eq!(names, ["v1", "v2"]);
    assert_eq!(cluster.protocol, HttpProtocol::Http1);
}

#[test]
fn external_and_mirror() {
    let config = build(&fixture("external-and-mirror.yaml"));

    let table = config.route_table("production-service:80").expect("table");
    assert!(config.listener("production-service:80").is_some());
    let route = &table.virtual_hosts()[0].routes[0];
    let Destination::Backend(backend) = &route.action.destination else {
        panic!("single destination expected");
    };
    assert_eq!(&*backend.cluster, "outbound|80||production-service");
    assert_eq!(route.action.mirrors.len(), 1);
    let mirror = &route.action.mirrors[0];
    assert_eq!(&*mirror.backend.cluster, "outbound|80||staging-service");
    assert_eq!(mirror.fraction.per_million(), 100_000);

    // The DNS service: a cluster on 3306 whose one endpoint is the host.
    let mysql = config
        .cluster("outbound|3306||mysql.example.com")
        .expect("mysql");
    assert_eq!(mysql.endpoints.len(), 1);
    assert_eq!(mysql.endpoints[0].authority(), "mysql.example.com:3306");
    assert!(config.listeners().all(|l| !l.name.starts_with("mysql")));

    // Services with no endpoints anywhere: empty clusters.
    for name in [
        "outbound|80||production-service",
        "outbound|80||staging-service",
    ] {
        assert!(
            config.cluster(name).expect(name).endpoints.is_empty(),
            "{name}"
        );
    }
    assert_eq!(config.clusters().count(), 3);
    assert_eq!(config.listeners().count(), 1);
}

#[test]
fn security_fixture_is_skipped_and_files_load() {
    let resources = super::super::Resources::parse(&fixture("security.yaml")).unwrap();
    assert!(resources.is_empty());
    assert_eq!(resources.skipped(), 3);

    let path = format!(
        "{}/../../shared/fixtures/istio/order-service.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    assert!(super::super::load_file(&path).unwrap().build().is_ok());
    let e = super::super::load_file("/nonexistent/x.yaml").unwrap_err();
    assert_eq!(e.resource, "/nonexistent/x.yaml");
}
