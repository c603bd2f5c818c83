//! Route matching cost at 10, 100 and 1000 routes.
//!
//! Each table has N routes with distinct path prefixes, every other one
//! also requiring a header; the request matches the last route, so the
//! figure is the worst case of the linear scan Envoy also does. `route`
//! is the whole decision up to the pick (listener, virtual host, routes,
//! weighted draw); `route+pick` adds the round-robin pick.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use mesh_core::config::{
    Backend, Cluster, Destination, DomainPattern, Endpoint, HeaderMatcher, HeaderRule, Listener,
    MeshConfig, PathMatch, Route, RouteAction, RouteMatch, RouteTable, StringMatcher, VirtualHost,
};
use mesh_core::rng::SeededRng;
use mesh_core::{RequestHead, Snapshot};

fn table_of(routes: usize) -> MeshConfig {
    let endpoints = (0..3)
        .map(|i| Endpoint::new("127.0.0.1", 8000 + i).expect("valid endpoint"))
        .collect();
    let routes = (0..routes)
        .map(|i| {
            let headers = if i % 2 == 0 {
                vec![
                    HeaderMatcher::new(
                        "x-tenant",
                        HeaderRule::Value(StringMatcher::exact("acme")),
                        false,
                        false,
                    )
                    .expect("valid matcher"),
                ]
            } else {
                Vec::new()
            };
            Route {
                name: format!("r{i}").into(),
                matcher: RouteMatch {
                    path: PathMatch::Prefix(format!("/svc{i}/").into()),
                    headers,
                    ..RouteMatch::any()
                },
                action: RouteAction::to(Destination::Backend(Backend::cluster("orders"))),
            }
        })
        .collect();
    let table = RouteTable::new(
        "orders:80",
        vec![VirtualHost {
            name: "orders".into(),
            domains: vec![DomainPattern::parse("orders").expect("valid domain")],
            routes,
        }],
    )
    .expect("valid table");
    MeshConfig::builder()
        .cluster(Cluster::new("orders", endpoints))
        .route_table(table)
        .listener(Listener::new("orders:80", "orders:80").expect("valid listener"))
        .build()
        .expect("valid config")
}

fn bench_routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("route");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let mut headers = HeaderMap::new();
    headers.insert("x-tenant", "acme".parse().expect("ascii"));
    for n in [10usize, 100, 1000] {
        let snapshot = Snapshot::new(Arc::new(table_of(n)));
        let path = format!("/svc{}/orders/42", n - 1);
        let head = RequestHead {
            method: "GET",
            scheme: "http",
            authority: "orders",
            path: &path,
            query: "",
            headers: &headers,
            source_ip: None,
        };
        let mut rng = SeededRng::new(1);
        group.bench_with_input(BenchmarkId::new("match_last", n), &head, |b, head| {
            b.iter(|| {
                let routed = snapshot.route(black_box(head), &mut rng).expect("routes");
                black_box(routed.route.name.len())
            })
        });
        group.bench_with_input(BenchmarkId::new("route_and_pick", n), &head, |b, head| {
            b.iter(|| {
                let routed = snapshot.route(black_box(head), &mut rng).expect("routes");
                black_box(routed.pick(&mut rng).expect("picks"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_routing);
criterion_main!(benches);
