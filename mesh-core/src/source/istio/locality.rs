//! `localityLbSetting`: keeping traffic near the caller.
//!
//! Istio does not send locality rules to a proxy; istiod rewrites each
//! proxy's endpoint assignment relative to *that proxy's* locality (and
//! labels), and the proxy only sees priorities and locality weights. This
//! loader plays istiod for the one caller it serves, so it needs the
//! caller's locality: [`LoadOptions::caller_locality`]. Without one,
//! nothing here applies (there is nothing to be near to).
//!
//! What happens to a cluster's endpoints, as in Istio's
//! `ApplyLocalityLoadBalancer`:
//! - `enabled: false`: nothing. A rule without `localityLbSetting` behaves
//!   as `enabled: true` with no other field (Istio's mesh-wide default).
//! - `distribute`: the first entry whose `from` matches the caller gives
//!   each matching destination locality its percentage, split among the
//!   localities one wildcard entry matches by their original weight (the
//!   sum of their endpoints' weights, what istiod's EDS sends); endpoints
//!   in localities no entry names are dropped. Applies with or without
//!   outlier detection.
//! - otherwise, only when the rule has `outlierDetection` (without it a
//!   lower priority would never take traffic, so Istio skips it):
//!   endpoints get priorities by proximity: 0 same region, zone and
//!   subzone; 1 same region and zone; 2 same region; 3 other regions, or
//!   4 when a `failover` entry names the caller's region and the
//!   endpoint's region is not its `to`. With `failoverPriority`, the
//!   labels rank first (an endpoint matching the caller on the first `k`
//!   labels and not the next one ranks `n - k`), and locality only breaks
//!   ties when `failover` is also given. Priorities are then renumbered
//!   0, 1, 2... in order, without gaps.
//!
//! Topology labels in `failoverPriority` (`topology.kubernetes.io/region`,
//! `topology.kubernetes.io/zone`, `topology.istio.io/subzone`) compare
//! localities; any other label compares the caller's labels
//! ([`LoadOptions::caller_labels`]) with the endpoint's. `label=value`
//! compares the endpoint's label with `value` instead of the caller's.
//!
//! Rejected, as Istio's validation does: `distribute` together with
//! `failover`; a `to` percentage outside 1..=100, or percentages of one
//! entry not adding up to 100; a locality that is not
//! `region[/zone[/subzone]]` with `*` only as a whole last part; two
//! `from` or two `to` localities of one entry that overlap; a `failover`
//! region that is empty, has `/` or `*`, or fails over to itself; a
//! topology label in `failoverPriority` together with `failover`.
//!
//! Deviation: Istio also uses the `topology.istio.io/network` of its own
//! registry; here the network is whatever label the endpoints carry.

use std::sync::Arc;

use super::options::LoadOptions;
use super::spec::{DistributeSpec, FailoverSpec, LocalityLbSettingSpec};
use super::values;
use crate::config::{ConfigError, Endpoint, Labels, Locality, ResultExt};

const REGION_LABEL: &str = "topology.kubernetes.io/region";
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const SUBZONE_LABEL: &str = "topology.istio.io/subzone";

/// A validated `localityLbSetting`.
#[derive(Debug, Clone, Default)]
pub(crate) struct LocalityLbSetting {
    disabled: bool,
    distribute: Vec<Distribute>,
    failover: Vec<RegionFailover>,
    failover_priority: Vec<PriorityLabel>,
}

#[derive(Debug, Clone)]
struct Distribute {
    from: Pattern,
    to: Vec<(Pattern, u32)>,
}

#[derive(Debug, Clone)]
struct RegionFailover {
    from: String,
    to: String,
}

/// A `failoverPriority` label, with the value that replaces the caller's
/// when written `label=value`.
#[derive(Debug, Clone)]
struct PriorityLabel {
    key: String,
    value: Option<String>,
}

/// `region/zone/subzone` where a missing part or `*` matches anything.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern([Option<String>; 3]);

impl Pattern {
    fn parse(text: &str) -> Result<Self, ConfigError> {
        let bad = |why: &str| ConfigError::field("", format!("{text:?} {why}"));
        let parts: Vec<&str> = text.split('/').collect();
        if parts.len() > 3 {
            return Err(bad("is not region/zone/subzone"));
        }
        let mut out: [Option<String>; 3] = Default::default();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            match *part {
                "" => return Err(bad("has an empty region, zone or subzone")),
                "*" if last => {}
                p if p.contains('*') => {
                    return Err(bad("may only have `*` as its whole last part"));
                }
                p => out[i] = Some(p.to_owned()),
            }
        }
        Ok(Self(out))
    }

    fn matches(&self, locality: &Locality) -> bool {
        let parts = [&locality.region, &locality.zone, &locality.sub_zone];
        self.0
            .iter()
            .zip(parts)
            .all(|(want, have)| want.as_deref().is_none_or(|w| w == &**have))
    }

    /// Whether some locality matches both.
    fn overlaps(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(&other.0)
            .all(|(a, b)| a.is_none() || b.is_none() || a == b)
    }
}

