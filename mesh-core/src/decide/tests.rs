//! The decide mode against the order-service scenario, with fixed seeds
//! and an injected clock.

use std::time::{Duration, Instant};

use http::{HeaderMap, Method, Uri};

use super::*;
use crate::resilience::retry::FailureKind;
use crate::rng::SeededRng;
use crate::source::istio;

/// Two v1 endpoints, one v2, 80/20 with `x-canary: always` to v2, three
/// retries on 5xx, 800 ms timeout with 250 ms per try, and outlier
/// detection after 5 consecutive 5xx.
const ORDER_SERVICE: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: orders, namespace: default}
spec:
  hosts: [order-service]
  http:
  - match: [{headers: {x-canary: {exact: always}}}]
    route: [{destination: {host: order-service, subset: v2}}]
  - route:
    - {destination: {host: order-service, subset: v1}, weight: 80}
    - {destination: {host: order-service, subset: v2}, weight: 20}
    timeout: 800ms
    retries: {attempts: 3, perTryTimeout: 250ms, retryOn: 5xx}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: orders, namespace: default}
spec:
  host: order-service
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: orders, namespace: default}
spec:
  hosts: [order-service]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: 18081}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {http: 18082}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {http: 18083}, labels: {version: v2}}
"#;

fn snapshot() -> Snapshot {
    let config = istio::load(ORDER_SERVICE)
        .expect("the scenario loads")
        .build()
        .expect("the scenario is valid");
    Snapshot::new(Arc::new(config))
}

fn decide(
    snapshot: &Snapshot,
    uri: &str,
    headers: &HeaderMap,
    now: Instant,
    rng: &mut SeededRng,
) -> Result<Decision, Error> {
    let uri: Uri = uri.parse().expect("a valid URI");
    let head = RequestHead::from_http(&Method::GET, &uri, headers);
    resolve(snapshot, &head, now, rng)
}

fn port(decision: &Decision) -> u16 {
    decision
        .endpoint()
        .port_u16()
        .expect("endpoints have ports")
}

#[test]
fn the_first_attempt_follows_the_split_and_the_header_route() {
    let snapshot = snapshot();
    let mut rng = SeededRng::new(7);
    let now = Instant::now();
    let mut v2 = 0;
    for _ in 0..2_000 {
        let decision = decide(
            &snapshot,
            "http://order-service/orders/1",
            &HeaderMap::new(),
            now,
            &mut rng,
        )
        .unwrap();
        assert_eq!(decision.attempt(), 1);
        assert_eq!(decision.max_attempts(), 4);
        assert_eq!(decision.delay(), Duration::ZERO);
        assert_eq!(decision.timeout(), Some(Duration::from_millis(250)));
        v2 += u32::from(port(&decision) == 18083);
    }
    assert!((300..500).contains(&v2), "{v2} of 2000 went to v2");

    let mut canary = HeaderMap::new();
    canary.insert("x-canary", "always".parse().unwrap());
    for _ in 0..50 {
        let decision = decide(&snapshot, "http://order-service/", &canary, now, &mut rng).unwrap();
        assert_eq!(port(&decision), 18083);
        // Istio's default policy: two retries.
        assert_eq!(decision.max_attempts(), 3);
    }
}

#[test]
fn a_retriable_failure_moves_the_next_attempt_to_another_endpoint_after_a_backoff() {
    let snapshot = snapshot();
    let mut rng = SeededRng::new(11);
    let now = Instant::now();
    // Until the draw lands on v1, whose subset has two endpoints.
    let first = loop {
        let d = decide(
            &snapshot,
            "http://order-service/",
            &HeaderMap::new(),
            now,
            &mut rng,
        )
        .unwrap();
        if port(&d) != 18083 {
            break d;
        }
    };
    let failed = port(&first);
    let Next::Retry(second) = first.report(&Outcome::status(503), now, &mut rng).unwrap() else {
        panic!("a 503 is retried");
    };
    assert_eq!(second.attempt(), 2);
    assert_ne!(
        port(&second),
        failed,
        "the retry avoids the host that failed"
    );
    assert!(
        second.delay() <= Duration::from_millis(25),
        "first backoff: full jitter over 25 ms"
    );
    let later = now + second.delay() + Duration::from_millis(1);
    assert!(matches!(
        second
            .report(&Outcome::status(200), later, &mut rng)
            .unwrap(),
        Next::Done
    ));
}

