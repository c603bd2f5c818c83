//! What a language binding adds to a request, measured in one run against
//! one backend.
//!
//! Sequential small GETs (one in flight, so each figure is a request's
//! whole cost, not throughput) to the harness's minimal backend, pinned to
//! core 1:
//! - `MeshClient` from async Rust: the pure-Rust baseline;
//! - `Engine::execute` from a plain thread: the facade every binding
//!   calls (a blocking call that drives the request on the caller's
//!   thread);
//! - with `--go DIR`: the Go binding's benchmarks (`go test -bench`)
//!   against the same backend: a no-op cgo call, a GET through
//!   `http.Client{Transport: mesh}`, and the same GET with Go's own
//!   `net/http` client (their sequential variants). `CGO_LDFLAGS` must point at a release
//!   `libmesh.a` (`scripts/bench-bindings.sh` does that).
//!
//! Medians of `--reps` runs; the Rust paths interleave. Prints a markdown
//! table, and appends it to `--out FILE` when given.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use mesh_benches::backend::Backend;
use mesh_benches::configs::{HOST, static_yaml};
use mesh_benches::stats::median;
use mesh_engine::{ConfigFormat, ConfigSource, Engine, EngineOptions, HttpRequest};
use mesh_tower::MeshClient;

struct Args {
    go: Option<PathBuf>,
    requests: usize,
    reps: usize,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        go: None,
        requests: 20_000,
        reps: 5,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--go" => args.go = Some(value()?.into()),
            "--out" => args.out = Some(value()?.into()),
            "--requests" => args.requests = value()?.parse().map_err(|e| format!("{e}"))?,
            "--reps" => args.reps = value()?.parse().map_err(|e| format!("{e}"))?,
            "--smoke" => {
                args.requests = 200;
                args.reps = 1;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let backend = Backend::start(1, Some(1))?;
    // The client side on core 0, the backend on core 1, as in the harness:
    // every request crosses cores, and no run finds its client sharing the
    // backend's core by chance. Threads started from here (the engine's)
    // inherit the pinning; the Go benchmarks run under `taskset -c 0`.
    core_affinity::set_for_current(core_affinity::CoreId { id: 0 });
    let yaml = static_yaml(backend.port());
    let url = format!("http://{HOST}/");

    let engine = Engine::new(
        ConfigSource::Static {
            text: yaml.clone(),
            format: ConfigFormat::Istio,
        },
        EngineOptions::default(),
    )?;
    let request = HttpRequest::new(b"GET", url.as_bytes())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let config = mesh_core::source::istio::load(&yaml)?.build()?;
    let client = MeshClient::<Full<Bytes>>::from_config(config);

    let mut rust_async = Vec::new();
    let mut facade = Vec::new();
    for _ in 0..args.reps {
        let started = Instant::now();
        runtime.block_on(async {
            for _ in 0..args.requests {
                let request = http::Request::get(&url)
                    .body(Full::default())
                    .expect("a valid request");
                let response = client.request(request).await.expect("answered");
                response.into_body().collect().await.expect("a body");
            }
        });
        rust_async.push(per_request_ns(started, args.requests));

        let started = Instant::now();
        for _ in 0..args.requests {
            engine.execute(&request, None)?;
        }
        facade.push(per_request_ns(started, args.requests));
    }
    let mut rows = vec![
        (
            "Rust: `MeshClient`, async (current-thread runtime)".to_owned(),
            median(&rust_async),
        ),
        (
            "Rust: `Engine::execute`, blocking (the bindings' entry)".to_owned(),
            median(&facade),
        ),
    ];
    if let Some(dir) = &args.go {
        let port = backend.port();
        let go = go_benchmarks(dir, &format!("127.0.0.1:{port}"), &args)?;
        for (name, label) in [
            (
                "BenchmarkABIVersion/sequential",
                "Go: no-op cgo call (`mesh_abi_version`)",
            ),
            (
                "BenchmarkRoundTripMesh/sequential",
                "Go: GET through `http.Client{Transport: mesh}`",
            ),
            (
                "BenchmarkRoundTripNetHTTP/sequential",
                "Go: GET through `net/http` alone",
            ),
        ] {
            let runs = go.get(name).ok_or(format!("go test printed no {name}"))?;
            rows.push((label.to_owned(), median(runs)));
        }
    }
    engine.close();

    let table = report(&rows, &args);
    print!("{table}");
    if let Some(out) = &args.out {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(out)?
            .write_all(table.as_bytes())?;
    }
    Ok(())
}

fn per_request_ns(started: Instant, requests: usize) -> f64 {
    started.elapsed().as_nanos() as f64 / requests as f64
}

/// Runs the Go benchmarks against `backend`; ns/op of each run by name
/// (without the `-GOMAXPROCS` suffix).
fn go_benchmarks(
    dir: &PathBuf,
    backend: &str,
    args: &Args,
) -> Result<BTreeMap<String, Vec<f64>>, String> {
    // Built first, so the compiler is not pinned with the benchmark.
    let binary = std::env::temp_dir().join(format!("mesh-go-bench-{}", std::process::id()));
    let built = Command::new("go")
        .args(["test", "-c", "-o"])
        .arg(&binary)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("go test -c: {e}"))?;
    if !built.success() {
        return Err(format!("go test -c: {built}"));
    }
    let pinned = Command::new("taskset").arg("-V").output().is_ok();
    let mut command = if pinned {
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).arg(&binary);
        command
    } else {
        Command::new(&binary)
    };
    let output = command
        .args([
            "-test.run",
            "^$",
            "-test.bench",
            "ABIVersion|RoundTripMesh|RoundTripNetHTTP/sequential",
        ])
        .arg(format!("-test.benchtime={}x", args.requests))
        .arg(format!("-test.count={}", args.reps))
        .current_dir(dir)
        .env("MESH_BENCH_BACKEND", backend)
        .output()
        .map_err(|e| format!("the Go benchmarks: {e}"))?;
    let _ = std::fs::remove_file(&binary);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "go test -bench failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut runs: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for line in stdout.lines().filter(|l| l.starts_with("Benchmark")) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = fields.iter().position(|f| *f == "ns/op") else {
            continue;
        };
        let name = fields[0]
            .rsplit_once('-')
            .map_or(fields[0], |(name, _)| name);
        if let Ok(ns) = fields[at - 1].parse::<f64>() {
            runs.entry(name.to_owned()).or_default().push(ns);
        }
    }
    Ok(runs)
}

