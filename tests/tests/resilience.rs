//! End to end, resilience: real backends on loopback that fail, hang or
//! reset, behind `MeshClient`, and what retries, the retry budget, outlier
//! detection, timeouts and the request breaker make of them.
//!
//! Requests are sent one after another and the backends fail on a fixed
//! pattern, so every count below is exact; the only clock assertions are
//! lower bounds (a timeout did not fire early) and a generous guard that
//! turns a hang into a failure.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use mesh_core::config::{
    Backend, Cluster, Destination, DomainPattern, Endpoint, LbPolicy, Listener, MeshConfig,
    OutlierDetection, RetryBudget, RetryOn, RetryPolicy, Route, RouteAction, RouteMatch,
    RouteTable, VirtualHost,
};
use mesh_core::{Error, ErrorKind};
use mesh_tests::faulty::{Behavior, FaultyBackend};
use mesh_tests::get;
use mesh_tower::MeshClient;

/// Fails a test that would otherwise hang.
const GUARD: Duration = Duration::from_secs(20);

/// Backends behind the service `svc`, and a client whose route and
/// cluster the test adjusts.
struct Mesh {
    backends: Vec<FaultyBackend>,
    client: MeshClient<Full<Bytes>>,
}

impl Mesh {
    async fn start(
        behaviors: &[Behavior],
        route: impl FnOnce(&mut RouteAction),
        cluster: impl FnOnce(&mut Cluster),
    ) -> Self {
        let mut backends = Vec::new();
        for (i, b) in behaviors.iter().enumerate() {
            let backend = FaultyBackend::start(&format!("b{i}"), b.clone())
                .await
                .expect("a backend");
            backends.push(backend);
        }
        let addrs: Vec<_> = backends.iter().map(|b| b.addr()).collect();
        let client = MeshClient::from_config(config(&addrs, route, cluster));
        Self { backends, client }
    }

    /// Sends one GET to `svc`.
    async fn get(&self) -> Result<http::StatusCode, Error> {
        guard(self.client.request(get("http://svc/x", &[])))
            .await
            .map(|r| r.status())
    }

    /// Sends `n` GETs one after another; the number answered 200.
    async fn successes(&self, n: usize) -> usize {
        let mut ok = 0;
        for _ in 0..n {
            if self.get().await.is_ok_and(|s| s == 200) {
                ok += 1;
            }
        }
        ok
    }
}

async fn guard<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, f)
        .await
        .expect("the mesh gave up in time")
}

/// One listener `svc:80`, one route to the round-robin cluster `svc` over
/// `addrs`.
fn config(
    addrs: &[std::net::SocketAddr],
    route: impl FnOnce(&mut RouteAction),
    cluster: impl FnOnce(&mut Cluster),
) -> MeshConfig {
    let endpoints = addrs
        .iter()
        .map(|a| Endpoint::new(&a.ip().to_string(), a.port().into()).expect("an endpoint"))
        .collect();
    let mut c = Cluster::new("svc", endpoints);
    c.lb_policy = LbPolicy::RoundRobin;
    cluster(&mut c);
    let mut action = RouteAction::to(Destination::Backend(Backend::cluster("svc")));
    action.timeout = Some(Duration::from_secs(5));
    route(&mut action);
    let table = RouteTable::new(
        "svc",
        vec![VirtualHost {
            name: "svc".into(),
            domains: vec![DomainPattern::parse("svc").expect("a domain")],
            routes: vec![Route {
                name: "all".into(),
                matcher: RouteMatch::any(),
                action,
            }],
        }],
    )
    .expect("a table");
    MeshConfig::builder()
        .cluster(c)
        .route_table(table)
        .listener(Listener::new("svc:80", "svc").expect("a listener"))
        .build()
        .expect("a valid config")
}

fn retry(on: &str, num_retries: u32) -> impl FnOnce(&mut RouteAction) {
    let policy = RetryPolicy {
        retry_on: RetryOn::parse_list(on).expect("conditions"),
        num_retries,
        ..RetryPolicy::default()
    };
    move |action| action.retry = Some(Arc::new(policy))
}

fn no_retry(_: &mut RouteAction) {}

fn as_is(_: &mut Cluster) {}

#[tokio::test]
async fn retries_lift_the_success_rate_of_a_flaky_backend() {
    let flaky = Behavior::FailEvery {
        status: 503,
        fail: 1,
        of: 2,
    };
    let without = Mesh::start(std::slice::from_ref(&flaky), no_retry, as_is).await;
    assert_eq!(without.successes(20).await, 10);
    assert_eq!(without.backends[0].requests(), 20);

    let with = Mesh::start(&[flaky], retry("5xx", 2), as_is).await;
    assert_eq!(with.successes(20).await, 20);
    // Each request's first attempt meets the failing half of the pattern,
    // its retry the succeeding half.
    assert_eq!(with.backends[0].requests(), 40);
}

