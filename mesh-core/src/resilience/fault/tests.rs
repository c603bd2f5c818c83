use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, Uri};

use super::*;
use crate::config::{Fraction, HeaderMatcher, HeaderRule, StringMatcher};
use crate::rng::SeededRng;

const EVERY: Fraction = Fraction::ALL;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

/// `inject` on a request to `svc` with `headers`, routed to `cluster`.
fn draw<'p>(
    policy: &'p FaultPolicy,
    headers: &HeaderMap,
    cluster: &str,
    rng: &mut SeededRng,
) -> Injected<'p> {
    let (method, uri) = (Method::GET, Uri::from_static("http://svc/orders"));
    inject(
        policy,
        &RequestHead::from_http(&method, &uri, headers),
        cluster,
        rng,
    )
}

fn from_headers<T>(percent_denominator: u32) -> FaultValue<T> {
    FaultValue::FromHeaders {
        percent_denominator,
    }
}

/// How many of `n` draws delay (by `delay`) and abort (with `abort`).
fn count(
    policy: &FaultPolicy,
    headers: &HeaderMap,
    n: u32,
    delay: Option<Duration>,
    abort: Option<AbortCode>,
) -> (u32, u32) {
    let mut rng = SeededRng::new(7);
    let (mut delays, mut aborts) = (0, 0);
    for _ in 0..n {
        let i = draw(policy, headers, "c", &mut rng);
        delays += u32::from(i.delay.is_some() && i.delay == delay);
        aborts += u32::from(i.abort.is_some() && i.abort == abort);
    }
    (delays, aborts)
}

#[test]
fn each_fault_is_drawn_at_its_own_fraction() {
    let policy = FaultPolicy {
        delay: Some((
            FaultValue::Fixed(Duration::from_millis(5)),
            Fraction::new(1, 2),
        )),
        abort: Some((
            FaultValue::Fixed(AbortCode::Http(503)),
            Fraction::new(1, 10),
        )),
        ..FaultPolicy::default()
    };
    let (delays, aborts) = count(
        &policy,
        &HeaderMap::new(),
        20_000,
        Some(Duration::from_millis(5)),
        Some(AbortCode::Http(503)),
    );
    // ±5 standard deviations: never flakes, still tells 50 % from 10 %.
    assert!((9_650..=10_350).contains(&delays), "{delays}");
    assert!((1_790..=2_210).contains(&aborts), "{aborts}");
}

#[test]
fn all_or_nothing_fractions_are_exact() {
    let mut rng = SeededRng::new(3);
    let always = FaultPolicy {
        abort: Some((FaultValue::Fixed(AbortCode::Grpc(14)), EVERY)),
        ..FaultPolicy::default()
    };
    let never = FaultPolicy {
        delay: Some((
            FaultValue::Fixed(Duration::from_secs(1)),
            Fraction::new(0, 1),
        )),
        ..FaultPolicy::default()
    };
    let none = HeaderMap::new();
    for _ in 0..1000 {
        let i = draw(&always, &none, "c", &mut rng);
        assert_eq!(i.abort, Some(AbortCode::Grpc(14)));
        assert!(draw(&never, &none, "c", &mut rng).is_none());
    }
}

#[test]
fn header_delays_take_their_value_and_a_capped_percentage_from_the_request() {
    let policy = FaultPolicy {
        delay: Some((from_headers(100), Fraction::new(50, 100))),
        ..FaultPolicy::default()
    };
    let ms = |n| Some(Duration::from_millis(n));
    let n = 20_000;
    // No header, a malformed one or zero: no delay at all.
    for h in [
        headers(&[]),
        headers(&[(headers::DELAY, "soon")]),
        headers(&[(headers::DELAY, "0")]),
    ] {
        assert_eq!(count(&policy, &h, 1000, None, None), (0, 0), "{h:?}");
    }
    // The value, at the configured 50 % without a percentage header.
    let (delays, _) = count(
        &policy,
        &headers(&[(headers::DELAY, " 250 ")]),
        n,
        ms(250),
        None,
    );
    assert!((9_650..=10_350).contains(&delays), "{delays}");
    // The header lowers the share to 10 %...
    let lowered = headers(&[(headers::DELAY, "250"), (headers::DELAY_PERCENTAGE, "10")]);
    let (delays, _) = count(&policy, &lowered, n, ms(250), None);
    assert!((1_790..=2_210).contains(&delays), "{delays}");
    // ...but never raises it above the configured 50 %.
    let raised = headers(&[(headers::DELAY, "250"), (headers::DELAY_PERCENTAGE, "100")]);
    let (delays, _) = count(&policy, &raised, n, ms(250), None);
    assert!((9_650..=10_350).contains(&delays), "{delays}");
    let zero = headers(&[(headers::DELAY, "250"), (headers::DELAY_PERCENTAGE, "0")]);
    assert_eq!(count(&policy, &zero, 1000, ms(250), None), (0, 0));
}

