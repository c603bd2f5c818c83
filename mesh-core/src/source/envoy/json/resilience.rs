//! Mirror of a cluster's `circuit_breakers` (cluster-wide `thresholds` and
//! `per_host_thresholds`, the same message, `retry_budget` included) and
//! `outlier_detection`.
//!
//! A threshold's `retry_budget` is transcribed wherever it appears: the
//! conversion reads it in `thresholds` (checking its percentage) and
//! refuses it in `per_host_thresholds`, so a file gets the same answer as
//! an xDS response instead of the budget silently vanishing.

use envoy_types::pb::envoy::config::cluster::v3::{
    self as pb,
    circuit_breakers::{Thresholds as PbThresholds, thresholds::RetryBudget as PbRetryBudget},
};
use envoy_types::pb::envoy::config::core::v3::RoutingPriority;
use envoy_types::pb::envoy::r#type::v3::Percent as PbPercent;
use serde::Deserialize;

use super::wkt::{Double, Dur, Enum, Int, enum_value, nullable, proto_enums, u32_value};

proto_enums!(RoutingPriority => "RoutingPriority");

/// `config.cluster.v3.CircuitBreakers`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CircuitBreakers {
    #[serde(deserialize_with = "nullable")]
    thresholds: Vec<Thresholds>,
    #[serde(alias = "perHostThresholds", deserialize_with = "nullable")]
    per_host_thresholds: Vec<Thresholds>,
}

/// `CircuitBreakers.Thresholds`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Thresholds {
    priority: Option<Enum<RoutingPriority>>,
    #[serde(alias = "maxConnections")]
    max_connections: Option<Int<u32>>,
    #[serde(alias = "maxPendingRequests")]
    max_pending_requests: Option<Int<u32>>,
    #[serde(alias = "maxRequests")]
    max_requests: Option<Int<u32>>,
    #[serde(alias = "maxRetries")]
    max_retries: Option<Int<u32>>,
    #[serde(alias = "maxConnectionPools")]
    max_connection_pools: Option<Int<u32>>,
    #[serde(alias = "retryBudget")]
    retry_budget: Option<RetryBudget>,
}

/// `Thresholds.RetryBudget`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RetryBudget {
    #[serde(alias = "budgetPercent")]
    budget_percent: Option<Percent>,
    #[serde(alias = "minRetryConcurrency")]
    min_retry_concurrency: Option<Int<u32>>,
}

/// `type.v3.Percent`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Percent {
    #[serde(deserialize_with = "nullable")]
    value: Double,
}

impl RetryBudget {
    fn into_proto(self) -> PbRetryBudget {
        PbRetryBudget {
            budget_percent: self.budget_percent.map(|p| PbPercent { value: p.value.0 }),
            min_retry_concurrency: u32_value(self.min_retry_concurrency),
            ..Default::default()
        }
    }
}

impl Thresholds {
    fn into_proto(self) -> PbThresholds {
        PbThresholds {
            priority: enum_value(self.priority),
            max_connections: u32_value(self.max_connections),
            max_pending_requests: u32_value(self.max_pending_requests),
            max_requests: u32_value(self.max_requests),
            max_retries: u32_value(self.max_retries),
            max_connection_pools: u32_value(self.max_connection_pools),
            retry_budget: self.retry_budget.map(RetryBudget::into_proto),
            ..Default::default()
        }
    }
}

impl CircuitBreakers {
    pub(super) fn into_proto(self) -> pb::CircuitBreakers {
        pb::CircuitBreakers {
            thresholds: self
                .thresholds
                .into_iter()
                .map(Thresholds::into_proto)
                .collect(),
            per_host_thresholds: self
                .per_host_thresholds
                .into_iter()
                .map(Thresholds::into_proto)
                .collect(),
        }
    }
}

/// `config.cluster.v3.OutlierDetection`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct OutlierDetection {
    #[serde(alias = "consecutive5xx")]
    consecutive_5xx: Option<Int<u32>>,
    interval: Option<Dur>,
    #[serde(alias = "baseEjectionTime")]
    base_ejection_time: Option<Dur>,
    #[serde(alias = "maxEjectionTime")]
    max_ejection_time: Option<Dur>,
    #[serde(alias = "maxEjectionPercent")]
    max_ejection_percent: Option<Int<u32>>,
    #[serde(alias = "enforcingConsecutive5xx")]
    enforcing_consecutive_5xx: Option<Int<u32>>,
    #[serde(alias = "enforcingSuccessRate")]
    enforcing_success_rate: Option<Int<u32>>,
    #[serde(alias = "successRateMinimumHosts")]
    success_rate_minimum_hosts: Option<Int<u32>>,
    #[serde(alias = "successRateRequestVolume")]
    success_rate_request_volume: Option<Int<u32>>,
    #[serde(alias = "successRateStdevFactor")]
    success_rate_stdev_factor: Option<Int<u32>>,
    #[serde(alias = "consecutiveGatewayFailure")]
    consecutive_gateway_failure: Option<Int<u32>>,
    #[serde(alias = "enforcingConsecutiveGatewayFailure")]
    enforcing_consecutive_gateway_failure: Option<Int<u32>>,
    #[serde(
        alias = "splitExternalLocalOriginErrors",
        deserialize_with = "nullable"
    )]
    split_external_local_origin_errors: bool,
    #[serde(alias = "consecutiveLocalOriginFailure")]
    consecutive_local_origin_failure: Option<Int<u32>>,
    #[serde(alias = "enforcingConsecutiveLocalOriginFailure")]
    enforcing_consecutive_local_origin_failure: Option<Int<u32>>,
    #[serde(alias = "failurePercentageThreshold")]
    failure_percentage_threshold: Option<Int<u32>>,
    #[serde(alias = "enforcingFailurePercentage")]
    enforcing_failure_percentage: Option<Int<u32>>,
    #[serde(alias = "failurePercentageMinimumHosts")]
    failure_percentage_minimum_hosts: Option<Int<u32>>,
    #[serde(alias = "failurePercentageRequestVolume")]
    failure_percentage_request_volume: Option<Int<u32>>,
}

