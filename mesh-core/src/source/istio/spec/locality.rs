//! `LocalityLoadBalancerSetting` (a DestinationRule's
//! `trafficPolicy.loadBalancer.localityLbSetting`).

use std::collections::BTreeMap;

use serde::Deserialize;

/// `LocalityLoadBalancerSetting`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct LocalityLbSettingSpec {
    pub distribute: Vec<DistributeSpec>,
    pub failover: Vec<FailoverSpec>,
    pub failover_priority: Vec<String>,
    pub enabled: Option<bool>,
}

/// `LocalityLoadBalancerSetting.Distribute`: from the caller's locality,
/// the share of traffic (percent) to each destination locality.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DistributeSpec {
    pub from: String,
    pub to: BTreeMap<String, i64>,
}

/// `LocalityLoadBalancerSetting.Failover`: from a region to another.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FailoverSpec {
    pub from: String,
    pub to: String,
}
