//! Telemetry end to end: Istio's standard metrics and the engine's own,
//! recorded by real requests to real backends, read from the engine's
//! text exposition and scraped from its `/metrics` listener by a real
//! Prometheus, queried in PromQL; and the access log's JSON lines.

use std::collections::BTreeMap;
use std::time::Duration;

use mesh_core::telemetry::SourceLabels;
use mesh_engine::{
    AccessLogOptions, Engine, EngineOptions, ErrorKind, OtlpMetricsExport, PolicySource,
    TracingOptions,
};
use mesh_tests::engine_scenario::{EngineScenario, canary, get};
use mesh_tests::faulty::Behavior;
use mesh_tests::otelcol::Collector;
use mesh_tests::prometheus::Prometheus;

/// The workload the tests report as.
fn frontend() -> SourceLabels {
    let labels = [("app", "frontend"), ("version", "v1")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    SourceLabels::from_workload("frontend", "shop", &labels)
}

/// Sends `n` requests (every 10th a canary) and returns how many
/// answered from each backend, and the response body bytes.
fn send(engine: &Engine, n: usize) -> (BTreeMap<String, u64>, u64) {
    let mut answered = BTreeMap::new();
    let mut bytes = 0;
    for i in 0..n {
        let url = format!("http://order-service/orders/{i}");
        let request = if i % 10 == 9 { canary(&url) } else { get(&url) };
        let response = engine.execute(&request, None).expect("answered");
        assert_eq!(response.status, 200, "retries mask v1-a's failures");
        bytes += response.body.len() as u64;
        *answered
            .entry(String::from_utf8_lossy(&response.body).into_owned())
            .or_default() += 1;
    }
    (answered, bytes)
}

/// The sum of the samples of `metric` whose labels include `filter`.
fn sum(text: &str, metric: &str, filter: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
            (name == metric
                && filter
                    .iter()
                    .all(|(k, v)| labels.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().expect("a number"))
        })
        .sum()
}

#[test]
fn istio_metrics_count_each_request_by_destination_with_retries_and_failures() {
    let scenario = EngineScenario::start([
        Behavior::FailEvery {
            status: 503,
            fail: 1,
            of: 5,
        },
        Behavior::Ok,
        Behavior::Ok,
    ]);
    let engine = scenario.engine(EngineOptions {
        workload: Some(frontend()),
        ..EngineOptions::default()
    });
    let (answered, bytes) = send(&engine, 500);
    let refused = engine
        .execute(&get("http://nowhere.example/"), None)
        .expect_err("no route");
    assert_eq!(refused.kind(), ErrorKind::NoRoute);

    let text = engine.metrics_text().unwrap();
    let requests = |filter: &[(&str, &str)]| sum(&text, "istio_requests_total", filter);
    let ok = [
        ("reporter", "source"),
        ("source_workload", "frontend"),
        ("source_workload_namespace", "shop"),
        ("source_app", "frontend"),
        ("destination_service", "order-service"),
        ("destination_service_name", "order-service"),
        ("request_protocol", "http"),
        ("response_code", "200"),
        ("response_flags", "-"),
    ];
    assert_eq!(requests(&ok), 500.0, "{text}");
    let v2 = answered["v2"] as f64;
    let v1 = (answered["v1-a"] + answered["v1-b"]) as f64;
    assert_eq!(requests(&[("destination_version", "v2")]), v2);
    assert_eq!(requests(&[("destination_version", "v1")]), v1);
    assert!(
        (50.0..130.0).contains(&(v2 - 50.0)),
        "v2 took {v2} of 500 (50 canaries, and 20 % of 450, ±4 sd)"
    );
    assert_eq!(
        requests(&[
            ("destination_service", "unknown"),
            ("response_code", "404"),
            ("response_flags", "NR"),
        ]),
        1.0
    );

    // The histograms count the same requests; sizes are the bodies'.
    let duration = "istio_request_duration_milliseconds";
    assert_eq!(sum(&text, &format!("{duration}_count"), &ok), 500.0);
    assert_eq!(
        sum(
            &text,
            &format!("{duration}_bucket"),
            &[("le", "+Inf"), ("response_code", "200")]
        ),
        500.0
    );
    assert!(sum(&text, &format!("{duration}_sum"), &ok) > 0.0);
    assert_eq!(sum(&text, "istio_response_bytes_sum", &ok), bytes as f64);
    assert_eq!(sum(&text, "istio_request_bytes_sum", &ok), 0.0);

    // Every 503 of v1-a was retried, and counted by its reason.
    let v1a = &scenario.backends[0];
    let failures = v1a.requests() - v1a.answered_ok();
    assert!(failures > 0);
    assert_eq!(
        sum(&text, "mesh_cluster_retries_total", &[("reason", "5xx")]),
        failures as f64
    );
    assert_eq!(sum(&text, "mesh_cluster_active_requests", &[]), 0.0);
    drop(scenario.runtime);
}

