//! End to end, connection pools: real backends on loopback that count the
//! connections they accept, behind `MeshClient`, and what each cluster's
//! pool settings and connection breakers make of them.
//!
//! Concurrent requests are joined in one task, so they reach the pool in
//! order and every count below is exact. Timers are real but short, and
//! waited for with bounded polling (the timer logic itself is tested with
//! paused time in `mesh-tower`'s `pool::lifecycle`).

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use mesh_core::config::{
    Backend, Cluster, Destination, DomainPattern, Endpoint, HttpProtocol, Listener, MeshConfig,
    Route, RouteAction, RouteMatch, RouteTable, VirtualHost,
};
use mesh_core::{Error, ErrorKind};
use mesh_tests::faulty::{Behavior, FaultyBackend};
use mesh_tests::{body_text, get};
use mesh_tower::MeshClient;

/// Fails a test that would otherwise hang.
const GUARD: Duration = Duration::from_secs(20);

/// How long a backend takes to answer in the tests that need requests to
/// overlap.
const SLOW: Duration = Duration::from_millis(300);

/// One backend behind the cluster `svc`, as `cluster` configures it.
async fn mesh(behavior: Behavior, cluster: impl FnOnce(&mut Cluster)) -> (FaultyBackend, Client) {
    mesh_with_timeout(behavior, Duration::from_secs(10), cluster).await
}

/// The same, with the route's timeout.
async fn mesh_with_timeout(
    behavior: Behavior,
    timeout: Duration,
    cluster: impl FnOnce(&mut Cluster),
) -> (FaultyBackend, Client) {
    let backend = FaultyBackend::start("b0", behavior)
        .await
        .expect("a backend");
    let addr = backend.addr();
    let endpoint = Endpoint::new(&addr.ip().to_string(), addr.port().into()).expect("an endpoint");
    let mut c = Cluster::new("svc", vec![endpoint]);
    cluster(&mut c);
    let mut action = RouteAction::to(Destination::Backend(Backend::cluster("svc")));
    action.timeout = Some(timeout);
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
    let config = MeshConfig::builder()
        .cluster(c)
        .route_table(table)
        .listener(Listener::new("svc:80", "svc").expect("a listener"))
        .build()
        .expect("a valid config");
    (backend, Client(MeshClient::from_config(config)))
}

struct Client(MeshClient<Full<Bytes>>);

impl Client {
    /// One GET to `svc`, its body read to the end; the body's text.
    async fn get(&self) -> Result<String, Error> {
        let response = guard(self.0.request(get("http://svc/x", &[]))).await?;
        Ok(guard(body_text(response)).await)
    }
}

async fn guard<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, f)
        .await
        .expect("the mesh answered in time")
}

/// Polls `done` every 20 ms for at most 5 s.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..250 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

fn nonzero(n: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(n)
}

#[tokio::test]
async fn requests_one_after_another_share_one_connection() {
    let (backend, client) = mesh(Behavior::Ok, |_| {}).await;
    for _ in 0..10 {
        assert_eq!(client.get().await.expect("an answer"), "b0");
    }
    assert_eq!(backend.connections_accepted(), 1);
}

#[tokio::test]
async fn max_requests_per_connection_retires_a_connection_after_its_last_request() {
    let (backend, client) = mesh(Behavior::Ok, |c| {
        Arc::make_mut(&mut c.connection_pool).max_requests_per_connection = nonzero(3);
    })
    .await;
    for _ in 0..10 {
        client.get().await.expect("an answer");
    }
    assert_eq!(
        backend.connections_accepted(),
        4,
        "ceil(10 / 3) connections"
    );
    assert!(
        eventually(|| backend.connections_open() <= 1).await,
        "retired connections close"
    );
}

#[tokio::test]
async fn an_idle_connection_closes_after_the_idle_timeout() {
    let (backend, client) = mesh(Behavior::Ok, |c| {
        Arc::make_mut(&mut c.connection_pool).idle_timeout = Some(Duration::from_millis(100));
    })
    .await;
    client.get().await.expect("an answer");
    assert!(
        eventually(|| backend.connections_open() == 0).await,
        "the idle connection was closed"
    );
    client.get().await.expect("an answer on a new connection");
    assert_eq!(backend.connections_accepted(), 2);
}