/// Validates a `localityLbSetting`; errors name its fields.
pub(crate) fn convert(spec: &LocalityLbSettingSpec) -> Result<LocalityLbSetting, ConfigError> {
    if !spec.distribute.is_empty() && !spec.failover.is_empty() {
        return Err(ConfigError::field(
            "failover",
            "cannot be set together with distribute",
        ));
    }
    let distribute = distribute(&spec.distribute).at("distribute")?;
    let failover = spec
        .failover
        .iter()
        .enumerate()
        .map(|(i, f)| region_failover(f).at(format!("failover[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut failover_priority = Vec::with_capacity(spec.failover_priority.len());
    for (i, text) in spec.failover_priority.iter().enumerate() {
        let field = format!("failoverPriority[{i}]");
        let (key, value) = match text.split_once('=') {
            Some((key, value)) => (key, Some(value.to_owned())),
            None => (text.as_str(), None),
        };
        if key.is_empty() {
            return Err(ConfigError::field(field, "must name a label"));
        }
        if !failover.is_empty() && [REGION_LABEL, ZONE_LABEL, SUBZONE_LABEL].contains(&key) {
            return Err(ConfigError::field(
                field,
                format!("topology label {key:?} cannot be used together with failover"),
            ));
        }
        failover_priority.push(PriorityLabel {
            key: key.to_owned(),
            value,
        });
    }
    Ok(LocalityLbSetting {
        disabled: spec.enabled == Some(false),
        distribute,
        failover,
        failover_priority,
    })
}

fn distribute(specs: &[DistributeSpec]) -> Result<Vec<Distribute>, ConfigError> {
    let mut out: Vec<Distribute> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let at = |field: &str| format!("[{i}].{field}");
        let from = Pattern::parse(&spec.from).at(at("from"))?;
        if out.iter().any(|d| d.from.overlaps(&from)) {
            return Err(ConfigError::field(
                at("from"),
                format!("{:?} overlaps an earlier from", spec.from),
            ));
        }
        if spec.to.is_empty() {
            return Err(ConfigError::field(at("to"), "must name a locality"));
        }
        let mut to: Vec<(Pattern, u32)> = Vec::with_capacity(spec.to.len());
        for (text, &percent) in &spec.to {
            let field = at(&format!("to[{text:?}]"));
            let pattern = Pattern::parse(text).at(&field)?;
            let percent = values::count(percent)
                .ok()
                .filter(|p| (1..=100).contains(p))
                .ok_or_else(|| {
                    ConfigError::field(&field, format!("{percent} is not within 1..=100"))
                })?;
            if to.iter().any(|(p, _)| p.overlaps(&pattern)) {
                return Err(ConfigError::field(
                    field,
                    format!("{text:?} overlaps another locality of this entry"),
                ));
            }
            to.push((pattern, percent));
        }
        let sum: u32 = to.iter().map(|(_, p)| p).sum();
        if sum != 100 {
            return Err(ConfigError::field(
                at("to"),
                format!("weights add up to {sum}, not 100"),
            ));
        }
        out.push(Distribute { from, to });
    }
    Ok(out)
}

fn region_failover(spec: &FailoverSpec) -> Result<RegionFailover, ConfigError> {
    for (field, region) in [("from", &spec.from), ("to", &spec.to)] {
        if region.is_empty() || region.contains(['/', '*']) {
            return Err(ConfigError::field(
                field,
                format!("{region:?} is not a region (no zone, no `*`)"),
            ));
        }
    }
    if spec.from == spec.to {
        return Err(ConfigError::field(
            "to",
            format!("fails over from {:?} to itself", spec.from),
        ));
    }
    Ok(RegionFailover {
        from: spec.from.clone(),
        to: spec.to.clone(),
    })
}

/// Applies `setting` (`None`: the rule has none) to a cluster's
/// endpoints for the caller of `options`; `outlier_detection` says
/// whether the cluster ejects outliers.
pub(crate) fn apply(
    setting: Option<&LocalityLbSetting>,
    outlier_detection: bool,
    options: &LoadOptions,
    endpoints: &mut Vec<Endpoint>,
) {
    let Some(caller) = options.locality() else {
        return;
    };
    let default = LocalityLbSetting::default();
    let setting = setting.unwrap_or(&default);
    if setting.disabled {
        return;
    }
    if !setting.distribute.is_empty() {
        distribute_weights(&setting.distribute, caller, endpoints);
    } else if outlier_detection {
        prioritize(setting, caller, options.labels(), endpoints);
    }
}

/// Locality weights from the first `distribute` entry that matches the
/// caller; endpoints of unnamed localities are dropped.
fn distribute_weights(rules: &[Distribute], caller: &Locality, endpoints: &mut Vec<Endpoint>) {
    let Some(rule) = rules.iter().find(|r| r.from.matches(caller)) else {
        return;
    };
    // Each locality's original weight: the sum of its endpoints' weights.
    let mut original: Vec<(Arc<Locality>, u64)> = Vec::new();
    for e in endpoints.iter() {
        match original.iter_mut().find(|(l, _)| **l == *e.locality) {
            Some((_, sum)) => *sum += u64::from(e.weight),
            None => original.push((e.locality.clone(), u64::from(e.weight))),
        }
    }
    let mut weights: Vec<(Arc<Locality>, u32)> = Vec::new();
    for (pattern, percent) in &rule.to {
        let matched: Vec<&(Arc<Locality>, u64)> = original
            .iter()
            .filter(|(l, _)| pattern.matches(l))
            .collect();
        let total: u64 = matched.iter().map(|(_, w)| w).sum();
        for (locality, weight) in matched {
            // Rounded up, as Istio does: never zero.
            let share = (weight * u64::from(*percent)).div_ceil(total.max(1));
            weights.push((locality.clone(), u32::try_from(share).unwrap_or(u32::MAX)));
        }
    }
    endpoints.retain_mut(|e| {
        let weight = weights
            .iter()
            .find(|(l, _)| **l == *e.locality)
            .and_then(|(_, w)| std::num::NonZeroU32::new(*w));
        e.locality_weight = weight;
        weight.is_some()
    });
}

/// Failover priorities by labels and locality, renumbered without gaps.
fn prioritize(
    setting: &LocalityLbSetting,
    caller: &Locality,
    caller_labels: &Labels,
    endpoints: &mut [Endpoint],
) {
    let by_labels = !setting.failover_priority.is_empty();
    let by_locality = !by_labels || !setting.failover.is_empty();
    let ranks: Vec<u64> = endpoints
        .iter()
        .map(|e| {
            let base = if by_labels {
                label_rank(&setting.failover_priority, caller, caller_labels, e)
            } else {
                u64::from(e.priority)
            };
            if by_locality {
                base * 5 + locality_rank(&setting.failover, caller, &e.locality)
            } else {
                base
            }
        })
        .collect();
    let mut distinct = ranks.clone();
    distinct.sort_unstable();
    distinct.dedup();
    for (e, rank) in endpoints.iter_mut().zip(ranks) {
        let priority = distinct.partition_point(|&r| r < rank);
        let priority = u32::try_from(priority).unwrap_or(u32::MAX);
        if e.priority != priority {
            e.priority = priority;
        }
    }
}

/// 0 same subzone, 1 same zone, 2 same region, 3 elsewhere, 4 elsewhere
/// than where `failover` sends the caller's region.
fn locality_rank(failover: &[RegionFailover], caller: &Locality, at: &Locality) -> u64 {
    if at.region != caller.region {
        let redirected = failover
            .iter()
            .find(|f| *f.from == *caller.region)
            .is_some_and(|f| *f.to != *at.region);
        return if redirected { 4 } else { 3 };
    }
    match (at.zone == caller.zone, at.sub_zone == caller.sub_zone) {
        (true, true) => 0,
        (true, false) => 1,
        (false, _) => 2,
    }
}

/// `n - k` where the endpoint matches the caller on the first `k` of the
/// `n` labels and not on the next; 0 when it matches on all.
fn label_rank(
    labels: &[PriorityLabel],
    caller: &Locality,
    caller_labels: &Labels,
    e: &Endpoint,
) -> u64 {
    let value_of = |key: &str, locality: &Locality, labels: &Labels| -> Option<String> {
        match key {
            REGION_LABEL => Some(locality.region.to_string()),
            ZONE_LABEL => Some(locality.zone.to_string()),
            SUBZONE_LABEL => Some(locality.sub_zone.to_string()),
            _ => labels.get(key).cloned(),
        }
    };
    let n = labels.len();
    labels
        .iter()
        .position(|label| {
            let wanted = match &label.value {
                Some(v) => Some(v.clone()),
                None => value_of(&label.key, caller, caller_labels),
            };
            wanted != value_of(&label.key, &e.locality, &e.labels)
        })
        .map_or(0, |k| (n - k) as u64)
}

#[cfg(test)]
mod tests;
