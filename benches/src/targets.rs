//! The targets of issue 7, judged on a run's medians — reported, never
//! asserted (a noisy machine must not fail a build).
//!
//! - the full chain adds at most max(2 µs, 10 %) at p50 over raw hyper and
//!   max(5 µs, 15 %) at p99 — raw hyper *of the same shape*: over the full
//!   chain's three endpoints in its shares, so both hold the same
//!   connections with the same load (see [`PathKind::baseline`]); judged
//!   in both setups ([`Setup`]);
//! - it adds at least 20 times less latency (p50) than the sidecar pair of
//!   the same run adds over raw hyper to one port (the pair with the least added latency, when both nginx
//!   and HAProxy ran: the harder comparison);
//! - its throughput is at least 90 % of raw hyper's;
//! - a configuration costs at most 256 B per endpoint and 4 KiB per cluster
//!   (judged at the largest scale run that has both endpoint counts, with
//!   labelled endpoints as a mesh has them), from a static file and over
//!   xDS (the client's caches included);
//! - over xDS, a snapshot of 5 000 clusters × 10 endpoints applies in at
//!   most 250 ms, and a 1 000-endpoint EDS update is reported.

use crate::backend::Setup;
use crate::paths::{PathKind, Protocol};
use crate::report::{
    LatencyTable, Row, ScaleReport, XdsScaleReport, find, per_unit_costs, xds_unit_costs,
};
use crate::workload::Latency;

/// One line of the targets table.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The target, in words.
    pub target: String,
    /// The protocol and setup it was judged on, if any.
    pub on: Option<String>,
    /// What was measured, in words.
    pub measured: String,
    /// `Some(true)` met, `Some(false)` missed, `None` not measurable.
    pub met: Option<bool>,
}

impl Verdict {
    /// `met`, `missed` or `n/a`.
    pub fn word(&self) -> &'static str {
        match self.met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "n/a",
        }
    }
}

/// The sidecar pair with the least p50 for `protocol`.
pub fn best_sidecar(rows: &[Row<Latency>], protocol: Protocol) -> Option<(PathKind, Latency)> {
    rows.iter()
        .filter(|r| matches!(r.kind, PathKind::Sidecar(_)))
        .filter_map(|r| Some((r.kind, r.get(protocol)?)))
        .min_by(|a, b| a.1.p50.total_cmp(&b.1.p50))
}