#[test]
fn a_real_prometheus_scrapes_the_engine_and_promql_sums_the_split() {
    let scenario = EngineScenario::start([Behavior::Ok, Behavior::Ok, Behavior::Ok]);
    let engine = scenario.engine(EngineOptions {
        workload: Some(frontend()),
        metrics_address: Some("127.0.0.1:0".parse().unwrap()),
        ..EngineOptions::default()
    });
    let address = engine.metrics_address().expect("the listener's address");
    let (answered, _) = send(&engine, 1_000);
    let v2 = answered["v2"];
    let v1 = answered["v1-a"] + answered["v1-b"];
    // 100 canaries go to v2; of the other 900, 20 % (±4 sd).
    assert!((120..240).contains(&(v2 - 100)), "v2 took {v2} of 1000");

    let prometheus = Prometheus::start(address);
    let query = "sum by (destination_version) \
                 (istio_requests_total{reporter=\"source\",destination_service=\"order-service\",source_workload=\"frontend\"})";
    let mut by_version = BTreeMap::new();
    let scraped = prometheus.wait_for(Duration::from_secs(30), |p| {
        by_version = p
            .query(query)
            .unwrap_or_default()
            .iter()
            .filter_map(|sample| {
                let version = sample["metric"]["destination_version"].as_str()?.to_owned();
                let value = sample["value"][1].as_str()?.parse::<f64>().ok()?;
                Some((version, value as u64))
            })
            .collect();
        by_version.values().sum::<u64>() == 1_000
    });
    assert!(
        scraped,
        "PromQL saw {by_version:?}; targets: {}",
        prometheus.targets()
    );
    assert_eq!(
        by_version,
        BTreeMap::from([("v1".to_owned(), v1), ("v2".to_owned(), v2)])
    );
    // The scrape itself was healthy: every sample parsed.
    let up = prometheus.query("up{job=\"mesh\"}").unwrap_or_default();
    assert_eq!(up[0]["value"][1], "1", "{}", prometheus.targets());
    let quantile = prometheus
        .query("histogram_quantile(0.5, sum by (le) (istio_request_duration_milliseconds_bucket))")
        .unwrap_or_default();
    let median: f64 = quantile[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(median > 0.0 && median <= 1_000.0, "median {median} ms");
    drop(scenario.runtime);
}

#[test]
fn the_access_log_writes_a_json_line_per_request_with_envoys_fields() {
    let scenario =
        EngineScenario::start([Behavior::Status(503), Behavior::Status(503), Behavior::Ok]);
    let path = std::env::temp_dir().join(format!("mesh-access-test-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let engine = scenario.engine(EngineOptions {
        access_log: Some(AccessLogOptions {
            path: path.clone(),
            sample_ratio: 1.0,
        }),
        ..EngineOptions::default()
    });
    let mut request = canary("http://order-service/orders/9?full=1");
    request.add_header(b"x-request-id", b"req-42").unwrap();
    request.add_header(b"user-agent", b"checkout/2").unwrap();
    assert_eq!(engine.execute(&request, None).unwrap().status, 200);
    let refused = engine.execute(&get("http://nowhere.example/"), None);
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::NoRoute);
    let mut written = 0.0;
    for _ in 0..100 {
        let text = engine.metrics_text().unwrap();
        written = sum(
            &text,
            "mesh_access_log_entries_total",
            &[("result", "written")],
        );
        if written == 2.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(written, 2.0, "the writer counts what it wrote");
    drop(engine); // the writer flushes and stops

    let mut lines = Vec::new();
    for _ in 0..100 {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        lines = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
            .collect();
        if lines.len() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lines.len(), 2, "{lines:?}");
    let ok = &lines[0];
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["authority"], "order-service");
    assert_eq!(ok["path"], "/orders/9?full=1");
    assert_eq!(ok["protocol"], "HTTP/1.1");
    assert_eq!(ok["response_code"], 200);
    assert_eq!(ok["response_flags"], "-");
    assert_eq!(ok["bytes_sent"], 2, "the body \"v2\"");
    assert_eq!(ok["upstream_cluster"], "outbound|80||order-service");
    assert_eq!(ok["upstream_host"], scenario.backends[2].addr().to_string());
    assert_eq!(ok["request_id"], "req-42");
    assert_eq!(ok["user_agent"], "checkout/2");
    assert_eq!(ok["attempts"], 1);
    assert!(ok["duration_ms"].as_f64().unwrap() > 0.0);
    let no_route = &lines[1];
    assert_eq!(no_route["response_code"], 404);
    assert_eq!(no_route["response_flags"], "NR");
    assert_eq!(no_route["upstream_cluster"], serde_json::Value::Null);
    let _ = std::fs::remove_file(&path);
    drop(scenario.runtime);
}

