//! The Prometheus text exposition (format 0.0.4) of a mesh's telemetry:
//! Istio's standard metrics, then the engine's per-cluster metrics.
//!
//! Rendering reads the atomics once and sorts, so two scrapes of an idle
//! mesh are byte for byte equal. Destinations whose Istio labels are
//! equal (two clusters of one service host) are summed into one series,
//! as Prometheus requires.

use std::fmt::Write;

use super::histogram::HistogramValues;
use super::labels::{push_escaped, push_label};
use super::registry::Telemetry;
use super::series::{HistogramOf, SeriesValues};
use super::stats::RetryReason;
use crate::Snapshot;
use crate::resilience::breaker::{BreakerState, Resource};

impl Telemetry {
    /// Istio's standard metrics: `istio_requests_total`,
    /// `istio_request_duration_milliseconds`, `istio_request_bytes` and
    /// `istio_response_bytes`, reported as `source`.
    pub fn render_istio(&self, out: &mut String) {
        let series: Vec<(String, SeriesValues)> = self
            .istio_series()
            .into_iter()
            .map(|(labels, values)| {
                let pairs: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(name, value)| (*name, value.as_str()))
                    .collect();
                (label_set(&pairs), values)
            })
            .collect();
        header(
            out,
            "istio_requests_total",
            "counter",
            "Requests this workload sent, by source, destination and response.",
        );
        for (labels, values) in &series {
            let _ = writeln!(out, "istio_requests_total{{{labels}}} {}", values.requests);
        }
        let histograms: [(&str, &str, HistogramOf, f64); 3] = [
            (
                "istio_request_duration_milliseconds",
                "Request durations, from the call to the end of the response body.",
                |v| &v.duration_us,
                1_000.0,
            ),
            (
                "istio_request_bytes",
                "Request body sizes.",
                |v| &v.request_bytes,
                1.0,
            ),
            (
                "istio_response_bytes",
                "Response body sizes.",
                |v| &v.response_bytes,
                1.0,
            ),
        ];
        for (name, help, field, scale) in histograms {
            header(out, name, "histogram", help);
            for (labels, values) in &series {
                histogram(out, name, labels, field(values), scale);
            }
        }
    }
}

/// The engine's metrics of each cluster of `snapshot`: endpoints, ejected
/// endpoints, requests in flight, breaker counters, retries by reason,
/// and what the budget, rate limits, faults and outlier detection did.
pub fn render_clusters(out: &mut String, snapshot: &Snapshot) {
    let clusters: Vec<_> = snapshot.cluster_states().collect();
    let per_cluster =
        |out: &mut String, name: &str, kind: &str, help: &str, value: &dyn Fn(usize) -> u64| {
            header(out, name, kind, help);
            for (i, (cluster, _)) in clusters.iter().enumerate() {
                let labels = label_set(&[("cluster", &cluster.name)]);
                let _ = writeln!(out, "{name}{{{labels}}} {}", value(i));
            }
        };
    per_cluster(
        out,
        "mesh_cluster_endpoints",
        "gauge",
        "Endpoints of the cluster.",
        &|i| clusters[i].0.endpoints.len() as u64,
    );
    per_cluster(
        out,
        "mesh_cluster_ejected_endpoints",
        "gauge",
        "Endpoints outlier detection has ejected.",
        &|i| {
            clusters[i]
                .1
                .ejections()
                .map_or(0, |view| view.ejected_count()) as u64
        },
    );
    per_cluster(
        out,
        "mesh_cluster_active_requests",
        "gauge",
        "Requests in flight to the cluster's endpoints.",
        &|i| snapshot.active_requests(&clusters[i].0.name),
    );
    per_cluster(
        out,
        "mesh_cluster_active_retries",
        "gauge",
        "Retries in flight, against the retry budget.",
        &|i| u64::from(clusters[i].1.budget().active_retries()),
    );
    let stats = |i: usize| clusters[i].1.stats();
    let counters: [(&str, &str, CounterOf); 7] = [
        (
            "mesh_cluster_retry_budget_exhausted_total",
            "Retries the retry budget (or max_retries) refused.",
            |s| load(&s.budget_exhausted),
        ),
        (
            "mesh_cluster_retries_exhausted_total",
            "Requests that failed after all their retries.",
            |s| load(&s.retries_exhausted),
        ),
        (
            "mesh_cluster_rate_limited_total",
            "Requests a route's local rate limit refused.",
            |s| load(&s.rate_limited),
        ),
        (
            "mesh_cluster_faults_delayed_total",
            "Requests delayed by fault injection.",
            |s| load(&s.faults_delayed),
        ),
        (
            "mesh_cluster_faults_aborted_total",
            "Requests aborted by fault injection.",
            |s| load(&s.faults_aborted),
        ),
        (
            "mesh_cluster_breaker_open_total",
            "Requests a route's open circuit breaker refused.",
            |s| load(&s.breaker_refused),
        ),
        (
            "mesh_cluster_outlier_ejections_total",
            "Endpoints outlier detection ejected.",
            |s| load(&s.ejections),
        ),
    ];
    for (name, help, value) in counters {
        per_cluster(out, name, "counter", help, &|i| value(stats(i)));
    }
    header(
        out,
        "mesh_cluster_retries_total",
        "counter",
        "Retries (and hedges) made, by reason.",
    );
    for (cluster, state) in &clusters {
        for reason in RetryReason::ALL {
            let labels = label_set(&[("cluster", &cluster.name), ("reason", reason.as_str())]);
            let _ = writeln!(
                out,
                "mesh_cluster_retries_total{{{labels}}} {}",
                state.stats().retries(reason)
            );
        }
    }
    for (name, kind, help, value) in [
        (
            "mesh_cluster_breaker_in_use",
            "gauge",
            "What counts against each circuit-breaker threshold now.",
            (|state, r| u64::from(state.limits().in_use(r)))
                as fn(&crate::resilience::ClusterResilience, Resource) -> u64,
        ),
        (
            "mesh_cluster_breaker_overflows_total",
            "counter",
            "Requests refused at each threshold.",
            |state, r| state.limits().overflows(r),
        ),
    ] {
        header(out, name, kind, help);
        for (cluster, state) in &clusters {
            for resource in Resource::ALL {
                let labels =
                    label_set(&[("cluster", &cluster.name), ("threshold", resource.as_str())]);
                let _ = writeln!(out, "{name}{{{labels}}} {}", value(state, resource));
            }
        }
    }
}

