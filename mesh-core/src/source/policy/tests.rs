//! The policy JSON: the shared fixture, each rejection, `apply`, and a
//! property test that nothing panics.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;

use super::ServicePolicy;
use crate::config::{BackoffStrategy, Destination, MeshConfigBuilder, RetryOn};
use crate::resilience::breaker::{BreakerConfig, Window};
use crate::source::istio;

fn shared(path: &str) -> String {
    let path = format!(
        "{}/../../shared/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

static POLICY: LazyLock<String> = LazyLock::new(|| shared("policy/order-service-policy.json"));
static ORDER_SERVICE: LazyLock<String> = LazyLock::new(|| shared("istio/order-service.yaml"));

fn order_service() -> MeshConfigBuilder {
    istio::load(&ORDER_SERVICE).unwrap()
}

#[test]
fn the_fixture_parses() {
    let policy = ServicePolicy::from_json(&POLICY).unwrap();
    assert_eq!(policy.timeout, Duration::from_millis(800));
    let retry = policy.retry.expect("retries");
    assert_eq!(retry.num_retries, 3);
    assert_eq!(
        retry.retry_on,
        RetryOn::FIVE_XX | RetryOn::RESET | RetryOn::CONNECT_FAILURE | RetryOn::REFUSED_STREAM
    );
    assert_eq!(retry.per_try_timeout, None);
    assert_eq!(retry.backoff.strategy, BackoffStrategy::Exponential);
    assert!(retry.backoff.jitter);
    assert_eq!(retry.backoff.base_interval, Duration::from_millis(25));
    assert_eq!(retry.backoff.max_interval, Duration::from_millis(250));
    assert_eq!(
        ServicePolicy::try_from(POLICY.as_str()).unwrap().timeout,
        policy.timeout
    );
}

#[test]
fn optional_fields() {
    let policy: ServicePolicy = r#"{"service_timeout_ms": 2000, "max_retries": 2,
        "backoff_strategy": "linear", "jitter_enabled": false, "base_backoff_ms": 50,
        "max_backoff_ms": 60, "retry_on": "gateway-error, 429", "per_try_timeout_ms": 500}"#
        .parse()
        .unwrap();
    let retry = policy.retry.unwrap();
    assert_eq!(retry.backoff.strategy, BackoffStrategy::Linear);
    assert!(!retry.backoff.jitter);
    assert_eq!(retry.backoff.base_interval, Duration::from_millis(50));
    assert_eq!(retry.backoff.max_interval, Duration::from_millis(60));
    assert_eq!(
        retry.retry_on,
        RetryOn::GATEWAY_ERROR | RetryOn::RETRIABLE_STATUS_CODES
    );
    assert_eq!(retry.retriable_status_codes, [429]);
    assert_eq!(retry.per_try_timeout, Some(Duration::from_millis(500)));

    let none = ServicePolicy::from_json(
        r#"{"service_timeout_ms": 1, "max_retries": 0, "backoff_strategy": "constant", "jitter_enabled": true}"#,
    )
    .unwrap();
    assert!(none.retry.is_none());
}

#[test]
fn bad_inputs_name_the_field() {
    let base = r#""service_timeout_ms": 800, "max_retries": 3, "backoff_strategy": "exponential", "jitter_enabled": true"#;
    let with = |extra: &str| format!("{{{base}, {extra}}}");
    let replacing = |field: &str, value: &str| {
        let doc: serde_json::Value = serde_json::from_str(&format!("{{{base}}}")).unwrap();
        let mut text = doc.to_string();
        let old = format!("\"{field}\":{}", doc[field]);
        text = text.replace(&old, &format!("\"{field}\":{value}"));
        text
    };
    let cases: Vec<(String, &str, &str)> = vec![
        ("{}".into(), "service_timeout_ms", "required"),
        (
            replacing("service_timeout_ms", "0"),
            "service_timeout_ms",
            "greater than zero",
        ),
        (
            replacing("service_timeout_ms", "\"800\""),
            "service_timeout_ms",
            "not a string",
        ),
        (
            replacing("service_timeout_ms", "800.0"),
            "service_timeout_ms",
            "fractional",
        ),
        (
            replacing("service_timeout_ms", "-5"),
            "service_timeout_ms",
            "negative",
        ),
        (
            replacing("service_timeout_ms", "null"),
            "service_timeout_ms",
            "null",
        ),
        (
            replacing("max_retries", "5000000000"),
            "max_retries",
            "too large",
        ),
        (replacing("max_retries", "true"), "max_retries", "boolean"),
        (
            replacing("backoff_strategy", "\"fibonacci\""),
            "backoff_strategy",
            "fibonacci",
        ),
        (
            replacing("backoff_strategy", "\"Exponential\""),
            "backoff_strategy",
            "Exponential",
        ),
        (
            replacing("jitter_enabled", "\"yes\""),
            "jitter_enabled",
            "true or false",
        ),
        (
            r#"{"service_timeout_ms": 800, "max_retries": 3, "jitter_enabled": true}"#.into(),
            "backoff_strategy",
            "required",
        ),
        (with(r#""timeout_ms": 5"#), "timeout_ms", "unknown field"),
        (with(r#""max_retries": 4"#), "max_retries", "duplicate"),
        (
            with(r#""base_backoff_ms": 0"#),
            "base_backoff_ms",
            "greater than zero",
        ),
        (
            with(r#""base_backoff_ms": 100, "max_backoff_ms": 50"#),
            "max_backoff_ms",
            "below",
        ),
        (
            with(r#""retry_on": "5xx,sometimes""#),
            "retry_on",
            "sometimes",
        ),
        (with(r#""retry_on": " , ""#), "retry_on", "at least one"),
        (with(r#""retry_on": ["5xx"]"#), "retry_on", "an array"),
        (
            with(r#""per_try_timeout_ms": 0"#),
            "per_try_timeout_ms",
            "greater than zero",
        ),
        ("[]".into(), "", "JSON object"),
        (
            "{\"service_timeout_ms\": ".into(),
            "",
            "invalid policy JSON",
        ),
        ("".into(), "", "invalid policy JSON"),
    ];
    for (json, field, reason) in cases {
        let e = ServicePolicy::from_json(&json).expect_err(&json);
        assert_eq!(e.resource, "policy", "{json}: {e}");
        assert_eq!(e.field, field, "{json}: {e}");
        assert!(e.reason.contains(reason), "{json}: {e}");
    }
}

#[test]
fn apply_overrides_the_routes_of_the_host() {
    let policy = ServicePolicy::from_json(&POLICY).unwrap();
    let mut builder = order_service();
    policy.apply(&mut builder, "Order-Service").unwrap();
    let config = builder.build().unwrap();
    let table = config.route_table("order-service:80").unwrap();
    let routes = &table.virtual_hosts()[0].routes;
    assert_eq!(routes.len(), 2);
    for route in routes {
        assert_eq!(route.action.timeout, Some(Duration::from_millis(800)));
        assert_eq!(
            route.action.max_stream_duration,
            Some(Duration::from_millis(800))
        );
        assert_eq!(route.action.retry.as_deref(), policy.retry.as_ref());
    }
    // Routing itself is untouched.
    assert!(matches!(
        routes[1].action.destination,
        Destination::Weighted(_)
    ));

    let off = ServicePolicy::from_json(
        r#"{"service_timeout_ms": 100, "max_retries": 0, "backoff_strategy": "constant", "jitter_enabled": false}"#,
    )
    .unwrap();
    let mut builder = order_service();
    off.apply(&mut builder, "order-service").unwrap();
    let config = builder.build().unwrap();
    let table = config.route_table("order-service:80").unwrap();
    assert!(
        table.virtual_hosts()[0]
            .routes
            .iter()
            .all(|r| r.action.retry.is_none())
    );
}

#[test]
fn apply_to_an_unknown_host_is_an_error() {
    let policy = ServicePolicy::from_json(&POLICY).unwrap();
    let mut builder = order_service();
    let e = policy.apply(&mut builder, "payment-service").unwrap_err();
    assert_eq!(e.resource, "policy");
    assert!(e.reason.contains("\"payment-service\""), "{e}");
    assert!(e.reason.contains("order-service:80"), "{e}");
    // `order` is a prefix of the host, not the host.
    assert!(policy.apply(&mut builder, "order").is_err());
}

/// Inserts, deletes or replaces characters of `text`.
fn mutate(text: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(position, op, c) in edits {
        let i = position % (chars.len() + 1);
        match op % 3 {
            0 if i < chars.len() => {
                chars.remove(i);
            }
            2 if i < chars.len() => chars[i] = c,
            _ => chars.insert(i, c),
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = ServicePolicy::from_json(&text);
    }

    #[test]
    fn mutated_fixture_never_panics(
        edits in vec((any::<usize>(), any::<u8>(), prop_oneof![
            prop::sample::select(vec!['{', '}', '"', ':', ',', '0', '9', '-', '.', 'e', ' ', '[']),
            any::<char>(),
        ]), 1..8),
    ) {
        let text = mutate(&POLICY, &edits);
        if let Ok(policy) = ServicePolicy::from_json(&text) {
            let mut builder = order_service();
            policy.apply(&mut builder, "order-service").unwrap();
            prop_assert!(builder.build().is_ok());
        }
    }
}

#[test]
fn apply_leaves_other_services_of_a_shared_table_alone() {
    let yaml = r#"
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: orders:80
  api_listener:
    api_listener:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      rds: {route_config_name: shared}
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: pay:80
  api_listener:
    api_listener:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      rds: {route_config_name: shared}
- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: shared
  virtual_hosts:
  - {name: orders, domains: [orders], routes: [{match: {prefix: /}, route: {cluster: c, timeout: 1s}}]}
  - {name: pay, domains: [pay], routes: [{match: {prefix: /}, route: {cluster: c, timeout: 1s}}]}
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: c
"#;
    let mut builder = crate::source::envoy::load(yaml).unwrap();
    let policy = ServicePolicy::from_json(&POLICY).unwrap();
    policy.apply(&mut builder, "orders").unwrap();
    let config = builder.build().unwrap();
    let table = config.route_table("shared").unwrap();
    let timeout = |vh: usize| table.virtual_hosts()[vh].routes[0].action.timeout;
    assert_eq!(timeout(0), Some(Duration::from_millis(800)));
    assert_eq!(timeout(1), Some(Duration::from_secs(1)));
}

const BASE: &str = r#""service_timeout_ms": 800, "max_retries": 0, "backoff_strategy": "constant", "jitter_enabled": false"#;

fn with(extra: &str) -> Result<ServicePolicy, crate::config::ConfigError> {
    ServicePolicy::from_json(&format!("{{{BASE}{extra}}}"))
}

#[test]
fn the_breaker_is_off_unless_enabled_and_defaults_to_resilience4j() {
    assert_eq!(with("").unwrap().breaker, None);
    assert_eq!(
        with(r#", "circuit_breaker_enabled": false"#)
            .unwrap()
            .breaker,
        None
    );
    let on = with(r#", "circuit_breaker_enabled": true"#)
        .unwrap()
        .breaker
        .unwrap();
    assert_eq!(on, BreakerConfig::default());
    let tuned = with(
        r#", "circuit_breaker_enabled": true, "breaker_failure_rate_percent": 25.5,
        "breaker_slow_call_rate_percent": 80, "breaker_slow_call_ms": 300,
        "breaker_window_ms": 10000, "breaker_minimum_calls": 20, "breaker_open_ms": 5000,
        "breaker_half_open_calls": 3"#,
    )
    .unwrap()
    .breaker
    .unwrap();
    assert_eq!(tuned.failure_rate_threshold, 25.5);
    assert_eq!(tuned.slow_call_rate_threshold, 80.0);
    assert_eq!(tuned.slow_call_duration, Duration::from_millis(300));
    assert_eq!(tuned.window, Window::Time(Duration::from_secs(10)));
    assert_eq!(tuned.minimum_calls, 20);
    assert_eq!(tuned.wait_in_open, Duration::from_secs(5));
    assert_eq!(tuned.permitted_calls_in_half_open, 3);
}

#[test]
fn bad_breaker_settings_name_the_field() {
    for (extra, field) in [
        (r#", "breaker_open_ms": 100"#, "breaker_open_ms"),
        (
            r#", "circuit_breaker_enabled": "yes""#,
            "circuit_breaker_enabled",
        ),
        (
            r#", "circuit_breaker_enabled": true, "breaker_failure_rate_percent": 120"#,
            "breaker_failure_rate_percent",
        ),
        (
            r#", "circuit_breaker_enabled": true, "breaker_failure_rate_percent": 0"#,
            "breaker_failure_rate_percent",
        ),
        (
            r#", "circuit_breaker_enabled": true, "breaker_open_ms": 0"#,
            "breaker_open_ms",
        ),
        (
            r#", "circuit_breaker_enabled": true, "breaker_window_calls": 0"#,
            "breaker_window_calls",
        ),
        (
            r#", "circuit_breaker_enabled": true, "breaker_window_calls": 5, "breaker_window_ms": 5"#,
            "breaker_window_ms",
        ),
        (
            r#", "circuit_breaker_enabled": true, "breaker_minimum_calls": -1"#,
            "breaker_minimum_calls",
        ),
        (r#", "breaker_typo": 1"#, "breaker_typo"),
    ] {
        let e = with(extra).unwrap_err();
        assert_eq!(e.field, field, "{extra}: {e}");
        assert_eq!(e.resource, "policy");
    }
}

#[test]
fn apply_gives_each_route_its_own_breaker() {
    let mut builder = order_service();
    let policy = with(r#", "circuit_breaker_enabled": true"#).unwrap();
    policy.apply(&mut builder, "order-service").unwrap();
    let config = builder.build().unwrap();
    let breakers: Vec<_> = config
        .route_tables()
        .flat_map(|t| t.virtual_hosts().iter().flat_map(|vh| vh.routes.clone()))
        .map(|r| r.action.breaker.expect("a breaker"))
        .collect();
    assert!(breakers.len() > 1);
    assert!(!Arc::ptr_eq(&breakers[0], &breakers[1]));
}

#[test]
fn hedging_needs_retries_and_shares_them() {
    let retries = |extra: &str| {
        ServicePolicy::from_json(&format!(
            r#"{{"service_timeout_ms": 800, "max_retries": 3, "backoff_strategy": "constant", "jitter_enabled": false{extra}}}"#
        ))
    };
    assert_eq!(retries("").unwrap().hedge, None);
    let hedge = retries(r#", "hedge_delay_ms": 40"#).unwrap().hedge.unwrap();
    assert_eq!(hedge.delay, Duration::from_millis(40));
    assert_eq!(hedge.max_hedges, 3, "as many as retries by default");
    let hedge = retries(r#", "hedge_delay_ms": 40, "max_hedges": 1"#)
        .unwrap()
        .hedge
        .unwrap();
    assert_eq!(hedge.max_hedges, 1);

    let cases = [
        (
            with(r#", "hedge_delay_ms": 40"#),
            "hedge_delay_ms",
            "max_retries > 0",
        ),
        (
            retries(r#", "hedge_delay_ms": 0"#),
            "hedge_delay_ms",
            "greater than zero",
        ),
        (
            retries(r#", "max_hedges": 1"#),
            "max_hedges",
            "needs hedge_delay_ms",
        ),
        (
            retries(r#", "hedge_delay_ms": 40, "max_hedges": 4"#),
            "max_hedges",
            "above max_retries",
        ),
        (
            retries(r#", "hedge_delay_ms": 40, "max_hedges": 0"#),
            "max_hedges",
            "greater than zero",
        ),
    ];
    for (result, field, reason) in cases {
        let e = result.expect_err(field);
        assert_eq!(e.resource, "policy", "{e}");
        assert_eq!(e.field, field, "{e}");
        assert!(e.reason.contains(reason), "{e}");
    }

    let policy = retries(r#", "hedge_delay_ms": 40"#).unwrap();
    let mut builder = order_service();
    policy.apply(&mut builder, "order-service").unwrap();
    let config = builder.build().unwrap();
    let table = config.route_table("order-service:80").unwrap();
    assert!(
        table.virtual_hosts()[0]
            .routes
            .iter()
            .all(|r| r.action.hedge == policy.hedge)
    );
}

#[test]
fn a_rate_limit_is_one_bucket_for_the_whole_service() {
    let limited = |extra: &str| {
        ServicePolicy::from_json(&format!(
            r#"{{"service_timeout_ms": 800, "max_retries": 0, "backoff_strategy": "constant", "jitter_enabled": false{extra}}}"#
        ))
    };
    let policy = limited(r#", "rate_limit_per_second": 5, "rate_limit_burst": 2"#).unwrap();
    let bucket = policy.rate_limit.unwrap();
    assert_eq!(
        (
            bucket.max_tokens,
            bucket.tokens_per_fill,
            bucket.fill_interval
        ),
        (2, 5, Duration::from_secs(1))
    );
    assert_eq!(
        limited(r#", "rate_limit_per_second": 5"#)
            .unwrap()
            .rate_limit
            .unwrap()
            .max_tokens,
        5,
        "the burst defaults to the rate"
    );

    let mut builder = order_service();
    policy.apply(&mut builder, "order-service").unwrap();
    let config = builder.build().unwrap();
    let table = config.route_table("order-service:80").unwrap();
    let routes = &table.virtual_hosts()[0].routes;
    let first = routes[0].action.rate_limit.clone().unwrap();
    assert!(
        routes.iter().all(|r| r
            .action
            .rate_limit
            .as_ref()
            .is_some_and(|l| Arc::ptr_eq(l, &first))),
        "every route draws from one bucket"
    );
    let now = std::time::Instant::now();
    let mut rng = crate::rng::SeededRng::new(1);
    let refused: Vec<bool> = (0..3).map(|_| first.refuses(now, &mut rng)).collect();
    assert_eq!(refused, [false, false, true], "a burst of 2, then refused");

    let cases = [
        (
            limited(r#", "rate_limit_per_second": 0"#),
            "rate_limit_per_second",
            "greater than zero",
        ),
        (
            limited(r#", "rate_limit_burst": 3"#),
            "rate_limit_burst",
            "needs rate_limit_per_second",
        ),
        (
            limited(r#", "rate_limit_per_second": 1, "rate_limit_burst": 5000000000"#),
            "rate_limit_burst",
            "too large",
        ),
    ];
    for (result, field, reason) in cases {
        let e = result.expect_err(field);
        assert_eq!(e.field, field, "{e}");
        assert!(e.reason.contains(reason), "{e}");
    }
}
