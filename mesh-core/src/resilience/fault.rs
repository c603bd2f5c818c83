//! Fault injection: delay or fail a fraction of requests on purpose, to
//! test in staging how callers cope (Envoy's HTTP fault filter, Istio's
//! `HTTPFaultInjection`).
//!
//! The delay and the abort are drawn independently, each at its own
//! fraction; a request drawn for both is delayed, then aborted, as in
//! Envoy. The delay comes before the request's timeout starts (the fault
//! filter runs before the router). Envoy's header-controlled faults and
//! `max_active_faults` are not modelled: the sources we read (Istio,
//! the route's `typed_per_filter_config`) do not set them.

use std::time::Duration;

use crate::config::{AbortCode, FaultPolicy};
use crate::rng::MeshRng;

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Injected {
    /// Hold the request this long first.
    pub delay: Option<Duration>,
    /// Then answer it with this code instead of sending it.
    pub abort: Option<AbortCode>,
}

impl Injected {
    /// Whether nothing is injected.
    pub fn is_none(&self) -> bool {
        self.delay.is_none() && self.abort.is_none()
    }
}

/// Draws the faults of `policy` for one request.
pub fn inject(policy: &FaultPolicy, rng: &mut dyn MeshRng) -> Injected {
    Injected {
        delay: policy.delay.and_then(|(d, f)| f.drawn(rng).then_some(d)),
        abort: policy
            .abort
            .and_then(|(code, f)| f.drawn(rng).then_some(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Fraction;
    use crate::rng::SeededRng;

    #[test]
    fn each_fault_is_drawn_at_its_own_fraction() {
        let policy = FaultPolicy {
            delay: Some((Duration::from_millis(5), Fraction::new(1, 2))),
            abort: Some((AbortCode::Http(503), Fraction::new(1, 10))),
        };
        let mut rng = SeededRng::new(11);
        let n = 20_000;
        let (mut delays, mut aborts) = (0, 0);
        for _ in 0..n {
            let i = inject(&policy, &mut rng);
            delays += u32::from(i.delay == Some(Duration::from_millis(5)));
            aborts += u32::from(i.abort == Some(AbortCode::Http(503)));
        }
        // ±5 standard deviations: never flakes, still tells 50 % from 10 %.
        assert!((9_650..=10_350).contains(&delays), "{delays}");
        assert!((1_790..=2_210).contains(&aborts), "{aborts}");
    }

    #[test]
    fn all_or_nothing_fractions_are_exact() {
        let mut rng = SeededRng::new(3);
        let always = FaultPolicy {
            delay: None,
            abort: Some((AbortCode::Grpc(14), Fraction::new(1, 1))),
        };
        let never = FaultPolicy {
            delay: Some((Duration::from_secs(1), Fraction::new(0, 1))),
            abort: None,
        };
        for _ in 0..1000 {
            assert_eq!(inject(&always, &mut rng).abort, Some(AbortCode::Grpc(14)));
            assert!(inject(&never, &mut rng).is_none());
        }
    }
}
