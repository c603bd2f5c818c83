//! Tracing end to end: the engine's spans of a retried request, received
//! by a real OpenTelemetry Collector (built with Go, started on
//! loopback), parented by the caller's `traceparent`; and requests that
//! a down or hanging collector does not slow, with the spans it cannot
//! take dropped and counted in a bounded queue; and a server's span,
//! opened by the inbound layer, over the mesh spans of its handler.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use mesh_core::SnapshotHandle;
use mesh_core::telemetry::Telemetry;
use mesh_core::telemetry::trace::{Sampler, Tracer, TracerConfig, hex, parse_traceparent};
use mesh_engine::{Engine, EngineOptions, TracingOptions};
use mesh_examples::backend::Backend;
use mesh_examples::scenario::order_service_yaml;
use mesh_tests::engine_scenario::{EngineScenario, canary, get};
use mesh_tests::faulty::Behavior;
use mesh_tests::otelcol::Collector;
use mesh_tower::MeshClient;
use mesh_tower::inbound::{InboundTraceLayer, propagate};
use tower::{ServiceBuilder, ServiceExt, service_fn};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// The value of a metric line `name{labels} value` whose series includes
/// `labels`.
fn metric(text: &str, name: &str, labels: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name) && l.contains(labels))
        .and_then(|l| l.rsplit_once(' '))
        .map_or(0, |(_, v)| v.parse().unwrap())
}

fn traced(scenario: &EngineScenario, tracing: TracingOptions) -> Engine {
    scenario.engine(EngineOptions {
        tracing: Some(tracing),
        ..EngineOptions::default()
    })
}

