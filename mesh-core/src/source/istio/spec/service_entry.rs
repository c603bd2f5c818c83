//! `ServiceEntry` (networking.istio.io): a service's ports and endpoints.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

/// `spec` of a ServiceEntry. `addresses`, `location`, `exportTo` and
/// `subjectAltNames` are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ServiceEntrySpec {
    pub hosts: Vec<String>,
    pub ports: Vec<ServicePortSpec>,
    pub resolution: Option<String>,
    pub endpoints: Vec<WorkloadEntrySpec>,
    pub workload_selector: Option<IgnoredAny>,
}

/// `ServicePort`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ServicePortSpec {
    pub number: Option<i64>,
    pub protocol: Option<String>,
    pub name: String,
    pub target_port: Option<i64>,
}

/// `WorkloadEntry`, inline in a ServiceEntry (`network` and
/// `serviceAccount` are ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WorkloadEntrySpec {
    pub address: String,
    pub ports: BTreeMap<String, i64>,
    pub labels: BTreeMap<String, String>,
    pub locality: Option<String>,
    pub weight: Option<i64>,
}
