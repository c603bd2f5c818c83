//! A cluster's `circuit_breakers` and `outlier_detection`, with Envoy's
//! defaults for every field left out.
//!
//! Breakers: only the thresholds of priority `DEFAULT` apply (a client
//! sends no high-priority traffic). Retries are capped by a retry budget
//! unless the thresholds set `max_retries` and no `retry_budget`: the
//! budget is on by default here (Envoy's default is `max_retries` 3). Outlier detection: each detector is on
//! when its `enforcing_*` percentage is above zero, with Envoy's defaults
//! (consecutive 5xx and success rate on at 100 %, consecutive gateway
//! failure and failure percentage off); the model has no partial
//! enforcement, so any percentage above zero enforces always. The
//! local-origin detector only exists with
//! `split_external_local_origin_errors`.

use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::{
    CircuitBreakers as PbCircuitBreakers, OutlierDetection as PbOutlierDetection,
};
use envoy_types::pb::envoy::config::core::v3::RoutingPriority;
use envoy_types::pb::google::protobuf::UInt32Value;

use super::opt_duration;
use crate::config::{CircuitBreakers, ConfigError, OutlierDetection, RetryBudget};

/// `cluster.v3.CircuitBreakers`: the `DEFAULT` priority's thresholds.
pub(super) fn circuit_breakers(cb: &PbCircuitBreakers) -> Result<CircuitBreakers, ConfigError> {
    let mut out = CircuitBreakers::default();
    let default = RoutingPriority::Default as i32;
    if let Some(t) = cb.thresholds.iter().find(|t| t.priority == default) {
        let set = |slot: &mut u32, v: Option<UInt32Value>| {
            if let Some(v) = v {
                *slot = v.value;
            }
        };
        set(&mut out.max_connections, t.max_connections);
        set(&mut out.max_pending_requests, t.max_pending_requests);
        set(&mut out.max_requests, t.max_requests);
        set(&mut out.max_retries, t.max_retries);
        out.retry_budget = match &t.retry_budget {
            Some(b) => {
                let defaults = RetryBudget::default();
                let budget = RetryBudget {
                    budget_percent: b
                        .budget_percent
                        .as_ref()
                        .map_or(defaults.budget_percent, |p| p.value),
                    min_retry_concurrency: or(
                        b.min_retry_concurrency,
                        defaults.min_retry_concurrency,
                    ),
                };
                budget.validate().map_err(|e| e.at("retry_budget"))?;
                Some(budget)
            }
            None if t.max_retries.is_some() => None,
            None => out.retry_budget,
        };
    }
    Ok(out)
}

/// A wrapper's value or Envoy's default.
fn or(v: Option<UInt32Value>, default: u32) -> u32 {
    v.map_or(default, |v| v.value)
}

/// An `enforcing_*` percentage: whether the detector is on.
fn enforced(v: Option<UInt32Value>, default: u32, field: &str) -> Result<bool, ConfigError> {
    let percent = or(v, default);
    if percent > 100 {
        return Err(ConfigError::field(
            field,
            format!("{percent} is not within 0..=100"),
        ));
    }
    Ok(percent > 0)
}