impl OutlierDetection {
    pub(super) fn into_proto(self) -> pb::OutlierDetection {
        pb::OutlierDetection {
            consecutive_5xx: u32_value(self.consecutive_5xx),
            interval: self.interval.map(|d| d.0),
            base_ejection_time: self.base_ejection_time.map(|d| d.0),
            max_ejection_time: self.max_ejection_time.map(|d| d.0),
            max_ejection_percent: u32_value(self.max_ejection_percent),
            enforcing_consecutive_5xx: u32_value(self.enforcing_consecutive_5xx),
            enforcing_success_rate: u32_value(self.enforcing_success_rate),
            success_rate_minimum_hosts: u32_value(self.success_rate_minimum_hosts),
            success_rate_request_volume: u32_value(self.success_rate_request_volume),
            success_rate_stdev_factor: u32_value(self.success_rate_stdev_factor),
            consecutive_gateway_failure: u32_value(self.consecutive_gateway_failure),
            enforcing_consecutive_gateway_failure: u32_value(
                self.enforcing_consecutive_gateway_failure,
            ),
            split_external_local_origin_errors: self.split_external_local_origin_errors,
            consecutive_local_origin_failure: u32_value(self.consecutive_local_origin_failure),
            enforcing_consecutive_local_origin_failure: u32_value(
                self.enforcing_consecutive_local_origin_failure,
            ),
            failure_percentage_threshold: u32_value(self.failure_percentage_threshold),
            enforcing_failure_percentage: u32_value(self.enforcing_failure_percentage),
            failure_percentage_minimum_hosts: u32_value(self.failure_percentage_minimum_hosts),
            failure_percentage_request_volume: u32_value(self.failure_percentage_request_volume),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakers_and_outlier_detection_transcribe() {
        let cb: CircuitBreakers = serde_yaml::from_str(
            "{thresholds: [{priority: HIGH, maxRequests: 5}, {max_requests: '100', maxRetries: 0}],
              perHostThresholds: [{maxConnections: 4, max_connection_pools: 2}]}",
        )
        .unwrap();
        let cb = cb.into_proto();
        let per_host = &cb.per_host_thresholds[0];
        assert_eq!(per_host.max_connections.map(|v| v.value), Some(4));
        assert_eq!(per_host.max_connection_pools.map(|v| v.value), Some(2));
        assert_eq!(cb.thresholds[0].priority, RoutingPriority::High as i32);
        assert_eq!(cb.thresholds[1].max_requests.map(|v| v.value), Some(100));
        assert_eq!(cb.thresholds[1].max_retries.map(|v| v.value), Some(0));
        assert_eq!(cb.thresholds[0].retry_budget, None);

        let od: OutlierDetection = serde_yaml::from_str(
            "{consecutive5xx: 3, interval: 1s, enforcing_success_rate: 0, splitExternalLocalOriginErrors: true}",
        )
        .unwrap();
        let od = od.into_proto();
        assert_eq!(od.consecutive_5xx.map(|v| v.value), Some(3));
        assert_eq!(od.interval.map(|d| d.seconds), Some(1));
        assert_eq!(od.enforcing_success_rate.map(|v| v.value), Some(0));
        assert!(od.split_external_local_origin_errors);
    }

    #[test]
    fn retry_budgets_transcribe_in_both_spellings() {
        let budget = |yaml: &str| {
            let cb: CircuitBreakers = serde_yaml::from_str(yaml).unwrap();
            let mut cb = cb.into_proto();
            cb.thresholds.remove(0).retry_budget.unwrap()
        };
        let b = budget(
            "{thresholds: [{retry_budget: {budget_percent: {value: 12.5}, min_retry_concurrency: 7}}]}",
        );
        assert_eq!(b.budget_percent.map(|p| p.value), Some(12.5));
        assert_eq!(b.min_retry_concurrency.map(|v| v.value), Some(7));
        let b = budget(
            "{thresholds: [{retryBudget: {budgetPercent: {value: '30'}, minRetryConcurrency: '2'}}]}",
        );
        assert_eq!(b.budget_percent.map(|p| p.value), Some(30.0));
        assert_eq!(b.min_retry_concurrency.map(|v| v.value), Some(2));
        // Left out, both stay unset, for the conversion's defaults.
        let b = budget("{thresholds: [{retryBudget: {}}]}");
        assert_eq!((b.budget_percent, b.min_retry_concurrency), (None, None));

        let cb: CircuitBreakers = serde_yaml::from_str(
            "{perHostThresholds: [{retryBudget: {budgetPercent: {value: 5}}}]}",
        )
        .unwrap();
        assert!(
            cb.into_proto().per_host_thresholds[0]
                .retry_budget
                .is_some()
        );
        let e = serde_yaml::from_str::<CircuitBreakers>(
            "{thresholds: [{retry_budget: {budget_percent: {value: lots}}}]}",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("thresholds[0].retry_budget.budget_percent.value"),
            "{e}"
        );
    }
}
