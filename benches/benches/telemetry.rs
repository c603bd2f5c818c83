//! The per-request cost of metrics: recording one request into Istio's
//! standard metrics, alone and with everything the request path adds
//! around it (two clock reads, the destination's lookup and reference).
//! The baseline, measured in the same run, is the two clock reads alone.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_core::config::Endpoint;
use mesh_core::lb::EndpointSlot;
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

criterion_group!(benches, bench);
criterion_main!(benches);
