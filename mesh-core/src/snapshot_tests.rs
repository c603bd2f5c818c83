//! Routing and picking through a whole snapshot, with fixed seeds.

use std::sync::Arc;

use http::HeaderMap;

use super::*;
use crate::config::{
    Destination, DomainPattern, Endpoint, HeaderMatcher, HeaderRule, Labels, Listener, MeshConfig,
    PathMatch, RouteAction, RouteMatch, RouteTable, StringMatcher, Subset, SubsetRef, VirtualHost,
    WeightedBackend, WeightedBackends,
};
use crate::rng::SeededRng;

fn labels(version: &str) -> Labels {
    Labels::from([("version".to_owned(), version.to_owned())])
}

fn subset(version: &str) -> Backend {
    Backend {
        cluster: "orders".into(),
        subset: Some(SubsetRef {
            name: version.into(),
            labels: Arc::new(labels(version)),
        }),
    }
}

fn route(name: &str, matcher: RouteMatch, destination: Destination) -> Route {
    Route {
        name: name.into(),
        matcher,
        action: RouteAction::to(destination),
    }
}

/// order-service: `x-canary: always` → v2; `/v3` → the empty subset v3;
/// everything else 80/20 v1/v2.
fn order_service() -> MeshConfig {
    let endpoint = |port, version| {
        Endpoint::new("127.0.0.1", port)
            .unwrap()
            .with_labels(labels(version))
    };
    let mut cluster = crate::config::Cluster::new(
        "orders",
        vec![
            endpoint(8001, "v1"),
            endpoint(8002, "v1"),
            endpoint(8003, "v2"),
        ],
    );
    cluster.subsets = ["v1", "v2", "v3"]
        .iter()
        .map(|v| Subset {
            name: (*v).into(),
            labels: Arc::new(labels(v)),
        })
        .collect();
    let canary = RouteMatch {
        headers: vec![
            HeaderMatcher::new(
                "x-canary",
                HeaderRule::Value(StringMatcher::exact("always")),
                false,
                false,
            )
            .unwrap(),
        ],
        ..RouteMatch::any()
    };
    let v3 = RouteMatch {
        path: PathMatch::Prefix("/v3".into()),
        ..RouteMatch::any()
    };
    let split = WeightedBackends::new(vec![
        WeightedBackend {
            backend: subset("v1"),
            weight: 80,
        },
        WeightedBackend {
            backend: subset("v2"),
            weight: 20,
        },
    ])
    .unwrap();
    let only_api = RouteMatch {
        path: PathMatch::Prefix("/api".into()),
        ..RouteMatch::any()
    };
    let table = RouteTable::new(
        "orders:80",
        vec![
            VirtualHost {
                name: "orders".into(),
                domains: vec![DomainPattern::parse("orders").unwrap()],
                routes: vec![
                    route("canary", canary, Destination::Backend(subset("v2"))),
                    route("v3", v3, Destination::Backend(subset("v3"))),
                    route("split", RouteMatch::any(), Destination::Weighted(split)),
                ],
            },
            VirtualHost {
                name: "api-only".into(),
                domains: vec![DomainPattern::parse("*.api").unwrap()],
                routes: vec![route(
                    "api",
                    only_api,
                    Destination::Backend(Backend::cluster("orders")),
                )],
            },
        ],
    )
    .unwrap();
    MeshConfig::builder()
        .cluster(cluster)
        .route_table(table)
        .listener(Listener::new("orders:80", "orders:80").unwrap())
        .listener(Listener::new("x.api:80", "orders:80").unwrap())
        .build()
        .unwrap()
}

fn head<'a>(authority: &'a str, path: &'a str, headers: &'a HeaderMap) -> RequestHead<'a> {
    RequestHead {
        method: "GET",
        scheme: "http",
        authority,
        path,
        query: "",
        headers,
        source_ip: None,
    }
}

