//! The cost of one endpoint pick, per load-balancing policy, at 3, 100 and
//! 10 000 endpoints.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mesh_core::config::{Endpoint, LbPolicy};
use mesh_core::lb::{EndpointGroup, EndpointSlot};
use mesh_core::rng::SeededRng;

const SIZES: [u32; 3] = [3, 100, 10_000];

/// `count` endpoints; weighted ones cycle through weights 1..=10.
fn endpoints(count: u32, weighted: bool) -> Vec<Arc<EndpointSlot>> {
    (0..count)
        .map(|i| {
            let host = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            let weight = if weighted { i % 10 + 1 } else { 1 };
            let endpoint = Endpoint::new(&host, 8080)
                .and_then(|e| e.with_weight(weight))
                .expect("valid endpoint");
            EndpointSlot::new(endpoint)
        })
        .collect()
}

/// Benchmarks picks of `policy` at every size; `with_hash` feeds a
/// different request hash to each pick.
fn bench_policy(c: &mut Criterion, name: &str, policy: LbPolicy, weighted: bool, with_hash: bool) {
    let mut group = c.benchmark_group(format!("lb/{name}"));
    for count in SIZES {
        let slots = endpoints(count, weighted);
        // Some load, so least-request has something to compare.
        let _in_flight: Vec<_> = slots.iter().step_by(3).map(|s| s.start_request()).collect();
        let endpoint_group = EndpointGroup::new(&policy, slots);
        let mut rng = SeededRng::new(42);
        let mut hash = 0u64;
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |b, _| {
            b.iter(|| {
                let request_hash = with_hash.then(|| {
                    hash = hash.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    hash
                });
                black_box(endpoint_group.pick(black_box(request_hash), &mut rng))
                    .map(|slot| slot.endpoint().port())
            });
        });
    }
    group.finish();
}

fn picks(c: &mut Criterion) {
    bench_policy(c, "round_robin_equal", LbPolicy::RoundRobin, false, false);
    bench_policy(c, "round_robin_weighted", LbPolicy::RoundRobin, true, false);
    bench_policy(c, "random_weighted", LbPolicy::Random, true, false);
    bench_policy(
        c,
        "least_request_p2c",
        LbPolicy::LEAST_REQUEST,
        false,
        false,
    );
    bench_policy(c, "ring_hash", LbPolicy::RING_HASH, true, true);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500));
    targets = picks
}
criterion_main!(benches);