#[test]
fn retries_end_after_the_policy_allows_and_on_failures_it_does_not_cover() {
    let snapshot = snapshot();
    let mut rng = SeededRng::new(3);
    let mut now = Instant::now();
    let mut decision = decide(
        &snapshot,
        "http://order-service/",
        &HeaderMap::new(),
        now,
        &mut rng,
    )
    .unwrap();
    let mut attempts = 1;
    loop {
        now += Duration::from_millis(30);
        match decision
            .report(&Outcome::status(503), now, &mut rng)
            .unwrap()
        {
            Next::Retry(next) => {
                attempts += 1;
                assert_eq!(next.attempt(), attempts);
                decision = next;
            }
            Next::Done => break,
        }
    }
    assert_eq!(attempts, 4, "one attempt and three retries");

    // `retryOn: 5xx` covers resets (as Envoy's `5xx` does), not a 404.
    let decision = decide(
        &snapshot,
        "http://order-service/",
        &HeaderMap::new(),
        now,
        &mut rng,
    )
    .unwrap();
    let Next::Retry(decision) = decision
        .report(&Outcome::Failure(FailureKind::Reset), now, &mut rng)
        .unwrap()
    else {
        panic!("a reset is retried under 5xx");
    };
    let next = decision
        .report(&Outcome::status(404), now, &mut rng)
        .unwrap();
    assert!(matches!(next, Next::Done));
}

#[test]
fn reported_failures_eject_an_endpoint_from_later_decisions() {
    let snapshot = snapshot();
    let mut rng = SeededRng::new(5);
    let now = Instant::now();
    let v1 = |rng: &mut SeededRng| loop {
        let d = decide(
            &snapshot,
            "http://order-service/",
            &HeaderMap::new(),
            now,
            rng,
        )
        .unwrap();
        if port(&d) != 18083 {
            break d;
        }
    };
    // Five consecutive 5xx from 18081, each its request's last word.
    let mut failures = 0;
    while failures < 5 {
        let decision = v1(&mut rng);
        if port(&decision) == 18081 {
            failures += 1;
            drop(
                decision
                    .report(&Outcome::status(500), now, &mut rng)
                    .unwrap(),
            );
        }
    }
    for _ in 0..100 {
        assert_eq!(port(&v1(&mut rng)), 18082, "18081 is ejected");
    }
}

#[test]
fn an_abandoned_decision_releases_its_endpoint() {
    let snapshot = snapshot();
    let mut rng = SeededRng::new(1);
    let decision = decide(
        &snapshot,
        "http://order-service/",
        &HeaderMap::new(),
        Instant::now(),
        &mut rng,
    )
    .unwrap();
    let slot = decision.endpoint_slot().clone();
    assert_eq!(slot.active(), 1);
    drop(decision);
    assert_eq!(slot.active(), 0);
}

#[test]
fn a_grpc_caller_is_told_the_time_left_and_unknown_hosts_have_no_route() {
    let snapshot = snapshot();
    let mut rng = SeededRng::new(2);
    let mut headers = HeaderMap::new();
    headers.insert("grpc-timeout", "100m".parse().unwrap());
    let decision = decide(
        &snapshot,
        "http://order-service/",
        &headers,
        Instant::now(),
        &mut rng,
    )
    .unwrap();
    let set = decision.headers();
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].0, GRPC_TIMEOUT);
    // The caller's 100 ms, shorter than the 250 ms per try.
    assert_eq!(decision.timeout(), Some(Duration::from_millis(100)));

    let missing = decide(
        &snapshot,
        "http://payments/",
        &HeaderMap::new(),
        Instant::now(),
        &mut rng,
    )
    .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NoRoute);
}
