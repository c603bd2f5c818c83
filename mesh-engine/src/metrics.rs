//! The engine's metrics: what it did with requests, and the live state of
//! each cluster, in the Prometheus text format.
//!
//! Istio's standard metrics and the per-cluster metrics are the mesh's
//! (`mesh_core::telemetry`, recorded by the request path). The engine
//! adds its own counters, per mode (execute, submit, decide), cluster and
//! result (the status, or the error kind): a small set of labels, each an
//! atomic counter in a map that a request reads without a lock (see
//! `Counts`); and
//! the xDS client's state and counters.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use mesh_core::telemetry::trace::Tracer;
use mesh_core::telemetry::{escape, header, render_clusters, render_route_breakers};
use mesh_core::xds::XdsStats;
use mesh_core::{ErrorKind, SnapshotHandle};

use crate::response::HttpResponse;

/// How a request was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Mode {
    Execute,
    Submit,
    Decide,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Execute => "execute",
            Self::Submit => "submit",
            Self::Decide => "decide",
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Result {
    Status(u16),
    Error(ErrorKind),
}

impl Result {
    fn label(self) -> String {
        match self {
            Self::Status(status) => status.to_string(),
            Self::Error(kind) => kind.as_str().to_owned(),
        }
    }

    /// Statuses first, then kinds by name: the order of the exposition.
    fn sort_key(self) -> (u16, &'static str) {
        match self {
            Self::Status(status) => (status, ""),
            Self::Error(kind) => (u16::MAX, kind.as_str()),
        }
    }
}

impl PartialOrd for Result {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Result {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

/// Counts by cluster, then by what was counted: a map swapped whole
/// when a new cluster or result appears (rarely; under a mutex), read
/// without a lock by every other count, whose counter is shared by the
/// old and new maps.
#[derive(Debug)]
struct Counts<K> {
    map: ArcSwap<PerCluster<K>>,
    adding: Mutex<()>,
}

/// Cluster → what was counted → its counter.
type PerCluster<K> = BTreeMap<Arc<str>, BTreeMap<K, Arc<AtomicU64>>>;

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Self {
            map: ArcSwap::default(),
            adding: Mutex::new(()),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Counts<(Mode, Result)>,
    retries: Counts<Mode>,
}

fn count<K: Ord + Clone>(counts: &Counts<K>, cluster: Option<&str>, key: K) {
    let cluster = cluster.unwrap_or_default();
    let found = counts
        .map
        .load()
        .get(cluster)
        .and_then(|per_cluster| per_cluster.get(&key))
        .map(|count| count.fetch_add(1, Ordering::Relaxed))
        .is_some();
    if found {
        return;
    }
    let _adding = counts.adding.lock().unwrap_or_else(|p| p.into_inner());
    let mut map = BTreeMap::clone(&counts.map.load());
    map.entry(cluster.into())
        .or_default()
        .entry(key)
        .or_default()
        .fetch_add(1, Ordering::Relaxed);
    counts.map.store(Arc::new(map));
}

impl Metrics {
    pub(crate) fn record(&self, mode: Mode, cluster: Option<&str>, result: Result) {
        count(&self.requests, cluster, (mode, result));
    }

    /// Counts a sent request by how it ended.
    pub(crate) fn record_response(
        &self,
        mode: Mode,
        result: &std::result::Result<HttpResponse, mesh_core::Error>,
    ) {
        let (cluster, recorded) = match result {
            Ok(response) => (
                response.cluster.as_deref(),
                Result::Status(response.status.as_u16()),
            ),
            Err(e) => (None, Result::Error(e.kind())),
        };
        self.record(mode, cluster, recorded);
    }

    pub(crate) fn record_retry(&self, mode: Mode, cluster: &str) {
        count(&self.retries, Some(cluster), mode);
    }

