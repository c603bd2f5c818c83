//! A fixed number of requests through one path, for counting the
//! instructions a request costs (`scripts/instructions.sh`).
//!
//! Wall-clock figures on a shared two-core machine move by several
//! percent between runs; instruction counts under callgrind do not. This
//! probe sends `warm-up + N` sequential requests through a path, with the
//! client and the backend on one current-thread runtime (the harness's
//! one-thread setup), so running it under callgrind for two values of
//! `N` and dividing the difference of the totals by the difference of
//! the counts gives the instructions of one request, start-up excluded.
//!
//! ```text
//! per_request raw|raw-spread|mesh-static|mesh-full|mesh-routing http1|http2 N [C]
//! ```
//!
//! With `C`, the requests go `C` at a time (each of `C` tasks sends its
//! share in turn), as in the harness's throughput runs: what a request
//! costs when others are in flight beside it.

use mesh_benches::backend::Backend;
use mesh_benches::paths::{Path, Protocol};

const USAGE: &str =
    "usage: per_request raw|raw-spread|mesh-static|mesh-full|mesh-routing http1|http2 N [C]";

/// Requests before counting starts to matter: connections open, caches
/// fill.
const WARM_UP: usize = 200;

fn main() {
    if let Err(e) = run() {
        eprintln!("per_request: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, protocol, count, in_flight) = match args.as_slice() {
        [path, protocol, count] => (path, protocol, count, "1"),
        [path, protocol, count, in_flight] => (path, protocol, count, in_flight.as_str()),
        _ => return Err(USAGE.into()),
    };
    let in_flight: usize = match in_flight.parse() {
        Ok(n) if n > 0 => n,
        _ => return Err(format!("C {in_flight:?}: {USAGE}")),
    };
    let protocol = match protocol.as_str() {
        "http1" => Protocol::Http1,
        "http2" => Protocol::Http2,
        other => return Err(format!("protocol {other:?}: {USAGE}")),
    };
    let count: usize = count.parse().map_err(|e| format!("N {count:?}: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async {
        let backend = Backend::start_here(3).map_err(|e| format!("backend: {e}"))?;
        let ports = backend.ports();
        let spread = [ports[0], ports[1], ports[2]];
        let path = match path.as_str() {
            "raw" => Path::raw(ports[0]),
            "raw-spread" => Path::raw_spread(spread),
            "mesh-static" => Path::mesh_static(ports[0]),
            "mesh-full" => Path::mesh_full(spread),
            "mesh-routing" => Path::mesh_routing(spread),
            other => return Err(format!("path {other:?}: {USAGE}")),
        };
        let client = path.client(protocol)?;
        let total = WARM_UP + count;
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..in_flight {
            let client = client.clone();
            // Task `task` sends every `in_flight`-th request.
            let share = (total + in_flight - 1 - task) / in_flight;
            tasks.spawn(async move {
                for _ in 0..share {
                    client.send().await?;
                }
                Ok::<(), String>(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.map_err(|e| format!("task: {e}"))??;
        }
        Ok(())
    })
}