/// `cluster.v3.OutlierDetection`.
pub(super) fn outlier_detection(o: &PbOutlierDetection) -> Result<OutlierDetection, ConfigError> {
    let mut od = OutlierDetection::default();
    if let Some(d) = opt_duration(o.interval.as_ref(), "interval")? {
        od.interval = d;
    }
    if let Some(d) = opt_duration(o.base_ejection_time.as_ref(), "base_ejection_time")? {
        od.base_ejection_time = d;
    }
    od.max_ejection_time = match opt_duration(o.max_ejection_time.as_ref(), "max_ejection_time")? {
        Some(d) => d,
        // Envoy: 300 s or the base ejection time, whichever is larger.
        None => od.base_ejection_time.max(Duration::from_secs(300)),
    };
    od.max_ejection_percent = or(o.max_ejection_percent, 10);
    od.split_external_local_origin_errors = o.split_external_local_origin_errors;

    od.consecutive_5xx = enforced(
        o.enforcing_consecutive_5xx,
        100,
        "enforcing_consecutive_5xx",
    )?
    .then(|| or(o.consecutive_5xx, 5));
    od.consecutive_gateway_failure = enforced(
        o.enforcing_consecutive_gateway_failure,
        0,
        "enforcing_consecutive_gateway_failure",
    )?
    .then(|| or(o.consecutive_gateway_failure, 5));
    let local = enforced(
        o.enforcing_consecutive_local_origin_failure,
        100,
        "enforcing_consecutive_local_origin_failure",
    )?;
    od.consecutive_local_origin_failure = (local && o.split_external_local_origin_errors)
        .then(|| or(o.consecutive_local_origin_failure, 5));
    od.success_rate =
        enforced(o.enforcing_success_rate, 100, "enforcing_success_rate")?.then(|| {
            (
                or(o.success_rate_stdev_factor, 1900),
                or(o.success_rate_minimum_hosts, 5),
                or(o.success_rate_request_volume, 100),
            )
        });
    od.failure_percentage = enforced(
        o.enforcing_failure_percentage,
        0,
        "enforcing_failure_percentage",
    )?
    .then(|| {
        (
            or(o.failure_percentage_threshold, 85),
            or(o.failure_percentage_minimum_hosts, 5),
            or(o.failure_percentage_request_volume, 50),
        )
    });
    od.validate()?;
    Ok(od)
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::cluster::v3::circuit_breakers::Thresholds;
    use envoy_types::pb::google::protobuf::Duration as PbDuration;

    fn u(value: u32) -> Option<UInt32Value> {
        Some(UInt32Value { value })
    }

    #[test]
    fn breakers_read_the_default_priority() {
        let cb = PbCircuitBreakers {
            thresholds: vec![
                Thresholds {
                    priority: RoutingPriority::High as i32,
                    max_requests: u(1),
                    ..Default::default()
                },
                Thresholds {
                    max_requests: u(100),
                    max_retries: u(0),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let out = circuit_breakers(&cb).unwrap();
        assert_eq!(out.max_requests, 100);
        assert_eq!(out.max_retries, 0);
        assert_eq!(out.max_connections, 1024);
    }

    #[test]
    fn outlier_defaults_follow_envoy() {
        let od = outlier_detection(&PbOutlierDetection::default()).unwrap();
        assert_eq!(od.consecutive_5xx, Some(5));
        assert_eq!(od.consecutive_gateway_failure, None);
        assert_eq!(od.consecutive_local_origin_failure, None);
        assert_eq!(od.success_rate, Some((1900, 5, 100)));
        assert_eq!(od.failure_percentage, None);
        assert_eq!(od.interval, Duration::from_secs(10));
        assert_eq!(od.max_ejection_time, Duration::from_secs(300));

        let od = outlier_detection(&PbOutlierDetection {
            consecutive_5xx: u(3),
            enforcing_success_rate: u(0),
            enforcing_consecutive_gateway_failure: u(100),
            enforcing_failure_percentage: u(50),
            failure_percentage_threshold: u(60),
            split_external_local_origin_errors: true,
            base_ejection_time: Some(PbDuration {
                seconds: 600,
                nanos: 0,
            }),
            max_ejection_percent: u(50),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(od.consecutive_5xx, Some(3));
        assert_eq!(od.success_rate, None);
        assert_eq!(od.consecutive_gateway_failure, Some(5));
        assert_eq!(od.consecutive_local_origin_failure, Some(5));
        assert_eq!(od.failure_percentage, Some((60, 5, 50)));
        assert_eq!(od.max_ejection_time, Duration::from_secs(600));
        assert_eq!(od.max_ejection_percent, 50);

        let bad = |o: PbOutlierDetection| outlier_detection(&o).unwrap_err().field;
        assert_eq!(
            bad(PbOutlierDetection {
                max_ejection_percent: u(101),
                ..Default::default()
            }),
            "max_ejection_percent"
        );
        assert_eq!(
            bad(PbOutlierDetection {
                enforcing_success_rate: u(101),
                ..Default::default()
            }),
            "enforcing_success_rate"
        );
        assert_eq!(
            bad(PbOutlierDetection {
                interval: Some(PbDuration::default()),
                ..Default::default()
            }),
            "interval"
        );
    }
}
