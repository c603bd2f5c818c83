//! Per-endpoint counters fed by every call: the consecutive detectors and
//! the interval tallies.
//!
//! This is the hot path, run by many request tasks at once, so it is made
//! of relaxed atomics only: one `fetch_add` for the interval tally, one per
//! failure counter on a failure, and on a success a load per counter (a
//! store only when a run was going, so healthy endpoints do not bounce the
//! cache line between cores). The counters of one endpoint share one
//! cache line and no other endpoint's.
//!
//! A threshold is crossed when the increment lands exactly on it, as in
//! Envoy (`++consecutive_5xx_ == threshold`): exactly one call per run of
//! failures reports it, whatever the concurrency, and the detector then
//! resets the counter under its lock.

use std::sync::atomic::{AtomicU32, Ordering};

use super::enforcing::Enforcing;
use super::event::EjectionKind;
use super::result::{CallResult, is_5xx, is_gateway_error};
use super::tally::IntervalCounter;
use crate::config::OutlierDetection;

/// The consecutive thresholds in force; `None` leaves a detector off (and
/// its counter untouched): not configured, or enforced at 0 %.
#[derive(Debug, Clone, Copy)]
pub(super) struct Thresholds {
    five_xx: Option<u32>,
    gateway: Option<u32>,
    local: Option<u32>,
    split: bool,
}

impl Thresholds {
    pub(super) fn new(config: &OutlierDetection, enforcing: &Enforcing) -> Self {
        let split = config.split_external_local_origin_errors;
        let on = |threshold: Option<u32>, percent: u32| threshold.filter(|_| percent > 0);
        Self {
            five_xx: on(config.consecutive_5xx, enforcing.consecutive_5xx),
            gateway: on(
                config.consecutive_gateway_failure,
                enforcing.consecutive_gateway_failure,
            ),
            // Envoy only runs this detector with split origins.
            local: on(
                config.consecutive_local_origin_failure,
                enforcing.consecutive_local_origin_failure,
            )
            .filter(|_| split),
            split,
        }
    }
}

/// The thresholds one call crossed, in the order Envoy reports them
/// (gateway failure before 5xx, as `putHttpResponseCode` does).
pub(super) type Crossed = [Option<EjectionKind>; 2];

/// One endpoint's live counters.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(super) struct HostCounters {
    five_xx: AtomicU32,
    gateway: AtomicU32,
    local: AtomicU32,
    /// Interval tally of external outcomes (all outcomes when unsplit).
    pub(super) external: IntervalCounter,
    /// Interval tally of local outcomes (split origins only).
    pub(super) local_origin: IntervalCounter,
}

impl HostCounters {
    /// Counts one call; returns the thresholds it crossed.
    pub(super) fn record(&self, result: CallResult, t: &Thresholds) -> Crossed {
        match result {
            _ if !t.split => self.status(result.as_status(), t),
            CallResult::Status(code) => {
                // An answer proves the connection worked (Envoy reports
                // `LocalOriginConnectSuccess` before the status).
                self.local_origin.success();
                clear(&self.local);
                self.status(code, t)
            }
            CallResult::ConnectFailed | CallResult::Reset | CallResult::Timeout => {
                self.local_origin.failure();
                let crossed = t
                    .local
                    .is_some_and(|n| bump(&self.local, n))
                    .then_some(EjectionKind::ConsecutiveLocalOrigin);
                [crossed, None]
            }
        }
    }

    /// Envoy's `putHttpResponseCode`.
    fn status(&self, code: u16, t: &Thresholds) -> Crossed {
        if !is_5xx(code) {
            self.external.success();
            clear(&self.five_xx);
            clear(&self.gateway);
            return [None, None];
        }
        self.external.failure();
        let mut crossed = [None, None];
        if let Some(n) = t.gateway {
            if is_gateway_error(code) {
                if bump(&self.gateway, n) {
                    crossed[0] = Some(EjectionKind::ConsecutiveGatewayFailure);
                }
            } else {
                clear(&self.gateway);
            }
        }
        if t.five_xx.is_some_and(|n| bump(&self.five_xx, n)) {
            crossed[1] = Some(EjectionKind::ConsecutiveFiveXx);
        }
        crossed
    }

    /// Starts the run of `kind` over (after a detection).
    pub(super) fn reset(&self, kind: EjectionKind) {
        match kind {
            EjectionKind::ConsecutiveFiveXx => clear(&self.five_xx),
            EjectionKind::ConsecutiveGatewayFailure => clear(&self.gateway),
            EjectionKind::ConsecutiveLocalOrigin => clear(&self.local),
            _ => {}
        }
    }

    /// Starts every run over (when the endpoint returns, so a counter left
    /// close to its threshold does not eject it again at once).
    pub(super) fn reset_all(&self) {
        clear(&self.five_xx);
        clear(&self.gateway);
        clear(&self.local);
    }
}

/// Adds one failure; whether it landed exactly on the threshold.
fn bump(counter: &AtomicU32, threshold: u32) -> bool {
    counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1) == threshold
}

/// Ends a run, writing only when one was going.
fn clear(counter: &AtomicU32) {
    if counter.load(Ordering::Relaxed) != 0 {
        counter.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thresholds(split: bool) -> Thresholds {
        let config = OutlierDetection {
            consecutive_5xx: Some(3),
            consecutive_gateway_failure: Some(2),
            consecutive_local_origin_failure: Some(2),
            split_external_local_origin_errors: split,
            ..OutlierDetection::default()
        };
        Thresholds::new(&config, &Enforcing::from_config(&config))
    }

    #[test]
    fn a_500_breaks_a_gateway_run_but_not_a_5xx_run() {
        let c = HostCounters::default();
        let t = thresholds(false);
        assert_eq!(c.record(CallResult::Status(502), &t), [None, None]);
        assert_eq!(c.record(CallResult::Status(500), &t), [None, None]);
        assert_eq!(
            c.record(CallResult::Status(503), &t),
            [None, Some(EjectionKind::ConsecutiveFiveXx)]
        );
    }

    #[test]
    fn the_threshold_is_reported_once_per_run() {
        let c = HostCounters::default();
        let t = thresholds(false);
        let hits = (0..10)
            .filter(|_| c.record(CallResult::Status(500), &t)[1].is_some())
            .count();
        assert_eq!(hits, 1);
    }

    #[test]
    fn split_local_failures_stay_out_of_the_external_counters() {
        let c = HostCounters::default();
        let t = thresholds(true);
        assert_eq!(c.record(CallResult::Timeout, &t), [None, None]);
        assert_eq!(
            c.record(CallResult::Reset, &t),
            [Some(EjectionKind::ConsecutiveLocalOrigin), None]
        );
        assert_eq!(c.external.take().total, 0);
        assert_eq!(c.local_origin.take().total, 2);
    }
}
