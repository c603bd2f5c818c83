//! The xDS scale runs' orchestration: for each size, the apply and EDS
//! update times measured in this process (median of a few runs) and the
//! memory measured by the `xds_scale` probe binary next to the running
//! executable, in a fresh process (see [`crate::xds_scale`]).

use std::path::Path as FsPath;
use std::process::Command;
use std::time::Duration;

use crate::report::{Measured, XdsScaleReport};
use crate::xds_scale::{self, XdsMemory, median_ms};

/// Every size with 10 and with 1 labelled endpoint per cluster; the EDS
/// update on the 10-endpoint mesh.
pub fn run_xds_scale(sizes: &[usize], reps: usize) -> Vec<XdsScaleReport> {
    let probe = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name("xds_scale"));
    let mut reports = Vec::new();
    for &clusters in sizes {
        for endpoints in [10, 1] {
            eprintln!("xds scale: {clusters} clusters × {endpoints} endpoints");
            reports.push(run_one(probe.as_deref(), clusters, endpoints, reps.max(1)));
        }
    }
    reports
}

fn run_one(
    probe: Option<&FsPath>,
    clusters: usize,
    endpoints: usize,
    reps: usize,
) -> XdsScaleReport {
    let responses = xds_scale::encoded_len(&xds_scale::responses(clusters, endpoints, true));
    let mut client = Vec::new();
    let mut snapshot = Vec::new();
    let mut update: Vec<Duration> = Vec::new();
    let mut update_snapshot: Vec<Duration> = Vec::new();
    let mut failure = None;
    for _ in 0..reps {
        let applied = xds_scale::apply_mesh(clusters, endpoints, true).and_then(
            |(mut state, handle, time)| {
                let eds = if endpoints == 10 {
                    Some(xds_scale::eds_update(&mut state, &handle, clusters, true)?)
                } else {
                    None
                };
                Ok((time, eds))
            },
        );
        match applied {
            Ok((time, eds)) => {
                client.push(time.client);
                snapshot.push(time.snapshot);
                update.extend(eds.map(|t| t.total()));
                update_snapshot.extend(eds.map(|t| t.snapshot));
            }
            Err(e) => {
                failure = Some(format!("failed: {e}"));
                break;
            }
        }
    }
    let memory = match failure {
        Some(why) => Err(why),
        None => memory_in_probe(probe, clusters, endpoints),
    };
    XdsScaleReport {
        clusters,
        endpoints,
        responses,
        client_ms: median_ms(&client),
        snapshot_ms: median_ms(&snapshot),
        update_ms: (!update.is_empty()).then(|| median_ms(&update)),
        update_snapshot_ms: (!update.is_empty()).then(|| median_ms(&update_snapshot)),
        memory,
    }
}

/// Runs `xds_scale --probe CLUSTERS ENDPOINTS`.
fn memory_in_probe(
    probe: Option<&FsPath>,
    clusters: usize,
    endpoints: usize,
) -> Measured<XdsMemory> {
    let not_built =
        "n/a (the `xds_scale` binary is not built: cargo build --release -p mesh-benches --bins)";
    let probe = probe.filter(|p| p.is_file()).ok_or(not_built)?;
    let output = Command::new(probe)
        .args(["--probe", &clusters.to_string(), &endpoints.to_string()])
        .output()
        .map_err(|e| format!("{}: {e}", probe.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match XdsMemory::parse(&stdout) {
        Some(memory) if output.status.success() => Ok(memory),
        _ => Err(format!(
            "xds_scale probe failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}
