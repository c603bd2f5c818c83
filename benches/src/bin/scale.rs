//! The scale run's memory probe: applies one Envoy document under a
//! counting global allocator and prints what it kept, in bytes.
//!
//! ```text
//! scale DOCUMENT.json
//! ```
//!
//! A separate process because the counting allocator (`cap`, a safe
//! wrapper: the workspace forbids `unsafe`) adds atomic operations to every
//! allocation: the latency runs of the harness must not pay them, and a
//! fresh process gives a clean peak. The harness runs it once per document
//! and parses its one line of output ([`mesh_benches::scale::Memory`]).

use std::alloc::System;
use std::process::ExitCode;

use cap::Cap;
use mesh_benches::scale::{Counter, probe_memory};

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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path] = args.as_slice() else {
        eprintln!("usage: scale DOCUMENT.json");
        return ExitCode::from(2);
    };
    match probe_memory(std::path::Path::new(path), &Counted) {
        Ok(memory) => {
            println!("{}", memory.to_line());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scale: {e}");
            ExitCode::FAILURE
        }
    }
}
