//! Hedging: backup attempts sent while the first is still in flight.
//!
//! A request stuck on a slow host is rescued by a second copy sent
//! elsewhere after a delay, and the first answer wins (gRFC A6 hedging;
//! Envoy's `hedge_on_per_try_timeout` is the special case where the delay
//! is the per-try timeout). Hedges add load, so they are bounded three
//! ways: `max_hedges` per request, the policy's `num_retries` (hedges and
//! retries share that allowance, as A6's `max_attempts` does), and the
//! cluster's retry budget, where each hedge holds a permit like a retry.
//!
//! The schedule is A6's: hedge `k` is due `delay` after the attempt before
//! it was sent; a retriable failure of an attempt sends the next hedge at
//! once (or after the server's pushback), and a fatal outcome or a success
//! ends the request.

use std::time::Duration;

/// Backup attempts after a delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HedgePolicy {
    /// The wait between consecutive attempts while none has answered.
    pub delay: Duration,
    /// Hedges allowed per request, on top of the first attempt.
    pub max_hedges: u32,
}

/// When the next hedge goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HedgeDecision {
    /// Now.
    Now,
    /// After this much more time.
    In(Duration),
    /// No more hedges for this request.
    Never,
}

/// When the next hedge is due, given the hedges already sent and the time
/// since the latest attempt was sent.
pub fn next_hedge(
    policy: &HedgePolicy,
    hedges_sent: u32,
    since_last_attempt: Duration,
) -> HedgeDecision {
    if hedges_sent >= policy.max_hedges {
        HedgeDecision::Never
    } else if since_last_attempt >= policy.delay {
        HedgeDecision::Now
    } else {
        HedgeDecision::In(policy.delay - since_last_attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn hedge_schedule_waits_the_delay_after_each_attempt() {
        let p = HedgePolicy {
            delay: 50 * MS,
            max_hedges: 2,
        };
        assert_eq!(
            next_hedge(&p, 0, Duration::ZERO),
            HedgeDecision::In(50 * MS)
        );
        assert_eq!(next_hedge(&p, 0, 20 * MS), HedgeDecision::In(30 * MS));
        assert_eq!(next_hedge(&p, 0, 50 * MS), HedgeDecision::Now);
        assert_eq!(next_hedge(&p, 1, 70 * MS), HedgeDecision::Now);
        assert_eq!(next_hedge(&p, 2, 500 * MS), HedgeDecision::Never);
    }

    #[test]
    fn zero_hedges_means_never_and_zero_delay_means_now() {
        let none = HedgePolicy {
            delay: Duration::ZERO,
            max_hedges: 0,
        };
        assert_eq!(next_hedge(&none, 0, Duration::ZERO), HedgeDecision::Never);
        let eager = HedgePolicy {
            max_hedges: 1,
            ..none
        };
        assert_eq!(next_hedge(&eager, 0, Duration::ZERO), HedgeDecision::Now);
    }
}
