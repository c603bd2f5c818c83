//! Bench support: the pieces of the loopback harness (`src/bin/harness.rs`)
//! and of the scale runs' memory probes (`src/bin/scale.rs`,
//! `src/bin/xds_scale.rs`).
//!
//! The criterion benchmarks under `benches/` measure one decision (a route
//! match, a pick) in isolation; the harness measures what a caller sees:
//! whole HTTP requests over loopback through raw hyper, through the mesh,
//! and through a pair of real proxies, in one run on one machine, so the
//! ratios between them mean something even on a noisy shared machine.
//!
//! Each module is one concept:
//! - [`backend`]: the minimal hyper server every path ends at;
//! - [`proxy`]: the sidecar-pair stand-in (nginx or HAProxy, twice);
//! - [`configs`]: the mesh configurations (static, full chain);
//! - [`paths`]: the paths under test and one client per path;
//! - [`workload`]: the sequential and concurrent request loops;
//! - [`measure`]: the plan, and the runs of every path, interleaved;
//! - [`stats`]: medians of repeated runs;
//! - [`scale`]: generated Envoy documents and the apply-time/memory probe;
//! - [`scale_run`]: the scale runs, with the probe in its own process;
//! - [`xds_scale`]: the same mesh as xDS responses through the xDS
//!   client, its apply time, EDS update time and memory probe;
//! - [`xds_scale_run`]: the xDS scale runs, with the probe in its own
//!   process (the `xds_scale` binary);
//! - [`machine`]: the description of the machine a report was made on;
//! - [`targets`]: the targets of issue 7, judged on the medians;
//! - [`report`]: the markdown report.

pub mod backend;
pub mod configs;
pub mod machine;
pub mod measure;
pub mod paths;
pub mod proxy;
pub mod report;
pub mod scale;
pub mod scale_run;
pub mod stats;
pub mod targets;
pub mod workload;
pub mod xds_scale;
pub mod xds_scale_run;
