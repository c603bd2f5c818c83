//! The loopback harness of issue 7: the same workload through raw hyper,
//! the mesh (static and full chain) and a pair of sidecar proxies, over
//! HTTP/1.1 and HTTP/2, in one run on one machine; then the scale runs;
//! then a markdown report with medians, ratios and the issue's targets.
//!
//! ```text
//! harness [--smoke] [--out FILE] [--reps N] [--no-proxies] [--no-scale] [--no-traffic]
//!         [--only PATH[,PATH...]]
//! ```
//!
//! (a `PATH` is `raw`, `raw-spread`, `mesh-static`, `mesh-full`,
//! `mesh-routing`, `nginx` or `haproxy`)
//!
//! `scripts/bench.sh` installs the proxies, builds this binary and the
//! `scale` and `xds_scale` probes next to it, and runs it. `--smoke` runs a tiny iteration
//! of everything (for CI: a second or two, figures meaningless). The report
//! goes to standard output, and to `--out` when given; progress goes to
//! standard error. `--only` runs the paths named (one, to profile it, e.g. under
//! `perf record` or `valgrind --tool=callgrind`). Every loop is bounded in
//! count and time, and all traffic stays on 127.0.0.1.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use mesh_benches::backend::{Backend, Setup};
use mesh_benches::machine::Machine;
use mesh_benches::measure::{Plan, SetupPaths, measure};
use mesh_benches::paths::{Path, PathKind, Route};
use mesh_benches::proxy::{ProxyKind, SidecarPair};
use mesh_benches::report::Report;
use mesh_benches::scale_run::run_scale;
use mesh_benches::xds_scale_run::run_xds_scale;

const USAGE: &str = "usage: harness [--smoke] [--out FILE] [--reps N] [--no-proxies] [--no-scale] \
                     [--no-traffic] [--only PATH[,PATH...]]";

/// What the command line asked for.
#[derive(Debug, Default)]
struct Options {
    smoke: bool,
    out: Option<PathBuf>,
    reps: Option<usize>,
    no_proxies: bool,
    no_scale: bool,
    no_traffic: bool,
    only: Option<String>,
}

impl Options {
    fn parse() -> Result<Self, String> {
        let mut options = Options::default();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--smoke" => options.smoke = true,
                "--no-proxies" => options.no_proxies = true,
                "--no-scale" => options.no_scale = true,
                "--no-traffic" => options.no_traffic = true,
                "--out" => options.out = Some(args.next().ok_or(USAGE)?.into()),
                "--only" => options.only = Some(args.next().ok_or(USAGE)?),
                "--reps" => {
                    let n = args.next().ok_or(USAGE)?;
                    let n: usize = n.parse().map_err(|e| format!("--reps {n}: {e}"))?;
                    options.reps = Some(n.clamp(1, 50));
                }
                "--help" | "-h" => return Err(USAGE.into()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

fn main() -> ExitCode {
    let options = match Options::parse() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("harness: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    let started = Instant::now();
    let mut plan = Plan::new(options.smoke);
    if let Some(reps) = options.reps {
        plan.reps = reps;
    }
    if options.no_scale {
        plan.scale_sizes.clear();
    }
    if options.no_traffic {
        plan.reps = 0;
    }
    let machine = Machine::describe();

    // Client on core 0, the two-thread backend on core 1.
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let pinned = cores.len() >= 2 && core_affinity::set_for_current(cores[0]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("client runtime: {e}"))?;
    let remote =
        Backend::start(3, pinned.then(|| cores[1].id)).map_err(|e| format!("backend: {e}"))?;
    let local = runtime
        .block_on(async { Backend::start_here(3) })
        .map_err(|e| format!("backend: {e}"))?;

    // Which proxies exist.
    let mut proxies = Vec::new();
    let mut binaries = Vec::new();
    for kind in ProxyKind::ALL {
        let binary = if options.no_proxies {
            Err("n/a (--no-proxies)".to_owned())
        } else {
            kind.find()
                .ok_or_else(|| format!("n/a ({} not installed)", kind.binary()))
        };
        proxies.push((
            kind,
            binary
                .as_ref()
                .map(|b| kind.version(b))
                .map_err(Clone::clone),
        ));
        binaries.push((kind, binary));
    }

    // The paths of each setup, with a sidecar pair per proxy in front of
    // that setup's backend.
    let mut pairs = Vec::new();
    let mut setups = Vec::new();
    for (setup, backend) in [(Setup::TwoThreads, &remote), (Setup::OneThread, &local)] {
        let ports = backend.ports();
        let mut paths = vec![
            Path::raw(backend.port()),
            Path::raw_spread([ports[0], ports[1], ports[2]]),
            Path::mesh_static(backend.port()),
            Path::mesh_full([ports[0], ports[1], ports[2]]),
            Path::mesh_routing([ports[0], ports[1], ports[2]]),
        ];
        let mut unavailable = Vec::new();
        for (kind, binary) in &binaries {
            let pair = binary.clone().and_then(|binary| {
                SidecarPair::start(*kind, &binary, backend.port())
                    .map_err(|e| format!("n/a ({kind} did not start: {e})"))
            });
            match pair {
                Ok(pair) => {
                    paths.push(Path {
                        kind: PathKind::Sidecar(*kind),
                        route: Route::Direct {
                            http1: pair.http1_port(),
                            http2: pair.http2_port(),
                        },
                    });
                    pairs.push(pair);
                }
                Err(why) => {
                    eprintln!("sidecar pair {kind} ({}): {why}", setup.label());
                    unavailable.push((PathKind::Sidecar(*kind), why));
                }
            }
        }
        if let Some(only) = &options.only {
            let named = |slug: &str| only.split(',').any(|name| name == slug);
            paths.retain(|p| named(p.kind.slug()));
            unavailable.retain(|(kind, _)| named(kind.slug()));
        }
        setups.push(SetupPaths {
            setup,
            paths,
            unavailable,
        });
    }

    let (latency, throughput) = runtime.block_on(measure(&setups, &plan));
    drop(pairs);
    drop(local);
    drop(runtime);
    drop(remote);

    let scale = run_scale(&plan.scale_sizes, plan.scale_reps);
    let xds = run_xds_scale(&plan.scale_sizes, plan.scale_reps);
    let report = Report {
        machine,
        settings: plan.settings(),
        proxies,
        latency,
        throughput,
        pinned,
        scale,
        xds,
        command: command_line(),
    };
    let markdown = report.markdown();
    println!("{markdown}");
    if let Some(out) = &options.out {
        std::fs::write(out, &markdown).map_err(|e| format!("{}: {e}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    eprintln!("harness done in {:.1?}", started.elapsed());
    Ok(())
}

/// This run's command line, with the binary as `target/<profile>/harness`.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let profile = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "release".into());
    let mut line = format!("target/{profile}/harness");
    for arg in args {
        line.push(' ');
        line.push_str(&arg);
    }
    line
}
