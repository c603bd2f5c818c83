//! The markdown report: what `scripts/bench.sh` writes to `BENCHMARKS.md`
//! and what the harness prints.
//!
//! Absolute figures first, then ratios to the raw hyper baseline and to the
//! sidecar pair *of the same run* (ratios survive a noisy machine better
//! than absolute microseconds), then the targets of issue 7, the scale
//! runs, and how to reproduce. A path that could not run (a proxy not
//! installed) shows why in its row instead of failing the run.

mod scale;
mod traffic;
mod xds_scale;

use std::fmt::Write as _;

use crate::backend::Setup;
use crate::machine::Machine;
use crate::paths::{PathKind, Protocol};
use crate::proxy::ProxyKind;
use crate::targets;
use crate::workload::Latency;

pub use scale::{ScaleReport, UnitCosts, per_unit_costs};
pub use xds_scale::{XdsScaleReport, XdsUnitCosts, xds_section, xds_unit_costs};

/// A figure, or why there is none.
pub type Measured<T> = Result<T, String>;
/// The medians of one path, per protocol ([`Protocol::index`]).
#[derive(Debug, Clone)]
pub struct Row<T> {
    /// Which path.
    pub kind: PathKind,
    /// The figure per protocol, or why there is none.
    pub by_protocol: [Measured<T>; 2],
}

impl<T: Copy> Row<T> {
    /// The figure for `protocol`, if measured.
    pub fn get(&self, protocol: Protocol) -> Option<T> {
        self.by_protocol[protocol.index()].as_ref().ok().copied()
    }
}

/// The figure of path `kind` for `protocol` among `rows`, if measured.
pub fn find<T: Copy>(rows: &[Row<T>], kind: PathKind, protocol: Protocol) -> Option<T> {
    rows.iter().find(|r| r.kind == kind)?.get(protocol)
}

/// Sequential latency of every path in one [`Setup`].
#[derive(Debug, Clone)]
pub struct LatencyTable {
    /// Where the backend ran.
    pub setup: Setup,
    /// One row per path.
    pub rows: Vec<Row<Latency>>,
}

/// How the run was made.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Repetitions of every latency and throughput measurement.
    pub reps: usize,
    /// Sequential: warm-up requests, measured requests, time cap (s).
    pub sequential: (u64, u64, f64),
    /// Sequential requests per turn.
    pub sequential_chunk: u64,
    /// Concurrent: requests in flight, measured requests, time cap (s).
    pub concurrent: (usize, u64, f64),
    /// Repetitions of every apply-time measurement.
    pub scale_reps: usize,
    /// A smoke run (figures meaningless).
    pub smoke: bool,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// How.
    pub settings: RunSettings,
    /// Each proxy's version, or why it did not run.
    pub proxies: Vec<(ProxyKind, Measured<String>)>,
    /// Sequential latency, one table per setup.
    pub latency: Vec<LatencyTable>,
    /// Concurrent requests per second (two-thread setup).
    pub throughput: Vec<Row<f64>>,
    /// Whether the client and backend threads were pinned to cores.
    pub pinned: bool,
    /// The scale runs.
    pub scale: Vec<ScaleReport>,
    /// The xDS scale runs.
    pub xds: Vec<XdsScaleReport>,
    /// The harness's command line.
    pub command: String,
}