#[tokio::test]
async fn a_connection_past_its_lifetime_is_replaced() {
    let (backend, client) = mesh(Behavior::Ok, |c| {
        Arc::make_mut(&mut c.connection_pool).max_connection_duration =
            Some(Duration::from_millis(100));
    })
    .await;
    client.get().await.expect("an answer");
    assert!(eventually(|| backend.connections_open() == 0).await);
    client.get().await.expect("an answer");
    assert_eq!(backend.connections_accepted(), 2);
}

#[tokio::test]
async fn http2_opens_another_connection_only_when_a_connections_streams_are_full() {
    let (backend, client) = mesh(Behavior::Delay(SLOW), |c| {
        c.protocol = HttpProtocol::Http2;
    })
    .await;
    let (a, b, c, d) = tokio::join!(client.get(), client.get(), client.get(), client.get());
    for answer in [a, b, c, d] {
        answer.expect("an answer");
    }
    assert_eq!(backend.connections_accepted(), 1, "all four streams on one");

    let (backend, client) = mesh(Behavior::Delay(SLOW), |c| {
        c.protocol = HttpProtocol::Http2;
        Arc::make_mut(&mut c.connection_pool).max_concurrent_streams =
            NonZeroU32::new(2).expect("not zero");
    })
    .await;
    let (a, b, c, d) = tokio::join!(client.get(), client.get(), client.get(), client.get());
    for answer in [a, b, c, d] {
        answer.expect("an answer");
    }
    assert_eq!(
        backend.connections_accepted(),
        2,
        "two streams per connection"
    );
}

#[tokio::test]
async fn max_connections_per_host_makes_requests_wait_for_a_connection() {
    let (backend, client) = mesh(Behavior::Delay(SLOW), |c| {
        Arc::make_mut(&mut c.connection_pool).max_connections_per_host = nonzero(2);
    })
    .await;
    let (a, b, c, d) = tokio::join!(client.get(), client.get(), client.get(), client.get());
    for answer in [a, b, c, d] {
        answer.expect("every request is answered, two at a time");
    }
    assert_eq!(backend.connections_accepted(), 2);
    assert_eq!(backend.requests(), 4);
}

#[tokio::test]
async fn past_max_connections_requests_wait_and_past_max_pending_requests_they_fail_fast() {
    let (backend, client) = mesh(Behavior::Delay(SLOW), |c| {
        c.circuit_breakers.max_connections = 1;
        c.circuit_breakers.max_pending_requests = 1;
    })
    .await;
    let (first, waiting, refused) = tokio::join!(client.get(), client.get(), client.get());
    assert_eq!(first.expect("the first has the connection"), "b0");
    assert_eq!(waiting.expect("the second waits for it"), "b0");
    let refused = refused.expect_err("the third has no place to wait");
    assert_eq!(refused.kind(), ErrorKind::Overloaded, "{refused}");
    assert_eq!(backend.connections_accepted(), 1);
    assert_eq!(backend.requests(), 2, "an overflow is never sent");
}

#[tokio::test]
async fn a_connection_whose_exchange_was_abandoned_is_not_reused() {
    let (backend, client) =
        mesh_with_timeout(Behavior::Hang, Duration::from_millis(200), |_| {}).await;
    let abandoned = client.get().await.expect_err("the backend never answers");
    assert_eq!(abandoned.kind(), ErrorKind::Timeout);
    backend.set(Behavior::Ok);
    // On the abandoned connection this would wait for the hung answer
    // and time out too.
    assert_eq!(client.get().await.expect("an answer"), "b0");
    assert_eq!(backend.connections_accepted(), 2);
    assert!(
        eventually(|| backend.connections_open() == 1).await,
        "the abandoned connection was closed"
    );
}