#[test]
fn a_real_collector_receives_a_retried_request_as_one_trace_under_the_callers_span() {
    let collector = Collector::start();
    // v2 fails every other request: the canary's first attempt gets a
    // 503, its retry (to v2 again, the subset's only endpoint) a 200.
    let scenario = EngineScenario::start([
        Behavior::Ok,
        Behavior::Ok,
        Behavior::FailEvery {
            status: 503,
            fail: 1,
            of: 2,
        },
    ]);
    let mut tracing = TracingOptions::new(collector.endpoint());
    tracing.service_name = Some("frontend".into());
    // Only what the caller samples: the caller's decision rules.
    tracing.sampler = Sampler {
        ratio: 0.0,
        parent_based: true,
    };
    tracing.batch_delay = Duration::from_millis(50);
    let engine = traced(&scenario, tracing);

    // A request outside any trace is not sampled (ratio 0).
    let untraced = engine.execute(&get("http://order-service/"), None).unwrap();
    assert_eq!(untraced.status, 200);

    let mut request = canary("http://order-service/orders/7");
    let parent = format!("00-{TRACE}-{CALLER_SPAN}-01");
    request
        .add_header(b"traceparent", parent.as_bytes())
        .unwrap();
    request.add_header(b"tracestate", b"vendor=1").unwrap();
    let response = engine.execute(&request, None).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(&response.body[..], b"v2");

    let spans = collector.wait_for_trace(TRACE, 3);
    assert_eq!(spans.len(), 3, "one trace, three spans: {spans:#?}");
    let request_span = spans
        .iter()
        .find(|s| s.field("parentSpanId") == CALLER_SPAN)
        .expect("the request span, under the caller's span");
    assert_eq!(request_span.service, "frontend");
    assert_eq!(request_span.field("name"), "GET order-service");
    assert_eq!(request_span.span["kind"], 1, "internal");
    for (key, value) in [
        ("http.request.method", "GET"),
        ("url.full", "http://order-service/orders/7"),
        ("mesh.cluster", "outbound|80||order-service"),
        ("mesh.subset", "v2"),
        ("http.response.status_code", "200"),
        ("mesh.attempts", "2"),
    ] {
        assert_eq!(request_span.attribute(key).as_deref(), Some(value), "{key}");
    }
    let request_id = request_span.field("spanId");
    // The caller gets the request span back, to continue its trace from.
    let returned = parse_traceparent(response.traceparent.as_ref().unwrap().as_bytes()).unwrap();
    assert_eq!(hex(&returned.trace_id), TRACE);
    assert_eq!(hex(&returned.span_id), request_id);
    assert_eq!(untraced.traceparent, None);
    let mut attempts: Vec<_> = spans
        .iter()
        .filter(|s| s.field("parentSpanId") == request_id)
        .collect();
    attempts.sort_by_key(|s| s.attribute("mesh.attempt"));
    assert_eq!(attempts.len(), 2, "two attempt children");
    let v2 = scenario.backends[2].addr();
    for (attempt, (number, status)) in attempts.iter().zip([("1", "503"), ("2", "200")]) {
        assert_eq!(attempt.span["kind"], 3, "client");
        assert_eq!(attempt.field("name"), "GET");
        assert_eq!(attempt.attribute("mesh.attempt").as_deref(), Some(number));
        assert_eq!(
            attempt.attribute("http.response.status_code").as_deref(),
            Some(status)
        );
        assert_eq!(
            attempt.attribute("mesh.endpoint"),
            Some(v2.to_string()),
            "the endpoint"
        );
        assert_eq!(
            attempt.attribute("server.port"),
            Some(v2.port().to_string())
        );
        assert_eq!(attempt.attribute("mesh.subset").as_deref(), Some("v2"));
        assert_eq!(
            attempt
                .attribute("mesh.outlier.ejected_endpoints")
                .as_deref(),
            Some("0"),
            "the cluster detects outliers and has ejected none"
        );
    }
    let (failed, retried) = (attempts[0], attempts[1]);
    assert_eq!(
        failed.attribute("mesh.retry_reason").as_deref(),
        Some("5xx")
    );
    assert_eq!(failed.span["status"]["code"], 2, "error");
    assert!(retried.attribute("mesh.backoff_us").is_some());
    assert!(retried.attribute("mesh.retry_reason").is_none());

    // The endpoint saw the retry's context: this trace, the retry's span.
    let headers = scenario.backends[2].last_request_headers().unwrap();
    let sent = parse_traceparent(headers["traceparent"].as_bytes()).unwrap();
    assert_eq!(hex(&sent.trace_id), TRACE);
    assert_eq!(hex(&sent.span_id), retried.field("spanId"));
    assert!(sent.sampled);
    assert_eq!(headers["tracestate"], "vendor=1");

    // The exporter counts the batch once the collector's answer is in,
    // which may be a moment after the collector wrote the spans.
    let mut exported = 0;
    for _ in 0..100 {
        let metrics = engine.metrics_text().unwrap();
        exported = metric(&metrics, "mesh_trace_spans_total", "\"exported\"");
        if exported == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(exported, 3);
    drop(scenario.runtime);
}

#[test]
fn a_collector_down_or_hanging_costs_spans_never_requests_and_the_queue_stays_bounded() {
    let scenario = EngineScenario::start([Behavior::Ok, Behavior::Ok, Behavior::Ok]);
    // Down: nothing listens. Hanging: accepts, never answers.
    let down = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let hanging = TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging_address = hanging.local_addr().unwrap();
    for (endpoint, hangs) in [
        (format!("http://{down}"), false),
        (format!("http://{hanging_address}"), true),
    ] {
        let mut tracing = TracingOptions::new(endpoint.as_str());
        tracing.sampler = Sampler::ALWAYS;
        tracing.queue_capacity = 64;
        tracing.batch_delay = Duration::from_millis(5);
        let engine = traced(&scenario, tracing);
        for i in 0..500 {
            let response = engine
                .execute(&get(&format!("http://order-service/{i}")), None)
                .expect("requests do not depend on the collector");
            assert_eq!(response.status, 200);
        }
        let metrics = engine.metrics_text().unwrap();
        let count =
            |result: &str| metric(&metrics, "mesh_trace_spans_total", &format!("\"{result}\""));
        let queued = metric(&metrics, "mesh_trace_queue_spans", "");
        assert_eq!(
            count("ended"),
            1_000,
            "a request span and an attempt span each: {metrics}"
        );
        assert_eq!(count("exported"), 0, "{endpoint}");
        assert!(queued <= 64, "the queue is bounded: {queued}");
        // Refused, a batch fails (or waits for a reconnect while the
        // queue fills); a call that hangs holds the exporter, and the
        // queue fills.
        let dropped = count("dropped_queue_full") + count("dropped_export_failed");
        assert!(dropped > 0, "{endpoint}: {metrics}");
        if hangs {
            assert!(count("dropped_queue_full") > 0, "{endpoint}: {metrics}");
        }
        // Each span is queued, dropped, or in the one batch being sent
        // (512 at most): memory is bounded by the queue and one batch.
        let accounted = queued + count("dropped_queue_full") + count("dropped_export_failed");
        assert!(
            accounted <= 1_000 && 1_000 - accounted <= 512,
            "{endpoint}: {accounted} of 1000 accounted for"
        );
    }
    drop(hanging);
    drop(scenario.runtime);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_span_from_the_inbound_layer_parents_the_mesh_spans_of_its_handler() {
    let backends = [
        Backend::start("v1-a").await.unwrap(),
        Backend::start("v1-b").await.unwrap(),
        Backend::start("v2").await.unwrap(),
    ];
    let yaml = order_service_yaml(backends.each_ref().map(|b| b.addr().port()));
    let config = mesh_core::source::istio::load(&yaml)
        .and_then(|b| b.build())
        .unwrap();
    let (tracer, mut queue) = Tracer::new(TracerConfig {
        sampler: Sampler::ALWAYS,
        ..TracerConfig::default()
    });
    let telemetry = Arc::new(Telemetry::default().with_tracer(tracer));
    let snapshots = SnapshotHandle::from_config(config).with_telemetry(telemetry.clone());
    let mesh = MeshClient::<Full<Bytes>>::new(Arc::new(snapshots));

    // A handler that calls order-service through the mesh, in its
    // caller's trace.
    let server = ServiceBuilder::new()
        .layer(InboundTraceLayer::new(telemetry))
        .service(service_fn(move |inbound: http::Request<()>| {
            let mesh = mesh.clone();
            async move {
                let mut outgoing = http::Request::get("http://order-service/orders/1")
                    .body(Full::default())
                    .unwrap();
                propagate(&inbound, &mut outgoing);
                let response = mesh.request(outgoing).await?;
                Ok::<_, mesh_core::Error>(http::Response::new(response.status()))
            }
        }));
    let inbound = http::Request::get("/checkout")
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .body(())
        .unwrap();
    let response = server.oneshot(inbound).await.unwrap();
    assert_eq!(*response.body(), http::StatusCode::OK);

    let spans = queue.drain().expect("the tracer is alive");
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let server_span = spans.iter().find(|s| s.name == "GET /checkout").unwrap();
    assert_eq!(hex(&server_span.context.trace_id), TRACE);
    assert_eq!(
        server_span.parent.map(|p| hex(&p)).as_deref(),
        Some(CALLER_SPAN)
    );
    let request_span = spans
        .iter()
        .find(|s| s.parent == Some(server_span.context.span_id))
        .expect("the mesh's request span, under the server's");
    assert_eq!(request_span.name, "GET order-service");
    let attempt = spans
        .iter()
        .find(|s| s.parent == Some(request_span.context.span_id))
        .expect("its attempt");
    assert!(
        spans
            .iter()
            .all(|s| s.context.trace_id == server_span.context.trace_id)
    );
    assert_eq!(attempt.name, "GET");
}
