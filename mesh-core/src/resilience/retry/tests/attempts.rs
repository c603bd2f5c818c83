//! Retries one after another: conditions, backoff, deadlines, pushback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{Backoff, BackoffStrategy, RetryOn, RetryPolicy};
use crate::rng::SeededRng;

#[test]
fn first_attempt_success_is_done_without_retries() {
    let p = policy(RetryOn::FIVE_XX, 3);
    let b = budget();
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, Arc::clone(&b), None, t0, None);
    assert_eq!(b.active_requests(), 1);
    let next = s.on_outcome(
        &Outcome::status(200),
        Some(HostId(1)),
        t0,
        &mut SeededRng::new(1),
    );
    assert_eq!(next, Next::Done(DoneReason::Success));
    assert_eq!((s.attempts(), s.retries()), (1, 0));
    assert!(s.excluded_hosts().is_empty());
    drop(s);
    assert_eq!((b.active_requests(), b.active_retries()), (0, 0));
}

#[test]
fn uncovered_responses_end_as_success_or_not_retriable() {
    let p = policy(RetryOn::GATEWAY_ERROR, 3);
    let t0 = Instant::now();
    let mut rng = SeededRng::new(1);
    let cases = [
        (Outcome::status(404), DoneReason::Success),
        (Outcome::grpc(0), DoneReason::Success),
        (Outcome::status(500), DoneReason::NotRetriable),
        (Outcome::grpc(14), DoneReason::NotRetriable),
        (
            Outcome::Failure(FailureKind::Overloaded),
            DoneReason::NotRetriable,
        ),
    ];
    for (outcome, reason) in cases {
        let mut s = RetryState::new(&p, budget(), None, t0, None);
        assert_eq!(
            s.on_outcome(&outcome, None, t0, &mut rng),
            Next::Done(reason),
            "{outcome:?}"
        );
    }
}

#[test]
fn retries_stop_after_num_retries() {
    let p = policy(RetryOn::FIVE_XX, 2);
    let t0 = Instant::now();
    let mut rng = SeededRng::new(1);
    let mut s = RetryState::new(&p, budget(), None, t0, None);
    assert!(matches!(
        s.on_outcome(&fail(), None, t0, &mut rng),
        Next::RetryAfter(_)
    ));
    assert!(matches!(
        s.on_outcome(&fail(), None, t0, &mut rng),
        Next::RetryAfter(_)
    ));
    assert_eq!(
        s.on_outcome(&fail(), None, t0, &mut rng),
        Next::Done(DoneReason::RetriesExhausted)
    );
    assert_eq!((s.attempts(), s.retries()), (3, 2));
}

#[test]
fn zero_num_retries_never_retries() {
    let p = policy(RetryOn::FIVE_XX, 0);
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, budget(), None, t0, None);
    assert_eq!(
        s.on_outcome(&fail(), None, t0, &mut SeededRng::new(1)),
        Next::Done(DoneReason::RetriesExhausted)
    );
}

#[test]
fn backoff_bounds_across_attempts_follow_envoy() {
    // Envoy's documented example: 25 ms base, so retries wait within
    // [0, 25], [0, 50], [0, 100], [0, 200], then [0, 250] (10x base).
    let p = policy(RetryOn::FIVE_XX, 8);
    let t0 = Instant::now();
    let mut rng = SeededRng::new(11);
    for _ in 0..200 {
        let mut s = RetryState::new(&p, unlimited(), None, t0, None);
        for bound in [25, 50, 100, 200, 250, 250, 250, 250] {
            match s.on_outcome(&fail(), None, t0, &mut rng) {
                Next::RetryAfter(d) => assert!(d <= bound * MS, "{d:?} > {bound} ms"),
                other => panic!("expected a retry, got {other:?}"),
            }
        }
    }
}

#[test]
fn unjittered_backoff_doubles_per_retry() {
    let p = fixed_backoff(5, 10 * MS);
    let t0 = Instant::now();
    let mut rng = SeededRng::new(1);
    let mut s = RetryState::new(&p, unlimited(), None, t0, None);
    let delays: Vec<_> = (0..5)
        .map(|_| s.on_outcome(&fail(), None, t0, &mut rng))
        .collect();
    let expected: Vec<_> = [10, 20, 40, 80, 100]
        .map(|ms| Next::RetryAfter(ms * MS))
        .to_vec();
    assert_eq!(delays, expected);
}

