//! End to end, resilience: real backends on loopback that fail, hang or
//! reset, behind `MeshClient`, and what retries, the retry budget, outlier
//! detection, timeouts, the request and route breakers, the local rate
//! limit, fault injection and mirroring make of them.
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
    AbortCode, Backend, Cluster, Destination, DomainPattern, Endpoint, FaultPolicy, FaultValue,
    Fraction, HashPolicy, HashSource, LbPolicy, Listener, MeshConfig, OutlierDetection,
    RetryBudget, RetryOn, RetryPolicy, Route, RouteAction, RouteMatch, RouteTable, VirtualHost,
};
use mesh_core::resilience::breaker::{BreakerConfig, CircuitBreaker, Window};
use mesh_core::resilience::deadline;
use mesh_core::resilience::ratelimit::{LocalRateLimit, TokenBucket, TokenBucketConfig};
use mesh_core::source::policy::ServicePolicy;
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

/// The fixture `istio/external-and-mirror.yaml` (10 % of
/// `production-service` mirrored to `staging-service`), with the two
/// services' endpoints on loopback and the mirror fraction set to
/// `percent`.
fn mirror_scenario(production: u16, staging: u16, percent: &str) -> MeshConfig {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/istio/external-and-mirror.yaml"
    );
    let fixture = std::fs::read_to_string(path).expect("the shared fixture");
    assert!(fixture.contains("value: 10.0"), "the fixture mirrors 10 %");
    let entry = |name: &str, port: u16| {
        format!(
            "---\napiVersion: networking.istio.io/v1beta1\nkind: ServiceEntry\n\
             metadata:\n  name: {name}\n  namespace: default\nspec:\n  hosts:\n  - {name}\n\
             \x20 location: MESH_INTERNAL\n  ports:\n  - number: 80\n    name: http\n    \
             protocol: HTTP\n  resolution: STATIC\n  endpoints:\n  - address: 127.0.0.1\n    \
             ports:\n      http: {port}\n"
        )
    };
    let yaml = format!(
        "{}\n{}{}",
        fixture.replace("value: 10.0", &format!("value: {percent}")),
        entry("production-service", production),
        entry("staging-service", staging)
    );
    mesh_core::source::istio::load(&yaml)
        .and_then(|b| b.build())
        .expect("the scenario loads")
}

#[tokio::test]
async fn mirrored_traffic_reaches_the_shadow_and_a_dead_shadow_changes_nothing() {
    let production = FaultyBackend::start("production", Behavior::Ok)
        .await
        .expect("a backend");
    let staging = FaultyBackend::start("staging", Behavior::Ok)
        .await
        .expect("a backend");

    // The fixture's 10 %: about 100 of 1 000 (±5 σ, so it never flakes).
    let client = MeshClient::<Full<Bytes>>::from_config(mirror_scenario(
        production.addr().port(),
        staging.addr().port(),
        "10.0",
    ));
    for _ in 0..1000 {
        let response = guard(client.request(get("http://production-service/x", &[]))).await;
        assert_eq!(response.expect("served").status(), 200);
    }
    assert_eq!(production.requests(), 1000);
    let mirrored = wait_for(|| staging.requests(), |n| n >= 53).await;
    assert!((53..=147).contains(&mirrored), "{mirrored} mirrored");

    // Everything mirrored, to a shadow that hangs: the primary answers
    // are unaffected, and so are the counts.
    staging.set(Behavior::Hang);
    let all = MeshClient::<Full<Bytes>>::from_config(mirror_scenario(
        production.addr().port(),
        staging.addr().port(),
        "100.0",
    ));
    let before = staging.requests();
    for _ in 0..20 {
        let response = guard(all.request(get("http://production-service/x", &[]))).await;
        assert_eq!(response.expect("served").status(), 200);
    }
    assert_eq!(production.requests(), 1020);
    let copies = wait_for(|| staging.requests() - before, |n| n >= 20).await;
    assert_eq!(copies, 20, "every request copied to the hung shadow");

    // And to a shadow that is gone altogether.
    drop(staging);
    for _ in 0..20 {
        let response = guard(all.request(get("http://production-service/x", &[]))).await;
        assert_eq!(response.expect("served").status(), 200);
    }
    assert_eq!(production.requests(), 1040);
}