fn version_of(slot: &EndpointSlot) -> &str {
    &slot.endpoint().labels["version"]
}

#[test]
fn weighted_split_lands_within_two_percent_and_subsets_hold() {
    let snapshot = Snapshot::new(Arc::new(order_service()));
    let mut rng = SeededRng::new(42);
    let headers = HeaderMap::new();
    let mut v1 = 0u32;
    for _ in 0..10_000 {
        let routed = snapshot
            .route(&head("orders", "/", &headers), &mut rng)
            .unwrap();
        let picked = routed.pick(&mut rng).unwrap();
        let want = &routed.backend.subset.as_ref().unwrap().name;
        assert_eq!(version_of(&picked), &**want, "subset restriction broken");
        v1 += u32::from(&**want == "v1");
    }
    assert!((7_800..=8_200).contains(&v1), "v1 got {v1} of 10000");
}

#[test]
fn header_route_always_goes_to_v2() {
    let snapshot = Snapshot::new(Arc::new(order_service()));
    let mut rng = SeededRng::new(7);
    let mut headers = HeaderMap::new();
    headers.insert("x-canary", "always".parse().unwrap());
    for _ in 0..1_000 {
        let routed = snapshot
            .route(&head("orders:80", "/orders/1", &headers), &mut rng)
            .unwrap();
        assert_eq!(&*routed.route.name, "canary");
        assert_eq!(version_of(&routed.pick(&mut rng).unwrap()), "v2");
    }
}

#[test]
fn authorities_select_listeners_and_virtual_hosts() {
    let snapshot = Snapshot::new(Arc::new(order_service()));
    let mut rng = SeededRng::new(1);
    let headers = HeaderMap::new();
    let cases: [(&str, &str, Result<&str, ErrorKind>); 7] = [
        ("orders", "/", Ok("split")),
        ("orders:80", "/", Ok("split")),
        ("ORDERS:80", "/", Ok("split")),
        ("x.api", "/api/1", Ok("api")),
        ("x.api", "/other", Err(ErrorKind::NoRoute)),
        ("orders:81", "/", Err(ErrorKind::NoRoute)),
        ("", "/", Err(ErrorKind::InvalidRequest)),
    ];
    for (authority, path, want) in cases {
        let got = snapshot
            .route(&head(authority, path, &headers), &mut rng)
            .map(|r| r.route.name.to_string())
            .map_err(|e| e.kind());
        assert_eq!(got.as_deref().map_err(|k| *k), want, "{authority}{path}");
    }
}

#[test]
fn an_empty_subset_is_a_typed_error() {
    let snapshot = Snapshot::new(Arc::new(order_service()));
    let mut rng = SeededRng::new(1);
    let headers = HeaderMap::new();
    let routed = snapshot
        .route(&head("orders", "/v3/x", &headers), &mut rng)
        .unwrap();
    let e = routed.pick(&mut rng).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoHealthyEndpoint);
    assert!(e.message().contains("\"v3\""), "{e}");
}

#[test]
fn unknown_subset_and_cluster_are_rejected_at_build() {
    let mut config = order_service();
    let table = config.route_table("orders:80").unwrap().as_ref().clone();
    let mut table = table;
    table.routes_mut().next().unwrap().action.destination = Destination::Backend(subset("v9"));
    let cluster = config.cluster("orders").unwrap().as_ref().clone();
    let e = MeshConfig::builder()
        .cluster(cluster.clone())
        .route_table(table.clone())
        .build()
        .unwrap_err();
    assert_eq!(e.resource, "RouteConfiguration \"orders:80\"");
    assert_eq!(e.field, "virtual_hosts[0].routes[0].route");
    assert!(e.reason.contains("unknown subset \"v9\""), "{e}");
    table.routes_mut().next().unwrap().action.destination =
        Destination::Backend(Backend::cluster("nope"));
    let e = MeshConfig::builder()
        .cluster(cluster.clone())
        .route_table(table)
        .build()
        .unwrap_err();
    assert!(e.reason.contains("unknown cluster \"nope\""), "{e}");
    let e = MeshConfig::builder()
        .cluster(cluster.clone())
        .cluster(cluster)
        .build()
        .unwrap_err();
    assert_eq!(
        (e.resource.as_str(), e.field.as_str()),
        ("Cluster \"orders\"", "name")
    );
    config = MeshConfig::builder()
        .listener(Listener::new("a:1", "missing").unwrap())
        .build()
        .unwrap_or_default();
    assert!(config.listener("a:1").is_none());
}