#[test]
fn route_deadline_stops_retries() {
    let p = fixed_backoff(5, 100 * MS);
    let t0 = Instant::now();
    let mut rng = SeededRng::new(1);
    let mut s = RetryState::new(&p, budget(), None, t0, Some(Duration::from_secs(1)));
    assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(1)));
    // 850 ms in: a 100 ms backoff still lands before the deadline.
    let now = t0 + 850 * MS;
    assert_eq!(
        s.on_outcome(&fail(), None, now, &mut rng),
        Next::RetryAfter(100 * MS)
    );
    // 960 ms in: the next backoff (200 ms) would pass it.
    let now = t0 + 960 * MS;
    assert_eq!(
        s.on_outcome(&fail(), None, now, &mut rng),
        Next::Done(DoneReason::DeadlineWouldPass)
    );
}

#[test]
fn retry_starting_exactly_at_the_deadline_is_refused() {
    let p = fixed_backoff(5, 100 * MS);
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, budget(), None, t0, Some(Duration::from_secs(1)));
    assert_eq!(
        s.on_outcome(&fail(), None, t0 + 900 * MS, &mut SeededRng::new(1)),
        Next::Done(DoneReason::DeadlineWouldPass)
    );
}

#[test]
fn per_try_deadline_is_bounded_by_the_route_deadline() {
    let p = RetryPolicy {
        per_try_timeout: Some(300 * MS),
        ..policy(RetryOn::FIVE_XX, 3)
    };
    let t0 = Instant::now();
    let s = RetryState::new(&p, budget(), None, t0, Some(Duration::from_secs(1)));
    assert_eq!(s.per_try_deadline(t0), Some(t0 + 300 * MS));
    assert_eq!(
        s.per_try_deadline(t0 + 800 * MS),
        Some(t0 + Duration::from_secs(1))
    );
    let no_route = RetryState::new(&p, budget(), None, t0, None);
    assert_eq!(no_route.per_try_deadline(t0), Some(t0 + 300 * MS));
    let neither = policy(RetryOn::FIVE_XX, 3);
    let neither = RetryState::new(&neither, budget(), None, t0, None);
    assert_eq!(neither.per_try_deadline(t0), None);
}

#[test]
fn retry_after_overrides_the_computed_backoff() {
    let p = fixed_backoff(3, 25 * MS);
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, budget(), None, t0, None);
    let throttled = Response::new(503).with_retry_after(Duration::from_secs(2));
    assert_eq!(
        s.on_outcome(&throttled.into(), None, t0, &mut SeededRng::new(1)),
        Next::RetryAfter(Duration::from_secs(2))
    );
    // The backoff sequence did not advance: the next computed wait is the
    // first one.
    assert_eq!(
        s.on_outcome(&fail(), None, t0, &mut SeededRng::new(1)),
        Next::RetryAfter(25 * MS)
    );
}

#[test]
fn retry_after_parsed_from_an_http_date_drives_the_delay() {
    use std::time::UNIX_EPOCH;
    let now_wall = UNIX_EPOCH + Duration::from_secs(784_111_777 - 5);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
    );
    let response = Response::from_headers(503, &headers, now_wall);
    assert_eq!(response.retry_after, Some(Duration::from_secs(5)));
    let p = fixed_backoff(1, 25 * MS);
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, budget(), None, t0, None);
    assert_eq!(
        s.on_outcome(&response.into(), None, t0, &mut SeededRng::new(1)),
        Next::RetryAfter(Duration::from_secs(5))
    );
}

#[test]
fn retry_after_beyond_the_cap_falls_back_to_backoff() {
    let p = fixed_backoff(3, 25 * MS);
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, budget(), None, t0, None);
    let far = Response::new(503).with_retry_after(MAX_RETRY_AFTER + MS);
    assert_eq!(
        s.on_outcome(&far.into(), None, t0, &mut SeededRng::new(1)),
        Next::RetryAfter(25 * MS)
    );
}

#[test]
fn retry_after_past_the_deadline_stops() {
    let p = fixed_backoff(3, 25 * MS);
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, budget(), None, t0, Some(Duration::from_secs(1)));
    let later = Response::new(503).with_retry_after(Duration::from_secs(2));
    assert_eq!(
        s.on_outcome(&later.into(), None, t0, &mut SeededRng::new(1)),
        Next::Done(DoneReason::DeadlineWouldPass)
    );
}

