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

/// How the endpoints of a benchmark are weighted.
#[derive(Clone, Copy)]
enum Weights {
    /// All 1.
    Equal,
    /// Cycling through 1..=10.
    Mixed,
    /// All 1 but one endpoint at 1000 (the worst case of stride
    /// scheduling, where round robin switches to a table).
    Skewed,
}

/// `count` endpoints weighted as `weights` says.
fn endpoints(count: u32, weights: Weights) -> Vec<Arc<EndpointSlot>> {
    (0..count)
        .map(|i| {
            let host = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            let weight = match weights {
                Weights::Equal => 1,
                Weights::Mixed => i % 10 + 1,
                Weights::Skewed if i == count / 2 => 1_000,
                Weights::Skewed => 1,
            };
            let endpoint = Endpoint::new(&host, 8080)
                .and_then(|e| e.with_weight(weight))
                .expect("valid endpoint");
            EndpointSlot::new(endpoint)
        })
        .collect()
}

/// Benchmarks picks of `policy` at every size; `with_hash` feeds a
/// different request hash to each pick.
fn bench_policy(
    c: &mut Criterion,
    name: &str,
    policy: LbPolicy,
    weights: Weights,
    with_hash: bool,
) {
    let mut group = c.benchmark_group(format!("lb/{name}"));
    for count in SIZES {
        let slots = endpoints(count, weights);
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
    use Weights::{Equal, Mixed, Skewed};
    bench_policy(c, "round_robin_equal", LbPolicy::RoundRobin, Equal, false);
    bench_policy(
        c,
        "round_robin_weighted",
        LbPolicy::RoundRobin,
        Mixed,
        false,
    );
    bench_policy(c, "round_robin_skewed", LbPolicy::RoundRobin, Skewed, false);
    bench_policy(c, "random_weighted", LbPolicy::Random, Mixed, false);
    bench_policy(
        c,
        "least_request_p2c",
        LbPolicy::LEAST_REQUEST,
        Equal,
        false,
    );
    bench_policy(
        c,
        "least_request_weighted",
        LbPolicy::LEAST_REQUEST,
        Mixed,
        false,
    );
    bench_policy(c, "ring_hash", LbPolicy::RING_HASH, Mixed, true);
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