/// Which counter of a cluster.
type CounterOf = fn(&super::ClusterStats) -> u64;

/// The state of each route's circuit breaker (the state-machine breaker
/// of the policy JSON): 1 on the current state, 0 on the others. A route
/// is named by its table, virtual host and index there (route names are
/// optional and need not be unique), with its name as a label too.
pub fn render_route_breakers(out: &mut String, snapshot: &Snapshot, now: std::time::Instant) {
    header(
        out,
        "mesh_route_breaker_state",
        "gauge",
        "The state of each route's circuit breaker (1: the current one).",
    );
    let routes = snapshot.config().route_tables().flat_map(|table| {
        table.virtual_hosts().iter().flat_map(move |vh| {
            (vh.routes.iter().enumerate()).map(move |(index, route)| (table, vh, index, route))
        })
    });
    for (table, virtual_host, index, route) in routes {
        {
            let Some(breaker) = &route.action.breaker else {
                continue;
            };
            let current = match breaker.state(now) {
                BreakerState::Closed => "closed",
                BreakerState::Open { .. } => "open",
                BreakerState::HalfOpen => "half_open",
            };
            for state in ["closed", "open", "half_open"] {
                let labels = label_set(&[
                    ("route_table", table.name()),
                    ("virtual_host", &virtual_host.name),
                    ("route_index", &index.to_string()),
                    ("route", &route.name),
                    ("state", state),
                ]);
                let _ = writeln!(
                    out,
                    "mesh_route_breaker_state{{{labels}}} {}",
                    u8::from(state == current)
                );
            }
        }
    }
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}

/// `name="value",...` of a series, values escaped.
fn label_set(pairs: &[(&str, &str)]) -> String {
    let mut labels = String::new();
    for (name, value) in pairs {
        push_label(&mut labels, name, value);
    }
    labels.pop();
    labels
}

/// `# HELP` and `# TYPE` of a metric.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value escaped for the text format.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_escaped(&mut out, value);
    out
}

/// The `_bucket`, `_sum` and `_count` lines of one histogram series; the
/// values are divided by `scale` (microseconds to milliseconds).
fn histogram(out: &mut String, name: &str, labels: &str, values: &HistogramValues, scale: f64) {
    for (bound, count) in &values.cumulative {
        let le = *bound as f64 / scale;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {count}");
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{{labels},le=\"+Inf\"}} {}",
        values.count
    );
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", values.sum as f64 / scale);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", values.count);
}