#[test]
fn a_swapped_snapshot_serves_new_requests_while_old_ones_finish() {
    let handle = SnapshotHandle::from_config(order_service());
    let old = handle.load();
    handle.store(Snapshot::new(Arc::new(MeshConfig::default())));
    let headers = HeaderMap::new();
    let mut rng = SeededRng::new(3);
    assert!(old.route(&head("orders", "/", &headers), &mut rng).is_ok());
    let e = handle
        .load()
        .route(&head("orders", "/", &headers), &mut rng)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoRoute);
}

#[test]
fn unchanged_endpoints_keep_their_load_across_updates() {
    let handle = SnapshotHandle::from_config(order_service());
    let mut rng = SeededRng::new(5);
    let canary_head = {
        let mut h = HeaderMap::new();
        h.insert("x-canary", "always".parse().unwrap());
        h
    };
    let picked = handle
        .load()
        .route(&head("orders", "/", &canary_head), &mut rng)
        .unwrap()
        .pick(&mut rng)
        .unwrap();
    let _in_flight = picked.start_request();
    handle.update(order_service());
    let again = handle
        .load()
        .route(&head("orders", "/", &canary_head), &mut rng)
        .unwrap()
        .pick(&mut rng)
        .unwrap();
    assert!(
        Arc::ptr_eq(&picked, &again),
        "the v2 endpoint kept its slot"
    );
    assert_eq!(again.active(), 1);
    // A changed endpoint gets a fresh slot.
    let mut config = order_service();
    let mut cluster = config.cluster("orders").unwrap().as_ref().clone();
    cluster.endpoints[2] = cluster.endpoints[2].clone().with_weight(5).unwrap();
    let table = config.route_table("orders:80").unwrap().as_ref().clone();
    config = MeshConfig::builder()
        .cluster(cluster)
        .route_table(table)
        .listener(Listener::new("orders:80", "orders:80").unwrap())
        .build()
        .unwrap();
    handle.update(config);
    let fresh = handle.with(|s| {
        s.route(&head("orders", "/", &canary_head), &mut rng)
            .unwrap()
            .pick(&mut rng)
            .unwrap()
    });
    assert!(!Arc::ptr_eq(&picked, &fresh));
    assert_eq!(fresh.active(), 0);
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn fixture_snapshot() -> Snapshot {
        let yaml = include_str!("../../examples/fixtures/order-service.yaml");
        let config = crate::source::istio::load(yaml).unwrap().build().unwrap();
        Snapshot::new(Arc::new(config))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Routing and picking never panic, whatever the request looks
        /// like: any authority, path, query, header names and bytes.
        #[test]
        fn routing_never_panics(
            authority in "\\PC{0,24}",
            path in "\\PC{0,40}",
            query in "\\PC{0,24}",
            method in "[A-Z]{0,8}",
            headers in proptest::collection::vec(("[a-z-]{1,12}", proptest::collection::vec(any::<u8>(), 0..16)), 0..6),
            seed in any::<u64>(),
        ) {
            let mut map = HeaderMap::new();
            for (name, value) in &headers {
                if let (Ok(n), Ok(v)) = (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    http::HeaderValue::from_bytes(value),
                ) {
                    map.append(n, v);
                }
            }
            map.insert("x-canary", "always".parse().unwrap());
            let head = RequestHead {
                method: &method,
                scheme: "http",
                authority: &authority,
                path: &path,
                query: &query,
                headers: &map,
                source_ip: None,
            };
            let mut rng = SeededRng::new(seed);
            for snapshot in [fixture_snapshot(), Snapshot::new(Arc::new(order_service()))] {
                if let Ok(routed) = snapshot.route(&head, &mut rng) {
                    let _ = routed.pick(&mut rng);
                }
                let known = RequestHead { authority: "order-service", ..head };
                let routed = snapshot.route(&known, &mut rng);
                if let Ok(routed) = routed {
                    prop_assert!(routed.pick(&mut rng).is_ok());
                }
            }
        }
    }
}