#[test]
fn header_percentages_are_numerators_over_the_configured_denominator() {
    let policy = FaultPolicy {
        abort: Some((from_headers(10_000), Fraction::new(10_000, 10_000))),
        ..FaultPolicy::default()
    };
    // 2 000 / 10 000 = 20 %.
    let h = headers(&[(headers::ABORT, "503"), (headers::ABORT_PERCENTAGE, "2000")]);
    let (_, aborts) = count(&policy, &h, 20_000, None, Some(AbortCode::Http(503)));
    assert!((3_550..=4_450).contains(&aborts), "{aborts}");
}

#[test]
fn header_aborts_prefer_a_valid_http_status_then_grpc() {
    let policy = FaultPolicy {
        abort: Some((from_headers(100), EVERY)),
        ..FaultPolicy::default()
    };
    let mut rng = SeededRng::new(1);
    for (pairs, expected) in [
        (vec![(headers::ABORT, "503")], Some(AbortCode::Http(503))),
        (vec![(headers::ABORT_GRPC, "14")], Some(AbortCode::Grpc(14))),
        (
            vec![(headers::ABORT, "429"), (headers::ABORT_GRPC, "14")],
            Some(AbortCode::Http(429)),
        ),
        // Out of 200..600: the gRPC header, if any, is used instead.
        (
            vec![(headers::ABORT, "600"), (headers::ABORT_GRPC, "8")],
            Some(AbortCode::Grpc(8)),
        ),
        (vec![(headers::ABORT, "199")], None),
        (vec![(headers::ABORT_GRPC, "-1")], None),
        (vec![], None),
    ] {
        let h = headers(&pairs);
        assert_eq!(
            draw(&policy, &h, "c", &mut rng).abort,
            expected,
            "{pairs:?}"
        );
    }
}

#[test]
fn header_matchers_gate_faults() {
    let policy = FaultPolicy {
        abort: Some((FaultValue::Fixed(AbortCode::Http(500)), EVERY)),
        headers: vec![
            HeaderMatcher::new(
                "x-chaos",
                HeaderRule::Value(StringMatcher::exact("on")),
                false,
                false,
            )
            .unwrap(),
            HeaderMatcher::new("x-canary", HeaderRule::Present(true), false, false).unwrap(),
        ],
        ..FaultPolicy::default()
    };
    let mut rng = SeededRng::new(2);
    let both = headers(&[("x-chaos", "on"), ("x-canary", "1")]);
    assert_eq!(
        draw(&policy, &both, "c", &mut rng).abort,
        Some(AbortCode::Http(500))
    );
    for h in [
        headers(&[("x-chaos", "on")]),
        headers(&[("x-chaos", "off"), ("x-canary", "1")]),
        headers(&[]),
    ] {
        assert!(draw(&policy, &h, "c", &mut rng).is_none(), "{h:?}");
    }
}

#[test]
fn upstream_cluster_and_downstream_nodes_gate_faults() {
    let policy = FaultPolicy {
        delay: Some((FaultValue::Fixed(Duration::from_millis(1)), EVERY)),
        upstream_cluster: Some("orders".into()),
        downstream_nodes: vec!["web".into(), "batch".into()],
        ..FaultPolicy::default()
    };
    let mut rng = SeededRng::new(4);
    let web = headers(&[(headers::DOWNSTREAM_NODE, "web")]);
    assert!(!draw(&policy, &web, "orders", &mut rng).is_none());
    assert!(draw(&policy, &web, "billing", &mut rng).is_none());
    let other = headers(&[(headers::DOWNSTREAM_NODE, "cron")]);
    assert!(draw(&policy, &other, "orders", &mut rng).is_none());
    assert!(draw(&policy, &HeaderMap::new(), "orders", &mut rng).is_none());
}

#[test]
fn max_active_faults_limits_concurrent_faults() {
    let policy = FaultPolicy {
        delay: Some((FaultValue::Fixed(Duration::from_millis(10)), EVERY)),
        abort: Some((from_headers(100), EVERY)),
        max_active: Some(ActiveFaults::new(2)),
        ..FaultPolicy::default()
    };
    let cap = policy.max_active.as_ref().unwrap();
    let mut rng = SeededRng::new(5);
    let plain = HeaderMap::new();
    let first = draw(&policy, &plain, "c", &mut rng);
    let second = draw(&policy, &plain, "c", &mut rng);
    assert!(first.active.is_some() && second.active.is_some());
    assert_eq!(cap.active(), 2);
    // Past the cap: nothing injected, not even the abort it asks for.
    let aborting = headers(&[(headers::ABORT, "503")]);
    let third = draw(&policy, &aborting, "c", &mut rng);
    assert!(third.is_none() && third.overflowed && third.active.is_none());
    // A request that draws no fault takes no place.
    let never = FaultPolicy {
        delay: None,
        abort: Some((from_headers(100), EVERY)),
        max_active: Some(ActiveFaults::new(0)),
        ..FaultPolicy::default()
    };
    let untouched = draw(&never, &plain, "c", &mut rng);
    assert!(untouched.is_none() && !untouched.overflowed);
    // The first request ends: its place is free again.
    drop(first);
    assert_eq!(cap.active(), 1);
    let fourth = draw(&policy, &aborting, "c", &mut rng);
    assert_eq!(fourth.abort, Some(AbortCode::Http(503)));
    assert_eq!(cap.active(), 2);
    drop((second, fourth));
    assert_eq!(cap.active(), 0);
}
