//! Property tests: the loop never panics and always balances its books.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{Backoff, BackoffStrategy, RetryOn, RetryPolicy};
use crate::rng::SeededRng;

use proptest::prelude::*;

fn outcome_strategy() -> impl Strategy<Value = Outcome> {
    let failure = prop_oneof![
        Just(FailureKind::ConnectFailure),
        Just(FailureKind::Reset),
        Just(FailureKind::ResetBeforeRequest),
        Just(FailureKind::RefusedStream),
        Just(FailureKind::Timeout),
        Just(FailureKind::Overloaded),
    ]
    .prop_map(Outcome::Failure);
    let pushback = prop_oneof![
        Just(None),
        Just(Some(PushBack::DoNotRetry)),
        (0u64..10_000).prop_map(|ms| Some(PushBack::Delay(Duration::from_millis(ms)))),
    ];
    let response = (
        100u16..700,
        proptest::option::of(0u32..20),
        proptest::option::of(0u64..1_000),
        pushback,
        any::<[bool; 3]>(),
    )
        .prop_map(|(status, grpc, retry_after, pushback, flags)| {
            Outcome::Response(Response {
                status,
                grpc_status: grpc,
                retry_after: retry_after.map(Duration::from_secs),
                grpc_pushback: pushback,
                envoy_overloaded: flags[0],
                envoy_ratelimited: flags[1],
                retriable_header: flags[2],
            })
        });
    prop_oneof![failure, response]
}

#[derive(Debug, Clone)]
enum Step {
    Outcome(Outcome, Option<u64>, u64),
    PollHedge(u64),
    NotReplayable,
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (outcome_strategy(), proptest::option::of(0u64..16), 0u64..5_000)
            .prop_map(|(o, h, dt)| Step::Outcome(o, h, dt)),
        2 => (0u64..5_000).prop_map(Step::PollHedge),
        1 => Just(Step::NotReplayable),
    ]
}

proptest! {
    #[test]
    fn state_machine_never_panics_and_keeps_its_accounts(
        retry_on in any::<u16>(),
        num_retries in prop_oneof![0u32..6, Just(u32::MAX)],
        base_ms in 0u64..1_000,
        max_ms in 0u64..100_000,
        jitter: bool,
        hedge in proptest::option::of((0u64..500, 0u32..4)),
        route_ms in proptest::option::of(0u64..10_000),
        max_retries in proptest::option::of(0u32..4),
        steps in proptest::collection::vec(step_strategy(), 0..40),
        seed: u64,
    ) {
        let mut retry_on_set = RetryOn::empty();
        for (i, name) in RetryOn::parse_list(
            "5xx,gateway-error,reset,connect-failure,refused-stream,retriable-4xx,\
             retriable-status-codes,retriable-headers,reset-before-request,cancelled,\
             deadline-exceeded,internal,resource-exhausted,unavailable,envoy-ratelimited",
        )
        .unwrap()
        .names()
        .enumerate()
        {
            if retry_on & (1 << i) != 0 {
                retry_on_set |= RetryOn::from_name(name).unwrap();
            }
        }
        let p = RetryPolicy {
            retry_on: retry_on_set,
            num_retries,
            per_try_timeout: Some(Duration::from_millis(base_ms * 3)),
            backoff: Backoff {
                base_interval: Duration::from_millis(base_ms),
                max_interval: Duration::from_millis(max_ms),
                strategy: BackoffStrategy::Exponential,
                jitter,
            },
            retriable_status_codes: vec![429, 418],
        };
        let b = Arc::new(match max_retries {
            Some(n) => RetryBudgetState::new(RetryLimit::MaxRetries(n)),
            None => RetryBudgetState::default(),
        });
        let hedge = hedge.map(|(ms, n)| HedgePolicy { delay: Duration::from_millis(ms), max_hedges: n });
        let t0 = Instant::now();
        let mut now = t0;
        let mut rng = SeededRng::new(seed);
        let mut s = RetryState::new(&p, Arc::clone(&b), hedge, t0, route_ms.map(Duration::from_millis));
        let mut done = None;
        for step in steps {
            match step {
                Step::Outcome(outcome, host, dt) => {
                    now += Duration::from_millis(dt);
                    let next = s.on_outcome(&outcome, host.map(HostId), now, &mut rng);
                    if let Some(reason) = done {
                        prop_assert_eq!(next, Next::Done(reason));
                    }
                    match next {
                        Next::Done(reason) => done = Some(reason),
                        Next::RetryAfter(d) => {
                            if jitter && outcome.response().is_none_or(|r| r.retry_after.is_none() && r.grpc_pushback.is_none()) && hedge.is_none() {
                                prop_assert!(d <= p.backoff.max_interval);
                            }
                            if let Some(deadline) = s.deadline() {
                                prop_assert!(now + d < deadline);
                            }
                        }
                        Next::Pending => prop_assert!(s.in_flight() > 0),
                    }
                }
                Step::PollHedge(dt) => {
                    now += Duration::from_millis(dt);
                    let _ = s.poll_hedge(now);
                }
                Step::NotReplayable => s.set_body_replayable(false),
            }
            prop_assert!(s.retries() <= p.num_retries);
            if let Some(h) = hedge {
                prop_assert!(s.hedges() <= h.max_hedges);
            }
            prop_assert!(b.active_retries() <= s.retries());
            prop_assert!(s.excluded_hosts().len() <= PreviousHosts::CAPACITY);
        }
        drop(s);
        prop_assert_eq!((b.active_requests(), b.active_retries()), (0, 0));
    }
}
