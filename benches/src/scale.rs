//! Scale runs: how long a large configuration takes to apply and how much
//! memory it keeps.
//!
//! Here the configuration comes as a static file: a generated Envoy v3
//! resource list in JSON — the shape of the resources of a
//! discovery response — loaded through `mesh_core::source::envoy::load`.
//! Per service `svc-N`: an API listener `svc-N:80` naming its route
//! configuration over RDS, a route configuration with one virtual host and
//! one route, an EDS cluster (least request), and a cluster load assignment
//! with one locality of `endpoints` endpoints, each with a `version` label.
//! No traffic is sent: the endpoint addresses are never dialled. The same
//! mesh delivered over xDS is [`crate::xds_scale`].
//!
//! Apply time is `load` (parse + proto conversion + validation, including
//! `MeshConfigBuilder::build`) and `Snapshot::new` (compiling route tables
//! to endpoint groups), timed in the harness process with the system
//! allocator. Memory is measured by the `scale` binary, a separate process
//! whose global allocator counts every byte (the `cap` crate), so the
//! figures are exact and the latency runs pay no counting cost:
//! - *retained*: bytes still allocated once the snapshot exists and the
//!   document text is dropped (the model plus the snapshot), and of those
//!   the model's (`MeshConfig`) alone;
//! - *peak*: the most bytes allocated at once while applying, the document
//!   text included (an xDS client holds its response bytes likewise);
//! - VmRSS growth and VmHWM from `/proc/self/status`, for comparison.
//!
//! Per-endpoint and per-cluster costs come from two documents of the same
//! size, one with 10 endpoints per cluster and one with 1: the difference
//! over the 9 extra endpoints per cluster is the cost of an endpoint, and
//! what remains per cluster is the cost of a cluster with its listener,
//! route table and load assignment. The same pair without endpoint labels
//! shows what the labels cost (the memory profile behind the figures).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mesh_core::Snapshot;

