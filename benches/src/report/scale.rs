//! The scale tables: apply time and memory per document, and the
//! marginal bytes per endpoint and per cluster derived from them.

use std::fmt::Write as _;

use super::{Measured, Report, bytes, cell};
use crate::scale::Memory;

/// One scale run: a document of `clusters` × `endpoints`.
#[derive(Debug, Clone)]
pub struct ScaleReport {
    /// Clusters (services).
    pub clusters: usize,
    /// Endpoints per cluster.
    pub endpoints: usize,
    /// Whether endpoints carry a `version` label.
    pub labels: bool,
    /// Document size, bytes.
    pub document: u64,
    /// Median load + validate time, ms.
    pub load_ms: f64,
    /// Median `Snapshot::new` time, ms.
    pub snapshot_ms: f64,
    /// What the `scale` process measured.
    pub memory: Measured<Memory>,
}

/// Marginal costs at one size, from its 10- and 1-endpoint documents.
#[derive(Debug, Clone, Copy)]
pub struct UnitCosts {
    /// Clusters.
    pub clusters: usize,
    /// Whether endpoints carry a label.
    pub labels: bool,
    /// Bytes per extra endpoint.
    pub per_endpoint: f64,
    /// Bytes per cluster without its endpoints.
    pub per_cluster: f64,
    /// Of `per_endpoint`, the model's (`MeshConfig`) share.
    pub per_endpoint_config: f64,
    /// Of `per_cluster`, the model's share.
    pub per_cluster_config: f64,
}

/// Per-endpoint and per-cluster bytes for every size measured with both
/// a many- and a one-endpoint document.
pub fn per_unit_costs(scale: &[ScaleReport]) -> Vec<UnitCosts> {
    let memory = |r: &ScaleReport| r.memory.as_ref().ok().copied();
    let mut costs = Vec::new();
    for many in scale.iter().filter(|r| r.endpoints > 1) {
        let Some(one) = scale
            .iter()
            .find(|r| r.clusters == many.clusters && r.labels == many.labels && r.endpoints == 1)
        else {
            continue;
        };
        let (Some(m), Some(o)) = (memory(many), memory(one)) else {
            continue;
        };
        let n = many.clusters as f64;
        let extra = n * (many.endpoints - 1) as f64;
        let split = |m: u64, o: u64| {
            let per_endpoint = (m as f64 - o as f64) / extra;
            (per_endpoint, o as f64 / n - per_endpoint)
        };
        let (per_endpoint, per_cluster) = split(m.retained, o.retained);
        let (per_endpoint_config, per_cluster_config) = split(m.config, o.config);
        costs.push(UnitCosts {
            clusters: many.clusters,
            labels: many.labels,
            per_endpoint,
            per_cluster,
            per_endpoint_config,
            per_cluster_config,
        });
    }
    costs
}

impl Report {
    pub(super) fn scale_tables(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## Scale: applying a generated configuration from a static file\n"
        );
        let _ = writeln!(
            out,
            "A generated Envoy v3 resource list (JSON) per size: per service an API listener \
             (RDS), a route configuration, an EDS cluster (least request) and a load \
             assignment with one locality and a `version` label per endpoint, loaded with \
             `mesh_core::source::envoy::load` + `build` (parse, proto conversion, \
             validation) then `Snapshot::new`. Times: median of {} runs in the harness \
             process. Memory: one run in the `scale` process, whose global allocator counts \
             every byte (requested sizes, before the allocator's own rounding and overhead, \
             which VmRSS includes); *retained* is what the model and snapshot keep once the \
             text is dropped, *peak* includes the document text. The largest size is run \
             again without endpoint labels: the difference is what the labels cost.\n",
            self.settings.scale_reps
        );
        let _ = writeln!(
            out,
            "| clusters | endpoints each | labels | document | load + validate ms | \
             Snapshot::new ms | apply ms | retained | retained ÷ endpoints | peak | VmRSS growth \
             | VmHWM |"
        );
        let _ = writeln!(
            out,
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &self.scale {
            let memory = match &r.memory {
                Ok(m) => format!(
                    "{} | {:.0} B | {} | {} | {}",
                    bytes(m.retained),
                    m.retained as f64 / (r.clusters * r.endpoints) as f64,
                    bytes(m.peak),
                    bytes(m.rss_delta_kb * 1024),
                    bytes(m.hwm_kb * 1024)
                ),
                Err(why) => format!("{} | | | | ", cell(why)),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {memory} |",
                r.clusters,
                r.endpoints,
                if r.labels { "yes" } else { "no" },
                bytes(r.document),
                r.load_ms,
                r.snapshot_ms,
                r.load_ms + r.snapshot_ms
            );
        }
        let costs = per_unit_costs(&self.scale);
        if !costs.is_empty() {
            let _ = writeln!(
                out,
                "\nMarginal costs, from the 10- and 1-endpoint documents of each size \
                 (an endpoint: the retained difference over 9 extra endpoints per cluster; a \
                 cluster: what remains, with its listener, route table and assignment):\n"
            );
            let _ = writeln!(
                out,
                "| clusters | labels | bytes per endpoint | of which model / snapshot | bytes per \
                 cluster | of which model / snapshot |"
            );
            let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|");
            for c in costs {
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.0} | {:.0} / {:.0} | {:.0} | {:.0} / {:.0} |",
                    c.clusters,
                    if c.labels { "yes" } else { "no" },
                    c.per_endpoint,
                    c.per_endpoint_config,
                    c.per_endpoint - c.per_endpoint_config,
                    c.per_cluster,
                    c.per_cluster_config,
                    c.per_cluster - c.per_cluster_config
                );
            }
            let sizes: Vec<String> = crate::scale::type_sizes()
                .iter()
                .map(|(name, size)| format!("`{name}` {size} B"))
                .collect();
            let _ = writeln!(
                out,
                "\nInline sizes (`size_of`, before any heap data): {}. An `Endpoint` is a \
                 handle on one shared `EndpointData` (address text on the heap, locality and \
                 labels shared by every endpoint with equal ones): the model's cluster holds the \
                 handle, the snapshot's `EndpointSlot` another (with the in-flight count), plus \
                 an `Arc` pointer per group the slot is in. Label sets are shared because a \
                 `BTreeMap<String, String>` allocates a whole leaf node (room for 11 pairs) for \
                 its first label.",
                sizes.join(", ")
            );
        }
        out.push('\n');
    }
}
