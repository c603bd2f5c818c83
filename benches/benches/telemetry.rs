//! The per-request cost of telemetry. Metrics: recording one request
//! into Istio's standard metrics, alone and with everything the request
//! path adds around it (two clock reads, the destination's lookup and
//! reference); the baseline, measured in the same run, is the two clock
//! reads alone. Tracing: what a request pays when it is not sampled
//! (the lookup of `traceparent`, the sampler), without and with a
//! caller's unsampled context, and when it is (the request span and an
//! attempt span, their context injected into the attempt's headers, both
//! queued for an exporter that another thread drains).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};
use mesh_core::config::Endpoint;
use mesh_core::lb::EndpointSlot;
use mesh_core::rng::ThreadRng;
use mesh_core::telemetry::trace::{
    Propagation, Sampler, SpanKind, Tracer, TracerConfig, extract, inject,
};
use mesh_core::telemetry::{Exchange, Protocol, Reached, ResponseFlags, Telemetry};

fn exchange(code: u16) -> Exchange {
    Exchange {
        response_code: code,
        grpc_status: None,
        flags: ResponseFlags::NONE,
        protocol: Protocol::Http,
        duration: Duration::from_micros(850),
        request_bytes: 0,
        response_bytes: 512,
    }
}

fn bench(c: &mut Criterion) {
    let telemetry = Telemetry::default();
    let labels = [("version".to_owned(), "v1".to_owned())]
        .into_iter()
        .collect();
    let slot = EndpointSlot::new(Endpoint::new("10.0.0.1", 8080).unwrap().with_labels(labels));
    let reached = Reached::Endpoint {
        cluster: "outbound|80||order-service",
        slot: &slot,
    };
    // A destination with a few series already, as a live one has.
    for code in [503, 404, 200] {
        telemetry.record(reached, &exchange(code));
    }
    let ok = exchange(200);
    let mut group = c.benchmark_group("telemetry");
    group.bench_function("baseline: two clock reads", |b| {
        b.iter(|| {
            let start = tokio::time::Instant::now();
            black_box(tokio::time::Instant::now().saturating_duration_since(start))
        });
    });
    group.bench_function("record (destination cached)", |b| {
        b.iter(|| telemetry.record(black_box(reached), black_box(&ok)));
    });
    group.bench_function("request path: clocks, lookup, record", |b| {
        b.iter(|| {
            let start = tokio::time::Instant::now();
            let destination = telemetry.destination(black_box(reached));
            let mut exchange = ok;
            exchange.duration = tokio::time::Instant::now().saturating_duration_since(start);
            destination.record(black_box(&exchange));
        });
    });
    group.finish();
}

/// The headers of a typical request.
fn headers(extra: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("host", "order-service"),
        ("user-agent", "bench/1.0"),
        ("accept", "*/*"),
    ]
    .iter()
    .chain(extra)
    {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    headers
}

fn bench_tracing(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracing");
    // Parent-based, and no new trace sampled: what 99 % of requests pay
    // under the default 1 %.
    let (unsampled, _queue) = Tracer::new(TracerConfig {
        sampler: Sampler {
            ratio: 0.0,
            parent_based: true,
        },
        ..TracerConfig::default()
    });
    let plain = headers(&[]);
    let caller_unsampled = headers(&[(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
    )]);
    for (name, headers) in [
        ("unsampled, no caller context", &plain),
        ("unsampled, caller's traceparent", &caller_unsampled),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let parent = extract(black_box(headers), Propagation::default());
                let span = unsampled.start(
                    parent.as_ref(),
                    || "GET order-service".to_owned(),
                    SpanKind::Internal,
                    &mut ThreadRng,
                );
                assert!(span.is_none());
            });
        });
    }
    let (sampled, mut queue) = Tracer::new(TracerConfig {
        sampler: Sampler::ALWAYS,
        ..TracerConfig::default()
    });
    // Polls as the OTLP exporter does: queueing a span wakes nobody.
    let exporter = std::thread::spawn(move || {
        while queue.drain().is_some() {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    group.bench_function("sampled: request and attempt spans, queued", |b| {
        b.iter(|| {
            let mut outgoing = plain.clone();
            let mut request = sampled
                .start(
                    None,
                    || "GET order-service".to_owned(),
                    SpanKind::Internal,
                    &mut ThreadRng,
                )
                .expect("sampled");
            request.set("http.request.method", "GET");
            let mut attempt = request.child("GET", SpanKind::Client, &mut ThreadRng);
            inject(&mut outgoing, &attempt.context(), Propagation::default());
            attempt.set("http.response.status_code", 200);
            sampled.end(attempt);
            sampled.end(request);
            black_box(outgoing);
        });
    });
    group.finish();
    drop(sampled);
    exporter.join().expect("the drain thread ends");
}

criterion_group!(benches, bench, bench_tracing);
criterion_main!(benches);