/// A generated Envoy resource list: `clusters` services of `endpoints`
/// endpoints each (at most 250 endpoints per cluster), each endpoint with a
/// `version` label when `labels` says so.
pub fn envoy_document(clusters: usize, endpoints: usize, labels: bool) -> String {
    let mut doc = String::with_capacity(clusters * (1_200 + endpoints * 170));
    doc.push_str("{\"resources\": [\n");
    for i in 0..clusters {
        let name = format!("svc-{i}");
        if i > 0 {
            doc.push_str(",\n");
        }
        let _ = write!(
            doc,
            r#"{{"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "{name}:80", "api_listener": {{"api_listener": {{"@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", "stat_prefix": "{name}", "rds": {{"route_config_name": "{name}"}}}}}}}},
{{"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": "{name}", "virtual_hosts": [{{"name": "{name}", "domains": ["{name}", "{name}:80"], "routes": [{{"name": "default", "match": {{"prefix": "/"}}, "route": {{"cluster": "{name}", "timeout": "5s"}}}}]}}]}},
{{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "{name}", "type": "EDS", "eds_cluster_config": {{"service_name": "{name}"}}, "connect_timeout": "1s", "lb_policy": "LEAST_REQUEST"}},
{{"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "cluster_name": "{name}", "endpoints": [{{"locality": {{"region": "eu-west1", "zone": "eu-west1-b"}}, "lb_endpoints": ["#
        );
        for j in 0..endpoints.min(250) {
            if j > 0 {
                doc.push_str(", ");
            }
            let _ = write!(
                doc,
                r#"{{"endpoint": {{"address": {{"socket_address": {{"address": "10.{}.{}.{}", "port_value": 8080}}}}}}"#,
                i >> 8,
                i & 255,
                j + 1,
            );
            if labels {
                let _ = write!(
                    doc,
                    r#", "metadata": {{"filter_metadata": {{"envoy.lb": {{"version": "v{}"}}}}}}"#,
                    j % 2 + 1
                );
            }
            doc.push('}');
        }
        doc.push_str("]}]}");
    }
    doc.push_str("\n]}\n");
    doc
}

/// The inline sizes of the per-endpoint types, for the memory profile.
pub fn type_sizes() -> [(&'static str, usize); 6] {
    use mesh_core::config::{Endpoint, EndpointData, Labels, Locality};
    use mesh_core::lb::EndpointSlot;
    [
        ("Endpoint", std::mem::size_of::<Endpoint>()),
        ("EndpointData", std::mem::size_of::<EndpointData>()),
        ("EndpointSlot", std::mem::size_of::<EndpointSlot>()),
        ("Locality", std::mem::size_of::<Locality>()),
        ("Labels", std::mem::size_of::<Labels>()),
        (
            "http::uri::Authority",
            std::mem::size_of::<http::uri::Authority>(),
        ),
    ]
}

/// How long applying a document took.
#[derive(Debug, Clone, Copy)]
pub struct ApplyTime {
    /// Parse, convert and validate into a `MeshConfig`.
    pub load: Duration,
    /// `Snapshot::new` on it.
    pub snapshot: Duration,
}

/// Applies `document` and returns the snapshot (so a caller can measure
/// what it keeps) with the time each step took.
pub fn apply(document: &str) -> Result<(Snapshot, ApplyTime), String> {
    let started = Instant::now();
    let config = mesh_core::source::envoy::load(document)
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let loaded = Instant::now();
    let snapshot = Snapshot::new(Arc::new(config));
    let done = Instant::now();
    Ok((
        snapshot,
        ApplyTime {
            load: loaded - started,
            snapshot: done - loaded,
        },
    ))
}

/// What the `scale` binary reports for one document, in bytes unless said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Bytes allocated after applying, with the document text dropped.
    pub retained: u64,
    /// Of which the `MeshConfig` alone (the rest is the snapshot's).
    pub config: u64,
    /// Most bytes allocated at once while reading and applying.
    pub peak: u64,
    /// Size of the document text.
    pub document: u64,
    /// VmRSS growth, kB.
    pub rss_delta_kb: u64,
    /// VmHWM at the end, kB (the process's peak resident set).
    pub hwm_kb: u64,
}

impl Memory {
    /// One line of `key=value` pairs, as the `scale` binary prints it.
    pub fn to_line(&self) -> String {
        format!(
            "retained={} config={} peak={} document={} rss_delta_kb={} hwm_kb={}",
            self.retained, self.config, self.peak, self.document, self.rss_delta_kb, self.hwm_kb
        )
    }

    /// Parses [`Memory::to_line`]'s output (the last such line of `text`).
    pub fn parse(text: &str) -> Option<Self> {
        let line = text.lines().rev().find(|l| l.starts_with("retained="))?;
        let mut memory = Memory::default();
        for pair in line.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            let value: u64 = value.parse().ok()?;
            match key {
                "retained" => memory.retained = value,
                "config" => memory.config = value,
                "peak" => memory.peak = value,
                "document" => memory.document = value,
                "rss_delta_kb" => memory.rss_delta_kb = value,
                "hwm_kb" => memory.hwm_kb = value,
                _ => {}
            }
        }
        Some(memory)
    }
}

/// The allocator's counters, as the `scale` binary exposes them.
pub trait Counter {
    /// Bytes allocated now.
    fn allocated(&self) -> usize;
    /// Most bytes allocated at once since the process started.
    fn max_allocated(&self) -> usize;
}

/// Reads the document at `path`, applies it and measures memory with
/// `counter` (the process's global allocator).
pub fn probe_memory(path: &std::path::Path, counter: &dyn Counter) -> Result<Memory, String> {
    let base = counter.allocated();
    let rss_before = proc_status_kb("VmRSS").unwrap_or(0);
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let document = text.len() as u64;
    let text_heap = counter.allocated().saturating_sub(base);
    let config = mesh_core::source::envoy::load(&text)
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let config_bytes = counter.allocated().saturating_sub(base + text_heap) as u64;
    let snapshot = Snapshot::new(Arc::new(config));
    let peak = counter.max_allocated().saturating_sub(base) as u64;
    drop(text);
    let retained = counter.allocated().saturating_sub(base) as u64;
    let rss_after = proc_status_kb("VmRSS").unwrap_or(0);
    let hwm_kb = proc_status_kb("VmHWM").unwrap_or(0);
    drop(std::hint::black_box(snapshot));
    Ok(Memory {
        retained,
        config: config_bytes,
        peak,
        document,
        rss_delta_kb: rss_after.saturating_sub(rss_before),
        hwm_kb,
    })
}

/// A `kB` field of `/proc/self/status`.
pub fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_document_applies_with_every_endpoint() {
        let (snapshot, _) = apply(&envoy_document(3, 10, true)).expect("applies");
        let config = snapshot.config();
        assert_eq!(config.clusters().count(), 3);
        assert!(config.clusters().all(|c| c.endpoints.len() == 10));
        assert_eq!(config.listeners().count(), 3);
    }

    #[test]
    fn labels_are_optional() {
        let (snapshot, _) = apply(&envoy_document(2, 3, false)).expect("applies");
        let cluster = snapshot.config().clusters().next().expect("a cluster");
        assert!(cluster.endpoints.iter().all(|e| e.labels.is_empty()));
    }

    #[test]
    fn memory_lines_round_trip() {
        let m = Memory {
            retained: 1,
            config: 6,
            peak: 2,
            document: 3,
            rss_delta_kb: 4,
            hwm_kb: 5,
        };
        assert_eq!(Memory::parse(&format!("noise\n{}\n", m.to_line())), Some(m));
    }
}
