//! What the detector did, for metrics and logs.
//!
//! Envoy keeps counters per detector (`ejections_detected_*`,
//! `ejections_enforced_*`, `ejections_overflow`) and an event log with
//! eject and uneject actions. The detector returns the same facts as
//! values, so the telemetry layer counts them and the core stays free of
//! any metrics dependency.

use std::time::Instant;

/// Which detector found the outlier. The names follow Envoy's
/// `OutlierEjectionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EjectionKind {
    /// `consecutive_5xx` answers (or mapped local failures) in a row.
    ConsecutiveFiveXx,
    /// `consecutive_gateway_failure` 502/503/504 in a row.
    ConsecutiveGatewayFailure,
    /// `consecutive_local_origin_failure` local failures in a row (split
    /// origins only).
    ConsecutiveLocalOrigin,
    /// Success rate below the cluster's mean minus the stdev margin.
    SuccessRate,
    /// The same over local-origin outcomes (split origins only).
    SuccessRateLocalOrigin,
    /// Failure percentage at or above the threshold.
    FailurePercentage,
    /// The same over local-origin outcomes (split origins only).
    FailurePercentageLocalOrigin,
}

impl EjectionKind {
    /// Envoy's name for the kind (as in its stats and event log), usable as
    /// a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConsecutiveFiveXx => "consecutive_5xx",
            Self::ConsecutiveGatewayFailure => "consecutive_gateway_failure",
            Self::ConsecutiveLocalOrigin => "consecutive_local_origin_failure",
            Self::SuccessRate => "success_rate",
            Self::SuccessRateLocalOrigin => "local_origin_success_rate",
            Self::FailurePercentage => "failure_percentage",
            Self::FailurePercentageLocalOrigin => "local_origin_failure_percentage",
        }
    }
}

/// Why a detected outlier stayed in service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotEjectedReason {
    /// Ejecting it would exceed `max_ejection_percent` (Envoy's
    /// `ejections_overflow`).
    MaxEjectionPercent,
    /// The detector's enforcing percentage said no this time.
    NotEnforced,
}

/// Something the detector did or decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The endpoint is out of service until the first interval tick at or
    /// after `until`.
    Ejected {
        /// The endpoint's index in the cluster.
        endpoint: usize,
        /// The detector that found it.
        kind: EjectionKind,
        /// When its ejection time is up.
        until: Instant,
    },
    /// The endpoint is back in service.
    Returned {
        /// The endpoint's index in the cluster.
        endpoint: usize,
    },
    /// An outlier was detected but stays in service.
    NotEjected {
        /// The endpoint's index in the cluster.
        endpoint: usize,
        /// The detector that found it.
        kind: EjectionKind,
        /// Why it stays.
        reason: NotEjectedReason,
    },
}

impl Event {
    /// The endpoint the event is about.
    pub fn endpoint(&self) -> usize {
        match *self {
            Self::Ejected { endpoint, .. }
            | Self::Returned { endpoint }
            | Self::NotEjected { endpoint, .. } => endpoint,
        }
    }
}