impl Report {
    /// The whole report.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        self.header(&mut out);
        self.latency_tables(&mut out);
        self.throughput_table(&mut out);
        self.targets_table(&mut out);
        self.scale_tables(&mut out);
        self.xds_tables(&mut out);
        self.footer(&mut out);
        out
    }

    fn header(&self, out: &mut String) {
        let m = &self.machine;
        let s = &self.settings;
        let _ = writeln!(out, "# Benchmarks\n");
        if s.smoke {
            let _ = writeln!(
                out,
                "**Smoke run: tiny counts, the figures mean nothing.**\n"
            );
        }
        let _ = writeln!(
            out,
            "Written by `bash scripts/bench.sh` (the harness in `benches/src/bin/harness.rs`); \
             do not edit by hand. Issue 7. Every figure is the **median of {} runs**, \
             interleaved across paths; ratios compare paths measured in the same run.\n",
            s.reps
        );
        let _ = writeln!(out, "- Date: {}", m.date);
        let _ = writeln!(
            out,
            "- Machine: {} cores (`nproc`), {}, {} RAM, Linux {}, {}",
            m.cores, m.cpu, m.memory, m.kernel, m.rustc
        );
        for (kind, version) in &self.proxies {
            let text = match version {
                Ok(v) => v.clone(),
                Err(why) => cell(why),
            };
            let _ = writeln!(out, "- {kind}: {text}");
        }
        let _ = writeln!(
            out,
            "- Runtimes: the client (hyper-util's pooled client, or `MeshClient` over its own \
             pools) runs on one current-thread tokio runtime; the backend is hyper 1 (HTTP/1.1 and \
             h2c on the same port, `200` with a 2-byte body) on a current-thread runtime. \
             Latency is measured in two setups: *{}*: {}; *{}*: {}. Throughput in the first \
             only. Proxies: one process with one worker each (nginx `master_process off`, \
             HAProxy `nbthread 1`), keep-alive upstreams, not pinned.{}",
            Setup::TwoThreads.label(),
            Setup::TwoThreads.description(),
            Setup::OneThread.label(),
            Setup::OneThread.description(),
            if self.pinned {
                ""
            } else {
                " (Pinning was not possible here: threads float.)"
            }
        );
        let (warmup, requests, seconds) = s.sequential;
        let chunk = s.sequential_chunk;
        let (in_flight, c_requests, c_seconds) = s.concurrent;
        let _ = writeln!(
            out,
            "- Workload: `GET /orders/1` with 4 headers (`user-agent`, `accept`, \
             `x-user-group`, `x-request-id`), empty body, whole response read. Sequential: \
             one request at a time on one connection per endpoint, {warmup} warm-up then \
             {requests} measured per path and run, in turns of {chunk} (the paths take turns, \
             so drift hits all alike; at most {seconds} s per path), HDR histogram. Concurrent: \
             {in_flight} requests in flight, up to {c_requests} requests (at most \
             {c_seconds} s) per run after a warm-up. Plain text on every hop (no TLS)."
        );
        let _ = writeln!(out, "\nPaths:\n");
        let _ = writeln!(
            out,
            "1. **raw**: hyper-util's legacy pooled client straight to the backend (the \
             usual way to use hyper as a client), with the connection options of the \
             mesh's own pools (`TCP_NODELAY`, tokio timers): the baseline. \
             Also *the full chain's 3 endpoints at 40/40/20*: the same client over the full \
             chain's three backend ports in the shares the full chain gives them (its 80/20 \
             split, v1 on two endpoints), taken in a fixed turn `a b a b c`: the floor of the \
             same shape as the full chain."
        );
        let _ = writeln!(
            out,
            "2. **mesh, static**: `MeshClient` over one Istio ServiceEntry (one listener, one \
             match-all route, one endpoint, round robin, no timeout)."
        );
        let _ = writeln!(
            out,
            "3. **mesh, full chain** (routing, subsets, P2C, timeouts, retries, budget, \
             breaker, outlier detection, Istio's metrics recorded, tracing on with the request unsampled): the order-service canary — three \
             header-matched routes (exact, prefix, regex) scanned and missed, then a URI-prefix \
             route splitting 80/20 between subsets v1/v2 by label, least request (P2C) over \
             three endpoints, an 800 ms route timeout and a 250 ms per-try timeout (a timer \
             per attempt), a retry policy (3 attempts on 5xx, reset, connect-failure: the \
             request head packed for a retry, the retry budget counted), the `max_requests` \
             breaker (a permit per attempt) and outlier detection (every outcome recorded); \
             nothing fails, so no retry is made. A hash policy cannot apply (Istio makes \
             consistent hashing the alternative to least request)."
        );
        let _ = writeln!(
            out,
            "4. **mesh, routing only**: the full chain's configuration without its \
             resilience (no retry policy, no breaker limits, no outlier detection; metrics \
             and unsampled tracing kept): the full chain minus this is what the resilience \
             chain costs per request."
        );
        let _ = writeln!(
            out,
            "5. **sidecar pair**: the raw client → proxy → proxy → backend, both proxies \
             the same program. HTTP/2 with nginx: {}; with HAProxy: {}.\n",
            ProxyKind::Nginx.http2_note(),
            ProxyKind::Haproxy.http2_note()
        );
    }

    fn targets_table(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## Targets of issues 3, 4 and 7 (reported, not asserted)\n"
        );
        let _ = writeln!(
            out,
            "| target | protocol, setup | measured (medians) | status |"
        );
        let _ = writeln!(out, "|---|---|---|---|");
        for v in targets::judge(&self.latency, &self.throughput, &self.scale, &self.xds) {
            let on = v.on.as_deref().unwrap_or("—");
            let _ = writeln!(
                out,
                "| {} | {on} | {} | {} |",
                v.target,
                v.measured,
                v.word()
            );
        }
        out.push('\n');
    }

    fn footer(&self, out: &mut String) {
        let _ = writeln!(out, "## Reproduce\n");
        let _ = writeln!(out, "```sh");
        let _ = writeln!(
            out,
            "bash scripts/bench.sh          # installs nginx + HAProxy if missing (root), builds, runs, rewrites BENCHMARKS.md"
        );
        let _ = writeln!(
            out,
            "bash scripts/bench.sh --smoke  # a tiny iteration of everything, prints only (CI)"
        );
        let _ = writeln!(out, "```\n");
        let _ = writeln!(
            out,
            "This run: `{}` (built with `cargo build --release -p mesh-benches --bins`; the \
             `scale` and `xds_scale` probes must sit next to `harness`).\n",
            self.command
        );
        let _ = writeln!(
            out,
            "To profile one path (`--only` takes `raw`, `raw-spread`, `mesh-static`, `mesh-full`, `nginx`, `haproxy`):\n"
        );
        let _ = writeln!(out, "```sh");
        let _ = writeln!(
            out,
            "perf record -g target/release/harness --only mesh-full --no-scale --no-proxies --reps 1"
        );
        let _ = writeln!(
            out,
            "valgrind --tool=callgrind target/release/harness --only mesh-full --smoke --no-scale --no-proxies"
        );
        let _ = writeln!(out, "```");
    }
}

/// `text` as one table cell: one line, no `|`, at most 200 characters.
pub(crate) fn cell(text: &str) -> String {
    let flat: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "/");
    match flat.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &flat[..end]),
        None => flat,
    }
}

/// Bytes in B, KiB or MiB.
pub(crate) fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", n / (1024.0 * 1024.0))
    } else if n >= 1024.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else {
        format!("{n:.0} B")
    }
}
