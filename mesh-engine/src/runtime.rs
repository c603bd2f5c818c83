//! The engine's own tokio runtime, and what `fork` does to it.
//!
//! A runtime's worker threads do not survive `fork`: in the child, the
//! runtime's state says threads exist that do not, and anything that waits
//! for them (a `block_on` that needs a worker to read a socket, the
//! runtime's own shutdown, which joins its threads) waits forever. So the
//! engine remembers the process that built it; in any other process every
//! call fails at once with [`ErrorKind::Closed`], and dropping the engine
//! leaks the runtime rather than joining threads that are not there. A
//! child that needs the mesh builds its own engine.

use std::time::Duration;

use mesh_core::{Error, ErrorKind};
use tokio::runtime::{Builder, Runtime};

/// Builds the multi-thread runtime of an engine.
pub(crate) fn build(worker_threads: usize) -> Result<Runtime, Error> {
    Builder::new_multi_thread()
        .worker_threads(worker_threads.max(1))
        .thread_name("mesh-engine")
        .enable_all()
        .build()
        .map_err(|e| {
            Error::new(ErrorKind::Internal, "the engine's runtime could not start").with_source(e)
        })
}

/// Stops `runtime`: its connections close and its tasks end. Waits a
/// little for its threads when called outside any runtime; inside one
/// (a Rust caller closing from async code) it lets them wind down alone.
pub(crate) fn shut_down(runtime: Runtime) {
    if tokio::runtime::Handle::try_current().is_ok() {
        runtime.shutdown_background();
    } else {
        runtime.shutdown_timeout(Duration::from_secs(5));
    }
}

/// The process this one is: each call compares it with the builder's.
pub(crate) fn process_id() -> u32 {
    std::process::id()
}

/// The error of an engine used in a process it was not built in.
pub(crate) fn forked() -> Error {
    Error::new(
        ErrorKind::Closed,
        "the engine was created in another process (before fork); build a new engine in this process",
    )
}

/// Refuses a blocking call from inside an async runtime, where blocking
/// would stall that runtime's thread (and tokio would panic).
pub(crate) fn ensure_blocking_allowed(call: &str) -> Result<(), Error> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{call} blocks its thread: call it from outside an async runtime"),
        ));
    }
    Ok(())
}
