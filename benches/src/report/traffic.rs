//! The latency and throughput tables: absolute figures, the added latency
//! over each path's raw baseline of the same shape, and ratios to the
//! sidecar pair measured in the same run.

use std::fmt::Write as _;

use super::{LatencyTable, Report, cell, find};
use crate::backend::Setup;
use crate::paths::{PathKind, Protocol};
use crate::targets::{best_sidecar, best_sidecar_throughput};

impl Report {
    pub(super) fn latency_tables(&self, out: &mut String) {
        for table in &self.latency {
            latency_table(table, out);
        }
    }

    pub(super) fn throughput_table(&self, out: &mut String) {
        let (in_flight, _, _) = self.settings.concurrent;
        let rows = &self.throughput;
        let _ = writeln!(
            out,
            "## Throughput, {}: {in_flight} requests in flight\n",
            Setup::TwoThreads.label()
        );
        let _ = writeln!(
            out,
            "Over HTTP/1.1 the pool opens a connection per request in flight; over HTTP/2 one \
             connection per endpoint carries them all, so a path over 3 endpoints has 3 \
             connections where a path to one port has 1 (compare the full chain with raw over \
             its 3 endpoints, in the same shares).\n"
        );
        let _ = writeln!(
            out,
            "| path | protocol | requests/s | ÷ its raw baseline | ÷ best sidecar pair |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|");
        for protocol in Protocol::ALL {
            let sidecar = best_sidecar_throughput(rows, protocol).map(|(_, t)| t);
            for row in rows {
                let baseline = find(rows, row.kind.baseline(), protocol);
                let cells = match &row.by_protocol[protocol.index()] {
                    Err(why) => format!("{} | | ", cell(why)),
                    Ok(t) => {
                        let ratio = |base: Option<f64>| {
                            base.map_or("—".into(), |b| format!("{:.2}", t / b))
                        };
                        format!("{t:.0} | {} | {}", ratio(baseline), ratio(sidecar))
                    }
                };
                let _ = writeln!(out, "| {} | {} | {cells} |", row.kind, protocol.label());
            }
        }
        out.push('\n');
    }
}

fn latency_table(table: &LatencyTable, out: &mut String) {
    let rows = &table.rows;
    let _ = writeln!(
        out,
        "## Latency, {}: sequential, one connection per endpoint (µs)\n",
        table.setup.label()
    );
    let _ = writeln!(
        out,
        "Setup: {}. *Added* is against the raw path of the same shape (the full chain's is \
         raw over its 3 endpoints in the same shares; every other path's is raw to one port). The \
         last column divides the added p50 of the sidecar pair (the faster pair of the \
         protocol) by the mesh path's.\n",
        table.setup.description()
    );
    let _ = writeln!(
        out,
        "| path | protocol | p50 | p99 | p99.9 | added p50 | added p99 | p50 ÷ raw | \
         sidecar's added p50 ÷ this path's |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for protocol in Protocol::ALL {
        let sidecar = best_sidecar(rows, protocol);
        let raw = find(rows, PathKind::Raw, protocol);
        for row in rows {
            let baseline = find(rows, row.kind.baseline(), protocol);
            let cells = match &row.by_protocol[protocol.index()] {
                Err(why) => format!("{} | | | | | | ", cell(why)),
                Ok(l) => {
                    let (added50, added99, ratio) = match baseline {
                        Some(b) if !row.kind.is_raw() => (
                            format!("{:+.1}", l.p50 - b.p50),
                            format!("{:+.1}", l.p99 - b.p99),
                            format!("{:.2}×", l.p50 / b.p50),
                        ),
                        _ => ("—".into(), "—".into(), "—".into()),
                    };
                    let mesh = matches!(
                        row.kind,
                        PathKind::MeshStatic | PathKind::MeshFull | PathKind::MeshRouting
                    );
                    let vs_sidecar = match (baseline, raw, sidecar) {
                        (Some(b), Some(r), Some((_, s))) if mesh => {
                            let mine = l.p50 - b.p50;
                            if mine <= 0.0 {
                                "∞ (adds ≤ 0)".into()
                            } else {
                                format!("{:.0}×", (s.p50 - r.p50) / mine)
                            }
                        }
                        _ => "—".into(),
                    };
                    format!(
                        "{:.1} | {:.1} | {:.1} | {added50} | {added99} | {ratio} | {vs_sidecar}",
                        l.p50, l.p99, l.p999
                    )
                }
            };
            let _ = writeln!(out, "| {} | {} | {cells} |", row.kind, protocol.label());
        }
    }
    out.push('\n');
}
