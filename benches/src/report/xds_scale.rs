//! The xDS scale tables: apply time, EDS update time and memory per size,
//! and the marginal bytes per endpoint and per cluster.

use std::fmt::Write as _;

use super::{Measured, Report, bytes, cell};
use crate::xds_scale::{UPDATE_ENDPOINTS, XdsMemory};

/// One xDS scale run: a mesh of `clusters` × `endpoints`.
#[derive(Debug, Clone)]
pub struct XdsScaleReport {
    /// Clusters (services).
    pub clusters: usize,
    /// Endpoints per cluster.
    pub endpoints: usize,
    /// Encoded size of the four responses, bytes.
    pub responses: u64,
    /// Median time in `on_response` (decode, validate, assemble), ms.
    pub client_ms: f64,
    /// Median time to take the configuration, build the snapshot and
    /// swap it in, ms.
    pub snapshot_ms: f64,
    /// Median time of the EDS update (10-endpoint meshes only), ms.
    pub update_ms: Option<f64>,
    /// Of which the snapshot's (take, build, swap), ms.
    pub update_snapshot_ms: Option<f64>,
    /// What the `xds_scale` probe measured.
    pub memory: Measured<XdsMemory>,
}

/// Marginal bytes at one size, from its 10- and 1-endpoint runs.
#[derive(Debug, Clone, Copy)]
pub struct XdsUnitCosts {
    /// Clusters.
    pub clusters: usize,
    /// Bytes per extra endpoint, retained with the client.
    pub per_endpoint: f64,
    /// Bytes per cluster without its endpoints, with the client.
    pub per_cluster: f64,
    /// The same two without the client (model and snapshot only).
    pub per_endpoint_model: f64,
    /// See `per_endpoint_model`.
    pub per_cluster_model: f64,
}

/// Per-endpoint and per-cluster bytes for every size run with 10 and 1
/// endpoints.
pub fn xds_unit_costs(runs: &[XdsScaleReport]) -> Vec<XdsUnitCosts> {
    let mut costs = Vec::new();
    for many in runs.iter().filter(|r| r.endpoints > 1) {
        let Some(one) = runs
            .iter()
            .find(|r| r.clusters == many.clusters && r.endpoints == 1)
        else {
            continue;
        };
        let (Ok(m), Ok(o)) = (&many.memory, &one.memory) else {
            continue;
        };
        let n = many.clusters as f64;
        let extra = n * (many.endpoints - 1) as f64;
        let split = |m: u64, o: u64| {
            let per_endpoint = (m as f64 - o as f64) / extra;
            (per_endpoint, o as f64 / n - per_endpoint)
        };
        let (per_endpoint, per_cluster) = split(m.retained, o.retained);
        let (per_endpoint_model, per_cluster_model) = split(m.without_client, o.without_client);
        costs.push(XdsUnitCosts {
            clusters: many.clusters,
            per_endpoint,
            per_cluster,
            per_endpoint_model,
            per_cluster_model,
        });
    }
    costs
}

/// The markdown section; `reps` is how many runs each time is the median of.
pub fn xds_section(runs: &[XdsScaleReport], reps: usize) -> String {
    let mut out = String::new();
    if runs.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "## Scale over xDS: applying a state-of-the-world snapshot\n"
    );
    let _ = writeln!(
        out,
        "The same generated mesh as above, as a control plane sends it: four \
         `DiscoveryResponse`s (LDS, RDS, CDS, EDS) of protobuf-encoded resources fed to the \
         sans-IO client (`XdsState`, wildcard listeners; `benches/src/xds_scale.rs`). *Client*: \
         the four `on_response` calls (decode, validate, assemble the configuration); \
         *snapshot*: `take_config`, `Snapshot::succeeding` and the swap into a \
         `SnapshotHandle`; *apply* is both. *EDS update*: one EDS response replacing one \
         cluster's 10 endpoints with {UPDATE_ENDPOINTS} in the applied mesh (decode, \
         reassembly, successor snapshot, swap). Times: median of {reps} runs. Memory: one run \
         in the `xds_scale` process, whose global allocator counts every byte; *retained* is \
         what the client's caches, the configuration and the snapshot keep once the \
         responses are consumed, *without client* what remains when the client is dropped, \
         *peak* includes the four encoded responses (all in memory before the first is \
         applied).\n"
    );
    let _ = writeln!(
        out,
        "| clusters | endpoints each | responses | client ms | snapshot ms | apply ms | EDS \
         update ms | retained | of which snapshot | without client | peak |"
    );
    let _ = writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in runs {
        let memory = match &r.memory {
            Ok(m) => format!(
                "{} | {} | {} | {}",
                bytes(m.retained),
                bytes(m.snapshot),
                bytes(m.without_client),
                bytes(m.peak)
            ),
            Err(why) => format!("{} | | | ", cell(why)),
        };
        let update = match (r.update_ms, r.update_snapshot_ms) {
            (Some(ms), Some(snapshot)) => format!("{ms:.1} (snapshot {snapshot:.1})"),
            (Some(ms), None) => format!("{ms:.1}"),
            _ => "—".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {update} | {memory} |",
            r.clusters,
            r.endpoints,
            bytes(r.responses),
            r.client_ms,
            r.snapshot_ms,
            r.client_ms + r.snapshot_ms,
        );
    }
    let costs = xds_unit_costs(runs);
    if !costs.is_empty() {
        let _ = writeln!(
            out,
            "\nMarginal costs, from the 10- and 1-endpoint runs of each size (targets: ≤ 256 B \
             per endpoint, ≤ 4 KiB per cluster):\n"
        );
        let _ = writeln!(
            out,
            "| clusters | bytes per endpoint | without client | bytes per cluster | without \
             client |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|");
        for c in costs {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.0} | {:.0} | {:.0} |",
                c.clusters,
                c.per_endpoint,
                c.per_endpoint_model,
                c.per_cluster,
                c.per_cluster_model
            );
        }
    }
    out.push('\n');
    out
}

impl Report {
    pub(super) fn xds_tables(&self, out: &mut String) {
        out.push_str(&xds_section(&self.xds, self.settings.scale_reps));
    }
}
