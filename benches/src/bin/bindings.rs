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
//!   `libmesh.a` (`scripts/bench-bindings.sh` does that);
//! - with `--python PYTHON`: the Python wheel's benchmarks
//!   (`bindings/python/benches`, pytest-benchmark, run by that
//!   interpreter, which has the wheel installed) against the same backend:
//!   a no-op call into the module, `Client.request` against `requests`
//!   and `httpx` one at a time, and throughput from threads and asyncio.
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
    python: Option<PathBuf>,
    smoke: bool,
    requests: usize,
    reps: usize,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        go: None,
        python: None,
        smoke: false,
        requests: 20_000,
        reps: 5,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--go" => args.go = Some(value()?.into()),
            "--python" => args.python = Some(value()?.into()),
            "--out" => args.out = Some(value()?.into()),
            "--requests" => args.requests = value()?.parse().map_err(|e| format!("{e}"))?,
            "--reps" => args.reps = value()?.parse().map_err(|e| format!("{e}"))?,
            "--smoke" => {
                args.smoke = true;
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

    let mut table = report(&rows, &args);
    if let Some(python) = &args.python {
        let figures = python_benchmarks(python, backend.port(), &yaml, &args)?;
        table.push_str(&python_report(&figures, &args)?);
    }
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

/// One Python benchmark: the median seconds of a measured call, and the
/// requests that call made (throughput runs; 1 otherwise).
struct PyFigure {
    median_s: f64,
    requests: f64,
}

impl PyFigure {
    fn per_request_us(&self) -> f64 {
        self.median_s * 1e6 / self.requests
    }

    fn per_second(&self) -> f64 {
        self.requests / self.median_s
    }
}

/// Runs `bindings/python/benches` under `python` (pinned to core 0 like
/// the other clients) and reads pytest-benchmark's JSON report.
fn python_benchmarks(
    python: &PathBuf,
    port: u16,
    yaml: &str,
    args: &Args,
) -> Result<BTreeMap<String, PyFigure>, String> {
    let dir = std::env::temp_dir().join(format!("mesh-py-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("mesh.yaml");
    let json = dir.join("bench.json");
    std::fs::write(&config, yaml).map_err(|e| e.to_string())?;
    let pinned = Command::new("taskset").arg("-V").output().is_ok();
    let mut command = if pinned {
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).arg(python);
        command
    } else {
        Command::new(python)
    };
    command
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg("bindings/python/benches")
        .arg(format!("--benchmark-json={}", json.display()))
        .env("MESH_BENCH_BACKEND", format!("127.0.0.1:{port}"))
        .env("MESH_BENCH_CONFIG", &config);
    if args.smoke {
        // A tiny run that proves the benchmarks still work.
        command
            .args(["--benchmark-min-rounds=1", "--benchmark-max-time=0.01"])
            .env("MESH_BENCH_BATCH", "50")
            .env("MESH_BENCH_ROUNDS", "1");
    }
    let output = command
        .output()
        .map_err(|e| format!("the Python benchmarks: {e}"))?;
    let text = std::fs::read_to_string(&json);
    let _ = std::fs::remove_dir_all(&dir);
    if !output.status.success() {
        return Err(format!(
            "the Python benchmarks failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let text = text.map_err(|e| format!("pytest-benchmark's report: {e}"))?;
    let report: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("pytest-benchmark's report: {e}"))?;
    let mut figures = BTreeMap::new();
    for bench in report["benchmarks"].as_array().into_iter().flatten() {
        let (Some(name), Some(median_s)) =
            (bench["name"].as_str(), bench["stats"]["median"].as_f64())
        else {
            continue;
        };
        let requests = bench["extra_info"]["requests"].as_f64().unwrap_or(1.0);
        figures.insert(name.to_owned(), PyFigure { median_s, requests });
    }
    Ok(figures)
}

fn python_report(figures: &BTreeMap<String, PyFigure>, args: &Args) -> Result<String, String> {
    let get = |name: &str| {
        figures
            .get(name)
            .ok_or(format!("pytest-benchmark reported no {name}"))
    };
    let judged = |met: bool| if met { "met" } else { "missed" };
    let mut out = String::new();
    out.push_str("\n### Python: the wheel against `requests` and `httpx`\n\n");
    out.push_str(&format!(
        "The same backend (core 1); the Python process pinned to core 0 (`taskset`), CPython {}, pytest-benchmark medians{}. Direct clients call the backend's address; the mesh routes `order-service` to it.\n\n",
        python_version(args),
        if args.smoke { " (smoke run: tiny, not figures)" } else { "" }
    ));
    out.push_str("| one request at a time | per request | ÷ `requests` | ÷ `httpx` |\n|---|---:|---:|---:|\n");
    let requests = get("test_latency_requests")?.per_request_us();
    let httpx = get("test_latency_httpx")?.per_request_us();
    for (name, label) in [
        ("test_latency_mesh", "`Client.request` (mesh)"),
        (
            "test_latency_requests_over_mesh",
            "`requests.Session` + `MeshAdapter` (mesh)",
        ),
        ("test_latency_requests", "`requests.Session` (direct)"),
        ("test_latency_httpx", "`httpx.Client` (direct)"),
    ] {
        let us = get(name)?.per_request_us();
        out.push_str(&format!(
            "| {label} | {us:.1} µs | {:.2}× | {:.2}× |\n",
            us / requests,
            us / httpx
        ));
    }
    out.push_str("\n| throughput | requests/s | mesh ÷ it |\n|---|---:|---:|\n");
    let mesh_threads = get("test_throughput_mesh_threads")?.per_second();
    let mesh_async = get("test_throughput_mesh_asyncio")?.per_second();
    let rows = [
        (
            "test_throughput_mesh_threads",
            "`Client.request`, 8 threads",
            mesh_threads,
        ),
        (
            "test_throughput_requests_threads",
            "`requests`, 8 threads (a Session each)",
            mesh_threads,
        ),
        (
            "test_throughput_httpx_threads",
            "`httpx.Client`, 8 threads",
            mesh_threads,
        ),
        (
            "test_throughput_mesh_asyncio",
            "`Client.arequest`, 64 in flight",
            mesh_async,
        ),
        (
            "test_throughput_httpx_over_mesh_asyncio",
            "`httpx.AsyncClient` + `AsyncMeshTransport`, 64 in flight",
            mesh_async,
        ),
        (
            "test_throughput_httpx_asyncio",
            "`httpx.AsyncClient`, 64 in flight",
            mesh_async,
        ),
        (
            "test_throughput_httpx_asyncio_8_in_flight",
            "`httpx.AsyncClient`, 8 in flight",
            mesh_async,
        ),
    ];
    for (name, label, mesh) in rows {
        let rps = get(name)?.per_second();
        out.push_str(&format!("| {label} | {rps:.0} | {:.2}× |\n", mesh / rps));
    }
    let noop_ns = get("test_noop_call")?.median_s * 1e9;
    let over_requests = mesh_threads / get("test_throughput_requests_threads")?.per_second();
    let over_httpx = mesh_threads / get("test_throughput_httpx_threads")?.per_second();
    // Against httpx's better asyncio figure: its pool slows as the
    // in-flight count grows.
    let httpx_async = get("test_throughput_httpx_asyncio")?
        .per_second()
        .max(get("test_throughput_httpx_asyncio_8_in_flight")?.per_second());
    let over_httpx_async = mesh_async / httpx_async;
    out.push_str(&format!(
        "\nTargets: throughput ≥ 2× `requests`: {over_requests:.2}×, {}; ≥ 2× `httpx`: {over_httpx:.2}× from threads, {over_httpx_async:.2}× from asyncio (against httpx's better figure), {}; a no-op call ≤ 200 ns: {noop_ns:.0} ns, {}.\n",
        judged(over_requests >= 2.0),
        judged(over_httpx >= 2.0 && over_httpx_async >= 2.0),
        judged(noop_ns <= 200.0),
    ));
    Ok(out)
}

/// The interpreter's version, for the table's caption.
fn python_version(args: &Args) -> String {
    args.python
        .as_ref()
        .and_then(|python| {
            Command::new(python)
                .args(["-c", "import platform; print(platform.python_version())"])
                .output()
                .ok()
        })
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "?".to_owned())
}