/// Polls `value` until `done` says so (shadow copies land after their
/// primary answered), at most a few seconds; returns the last value.
async fn wait_for(value: impl Fn() -> u64, done: impl Fn(u64) -> bool) -> u64 {
    for _ in 0..400 {
        if done(value()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    value()
}

#[tokio::test]
async fn injected_faults_abort_and_delay_without_reaching_the_backend() {
    let abort = |a: &mut RouteAction| {
        a.fault = Some(Arc::new(FaultPolicy {
            abort: Some((FaultValue::Fixed(AbortCode::Http(418)), Fraction::ALL)),
            ..FaultPolicy::default()
        }));
    };
    let mesh = Mesh::start(&[Behavior::Ok], abort, as_is).await;
    for _ in 0..5 {
        assert_eq!(mesh.get().await.expect("an answer"), 418);
    }
    assert_eq!(mesh.backends[0].requests(), 0, "aborted before sending");

    let grpc = |a: &mut RouteAction| {
        a.fault = Some(Arc::new(FaultPolicy {
            abort: Some((FaultValue::Fixed(AbortCode::Grpc(14)), Fraction::ALL)),
            ..FaultPolicy::default()
        }));
    };
    let mesh = Mesh::start(&[Behavior::Ok], grpc, as_is).await;
    let response = guard(mesh.client.request(get("http://svc/x", &[])))
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-status"], "14");

    let delay = Duration::from_millis(200);
    let slow = move |a: &mut RouteAction| {
        a.fault = Some(Arc::new(FaultPolicy {
            delay: Some((FaultValue::Fixed(delay), Fraction::ALL)),
            ..FaultPolicy::default()
        }));
        // The delay comes before the request's timeout starts.
        a.timeout = Some(Duration::from_millis(150));
    };
    let mesh = Mesh::start(&[Behavior::Ok], slow, as_is).await;
    let started = Instant::now();
    assert_eq!(mesh.get().await.expect("delayed, then served"), 200);
    assert!(started.elapsed() >= delay);
    assert_eq!(mesh.backends[0].answered_ok(), 1);
}

#[tokio::test]
async fn header_controlled_aborts_answer_only_the_requests_that_ask() {
    let from_headers = |a: &mut RouteAction| {
        a.fault = Some(Arc::new(FaultPolicy {
            abort: Some((
                FaultValue::FromHeaders {
                    percent_denominator: 100,
                },
                Fraction::ALL,
            )),
            ..FaultPolicy::default()
        }));
    };
    let mesh = Mesh::start(&[Behavior::Ok], from_headers, as_is).await;
    let asking = get("http://svc/x", &[("x-envoy-fault-abort-request", "503")]);
    let response = guard(mesh.client.request(asking)).await.expect("an answer");
    assert_eq!(response.status(), 503);
    assert_eq!(mesh.backends[0].requests(), 0, "aborted before sending");
    // Without the header, the request is not faulted and is served.
    assert_eq!(mesh.get().await.expect("served"), 200);
    assert_eq!(mesh.backends[0].answered_ok(), 1);
    // Asking for 0 % of the configured 100 %: served too.
    let none = get(
        "http://svc/x",
        &[
            ("x-envoy-fault-abort-request", "503"),
            ("x-envoy-fault-abort-request-percentage", "0"),
        ],
    );
    let response = guard(mesh.client.request(none)).await.expect("an answer");
    assert_eq!(response.status(), 200);
    assert_eq!(mesh.backends[0].answered_ok(), 2);
}

#[tokio::test]
async fn traffic_fails_over_to_the_next_priority_and_comes_back() {
    let detect = |c: &mut Cluster| {
        c.endpoints[2].priority = 1;
        c.outlier_detection = Some(OutlierDetection {
            consecutive_5xx: Some(2),
            max_ejection_percent: 100,
            interval: Duration::from_millis(50),
            base_ejection_time: Duration::from_millis(200),
            ..OutlierDetection::default()
        });
    };
    let mesh = Mesh::start(
        &[Behavior::Ok, Behavior::Ok, Behavior::Ok],
        no_retry,
        detect,
    )
    .await;
    let [local_a, local_b, remote] = &mesh.backends[..] else {
        unreachable!("three backends")
    };
    assert_eq!(mesh.successes(20).await, 20);
    assert_eq!(
        remote.requests(),
        0,
        "priority 0 is healthy: it takes everything"
    );

    // Priority 0 fails: each of its endpoints is ejected after two 503s,
    // and traffic moves to priority 1.
    local_a.set(Behavior::Status(503));
    local_b.set(Behavior::Status(503));
    let ok = mesh.successes(100).await;
    assert_eq!(ok, 96, "two failures per local endpoint, then none");
    assert_eq!(local_a.requests() + local_b.requests(), 20 + 4);
    assert_eq!(mesh.successes(20).await, 20);

    // Priority 0 recovers: once its ejections are over, it takes the
    // traffic back.
    local_a.set(Behavior::Ok);
    local_b.set(Behavior::Ok);
    let (a_before, b_before) = (local_a.answered_ok(), local_b.answered_ok());
    let both_back = || local_a.answered_ok() > a_before && local_b.answered_ok() > b_before;
    for _ in 0..400 {
        if both_back() {
            break;
        }
        mesh.get().await.expect("served");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(both_back(), "both local endpoints back in service");
    let remote_before = remote.requests();
    assert_eq!(mesh.successes(20).await, 20);
    assert_eq!(remote.requests(), remote_before, "priority 1 idle again");
}

#[tokio::test]
async fn past_its_local_rate_limit_a_route_refuses_with_a_typed_error() {
    let limited = |a: &mut RouteAction| {
        let config = TokenBucketConfig {
            max_tokens: 3,
            tokens_per_fill: 1,
            fill_interval: Duration::from_secs(60),
        };
        a.rate_limit = Some(Arc::new(LocalRateLimit {
            bucket: TokenBucket::full(config).expect("a bucket"),
            enabled: Fraction::new(1, 1),
            enforced: Fraction::new(1, 1),
        }));
    };
    let mesh = Mesh::start(&[Behavior::Ok], limited, as_is).await;
    assert_eq!(mesh.successes(3).await, 3, "the bucket starts full");
    for _ in 0..5 {
        let error = mesh.get().await.expect_err("limited");
        assert_eq!(error.kind(), ErrorKind::RateLimited, "{error}");
    }
    assert_eq!(mesh.backends[0].requests(), 3, "refused before sending");
}

#[tokio::test]
async fn a_route_breaker_opens_on_failures_then_closes_after_good_trials() {
    let breaker = |a: &mut RouteAction| {
        let config = BreakerConfig {
            failure_rate_threshold: 50.0,
            window: Window::Count(4),
            minimum_calls: 4,
            wait_in_open: Duration::from_millis(200),
            permitted_calls_in_half_open: 2,
            ..BreakerConfig::default()
        };
        a.breaker = Some(Arc::new(CircuitBreaker::new(config).expect("a breaker")));
    };
    let mesh = Mesh::start(&[Behavior::Status(503)], breaker, as_is).await;
    for _ in 0..4 {
        assert_eq!(mesh.get().await.expect("an answer"), 503);
    }
    for _ in 0..3 {
        let error = mesh.get().await.expect_err("open");
        assert_eq!(error.kind(), ErrorKind::Overloaded, "{error}");
    }
    assert_eq!(
        mesh.backends[0].requests(),
        4,
        "an open breaker sends nothing"
    );

    // The backend recovers; after the open time two trials pass and close
    // the breaker.
    mesh.backends[0].set(Behavior::Ok);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(mesh.successes(10).await, 10);
    assert_eq!(mesh.backends[0].answered_ok(), 10);
}

#[tokio::test]
async fn a_hedge_runs_beside_a_slow_attempt_and_the_first_answer_wins() {
    // b0 answers after 150 ms, b1 never: past the 100 ms per-try timeout
    // a hedge goes to the other host while the first attempt keeps going.
    // Whichever host a request starts on, b0's answer wins. Plain retries
    // would cut the b0 attempt at 100 ms and wait on b1 until the timeout.
    let hedged = |hedge: bool| {
        move |a: &mut RouteAction| {
            a.timeout = Some(Duration::from_secs(2));
            a.retry = Some(Arc::new(RetryPolicy {
                retry_on: RetryOn::parse_list("5xx,reset").expect("conditions"),
                num_retries: 1,
                per_try_timeout: Some(Duration::from_millis(100)),
                ..RetryPolicy::default()
            }));
            a.hedge_on_per_try_timeout = hedge;
        }
    };
    let behaviors = [Behavior::Delay(Duration::from_millis(150)), Behavior::Hang];
    let mesh = Mesh::start(&behaviors, hedged(true), as_is).await;
    for _ in 0..4 {
        let response = guard(mesh.client.request(get("http://svc/x", &[])))
            .await
            .expect("the slow answer wins");
        assert_eq!(response.headers()["x-backend"], "b0");
    }
    assert_eq!(mesh.backends[0].answered_ok(), 4);
    assert!(mesh.backends[1].requests() >= 2, "hedges went to b1 too");

    let retried = Mesh::start(&behaviors, hedged(false), as_is).await;
    let ok = retried.successes(4).await;
    assert!(
        ok < 4,
        "without hedging, a request that starts on b0 is cut and lost"
    );
}

#[tokio::test]
async fn a_hedge_after_the_policy_delay_rescues_a_request_stuck_on_a_slow_host() {
    // The policy JSON's `hedge_delay_ms`: a request that starts on b0
    // (which answers after 2 s) gets a hedge to b1 after 50 ms, and b1's
    // answer wins; no per-try timeout is involved.
    let policy = ServicePolicy::from_json(
        r#"{"service_timeout_ms": 5000, "max_retries": 1, "backoff_strategy": "constant",
            "jitter_enabled": false, "hedge_delay_ms": 50}"#,
    )
    .expect("a valid policy");
    let hedge = policy.hedge;
    let behaviors = [Behavior::Delay(Duration::from_secs(2)), Behavior::Ok];
    let mesh = Mesh::start(
        &behaviors,
        |a| {
            a.retry = policy.retry.clone().map(Arc::new);
            a.hedge = hedge;
        },
        as_is,
    )
    .await;
    for _ in 0..6 {
        let response = guard(mesh.client.request(get("http://svc/x", &[])))
            .await
            .expect("the hedge answers");
        assert_eq!(response.headers()["x-backend"], "b1");
    }
    assert_eq!(mesh.backends[1].answered_ok(), 6);
    assert!(
        mesh.backends[0].requests() >= 2,
        "round robin started requests on b0, and hedges rescued them"
    );
}

#[tokio::test]
async fn a_retry_leaves_the_host_a_ring_hash_keeps_choosing() {
    // Ring hash sends every request of one user to the same endpoint, so
    // a retry that did not avoid the failed host would fail again there.
    let ring = |c: &mut Cluster| c.lb_policy = LbPolicy::RING_HASH;
    let by_user = |a: &mut RouteAction| {
        retry("5xx", 1)(a);
        a.hash_policy = vec![HashPolicy {
            source: HashSource::Header(http::HeaderName::from_static("x-user")),
            terminal: true,
        }];
    };
    let mesh = Mesh::start(&[Behavior::Ok, Behavior::Ok, Behavior::Ok], by_user, ring).await;
    let send = || {
        guard(
            mesh.client
                .request(get("http://svc/x", &[("x-user", "alice")])),
        )
    };
    let home = send().await.expect("served").headers()["x-backend"].clone();
    let index: usize = home.to_str().expect("a name")[1..].parse().expect("b<i>");
    mesh.backends[index].set(Behavior::Status(503));
    for _ in 0..20 {
        let response = send().await.expect("retried elsewhere");
        assert_eq!(response.status(), 200);
        assert_ne!(response.headers()["x-backend"], home);
    }
    assert_eq!(
        mesh.backends[index].requests(),
        21,
        "every first attempt still goes home"
    );
}

#[tokio::test]
async fn the_callers_grpc_deadline_is_capped_and_passed_on() {
    let capped = |a: &mut RouteAction| {
        a.timeout = Some(Duration::from_secs(5));
        a.max_stream_duration = Some(Duration::from_millis(300));
    };
    let mesh = Mesh::start(&[Behavior::Ok], capped, as_is).await;
    let sent = |timeout: &str| {
        let request = get("http://svc/x", &[("grpc-timeout", timeout)]);
        guard(mesh.client.request(request))
    };
    // Under the cap: the upstream is told at most what the caller gave.
    sent("100m").await.expect("served");
    let seen = mesh.backends[0].last_request_headers().expect("a request");
    let told = deadline::parse_grpc_timeout(&seen["grpc-timeout"]).expect("a grpc-timeout");
    assert!(
        told > Duration::ZERO && told <= Duration::from_millis(100),
        "{told:?}"
    );
    // Over the cap: the route's 300 ms, not the caller's 10 s.
    sent("10S").await.expect("served");
    let seen = mesh.backends[0].last_request_headers().expect("a request");
    let told = deadline::parse_grpc_timeout(&seen["grpc-timeout"]).expect("a grpc-timeout");
    assert!(told <= Duration::from_millis(300), "{told:?}");
    // And the cap is the request's timeout: a hung backend fails at it.
    mesh.backends[0].set(Behavior::Hang);
    let started = Instant::now();
    let error = sent("10S").await.expect_err("capped");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(started.elapsed() >= Duration::from_millis(300));
}
