//! Hedged attempts: schedule, shared allowances, budget, deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::config::RetryOn;
use crate::rng::SeededRng;

fn hedging(delay: Duration, max_hedges: u32) -> Option<HedgePolicy> {
    Some(HedgePolicy { delay, max_hedges })
}

#[test]
fn hedges_are_sent_on_schedule_and_hold_permits() {
    let p = policy(RetryOn::FIVE_XX, 5);
    let b = budget();
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, Arc::clone(&b), hedging(50 * MS, 2), t0, None);
    assert_eq!(s.poll_hedge(t0), Hedge::At(t0 + 50 * MS));
    assert_eq!(s.poll_hedge(t0 + 20 * MS), Hedge::At(t0 + 50 * MS));
    assert_eq!(s.poll_hedge(t0 + 50 * MS), Hedge::Send);
    assert_eq!(b.active_retries(), 1);
    assert_eq!(s.poll_hedge(t0 + 60 * MS), Hedge::At(t0 + 100 * MS));
    assert_eq!(s.poll_hedge(t0 + 130 * MS), Hedge::Send);
    assert_eq!(
        s.poll_hedge(t0 + 500 * MS),
        Hedge::None,
        "max_hedges reached"
    );
    assert_eq!((s.in_flight(), s.hedges(), s.retries()), (3, 2, 2));
    assert_eq!(b.active_retries(), 2);
    let next = s.on_outcome(
        &Outcome::status(200),
        Some(HostId(2)),
        t0 + 140 * MS,
        &mut SeededRng::new(1),
    );
    assert_eq!(next, Next::Done(DoneReason::Success));
    assert_eq!(
        b.active_retries(),
        0,
        "the winner releases every hedge's permit"
    );
}

#[test]
fn hedge_failure_sends_the_next_hedge_at_once_then_waits_for_the_rest() {
    let p = policy(RetryOn::FIVE_XX, 5);
    let t0 = Instant::now();
    let mut rng = SeededRng::new(1);
    let mut s = RetryState::new(&p, budget(), hedging(50 * MS, 2), t0, None);
    assert_eq!(s.poll_hedge(t0 + 50 * MS), Hedge::Send);
    let now = t0 + 60 * MS;
    assert_eq!(
        s.on_outcome(&fail(), Some(HostId(1)), now, &mut rng),
        Next::RetryAfter(Duration::ZERO)
    );
    assert_eq!(s.in_flight(), 2);
    assert_eq!(
        s.on_outcome(&fail(), Some(HostId(2)), now, &mut rng),
        Next::Pending
    );
    assert_eq!(
        s.on_outcome(&fail(), Some(HostId(3)), now, &mut rng),
        Next::Done(DoneReason::RetriesExhausted)
    );
    assert_eq!(s.excluded_hosts(), [HostId(1), HostId(2), HostId(3)]);
}

#[test]
fn hedges_share_the_num_retries_allowance() {
    let p = policy(RetryOn::FIVE_XX, 1);
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, budget(), hedging(10 * MS, 5), t0, None);
    assert_eq!(s.poll_hedge(t0 + 10 * MS), Hedge::Send);
    assert_eq!(s.poll_hedge(t0 + 100 * MS), Hedge::None);
}

#[test]
fn hedge_not_scheduled_past_the_route_deadline() {
    let p = policy(RetryOn::FIVE_XX, 5);
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, budget(), hedging(80 * MS, 2), t0, Some(100 * MS));
    assert_eq!(s.poll_hedge(t0 + 80 * MS), Hedge::Send);
    assert_eq!(
        s.poll_hedge(t0 + 81 * MS),
        Hedge::None,
        "due at 160 ms, deadline 100 ms"
    );
}

#[test]
fn hedges_are_refused_by_an_exhausted_budget() {
    let p = policy(RetryOn::FIVE_XX, 5);
    let b = Arc::new(RetryBudgetState::new(RetryLimit::MaxRetries(0)));
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, b, hedging(10 * MS, 2), t0, None);
    assert_eq!(s.poll_hedge(t0 + 10 * MS), Hedge::None);
    assert!(s.budget_exhausted());
}

#[test]
fn fatal_outcome_of_any_hedge_ends_the_request() {
    let p = policy(RetryOn::GATEWAY_ERROR, 5);
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, budget(), hedging(10 * MS, 2), t0, None);
    assert_eq!(s.poll_hedge(t0 + 10 * MS), Hedge::Send);
    assert_eq!(
        s.on_outcome(
            &Outcome::status(500),
            None,
            t0 + 11 * MS,
            &mut SeededRng::new(1)
        ),
        Next::Done(DoneReason::NotRetriable)
    );
    assert_eq!(s.poll_hedge(t0 + 50 * MS), Hedge::None);
}

#[test]
fn hedge_waits_for_a_pushed_back_attempt() {
    let p = policy(RetryOn::GRPC_UNAVAILABLE, 5);
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, budget(), hedging(10 * MS, 3), t0, None);
    let pushback = Response::new(200)
        .with_grpc_status(14)
        .with_pushback(PushBack::Delay(100 * MS));
    assert_eq!(
        s.on_outcome(&pushback.into(), None, t0, &mut SeededRng::new(1)),
        Next::RetryAfter(100 * MS)
    );
    assert_eq!(s.poll_hedge(t0 + 5 * MS), Hedge::At(t0 + 110 * MS));
}
