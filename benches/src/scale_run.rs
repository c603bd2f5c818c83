//! The scale runs' orchestration: for each size, the apply time measured
//! here (median of a few runs, system allocator) and the memory measured
//! by the `scale` probe binary next to the running executable (see
//! [`crate::scale`] for what is generated and what is counted).

use std::path::Path as FsPath;
use std::process::Command;

use crate::report::{Measured, ScaleReport};
use crate::scale::{self, Memory};
use crate::stats::median;

/// Apply time in this process, memory in the `scale` probe, for every size
/// with 10 and with 1 endpoint per cluster, and the largest size again
/// without endpoint labels.
pub fn run_scale(sizes: &[usize], reps: usize) -> Vec<ScaleReport> {
    let probe = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name("scale"));
    let mut reports = Vec::new();
    let largest = sizes.iter().copied().max();
    let mut runs: Vec<(usize, usize, bool)> = Vec::new();
    for &clusters in sizes {
        runs.extend([(clusters, 10, true), (clusters, 1, true)]);
    }
    // The memory profile: the largest size again without endpoint labels.
    if let Some(clusters) = largest {
        runs.extend([(clusters, 10, false), (clusters, 1, false)]);
    }
    for (clusters, endpoints, labels) in runs {
        let what = if labels { "labelled" } else { "unlabelled" };
        eprintln!("scale: {clusters} clusters × {endpoints} {what} endpoints");
        let document = scale::envoy_document(clusters, endpoints, labels);
        let mut load = Vec::new();
        let mut snapshot = Vec::new();
        let mut failure = None;
        for _ in 0..reps {
            match scale::apply(&document) {
                Ok((built, time)) => {
                    drop(built);
                    load.push(time.load.as_secs_f64() * 1e3);
                    snapshot.push(time.snapshot.as_secs_f64() * 1e3);
                }
                Err(e) => {
                    failure = Some(format!("failed: {e}"));
                    break;
                }
            }
        }
        let memory = match failure {
            Some(why) => Err(why),
            None => memory_in_probe(probe.as_deref(), &document),
        };
        reports.push(ScaleReport {
            clusters,
            endpoints,
            labels,
            document: document.len() as u64,
            load_ms: median(&load),
            snapshot_ms: median(&snapshot),
            memory,
        });
    }
    reports
}

/// Runs the `scale` binary on `document` (written to a temporary file).
fn memory_in_probe(probe: Option<&FsPath>, document: &str) -> Measured<Memory> {
    let not_built =
        "n/a (the `scale` binary is not built: cargo build --release -p mesh-benches --bins)";
    let probe = probe.filter(|p| p.is_file()).ok_or(not_built)?;
    let file = std::env::temp_dir().join(format!("mesh-bench-scale-{}.json", std::process::id()));
    std::fs::write(&file, document).map_err(|e| format!("{}: {e}", file.display()))?;
    let output = Command::new(probe).arg(&file).output();
    let _ = std::fs::remove_file(&file);
    let output = output.map_err(|e| format!("{}: {e}", probe.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match Memory::parse(&stdout) {
        Some(memory) if output.status.success() => Ok(memory),
        _ => Err(format!(
            "scale probe failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}