/// The sidecar pair with the most requests per second for `protocol`.
pub fn best_sidecar_throughput(rows: &[Row<f64>], protocol: Protocol) -> Option<(PathKind, f64)> {
    rows.iter()
        .filter(|r| matches!(r.kind, PathKind::Sidecar(_)))
        .filter_map(|r| Some((r.kind, r.get(protocol)?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Every verdict of a run.
pub fn judge(
    latency: &[LatencyTable],
    throughput: &[Row<f64>],
    scale: &[ScaleReport],
    xds: &[XdsScaleReport],
) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for table in latency {
        for protocol in Protocol::ALL {
            verdicts.extend(latency_verdicts(table, protocol));
        }
    }
    for protocol in Protocol::ALL {
        let raw = find(throughput, PathKind::MeshFull.baseline(), protocol);
        let full = find(throughput, PathKind::MeshFull, protocol);
        let (measured, met) = match (raw, full) {
            (Some(raw), Some(full)) => (
                format!("{:.1} % ({full:.0} vs {raw:.0} req/s)", 100.0 * full / raw),
                Some(full >= 0.9 * raw),
            ),
            _ => ("not measured".into(), None),
        };
        verdicts.push(Verdict {
            target: "full chain throughput ≥ 90 % of raw hyper (same 3 endpoints)".into(),
            on: Some(format!(
                "{}, {}",
                protocol.label(),
                Setup::TwoThreads.label()
            )),
            measured,
            met,
        });
    }
    verdicts.extend(memory_verdicts(scale));
    verdicts.extend(xds_verdicts(xds));
    verdicts
}

fn xds_verdicts(xds: &[XdsScaleReport]) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    let on = Some("xDS".to_owned());
    if let Some(r) = xds
        .iter()
        .filter(|r| r.endpoints == 10)
        .max_by_key(|r| r.clusters)
    {
        let apply = r.client_ms + r.snapshot_ms;
        verdicts.push(Verdict {
            target: "a 5 000 × 10 snapshot applies in ≤ 250 ms (decode to swap)".into(),
            on: on.clone(),
            measured: format!("{apply:.1} ms at {} × 10", r.clusters),
            met: (r.clusters >= 5_000).then_some(apply <= 250.0),
        });
        if let Some(update) = r.update_ms {
            verdicts.push(Verdict {
                target: "a 1 000-endpoint EDS update (decode to swap)".into(),
                on: on.clone(),
                measured: format!("{update:.1} ms in a mesh of {} clusters", r.clusters),
                met: None,
            });
        }
    }
    if let Some(c) = xds_unit_costs(xds).into_iter().max_by_key(|c| c.clusters) {
        verdicts.push(Verdict {
            target: "≤ 256 B per endpoint (client caches included)".into(),
            on: on.clone(),
            measured: format!(
                "{:.0} B per endpoint, {:.0} B without the client (at {} clusters)",
                c.per_endpoint, c.per_endpoint_model, c.clusters
            ),
            met: Some(c.per_endpoint <= 256.0),
        });
        verdicts.push(Verdict {
            target: "≤ 4 KiB per cluster (client caches included)".into(),
            on,
            measured: format!(
                "{:.0} B per cluster, {:.0} B without the client (at {} clusters)",
                c.per_cluster, c.per_cluster_model, c.clusters
            ),
            met: Some(c.per_cluster <= 4096.0),
        });
    }
    verdicts
}

fn latency_verdicts(table: &LatencyTable, protocol: Protocol) -> Vec<Verdict> {
    let rows = &table.rows;
    let on = Some(format!("{}, {}", protocol.label(), table.setup.label()));
    let (Some(raw), Some(full)) = (
        find(rows, PathKind::MeshFull.baseline(), protocol),
        find(rows, PathKind::MeshFull, protocol),
    ) else {
        return Vec::new();
    };
    let mut verdicts = Vec::new();
    for (name, raw_q, full_q, floor, share) in [
        ("p50", raw.p50, full.p50, 2.0, 0.10),
        ("p99", raw.p99, full.p99, 5.0, 0.15),
    ] {
        let added = full_q - raw_q;
        let limit = f64::max(floor, share * raw_q);
        verdicts.push(Verdict {
            target: format!(
                "full chain adds ≤ max({floor:.0} µs, {:.0} %) at {name} over raw hyper \
                 (same 3 endpoints)",
                share * 100.0
            ),
            on: on.clone(),
            measured: format!("{added:+.1} µs (limit {limit:.1} µs)"),
            met: Some(added <= limit),
        });
    }
    let single = find(rows, PathKind::Raw, protocol);
    let (measured, met) = match (best_sidecar(rows, protocol), single) {
        (Some((kind, sidecar)), Some(single)) => {
            let sidecar_added = sidecar.p50 - single.p50;
            let mesh_added = full.p50 - raw.p50;
            if mesh_added <= 0.0 {
                (
                    format!(
                        "{kind} adds {sidecar_added:+.1} µs, the mesh {mesh_added:+.1} µs \
                         (within noise of raw)"
                    ),
                    Some(true),
                )
            } else {
                let ratio = sidecar_added / mesh_added;
                (
                    format!(
                        "{ratio:.1}× ({kind} adds {sidecar_added:+.1} µs, the mesh \
                         {mesh_added:+.1} µs)"
                    ),
                    Some(ratio >= 20.0),
                )
            }
        }
        _ => ("no sidecar pair ran".into(), None),
    };
    verdicts.push(Verdict {
        target: "full chain adds ≥ 20× less p50 latency than the sidecar pair".into(),
        on: on.clone(),
        measured,
        met,
    });
    if let Some(routing) = find(rows, PathKind::MeshRouting, protocol) {
        let added = full.p50 - routing.p50;
        verdicts.push(Verdict {
            target: "the resilience chain adds ≤ 1 µs at p50 when nothing fails (issue 4: \
                     full chain − its routing only)"
                .into(),
            on,
            measured: format!("{added:+.1} µs ({:.1} vs {:.1} µs)", full.p50, routing.p50),
            met: Some(added <= 1.0),
        });
    }
    verdicts
}

fn memory_verdicts(scale: &[ScaleReport]) -> Vec<Verdict> {
    let costs = per_unit_costs(scale);
    let largest = costs.iter().filter(|c| c.labels).max_by_key(|c| c.clusters);
    let describe = |value: Option<f64>, limit: f64, what: &str| {
        let measured = match (value, largest) {
            (Some(v), Some(c)) => format!("{v:.0} B per {what} (at {} clusters)", c.clusters),
            _ => "not measured".into(),
        };
        (measured, value.map(|v| v <= limit))
    };
    let (endpoint, endpoint_met) = describe(largest.map(|c| c.per_endpoint), 256.0, "endpoint");
    let (cluster, cluster_met) = describe(largest.map(|c| c.per_cluster), 4096.0, "cluster");
    vec![
        Verdict {
            target: "≤ 256 B per endpoint".into(),
            on: None,
            measured: endpoint,
            met: endpoint_met,
        },
        Verdict {
            target: "≤ 4 KiB per cluster (with its listener, route table, assignment)".into(),
            on: None,
            measured: cluster,
            met: cluster_met,
        },
        Verdict {
            target: "memory does not grow with the number of runtime threads".into(),
            on: None,
            measured: "not measured: no per-thread state exists yet (one shared snapshot)".into(),
            met: None,
        },
    ]
}
