//! The engine's metrics: what it did with requests, and the live state of
//! each cluster, in the Prometheus text format.
//!
//! Counters are kept per mode (execute, decide), cluster and result (the
//! status, or the error kind): a small set of labels, each an atomic
//! counter in a map that a request only reads (see `Counts`). Cluster gauges (endpoints,
//! ejections, breaker counters, retry budget) are read from the current
//! snapshot when scraped. Richer telemetry (histograms, Istio's standard
//! metric names, traces) comes with the observability work.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use mesh_core::resilience::breaker::Resource;
use mesh_core::{ErrorKind, Snapshot};

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

/// Counts by cluster, then by what was counted. A count that exists is
/// bumped under the read lock (callers on many threads at once do not
/// wait for each other); only a new cluster or result takes the write
/// lock.
type Counts<K> = RwLock<BTreeMap<Arc<str>, BTreeMap<K, AtomicU64>>>;

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Counts<(Mode, Result)>,
    retries: Counts<Mode>,
}

fn count<K: Ord>(counts: &Counts<K>, cluster: Option<&str>, key: K) {
    let cluster = cluster.unwrap_or_default();
    {
        let read = counts.read().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = read
            .get(cluster)
            .and_then(|per_cluster| per_cluster.get(&key))
        {
            count.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    let mut write = counts.write().unwrap_or_else(|p| p.into_inner());
    write
        .entry(cluster.into())
        .or_default()
        .entry(key)
        .or_default()
        .fetch_add(1, Ordering::Relaxed);
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

    /// The text exposition, counters then cluster gauges.
    pub(crate) fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::new();
        out.push_str("# HELP mesh_engine_requests_total Requests the engine finished, by mode, cluster and result (status or error kind).\n");
        out.push_str("# TYPE mesh_engine_requests_total counter\n");
        let requests = self.requests.read().unwrap_or_else(|p| p.into_inner());
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
        let retries = self.retries.read().unwrap_or_else(|p| p.into_inner());
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
        render_clusters(&mut out, snapshot);
        out
    }
}

fn render_clusters(out: &mut String, snapshot: &Snapshot) {
    let gauge = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    gauge(out, "mesh_cluster_endpoints", "Endpoints of the cluster.");
    for (cluster, _) in snapshot.cluster_states() {
        let _ = writeln!(
            out,
            "mesh_cluster_endpoints{{cluster=\"{}\"}} {}",
            escape(&cluster.name),
            cluster.endpoints.len()
        );
    }
    gauge(
        out,
        "mesh_cluster_ejected_endpoints",
        "Endpoints outlier detection has ejected.",
    );
    for (cluster, state) in snapshot.cluster_states() {
        let ejected = state.ejections().map_or(0, |view| view.ejected_count());
        let _ = writeln!(
            out,
            "mesh_cluster_ejected_endpoints{{cluster=\"{}\"}} {ejected}",
            escape(&cluster.name)
        );
    }
    gauge(
        out,
        "mesh_cluster_breaker_in_use",
        "What counts against each circuit-breaker threshold now.",
    );
    for (cluster, state) in snapshot.cluster_states() {
        for resource in Resource::ALL {
            let _ = writeln!(
                out,
                "mesh_cluster_breaker_in_use{{cluster=\"{}\",threshold=\"{}\"}} {}",
                escape(&cluster.name),
                resource.as_str(),
                state.limits().in_use(resource)
            );
        }
    }
    out.push_str("# HELP mesh_cluster_breaker_overflows_total Requests refused at each threshold.\n# TYPE mesh_cluster_breaker_overflows_total counter\n");
    for (cluster, state) in snapshot.cluster_states() {
        for resource in Resource::ALL {
            let _ = writeln!(
                out,
                "mesh_cluster_breaker_overflows_total{{cluster=\"{}\",threshold=\"{}\"}} {}",
                escape(&cluster.name),
                resource.as_str(),
                state.limits().overflows(resource)
            );
        }
    }
    gauge(
        out,
        "mesh_cluster_active_retries",
        "Retries in flight, against the retry budget.",
    );
    for (cluster, state) in snapshot.cluster_states() {
        let _ = writeln!(
            out,
            "mesh_cluster_active_retries{{cluster=\"{}\"}} {}",
            escape(&cluster.name),
            state.budget().active_retries()
        );
    }
}

/// Escapes a label value (backslash, quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