#[test]
fn a_routes_circuit_breaker_reports_its_state() {
    let scenario = EngineScenario::start([Behavior::Ok, Behavior::Ok, Behavior::Ok]);
    let engine = scenario.engine(EngineOptions {
        policy: Some(PolicySource {
            json:
                r#"{"service_timeout_ms": 800, "max_retries": 2, "backoff_strategy": "exponential",
                      "jitter_enabled": true, "circuit_breaker_enabled": true}"#
                    .into(),
            host: "order-service".into(),
        }),
        ..EngineOptions::default()
    });
    assert_eq!(
        engine
            .execute(&get("http://order-service/"), None)
            .unwrap()
            .status,
        200
    );
    let text = engine.metrics_text().unwrap();
    // One series per route and state: the fixture's two routes (both
    // unnamed) are told apart by their index.
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("mesh_route_breaker_state{"))
        .map(|l| l.rsplit_once(' ').unwrap().0)
        .collect();
    let distinct: std::collections::BTreeSet<_> = series.iter().collect();
    assert_eq!(distinct.len(), series.len(), "duplicate series: {series:?}");
    assert_eq!(series.len(), 6, "two routes, three states each: {series:?}");
    let closed = sum(&text, "mesh_route_breaker_state", &[("state", "closed")]);
    assert_eq!(closed, 2.0, "{text}");
    drop(scenario.runtime);
}

