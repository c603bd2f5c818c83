//! The parity scenario across languages: starts the shared backends,
//! runs the Rust runner and each binding's runner against them, and
//! compares what they did (see `mesh_tests::parity`).
//!
//! ```text
//! cargo run -p mesh-tests --bin parity -- [--go bindings/go]
//!     [--python bindings/python/tests/parity_runner.py] [--requests 2000] [--concurrency 8]
//! ```
//!
//! The Go runner is `go run ./cmd/parity` in the given directory; it
//! links the C library, so `CGO_LDFLAGS` must point at `libmesh.a`
//! (`scripts/bindings.sh` sets it). The Python runner is the given script,
//! run twice by `$PYTHON` (default `python3`, which must have the wheel
//! installed): from threads, then from asyncio. Exits 1 when a run strays
//! from the scenario or from another run.

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
    python: Option<PathBuf>,
    plan: ParityPlan,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        go: None,
        python: None,
        plan: ParityPlan::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--go" => args.go = Some(PathBuf::from(value()?)),
            "--python" => args.python = Some(PathBuf::from(value()?)),
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
            let mut command = Command::new("go");
            command.args(["run", "./cmd/parity"]).current_dir(go);
            run_runner(command, &config, &dir.join("go.json"), args.plan)
        })?);
    }
    if let Some(script) = &args.python {
        let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
        for mode in ["threads", "asyncio"] {
            runs.push(parity::measure(&backends, || {
                let mut command = Command::new(&python);
                command.arg(script).args(["--mode", mode]);
                run_runner(
                    command,
                    &config,
                    &dir.join(format!("python-{mode}.json")),
                    args.plan,
                )
            })?);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    print_table(&runs);
    let problems = parity::compare(&runs);
    for problem in &problems {
        eprintln!("parity: {problem}");
    }
    Ok(problems.is_empty())
}

/// Runs a binding's runner (the common flags appended to `command`) and
/// reads the report it writes to `out`.
fn run_runner(
    mut command: Command,
    config: &Path,
    out: &Path,
    plan: ParityPlan,
) -> Result<ParityReport, String> {
    command
        .arg("-config")
        .arg(config)
        .arg("-out")
        .arg(out)
        .args(["-requests", &plan.requests.to_string()])
        .args(["-concurrency", &plan.concurrency.to_string()]);
    let shown = format!("{command:?}");
    let status = command.status().map_err(|e| format!("{shown}: {e}"))?;
    if !status.success() {
        return Err(format!("{shown}: {status}"));
    }
    let text = std::fs::read_to_string(out).map_err(|e| format!("{}: {e}", out.display()))?;
    ParityReport::from_json(&text).map_err(|e| format!("the report of {shown}: {e}"))
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