#[test]
fn istio_consistent_hash_keeps_a_user_on_one_endpoint() {
    let yaml = include_str!("../../examples/fixtures/order-service.yaml").replace(
        "loadBalancer:\n      simple: LEAST_REQUEST",
        "loadBalancer:\n      consistentHash:\n        httpHeaderName: x-user",
    );
    let config = crate::source::istio::load(&yaml).unwrap().build().unwrap();
    let snapshot = Snapshot::new(Arc::new(config));
    let mut rng = SeededRng::new(17);
    let mut seen_ports = std::collections::HashSet::new();
    for user in 0..50 {
        let mut headers = HeaderMap::new();
        headers.insert("x-user", format!("user-{user}").parse().unwrap());
        // The 80/20 split draws the subset per request; within v1 (two
        // endpoints) the ring must always give the user the same one.
        let mut ports = std::collections::HashSet::new();
        for _ in 0..20 {
            let routed = snapshot
                .route(&head("order-service", "/", &headers), &mut rng)
                .unwrap();
            assert!(routed.hash.is_some(), "the ring needs the hash");
            let picked = routed.pick(&mut rng).unwrap();
            if version_of(&picked) == "v1" {
                ports.insert(picked.endpoint().port());
            }
        }
        assert!(
            ports.len() <= 1,
            "user-{user} moved between v1 endpoints: {ports:?}"
        );
        seen_ports.extend(ports);
    }
    assert_eq!(seen_ports.len(), 2, "users spread over both v1 endpoints");
}

#[test]
fn an_unchanged_cluster_keeps_its_groups() {
    let first = Snapshot::new(Arc::new(order_service()));
    let canary = {
        let mut h = HeaderMap::new();
        h.insert("x-canary", "always".parse().unwrap());
        h
    };
    let mut rng = SeededRng::new(1);
    let group = |s: &Snapshot, rng: &mut SeededRng| {
        let routed = s.route(&head("orders", "/", &canary), rng).unwrap();
        routed.endpoints() as *const [Arc<EndpointSlot>]
    };
    // The same cluster allocation in a new configuration.
    let config = MeshConfig::builder()
        .shared_cluster(first.config().cluster("orders").unwrap().clone())
        .shared_route_table(first.config().route_table("orders:80").unwrap().clone())
        .listener(Listener::new("orders:80", "orders:80").unwrap())
        .build()
        .unwrap();
    let same = Snapshot::succeeding(Arc::new(config), &first);
    assert!(std::ptr::eq(
        group(&first, &mut rng),
        group(&same, &mut rng)
    ));
    // An equal but rebuilt cluster gets new groups (over the kept slots).
    let rebuilt = Snapshot::succeeding(Arc::new(order_service()), &first);
    assert!(!std::ptr::eq(
        group(&first, &mut rng),
        group(&rebuilt, &mut rng)
    ));
    assert!(Arc::ptr_eq(
        &first
            .route(&head("orders", "/", &canary), &mut rng)
            .unwrap()
            .endpoints()[0],
        &rebuilt
            .route(&head("orders", "/", &canary), &mut rng)
            .unwrap()
            .endpoints()[0],
    ));
}