#[test]
fn istio_metrics_are_pushed_over_otlp_to_a_real_collector() {
    let collector = Collector::start();
    let scenario = EngineScenario::start([Behavior::Ok, Behavior::Ok, Behavior::Ok]);
    let engine = scenario.engine(EngineOptions {
        workload: Some(frontend()),
        otlp_metrics: Some(OtlpMetricsExport {
            endpoint: collector.endpoint(),
            interval: Duration::from_millis(200),
        }),
        ..EngineOptions::default()
    });
    let (answered, bytes) = send(&engine, 100);
    // The latest push of each series, by destination version.
    let mut by_version = BTreeMap::new();
    let mut response_bytes = 0.0;
    for _ in 0..100 {
        by_version.clear();
        for point in collector.metric_points("istio_requests_total") {
            let attribute = |key: &str| {
                point["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["key"] == key)
                    .and_then(|a| a["value"]["stringValue"].as_str())
                    .map(str::to_owned)
            };
            assert_eq!(attribute("source_workload").as_deref(), Some("frontend"));
            let value: u64 = point["asInt"].as_str().unwrap().parse().unwrap();
            by_version.insert(attribute("destination_version").unwrap(), value);
        }
        // The latest push's points (one per series, same timestamp).
        let points = collector.metric_points("istio_response_bytes");
        let latest = points
            .iter()
            .filter_map(|p| p["timeUnixNano"].as_str())
            .max();
        response_bytes = points
            .iter()
            .filter(|p| p["timeUnixNano"].as_str() == latest)
            .map(|p| p["sum"].as_f64().unwrap_or_default())
            .sum();
        if by_version.values().sum::<u64>() == 100 && response_bytes == bytes as f64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let v1 = answered["v1-a"] + answered["v1-b"];
    assert_eq!(
        by_version,
        BTreeMap::from([("v1".to_owned(), v1), ("v2".to_owned(), answered["v2"])])
    );
    assert_eq!(
        response_bytes, bytes as f64,
        "the response-size histogram's sums"
    );
    drop(scenario.runtime);
}

#[tokio::test]
async fn a_body_dropped_half_read_counts_as_the_caller_giving_up() {
    let order = mesh_tests::OrderService::start().await;
    let canary = [("x-canary", "always")];
    let read = order
        .client
        .request(mesh_tests::get("http://order-service/", &canary))
        .await
        .unwrap();
    assert_eq!(mesh_tests::body_text(read).await, "v2", "read to the end");
    let dropped = order
        .client
        .request(mesh_tests::get("http://order-service/", &canary))
        .await
        .unwrap();
    drop(dropped);
    let mut text = String::new();
    order.client.snapshots().telemetry().render_istio(&mut text);
    let flags = |value: &str| {
        sum(
            &text,
            "istio_requests_total",
            &[("response_code", "200"), ("response_flags", value)],
        )
    };
    assert_eq!(flags("-"), 1.0, "{text}");
    assert_eq!(flags("DC"), 1.0, "{text}");
}

#[test]
fn telemetry_settings_that_cannot_work_are_refused_by_name() {
    let scenario = EngineScenario::start([Behavior::Ok, Behavior::Ok, Behavior::Ok]);
    let mut tracing = TracingOptions::new("http://127.0.0.1:4317");
    tracing.sampler.ratio = 1.5;
    // A port already taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cases = [
        (
            EngineOptions {
                tracing: Some(tracing),
                ..EngineOptions::default()
            },
            "tracing.sampler.ratio",
        ),
        (
            EngineOptions {
                access_log: Some(AccessLogOptions {
                    path: std::env::temp_dir().join("mesh-never-written.log"),
                    sample_ratio: -0.5,
                }),
                ..EngineOptions::default()
            },
            "access_log.sample_ratio",
        ),
        (
            EngineOptions {
                otlp_metrics: Some(OtlpMetricsExport {
                    endpoint: "http://127.0.0.1:4317".into(),
                    interval: Duration::ZERO,
                }),
                ..EngineOptions::default()
            },
            "otlp_metrics.interval",
        ),
        (
            EngineOptions {
                metrics_address: Some(taken.local_addr().unwrap()),
                ..EngineOptions::default()
            },
            "metrics_address",
        ),
    ];
    for (options, field) in cases {
        let error = Engine::new(
            mesh_engine::ConfigSource::Static {
                text: scenario.yaml(),
                format: mesh_engine::ConfigFormat::Istio,
            },
            options,
        )
        .expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
        assert!(error.message().contains(field), "{error}");
    }
    drop(scenario.runtime);
}