fn report(rows: &[(String, f64)], args: &Args) -> String {
    let baseline = rows[0].1;
    let facade = rows[1].1;
    let net_http = rows
        .iter()
        .find(|(label, _)| label.starts_with("Go: GET through `net/http`"))
        .map(|(_, ns)| *ns);
    let mut out = String::new();
    out.push_str("\n## Bindings: what a foreign call adds\n\n");
    out.push_str(&format!(
        "Sequential small GETs (one in flight) to the harness's backend pinned to core 1, the client side pinned to core 0 (Go's benchmark binary under `taskset -c 0`), {} per run, median of {} runs (`bash scripts/bench-bindings.sh`). Go's figures are `go test -bench` ns/op against the same backend in the same run (its parallel benchmarks are left out here: on one core they run one goroutine).\n\n",
        args.requests, args.reps
    ));
    out.push_str("| path | per request | − `MeshClient` | − `Engine::execute` | ÷ `net/http` |\n|---|---:|---:|---:|---:|\n");
    for (label, ns) in rows {
        let ratio = net_http.map_or("–".to_owned(), |n| format!("{:.2}×", ns / n));
        out.push_str(&format!(
            "| {label} | {:.2} µs | {:+.2} µs | {:+.2} µs | {ratio} |\n",
            ns / 1000.0,
            (ns - baseline) / 1000.0,
            (ns - facade) / 1000.0,
        ));
    }
    let find = |prefix: &str| {
        rows.iter()
            .find(|(l, _)| l.starts_with(prefix))
            .map(|(_, ns)| *ns)
    };
    if let (Some(noop), Some(go), Some(net_http)) = (
        find("Go: no-op"),
        find("Go: GET through `http.Client"),
        net_http,
    ) {
        let judged = |met: bool| if met { "met" } else { "missed" };
        out.push_str(&format!(
            "\nTargets: a no-op foreign call ≤ 100 ns: {:.0} ns, {}; a request through the binding ≤ 2 µs over pure Rust: {:+.2} µs over `Engine::execute` ({}), {:+.2} µs over `MeshClient`; faster than `net/http` for small requests: {:.2}×, {}.\n",
            noop,
            judged(noop <= 100.0),
            (go - facade) / 1000.0,
            judged(go - facade <= 2000.0),
            (go - baseline) / 1000.0,
            go / net_http,
            judged(go < net_http),
        ));
    }
    out
}
