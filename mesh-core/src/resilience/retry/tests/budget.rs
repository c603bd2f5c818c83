//! The retry budget seen from the attempt loop, including a backend that
//! fails every request.

use std::sync::Arc;
use std::time::Instant;

use super::*;
use crate::config::RetryOn;
use crate::rng::SeededRng;

#[test]
fn permit_is_held_through_the_retry_and_released_after_its_outcome() {
    let p = policy(RetryOn::FIVE_XX, 3);
    let b = budget();
    let t0 = Instant::now();
    let mut rng = SeededRng::new(1);
    let mut s = RetryState::new(&p, Arc::clone(&b), None, t0, None);
    assert!(matches!(
        s.on_outcome(&fail(), None, t0, &mut rng),
        Next::RetryAfter(_)
    ));
    assert_eq!(b.active_retries(), 1);
    assert!(matches!(
        s.on_outcome(&fail(), None, t0, &mut rng),
        Next::RetryAfter(_)
    ));
    assert_eq!(b.active_retries(), 1, "one retry in flight, one permit");
    assert_eq!(
        s.on_outcome(&Outcome::status(200), None, t0, &mut rng),
        Next::Done(DoneReason::Success)
    );
    assert_eq!(b.active_retries(), 0);
}

#[test]
fn dropping_the_state_mid_retry_releases_its_permit_and_request() {
    let p = policy(RetryOn::FIVE_XX, 3);
    let b = budget();
    let t0 = Instant::now();
    let mut s = RetryState::new(&p, Arc::clone(&b), None, t0, None);
    let _ = s.on_outcome(&fail(), None, t0, &mut SeededRng::new(1));
    assert_eq!((b.active_requests(), b.active_retries()), (1, 1));
    drop(s);
    assert_eq!((b.active_requests(), b.active_retries()), (0, 0));
}

#[test]
fn budget_exhaustion_stops_and_is_flagged() {
    let p = policy(RetryOn::FIVE_XX, 3);
    let b = Arc::new(RetryBudgetState::new(RetryLimit::MaxRetries(1)));
    let t0 = Instant::now();
    let mut rng = SeededRng::new(1);
    let mut first = RetryState::new(&p, Arc::clone(&b), None, t0, None);
    let mut second = RetryState::new(&p, Arc::clone(&b), None, t0, None);
    assert!(matches!(
        first.on_outcome(&fail(), None, t0, &mut rng),
        Next::RetryAfter(_)
    ));
    assert!(!first.budget_exhausted());
    assert_eq!(
        second.on_outcome(&fail(), None, t0, &mut rng),
        Next::Done(DoneReason::BudgetExhausted)
    );
    assert!(second.budget_exhausted());
    assert_eq!(
        b.active_requests(),
        0,
        "max_retries does not count requests"
    );
}

/// A backend failing every request, 100 requests always in flight: each
/// request that ends is replaced by a new one. Retries in flight never pass
/// `max(3, 20 % of active requests)`, so attempts per round stay within
/// 1.2x the requests however many retries each policy allows.
#[test]
fn budget_caps_retries_while_a_backend_fails_every_request() {
    let p = policy(RetryOn::FIVE_XX, 5);
    let b = budget();
    let t0 = Instant::now();
    let mut rng = SeededRng::new(5);
    let mut requests: Vec<_> = (0..100)
        .map(|_| RetryState::new(&p, Arc::clone(&b), None, t0, None))
        .collect();
    let mut exhausted = 0;
    for round in 0..50 {
        let now = t0 + round * 10 * MS;
        for slot in &mut requests {
            match slot.on_outcome(&fail(), None, now, &mut rng) {
                Next::RetryAfter(_) => {}
                Next::Done(reason) => {
                    exhausted += usize::from(reason == DoneReason::BudgetExhausted);
                    *slot = RetryState::new(&p, Arc::clone(&b), None, now, None);
                }
                Next::Pending => unreachable!("no hedging"),
            }
            let cap = (b.active_requests() * 20 / 100).max(3);
            assert!(b.active_retries() <= cap, "{} > {cap}", b.active_retries());
        }
        assert_eq!(b.active_requests(), 100);
        assert!(b.active_retries() <= 20);
    }
    assert!(
        exhausted > 1_000,
        "the budget refused most retries: {exhausted}"
    );
    drop(requests);
    assert_eq!((b.active_requests(), b.active_retries()), (0, 0));
}

/// The same backend with 100 requests that all fail at once and are not
/// replaced: as requests finish the cap falls to the floor of 3.
#[test]
fn budget_caps_retries_as_requests_drain() {
    let p = policy(RetryOn::FIVE_XX, 3);
    let b = budget();
    let t0 = Instant::now();
    let mut rng = SeededRng::new(6);
    let mut live: Vec<_> = (0..100)
        .map(|_| RetryState::new(&p, Arc::clone(&b), None, t0, None))
        .collect();
    let mut retries = 0;
    while !live.is_empty() {
        let mut next = Vec::new();
        for mut s in live {
            if let Next::RetryAfter(_) = s.on_outcome(&fail(), None, t0, &mut rng) {
                retries += 1;
                let cap = (b.active_requests() * 20 / 100).max(3);
                assert!(b.active_retries() <= cap);
                next.push(s);
            }
        }
        live = next;
    }
    assert!(retries < 100, "retries were {retries}, not 300");
    assert_eq!((b.active_requests(), b.active_retries()), (0, 0));
}
