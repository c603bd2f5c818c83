//! The parity scenario across languages: starts the shared backends,
//! runs the Rust runner and each binding's runner against them, and
//! compares what they did (see `mesh_tests::parity`).
//!
//! ```text
//! cargo run -p mesh-tests --bin parity -- [--go bindings/go] [--requests 2000] [--concurrency 8]
//! ```
//!
//! The Go runner is `go run ./cmd/parity` in the given directory; it
//! links the C library, so `CGO_LDFLAGS` must point at `libmesh.a`
//! (`scripts/bindings.sh` sets it). Exits 1 when a run strays from the
//! scenario or from another run.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use mesh_tests::parity::{self, ParityBackends, ParityPlan, ParityReport, ParityRun};

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("parity: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    go: Option<PathBuf>,
    plan: ParityPlan,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        go: None,
        plan: ParityPlan::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--go" => args.go = Some(PathBuf::from(value()?)),
            "--requests" => {
                args.plan.requests = value()?.parse().map_err(|e| format!("--requests: {e}"))?
            }
            "--concurrency" => {
                args.plan.concurrency = value()?
                    .parse()
                    .map_err(|e| format!("--concurrency: {e}"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.plan.requests == 0 || args.plan.concurrency == 0 {
        return Err("--requests and --concurrency must be positive".into());
    }
    Ok(args)
}

fn run() -> Result<bool, String> {
    let args = parse_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let backends = runtime
        .block_on(ParityBackends::start())
        .map_err(|e| format!("starting the backends: {e}"))?;
    let dir = std::env::temp_dir().join(format!("mesh-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("order-service.yaml");
    std::fs::write(&config, backends.config_yaml()).map_err(|e| e.to_string())?;

    let mut runs = vec![parity::measure(&backends, || {
        parity::run_rust(&config, args.plan)
    })?];
    if let Some(go) = &args.go {
        runs.push(parity::measure(&backends, || {
            run_go(go, &config, &dir, args.plan)
        })?);
    }
    let _ = std::fs::remove_dir_all(&dir);
    print_table(&runs);
    let problems = parity::compare(&runs);
    for problem in &problems {
        eprintln!("parity: {problem}");
    }
    Ok(problems.is_empty())
}

fn run_go(
    dir: &Path,
    config: &Path,
    out_dir: &Path,
    plan: ParityPlan,
) -> Result<ParityReport, String> {
    let out = out_dir.join("go.json");
    let status = Command::new("go")
        .args(["run", "./cmd/parity", "-config"])
        .arg(config)
        .arg("-out")
        .arg(&out)
        .args(["-requests", &plan.requests.to_string()])
        .args(["-concurrency", &plan.concurrency.to_string()])
        .current_dir(dir)
        .status()
        .map_err(|e| format!("go run ./cmd/parity: {e}"))?;
    if !status.success() {
        return Err(format!("go run ./cmd/parity: {status}"));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    ParityReport::from_json(&text).map_err(|e| format!("the Go report: {e}"))
}

fn print_table(runs: &[ParityRun]) {
    println!(
        "{:<8} {:>8} {:>6} {:>10} {:>10} {:>8} {:>9} {:>12}",
        "runner", "requests", "ok", "v2 share", "canary→v2", "retries", "retry/req", "received"
    );
    for run in runs {
        let r = &run.report;
        println!(
            "{:<8} {:>8} {:>6} {:>10.3} {:>10} {:>8} {:>9.3} {:>12}",
            r.language,
            r.requests,
            r.ok,
            r.v2_share_of_split(),
            format!("{}/{}", r.canary_on_v2, r.canary_sent),
            run.retries(),
            run.retry_rate(),
            run.received
                .iter()
                .map(|(name, n)| format!("{name}={n}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
}