#[tokio::test]
async fn a_retry_avoids_the_host_that_failed() {
    let mesh = Mesh::start(
        &[Behavior::Status(503), Behavior::Ok, Behavior::Ok],
        retry("5xx", 1),
        as_is,
    )
    .await;
    assert_eq!(mesh.successes(30).await, 30);
    assert_eq!(mesh.backends[0].answered_ok(), 0);
}

#[tokio::test]
async fn resets_and_refused_connections_are_retried_elsewhere() {
    let mesh = Mesh::start(
        &[Behavior::Reset, Behavior::Ok],
        retry("reset,connect-failure", 1),
        as_is,
    )
    .await;
    assert_eq!(mesh.successes(10).await, 10);
    assert!(
        mesh.backends[0].requests() >= 1,
        "the resetting backend was tried"
    );

    // A port nobody listens on: every connection is refused. The request
    // body was read up front, so the retry has it even though the first
    // attempt never sent a byte.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.local_addr().expect("an address")
    };
    let ok = FaultyBackend::start("ok", Behavior::Ok)
        .await
        .expect("a backend");
    let client = MeshClient::<Full<Bytes>>::from_config(config(
        &[closed, ok.addr()],
        retry("connect-failure", 1),
        as_is,
    ));
    for _ in 0..6 {
        let response = guard(client.request(get("http://svc/x", &[]))).await;
        assert_eq!(response.expect("retried").status(), 200);
    }
}

#[tokio::test]
async fn the_retry_budget_caps_retries_while_a_backend_fails_everything() {
    let down = [Behavior::Status(503)];
    let budgeted = Mesh::start(&down, retry("5xx", 3), as_is).await;
    assert_eq!(budgeted.successes(10).await, 0);
    assert_eq!(
        budgeted.backends[0].requests(),
        40,
        "alone, each request may retry (the budget's floor is 3 retries in flight)"
    );

    let no_budget = |c: &mut Cluster| {
        c.circuit_breakers.retry_budget = Some(RetryBudget {
            budget_percent: 0.0,
            min_retry_concurrency: 0,
        });
    };
    let capped = Mesh::start(&down, retry("5xx", 3), no_budget).await;
    assert_eq!(capped.successes(10).await, 0);
    assert_eq!(
        capped.backends[0].requests(),
        10,
        "an empty budget allows no retry"
    );
}

#[tokio::test]
async fn outlier_detection_ejects_the_failing_endpoint_and_errors_stop() {
    let detect = |c: &mut Cluster| {
        c.outlier_detection = Some(OutlierDetection {
            consecutive_5xx: Some(3),
            max_ejection_percent: 50,
            ..OutlierDetection::default()
        });
    };
    let mesh = Mesh::start(
        &[Behavior::Status(503), Behavior::Ok, Behavior::Ok],
        no_retry,
        detect,
    )
    .await;
    let ok = mesh.successes(60).await;
    assert_eq!(
        mesh.backends[0].requests(),
        3,
        "ejected after 3 failures in a row"
    );
    assert_eq!(ok, 57);
    assert_eq!(mesh.successes(30).await, 30, "no error once it is out");
}

#[tokio::test]
async fn a_hung_backend_fails_at_the_request_timeout() {
    let timeout = Duration::from_millis(300);
    let mesh = Mesh::start(
        &[Behavior::Hang],
        |a: &mut RouteAction| a.timeout = Some(timeout),
        as_is,
    )
    .await;
    let started = Instant::now();
    let error = mesh.get().await.expect_err("no answer");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(started.elapsed() >= timeout);
    assert_eq!(mesh.backends[0].requests(), 1);
}

#[tokio::test]
async fn a_per_try_timeout_moves_on_to_a_live_host() {
    let policy = |a: &mut RouteAction| {
        a.retry = Some(Arc::new(RetryPolicy {
            retry_on: RetryOn::parse_list("5xx,reset").expect("conditions"),
            num_retries: 1,
            per_try_timeout: Some(Duration::from_millis(100)),
            ..RetryPolicy::default()
        }));
    };
    let mesh = Mesh::start(&[Behavior::Hang, Behavior::Ok], policy, as_is).await;
    assert_eq!(mesh.successes(6).await, 6);
    assert!(
        mesh.backends[0].requests() >= 1,
        "the hung backend was tried"
    );
}

#[tokio::test]
async fn past_max_requests_the_breaker_fails_fast() {
    let limit = |c: &mut Cluster| c.circuit_breakers.max_requests = 1;
    let mesh = Arc::new(Mesh::start(&[Behavior::Hang], no_retry, limit).await);
    let first = tokio::spawn({
        let mesh = mesh.clone();
        async move { mesh.get().await }
    });
    for _ in 0..1000 {
        if mesh.backends[0].requests() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        mesh.backends[0].requests(),
        1,
        "the first request is in flight"
    );
    let error = mesh.get().await.expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::Overloaded, "{error}");
    assert!(error.to_string().contains("max_requests"), "{error}");
    assert_eq!(mesh.backends[0].requests(), 1, "refused before it was sent");
    first.abort();
}