    /// The text exposition: Istio's standard metrics, the engine's
    /// counters, each cluster's, and the xDS client's.
    pub(crate) fn render(&self, snapshots: &SnapshotHandle, xds: Option<&XdsStats>) -> String {
        let mut out = String::new();
        snapshots.telemetry().render_istio(&mut out);
        out.push_str("# HELP mesh_engine_requests_total Requests the engine finished, by mode, cluster and result (status or error kind).\n");
        out.push_str("# TYPE mesh_engine_requests_total counter\n");
        let requests = self.requests.map.load();
        for (cluster, counts) in requests.iter() {
            for ((mode, result), count) in counts {
                let _ = writeln!(
                    out,
                    "mesh_engine_requests_total{{mode=\"{}\",cluster=\"{}\",result=\"{}\"}} {}",
                    mode.as_str(),
                    escape(cluster),
                    result.label(),
                    count.load(Ordering::Relaxed)
                );
            }
        }
        drop(requests);
        out.push_str("# HELP mesh_engine_retries_total Retries decided for hosts' own transports (decide mode).\n");
        out.push_str("# TYPE mesh_engine_retries_total counter\n");
        let retries = self.retries.map.load();
        for (cluster, counts) in retries.iter() {
            for (mode, count) in counts {
                let _ = writeln!(
                    out,
                    "mesh_engine_retries_total{{mode=\"{}\",cluster=\"{}\"}} {}",
                    mode.as_str(),
                    escape(cluster),
                    count.load(Ordering::Relaxed)
                );
            }
        }
        drop(retries);
        let snapshot = snapshots.load();
        render_clusters(&mut out, &snapshot);
        render_route_breakers(&mut out, &snapshot, std::time::Instant::now());
        if let Some(xds) = xds {
            render_xds(&mut out, xds);
        }
        if let Some(tracer) = snapshots.telemetry().tracer() {
            render_trace(&mut out, tracer);
        }
        if let Some(log) = snapshots.telemetry().access_log() {
            let (written, dropped) = log.counts();
            header(
                &mut out,
                "mesh_access_log_entries_total",
                "counter",
                "Access-log entries written, and dropped (queue full or write failed).",
            );
            let _ = writeln!(
                out,
                "mesh_access_log_entries_total{{result=\"written\"}} {written}"
            );
            let _ = writeln!(
                out,
                "mesh_access_log_entries_total{{result=\"dropped\"}} {dropped}"
            );
        }
        out
    }
}

/// What became of the spans.
fn render_trace(out: &mut String, tracer: &Tracer) {
    let (ended, exported, full, failed) = tracer.stats().read();
    header(
        out,
        "mesh_trace_spans_total",
        "counter",
        "Spans recorded, and what became of them.",
    );
    for (result, value) in [
        ("ended", ended),
        ("exported", exported),
        ("dropped_queue_full", full),
        ("dropped_export_failed", failed),
    ] {
        let _ = writeln!(out, "mesh_trace_spans_total{{result=\"{result}\"}} {value}");
    }
    header(
        out,
        "mesh_trace_queue_spans",
        "gauge",
        "Spans waiting for export.",
    );
    let _ = writeln!(out, "mesh_trace_queue_spans {}", tracer.queued());
}

/// The xDS client's state and counters.
fn render_xds(out: &mut String, xds: &XdsStats) {
    header(
        out,
        "mesh_xds_connected",
        "gauge",
        "Whether the ADS stream is open (1) or not (0).",
    );
    let _ = writeln!(out, "mesh_xds_connected {}", u8::from(xds.connected));
    header(
        out,
        "mesh_xds_config_version",
        "gauge",
        "Configurations published so far: the version of the one in force.",
    );
    let _ = writeln!(out, "mesh_xds_config_version {}", xds.configs_published);
    for (name, help, value) in [
        (
            "mesh_xds_streams_started_total",
            "ADS streams opened.",
            xds.streams_started,
        ),
        (
            "mesh_xds_server_failures_total",
            "ADS streams that broke or could not be opened.",
            xds.server_failures,
        ),
        (
            "mesh_xds_resources_timed_out_total",
            "Resources the does-not-exist timer declared missing.",
            xds.resources_timed_out,
        ),
        (
            "mesh_xds_nacks_suppressed_total",
            "NACKs not sent again because they repeated the previous one.",
            xds.nacks_suppressed,
        ),
    ] {
        header(out, name, "counter", help);
        let _ = writeln!(out, "{name} {value}");
    }
    header(
        out,
        "mesh_xds_updates_total",
        "counter",
        "xDS responses, by whether they were accepted (ACK) or rejected (NACK).",
    );
    let _ = writeln!(
        out,
        "mesh_xds_updates_total{{result=\"accepted\"}} {}",
        xds.updates_accepted
    );
    let _ = writeln!(
        out,
        "mesh_xds_updates_total{{result=\"rejected\"}} {}",
        xds.updates_rejected
    );
}