#[test]
fn grpc_pushback_delay_is_exact_and_restarts_the_backoff() {
    let p = RetryPolicy {
        retry_on: RetryOn::GRPC_UNAVAILABLE,
        ..fixed_backoff(5, 10 * MS)
    };
    let t0 = Instant::now();
    let mut rng = SeededRng::new(1);
    let mut s = RetryState::new(&p, budget(), None, t0, None);
    let unavailable = Outcome::grpc(14);
    assert_eq!(
        s.on_outcome(&unavailable, None, t0, &mut rng),
        Next::RetryAfter(10 * MS)
    );
    assert_eq!(
        s.on_outcome(&unavailable, None, t0, &mut rng),
        Next::RetryAfter(20 * MS)
    );
    let pushback = Response::new(200)
        .with_grpc_status(14)
        .with_pushback(PushBack::Delay(777 * MS));
    assert_eq!(
        s.on_outcome(&pushback.into(), None, t0, &mut rng),
        Next::RetryAfter(777 * MS)
    );
    assert_eq!(
        s.on_outcome(&unavailable, None, t0, &mut rng),
        Next::RetryAfter(10 * MS)
    );
}

#[test]
fn pushback_do_not_retry_stops_the_loop() {
    let p = policy(RetryOn::GRPC_UNAVAILABLE, 5);
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, budget(), None, t0, None);
    let stop = Response::new(200)
        .with_grpc_status(14)
        .with_pushback(parse_grpc_pushback("-1"));
    assert_eq!(
        s.on_outcome(&stop.into(), None, t0, &mut SeededRng::new(1)),
        Next::Done(DoneReason::PushbackStop)
    );
    assert_eq!(s.retries(), 0);
}

#[test]
fn body_not_replayable_stops_retries() {
    let p = policy(RetryOn::FIVE_XX, 5);
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, budget(), None, t0, None);
    s.set_body_replayable(false);
    assert_eq!(
        s.on_outcome(&fail(), None, t0, &mut SeededRng::new(1)),
        Next::Done(DoneReason::BodyNotReplayable)
    );
}

#[test]
fn previous_hosts_are_recorded_for_exclusion() {
    let p = policy(RetryOn::FIVE_XX | RetryOn::CONNECT_FAILURE, 5);
    let t0 = Instant::now();
    let mut rng = SeededRng::new(1);
    let mut s = RetryState::new(&p, budget(), None, t0, None);
    let _ = s.on_outcome(
        &Outcome::Failure(FailureKind::ConnectFailure),
        Some(HostId(4)),
        t0,
        &mut rng,
    );
    let _ = s.on_outcome(&fail(), Some(HostId(9)), t0, &mut rng);
    let _ = s.on_outcome(&fail(), None, t0, &mut rng);
    let _ = s.on_outcome(&fail(), Some(HostId(4)), t0, &mut rng);
    assert_eq!(s.excluded_hosts(), [HostId(4), HostId(9)]);
    assert_eq!(s.attempts(), 5);
}

#[test]
fn done_is_sticky() {
    let p = policy(RetryOn::FIVE_XX, 3);
    let t0 = Instant::now();
    let mut rng = SeededRng::new(1);
    let mut s = RetryState::new(&p, budget(), None, t0, None);
    let _ = s.on_outcome(&Outcome::status(200), None, t0, &mut rng);
    assert_eq!(
        s.on_outcome(&fail(), None, t0, &mut rng),
        Next::Done(DoneReason::Success)
    );
    assert_eq!(s.done(), Some(DoneReason::Success));
}

#[test]
fn huge_retry_counts_do_not_overflow() {
    let p = RetryPolicy {
        backoff: Backoff {
            base_interval: Duration::from_secs(1),
            max_interval: Duration::MAX,
            strategy: BackoffStrategy::Exponential,
            jitter: true,
        },
        ..policy(RetryOn::FIVE_XX, u32::MAX)
    };
    let t0 = Instant::now();
    let mut rng = SeededRng::new(1);
    let mut s = RetryState::new(&p, unlimited(), None, t0, None);
    for _ in 0..300 {
        assert!(matches!(
            s.on_outcome(&fail(), None, t0, &mut rng),
            Next::RetryAfter(_)
        ));
    }
    // Far past any deadline arithmetic: a deadline still stops cleanly.
    let mut bounded = RetryState::new(&p, unlimited(), None, t0, Some(Duration::MAX));
    assert_eq!(bounded.deadline(), None);
    let _ = bounded.on_outcome(&fail(), None, t0, &mut rng);
}
