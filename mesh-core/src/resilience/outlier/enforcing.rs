//! Enforcing percentages: how often a detected outlier is really ejected.
//!
//! Envoy lets each detector run "dry" (0 %: detect and count, never eject)
//! or ramp up slowly (say 10 %: one detection in ten ejects), drawing a
//! random number per detection. The validated config model keeps only
//! whether a detector is on (any percentage above zero turns it on), so
//! [`Enforcing::from_config`] enforces the configured detectors always;
//! callers that know the real percentages pass them with
//! [`OutlierDetector::with_enforcing`](super::OutlierDetector::with_enforcing).

use super::event::EjectionKind;
use crate::config::OutlierDetection;
use crate::rng::MeshRng;

/// Percentages (0..=100; larger values count as 100) of detections that
/// eject, per detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enforcing {
    /// `enforcing_consecutive_5xx`.
    pub consecutive_5xx: u32,
    /// `enforcing_consecutive_gateway_failure`.
    pub consecutive_gateway_failure: u32,
    /// `enforcing_consecutive_local_origin_failure`.
    pub consecutive_local_origin_failure: u32,
    /// `enforcing_success_rate`.
    pub success_rate: u32,
    /// `enforcing_local_origin_success_rate` (Envoy's default: 100).
    pub local_origin_success_rate: u32,
    /// `enforcing_failure_percentage`.
    pub failure_percentage: u32,
    /// `enforcing_failure_percentage_local_origin` (Envoy's default: 0).
    pub failure_percentage_local_origin: u32,
}

impl Enforcing {
    /// 100 % for each detector the config turns on, 0 % for the others;
    /// the local-origin interval detectors, which the model does not carry,
    /// get Envoy's defaults (success rate 100 %, failure percentage 0 %).
    pub fn from_config(config: &OutlierDetection) -> Self {
        let on = |yes: bool| if yes { 100 } else { 0 };
        Self {
            consecutive_5xx: on(config.consecutive_5xx.is_some()),
            consecutive_gateway_failure: on(config.consecutive_gateway_failure.is_some()),
            consecutive_local_origin_failure: on(config.consecutive_local_origin_failure.is_some()),
            success_rate: on(config.success_rate.is_some()),
            local_origin_success_rate: 100,
            failure_percentage: on(config.failure_percentage.is_some()),
            failure_percentage_local_origin: 0,
        }
    }
}

impl Enforcing {
    /// The percentage of `kind`'s detector.
    pub(super) fn of(&self, kind: EjectionKind) -> u32 {
        match kind {
            EjectionKind::ConsecutiveFiveXx => self.consecutive_5xx,
            EjectionKind::ConsecutiveGatewayFailure => self.consecutive_gateway_failure,
            EjectionKind::ConsecutiveLocalOrigin => self.consecutive_local_origin_failure,
            EjectionKind::SuccessRate => self.success_rate,
            EjectionKind::SuccessRateLocalOrigin => self.local_origin_success_rate,
            EjectionKind::FailurePercentage => self.failure_percentage,
            EjectionKind::FailurePercentageLocalOrigin => self.failure_percentage_local_origin,
        }
    }
}

/// Whether a detection with enforcing `percent` ejects: Envoy's
/// `featureEnabled(key, percent)`. Draws only for 1..=99.
pub(super) fn roll(percent: u32, rng: &mut dyn MeshRng) -> bool {
    match percent {
        0 => false,
        p if p >= 100 => true,
        p => rng.below(100) < u64::from(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn roll_is_never_for_0_always_for_100_and_proportional_between() {
        let mut rng = SeededRng::new(3);
        assert!((0..1000).all(|_| !roll(0, &mut rng)));
        assert!((0..1000).all(|_| roll(100, &mut rng)));
        assert!((0..1000).all(|_| roll(250, &mut rng)));
        let hits = (0..10_000).filter(|_| roll(30, &mut rng)).count();
        assert!((2_700..3_300).contains(&hits), "{hits}");
    }

    #[test]
    fn from_config_enforces_what_is_on() {
        let config = OutlierDetection {
            consecutive_gateway_failure: Some(3),
            ..OutlierDetection::default()
        };
        let e = Enforcing::from_config(&config);
        assert_eq!(e.consecutive_5xx, 100);
        assert_eq!(e.consecutive_gateway_failure, 100);
        assert_eq!(e.consecutive_local_origin_failure, 0);
        assert_eq!(e.success_rate, 0);
        assert_eq!(e.local_origin_success_rate, 100);
        assert_eq!(e.failure_percentage_local_origin, 0);
    }
}
