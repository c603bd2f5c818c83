//! The xDS scale run: applies a generated mesh through the xDS client and
//! prints apply time, EDS update time and memory as a markdown table.
//!
//! ```text
//! xds_scale [--smoke] [--sizes 1000,5000] [--reps N]
//! xds_scale --probe CLUSTERS ENDPOINTS
//! ```
//!
//! The global allocator counts every byte (`cap`, a safe wrapper: the
//! workspace forbids `unsafe`). The memory of each size is measured by
//! this binary again in a fresh process (`--probe`, one line of
//! `key=value`), so every peak is that size's alone; the harness
//! (`scripts/bench.sh`) runs the same probe and writes the table into
//! BENCHMARKS.md with its times taken under the system allocator. Times
//! printed by this binary itself include the counting allocator's small
//! cost (an atomic add per allocation). `--smoke` runs a tiny size.

use std::alloc::System;
use std::process::ExitCode;

use cap::Cap;
use mesh_benches::report::xds_section;
use mesh_benches::scale::Counter;
use mesh_benches::xds_scale::probe_memory;
use mesh_benches::xds_scale_run::run_xds_scale;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

struct Counted;

impl Counter for Counted {
    fn allocated(&self) -> usize {
        ALLOCATOR.allocated()
    }

    fn max_allocated(&self) -> usize {
        ALLOCATOR.max_allocated()
    }
}

const USAGE: &str = "usage: xds_scale [--smoke] [--sizes N,N..] [--reps N]\n       \
                     xds_scale --probe CLUSTERS ENDPOINTS";

fn number(text: Option<&String>) -> Result<usize, String> {
    let text = text.ok_or(USAGE)?;
    text.parse().map_err(|e| format!("{text:?}: {e}\n{USAGE}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xds_scale: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    if args.first().map(String::as_str) == Some("--probe") {
        let clusters = number(args.get(1))?;
        let endpoints = number(args.get(2))?;
        let memory = probe_memory(clusters, endpoints, true, &Counted)?;
        println!("{}", memory.to_line());
        return Ok(());
    }
    let mut sizes = vec![1_000, 5_000];
    let mut reps = 3;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => {
                sizes = vec![20];
                reps = 1;
            }
            "--reps" => reps = number(args.next())?.clamp(1, 50),
            "--sizes" => {
                let list = args.next().ok_or(USAGE)?;
                sizes = list
                    .split(',')
                    .map(|n| n.trim().parse().map_err(|e| format!("--sizes {n:?}: {e}")))
                    .collect::<Result<_, String>>()?;
            }
            _ => return Err(USAGE.to_owned()),
        }
    }
    let runs = run_xds_scale(&sizes, reps);
    print!("{}", xds_section(&runs, reps));
    match runs.iter().find_map(|r| r.memory.as_ref().err()) {
        Some(why) if why.starts_with("failed") => Err(why.clone()),
        _ => Ok(()),
    }
}
