//! Random configurations and call sequences: the detector never panics,
//! never ejects more than `max_ejection_percent` allows, and its view
//! always agrees with its events.

use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;

use crate::config::OutlierDetection;
use crate::resilience::outlier::*;
use crate::rng::SeededRng;

#[derive(Debug, Clone)]
enum Op {
    Call(usize, CallResult),
    Advance(Duration),
    Tick,
}

fn call_result() -> impl Strategy<Value = CallResult> {
    prop_oneof![
        4 => (500u16..505).prop_map(CallResult::Status),
        3 => Just(CallResult::Status(200)),
        1 => any::<u16>().prop_map(CallResult::Status),
        1 => Just(CallResult::ConnectFailed),
        1 => Just(CallResult::Reset),
        1 => Just(CallResult::Timeout),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0usize..14, call_result()).prop_map(|(e, r)| Op::Call(e, r)),
        1 => (0u64..20_000).prop_map(|ms| Op::Advance(Duration::from_millis(ms))),
        1 => Just(Op::Tick),
    ]
}

fn threshold() -> impl Strategy<Value = Option<u32>> {
    proptest::option::of(0u32..6)
}

fn interval_params() -> impl Strategy<Value = Option<(u32, u32, u32)>> {
    proptest::option::of((0u32..=100, 0u32..6, 0u32..20))
}

fn config() -> impl Strategy<Value = OutlierDetection> {
    (
        (threshold(), threshold(), threshold()),
        (1u64..5_000, 0u64..20_000, 0u64..60_000),
        0u32..=100,
        (interval_params(), interval_params(), any::<bool>()),
    )
        .prop_map(
            |((c5, gw, local), (interval, base, max), percent, (sr, fp, split))| OutlierDetection {
                consecutive_5xx: c5,
                consecutive_gateway_failure: gw,
                consecutive_local_origin_failure: local,
                interval: Duration::from_millis(interval),
                base_ejection_time: Duration::from_millis(base),
                max_ejection_time: Duration::from_millis(max),
                max_ejection_percent: percent,
                success_rate: sr.map(|(f, h, v)| (f * 40, h, v)),
                failure_percentage: fp,
                split_external_local_origin_errors: split,
            },
        )
}

fn enforcing() -> impl Strategy<Value = Enforcing> {
    vec(prop_oneof![Just(0u32), Just(100), 0u32..=120], 7).prop_map(|p| Enforcing {
        consecutive_5xx: p[0],
        consecutive_gateway_failure: p[1],
        consecutive_local_origin_failure: p[2],
        success_rate: p[3],
        local_origin_success_rate: p[4],
        failure_percentage: p[5],
        failure_percentage_local_origin: p[6],
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_outcomes_never_panic_nor_eject_more_than_allowed(
        config in config(),
        enforcing in enforcing(),
        always_one in any::<bool>(),
        endpoints in 0usize..12,
        seed in any::<u64>(),
        ops in vec(op(), 0..300),
    ) {
        let detector = OutlierDetector::new(config, endpoints)
            .with_enforcing(enforcing)
            .with_always_eject_one_host(always_one);
        let by_percent = config.max_ejection_percent as usize * endpoints / 100;
        let allowed = by_percent.max(usize::from(always_one && endpoints > 0));
        let mut rng = SeededRng::new(seed);
        let mut now = Instant::now();
        for op in ops {
            let events = match op {
                Op::Call(e, r) => detector.record(e, r, now, &mut rng).into_iter().collect(),
                Op::Advance(d) => {
                    now += d;
                    Vec::new()
                }
                Op::Tick => detector.on_interval(now, &mut rng),
            };
            // The last ejection or return of each endpoint in the batch
            // (a tick may return an endpoint and eject it again) is its
            // state now.
            let mut last = vec![None; endpoints];
            for event in &events {
                prop_assert!(event.endpoint() < endpoints);
                match *event {
                    Event::Ejected { endpoint, until, .. } => {
                        prop_assert!(until >= now);
                        last[endpoint] = Some(true);
                    }
                    Event::Returned { endpoint } => last[endpoint] = Some(false),
                    _ => {}
                }
            }
            for (endpoint, state) in last.into_iter().enumerate() {
                if let Some(ejected) = state {
                    prop_assert_eq!(detector.is_ejected(endpoint), ejected);
                }
            }
            let flagged = (0..endpoints).filter(|&i| detector.is_ejected(i)).count();
            prop_assert_eq!(flagged, detector.ejected_count());
            prop_assert!(flagged <= allowed, "{} ejected, {} allowed", flagged, allowed);
            let healthy = detector.healthy_fraction();
            prop_assert!((0.0..=1.0).contains(&healthy));
        }
    }
}
