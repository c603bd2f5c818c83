//! Outlier detection: Envoy's passive health checking, sans-IO.
//!
//! A cluster's endpoints are watched through the outcomes of real calls.
//! An endpoint that misbehaves compared with a fixed threshold or with its
//! peers is *ejected*: the picker skips it for a while, then it returns on
//! its own. This is what Envoy (and Istio's `DestinationRule`
//! `outlierDetection`) does, rule for rule, so that a service moved from a
//! sidecar to the embedded engine keeps the same failure behaviour.
//!
//! # The five detectors
//!
//! - **Consecutive 5xx** ([`EjectionKind::ConsecutiveFiveXx`]): `n` 5xx
//!   answers in a row. Without `split_external_local_origin_errors`,
//!   connect failures and resets count as 503 and timeouts as 504, as
//!   Envoy's router reports them.
//! - **Consecutive gateway failure** (502, 503, 504 and, unsplit, the
//!   local-origin failures mapped to them). A 500 breaks the run.
//! - **Consecutive local-origin failure**: connect failures, resets and
//!   timeouts in a row; only with the split on.
//! - **Success rate**, once per interval: over the endpoints with at least
//!   `request_volume` calls in the interval (and only when at least
//!   `minimum_hosts` qualify), eject those whose success rate is below
//!   `mean - stdev_factor / 1000 * stdev` (population standard deviation).
//! - **Failure percentage**, once per interval: eject endpoints whose
//!   failure percentage is at least the threshold, with the same volume and
//!   minimum-hosts gates.
//!
//! With the split on, success rate and failure percentage also run over
//! the local-origin outcomes, as Envoy's `SUCCESS_RATE_LOCAL_ORIGIN` and
//! `FAILURE_PERCENTAGE_LOCAL_ORIGIN` do.
//!
//! Consecutive detectors eject at once, from the call that crosses the
//! threshold; the interval detectors eject from
//! [`OutlierDetector::on_interval`], which the owner calls every
//! `interval` (the detector has no timer: time and randomness come from the
//! caller, so tests pin every rule down).
//!
//! # Ejection
//!
//! Ejection lasts `base_ejection_time` times a per-endpoint multiplier that
//! grows by one with each ejection and shrinks by one for every interval
//! tick the endpoint spends back in service, capped at
//! `max(base_ejection_time, max_ejection_time)`. Ejected endpoints return
//! at the first interval tick after their time is up. No ejection happens
//! when it would take the ejected share above `max_ejection_percent`
//! (Envoy's current rule, which counts the endpoint about to be ejected);
//! [`OutlierDetector::with_always_eject_one_host`] is Envoy's
//! `always_eject_one_host`. Each detector also has an *enforcing*
//! percentage ([`Enforcing`]): the chance that a detected outlier is
//! really ejected.
//!
//! # Concurrency
//!
//! [`OutlierDetector::record`] runs on every call from many tasks: it
//! costs a few relaxed atomic operations on the endpoint's own cache line
//! and takes a lock only when a consecutive threshold is crossed.
//! [`OutlierDetector::on_interval`] takes the same lock once per interval.
//! The picker reads ejections through an [`EjectionView`] (one atomic load
//! per endpoint) and applies the panic threshold itself, from
//! [`EjectionView::healthy_fraction`].

mod consecutive;
mod detector;
mod ejection;
mod enforcing;
mod event;
mod failure_percentage;
mod result;
mod success_rate;
mod tally;
mod view;

#[cfg(test)]
mod tests;

pub use detector::OutlierDetector;
pub use enforcing::Enforcing;
pub use event::{EjectionKind, Event, NotEjectedReason};
pub use result::CallResult;
pub use view::EjectionView;
